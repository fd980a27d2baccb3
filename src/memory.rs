//! Document memory: the identifiers found in one part of a document are
//! looked for in its other parts.
//!
//! Why: gdr detects each part of a document on its own: each selected field
//! of a JSONL record (every message of a chat), each selected column of a
//! CSV row, each paragraph of a text file. The detectors often find an
//! identifier by its context ("MRN 4471923", "Patient: Dana Whitlock",
//! "admitted 11/20/2026"), and the same value often comes back in another
//! part without that context ("record 4471923", "thanks whitlock", "signed
//! 11/20/2026 14:32"). Nothing found it there, so the rewrite kept it, next
//! to a rewritten copy of it in the first part: exactly the pairing that
//! re-identifies. Within one part the verifier finds such repeats and the
//! repair rewrites them; the memory carries what was found across parts,
//! so the repeat is a span of the part it is in: `scan` reports it, and the
//! rewrite gives it the surrogate the first mention got (surrogates are
//! keyed by type and value).
//!
//! What one actionable span (score at or above the threshold, an operator
//! other than `keep`) leaves in memory:
//! - its whole value, found again case-insensitively with any run of
//!   whitespace for a run of whitespace, at word boundaries;
//! - its digits, when it is a number (digits and separators only) of at
//!   least [`MIN_DIGITS`] digits: found again in any grouping ("447-1923"
//!   for "4471923");
//! - for a person, each word of the name ("Whitlock"), but not titles,
//!   months or words of fewer than three letters, and a surname that is an
//!   ordinary word ("Ford") only from a strong find ([`STRONG`]);
//! - for an address, each of its lines (between commas or line breaks)
//!   that holds a digit ("97 Guildry Street", "CA 92507") and each number
//!   in it of at least [`MIN_DIGITS`] digits (the ZIP code).
//!
//! A value that is one ordinary word ("Mark" of "Mark Ford", a town called
//! "Bath") is found only where it is written as a name: capitalised, and
//! not the first word of a sentence unless a verb, a possessive or a colon
//! makes it the sentence's subject ("noted Mark, thanks", "Ford said no",
//! not "mark the date" or "Mark the date"). Weak values are not
//! remembered at all: fewer than three characters, or a number of fewer
//! than [`MIN_DIGITS`] digits (an age "42" found by its context is not
//! every 42 of the document). The verifier judges such needles by
//! counting them; the memory has no count to compare with.
//!
//! The memory also runs within one part, for persons
//! ([`repeats_within`]): a person named in full once and by a word of the
//! name elsewhere in the same text ("Mr. Baker called. Baker wants a
//! refund").
//!
//! Raw values are held in memory only for the document at hand and never
//! written anywhere. The memory is bounded ([`Memory::with_capacity`]):
//! past it the oldest half is forgotten, so a multi-gigabyte text file is
//! read in constant memory.

use crate::detect::{Gazetteers, Name, Span};
use foldhash::HashMap;

/// Numbers shorter than this are not remembered by their digits, nor at
/// all when they are nothing but digits (as the verifier's `min_digits`).
pub const MIN_DIGITS: usize = 5;

/// A single word that is an ordinary word or a short acronym ([`risky`]),
/// or that no name or place list knows, is remembered only from a span of
/// at least this score, though the rewrite acts on spans from the
/// threshold (0.5) up. The memory repeats a
/// value over the whole document, so it multiplies a false positive too:
/// "Rule" taken for a surname (0.6) in one paragraph of a judgment became
/// every "(Rule 59 § 1)" after it, "EUR" taken for a place (0.6) every
/// amount in euros, "Lustration" opening a sentence (0.5) every
/// "lustration". Such words found by their context score higher ("Mr
/// Rule" 0.95). Other values are remembered from the threshold: a weakly
/// found word the lists know as a name ("Tamara", 0.6) is still a name.
pub const MIN_SCORE: f32 = 0.7;

/// The score from which a surname that is an ordinary word ("Ford",
/// "Smith") is remembered from a person's name, and the words of a name
/// made only of ordinary words are: found by a title, a cue or a full
/// name the lists know well (0.85 and up), not by a weak guess.
pub const STRONG: f32 = 0.8;

/// Entries a memory holds by default: far more than the identifiers of any
/// one chat or letter, and a few hundred kilobytes at most.
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    /// The value folded ([`fold`]), starting and ending with a letter or
    /// digit.
    needle: String,
    /// Its digits, when it is a number found by them ([`Memory::by_digits`]).
    digits: Option<String>,
    /// How the text must write it to be this value.
    case: Case,
    entity: Name,
    score: f32,
}

/// How a remembered value must be written where it is found again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Case {
    /// In any case ("whitlock" for "Whitlock").
    Any,
    /// Capitalised and not opening a sentence, where it is a name: an
    /// ordinary word ("Mark", "Bath") or words ("Administrative Court").
    Name,
    /// Exactly as it was written: a word no list knows that was found
    /// weakly ("lubbeek" after "grew up in", "PUNKAHARJU" on an address
    /// line; "Lustration" opening a sentence is no "lustration" after).
    Exact(String),
}

/// The identifiers of a document so far (see the module docs).
#[derive(Debug, Clone)]
pub struct Memory {
    entries: Vec<Entry>,
    /// Folded needle -> its entry (each needle is remembered once; the
    /// first type given to it stays).
    needles: HashMap<String, u32>,
    /// [`word_hash`] of a needle's first word -> the entries starting
    /// with it (a collision costs a comparison, never a wrong find).
    by_word: HashMap<u64, Vec<u32>>,
    /// One bit per [`word_hash`] of a first word (its top bits): most
    /// words of a text start no remembered value, and this rules them out
    /// without a map lookup.
    bloom: Vec<u64>,
    /// Digits of a number -> its entry.
    by_digits: HashMap<String, u32>,
    capacity: usize,
}

impl Default for Memory {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Memory {
    /// A memory of at most `capacity` entries (at least 2).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::new(),
            needles: HashMap::default(),
            by_word: HashMap::default(),
            bloom: vec![0; BLOOM_WORDS],
            by_digits: HashMap::default(),
            capacity: capacity.max(2),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Remember the values of `spans` (spans of `text` the rewrite acts on:
    /// the caller filters by threshold and policy).
    pub fn learn(&mut self, g: &Gazetteers, text: &str, spans: &[Span]) {
        for s in spans {
            let Some(value) = text.get(s.start..s.end) else {
                continue;
            };
            let person = &*s.entity == "PERSON";
            self.learn_value(g, value, person, s.entity, s.score);
            if &*s.entity == "ADDRESS" {
                // The lines of an address that hold a number (the street,
                // the postcode line) come back alone, and a postcode by
                // itself; the town and the country alone identify little.
                for part in value.split([',', ';', '\n']) {
                    if part.len() < value.len() && part.chars().any(|c| c.is_ascii_digit()) {
                        self.learn_value(g, part, false, s.entity, s.score);
                    }
                }
                for w in words(value) {
                    if w.len() < value.len()
                        && w.len() >= MIN_DIGITS
                        && w.bytes().all(|b| b.is_ascii_digit())
                    {
                        self.learn_value(g, w, false, s.entity, s.score);
                    }
                }
            }
            // The words of a name; of one made only of ordinary words
            // ("Anti-Terrorist Branch" at 0.7, more often a false find than
            // a person) only when it was found with confidence ("Mark
            // Ford", 0.85).
            if person && (!generic(g, value) || s.score >= STRONG) {
                for w in words(value) {
                    if w.len() < value.len() {
                        self.learn_value(g, w, true, s.entity, s.score);
                    }
                }
            }
        }
    }

    /// Remember `value` (of type `entity`, found with `score`) unless it is
    /// weak. `name`: it is (a word of) a person's name, so an ordinary word
    /// must also be a given name ("Mark", not "Defence" or "Service").
    fn learn_value(&mut self, g: &Gazetteers, value: &str, name: bool, entity: Name, score: f32) {
        let trimmed = value.trim_matches(|c: char| !c.is_alphanumeric());
        if trimmed.chars().count() < 3 {
            return;
        }
        let needle = fold(trimmed);
        if self.needles.contains_key(&needle) {
            return;
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let number = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " -./()+".contains(c));
        if number && digits.len() < MIN_DIGITS {
            return;
        }
        let mut single = words(trimmed);
        let one_word = match (single.next(), single.next()) {
            (Some(w), None) if w.len() == trimmed.len() => Some(w),
            _ => None,
        };
        // An ordinary word, or a value made of ordinary words ("The
        // Villages", "Administrative Court"), is found only written as a
        // name: as a word it is everywhere.
        let mut case = if generic(g, trimmed) {
            Case::Name
        } else {
            Case::Any
        };
        if let Some(w) = one_word {
            // An ordinary word, a month, a day or an acronym needs a
            // confident find ("Governor" of "Regional Governor" taken for
            // a person at 0.6 would be every governor of a judgment). Of a
            // name, a surname that is a word ("Rule", "Service", "Ford")
            // is mostly the word: it needs a strong find ("Mark Ford" at
            // 0.85, not "Clinique Service" at 0.7); a given name ("Mark")
            // less so.
            let given = g.place_and_given(w).1 && !calendar(w);
            if g.is_title(w)
                || risky(g, w) && score < MIN_SCORE
                || name && g.is_common(w) && !given && score < STRONG
                || name && calendar(w)
            {
                return;
            }
            // A word found weakly that no list knows: only as it was
            // written.
            if score < MIN_SCORE
                && w.chars().any(char::is_alphabetic)
                && !(g.is_name(w) || g.is_city(w) || g.is_country(w))
            {
                case = Case::Exact(w.to_string());
            }
        }
        let digits = (number && digits.len() >= MIN_DIGITS).then_some(digits);
        self.insert(needle, digits, case, entity, score);
    }

    fn insert(
        &mut self,
        needle: String,
        digits: Option<String>,
        case: Case,
        entity: Name,
        score: f32,
    ) {
        if needle.is_empty() || self.needles.contains_key(&needle) {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.forget_oldest_half();
        }
        let id = self.entries.len() as u32;
        let h = word_hash(words(&needle).next().unwrap_or(&needle));
        self.by_word.entry(h).or_default().push(id);
        let bit = bloom_bit(h);
        self.bloom[bit / 64] |= 1 << (bit % 64);
        if let Some(d) = &digits {
            self.by_digits.entry(d.clone()).or_insert(id);
        }
        self.needles.insert(needle.clone(), id);
        self.entries.push(Entry {
            needle,
            digits,
            case,
            entity,
            score,
        });
    }

    /// Past capacity: keep the newer half (a later part refers to recent
    /// identifiers more often than to old ones) and re-index it.
    fn forget_oldest_half(&mut self) {
        let kept: Vec<Entry> = self.entries.split_off(self.entries.len() / 2);
        self.entries.clear();
        self.needles.clear();
        self.by_word.clear();
        self.by_digits.clear();
        self.bloom.fill(0);
        for e in kept {
            self.insert(e.needle, e.digits, e.case, e.entity, e.score);
        }
    }

    /// Spans of `text` where a remembered value occurs, appended to `out`
    /// (unmerged: they may overlap each other and the text's own spans).
    /// Detector `memory`; type and score those of the remembered span.
    pub fn find(&self, text: &str, out: &mut Vec<Span>) {
        if self.entries.is_empty() {
            return;
        }
        static DET: std::sync::LazyLock<Name> = std::sync::LazyLock::new(|| Name::new("memory"));
        let mut push = |start: usize, end: usize, e: &Entry| {
            out.push(Span {
                start,
                end,
                entity: e.entity,
                score: e.score,
                detector: *DET,
                validated: false,
            })
        };
        let mut skip_to = 0;
        // What the whole values covered: a number found there is not
        // found again by its digits.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for (ws, h) in hashed_words(text) {
            if ws < skip_to {
                continue;
            }
            let bit = bloom_bit(h);
            if self.bloom[bit / 64] & (1 << (bit % 64)) == 0 {
                continue;
            }
            let Some(ids) = self.by_word.get(&h) else {
                continue;
            };
            // The longest remembered value that starts here.
            let best = ids
                .iter()
                .filter_map(|&id| {
                    let e = &self.entries[id as usize];
                    if e.case == Case::Name && !capitalised_at(text, ws) {
                        return None;
                    }
                    let end = matches_at(text, ws, &e.needle)?;
                    if e.case == Case::Name && !name_like_at(text, ws, end) {
                        return None;
                    }
                    if let Case::Exact(written) = &e.case
                        && text[ws..end] != *written
                    {
                        return None;
                    }
                    Some((end, e))
                })
                .max_by_key(|&(end, _)| end);
            if let Some((end, e)) = best {
                push(ws, end, e);
                covered.push((ws, end));
                skip_to = end;
            }
        }
        if !self.by_digits.is_empty() {
            // Runs and `covered` both go left to right, and the matches in
            // `covered` do not overlap: one cursor (a scan of the whole
            // list each run was quadratic in a long text's mentions).
            let mut c = 0;
            crate::verify::for_each_digit_run(text, |r, digits| {
                while c < covered.len() && covered[c].1 <= r.start {
                    c += 1;
                }
                let overlaps = covered.get(c).is_some_and(|&(s, _)| s < r.end);
                if digits.len() >= MIN_DIGITS
                    && !overlaps
                    && let Some(&id) = self.by_digits.get(digits)
                {
                    push(r.start, r.end, &self.entries[id as usize]);
                }
            });
        }
    }
}

/// The person `spans` of `text` that `acting` keeps (they score at least
/// `threshold`, the cheap part of `acting`) a word of whose name occurs
/// again in `text` as it was written, outside those spans: what a part's
/// own memory must learn ([`crate::pipeline::Pipeline`] then looks for
/// them in the rest of the part). It sees what the verifier cannot (a
/// name's word that is an ordinary word, "Ford", the verifier counts only
/// against the original) and leaves it what it already finds: a repeat in
/// another case or grouping ("gonzalez", "447-1923") or of a value that is
/// no name (a number, an e-mail address) is a leak the repair rewrites. A
/// span it returns may still teach the memory nothing (a word too weak to
/// be remembered). Most parts repeat nothing, and this costs a substring
/// search a distinct word; learning only the spans that repeat keeps the
/// memory's checks off the other values of a long text.
pub fn repeats_within<'t>(
    text: &'t str,
    spans: &[Span],
    threshold: f32,
    acting: impl Fn(&Span) -> bool,
) -> Vec<Span> {
    let hay = text.as_bytes();
    // The ranges of the spans acted on, sorted, built on the first match
    // (most texts have none): a match inside one is no repeat.
    let mut covered: Option<Vec<(usize, usize)>> = None;
    let mut inside = |at: usize, end: usize| {
        let c = covered.get_or_insert_with(|| {
            let mut c: Vec<(usize, usize)> = spans
                .iter()
                .filter(|s| s.score >= threshold && acting(s))
                .map(|s| (s.start, s.end))
                .collect();
            c.sort_unstable();
            // Overlapping ranges merged, so that one search answers.
            let mut merged: Vec<(usize, usize)> = Vec::with_capacity(c.len());
            for (s, e) in c {
                match merged.last_mut() {
                    Some(last) if s < last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            merged
        });
        let k = c.partition_point(|&(s, _)| s < end);
        k > 0 && c[k - 1].1 > at
    };
    // Each needle is searched once (a long text repeats its values as
    // spans too), and without set-up (`memmem` builds a searcher each
    // call, more than a short record's whole search costs): to each place
    // of the first byte, then a comparison.
    let mut searched: HashMap<&str, bool> = HashMap::default();
    // A short record's few needles are cheaper searched again than hashed.
    let cache = spans.len() > 16;
    // `own`: the span the needle came from, skipped whole without a look
    // at the others (it is acted on, so the answer is the same).
    let mut elsewhere = |needle: &'t str, own: &Span| -> bool {
        if cache && let Some(&found) = searched.get(needle) {
            return found;
        }
        let n = needle.as_bytes();
        let mut from = 0;
        let mut found = false;
        while let Some(k) = memchr::memchr(n[0], &hay[from..]) {
            let at = from + k;
            if at >= own.start && at < own.end {
                from = own.end;
                continue;
            }
            from = at + 1;
            let end = at + n.len();
            if hay[at..].starts_with(n)
                && !text[..at].ends_with(char::is_alphanumeric)
                && !text[end..].starts_with(char::is_alphanumeric)
                && !inside(at, end)
            {
                found = true;
                break;
            }
        }
        if cache {
            searched.insert(needle, found);
        }
        found
    };
    let mut out = Vec::new();
    for s in spans {
        if s.score < threshold || !within_candidate(text, s) {
            continue;
        }
        // A name by its words (the whole name repeated repeats its words
        // too); `acting` (the policy's lookup) last: few names repeat.
        let repeated = words(&text[s.start..s.end])
            .filter(|w| w.len() >= 3 && w.starts_with(char::is_uppercase))
            .any(|w| elsewhere(w, s));
        if repeated && acting(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Whether span `s` of `text` is one whose repeats within its own part
/// are looked for ([`repeats_within`]): a person's name, capitalised, of
/// three bytes or more. A number, an address line or an e-mail address
/// repeated is no ordinary word, so the verifier finds it, and the repair
/// rewrites it; a place repeated was as often signal: spread within its
/// part, "Turkey" of "the Republic of Turkey" took the country from
/// every sentence of a judgment that opened with it.
pub fn within_candidate(text: &str, s: &Span) -> bool {
    &*s.entity == "PERSON"
        && text
            .get(s.start..s.end)
            .is_some_and(|v| v.len() >= 3 && v.starts_with(char::is_uppercase))
}

/// Lower case, whitespace runs as one space, no whitespace at either end.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(part.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Where `needle` (folded) matches `text` from byte `at` on, ignoring case
/// and with one or more whitespace characters for each space: the end of
/// the match, if it ends at a word boundary.
fn matches_at(text: &str, at: usize, needle: &str) -> Option<usize> {
    if needle.is_ascii()
        && let Some(found) = matches_ascii(text, at, needle.as_bytes())
    {
        return found;
    }
    matches_at_chars(text, at, needle)
}

/// [`matches_at`] byte by byte for an ASCII needle: the answer, or None
/// when a non-ASCII character decides it (a Unicode space or letter) and
/// [`matches_at_chars`] must.
fn matches_ascii(text: &str, at: usize, needle: &[u8]) -> Option<Option<usize>> {
    let t = text.as_bytes();
    // `char::is_whitespace` on ASCII.
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    // The character at `i` (not ASCII): None when it could still match an
    // ASCII needle byte (a Unicode space, a letter that lowers to ASCII
    // such as the Kelvin sign), so the character walk must decide.
    let other = |i: usize| -> Option<char> {
        let c = text[i..].chars().next()?;
        (!c.is_whitespace() && !c.to_lowercase().any(|l| l.is_ascii())).then_some(c)
    };
    let mut i = at;
    for &nb in needle {
        if nb == b' ' {
            let from = i;
            while t.get(i).copied().is_some_and(space) {
                i += 1;
            }
            if t.get(i).is_some_and(|&b| b >= 0x80) {
                other(i)?;
            }
            if i == from {
                return Some(None);
            }
        } else {
            let Some(&tb) = t.get(i) else {
                return Some(None);
            };
            if tb >= 0x80 {
                other(i)?;
                return Some(None);
            }
            if tb.to_ascii_lowercase() != nb {
                return Some(None);
            }
            i += 1;
        }
    }
    match t.get(i) {
        Some(&b) if b >= 0x80 => Some((!other(i)?.is_alphanumeric()).then_some(i)),
        Some(&b) if b.is_ascii_alphanumeric() => Some(None),
        _ => Some(Some(i)),
    }
}

/// [`matches_at`], character by character.
fn matches_at_chars(text: &str, at: usize, needle: &str) -> Option<usize> {
    let mut t = text[at..].char_indices().peekable();
    let mut pending: Option<std::char::ToLowercase> = None;
    let mut end = at;
    for nc in needle.chars() {
        if nc == ' ' {
            if pending.as_mut().is_some_and(|p| p.len() > 0) {
                return None;
            }
            pending = None;
            let mut any = false;
            while let Some(&(i, c)) = t.peek()
                && c.is_whitespace()
            {
                any = true;
                end = at + i + c.len_utf8();
                t.next();
            }
            if !any {
                return None;
            }
            continue;
        }
        let lc = loop {
            if let Some(c) = pending.as_mut().and_then(Iterator::next) {
                break c;
            }
            let (i, c) = t.next()?;
            end = at + i + c.len_utf8();
            pending = Some(c.to_lowercase());
        };
        if lc != nc {
            return None;
        }
    }
    // A text character that lowers to more than the needle held is a
    // different word.
    if pending.is_some_and(|p| p.len() > 0) {
        return None;
    }
    let after = text[end..].chars().next();
    (!after.is_some_and(char::is_alphanumeric)).then_some(end)
}

/// A word that is often something else when the detectors take it for a
/// name or a place: an ordinary word ("Rule", "Mark"), a month or a day of
/// the week ("July", which the lists hold as a given name), or a short
/// acronym ("EUR", "NATO").
fn risky(g: &Gazetteers, w: &str) -> bool {
    g.is_ordinary(w) || calendar(w) || (w.chars().count() <= 4 && w.chars().all(char::is_uppercase))
}

/// A month or a day of the week (which the name lists hold too: "July",
/// "May").
fn calendar(w: &str) -> bool {
    crate::months::parse(w).is_some() || WEEKDAYS.contains(&w.to_lowercase().as_str())
}

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Whether `value` is words only (no digit) and every one of them is
/// ordinary ([`risky`] or a title): nothing in it names anyone in
/// particular. A value with a number ("20 July 2002", "MRN 4471923") is
/// specific.
fn generic(g: &Gazetteers, value: &str) -> bool {
    !value.chars().any(|c| c.is_ascii_digit())
        && words(value).next().is_some()
        && words(value).all(|w| risky(g, w) || g.is_title(w))
}

/// Whether the text at `at` starts with a capital.
fn capitalised_at(text: &str, at: usize) -> bool {
    text[at..].chars().next().is_some_and(char::is_uppercase)
}

/// Whether the capitalised words `at..end` are written as a name: not the
/// first words of a sentence (after the start of the text, a line break
/// or ". ! ?", and any quotes or brackets), where any word is capitalised,
/// unless what follows makes them its subject or its owner: "Brown was
/// discharged", "Young asked", "Hill's reply", "Ford: ok" are the person
/// the document named; "Mark the date", "Will you call", "Young people",
/// "Brown rice" are not.
fn name_like_at(text: &str, at: usize, end: usize) -> bool {
    let before = text[..at]
        .chars()
        .rev()
        .find(|&c| !(c == ' ' || c == '\t' || "\"'“‘(*-•".contains(c)));
    !matches!(before, None | Some('.' | '!' | '?' | '\n' | '\r')) || subject_follows(&text[end..])
}

/// Whether `rest` (the text after a sentence's first words) opens with
/// what follows a subject: a verb of the lists below or a past tense
/// ("-ed"), a possessive, or a colon or comma ("Ford, please call").
fn subject_follows(rest: &str) -> bool {
    if let Some(after) = rest.strip_prefix("'s").or_else(|| rest.strip_prefix("’s"))
        && !after.starts_with(char::is_alphanumeric)
    {
        return true;
    }
    if rest.starts_with([':', ',']) {
        return true;
    }
    let Some(tail) = rest.strip_prefix(' ') else {
        return false;
    };
    let word: &str = tail
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    // Lower case only: "Brown Street", "Will Smith" are other words.
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    (word.len() >= 5 && word.ends_with("ed") && !NOT_PAST.contains(&word))
        || SUBJECT_VERBS.binary_search(&word).is_ok()
}

/// Verbs that follow a person opening a sentence, present and past ("-ed"
/// past tenses of five letters and more are taken by their ending).
/// Sorted: looked up by binary search.
const SUBJECT_VERBS: &[&str] = &[
    "added", "agrees", "answered", "arrived", "asked", "asks", "became", "called", "calls", "came",
    "can", "cannot", "could", "denies", "did", "does", "feels", "felt", "found", "gave", "goes",
    "got", "had", "has", "is", "knew", "knows", "left", "likes", "made", "makes", "may", "might",
    "must", "needs", "noted", "notes", "paid", "ran", "reports", "said", "sat", "saw", "says",
    "seems", "sent", "shall", "should", "spoke", "still", "stood", "takes", "thinks", "thought",
    "told", "took", "wants", "was", "went", "will", "works", "would", "wrote",
];

/// Words ending in "ed" that are not a past tense ("Brown bed", "Young
/// seed" are the word).
const NOT_PAST: &[&str] = &[
    "breed", "creed", "greed", "speed", "steed", "hundred", "sacred", "naked", "wicked", "kindred",
    "rugged",
];

/// The maximal runs of letters and digits of `s`.
fn words(s: &str) -> impl Iterator<Item = &str> {
    word_indices(s).map(|(_, w)| w)
}

/// [`words`] with their byte offsets (ASCII byte by byte, other
/// characters decoded).
fn word_indices(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = s.as_bytes();
    // Whether the character at `i` is a letter or digit, and its length.
    let at = move |i: usize| -> (bool, usize) {
        let b = bytes[i];
        if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric(), c.len_utf8())
        }
    };
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let (alnum, len) = at(i);
            if alnum {
                break;
            }
            i += len;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() {
            let (alnum, len) = at(i);
            if !alnum {
                break;
            }
            i += len;
        }
        Some((start, &s[start..i]))
    })
}

/// The start and [`word_hash`] of each word of `s` ([`word_indices`]),
/// hashed as it is read: this runs over every byte of every part of a
/// document, so ASCII is read a byte at a time without decoding.
fn hashed_words(s: &str) -> impl Iterator<Item = (usize, u64)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            let &b = bytes.get(i)?;
            if b < 0x80 {
                if b.is_ascii_alphanumeric() {
                    break;
                }
                i += 1;
            } else {
                let c = s[i..].chars().next()?;
                if c.is_alphanumeric() {
                    break;
                }
                i += c.len_utf8();
            }
        }
        let start = i;
        let mut h = FNV_OFFSET;
        while let Some(&b) = bytes.get(i) {
            if b >= 0x80 {
                // Not ASCII: the rest of the word char by char, and the
                // whole word hashed as `word_hash` does.
                while let Some(c) = s[i..].chars().next()
                    && c.is_alphanumeric()
                {
                    i += c.len_utf8();
                }
                return Some((start, word_hash(&s[start..i])));
            }
            if !b.is_ascii_alphanumeric() {
                break;
            }
            h = fnv(h, b.to_ascii_lowercase());
            i += 1;
        }
        Some((start, h))
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[inline]
fn fnv(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
}

/// Bits of [`Memory::bloom`] (64 Ki: 8 KiB).
const BLOOM_WORDS: usize = 1 << 10;

fn bloom_bit(h: u64) -> usize {
    (h >> 48) as usize % (BLOOM_WORDS * 64)
}

/// A hash of `w` in lower case (FNV-1a over its bytes, ASCII lowered byte
/// by byte, other characters by `char::to_lowercase`): a word and its
/// folded form hash alike, without building the folded form.
fn word_hash(w: &str) -> u64 {
    let mut h = FNV_OFFSET;
    if w.is_ascii() {
        for &b in w.as_bytes() {
            h = fnv(h, b.to_ascii_lowercase());
        }
    } else {
        let mut buf = [0u8; 4];
        for c in w.chars().flat_map(char::to_lowercase) {
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                h = fnv(h, b);
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str, value: &str, entity: &str) -> Span {
        let start = text.find(value).expect("value in text");
        Span {
            start,
            end: start + value.len(),
            entity: Name::new(entity),
            score: 0.9,
            detector: Name::new("test"),
            validated: false,
        }
    }

    fn span_scored(text: &str, value: &str, entity: &str, score: f32) -> Span {
        Span {
            score,
            ..span(text, value, entity)
        }
    }

    /// (value, type) of each span `m` finds in `text`.
    fn found(m: &Memory, text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        m.find(text, &mut out);
        out.iter()
            .map(|s| (text[s.start..s.end].to_string(), s.entity.to_string()))
            .collect()
    }

    fn learned(pairs: &[(&str, &str)]) -> Memory {
        let g = Gazetteers::builtin();
        let mut m = Memory::default();
        for (value, entity) in pairs {
            let text = format!("x {value} y");
            m.learn(&g, &text, &[span(&text, value, entity)]);
        }
        m
    }

    fn pair(v: &str, t: &str) -> (String, String) {
        (v.to_string(), t.to_string())
    }

    #[test]
    fn values_are_found_in_any_case_and_spacing_at_word_boundaries() {
        let m = learned(&[("Margaret Okonkwo-Bright", "PERSON"), ("4471923", "ID")]);
        assert_eq!(
            found(&m, "MARGARET  okonkwo-bright came; record 4471923."),
            vec![
                pair("MARGARET  okonkwo-bright", "PERSON"),
                pair("4471923", "ID")
            ]
        );
        // Not inside another word or number; but a number keeps its
        // digits when glued to letters ("MRN4471923").
        assert!(found(&m, "44719230 and Margaretx").is_empty());
        assert_eq!(found(&m, "MRN4471923"), vec![pair("4471923", "ID")]);
    }

    #[test]
    fn words_of_a_name_are_remembered_but_not_titles() {
        let m = learned(&[("Dr Dana Whitlock", "PERSON"), ("Will Smithers", "PERSON")]);
        assert_eq!(
            found(&m, "thanks whitlock, Dana and Smithers. Dr Who will come."),
            vec![
                pair("whitlock", "PERSON"),
                pair("Dana", "PERSON"),
                pair("Smithers", "PERSON")
            ]
        );
    }

    /// An ordinary word is found only where it is written as a name.
    #[test]
    fn ordinary_words_are_found_only_written_as_names() {
        let m = learned(&[("Will Smithers", "PERSON"), ("Bath", "LOCATION")]);
        assert_eq!(
            found(
                &m,
                "ask Will. Will you? we will see. Re: Will, \"Will\" no; bath in Bath"
            ),
            vec![
                pair("Will", "PERSON"),
                pair("Will", "PERSON"),
                pair("Will", "PERSON"),
                pair("Bath", "LOCATION")
            ]
        );
        assert!(found(&m, "Will it rain?\nBath time").is_empty());
    }

    #[test]
    fn lines_and_postcodes_of_an_address_are_remembered() {
        let m = learned(&[("97 Guildry Street, Riverside, CA 92507, USA", "ADDRESS")]);
        assert_eq!(
            found(&m, "at 97 guildry street; zip 92507; Riverside, USA, CA"),
            vec![
                pair("97 guildry street", "ADDRESS"),
                pair("92507", "ADDRESS")
            ]
        );
    }

    #[test]
    fn numbers_are_found_in_any_grouping() {
        let m = learned(&[("07700 900123", "PHONE"), ("11/20/2026", "DATE")]);
        assert_eq!(
            found(
                &m,
                "call 077-009-00123 or 07700 900123; signed 11/20/2026 14:32"
            ),
            vec![
                pair("07700 900123", "PHONE"),
                pair("11/20/2026", "DATE"),
                pair("077-009-00123", "PHONE"),
            ]
        );
    }

    #[test]
    fn weak_values_are_not_remembered() {
        let m = learned(&[
            ("42", "AGE"),
            ("2026", "DATE"),
            ("Al", "PERSON"),
            ("1234", "ID"),
        ]);
        assert!(m.is_empty(), "{m:?}");
        assert!(found(&m, "42 2026 Al 1234").is_empty());
    }

    /// An ordinary word or a short acronym found weakly is not remembered;
    /// a weakly found word that is no ordinary word is.
    #[test]
    fn weakly_found_ordinary_words_are_not_remembered() {
        let g = Gazetteers::builtin();
        let mut m = Memory::default();
        let text = "see Rule 59, EUR 1,400 and Tamara";
        let mut spans = [
            span_scored(text, "Rule", "PERSON", 0.6),
            span_scored(text, "EUR", "LOCATION", 0.6),
            span_scored(text, "Tamara", "PERSON", 0.6),
        ];
        m.learn(&g, text, &spans);
        assert_eq!(
            found(&m, "under Rule 26, EUR 50 to Tamara"),
            vec![pair("Tamara", "PERSON")]
        );
        // Found with confidence, the acronym is remembered; a surname that
        // is an ordinary word never is ("Rule" is mostly the word).
        for s in &mut spans {
            s.score = MIN_SCORE;
        }
        m.learn(&g, text, &spans);
        assert_eq!(
            found(&m, "under Rule 26, EUR 50"),
            vec![pair("EUR", "LOCATION")]
        );
    }

    /// A value of ordinary words is found only written as a name; a
    /// title of a name is not remembered.
    #[test]
    fn generic_values_are_found_only_capitalised() {
        let m = learned(&[
            ("Administrative Court", "ORG"),
            ("Professor Warren Strobel", "PERSON"),
            ("20 July 2002", "DATE"),
        ]);
        assert_eq!(
            found(
                &m,
                "the administrative court; an Administrative Court; internal Service; \
                 a professor; with Warren and strobel on 20 july 2002"
            ),
            vec![
                pair("Administrative Court", "ORG"),
                pair("Warren", "PERSON"),
                pair("strobel", "PERSON"),
                pair("20 july 2002", "DATE"),
            ]
        );
    }

    /// A strongly found name of ordinary words gives its words; a weak
    /// one does not; a month in a name never.
    #[test]
    fn ordinary_names_give_their_words_only_when_strong() {
        let g = Gazetteers::builtin();
        let mut m = Memory::default();
        let text = "Mark Ford, Clinique Service and May Rose";
        let spans = [
            span_scored(text, "Mark Ford", "PERSON", 0.85),
            span_scored(text, "Clinique Service", "PERSON", 0.7),
            span_scored(text, "May Rose", "PERSON", 0.85),
        ];
        m.learn(&g, text, &spans);
        assert_eq!(
            found(
                &m,
                "Sorry Mark, ask Ford; the Internal Service; in May; Rose came; ford it"
            ),
            vec![
                pair("Mark", "PERSON"),
                pair("Ford", "PERSON"),
                pair("Rose", "PERSON")
            ]
        );
    }

    #[test]
    fn a_full_memory_forgets_its_oldest_half() {
        let g = Gazetteers::builtin();
        let mut m = Memory::with_capacity(4);
        for i in 0..5 {
            let text = format!("ref 9000{i}0");
            m.learn(&g, &text, &[span(&text, &format!("9000{i}0"), "ID")]);
        }
        assert_eq!(m.len(), 3);
        assert!(found(&m, "900000 900010").is_empty());
        assert_eq!(
            found(&m, "9000-20 x 900030 900040"),
            vec![
                pair("900030", "ID"),
                pair("900040", "ID"),
                pair("9000-20", "ID")
            ]
        );
    }

    /// The ASCII fast path answers as the character walk does, or leaves
    /// the answer to it.
    #[test]
    fn ascii_matching_agrees_with_the_character_walk() {
        let texts = [
            "Dana  Whitlock, x",
            "dana\twhitlock",
            "DANA WHITLOCKS",
            "dana\u{a0}whitlock",
            "dana whitlocké",
            "dana whitlock’s",
            "dana\u{2003}whitlock",
            "dana’whitlock",
            "\u{212a}ana",
            "danawhitlock",
            "dana whitlock",
            "dana",
            "",
        ];
        for t in texts {
            for n in ["dana whitlock", "dana", "d", "kana"] {
                assert_eq!(
                    matches_at(t, 0, n),
                    matches_at_chars(t, 0, n),
                    "{t:?} {n:?}"
                );
            }
        }
    }

    #[test]
    fn words_and_their_hashes() {
        let ws: Vec<(usize, &str)> = word_indices("Zoë's  café-42,ok").collect();
        assert_eq!(
            ws,
            vec![(0, "Zoë"), (5, "s"), (8, "café"), (14, "42"), (17, "ok")]
        );
        let text = "Zoë's  café-42,ok ÉCOLE x";
        let hashed: Vec<(usize, u64)> = hashed_words(text).collect();
        let expected: Vec<(usize, u64)> =
            word_indices(text).map(|(i, w)| (i, word_hash(w))).collect();
        assert_eq!(hashed, expected);
        assert_eq!(word_hash("WhItLoCk"), word_hash("whitlock"));
        assert_eq!(word_hash("ZOË"), word_hash("zoë"));
        assert_ne!(word_hash("zoe"), word_hash("zoë"));
    }

    #[test]
    fn matching_handles_case_folds_that_change_length() {
        // "İ" lowers to two characters: not the same as a needle "i".
        assert_eq!(matches_at("İstanbul", 0, "istanbul"), None);
        assert_eq!(matches_at("i̇stanbul x", 0, "i̇stanbul"), Some(10));
        assert_eq!(matches_at("ÉCOLE x", 0, "école"), Some(6));
        assert_eq!(matches_at("a\t\n b", 0, "a b"), Some(5));
        assert_eq!(matches_at("ab", 0, "a b"), None);
        assert_eq!(matches_at("abc", 0, "ab"), None);
    }

    #[test]
    fn a_sentence_may_open_with_the_name_as_its_subject() {
        // "Ford" remembered from "Mark Ford" (an ordinary word: as a name).
        let g = Gazetteers::builtin();
        let text = "Mark Ford";
        let mut m = Memory::default();
        m.learn(&g, text, &[span_scored(text, "Mark Ford", "PERSON", 0.85)]);
        let ford = vec![("Ford".to_string(), "PERSON".to_string())];
        for yes in [
            "Ford said no.",
            "Ok. Ford was late.",
            "Ford agreed.",
            "Ford's car.",
            "Ford: ok",
            "Ford, call me.",
            "Fine.\nFord will call.",
            "thanks Ford",
        ] {
            assert_eq!(found(&m, yes), ford, "{yes:?}");
        }
        for no in [
            "Ford the river.",
            "Ford rivers.",
            "Ford Street is closed.",
            "Ford speed.",
            "Ford",
            "ford said no",
            "Fords said",
        ] {
            assert!(found(&m, no).is_empty(), "{no:?}");
        }
        assert!(SUBJECT_VERBS.windows(2).all(|w| w[0] < w[1]), "sorted");
    }

    #[test]
    fn repeats_within_a_part_are_seen_cheaply() {
        let all = |_: &Span| true;
        let text = "I spoke to Mark Ford today. Later Ford said no.";
        let name = span_scored(text, "Mark Ford", "PERSON", 0.85);
        let one = std::slice::from_ref(&name);
        assert_eq!(repeats_within(text, one, 0.5, all), one);
        // Not acted on: below the threshold, or not by the policy.
        assert!(repeats_within(text, one, 0.9, all).is_empty());
        assert!(repeats_within(text, one, 0.5, |_| false).is_empty());
        // Covered by another acted-on span, or part of a longer word.
        let later = span_scored(text, "Ford said", "ORG", 0.6);
        assert!(repeats_within(text, &[name.clone(), later], 0.5, all).is_empty());
        let text2 = "I spoke to Mark Ford today. Later Fordham said no.";
        let name2 = span_scored(text2, "Mark Ford", "PERSON", 0.85);
        assert!(repeats_within(text2, &[name2], 0.5, all).is_empty());
        // Only the names that repeat; persons only: a town or a country
        // repeated is as often signal ("Turkey" of "the Republic of
        // Turkey" in a judgment), and the verifier finds the repeats of a
        // value that is no ordinary word.
        let text3 = "Ann Lee met Bob Ray in Springfield. Lee and Springfield again.";
        let ann = span_scored(text3, "Ann Lee", "PERSON", 0.85);
        let bob = span_scored(text3, "Bob Ray", "PERSON", 0.85);
        let town = span_scored(text3, "Springfield", "LOCATION", 0.8);
        assert_eq!(
            repeats_within(text3, &[ann.clone(), bob, town], 0.5, all),
            [ann]
        );
        let text4 = "Call 5551234567 or 555-123-4567.";
        let phone = span_scored(text4, "5551234567", "PHONE", 0.9);
        assert!(
            repeats_within(text4, &[phone], 0.5, all).is_empty(),
            "the verifier's"
        );
    }
}
