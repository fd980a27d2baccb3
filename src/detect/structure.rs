//! Address structure: evidence no single pattern sees.
//!
//! Postal addresses are written in blocks and in number–name–number shapes
//! that differ by country ("89 Gammelhavn 36", "Apt. 5 / Assen / Japan
//! 00436"). Once one part of an address is found, its neighbours are
//! probably address too:
//!
//! - a house number right before an address span belongs to it;
//! - a name found by the gazetteer between two numbers is a street;
//! - the short lines that follow an address line (city, region, country and
//!   postcode lines of a postal block) are places.

use super::Name;
use super::{Gazetteers, Span};

/// Longest line still taken as a city/region line of an address block.
const BLOCK_LINE_MAX: usize = 48;

/// Apply the address heuristics to merged, sorted, disjoint `spans`.
/// Returns spans that are still sorted and disjoint.
pub fn address_context(text: &str, spans: &mut Vec<Span>, gaz: &Gazetteers) {
    if spans.is_empty() {
        return;
    }
    // Built once: this runs for every record, and most records change
    // nothing (three allocations each were a measurable part of a scan).
    static NAMES: std::sync::LazyLock<[Name; 5]> = std::sync::LazyLock::new(|| {
        ["ADDRESS", "LOCATION", "structure:address", "ZIP", "ORG"].map(Name::from)
    });
    let [address, location, det, zip, org] = &*NAMES;
    let mut changed = false;
    // Which entities the spans hold after this loop, gathered on the way
    // (the loop reads each entity anyway; separate passes to find them
    // cost more): places (counted, as one may become an address), and
    // addresses or postcodes.
    let (mut places, mut addr_or_zip) = (0usize, false);
    for i in 0..spans.len() {
        let s = &spans[i];
        // Only addresses and word-list names look at their neighbours;
        // everything else (most spans) is left as it is without looking.
        let e = &*s.entity;
        let (is_addr, is_place) = (e == "ADDRESS", e == "LOCATION");
        places += usize::from(is_place);
        addr_or_zip |= is_addr || e == "ZIP";
        let gaz_name = s.score < 0.9 && s.detector.starts_with("gazetteer:");
        if !is_addr && !gaz_name {
            continue;
        }
        // A name becomes a street only with a number after it: looked for
        // first, as most names have none (and then nothing before them is
        // read).
        let after = if gaz_name {
            number_after(text, s.end)
        } else {
            None
        };
        if !is_addr && after.is_none() {
            continue;
        }
        let prev_end = if i > 0 { spans[i - 1].end } else { 0 };
        // A name may be the last word of a street whose first words are
        // ordinary ones ("11 Paso Rivero 7301", "17 R Família Marques 19"):
        // looked for only if a number follows, as the street needs. Both
        // searches stop at the span before (`prev_end`).
        let Some(before) = house_number_before(text, s.start, prev_end).or_else(|| {
            after
                .is_some()
                .then(|| street_words_before(text, s.start, prev_end))
                .flatten()
        }) else {
            continue;
        };
        if is_addr {
            spans[i].start = before;
            changed = true;
        } else if let Some(a) =
            after.filter(|&a| a <= spans.get(i + 1).map_or(text.len(), |n| n.start))
        {
            {
                let sp = &mut spans[i];
                sp.start = before;
                sp.end = a;
                sp.entity = *address;
                sp.detector = *det;
                sp.score = sp.score.max(0.6);
                changed = true;
            }
            // No longer a place (if it was one), now an address.
            places -= usize::from(is_place);
            addr_or_zip = true;
        }
    }
    if changed {
        // Extensions only grow into gaps, so order and disjointness hold.
        debug_assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
    }
    // Tests hold the gathered flags to the passes they replace.
    #[cfg(test)]
    assert_eq!(places > 0, plain_flags(spans).0, "{spans:?}");
    if places > 0 {
        let added = postcodes_before_places(text, spans, zip, det);
        // What it adds is postcodes.
        addr_or_zip |= !added.is_empty();
        add_sorted(spans, added);
    }
    #[cfg(test)]
    assert_eq!(addr_or_zip, plain_flags(spans).1, "{spans:?}");
    if addr_or_zip {
        city_before_postcode(text, spans, location, det, gaz);
        let added = venue_before_address(text, spans, org, det);
        add_sorted(spans, added);
        let added = company_line_before_address(text, spans, [org, address, det]);
        add_sorted(spans, added);
        city_after_address(text, spans, location, det, gaz);
        trailing_places(text, spans, location, det, gaz);
        block_lines(text, spans, location, det, gaz);
    }
}

/// Whether `spans` hold a place, and an address or postcode: what
/// [`address_context`] gathers in its first loop, by separate passes.
#[cfg(test)]
fn plain_flags(spans: &[Span]) -> (bool, bool) {
    (
        spans.iter().any(|s| &*s.entity == "LOCATION"),
        spans
            .iter()
            .any(|s| matches!(&*s.entity, "ADDRESS" | "ZIP")),
    )
}

/// Add spans found in gaps between existing ones, keeping the order.
/// The test inline (nearly always nothing is added), the sort not.
#[inline]
fn add_sorted(spans: &mut Vec<Span>, added: Vec<Span>) {
    if !added.is_empty() {
        add_sorted_some(spans, added);
    }
}

/// [`add_sorted`] of some spans.
#[inline(never)]
fn add_sorted_some(spans: &mut Vec<Span>, added: Vec<Span>) {
    spans.extend(added);
    spans.sort_by_key(|s| s.start);
}

/// Where the text before `spans[i]` may be read: from the end of the
/// span before it (0 for the first) to the start of the spaces right
/// before it, as `(floor, end)`.
fn left_gap(b: &[u8], spans: &[Span], i: usize) -> (usize, usize) {
    let floor = if i > 0 { spans[i - 1].end } else { 0 };
    let mut j = spans[i].start;
    while j > floor && b[j - 1] == b' ' {
        j -= 1;
    }
    (floor, j)
}

/// "Hauptstraße 5, 10115 Berlin", "75002 Paris" on a line of its own,
/// "D-10115 Berlin", "1017 GC Amsterdam": four or five digits (with a
/// country prefix before them, or a Dutch postcode's two letters after)
/// between a comma or a line start and a place are its postcode. Only
/// there: in "in 1995 Berlin was divided" the number is a year.
fn postcodes_before_places(text: &str, spans: &[Span], zip: &Name, det: &Name) -> Vec<Span> {
    let b = text.as_bytes();
    let mut added = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if &*s.entity != "LOCATION" {
            continue;
        }
        let (floor, mut j) = left_gap(b, spans, i);
        let end = j;
        if end == s.start {
            continue;
        }
        if j >= floor + 3
            && b[j - 1].is_ascii_uppercase()
            && b[j - 2].is_ascii_uppercase()
            && b[j - 3] == b' '
        {
            j -= 3;
        }
        let digits_end = j;
        while j > floor && b[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if !(4..=5).contains(&(digits_end - j)) {
            continue;
        }
        // A country prefix: "D-", "CH-".
        if j >= floor + 2 && b[j - 1] == b'-' {
            let mut k = j - 1;
            while k > floor && j - 1 - k < 2 && b[k - 1].is_ascii_uppercase() {
                k -= 1;
            }
            if k < j - 1 {
                j = k;
            }
        }
        let mut q = j;
        while q > floor && matches!(b[q - 1], b' ' | b'\t') {
            q -= 1;
        }
        let opens = q == 0 || matches!(b[q - 1], b'\n' | b'(') || b[q - 1] == b',' && q < j;
        if !opens || q < floor {
            continue;
        }
        added.push(Span {
            start: j,
            end,
            entity: *zip,
            score: 0.75,
            detector: *det,
            validated: false,
        });
    }
    added
}

/// "meet at MysticWeb, 24 Kuefsteinstrasse 91", "works at Joe's Diner,
/// 12 Main Street": the name between "at" and the comma before an
/// address is the place there (a business, a venue), which names the
/// address as well as its street does. Up to four words, each capitalised
/// or holding a digit ("Ideas42"), with nothing found on them yet.
fn venue_before_address(text: &str, spans: &[Span], org: &Name, det: &Name) -> Vec<Span> {
    let b = text.as_bytes();
    let mut added = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if &*s.entity != "ADDRESS" {
            continue;
        }
        let (floor, j) = left_gap(b, spans, i);
        if j == floor || b[j - 1] != b',' {
            continue;
        }
        let end = j - 1;
        // Back over the words of the name, to the "at" before them.
        let name_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'\'' | b'&' | b'-');
        let (mut cursor, mut words) = (end, 0);
        while cursor > floor {
            let mut k = cursor;
            while k > floor && name_byte(b[k - 1]) {
                k -= 1;
            }
            let word = &b[k..cursor];
            if word == b"at" && words > 0 && (k == 0 || !b[k - 1].is_ascii_alphanumeric()) {
                added.push(Span {
                    start: cursor + 1,
                    end,
                    entity: *org,
                    score: 0.6,
                    detector: *det,
                    validated: false,
                });
                break;
            }
            let named = word.first().is_some_and(|c| c.is_ascii_uppercase())
                || word.iter().any(u8::is_ascii_digit);
            if !named || words == 4 || k == floor || b[k - 1] != b' ' {
                break;
            }
            words += 1;
            cursor = k - 1;
        }
    }
    added
}

/// The line above a street address that opens its line is the company's
/// in a block of short lines: a signature or letterhead names the
/// employer there ("Jane Roe\nAcme Widgets\n12 Main Street"). Only a
/// short line (six words or fewer) with no span in it and no closing
/// punctuation (not "Home address:", not a sentence), one blank line
/// allowed between, and only if the line above it is short too, or there
/// is none.
fn company_line_before_address(
    text: &str,
    spans: &[Span],
    [org, address, det]: [&Name; 3],
) -> Vec<Span> {
    let b = text.as_bytes();
    let line_start = |end: usize| memchr::memrchr(b'\n', &b[..end]).map_or(0, |p| p + 1);
    // A line's text without the bullets and spaces around it.
    let trim = |from: usize, to: usize| {
        let mut a = from;
        while a < to && b[a].is_ascii() && !b[a].is_ascii_alphanumeric() {
            a += 1;
        }
        let mut z = to;
        while z > a && b[z - 1].is_ascii_whitespace() {
            z -= 1;
        }
        (a, z)
    };
    let short = |a: usize, z: usize| z - a <= 60 && text[a..z].split_whitespace().count() <= 6;
    let mut added = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if &*s.entity != "ADDRESS" {
            continue;
        }
        // Back over bullets and spaces only to the line's start: an
        // address inside its line (most) is left at once.
        let mut ls = s.start;
        while ls > 0
            && b[ls - 1] != b'\n'
            && b[ls - 1].is_ascii()
            && !b[ls - 1].is_ascii_alphanumeric()
        {
            ls -= 1;
        }
        if ls == 0 || b[ls - 1] != b'\n' {
            continue;
        }
        // The line above, or the one above a blank line.
        let (mut ps, mut pe) = (line_start(ls - 1), ls - 1);
        let (mut a, mut z) = trim(ps, pe);
        if a == z && ps > 0 {
            (ps, pe) = (line_start(ps - 1), ps - 1);
            (a, z) = trim(ps, pe);
        }
        let floor = if i > 0 { spans[i - 1].end } else { 0 };
        if a == z || a < floor || !short(a, z) {
            continue;
        }
        if matches!(b[z - 1], b':' | b',' | b'.' | b';' | b'?' | b'!') {
            continue;
        }
        let above_ok = ps == 0 || {
            let (a2, z2) = trim(line_start(ps - 1), ps - 1);
            a2 == z2 || short(a2, z2) && !matches!(b[z2 - 1], b'.' | b'?' | b'!' | b':')
        };
        if above_ok {
            // A line that opens with a number is the street's own first
            // line ("19 guipúzcoa 1268" above "apt. 013"), not a company.
            added.push(Span {
                start: a,
                end: z,
                entity: if b[a].is_ascii_digit() {
                    *address
                } else {
                    *org
                },
                score: 0.6,
                detector: *det,
                validated: false,
            });
        }
    }
    added
}

/// "Austin TX 78701", "Sydney NSW 2000": a name from the word lists right
/// before a postcode (with a state code and commas between, or inside the
/// name's span: "Sydney NSW") that is a city is the address's city, not a
/// person. Austin, Sydney, Darwin and Hobart are first names as well.
fn city_before_postcode(
    text: &str,
    spans: &mut [Span],
    location: &Name,
    det: &Name,
    gaz: &Gazetteers,
) {
    for i in 1..spans.len() {
        let p = &spans[i - 1];
        if &*spans[i].entity != "ZIP"
            || !weak_list_person(p, 0.9)
            || !state_code_or_nothing(&text[p.end..spans[i].start])
        {
            continue;
        }
        let name = &text[p.start..p.end];
        let city = name.trim_end_matches(|c: char| c.is_ascii_uppercase() || c == ' ' || c == ',');
        if city.is_empty() || !state_code_or_nothing(&name[city.len()..]) || !gaz.is_city(city) {
            continue;
        }
        make_place(&mut spans[i - 1], location, det, 0.7);
    }
}

/// Whether `s` is a person only by the word lists' guess (scored below
/// `bound`), which the structure of an address may overrule.
fn weak_list_person(s: &Span, bound: f32) -> bool {
    &*s.entity == "PERSON" && s.score < bound && s.detector.starts_with("gazetteer:")
}

/// Retype `sp` as a place of the address structure, scored at least
/// `floor`.
fn make_place(sp: &mut Span, location: &Name, det: &Name, floor: f32) {
    sp.entity = *location;
    sp.detector = *det;
    sp.score = sp.score.max(floor);
}

/// "1420 Maple Avenue, Springfield tomorrow", "Vibyvej 8, Måløv": a name
/// from the word lists right after the comma that closes an address is
/// the address's town, not a person, when the lists know it as a city or
/// nothing but the end of the line or sentence, a comma or a postcode
/// follows it. Many towns are surnames too (Springfield, Burgos, Milford),
/// and typed as a person such a town got a person's name as its
/// surrogate, the address then reading "1420 Maple Avenue, Martha Klein".
fn city_after_address(
    text: &str,
    spans: &mut [Span],
    location: &Name,
    det: &Name,
    gaz: &Gazetteers,
) {
    for i in 1..spans.len() {
        let (a, p) = (&spans[i - 1], &spans[i]);
        if &*a.entity != "ADDRESS"
            || !weak_list_person(p, 0.9)
            || p.start != a.end + 2
            || !text[a.end..].starts_with(", ")
        {
            continue;
        }
        let after = text[p.end..].trim_start_matches(' ');
        let ends_place = after.is_empty()
            || after.starts_with(['\n', '\r', ',', '.', ';'])
            || after.starts_with(|c: char| c.is_ascii_digit());
        if !ends_place && !gaz.is_city(&text[p.start..p.end]) {
            continue;
        }
        make_place(&mut spans[i], location, det, 0.6);
    }
}

/// Spaces and commas around at most one state code (2-3 capitals).
fn state_code_or_nothing(gap: &str) -> bool {
    let t = gap.trim_matches([' ', ',']);
    t.is_empty() || (2..=3).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_uppercase())
}

/// "lives at 38 Calle Mayor 88, Villafranca del Cid": the words after the
/// comma that closes an address, up to the end of the line or sentence.
fn trailing_places(
    text: &str,
    spans: &mut Vec<Span>,
    location: &Name,
    det: &Name,
    gaz: &Gazetteers,
) {
    let mut added = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if &*s.entity != "ADDRESS" {
            continue;
        }
        let rest = &text[s.end..];
        let Some(after) = rest.strip_prefix(", ") else {
            continue;
        };
        let Some(stop) = segment_end(after) else {
            continue;
        };
        let seg = after[..stop].trim_end_matches([',', ' ']);
        let limit = spans.get(i + 1).map_or(text.len(), |n| n.start);
        let start = s.end + 2;
        let end = start + seg.len();
        if seg.is_empty()
            || end > limit
            || seg.split_whitespace().count() > 4
            || seg.len() > BLOCK_LINE_MAX
            || gaz.has_common_word(seg)
            || !seg.chars().any(char::is_alphabetic)
        {
            continue;
        }
        added.push(Span {
            start,
            end,
            entity: *location,
            score: 0.6,
            detector: *det,
            validated: false,
        });
    }
    add_sorted(spans, added);
}

/// Where the place words after an address's ", " end: the first of
/// `\n . ! ? ; ( ) "`, or the end of `after`. None when the segment would
/// be longer than `BLOCK_LINE_MAX` even without its trailing commas and
/// spaces: found without reading on to the stop, which on a long line
/// of addresses and no full stop read the rest of the text per address.
fn segment_end(after: &str) -> Option<usize> {
    for (i, &c) in after.as_bytes().iter().enumerate() {
        if matches!(c, b'\n' | b'.' | b'!' | b'?' | b';' | b'(' | b')' | b'"') {
            return Some(i);
        }
        if i >= BLOCK_LINE_MAX && c != b',' && c != b' ' {
            return None;
        }
    }
    Some(after.len())
}

/// Start of "12 " / "12a, " / "46 89 " directly before `pos` on one line,
/// not before `floor` (the end of the span before): in "Apt. 630 39
/// Rincon 9082" the unit's number is not the street's, and "39" alone is
/// its house number.
fn house_number_before(text: &str, pos: usize, floor: usize) -> Option<usize> {
    // Bytes, not chars: every byte looked at must be ASCII (a space, a
    // comma, a letter or digit) and no byte of a multi-byte char is.
    let b = text.as_bytes();
    let mut start = None;
    let mut cur = pos;
    for _ in 0..2 {
        let mut trimmed = cur;
        while trimmed > 0 && matches!(b[trimmed - 1], b' ' | b',') {
            trimmed -= 1;
        }
        if trimmed == cur {
            break;
        }
        // A word of 7 or more is no house number: stop looking there.
        let mut digits_start = trimmed;
        while digits_start > 0
            && trimmed - digits_start < 7
            && b[digits_start - 1].is_ascii_alphanumeric()
        {
            digits_start -= 1;
        }
        if digits_start == trimmed {
            break;
        }
        let word = &b[digits_start..trimmed];
        let ok = word.len() <= 6
            && word[0].is_ascii_digit()
            && word.iter().filter(|c| c.is_ascii_alphabetic()).count() <= 1;
        if !ok
            || digits_start < floor
            || text[..digits_start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            break;
        }
        start = Some(digits_start);
        cur = digits_start;
    }
    start
}

/// Where the house number starts before one to three capitalised words
/// that end right before `pos`, each after a single space ("11 Paso" before
/// "Rivero", "17 R Família" before "Marques"), or None; the number not
/// before `floor` (see [`house_number_before`]).
fn street_words_before(text: &str, pos: usize, floor: usize) -> Option<usize> {
    let mut cur = pos;
    for _ in 0..3 {
        let head = text[..cur].strip_suffix(' ')?;
        let start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphabetic())
            .last()?
            .0;
        if !head[start..].starts_with(char::is_uppercase) {
            return None;
        }
        if let Some(b) = house_number_before(text, start, floor) {
            return Some(b);
        }
        cur = start;
    }
    None
}

/// End of " 36" / " 36b" directly after `pos` on the same line.
fn number_after(text: &str, pos: usize) -> Option<usize> {
    // Most words have no digit one or two spaces after them: answered
    // from those bytes, before the trimming and counting of the full test.
    let b = text.as_bytes();
    let sp = 1 + usize::from(b.get(pos + 1) == Some(&b' '));
    if b.get(pos) != Some(&b' ') || !b.get(pos + sp).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    number_after_full(text, pos)
}

/// [`number_after`] without its look at the bytes first.
fn number_after_full(text: &str, pos: usize) -> Option<usize> {
    let tail = &text[pos..];
    let sp = tail.len() - tail.trim_start_matches(' ').len();
    if sp == 0 || sp > 2 {
        return None;
    }
    let rest = &tail[sp..];
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || n > 5 {
        return None;
    }
    let mut end = sp + n;
    if rest[n..].starts_with(|c: char| c.is_ascii_alphabetic())
        && !rest[n + 1..].starts_with(|c: char| c.is_alphanumeric())
    {
        end += 1;
    }
    if tail[end..].starts_with(|c: char| c.is_alphanumeric()) {
        return None;
    }
    Some(pos + end)
}

/// The short lines of a postal block: the line holding an address span and
/// up to three short lines after it (city, region, country + postcode).
/// What such a line holds outside existing spans becomes LOCATION.
fn block_lines(text: &str, spans: &mut Vec<Span>, location: &Name, det: &Name, gaz: &Gazetteers) {
    let mut added = Vec::new();
    // The address spans, once: lines are many and these are few.
    // (The first few on the stack: most records hold one or two.)
    // (start, end, whether a street: not a postcode)
    let mut first = [(0usize, 0usize, false); 8];
    let (mut n_first, mut all) = (0, Vec::new());
    for s in spans
        .iter()
        .filter(|s| matches!(&*s.entity, "ADDRESS" | "ZIP"))
    {
        if all.is_empty() && n_first < first.len() {
            first[n_first] = (s.start, s.end, &*s.entity == "ADDRESS");
            n_first += 1;
        } else {
            if all.is_empty() {
                all.extend_from_slice(&first[..n_first]);
            }
            all.push((s.start, s.end, &*s.entity == "ADDRESS"));
        }
    }
    let addrs: &[(usize, usize, bool)] = if all.is_empty() {
        &first[..n_first]
    } else {
        &all
    };
    // Sorted and disjoint, so their ends rise too: the one address that
    // can touch `cs..ce` is the first ending after `cs`. (Looking at all
    // of them per line was lines x addresses.)
    let touching = |cs: usize, ce: usize| {
        let i = addrs.partition_point(|&(_, e, _)| e <= cs);
        addrs.get(i).filter(|&&(s, _, _)| s < ce)
    };
    let b = text.as_bytes();
    let mut after_address = 0usize;
    let mut pos = 0usize;
    while pos < b.len() {
        // Outside a block, the lines before the next address's line change
        // nothing (no address touches them): go straight to that line
        // rather than reading each of them (most of a long text).
        if after_address == 0 {
            let i = addrs.partition_point(|&(_, e, _)| e <= pos);
            let Some(&(s, _, _)) = addrs.get(i) else {
                break;
            };
            if s > pos {
                pos = memchr::memrchr(b'\n', &b[pos..s]).map_or(pos, |k| pos + k + 1);
            }
        }
        // The line `start..offset`, its '\n' included.
        let start = pos;
        let offset = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |k| pos + k + 1);
        pos = offset;
        let mut body_end = offset;
        while body_end > start && matches!(b[body_end - 1], b'\n' | b'\r') {
            body_end -= 1;
        }
        // Trim decoration: spaces, quote markers, bullets.
        let lead = decoration_len(&text[start..body_end]);
        let content = trim_end_ws(&text[start + lead..body_end]);
        if content.is_empty() {
            continue;
        }
        let (cs, ce) = (start + lead, start + lead + content.len());
        let first = touching(cs, ce);
        let has_addr = first.is_some();
        if has_addr {
            after_address = 3;
        } else if after_address > 0 {
            after_address -= 1;
        } else {
            continue;
        }
        let prose = content.ends_with(['.', '?', '!', ':']);
        if prose || !(content.len() <= BLOCK_LINE_MAX && at_most_words(content, 6)) {
            if !has_addr {
                after_address = 0;
            }
            continue;
        }
        // On a street's own line, what comes before the street is what
        // the line is for ("Ship to", "Address:", "Home"), not a place:
        // the places of a block follow its street. Before a postcode
        // ("Assen, Japan 00436", "APO AP 11949") they are the places.
        let from = match first {
            Some(&(s, _, true)) => s.max(cs),
            Some(_) => cs,
            None => {
                town_line(spans, cs, ce, location, det);
                cs
            }
        };
        fill_gaps(text, from, ce, spans, &mut added, location, det, gaz);
    }
    add_sorted(spans, added);
}

/// A line of a postal block after the address's line that is all one weak
/// word-list person ("Lepassaare", "El Tornadizo") is the block's town, as
/// after an address's comma (see [`city_after_address`]). Below 0.8 only:
/// a full name the lists know well (0.85) on such a line stays a person.
fn town_line(spans: &mut [Span], cs: usize, ce: usize, location: &Name, det: &Name) {
    let i = spans.partition_point(|s| s.start < cs);
    let Some(sp) = spans.get_mut(i) else {
        return;
    };
    if sp.start == cs && sp.end == ce && weak_list_person(sp, 0.8) {
        make_place(sp, location, det, 0.6);
    }
}

/// How many bytes of `line` open it as decoration: spaces, tabs, quote
/// markers, bullets (`line.trim_start_matches([' ', '\t', '>', '?', '*',
/// '-', '•'])` cut off), read as bytes.
fn decoration_len(line: &str) -> usize {
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        match b.get(i) {
            Some(b' ' | b'\t' | b'>' | b'?' | b'*' | b'-') => i += 1,
            Some(0xe2) if line[i..].starts_with('•') => i += '•'.len_utf8(),
            _ => return i,
        }
    }
}

/// Whether `c` is an ASCII byte that `char::is_whitespace` holds for
/// (U+000B included, which `u8::is_ascii_whitespace` leaves out).
fn ascii_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t'..=b'\r')
}

/// `s.trim_end()`, reading bytes while they are ASCII (most text): the
/// char-by-char trim only from the first non-ASCII byte on.
fn trim_end_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut z = b.len();
    while z > 0 && ascii_ws(b[z - 1]) {
        z -= 1;
    }
    if z > 0 && !b[z - 1].is_ascii() {
        return s[..z].trim_end();
    }
    &s[..z]
}

/// `s.split_whitespace().count() <= n`, eight bytes at a time for ASCII
/// text (every short line of an address block is counted): a word starts
/// at each byte that is no space after one that is (or at the start).
fn at_most_words(s: &str, n: usize) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let b = s.as_bytes();
    // The high bit of the byte before the chunk's first: set if it is a
    // space (as before the text).
    let mut before = 0x80u64;
    let mut words = 0usize;
    let mut chunks = b.chunks_exact(8);
    let mut count = |v: u64| {
        if v & HIGH != 0 {
            return false;
        }
        let ws = super::ascii_range_bits(v, b'\t', b'\r') | super::ascii_range_bits(v, b' ', b' ');
        words += (!ws & HIGH & ((ws << 8) | before)).count_ones() as usize;
        before = ws >> 56;
        true
    };
    let mut ascii = chunks
        .by_ref()
        .all(|c| count(u64::from_le_bytes(c.try_into().unwrap())));
    if ascii {
        // The tail, padded with spaces (which start no word).
        let mut last = [b' '; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        ascii = count(u64::from_le_bytes(last));
    }
    if !ascii {
        return s.split_whitespace().count() <= n;
    }
    words <= n
}

/// Add a span for each stretch of `cs..ce` outside `spans` that holds a
/// letter and no common word (trimmed of spaces and commas).
#[allow(clippy::too_many_arguments)]
fn fill_gaps(
    text: &str,
    cs: usize,
    ce: usize,
    spans: &[Span],
    added: &mut Vec<Span>,
    entity: &Name,
    det: &Name,
    gaz: &Gazetteers,
) {
    // `spans` is sorted by start, so the clipped cuts come in order (among
    // cuts with the same start, the first moves `pos` past that start and
    // the order of the rest does not matter): no vector, no sort. They are
    // disjoint, so their ends rise too: the first that can reach into the
    // line is found by binary search, not by reading all before it (which
    // was lines x spans).
    let from = spans.partition_point(|s| s.end <= cs);
    let cuts = spans[from..]
        .iter()
        .take_while(|s| s.start < ce)
        .filter(|s| s.end > cs)
        .map(|s| (s.start.max(cs), s.end.min(ce)))
        .chain(std::iter::once((ce, ce)));
    let mut pos = cs;
    for (a, b) in cuts {
        if a > pos {
            let seg = &text[pos..a];
            let trimmed = seg.trim_matches(|c: char| c == ' ' || c == ',' || c == '\t');
            // Ordinary words ("My zip code is") mean prose, not a place line.
            if trimmed.chars().any(char::is_alphabetic) && !gaz.has_common_word(trimmed) {
                let lead = seg.len() - seg.trim_start_matches([' ', ',', '\t']).len();
                added.push(Span {
                    start: pos + lead,
                    end: pos + lead + trimmed.len(),
                    entity: *entity,
                    score: 0.6,
                    detector: *det,
                    validated: false,
                });
            }
        }
        pos = pos.max(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// `house_number_before` as it was (char by char); the byte version
    /// must agree with it everywhere.
    fn house_number_before_chars(text: &str, pos: usize) -> Option<usize> {
        let head = &text[..pos];
        let mut start = None;
        let mut cur = head.len();
        for _ in 0..2 {
            let trimmed = head[..cur].trim_end_matches([' ', ',']);
            if trimmed.len() == cur {
                break;
            }
            let Some(digits_start) = trimmed
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric())
                .last()
                .map(|(i, _)| i)
            else {
                break;
            };
            let word = &trimmed[digits_start..];
            let ok = word.len() <= 6
                && word.chars().next().is_some_and(|c| c.is_ascii_digit())
                && word.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 1;
            let glued = trimmed[..digits_start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if !ok || glued {
                break;
            }
            start = Some(digits_start);
            cur = digits_start;
        }
        start
    }

    proptest! {
        #[test]
        fn house_number_before_same_as_char_version(
            text in "[0-9a-cA ,.\\-\n\u{e9}\u{663}\u{2003}]{0,16}"
        ) {
            for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
                prop_assert_eq!(
                    house_number_before(&text, pos, 0),
                    house_number_before_chars(&text, pos),
                    "{:?} at {}", text, pos
                );
                // A floor only cuts the numbers that start below it.
                let free = house_number_before(&text, pos, 0);
                for floor in 0..=pos {
                    let got = house_number_before(&text, pos, floor);
                    prop_assert!(got.is_none_or(|b| b >= floor));
                    if free.is_some_and(|b| b >= floor) {
                        prop_assert_eq!(got, free);
                    }
                }
            }
        }
    }

    proptest! {
        /// `segment_end` stops where the search for the first stop
        /// character did, and gives up only where that segment, trimmed of
        /// trailing commas and spaces, was too long anyway.
        #[test]
        fn segment_end_same_as_reading_to_the_stop(
            after in "[a ,.\n!;\u{e9}]{0,80}"
        ) {
            let stop = after
                .find(['\n', '.', '!', '?', ';', '(', ')', '"'])
                .unwrap_or(after.len());
            let seg = after[..stop].trim_end_matches([',', ' ']);
            match segment_end(&after) {
                Some(end) => prop_assert_eq!(end, stop, "{:?}", after),
                None => prop_assert!(seg.len() > BLOCK_LINE_MAX, "{:?}", after),
            }
        }
    }

    /// `block_lines` as it was: every line of the text read and trimmed
    /// char by char. The version that jumps to the address lines and
    /// reads bytes must add exactly the same spans.
    fn block_lines_every_line(
        text: &str,
        spans: &mut Vec<Span>,
        location: &Name,
        det: &Name,
        gaz: &Gazetteers,
    ) {
        let mut added = Vec::new();
        let addrs: Vec<(usize, usize, bool)> = spans
            .iter()
            .filter(|s| matches!(&*s.entity, "ADDRESS" | "ZIP"))
            .map(|s| (s.start, s.end, &*s.entity == "ADDRESS"))
            .collect();
        let first = |cs: usize, ce: usize| addrs.iter().find(|&&(s, e, _)| e > cs && s < ce);
        let touches = |cs: usize, ce: usize| first(cs, ce).is_some();
        let mut after_address = 0usize;
        let mut offset = 0usize;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if after_address == 0 && !touches(start, offset) {
                continue;
            }
            let body = line.trim_end_matches(['\n', '\r']);
            let lead = body.len()
                - body
                    .trim_start_matches([' ', '\t', '>', '?', '*', '-', '•'])
                    .len();
            let content = body[lead..].trim_end();
            if content.is_empty() {
                continue;
            }
            let (cs, ce) = (start + lead, start + lead + content.len());
            let has_addr = touches(cs, ce);
            let short = content.len() <= BLOCK_LINE_MAX && content.split_whitespace().count() <= 6;
            let prose = content.ends_with(['.', '?', '!', ':']);
            if has_addr {
                after_address = 3;
            } else if after_address > 0 {
                after_address -= 1;
            } else {
                continue;
            }
            if !short || prose {
                if !has_addr {
                    after_address = 0;
                }
                continue;
            }
            let from = match first(cs, ce) {
                Some(&(s, _, true)) => s.max(cs),
                _ => cs,
            };
            fill_gaps(text, from, ce, spans, &mut added, location, det, gaz);
        }
        add_sorted(spans, added);
    }

    proptest! {
        #[test]
        fn block_lines_same_as_reading_every_line(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "Assen", "Japan", "the", "12", " ", " ", "\n", "\n", "\r", "\t", ",", ".",
                    ":", ">", "\u{b}", "\u{2003}", "\u{2022} ", "\u{e9}",
                ]),
                0..40,
            ),
            cuts in proptest::collection::vec((0usize..120, 0usize..8, 0usize..3), 0..6),
        ) {
            let text = words.concat();
            // Sorted, disjoint, non-empty spans on char boundaries: ADDRESS,
            // ZIP or a person, from the cut points.
            let kinds = ["ADDRESS", "ZIP", "PERSON"];
            let mut spans = Vec::new();
            let mut floor = 0;
            let mut cuts = cuts;
            cuts.sort();
            for (at, len, kind) in cuts {
                let start = at.max(floor);
                let end = start + len;
                if end > text.len() || start == end
                    || !text.is_char_boundary(start) || !text.is_char_boundary(end)
                {
                    continue;
                }
                spans.push(span_at(start, end, kinds[kind], "rule:x"));
                floor = end;
            }
            let (loc, det) = (Name::from("LOCATION"), Name::from("structure:address"));
            let mut want = spans.clone();
            block_lines_every_line(&text, &mut want, &loc, &det, gaz());
            let mut got = spans;
            block_lines(&text, &mut got, &loc, &det, gaz());
            let view = |v: &[Span]| v.iter().map(|s| (s.start, s.end, s.entity.to_string())).collect::<Vec<_>>();
            prop_assert_eq!(view(&got), view(&want), "{:?}", text);
        }

        #[test]
        fn line_trims_same_as_str_methods(
            s in "[aB1 ,.:!\u{1f}\r\t>?*\u{b}\u{c}\u{85}\u{2003}\u{2022}\u{e9}-]{0,20}",
        ) {
            prop_assert_eq!(
                decoration_len(&s),
                s.len() - s.trim_start_matches([' ', '\t', '>', '?', '*', '-', '•']).len()
            );
            prop_assert_eq!(trim_end_ws(&s), s.trim_end());
            for n in 0..8 {
                prop_assert_eq!(at_most_words(&s, n), s.split_whitespace().count() <= n, "{:?} {}", s, n);
            }
        }
    }

    proptest! {
        #[test]
        fn number_after_same_as_plain(text in "[ 1b,\u{e9}]{0,12}") {
            for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
                prop_assert_eq!(
                    number_after(&text, pos),
                    number_after_full(&text, pos),
                    "{:?} at {}", text, pos
                );
            }
        }
    }

    proptest! {
        /// Random spans of the kinds [`address_context`] tells apart
        /// (places that become streets, postcodes, addresses) on a text of
        /// numbers and names: its gathered flags are checked against
        /// [`plain_flags`] inside it, on every call.
        #[test]
        fn gathered_flags_same_as_passes(
            picks in proptest::collection::vec((0usize..10, 0usize..4, any::<bool>()), 0..7),
        ) {
            let t = "at 12 Stubben 149, 75002 Paris\n9 Oslo 4\nJane";
            let words: Vec<(usize, usize)> = t
                .split(|c: char| !c.is_alphanumeric())
                .scan(0, |at, w| {
                    let start = t[*at..].find(w).unwrap() + *at;
                    *at = start + w.len();
                    Some((start, start + w.len()))
                })
                .filter(|&(a, z)| a < z)
                .collect();
            let kinds = ["ADDRESS", "ZIP", "LOCATION", "PERSON"];
            let mut spans: Vec<Span> = Vec::new();
            let mut sorted = picks;
            sorted.sort_by_key(|p| p.0);
            sorted.dedup_by_key(|p| p.0);
            for (w, kind, gaz_det) in sorted {
                let (start, end) = words[w];
                if spans.last().is_some_and(|l: &Span| l.end > start) {
                    continue;
                }
                let det = if gaz_det { "gazetteer:place" } else { "rule:x" };
                spans.push(span_at(start, end, kinds[kind], det));
            }
            address_context(t, &mut spans, gaz());
        }
    }

    /// Past the eight addresses kept on the stack, block lines are still
    /// found for every address (the binary search over all of them).
    #[test]
    fn block_lines_of_many_addresses() {
        let mut t = String::new();
        for i in 0..12 {
            t.push_str(&format!("Jane Roe\n{} Rue de la Paix\n Assen\n\n", 10 + i));
        }
        let mut v: Vec<Span> = t
            .match_indices("Rue de la Paix")
            .map(|(start, m)| Span {
                start,
                end: start + m.len(),
                entity: Name::from("ADDRESS"),
                score: 0.55,
                detector: Name::from("rule:x"),
                validated: false,
            })
            .collect();
        address_context(&t, &mut v, gaz());
        let got = values(&t, &v);
        let places = got.iter().filter(|(e, v)| e == "LOCATION" && v == "Assen");
        assert_eq!(places.count(), 12, "{got:?}");
        let streets = got.iter().filter(|(e, _)| e == "ADDRESS").count();
        assert_eq!(streets, 12, "{got:?}");
    }

    fn gaz() -> &'static Gazetteers {
        static G: OnceLock<Gazetteers> = OnceLock::new();
        G.get_or_init(Gazetteers::builtin)
    }

    fn sp(text: &str, part: &str, entity: &str, det: &str) -> Span {
        let start = text.find(part).unwrap();
        span_at(start, start + part.len(), entity, det)
    }

    /// A candidate span at `start..end`, as the tests build them.
    fn span_at(start: usize, end: usize, entity: &str, det: &str) -> Span {
        Span {
            start,
            end,
            entity: Name::from(entity),
            score: 0.55,
            detector: Name::from(det),
            validated: false,
        }
    }

    fn values(text: &str, spans: &[Span]) -> Vec<(String, String)> {
        spans
            .iter()
            .map(|s| (s.entity.to_string(), text[s.start..s.end].to_string()))
            .collect()
    }

    #[test]
    fn number_name_number_is_a_street() {
        let t = "his address: 76 Stubben 149, Oslo";
        let mut v = vec![sp(t, "Stubben", "PERSON", "gazetteer:name")];
        address_context(t, &mut v, gaz());
        assert_eq!(
            values(t, &v),
            [
                ("ADDRESS".into(), "76 Stubben 149".into()),
                ("LOCATION".into(), "Oslo".into())
            ]
        );
    }

    #[test]
    fn company_line_above_a_street_line() {
        let run = |t: &str, spans: Vec<Span>| {
            let mut v = spans;
            address_context(t, &mut v, gaz());
            values(t, &v)
        };
        // Signature block: person, company, street.
        let t = "Rebecca Jessen\nAsset4\n74 Hauptplatz 69";
        let got = run(
            t,
            vec![
                sp(t, "Rebecca Jessen", "PERSON", "gazetteer:name"),
                sp(t, "74 Hauptplatz 69", "ADDRESS", "rule:x"),
            ],
        );
        assert!(got.contains(&("ORG".into(), "Asset4".into())), "{got:?}");
        // First line, a blank line, bullets; a numbered line is the street.
        for (t, line, want) in [
            ("Golden Helix\n\n21 Main Street", "Golden Helix", "ORG"),
            (
                "??? Jane Roe\n??? Google Maps\n??? 93 Main Street",
                "Google Maps",
                "ORG",
            ),
            (
                "19 guipúzcoa 1268\n apt. 013",
                "19 guipúzcoa 1268",
                "ADDRESS",
            ),
        ] {
            let addr = t
                .rsplit('\n')
                .next()
                .unwrap()
                .trim_start_matches(['?', ' ']);
            let got = run(t, vec![sp(t, addr, "ADDRESS", "rule:x")]);
            assert!(got.contains(&(want.into(), line.into())), "{t:?}: {got:?}");
        }
        // A cue line, a sentence, a line with a span, a long line, a
        // sentence above, an address inside its line: nothing added.
        for (t, addr) in [
            ("Home address:\n221 Baker Street", "221 Baker Street"),
            ("We moved last year.\n221 Baker Street", "221 Baker Street"),
            (
                "Please find the signed contract and the invoice for March attached here\n221 Baker Street",
                "221 Baker Street",
            ),
            (
                "It is a lovely place.\nThe new office\n221 Baker Street",
                "221 Baker Street",
            ),
            ("Our office\nis at 221 Baker Street", "221 Baker Street"),
        ] {
            let got = run(t, vec![sp(t, addr, "ADDRESS", "rule:x")]);
            assert_eq!(got, [("ADDRESS".into(), addr.into())], "{t:?}");
        }
        let t = "Karl Strobel\n221 Baker Street";
        let got = run(
            t,
            vec![
                sp(t, "Karl Strobel", "PERSON", "gazetteer:name"),
                sp(t, "221 Baker Street", "ADDRESS", "rule:x"),
            ],
        );
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn street_words_before_a_name_join_the_street() {
        for (t, name, street) in [
            (
                "lives at 11 Paso Rivero 7301, Tomas",
                "Rivero",
                "11 Paso Rivero 7301",
            ),
            (
                "17 R Família Marques 19\n Apt. 618",
                "Marques",
                "17 R Família Marques 19",
            ),
        ] {
            let mut v = vec![sp(t, name, "PERSON", "gazetteer:name")];
            address_context(t, &mut v, gaz());
            assert_eq!(values(t, &v)[0], ("ADDRESS".into(), street.into()), "{t}");
        }
        // A lower-case word, four words, or no number after: no street.
        for (t, name) in [
            ("we ate 12 apples Smith 3", "Smith"),
            ("at 11 Paso Del Mar Alto Rivero 7301", "Rivero"),
            ("at 11 Paso Rivero, thanks", "Rivero"),
        ] {
            let mut v = vec![sp(t, name, "PERSON", "gazetteer:name")];
            address_context(t, &mut v, gaz());
            assert_eq!(values(t, &v), [("PERSON".into(), name.into())], "{t}");
        }
    }

    #[test]
    fn house_number_joins_address_and_block_lines_are_places() {
        let t = "Jane Roe\n46 89 Rue de la Paix 3\n Apt. 5\n Assen\n Japan 00436\nThanks for everything.";
        let mut v = vec![
            sp(t, "Rue de la Paix 3", "ADDRESS", "rule:x"),
            sp(t, "Apt. 5", "ADDRESS", "rule:unit"),
            sp(t, "00436", "ZIP", "rule:zip"),
        ];
        address_context(t, &mut v, gaz());
        let got = values(t, &v);
        assert!(
            got.contains(&("ADDRESS".into(), "46 89 Rue de la Paix 3".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("LOCATION".into(), "Assen".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("LOCATION".into(), "Japan".into())),
            "{got:?}"
        );
        assert!(!got.iter().any(|(_, v)| v.contains("Thanks")), "{got:?}");
    }

    /// A unit's number right before a number–name–number street is the
    /// unit's: the street starts at its own house number.
    #[test]
    fn house_number_after_a_unit_starts_the_street() {
        let t = "Dr. Megan Sato Apt. 630 39 Rincon 9082\nCarlos";
        let mut v = vec![
            sp(t, "Apt. 630", "ADDRESS", "rule:unit"),
            Span {
                score: 0.6,
                ..sp(t, "Rincon", "LOCATION", "gazetteer:place")
            },
        ];
        address_context(t, &mut v, gaz());
        let got = values(t, &v);
        assert!(
            got.contains(&("ADDRESS".into(), "Apt. 630".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("ADDRESS".into(), "39 Rincon 9082".into())),
            "{got:?}"
        );
    }

    /// The words before a street on its own line say what the line is
    /// for; the town and state before a postcode on theirs are places.
    #[test]
    fn words_before_a_street_are_no_place_but_before_a_postcode_are() {
        for lead in ["Ship to ", "SHIP TO ", "Address: ", "Home "] {
            let t = format!("{lead}12 Maple Road\nSpringfield\nAPO AP 11949\n");
            let mut v = vec![
                sp(&t, "12 Maple Road", "ADDRESS", "rule:street_address"),
                sp(&t, "11949", "ZIP", "rule:zip_after_place"),
            ];
            address_context(&t, &mut v, gaz());
            let got = values(&t, &v);
            let lead = lead.trim_end_matches([' ', ':']);
            assert!(!got.iter().any(|(_, v)| v.contains(lead)), "{got:?}");
            for place in ["Springfield", "APO AP"] {
                assert!(got.contains(&("LOCATION".into(), place.into())), "{got:?}");
            }
        }
    }

    #[test]
    fn place_after_address_comma() {
        let t = "Rania lives at 38 Calle Mayor 88, Villafranca del Cid.";
        let mut v = vec![sp(t, "38 Calle Mayor 88", "ADDRESS", "rule:x")];
        address_context(t, &mut v, gaz());
        let got = values(t, &v);
        assert!(
            got.contains(&("LOCATION".into(), "Villafranca del Cid".into())),
            "{got:?}"
        );
    }

    #[test]
    fn venue_between_at_and_an_address() {
        for (t, venue) in [
            (
                "We'll meet Sunday at MysticWeb, 24 Kuefsteinstrasse 91",
                "MysticWeb",
            ),
            ("Lunch at Blue Door Cafe, 12 Main Street.", "Blue Door Cafe"),
            ("We'll meet at Ideas42, 30 Veslebakken 48", "Ideas42"),
        ] {
            let addr = &t[t.find(", ").unwrap() + 2..];
            let mut v = vec![sp(t, addr, "ADDRESS", "rule:x")];
            address_context(t, &mut v, gaz());
            let got = values(t, &v);
            assert!(got.contains(&("ORG".into(), venue.into())), "{got:?}");
        }
        // Not without "at", nor over lower-case words or another span.
        for (t, other) in [
            ("Sent to MysticWeb, 24 Kuefsteinstrasse 91", None),
            ("look at it, 12 Main Street", None),
            ("meet at Anna Smith, 12 Main Street", Some("Anna Smith")),
        ] {
            let addr = &t[t.find(", ").unwrap() + 2..];
            let mut v = vec![sp(t, addr, "ADDRESS", "rule:x")];
            if let Some(o) = other {
                v.insert(0, sp(t, o, "PERSON", "gazetteer:name"));
            }
            address_context(t, &mut v, gaz());
            assert!(!v.iter().any(|s| &*s.entity == "ORG"), "{t}");
        }
    }

    #[test]
    fn plain_numbers_in_prose_untouched() {
        let t = "Chapter 3 has 12 pages.";
        let mut v = Vec::new();
        address_context(t, &mut v, gaz());
        assert!(v.is_empty());
    }
}
