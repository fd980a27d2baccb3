//! Indexes the verifier builds once per record, so that its checks cost
//! about the text's length instead of (identifiers × text length).
//!
//! The leak checks ask the same questions of the output for every
//! identifier: where does this value occur, which digit runs contain these
//! digits, which word groups are this code with one character changed, is
//! this range inside a planned surrogate. Asked one identifier at a time,
//! each question scans the whole output, and a long record with many
//! identifiers (a 1 MB record with 60 000 of them) took minutes. Here every
//! question is answered for all identifiers at once: one Aho-Corasick pass
//! for the values and the digit runs, a hash of each string with one
//! position left out for the one-character-off matches, sorted ranges for
//! the overlap tests. Every answer is the one the per-identifier scan gives
//! (the tests beside each index compare both on random inputs); the scans
//! stay in use for small records, where building an index costs more than
//! it saves.

use crate::detect::is_word_boundary;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
use std::ops::Range;

/// How many occurrences of a needle a text has on word boundaries, and the
/// last of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Hits {
    pub count: usize,
    pub last: Option<Range<usize>>,
}

/// Every occurrence of `needle` in `hay` on word boundaries (overlapping
/// occurrences included: each start position is tried).
pub(super) fn find_bounded(hay: &str, needle: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if needle.is_empty() {
        return out;
    }
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let s = from + i;
        let e = s + needle.len();
        if is_word_boundary(hay, s, e) {
            out.push(s..e);
        }
        from = s + hay[s..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// A multi-pattern automaton over `needles`, or None when there is nothing
/// to search for or the automaton cannot be built (the caller then scans
/// needle by needle).
pub(super) fn automaton(needles: &[&str]) -> Option<AhoCorasick> {
    if needles.is_empty() {
        return None;
    }
    // The plain NFA: the automaton serves one or two scans of one record,
    // and building a DFA or a contiguous NFA from it costs more than those
    // scans save (tab-dev under callgrind: 1.46G instructions with the
    // contiguous NFA, 1.42G with this one).
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::NoncontiguousNFA))
        .build(needles)
        .ok()
}

/// [`Hits`] of every needle in `hay`: one pass instead of one scan per
/// needle. Same answer as [`find_bounded`] per needle: a UTF-8 needle can
/// only match at a character boundary, so the automaton's overlapping
/// matches are exactly the start positions `find_bounded` tries.
#[cfg(test)]
pub(super) fn hits_all(hay: &str, needles: &[&str]) -> Vec<Hits> {
    let [hits] = hits_all_in([hay], needles);
    hits
}

/// [`hits_all`] of the same needles in each of `hays`, with one automaton:
/// the verifier looks its identifiers up in the output and in the
/// original's other text, and building the automaton twice was a
/// seventh of what the automata cost a rewrite of tab-dev.
pub(super) fn hits_all_in<const N: usize>(hays: [&str; N], needles: &[&str]) -> [Vec<Hits>; N] {
    let ac = automaton(needles);
    hays.map(|hay| {
        let mut out = vec![Hits::default(); needles.len()];
        let Some(ac) = &ac else {
            for (h, n) in out.iter_mut().zip(needles) {
                let found = find_bounded(hay, n);
                h.count = found.len();
                h.last = found.last().cloned();
            }
            return out;
        };
        for m in ac.find_overlapping_iter(hay) {
            let (s, e) = (m.start(), m.end());
            if s == e || !is_word_boundary(hay, s, e) {
                continue;
            }
            let h = &mut out[m.pattern().as_usize()];
            h.count += 1;
            // Matches come in order of their end; one needle's ends and
            // starts rise together, so the latest is the last.
            h.last = Some(s..e);
        }
        out
    })
}

/// For each needle, the indexes of the `runs` that contain it, ascending
/// (each run once).
pub(super) fn containing_runs(runs: &[&str], needles: &[&str]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); needles.len()];
    let Some(ac) = automaton(needles) else {
        return out;
    };
    for (r, run) in runs.iter().enumerate() {
        for m in ac.find_overlapping_iter(*run) {
            let list: &mut Vec<usize> = &mut out[m.pattern().as_usize()];
            if list.last() != Some(&r) {
                list.push(r);
            }
        }
    }
    out
}

/// The smallest character case-insensitively equal to `c` under simple
/// case folding, the equality `regex`'s `(?i)` uses for a literal: each
/// character of it matches exactly the characters of its folding class
/// ("k" matches "K" and the Kelvin sign), and two characters are in one
/// class exactly when their smallest members are equal (a test checks it
/// for every character).
fn fold_min(c: char, cache: &mut HashMap<char, char>) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    *cache.entry(c).or_insert_with(|| {
        let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
        class.case_fold_simple();
        class.ranges().first().map_or(c, |r| r.start())
    })
}

/// For each needle, its matches in `text` as `Regex::find_iter` of the
/// case-insensitive escaped needle gives them (leftmost, non-overlapping),
/// for all needles in one pass: the text and the needles with every
/// character replaced by [`fold_min`], searched with one automaton, and the
/// matches mapped back. One regex scan of the text per needle made the
/// verifier's repair (which looks for every leaking string again) grow
/// with leaks × length.
/// None when the text is too long for the offsets kept (4 GiB).
pub(crate) fn find_iter_case_insensitive(
    text: &str,
    needles: &[&str],
) -> Option<Vec<Vec<Range<usize>>>> {
    u32::try_from(text.len()).ok()?;
    let mut out = vec![Vec::new(); needles.len()];
    let mut cache = HashMap::new();
    let fold = |s: &str, cache: &mut HashMap<char, char>| -> String {
        s.chars().map(|c| fold_min(c, cache)).collect()
    };
    let folded: Vec<String> = needles.iter().map(|n| fold(n, &mut cache)).collect();
    let refs: Vec<&str> = folded.iter().map(String::as_str).collect();
    let Some(ac) = automaton(&refs) else {
        return Some(out);
    };
    // The folded text, and for each of its bytes the text's offset of the
    // character it came from (a folded character can be shorter: the
    // Kelvin sign is three bytes, "K" one).
    let mut ftext = String::with_capacity(text.len());
    let mut at: Vec<u32> = Vec::with_capacity(text.len() + 1);
    let mut buf = [0u8; 4];
    for (i, c) in text.char_indices() {
        let f = fold_min(c, &mut cache).encode_utf8(&mut buf);
        ftext.push_str(f);
        at.extend(std::iter::repeat_n(i as u32, f.len()));
    }
    at.push(text.len() as u32);
    for m in ac.find_overlapping_iter(&ftext) {
        let list = &mut out[m.pattern().as_usize()];
        let (s, e) = (at[m.start()] as usize, at[m.end()] as usize);
        // Leftmost first, then the next one starting at or after its end.
        if s < e && list.last().is_none_or(|r: &Range<usize>| r.end <= s) {
            list.push(s..e);
        }
    }
    Some(out)
}

const MOD: u64 = (1 << 61) - 1;

fn mul_mod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let s = (p as u64 & MOD) + (p >> 61) as u64;
    let s = (s & MOD) + (s >> 61);
    if s >= MOD { s - MOD } else { s }
}

fn add_mod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= MOD { s - MOD } else { s }
}

fn sub_mod(a: u64, b: u64) -> u64 {
    if a >= b { a - b } else { a + MOD - b }
}

/// Finds, among fixed strings ("codes"), those that differ from a probe of
/// the same length in exactly one character: the Hamming distance test the
/// leak checks ran against every word group and digit run of the output,
/// per identifier. Each code is indexed under a hash of itself with one
/// position left out, once per position; a probe looks up its own hashes,
/// and a code one character off shares exactly one of them (the position
/// where they differ). Hash collisions cost a comparison, never a wrong
/// answer: every candidate is compared character by character. The hash
/// base is random per index, so no input can be built to collide.
///
/// Probes are substrings of one long sequence (the output's words run
/// together), hashed once as prefixes ([`Prefix`]), so a probe's hash costs
/// O(1); and since a code one character off a probe has the probe's first
/// half or its second half exactly, a probe that shares neither half with
/// any code is dismissed in O(1) too.
pub(super) struct OneOff {
    codes: Vec<Vec<char>>,
    /// (key of a code with one position left out, code), sorted: one
    /// allocation instead of a list per key.
    keys: Vec<(u64, u32)>,
    /// Salted hashes of every code's first half and of its second half.
    halves: HashSet<u64>,
    pow: Vec<u64>,
    lens: Vec<bool>,
    base: u64,
}

/// Prefix hashes of a sequence, under one [`OneOff`]'s base.
pub(super) struct Prefix<'c> {
    chars: &'c [char],
    pre: Vec<u64>,
}

impl OneOff {
    pub fn new(codes: Vec<Vec<char>>) -> Self {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one("one-off");
        // Any base in 2^16..MOD; a small one would make short strings of
        // small code points collide more often.
        let base = (1 << 16) + seed % (MOD - (1 << 16));
        let max = codes.iter().map(Vec::len).max().unwrap_or(0);
        let mut pow = vec![1u64; max + 1];
        for i in 1..pow.len() {
            pow[i] = mul_mod(pow[i - 1], base);
        }
        let mut lens = vec![false; max + 1];
        let mut keys = Vec::with_capacity(codes.iter().map(Vec::len).sum());
        let mut halves = HashSet::with_capacity(2 * codes.len());
        let mut index = Self {
            codes: Vec::new(),
            keys: Vec::new(),
            halves: HashSet::new(),
            pow,
            lens: Vec::new(),
            base,
        };
        for (c, code) in codes.iter().enumerate() {
            let n = code.len();
            lens[n] = true;
            let p = index.prefix(code);
            let h = p.hash(&index.pow, 0..n);
            let (first, second) = index.halves_of(&p, 0..n);
            halves.insert(first);
            halves.insert(second);
            for (i, &ch) in code.iter().enumerate() {
                keys.push((key(&index.pow, h, n, i, ch), c as u32));
            }
        }
        keys.sort_unstable();
        index.codes = codes;
        index.keys = keys;
        index.halves = halves;
        index.lens = lens;
        index
    }

    /// Whether some code has `n` characters.
    pub fn has_len(&self, n: usize) -> bool {
        self.lens.get(n).copied().unwrap_or(false)
    }

    /// `chars` hashed for [`OneOff::find_at`].
    pub fn prefix<'c>(&self, chars: &'c [char]) -> Prefix<'c> {
        let mut pre = Vec::with_capacity(chars.len() + 1);
        pre.push(0);
        let mut h = 0;
        for &c in chars {
            h = add_mod(mul_mod(h, self.base), value(c));
            pre.push(h);
        }
        Prefix { chars, pre }
    }

    /// Salted hashes of the first half (the longer one) and the second
    /// half of `p.chars[r]`.
    fn halves_of(&self, p: &Prefix<'_>, r: Range<usize>) -> (u64, u64) {
        let n = r.len();
        let mid = r.start + n.div_ceil(2);
        let salt =
            |h: u64, part: u64| h ^ ((n as u64) << 1 | part).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (
            salt(p.hash(&self.pow, r.start..mid), 0),
            salt(p.hash(&self.pow, mid..r.end), 1),
        )
    }

    /// Indexes of the codes exactly one character off `probe`, ascending.
    pub fn find(&self, probe: &[char], out: &mut Vec<usize>) {
        let p = self.prefix(probe);
        self.find_at(&p, 0..probe.len(), out);
    }

    /// Indexes of the codes exactly one character off `p.chars[r]`,
    /// ascending.
    pub fn find_at(&self, p: &Prefix<'_>, r: Range<usize>, out: &mut Vec<usize>) {
        out.clear();
        let n = r.len();
        if !self.has_len(n) {
            return;
        }
        let (first, second) = self.halves_of(p, r.clone());
        if !self.halves.contains(&first) && !self.halves.contains(&second) {
            return;
        }
        let probe = &p.chars[r.clone()];
        let h = p.hash(&self.pow, r);
        for (i, &ch) in probe.iter().enumerate() {
            let k = key(&self.pow, h, n, i, ch);
            let from = self.keys.partition_point(|e| e.0 < k);
            for &(_, c) in self.keys[from..].iter().take_while(|e| e.0 == k) {
                let code = &self.codes[c as usize];
                if code.len() == n
                    && code[i] != ch
                    && code.iter().zip(probe).filter(|(a, b)| a != b).count() == 1
                {
                    out.push(c as usize);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

impl Prefix<'_> {
    /// Hash of `chars[r]` (`r` at most as long as the longest code).
    fn hash(&self, pow: &[u64], r: Range<usize>) -> u64 {
        sub_mod(self.pre[r.end], mul_mod(self.pre[r.start], pow[r.len()]))
    }
}

fn value(c: char) -> u64 {
    u64::from(c) + 1
}

/// The key of a string (hash `h`, `len` chars) with position `i` (holding
/// `c`) left out, salted with the length and the position.
fn key(pow: &[u64], h: u64, len: usize, i: usize, c: char) -> u64 {
    let without = sub_mod(h, mul_mod(value(c), pow[len - 1 - i]));
    let salt = ((len as u64) << 32 | i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    without ^ salt
}

/// "Seen before?" over few or many keys: a small array while short
/// (nothing to hash or allocate on a short record, where a check sees a
/// handful of keys), a hash set from then on.
pub(super) struct FirstTime<T> {
    short: [Option<T>; 8],
    len: usize,
    long: Option<HashSet<T>>,
}

impl<T: Copy> Default for FirstTime<T> {
    fn default() -> Self {
        Self {
            short: [None; 8],
            len: 0,
            long: None,
        }
    }
}

impl<T: Copy + std::hash::Hash + Eq> FirstTime<T> {
    /// True the first time `x` is inserted.
    pub fn insert(&mut self, x: T) -> bool {
        if let Some(long) = &mut self.long {
            return long.insert(x);
        }
        if self.short[..self.len].contains(&Some(x)) {
            return false;
        }
        if self.len < self.short.len() {
            self.short[self.len] = Some(x);
            self.len += 1;
        } else {
            let mut long: HashSet<T> = self.short.iter().flatten().copied().collect();
            long.insert(x);
            self.long = Some(long);
        }
        true
    }
}

/// Overlap tests of ranges against a fixed set of ranges (sorted or not,
/// possibly overlapping or empty): the starts sorted, with the largest end
/// seen so far, so one binary search answers "does any range overlap
/// `start..end`" — the test `ranges.iter().any(|r| r.start < end && start <
/// r.end)` made once per detected span.
pub(crate) struct Overlaps {
    starts: Vec<usize>,
    max_end: Vec<usize>,
}

impl Overlaps {
    pub fn new(ranges: &[Range<usize>]) -> Self {
        let mut rs: Vec<(usize, usize)> = ranges.iter().map(|r| (r.start, r.end)).collect();
        rs.sort_unstable();
        let mut max_end = Vec::with_capacity(rs.len());
        let mut m = 0;
        for &(_, e) in &rs {
            m = m.max(e);
            max_end.push(m);
        }
        Self {
            starts: rs.into_iter().map(|r| r.0).collect(),
            max_end,
        }
    }

    /// Whether some range `r` has `r.start < end && start < r.end`.
    pub fn any(&self, start: usize, end: usize) -> bool {
        let k = self.starts.partition_point(|&s| s < end);
        k > 0 && self.max_end[k - 1] > start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hay() -> impl Strategy<Value = String> {
        // Few distinct characters, so that needles occur, overlap and sit
        // on and off word boundaries; a multi-byte letter and separators.
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("ab"),
                Just(" "),
                Just("-"),
                Just("é"),
                Just("1"),
                Just("\u{1}"),
            ],
            0..40,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn hits_all_is_find_bounded_per_needle(h in hay(), ns in proptest::collection::vec(hay(), 0..6)) {
            let needles: Vec<&str> = ns.iter().map(String::as_str).filter(|n| !n.is_empty()).collect();
            let got = hits_all(&h, &needles);
            for (n, g) in needles.iter().zip(&got) {
                let want = find_bounded(&h, n);
                prop_assert_eq!(g.count, want.len(), "{:?} in {:?}", n, h);
                prop_assert_eq!(&g.last, &want.last().cloned());
            }
            // Two texts, one automaton: each as it is alone.
            let reversed: String = h.chars().rev().collect();
            let [a, b] = hits_all_in([&h, &reversed], &needles);
            let alone = hits_all(&reversed, &needles);
            for k in 0..needles.len() {
                prop_assert_eq!((a[k].count, &a[k].last), (got[k].count, &got[k].last));
                prop_assert_eq!((b[k].count, &b[k].last), (alone[k].count, &alone[k].last));
            }
        }

        #[test]
        fn containing_runs_is_contains_per_run(
            runs in proptest::collection::vec("[0-9]{0,12}", 0..10),
            ns in proptest::collection::vec("[0-9]{1,4}", 0..6),
        ) {
            let r: Vec<&str> = runs.iter().map(String::as_str).collect();
            let n: Vec<&str> = ns.iter().map(String::as_str).collect();
            let got = containing_runs(&r, &n);
            for (needle, g) in n.iter().zip(&got) {
                let want: Vec<usize> = (0..r.len()).filter(|&i| r[i].contains(needle)).collect();
                prop_assert_eq!(g, &want);
            }
        }

        #[test]
        fn one_off_is_hamming_one(
            codes in proptest::collection::vec("[01é]{1,6}", 0..12),
            probes in proptest::collection::vec("[01é]{1,6}", 0..12),
        ) {
            let cs: Vec<Vec<char>> = codes.iter().map(|c| c.chars().collect()).collect();
            let idx = OneOff::new(cs.clone());
            let mut got = Vec::new();
            for p in &probes {
                let p: Vec<char> = p.chars().collect();
                idx.find(&p, &mut got);
                let want: Vec<usize> = (0..cs.len())
                    .filter(|&c| cs[c].len() == p.len()
                        && cs[c].iter().zip(&p).filter(|(a, b)| a != b).count() == 1)
                    .collect();
                prop_assert_eq!(&got, &want);
            }
        }

        #[test]
        fn overlaps_is_any(
            rs in proptest::collection::vec((0usize..30, 0usize..8), 0..12),
            qs in proptest::collection::vec((0usize..30, 0usize..8), 1..12),
        ) {
            let ranges: Vec<Range<usize>> = rs.iter().map(|&(s, l)| s..s + l).collect();
            let o = Overlaps::new(&ranges);
            for &(s, l) in &qs {
                let e = s + l;
                let want = ranges.iter().any(|r| r.start < e && s < r.end);
                prop_assert_eq!(o.any(s, e), want, "{}..{} in {:?}", s, e, ranges);
            }
        }
    }

    #[test]
    fn folding_classes_partition_all_characters() {
        // fold_min stands for the class: every member of a character's
        // class has the same smallest member, and ASCII takes the short
        // path.
        let mut cache = HashMap::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            let min = class.ranges()[0].start();
            assert_eq!(fold_min(c, &mut cache), min, "{c:?}");
            for r in class.ranges() {
                for d in r.start()..=r.end() {
                    let mut other = ClassUnicode::new([ClassUnicodeRange::new(d, d)]);
                    other.case_fold_simple();
                    assert_eq!(other.ranges()[0].start(), min, "{c:?} ~ {d:?}");
                }
            }
        }
    }

    fn regex_find_iter(text: &str, needle: &str) -> Vec<Range<usize>> {
        regex::RegexBuilder::new(&regex::escape(needle))
            .case_insensitive(true)
            .build()
            .unwrap()
            .find_iter(text)
            .map(|m| m.range())
            .collect()
    }

    fn cased() -> impl Strategy<Value = String> {
        // Characters whose case classes are unusual: the Kelvin sign and
        // long s fold to ASCII, final and capital sigma, dotted and dotless
        // i, ß (no simple fold to "ss"), Cyrillic.
        proptest::collection::vec(
            prop_oneof![
                Just("k"),
                Just("K"),
                Just("\u{212A}"),
                Just("s"),
                Just("\u{17F}"),
                Just("σ"),
                Just("ς"),
                Just("Σ"),
                Just("i"),
                Just("İ"),
                Just("ı"),
                Just("ß"),
                Just("ẞ"),
                Just("Ж"),
                Just("ж"),
                Just(" "),
                Just("ks"),
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn case_insensitive_matches_are_regex_find_iter(
            text in cased(),
            ns in proptest::collection::vec(cased(), 0..5),
        ) {
            let needles: Vec<&str> = ns.iter().map(String::as_str).filter(|n| !n.is_empty()).collect();
            let got = find_iter_case_insensitive(&text, &needles).unwrap();
            for (n, g) in needles.iter().zip(&got) {
                prop_assert_eq!(g, &regex_find_iter(&text, n), "{:?} in {:?}", n, text);
            }
        }
    }

    proptest! {
        #[test]
        fn first_time_is_a_set(xs in proptest::collection::vec(0u8..40, 0..100)) {
            let mut f = FirstTime::default();
            let mut seen = HashSet::new();
            for x in xs {
                prop_assert_eq!(f.insert(x), seen.insert(x));
            }
        }
    }

    #[test]
    fn one_off_survives_many_codes_sharing_a_prefix() {
        // Phone numbers of one exchange share all but their last digits:
        // each probe must find exactly its neighbours, not scan them all.
        let codes: Vec<Vec<char>> = (0..2000)
            .map(|i| format!("415555{i:04}").chars().collect())
            .collect();
        let idx = OneOff::new(codes.clone());
        let mut got = Vec::new();
        idx.find(&"4155551234".chars().collect::<Vec<_>>(), &mut got);
        let want: Vec<usize> = (0..codes.len())
            .filter(|&c| {
                codes[c]
                    .iter()
                    .zip("4155551234".chars())
                    .filter(|(a, b)| **a != *b)
                    .count()
                    == 1
            })
            .collect();
        assert_eq!(got, want);
        assert!(!got.is_empty());
    }
}
