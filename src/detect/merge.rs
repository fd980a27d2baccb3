//! Overlap resolution: when detectors disagree about a stretch of text, one
//! span wins. Validated spans (a checksum passed) beat unvalidated ones;
//! then higher score; then the longer span (it covers more of the
//! identifier, so less of it can leak); then the earlier one. A loser that
//! sticks out of the winner widens it: both detectors found something
//! sensitive there, and the union leaks less than either.

use super::Span;

/// Resolve overlapping spans; the result is sorted by start and disjoint.
pub fn resolve(mut spans: Vec<Span>) -> Vec<Span> {
    if spans.len() <= 1 {
        return spans;
    }
    spans.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then(b.score.total_cmp(&a.score))
            .then(b.len().cmp(&a.len()))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        // `kept` stays sorted by start; find the neighbours by binary search.
        let pos = kept.partition_point(|k| k.start < s.start);
        let clash_prev = pos > 0 && kept[pos - 1].overlaps(&s);
        let clash_next = pos < kept.len() && kept[pos].overlaps(&s);
        if clash_prev || clash_next {
            // The LLM's spans never widen another detector's: a model that
            // proposes "You said your email is a@b.c" must not turn the
            // email span into a sentence.
            if s.detector.starts_with("llm") {
                continue;
            }
            // Widen the (single) winner it overlaps, unless that would
            // swallow a neighbour.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sp(start: usize, end: usize, score: f32, validated: bool, t: &str) -> Span {
        Span {
            start,
            end,
            entity: Arc::from(t),
            score,
            detector: Arc::from("t"),
            validated,
        }
    }

    #[test]
    fn validated_beats_score_and_longer_beats_shorter() {
        let out = resolve(vec![
            sp(0, 16, 0.6, false, "PHONE"),
            sp(0, 16, 0.5, true, "CREDIT_CARD"),
            sp(20, 25, 0.7, false, "PERSON"),
            sp(20, 31, 0.7, false, "PERSON"),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(&*out[0].entity, "CREDIT_CARD");
        assert_eq!((out[1].start, out[1].end), (20, 31));
    }

    #[test]
    fn llm_spans_do_not_widen_rule_spans() {
        let mut llm = sp(0, 60, 0.6, false, "ORG");
        llm.detector = Arc::from("llm");
        let out = resolve(vec![sp(23, 54, 0.95, false, "EMAIL"), llm]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].start, out[0].end, &*out[0].entity),
            (23, 54, "EMAIL")
        );
    }

    #[test]
    fn partial_overlap_widens_the_winner() {
        let out = resolve(vec![
            sp(10, 20, 0.9, false, "USERNAME"),
            sp(15, 30, 0.6, false, "PERSON"),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].start, out[0].end, &*out[0].entity),
            (10, 30, "USERNAME")
        );
    }

    #[test]
    fn result_is_sorted_and_disjoint() {
        let out = resolve(vec![
            sp(10, 12, 0.5, false, "A"),
            sp(0, 5, 0.9, false, "B"),
            sp(4, 11, 0.4, false, "C"),
            sp(30, 40, 0.1, false, "D"),
        ]);
        for w in out.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        assert_eq!(out.len(), 3);
    }
}
