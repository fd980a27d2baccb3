//! Lists of cued numbers: "applications nos. 26480/95, 28291/95 and
//! 43362/96", "MRNs 00482913, 00482914". A rule's cue ("nos.", "MRN")
//! stands before the first number only, so the rule finds that one; the
//! rest of the list would leak. A number that continues the list right
//! after a cued ID, written the same way, is an ID too.

use super::Span;
use std::sync::Arc;

/// Score of a listed number: it has no cue of its own, but the list's
/// shape and its cued first member are strong evidence.
const LISTED_SCORE: f32 = 0.9;

/// The numbers listed after each cued ID of `spans` (merged, sorted,
/// disjoint), added in order. A cued ID is a rule's ID at 0.9 or more
/// (the cue is part of those rules' matches).
pub fn id_lists(text: &str, spans: &mut Vec<Span>) {
    if !spans.iter().any(is_cued_id) {
        return;
    }
    static DET: std::sync::LazyLock<Arc<str>> =
        std::sync::LazyLock::new(|| Arc::from("structure:id_list"));
    let b = text.as_bytes();
    // (span to replace, or none to add; the listed number)
    let mut found: Vec<(Option<usize>, Span)> = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if !is_cued_id(s) {
            continue;
        }
        let shape = &b[s.start..s.end];
        let (mut at, mut next) = (s.end, i + 1);
        while let Some(from) = next_item(b, at) {
            let end = item_end(b, from);
            if !same_shape(shape, &b[from..end]) {
                break;
            }
            // A weaker guess on the number itself ("00482914" as a bare
            // phone number) gives way: the list says what it is. Any
            // other span there ends the list.
            let mut replace = None;
            if let Some(n) = spans.get(next).filter(|n| n.start < end) {
                if n.start < from || n.end > end || n.score >= LISTED_SCORE {
                    break;
                }
                replace = Some(next);
                next += 1;
            }
            found.push((
                replace,
                Span {
                    start: from,
                    end,
                    entity: s.entity.clone(),
                    score: LISTED_SCORE,
                    detector: DET.clone(),
                    validated: false,
                },
            ));
            at = end;
        }
    }
    let mut added = false;
    for (replace, span) in found {
        match replace {
            Some(j) => spans[j] = span,
            None => {
                spans.push(span);
                added = true;
            }
        }
    }
    if added {
        spans.sort_by_key(|s| s.start);
    }
}

fn is_cued_id(s: &Span) -> bool {
    &*s.entity == "ID" && s.score >= 0.9 && s.detector.starts_with("rule:")
}

/// Where the next list item starts after a separator at `at`: a comma or
/// semicolon (then optionally "and"/"or"), or "and", "or", "&" between
/// spaces. None when no separator is there.
fn next_item(b: &[u8], at: usize) -> Option<usize> {
    let skip_spaces = |mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        i
    };
    let word = |i: usize| -> Option<usize> {
        for w in [&b"and"[..], b"or", b"&"] {
            if b[i..].starts_with(w) && b.get(i + w.len()).is_some_and(|&c| c == b' ' || c == b'\t')
            {
                return Some(skip_spaces(i + w.len()));
            }
        }
        None
    };
    let i = if matches!(b.get(at), Some(b',' | b';')) {
        let i = skip_spaces(at + 1);
        if i == at + 1 {
            return None;
        }
        word(i).unwrap_or(i)
    } else {
        let i = skip_spaces(at);
        if i == at {
            return None;
        }
        word(i)?
    };
    b.get(i).is_some_and(u8::is_ascii_alphanumeric).then_some(i)
}

/// The end of the item starting at `from`: letters, digits and the
/// joiners `/ : . -` inside it, not after its last letter or digit.
fn item_end(b: &[u8], from: usize) -> usize {
    let mut end = from;
    let mut i = from;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'/' | b':' | b'.' | b'-'))
    {
        i += 1;
        if b[i - 1].is_ascii_alphanumeric() {
            end = i;
        }
    }
    end
}

/// Same joiners in the same places, letter runs of the same length, digit
/// runs of the same length give or take one ("6813/09" lists with
/// "25929/05"), and a digit in every run where the first has one. A
/// list of IDs is written one way; a year or a count after it is not.
fn same_shape(a: &[u8], b: &[u8]) -> bool {
    fn runs(s: &[u8]) -> impl Iterator<Item = (u8, usize)> + '_ {
        let class = |c: u8| {
            if c.is_ascii_digit() {
                b'9'
            } else if c.is_ascii_alphabetic() {
                b'a'
            } else {
                c
            }
        };
        let mut i = 0;
        std::iter::from_fn(move || {
            let c = class(*s.get(i)?);
            let start = i;
            i += 1;
            if c == b'9' || c == b'a' {
                while i < s.len() && class(s[i]) == c {
                    i += 1;
                }
            }
            Some((c, i - start))
        })
    }
    let (mut ra, mut rb) = (runs(a), runs(b));
    loop {
        match (ra.next(), rb.next()) {
            (None, None) => return true,
            (Some((ca, la)), Some((cb, lb))) if ca == cb => {
                let ok = match ca {
                    b'9' => la.abs_diff(lb) <= 1,
                    _ => la == lb,
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str, part: &str, score: f32, det: &str) -> Span {
        let start = text.find(part).unwrap();
        Span {
            start,
            end: start + part.len(),
            entity: Arc::from("ID"),
            score,
            detector: Arc::from(det),
            validated: false,
        }
    }

    fn listed(text: &str, first: Span) -> Vec<&str> {
        let mut v = vec![first];
        id_lists(text, &mut v);
        v.iter().skip(1).map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn the_rest_of_a_cued_list_is_found() {
        let t =
            "complaints (applications nos. 26480/95, 28291/95, 6813/09 and 43362/96) (Rule 43 § 2)";
        assert_eq!(
            listed(t, id(t, "26480/95", 0.96, "rule:case_number")),
            ["28291/95", "6813/09", "43362/96"]
        );
        let t = "MRNs 00482913, 00482914; 00482915 or 00482916.";
        assert_eq!(
            listed(t, id(t, "00482913", 0.96, "rule:mrn")),
            ["00482914", "00482915", "00482916"]
        );
    }

    #[test]
    fn a_list_stops_at_another_shape_or_a_span() {
        // A year, a count and a section number are not list items.
        for t in [
            "case no. 1996/302, 2004 was the year",
            "case no. 1996/302 and 3 others",
            "case no. 1996/302, § 4",
            "case no. 1996/302,1997/303",
        ] {
            assert!(
                listed(t, id(t, "1996/302", 0.96, "rule:case_number")).is_empty(),
                "{t}"
            );
        }
        // Only after a cued rule ID: not a weak one, not a word list's.
        let t = "ID 4471-2290, 4471-2291";
        assert!(listed(t, id(t, "4471-2290", 0.5, "rule:x")).is_empty());
        assert!(listed(t, id(t, "4471-2290", 0.96, "llm")).is_empty());
        // A weaker span on a listed number gives way; a stronger one, or
        // one reaching beyond the number, ends the list.
        let t = "ID 4471-2290, 4471-2291, 4471-2292 and 4471-2293 etc";
        let mut v = vec![
            id(t, "4471-2290", 0.96, "rule:x"),
            id(t, "4471-2291", 0.5, "rule:phone"),
            id(t, "4471-2292 and", 0.5, "rule:y"),
        ];
        id_lists(t, &mut v);
        let got: Vec<_> = v
            .iter()
            .map(|s| (&t[s.start..s.end], &*s.detector))
            .collect();
        assert_eq!(
            got,
            [
                ("4471-2290", "rule:x"),
                ("4471-2291", "structure:id_list"),
                ("4471-2292 and", "rule:y")
            ]
        );
        let mut v = vec![
            id(t, "4471-2290", 0.96, "rule:x"),
            id(t, "4471-2291", 0.95, "rule:phone"),
        ];
        v[1].entity = Arc::from("PHONE");
        id_lists(t, &mut v);
        assert_eq!(v.len(), 2);
        assert_eq!(&*v[1].detector, "rule:phone");
    }

    #[test]
    fn shapes() {
        assert!(same_shape(b"25929/05", b"6813/09"));
        assert!(same_shape(b"2:19-cv-01234", b"2:20-cv-1234"));
        assert!(!same_shape(b"2:19-cv-01234", b"2:20-crim-01234"));
        assert!(!same_shape(b"25929/05", b"25929-05"));
        assert!(!same_shape(b"25929/05", b"259/05"));
        assert!(!same_shape(b"1996/302", b"2004"));
    }
}
