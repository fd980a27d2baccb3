//! Overlap resolution: when detectors disagree about a stretch of text, one
//! span wins. A span the rewriter acts on (score at or above the threshold)
//! beats one it does not: a weak guess that happens to pass a checksum
//! ("9434765919" as a bare phone number, 0.4) must not hide a confident
//! finding of the same digits ("NHS number 9434765919", an ID at 0.96) and
//! so leave them in the output. Then validated spans (a checksum passed)
//! beat unvalidated ones; then higher score; then the longer span (it
//! covers more of the identifier, so less of it can leak); then the
//! earlier one. A loser that sticks out of the winner widens it: both
//! detectors found something sensitive there, and the union leaks less
//! than either.

use super::{Name, Span};

/// Resolve overlapping spans; the result is sorted by start and disjoint.
///
/// Ranks and walks small `(key, start, end, index)` records instead of the
/// spans themselves: a span is 56 bytes with two `Arc`s, and sorting and
/// inserting them (moves, a four-way comparator) cost more than the
/// decisions. The ranking is the stable order of the rule above, with the
/// original position as the last key, so ties fall exactly as before.
///
/// Empty spans are dropped first: they cover nothing, and no detector
/// makes them.
/// `threshold`: the score from which the rewriter acts on a span.
pub fn resolve(spans: Vec<Span>, threshold: f32) -> Vec<Span> {
    resolve_from(spans, threshold, TREE_FROM)
}

/// From this many spans on, the winners are kept in a B-tree and placed
/// by moving each once: inserting into a sorted `Vec` moves half of it
/// each time, and placing by following swap chains can walk far, which
/// made one large record (a megabyte with 60,000 spans) quadratic. Below
/// it the `Vec` is faster.
const TREE_FROM: usize = 128;

/// [`resolve`], with the tree from `tree_from` spans on (tests take it
/// for every size).
fn resolve_from(mut spans: Vec<Span>, threshold: f32, tree_from: usize) -> Vec<Span> {
    spans.retain(|s| s.start < s.end);
    if spans.len() <= 1 || in_order(&spans) {
        return spans;
    }
    if spans.len() == 2 {
        resolve_pair(&mut spans, threshold);
        return spans;
    }
    let big = spans.len() >= tree_from;
    SCRATCH.with_borrow_mut(|(order, kept)| {
        if !big && all_disjoint(&spans, kept) {
            // Nothing to decide: no span clashes with another, so the walk
            // would keep each one as it is, in order of start.
        } else if rank(&spans, threshold, order) {
            walk_by(big, &spans, order.iter().map(|&k| k as u32 as usize), kept);
        } else {
            // Offsets past 4 GiB: the same order from wider keys.
            let mut wide: Vec<(u128, u128)> = spans
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        rank_key(s, threshold),
                        ((s.start as u128) << 64) | i as u128,
                    )
                })
                .collect();
            wide.sort_unstable();
            walk_by(
                big,
                &spans,
                wide.iter().map(|&(_, lo)| lo as u64 as usize),
                kept,
            );
        }
        if big {
            place_moving(&mut spans, kept);
        } else {
            place(&mut spans, kept);
        }
        super::trim_scratch(order);
        super::trim_scratch(kept);
    });
    spans
}

/// True when each span ends at or before the next one starts: the spans
/// are disjoint and already sorted by start, so the walk would keep each
/// one as it is, where it is. Checked before anything else: one pass, no
/// copy, sort or move (many short records' candidates come so: one span,
/// or a few found left to right by one detector).
fn in_order(spans: &[Span]) -> bool {
    spans.windows(2).all(|w| w[0].end <= w[1].start)
}

/// [`resolve`] of two spans not in order (most clashes in short records
/// are of two spans): the walk's decisions, written out. If they do not
/// overlap, the second comes first. Otherwise the better one (the order
/// of [`rank`]) is kept, widened over the other unless that one is the
/// LLM's; with no third span, nothing can stop the widening.
fn resolve_pair(spans: &mut Vec<Span>, threshold: f32) {
    if !spans[0].overlaps(&spans[1]) {
        spans.swap(0, 1);
        return;
    }
    let key = |i: usize| {
        let s = &spans[i];
        (rank_key(s, threshold), s.start, i)
    };
    let loser = usize::from(key(0) < key(1));
    let lo = spans[0].start.min(spans[1].start);
    let hi = spans[0].end.max(spans[1].end);
    let widen = widens_winner(&spans[loser]);
    spans.swap_remove(loser);
    if widen {
        spans[0].start = lo;
        spans[0].end = hi;
    }
}

/// Per-thread buffers reused from call to call: resolve runs once per
/// record, and the allocations cost more than the work on short records.
type Scratch = (Vec<u128>, Vec<(usize, usize, usize)>);

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Most spans [`all_disjoint`] looks at.
const DISJOINT_MAX: usize = 6;

/// True when no two of `spans` overlap; `kept` then holds all of them as
/// (start, end, index), sorted by start: what [`walk`] would keep, as
/// only a clash makes it drop or widen a span. Most short records' spans
/// are so (a name here, a number there), and sorting starts is cheaper
/// than ranking and walking.
fn all_disjoint(spans: &[Span], kept: &mut Vec<(usize, usize, usize)>) -> bool {
    // Only a few spans, compared pair by pair: a clash (about half of the
    // short records) is found before anything is copied or sorted. Many
    // spans (long records) clash nearly always, and copying and sorting
    // them for nothing cost more than the shortcut saved.
    if spans.len() > DISJOINT_MAX {
        return false;
    }
    for (a, s) in spans.iter().enumerate() {
        if spans[a + 1..]
            .iter()
            .any(|t| s.start < t.end && t.start < s.end)
        {
            return false;
        }
    }
    kept.clear();
    kept.extend(spans.iter().enumerate().map(|(i, s)| (s.start, s.end, i)));
    kept.sort_unstable_by_key(|k| k.0);
    true
}

/// `order`: one packed key per span, best first: acted on, validated,
/// score (`total_cmp`), length, start, index. The index makes keys unique,
/// so the unstable sort is the stable one. False (and `order` unusable)
/// when an offset or count does not fit its field.
fn rank(spans: &[Span], threshold: f32, order: &mut Vec<u128>) -> bool {
    const LEN_MAX: usize = (1 << 30) - 1;
    order.clear();
    let mut fits = spans.len() <= u32::MAX as usize;
    order.extend(spans.iter().enumerate().map(|(i, s)| {
        let len = s.len();
        fits &= len <= LEN_MAX && s.start <= u32::MAX as usize;
        let head = (u128::from(s.score < threshold) << 127)
            | (u128::from(!s.validated) << 126)
            | (u128::from(!total_order(s.score)) << 94);
        head | (((LEN_MAX - len.min(LEN_MAX)) as u128) << 64)
            | ((s.start as u128 & 0xffff_ffff) << 32)
            | (i as u128 & 0xffff_ffff)
    }));
    if fits {
        order.sort_unstable();
    }
    fits
}

/// [`walk_tree`] when `big`, else [`walk`].
fn walk_by(
    big: bool,
    spans: &[Span],
    order: impl Iterator<Item = usize>,
    kept: &mut Vec<(usize, usize, usize)>,
) {
    if big {
        walk_tree(spans, order, kept);
    } else {
        walk(spans, order, kept);
    }
}

/// Whether `s`, losing to a span it overlaps, widens the winner over
/// itself. The LLM's spans never widen another detector's: a model that
/// proposes "You said your email is a@b.c" must not turn the email span
/// into a sentence.
fn widens_winner(s: &Span) -> bool {
    !s.detector.starts_with("llm")
}

/// `kept`: the winners as (start, end, index into `spans`), sorted by start.
/// Generic over `order` (not `dyn`: a call per span, which cost more than
/// the few steps of a short record's walk).
fn walk(spans: &[Span], order: impl Iterator<Item = usize>, kept: &mut Vec<(usize, usize, usize)>) {
    kept.clear();
    for i in order {
        let (s_start, s_end) = (spans[i].start, spans[i].end);
        let clashes = |k: &(usize, usize, usize)| k.0 < s_end && s_start < k.1;
        // `kept` stays sorted by start; find the neighbours by binary search.
        let pos = kept.partition_point(|k| k.0 < s_start);
        let clash_prev = pos > 0 && clashes(&kept[pos - 1]);
        let clash_next = pos < kept.len() && clashes(&kept[pos]);
        if clash_prev || clash_next {
            if !widens_winner(&spans[i]) {
                continue;
            }
            // Widen the (single) winner it overlaps, unless that would
            // swallow a neighbour.
            let w = if clash_prev { pos - 1 } else { pos };
            if !(clash_prev && clash_next) {
                let lo = s_start.min(kept[w].0);
                let hi = s_end.max(kept[w].1);
                let left_ok = w == 0 || kept[w - 1].1 <= lo;
                let right_ok = w + 1 >= kept.len() || kept[w + 1].0 >= hi;
                if left_ok && right_ok {
                    kept[w].0 = lo;
                    kept[w].1 = hi;
                }
            }
            continue;
        }
        kept.insert(pos, (s_start, s_end, i));
    }
}

/// [`walk`] with the winners in a B-tree by start (spans are non-empty and
/// the winners disjoint, so starts are unique and a winner widened to the
/// left keeps its place): the same decisions, each in O(log n).
fn walk_tree(
    spans: &[Span],
    order: impl Iterator<Item = usize>,
    kept: &mut Vec<(usize, usize, usize)>,
) {
    use std::ops::Bound::{Excluded, Unbounded};
    kept.clear();
    // start -> (end, index into `spans`)
    let mut tree: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
    for i in order {
        let (s_start, s_end) = (spans[i].start, spans[i].end);
        let clashes =
            |(&start, &(end, _)): (&usize, &(usize, usize))| start < s_end && s_start < end;
        let prev = tree.range(..s_start).next_back();
        let next = tree.range(s_start..).next();
        let clash_prev = prev.is_some_and(clashes);
        let clash_next = next.is_some_and(clashes);
        if clash_prev || clash_next {
            if !widens_winner(&spans[i]) {
                continue;
            }
            let w = if clash_prev { prev } else { next };
            let Some((&w_start, &(w_end, w_index))) = w else {
                continue;
            };
            if !(clash_prev && clash_next) {
                let lo = s_start.min(w_start);
                let hi = s_end.max(w_end);
                let left_ok = tree
                    .range(..w_start)
                    .next_back()
                    .is_none_or(|(_, &(end, _))| end <= lo);
                let right_ok = tree
                    .range((Excluded(w_start), Unbounded))
                    .next()
                    .is_none_or(|(&start, _)| start >= hi);
                if left_ok && right_ok {
                    tree.remove(&w_start);
                    tree.insert(lo, (hi, w_index));
                }
            }
            continue;
        }
        tree.insert(s_start, (s_end, i));
    }
    kept.extend(tree.into_iter().map(|(start, (end, i))| (start, end, i)));
}

/// [`place`] for many spans: each winner moved once into a new vector.
fn place_moving(spans: &mut Vec<Span>, kept: &[(usize, usize, usize)]) {
    let mut slots: Vec<Option<Span>> = spans.drain(..).map(Some).collect();
    spans.extend(kept.iter().filter_map(|&(start, end, i)| {
        let mut s = slots[i].take()?;
        s.start = start;
        s.end = end;
        Some(s)
    }));
}

/// Rearrange `spans` in place into `kept`'s order and bounds and drop the
/// losers: moves only, no clone or new vector.
fn place(spans: &mut Vec<Span>, kept: &[(usize, usize, usize)]) {
    for (j, &(start, end, i)) in kept.iter().enumerate() {
        // Positions before `j` are final; the span first at `i` was moved
        // out of each of them to where that position's winner had been.
        let mut src = i;
        while src < j {
            src = kept[src].2;
        }
        spans.swap(j, src);
        spans[j].start = start;
        spans[j].end = end;
    }
    spans.truncate(kept.len());
}

/// Wide sort key, ascending = better: acted on first, then validated,
/// then higher score (`f32::total_cmp` order), then longer.
fn rank_key(s: &Span, threshold: f32) -> u128 {
    let weak = u128::from(s.score < threshold);
    let invalid = u128::from(!s.validated);
    (weak << 127)
        | (invalid << 126)
        | (u128::from(!total_order(s.score)) << 64)
        | u128::from(!(s.len() as u64))
}

/// `f32::total_cmp`'s order as an unsigned integer: flip the magnitude bits
/// of negatives, then the sign bit.
fn total_order(score: f32) -> u32 {
    let b = score.to_bits() as i32;
    (b ^ ((((b >> 31) as u32) >> 1) as i32)) as u32 ^ 0x8000_0000
}

/// Give a name that one text reads both as a person and as a place one
/// type: the type its mentions, weighed by score, lean to. A long text
/// ("lives in Nicosia", then "the road linking Nicosia and Famagusta")
/// has some mentions with a cue and others the detectors only guess at,
/// and a guess can go the other way. Two types made two surrogates of one
/// name, a town in one sentence and a person in the next: a reader of
/// the output could no longer tell they were one, and the person read as
/// nonsense ("the road linking Holtsoi and Layla"). A mention typed by a
/// strong cue (a score of [`SURE`] or more: a title, a given name, a
/// place preposition before a known town) keeps its type; so does every
/// mention of a name whose weights are equal. Retyped mentions keep their
/// score and take `detector`, so a report says why.
///
/// Mentions are the same name when their texts are equal ignoring case.
/// Cheap when a text does not name both a person and a place, as most
/// short records do not.
pub fn one_type_per_name(
    text: &str,
    spans: &mut [Span],
    threshold: f32,
    (person, place): (Name, Name),
    detector: Name,
) {
    let acting = |s: &Span| s.score >= threshold;
    let is = |s: &Span, n: Name| s.entity.same(n);
    let (mut people, mut places) = (0usize, 0usize);
    for s in spans.iter().filter(|s| acting(s)) {
        people += usize::from(is(s, person));
        places += usize::from(is(s, place));
    }
    if people == 0 || places == 0 {
        return;
    }
    // Most texts that name both name no one thing both ways: said by
    // comparing the pairs, without a map or a lower-cased copy, while
    // they are few (a short record's one or two).
    if people * places <= PAIRS {
        let same = |a: &Span, b: &Span| same_name(&text[a.start..a.end], &text[b.start..b.end]);
        let clash = spans.iter().any(|a| {
            acting(a)
                && is(a, person)
                && spans
                    .iter()
                    .any(|b| acting(b) && is(b, place) && same(a, b))
        });
        if !clash {
            return;
        }
    }
    // Per lower-cased name: (person weight, place weight).
    let mut weights: std::collections::HashMap<String, (f32, f32)> = Default::default();
    let key = |s: &Span| text[s.start..s.end].to_lowercase();
    for s in spans.iter().filter(|s| acting(s)) {
        if is(s, person) {
            weights.entry(key(s)).or_default().0 += s.score;
        } else if is(s, place) {
            weights.entry(key(s)).or_default().1 += s.score;
        }
    }
    weights.retain(|_, (p, l)| *p > 0.0 && *l > 0.0 && p != l);
    if weights.is_empty() {
        return;
    }
    for s in spans.iter_mut() {
        if !acting(s) || s.score >= SURE || !(is(s, person) || is(s, place)) {
            continue;
        }
        let Some(&(p, l)) = weights.get(&key(s)) else {
            continue;
        };
        let winner = if p > l { person } else { place };
        if !s.entity.same(winner) {
            s.entity = winner;
            s.detector = detector;
        }
    }
}

/// Up to this many (person, place) pairs [`one_type_per_name`] compares
/// them before it builds its map.
const PAIRS: usize = 256;

/// Whether two mentions are one name ignoring case, as the lower-cased
/// keys of [`one_type_per_name`] compare them.
fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        // Char by char: stops at the first that differs, no copies.
        fn lower(s: &str) -> impl Iterator<Item = char> + '_ {
            s.chars().flat_map(char::to_lowercase)
        }
        lower(a).eq(lower(b))
    }
}

/// From this score a person or place mention's type is taken as proven
/// by its own context ([`one_type_per_name`]).
const SURE: f32 = 0.85;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Name;
    use proptest::prelude::*;

    /// The merge as it was before ranking by keys: sorts the spans with a
    /// stable four-key comparator and inserts them into a `Vec<Span>`. The
    /// property test holds [`resolve`] to exactly its output.
    fn reference(mut spans: Vec<Span>, threshold: f32) -> Vec<Span> {
        // Empty spans cover nothing; `resolve` drops them first.
        spans.retain(|s| s.start < s.end);
        if spans.len() <= 1 {
            return spans;
        }
        // NaN is no less than the threshold: it counts as acted on, as
        // in `rank`.
        let weak = |s: &Span| s.score < threshold;
        spans.sort_by(|a, b| {
            weak(a)
                .cmp(&weak(b))
                .then(b.validated.cmp(&a.validated))
                .then(b.score.total_cmp(&a.score))
                .then(b.len().cmp(&a.len()))
                .then(a.start.cmp(&b.start))
        });
        let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            let pos = kept.partition_point(|k| k.start < s.start);
            let clash_prev = pos > 0 && kept[pos - 1].overlaps(&s);
            let clash_next = pos < kept.len() && kept[pos].overlaps(&s);
            if clash_prev || clash_next {
                if s.detector.starts_with("llm") {
                    continue;
                }
                let w = if clash_prev { pos - 1 } else { pos };
                let other = if clash_prev {
                    pos < kept.len() && kept[pos].overlaps(&s)
                } else {
                    false
                };
                if !other {
                    let lo = s.start.min(kept[w].start);
                    let hi = s.end.max(kept[w].end);
                    let left_ok = w == 0 || kept[w - 1].end <= lo;
                    let right_ok = w + 1 >= kept.len() || kept[w + 1].start >= hi;
                    if left_ok && right_ok {
                        kept[w].start = lo;
                        kept[w].end = hi;
                    }
                }
                continue;
            }
            kept.insert(pos, s);
        }
        kept
    }

    /// Everything that tells two results apart, scores by bit pattern (so
    /// NaN and -0.0 compare too).
    fn view(spans: &[Span]) -> Vec<(usize, usize, String, u32, String, bool)> {
        spans
            .iter()
            .map(|s| {
                let (e, d) = (s.entity.to_string(), s.detector.to_string());
                (s.start, s.end, e, s.score.to_bits(), d, s.validated)
            })
            .collect()
    }

    /// Random candidate sets crowded into a short text, so overlaps, nesting,
    /// empty spans and ties in score, length and validation are common.
    fn span_sets() -> impl Strategy<Value = Vec<Span>> {
        span_sets_of(60, 0..40)
    }

    /// `n` random spans starting in `0..width` (see [`span_sets`]).
    fn span_sets_of(width: usize, n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Span>> {
        let score = prop_oneof![
            Just(0.5f32),
            Just(0.6),
            Just(0.9),
            Just(1.0),
            Just(0.0),
            Just(-0.0),
            Just(f32::NAN),
            0.0f32..1.0,
        ];
        let det = prop_oneof![
            Just("rule:x"),
            Just("llm"),
            Just("llm:ner"),
            Just("gazetteer:name"),
            Just("deny_list"),
        ];
        // Sometimes past 4 GiB, where the wide keys take over.
        let base = prop_oneof![4 => Just(0usize), 1 => Just(5_000_000_000usize)];
        let spans =
            prop::collection::vec((0usize..width, 0usize..12, score, any::<bool>(), det), n);
        (base, spans).prop_map(|(base, v)| {
            v.into_iter()
                .enumerate()
                .map(|(i, (start, len, score, validated, det))| Span {
                    start: base + start,
                    end: base + start + len,
                    // Unique, so the test sees which candidate won.
                    entity: Name::from(format!("E{i}").as_str()),
                    score,
                    detector: Name::from(det),
                    validated,
                })
                .collect()
        })
    }

    /// The default threshold, the scores the span sets favour, and any.
    fn thresholds() -> impl Strategy<Value = f32> {
        prop_oneof![Just(0.5f32), Just(0.9), Just(0.0), 0.0f32..1.0]
    }

    proptest! {
        #[test]
        fn same_as_the_reference_merge(spans in span_sets(), t in thresholds()) {
            let want = view(&reference(spans.clone(), t));
            prop_assert_eq!(&view(&resolve(spans.clone(), t)), &want);
            // The B-tree walk and moving placement of large inputs.
            prop_assert_eq!(view(&resolve_from(spans, t, 0)), want);
        }

        /// Spans that do not overlap (the shortcut past ranking), placed
        /// in any order: the reference keeps them all, by start.
        #[test]
        fn same_as_the_reference_merge_when_disjoint(
            spans in span_sets_of(60, 0..12),
            t in thresholds(),
        ) {
            // Keep the spans whose start no other has, and cut each back
            // to the next start, so none overlaps.
            let mut spans = spans;
            let all: Vec<usize> = spans.iter().map(|s| s.start).collect();
            spans.retain(|s| all.iter().filter(|&&x| x == s.start).count() == 1);
            let starts: Vec<usize> = spans.iter().map(|s| s.start).collect();
            for s in &mut spans {
                if let Some(&n) = starts.iter().filter(|&&x| x > s.start).min() {
                    s.end = s.end.min(n);
                }
            }
            let want = view(&reference(spans.clone(), t));
            prop_assert_eq!(view(&resolve(spans, t)), want);
        }

        /// Two or three spans (the shortcut for a pair, and past it).
        #[test]
        fn same_as_the_reference_merge_when_few(
            spans in span_sets_of(14, 2..4),
            t in thresholds(),
        ) {
            let want = view(&reference(spans.clone(), t));
            prop_assert_eq!(view(&resolve(spans, t)), want);
        }

        /// Past `TREE_FROM` spans, as `resolve` itself takes the tree.
        #[test]
        fn same_as_the_reference_merge_when_large(
            spans in span_sets_of(1500, 100..400),
            t in thresholds(),
        ) {
            let want = view(&reference(spans.clone(), t));
            prop_assert_eq!(view(&resolve(spans, t)), want);
        }
    }

    /// Every pair from a small grid of spans (ties in rank, nesting,
    /// touching, the LLM's) merges as the reference merges it: the
    /// shortcut for two spans against the walk.
    #[test]
    fn every_small_pair_as_the_reference() {
        let mut grid = Vec::new();
        for start in 0..5 {
            for len in 1..4 {
                for score in [0.4f32, 0.6] {
                    for validated in [false, true] {
                        for det in ["rule:x", "llm"] {
                            grid.push(Span {
                                start,
                                end: start + len,
                                entity: Name::from(format!("E{}", grid.len()).as_str()),
                                score,
                                detector: Name::from(det),
                                validated,
                            });
                        }
                    }
                }
            }
        }
        for a in &grid {
            for b in &grid {
                let pair = vec![a.clone(), b.clone()];
                let want = view(&reference(pair.clone(), 0.5));
                assert_eq!(view(&resolve(pair, 0.5)), want, "{a:?} {b:?}");
            }
        }
    }

    fn sp(start: usize, end: usize, score: f32, validated: bool, t: &str) -> Span {
        Span {
            start,
            end,
            entity: Name::from(t),
            score,
            detector: Name::from("t"),
            validated,
        }
    }

    #[test]
    fn validated_beats_score_and_longer_beats_shorter() {
        let out = resolve(
            vec![
                sp(0, 16, 0.6, false, "PHONE"),
                sp(0, 16, 0.5, true, "CREDIT_CARD"),
                sp(20, 25, 0.7, false, "PERSON"),
                sp(20, 31, 0.7, false, "PERSON"),
            ],
            0.5,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(&*out[0].entity, "CREDIT_CARD");
        assert_eq!((out[1].start, out[1].end), (20, 31));
    }

    #[test]
    fn llm_spans_do_not_widen_rule_spans() {
        let mut llm = sp(0, 60, 0.6, false, "ORG");
        llm.detector = Name::from("llm");
        let out = resolve(vec![sp(23, 54, 0.95, false, "EMAIL"), llm], 0.5);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].start, out[0].end, &*out[0].entity),
            (23, 54, "EMAIL")
        );
    }

    #[test]
    fn partial_overlap_widens_the_winner() {
        let out = resolve(
            vec![
                sp(10, 20, 0.9, false, "USERNAME"),
                sp(15, 30, 0.6, false, "PERSON"),
            ],
            0.5,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].start, out[0].end, &*out[0].entity),
            (10, 30, "USERNAME")
        );
    }

    #[test]
    fn result_is_sorted_and_disjoint() {
        let out = resolve(
            vec![
                sp(10, 12, 0.5, false, "A"),
                sp(0, 5, 0.9, false, "B"),
                sp(4, 11, 0.4, false, "C"),
                sp(30, 40, 0.1, false, "D"),
            ],
            0.5,
        );
        for w in out.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        assert_eq!(out.len(), 3);
    }

    /// A validated guess below the threshold (a bare ten digits taken for
    /// a phone number) used to beat a confident unvalidated finding of the
    /// same digits (an NHS number after its cue): the span kept was below
    /// the threshold, so nothing rewrote the number.
    #[test]
    fn a_span_acted_on_beats_a_weak_validated_one() {
        let out = resolve(
            vec![sp(11, 21, 0.9, false, "ID"), sp(11, 21, 0.4, true, "PHONE")],
            0.5,
        );
        assert_eq!(out.len(), 1);
        assert_eq!((&*out[0].entity, out[0].score), ("ID", 0.9));
        // Both acted on: the checksum still decides.
        let out = resolve(
            vec![
                sp(0, 16, 0.9, false, "PHONE"),
                sp(0, 16, 0.6, true, "CREDIT_CARD"),
            ],
            0.5,
        );
        assert_eq!(&*out[0].entity, "CREDIT_CARD");
    }

    /// The mentions of a name read both ways take the type their scores
    /// lean to, unless a mention's own cue is sure or the weights tie;
    /// case does not matter, and other names and types are left alone.
    #[test]
    fn a_name_read_as_person_and_place_takes_one_type() {
        //          0         1         2         3         4         5
        //          0123456789012345678901234567890123456789012345678901234
        let text = "in Wronki, Wronki, wronki. Wronki Sztum Sztum Paris Paris";
        let pp = (Name::from("PERSON"), Name::from("LOCATION"));
        let doc = Name::from("document");
        let mut spans = vec![
            sp(3, 9, 0.5, false, "LOCATION"),
            sp(11, 17, 0.5, false, "LOCATION"),
            sp(19, 25, 0.5, false, "LOCATION"),
            sp(27, 33, 0.7, false, "PERSON"),
            sp(34, 39, 0.5, false, "PERSON"),
            sp(40, 45, 0.5, false, "LOCATION"),
            sp(46, 51, 0.95, false, "PERSON"),
            sp(52, 57, 0.85, false, "LOCATION"),
        ];
        one_type_per_name(text, &mut spans, 0.5, pp, doc);
        let types: Vec<&str> = spans.iter().map(|s| s.entity.as_str()).collect();
        assert_eq!(
            types,
            [
                "LOCATION", "LOCATION", "LOCATION", "LOCATION", // 1.5 against 0.7
                "PERSON", "LOCATION", // a tie
                "PERSON", "LOCATION", // each sure of its own
            ]
        );
        assert_eq!(spans[3].detector.as_str(), "document");
        assert_eq!(spans[3].score, 0.7);
        assert_eq!(spans[0].detector.as_str(), "t");
        // Below the threshold a mention neither weighs nor is retyped.
        let mut spans = vec![
            sp(3, 9, 0.4, false, "LOCATION"),
            sp(27, 33, 0.7, false, "PERSON"),
            sp(11, 17, 0.3, false, "LOCATION"),
        ];
        one_type_per_name(text, &mut spans, 0.5, pp, doc);
        let types: Vec<&str> = spans.iter().map(|s| s.entity.as_str()).collect();
        assert_eq!(types, ["LOCATION", "PERSON", "LOCATION"]);
    }
}
