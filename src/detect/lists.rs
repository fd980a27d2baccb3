//! Lists of cued numbers: "applications nos. 26480/95, 28291/95 and
//! 43362/96", "MRNs 00482913, 00482914". A rule's cue ("nos.", "MRN")
//! stands before the first number only, so the rule finds that one; the
//! rest of the list would leak. A number that continues the list right
//! after a cued ID, written the same way, is an ID too.
//!
//! Lists of names: "They had 6: Hans, Linda, Amber, Andrew and Brendan".
//! A name that is a word too (Amber, Crystal, Mark) needs a cue alone;
//! among names, the list is the cue. Lists of places the same way:
//! "lived in Chicago, Denver and Phoenix" has two given names that are
//! cities, and the list says which they are here.

use super::Name;
use super::Span;
use super::gazetteer::Gazetteers;

/// Score of a listed number: it has no cue of its own, but the list's
/// shape and its cued first member are strong evidence.
const LISTED_SCORE: f32 = 0.9;

/// The numbers listed after each cued ID of `spans` (merged, sorted,
/// disjoint), added in order. A cued ID is a rule's ID at 0.9 or more
/// (the cue is part of those rules' matches).
pub fn id_lists(text: &str, spans: &mut Vec<Span>) {
    if spans.iter().any(is_cued_id) {
        cued_id_lists(text, spans);
    }
}

/// [`id_lists`] past its test (a cued ID is rare): out of line, so that the
/// test runs without this body's frame and registers.
#[inline(never)]
fn cued_id_lists(text: &str, spans: &mut Vec<Span>) {
    static DET: std::sync::LazyLock<Name> =
        std::sync::LazyLock::new(|| Name::from("structure:id_list"));
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
                    entity: s.entity,
                    score: LISTED_SCORE,
                    detector: *DET,
                    validated: false,
                },
            ));
            at = end;
        }
    }
    put(spans, found);
}

/// Put each found span in place of the span it replaces, or add it; the
/// spans stay sorted.
fn put(spans: &mut Vec<Span>, found: Vec<(Option<usize>, Span)>) {
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

/// A person found by its list of names, or as a speaker of a dialogue, at
/// [`LISTED_NAME_SCORE`].
fn listed_person(start: usize, end: usize, speaker: bool) -> Span {
    static NAMES: std::sync::LazyLock<[Name; 3]> = std::sync::LazyLock::new(|| {
        ["PERSON", "structure:name_list", "structure:speaker"].map(Name::from)
    });
    let [person, by_list, by_speaker] = &*NAMES;
    Span {
        start,
        end,
        entity: *person,
        score: LISTED_NAME_SCORE,
        detector: if speaker { *by_speaker } else { *by_list },
        validated: false,
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

/// Score of a name found by its list: above the rewrite threshold, below a
/// name the word lists are sure of.
const LISTED_NAME_SCORE: f32 = 0.6;

/// The items of each list of single words or person and place spans,
/// separated by commas and closed by "and"/"&"/"or".
///
/// - **Names.** When at least two items and half of them are persons at or
///   above `threshold`, the other items that can be names
///   ([`Gazetteers::list_name`]) become persons, replacing a weaker span on
///   the same word.
/// - **Places.** When every item is a place (a place span, or a city or
///   country of the word lists) and the list says it is one of places (a
///   place span among the items, or two items that are no given names),
///   the items become places: "Paris, London and Berlin", whose London and
///   Berlin are surnames too, or "Chicago, Denver and Phoenix", whose
///   Denver and Phoenix are given names too. A person the word lists or a
///   list found is relabelled (a name-cue rule's person stays); an item
///   with no span, or a weaker one, is added. This wins over the names: a
///   list that is all places is not one of people.
///
/// Spans stay merged, sorted and disjoint.
pub fn name_lists(text: &str, spans: &mut Vec<Span>, gaz: &Gazetteers, threshold: f32) {
    let [person_name, location_name] = *ENTITIES;
    let person = |s: &Span| s.entity.same(person_name) && s.score >= threshold;
    let place = |s: &Span| s.entity.same(location_name) && s.score >= threshold;
    // A list to change holds a person: a list of place spans alone has
    // nothing to relabel, and a city that is no name has its place span.
    if worth_a_look(spans, person, place) {
        listed_names(text, spans, gaz, threshold);
    }
}

/// The entity names [`name_lists`] looks for: person, location.
static ENTITIES: std::sync::LazyLock<[Name; 2]> =
    std::sync::LazyLock::new(|| ["PERSON", "LOCATION"].map(Name::from));

/// [`name_lists`] past its test: out of line, so that the test (all most
/// records need) runs without this body's frame and registers.
#[inline(never)]
fn listed_names(text: &str, spans: &mut Vec<Span>, gaz: &Gazetteers, threshold: f32) {
    let [person_name, location_name] = *ENTITIES;
    let person = |s: &Span| s.entity.same(person_name) && s.score >= threshold;
    let place = |s: &Span| s.entity.same(location_name) && s.score >= threshold;
    let mut found: Vec<(Option<usize>, Span)> = Vec::new();
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        if !person(&spans[i]) {
            i += 1;
            continue;
        }
        // Most persons stand in no list: nothing separates them from a
        // neighbour.
        let (a, z) = (spans[i].start, spans[i].end);
        let (prev, next) = (
            prev_word_item(text, a, spans),
            next_word_item(text, z, spans),
        );
        if prev.is_none() && next.is_none() {
            i += 1;
            continue;
        }
        // The items before this person (read backwards, then turned), it,
        // and those after it: the list ends past this span, and the loop
        // moves on.
        items.clear();
        let mut at = prev;
        while let Some(p) = at {
            items.push(p);
            at = prev_word_item(text, p.0, spans);
        }
        items.reverse();
        items.push((a, z));
        let mut at = next;
        while let Some(n) = at {
            items.push(n);
            at = next_word_item(text, n.1, spans);
        }
        let last_end = items[items.len() - 1].1;
        // The span covering each item exactly, if any.
        let span_of =
            |(a, z): (usize, usize)| spans.iter().position(|s| s.start == a && s.end == z);
        // A list closes with "and", "&" or "or": commas alone are as often
        // an apposition ("their Agent, Mrs A. Wittling-Vogel, Head of ...").
        let closed = || {
            let between = &text[items[0].1..items[items.len() - 1].0];
            [" and ", " & ", " or "].iter().any(|w| between.contains(w))
        };
        if items.len() >= 3 && closed() {
            // Places first, and only as far as the first item that is none
            // (most lists): a place span, or a city or country word.
            let mut plain_places = 0;
            let mut anchored = false;
            let all_places = items.iter().all(|&(a, z)| {
                if span_of((a, z)).is_some_and(|k| place(&spans[k])) {
                    anchored = true;
                    return true;
                }
                let (is_place, given) = gaz.place_and_given(&text[a..z]);
                plain_places += usize::from(is_place && !given);
                is_place
            });
            if all_places && (anchored || plain_places >= 2) {
                for &(a, z) in &items {
                    let k = span_of((a, z));
                    match k.map(|k| &spans[k]) {
                        Some(s) if place(s) => {}
                        // A name cue ("my name is Paris") is not overruled.
                        Some(s)
                            if s.score >= threshold
                                && !s.detector.starts_with("gazetteer:")
                                && !s.detector.starts_with("structure:") => {}
                        Some(s) if s.score >= threshold => {
                            found.push((k, listed_place(a, z, s.score)));
                        }
                        _ => found.push((k, listed_place(a, z, LISTED_NAME_SCORE))),
                    }
                }
            } else {
                let listed = items
                    .iter()
                    .filter(|&&it| span_of(it).is_some_and(|k| person(&spans[k])))
                    .count();
                if listed >= 2 && 2 * listed >= items.len() {
                    for &(a, z) in &items {
                        let k = span_of((a, z));
                        // (A person is a span at or above the threshold too.)
                        if k.is_some_and(|k| spans[k].score >= threshold) {
                            continue;
                        }
                        if gaz.list_name(&text[a..z]) {
                            found.push((k, listed_person(a, z, false)));
                        }
                    }
                }
            }
        }
        // On past the list.
        while i < spans.len() && spans[i].start < last_end {
            i += 1;
        }
    }
    put(spans, found);
}

/// Whether `spans` hold a person and, with it, at least two persons or
/// places: one pass, which stops as soon as both are seen (most texts
/// with a person).
fn worth_a_look(
    spans: &[Span],
    person: impl Fn(&Span) -> bool,
    place: impl Fn(&Span) -> bool,
) -> bool {
    let (mut persons, mut listed) = (0usize, 0usize);
    for s in spans {
        if person(s) {
            persons += 1;
            listed += 1;
        } else if place(s) {
            listed += 1;
        }
        if persons > 0 && listed >= 2 {
            return true;
        }
    }
    false
}

/// A place found by its list of places, at `score`.
fn listed_place(start: usize, end: usize, score: f32) -> Span {
    static NAMES: std::sync::LazyLock<[Name; 2]> =
        std::sync::LazyLock::new(|| ["LOCATION", "structure:place_list"].map(Name::from));
    let [location, by_list] = &*NAMES;
    Span {
        start,
        end,
        entity: *location,
        score,
        detector: *by_list,
        validated: false,
    }
}

/// A letter of a name, or an apostrophe or hyphen inside one.
fn name_char(c: char) -> bool {
    c.is_alphabetic() || c == '\'' || c == '-' || c == '’'
}

/// Where the run of [`name_char`]s that ends at `end` starts (`end` if
/// none ends there).
fn name_word_start(text: &str, end: usize) -> usize {
    text[..end]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| name_char(c))
        .last()
        .map_or(end, |(i, _)| i)
}

/// The list item after `at`: past a separator (", ", ", and ", " and ",
/// " & ", " or "), either a span starting there or one word, which must
/// end the list or come before another separator. None otherwise.
fn next_word_item(text: &str, at: usize, spans: &[Span]) -> Option<(usize, usize)> {
    let rest = &text[at..];
    let after_comma = rest.strip_prefix(',').map(|r| r.trim_start_matches(' '));
    let body = match after_comma {
        Some(r) if r.len() < rest.len() - 1 => ["and ", "& ", "or "]
            .iter()
            .find_map(|w| r.strip_prefix(w))
            .unwrap_or(r),
        Some(_) => return None,
        None => {
            let r = rest.strip_prefix(' ')?;
            ["and ", "& ", "or "]
                .iter()
                .find_map(|w| r.strip_prefix(w))?
        }
    };
    let start = text.len() - body.len();
    let end = match spans.iter().find(|s| s.start == start) {
        Some(s) => s.end,
        None => start + body.find(|c: char| !name_char(c)).unwrap_or(body.len()),
    };
    if end == start {
        return None;
    }
    // The item is whole: a separator, the end of a clause or the text next.
    let tail = &text[end..];
    let whole = tail.is_empty()
        || tail.starts_with([',', '.', ';', ':', '!', '?', ')', '\n', '"'])
        || [" and ", " & ", " or "].iter().any(|w| tail.starts_with(w));
    whole.then_some((start, end))
}

/// The list item before `at` (the start of an item): a span ending there,
/// or one word, before a separator. None when no separator is there.
fn prev_word_item(text: &str, at: usize, spans: &[Span]) -> Option<(usize, usize)> {
    let head = text[..at].strip_suffix(' ')?;
    let head = ["and", "&", "or"]
        .iter()
        .find_map(|w| {
            head.strip_suffix(w)
                .filter(|h| h.ends_with([' ', ',']))
                .map(|h| h.trim_end_matches(' '))
        })
        .map_or_else(
            || head.strip_suffix(','),
            |h| Some(h.strip_suffix(',').unwrap_or(h)),
        )?;
    let end = head.len();
    let start = match spans.iter().find(|s| s.end == end) {
        Some(s) => s.start,
        None => name_word_start(text, end),
    };
    (start < end).then_some((start, end))
}

/// Speakers of a dialogue: a line that opens with one word and a colon
/// ("Amber: I'm Cynthia's daughter") names who speaks. When at least two
/// lines of the text open so (a chat log, a transcript), each such word
/// that can be a name ([`Gazetteers::list_name`]: not "Agent", "Note",
/// "Subject") is a person, replacing a weaker span on it. Alone, "Mark:"
/// or "Will:" could be anything.
///
/// Two labels open two lines, and only one line opens the text: a text
/// with no line break has at most one label, and is passed over before
/// its colons are looked at (most short records).
pub fn speaker_labels(text: &str, spans: &mut Vec<Span>, gaz: &Gazetteers, threshold: f32) {
    if memchr::memchr(b'\n', text.as_bytes()).is_some() {
        all_speaker_labels(text, spans, gaz, threshold);
    }
}

/// [`speaker_labels`] with no shortcut (out of line: most texts need only
/// the shortcut's test).
#[inline(never)]
fn all_speaker_labels(text: &str, spans: &mut Vec<Span>, gaz: &Gazetteers, threshold: f32) {
    let b = text.as_bytes();
    // (start, end) of each line's opening word before a colon, found from
    // the colons (few) rather than the lines (many, in long documents).
    let mut labels: Vec<(usize, usize)> = Vec::new();
    for c in memchr::memchr_iter(b':', b) {
        // "https://", "::" are no labels.
        if matches!(b.get(c + 1), Some(b'/' | b':')) {
            continue;
        }
        let mut end = c;
        while end > 0 && b[end - 1] == b' ' {
            end -= 1;
        }
        let start = name_word_start(text, end);
        let mut k = start;
        while k > 0 && matches!(b[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        if start < end
            && (k == 0 || b[k - 1] == b'\n')
            && text[start..].starts_with(char::is_alphabetic)
        {
            labels.push((start, end));
        }
    }
    if labels.len() < 2 {
        return;
    }
    let mut found = Vec::new();
    for (start, end) in labels {
        // A span on the word, or over it.
        let k = spans.iter().position(|s| s.start < end && s.end > start);
        if let Some(k) = k
            && (spans[k].score >= threshold || spans[k].start != start || spans[k].end != end)
        {
            continue;
        }
        let word = &text[start..end];
        // "HPI:", "PMH:", "ROS:": a clinical note's section heads. A short
        // label in capitals is a name only if the lists know it ("JOHN:",
        // as screenplays write speakers).
        let acronym = word.len() <= 4 && word.bytes().all(|b| b.is_ascii_uppercase());
        if !gaz.list_name(word) || acronym && !gaz.is_name(word) {
            continue;
        }
        found.push((k, listed_person(start, end, true)));
    }
    put(spans, found);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str, part: &str, score: f32, det: &str) -> Span {
        let start = text.find(part).unwrap();
        Span {
            start,
            end: start + part.len(),
            entity: Name::from("ID"),
            score,
            detector: Name::from(det),
            validated: false,
        }
    }

    fn listed(text: &str, first: Span) -> Vec<&str> {
        let mut v = vec![first];
        id_lists(text, &mut v);
        v.iter().skip(1).map(|s| &text[s.start..s.end]).collect()
    }

    /// [`worth_a_look`] says what the two counts it replaced said.
    #[test]
    fn worth_a_look_is_the_counts() {
        let kinds = ["PERSON", "LOCATION", "ID", "PERSOM", "LOCATIOM"];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            // A step here too: an empty list must not stall the generator.
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = (rng >> 61) as usize % 5;
            let spans: Vec<Span> = (0..n)
                .map(|k| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    Span {
                        start: k,
                        end: k + 1,
                        entity: Name::new(&String::from(kinds[(rng % 5) as usize])),
                        score: if rng & 8 == 0 { 0.9 } else { 0.3 },
                        detector: Name::from("t"),
                        validated: false,
                    }
                })
                .collect();
            let threshold = 0.5;
            let person = |s: &Span| &*s.entity == "PERSON" && s.score >= threshold;
            let place = |s: &Span| &*s.entity == "LOCATION" && s.score >= threshold;
            let persons = spans.iter().filter(|s| person(s)).count();
            let plain = persons > 0 && persons + spans.iter().filter(|s| place(s)).count() >= 2;
            let (p, l) = (Name::from("PERSON"), Name::from("LOCATION"));
            let fast = worth_a_look(
                &spans,
                |s| s.entity.same(p) && s.score >= threshold,
                |s| s.entity.same(l) && s.score >= threshold,
            );
            assert_eq!(fast, plain, "{spans:?}");
        }
    }

    /// The shortcut of [`speaker_labels`] finds what the whole search
    /// finds, on texts of label-like pieces with and without line breaks.
    #[test]
    fn speaker_labels_shortcut_is_exact() {
        let pieces = [
            "Amber: ",
            "\nMark:",
            "\n\tWill : ",
            "Hope",
            ":",
            " ",
            "\n",
            "x",
            "//",
            "é",
            "\r",
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut hits = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            for _ in 0..(rng >> 60) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                text.push_str(pieces[(rng % pieces.len() as u64) as usize]);
            }
            let (mut fast, mut plain) = (Vec::new(), Vec::new());
            speaker_labels(&text, &mut fast, gaz(), 0.5);
            all_speaker_labels(&text, &mut plain, gaz(), 0.5);
            assert_eq!(fast, plain, "{text:?}");
            hits += usize::from(!plain.is_empty());
        }
        assert!(hits > 0);
    }

    fn gaz() -> &'static Gazetteers {
        static G: std::sync::OnceLock<Gazetteers> = std::sync::OnceLock::new();
        G.get_or_init(Gazetteers::builtin)
    }

    /// Persons after [`name_lists`], given the persons (at 0.8) in `known`.
    fn names(text: &str, known: &[&str]) -> Vec<String> {
        let known: Vec<_> = known.iter().map(|&k| (NAME.0, k, 0.8, NAME.1)).collect();
        labelled(text, &known)
            .into_iter()
            .map(|(_, word, _)| word)
            .collect()
    }

    #[test]
    fn names_that_are_words_are_names_in_a_list_of_names() {
        let t = "They had 6: Hans, Linda, Amber, Andrew, Brendan and Ama.";
        assert_eq!(
            names(t, &["Hans", "Linda", "Andrew", "Brendan", "Ama"]),
            ["Hans", "Linda", "Amber", "Andrew", "Brendan", "Ama"]
        );
        let t = "they had 6: natalina, thomas, crystal, omar, zachary and brandy.";
        assert_eq!(
            names(t, &["thomas", "omar", "zachary"]),
            ["natalina", "thomas", "crystal", "omar", "zachary", "brandy"]
        );
        let t = "Tom, Hope & Mary Ann Smith came.";
        assert_eq!(
            names(t, &["Tom", "Mary Ann Smith"]),
            ["Tom", "Hope", "Mary Ann Smith"]
        );
    }

    #[test]
    fn other_lists_stay_as_they_are() {
        for (t, known) in [
            // Not closed by "and": an apposition.
            (
                "signed in Amber, Mrs A. Wittling-Vogel, Mark Hope",
                &["Mrs A. Wittling-Vogel", "Mark Hope"][..],
            ),
            // "the kids" is no one-word item; fewer than half are names.
            ("I met John, Mary and the kids.", &["John", "Mary"]),
            ("apples, pears, Amber, John and Mary", &["John", "Mary"]),
            // Two items only; one person alone.
            ("Anna and Grace", &["Anna"]),
            ("Anna", &["Anna"]),
            // A surname that is a word ("agent") is none by its list.
            ("Anna, Maria and Agent", &["Anna", "Maria"]),
        ] {
            assert_eq!(names(t, known), known, "{t}");
        }
    }

    /// (entity, detector) of the word lists' places and persons.
    const PLACE: (&str, &str) = ("LOCATION", "gazetteer:place");
    const NAME: (&str, &str) = ("PERSON", "gazetteer:name");

    /// (entity, text, detector) after [`name_lists`], given the spans as
    /// (entity, text, score, detector).
    fn labelled(text: &str, known: &[(&str, &str, f32, &str)]) -> Vec<(String, String, String)> {
        let mut v: Vec<Span> = known
            .iter()
            .map(|&(entity, k, score, det)| {
                let start = text.find(k).unwrap();
                Span {
                    start,
                    end: start + k.len(),
                    entity: Name::from(entity),
                    score,
                    detector: Name::from(det),
                    validated: false,
                }
            })
            .collect();
        v.sort_by_key(|s| s.start);
        name_lists(text, &mut v, gaz(), 0.5);
        assert!(v.windows(2).all(|w| w[0].end <= w[1].start));
        v.iter()
            .map(|s| {
                (
                    s.entity.to_string(),
                    text[s.start..s.end].to_string(),
                    s.detector.to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn cities_that_are_names_are_places_in_a_list_of_places() {
        let t = "She has lived in Chicago, Denver and Phoenix.";
        let got = labelled(
            t,
            &[
                (PLACE.0, "Chicago", 0.85, PLACE.1),
                (NAME.0, "Denver", 0.8, NAME.1),
                (NAME.0, "Phoenix", 0.6, NAME.1),
            ],
        );
        let want = |e: &str, w: &str, d: &str| (e.to_string(), w.to_string(), d.to_string());
        assert_eq!(
            got,
            [
                want("LOCATION", "Chicago", "gazetteer:place"),
                want("LOCATION", "Denver", "structure:place_list"),
                want("LOCATION", "Phoenix", "structure:place_list"),
            ]
        );
        // A city with no span joins too, and "or" closes a list as well.
        let t = "Offices in Madrid, Austin or Lisbon.";
        let got = labelled(
            t,
            &[
                (PLACE.0, "Madrid", 0.85, PLACE.1),
                (NAME.0, "Austin", 0.8, NAME.1),
            ],
        );
        assert_eq!(
            got,
            [
                want("LOCATION", "Madrid", "gazetteer:place"),
                want("LOCATION", "Austin", "structure:place_list"),
                want("LOCATION", "Lisbon", "structure:place_list"),
            ]
        );
    }

    #[test]
    fn lists_of_people_named_like_places_stay_people() {
        for (t, known) in [
            // Given names all, and no place span: a list of people.
            (
                "Paris, Chelsea and Austin came to the party.",
                &[
                    (NAME.0, "Paris", 0.7, NAME.1),
                    (NAME.0, "Chelsea", 0.8, NAME.1),
                    (NAME.0, "Austin", 0.8, NAME.1),
                ][..],
            ),
            // One item is no place.
            (
                "We met in Denver, Smith and Phoenix.",
                &[
                    (PLACE.0, "Denver", 0.85, PLACE.1),
                    (NAME.0, "Smith", 0.8, NAME.1),
                    (NAME.0, "Phoenix", 0.8, NAME.1),
                ],
            ),
            // A name cue's person is not overruled; two items are no list.
            (
                "Cities: Madrid, Lisbon and Denver, my friend.",
                &[
                    (PLACE.0, "Madrid", 0.85, PLACE.1),
                    (PLACE.0, "Lisbon", 0.85, PLACE.1),
                    (NAME.0, "Denver", 0.9, "rule:name_cue_strong"),
                ],
            ),
            (
                "Flights to Madrid and Denver.",
                &[
                    (PLACE.0, "Madrid", 0.85, PLACE.1),
                    (NAME.0, "Denver", 0.8, NAME.1),
                ],
            ),
        ] {
            let want: Vec<(String, String, String)> = known
                .iter()
                .map(|&(e, w, _, d)| (e.to_string(), w.to_string(), d.to_string()))
                .collect();
            assert_eq!(labelled(t, known), want, "{t}");
        }
    }

    fn speakers(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        speaker_labels(text, &mut v, gaz(), 0.5);
        v.iter().map(|s| text[s.start..s.end].to_string()).collect()
    }

    #[test]
    fn speakers_of_a_dialogue_are_persons() {
        assert_eq!(
            speakers("Troy: \"Who are you?\"\nAmber: \"I'm Cynthia's daughter\"."),
            ["Troy", "Amber"]
        );
        assert_eq!(
            speakers("Agent: How can I help?\n  Mark : my card was charged twice\nAgent: Sorry"),
            ["Mark"]
        );
        // One label line; a time, a URL and headers are no speakers.
        assert!(speakers("Mark: 5/10").is_empty());
        assert!(
            speakers("Note: call back\nSubject: refund\nAt 10:30 see https://x.org").is_empty()
        );
        assert!(speakers("Will: yes\nhttps://example.org\nMay:").len() == 2);
    }

    /// A clinical note's section heads ("HPI:", "PMH:") open lines as
    /// speakers do; short capitals the name lists do not know are no
    /// speakers. Names in capitals, as screenplays write them, still are.
    #[test]
    fn section_heads_in_capitals_are_no_speakers() {
        assert!(speakers("HPI: cough x3 days\nPMH: HTN\nA/P: CXR").is_empty());
        assert!(speakers("Meds: aspirin 81 mg daily\nVitals: stable\nPlan: troponin").is_empty());
        assert_eq!(speakers("JOHN: hello\nMARY: hi there"), ["JOHN", "MARY"]);
        // Longer unknown words in capitals may be surnames.
        assert_eq!(speakers("KOWALCZYK: yes\nAgent: ok"), ["KOWALCZYK"]);
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
        v[1].entity = Name::from("PHONE");
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
