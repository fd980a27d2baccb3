//! Keyed, deterministic, shape-preserving pseudonyms ("surrogates").
//!
//! Redacting PII to `[REDACTED]` destroys the structure downstream tools
//! and readers rely on. Instead every detected value is replaced by a fake
//! value of the same kind and shape, so that:
//!
//! * the same original always maps to the same surrogate under the same key
//!   (across processes and runs), which keeps joins, counts and
//!   co-references intact;
//! * without the key the mapping cannot be inverted or even tested by
//!   guessing candidate originals (it is an HMAC, not a plain hash);
//! * the surrogate is never equal to the original, so a rewrite can never
//!   silently leak the value it was meant to hide;
//! * checksummed formats (cards, IBANs) stay valid, so validators and
//!   parsers further down the pipeline still accept the text, and
//!   network/phone/e-mail values land in ranges reserved for documentation.
//!
//! Randomness comes from a keyed byte stream: block `i` is
//! `HMAC-SHA256(key, entity_type || 0x00 || normalized_original || 0x00 || i_be32)`.
//! Normalisation (lower-casing, stripping separators) is per kind, so that
//! e.g. `4111 1111 1111 1111` and `4111-1111-1111-1111` get the same digits.
//! When a candidate is rejected (equal to the original, invalid) the
//! generator keeps reading the stream, i.e. moves on to the next counter.
//! Every method is total: any input, including arbitrary Unicode, yields a
//! string and never panics.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ring::hmac;

use crate::detect::validators;
use crate::months::NAMES as MONTHS;

/// How many candidates to draw before switching to a deterministic
/// fallback. Rejection rates are tiny, so this bound is only there to make
/// termination obvious even for degenerate inputs or name lists.
const MAX_ATTEMPTS: usize = 64;

#[rustfmt::skip]
const BUILTIN_FIRST_NAMES: &[&str] = &[
    "James", "Maria", "Wei", "Aisha", "Carlos", "Yuki", "Olga", "Mohammed", "Priya", "Liam",
    "Fatima", "Hiroshi", "Sofia", "Kwame", "Elena", "Raj", "Mei", "Omar", "Anna", "Diego",
    "Chloe", "Ivan", "Amara", "Lucas", "Leila", "Noah", "Ingrid", "Juan", "Zara", "Kenji",
    "Nadia", "Pedro", "Emma", "Tariq", "Hana", "Sven", "Lucia", "Youssef", "Mia", "Arjun",
    "Grace", "Mateo", "Yara", "Oscar", "Ana", "Tomasz", "Ravi", "Nia", "Felix", "Rosa",
];

#[rustfmt::skip]
const BUILTIN_SURNAMES: &[&str] = &[
    "Smith", "Garcia", "Wang", "Kim", "Nguyen", "Patel", "Muller", "Rossi", "Silva", "Kowalski",
    "Ivanov", "Tanaka", "Okafor", "Hansen", "Cohen", "Haddad", "Lopez", "Johnson", "Singh",
    "Chen", "Dubois", "Novak", "Yilmaz", "Khan", "Santos", "Jensen", "Sato", "Mensah",
    "Fischer", "Moreau", "Romero", "Ali", "Park", "Lee", "Brown", "Hernandez", "Nakamura",
    "Petrov", "Andersson", "Murphy", "Kaya", "Costa", "Okonkwo", "Schmidt", "Li", "Ahmed",
    "Reyes", "Horvat", "Virtanen", "Walker",
];

/// Extra given names used only to *recognise* a lone token as a first name
/// (never emitted), so that "John" alone maps like the "John" in
/// "John Smith" even when the surrogate pool does not contain it.
#[rustfmt::skip]
const COMMON_FIRST_NAMES: &[&str] = &[
    "john", "michael", "david", "robert", "william", "richard", "joseph", "thomas", "charles",
    "christopher", "daniel", "matthew", "anthony", "mark", "paul", "steven", "andrew", "peter",
    "george", "kevin", "brian", "jose", "luis", "hassan", "mohamed", "muhammad", "mary",
    "patricia", "jennifer", "linda", "elizabeth", "barbara", "susan", "jessica", "sarah",
    "karen", "nancy", "lisa", "margaret", "sandra", "ashley", "emily", "laura", "olivia",
    "isabella", "sophia", "jane", "anne", "marie", "fatma", "ming", "hui", "yan", "jin",
    "akira", "sakura", "ana", "ines", "pierre", "jean", "hans", "lars", "nikolai", "dmitri",
    "alexander", "alex", "sam", "chris",
];

/// Fallback pool for [`Surrogates::location`] when the caller has none.
#[rustfmt::skip]
const BUILTIN_CITIES: &[&str] = &[
    "Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Franklin", "Clinton",
    "Georgetown", "Salem", "Madison", "Oakridge", "Brookfield", "Ashford", "Milton", "Westport",
    "Kingsbury", "Millbrook", "Northwood", "Harborview", "Cedar Falls",
];

/// Domains reserved for documentation by RFC 2606, so surrogate addresses
/// can never reach a real mailbox.
const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// An e-mail address in disguise: URL-encoded (`jane%40example.com`), or
/// written to dodge scrapers (`jsmith[at]outlook[dot]com`, `john dot smith
/// at gmail dot com`), as the rules `email_urlencoded` and
/// `email_obfuscated` find them.
struct Disguised {
    /// The address written plainly.
    plain: String,
    /// How the original wrote "@" (`%40`, `[at]`, ` AT `).
    at: String,
    /// How it wrote the dots it disguised, if any (`[dot]`, ` dot `).
    dot: Option<String>,
    /// Whether the local part's dots were disguised too (`john dot
    /// smith`), not only the domain's.
    local_dots: bool,
}

impl Disguised {
    fn parse(orig: &str) -> Option<Self> {
        use std::sync::LazyLock;
        static AT: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(r"(?i)%40| ?[\[({] ?at ?[\])}] ?| at ").expect("valid")
        });
        static DOT: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(r"(?i) ?[\[({] ?dot ?[\])}] ?| dot ").expect("valid")
        });
        let m = AT.find_iter(orig).last()?;
        let at = m.as_str().to_string();
        let (local, domain) = (&orig[..m.start()], &orig[m.end()..]);
        let dot = DOT.find(orig).map(|d| d.as_str().to_string());
        let undot = |s: &str| DOT.replace_all(s, ".").into_owned();
        let mut plain = format!("{}@{}", undot(local), undot(domain));
        if at == "%40" {
            // The other escapes a query string holds in an address.
            for (esc, c) in [("%2B", "+"), ("%2b", "+"), ("%2E", "."), ("%2e", ".")] {
                plain = plain.replace(esc, c);
            }
        }
        Some(Self {
            plain,
            at,
            local_dots: DOT.is_match(local),
            dot,
        })
    }

    /// `addr` (a plain address) written in this disguise.
    fn wear(&self, addr: &str) -> String {
        let Some((local, domain)) = addr.rsplit_once('@') else {
            return addr.to_string();
        };
        let (mut local, mut domain) = (local.to_string(), domain.to_string());
        if let Some(dot) = &self.dot {
            domain = domain.replace('.', dot);
            if self.local_dots {
                local = local.replace('.', dot);
            }
        }
        if self.at == "%40" {
            local = local.replace('+', "%2B");
        }
        format!("{local}{}{domain}", self.at)
    }
}

/// RFC 5737 IPv4 documentation networks (TEST-NET-1/2/3).
const DOC_V4_NETS: &[[u8; 3]] = &[[192, 0, 2], [198, 51, 100], [203, 0, 113]];

/// Honorifics and generational suffixes carry no identity on their own and
/// help readers parse the surrogate, so person names keep them verbatim.
#[rustfmt::skip]
const NAME_AFFIXES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "hon", "jr", "sr",
    "ii", "iii", "iv", "phd", "md", "esq", "señor", "señora", "signora", "senhor", "senhora",
];

/// [`NAME_AFFIXES`] or a title of another language's letters.
fn is_name_affix(w: &str) -> bool {
    NAME_AFFIXES.contains(&w) || crate::detect::gazetteer::SALUTATIONS.contains(&w)
}

/// Well-known credential prefixes. Keeping them lets a reader (and
/// secret scanners run on the rewritten text) still tell what kind of
/// credential was there; the prefixes themselves are public constants.
const SECRET_PREFIXES: &[&str] = &[
    "github_pat_",
    "sk_live_",
    "sk_test_",
    "pk_live_",
    "pk_test_",
    "rk_live_",
    "rk_test_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xoxe-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "AKIA",
    "ASIA",
    "AIza",
    "npm_",
    "sk-",
    "SG.",
    "eyJ",
];

/// Keyed deterministic byte source (HMAC-SHA256 in counter mode).
struct Stream<'a> {
    key: &'a hmac::Key,
    prefix: Vec<u8>,
    counter: u32,
    block: [u8; 32],
    pos: usize,
}

impl<'a> Stream<'a> {
    fn new(key: &'a hmac::Key, kind: &str, norm: &str) -> Self {
        let mut prefix = Vec::with_capacity(kind.len() + norm.len() + 2);
        prefix.extend_from_slice(kind.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(norm.as_bytes());
        prefix.push(0);
        Stream {
            key,
            prefix,
            counter: 0,
            block: [0; 32],
            pos: 32,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.pos >= self.block.len() {
            let mut ctx = hmac::Context::with_key(self.key);
            ctx.update(&self.prefix);
            ctx.update(&self.counter.to_be_bytes());
            let tag = ctx.sign();
            let t = tag.as_ref();
            let n = t.len().min(self.block.len());
            self.block[..n].copy_from_slice(&t[..n]);
            self.counter = self.counter.wrapping_add(1);
            self.pos = 0;
        }
        let b = self.block[self.pos];
        self.pos += 1;
        b
    }

    fn next_u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Uniform value in `0..n` (rejection sampling, so no modulo bias that
    /// would make some surrogates more likely than others).
    fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let limit = u32::MAX - u32::MAX % n;
        for _ in 0..16 {
            let x = self.next_u32();
            if x < limit {
                return x % n;
            }
        }
        self.next_u32() % n
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(u32::try_from(len).unwrap_or(u32::MAX)) as usize
    }

    /// ASCII digit in `lo..=hi` (both ASCII digits).
    fn digit_in(&mut self, lo: u8, hi: u8) -> u8 {
        lo + self.below(u32::from(hi.saturating_sub(lo)) + 1) as u8
    }

    fn digit(&mut self) -> u8 {
        self.digit_in(b'0', b'9')
    }

    fn letter(&mut self, upper: bool) -> u8 {
        let base = if upper { b'A' } else { b'a' };
        base + self.below(26) as u8
    }
}

/// Case pattern of a token, so a surrogate can be rendered the same way.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Upper,
    Lower,
    /// Title case, mixed case, or no letters: use the replacement as-is.
    AsIs,
}

fn case_of(s: &str) -> Case {
    let mut letters = s.chars().filter(|c| c.is_alphabetic()).peekable();
    letters.peek().copied().map_or(Case::AsIs, |_| {
        let (mut up, mut low, mut n) = (0usize, 0usize, 0usize);
        for c in letters {
            n += 1;
            if c.is_uppercase() {
                up += 1;
            } else if c.is_lowercase() {
                low += 1;
            }
        }
        if up == n && n >= 2 {
            Case::Upper
        } else if low == n {
            Case::Lower
        } else {
            Case::AsIs
        }
    })
}

fn apply_case(s: &str, case: Case) -> String {
    match case {
        Case::Upper => s.to_uppercase(),
        Case::Lower => s.to_lowercase(),
        Case::AsIs => s.to_string(),
    }
}

/// Whether `candidate` is `norm` or holds it as a hyphen- or
/// space-separated part, case-insensitively: "Hans-Karl" for "karl" would
/// carry the original name into the rewrite.
fn holds(candidate: &str, norm: &str) -> bool {
    eq_ci(candidate, norm) || candidate.split(['-', ' ']).any(|part| eq_ci(part, norm))
}

fn eq_ci(a: &str, b: &str) -> bool {
    a == b
        || if a.is_ascii() && b.is_ascii() {
            a.eq_ignore_ascii_case(b)
        } else {
            a.chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase))
        }
}

/// `v` (ASCII digits) with a Luhn check digit appended: a card, or an
/// IMEI, whose check holds.
fn with_luhn_check(mut v: Vec<u8>) -> Vec<u8> {
    v.push(b'0');
    let check = (10 - validators::luhn_sum(&v) % 10) % 10;
    if let Some(last) = v.last_mut() {
        *last = b'0' + check as u8;
    }
    v
}

/// Replaces the ASCII digits of `template` in order with `new_digits`,
/// keeping every other character, so separators and layout survive.
fn fill_digits(template: &str, new_digits: &[u8]) -> String {
    let mut it = new_digits.iter();
    template
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                it.next().map_or(c, |d| char::from(*d))
            } else {
                c
            }
        })
        .collect()
}

/// Splits a token into (leading non-letters, core, trailing non-letters).
fn split_affixes(token: &str) -> (&str, &str, &str) {
    let start = token
        .char_indices()
        .find(|(_, c)| c.is_alphabetic())
        .map(|(i, _)| i);
    let end = token
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphabetic())
        .map(|(i, c)| i + c.len_utf8());
    match (start, end) {
        (Some(s), Some(e)) if s < e => (&token[..s], &token[s..e], &token[e..]),
        _ => (token, "", ""),
    }
}

/// Splits a string into alternating whitespace / non-whitespace pieces,
/// so a rewrite can put the original spacing back unchanged.
fn ws_pieces(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut cur: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let ws = c.is_whitespace();
        if cur.is_some_and(|w| w != ws) {
            out.push((cur.unwrap_or(false), &s[start..i]));
            start = i;
        }
        cur = Some(ws);
    }
    if let Some(w) = cur {
        out.push((w, &s[start..]));
    }
    out
}

/// ITU-T E.164 country codes are prefix-free: 1 and 7 are single digit, a
/// fixed set is two digits, and everything else is three. Knowing the length
/// lets a phone surrogate keep the country code even without a separator.
fn country_code_len(d: &[u8]) -> usize {
    let len = match d.first() {
        None => 0,
        Some(b'1' | b'7') => 1,
        Some(&a) => {
            let two = d
                .get(1)
                .map(|&b| (a.wrapping_sub(b'0') % 10) * 10 + (b.wrapping_sub(b'0') % 10));
            match two {
                Some(
                    20
                    | 27
                    | 30..=34
                    | 36
                    | 39
                    | 40
                    | 41
                    | 43..=49
                    | 51..=58
                    | 60..=66
                    | 81
                    | 82
                    | 84
                    | 86
                    | 90..=95
                    | 98,
                ) => 2,
                _ => 3,
            }
        }
    };
    len.min(d.len())
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokKind {
    Num,
    Word,
    Sep,
}

fn date_tokens(s: &str) -> Vec<(TokKind, &str)> {
    let kind = |c: char| {
        if c.is_ascii_digit() {
            TokKind::Num
        } else if c.is_alphabetic() {
            TokKind::Word
        } else {
            TokKind::Sep
        }
    };
    let mut out: Vec<(TokKind, &str)> = Vec::new();
    let mut start = 0;
    let mut cur: Option<TokKind> = None;
    for (i, c) in s.char_indices() {
        let k = kind(c);
        if let Some(p) = cur
            && p != k
        {
            out.push((p, &s[start..i]));
            start = i;
        }
        cur = Some(k);
    }
    if let Some(p) = cur {
        out.push((p, &s[start..]));
    }
    out
}

/// A parsed date plus enough layout information to re-render it.
struct ParsedDate<'a> {
    toks: Vec<(TokKind, &'a str)>,
    y: i64,
    m: u32,
    d: u32,
    yi: usize,
    mi: usize,
    di: usize,
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<ParsedDate<'_>> {
    use TokKind::{Num, Sep, Word};
    let toks = date_tokens(s);
    if toks.len() != 5 {
        return None;
    }
    let kinds: Vec<TokKind> = toks.iter().map(|t| t.0).collect();
    let t = |i: usize| toks[i].1;
    let full_year = |ys: &str| -> Option<i64> {
        let v = i64::from(num(ys)?);
        match ys.len() {
            4 => Some(v),
            2 => Some(if v < 50 { 2000 + v } else { 1900 + v }),
            _ => None,
        }
    };
    let numeric_sep = |a: &str, b: &str| a == b && matches!(a, "-" | "/" | ".");
    let word_sep = |a: &str| {
        !a.is_empty() && a.len() <= 3 && a.chars().all(|c| matches!(c, ' ' | '-' | '/' | '.' | ','))
    };
    let (y, m, d, yi, mi, di) = match kinds.as_slice() {
        [Num, Sep, Num, Sep, Num] if t(0).len() == 4 && numeric_sep(t(1), t(3)) => {
            if t(2).len() > 2 || t(4).len() > 2 {
                return None;
            }
            (full_year(t(0))?, num(t(2))?, num(t(4))?, 0, 2, 4)
        }
        [Num, Sep, Num, Sep, Num] if numeric_sep(t(1), t(3)) => {
            if t(0).len() > 2 || t(2).len() > 2 {
                return None;
            }
            let y = full_year(t(4))?;
            let (a, b) = (num(t(0))?, num(t(2))?);
            let valid =
                |m: u32, d: u32| (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m);
            if t(1) != "." && valid(a, b) {
                (y, a, b, 4, 0, 2)
            } else if valid(b, a) {
                (y, b, a, 4, 2, 0)
            } else {
                return None;
            }
        }
        [Num, Sep, Word, Sep, Num] if t(0).len() <= 2 && t(4).len() == 4 => {
            if !word_sep(t(1)) || !word_sep(t(3)) {
                return None;
            }
            (
                full_year(t(4))?,
                crate::months::parse(t(2))?.0,
                num(t(0))?,
                4,
                2,
                0,
            )
        }
        [Word, Sep, Num, Sep, Num] if t(2).len() <= 2 && t(4).len() == 4 => {
            if !word_sep(t(1)) || !word_sep(t(3)) {
                return None;
            }
            (
                full_year(t(4))?,
                crate::months::parse(t(0))?.0,
                num(t(2))?,
                4,
                0,
                2,
            )
        }
        _ => return None,
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(ParsedDate {
        toks,
        y,
        m,
        d,
        yi,
        mi,
        di,
    })
}

fn render_date(p: &ParsedDate<'_>, y: i64, m: u32, d: u32) -> String {
    let pad = |orig: &str, v: u32| {
        if orig.len() >= 2 {
            format!("{v:02}")
        } else {
            v.to_string()
        }
    };
    let mut out = String::new();
    for (i, (kind, text)) in p.toks.iter().enumerate() {
        if i == p.yi {
            if text.len() == 2 {
                out.push_str(&format!("{:02}", y.rem_euclid(100)));
            } else {
                out.push_str(&format!("{y:04}"));
            }
        } else if i == p.mi {
            if *kind == TokKind::Word {
                let abbr = crate::months::parse(text).is_some_and(|(_, a)| a);
                let name = MONTHS[(m as usize).saturating_sub(1).min(11)];
                let name = if abbr { &name[..3] } else { name };
                out.push_str(&apply_case(name, case_of(text)));
            } else {
                out.push_str(&pad(text, m));
            }
        } else if i == p.di {
            out.push_str(&pad(text, d));
        } else {
            out.push_str(text);
        }
    }
    out
}

/// Whether `s` is a syntactically valid RFC 5322 dot-atom local part.
fn valid_local_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c))
}

/// What each piece of a person's name becomes ([`Surrogates::person`]).
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Space,
    Keep,
    Initial,
    Other,
    First,
    Last,
}

/// Keyed generator of realistic, format-preserving fake values.
///
/// Cloning is cheap enough for per-thread use; the struct holds no mutable
/// state, so one instance can also be shared behind an `Arc`.
#[derive(Clone)]
pub struct Surrogates {
    key: hmac::Key,
    /// Separate key for [`Surrogates::fingerprint`], so published
    /// fingerprints reveal nothing about the surrogate stream (and vice
    /// versa) even for identical inputs.
    fp_key: hmac::Key,
    first_names: Vec<String>,
    surnames: Vec<String>,
    /// Lower-cased `first_names` plus [`COMMON_FIRST_NAMES`], to decide
    /// whether a lone token is a given name or a surname.
    first_name_set: HashSet<String>,
    /// The gender of each given name of one (lower-cased), and the given
    /// names of each: a given name's surrogate is of its gender (see
    /// [`Surrogates::with_genders`]).
    gender: HashMap<String, Gender>,
    female_names: Vec<String>,
    male_names: Vec<String>,
}

/// The gender a given name is used for (see [`Surrogates::with_genders`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gender {
    Female,
    Male,
}

impl fmt::Debug for Surrogates {
    // Never print key material; list sizes are enough to debug config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Surrogates")
            .field("first_names", &self.first_names.len())
            .field("surnames", &self.surnames.len())
            .finish_non_exhaustive()
    }
}

fn clean_names(v: Vec<String>, builtin: &[&str]) -> Vec<String> {
    let mut seen = HashSet::new();
    let cleaned: Vec<String> = v
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && seen.insert(s.to_lowercase()))
        .collect();
    if cleaned.is_empty() {
        builtin.iter().map(|s| (*s).to_string()).collect()
    } else {
        cleaned
    }
}

impl Surrogates {
    /// Creates a generator keyed by `key_bytes`.
    ///
    /// Empty (or all-blank) name lists fall back to small built-in,
    /// culturally varied lists so the type is usable without configuration.
    pub fn new(key_bytes: &[u8], first_names: Vec<String>, surnames: Vec<String>) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key_bytes);
        let fp_seed = hmac::sign(&key, b"gdr surrogate fingerprint key v1");
        let fp_key = hmac::Key::new(hmac::HMAC_SHA256, fp_seed.as_ref());
        let first_names = clean_names(first_names, BUILTIN_FIRST_NAMES);
        let surnames = clean_names(surnames, BUILTIN_SURNAMES);
        let first_name_set = first_names
            .iter()
            .map(|s| s.to_lowercase())
            .chain(COMMON_FIRST_NAMES.iter().map(|s| (*s).to_string()))
            .collect();
        Surrogates {
            key,
            fp_key,
            first_names,
            surnames,
            first_name_set,
            gender: HashMap::new(),
            female_names: Vec::new(),
            male_names: Vec::new(),
        }
    }

    /// The given names of one gender each (as the gazetteers list them):
    /// a given name of one gets a surrogate of that gender, drawn from
    /// the first names that are of it. "his wife Sarah" became "his wife
    /// Raffaele", and a text's pronouns then disagreed with its names; a
    /// reader, or a model trained on it, met a different story. A name of
    /// no one gender ("Jordan") or not listed draws from all first names.
    pub fn with_genders(mut self, female: &[String], male: &[String]) -> Self {
        let mut gender = HashMap::with_capacity(female.len() + male.len());
        for (names, g) in [(female, Gender::Female), (male, Gender::Male)] {
            for n in names {
                gender.insert(n.to_lowercase(), g);
            }
        }
        // Each pool: the first names (as configured) of that gender.
        let (mut female_names, mut male_names) = (Vec::new(), Vec::new());
        for n in &self.first_names {
            match gender.get(&n.to_lowercase()) {
                Some(Gender::Female) => female_names.push(n.clone()),
                Some(Gender::Male) => male_names.push(n.clone()),
                None => {}
            }
        }
        self.female_names = female_names;
        self.male_names = male_names;
        self.gender = gender;
        self
    }

    /// The first names a surrogate for given name `norm` (lower case) is
    /// drawn from: those of its gender, if it has one and some are listed.
    fn first_pool(&self, norm: &str) -> &[String] {
        let pool = match self.gender.get(norm) {
            Some(Gender::Female) => &self.female_names,
            Some(Gender::Male) => &self.male_names,
            None => &self.first_names,
        };
        if pool.is_empty() {
            &self.first_names
        } else {
            pool
        }
    }

    fn stream(&self, kind: &str, norm: &str) -> Stream<'_> {
        Stream::new(&self.key, kind, norm)
    }

    /// Short keyed digest of a value (hex of 8 HMAC bytes), so logs and
    /// reports can say "the same value occurred 3 times" without containing
    /// the value or anything that could be brute-forced offline.
    pub fn fingerprint(&self, entity_type: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.fp_key);
        ctx.update(entity_type.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        let tag = ctx.sign();
        tag.as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Picks a pool element that differs (case-insensitively) from `norm`.
    ///
    /// An original written in ASCII gets an ASCII pick: the lists hold the
    /// names and towns of 86 locales, and "Thomas" rewritten "Þórgrímur" or
    /// "Portland, OR" rewritten "Maghār, OR" reads as a different text
    /// (and an ASCII-only consumer downstream may choke on it). An original
    /// with other letters may get any.
    ///
    /// Nor does a pick hold the original inside a word ("Gianna" for
    /// "Anna", "Annabel" for "Ann"): no reader would see it there, but a
    /// compliance check that greps the output for the removed name does,
    /// and flags a leak that is none. (`norm` is lower case.)
    fn pick_distinct(&self, kind: &str, norm: &str, pool: &[String], fallback: &[&str]) -> String {
        let inside = |c: &str| norm.len() >= 3 && c.to_lowercase().contains(norm);
        let fits = |c: &str| !holds(c, norm) && !inside(c) && (c.is_ascii() || !norm.is_ascii());
        if !pool.is_empty() {
            let mut st = self.stream(kind, norm);
            for _ in 0..MAX_ATTEMPTS {
                let c = &pool[st.index(pool.len())];
                if fits(c) {
                    return c.clone();
                }
            }
        }
        pool.iter()
            .map(String::as_str)
            .chain(fallback.iter().copied())
            .find(|c| fits(c))
            .or_else(|| {
                pool.iter()
                    .map(String::as_str)
                    .chain(fallback.iter().copied())
                    .find(|c| !holds(c, norm))
            })
            .unwrap_or("Alex")
            .to_string()
    }

    fn looks_like_first_name(&self, token: &str) -> bool {
        let core = split_affixes(token).1;
        let first_part = core.split('-').next().unwrap_or(core);
        self.first_name_set.contains(&first_part.to_lowercase())
    }

    /// Surrogate for a single name token (given name if `first`, else
    /// surname).
    ///
    /// The result depends only on the token (case-insensitively) and
    /// `first`, never on the surrounding name, so "John Smith", "Smith" and
    /// "SMITH, John" all render the surname the same way. Punctuation around
    /// the token and hyphenated parts are kept; the case pattern
    /// (UPPER/lower/as-listed) follows the original.
    pub fn name_token(&self, token: &str, first: bool) -> String {
        let (lead, core, trail) = split_affixes(token);
        if core.is_empty() {
            return self.shape(token);
        }
        let (kind, fallback) = if first {
            ("PERSON_FIRST", BUILTIN_FIRST_NAMES)
        } else {
            ("PERSON_LAST", BUILTIN_SURNAMES)
        };
        let parts: Vec<String> = core
            .split('-')
            .map(|part| {
                if part.is_empty() {
                    String::new()
                } else {
                    let norm = part.to_lowercase();
                    let pool = if first {
                        self.first_pool(&norm)
                    } else {
                        &self.surnames
                    };
                    let picked = self.pick_distinct(kind, &norm, pool, fallback);
                    apply_case(&picked, case_of(part))
                }
            })
            .collect();
        format!("{lead}{}{trail}", parts.join("-"))
    }

    fn initial(&self, token: &str) -> String {
        let (lead, core, trail) = split_affixes(token);
        let Some(orig) = core.chars().next() else {
            return token.to_string();
        };
        let lower = orig.to_lowercase().to_string();
        let mut st = self.stream("PERSON_INITIAL", &lower);
        let mut c = char::from(st.letter(false));
        for _ in 0..MAX_ATTEMPTS {
            if c.to_string() != lower {
                break;
            }
            c = char::from(st.letter(false));
        }
        if c.to_string() == lower {
            c = if c == 'z' {
                'a'
            } else {
                char::from(c as u8 + 1)
            };
        }
        let c = if orig.is_uppercase() {
            c.to_ascii_uppercase()
        } else {
            c
        };
        format!("{lead}{c}{trail}")
    }

    /// Surrogate for a full person name, token by token.
    ///
    /// Titles and suffixes (Dr, Mrs., Jr, PhD...) are kept, initials become
    /// other initials, the last name token becomes a surname and the others
    /// given names; a leading "Surname," is recognised as surname-first
    /// order. A lone token is treated as a given name only if it appears in
    /// the first-name list, otherwise as a surname, which keeps "Smith" on
    /// its own consistent with "John Smith". Whitespace is preserved.
    /// Input without letters or digits is returned unchanged because it
    /// contains nothing identifying.
    pub fn person(&self, orig: &str) -> String {
        let pieces = ws_pieces(orig);
        let roles = self.person_roles(&pieces);
        self.render_person(&pieces, roles)
    }

    /// [`Surrogates::person`] of a mention of the person whose fullest
    /// mention in the document is `full` ("Ford" of "Mark Ford", "Mr.
    /// Smith" of "John Smith"). A lone name word takes the role it has in
    /// `full`; [`Surrogates::person`] guesses it from the lists, and a
    /// surname that is also a given name ("Ford", "Smith", "Young") was
    /// rendered as a given name: a different person in the rewrite.
    pub fn person_in(&self, orig: &str, full: &str) -> String {
        let pieces = ws_pieces(orig);
        let mut roles = self.person_roles(&pieces);
        let named: Vec<usize> = (0..roles.len())
            .filter(|&i| matches!(roles[i], Role::First | Role::Last))
            .collect();
        if let [only] = named.as_slice() {
            let full_pieces = ws_pieces(full);
            let full_roles = self.person_roles(&full_pieces);
            let core = |tok: &str| split_affixes(tok).1.to_lowercase();
            let word = core(pieces[*only].1);
            let names = full_roles
                .iter()
                .filter(|r| matches!(r, Role::First | Role::Last))
                .count();
            if names >= 2
                && let Some(role) = full_pieces
                    .iter()
                    .zip(&full_roles)
                    .find(|((_, tok), r)| {
                        matches!(r, Role::First | Role::Last) && core(tok) == word
                    })
                    .map(|(_, r)| *r)
            {
                roles[*only] = role;
            }
        }
        self.render_person(&pieces, roles)
    }

    /// The role of each piece of a name (see [`Surrogates::person`]).
    fn person_roles(&self, pieces: &[(bool, &str)]) -> Vec<Role> {
        let mut roles: Vec<Role> = pieces
            .iter()
            .map(|(ws, tok)| {
                if *ws {
                    return Role::Space;
                }
                let core = split_affixes(tok).1;
                if core.is_empty() {
                    Role::Other
                } else if is_name_affix(&core.to_lowercase()) {
                    Role::Keep
                } else if core.chars().count() == 1 {
                    Role::Initial
                } else {
                    Role::First
                }
            })
            .collect();
        let names: Vec<usize> = (0..roles.len())
            .filter(|&i| roles[i] == Role::First)
            .collect();
        match names.as_slice() {
            [] => {
                // Only titles (e.g. "Dr."): treat the last one as a surname
                // so the output still differs from the input.
                if !roles.contains(&Role::Initial)
                    && let Some(i) = roles.iter().rposition(|r| *r == Role::Keep)
                {
                    roles[i] = Role::Last;
                }
            }
            [only] => {
                if !self.looks_like_first_name(pieces[*only].1) {
                    roles[*only] = Role::Last;
                }
            }
            [head, .., last] => {
                if split_affixes(pieces[*head].1).2.contains(',') {
                    roles[*head] = Role::Last;
                } else {
                    roles[*last] = Role::Last;
                }
            }
        }
        roles
    }

    fn render_person(&self, pieces: &[(bool, &str)], roles: Vec<Role>) -> String {
        pieces
            .iter()
            .zip(roles)
            .map(|((_, tok), role)| match role {
                Role::Space | Role::Keep => (*tok).to_string(),
                Role::Initial => self.initial(tok),
                Role::Other => self.shape(tok),
                Role::First => self.name_token(tok, true),
                Role::Last => self.name_token(tok, false),
            })
            .collect()
    }

    /// Surrogate e-mail address on an RFC 2606 reserved domain.
    ///
    /// Alphabetic local-part tokens become names consistent with
    /// [`Surrogates::person`] (`john.smith` → `<first>.<surname>`), trailing
    /// digits and other tokens (and any `+tag`) are shape-replaced, and
    /// separators and case style are kept. The
    /// domain is always an `example.*` domain different from the original,
    /// which guarantees the result differs and can never be delivered.
    /// Input without `@` is shape-replaced.
    pub fn email(&self, orig: &str) -> String {
        let Some(at) = orig.rfind('@') else {
            // Written to dodge scrapers or URL-encoded: an address of the
            // same disguise ("jsmith[at]outlook[dot]com" becomes
            // "kdoe[at]example[dot]org", "a%40b.com" stays encoded).
            return match Disguised::parse(orig) {
                Some(d) => d.wear(&self.email(&d.plain)),
                None => self.shape(orig),
            };
        };
        let (local, domain) = (&orig[..at], &orig[at + 1..]);
        if local.is_empty() || domain.is_empty() {
            return self.shape(orig);
        }

        // A "+tag" (sub-addressing) is not part of the person's name.
        let (base, tag) = local.split_at(local.find('+').unwrap_or(local.len()));
        let is_sep = |c: char| matches!(c, '.' | '_' | '-');
        let mut toks: Vec<(bool, &str)> = Vec::new();
        let mut start = 0;
        for (i, c) in base.char_indices() {
            if is_sep(c) {
                if start < i {
                    toks.push((false, &base[start..i]));
                }
                toks.push((true, &base[i..i + c.len_utf8()]));
                start = i + c.len_utf8();
            }
        }
        if start < base.len() {
            toks.push((false, &base[start..]));
        }
        // Name-like tokens: ASCII letters optionally followed by digits
        // ("doe42"); the letters become a name, the digits are reshaped.
        let name_split = |tok: &str| -> Option<usize> {
            let n = tok.bytes().take_while(u8::is_ascii_alphabetic).count();
            (n > 0 && tok.bytes().skip(n).all(|b| b.is_ascii_digit())).then_some(n)
        };
        let named: Vec<usize> = (0..toks.len())
            .filter(|&i| !toks[i].0 && name_split(toks[i].1).is_some())
            .collect();
        let ascii =
            |s: String| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
        let mut out = String::new();
        for (i, (sep, tok)) in toks.iter().enumerate() {
            if *sep {
                out.push_str(tok);
                continue;
            }
            match name_split(tok).filter(|_| named.contains(&i)) {
                Some(n) => {
                    let (letters, nums) = tok.split_at(n);
                    let first = if named.len() == 1 {
                        self.looks_like_first_name(letters)
                    } else {
                        named.last() != Some(&i)
                    };
                    out.push_str(&ascii(self.name_token(letters, first)));
                    out.push_str(&self.shape(nums));
                }
                None => out.push_str(&ascii(self.shape(tok))),
            }
        }
        if let Some(rest) = tag.strip_prefix('+') {
            out.push('+');
            out.push_str(&ascii(self.shape(rest)));
        }
        if !valid_local_part(&out) {
            // E.g. a quoted or non-ASCII local part: fall back to first.last.
            let lower = local.to_lowercase();
            let first = self.pick_distinct(
                "EMAIL_LOCAL_FIRST",
                &lower,
                &self.first_names,
                BUILTIN_FIRST_NAMES,
            );
            let last =
                self.pick_distinct("EMAIL_LOCAL_LAST", &lower, &self.surnames, BUILTIN_SURNAMES);
            out = format!("{}.{}", ascii(first), ascii(last)).to_lowercase();
            if !valid_local_part(&out) {
                out = "user".to_string();
            }
        }

        let dom_lower = domain.to_lowercase();
        let candidates: Vec<String> = EMAIL_DOMAINS
            .iter()
            .filter(|d| **d != dom_lower)
            .map(|d| (*d).to_string())
            .collect();
        let mut st = self.stream("EMAIL_DOMAIN", &dom_lower);
        let dom = candidates
            .get(st.index(candidates.len()))
            .map_or("example.com", String::as_str);
        let dom = if case_of(domain) == Case::Upper {
            dom.to_uppercase()
        } else {
            dom.to_string()
        };
        format!("{out}@{dom}")
    }

    /// Surrogate card number: same length, same network, same separator
    /// layout, Luhn-valid, different digits.
    ///
    /// Only the IIN digits that determine the network are kept (e.g. `4`
    /// for Visa, `34`/`37` for Amex, `2221`–`2720` for new Mastercard
    /// ranges) so the issuing bank is not preserved. Numbers with an unknown
    /// network keep their first digit; fewer than two digits falls back to
    /// [`Surrogates::shape`].
    pub fn credit_card(&self, orig: &str) -> String {
        let d = validators::digits(orig);
        if d.len() < 2 {
            return self.shape(orig);
        }
        let db = d.as_bytes();
        let rule = validators::iin_rule(&d).filter(|r| db.len() >= r.prefix_len + 3);
        let keep = rule.map_or(1, |r| r.prefix_len);
        let brand = rule.map(|r| r.brand);
        let orig_valid = validators::credit_card_valid(&d);
        let mut st = self.stream("CREDIT_CARD", &d);
        for _ in 0..MAX_ATTEMPTS {
            let mut v = db[..keep].to_vec();
            while v.len() + 1 < db.len() {
                v.push(st.digit());
            }
            let v = with_luhn_check(v);
            let Ok(s) = std::str::from_utf8(&v) else {
                continue;
            };
            if v != db
                && (brand.is_none() || validators::card_brand(s) == brand)
                && (!orig_valid || validators::credit_card_valid(s))
            {
                return fill_digits(orig, &v);
            }
        }
        // Deterministic fallback: bump the first digit; the check digit is
        // recomputed, so the result is Luhn-valid and differs from `d`.
        let mut v = db[..db.len() - 1].to_vec();
        v[0] = b'0' + (v[0] - b'0' + 1) % 10;
        fill_digits(orig, &with_luhn_check(v))
    }

    /// Surrogate IBAN: same country, same length, letters where the
    /// original has letters and digits where it has digits, original
    /// case and spacing, and freshly computed mod-97 check digits so the
    /// result passes [`validators::iban_valid`] whenever the input did.
    /// Text that is not IBAN-shaped falls back to [`Surrogates::shape`].
    pub fn iban(&self, orig: &str) -> String {
        let norm: Vec<u8> = orig
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if norm.len() < 5
            || !norm[..2].iter().all(u8::is_ascii_alphabetic)
            || !norm[2..4].iter().all(u8::is_ascii_digit)
        {
            return self.shape(orig);
        }
        let key = String::from_utf8_lossy(&norm).into_owned();
        let mut st = self.stream("IBAN", &key);
        for _ in 0..MAX_ATTEMPTS {
            let mut cand: Vec<u8> = norm[..2].to_vec();
            cand.extend_from_slice(b"00");
            for &c in &norm[4..] {
                cand.push(if c.is_ascii_digit() {
                    st.digit()
                } else {
                    st.letter(true)
                });
            }
            let Some(r) = validators::iban_mod97(&cand) else {
                continue;
            };
            let check = 98 - r;
            cand[2] = b'0' + (check / 10) as u8;
            cand[3] = b'0' + (check % 10) as u8;
            if cand != norm {
                let mut it = cand.iter();
                return orig
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            let n = it.next().map_or(c, |b| char::from(*b));
                            if c.is_ascii_lowercase() {
                                n.to_ascii_lowercase()
                            } else {
                                n
                            }
                        } else {
                            c
                        }
                    })
                    .collect();
            }
        }
        self.shape(orig)
    }

    /// Surrogate US SSN that passes [`validators::us_ssn_valid`] (valid
    /// area/group/serial, not a famous sample number), with the original
    /// separators. Anything without exactly 9 digits is shape-replaced.
    pub fn us_ssn(&self, orig: &str) -> String {
        let d = validators::digits(orig);
        if d.len() != 9 {
            return self.shape(orig);
        }
        let mut st = self.stream("US_SSN", &d);
        for _ in 0..MAX_ATTEMPTS {
            let area = 1 + st.below(899);
            let group = 1 + st.below(99);
            let serial = 1 + st.below(9999);
            let s = format!("{area:03}{group:02}{serial:04}");
            if s != d && validators::us_ssn_valid(&s) {
                return fill_digits(orig, s.as_bytes());
            }
        }
        let s = if d == "501427318" {
            "501427319"
        } else {
            "501427318"
        };
        fill_digits(orig, s.as_bytes())
    }

    /// Surrogate phone number with every non-digit kept (spaces, dashes,
    /// parentheses, `+`, `ext`/`x` markers) and the international prefix
    /// (`+CC`, `00CC`, `011CC`) or NANP trunk `1` preserved, because those
    /// say which country the number belongs to, not who owns it.
    ///
    /// NANP-shaped national numbers get a NANP-valid replacement; other
    /// national numbers keep a leading trunk `0` and never start with `0`
    /// otherwise. Extension digits are replaced too.
    pub fn phone(&self, orig: &str) -> String {
        // Split off the extension: from the first letter or '#' after a digit.
        let mut seen_digit = false;
        let mut tail_at = orig.len();
        for (i, c) in orig.char_indices() {
            if c.is_ascii_digit() {
                seen_digit = true;
            } else if seen_digit && (c.is_alphabetic() || c == '#') {
                tail_at = i;
                break;
            }
        }
        let (main, tail) = orig.split_at(tail_at);
        let md: Vec<u8> = validators::digits(main).into_bytes();
        let td: Vec<u8> = validators::digits(tail).into_bytes();
        if md.is_empty() {
            return self.shape(orig);
        }
        let intl = main
            .split(|c: char| c.is_ascii_digit())
            .next()
            .is_some_and(|lead| lead.contains('+'));
        let (cc_start, mut keep) = if intl {
            (0, country_code_len(&md))
        } else if md.starts_with(b"00") {
            (2, 2 + country_code_len(&md[2..]))
        } else if md.starts_with(b"011") && md.len() >= 13 {
            (3, 3 + country_code_len(&md[3..]))
        } else {
            (0, 0)
        };
        let cc_is_one = keep > cc_start && md[cc_start..keep] == *b"1";
        if keep == 0 && md.len() == 11 && md[0] == b'1' && validators::nanp_national_ok(&md[1..]) {
            keep = 1;
        }
        let national = &md[keep..];
        let nanp = national.len() == 10
            && (cc_is_one || (keep <= 1 && validators::nanp_national_ok(national)));

        let mut key = String::from_utf8_lossy(national).into_owned();
        key.push('x');
        key.push_str(&String::from_utf8_lossy(&td));
        let mut st = self.stream("PHONE", &key);
        let gen_national = |st: &mut Stream<'_>| -> Vec<u8> {
            if nanp {
                let mut v = vec![st.digit_in(b'2', b'9'), st.digit(), st.digit()];
                while v[1] == b'1' && v[2] == b'1' {
                    v[2] = st.digit();
                }
                v.push(st.digit_in(b'2', b'9'));
                while v.len() < 10 {
                    v.push(st.digit());
                }
                v
            } else {
                national
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| match (i, c) {
                        (0, b'0') => b'0',
                        (0, _) => st.digit_in(b'1', b'9'),
                        // After the trunk 0 ("06 12 34 56 78"), a second 0
                        // would read as the international prefix "00".
                        // Drawn again only then: every other number keeps
                        // the surrogate it always had.
                        (1, _) if national[0] == b'0' => loop {
                            let d = st.digit();
                            if d != b'0' {
                                break d;
                            }
                        },
                        _ => st.digit(),
                    })
                    .collect()
            }
        };
        let mut all_orig = md.clone();
        all_orig.extend_from_slice(&td);
        let mut cand = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            cand = md[..keep].to_vec();
            cand.extend(gen_national(&mut st));
            cand.extend(td.iter().map(|_| st.digit()));
            if cand != all_orig {
                break;
            }
        }
        if cand == all_orig {
            // Only reachable for tiny numbers: bump the last digit.
            if let Some(last) = cand.last_mut() {
                *last = b'0' + (*last - b'0' + 1) % 10;
            }
        }
        fill_digits(orig, &cand)
    }

    /// Surrogate IP address in a range reserved for documentation: RFC 5737
    /// networks for IPv4, `2001:db8::/32` (RFC 3849) for IPv6.
    ///
    /// IPv6 keeps the positions of zero groups so the compressed form looks
    /// similar, and keeps compressed / fully expanded / unpadded style and
    /// hex case. Non-addresses fall back to [`Surrogates::shape`].
    pub fn ip(&self, orig: &str) -> String {
        if let Ok(v4) = orig.parse::<Ipv4Addr>() {
            let mut st = self.stream("IPV4", &v4.to_string());
            for _ in 0..MAX_ATTEMPTS {
                let net = DOC_V4_NETS[st.index(DOC_V4_NETS.len())];
                let host = 1 + st.below(254) as u8;
                let a = Ipv4Addr::new(net[0], net[1], net[2], host);
                if a != v4 {
                    return a.to_string();
                }
            }
            let host = if v4.octets() == [192, 0, 2, 1] { 2 } else { 1 };
            return Ipv4Addr::new(192, 0, 2, host).to_string();
        }
        if let Ok(v6) = orig.parse::<Ipv6Addr>() {
            let segs = v6.segments();
            let mut st = self.stream("IPV6", &v6.to_string());
            let mut new = [0x2001u16, 0x0db8, 0, 0, 0, 0, 0, 0];
            for _ in 0..MAX_ATTEMPTS {
                for i in 2..8 {
                    new[i] = if segs[i] == 0 {
                        0
                    } else {
                        1 + st.below(0xffff) as u16
                    };
                }
                if new != segs {
                    break;
                }
            }
            if new == segs {
                new[7] ^= 1;
            }
            let addr = Ipv6Addr::from(new);
            let text = if orig.contains("::") || orig.contains('.') {
                addr.to_string()
            } else if orig.split(':').all(|g| g.len() == 4) {
                new.iter()
                    .map(|g| format!("{g:04x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            } else {
                new.iter()
                    .map(|g| format!("{g:x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            let upper = orig.chars().any(|c| c.is_ascii_uppercase())
                && !orig.chars().any(|c| c.is_ascii_lowercase());
            return if upper { text.to_uppercase() } else { text };
        }
        self.shape(orig)
    }

    /// Surrogate MAC address with the original separators and hex case.
    ///
    /// The result is a locally administered unicast address (first octet
    /// `xxxxxx10`), a range no manufacturer is assigned, so it cannot point
    /// at a real vendor or device. Non-MACs fall back to
    /// [`Surrogates::shape`].
    pub fn mac(&self, orig: &str) -> String {
        if !validators::mac_valid(orig) {
            return self.shape(orig);
        }
        let hex_orig: String = orig
            .chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let mut st = self.stream("MAC", &hex_orig);
        let mut hex = String::new();
        for _ in 0..MAX_ATTEMPTS {
            let mut bytes = [0u8; 6];
            for b in &mut bytes {
                *b = st.byte();
            }
            bytes[0] = (bytes[0] & 0xFC) | 0x02;
            hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if hex != hex_orig {
                break;
            }
        }
        if hex == hex_orig {
            // Flip the lowest bit of the last octet: still local unicast.
            let mut v = hex.into_bytes();
            if let Some(last) = v.last_mut() {
                *last = if *last == b'0' { b'1' } else { b'0' };
            }
            hex = String::from_utf8_lossy(&v).into_owned();
        }
        let upper = orig.chars().any(|c| c.is_ascii_uppercase());
        let mut it = hex.chars();
        orig.chars()
            .map(|c| {
                if c.is_ascii_hexdigit() {
                    let n = it.next().unwrap_or(c);
                    if upper { n.to_ascii_uppercase() } else { n }
                } else {
                    c
                }
            })
            .collect()
    }

    fn shape_kind(&self, kind: &str, orig: &str) -> String {
        if !orig.chars().any(|c| c.is_ascii_alphanumeric()) {
            return orig.to_string();
        }
        let mut st = self.stream(kind, &orig.to_lowercase());
        for _ in 0..MAX_ATTEMPTS {
            let out: String = orig
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        char::from(st.digit())
                    } else if c.is_ascii_uppercase() {
                        char::from(st.letter(true))
                    } else if c.is_ascii_lowercase() {
                        char::from(st.letter(false))
                    } else {
                        c
                    }
                })
                .collect();
            if !eq_ci(&out, orig) {
                return out;
            }
        }
        // Bump the first alphanumeric character; guaranteed to differ.
        let mut done = false;
        orig.chars()
            .map(|c| {
                if done || !c.is_ascii_alphanumeric() {
                    return c;
                }
                done = true;
                match c {
                    '9' => '0',
                    'z' => 'a',
                    'Z' => 'A',
                    _ => char::from(c as u8 + 1),
                }
            })
            .collect()
    }

    /// Surrogate ID number: [`Surrogates::shape`], except that a number
    /// whose check holds gets one whose check holds too, as a card keeps
    /// its Luhn digit: systems that load the rewritten records validate
    /// the field. That is an NHS number (mod 11), an Irish PPS number
    /// (mod 23 check letter) and fifteen digits under Luhn (an IMEI).
    pub fn id(&self, orig: &str) -> String {
        if validators::ie_pps_valid(orig) {
            return self.ie_pps(orig);
        }
        if validators::digits(orig).len() == 15
            && orig
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-')
            && validators::luhn_valid(orig)
        {
            return self.luhn_id(orig);
        }
        if !validators::nhs_valid(orig) {
            return self.shape(orig);
        }
        let d = validators::digits(orig);
        // The check digit of nine digits, None when they have none (a
        // remainder of 1 gives 10, which no NHS number uses).
        let check = |v: &[u8]| {
            let sum: u32 = v
                .iter()
                .zip((2..=10u32).rev())
                .map(|(&x, w)| u32::from(x - b'0') * w)
                .sum();
            match 11 - sum % 11 {
                11 => Some(b'0'),
                10 => None,
                c => Some(b'0' + c as u8),
            }
        };
        let mut st = self.stream("ID", &d);
        loop {
            let mut v: Vec<u8> = (0..9).map(|_| st.digit()).collect();
            let Some(c) = check(&v) else {
                continue;
            };
            v.push(c);
            let out = fill_digits(orig, &v);
            // Eleven draws in twelve give a check digit, and a valid
            // different number follows within a few: this ends.
            if v != d.as_bytes() && validators::nhs_valid(&out) {
                return out;
            }
        }
    }

    /// A PPS number's surrogate: seven fresh digits, the second letter
    /// kept (it marks the issue series, not the person), and the check
    /// letter that makes the whole pass mod 23; layout and case kept.
    fn ie_pps(&self, orig: &str) -> String {
        let d = validators::digits(orig);
        let at = orig.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
        let lower = orig[at..].starts_with(|c: char| c.is_ascii_lowercase());
        let mut st = self.stream("ID", &d);
        loop {
            let v: Vec<u8> = (0..7).map(|_| st.digit()).collect();
            if v == d.as_bytes() {
                continue;
            }
            let mut out = fill_digits(orig, &v);
            // Seven digits and a second letter have one check letter, in
            // A..W: trying each finds it.
            for l in b'A'..=b'W' {
                let l = if lower { l.to_ascii_lowercase() } else { l };
                out.replace_range(at..at + 1, char::from(l).encode_utf8(&mut [0; 4]));
                if validators::ie_pps_valid(&out) {
                    return out;
                }
            }
        }
    }

    /// Fifteen digits whose Luhn check holds (an IMEI): fresh digits, the
    /// layout kept, and a check digit that holds.
    fn luhn_id(&self, orig: &str) -> String {
        let d = validators::digits(orig);
        let mut st = self.stream("ID", &d);
        loop {
            let v = with_luhn_check((0..14).map(|_| st.digit()).collect());
            if v != d.as_bytes() {
                return fill_digits(orig, &v);
            }
        }
    }

    /// Generic shape-preserving surrogate: every ASCII digit becomes a
    /// digit, upper-case letter an upper-case letter, lower-case letter a
    /// lower-case letter; everything else (punctuation, non-ASCII) is kept.
    ///
    /// Used for ID numbers, postcodes, usernames and the like, where the
    /// layout is informative but the content is not. Input without ASCII
    /// letters or digits is returned unchanged (there is nothing to vary).
    pub fn shape(&self, orig: &str) -> String {
        self.shape_kind("SHAPE", orig)
    }

    /// Surrogate for a credential: a known type prefix (`AKIA`, `ghp_`,
    /// `xoxb-`, `sk_live_`, `eyJ`, ...) is kept so the kind of secret stays
    /// recognisable, and the rest is shape-replaced.
    pub fn secret(&self, orig: &str) -> String {
        let prefix = SECRET_PREFIXES
            .iter()
            .filter(|p| orig.starts_with(**p))
            .max_by_key(|p| p.len());
        if let Some(p) = prefix {
            let rest = &orig[p.len()..];
            if rest.chars().any(|c| c.is_ascii_alphanumeric()) {
                return format!("{p}{}", self.shape_kind("SECRET", rest));
            }
        }
        self.shape_kind("SECRET", orig)
    }

    /// Surrogate date in the same format, shifted by a keyed 1–365 days
    /// (direction also keyed), so ages and orderings are blurred but the
    /// text still reads as a plausible date.
    ///
    /// Understood: `YYYY-MM-DD` (also `/` and `.`), `MM/DD/YYYY` and
    /// `DD/MM/YYYY` (read as month-first when the first field is ≤ 12 and
    /// that is a valid date), `DD.MM.YYYY`, two-digit years, `12 March
    /// 1990`, `12-Mar-1990`, `March 12, 1990`. Field widths, separators and
    /// month-name style/case are preserved. The shift is keyed on the
    /// calendar date, so the same day written in two formats moves
    /// identically. Anything else falls back to [`Surrogates::shape`].
    pub fn date(&self, orig: &str) -> String {
        let Some(p) = parse_date(orig) else {
            return self.shape(orig);
        };
        let norm = format!("{:04}-{:02}-{:02}", p.y, p.m, p.d);
        let mut st = self.stream("DATE", &norm);
        let mag = 1 + i64::from(st.below(365));
        let back = st.byte() & 1 == 1;
        let base = days_from_civil(p.y, p.m, p.d);
        let mut shifted = if back { base - mag } else { base + mag };
        let (mut y, mut m, mut d) = civil_from_days(shifted);
        if !(1..=9999).contains(&y) {
            shifted = if back { base + mag } else { base - mag };
            (y, m, d) = civil_from_days(shifted);
        }
        let out = render_date(&p, y, m, d);
        if eq_ci(&out, orig) {
            return self.shape(orig);
        }
        out
    }

    /// Surrogate place name drawn (keyed) from `pool`, excluding the
    /// original, in the original's case pattern; an empty pool (or one
    /// containing only the original) uses a built-in list of generic town
    /// names.
    pub fn location(&self, orig: &str, pool: &[String]) -> String {
        // Keyed pick, retried on a collision with the original: no pass
        // over the (large) pool per call.
        let norm = orig.trim().to_lowercase();
        let pick = self.pick_distinct("LOCATION", &norm, pool, BUILTIN_CITIES);
        apply_case(pick.trim(), case_of(orig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sg() -> Surrogates {
        Surrogates::new(b"test key", Vec::new(), Vec::new())
    }

    fn sg2() -> Surrogates {
        Surrogates::new(b"another key", Vec::new(), Vec::new())
    }

    /// Every public single-argument method, for the blanket properties.
    fn all_methods(s: &Surrogates, x: &str) -> Vec<String> {
        vec![
            s.person(x),
            s.name_token(x, true),
            s.name_token(x, false),
            s.email(x),
            s.credit_card(x),
            s.iban(x),
            s.us_ssn(x),
            s.phone(x),
            s.ip(x),
            s.mac(x),
            s.shape(x),
            s.secret(x),
            s.date(x),
            s.location(x, &[]),
            s.location(x, &["Paris".to_string(), "Lyon".to_string()]),
        ]
    }

    fn non_digit_layout(s: &str) -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect()
    }

    #[test]
    fn builtin_lists_are_sane() {
        assert_eq!(BUILTIN_FIRST_NAMES.len(), 50);
        assert_eq!(BUILTIN_SURNAMES.len(), 50);
        let firsts: HashSet<_> = BUILTIN_FIRST_NAMES
            .iter()
            .map(|s| s.to_lowercase())
            .collect();
        let lasts: HashSet<_> = BUILTIN_SURNAMES.iter().map(|s| s.to_lowercase()).collect();
        assert_eq!(firsts.len(), 50);
        assert_eq!(lasts.len(), 50);
        assert!(
            firsts.is_disjoint(&lasts),
            "a name in both lists is ambiguous"
        );
        assert!(
            COMMON_FIRST_NAMES
                .iter()
                .all(|n| !lasts.contains(*n) && *n == n.to_lowercase())
        );
    }

    #[test]
    fn empty_and_blank_lists_fall_back() {
        let s = Surrogates::new(b"k", vec![" ".into(), String::new()], Vec::new());
        assert_eq!(s.first_names.len(), BUILTIN_FIRST_NAMES.len());
        let custom = Surrogates::new(b"k", vec!["Zed".into(), "zed".into()], vec!["Q".into()]);
        assert_eq!(custom.first_names, vec!["Zed".to_string()]);
        assert_eq!(custom.name_token("Bob", true), "Zed");
        // The only surname candidate equals the token: fall back to built-ins.
        let out = custom.name_token("Q", false);
        assert!(!eq_ci(&out, "Q"));
    }

    /// A compound name that holds the original as a part is no surrogate
    /// for it: with "Hans-Karl" as the only candidate, "Karl" falls back
    /// to the built-in list.
    #[test]
    fn surrogate_never_holds_the_original_as_a_part() {
        let s = Surrogates::new(b"k", vec!["Hans-Karl".into()], vec!["Van Dyke".into()]);
        let first = s.name_token("Karl", true);
        assert!(!first.to_lowercase().contains("karl"), "{first}");
        assert_eq!(s.name_token("Otto", true), "Hans-Karl");
        let last = s.name_token("Dyke", false);
        assert!(!last.to_lowercase().contains("dyke"), "{last}");
    }

    #[test]
    fn debug_hides_key() {
        let d = format!("{:?}", sg());
        assert!(d.contains("Surrogates") && !d.contains("test key"));
    }

    #[test]
    fn stream_is_deterministic_and_key_dependent() {
        let (a, b) = (sg(), sg2());
        let x: Vec<u8> = {
            let mut st = a.stream("T", "v");
            (0..100).map(|_| st.byte()).collect()
        };
        let y: Vec<u8> = {
            let mut st = a.stream("T", "v");
            (0..100).map(|_| st.byte()).collect()
        };
        let z: Vec<u8> = {
            let mut st = b.stream("T", "v");
            (0..100).map(|_| st.byte()).collect()
        };
        assert_eq!(x, y);
        assert_ne!(x, z);
        let mut st = a.stream("T", "v");
        assert!((0..1000).all(|_| st.below(7) < 7));
        assert_eq!(st.below(0), 0);
        assert_eq!(st.below(1), 0);
    }

    #[test]
    fn fingerprint_properties() {
        let s = sg();
        let f = s.fingerprint("EMAIL", "a@b.c");
        assert_eq!(f.len(), 16);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(f, s.fingerprint("EMAIL", "a@b.c"));
        assert_ne!(f, s.fingerprint("PHONE", "a@b.c"));
        assert_ne!(f, sg2().fingerprint("EMAIL", "a@b.c"));
    }

    #[test]
    fn person_keeps_structure() {
        let s = sg();
        let out = s.person("John Smith");
        let toks: Vec<&str> = out.split(' ').collect();
        assert_eq!(toks.len(), 2);
        assert!(BUILTIN_FIRST_NAMES.contains(&toks[0]), "{out}");
        assert!(BUILTIN_SURNAMES.contains(&toks[1]), "{out}");
        assert_ne!(toks[0], "John");
        assert_ne!(toks[1], "Smith");

        let out = s.person("Dr. Jane  Q. DOE");
        let toks: Vec<&str> = out.split(' ').collect();
        assert_eq!(toks.len(), 5, "{out}");
        assert_eq!(toks[0], "Dr.");
        assert_eq!(toks[2], "");
        assert!(toks[3].len() == 2 && toks[3].ends_with('.') && toks[3] != "Q.");
        assert!(
            toks[3]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        );
        assert_eq!(toks[4], toks[4].to_uppercase());
        assert_ne!(toks[4], "DOE");

        let lower = s.person("maria garcia");
        assert_eq!(lower, lower.to_lowercase());
        assert_ne!(lower, "maria garcia");

        assert_eq!(s.person("..."), "...");
        assert_eq!(s.person(""), "");
        assert_ne!(s.person("Dr."), "Dr.");
        assert!(s.person("Mr Smith Jr.").starts_with("Mr "));
        assert!(s.person("Mr Smith Jr.").ends_with(" Jr."));
    }

    /// A given name of one gender gets a surrogate of that gender (in a
    /// full name, alone, lower-case, hyphenated, in an e-mail address);
    /// a name of both ("Jean") or of none listed may get either. Under
    /// several keys, so that no draw passes by luck.
    #[test]
    fn a_given_names_surrogate_keeps_its_gender() {
        let g = crate::detect::gazetteer::Gazetteers::builtin();
        let female: HashSet<String> = g.female_names.iter().map(|n| n.to_lowercase()).collect();
        let male: HashSet<String> = g.male_names.iter().map(|n| n.to_lowercase()).collect();
        let first = |out: &str| out.split([' ', '.', '-']).next().unwrap().to_lowercase();
        for key in [b"key one".as_slice(), b"key two", b"key three"] {
            let s = Surrogates::new(key, g.first_names.clone(), g.surnames.clone())
                .with_genders(&g.female_names, &g.male_names);
            for (name, of) in [
                ("Sarah Jones", &female),
                ("Jenny", &female),
                ("maria", &female),
                ("Karen Whitfield", &female),
                ("Anne-Marie Roux", &female),
                ("Mike", &male),
                ("John Smith", &male),
                ("daniel osei", &male),
                ("Pierre Martin", &male),
            ] {
                let out = s.person(name);
                assert!(of.contains(&first(&out)), "{name} -> {out}");
            }
            let mail = s.email("jenny.k@gmail.com");
            assert!(female.contains(&first(&mail)), "{mail}");
        }
        // Without the genders, the draw ignores them.
        let plain = Surrogates::new(b"key one", g.first_names.clone(), g.surnames.clone());
        let draws: HashSet<bool> = ["Mike", "John", "Daniel", "Peter", "Paul", "George", "James"]
            .iter()
            .map(|n| male.contains(&first(&plain.person(n))))
            .collect();
        assert_eq!(
            draws.len(),
            2,
            "some male name drew a female one without genders"
        );
        // Hyphenated parts each keep their own.
        let s = Surrogates::new(b"k", g.first_names.clone(), g.surnames.clone())
            .with_genders(&g.female_names, &g.male_names);
        let out = s.name_token("Anne-Marie", true);
        let (a, b) = out.split_once('-').unwrap();
        assert!(
            female.contains(&a.to_lowercase()) && female.contains(&b.to_lowercase()),
            "{out}"
        );
        // A name of no one gender ("Jean") draws from all.
        assert!(!female.contains("jean") && !male.contains("jean"));
    }

    /// No surrogate holds its original inside a word ("Gianna" for
    /// "Anna"): a grep of the output for the removed name finds nothing.
    #[test]
    fn a_surrogate_never_holds_the_original_inside_a_word() {
        let g = crate::detect::gazetteer::Gazetteers::builtin();
        let mut checked = 0;
        for k in 0..100u32 {
            let s = Surrogates::new(&k.to_le_bytes(), g.first_names.clone(), g.surnames.clone())
                .with_genders(&g.female_names, &g.male_names);
            for (name, first) in [("Ann", true), ("Anna", true), ("Lee", false), ("Mar", true)] {
                let out = s.name_token(name, first).to_lowercase();
                assert!(!out.contains(&name.to_lowercase()), "{name} -> {out}");
                checked += 1;
            }
            let town = s.location("Bath", &g.cities).to_lowercase();
            assert!(!town.contains("bath"), "Bath -> {town}");
        }
        assert_eq!(checked, 400);
    }

    #[test]
    fn a_partial_mention_takes_its_role_in_the_full_name() {
        // "Ford" and "Smith" are in the given-name list too (as in the
        // built-in gazetteer's): alone, they are guessed given names.
        let given = ["Mark", "John", "Ford", "Smith"].map(String::from).to_vec();
        let s = Surrogates::new(b"test key", given, Vec::new());
        assert!(s.looks_like_first_name("Ford") && s.looks_like_first_name("Smith"));
        assert_ne!(s.person("Smith"), s.name_token("Smith", false));
        for (full, part) in [
            ("Mark Ford", "Ford"),
            ("John Smith", "Smith"),
            ("John Smith", "SMITH,"),
            ("Smith, John", "Smith"),
        ] {
            let whole = s.person(full);
            let last = s.name_token(part, false);
            let bare = last.trim_end_matches(',').to_lowercase();
            assert!(
                whole.to_lowercase().contains(&bare),
                "{full} {part} {whole}"
            );
            assert_eq!(s.person_in(part, full), last, "{full} {part}");
        }
        // A given name stays a given name; a word not in the full name,
        // or a full name of one word, leaves the guess to the lists.
        assert_eq!(s.person_in("Mark", "Mark Ford"), s.name_token("Mark", true));
        assert_eq!(s.person_in("Smith", "Mark Ford"), s.person("Smith"));
        assert_eq!(s.person_in("Smith", "Smith"), s.person("Smith"));
        assert_eq!(s.person_in("Smith", "Dr. Smith"), s.person("Smith"));
        // More than one name word: as written.
        assert_eq!(
            s.person_in("John Smith", "John Smith"),
            s.person("John Smith")
        );
    }

    #[test]
    fn person_surname_is_consistent() {
        let s = sg();
        let full = s.person("John Smith");
        let alone = s.person("Smith");
        let (first, last) = full.split_once(' ').unwrap_or_default();
        assert_eq!(last, alone);
        assert_eq!(last, s.name_token("Smith", false));
        assert_eq!(last.to_lowercase(), s.name_token("smith", false));
        assert_eq!(first, s.name_token("John", true));
        assert_eq!(first.to_uppercase(), s.name_token("JOHN", true));
        // A lone known first name is treated as a first name.
        assert_eq!(s.person("John"), first);
        assert_eq!(s.person("Maria"), s.name_token("Maria", true));
        assert_eq!(s.person("Zyx"), s.name_token("Zyx", false));
        // "Surname, First" order is recognised.
        assert_eq!(s.person("Smith, John"), format!("{last}, {first}"));
        assert_eq!(s.person("SMITH"), last.to_uppercase());
    }

    #[test]
    fn name_token_affixes_and_hyphens() {
        let s = sg();
        let out = s.name_token("(Smith-Jones),", false);
        assert!(out.starts_with('(') && out.ends_with("),"), "{out}");
        let inner = &out[1..out.len() - 2];
        let parts: Vec<&str> = inner.split('-').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], s.name_token("Smith", false));
        assert_eq!(parts[1], s.name_token("Jones", false));
        assert_eq!(s.name_token("42", true).len(), 2);
    }

    /// With the full lists (names and towns of many scripts), an ASCII
    /// name or town gets an ASCII surrogate; one written otherwise may get
    /// any, and still never itself.
    #[test]
    fn ascii_originals_get_ascii_surrogates() {
        let g = crate::detect::Gazetteers::builtin();
        let s = Surrogates::new(b"ascii key", g.first_names.clone(), g.surnames.clone());
        let mut other = 0;
        for (i, w) in g
            .first_names
            .iter()
            .chain(&g.surnames)
            .step_by(97)
            .enumerate()
        {
            let first = i % 2 == 0;
            let out = s.name_token(w, first);
            assert!(!out.eq_ignore_ascii_case(w), "{w} -> {out}");
            if w.is_ascii() {
                assert!(out.is_ascii(), "{w} -> {out}");
            } else {
                other += usize::from(!out.is_ascii());
            }
        }
        // Non-ASCII originals are not held to ASCII: some get other letters.
        assert!(other > 0);
        for town in ["Portland", "Lyon", "Springfield", "Amman"] {
            let out = s.location(town, &g.cities);
            assert!(out.is_ascii() && out != town, "{town} -> {out}");
        }
    }

    /// A disguised address gets a surrogate in the same disguise, never
    /// the original's parts, and a plain address inside it.
    #[test]
    fn disguised_emails_keep_their_disguise() {
        let s = sg();
        for (orig, at, dot) in [
            ("jsmith[at]outlook[dot]com", "[at]", Some("[dot]")),
            (
                "anna.berg (at) example (dot) org",
                " (at) ",
                Some(" (dot) "),
            ),
            ("john dot smith at gmail dot com", " at ", Some(" dot ")),
            (
                "JDOE AT MAIL DOT EXAMPLE DOT CO DOT UK",
                " AT ",
                Some(" DOT "),
            ),
            ("alice.wong%40example.com", "%40", None),
            ("j.doe%2Btag%40mail.example.co.uk", "%40", None),
        ] {
            let out = s.email(orig);
            assert!(out.contains(at), "{orig} -> {out}");
            if let Some(dot) = dot {
                assert!(out.contains(dot), "{orig} -> {out}");
            }
            let d = Disguised::parse(&out).expect("still disguised");
            let (local, domain) = d.plain.rsplit_once('@').expect("an address");
            assert!(valid_local_part(local), "{orig} -> {out}");
            assert!(
                EMAIL_DOMAINS.contains(&domain.to_lowercase().as_str()),
                "{orig} -> {out}"
            );
            for part in ["smith", "outlook", "gmail", "wong", "berg", "jdoe"] {
                assert!(!out.to_lowercase().contains(part), "{orig} -> {out}");
            }
        }
        assert!(s.email("j.doe%2Btag%40mail.example.co.uk").contains("%2B"));
    }

    #[test]
    fn email_shape() {
        let s = sg();
        let out = s.email("john.smith@corp.io");
        let (local, domain) = out.rsplit_once('@').unwrap_or_default();
        assert!(EMAIL_DOMAINS.contains(&domain), "{out}");
        let person = s.person("john smith");
        assert_eq!(local, person.replace(' ', ".").to_lowercase());
        assert!(valid_local_part(local));

        let out = s.email("J_Doe42+news@EXAMPLE.COM");
        let (local, domain) = out.rsplit_once('@').unwrap_or_default();
        assert!(domain == "EXAMPLE.ORG" || domain == "EXAMPLE.NET", "{out}");
        assert!(local.contains('_') && local.contains('+'), "{out}");
        let (name_part, tag) = local.split_once('+').unwrap_or_default();
        assert_eq!(tag.len(), 4);
        assert!(tag.chars().all(|c| c.is_ascii_lowercase()), "{out}");
        let (j, doe) = name_part.split_once('_').unwrap_or_default();
        assert_eq!(j, s.name_token("J", true));
        assert!(doe.starts_with(&s.name_token("Doe", false)), "{out}");
        assert!(doe.ends_with(|c: char| c.is_ascii_digit()), "{out}");
        assert!(valid_local_part(local), "{out}");

        let out = s.email("\"weird local\"@host");
        let (local, _) = out.rsplit_once('@').unwrap_or_default();
        assert!(valid_local_part(local), "{out}");
        let out = s.email("josé@exemple.fr");
        assert!(
            valid_local_part(out.rsplit_once('@').unwrap_or_default().0),
            "{out}"
        );
        assert_ne!(s.email("no-at-sign"), "no-at-sign");
        assert_eq!(s.email("john@x.com"), s.email("JOHN@x.com").to_lowercase());
    }

    #[test]
    fn credit_card_examples() {
        let s = sg();
        for card in [
            "4111 1111 1111 1111",
            "5555-5555-5555-4444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "2221000000000009",
            "6759649826438453",
            "6200000000000005",
            "6221260000000000000",
        ] {
            let out = s.credit_card(card);
            assert_ne!(validators::digits(&out), validators::digits(card));
            assert_eq!(non_digit_layout(&out), non_digit_layout(card));
            assert!(validators::luhn_valid(&out), "{card} -> {out}");
            let (a, b) = (validators::digits(card), validators::digits(&out));
            assert_eq!(
                validators::card_brand(&a),
                validators::card_brand(&b),
                "{card}"
            );
            if validators::credit_card_valid(card) {
                assert!(validators::credit_card_valid(&out), "{card} -> {out}");
            }
        }
        // Separator-insensitive consistency.
        assert_eq!(
            validators::digits(&s.credit_card("4111 1111 1111 1111")),
            s.credit_card("4111-1111-1111-1111").replace('-', "")
        );
        // Odd inputs still work.
        assert!(validators::luhn_valid(&s.credit_card("18")));
        assert_ne!(s.credit_card("7"), "7");
        assert_eq!(s.credit_card(""), "");
    }

    #[test]
    fn iban_examples() {
        let s = sg();
        for iban in [
            "GB82 WEST 1234 5698 7654 32",
            "gb82west12345698765432",
            "DE89370400440532013000",
            "FR1420041010050500013M02606",
            "NO9386011117947",
        ] {
            let out = s.iban(iban);
            assert!(validators::iban_valid(&out), "{iban} -> {out}");
            assert_eq!(out.len(), iban.len());
            assert_eq!(out[..2], iban[..2]);
            assert_ne!(
                out.to_uppercase().replace(' ', ""),
                iban.to_uppercase().replace(' ', "")
            );
            for (a, b) in iban.chars().zip(out.chars()) {
                assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
                assert_eq!(a.is_ascii_lowercase(), b.is_ascii_lowercase());
                assert_eq!(a == ' ', b == ' ');
            }
        }
        assert_ne!(s.iban("not an iban"), "not an iban");
    }

    #[test]
    fn ssn_examples() {
        let s = sg();
        for ssn in ["123-45-6788", "123 45 6788", "123456788", "078-05-1120"] {
            let out = s.us_ssn(ssn);
            assert!(validators::us_ssn_valid(&out), "{out}");
            assert_eq!(non_digit_layout(&out), non_digit_layout(ssn));
            assert_ne!(validators::digits(&out), validators::digits(ssn));
        }
        assert_eq!(s.us_ssn("12-34").len(), 5);
    }

    #[test]
    fn phone_examples() {
        let s = sg();
        let out = s.phone("+1 (212) 555-0123 ext. 45");
        assert!(out.starts_with("+1 ("), "{out}");
        assert!(out.contains(" ext. "), "{out}");
        assert_eq!(
            non_digit_layout(&out),
            non_digit_layout("+1 (212) 555-0123 ext. 45")
        );
        let main = out.split(" ext").next().unwrap_or_default();
        assert!(validators::nanp_valid(main), "{out}");

        for nanp in [
            "(212) 555-0123",
            "212.555.0123",
            "1-800-555-0199",
            "2125550123",
        ] {
            let out = s.phone(nanp);
            assert!(validators::nanp_valid(&out), "{nanp} -> {out}");
            assert_eq!(non_digit_layout(&out), non_digit_layout(nanp));
            assert_ne!(validators::digits(&out), validators::digits(nanp));
        }
        assert!(s.phone("1-800-555-0199").starts_with("1-"));

        let out = s.phone("+44 20 7946 0958");
        assert!(out.starts_with("+44 "), "{out}");
        let out = s.phone("+442079460958");
        assert!(out.starts_with("+44"), "{out}");
        let out = s.phone("0044 20 7946 0958");
        assert!(out.starts_with("0044 "), "{out}");
        let out = s.phone("011 33 1 23 45 67 89");
        assert!(out.starts_with("011 33 "), "{out}");
        let out = s.phone("020 7946 0958");
        assert!(out.starts_with('0') && !out.starts_with("00"), "{out}");
        // Every national number with its trunk 0 keeps one 0 only: "06 12
        // 34 56 78" became "00 54 67 17 54", an international prefix.
        for i in 0..2000u32 {
            let orig = format!(
                "0{} {:02} {:02} {:02} {:02}",
                1 + i % 9,
                i % 97,
                i % 89,
                i % 83,
                i / 7 % 100
            );
            let out = s.phone(&orig);
            assert!(
                out.starts_with('0') && !out.starts_with("00"),
                "{orig} -> {out}"
            );
        }
        let out = s.phone("555-0123 x12");
        assert!(
            out.ends_with(|c: char| c.is_ascii_digit()) && out.contains(" x"),
            "{out}"
        );
        assert_ne!(s.phone("no digits"), "no digits");
    }

    #[test]
    fn country_codes() {
        assert_eq!(country_code_len(b"1212"), 1);
        assert_eq!(country_code_len(b"7495"), 1);
        assert_eq!(country_code_len(b"4420"), 2);
        assert_eq!(country_code_len(b"3531"), 3);
        assert_eq!(country_code_len(b"86"), 2);
        assert_eq!(country_code_len(b"35"), 2);
        assert_eq!(country_code_len(b""), 0);
    }

    #[test]
    fn ip_examples() {
        let s = sg();
        for v4 in ["10.0.0.1", "192.0.2.1", "8.8.8.8"] {
            let out = s.ip(v4);
            let a: Ipv4Addr = out.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            let o = a.octets();
            assert!(DOC_V4_NETS.contains(&[o[0], o[1], o[2]]), "{out}");
            assert_ne!(out, v4);
        }
        let out = s.ip("fe80::1");
        assert!(out.starts_with("2001:db8:"), "{out}");
        assert!(out.contains("::"), "{out}");
        let out = s.ip("FE80:0000:0000:0000:0202:B3FF:FE1E:8329");
        assert!(out.starts_with("2001:0DB8:0000:"), "{out}");
        assert_eq!(out.len(), 39);
        let out = s.ip("fe80:0:0:0:202:b3ff:fe1e:8329");
        assert!(out.starts_with("2001:db8:0:0:"), "{out}");
        let out = s.ip("::ffff:1.2.3.4");
        assert!(out.parse::<Ipv6Addr>().is_ok(), "{out}");
        assert_ne!(s.ip("2001:db8::"), "2001:db8::");
        assert_ne!(s.ip("not.an.ip"), "not.an.ip");
    }

    #[test]
    fn mac_examples() {
        let s = sg();
        for m in ["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e"] {
            let out = s.mac(m);
            assert!(validators::mac_valid(&out), "{out}");
            let first = u8::from_str_radix(&out[..2], 16).unwrap_or(0);
            assert_eq!(first & 0b11, 0b10, "{out}");
            for (a, b) in m.chars().zip(out.chars()) {
                assert_eq!(a.is_ascii_hexdigit(), b.is_ascii_hexdigit());
            }
            assert_eq!(
                m.chars().any(|c| c.is_ascii_uppercase()),
                out.chars().any(|c| c.is_ascii_uppercase())
                    || !out.chars().any(|c| c.is_ascii_alphabetic())
            );
            assert!(!eq_ci(&out, m));
        }
    }

    #[test]
    fn shape_and_secret() {
        let s = sg();
        let out = s.shape("AB-123 cd");
        assert_eq!(out.len(), 9);
        assert!(out[..2].chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(&out[2..3], "-");
        assert!(out[3..6].chars().all(|c| c.is_ascii_digit()));
        assert!(out[7..].chars().all(|c| c.is_ascii_lowercase()));
        assert_eq!(s.shape("äö -"), "äö -");
        assert_ne!(s.shape("a"), "a");

        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234-5678-abcdef",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        ] {
            let out = s.secret(secret);
            let p = SECRET_PREFIXES
                .iter()
                .filter(|p| secret.starts_with(**p))
                .max_by_key(|p| p.len())
                .copied()
                .unwrap_or("");
            assert!(!p.is_empty() && out.starts_with(p), "{secret} -> {out}");
            assert_eq!(out.len(), secret.len());
            assert_ne!(out, secret);
        }
        assert_ne!(s.secret("AKIA"), "AKIA");
        assert_ne!(s.secret("plain-token-123"), "plain-token-123");
    }

    #[test]
    fn date_examples() {
        let s = sg();
        for (input, fmt_ok) in [
            (
                "1990-03-12",
                &(|o: &str| o.len() == 10 && &o[4..5] == "-" && &o[7..8] == "-")
                    as &dyn Fn(&str) -> bool,
            ),
            ("03/12/1990", &|o: &str| o.len() == 10 && &o[2..3] == "/"),
            ("25/12/1990", &|o: &str| o.len() == 10 && &o[2..3] == "/"),
            ("12.03.1990", &|o: &str| o.len() == 10 && &o[2..3] == "."),
            ("3/4/99", &|o: &str| {
                o.split('/').nth(2).is_some_and(|y| y.len() == 2)
            }),
            ("12 March 1990", &|o: &str| {
                MONTHS.iter().any(|m| o.contains(m))
            }),
            ("March 12, 1990", &|o: &str| {
                o.contains(", ") && MONTHS.iter().any(|m| o.starts_with(m))
            }),
            ("12-MAR-1990", &|o: &str| {
                o.len() == 11 && o[3..6].chars().all(|c| c.is_ascii_uppercase())
            }),
            ("Sept 1, 2020", &|o: &str| {
                o.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            }),
        ] {
            let out = s.date(input);
            assert_ne!(out, input);
            assert!(fmt_ok(&out), "{input} -> {out}");
            assert!(parse_date(&out).is_some(), "{input} -> {out}");
        }
        // Same calendar day in two formats shifts identically.
        let a = s.date("1990-03-12");
        let b = s.date("12 March 1990");
        let pa = parse_date(&a).map(|p| (p.y, p.m, p.d));
        let pb = parse_date(&b).map(|p| (p.y, p.m, p.d));
        assert_eq!(pa, pb);
        // Invalid dates fall back to shape.
        let out = s.date("2023-02-30");
        assert_eq!(out.len(), 10);
        assert_ne!(out, "2023-02-30");
        assert!(parse_date("13/13/2000").is_none());
        assert!(parse_date("0000-01-01").is_none() || s.date("0000-01-01") != "0000-01-01");
        assert_ne!(s.date("9999-12-31"), "9999-12-31");
        assert_ne!(s.date("0001-01-01"), "0001-01-01");
    }

    #[test]
    fn civil_roundtrip() {
        for z in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(19_000), (2022, 1, 8));
    }

    #[test]
    fn location_examples() {
        let s = sg();
        let pool: Vec<String> = ["Paris", "Berlin", "Madrid"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = s.location("Paris", &pool);
        assert!(out == "Berlin" || out == "Madrid");
        assert_eq!(s.location("PARIS", &pool), out.to_uppercase());
        assert_eq!(s.location("paris", &pool), out.to_lowercase());
        let only = vec!["Paris".to_string()];
        assert!(BUILTIN_CITIES.contains(&s.location("Paris", &only).as_str()));
        assert!(BUILTIN_CITIES.contains(&s.location("Oslo", &[]).as_str()));
        assert_ne!(s.location("Springfield", &[]), "Springfield");
    }

    fn arb_card() -> impl Strategy<Value = String> {
        let prefixes = prop::sample::select(vec![
            ("4", 16usize),
            ("4", 13),
            ("4", 19),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("2720", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("65", 19),
            ("644", 16),
            ("622126", 16),
            ("62", 17),
            ("3528", 16),
            ("36", 14),
            ("300", 14),
            ("6759", 18),
        ]);
        (prefixes, prop::collection::vec(0u8..10, 19), 0usize..3).prop_filter_map(
            "valid card",
            |((p, len), body, sep)| {
                let mut d: Vec<u8> = p.bytes().collect();
                d.extend(body.iter().map(|x| b'0' + x).take(len - 1 - p.len()));
                let plain = String::from_utf8(with_luhn_check(d)).ok()?;
                let sep = ["", " ", "-"][sep];
                let out: String = plain
                    .chars()
                    .enumerate()
                    .flat_map(|(i, c)| {
                        let s = if i > 0 && i % 4 == 0 { sep } else { "" };
                        s.chars().chain(std::iter::once(c))
                    })
                    .collect();
                validators::credit_card_valid(&out).then_some(out)
            },
        )
    }

    fn arb_iban() -> impl Strategy<Value = String> {
        (
            prop::sample::select(validators::IBAN_LENGTHS.to_vec()),
            prop::collection::vec((any::<bool>(), 0u8..26, 0u8..10), 30),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|((cc, len), body, spaced, lower)| {
                let mut v: Vec<u8> = cc.bytes().collect();
                v.extend_from_slice(b"00");
                for (letter, l, d) in body.into_iter().take(len - 4) {
                    v.push(if letter { b'A' + l } else { b'0' + d });
                }
                let check = 98 - validators::iban_mod97(&v).unwrap_or(0);
                v[2] = b'0' + (check / 10) as u8;
                v[3] = b'0' + (check % 10) as u8;
                let mut s = String::from_utf8(v).unwrap_or_default();
                if lower {
                    s = s.to_lowercase();
                }
                if spaced {
                    s = s
                        .as_bytes()
                        .chunks(4)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ");
                }
                s
            })
    }

    fn arb_ssn() -> impl Strategy<Value = String> {
        (1u32..900, 1u32..100, 1u32..10000, 0usize..3).prop_filter_map(
            "valid ssn",
            |(a, g, s, f)| {
                let out = match f {
                    0 => format!("{a:03}-{g:02}-{s:04}"),
                    1 => format!("{a:03} {g:02} {s:04}"),
                    _ => format!("{a:03}{g:02}{s:04}"),
                };
                validators::us_ssn_valid(&out).then_some(out)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_card(card in arb_card()) {
            let s = sg();
            let out = s.credit_card(&card);
            let (a, b) = (validators::digits(&card), validators::digits(&out));
            prop_assert!(validators::luhn_valid(&out));
            prop_assert!(validators::credit_card_valid(&out), "{} -> {}", card, out);
            prop_assert_eq!(out.len(), card.len());
            prop_assert_eq!(non_digit_layout(&out), non_digit_layout(&card));
            prop_assert_eq!(validators::card_brand(&a), validators::card_brand(&b));
            prop_assert_ne!(&a, &b);
            prop_assert_eq!(&out, &s.credit_card(&card));
            prop_assert_ne!(out, sg2().credit_card(&card));
        }

        #[test]
        fn prop_iban(iban in arb_iban()) {
            prop_assert!(validators::iban_valid(&iban), "generator broken: {}", iban);
            let out = sg().iban(&iban);
            prop_assert!(validators::iban_valid(&out), "{} -> {}", iban, out);
            prop_assert_eq!(out.len(), iban.len());
            prop_assert_eq!(out[..2].to_string(), iban[..2].to_string());
            prop_assert!(!eq_ci(&out, &iban));
            for (a, b) in iban.chars().zip(out.chars()) {
                prop_assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
                prop_assert_eq!(a.is_ascii_alphabetic(), b.is_ascii_alphabetic());
                prop_assert_eq!(a.is_ascii_lowercase(), b.is_ascii_lowercase());
            }
        }

        /// A PPS number keeps its mod-23 check letter, its second letter
        /// and its layout; fifteen digits under Luhn (an IMEI) keep Luhn.
        #[test]
        fn prop_pps_and_imei(seven in proptest::collection::vec(0u8..10, 7), second in proptest::option::of(b'A'..=b'W'), lower: bool, fourteen in proptest::collection::vec(0u8..10, 14), dashed: bool) {
            let mut pps: String = seven.iter().map(|d| char::from(b'0' + d)).collect();
            let at = pps.len();
            pps.push('A');
            if let Some(c) = second {
                pps.push(char::from(c));
            }
            let check = (b'A'..=b'W').find(|&l| {
                pps.replace_range(at..at + 1, char::from(l).encode_utf8(&mut [0; 4]));
                validators::ie_pps_valid(&pps)
            });
            prop_assert!(check.is_some(), "no check letter for {}", pps);
            if lower {
                pps = pps.to_ascii_lowercase();
            }
            let s = sg();
            let out = s.id(&pps);
            prop_assert!(validators::ie_pps_valid(&out), "{} -> {}", pps, out);
            prop_assert_eq!(out.len(), pps.len());
            prop_assert_eq!(&out[at + 1..], &pps[at + 1..], "second letter kept");
            prop_assert_eq!(out.chars().any(|c| c.is_ascii_uppercase()), pps.chars().any(|c| c.is_ascii_uppercase()));
            prop_assert_ne!(validators::digits(&out), validators::digits(&pps));

            let v = with_luhn_check(fourteen.iter().map(|d| b'0' + d).collect());
            let plain = String::from_utf8(v).unwrap();
            let imei = if dashed {
                format!("{}-{}-{}-{}", &plain[..2], &plain[2..8], &plain[8..14], &plain[14..])
            } else {
                plain.clone()
            };
            let out = s.id(&imei);
            prop_assert!(validators::luhn_valid(&out), "{} -> {}", imei, out);
            prop_assert_eq!(non_digit_layout(&out), non_digit_layout(&imei));
            prop_assert_ne!(validators::digits(&out), plain);
        }

        /// An NHS number keeps its mod-11 check and its layout; any
        /// other ID is the plain shape surrogate.
        #[test]
        fn prop_nhs(nine in proptest::collection::vec(0u8..10, 9), style in 0usize..3) {
            let mut d: Vec<u8> = nine.iter().map(|x| b'0' + x).collect();
            let sum: u32 = d.iter().zip((2..=10u32).rev()).map(|(&x, w)| u32::from(x - b'0') * w).sum();
            let check = match 11 - sum % 11 { 11 => 0, c => c };
            prop_assume!(check != 10 && d.iter().any(|&x| x != d[0]));
            d.push(b'0' + check as u8);
            let d = String::from_utf8(d).unwrap();
            let nhs = match style {
                0 => d.clone(),
                1 => format!("{} {} {}", &d[..3], &d[3..6], &d[6..]),
                _ => format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
            };
            prop_assert!(validators::nhs_valid(&nhs), "generator broken: {}", nhs);
            let s = sg();
            let out = s.id(&nhs);
            prop_assert!(validators::nhs_valid(&out), "{} -> {}", nhs, out);
            prop_assert_eq!(non_digit_layout(&out), non_digit_layout(&nhs));
            prop_assert_ne!(validators::digits(&out), validators::digits(&nhs));
            // Spelled with or without spaces, the same number.
            prop_assert_eq!(validators::digits(&out), validators::digits(&s.id(&d)));
            // Any other ID: the shape surrogate, as before.
            let other = format!("A-{}", &d[..6]);
            prop_assert_eq!(s.id(&other), s.shape(&other));
        }

        #[test]
        fn prop_ssn(ssn in arb_ssn()) {
            let out = sg().us_ssn(&ssn);
            prop_assert!(validators::us_ssn_valid(&out), "{} -> {}", ssn, out);
            prop_assert_eq!(non_digit_layout(&out), non_digit_layout(&ssn));
            prop_assert_ne!(validators::digits(&out), validators::digits(&ssn));
        }

        #[test]
        fn prop_ipv4(o in any::<[u8; 4]>()) {
            let a = Ipv4Addr::from(o).to_string();
            let out = sg().ip(&a);
            let p: Ipv4Addr = out.parse().map_err(|_| TestCaseError::fail(out.clone()))?;
            let q = p.octets();
            prop_assert!(DOC_V4_NETS.contains(&[q[0], q[1], q[2]]));
            prop_assert_ne!(out, a);
        }

        #[test]
        fn prop_ipv6(segs in any::<[u16; 8]>(), compress in any::<bool>()) {
            let a = Ipv6Addr::from(segs);
            let text = if compress {
                a.to_string()
            } else {
                segs.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":")
            };
            let out = sg().ip(&text);
            let p: Ipv6Addr = out.parse().map_err(|_| TestCaseError::fail(out.clone()))?;
            prop_assert_eq!(&p.segments()[..2], &[0x2001, 0x0db8]);
            prop_assert_ne!(p, a);
        }

        #[test]
        fn prop_mac(b in any::<[u8; 6]>(), style in 0usize..4) {
            let m = match style {
                0 => b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":"),
                1 => b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join("-"),
                2 => format!("{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]),
                _ => b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(":"),
            };
            let out = sg().mac(&m);
            prop_assert!(validators::mac_valid(&out));
            let first = u8::from_str_radix(&out[..2], 16).unwrap_or(0);
            prop_assert_eq!(first & 0b11, 0b10);
            prop_assert!(!eq_ci(&out, &m));
            prop_assert_eq!(out.len(), m.len());
        }

        #[test]
        fn prop_nanp_phone(a in 200u32..1000, e in 200u32..1000, l in 0u32..10000, fmt in 0usize..4) {
            let ph = match fmt {
                0 => format!("({a}) {e}-{l:04}"),
                1 => format!("+1 {a} {e} {l:04}"),
                2 => format!("1-{a}-{e}-{l:04}"),
                _ => format!("{a}.{e}.{l:04}"),
            };
            prop_assume!(validators::nanp_valid(&ph));
            let out = sg().phone(&ph);
            prop_assert!(validators::nanp_valid(&out), "{} -> {}", ph, out);
            prop_assert_eq!(non_digit_layout(&out), non_digit_layout(&ph));
            prop_assert_ne!(validators::digits(&out), validators::digits(&ph));
        }

        #[test]
        fn prop_date(days in -700_000i64..2_900_000, fmt in 0usize..6) {
            let (y, m, d) = civil_from_days(days);
            let name = MONTHS[m as usize - 1];
            let text = match fmt {
                0 => format!("{y:04}-{m:02}-{d:02}"),
                1 => format!("{m:02}/{d:02}/{y:04}"),
                2 => format!("{d:02}.{m:02}.{y:04}"),
                3 => format!("{d} {name} {y:04}"),
                4 => format!("{name} {d}, {y:04}"),
                _ => format!("{d:02}-{}-{y:04}", &name[..3]),
            };
            prop_assume!(parse_date(&text).is_some());
            let out = sg().date(&text);
            let p = parse_date(&out);
            prop_assert!(p.is_some(), "{} -> {}", text, out);
            prop_assert_ne!(&out, &text);
            if let Some(p) = p {
                let delta = (days_from_civil(p.y, p.m, p.d) - days).abs();
                prop_assert!((1..=365).contains(&delta), "{} -> {}", text, out);
            }
            if fmt <= 2 {
                prop_assert_eq!(out.len(), text.len());
            }
        }

        #[test]
        fn prop_no_panic_any_input(x in ".*") {
            let s = sg();
            let _ = all_methods(&s, &x);
            let _ = s.fingerprint(&x, &x);
        }

        #[test]
        fn prop_no_panic_structured(x in "[0-9A-Za-z+() .:/@#_-]{0,40}") {
            let _ = all_methods(&sg(), &x);
        }

        #[test]
        fn prop_deterministic(x in ".{0,40}") {
            let (a, b) = (sg(), Surrogates::new(b"test key", Vec::new(), Vec::new()));
            prop_assert_eq!(all_methods(&a, &x), all_methods(&b, &x));
        }

        #[test]
        fn prop_key_matters(x in "[A-Za-z0-9]{10,30}") {
            prop_assert_ne!(sg().shape(&x), sg2().shape(&x));
            prop_assert_ne!(sg().secret(&x), sg2().secret(&x));
        }

        #[test]
        fn prop_never_equal(x in ".{0,40}", y in "[0-9A-Za-z+() .:/@#_-]{0,40}") {
            let s = sg();
            for input in [x, y] {
                if !input.chars().any(|c| c.is_ascii_alphanumeric()) {
                    continue;
                }
                for out in all_methods(&s, &input) {
                    prop_assert!(!eq_ci(&out, &input), "{:?} -> {:?}", input, out);
                }
            }
        }

        #[test]
        fn prop_shape_preserves_classes(x in ".{0,60}") {
            let out = sg().shape(&x);
            prop_assert_eq!(out.chars().count(), x.chars().count());
            for (a, b) in x.chars().zip(out.chars()) {
                prop_assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
                prop_assert_eq!(a.is_ascii_uppercase(), b.is_ascii_uppercase());
                prop_assert_eq!(a.is_ascii_lowercase(), b.is_ascii_lowercase());
                if !a.is_ascii_alphanumeric() {
                    prop_assert_eq!(a, b);
                }
            }
        }

        #[test]
        fn prop_email_valid(local in "[A-Za-z0-9]{1,10}([._+-][A-Za-z0-9]{1,10}){0,3}", dom in "[a-z]{1,10}\\.[a-z]{2,3}") {
            let e = format!("{local}@{dom}");
            let out = sg().email(&e);
            let (l, d) = out.rsplit_once('@').unwrap_or_default();
            prop_assert!(valid_local_part(l), "{} -> {}", e, out);
            prop_assert!(EMAIL_DOMAINS.contains(&d));
        }

        #[test]
        fn prop_person_tokens(name in "[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8}){0,3}") {
            let out = sg().person(&name);
            prop_assert_eq!(out.split(' ').count(), name.split(' ').count());
            prop_assert!(!eq_ci(&out, &name));
        }
    }
}
