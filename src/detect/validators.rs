//! Checksum and structure validators for PII candidates.
//!
//! Regex rules over-match: any 16 digits look like a card number and any
//! dotted quad looks like an address. These validators are the second stage
//! that turns a pattern hit into a confident finding, which keeps false
//! positives (and therefore needless rewrites) down. Every function takes the
//! raw matched text, separators included, and is total: it returns `false`
//! for anything it does not understand rather than panicking.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Validator names accepted by [`by_name`], so a rule file that names an
/// unknown validator can be rejected with the list of valid choices.
pub const NAMES: &[&str] = &[
    "luhn",
    "credit_card",
    "iban",
    "us_ssn",
    "ipv4",
    "ipv6",
    "ip",
    "mac",
    "nanp",
    "nhs",
    "date",
    "ie_pps",
];

/// Looks up a validator by the name used in rule files.
///
/// Returning a plain function pointer keeps rules cheap to clone and lets
/// the caller report an unknown name at load time instead of at match time.
pub fn by_name(name: &str) -> Option<fn(&str) -> bool> {
    let f: fn(&str) -> bool = match name {
        "luhn" => luhn_valid,
        "credit_card" => credit_card_valid,
        "iban" => iban_valid,
        "us_ssn" => us_ssn_valid,
        "ipv4" => ipv4_valid,
        "ipv6" => ipv6_valid,
        "ip" => ip_valid,
        "mac" => mac_valid,
        "nanp" => nanp_valid,
        "nhs" => nhs_valid,
        "date" => date_valid,
        "ie_pps" => ie_pps_valid,
        _ => return None,
    };
    Some(f)
}

/// Keeps only the ASCII digits of `s`.
///
/// Matched numbers arrive with whatever separators the author used; the
/// checksums are defined over the bare digits. Non-ASCII digits (e.g.
/// Arabic-Indic) are dropped on purpose because none of the supported
/// schemes define them.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Luhn (mod 10) check over the ASCII digits of `s`.
///
/// At least two digits are required: a single digit "0" would trivially
/// pass and would turn every lone zero into a finding.
pub fn luhn_valid(s: &str) -> bool {
    let d = digits(s);
    d.len() >= 2 && luhn_sum(d.as_bytes()).is_multiple_of(10)
}

/// Luhn sum of ASCII digit bytes, rightmost digit undoubled.
///
/// Shared with the surrogate generator, which needs the sum to compute a
/// check digit rather than just a yes/no answer.
pub(crate) fn luhn_sum(d: &[u8]) -> u32 {
    d.iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b.wrapping_sub(b'0') % 10);
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum()
}

/// Payment card networks recognised by their issuer identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Diners,
    Jcb,
    UnionPay,
    Maestro,
}

/// One IIN rule: numeric range over the first `prefix_len` digits.
pub(crate) struct IinRule {
    pub(crate) prefix_len: usize,
    lo: u32,
    hi: u32,
    pub(crate) brand: CardBrand,
}

const fn rule(prefix_len: usize, lo: u32, hi: u32, brand: CardBrand) -> IinRule {
    IinRule {
        prefix_len,
        lo,
        hi,
        brand,
    }
}

/// IIN ranges, most specific first, because some ranges nest (the
/// Discover/UnionPay co-branded 622126–622925 lies inside UnionPay's 62).
const IIN_RULES: &[IinRule] = &[
    rule(1, 4, 4, CardBrand::Visa),
    rule(2, 34, 34, CardBrand::Amex),
    rule(2, 37, 37, CardBrand::Amex),
    rule(4, 5018, 5018, CardBrand::Maestro),
    rule(4, 5020, 5020, CardBrand::Maestro),
    rule(4, 5038, 5038, CardBrand::Maestro),
    rule(4, 5893, 5893, CardBrand::Maestro),
    rule(4, 6304, 6304, CardBrand::Maestro),
    rule(4, 6759, 6759, CardBrand::Maestro),
    rule(4, 6761, 6763, CardBrand::Maestro),
    rule(2, 51, 55, CardBrand::Mastercard),
    rule(4, 2221, 2720, CardBrand::Mastercard),
    rule(4, 6011, 6011, CardBrand::Discover),
    rule(3, 644, 649, CardBrand::Discover),
    rule(2, 65, 65, CardBrand::Discover),
    rule(6, 622126, 622925, CardBrand::Discover),
    rule(2, 62, 62, CardBrand::UnionPay),
    rule(4, 3528, 3589, CardBrand::Jcb),
    rule(3, 300, 305, CardBrand::Diners),
    rule(4, 3095, 3095, CardBrand::Diners),
    rule(2, 36, 36, CardBrand::Diners),
    rule(2, 38, 39, CardBrand::Diners),
];

/// Finds the IIN rule matching the leading digits, if any.
///
/// Exposed to the surrogate generator so it can keep exactly the prefix that
/// determines the brand and randomise everything after it.
pub(crate) fn iin_rule(digits: &str) -> Option<&'static IinRule> {
    let b = digits.as_bytes();
    IIN_RULES.iter().find(|r| {
        b.len() >= r.prefix_len && b[..r.prefix_len].iter().all(u8::is_ascii_digit) && {
            let v = b[..r.prefix_len]
                .iter()
                .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
            (r.lo..=r.hi).contains(&v)
        }
    })
}

/// Identifies the card network from the leading digits of a digit string.
pub fn card_brand(digits: &str) -> Option<CardBrand> {
    iin_rule(digits).map(|r| r.brand)
}

/// Whether `len` digits is a length the network actually issues.
///
/// Without this check a 13-digit number starting with 5 would be accepted
/// as Mastercard even though Mastercard only issues 16-digit PANs.
pub fn card_length_ok(brand: CardBrand, len: usize) -> bool {
    match brand {
        CardBrand::Visa => matches!(len, 13 | 16 | 19),
        CardBrand::Mastercard => len == 16,
        CardBrand::Amex => len == 15,
        CardBrand::Discover | CardBrand::Jcb | CardBrand::UnionPay => (16..=19).contains(&len),
        CardBrand::Diners => (14..=19).contains(&len),
        CardBrand::Maestro => (12..=19).contains(&len),
    }
}

/// Full payment card check: shape, Luhn, network and network length.
///
/// Only digits, spaces and dashes are allowed so that things like version
/// strings or dotted identifiers are not mistaken for cards, and repeated
/// digits ("0000 0000 0000 0000") are rejected because they are placeholders,
/// not card numbers. The text must start and end with a digit so a match
/// that swallowed neighbouring punctuation is not accepted as-is.
pub fn credit_card_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) || !b.last().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    // The bare digits on the stack, in one pass: this runs on every
    // card-shaped match, and two allocating passes cost ten times the
    // check itself.
    let Some((d, n)) = stack_digits::<19>(b, b" -") else {
        return false;
    };
    let d = &d[..n];
    if n < 13 || d.iter().all(|&c| c == d[0]) || !luhn_sum(d).is_multiple_of(10) {
        return false;
    }
    // ASCII digits only, so this never fails.
    std::str::from_utf8(d)
        .ok()
        .and_then(card_brand)
        .is_some_and(|b| card_length_ok(b, n))
}

/// IBAN lengths from the SWIFT IBAN registry, sorted by country code so we
/// can binary-search. A country missing here cannot be validated, so the
/// table is intentionally complete rather than "the common ones".
#[rustfmt::skip]
pub(crate) const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16),
    ("BG", 22), ("BH", 22), ("BI", 27), ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22),
    ("CY", 28), ("CZ", 24), ("DE", 22), ("DJ", 27), ("DK", 18), ("DO", 28), ("EE", 20),
    ("EG", 29), ("ES", 24), ("FI", 18), ("FK", 18), ("FO", 18), ("FR", 27), ("GB", 22),
    ("GE", 22), ("GI", 23), ("GL", 18), ("GR", 27), ("GT", 28), ("HN", 28), ("HR", 21),
    ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26), ("IT", 27), ("JO", 30),
    ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32), ("LI", 21), ("LT", 20), ("LU", 20),
    ("LV", 21), ("LY", 25), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MN", 20),
    ("MR", 27), ("MT", 31), ("MU", 30), ("NI", 28), ("NL", 18), ("NO", 15), ("OM", 23),
    ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22),
    ("RU", 33), ("SA", 24), ("SC", 31), ("SD", 18), ("SE", 24), ("SI", 19), ("SK", 24),
    ("SM", 27), ("SO", 23), ("ST", 25), ("SV", 28), ("TL", 23), ("TN", 24), ("TR", 26),
    ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20), ("YE", 30),
];

/// Registered IBAN length for a two-letter country code (case-insensitive).
pub fn iban_length(country: &str) -> Option<usize> {
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let cc = country.to_ascii_uppercase();
    IBAN_LENGTHS
        .binary_search_by(|(c, _)| (*c).cmp(cc.as_str()))
        .ok()
        .map(|i| IBAN_LENGTHS[i].1)
}

/// ISO 13616 mod-97 remainder of an uppercase alphanumeric IBAN.
///
/// Computed incrementally so arbitrarily long input never overflows. The
/// caller guarantees ASCII alphanumerics; anything else yields `None`.
pub(crate) fn iban_mod97(iban: &[u8]) -> Option<u32> {
    if iban.len() < 4 {
        return None;
    }
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let mut r: u32 = 0;
    for &c in rearranged {
        match c {
            b'0'..=b'9' => r = (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => r = (r * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return None,
        }
    }
    Some(r)
}

/// IBAN check: registry country and length, digits for the check digits,
/// and the mod-97 checksum.
///
/// Case-insensitive and tolerant of spaces because IBANs are printed in
/// groups of four and often typed in lowercase.
pub fn iban_valid(s: &str) -> bool {
    // Upper-cased, without spaces, on the stack: no registered IBAN is
    // longer than this.
    let mut norm = [0u8; 34];
    let mut n = 0;
    for &c in s.as_bytes() {
        if c == b' ' {
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return false;
        }
        let Some(slot) = norm.get_mut(n) else {
            return false;
        };
        *slot = c.to_ascii_uppercase();
        n += 1;
    }
    let norm = &norm[..n];
    if n < 5 || !norm[..2].iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let cc = [norm[0], norm[1]];
    let len = IBAN_LENGTHS
        .binary_search_by(|(c, _)| c.as_bytes().cmp(&cc[..]))
        .ok()
        .map(|i| IBAN_LENGTHS[i].1);
    if len != Some(n) || !norm[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    iban_mod97(norm) == Some(1)
}

/// US Social Security Number check.
///
/// Applies the SSA rules that have held since randomisation in 2011 (no
/// area 000, 666 or 900–999; no group 00; no serial 0000) and rejects the
/// well-known advertising/sample numbers that appear in documents but never
/// belong to a person, to avoid flagging them as real PII.
pub fn us_ssn_valid(s: &str) -> bool {
    let b = s.as_bytes();
    // The nine digits, on the stack (this runs on every SSN-shaped match).
    let mut d = [0u8; 9];
    match b.len() {
        9 => d.copy_from_slice(b),
        11 => {
            let sep = b[3];
            if !(sep == b'-' || sep == b' ') || b[6] != sep {
                return false;
            }
            d[..3].copy_from_slice(&b[..3]);
            d[3..5].copy_from_slice(&b[4..6]);
            d[5..].copy_from_slice(&b[7..]);
        }
        _ => return false,
    }
    if !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: &[u8]| r.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
    let area = num(&d[..3]);
    let group = num(&d[3..5]);
    let serial = num(&d[5..]);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    const FAMOUS: &[&[u8]] = &[b"078051120", b"219099999", b"123456789"];
    if FAMOUS.contains(&&d[..]) {
        return false;
    }
    !d.iter().all(|c| *c == d[0])
}

/// Standard dotted-quad IPv4.
///
/// `std` rejects leading zeros ("01.2.3.4"), which is what we want: such
/// strings are ambiguous (octal in some parsers) and usually version numbers
/// or dates rather than addresses.
pub fn ipv4_valid(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

/// Any textual IPv6 form `std` accepts (compressed, expanded, embedded v4).
pub fn ipv6_valid(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

/// Either address family, for rules that match both.
pub fn ip_valid(s: &str) -> bool {
    ipv4_valid(s) || ipv6_valid(s)
}

/// MAC-48 address: six hex octets joined consistently by `:` or `-`, or the
/// Cisco dotted form `xxxx.xxxx.xxxx`.
///
/// Mixed separators are rejected because they almost always indicate some
/// other token (e.g. a time stamp fragment) rather than an address.
pub fn mac_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |r: &[u8]| r.iter().all(u8::is_ascii_hexdigit);
    match b.len() {
        17 => {
            let sep = b[2];
            if sep != b':' && sep != b'-' {
                return false;
            }
            b.chunks(3)
                .all(|c| hex(&c[..2]) && (c.len() == 2 || c[2] == sep))
        }
        14 => b
            .chunks(5)
            .all(|c| hex(&c[..4]) && (c.len() == 4 || c[4] == b'.')),
        _ => false,
    }
}

/// North American Numbering Plan number: 10 digits, or 11 with a leading
/// trunk `1`, where the area code and exchange start with 2–9 and the area
/// code is not an N11 service code.
///
/// Only phone-ish punctuation is allowed so that arbitrary 10-digit IDs with
/// letters or slashes are not taken for phone numbers. The 555 exchange is
/// accepted: it is fictional only for 555-0100..0199 and real text uses it.
pub fn nanp_valid(s: &str) -> bool {
    let Some((d, n)) = stack_digits::<11>(s.as_bytes(), b" -.()+") else {
        return false;
    };
    let national = match n {
        10 => &d[..10],
        11 if d[0] == b'1' => &d[1..],
        _ => return false,
    };
    nanp_national_ok(national)
}

/// UK NHS number: ten digits (written 3-3-4 with spaces or dashes, or
/// run together) whose last is the mod-11 check digit of the first nine,
/// weighted 10 down to 2. A remainder that asks for check digit 10 is
/// never issued, so such numbers are invalid. Ten equal digits pass the
/// sum but are placeholders ("0000000000"), not numbers anyone holds.
///
/// One random ten-digit number in eleven passes, so this confirms a
/// number after an NHS cue; it cannot find NHS numbers on its own.
pub fn nhs_valid(s: &str) -> bool {
    let Some((d, n)) = stack_digits::<10>(s.as_bytes(), b" -") else {
        return false;
    };
    if n != 10 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let digit = |i: usize| u32::from(d[i] - b'0');
    let sum: u32 = (0..9)
        .zip((2..=10u32).rev())
        .map(|(i, w)| digit(i) * w)
        .sum();
    match 11 - sum % 11 {
        11 => digit(9) == 0,
        10 => false,
        check => digit(9) == check,
    }
}

/// An Irish PPS number: seven digits, a check letter and an optional
/// second letter. The digits weighted 8 down to 2, plus the second
/// letter's place in the alphabet times 9 (W counts 0), modulo 23 give
/// the check letter (0 is W, else A = 1 ... V = 22).
pub fn ie_pps_valid(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| !matches!(c, b' ' | b'-')).collect();
    if !(b.len() == 8 || b.len() == 9) || !b[..7].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let letter = |c: u8| -> Option<u32> {
        let c = c.to_ascii_uppercase();
        c.is_ascii_uppercase().then(|| {
            if c == b'W' {
                0
            } else {
                u32::from(c - b'A') + 1
            }
        })
    };
    let mut sum: u32 = b[..7]
        .iter()
        .zip((2..=8u32).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if let Some(&second) = b.get(8) {
        let Some(v) = letter(second) else {
            return false;
        };
        sum += v * 9;
    }
    letter(b[7]) == Some(sum % 23)
}

/// A calendar date as written: day 1-31 and month 1-12 in one of the
/// orders people write (day/month/year, month/day/year, year-month-day),
/// or a day 1-31 beside a month's name ("12 March 1990", "March 4th,
/// 1985"). "20-20-15" is a UK sort code, not a date: its first two
/// numbers are no day and month in either order. Days past a month's end
/// ("31/02/1990") are let through: a typo in a real date is still one.
pub fn date_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut nums = [0u32; 3];
    let mut lens = [0usize; 3];
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            let mut v = 0u32;
            while i < b.len() && b[i].is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add(u32::from(b[i] - b'0'));
                i += 1;
            }
            if n == 3 {
                return false;
            }
            nums[n] = v;
            lens[n] = i - start;
            n += 1;
        } else {
            i += 1;
        }
    }
    let day = |v: u32| (1..=31).contains(&v);
    let month = |v: u32| (1..=12).contains(&v);
    if b.iter().any(u8::is_ascii_alphabetic) {
        // A month's name: the day is the number that is not the year.
        return (0..n).any(|k| lens[k] <= 2 && day(nums[k]));
    }
    if n != 3 {
        return false;
    }
    if lens[0] == 4 {
        return month(nums[1]) && day(nums[2]);
    }
    day(nums[0]) && month(nums[1]) || month(nums[0]) && day(nums[1])
}

/// The ASCII digits of `b` on the stack, and how many: `b` may hold
/// nothing but digits and the separator bytes `seps`, and at most `N`
/// digits (None otherwise). The validators run on every match of their
/// shape; collecting into a `String` first cost more than the checks.
#[inline(always)]
fn stack_digits<const N: usize>(b: &[u8], seps: &[u8]) -> Option<([u8; N], usize)> {
    let mut d = [0u8; N];
    let mut n = 0;
    for &c in b {
        if c.is_ascii_digit() {
            *d.get_mut(n)? = c;
            n += 1;
        } else if !seps.contains(&c) {
            return None;
        }
    }
    Some((d, n))
}

/// Checks the 10 national digits of a NANP number.
pub(crate) fn nanp_national_ok(n: &[u8]) -> bool {
    n.len() == 10
        && n.iter().all(u8::is_ascii_digit)
        && (b'2'..=b'9').contains(&n[0])
        && !(n[1] == b'1' && n[2] == b'1')
        && (b'2'..=b'9').contains(&n[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// PPS numbers: worked examples of the mod-23 check (with and without
    /// the second letter); a wrong check letter and wrong shapes fail.
    #[test]
    fn irish_pps_numbers() {
        for ok in ["1234567T", "1234567TW", "1234567FA", "1234567fa"] {
            assert!(ie_pps_valid(ok), "{ok}");
        }
        for bad in [
            "1234567A",
            "1234567TA",
            "123456T",
            "12345678T",
            "1234567",
            "A234567T",
        ] {
            assert!(!ie_pps_valid(bad), "{bad}");
        }
        // One check letter in 23 passes: every digit change moves it.
        for i in 0..7 {
            let mut b = b"1234567T".to_vec();
            b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
            assert!(!ie_pps_valid(std::str::from_utf8(&b).unwrap()));
        }
    }

    /// A date's numbers must be a day and a month in some written order.
    #[test]
    fn dates_have_a_day_and_a_month() {
        for ok in [
            "5/19/1937",
            "19/5/1937",
            "03.07.1962",
            "1961-02-07",
            "31-12-99",
            "12 March 1990",
            "March 4th, 1985",
            "31/02/1990",
        ] {
            assert!(date_valid(ok), "{ok}");
        }
        for bad in [
            "20-20-15",
            "40-47-84",
            "13/13/2020",
            "00/12/2020",
            "2020-13-01",
            "2020-01-32",
            "1/2",
            "41 March 1990",
        ] {
            assert!(!date_valid(bad), "{bad}");
        }
    }

    proptest! {
        /// Any real date, in any of the written orders and separators,
        /// passes; so does a two-digit year.
        #[test]
        fn every_real_date_passes(d in 1u32..=31, m in 1u32..=12, y in 1900u32..2100, sep in prop::sample::select(vec!['/', '.', '-'])) {
            for s in [
                format!("{d}{sep}{m}{sep}{y}"),
                format!("{m:02}{sep}{d:02}{sep}{y}"),
                format!("{y}-{m:02}-{d:02}"),
                format!("{d}{sep}{m}{sep}{:02}", y % 100),
            ] {
                prop_assert!(date_valid(&s), "{}", s);
            }
        }

        /// Two leading numbers that are no day and month in either order
        /// fail, whatever the year.
        #[test]
        fn no_month_no_date(a in 13u32..=99, b in 13u32..=99, y in 0u32..10000) {
            let s = format!("{a}-{b}-{y}");
            prop_assert!(!date_valid(&s), "{}", s);
        }
    }

    /// The NHS's own example number and its spellings; one changed digit,
    /// a number whose check would be 10, placeholders and other lengths.
    #[test]
    fn nhs_numbers() {
        for ok in ["9434765919", "943 476 5919", "943-476-5919", "4010232137"] {
            assert!(nhs_valid(ok), "{ok}");
        }
        // "4010232137": weighted sum 92, remainder 4, check 11 - 4 = 7.
        // "1000000010": sum 10 + 2 = 12, remainder 1, check 10: never issued.
        for bad in [
            "9434765918",
            "9434765910",
            "1000000010",
            "0000000000",
            "943476591",
            "94347659190",
            "943.476.5919",
            "943 476 591x",
        ] {
            assert!(!nhs_valid(bad), "{bad}");
        }
    }

    #[test]
    fn digits_strips_everything_else() {
        assert_eq!(digits("4111-1111 1111.1111"), "4111111111111111");
        assert_eq!(digits("abc"), "");
        assert_eq!(digits("١٢٣4"), "4");
    }

    #[test]
    fn luhn_basics() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("0"));
        assert!(luhn_valid("00"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn brands() {
        assert_eq!(card_brand("4111111111111111"), Some(CardBrand::Visa));
        assert_eq!(card_brand("5500000000000004"), Some(CardBrand::Mastercard));
        assert_eq!(card_brand("2221000000000009"), Some(CardBrand::Mastercard));
        assert_eq!(card_brand("2721000000000000"), None);
        assert_eq!(card_brand("340000000000009"), Some(CardBrand::Amex));
        assert_eq!(card_brand("378282246310005"), Some(CardBrand::Amex));
        assert_eq!(card_brand("6011111111111117"), Some(CardBrand::Discover));
        assert_eq!(card_brand("6445644564456445"), Some(CardBrand::Discover));
        assert_eq!(card_brand("6221260000000000"), Some(CardBrand::Discover));
        assert_eq!(card_brand("6200000000000005"), Some(CardBrand::UnionPay));
        assert_eq!(card_brand("30569309025904"), Some(CardBrand::Diners));
        assert_eq!(card_brand("38520000023237"), Some(CardBrand::Diners));
        assert_eq!(card_brand("3530111333300000"), Some(CardBrand::Jcb));
        assert_eq!(card_brand("6759649826438453"), Some(CardBrand::Maestro));
        assert_eq!(card_brand("5018000000000009"), Some(CardBrand::Maestro));
        assert_eq!(card_brand("1234"), None);
        assert_eq!(card_brand(""), None);
        assert_eq!(card_brand("x4"), None);
    }

    #[test]
    fn credit_cards() {
        for ok in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "378282246310005",
            "371449635398431",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "4222222222222",
            "6200000000000005",
        ] {
            assert!(credit_card_valid(ok), "{ok}");
        }
        for bad in [
            "4111111111111112",
            "4111.1111.1111.1111",
            "0000000000000000",
            "1234567812345670",
            "41111111111111111111",
            "411111111111",
            "378282246310005 ",
            "5105105105105",
            "",
        ] {
            assert!(!credit_card_valid(bad), "{bad}");
        }
    }

    #[test]
    fn ibans() {
        for ok in [
            "GB82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "gb82 west 1234 5698 7654 32",
            "DE89370400440532013000",
            "FR1420041010050500013M02606",
            "NO9386011117947",
            "BR1800360305000010009795493C1",
            "CH9300762011623852957",
        ] {
            assert!(iban_valid(ok), "{ok}");
        }
        for bad in [
            "GB82WEST12345698765433",
            "GB82WEST1234569876543",
            "XX82WEST12345698765432",
            "GB82-WEST-1234-5698-7654-32",
            "GBAAWEST12345698765432",
            "",
            "GB",
            "ÄÖ82WEST12345698765432",
        ] {
            assert!(!iban_valid(bad), "{bad}");
        }
    }

    #[test]
    fn iban_lengths() {
        assert_eq!(iban_length("DE"), Some(22));
        assert_eq!(iban_length("de"), Some(22));
        assert_eq!(iban_length("LC"), Some(32));
        assert_eq!(iban_length("US"), None);
        assert_eq!(iban_length("D"), None);
        assert_eq!(iban_length("ÄÄ"), None);
        assert!(IBAN_LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(IBAN_LENGTHS.iter().all(|(_, l)| (15..=34).contains(l)));
    }

    #[test]
    fn ssns() {
        for ok in ["123-45-6788", "123 45 6788", "123456788", "899-99-9998"] {
            assert!(us_ssn_valid(ok), "{ok}");
        }
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "219-09-9999",
            "123-45-6789",
            "111-11-1111",
            "123-45 6788",
            "123.45.6788",
            "12345678",
            "1234567890",
            "12a-45-6788",
            "",
        ] {
            assert!(!us_ssn_valid(bad), "{bad}");
        }
    }

    #[test]
    fn ips() {
        assert!(ipv4_valid("192.168.0.1"));
        assert!(!ipv4_valid("01.2.3.4"));
        assert!(!ipv4_valid("256.1.1.1"));
        assert!(!ipv4_valid("1.2.3"));
        assert!(ipv6_valid("2001:db8::1"));
        assert!(ipv6_valid("::ffff:1.2.3.4"));
        assert!(!ipv6_valid("2001:db8:::1"));
        assert!(ip_valid("::1") && ip_valid("10.0.0.1") && !ip_valid("hello"));
    }

    #[test]
    fn macs() {
        assert!(mac_valid("00:1A:2b:3C:4d:5E"));
        assert!(mac_valid("00-1A-2B-3C-4D-5E"));
        assert!(mac_valid("001a.2b3c.4d5e"));
        assert!(!mac_valid("00:1A-2B:3C:4D:5E"));
        assert!(!mac_valid("00:1A:2B:3C:4D:5G"));
        assert!(!mac_valid("00:1A:2B:3C:4D"));
        assert!(!mac_valid("001a:2b3c:4d5e"));
        assert!(!mac_valid("00.1A.2B.3C.4D.5E"));
        assert!(!mac_valid("ääääääääääääääää"));
    }

    #[test]
    fn nanp() {
        for ok in [
            "(212) 555-0123",
            "212-555-0123",
            "+1 212 555 0123",
            "1-212-555-0123",
            "2125550123",
        ] {
            assert!(nanp_valid(ok), "{ok}");
        }
        for bad in [
            "112-555-0123",
            "911-555-0123",
            "212-155-0123",
            "212-555-012",
            "2-212-555-0123",
            "212/555/0123",
            "",
        ] {
            assert!(!nanp_valid(bad), "{bad}");
        }
    }

    #[test]
    fn registry() {
        for n in NAMES {
            assert!(by_name(n).is_some(), "{n}");
        }
        assert!(by_name("nope").is_none());
        assert!(by_name("luhn").is_some_and(|f| f("79927398713")));
        assert!(by_name("ip").is_some_and(|f| f("::1")));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = digits(&s);
            for n in NAMES {
                if let Some(f) = by_name(n) {
                    let _ = f(&s);
                }
            }
            let _ = card_brand(&s);
            let _ = iban_length(&s);
        }

        #[test]
        fn luhn_detects_single_digit_change(d in "[0-9]{12,18}", pos in 0usize..18, delta in 1u8..10) {
            // Append the correct check digit, then corrupt one digit.
            let sum = luhn_sum(format!("{d}0").as_bytes());
            let check = (10 - sum % 10) % 10;
            let full = format!("{d}{check}");
            prop_assert!(luhn_valid(&full));
            let mut b = full.into_bytes();
            let p = pos % b.len();
            b[p] = b'0' + (b[p] - b'0' + delta) % 10;
            prop_assert!(!luhn_valid(std::str::from_utf8(&b).unwrap_or("")));
        }

        #[test]
        fn separators_do_not_change_luhn(d in "[0-9]{2,19}") {
            let spaced: String = d.chars().flat_map(|c| [c, ' ']).collect();
            prop_assert_eq!(luhn_valid(&d), luhn_valid(&spaced));
        }
    }

    /// The validators as they were, allocating: the oracle the stack
    /// versions must equal.
    mod before {
        use super::super::*;

        fn all_same(s: &str) -> bool {
            let mut it = s.bytes();
            match it.next() {
                Some(first) => it.all(|b| b == first),
                None => true,
            }
        }

        pub fn credit_card_valid(s: &str) -> bool {
            let b = s.as_bytes();
            if !b.first().is_some_and(u8::is_ascii_digit)
                || !b.last().is_some_and(u8::is_ascii_digit)
            {
                return false;
            }
            if !s
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
            {
                return false;
            }
            let d = digits(s);
            if !(13..=19).contains(&d.len()) || all_same(&d) || !luhn_valid(&d) {
                return false;
            }
            card_brand(&d).is_some_and(|b| card_length_ok(b, d.len()))
        }

        pub fn iban_valid(s: &str) -> bool {
            if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
                return false;
            }
            let norm: Vec<u8> = s
                .bytes()
                .filter(|b| *b != b' ')
                .map(|b| b.to_ascii_uppercase())
                .collect();
            if norm.len() < 5 {
                return false;
            }
            let Ok(cc) = std::str::from_utf8(&norm[..2]) else {
                return false;
            };
            if iban_length(cc) != Some(norm.len()) || !norm[2..4].iter().all(u8::is_ascii_digit) {
                return false;
            }
            iban_mod97(&norm) == Some(1)
        }

        pub fn us_ssn_valid(s: &str) -> bool {
            let b = s.as_bytes();
            let d: Vec<u8> = match b.len() {
                9 if b.iter().all(u8::is_ascii_digit) => b.to_vec(),
                11 => {
                    let sep = b[3];
                    if !(sep == b'-' || sep == b' ') || b[6] != sep {
                        return false;
                    }
                    let d: Vec<u8> = b[..3]
                        .iter()
                        .chain(&b[4..6])
                        .chain(&b[7..])
                        .copied()
                        .collect();
                    if !d.iter().all(u8::is_ascii_digit) {
                        return false;
                    }
                    d
                }
                _ => return false,
            };
            let num = |r: &[u8]| r.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
            let area = num(&d[..3]);
            let group = num(&d[3..5]);
            let serial = num(&d[5..]);
            if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
                return false;
            }
            const FAMOUS: &[&[u8]] = &[b"078051120", b"219099999", b"123456789"];
            if FAMOUS.contains(&d.as_slice()) {
                return false;
            }
            !d.iter().all(|c| *c == d[0])
        }

        pub fn nanp_valid(s: &str) -> bool {
            if !s
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'))
            {
                return false;
            }
            let d = digits(s);
            let national = match d.len() {
                10 => d.as_bytes(),
                11 if d.starts_with('1') => &d.as_bytes()[1..],
                _ => return false,
            };
            nanp_national_ok(national)
        }
    }

    /// Strings of the characters the validators look at: digits, the
    /// separators, letters of IBAN countries, a non-ASCII digit and a
    /// non-ASCII letter; often valid numbers with a few characters changed.
    fn validator_input() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "-", ".", "(", ")", "+", "G",
            "B", "d", "e", "x", "\u{663}", "é", "\t",
        ]);
        let random = prop::collection::vec(piece, 0..40).prop_map(|v| v.concat());
        let known = prop::sample::select(vec![
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
            // 12 digits, Luhn-valid Maestro: too short for the card rule.
            "5018 0000 0009",
            "GB82 WEST 1234 5698 7654 32",
            "gb82west12345698765432",
            "DE89370400440532013000",
            "078-05-1120",
            "536 22 1234",
            "536221234",
            "+1 (415) 555-2671",
            "1.415.555.2671",
            "4155552671",
        ]);
        let edited =
            (known, prop::collection::vec((0..40usize, 0..10u8), 0..3)).prop_map(|(k, edits)| {
                let mut b = k.as_bytes().to_vec();
                for (at, d) in edits {
                    if !b.is_empty() {
                        let i = at % b.len();
                        b[i] = b'0' + d;
                    }
                }
                String::from_utf8(b).unwrap()
            });
        prop_oneof![random, edited]
    }

    proptest! {
        /// The stack versions of the validators answer as the allocating
        /// ones did, on any input.
        #[test]
        fn stack_validators_equal_the_old_ones(s in validator_input()) {
            prop_assert_eq!(credit_card_valid(&s), before::credit_card_valid(&s), "card {:?}", s);
            prop_assert_eq!(iban_valid(&s), before::iban_valid(&s), "iban {:?}", s);
            prop_assert_eq!(us_ssn_valid(&s), before::us_ssn_valid(&s), "ssn {:?}", s);
            prop_assert_eq!(nanp_valid(&s), before::nanp_valid(&s), "nanp {:?}", s);
        }
    }
}
