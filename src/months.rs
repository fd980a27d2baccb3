//! English month names: one table for the detectors and the rewriters.
//!
//! The word lists must not take a month written in a date for a person
//! ("29 January": January is a first name too), the date generaliser keeps
//! the month it finds, and the date surrogate writes a month back in the
//! form it read. All three read the same names and abbreviations here, so
//! a form one of them knows the others know too.

/// The months, January first, capitalised as written in prose.
pub const NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The month (1-12) that `word` names, in any case: a whole name
/// ("march"), its three-letter abbreviation ("MAR") or "Sept"; and
/// whether it was abbreviated. No allocation, and one match on the
/// lower-cased bytes (the compiler switches on the length first): the word
/// lists ask this of every capitalised word that could be a month.
#[inline]
pub fn parse(word: &str) -> Option<(u32, bool)> {
    let w = word.as_bytes();
    let mut buf = [0u8; 9];
    let low = buf.get_mut(..w.len())?;
    for (l, &b) in low.iter_mut().zip(w) {
        *l = b.to_ascii_lowercase();
    }
    Some(match &*low {
        b"january" => (1, false),
        b"february" => (2, false),
        b"march" => (3, false),
        b"april" => (4, false),
        b"may" => (5, false),
        b"june" => (6, false),
        b"july" => (7, false),
        b"august" => (8, false),
        b"september" => (9, false),
        b"october" => (10, false),
        b"november" => (11, false),
        b"december" => (12, false),
        b"jan" => (1, true),
        b"feb" => (2, true),
        b"mar" => (3, true),
        b"apr" => (4, true),
        b"jun" => (6, true),
        b"jul" => (7, true),
        b"aug" => (8, true),
        b"sep" | b"sept" => (9, true),
        b"oct" => (10, true),
        b"nov" => (11, true),
        b"dec" => (12, true),
        _ => return None,
    })
}

/// The first month (in month order) whose three-letter abbreviation
/// `lower` (lower-case text) holds: "12-mar-1990", "march 3".
pub fn mentioned_in(lower: &str) -> Option<u32> {
    NAMES
        .iter()
        .zip(1u32..)
        .find(|(name, _)| {
            let abbr = &name.as_bytes()[..3];
            lower
                .as_bytes()
                .windows(3)
                .any(|w| w.eq_ignore_ascii_case(abbr))
        })
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_abbreviations_in_any_case() {
        assert_eq!(parse("January"), Some((1, false)));
        assert_eq!(parse("SEPT"), Some((9, true)));
        assert_eq!(parse("sep"), Some((9, true)));
        assert_eq!(parse("dec"), Some((12, true)));
        assert_eq!(parse("May"), Some((5, false)));
        for not in ["", "ja", "janu", "marche", "Mayday", "septembers", "Ĵan"] {
            assert_eq!(parse(not), None, "{not}");
        }
    }

    /// The match table holds exactly the names of [`NAMES`] and their
    /// first three letters ("may" is both).
    #[test]
    fn parse_agrees_with_the_names() {
        for (name, n) in NAMES.iter().zip(1u32..) {
            assert_eq!(parse(name), Some((n, false)), "{name}");
            let abbr = &name[..3];
            let want = if n == 5 { (5, false) } else { (n, true) };
            assert_eq!(parse(abbr), Some(want), "{abbr}");
        }
    }

    #[test]
    fn a_month_mentioned_in_a_date() {
        assert_eq!(mentioned_in("12-mar-1990"), Some(3));
        assert_eq!(mentioned_in("june 5, 2019"), Some(6));
        assert_eq!(mentioned_in("2019-06-05"), None);
    }
}
