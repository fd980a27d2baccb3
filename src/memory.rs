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
//! - for a person, each word of the name ("Whitlock"), but not titles or
//!   words of fewer than three letters;
//! - for an address, each of its lines (between commas or line breaks)
//!   that holds a digit ("97 Guildry Street", "CA 92507") and each number
//!   in it of at least [`MIN_DIGITS`] digits (the ZIP code).
//!
//! A value that is one ordinary word ("Mark" of "Mark Ford", a town called
//! "Bath") is found only where it is written as a name: capitalised, and
//! not the first word of a sentence ("noted Mark, thanks", not "mark the
//! date" or "Mark the date"). Weak values are not remembered at all: fewer
//! than three characters, or a number of fewer than [`MIN_DIGITS`] digits
//! (an age "42" found by its context is not every 42 of the document). The
//! verifier judges such needles by counting them; the memory has no count
//! to compare with.
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

/// Entries a memory holds by default: far more than the identifiers of any
/// one chat or letter, and a few hundred kilobytes at most.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Honorifics do not identify: "Dr" of "Dr Ravindran" is not remembered.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "herr", "frau", "jr",
    "sr", "phd", "md",
];

#[derive(Debug, Clone)]
struct Entry {
    /// The value folded ([`fold`]), starting and ending with a letter or
    /// digit.
    needle: String,
    /// An ordinary word ("Mark", "Warren", "Bath"): found only capitalised
    /// and not opening a sentence, where it is a name and not the word.
    cased: bool,
    entity: Name,
    score: f32,
}

/// The identifiers of a document so far (see the module docs).
#[derive(Debug, Clone)]
pub struct Memory {
    entries: Vec<Entry>,
    /// Folded needle -> its entry (each needle is remembered once; the
    /// first type given to it stays).
    needles: HashMap<String, u32>,
    /// Folded first word of a needle -> the entries starting with it.
    by_word: HashMap<String, Vec<u32>>,
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
            self.learn_value(g, value, s.entity, s.score);
            if &*s.entity == "ADDRESS" {
                // The lines of an address that hold a number (the street,
                // the postcode line) come back alone, and a postcode by
                // itself; the town and the country alone identify little.
                for part in value.split([',', ';', '\n']) {
                    if part.len() < value.len() && part.chars().any(|c| c.is_ascii_digit()) {
                        self.learn_value(g, part, s.entity, s.score);
                    }
                }
                for w in words(value) {
                    if w.len() < value.len()
                        && w.len() >= MIN_DIGITS
                        && w.bytes().all(|b| b.is_ascii_digit())
                    {
                        self.learn_value(g, w, s.entity, s.score);
                    }
                }
            }
            if &*s.entity == "PERSON" {
                for w in words(value) {
                    let lower = w.to_lowercase();
                    if w.chars().count() >= 3
                        && w.chars().all(char::is_alphabetic)
                        && !TITLES.contains(&lower.as_str())
                    {
                        self.insert(lower, None, g.is_common(w), s.entity, s.score);
                    }
                }
            }
        }
    }

    fn learn_value(&mut self, g: &Gazetteers, value: &str, entity: Name, score: f32) {
        let trimmed = value.trim_matches(|c: char| !c.is_alphanumeric());
        if trimmed.chars().count() < 3 {
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
        let cased = matches!((single.next(), single.next()), (Some(w), None)
            if w.len() == trimmed.len() && g.is_common(w));
        let digits = (number && digits.len() >= MIN_DIGITS).then_some(digits);
        self.insert(fold(trimmed), digits, cased, entity, score);
    }

    fn insert(
        &mut self,
        needle: String,
        digits: Option<String>,
        cased: bool,
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
        let first = words(&needle).next().unwrap_or(&needle).to_string();
        self.by_word.entry(first).or_default().push(id);
        if let Some(d) = digits {
            self.by_digits.entry(d).or_insert(id);
        }
        self.needles.insert(needle.clone(), id);
        self.entries.push(Entry {
            needle,
            cased,
            entity,
            score,
        });
    }

    /// Past capacity: keep the newer half (a later part refers to recent
    /// identifiers more often than to old ones) and re-index it.
    fn forget_oldest_half(&mut self) {
        let kept: Vec<Entry> = self.entries.split_off(self.entries.len() / 2);
        let digits: HashMap<u32, String> = self.by_digits.drain().map(|(d, id)| (id, d)).collect();
        let old = std::mem::take(&mut self.entries);
        let offset = old.len() as u32;
        self.needles.clear();
        self.by_word.clear();
        for (i, e) in kept.into_iter().enumerate() {
            let d = digits.get(&(i as u32 + offset)).cloned();
            self.insert(e.needle, d, e.cased, e.entity, e.score);
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
        let mut key = String::new();
        let mut skip_to = 0;
        // What the whole values covered: a number found there is not
        // found again by its digits.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for (ws, w) in word_indices(text) {
            if ws < skip_to {
                continue;
            }
            key.clear();
            key.extend(w.chars().flat_map(char::to_lowercase));
            let Some(ids) = self.by_word.get(key.as_str()) else {
                continue;
            };
            // The longest remembered value that starts here.
            let best = ids
                .iter()
                .filter_map(|&id| {
                    let e = &self.entries[id as usize];
                    if e.cased && !name_like_at(text, ws) {
                        return None;
                    }
                    matches_at(text, ws, &e.needle).map(|end| (end, e))
                })
                .max_by_key(|&(end, _)| end);
            if let Some((end, e)) = best {
                push(ws, end, e);
                covered.push((ws, end));
                skip_to = end;
            }
        }
        if !self.by_digits.is_empty() {
            for (r, digits) in crate::verify::digit_runs(text) {
                if digits.len() >= MIN_DIGITS
                    && !covered.iter().any(|&(s, e)| s < r.end && r.start < e)
                    && let Some(&id) = self.by_digits.get(&digits)
                {
                    push(r.start, r.end, &self.entries[id as usize]);
                }
            }
        }
    }
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

/// Whether the word at `at` is written as a name: capitalised, and not
/// the first word of a sentence (after the start of the text, a line
/// break or ". ! ?", and any quotes or brackets), where any word is.
fn name_like_at(text: &str, at: usize) -> bool {
    if !text[at..].chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    let before = text[..at]
        .chars()
        .rev()
        .find(|&c| !(c == ' ' || c == '\t' || "\"'“‘(*-•".contains(c)));
    !matches!(before, None | Some('.' | '!' | '?' | '\n' | '\r'))
}

/// The maximal runs of letters and digits of `s`.
fn words(s: &str) -> impl Iterator<Item = &str> {
    word_indices(s).map(|(_, w)| w)
}

/// [`words`] with their byte offsets.
fn word_indices(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = s.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = rest.peek() {
            if c.is_alphanumeric() {
                break;
            }
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &s[start..end]))
    })
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
}
