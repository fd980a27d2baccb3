//! Detection: every detector turns text into candidate [`Span`]s; [`merge`]
//! resolves overlaps. Detectors never see or emit anything but offsets,
//! types and scores, so nothing downstream needs the raw value except the
//! rewriter, which reads it from the original text.

pub mod gazetteer;
pub(crate) mod keywords;
pub mod lists;
pub mod merge;
pub mod name;
pub mod rules;
pub mod structure;
pub mod trigger;
pub mod validators;

use serde::Serialize;
use std::sync::Arc;

pub use gazetteer::Gazetteers;
pub use name::Name;
pub use rules::RuleSet;

/// One detected sensitive span. Offsets are byte offsets into the text the
/// detector was given (always on `char` boundaries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// Entity type, upper-case (`PERSON`, `EMAIL`...). Shared, because
    /// millions of spans carry the same few type names.
    pub entity: Name,
    /// Confidence in 0..=1 after context adjustment.
    pub score: f32,
    /// Which detector and rule produced it (`rule:email`, `gazetteer:first_name`).
    pub detector: Name,
    /// A checksum or range validator confirmed it: ranks above unvalidated
    /// spans of equal score when overlaps are resolved.
    pub validated: bool,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Everything that turns text into spans, built once at start and shared
/// read-only between threads.
pub struct Detector {
    pub rules: RuleSet,
    pub gazetteers: Arc<Gazetteers>,
    /// Spans below this score are reported by `scan` but not rewritten.
    pub threshold: f32,
    allow: Vec<String>,
    deny: Option<(aho_corasick::AhoCorasick, Vec<Name>)>,
}

/// A deny-list entry: text that is always treated as `entity`.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenyEntry {
    pub text: String,
    #[serde(default = "default_deny_entity")]
    pub entity: String,
}

fn default_deny_entity() -> String {
    "CUSTOM".into()
}

impl Detector {
    pub fn new(
        rules: RuleSet,
        gazetteers: Arc<Gazetteers>,
        threshold: f32,
        allow: &[String],
        deny: &[DenyEntry],
    ) -> Result<Self, crate::Error> {
        let deny = if deny.is_empty() {
            None
        } else {
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(deny.iter().map(|d| d.text.trim()))
                .map_err(|e| crate::Error::Config(format!("deny list: {e}")))?;
            let types = deny
                .iter()
                .map(|d| Name::from(d.entity.to_uppercase().as_str()))
                .collect();
            Some((ac, types))
        };
        Ok(Self {
            rules,
            gazetteers,
            threshold,
            allow: allow.iter().map(|a| a.to_lowercase()).collect(),
            deny,
        })
    }

    /// All candidate spans, merged and sorted by position, including those
    /// below the threshold (callers filter with [`Detector::actionable`]).
    pub fn detect(&self, text: &str) -> Vec<Span> {
        self.resolve(text, self.candidates(text))
    }

    /// Like [`Detector::detect`], with extra candidate spans (the LLM's)
    /// merged in. Rule spans are a floor: an extra span can widen an
    /// overlapping rule span or add a new one, never remove one.
    pub fn detect_with(&self, text: &str, extra: Vec<Span>) -> Vec<Span> {
        self.resolve(text, self.candidates(text).with_extra(text, extra))
    }

    /// [`Detector::detect`] of each of `texts`, in order, found stage by
    /// stage: the rules over all of them, then the word lists over all,
    /// then the merge and structure over all. Each text's spans are those
    /// `detect` gives it; only the order of the work differs.
    ///
    /// Why: a short record passes through every stage in a few hundred
    /// nanoseconds, and each stage's code (several dozen kilobytes in all)
    /// pushed the others out of the instruction cache before the next
    /// record came. Over presidio-dev's 83-byte records valgrind's cache
    /// model counts 236 k instruction-cache misses a pass one record at a
    /// time and 18 k in batches of 256 ([`SCAN_BATCH`]).
    pub fn detect_many(&self, texts: &[&str]) -> Vec<Vec<Span>> {
        let mut found: Vec<Candidates> = self
            .rules
            .find_many(texts)
            .into_iter()
            .map(|spans| Candidates {
                n_rules: spans.len(),
                spans,
            })
            .collect();
        for (t, c) in texts.iter().zip(&mut found) {
            self.add_word_and_deny_spans(t, &mut c.spans);
        }
        texts
            .iter()
            .zip(found)
            .map(|(t, c)| self.resolve(t, c))
            .collect()
    }

    /// The unmerged candidates of rules, gazetteers and the deny list: find
    /// them once, then [`Detector::resolve`] them with or without extras.
    pub fn candidates(&self, text: &str) -> Candidates {
        let mut spans = self.rules.find(text);
        let n_rules = spans.len();
        self.add_word_and_deny_spans(text, &mut spans);
        Candidates { spans, n_rules }
    }

    /// The word lists' and the deny list's candidates, after the rules'.
    fn add_word_and_deny_spans(&self, text: &str, spans: &mut Vec<Span>) {
        self.gazetteers.find(text, spans);
        if let Some((ac, types)) = &self.deny {
            // Interned once: `Name::new` takes the table's lock.
            static DET: std::sync::LazyLock<Name> =
                std::sync::LazyLock::new(|| Name::new("deny_list"));
            let det = *DET;
            for m in ac.find_iter(text) {
                if is_word_boundary(text, m.start(), m.end()) {
                    spans.push(Span {
                        start: m.start(),
                        end: m.end(),
                        entity: types[m.pattern().as_usize()],
                        score: 1.0,
                        detector: det,
                        validated: true,
                    });
                }
            }
        }
    }

    /// Allow list, overlap resolution, address structure and ID lists over
    /// candidates: the merged, sorted spans.
    pub fn resolve(&self, text: &str, c: Candidates) -> Vec<Span> {
        crate::failpoint::hit("detect", text);
        let mut spans = c.spans;
        if !self.allow.is_empty() {
            spans.retain(|s| {
                let t = text[s.start..s.end].to_lowercase();
                !self.allow.contains(&t)
            });
        }
        let mut spans = merge::resolve(spans, self.threshold);
        structure::address_context(text, &mut spans, &self.gazetteers);
        lists::id_lists(text, &mut spans);
        lists::name_lists(text, &mut spans, &self.gazetteers, self.threshold);
        lists::speaker_labels(text, &mut spans, &self.gazetteers, self.threshold);
        spans
    }

    /// `spans` (resolved) with `extra` candidates merged in as the
    /// detectors' are ([`merge::resolve`]): the document memory's spans of
    /// an identifier found elsewhere. Not those on the allow list, nor those
    /// that overlap a span the rewriter already acts on: the detectors saw
    /// that text in its context ("Ankara" inside "Ankara State Security
    /// Court" stays part of the court, not a town that swallows it).
    pub fn merge_extra(&self, text: &str, mut spans: Vec<Span>, mut extra: Vec<Span>) -> Vec<Span> {
        // `spans` are resolved: sorted and disjoint, so their ends rise too.
        extra.retain(|e| {
            let from = spans.partition_point(|s| s.end <= e.start);
            !spans[from..]
                .iter()
                .take_while(|s| s.start < e.end)
                .any(|s| s.score >= self.threshold)
        });
        if !self.allow.is_empty() {
            extra.retain(|s| !self.allow.contains(&text[s.start..s.end].to_lowercase()));
        }
        if extra.is_empty() {
            return spans;
        }
        spans.extend(extra);
        merge::resolve(spans, self.threshold)
    }

    /// Spans at or above the threshold: the ones the rewriter acts on.
    pub fn actionable(&self, spans: &[Span]) -> Vec<Span> {
        spans
            .iter()
            .filter(|s| s.score >= self.threshold)
            .cloned()
            .collect()
    }

    /// One type for a name `spans` (of `text`) read both as a person and
    /// as a place ([`merge::one_type_per_name`]); a retyped mention's
    /// detector is `document`, the rest of the text having decided.
    pub fn one_type_per_name(&self, text: &str, spans: &mut [Span]) {
        static DOCUMENT: std::sync::LazyLock<Name> =
            std::sync::LazyLock::new(|| Name::new("document"));
        merge::one_type_per_name(
            text,
            spans,
            self.threshold,
            self.gazetteers.person_and_place(),
            *DOCUMENT,
        );
    }
}

/// How many texts [`Detector::detect_many`] callers hand over at once when
/// they can: the instruction-cache misses of a pass over short records
/// keep falling up to a few hundred (valgrind's model over presidio-dev:
/// 148 k at 16, 52 k at 64, 30 k at 128, 18 k at 256, 12 k at 512), while
/// the spans of a batch stay small.
pub const SCAN_BATCH: usize = 256;

/// Candidate spans before merging, as [`Detector::candidates`] found them.
#[derive(Debug, Clone)]
pub struct Candidates {
    spans: Vec<Span>,
    /// The rule spans come first; extras go right after them, so that ties
    /// in the merge are broken as they always were (rules, extras, word
    /// lists, deny list).
    n_rules: usize,
}

impl Candidates {
    /// How many candidate spans there are (profiling: the stage's output
    /// must be used for its cost to count).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// These candidates plus `extra` (the LLM's spans of `text`), trimmed
    /// of whitespace like every other detector's (see [`trim_spans`]).
    pub fn with_extra(mut self, text: &str, mut extra: Vec<Span>) -> Self {
        trim_spans(text, &mut extra);
        let at = self.n_rules;
        self.spans.splice(at..at, extra);
        self
    }
}

/// Trim whitespace off both ends of each span, and drop spans that are
/// whitespace only. Why: a span can end on the space after a name (the
/// LLM's, or a pattern such as `(?:\p{Lu}\w+\s?){1,3}`); replacing it
/// glued the surrogate to the next word ("the Ardmorein 1990"). Rule
/// spans are trimmed as they are judged (`Rule::trim`), the deny list's
/// entries when loaded, and word-list spans are words.
fn trim_spans(text: &str, spans: &mut Vec<Span>) {
    spans.retain_mut(|s| match trim_ws(text, s.start, s.end) {
        Some((start, end)) => {
            (s.start, s.end) = (start, end);
            true
        }
        None => false,
    });
}

/// `start..end` of `text` without whitespace at either end; None when
/// nothing else is there.
pub(crate) fn trim_ws(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let inner = &text[start..end];
    let t = inner.trim_start();
    if t.is_empty() {
        return None;
    }
    let s = start + (inner.len() - t.len());
    Some((s, s + t.trim_end().len()))
}

/// True when `start..end` is not glued to a letter or digit on either side.
pub fn is_word_boundary(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
}

/// The high bit of each byte of `v` that is an ASCII byte in `lo..=hi`
/// (`lo <= hi < 0x80`), all eight bytes at once: the bytes are masked to
/// 7 bits first, so no addition carries into the next byte, and a byte
/// with its own high bit set (not ASCII) is never in the range. The word
/// lists' tokenizer and the rules' digit test read text this way.
#[inline(always)]
pub(crate) fn ascii_range_bits(v: u64, lo: u8, hi: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    let x = v & !HIGH;
    let ge_lo = x + u64::from(0x80 - lo) * ONES;
    let gt_hi = x + u64::from(0x7f - hi) * ONES;
    ge_lo & !gt_hi & !v & HIGH
}

/// Drop a per-thread buffer that one large record grew past 1 MiB.
///
/// Detection keeps its buffers per thread between records (allocating
/// them per record cost more than the work on short ones). Without this a
/// thread would hold its largest record's peak for good: tens of bytes per
/// byte of text, in every daemon worker.
pub(crate) fn trim_scratch<T>(v: &mut Vec<T>) {
    const KEEP_BYTES: usize = 1 << 20;
    if v.capacity().saturating_mul(std::mem::size_of::<T>()) > KEEP_BYTES {
        *v = Vec::new();
    }
}

/// Byte offsets to char (code point) offsets; `scan` reports both because
/// Python and most labelling tools count code points.
///
/// Spans come sorted, so each conversion counts on from the previous one:
/// counting from the text's start for every span made scanning one large
/// record quadratic (a 1 MB record with 60,000 spans spent most of its
/// time here). An offset before the previous one is still right, counted
/// from the start again.
pub struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharOffsets<'a> {
    pub fn new(text: &'a str) -> Self {
        CharOffsets {
            text,
            byte: 0,
            chars: 0,
        }
    }

    /// The text the offsets are in.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The char offset of byte offset `byte` (a char boundary).
    pub fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

/// A span as `scan` output (CLI and socket API): field when given, type,
/// byte and code-point offsets, score, detector; the matched text only
/// when asked for (`--show-values`).
///
/// A typed record, serialized straight to the output: as a
/// `serde_json::Value` map each span took over a kilobyte, and a large
/// record's spans held hundreds of megabytes until its line was written.
///
/// `S` is how the field and the value are held: owned (the default) where
/// spans are kept, borrowed ([`span_ref`]) where they are written as soon
/// as made; one definition, so both serialize alike.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpanOut<S = String> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<S>,
    #[serde(rename = "type")]
    pub entity: Name,
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
    /// Rounded to three decimals.
    pub score: f32,
    pub detector: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<S>,
}

impl<S: AsRef<str>> SpanOut<S> {
    /// Append this span as `serde_json` writes it (compact) to `out`, its
    /// keys written as constants and only its values through `serde_json`:
    /// serializing the struct escaped every key of every span, a fifth of
    /// writing a rules-only JSONL scan. Must match the derived `Serialize`
    /// byte for byte (test `write_json_is_serde`).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail; strings, names and numbers only.
        fn val(out: &mut Vec<u8>, v: &(impl serde::Serialize + ?Sized)) {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        out.push(b'{');
        if let Some(f) = &self.field {
            out.extend_from_slice(b"\"field\":");
            val(out, f.as_ref());
            out.push(b',');
        }
        out.extend_from_slice(b"\"type\":");
        val(out, &self.entity);
        out.extend_from_slice(b",\"start\":");
        val(out, &self.start);
        out.extend_from_slice(b",\"end\":");
        val(out, &self.end);
        out.extend_from_slice(b",\"char_start\":");
        val(out, &self.char_start);
        out.extend_from_slice(b",\"char_end\":");
        val(out, &self.char_end);
        out.extend_from_slice(b",\"score\":");
        val(out, &self.score);
        out.extend_from_slice(b",\"detector\":");
        val(out, &self.detector);
        if let Some(v) = &self.value {
            out.extend_from_slice(b",\"value\":");
            val(out, v.as_ref());
        }
        out.push(b'}');
    }
}

/// `s` as [`SpanOut`]. `offsets` is over the text the span is in; pass one
/// per text, spans in order, so the whole text is counted once.
/// `show_value` copies the matched text in: only for `--show-values`.
pub fn span_out(
    offsets: &mut CharOffsets<'_>,
    field: Option<&str>,
    s: &Span,
    show_value: bool,
) -> SpanOut {
    let r = span_ref(offsets, field, s, show_value);
    SpanOut {
        field: r.field.map(str::to_string),
        value: r.value.map(str::to_string),
        entity: r.entity,
        start: r.start,
        end: r.end,
        char_start: r.char_start,
        char_end: r.char_end,
        score: r.score,
        detector: r.detector,
    }
}

/// [`span_out`] borrowing the field and the value: for output written
/// straight away (`gdr scan` of JSONL), which then copies neither.
pub fn span_ref<'x, 't: 'x>(
    offsets: &mut CharOffsets<'t>,
    field: Option<&'x str>,
    s: &Span,
    show_value: bool,
) -> SpanOut<&'x str> {
    SpanOut {
        field,
        entity: s.entity,
        start: s.start,
        end: s.end,
        char_start: offsets.at(s.start),
        char_end: offsets.at(s.end),
        score: (s.score * 1000.0).round() / 1000.0,
        detector: s.detector,
        value: show_value.then(|| &offsets.text()[s.start..s.end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SpanOut::write_json` writes what the derived `Serialize` writes:
    /// with and without field and value, escapes, odd scores.
    #[test]
    fn write_json_is_serde() {
        let span = |field: Option<&'static str>, value: Option<&'static str>, score: f32| SpanOut {
            field,
            entity: Name::new("PERSON"),
            start: 3,
            end: 12_345_678_901,
            char_start: 0,
            char_end: usize::MAX,
            score,
            detector: Name::new("rule:x\"y"),
            value,
        };
        for field in [
            None,
            Some("text"),
            Some("messages[2].content"),
            Some("k\"\\\u{1}é"),
        ] {
            for value in [None, Some(""), Some("Maria \"G\"\n\u{7f}\u{2028}☎")] {
                for score in [0.0, 0.85, 0.1 + 0.2, 1.0, 1e-7, f32::NAN, f32::INFINITY] {
                    let s = span(field, value, score);
                    let mut got = Vec::new();
                    s.write_json(&mut got);
                    let want = serde_json::to_vec(&s).unwrap();
                    assert_eq!(
                        String::from_utf8(got).unwrap(),
                        String::from_utf8(want).unwrap()
                    );
                }
            }
        }
    }
    use std::sync::OnceLock;

    fn detector() -> &'static Detector {
        static D: OnceLock<Detector> = OnceLock::new();
        D.get_or_init(|| {
            let rules = RuleSet::load(true, None, &[]).unwrap();
            Detector::new(rules, Arc::new(Gazetteers::builtin()), 0.5, &[], &[]).unwrap()
        })
    }

    /// No span starts or ends on whitespace, whoever found it: the
    /// rewrite replaces the span's bytes, so a trailing space went with
    /// the name ("at the University of Vienna in 1990" became "at the
    /// Ardmorein 1990"). Whitespace-only spans are dropped.
    #[test]
    fn spans_are_trimmed_of_whitespace() {
        let text = "Ann  lives\u{a0}at the University of Vienna in 1990.";
        let at = |s: &str| text.find(s).unwrap();
        let span = |start: usize, end: usize| Span {
            start,
            end,
            entity: Name::new("PERSON"),
            score: 0.9,
            detector: Name::new("llm"),
            validated: false,
        };
        // Extra spans (the LLM's) with whitespace at their edges, and one
        // of whitespace only.
        let extra = vec![
            span(0, at("lives")),
            span(at(" lives"), at("at")),
            span(at("  lives"), at(" lives")),
        ];
        let spans = detector().detect_with(text, extra);
        let got: Vec<&str> = spans
            .iter()
            .filter(|s| &*s.detector == "llm")
            .map(|s| &text[s.start..s.end])
            .collect();
        assert_eq!(got, ["Ann", "lives"]);

        // A deny-list entry written with spaces around it.
        let d = Detector::new(
            RuleSet::load(true, None, &[]).unwrap(),
            Arc::new(Gazetteers::builtin()),
            0.5,
            &[],
            &[DenyEntry {
                text: " Falcon ".into(),
                entity: "PROJECT".into(),
            }],
        )
        .unwrap();
        let text = "Ship Falcon today";
        let got: Vec<&str> = d
            .detect(text)
            .iter()
            .filter(|s| &*s.entity == "PROJECT")
            .map(|s| &text[s.start..s.end])
            .collect();
        assert_eq!(got, ["Falcon"]);

        // The rules' own spans, through the whole detector.
        let d = detector();
        for text in [
            "She studied at the University of Vienna in 1990.",
            "The Court of Cassation dismissed the appeal.",
            "An appeal to the Court of First Instance followed",
        ] {
            let spans = d.detect(text);
            assert!(!spans.is_empty(), "{text}");
            for s in &spans {
                let v = &text[s.start..s.end];
                assert_eq!(v, v.trim(), "{text}: {s:?}");
            }
        }
    }

    /// `detect_many` gives each text what `detect` gives it: texts with
    /// and without spans, empty, non-ASCII, of several paragraphs (the
    /// rules search those piece by piece), and the same text twice.
    #[test]
    fn detect_many_gives_detect_of_each_text() {
        let d = detector();
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut texts: Vec<String> = Vec::new();
        for name in ["note.txt", "hard_negatives.txt"] {
            let body = std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap();
            texts.extend(body.split("\n\n").map(str::to_string));
            texts.push(body);
        }
        let records = std::fs::read_to_string(format!("{fixtures}/records.jsonl")).unwrap();
        for line in records.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.extend(v["text"].as_str().map(str::to_string));
        }
        texts.extend(
            [
                "",
                "Dr. Anna Müller, Hauptstraße 5, 10115 Berlin, anna.mueller@example.de",
                "Call (415) 555-0132 or mail karl@example.com",
                "Call (415) 555-0132 or mail karl@example.com",
                "東京 🙂 SSN 078-05-1120, card 4111 1111 1111 1111",
            ]
            .map(str::to_string),
        );
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let one_by_one: Vec<Vec<Span>> = refs.iter().map(|t| d.detect(t)).collect();
        assert!(one_by_one.iter().filter(|s| !s.is_empty()).count() > 10);
        assert_eq!(d.detect_many(&refs), one_by_one);
        // Batches of every size up to a few: the batch boundaries change
        // nothing either.
        for size in 1..5 {
            let batched: Vec<Vec<Span>> =
                refs.chunks(size).flat_map(|c| d.detect_many(c)).collect();
            assert_eq!(batched, one_by_one, "batches of {size}");
        }
    }

    /// The spans of `text` the rewriter acts on, as (type, text), are
    /// exactly `want`.
    fn assert_acted_on(d: &Detector, text: &str, want: &[(&str, &str)]) {
        let spans = d.actionable(&d.detect(text));
        let got: Vec<(&str, &str)> = spans
            .iter()
            .map(|s| (&*s.entity, &text[s.start..s.end]))
            .collect();
        assert_eq!(got, want, "{text:?}");
    }

    /// Counting on from the previous offset gives the count from the
    /// start, in order, out of order and repeated, over multi-byte text.
    #[test]
    fn char_offsets_count_on_and_back() {
        let text = "Zoë Ñúñez, 東京 🙂 x\u{301}y ok";
        let bounds: Vec<usize> = (0..=text.len())
            .filter(|&b| text.is_char_boundary(b))
            .collect();
        let want = |b: usize| text[..b].chars().count();
        let mut forward = CharOffsets::new(text);
        for &b in &bounds {
            assert_eq!(forward.at(b), want(b), "forward at {b}");
            assert_eq!(forward.at(b), want(b), "repeated at {b}");
        }
        let mut back = CharOffsets::new(text);
        for &b in bounds.iter().rev() {
            assert_eq!(back.at(b), want(b), "backward at {b}");
        }
        let mut jumpy = CharOffsets::new(text);
        for (k, _) in bounds.iter().enumerate() {
            let b = bounds[(k * 7) % bounds.len()];
            assert_eq!(jumpy.at(b), want(b), "jump to {b}");
        }
    }

    fn found(text: &str) -> Vec<(String, String)> {
        let d = detector();
        d.actionable(&d.detect(text))
            .iter()
            .map(|s| (s.entity.to_string(), text[s.start..s.end].to_string()))
            .collect()
    }

    #[test]
    fn every_builtin_rule_has_passing_examples() {
        let d = detector();
        for r in &d.rules.rules {
            assert!(!r.examples.is_empty(), "rule {} has no examples", r.id);
        }
        let failures = d.rules.check_examples();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn hard_negatives_stay_untouched() {
        for text in [
            "Upgraded to v1.2.3 and then 10.4.2 without issues.",
            "Order ORD-2024-000123 and ticket JIRA-4521 (#4521) are closed.",
            "2024-01-05T14:56:41Z ERROR worker=3 retry=2",
            "2024-01-05 14:56:41,123 INFO request took 250 ms",
            "ISBN 978-3-16-148410-0, second edition.",
            "The invoice total is $1,234.56 (EUR 4,684.40 incl. VAT).",
            "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",
            "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "error at line 42, column 7",
            "We shipped 1200 units in 2023 and 1500 in 2024.",
            "The meeting is on Monday at 10:30 in room 4.",
        ] {
            assert_eq!(found(text), Vec::<(String, String)>::new(), "{text}");
        }
    }

    /// Birth context makes a date of birth of a real date only: a UK sort
    /// code in the same record stays a bank number ("20-20-15" is no
    /// day and month in either order).
    #[test]
    fn sort_code_beside_a_birth_date_is_no_date() {
        let text = "Date of birth: 22 August 1990. Sort code 20-20-15, account 71234567.";
        let got = found(text);
        assert!(
            got.contains(&("DATE_OF_BIRTH".into(), "22 August 1990".into())),
            "{got:?}"
        );
        assert!(
            !got.iter()
                .any(|(e, v)| v == "20-20-15" && e.starts_with("DATE")),
            "{got:?}"
        );
    }

    #[test]
    fn core_identifiers_found() {
        let text = "Contact Maria Gonzalez at maria.g@example.com or +1 (415) 555-0132; \
                    card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 308-63-0237, \
                    from 203.0.113.9. She lives at 42 Elm Street, Apt. 5.";
        let got = found(text);
        for (t, v) in [
            ("PERSON", "Maria Gonzalez"),
            ("EMAIL", "maria.g@example.com"),
            ("CREDIT_CARD", "4111 1111 1111 1111"),
            ("IBAN", "GB82 WEST 1234 5698 7654 32"),
            ("US_SSN", "308-63-0237"),
            ("IP_ADDRESS", "203.0.113.9"),
        ] {
            assert!(
                got.contains(&(t.to_string(), v.to_string())),
                "{t} {v}: {got:?}"
            );
        }
        assert!(
            got.iter()
                .any(|(t, v)| t == "PHONE" && v.contains("555-0132")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(t, v)| t == "ADDRESS" && v.contains("42 Elm Street")),
            "{got:?}"
        );
    }

    /// IDs named by their cue as people write them in notes: "MRN is
    /// ...", "NHS number: ...". Each number must come out as an ID the
    /// rewriter acts on, exactly the number (no cue word in the span), and
    /// the cue must not become a PERSON.
    #[test]
    fn ids_after_their_cue_in_running_text() {
        let d = detector();
        for (text, id) in [
            ("NHS number 9434765919", "9434765919"),
            ("Her NHS number: 943 476 5919.", "943 476 5919"),
            ("NHS No. 943 476 5919", "943 476 5919"),
            ("Her NHS number is 943-476-5919", "943-476-5919"),
            ("Patient's MRN is 00482913.", "00482913"),
            // Above a phone number's context score (E.164 "00" prefix, 0.95).
            ("MRN 00482913, ward phone on file", "00482913"),
            ("The patient ID was A-99281", "A-99281"),
            ("His employee number is 104-2231.", "104-2231"),
            ("her driver's licence number is D1234567", "D1234567"),
            ("My account number is 12345678.", "12345678"),
            ("the policy number was 88-1231-99", "88-1231-99"),
            // The number stops where the words go on.
            ("policy no. 88-1231-99 was issued", "88-1231-99"),
            ("tax id 12-3456789 for the company", "12-3456789"),
            ("SIN: 046 454 286 and more", "046 454 286"),
            (
                "national insurance number QQ 12 34 56 C is on file",
                "QQ 12 34 56 C",
            ),
            // The cue's copula in the language of the cue.
            ("mi DNI es 12345678Z y vivo aquí", "12345678Z"),
        ] {
            assert_acted_on(d, text, &[("ID", id)]);
        }
    }

    /// Found in texts written for this audit, not in the corpora: a quoted
    /// password runs to its quote (an `&` cut it: "[SECRET]&3"), a French
    /// address holds its house number ("12 rue de Rivoli" left the 12), a
    /// Canadian postal code is a postcode, and an ID word after a name cue
    /// is no name ("employee ID E-20931" rewrote "ID").
    #[test]
    fn identifiers_found_whole_in_new_texts() {
        let d = detector();
        assert_acted_on(
            d,
            "psycopg2.connect(password=\"Tr0ub4dor&3\", dbname=\"analytics\")",
            &[("SECRET", "Tr0ub4dor&3")],
        );
        // A quoted phrase is a message, not a password.
        assert_acted_on(d, "{\"password\": \"is required\"}", &[]);
        assert_acted_on(
            d,
            "votre colis arrive au 12 rue de Rivoli, 75001 Paris.",
            &[
                ("ADDRESS", "12 rue de Rivoli"),
                ("ZIP", "75001"),
                ("LOCATION", "Paris"),
            ],
        );
        assert_acted_on(
            d,
            "Send it to 55 Queen St, Toronto ON M5H 2M9 please",
            &[
                ("ADDRESS", "55 Queen St"),
                ("LOCATION", "Toronto"),
                ("ZIP", "M5H 2M9"),
            ],
        );
        assert_acted_on(d, "employee ID E-20931 starts", &[("ID", "E-20931")]);
        // A display name surname first: the given name after the comma
        // was left.
        assert_acted_on(
            d,
            "From: \"Chen, Li\" <li.chen@uni-example.edu>",
            &[("PERSON", "Chen, Li"), ("EMAIL", "li.chen@uni-example.edu")],
        );
        // An Eircode near an Irish cue; the bare shape is any short code.
        assert_acted_on(
            d,
            "your Eircode is D02 X285, thanks",
            &[("ZIP", "D02 X285")],
        );
        assert_acted_on(d, "ticket D02 X285 closed", &[]);
        // A medical centre is an organisation; a data centre is not.
        assert_acted_on(
            d,
            "She works at Valley Medical Center. The Data Center went down.",
            &[("ORG", "Valley Medical Center")],
        );
    }

    /// A company name ends at its line and at a comma that no "and" or
    /// "&" closes: "Jordan Blake, Acme Corp" is a person and a company
    /// (the company had widened over the person, who was then rewritten
    /// as a company), and "Accounts Payable.\nAcme Corp" two lines. A
    /// letter's "Att:" is no name.
    #[test]
    fn a_company_name_stays_on_its_line_and_off_the_person_before_it() {
        let d = detector();
        assert_acted_on(
            d,
            "Att: Jordan Blake, Accounts Payable, Acme Corp, 100 Main St",
            &[
                ("PERSON", "Jordan Blake"),
                ("ORG", "Acme Corp"),
                ("ADDRESS", "100 Main St"),
            ],
        );
        assert_acted_on(
            d,
            "Please send it to Accounts Payable.\nAcme Corp sent it.",
            &[("ORG", "Acme Corp")],
        );
        assert_acted_on(
            d,
            "Counsel: Skadden, Arps, Slate, Meagher & Flom LLP.",
            &[("ORG", "Skadden, Arps, Slate, Meagher & Flom LLP.")],
        );
    }

    /// Case and application numbers are IDs, each number of a list
    /// after its cue too; order and ticket numbers, counts and years after
    /// the list are not.
    #[test]
    fn case_numbers_and_lists_of_them() {
        let d = detector();
        assert_acted_on(
            d,
            "The case originated in an application (no. 25929/05) lodged in 2005.",
            &[("ID", "25929/05")],
        );
        assert_acted_on(
            d,
            "joined with applications nos. 26480/95, 28291/95 and 6813/09, 3 others pending",
            &[("ID", "26480/95"), ("ID", "28291/95"), ("ID", "6813/09")],
        );
        assert_acted_on(
            d,
            "MRNs 00482913, 00482914 and 00482915 were merged.",
            &[("ID", "00482913"), ("ID", "00482914"), ("ID", "00482915")],
        );
        assert_acted_on(d, "order no. 445123, ticket no. 8821/22", &[]);
    }

    /// A city that is also a first name, right before a state code and
    /// postcode, is the address's city; Australian postcodes follow the
    /// state code. A person's name before a postcode in prose stays one.
    #[test]
    fn cities_and_postcodes_of_address_lines() {
        let d = detector();
        for (text, want) in [
            (
                "Austin, TX 78701",
                vec![("LOCATION", "Austin"), ("LOCATION", "TX"), ("ZIP", "78701")],
            ),
            (
                "12 George St, Sydney NSW 2000, Australia",
                vec![
                    ("ADDRESS", "12 George St"),
                    // The state stays, as "Springfield, IL" keeps "IL".
                    ("LOCATION", "Sydney"),
                    ("ZIP", "2000"),
                    ("LOCATION", "Australia"),
                ],
            ),
            (
                "Darwin NT 0800",
                vec![("LOCATION", "Darwin"), ("LOCATION", "NT"), ("ZIP", "0800")],
            ),
            // Streets whose names hold given names, Portuguese postcodes,
            // and a town after its postcode that is a given name.
            (
                "Rua Augusta 120, 1100-053 Lisboa",
                vec![
                    ("ADDRESS", "Rua Augusta 120"),
                    ("ZIP", "1100-053"),
                    ("LOCATION", "Lisboa"),
                ],
            ),
            (
                "Rossi, via Roma 10, 00184 Roma",
                vec![
                    ("PERSON", "Rossi"),
                    ("ADDRESS", "via Roma 10"),
                    ("ZIP", "00184"),
                    ("LOCATION", "Roma"),
                ],
            ),
            (
                "Austin called about zip 78701",
                vec![("PERSON", "Austin"), ("ZIP", "78701")],
            ),
            // European postcodes before the city.
            (
                "Hauptstraße 5, 10115 Berlin.",
                vec![
                    ("ADDRESS", "Hauptstraße 5"),
                    ("ZIP", "10115"),
                    ("LOCATION", "Berlin"),
                ],
            ),
            (
                "Kerkstraat 12, 1017 GC Amsterdam",
                vec![
                    ("ADDRESS", "Kerkstraat 12"),
                    ("ZIP", "1017 GC"),
                    ("LOCATION", "Amsterdam"),
                ],
            ),
            (
                "Bahnhofstrasse 1, CH-8001 Zürich",
                vec![
                    ("ADDRESS", "Bahnhofstrasse 1"),
                    ("ZIP", "CH-8001"),
                    ("LOCATION", "Zürich"),
                ],
            ),
            ("75002 Paris", vec![("ZIP", "75002"), ("LOCATION", "Paris")]),
            // A year before a city is no postcode.
            ("in 1995 Berlin was divided", vec![("LOCATION", "Berlin")]),
        ] {
            assert_acted_on(d, text, &want);
        }
        // A state code before a model number or a year is no postcode.
        for text in ["Series SA 5000 units", "at the NSW 2000 Olympics"] {
            let spans = d.detect(text);
            assert!(spans.iter().all(|s| &*s.entity != "ZIP"), "{text:?}");
        }
    }

    /// A town right after the comma that closes an address is a place,
    /// even when the name lists also hold it as a surname: known as a
    /// city, or nothing but the end of the sentence, a comma or a
    /// postcode after it. So is a weak name that is a whole line of the
    /// postal block below the street. A person after an address stays one.
    #[test]
    fn town_after_an_address_is_a_place() {
        let d = detector();
        for (text, want) in [
            (
                "please send it to 1420 Maple Avenue, Springfield tomorrow.",
                vec![
                    ("ADDRESS", "1420 Maple Avenue"),
                    ("LOCATION", "Springfield"),
                ],
            ),
            (
                "It's at 64 Schaarsteinweg 97, Hunderdorf",
                vec![
                    ("ADDRESS", "64 Schaarsteinweg 97"),
                    ("LOCATION", "Hunderdorf"),
                ],
            ),
            (
                "42 Main Street, Maria Garcia called yesterday.",
                vec![("ADDRESS", "42 Main Street"), ("PERSON", "Maria Garcia")],
            ),
            // On its own line of the postal block, below the street.
            (
                "12 Maple Road\nLepassaare\nEstonia",
                vec![
                    ("ADDRESS", "12 Maple Road"),
                    ("LOCATION", "Lepassaare"),
                    ("LOCATION", "Estonia"),
                ],
            ),
            (
                "12 Maple Road\nApt. 305\nMaria Garcia\nUSA",
                vec![
                    ("ADDRESS", "12 Maple Road\nApt. 305"),
                    ("PERSON", "Maria Garcia"),
                    ("LOCATION", "USA"),
                ],
            ),
        ] {
            assert_acted_on(d, text, &want);
        }
    }

    /// Hyphenated words made of ordinary words are no unknown names: HTTP
    /// headers in logs were PERSON spans, and rewriting them broke the
    /// log. Double-barrelled names stay names.
    #[test]
    fn hyphenated_ordinary_words_are_not_names() {
        let d = detector();
        for (text, want) in [
            ("Content-Type: application/json", vec![]),
            ("User-Agent: Mozilla/5.0", vec![]),
            ("X-Request-ID: 7f3a", vec![]),
            (
                "X-Forwarded-For: 192.0.2.44",
                vec![("IP_ADDRESS", "192.0.2.44")],
            ),
            ("the re-entry ban and its two-thirds rule", vec![]),
            (
                "Jean-Luc Picard met Anne-Marie Smith-Jones",
                vec![
                    ("PERSON", "Jean-Luc Picard"),
                    ("PERSON", "Anne-Marie Smith-Jones"),
                ],
            ),
            ("Rose-Marie called", vec![("PERSON", "Rose-Marie")]),
            ("Wood-Smith called", vec![("PERSON", "Wood-Smith")]),
        ] {
            assert_acted_on(d, text, &want);
        }
    }

    #[test]
    fn allow_and_deny_lists() {
        let rules = RuleSet::load(true, None, &[]).unwrap();
        let deny = [DenyEntry {
            text: "Project Falcon".into(),
            entity: "project".into(),
        }];
        let d = Detector::new(
            rules,
            Arc::new(Gazetteers::builtin()),
            0.5,
            &["Maria Gonzalez".to_string()],
            &deny,
        )
        .unwrap();
        let text = "Maria Gonzalez leads project falcon.";
        let spans = d.actionable(&d.detect(text));
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(&*spans[0].entity, "PROJECT");
        assert_eq!(&text[spans[0].start..spans[0].end], "project falcon");
    }
}
