//! The keyword automaton of the trigger pass, re-encoded to be small.
//!
//! The rules' trigger keywords and context words (about 600, matched
//! ASCII-case-insensitively) are one Aho-Corasick DFA that reads every
//! byte of every text. The `aho-corasick` crate's DFA gives each state a
//! row of `2^k >= alphabet` entries of 4 bytes, and its byte classes keep
//! upper- and lower-case letters apart (its case-insensitive trie has an
//! edge for each): 256-entry rows, 1.9 MB for our keywords. That is about
//! an L2 cache, and the walk's loads missed L1 a third of a miss per
//! byte (callgrind's cache model: the largest source of L1 misses in a
//! scan).
//!
//! [`KeywordDfa`] is the same automaton (same states, same transitions,
//! same matches), with the bytes that no state tells apart merged into
//! one class, found from the transitions themselves (so a case fold, or
//! any byte no keyword holds, merges without being assumed), and rows of
//! exactly that many entries. Special states (dead and matching) are
//! numbered first, so that one compare tells the walk to stop, as in the
//! crate.
use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;

/// Bytes of text, most common first (English letter frequencies after
/// the space): the order of the row entries.
const COMMON: &[u8] = b" etaoinshrdlcumwfgypbvkjxqz.,-'0123456789";

/// A state: its index times the row length, so that a transition is one
/// add and one load.
pub(crate) type Sid = u32;

/// See the module doc.
#[derive(Clone, Debug)]
pub(crate) struct KeywordDfa {
    /// `trans[sid + class[b]]`: the state after reading `b` in `sid`.
    trans: Box<[Sid]>,
    class: [u8; 256],
    stride: usize,
    /// `2^40 / stride` rounded up: a state's index is `sid * inv >> 40`
    /// (exact: a state id is its index times `stride`, and index ×
    /// rounding error stays far below 2^40), where a division cost ~25
    /// cycles at every keyword hit.
    inv: u64,
    start: Sid,
    /// States below this are special: the dead state (0), then the
    /// matching ones.
    special_below: Sid,
    /// Per matching state (by index): its patterns are
    /// `pids[match_at[i]..match_at[i + 1]]`, in the crate's order.
    match_at: Box<[u32]>,
    pids: Box<[u32]>,
    pattern_lens: Box<[u32]>,
    max_pattern_len: usize,
}

impl KeywordDfa {
    /// The compact form of `src`, searched unanchored (the only way the
    /// trigger pass searches). `src` must have no prefilter: with one, the
    /// crate makes its start state special too, which this does not.
    pub(crate) fn new(src: &DFA) -> Result<Self, aho_corasick::MatchError> {
        let start = src.start_state(Anchored::No)?;
        // Index 0 is the dead state; the reachable others follow in
        // breadth-first order. The crate's state ids are offsets into its
        // table, so a vector indexed by them maps them.
        let mut index: Vec<u32> = Vec::new();
        let mut states: Vec<Option<StateID>> = vec![None];
        let mut full: Vec<u32> = Vec::new();
        let mut id_of = |sid: StateID, states: &mut Vec<Option<StateID>>| -> u32 {
            if src.is_dead(sid) {
                return 0;
            }
            let at = sid.as_usize();
            if at >= index.len() {
                index.resize(at + 1, u32::MAX);
            }
            if index[at] == u32::MAX {
                index[at] = states.len() as u32;
                states.push(Some(sid));
            }
            index[at]
        };
        id_of(start, &mut states);
        // The dead state's row: dead on every byte.
        full.extend([0u32; 256]);
        let mut i = 1;
        while i < states.len() {
            let sid = states[i].expect("only index 0 is the dead state");
            for b in 0..=255u8 {
                let next = src.next_state(Anchored::No, sid, b);
                let next = id_of(next, &mut states);
                full.push(next);
            }
            i += 1;
        }
        let n = states.len();
        let (mut class, reps) = alike_bytes(full.chunks_exact(256));
        // Classes numbered by how common their bytes are in text, so that
        // the entries a walk reads most (space, then letters by English
        // frequency) share the first cache line of each row.
        let rank = |b: usize| {
            COMMON
                .iter()
                .position(|&c| usize::from(c) == b || usize::from(c.to_ascii_uppercase()) == b)
                .unwrap_or(COMMON.len() + b)
        };
        let mut by_use: Vec<usize> = (0..reps.len()).collect();
        by_use.sort_by_key(|&c| {
            (0..256)
                .filter(|&b| usize::from(class[b]) == c)
                .map(rank)
                .min()
        });
        let mut renum = vec![0u8; reps.len()];
        for (new, &old) in by_use.iter().enumerate() {
            renum[old] = new as u8;
        }
        let reps: Vec<usize> = by_use.iter().map(|&c| reps[c]).collect();
        for c in class.iter_mut() {
            *c = renum[usize::from(*c)];
        }
        let stride = reps.len();
        // Special states first: dead, then matching, then the rest.
        let matching = |s: usize| states[s].is_some_and(|sid| src.is_match(sid));
        let mut order: Vec<usize> = vec![0];
        order.extend((1..n).filter(|&s| matching(s)));
        let special = order.len();
        order.extend((1..n).filter(|&s| !matching(s)));
        let mut new_of = vec![0u32; n];
        for (pos, &s) in order.iter().enumerate() {
            new_of[s] = u32::try_from(pos * stride).expect("keyword automaton too large");
        }
        let mut trans = Vec::with_capacity(n * stride);
        let mut match_at = vec![0u32];
        let mut pids = Vec::new();
        for &s in &order {
            trans.extend(reps.iter().map(|&r| new_of[full[s * 256 + r] as usize]));
            if let Some(sid) = states[s].filter(|_| matching(s)) {
                for k in 0..src.match_len(sid) {
                    pids.push(src.match_pattern(sid, k).as_u32());
                }
                match_at.push(pids.len() as u32);
            }
        }
        // The dead state matches nothing.
        match_at.insert(0, 0);
        let pattern_lens = (0..src.patterns_len())
            .map(|p| src.pattern_len(aho_corasick::PatternID::new_unchecked(p)) as u32)
            .collect();
        Ok(Self {
            trans: trans.into(),
            class,
            stride,
            inv: (1u64 << 40).div_ceil(stride as u64),
            start: new_of[1],
            special_below: (special * stride) as Sid,
            match_at: match_at.into(),
            pids: pids.into(),
            pattern_lens,
            max_pattern_len: src.max_pattern_len(),
        })
    }

    #[inline(always)]
    pub(crate) fn start(&self) -> Sid {
        self.start
    }

    #[inline(always)]
    pub(crate) fn next(&self, sid: Sid, b: u8) -> Sid {
        self.trans[sid as usize + usize::from(self.class[usize::from(b)])]
    }

    /// Dead or matching: where the walk stops.
    #[inline(always)]
    pub(crate) fn is_special(&self, sid: Sid) -> bool {
        sid < self.special_below
    }

    #[inline(always)]
    pub(crate) fn is_dead(&self, sid: Sid) -> bool {
        sid == 0
    }

    /// The patterns that end where the walk entered `sid`.
    #[inline(always)]
    pub(crate) fn matches(&self, sid: Sid) -> &[u32] {
        let i = ((u64::from(sid) * self.inv) >> 40) as usize;
        debug_assert_eq!(i, sid as usize / self.stride);
        if !self.is_special(sid) {
            return &[];
        }
        &self.pids[self.match_at[i] as usize..self.match_at[i + 1] as usize]
    }

    #[inline(always)]
    pub(crate) fn pattern_len(&self, pid: u32) -> usize {
        self.pattern_lens[pid as usize] as usize
    }

    pub(crate) fn max_pattern_len(&self) -> usize {
        self.max_pattern_len
    }

    /// Bytes the table holds (the crate's DFA: `memory_usage`).
    #[cfg(test)]
    pub(crate) fn memory_usage(&self) -> usize {
        self.trans.len() * size_of::<Sid>() + self.pids.len() * 4 + self.match_at.len() * 4
    }

    /// How many byte classes a row has.
    #[cfg(test)]
    pub(crate) fn alphabet_len(&self) -> usize {
        self.stride
    }
}

/// The bytes that every row maps alike, as classes: each byte's class and
/// each class's first byte. `rows` are tables of 256 entries (by byte);
/// classes are numbered in order of their first byte. A hash of each
/// byte's column first; equal hashes are then compared whole, so the
/// classes are exact.
pub(crate) fn alike_bytes<'a, T: Copy + Eq + Into<u64> + 'a>(
    rows: impl Iterator<Item = &'a [T]> + Clone,
) -> ([u8; 256], Vec<usize>) {
    let mut hash = [0u64; 256];
    for row in rows.clone() {
        for (h, &next) in hash.iter_mut().zip(row) {
            *h = (*h ^ next.into()).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut class = [0u8; 256];
    let mut reps: Vec<usize> = Vec::new();
    for b in 0..256 {
        let same = reps
            .iter()
            .position(|&r| hash[r] == hash[b] && rows.clone().all(|row| row[r] == row[b]));
        class[b] = match same {
            Some(c) => c as u8,
            None => {
                reps.push(b);
                (reps.len() - 1) as u8
            }
        };
    }
    (class, reps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::MatchKind;

    fn both(words: &[&str], kind: MatchKind) -> (DFA, KeywordDfa) {
        let src = DFA::builder()
            .ascii_case_insensitive(true)
            .prefilter(false)
            .match_kind(kind)
            .build(words)
            .unwrap();
        let small = KeywordDfa::new(&src).unwrap();
        (src, small)
    }

    /// Every state and byte: the compact walk is in a state with the same
    /// matches, the same deadness, as the crate's, over random texts of
    /// keyword pieces, case changes and non-ASCII bytes.
    #[test]
    fn compact_walk_equals_the_crate_walk() {
        let words = [
            "ssn",
            "social security",
            "dob",
            "d.o.b",
            "b.",
            "v",
            "at",
            "to",
            "my name ",
            "pa\u{17f}sword",
            "\u{212a}ey",
            "stra\u{df}e",
            "tin",
            "a/c",
            "@a",
            " @",
        ];
        let pool: Vec<&[u8]> = vec![
            b"ssn",
            b"SSN",
            b"Social Security",
            b"d.o.b",
            b"B.",
            b"v",
            b"At",
            b"TO",
            b"x",
            b" ",
            b"my name ",
            "pa\u{17f}sword".as_bytes(),
            "\u{212a}EY".as_bytes(),
            "STRA\u{df}E".as_bytes(),
            b"\xc5",
            b"\xbf",
            b"@A",
            b" @",
            b"9",
        ];
        for kind in [MatchKind::Standard, MatchKind::LeftmostLongest] {
            let (src, small) = both(&words, kind);
            assert!(small.memory_usage() < src.memory_usage());
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..3000 {
                let mut text = Vec::new();
                for _ in 0..(x % 20) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    text.extend_from_slice(pool[(x % pool.len() as u64) as usize]);
                }
                let mut a = src.start_state(Anchored::No).unwrap();
                let mut b = small.start();
                for &byte in &text {
                    a = src.next_state(Anchored::No, a, byte);
                    b = small.next(b, byte);
                    assert_eq!(src.is_dead(a), small.is_dead(b), "{text:?}");
                    assert_eq!(src.is_match(a), !small.matches(b).is_empty(), "{text:?}");
                    assert_eq!(src.is_match(a) || src.is_dead(a), small.is_special(b));
                    let n = if src.is_match(a) { src.match_len(a) } else { 0 };
                    let want: Vec<u32> = (0..n).map(|k| src.match_pattern(a, k).as_u32()).collect();
                    assert_eq!(small.matches(b), &want[..], "{text:?}");
                    if src.is_dead(a) {
                        break;
                    }
                }
            }
            for (p, w) in words.iter().enumerate() {
                assert_eq!(small.pattern_len(p as u32), w.len());
            }
            assert_eq!(small.max_pattern_len(), src.max_pattern_len());
        }
    }

    /// Upper- and lower-case letters of the keywords share a class, and
    /// bytes in no keyword share one: rows are much shorter than 256.
    #[test]
    fn case_and_unused_bytes_merge() {
        let (_, small) = both(&["abc", "xyz"], MatchKind::Standard);
        // a/A, b/B, c/C, x/X, y/Y, z/Z, everything else.
        assert_eq!(small.alphabet_len(), 7);
    }
}
