//! Where a rule pattern can start, derived from the parsed pattern so rule
//! authors never write trigger metadata.
//!
//! Scanning the whole text with every pattern (or with one big set of them)
//! was the bulk of rules-only scan time: the union automaton of ~80 patterns
//! is large and its lazy-DFA cache churns. Most patterns, though, can only
//! start at a few places: a number (`\b\d{3}-\d{2}-\d{4}`) at the first
//! digit of a token, a keyword rule (`(?i)\bpassport...`) where its keyword
//! is. Those places are found in one cheap pass and the pattern runs
//! *anchored* there only. A pattern whose starts cannot be derived this way
//! keeps scanning the text (user packs included), so every pack still works.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// How the starts of a pattern's matches are found.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A match starts only on a byte of `any` (anywhere) or of `bound`
    /// (only where an ASCII word boundary holds: the pattern's `\b` comes
    /// first on that path). Neither holds an ASCII letter: the places are
    /// digits, `+`, `(`..., rare in prose.
    Bytes {
        any: Box<[bool; 256]>,
        bound: Box<[bool; 256]>,
    },
    /// A match starts with one of `lits`; `fold`: compare ASCII
    /// case-insensitively (the literals are then lower-cased, a superset of
    /// the exact starts); `boundary`: the pattern opens with `\b`.
    Literals {
        lits: Vec<Vec<u8>>,
        fold: bool,
        boundary: bool,
    },
    /// Every match holds a byte of `at` (no ASCII letter or space: `@`,
    /// `:`, a digit...) between `lo` and `hi` bytes after its start, and
    /// starts on a byte of `any` / `bound` (as for `Bytes`, letters
    /// allowed): the places are the few starts just before each such byte.
    Inner {
        at: Box<[bool; 256]>,
        lo: usize,
        hi: usize,
        any: Box<[bool; 256]>,
        bound: Box<[bool; 256]>,
        /// Every byte the part of a match before that byte can hold (as
        /// `add_all` marks them): a start is only a place when all the
        /// bytes from it to the trigger byte are of these ("a 5" is no
        /// IBAN start, a word three spaces before an `@` no e-mail's).
        between: Box<[bool; 256]>,
    },
    /// Every match holds one of `lits` (compared as for `Literals`), and
    /// the part of the match before it is made of `class` bytes only and
    /// ends on a byte of `last` (or is empty, when `empty_ok`). The places
    /// are the starts allowed by `any` / `bound` in the run of `class`
    /// bytes just before each hit: "Main Street", "Acme Holdings Ltd",
    /// "Hauptstraße 5" are found from their suffix word, however long the
    /// words before it.
    Before {
        lits: Vec<Vec<u8>>,
        fold: bool,
        class: Box<[bool; 256]>,
        last: Box<[bool; 256]>,
        empty_ok: bool,
        any: Box<[bool; 256]>,
        bound: Box<[bool; 256]>,
        /// When the keyword part is a choice of words that must end at a
        /// word boundary (`(?:Street|St|Court)\b`): those words, sorted
        /// (folded as `lits`). A hit is then only a place where one of
        /// them stands whole, not glued to a letter ("St" in "State",
        /// "Co" in "Court"): the keywords are cut to a few bytes, so on
        /// their own they fire inside every longer word that starts the
        /// same.
        words: Option<Vec<Vec<u8>>>,
    },
    /// Starts cannot be narrowed cheaply: search the whole text.
    Scan,
}

/// Farthest an inner trigger byte may lie from the match start.
const MAX_PRE: usize = 256;

/// Most literals a pattern may hand to the shared keyword automaton.
const MAX_LITERALS: usize = 64;

/// Derive the trigger of a pattern from its parsed form. `hir` must be the
/// pattern exactly as compiled.
pub fn derive(hir: &Hir) -> Trigger {
    // A pattern that can match the empty string has no "start" to find;
    // its matches (and the empty ones the iterator steps over) are left to
    // the plain search.
    if hir.properties().minimum_len().is_none_or(|n| n == 0) {
        return Trigger::Scan;
    }
    // Keywords first: where a pattern opens with a literal of two bytes
    // or more, its places are rarer than any byte class.
    if let Some((fold, lits)) = prefix_literals(hir, 2) {
        return Trigger::Literals {
            lits,
            fold,
            boundary: starts_with_boundary(hir),
        };
    }
    let mut any = [false; 256];
    let mut bound = [false; 256];
    let nullable = add_first(hir, false, &mut any, &mut bound);
    let letter =
        (0..=255u8).any(|b| (any[b as usize] || bound[b as usize]) && b.is_ascii_alphabetic());
    if !nullable && !letter {
        return Trigger::Bytes {
            any: Box::new(any),
            bound: Box::new(bound),
        };
    }
    if !nullable && let Some((at, lo, hi, between)) = find_inner(hir) {
        return Trigger::Inner {
            at,
            lo,
            hi,
            any: Box::new(any),
            bound: Box::new(bound),
            between: Box::new(between),
        };
    }
    if !nullable && let Some(t) = find_before(hir, any, bound) {
        return t;
    }
    Trigger::Scan
}

/// The prefix literals of `hir`, with the limits both the keywords and
/// their whole words are read with. Generous: `(?i)` keywords expand into
/// every case variant (and `s` into `ſ`, `k` into the Kelvin sign) before
/// they fold back into a few lower-case ones.
fn prefix_seq(hir: &Hir) -> Seq {
    Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_class(64)
        .limit_total(20_000)
        .extract(hir)
}

/// The literals every match of `hir` starts with, as the keyword
/// automaton takes them: `(fold, literals)`, each of two bytes or more,
/// and of `min_fold` bytes or more when folded.
fn prefix_literals(hir: &Hir, min_fold: usize) -> Option<(bool, Vec<Vec<u8>>)> {
    let seq = prefix_seq(hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < 2) {
        return None;
    }
    let longest = lits.iter().map(|l| l.as_bytes().len()).max().unwrap_or(2);
    // Cut to eight bytes where the pattern allows (shorter only if that
    // is still too many): the case and `\s` variants of one keyword
    // collapse, and a whole keyword word is rarer than its first bytes.
    // Cut to four, "appl" of "application no." fired on every
    // "applicant" of a court judgment, each a failed anchored walk
    // (tab-dev: +5.6 % instructions; at eight, +1.2 %, and presidio-dev
    // 1.7 % fewer). Exact when that is no more literals than folding.
    //
    //
    // A case-insensitive keyword extracts to thousands of literals (every
    // case variant), and this tries up to fourteen cuts of them. Each cut
    // is made of borrowed slices of two lists sorted once (cutting keeps
    // the order), so it is deduplicated in one pass and nothing is copied
    // before the winner. Copying every cut and finding collapsed siblings
    // in a list made start-up 3.32 G instructions; this, 2.84 G.
    let mut exact: Vec<&[u8]> = lits.iter().map(|l| l.as_bytes()).collect();
    exact.sort_unstable();
    let mut lowered: Vec<Vec<u8>> = exact.iter().map(|b| b.to_ascii_lowercase()).collect();
    lowered.sort_unstable();
    let mut best: Option<(usize, bool, Vec<Vec<u8>>)> = None;
    for len in (2..=longest.min(8)).rev() {
        for fold in [false, true] {
            let mut cut: Vec<&[u8]> = if fold {
                lowered.iter().map(|b| &b[..b.len().min(len)]).collect()
            } else {
                exact.iter().map(|b| &b[..b.len().min(len)]).collect()
            };
            cut.dedup();
            let cut = minimal(cut);
            if fold && cut.iter().any(|l| l.len() < min_fold) {
                continue;
            }
            if cut.len() <= MAX_LITERALS && best.as_ref().is_none_or(|b| cut.len() < b.0) {
                best = Some((
                    cut.len(),
                    fold,
                    cut.into_iter().map(<[u8]>::to_vec).collect(),
                ));
            }
        }
        if best.is_some() {
            break;
        }
    }
    best.map(|(_, fold, lits)| (fold, lits))
}

/// A [`Trigger::Before`] for a concatenation whose later part starts with
/// literals (the first such part, after at least one item).
fn find_before(hir: &Hir, any: [bool; 256], bound: [bool; 256]) -> Option<Trigger> {
    let v = match hir.kind() {
        HirKind::Concat(v) => v,
        HirKind::Capture(c) => return find_before(&c.sub, any, bound),
        _ => return None,
    };
    for k in 1..v.len() {
        let rest = Hir::concat(v[k..].to_vec());
        // Two-byte keywords that prose spells the same ("co", "sa") would
        // fire all over it: only upper-case ones ("Co", "AG") are kept.
        let Some((fold, lits)) = prefix_literals(&rest, 3) else {
            continue;
        };
        if lits
            .iter()
            .any(|l| l.len() < 3 && !l.iter().any(u8::is_ascii_uppercase))
        {
            continue;
        }
        let before = Hir::concat(v[..k].to_vec());
        let mut class = [false; 256];
        add_all(&before, &mut class);
        let mut last = [false; 256];
        let empty_ok = add_last(&before, &mut last);
        let words = whole_words(&v[k..], fold);
        return Some(Trigger::Before {
            lits,
            fold,
            class: Box::new(class),
            last: Box::new(last),
            empty_ok,
            any: Box::new(any),
            bound: Box::new(bound),
            words,
        });
    }
    None
}

/// When `rest` opens with a choice of literals right followed by a word
/// boundary (`(?:Street|St|S\.A\.)\b`): those literals, sorted (ASCII
/// lower case when `fold`). Every match of `rest` then starts with one of
/// them, and the byte after it is a word byte where the literal ends in
/// a non-word byte, and is not an ASCII word byte where it ends in one
/// (under an ASCII or a Unicode `\b` alike).
fn whole_words(rest: &[Hir], fold: bool) -> Option<Vec<Vec<u8>>> {
    let (first, next) = (rest.first()?, rest.get(1)?);
    let HirKind::Look(look) = next.kind() else {
        return None;
    };
    let boundary = matches!(look, Look::WordAscii | Look::WordUnicode);
    let word_end = matches!(
        look,
        Look::WordEndAscii
            | Look::WordEndUnicode
            | Look::WordEndHalfAscii
            | Look::WordEndHalfUnicode
    );
    if !boundary && !word_end {
        return None;
    }
    let seq = prefix_seq(first);
    let lits = seq.literals()?;
    if lits.is_empty() || !lits.iter().all(|l| l.is_exact()) {
        return None;
    }
    let mut words: Vec<Vec<u8>> = lits
        .iter()
        .map(|l| {
            if fold {
                l.as_bytes().to_ascii_lowercase()
            } else {
                l.as_bytes().to_vec()
            }
        })
        .collect();
    // A literal ending in a non-ASCII byte (a Unicode letter or not) is
    // left to the search; one ending in a non-word byte only works with
    // a plain boundary (the end of a word needs a word before it).
    for w in &words {
        let &last = w.last()?;
        if last >= 0x80 || !is_word_byte(last) && !boundary {
            return None;
        }
    }
    words.sort();
    words.dedup();
    Some(words)
}

/// Mark every byte a match of `h` can hold. Non-ASCII characters mark all
/// bytes from 0x80 (lead and continuation bytes alike): a superset.
fn add_all(h: &Hir, set: &mut [bool; 256]) {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => {
            for &b in l.0.iter() {
                set[b as usize] = true;
            }
        }
        HirKind::Class(c) => {
            mark_class(c, set);
        }
        HirKind::Repetition(r) => add_all(&r.sub, set),
        HirKind::Capture(c) => add_all(&c.sub, set),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|x| add_all(x, set)),
    }
}

/// Mark the bytes of the class's members: bytes and ASCII chars exactly,
/// all of 0x80.. for any non-ASCII char. Returns whether it is empty.
fn mark_class(c: &Class, set: &mut [bool; 256]) -> bool {
    match c {
        Class::Bytes(c) => {
            for r in c.ranges() {
                set[r.start() as usize..=r.end() as usize].fill(true);
            }
            c.ranges().is_empty()
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (lo, hi) = (r.start() as usize, r.end() as usize);
                if lo < 0x80 {
                    set[lo..=hi.min(0x7f)].fill(true);
                }
                if hi >= 0x80 {
                    set[0x80..].fill(true);
                }
            }
            c.ranges().is_empty()
        }
    }
}

/// For a pattern that ends at a line end (`$`, multi-line `$`, `\z`),
/// perhaps after optional whitespace (`\s*`): the bytes the match can end
/// with before that whitespace. A text where no line end, skipping ASCII
/// whitespace back from it, follows one of these bytes (or a non-ASCII
/// byte) cannot match: a whole search of the text is saved. None when the
/// pattern does not end so, when that part can be empty, or when it can
/// end in whitespace itself (the skip back could then pass it).
pub fn line_end_last(h: &Hir) -> Option<Box<[bool; 256]>> {
    let HirKind::Concat(v) = h.kind() else {
        return None;
    };
    let (end, rest) = v.split_last()?;
    if !matches!(
        end.kind(),
        HirKind::Look(Look::End | Look::EndLF | Look::EndCRLF)
    ) {
        return None;
    }
    // Trailing optional repetitions of whitespace (ASCII or any non-ASCII
    // byte: Unicode `\s`).
    let optional_space = |x: &Hir| {
        let HirKind::Repetition(r) = x.kind() else {
            return false;
        };
        let mut set = [false; 256];
        add_all(&r.sub, &mut set);
        r.min == 0 && (0..256).all(|b| !set[b] || b >= 0x80 || is_space_byte(b as u8))
    };
    let kept = rest.len() - rest.iter().rev().take_while(|x| optional_space(x)).count();
    let mut set = [false; 256];
    for x in rest[..kept].iter().rev() {
        if !add_last(x, &mut set) {
            let ends_in_space = (0..128u8).any(|b| set[b as usize] && is_space_byte(b));
            return (!ends_in_space).then(|| Box::new(set));
        }
    }
    None
}

/// ASCII whitespace as the regex `\s` has it (with `\x0B`, unlike
/// `u8::is_ascii_whitespace`).
pub fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Add the possible last bytes of `h` to `set`. Returns whether `h` can
/// match empty.
fn add_last(h: &Hir, set: &mut [bool; 256]) -> bool {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(l) => match l.0.last() {
            Some(&b) => {
                set[b as usize] = true;
                false
            }
            None => true,
        },
        HirKind::Class(c) => mark_class(c, set),
        HirKind::Repetition(r) => add_last(&r.sub, set) || r.min == 0,
        HirKind::Capture(c) => add_last(&c.sub, set),
        HirKind::Concat(v) => {
            for x in v.iter().rev() {
                if !add_last(x, set) {
                    return false;
                }
            }
            true
        }
        HirKind::Alternation(v) => {
            let mut nullable = false;
            for x in v {
                nullable |= add_last(x, set);
            }
            nullable
        }
    }
}

/// What [`find_inner`] found: (bytes, least distance, greatest distance,
/// bytes before).
type InnerByte = (Box<[bool; 256]>, usize, usize, [bool; 256]);

/// A byte every match holds at a bounded distance from its start: the first
/// literal or rare-byte class reached through items of bounded length.
/// Returns its bytes, the least and greatest distance, and every byte the
/// items before it can hold.
fn find_inner(h: &Hir) -> Option<InnerByte> {
    let rare = |set: &[bool; 256]| {
        set.iter().any(|&b| b)
            && !(0..=255u8)
                .any(|b| set[b as usize] && (b.is_ascii_alphabetic() || b.is_ascii_whitespace()))
    };
    match h.kind() {
        HirKind::Literal(_) | HirKind::Class(_) => {
            let mut any = [false; 256];
            let mut bound = [false; 256];
            if add_first(h, false, &mut any, &mut bound) {
                return None;
            }
            rare(&any).then(|| (Box::new(any), 0, 0, [false; 256]))
        }
        HirKind::Capture(c) => find_inner(&c.sub),
        // The byte is in the first repetition; what comes before it there
        // is all that comes before it.
        HirKind::Repetition(r) if r.min >= 1 => find_inner(&r.sub),
        HirKind::Concat(v) => {
            let (mut lo, mut hi) = (0usize, 0usize);
            let mut before = [false; 256];
            for x in v {
                if let Some((at, a, b, inside)) = find_inner(x) {
                    for (m, i) in before.iter_mut().zip(inside) {
                        *m |= i;
                    }
                    return Some((at, lo + a, hi + b, before));
                }
                let p = x.properties();
                lo += p.minimum_len()?;
                hi += p.maximum_len()?;
                if hi > MAX_PRE {
                    return None;
                }
                add_all(x, &mut before);
            }
            None
        }
        _ => None,
    }
}

/// Sorted, deduplicated, and without literals another one is a prefix of
/// (the shorter one already marks those places). Where four or more
/// literals differ only in their last byte (`cc\t`, `cc\n`, `cc `... from
/// `\s`), their common prefix replaces them.
fn minimal(mut lits: Vec<&[u8]>) -> Vec<&[u8]> {
    loop {
        lits.sort_unstable();
        lits.dedup();
        let mut siblings: foldhash::HashMap<&[u8], usize> = Default::default();
        for l in &lits {
            if l.len() > 2 {
                *siblings.entry(&l[..l.len() - 1]).or_default() += 1;
            }
        }
        // A set: with thousands of literals, a list compared against each
        // one was most of this function's time.
        let collapse: foldhash::HashSet<&[u8]> = siblings
            .into_iter()
            .filter(|&(_, n)| n >= 4)
            .map(|(p, _)| p)
            .collect();
        if collapse.is_empty() {
            break;
        }
        for l in &mut lits {
            if l.len() > 2 && collapse.contains(&l[..l.len() - 1]) {
                *l = &l[..l.len() - 1];
            }
        }
    }
    // Sorted: a kept literal that is a prefix of `l` is the last kept one.
    let mut kept: Vec<&[u8]> = Vec::new();
    for l in lits {
        if !kept.last().is_some_and(|k| l.starts_with(k)) {
            kept.push(l);
        }
    }
    kept
}

/// Add the possible first bytes of `h` to `any`, or to `bound` when an
/// ASCII word boundary is asserted before them (`after_b`, or a boundary
/// inside `h` on the way). Returns whether `h` can match empty.
fn add_first(h: &Hir, after_b: bool, any: &mut [bool; 256], bound: &mut [bool; 256]) -> bool {
    let mut mark = |b: u8| {
        if after_b {
            bound[b as usize] = true;
        } else {
            any[b as usize] = true;
        }
    };
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(l) => match l.0.first() {
            Some(&b) => {
                mark(b);
                false
            }
            None => true,
        },
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    mark(b);
                }
            }
            c.ranges().is_empty()
        }
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                // UTF-8 lead bytes grow with the code point, so a range's
                // lead bytes are the span between its ends' lead bytes.
                for b in lead_byte(r.start())..=lead_byte(r.end()) {
                    mark(b);
                }
            }
            c.ranges().is_empty()
        }
        HirKind::Repetition(r) => add_first(&r.sub, after_b, any, bound) || r.min == 0,
        HirKind::Capture(c) => add_first(&c.sub, after_b, any, bound),
        HirKind::Concat(v) => {
            let mut after_b = after_b;
            for x in v {
                if !add_first(x, after_b, any, bound) {
                    return false;
                }
                after_b |= is_boundary(x);
            }
            true
        }
        HirKind::Alternation(v) => {
            let mut nullable = false;
            for x in v {
                nullable |= add_first(x, after_b, any, bound);
            }
            nullable
        }
    }
}

/// An ASCII word-boundary assertion (as compiled from a pack's `\b`).
fn is_boundary(h: &Hir) -> bool {
    matches!(
        h.kind(),
        HirKind::Look(Look::WordAscii | Look::WordStartAscii | Look::WordStartHalfAscii)
    )
}

fn lead_byte(c: char) -> u8 {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf);
    buf[0]
}

/// True if every match of `h` begins with an ASCII word-boundary assertion.
fn starts_with_boundary(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Look(_) => is_boundary(h),
        HirKind::Capture(c) => starts_with_boundary(&c.sub),
        HirKind::Repetition(r) => r.min >= 1 && starts_with_boundary(&r.sub),
        HirKind::Concat(v) => v.first().is_some_and(starts_with_boundary),
        HirKind::Alternation(v) => v.iter().all(starts_with_boundary),
        _ => false,
    }
}

/// ASCII word byte, as `(?-u:\b)` sees it.
#[inline]
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p` parsed as the rule set compiles it.
    fn hir(p: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(&super::super::rules::compile_form(p))
            .unwrap()
    }

    fn line_end(p: &str) -> Option<Box<[bool; 256]>> {
        line_end_last(&hir(p))
    }

    #[test]
    fn line_end_last_bytes() {
        // The postcode at a line end: digits (and any non-ASCII byte, for
        // Unicode digits), through the optional "-1234" and "\s*".
        let zip = line_end(r"(?m)(?:\p{L},?\s+)(?P<v>\d{5})(?:-\d{4})?\s*$").unwrap();
        assert!(zip[b'0' as usize] && zip[b'9' as usize] && zip[0xd9]);
        assert!(!zip[b'a' as usize] && !zip[b' ' as usize] && !zip[b'-' as usize]);
        let word = line_end(r"(?m)\bend[.!]?$").unwrap();
        assert!(word[b'd' as usize] && word[b'.' as usize] && word[b'!' as usize]);
        assert!(!word[b'e' as usize]);
        // Not ending at a line end; able to end empty; ending in a space
        // the skip back would pass: no test.
        assert!(line_end(r"\d{5}").is_none());
        assert!(line_end(r"(?m)a?$").is_none());
        assert!(line_end(r"(?m)\d\s$").is_none());
        assert!(line_end(r"(?m)\d[ x]*$").is_none());
    }

    fn trig(p: &str) -> Trigger {
        derive(&hir(p))
    }

    #[test]
    fn digit_patterns_start_on_digits_at_a_boundary() {
        let Trigger::Bytes { any, bound } = trig(r"\b\d{3}-\d{2}-\d{4}\b") else {
            panic!("expected a byte trigger");
        };
        assert!(any.iter().all(|&b| !b));
        assert!(bound[b'0' as usize] && bound[b'9' as usize]);
        assert!(!bound[b'a' as usize] && !bound[b'-' as usize]);
    }

    #[test]
    fn optional_prefixes_widen_the_first_bytes() {
        let Trigger::Bytes { any, bound } =
            trig(r"(?:\+?1[-. ]?)?(?:\(\s*[2-9]\d{2}\s*\)\s*|\b[2-9]\d{2}[-. ])[2-9]\d{2}")
        else {
            panic!("expected a byte trigger");
        };
        // "+1" and "(" start anywhere; 2-9 only after the `\b`.
        for b in [b'+', b'1', b'('] {
            assert!(any[b as usize], "{}", b as char);
        }
        assert!(!any[b'2' as usize] && bound[b'2' as usize] && bound[b'9' as usize]);
        assert!(!any[b'0' as usize] && !bound[b'0' as usize]);
    }

    #[test]
    fn keyword_patterns_get_their_keywords() {
        let Trigger::Literals {
            lits,
            fold,
            boundary,
        } = trig(r"(?i)\bpassport(?:\s*no)?\s*(?P<v>[A-Z0-9]{6,9})\b")
        else {
            panic!("expected literals");
        };
        assert!(fold && boundary);
        assert!(lits.iter().all(|x| x.starts_with(b"pa")), "{lits:?}");
        let Trigger::Literals { lits, fold, .. } = trig(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b") else {
            panic!("expected literals");
        };
        assert!(!fold, "case-sensitive keywords stay exact");
        assert_eq!(lits, vec![b"AKIA".to_vec(), b"ASIA".to_vec()]);
    }

    #[test]
    fn inner_bytes_at_a_bounded_distance() {
        // The `@` of an e-mail is 1 to 64 characters (up to 3 bytes each
        // under `(?i)`: the Kelvin sign) after the start.
        let Trigger::Inner {
            at, lo, hi, bound, ..
        } = trig(r"(?i)\b[a-z0-9][a-z0-9._%+-]{0,63}@[a-z]+\.[a-z]{2,}")
        else {
            panic!("expected an inner trigger");
        };
        assert!(at[b'@' as usize] && at.iter().filter(|&&b| b).count() == 1);
        assert_eq!((lo, hi), (1, 192));
        assert!(bound[b'a' as usize] && bound[b'0' as usize]);
        // MAC: the first `:` is exactly two bytes in.
        let Trigger::Inner { at, lo, hi, .. } = trig(r"(?i)\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b")
        else {
            panic!("expected an inner trigger");
        };
        assert!(at[b':' as usize]);
        assert_eq!((lo, hi), (2, 2));
        // IBAN: two letters before the digits (three bytes each for the
        // Kelvin sign under `(?i)`, so up to six bytes back), and only
        // letters (or any non-ASCII byte) between the start and them.
        let Trigger::Inner {
            at,
            lo,
            hi,
            between,
            ..
        } = trig(r"(?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}\b")
        else {
            panic!("expected an inner trigger");
        };
        assert!(at[b'7' as usize] && (lo, hi) == (2, 6));
        assert!(between[b'q' as usize] && between[b'Q' as usize] && between[0xe2]);
        assert!(!between[b' ' as usize] && !between[b'5' as usize]);
    }

    #[test]
    fn suffix_keywords_trigger_the_words_before_them() {
        let Trigger::Before {
            lits,
            fold,
            class,
            last,
            empty_ok,
            bound,
            ..
        } = trig(r"\b(?:\p{Lu}[\p{L}'-]+\s+){1,3}(?:Street|Avenue)\b")
        else {
            panic!("expected a before trigger");
        };
        assert!(!fold, "case-sensitive suffixes stay exact");
        assert_eq!(lits, vec![b"Avenue".to_vec(), b"Street".to_vec()]);
        // Letters, apostrophes, hyphens, spaces and any non-ASCII byte
        // may come before the suffix; a digit or comma may not.
        for b in [b'a', b'Z', b'\'', b'-', b' ', 0xc3] {
            assert!(class[b as usize], "{b}");
        }
        assert!(!class[b'7' as usize] && !class[b',' as usize]);
        // The words end in whitespace right before the suffix.
        assert!(last[b' ' as usize] && !last[b'a' as usize] && !empty_ok);
        assert!(bound[b'A' as usize]);
        // A folded keyword must be three bytes or more: "co" would fire
        // all over prose.
        assert_eq!(trig(r"(?i)\b[a-z]+\s+co\b"), Trigger::Scan);
        assert!(matches!(
            trig(r"(?i)\b[a-z]+\s+(?:ltd|inc)\b"),
            Trigger::Before { fold: true, .. }
        ));
        // A URL scheme: from its "://".
        let Trigger::Before { lits, .. } =
            trig(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<v>[^\s@/]+)@")
        else {
            panic!("expected a before trigger");
        };
        assert_eq!(lits, vec![b"://".to_vec()]);
    }

    #[test]
    fn suffix_words_that_must_stand_whole() {
        let words = |p: &str| match trig(p) {
            Trigger::Before { words, .. } => words,
            t => panic!("expected a before trigger, got {t:?}"),
        };
        let w = words(r"\b(?:\p{Lu}\p{L}+\s+){1,3}(?:Street|St|S\.A\.)\b\.?").unwrap();
        assert_eq!(
            w,
            vec![b"S.A.".to_vec(), b"St".to_vec(), b"Street".to_vec()]
        );
        // Folded keywords give their words in lower case.
        let w = words(r"(?i)\b[a-z]+\s+(?:ltd|inc)\b").unwrap();
        assert_eq!(w, vec![b"inc".to_vec(), b"ltd".to_vec()]);
        // No boundary right after the choice, or a word that ends in a
        // non-ASCII letter: every hit stays a place.
        assert_eq!(
            words(r"\b(?:\p{Lu}\p{L}+\s+){1,3}(?:Street|Road)\s+\d+"),
            None
        );
        assert_eq!(words(r"\b(?:\p{Lu}\p{L}+\s+){1,3}(?:Café|Road)\b"), None);
    }

    #[test]
    fn open_starts_scan() {
        // Any letter can start these, and no rare byte or keyword is in
        // reach.
        assert_eq!(
            trig(r"(?i)\b[a-z][a-z0-9+.-]*[^\s:/@]+:(?P<v>[^\s@/]+)@"),
            Trigger::Scan
        );
        // Can match empty: always scanned.
        assert_eq!(trig(r"\d*"), Trigger::Scan);
    }

    /// The cut search as first written: every cut copied, sorted anew,
    /// and collapsed siblings found in a list. [`prefix_literals`] must
    /// choose exactly what this does.
    fn prefix_literals_plain(hir: &Hir, min_fold: usize) -> Option<(bool, Vec<Vec<u8>>)> {
        fn minimal_plain(mut lits: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
            loop {
                lits.sort();
                lits.dedup();
                let mut siblings: std::collections::HashMap<Vec<u8>, usize> = Default::default();
                for l in &lits {
                    if l.len() > 2 {
                        *siblings.entry(l[..l.len() - 1].to_vec()).or_default() += 1;
                    }
                }
                let collapse: Vec<Vec<u8>> = siblings
                    .into_iter()
                    .filter(|&(_, n)| n >= 4)
                    .map(|(p, _)| p)
                    .collect();
                if collapse.is_empty() {
                    break;
                }
                for l in &mut lits {
                    if l.len() > 2 && collapse.iter().any(|p| p[..] == l[..l.len() - 1]) {
                        l.pop();
                    }
                }
            }
            let mut kept: Vec<Vec<u8>> = Vec::new();
            for l in lits {
                if !kept.last().is_some_and(|k| l.starts_with(k)) {
                    kept.push(l);
                }
            }
            kept
        }
        let seq = prefix_seq(hir);
        let lits = seq.literals()?;
        if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < 2) {
            return None;
        }
        let longest = lits.iter().map(|l| l.as_bytes().len()).max().unwrap_or(2);
        let mut best: Option<(usize, bool, Vec<Vec<u8>>)> = None;
        for len in (2..=longest.min(8)).rev() {
            for fold in [false, true] {
                let cut = minimal_plain(
                    lits.iter()
                        .map(|l| {
                            let b = &l.as_bytes()[..l.as_bytes().len().min(len)];
                            if fold {
                                b.to_ascii_lowercase()
                            } else {
                                b.to_vec()
                            }
                        })
                        .collect(),
                );
                if fold && cut.iter().any(|l| l.len() < min_fold) {
                    continue;
                }
                if cut.len() <= MAX_LITERALS && best.as_ref().is_none_or(|b| cut.len() < b.0) {
                    best = Some((cut.len(), fold, cut));
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map(|(_, fold, lits)| (fold, lits))
    }

    #[test]
    fn cut_search_matches_the_plain_one() {
        // Case-insensitive keywords (thousands of variants), `\s` siblings
        // that collapse, exact keywords, and every pattern of the packs.
        let mut patterns: Vec<String> = [
            r"(?i)\b(?:date\s+of\s+birth|dob|born\s+on)\b",
            r"(?i)patient\s*(?:id|no\.?|number)",
            r"cc\s\d+",
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}",
            r"(?i)(?:passport|licen[cs]e)\s*(?:no|number|#)",
            r"\d{3}-\d{2}",
        ]
        .map(str::to_string)
        .to_vec();
        for (_, pack) in crate::detect::rules::BUILTIN_PACKS {
            let v: toml::Value = toml::from_str(pack).unwrap();
            for rule in v["rules"].as_array().unwrap() {
                for p in rule["patterns"].as_array().unwrap() {
                    patterns.push(p.as_str().unwrap().to_string());
                }
            }
        }
        let mut with_literals = 0;
        for p in &patterns {
            let h = hir(p);
            for min_fold in [2, 3] {
                let fast = prefix_literals(&h, min_fold);
                assert_eq!(fast, prefix_literals_plain(&h, min_fold), "{p}");
                with_literals += usize::from(fast.is_some());
            }
        }
        assert!(with_literals >= 20, "{with_literals}");
        // Four `\s` siblings collapse to their common prefix.
        let h = hir(r"cc\s\d+");
        assert_eq!(prefix_literals(&h, 2), Some((false, vec![b"cc".to_vec()])));
    }
}
