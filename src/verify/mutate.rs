//! The verifier's own evaluation: good rewrites and reproducible mutants of
//! them, each of a known class, so rejection rates can be measured.
//!
//! Good rewrites are the pipeline's deterministic rewrites of a corpus plus
//! hand-written fluent paraphrases (fixtures/paraphrases.jsonl). Mutants of
//! each good rewrite: an original identifier put back in place of its
//! surrogate, a near-miss spelling of it, a changed number, a dropped
//! negation, a dropped clause, a sentence swapped for an unrelated one.
//! Which mention, number or clause is mutated is picked by a fixed hash of
//! the record's index: the set is the same on every run, and nothing here
//! knows about any particular corpus.

use super::{Profile, Subject, Verdict};
use crate::detect::{Span, is_word_boundary};
use crate::pipeline::Pipeline;
use crate::plan::Op;
use serde::Serialize;
use std::ops::Range;
use std::time::Instant;

/// What a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A deterministic rewrite (should be accepted).
    Good,
    /// A hand-written fluent paraphrase (should be accepted).
    Paraphrase,
    /// An original identifier put back (leak).
    Restored,
    /// A near-miss spelling of an original identifier put back (leak).
    NearMiss,
    /// A number that was not an identifier changed (meaning).
    Number,
    /// A negation dropped (meaning).
    Negation,
    /// A clause dropped (meaning).
    Clause,
    /// A sentence replaced by one from another record.
    Unrelated,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Good,
        Class::Paraphrase,
        Class::Restored,
        Class::NearMiss,
        Class::Number,
        Class::Negation,
        Class::Clause,
        Class::Unrelated,
    ];

    pub fn is_leak(self) -> bool {
        matches!(self, Class::Restored | Class::NearMiss)
    }

    pub fn is_meaning(self) -> bool {
        matches!(self, Class::Number | Class::Negation | Class::Clause)
    }

    pub fn should_accept(self) -> bool {
        matches!(self, Class::Good | Class::Paraphrase)
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Good => "good",
            Class::Paraphrase => "paraphrase",
            Class::Restored => "restored",
            Class::NearMiss => "near_miss",
            Class::Number => "number",
            Class::Negation => "negation",
            Class::Clause => "clause",
            Class::Unrelated => "unrelated",
        }
    }
}

/// A good rewrite: the original, its identifiers (planned spans), the
/// rewrite and, per planned surrogate, its output range and the original
/// value it stands for.
#[derive(Debug, Clone)]
pub struct Pair {
    pub original: String,
    pub rewrite: String,
    pub identifiers: Vec<Span>,
    pub inserted: Vec<(Range<usize>, String)>,
    pub class: Class,
    /// Seconds the pipeline took to produce the rewrite (detect, plan,
    /// rewrite); 0 for hand-written pairs.
    pub rewrite_secs: f64,
}

/// One case for the verifier.
#[derive(Debug, Clone)]
pub struct Case {
    pub class: Class,
    /// Index of the good pair it comes from.
    pub source: usize,
    pub original: String,
    pub rewrite: String,
    pub identifiers: Vec<Span>,
    pub inserted: Vec<Range<usize>>,
}

/// The pipeline's committed deterministic rewrite of `text` (after any
/// repair), with its surrogates; `rewrite_secs` is the cost of the plain
/// detect-plan-rewrite the verifier checks. None when the record is
/// quarantined (there is no good rewrite to mutate).
pub fn deterministic_pair(p: &Pipeline, text: &str) -> Option<Pair> {
    let t = Instant::now();
    let spans = p.detector.detect(text);
    let plain = p.rewrite_spans(text, &spans);
    let secs = t.elapsed().as_secs_f64();
    drop(plain);
    let r = p.rewrite_with(text, false);
    if r.decision == crate::pipeline::Decision::Quarantine {
        return None;
    }
    let inserted = r
        .inserted
        .iter()
        .zip(&r.plan.spans)
        .map(|(o, s)| (o.clone(), text[s.start..s.end].to_string()))
        .collect();
    Some(Pair {
        original: text.to_string(),
        identifiers: r.plan.spans.clone(),
        rewrite: r.text,
        inserted,
        class: Class::Good,
        rewrite_secs: secs,
    })
}

/// A hand-written rewrite: identifiers found by detection on the original,
/// `surrogates` maps original identifier text to the surrogate used.
pub fn paraphrase_pair(
    p: &Pipeline,
    original: &str,
    rewrite: &str,
    surrogates: &[(String, String)],
) -> Pair {
    let spans = p.detector.detect(original);
    let r = p.rewrite_spans(original, &spans);
    let mut inserted = Vec::new();
    for (orig, sur) in surrogates {
        for range in super::ranges_of_strings(rewrite, std::slice::from_ref(sur)) {
            inserted.push((range, orig.clone()));
        }
    }
    inserted.sort_by_key(|(r, _)| r.start);
    Pair {
        original: original.to_string(),
        rewrite: rewrite.to_string(),
        identifiers: r.plan.spans,
        inserted,
        class: Class::Paraphrase,
        rewrite_secs: 0.0,
    }
}

/// A fixed, well-mixed hash (splitmix64) for picking targets.
fn pick(seed: usize, salt: u64, n: usize) -> usize {
    let mut z = (seed as u64).wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % n.max(1) as u64) as usize
}

fn inside(r: &Range<usize>, ranges: &[Range<usize>]) -> bool {
    ranges.iter().any(|x| x.start < r.end && r.start < x.end)
}

/// `rewrite` with `at` replaced by `with`; surrogate ranges after it
/// shifted, ranges overlapping it dropped.
fn splice(
    rewrite: &str,
    ranges: &[Range<usize>],
    at: Range<usize>,
    with: &str,
) -> (String, Vec<Range<usize>>) {
    let mut s = String::with_capacity(rewrite.len() + with.len());
    s.push_str(&rewrite[..at.start]);
    s.push_str(with);
    s.push_str(&rewrite[at.end..]);
    let delta = with.len() as isize - (at.end - at.start) as isize;
    let out = ranges
        .iter()
        .filter(|r| {
            let overlaps = r.start < at.end && at.start < r.end;
            let empty_at = r.start == r.end && r.start == at.start;
            !(overlaps || empty_at)
        })
        .map(|r| {
            if r.start >= at.end {
                (r.start as isize + delta) as usize..(r.end as isize + delta) as usize
            } else {
                r.clone()
            }
        })
        .collect();
    (s, out)
}

/// Change one letter in the middle of the longest distinctive word of
/// `value` (not a common word before or after), or else the last digit of
/// a long number. None when the value has neither (a near miss of a short
/// or dictionary value is another value, not a disguise).
pub fn near_miss(p: &Pipeline, value: &str) -> Option<String> {
    let g = &p.detector.gazetteers;
    let mut words: Vec<Range<usize>> = super::word_spans(value)
        .into_iter()
        .filter(|r| {
            let w = &value[r.clone()];
            w.chars().count() >= 4
                && w.chars().all(char::is_alphabetic)
                && !g.is_common(&w.to_lowercase())
        })
        .collect();
    words.sort_by_key(|r| std::cmp::Reverse(r.end - r.start));
    for r in words {
        let w = &value[r.clone()];
        let chars: Vec<char> = w.chars().collect();
        for k in [chars.len() / 2, chars.len() / 2 + 1, chars.len() - 1] {
            if k == 0 || k >= chars.len() {
                continue;
            }
            let c = chars[k];
            let lower = c.to_lowercase().next().unwrap_or(c);
            let to = match lower {
                'a' => 'e',
                'e' => 'i',
                'i' => 'o',
                'o' => 'u',
                'u' => 'a',
                'z' => 's',
                's' => 'z',
                'y' => 'i',
                x if x.is_ascii_lowercase() => {
                    let n = (x as u8 - b'a' + 1) % 26 + b'a';
                    n as char
                }
                _ => continue,
            };
            let to = if c.is_uppercase() {
                to.to_ascii_uppercase()
            } else {
                to
            };
            let mut edited = chars.clone();
            edited[k] = to;
            let edited: String = edited.into_iter().collect();
            if g.is_common(&edited.to_lowercase()) {
                continue;
            }
            return Some(format!(
                "{}{}{}",
                &value[..r.start],
                edited,
                &value[r.end..]
            ));
        }
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if digits >= 7 {
        let (i, c) = value.char_indices().rfind(|(_, c)| c.is_ascii_digit())?;
        let d = (c as u8 - b'0' + 1) % 10 + b'0';
        return Some(format!("{}{}{}", &value[..i], d as char, &value[i + 1..]));
    }
    None
}

/// Clause boundaries: `,;:` and sentence ends (and newlines).
fn segments(text: &str, sentence_only: bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let cut =
            matches!(c, '.' | '!' | '?' | '\n') || (!sentence_only && matches!(c, ',' | ';' | ':'));
        // "3.5" and "1,200" are numbers, not boundaries.
        let in_number = matches!(c, '.' | ',')
            && text[..i].ends_with(|x: char| x.is_ascii_digit())
            && text[i + 1..].starts_with(|x: char| x.is_ascii_digit());
        if cut && !in_number {
            out.push(start..i + c.len_utf8());
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

fn content_words(s: &str) -> usize {
    Profile::of(s).content.len()
}

/// Every case: each pair as is, and each mutant class where the pair has
/// something to mutate.
pub fn cases(p: &Pipeline, pairs: &[Pair]) -> Vec<Case> {
    let mut out = Vec::new();
    let n = pairs.len();
    for (i, pair) in pairs.iter().enumerate() {
        let ranges: Vec<Range<usize>> = pair.inserted.iter().map(|(r, _)| r.clone()).collect();
        let case = |class, rewrite: String, inserted: Vec<Range<usize>>| Case {
            class,
            source: i,
            original: pair.original.clone(),
            rewrite,
            identifiers: pair.identifiers.clone(),
            inserted,
        };
        out.push(case(pair.class, pair.rewrite.clone(), ranges.clone()));
        // Leaks: one mention's surrogate replaced by the original value.
        let eligible: Vec<&(Range<usize>, String)> = pair
            .inserted
            .iter()
            .filter(|(r, v)| {
                let v = v.trim();
                !v.is_empty()
                    && pair.rewrite[r.clone()].trim().to_lowercase() != v.to_lowercase()
                    && pair
                        .identifiers
                        .iter()
                        .find(|s| pair.original[s.start..s.end].trim() == v)
                        .is_none_or(|s| p.policy.op(&s.entity) != Op::Keep)
            })
            .collect();
        if !eligible.is_empty() {
            let (r, v) = eligible[pick(i, 1, eligible.len())];
            // The span as it was, surrounding whitespace included: the
            // value must not be glued to the next word.
            let (rw, ins) = splice(&pair.rewrite, &ranges, r.clone(), v);
            out.push(case(Class::Restored, rw, ins));
            // The near miss goes to the first mention (from the picked one
            // on) that has a distinctive word or a long number.
            let k0 = pick(i, 2, eligible.len());
            for k in 0..eligible.len() {
                let (r, v) = eligible[(k0 + k) % eligible.len()];
                let core = v.trim();
                if let Some(m) = near_miss(p, core) {
                    let lead = &v[..v.len() - v.trim_start().len()];
                    let trail = &v[v.trim_end().len()..];
                    let m = format!("{lead}{m}{trail}");
                    let (rw, ins) = splice(&pair.rewrite, &ranges, r.clone(), &m);
                    out.push(case(Class::NearMiss, rw, ins));
                    break;
                }
            }
        }
        let text = &pair.rewrite;
        // A number outside surrogates, last digit changed.
        let nums: Vec<Range<usize>> = super::digit_runs(text)
            .into_iter()
            .map(|(r, _)| r)
            .filter(|r| !inside(r, &ranges))
            .collect();
        if !nums.is_empty() {
            let r = nums[pick(i, 3, nums.len())].clone();
            let (at, c) = text[r.clone()]
                .char_indices()
                .rfind(|(_, c)| c.is_ascii_digit())
                .map(|(k, c)| (r.start + k, c))
                .unwrap_or((r.start, '0'));
            let d = ((c as u8 - b'0' + 1) % 10 + b'0') as char;
            let (rw, ins) = splice(text, &ranges, at..at + 1, &d.to_string());
            out.push(case(Class::Number, rw, ins));
        }
        // A negation dropped.
        let lower = text.to_lowercase();
        let mut negs: Vec<(Range<usize>, &str)> = Vec::new();
        for w in ["not ", "never ", "no "] {
            for r in find_all(&lower, w) {
                if is_word_boundary(&lower, r.start, r.end - 1) && !inside(&r, &ranges) {
                    negs.push((r, ""));
                }
            }
        }
        for r in find_all(&lower, "n't") {
            let before = &lower[..r.start];
            let with = if before.ends_with("ca") {
                "n"
            } else if before.ends_with("wo") {
                // won't -> will: "wo" + "n't" becomes "will".
                negs.push((r.start - 2..r.end, "will"));
                continue;
            } else {
                ""
            };
            if !inside(&r, &ranges) {
                negs.push((r, with));
            }
        }
        for r in find_all(&lower, "cannot") {
            if !inside(&r, &ranges) {
                negs.push((r.start + 3..r.end, ""));
            }
        }
        negs.sort_by_key(|(r, _)| r.start);
        if !negs.is_empty() {
            let (r, with) = negs[pick(i, 4, negs.len())].clone();
            let (rw, ins) = splice(text, &ranges, r, with);
            out.push(case(Class::Negation, rw, ins));
        }
        // A clause dropped: one with at least three content words, when
        // something else remains.
        let segs = segments(text, false);
        let clauses: Vec<Range<usize>> = segs
            .iter()
            .filter(|r| !inside(r, &ranges) && content_words(&text[(*r).clone()]) >= 3)
            .cloned()
            .collect();
        if segs.len() >= 2 && !clauses.is_empty() {
            let r = clauses[pick(i, 5, clauses.len())].clone();
            let (rw, ins) = splice(text, &ranges, r, "");
            if !rw.trim().is_empty() {
                out.push(case(Class::Clause, rw, ins));
            }
        }
        // A sentence swapped for one of another record.
        if n >= 2 {
            let j = (i + 1 + pick(i, 6, n - 1)) % n;
            let other = &pairs[j];
            let oranges: Vec<Range<usize>> =
                other.inserted.iter().map(|(r, _)| r.clone()).collect();
            let donor = segments(&other.rewrite, true)
                .into_iter()
                .find(|r| !inside(r, &oranges) && content_words(&other.rewrite[r.clone()]) >= 3);
            let targets: Vec<Range<usize>> = segments(text, true)
                .into_iter()
                .filter(|r| !inside(r, &ranges) && content_words(&text[r.clone()]) >= 3)
                .collect();
            if let (Some(d), false) = (donor, targets.is_empty()) {
                let r = targets[pick(i, 7, targets.len())].clone();
                let (rw, ins) = splice(text, &ranges, r, &other.rewrite[d]);
                out.push(case(Class::Unrelated, rw, ins));
            }
        }
    }
    out
}

fn find_all(hay: &str, needle: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        out.push(from + i..from + i + needle.len());
        from += i + needle.len();
    }
    out
}

/// Verify one case.
pub fn verify_case(p: &Pipeline, c: &Case, embed: bool) -> Option<Verdict> {
    let v = p.verifier.as_ref()?;
    Some(v.verify(
        &p.detector,
        &p.policy,
        &Subject {
            original: &c.original,
            rewrite: &c.rewrite,
            identifiers: &c.identifiers,
            inserted: Some(&c.inserted),
        },
        embed,
    ))
}

/// Rejection counts per class and verification cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub class: String,
    pub cases: usize,
    pub rejected: usize,
    /// Reason -> count, over the rejected cases.
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// Mean verification seconds per case.
    pub verify_secs: f64,
}

/// Verify every case; one tally per class (in [`Class::ALL`] order).
pub fn evaluate(p: &Pipeline, cases: &[Case], embed: bool) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = Class::ALL
        .iter()
        .map(|c| Tally {
            class: c.name().to_string(),
            ..Default::default()
        })
        .collect();
    for c in cases {
        let t = Instant::now();
        let Some(v) = verify_case(p, c, embed) else {
            continue;
        };
        let secs = t.elapsed().as_secs_f64();
        let k = Class::ALL.iter().position(|x| *x == c.class).unwrap_or(0);
        let tally = &mut tallies[k];
        tally.cases += 1;
        tally.verify_secs += secs;
        if !v.accept {
            tally.rejected += 1;
            for r in v.reasons {
                *tally.reasons.entry(r).or_insert(0) += 1;
            }
        }
    }
    for t in &mut tallies {
        if t.cases > 0 {
            t.verify_secs /= t.cases as f64;
        }
    }
    tallies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn mutants_are_reproducible_and_of_their_class() {
        let p = Pipeline::with_key(&Config::default(), &[3u8; 32]).unwrap();
        let texts = [
            "Karl Strobel called 555-201-7788 on Monday; he did not pay the 3 invoices, and the total is 1,200 dollars.",
            "Maria Gonzalez lives at 42 Hochstrasse in Zurich. She never answers e-mail, so write to her at maria.gonzalez@example.com instead.",
            "The landlord inspected the flat yesterday, found serious damage in the kitchen, and sent the repair bill to the tenant.",
        ];
        let pairs: Vec<Pair> = texts
            .iter()
            .map(|t| deterministic_pair(&p, t).unwrap())
            .collect();
        let a = cases(&p, &pairs);
        let b = cases(&p, &pairs);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.class, &x.rewrite), (y.class, &y.rewrite));
        }
        for class in [
            Class::Good,
            Class::Restored,
            Class::NearMiss,
            Class::Number,
            Class::Negation,
            Class::Clause,
        ] {
            assert!(a.iter().any(|c| c.class == class), "no {class:?} mutant");
        }
        for c in &a {
            assert!(
                c.inserted
                    .iter()
                    .all(|r| r.end <= c.rewrite.len() && c.rewrite.is_char_boundary(r.start)),
                "{:?}: ranges out of the text",
                c.class
            );
            let good = &pairs[c.source].rewrite;
            match c.class {
                Class::Good => assert_eq!(&c.rewrite, good),
                Class::Negation => assert!(c.rewrite.len() < good.len()),
                Class::Number => assert_eq!(c.rewrite.len(), good.len()),
                _ => assert_ne!(&c.rewrite, good),
            }
        }
    }

    #[test]
    fn near_miss_changes_one_letter_or_digit() {
        let p = Pipeline::with_key(&Config::default(), &[3u8; 32]).unwrap();
        let m = near_miss(&p, "Gonzalez").unwrap();
        assert_eq!(m.len(), "Gonzalez".len());
        assert_eq!(strsim::hamming(&m, "Gonzalez").unwrap(), 1);
        let d = near_miss(&p, "555-201-7788").unwrap();
        assert_eq!(strsim::hamming(&d, "555-201-7788").unwrap(), 1);
        assert_eq!(near_miss(&p, "45"), None);
    }
}
