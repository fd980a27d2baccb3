//! Rule packs: regex rules with validators and context words, loaded from
//! TOML so a site can add a pattern without recompiling.
//!
//! A rule pack file looks like:
//!
//! ```toml
//! [pack]
//! name = "core"
//!
//! [[rules]]
//! id = "us_ssn"
//! entity = "US_SSN"
//! patterns = ['\b\d{3}-\d{2}-\d{4}\b']
//! validator = "us_ssn"
//! score = 0.7
//! context = ["ssn", "social security"]
//! context_score = 0.95
//! ```
//!
//! If a pattern has a capture group named `v`, only that group becomes the
//! span; the rest of the match is context (e.g. `password=(?P<v>\S+)`).
//! A group named `n` is what the validator checks (a phone number without
//! its extension, an IPv6 address without its zone).

use super::Name;
use super::keywords::{KeywordDfa, Sid};
use super::trigger::{self, Trigger};
use super::{Span, validators};
use crate::Error;
use aho_corasick::dfa::DFA as AcDfa;
use regex::Regex;
use regex_automata::hybrid::dfa as lazy;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input, PatternID, PatternSet, meta};
use serde::Deserialize;
use std::path::Path;

/// The rule packs compiled into the binary: the embedded defaults.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "rules/contact.toml",
        include_str!("../../rules/contact.toml"),
    ),
    (
        "rules/financial.toml",
        include_str!("../../rules/financial.toml"),
    ),
    (
        "rules/network.toml",
        include_str!("../../rules/network.toml"),
    ),
    (
        "rules/secrets.toml",
        include_str!("../../rules/secrets.toml"),
    ),
    (
        "rules/identity.toml",
        include_str!("../../rules/identity.toml"),
    ),
    (
        "rules/location.toml",
        include_str!("../../rules/location.toml"),
    ),
    ("rules/person.toml", include_str!("../../rules/person.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackMeta,
    #[serde(default)]
    rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    name: String,
    #[serde(default)]
    version: Option<String>,
    /// Documentation for readers of the pack; not used by the engine.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

/// One rule as written in a pack file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    entity: String,
    patterns: Vec<String>,
    #[serde(default)]
    validator: Option<String>,
    score: f32,
    /// Score when a context word is near. Default: score + 0.25, capped at 1.
    #[serde(default)]
    context_score: Option<f32>,
    #[serde(default)]
    context: Vec<String>,
    /// Words that, when near, mean this is not the entity (e.g. "version").
    #[serde(default)]
    negative_context: Vec<String>,
    /// Drop matches that have no context word nearby.
    #[serde(default)]
    requires_context: bool,
    /// How many bytes before the match are searched for context words
    /// (half as many after it).
    #[serde(default = "default_window")]
    context_window: usize,
    /// Matches whose whole text matches one of these are rejected: the
    /// place for hard negatives such as dates that look like phone numbers.
    #[serde(default)]
    exclude: Vec<String>,
    /// Reject a match when the text right before it matches this (anchored
    /// at the match start): e.g. `[A-Za-z]-` so `JIRA-1234-5678` is no phone.
    #[serde(default)]
    not_preceded_by: Option<String>,
    /// Reject a match when the text right after it matches this.
    #[serde(default)]
    not_followed_by: Option<String>,
    /// Words a match may open with that are no part of the entity ("The",
    /// "Contact" before "Acme Ltd."), any case: left out of the span. A
    /// match that is then no longer one of the rule's patterns, whole
    /// ("The Court" is no "Court"), is dropped.
    #[serde(default)]
    trim_leading: Vec<String>,
    #[serde(default)]
    min_digits: Option<usize>,
    #[serde(default)]
    max_digits: Option<usize>,
    /// Validator failure lowers the score to this instead of dropping the
    /// match (for rules where context alone is good evidence).
    #[serde(default)]
    invalid_score: Option<f32>,
    /// Documentation for readers of the pack; not used by the engine.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// Example strings that must match (checked by the test suite).
    #[serde(default)]
    examples: Vec<String>,
    /// Example strings that must not match (hard negatives).
    #[serde(default)]
    counter_examples: Vec<String>,
}

fn default_window() -> usize {
    40
}

/// Where a pattern's `v` (the span) and `n` (what the validator checks)
/// groups are, by index: looked up by name, each match paid a hash of the
/// name per group (1 % of a scan's instructions).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Groups {
    v: Option<usize>,
    n: Option<usize>,
}

impl Groups {
    /// The groups of `re`. The index of a name is the same in the `meta`
    /// regex built from the same pattern (both number groups by their
    /// opening parenthesis).
    fn of(re: &Regex) -> Self {
        let at = |name: &str| re.capture_names().position(|n| n == Some(name));
        Self {
            v: at("v"),
            n: at("n"),
        }
    }

    /// Whether the pattern has either group (needs the capturing search).
    fn any(self) -> bool {
        self.v.is_some() || self.n.is_some()
    }
}

/// A compiled rule.
pub struct Rule {
    pub id: String,
    pub pack: String,
    pub entity: Name,
    detector: Name,
    patterns: Vec<Regex>,
    /// Per pattern: its `v` and `n` groups (a pattern with either needs
    /// the capturing search).
    grouped: Vec<Groups>,
    validator: Option<fn(&str) -> bool>,
    score: f32,
    context_score: f32,
    invalid_score: Option<f32>,
    /// Context and negative words (ids), sorted: a few each, searched for
    /// every context word near every match (a hash set cost more).
    context: Vec<u32>,
    negative: Vec<u32>,
    requires_context: bool,
    window: usize,
    exclude: Vec<Regex>,
    /// `trim_leading`'s words (lower case), and each pattern anchored at
    /// both ends (to check what is left after trimming).
    trim_leading: Vec<String>,
    whole: Vec<Regex>,
    not_before: Option<Regex>,
    not_after: Option<Regex>,
    /// `not_before` as a reverse lazy DFA and `not_after` as a forward
    /// one, walked by hand (see [`Rule::edge_hit`]); None where one does
    /// not build, and then the regex answers.
    edge_dfas: [Option<lazy::DFA>; 2],
    /// Per pattern whose leading `\b` is a Unicode boundary (see
    /// [`unicode_start_forms`]): its all-ASCII form (what its trigger is
    /// derived from) and its form without the leading `\b` (what is
    /// searched anchored, at places where the trigger pass found the
    /// Unicode boundary).
    unicode_start: Vec<Option<(String, String)>>,
    min_digits: usize,
    max_digits: usize,
    /// Skip the regexes entirely on text without an ASCII digit.
    needs_digit: bool,
    /// Per pattern: every match holds a decimal digit (`\d` included),
    /// so a scanned pattern skips digit-free text. Unlike `needs_digit`
    /// (which also fixes the report order) this sees through `\p{..}`.
    digit_only: Vec<bool>,
    /// Per pattern: its rank in the order spans are reported (the order the
    /// old two-set search produced, which breaks ties in the merge).
    order: Vec<u32>,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
}

/// All rules of all packs, with one shared automaton for context words.
pub struct RuleSet {
    pub rules: Vec<Rule>,
    context_ac: Option<KeywordDfa>,
    pub packs: Vec<String>,
    /// Patterns whose starts are derived (see [`trigger`]): found in one
    /// pass over the text and matched anchored there only.
    anchors: Anchors,
    /// Patterns without a derivable trigger: searched over the text.
    scanned: Vec<(usize, usize)>,
    /// The scanned patterns as one set: one pass over a piece of text says
    /// which of them match at all, so only those search it.
    scan_set: Option<regex::RegexSet>,
    /// Per scanned pattern that ends at a line end: the bytes its match
    /// can end with before trailing whitespace (`trigger::line_end_last`).
    /// A piece with no line end after such a byte is not searched.
    scan_line_end: Vec<Option<Box<[bool; 256]>>>,
    /// Per scanned pattern that ends at a line end: its reverse lazy DFA.
    /// A piece that passes the byte test above is searched only when a
    /// match ends at one of its line ends, which an anchored reverse walk
    /// from each line end decides in a few bytes; the search itself reads
    /// the whole piece, twice when it holds a match (DFA, then captures).
    scan_rev: Vec<Option<lazy::DFA>>,
    /// Per scanned pattern with groups: where they lie by DFA walks (see
    /// [`Splits`]), so a match is found by the DFAs alone and its groups
    /// without the capturing engine the regex would run over it.
    scan_splits: Vec<Option<Splits>>,
    /// The old search, kept as the reference the new one must equal
    /// (tests, `gdr bench --reference`): two sets of all patterns, one pass
    /// per set, then the matching patterns. Built on first use.
    sets: std::sync::OnceLock<Vec<PatternSetIndex>>,
    /// Identity for per-thread buffers (see [`Scratch`]).
    id: u64,
    /// Make [`RuleSet::find`] run the reference search (benchmarks compare
    /// both in one run; a flag, so the whole pipeline switches).
    reference: std::sync::atomic::AtomicBool,
}

/// Every anchored pattern in two lazy DFAs: `all` (every match kind) tells
/// in one walk which patterns match at a place; `first` (leftmost-first,
/// one start state per pattern) gives where a pattern's match at a place
/// ends, as the `regex` iterator would.
struct Dfas {
    all: std::sync::Arc<lazy::DFA>,
    first: std::sync::Arc<lazy::DFA>,
    /// Some pattern can match the empty string: `first`'s searches then
    /// skip empty matches inside a character, which [`walk::end`] does not.
    first_empty: bool,
    caches: Pool<DfaCaches, CacheMaker>,
}

type DfaCaches = (lazy::Cache, lazy::Cache);
type CacheMaker =
    Box<dyn Fn() -> DfaCaches + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe>;

impl Dfas {
    fn build(sources: &[String]) -> Option<Self> {
        let build = |kind: regex_automata::MatchKind, per_pattern: bool| {
            lazy::Builder::new()
                .configure(
                    lazy::Config::new()
                        .match_kind(kind)
                        .starts_for_each_pattern(per_pattern)
                        // As for the sets: room for the states, and never
                        // give up on the cache.
                        .cache_capacity(1 << 24)
                        .minimum_cache_clear_count(None),
                )
                .thompson(
                    regex_automata::nfa::thompson::Config::new().nfa_size_limit(Some(1 << 26)),
                )
                .build_many(sources)
                .ok()
                .map(std::sync::Arc::new)
        };
        let all = build(regex_automata::MatchKind::All, false)?;
        let first = build(regex_automata::MatchKind::LeftmostFirst, true)?;
        let (a, f) = (all.clone(), first.clone());
        let maker: CacheMaker = Box::new(move || (a.create_cache(), f.create_cache()));
        Some(Self {
            first_empty: first.get_nfa().has_empty(),
            all,
            first,
            caches: Pool::new(maker),
        })
    }
}

/// Anchored walks of a lazy DFA, for the few bytes a trigger place needs.
/// The crate's searches set up state per call (a prefilter check, the
/// overlapping state, a [`PatternSet`] to clear) that cost more than the
/// walk itself, and there is one call per trigger place and pattern.
/// None: the DFA cannot decide (a quit byte, a full cache); the caller
/// then takes the crate's search.
mod walk {
    use super::{Input, Mask, lazy};

    /// One transition; an untagged state (most of them) takes the short
    /// way, as the crate's own search loop does.
    #[inline(always)]
    fn step(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        sid: regex_automata::hybrid::LazyStateID,
        b: u8,
    ) -> Option<regex_automata::hybrid::LazyStateID> {
        if !sid.is_tagged() {
            let next = dfa.next_state_untagged(cache, sid, b);
            if !next.is_unknown() {
                return Some(next);
            }
        }
        dfa.next_state(cache, sid, b).ok()
    }

    /// Walk `dfa` anchored over `input`, calling `on_match(cache, state,
    /// end)` at each match state (`end`: where that match ends), until
    /// the DFA dies or the input (with its end-of-input step) is read.
    /// None on a quit byte or a cache failure.
    #[inline(always)]
    fn run(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
        mut on_match: impl FnMut(&lazy::Cache, regex_automata::hybrid::LazyStateID, usize),
    ) -> Option<()> {
        let mut sid = dfa.start_state_forward(cache, input).ok()?;
        let hay = input.haystack();
        let start = input.start();
        for (i, &b) in hay[start..input.end()].iter().enumerate() {
            sid = step(dfa, cache, sid, b)?;
            if sid.is_tagged() {
                // Matches show one byte late: this one ended before here.
                if sid.is_match() {
                    on_match(cache, sid, start + i);
                } else if sid.is_dead() {
                    return Some(());
                } else if sid.is_quit() {
                    return None;
                }
            }
        }
        sid = match hay.get(input.end()) {
            Some(&b) => dfa.next_state(cache, sid, b).ok()?,
            None => dfa.next_eoi_state(cache, sid).ok()?,
        };
        if sid.is_quit() {
            return None;
        }
        if sid.is_match() {
            on_match(cache, sid, input.end());
        }
        Some(())
    }

    /// Whether `dfa` (a reverse DFA) matches anchored at the end of
    /// `input`, reading back: what `try_search_rev(..).is_some()` says,
    /// without that search's set-up and walk to the leftmost start.
    pub(super) fn any_rev(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
    ) -> Option<bool> {
        let mut sid = dfa.start_state_reverse(cache, input).ok()?;
        let hay = input.haystack();
        for &b in hay[input.start()..input.end()].iter().rev() {
            sid = step(dfa, cache, sid, b)?;
            if sid.is_tagged() {
                if sid.is_match() {
                    return Some(true);
                } else if sid.is_dead() {
                    return Some(false);
                } else if sid.is_quit() {
                    return None;
                }
            }
        }
        sid = match input.start().checked_sub(1) {
            Some(i) => dfa.next_state(cache, sid, hay[i]).ok()?,
            None => dfa.next_eoi_state(cache, sid).ok()?,
        };
        if sid.is_quit() {
            return None;
        }
        Some(sid.is_match())
    }

    /// Whether `dfa` matches anchored at the start of `input`: what
    /// `try_search_fwd(..).is_some()` says for a DFA built with
    /// `MatchKind::All`, stopping at the first match state.
    pub(super) fn any_fwd(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
    ) -> Option<bool> {
        let mut sid = dfa.start_state_forward(cache, input).ok()?;
        let hay = input.haystack();
        for &b in &hay[input.start()..input.end()] {
            sid = step(dfa, cache, sid, b)?;
            if sid.is_tagged() {
                if sid.is_match() {
                    return Some(true);
                } else if sid.is_dead() {
                    return Some(false);
                } else if sid.is_quit() {
                    return None;
                }
            }
        }
        sid = match hay.get(input.end()) {
            Some(&b) => dfa.next_state(cache, sid, b).ok()?,
            None => dfa.next_eoi_state(cache, sid).ok()?,
        };
        if sid.is_quit() {
            return None;
        }
        Some(sid.is_match())
    }

    /// Every place where a match of `dfa` (built with `MatchKind::All`)
    /// anchored at the start of `input` ends, as bits by offset from that
    /// start (bit `i`: a match ends at `start + i`). The span must be
    /// shorter than 64 bytes.
    pub(super) fn ends(dfa: &lazy::DFA, cache: &mut lazy::Cache, input: &Input<'_>) -> Option<u64> {
        let start = input.start();
        let mut bits = 0u64;
        run(dfa, cache, input, |_, _, at| bits |= 1 << (at - start))?;
        Some(bits)
    }

    /// Every place where a match of `dfa` (a reverse DFA built with
    /// `MatchKind::All`) anchored at the end of `input` starts, as bits by
    /// offset from the start of `input`, as [`ends`] gives them.
    pub(super) fn starts(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
    ) -> Option<u64> {
        let mut sid = dfa.start_state_reverse(cache, input).ok()?;
        let hay = input.haystack();
        let start = input.start();
        let mut bits = 0u64;
        for i in (start..input.end()).rev() {
            sid = step(dfa, cache, sid, hay[i])?;
            if sid.is_tagged() {
                // One byte late, as forward: this match starts after it.
                if sid.is_match() {
                    bits |= 1 << (i + 1 - start);
                } else if sid.is_dead() {
                    return Some(bits);
                } else if sid.is_quit() {
                    return None;
                }
            }
        }
        sid = match start.checked_sub(1) {
            Some(i) => dfa.next_state(cache, sid, hay[i]).ok()?,
            None => dfa.next_eoi_state(cache, sid).ok()?,
        };
        if sid.is_quit() {
            return None;
        }
        if sid.is_match() {
            bits |= 1;
        }
        Some(bits)
    }

    /// The patterns of `dfa` (built with `MatchKind::All`) that match at
    /// the anchored start of `input`, among `want`: what
    /// `try_which_overlapping_matches` puts in its set.
    ///
    /// Out of line, as `end`: inlined into the caller (which the compiler
    /// chose or not as unrelated code changed) the two cost 0.4 M
    /// instructions more a pass over presidio-dev.
    ///
    /// Also the patterns of `want` that matched at one end only, that end
    /// in `ends` (indexed by pattern; the entries of other patterns mean
    /// nothing). A `MatchKind::All` DFA reports at each end every pattern
    /// with a match ending there, and the walk goes on until no pattern
    /// can match further (or the input and its end-of-input step are
    /// read), so a pattern's ends seen here are all ends of its matches
    /// at this start. With one end only, its leftmost-first match (which
    /// exists, as some match does) ends there: [`end`] need not walk.
    /// Look-arounds do not change this: both DFAs are built from the same
    /// patterns and resolve `\b`, `$` and the like the same way (a match
    /// shows one byte late, after the byte or end-of-input step that
    /// decides it), over the same span. Not for patterns that can match
    /// empty: the caller's leftmost-first search then skips empty matches
    /// inside a character, which this does not (the caller checks).
    /// The closure stays a call (the compiler's choice): inlined into
    /// `run`'s loop through a trait, the walk cost 0.09 M instructions
    /// more a pass over presidio-dev.
    #[inline(never)]
    pub(super) fn which(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
        want: Mask,
        ends: &mut [usize; super::MAX_ANCHORED],
    ) -> Option<(Mask, Mask)> {
        let (mut found, mut again): (Mask, Mask) = (0, 0);
        run(dfa, cache, input, |cache, sid, at| {
            for i in 0..dfa.match_len(cache, sid) {
                let p = dfa.match_pattern(cache, sid, i).as_usize();
                if p < Mask::BITS as usize {
                    // A pattern shows at most once per end (one state per
                    // end): seen before means another end.
                    again |= found & (1 << p);
                    found |= 1 << p;
                    ends[p] = at;
                }
            }
        })?;
        let found = found & want;
        Some((found, found & !again))
    }

    /// Where the leftmost-first match of `input`'s anchored pattern ends
    /// (Some(None): no match): `try_search_fwd` for a DFA (built with
    /// `MatchKind::LeftmostFirst`) that cannot match the empty string.
    #[inline(never)]
    pub(super) fn end(
        dfa: &lazy::DFA,
        cache: &mut lazy::Cache,
        input: &Input<'_>,
    ) -> Option<Option<usize>> {
        let mut end = None;
        run(dfa, cache, input, |_, _, at| end = Some(at))?;
        Some(end)
    }
}

/// Exact pre-checks of trigger places, read off the anchored patterns'
/// lazy DFA once at build time: from the states a place can be in (every
/// look-behind the text may hold, every case variant of a keyword), the
/// states the next few bytes lead to, as a small table. A place whose
/// bytes lead every state to the dead state cannot start a match, and is
/// dropped before the walk of the full DFA: that DFA's rows are about a
/// kilobyte (it has some 200 byte classes), so a walk that dies on the
/// second byte still costs cache misses, while these tables are a few
/// rows of a few dozen classes. Prose "to " fired `name_cue_strong`
/// (`\bto\s*:`) some thousand times a pass over presidio-dev, each a
/// failed walk.
///
/// Superset by construction: a byte that leads any state to a match, a
/// quit or past the table's rows keeps the place, and so do the end of
/// the text and the step cap.
mod follow {
    use super::lazy;
    use regex_automata::hybrid::LazyStateID;
    use regex_automata::util::start;
    use regex_automata::{Anchored, PatternID};

    /// Table entries: no match can follow; keep the place; else `2 + row`.
    const DEAD: u8 = 0;
    const KEEP: u8 = 1;
    /// Most rows per table (sets of DFA states reached); a set beyond
    /// them keeps the place.
    const MAX_ROWS: usize = 4;
    /// Most bytes a check reads.
    const MAX_STEPS: usize = 12;

    /// The tables of all checks, over one map of bytes to classes.
    pub(super) struct Follows {
        class: Box<[u8; 256]>,
        width: usize,
        tables: Vec<Box<[u8]>>,
    }

    impl Follows {
        /// Whether check `f` keeps a place whose bytes from `at` on are
        /// `bytes[at..]`.
        #[inline]
        pub(super) fn keeps(&self, f: usize, bytes: &[u8], at: usize) -> bool {
            let table = &self.tables[f];
            let mut row = 0usize;
            for &b in bytes.get(at..).unwrap_or(&[]).iter().take(MAX_STEPS) {
                let s = table[row * self.width + self.class[b as usize] as usize];
                if s < 2 {
                    return s == KEEP;
                }
                row = usize::from(s - 2);
            }
            true
        }
    }

    /// Collects the checks as full rows of 256 entries, then shares one
    /// byte-class map among them.
    pub(super) struct Builder<'a> {
        dfa: &'a lazy::DFA,
        cache: lazy::Cache,
        tables: Vec<Vec<[u8; 256]>>,
    }

    /// A set of DFA states, or a reason to keep every place.
    type States = Option<Vec<LazyStateID>>;

    /// The live states among `states`, sorted and without repeats. None
    /// when one could not be computed, matches or quits: then the table
    /// cannot rule a place out.
    fn live(states: impl Iterator<Item = Option<LazyStateID>>) -> States {
        let mut set = Vec::new();
        for sid in states {
            let sid = sid?;
            if sid.is_match() || sid.is_quit() {
                return None;
            }
            if !sid.is_dead() {
                set.push(sid);
            }
        }
        set.sort_unstable();
        set.dedup();
        Some(set)
    }

    impl<'a> Builder<'a> {
        pub(super) fn new(dfa: &'a lazy::DFA) -> Self {
            Self {
                dfa,
                cache: dfa.create_cache(),
                tables: Vec::new(),
            }
        }

        /// The start states of pattern `id` anchored, over every
        /// look-behind (None: one of them quits).
        fn starts(&mut self, id: usize) -> States {
            let anchored = Anchored::Pattern(PatternID::new(id).ok()?);
            live(
                std::iter::once(None)
                    .chain((0..=255u8).map(Some))
                    .map(|lb| {
                        let cfg = start::Config::new().anchored(anchored).look_behind(lb);
                        self.dfa.start_state(&mut self.cache, &cfg).ok()
                    }),
            )
        }

        /// The states `set` leads to on any of `bytes`. None: some path
        /// matches or quits on the way (keep every place).
        fn step(&mut self, set: &[LazyStateID], bytes: &[u8]) -> States {
            let (dfa, cache) = (self.dfa, &mut self.cache);
            live(
                set.iter()
                    .flat_map(|&s| bytes.iter().map(move |&b| (s, b)))
                    .map(|(s, b)| dfa.next_state(cache, s, b).ok()),
            )
        }

        /// The states of pattern `id` after `text` read from its start,
        /// each ASCII letter in either case when `fold`.
        fn after(&mut self, id: usize, text: &[u8], fold: bool) -> States {
            let mut set = self.starts(id)?;
            for &b in text {
                let (lo, up) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
                let variants = if fold && lo != up {
                    vec![lo, up]
                } else {
                    vec![b]
                };
                set = self.step(&set, &variants)?;
            }
            Some(set)
        }

        /// A check for the bytes after `text` at a place of pattern `id`
        /// (see [`Self::after`]): its index, or None when it would keep
        /// every place.
        pub(super) fn add(&mut self, id: usize, text: &[u8], fold: bool) -> Option<usize> {
            let first = self.after(id, text, fold)?;
            let mut sets = vec![first];
            let mut rows: Vec<[u8; 256]> = Vec::new();
            let mut any_dead = false;
            while rows.len() < sets.len() {
                let set = sets[rows.len()].clone();
                let mut row = [KEEP; 256];
                for b in 0..=255u8 {
                    row[b as usize] = match self.step(&set, &[b]) {
                        None => KEEP,
                        Some(next) if next.is_empty() => DEAD,
                        Some(next) => match sets.iter().position(|s| *s == next) {
                            Some(r) => 2 + r as u8,
                            None if sets.len() < MAX_ROWS => {
                                sets.push(next);
                                1 + sets.len() as u8
                            }
                            None => KEEP,
                        },
                    };
                    any_dead |= row[b as usize] == DEAD;
                }
                rows.push(row);
            }
            if !any_dead {
                return None;
            }
            self.tables.push(rows);
            Some(self.tables.len() - 1)
        }

        /// The checks, or None when the DFA's cache was cleared on the
        /// way (the state ids read before are then stale).
        pub(super) fn finish(self) -> Option<Follows> {
            if self.cache.clear_count() != 0 {
                return None;
            }
            // Classes: bytes alike in every row of every table.
            let (class, rep) =
                super::super::keywords::alike_bytes(self.tables.iter().flatten().map(|r| &r[..]));
            let width = rep.len();
            let tables = self
                .tables
                .iter()
                .map(|rows| {
                    rows.iter()
                        .flat_map(|row| rep.iter().map(move |&b| row[b]))
                        .collect()
                })
                .collect();
            Some(Follows {
                class: Box::new(class),
                width,
                tables,
            })
        }
    }
}

/// The capturing engine the `meta` regex would pick for an anchored
/// search, called directly: the `meta` layer first runs its lazy DFA over
/// the span again (the caller's DFA walk has found where the match ends
/// already), then this engine. A one-pass DFA where the pattern allows
/// one, else the bounded backtracker. Both report the leftmost-first match
/// and its groups, as every engine of the crate does; built from the same
/// pattern with the `meta` regex's NFA settings.
enum Capturer {
    /// Boxed: the DFA is seven times the backtracker's size.
    OnePass(Box<regex_automata::dfa::onepass::DFA>),
    Backtrack(regex_automata::nfa::thompson::backtrack::BoundedBacktracker),
}

/// The per-thread state of a [`Capturer`].
enum CapCache {
    OnePass(regex_automata::dfa::onepass::Cache),
    Backtrack(regex_automata::nfa::thompson::backtrack::Cache),
}

impl Capturer {
    /// None when neither engine builds, or when the pattern can match the
    /// empty string: the `meta` regex then drops empty matches that split
    /// a character, which these engines alone do not.
    fn new(pattern: &str) -> Option<Self> {
        use regex_automata::nfa::thompson;
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(1 << 24))
                    .shrink(false),
            )
            .build(pattern)
            .ok()?;
        if nfa.has_empty() {
            return None;
        }
        if let Ok(dfa) = regex_automata::dfa::onepass::Builder::new()
            .configure(regex_automata::dfa::onepass::Config::new().size_limit(Some(1 << 20)))
            .build_from_nfa(nfa.clone())
        {
            return Some(Self::OnePass(Box::new(dfa)));
        }
        thompson::backtrack::Builder::new()
            .build_from_nfa(nfa)
            .ok()
            .map(Self::Backtrack)
    }

    fn create_cache(&self) -> CapCache {
        match self {
            Self::OnePass(d) => CapCache::OnePass(d.create_cache()),
            Self::Backtrack(b) => CapCache::Backtrack(b.create_cache()),
        }
    }

    fn create_captures(&self) -> regex_automata::util::captures::Captures {
        match self {
            Self::OnePass(d) => d.create_captures(),
            Self::Backtrack(b) => b.create_captures(),
        }
    }

    /// The leftmost-first match of the anchored `input` and its groups,
    /// into `caps`. False when this engine cannot search it (a span too
    /// long for the backtracker's table): the caller asks the `meta` regex.
    fn search(
        &self,
        cache: &mut CapCache,
        input: &Input<'_>,
        caps: &mut regex_automata::util::captures::Captures,
    ) -> bool {
        match (self, cache) {
            (Self::OnePass(d), CapCache::OnePass(c)) => d.try_search(c, input, caps).is_ok(),
            (Self::Backtrack(b), CapCache::Backtrack(c)) => b.try_search(c, input, caps).is_ok(),
            _ => false,
        }
    }
}

/// Where the `v` and `n` groups of an anchored pattern lie in a match
/// whose bounds are known, found by DFA walks instead of a capturing
/// search: the bounded backtracker cost about 2,300 instructions a match
/// (a visited table of NFA states × bytes cleared and walked; `\p{L}`
/// makes the NFA large), a pair of walks over the match a tenth of that.
///
/// A group that is an item of the pattern's top-level concatenation
/// `P (G) S` starts where a match of `P` from the match start ends and a
/// match of `G S` to the match end starts: every parse of the match
/// splits there, the leftmost-first one (whose groups the engines
/// report) included, look-arounds seen in the same text. Where exactly
/// one place is both, it is the group's start. Its end likewise, from
/// `P G` and `S`. Where several are both (`(?P<v>a+)a*b`), the
/// capturing engine decides which the leftmost-first parse takes.
struct Splits {
    /// Lazy DFAs (`MatchKind::All`): the forward ones of `P` and `P G`,
    /// the reverse ones of `G S` and `S`.
    dfas: Vec<lazy::DFA>,
    /// For `v` and `n`: None where the pattern has no such group, else
    /// (forward, reverse) DFA indices for its start and for its end;
    /// None there where `P` (or `S`) matches only the empty string (the
    /// group starts at the match start, or ends at its end).
    groups: [Option<[Cut; 2]>; 2],
}

/// How a group bound is found (see [`Splits`]): the (forward, reverse)
/// DFAs whose places meet there, or None: the match's own bound.
type Cut = Option<(usize, usize)>;

impl Splits {
    /// None where a group is not a top-level item or a DFA does not
    /// build.
    fn new(pattern: &str, groups: Groups) -> Option<Self> {
        use regex_syntax::hir::{Hir, HirKind};
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let top: Vec<Hir> = match hir.kind() {
            HirKind::Concat(subs) => subs.clone(),
            _ => vec![hir.clone()],
        };
        let mut dfas = Vec::new();
        let mut add = |items: &[Hir], reverse: bool| -> Option<usize> {
            dfas.push(sub_dfa(&Hir::concat(items.to_vec()), reverse)?);
            Some(dfas.len() - 1)
        };
        let only_empty = |items: &[Hir]| {
            items
                .iter()
                .all(|h| h.properties().maximum_len() == Some(0))
        };
        let mut bounds = [None, None];
        for (slot, index) in [groups.v, groups.n].into_iter().enumerate() {
            let Some(index) = index else {
                continue;
            };
            let k = top.iter().position(
                |h| matches!(h.kind(), HirKind::Capture(c) if c.index as usize == index),
            )?;
            let start = if only_empty(&top[..k]) {
                None
            } else {
                Some((add(&top[..k], false)?, add(&top[k..], true)?))
            };
            let end = if only_empty(&top[k + 1..]) {
                None
            } else {
                Some((add(&top[..=k], false)?, add(&top[k + 1..], true)?))
            };
            bounds[slot] = Some([start, end]);
        }
        Some(Self {
            dfas,
            groups: bounds,
        })
    }

    fn create_caches(&self) -> Vec<lazy::Cache> {
        self.dfas.iter().map(|d| d.create_cache()).collect()
    }

    /// The `v` and `n` groups of the match `pos..end` of `hay` (None for a
    /// group the pattern lacks), or None where the walks do not decide.
    fn locate(
        &self,
        caches: &mut [lazy::Cache],
        hay: &str,
        pos: usize,
        end: usize,
    ) -> Option<[Option<std::ops::Range<usize>>; 2]> {
        if end - pos >= 64 {
            return None;
        }
        let input = Input::new(hay).span(pos..end).anchored(Anchored::Yes);
        let mut cut = |dfas: Cut, own: usize| -> Option<usize> {
            let Some((f, r)) = dfas else {
                return Some(own);
            };
            let both = walk::ends(&self.dfas[f], &mut caches[f], &input)?
                & walk::starts(&self.dfas[r], &mut caches[r], &input)?;
            (both.count_ones() == 1).then(|| pos + both.trailing_zeros() as usize)
        };
        let mut out = [None, None];
        for (slot, bounds) in self.groups.iter().enumerate() {
            if let Some([start, stop]) = bounds {
                out[slot] = Some(cut(*start, pos)?..cut(*stop, end)?);
            }
        }
        Some(out)
    }
}

/// A lazy DFA (`MatchKind::All`) of a piece of a pattern, for [`Splits`].
fn sub_dfa(hir: &regex_syntax::hir::Hir, reverse: bool) -> Option<lazy::DFA> {
    use regex_automata::nfa::thompson;
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .reverse(reverse)
                // A reverse NFA cannot hold groups; the walks need none.
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(1 << 24)),
        )
        .build_from_hir(hir)
        .ok()?;
    lazy::Builder::new()
        .configure(any_match_config(true))
        .build_from_nfa(nfa)
        .ok()
}

/// A pattern whose matches hold a byte of a rare set `lo..=hi` bytes after
/// their start: before each such byte, the starts in that range that
/// `any`/`bound` allow are its places.
struct InnerTrigger {
    lo: usize,
    hi: usize,
    any: Box<[bool; 256]>,
    bound: Box<[bool; 256]>,
    /// The bytes a match can hold before its trigger byte (see
    /// [`Trigger::Inner`]).
    between: Box<[bool; 256]>,
    bit: Mask,
}

/// A pattern found from a keyword inside its matches (see
/// [`Trigger::Before`]): the starts in the run of `class` bytes before
/// each keyword hit are its places.
struct BeforeTrigger {
    class: Box<[bool; 256]>,
    last: Box<[bool; 256]>,
    empty_ok: bool,
    any: Box<[bool; 256]>,
    bound: Box<[bool; 256]>,
    bit: Mask,
    /// The pattern's leading `\b` is a Unicode boundary, checked here at
    /// each start (its anchored form has none; see `unicode_start_forms`).
    unicode: bool,
}

/// Most [`BeforeTrigger`]s per rule set (a bit each per keyword).
const MAX_BEFORE: usize = 32;

/// A set of patterns and the (rule, pattern) of each of its members.
type PatternSetIndex = (regex::RegexSet, Vec<(usize, usize)>);

/// A bit per anchored pattern.
type Mask = u128;
/// Anchored patterns per rule set; the rest are scanned.
const MAX_ANCHORED: usize = Mask::BITS as usize;

/// The anchored patterns and what triggers them.
struct Anchors {
    /// One regex per anchored pattern, for the anchored search at a place.
    single: Vec<meta::Regex>,
    /// (rule, pattern) of each anchored pattern.
    owner: Vec<(usize, usize)>,
    /// Per anchored pattern: the (rule, pattern)s written the same way in
    /// later rules ("date_of_birth" and "date" share their patterns and
    /// differ only in how a match is judged). A pattern's matches depend on
    /// its text alone, so these are not searched again: each match of the
    /// first is theirs too.
    aliases: Vec<Vec<(usize, usize)>>,
    /// Per anchored pattern: its `v` and `n` groups.
    grouped: Vec<Groups>,
    /// Per anchored pattern with groups: its capturing engine, called
    /// directly (see [`Capturer`]).
    capturers: Vec<Option<Capturer>>,
    /// Per anchored pattern with groups: where they lie by DFA walks, when
    /// the walks decide (see [`Splits`]).
    splits: Vec<Option<Splits>>,
    /// The lazy DFAs of all anchored patterns, used directly (a search
    /// through the `meta` layer costs more than the few bytes an anchored
    /// walk reads) with their caches from a pool.
    dfas: Option<Dfas>,
    /// Per byte: the patterns that can start on it anywhere.
    any_mask: Box<[Mask; 256]>,
    /// Per byte: the patterns that can start on it at an ASCII word boundary.
    bound_mask: Box<[Mask; 256]>,
    /// Bytes with a non-zero entry in either table, or an inner trigger.
    interesting: Box<[bool; 256]>,
    /// Patterns found through a byte inside their matches (see
    /// [`Trigger::Inner`]), and per byte which of them it triggers.
    inner: Vec<InnerTrigger>,
    inner_bytes: Box<[u32; 256]>,
    /// Per byte: the inner triggers that a trigger byte right after it
    /// can fire. A trigger with `lo > 0` has no place unless the byte
    /// before its trigger byte is of `between`, so it is left out here
    /// when not: every digit fired two triggers whose matches hold a
    /// letter before it, and after a digit each tested nothing (24 k
    /// firings a pass over presidio-dev, 2 % of a scan's instructions).
    /// Triggers with `lo == 0` are in every entry.
    inner_after: Box<[u32; 256]>,
    /// The inner triggers with `lo == 0`: those a trigger byte at the
    /// start of the text can fire.
    inner_first: u32,
    /// Keywords that open patterns, in one ASCII case-insensitive DFA
    /// (overlapping hits: one place may open several keywords), with the
    /// keyword each of its patterns is.
    keywords: Option<(KeywordDfa, Vec<u32>)>,
    /// The automaton also holds the context words, as patterns
    /// `context_from..`: [`Anchors::places`] collects their hits.
    with_context: bool,
    context_from: usize,
    /// Exact keywords that open with an upper-case letter, a digit or a
    /// sign ("IN", "Street", "GmbH", "+1"): found by the byte loop, at
    /// those (rarer) bytes only. Folded into the automaton, every "in" and
    /// "or" of prose was a hit to reject.
    exact: ExactKeywords,
    /// Per keyword: the patterns it opens, and whether it must match
    /// exactly (case-sensitive patterns: checked on each hit).
    keyword_mask: Vec<(Mask, bool)>,
    keyword_text: Vec<Vec<u8>>,
    /// Keyword-triggered patterns that open with `\b`.
    keyword_boundary: Mask,
    /// Patterns found from a keyword inside their matches, and per
    /// keyword which of them it triggers.
    before: Vec<BeforeTrigger>,
    keyword_before: Vec<u32>,
    /// Per keyword, per before-trigger it fires that has `words` (see
    /// [`Trigger::Before`]): the words one of which must stand whole at a
    /// hit (those the keyword is a prefix of, or that are a prefix of it;
    /// see [`whole_word_at`]). A trigger without `words` has no entry.
    /// Found once here: a search per hit cost more than it saved.
    keyword_words: Vec<Vec<(usize, Vec<Vec<u8>>)>>,
    /// Exact checks of the bytes at a place (see [`follow`]), with per
    /// keyword the (pattern bit, check) of the patterns it opens that
    /// have one (read from the byte after the keyword), and per pattern
    /// found by its first byte its check (`u16::MAX`: none), read from
    /// the place on where that pattern is the place's only one.
    follows: Option<follow::Follows>,
    keyword_follow: Vec<Vec<(Mask, u16)>>,
    byte_follow: Vec<u16>,
}

/// Exact keywords looked up from the byte loop: the bytes they open
/// with, a 64 Kibit set of their first two bytes, and the keywords of
/// each pair in the set, found by the pair's rank in the set.
///
/// Why not a sorted list: a binary search per hit was a chain of
/// dependent loads, and each keyword's bytes a separate allocation to
/// chase (perf put 1.5 % of a scan's time there). The rank is a popcount
/// and the bytes lie side by side.
struct ExactKeywords {
    first: Box<[bool; 256]>,
    pairs: Vec<u64>,
    /// Per word of `pairs`: the set bits in the words before it.
    rank: Vec<u16>,
    /// Per set pair, by rank: where its keywords start in `entries`
    /// (one more entry: the end of the last).
    groups: Vec<u32>,
    /// (keyword, its bytes' offset in `bytes`, their length), by pair
    /// and then keyword.
    entries: Vec<(u32, u32, u32)>,
    bytes: Vec<u8>,
}

impl ExactKeywords {
    fn new(words: &[(Vec<u8>, u32)]) -> Self {
        let mut first = Box::new([false; 256]);
        let mut pairs = vec![0u64; 1024];
        let mut list = Vec::new();
        for (w, k) in words {
            if let [a, b, ..] = w[..] {
                let pair = u16::from(a) << 8 | u16::from(b);
                first[usize::from(a)] = true;
                pairs[usize::from(pair) >> 6] |= 1 << (pair & 63);
                list.push((pair, *k, w));
            }
        }
        list.sort_unstable();
        let mut rank = Vec::with_capacity(pairs.len());
        let mut before = 0u16;
        for w in &pairs {
            rank.push(before);
            before += w.count_ones() as u16;
        }
        let (mut groups, mut entries, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &(pair, k, w)) in list.iter().enumerate() {
            if i == 0 || list[i - 1].0 != pair {
                groups.push(entries.len() as u32);
            }
            entries.push((k, bytes.len() as u32, w.len() as u32));
            bytes.extend_from_slice(w);
        }
        groups.push(entries.len() as u32);
        Self {
            first,
            pairs,
            rank,
            groups,
            entries,
            bytes,
        }
    }

    /// Whether the two bytes at `i` in `bytes` open an exact keyword.
    ///
    /// The trigger pass asks this of every interesting byte instead of
    /// testing `first` and then the pair: upper-case letters and digits
    /// are most of those bytes, and `first` held for about half of them
    /// at random (8.7 k mispredicts a pass over presidio-dev), while few
    /// of their pairs open a keyword.
    #[inline]
    fn opens(&self, bytes: &[u8], i: usize) -> bool {
        let Some(&next) = bytes.get(i + 1) else {
            return false;
        };
        let pair = u16::from(bytes[i]) << 8 | u16::from(next);
        self.pairs[usize::from(pair) >> 6] & (1 << (pair & 63)) != 0
    }

    /// Call `f(keyword)` for each exact keyword at `i` in `bytes`.
    #[inline]
    fn at(&self, bytes: &[u8], i: usize, mut f: impl FnMut(usize)) {
        if !self.opens(bytes, i) {
            return;
        }
        let pair = usize::from(bytes[i]) << 8 | usize::from(bytes[i + 1]);
        let (word, bit) = (pair >> 6, pair & 63);
        let below = self.pairs[word] & ((1u64 << bit) - 1);
        let g = usize::from(self.rank[word]) + below.count_ones() as usize;
        let (from, to) = (self.groups[g] as usize, self.groups[g + 1] as usize);
        for &(k, at, len) in &self.entries[from..to] {
            let w = &self.bytes[at as usize..(at + len) as usize];
            if bytes.get(i..i + w.len()).is_some_and(|b| short_eq(b, w)) {
                f(k as usize);
            }
        }
    }
}

/// One regex match before it is judged: (report rank, rule, match start,
/// span range, validated range).
type RawMatch = (
    u32,
    usize,
    usize,
    std::ops::Range<usize>,
    std::ops::Range<usize>,
);

/// Where a context word was found in the text.
#[derive(Clone, Copy)]
struct ContextHit {
    start: usize,
    word: u32,
}

impl RuleSet {
    /// Load the embedded packs (unless `builtin` is false) and every `*.toml`
    /// in `extra_dir`, skipping rule ids listed in `disabled`.
    pub fn load(
        builtin: bool,
        extra_dir: Option<&Path>,
        disabled: &[String],
    ) -> Result<Self, Error> {
        let mut sources: Vec<(String, String)> = Vec::new();
        if builtin {
            for (name, text) in BUILTIN_PACKS {
                sources.push(((*name).to_string(), (*text).to_string()));
            }
        }
        if let Some(dir) = extra_dir {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                sources.push((f.display().to_string(), text));
            }
        }
        Self::from_sources(&sources, disabled)
    }

    /// Compile packs given as (file name, TOML text) pairs.
    pub fn from_sources(sources: &[(String, String)], disabled: &[String]) -> Result<Self, Error> {
        let mut words: Vec<String> = Vec::new();
        let mut word_ids: std::collections::HashMap<String, u32> = Default::default();
        let mut intern = |w: &str| -> u32 {
            let w = w.to_lowercase();
            if let Some(&id) = word_ids.get(&w) {
                return id;
            }
            let id = words.len() as u32;
            words.push(w.clone());
            word_ids.insert(w, id);
            id
        };
        let mut rules = Vec::new();
        let mut packs = Vec::new();
        let mut seen: std::collections::HashMap<String, String> = Default::default();
        for (file, text) in sources {
            let pf: PackFile = toml::from_str(text).map_err(|e| Error::Rules {
                file: file.clone(),
                rule: None,
                msg: e.to_string(),
            })?;
            packs.push(match &pf.pack.version {
                Some(v) => format!("{}@{}", pf.pack.name, v),
                None => pf.pack.name.clone(),
            });
            for def in pf.rules {
                let err = |msg: String| Error::Rules {
                    file: file.clone(),
                    rule: Some(def.id.clone()),
                    msg,
                };
                if let Some(prev) = seen.insert(def.id.clone(), file.clone()) {
                    return Err(err(format!("duplicate rule id (first defined in {prev})")));
                }
                if disabled.contains(&def.id) {
                    continue;
                }
                if def.patterns.is_empty() {
                    return Err(err("no patterns".into()));
                }
                if !(0.0..=1.0).contains(&def.score) {
                    return Err(err(format!("score {} outside 0..=1", def.score)));
                }
                if def.entity.is_empty()
                    || !def
                        .entity
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                {
                    return Err(err(format!(
                        "entity {:?} must be UPPER_SNAKE_CASE",
                        def.entity
                    )));
                }
                let mut patterns = Vec::new();
                let mut unicode_start = Vec::new();
                for p in &def.patterns {
                    let ascii = compile_form(p);
                    // A leading `\b` before a letter class is a Unicode
                    // boundary (see `unicode_start_forms`).
                    let forms = unicode_start_forms(&ascii);
                    let full = forms.as_ref().map_or(ascii.as_str(), |f| f.0.as_str());
                    patterns.push(
                        regex::RegexBuilder::new(full)
                            .size_limit(1 << 24)
                            .build()
                            .map_err(|e| err(format!("bad pattern: {e}")))?,
                    );
                    unicode_start.push(forms.map(|(_, stripped)| (ascii, stripped)));
                }
                let mut exclude = Vec::new();
                for p in &def.exclude {
                    let anchored = format!("^(?:{p})$");
                    exclude
                        .push(Regex::new(&anchored).map_err(|e| err(format!("bad exclude: {e}")))?);
                }
                let edge = |p: &Option<String>, anchor_end: bool| -> Result<Option<Regex>, Error> {
                    match p {
                        None => Ok(None),
                        Some(p) => {
                            let a = if anchor_end {
                                format!("(?:{p})$")
                            } else {
                                format!("^(?:{p})")
                            };
                            Regex::new(&a)
                                .map(Some)
                                .map_err(|e| err(format!("bad edge pattern: {e}")))
                        }
                    }
                };
                let not_before = edge(&def.not_preceded_by, true)?;
                let not_after = edge(&def.not_followed_by, false)?;
                let edge_dfas = [
                    not_before
                        .as_ref()
                        .and_then(|re| edge_dfa(re.as_str(), true)),
                    not_after
                        .as_ref()
                        .and_then(|re| edge_dfa(re.as_str(), false)),
                ];
                let validator = match &def.validator {
                    None => None,
                    Some(v) => Some(validators::by_name(v).ok_or_else(|| {
                        err(format!(
                            "unknown validator {v:?} (known: {})",
                            validators::NAMES.join(", ")
                        ))
                    })?),
                };
                if def.requires_context && def.context.is_empty() {
                    return Err(err("requires_context but no context words".into()));
                }
                let needs_digit = def.patterns.iter().all(|p| pattern_needs_digit(p));
                let digit_only = def.patterns.iter().map(|p| requires_digit(p)).collect();
                let grouped = patterns.iter().map(Groups::of).collect();
                let whole = if def.trim_leading.is_empty() {
                    Vec::new()
                } else {
                    patterns
                        .iter()
                        .map(|re| {
                            regex::RegexBuilder::new(&format!("^(?:{})$", re.as_str()))
                                .size_limit(1 << 24)
                                .build()
                                .map_err(|e| err(format!("bad pattern: {e}")))
                        })
                        .collect::<Result<_, _>>()?
                };
                rules.push(Rule {
                    unicode_start,
                    grouped,
                    detector: Name::from(format!("rule:{}", def.id).as_str()),
                    entity: Name::from(def.entity.as_str()),
                    pack: pf.pack.name.clone(),
                    patterns,
                    validator,
                    score: def.score,
                    context_score: def.context_score.unwrap_or((def.score + 0.25).min(1.0)),
                    invalid_score: def.invalid_score,
                    context: sorted_ids(def.context.iter().map(|w| intern(w)).collect()),
                    negative: sorted_ids(def.negative_context.iter().map(|w| intern(w)).collect()),
                    requires_context: def.requires_context,
                    window: def.context_window,
                    exclude,
                    trim_leading: def.trim_leading.iter().map(|w| w.to_lowercase()).collect(),
                    whole,
                    not_before,
                    not_after,
                    edge_dfas,
                    min_digits: def.min_digits.unwrap_or(0),
                    max_digits: def.max_digits.unwrap_or(usize::MAX),
                    needs_digit,
                    digit_only,
                    order: Vec::new(),
                    examples: def.examples,
                    counter_examples: def.counter_examples,
                    id: def.id,
                });
            }
        }
        let context_ac = if words.is_empty() {
            None
        } else {
            // The DFA type itself, not `AhoCorasick`: the search loop
            // (`leftmost_longest`) steps its states directly, which the
            // wrapper does not expose.
            let dfa = AcDfa::builder()
                .ascii_case_insensitive(true)
                .prefilter(false)
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&words)
                .map_err(|e| Error::Config(format!("context words: {e}")))?;
            Some(KeywordDfa::new(&dfa).map_err(|e| Error::Config(format!("context words: {e}")))?)
        };
        // Report order: the old search ran two sets (the first rule's kind
        // first), each in pattern order.
        let first_kind = rules.first().is_some_and(|r| r.needs_digit);
        let mut rank = 0u32;
        for kind in [first_kind, !first_kind] {
            for r in rules.iter_mut().filter(|r| r.needs_digit == kind) {
                r.order = (0..r.patterns.len())
                    .map(|_| {
                        rank += 1;
                        rank - 1
                    })
                    .collect();
            }
        }
        let (anchors, scanned) = Anchors::build(&rules, &words)?;
        let scan_line_end: Vec<Option<Box<[bool; 256]>>> = scanned
            .iter()
            .map(|&(ri, pi)| {
                let p = compile_form(rules[ri].patterns[pi].as_str());
                let h = regex_syntax::ParserBuilder::new().build().parse(&p).ok()?;
                super::trigger::line_end_last(&h)
            })
            .collect();
        let scan_splits = scanned
            .iter()
            .map(|&(ri, pi)| {
                let g = rules[ri].grouped[pi];
                g.any()
                    .then(|| Splits::new(rules[ri].patterns[pi].as_str(), g))
                    .flatten()
            })
            .collect();
        let scan_rev = scanned
            .iter()
            .zip(&scan_line_end)
            .map(|(&(ri, pi), last)| {
                last.as_ref()?;
                line_end_dfa(&compile_form(rules[ri].patterns[pi].as_str()))
            })
            .collect();
        let scan_set = if scanned.len() > 1 {
            regex::RegexSetBuilder::new(
                scanned
                    .iter()
                    .map(|&(ri, pi)| rules[ri].patterns[pi].as_str()),
            )
            .size_limit(1 << 26)
            // As for the reference sets: a small lazy-DFA cache thrashes.
            .dfa_size_limit(1 << 24)
            .build()
            .ok()
        } else {
            None
        };
        Ok(Self {
            rules,
            context_ac,
            packs,
            anchors,
            scanned,
            scan_line_end,
            scan_rev,
            scan_splits,
            scan_set,
            sets: std::sync::OnceLock::new(),
            reference: std::sync::atomic::AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Run every rule over `text`.
    pub fn find(&self, text: &str) -> Vec<Span> {
        if self.reference.load(std::sync::atomic::Ordering::Relaxed) {
            return self.find_reference(text);
        }
        self.find_stages(text, true, true)
    }

    /// [`RuleSet::find`] of each of `texts`, in order, with the trigger
    /// pass (the keyword automaton over every byte) run over all of them
    /// first, then the walks and judging of each. Why: the automaton's
    /// table (0.64 MB) and the walks' lazy DFAs evicted each other from
    /// the data cache record after record. Texts of more than one piece
    /// (see [`chunks`]) are searched as `find` does.
    pub fn find_many(&self, texts: &[&str]) -> Vec<Vec<Span>> {
        if self.reference.load(std::sync::atomic::Ordering::Relaxed) {
            return texts.iter().map(|t| self.find_reference(t)).collect();
        }
        SCRATCH.with(|cell| {
            let Ok(mut s) = cell.try_borrow_mut() else {
                return texts.iter().map(|t| self.find(t)).collect();
            };
            let s = &mut *s;
            // Per text: where its places and context hits end in the two
            // buffers, or None when it is searched as `find` does.
            let mut ends: Vec<Option<(usize, usize)>> = Vec::with_capacity(texts.len());
            let mut places = std::mem::take(&mut s.batch_places);
            let mut context = std::mem::take(&mut s.batch_context);
            places.clear();
            context.clear();
            for t in texts {
                if t.len() > CHUNK || self.anchors.single.is_empty() {
                    ends.push(None);
                    continue;
                }
                s.reset(self.id);
                self.anchors.places(0, t, s);
                places.extend_from_slice(&s.cands);
                context.extend_from_slice(&s.context);
                ends.push(Some((places.len(), context.len())));
            }
            let (mut p0, mut c0) = (0, 0);
            let out = texts
                .iter()
                .zip(&ends)
                .map(|(t, end)| match *end {
                    Some((p1, c1)) => {
                        let given = (&places[p0..p1], &context[c0..c1]);
                        (p0, c0) = (p1, c1);
                        self.find_with_places(t, true, true, s, Some(given))
                    }
                    None => self.find_with(t, true, true, s),
                })
                .collect();
            super::trim_scratch(&mut places);
            super::trim_scratch(&mut context);
            s.batch_places = places;
            s.batch_context = context;
            out
        })
    }

    /// Switch [`RuleSet::find`] to the reference search (`on`) or back.
    pub fn use_reference(&self, on: bool) {
        self.reference
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// [`RuleSet::find`] with only the anchored patterns and/or only the
    /// scanned ones (benchmarks: what each costs).
    pub fn find_stages(&self, text: &str, anchored: bool, scanned: bool) -> Vec<Span> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.find_with(text, anchored, scanned, &mut s),
            Err(_) => self.find_with(text, anchored, scanned, &mut Scratch::default()),
        })
    }

    fn find_with(
        &self,
        text: &str,
        anchored: bool,
        scanned: bool,
        scratch: &mut Scratch,
    ) -> Vec<Span> {
        self.find_with_places(text, anchored, scanned, scratch, None)
    }

    /// [`RuleSet::find_with`]; `given`: the trigger places and context
    /// hits of `text`, a text of one piece, already found (see
    /// [`RuleSet::find_many`]).
    #[allow(clippy::type_complexity)]
    fn find_with_places(
        &self,
        text: &str,
        anchored: bool,
        scanned: bool,
        scratch: &mut Scratch,
        given: Option<(&[(usize, Mask)], &[(usize, usize, u32)])>,
    ) -> Vec<Span> {
        scratch.reset(self.id);
        let mut out = Vec::with_capacity(8);
        let mut raw = std::mem::take(&mut scratch.raw);
        // Long documents are searched paragraph by paragraph (the same
        // pieces the reference search uses, so look-arounds see the same
        // text). All pieces first: the trigger pass also collects the
        // context-word hits of the whole text, which judging needs.
        for (base, chunk) in chunks(text) {
            let from = raw.len();
            if anchored {
                if let Some((places, context)) = given {
                    scratch.cands.clear();
                    scratch.cands.extend_from_slice(places);
                    scratch.context.extend_from_slice(context);
                    self.anchors
                        .walk_places(&self.rules, chunk, scratch, &mut raw);
                } else {
                    self.anchors
                        .matches(&self.rules, base, chunk, scratch, &mut raw);
                }
            }
            if scanned {
                // The set's pass over the piece, only if a pattern needs
                // it: a `$` pattern's line-end gate answers exactly when it
                // says No or Yes, and on short records that pass was most
                // of what the one scanned pattern cost.
                let mut matched: Option<Option<regex::SetMatches>> = None;
                for (k, &(ri, pi)) in self.scanned.iter().enumerate() {
                    let rule = &self.rules[ri];
                    let mut known = false;
                    if let Some(last) = &self.scan_line_end[k] {
                        match scratch.ends_at_line_end(k, last, self.scan_rev[k].as_ref(), chunk) {
                            LineEndMatch::No => continue,
                            LineEndMatch::Yes => known = true,
                            LineEndMatch::Maybe => {}
                        }
                    }
                    // After the line-end gate, which reads a few bytes per
                    // line where this reads the whole piece (and its
                    // characters, when it holds non-ASCII ones): a piece
                    // the gate turns down or vouches for needs no digit
                    // test (a match it vouches for holds a digit).
                    if !known
                        && (rule.needs_digit || rule.digit_only[pi])
                        && !scratch.has_digit(chunk)
                    {
                        continue;
                    }
                    if !known
                        && matched
                            .get_or_insert_with(|| {
                                self.scan_set.as_ref().map(|set| set.matches(chunk))
                            })
                            .as_ref()
                            .is_some_and(|m| !m.matched(k))
                    {
                        continue;
                    }
                    let order = rule.order[pi];
                    let mut push = |m, v, n| raw.push((order, ri, m, v, n));
                    if let Some(sp) = &self.scan_splits[k] {
                        if scratch.scan_splitting.len() <= k {
                            scratch.scan_splitting.resize_with(k + 1, || None);
                        }
                        let caches =
                            scratch.scan_splitting[k].get_or_insert_with(|| sp.create_caches());
                        rule.each_split_match(pi, chunk, sp, caches, &mut push);
                    } else {
                        rule.each_match(pi, chunk, known, &mut push);
                    }
                }
            }
            // Same order as the reference: by pattern rank, then position.
            raw[from..].sort_unstable_by_key(|r| (r.0, r.2));
            scratch.pieces.push((base, raw.len()));
        }
        // Context words are resolved once per text, lazily: most texts
        // match no rule that has any.
        // One look-around cache pair per rule, for `judge` below.
        if scratch.edge_caches.len() != self.rules.len() {
            scratch
                .edge_caches
                .resize_with(self.rules.len(), Default::default);
        }
        let collected = anchored && self.anchors.with_context;
        let mut hits: Option<Vec<ContextHit>> = None;
        let mut from = 0;
        for &(base, end) in &scratch.pieces {
            // By index, not `drain(..)` per piece: draining the front
            // moved every later piece's matches each time, quadratic in a
            // text of many short paragraphs.
            for (_, ri, _, v, n) in raw[from..end].iter().cloned() {
                let rule = &self.rules[ri];
                let hits = rule.hits(&mut hits, || {
                    if collected {
                        let mut found = std::mem::take(&mut scratch.context_hits);
                        context_from_overlapping_into(
                            &scratch.context,
                            text,
                            &mut scratch.context_keys,
                            &mut found,
                        );
                        found
                    } else {
                        self.context_hits(text)
                    }
                });
                let (start, end) = (base + v.start, base + v.end);
                let Some((start, end)) = rule.trim(text, start, end) else {
                    continue;
                };
                let validated = &text[base + n.start..base + n.end];
                let caches = Some(&mut scratch.edge_caches[ri]);
                if let Some(score) = rule.judge(text, start, end, validated, hits, caches) {
                    out.push(rule.span(start, end, score));
                }
            }
            from = end;
        }
        if let Some(found) = hits {
            scratch.context_hits = found;
        }
        raw.clear();
        scratch.raw = raw;
        scratch.trim();
        out
    }

    /// The reference search (the one before triggers): every pattern in
    /// two sets, one pass per set over each piece of the text, then each
    /// pattern the sets report. [`RuleSet::find`] must return exactly this.
    pub fn find_reference(&self, text: &str) -> Vec<Span> {
        let sets = self.sets.get_or_init(|| self.build_sets());
        let mut out = Vec::new();
        // `\d` is Unicode: non-ASCII digits count too.
        let has_digit = text.bytes().any(|b| b.is_ascii_digit())
            || (!text.is_ascii() && text.chars().any(char::is_numeric));
        let mut hits: Option<Vec<ContextHit>> = None;
        let mut todo: Vec<(usize, usize)> = Vec::new();
        for (base, chunk) in chunks(text) {
            todo.clear();
            for (set, set_index) in sets {
                if !has_digit
                    && set_index
                        .first()
                        .is_some_and(|&(ri, _)| self.rules[ri].needs_digit)
                {
                    continue;
                }
                todo.extend(set.matches(chunk).iter().map(|idx| set_index[idx]));
            }
            for &(ri, pi) in &todo {
                let rule = &self.rules[ri];
                rule.each_match(pi, chunk, false, &mut |_, v, n| {
                    let hits = rule.hits(&mut hits, || self.context_hits(text));
                    let (start, end) = (base + v.start, base + v.end);
                    let Some((start, end)) = rule.trim(text, start, end) else {
                        return;
                    };
                    if let Some(score) = rule.judge(text, start, end, &chunk[n], hits, None) {
                        out.push(rule.span(start, end, score));
                    }
                });
            }
        }
        out
    }

    fn build_sets(&self) -> Vec<PatternSetIndex> {
        type Group = (Vec<String>, Vec<(usize, usize)>);
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: std::collections::HashMap<bool, usize> = Default::default();
        for (ri, r) in self.rules.iter().enumerate() {
            for (pi, re) in r.patterns.iter().enumerate() {
                // Two sets: patterns that need a digit (skipped on digit-free
                // text) and the others. Measured against one set, one per
                // pack and one per rule: two was fastest (`gdr bench`).
                let key = r.needs_digit;
                let g = *group_of.entry(key).or_insert_with(|| {
                    groups.push((Vec::new(), Vec::new()));
                    groups.len() - 1
                });
                groups[g].0.push(re.as_str().to_string());
                groups[g].1.push((ri, pi));
            }
        }
        let mut sets = Vec::new();
        for (pats, index) in groups {
            // The lazy DFA's cache: at the 2 MiB default the union of
            // patterns thrashes it and search falls back to the PikeVM
            // (30x slower); 16 MiB holds it (`gdr bench`).
            let set = regex::RegexSetBuilder::new(&pats)
                .size_limit(1 << 26)
                .dfa_size_limit(1 << 24)
                .build();
            match set {
                Ok(set) => sets.push((set, index)),
                // Too big for one set: each pattern is its own "set".
                Err(_) => {
                    for (p, i) in pats.iter().zip(index) {
                        if let Ok(one) = regex::RegexSet::new([p]) {
                            sets.push((one, vec![i]));
                        }
                    }
                }
            }
        }
        sets
    }

    /// How many places the trigger pass finds in `text` (benchmarks).
    pub fn trigger_places(&self, text: &str) -> usize {
        let mut scratch = Scratch::default();
        scratch.reset(self.id);
        chunks(text)
            .map(|(base, chunk)| {
                self.anchors.places(base, chunk, &mut scratch);
                scratch.cands.len()
            })
            .sum()
    }

    /// Per anchored pattern (`rule#pattern`): how many trigger places
    /// open it in `texts`, most first; and the scanned patterns (count 0).
    /// Tells a rule author which pattern's trigger is too broad.
    pub fn trigger_counts<'a>(&self, texts: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
        let mut n = vec![0usize; self.anchors.single.len()];
        let mut scratch = Scratch::default();
        for t in texts {
            // Per text: the context hits the pass collects start afresh.
            scratch.reset(self.id);
            for (base, chunk) in chunks(t) {
                self.anchors.places(base, chunk, &mut scratch);
                for &(_, m) in &scratch.cands {
                    let mut m = m;
                    while m != 0 {
                        n[m.trailing_zeros() as usize] += 1;
                        m &= m - 1;
                    }
                }
            }
        }
        let name = |&(ri, pi): &(usize, usize)| format!("{}#{}", self.rules[ri].id, pi);
        let mut out: Vec<(String, usize)> = Vec::new();
        for (id, owner) in self.anchors.owner.iter().enumerate() {
            out.push((name(owner), n[id]));
            // A pattern found through another's search opens where it does.
            for alias in &self.anchors.aliases[id] {
                out.push((format!("{} (= {})", name(alias), name(owner)), n[id]));
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.1));
        out.extend(self.scanned.iter().map(|o| (name(o), 0)));
        out
    }

    /// Number of (anchored, scanned) patterns. A pattern written the same
    /// as an anchored one counts as anchored: it is found by that search.
    pub fn trigger_split(&self) -> (usize, usize) {
        let aliases: usize = self.anchors.aliases.iter().map(Vec::len).sum();
        (self.anchors.single.len() + aliases, self.scanned.len())
    }

    fn context_hits(&self, text: &str) -> Vec<ContextHit> {
        let Some(ac) = &self.context_ac else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        leftmost_longest(ac, text.as_bytes(), |start, end, word| {
            if super::is_word_boundary(text, start, end) {
                hits.push(ContextHit { start, word });
            }
        });
        // `Rule::judge` looks its window up by binary search.
        debug_assert!(hits.is_sorted_by_key(|h| h.start));
        hits
    }

    /// Compile-time sanity for rule packs: every example matches its rule,
    /// no counter-example does. Returns one message per failure.
    pub fn check_examples(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for rule in &self.rules {
            for ex in &rule.examples {
                let spans = self.find_one(rule, ex);
                if spans.is_empty() {
                    failures.push(format!("{}: example {ex:?} not matched", rule.id));
                }
            }
            for ex in &rule.counter_examples {
                let spans = self.find_one(rule, ex);
                if !spans.is_empty() {
                    failures.push(format!(
                        "{}: counter-example {ex:?} matched {:?}",
                        rule.id,
                        spans
                            .iter()
                            .map(|s| &ex[s.start..s.end])
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        failures
    }

    /// Spans of a single rule on `text` (for tests and examples).
    pub fn find_one(&self, rule: &Rule, text: &str) -> Vec<Span> {
        let hits = self.context_hits(text);
        let mut out = Vec::new();
        for pi in 0..rule.patterns.len() {
            rule.each_match(pi, text, false, &mut |_, v, n| {
                let Some((start, end)) = rule.trim(text, v.start, v.end) else {
                    return;
                };
                if let Some(score) = rule.judge(text, start, end, &text[n], &hits, None) {
                    out.push(Span {
                        start,
                        end,
                        entity: rule.entity,
                        score,
                        detector: rule.detector,
                        validated: rule.validator.is_some(),
                    });
                }
            });
        }
        out
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

impl Rule {
    /// Call `f(match start, span range, validated range)` for every
    /// non-empty match of pattern `pi` in `hay`. Patterns without `v`/`n`
    /// groups use the plain (DFA-only) search; capture groups cost a slower
    /// engine. `known`: the caller knows it matches in `hay` (no need to
    /// ask the DFA first).
    fn each_match(
        &self,
        pi: usize,
        hay: &str,
        known: bool,
        f: &mut dyn FnMut(usize, std::ops::Range<usize>, std::ops::Range<usize>),
    ) {
        let re = &self.patterns[pi];
        let groups = self.grouped[pi];
        if !groups.any() {
            for m in re.find_iter(hay) {
                if m.start() < m.end() {
                    f(m.start(), m.range(), m.range());
                }
            }
            return;
        }
        // Most pieces of text do not match at all: the DFA says so first,
        // instead of the capturing engine walking the whole text (for
        // short texts the regex picks a backtracker, many times slower).
        if !known && !re.is_match(hay) {
            return;
        }
        for caps in re.captures_iter(hay) {
            let Some(m) = groups.v.and_then(|i| caps.get(i)).or_else(|| caps.get(0)) else {
                continue;
            };
            if m.start() == m.end() {
                continue;
            }
            let n = groups
                .n
                .and_then(|i| caps.get(i))
                .map_or(m.range(), |n| n.range());
            let whole = caps.get(0).map_or(m.start(), |w| w.start());
            f(whole, m.range(), n);
        }
    }

    /// [`Rule::each_match`] for a pattern with groups and its [`Splits`]:
    /// the matches by the regex's DFAs alone (what `captures_iter` finds
    /// first, before its capturing engine runs over each match), their
    /// groups by the walks, and by the capturing search at the match's
    /// start where the walks do not decide.
    fn each_split_match(
        &self,
        pi: usize,
        hay: &str,
        split: &Splits,
        caches: &mut [lazy::Cache],
        f: &mut dyn FnMut(usize, std::ops::Range<usize>, std::ops::Range<usize>),
    ) {
        let re = &self.patterns[pi];
        let groups = self.grouped[pi];
        for whole in re.find_iter(hay) {
            let (v, n) = match split.locate(caches, hay, whole.start(), whole.end()) {
                Some([v, n]) => {
                    let v = v.unwrap_or(whole.range());
                    let n = n.unwrap_or_else(|| v.clone());
                    (v, n)
                }
                None => {
                    // The same match: the leftmost one from its start.
                    let Some(caps) = re.captures_at(hay, whole.start()) else {
                        continue;
                    };
                    let Some(v) = groups.v.and_then(|i| caps.get(i)).or_else(|| caps.get(0)) else {
                        continue;
                    };
                    let n = groups
                        .n
                        .and_then(|i| caps.get(i))
                        .map_or(v.range(), |n| n.range());
                    (v.range(), n)
                }
            };
            if v.start < v.end {
                f(whole.start(), v, n);
            }
        }
    }

    /// The context hits `judge` needs for this rule: none when it has no
    /// context or negative words (they could change nothing), else the
    /// text's, found on first use. A text whose matches all come from such
    /// rules is never searched for context words.
    fn hits<'h>(
        &self,
        cache: &'h mut Option<Vec<ContextHit>>,
        find: impl FnOnce() -> Vec<ContextHit>,
    ) -> &'h [ContextHit] {
        if self.context.is_empty() && self.negative.is_empty() {
            return &[];
        }
        cache.get_or_insert_with(find)
    }

    fn span(&self, start: usize, end: usize, score: f32) -> Span {
        Span {
            start,
            end,
            entity: self.entity,
            score,
            detector: self.detector,
            validated: self.validator.is_some() && score >= self.score,
        }
    }

    /// `re.is_match(hay)` for look-around `re` (0: `not_before`, 1:
    /// `not_after`), by a hand walk of its lazy DFA where there is one and
    /// `caches`: the regex's search set-up (its cache from a pool, the
    /// strategy's checks) cost about 107 instructions a call, for a walk
    /// that dies in a byte or two (5.6 k calls a pass over presidio-dev).
    /// `not_before` is `(?:p)$`: whether a match ends at the end of `hay`,
    /// an anchored reverse walk from there; `not_after` is `^(?:p)`: an
    /// anchored forward walk. Both over `hay` alone, as the regex sees it.
    fn edge_hit(
        &self,
        re: &Regex,
        which: usize,
        hay: &str,
        caches: Option<&mut EdgeCaches>,
    ) -> bool {
        if let (Some(dfa), Some(caches)) = (&self.edge_dfas[which], caches) {
            let cache = caches[which].get_or_insert_with(|| dfa.create_cache());
            let input = Input::new(hay).anchored(Anchored::Yes);
            let walked = if which == 0 {
                walk::any_rev(dfa, cache, &input)
            } else {
                walk::any_fwd(dfa, cache, &input)
            };
            if let Some(hit) = walked {
                return hit;
            }
        }
        re.is_match(hay)
    }

    /// The match `start..end` without whitespace at its ends (a span that
    /// ended on a space glued its surrogate to the next word) and without
    /// its `trim_leading` words; None when nothing is left, or what is
    /// left is no match of the rule's patterns.
    #[inline]
    fn trim(&self, text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
        let b = text.as_bytes();
        // Nearly every match starts and ends on a letter, digit or sign.
        let plain = |c: u8| c > b' ' && c < 0x80;
        let (start, end) = if start < end && plain(b[start]) && plain(b[end - 1]) {
            (start, end)
        } else {
            super::trim_ws(text, start, end)?
        };
        if self.trim_leading.is_empty() {
            return Some((start, end));
        }
        Some((self.trim_head_words(text, start, end)?, end))
    }

    /// The start of `start..end` after its `trim_leading` words (see
    /// [`Rule::trim`]).
    #[inline(never)]
    fn trim_head_words(&self, text: &str, start: usize, end: usize) -> Option<usize> {
        let mut s = start;
        loop {
            let rest = &text[s..end];
            // The last word is never trimmed.
            let Some(w_end) = rest.find(char::is_whitespace) else {
                break;
            };
            let w = &rest[..w_end];
            if !self.trim_leading.iter().any(|t| t.eq_ignore_ascii_case(w)) {
                break;
            }
            s += w_end + (rest[w_end..].len() - rest[w_end..].trim_start().len());
        }
        if s == start {
            return Some(start);
        }
        self.whole
            .iter()
            .any(|re| re.is_match(&text[s..end]))
            .then_some(s)
    }

    /// Decide whether a regex match is a span, and its score.
    fn judge(
        &self,
        text: &str,
        start: usize,
        end: usize,
        checked: &str,
        hits: &[ContextHit],
        mut caches: Option<&mut EdgeCaches>,
    ) -> Option<f32> {
        let value = &text[start..end];
        if self.min_digits > 0 || self.max_digits < usize::MAX {
            let n = value.bytes().filter(u8::is_ascii_digit).count();
            if n < self.min_digits || n > self.max_digits {
                return None;
            }
        }
        // Every check below can only reject, so their order changes no
        // result. The context window first: it is a binary search, and a
        // rule that requires context ("date_of_birth") rejects most of its
        // matches there, before the look-around regexes run. Of those, the
        // look-ahead first: it turns down more (every day-month match that
        // a year follows).
        let lo = start.saturating_sub(self.window);
        let hi = end + self.window / 2;
        // `hits` are in text order: only the window is looked at, so a
        // record with many matches and many context words is not matches
        // × hits (quadratic in the record's size).
        let from = hits.partition_point(|h| h.start < lo);
        let near = hits[from..]
            .iter()
            .take_while(|h| h.start < hi)
            .filter(|h| h.start < start || h.start >= end);
        let mut ctx = false;
        let mut neg = false;
        for h in near {
            ctx |= self.context.binary_search(&h.word).is_ok();
            neg |= self.negative.binary_search(&h.word).is_ok();
        }
        if neg {
            return None;
        }
        if self.requires_context && !ctx {
            return None;
        }
        if self.exclude.iter().any(|re| re.is_match(value)) {
            return None;
        }
        if let Some(re) = &self.not_after
            && self.edge_hit(
                re,
                1,
                &text[end..ceil_char(text, end + EDGE)],
                caches.as_deref_mut(),
            )
        {
            return None;
        }
        if let Some(re) = &self.not_before
            && self.edge_hit(
                re,
                0,
                &text[floor_char(text, start.saturating_sub(EDGE))..start],
                caches,
            )
        {
            return None;
        }
        let mut score = if ctx { self.context_score } else { self.score };
        if let Some(v) = self.validator
            && !v(checked)
        {
            match self.invalid_score {
                Some(s) if ctx => score = s,
                _ => return None,
            }
        }
        if score <= 0.0 {
            return None;
        }
        Some(score)
    }
}

thread_local! {
    /// Per thread, the buffers of the last search: short records (most of
    /// a JSONL corpus) would otherwise pay an allocation per buffer each.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Gives each rule set an identity, so a thread's buffers built for one
/// (captures, pattern sets sized to its automata) are not used with another.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reusable buffers of searches.
#[derive(Default)]
struct Scratch {
    /// The rule set the buffers below were made for.
    owner: u64,
    raw: Vec<RawMatch>,
    /// Trigger places: (byte offset, patterns that may start there).
    cands: Vec<(usize, Mask)>,
    /// Where `sort_places` merges `cands`' two runs (swapped with it).
    merged: Vec<(usize, Mask)>,
    /// Per anchored pattern: where its previous match ended (matches of
    /// one pattern never overlap, as with an iterator over the text).
    next_ok: Vec<usize>,
    /// Per anchored pattern: its one match end at the place, where the
    /// `which` walk found one (see [`walk::which`]).
    ends: Option<Box<[usize; MAX_ANCHORED]>>,
    patset: Option<PatternSet>,
    caps: Vec<Option<regex_automata::util::captures::Captures>>,
    /// Per anchored pattern: the cache and captures of its [`Capturer`].
    capturing: Vec<Option<(CapCache, regex_automata::util::captures::Captures)>>,
    /// Per anchored pattern: the caches of its [`Splits`].
    splitting: Vec<Option<Vec<lazy::Cache>>>,
    digit: Option<(usize, bool)>,
    /// Per scanned pattern: the cache of its reverse DFA (`scan_rev`).
    rev_caches: Vec<Option<lazy::Cache>>,
    /// Per scanned pattern: the caches of its [`Splits`].
    scan_splitting: Vec<Option<Vec<lazy::Cache>>>,
    /// Per rule: the caches of its look-around DFAs.
    edge_caches: Vec<EdgeCaches>,
    /// Every (overlapping) hit of a context word in the pieces searched
    /// so far, by end: (start, end, word), offsets in the text.
    context: Vec<(usize, usize, u32)>,
    /// Per piece of the text: (its offset, the end of its matches in `raw`).
    pieces: Vec<(usize, usize)>,
    /// The second stream's keyword hits (see [`overlapping`]).
    streams: Vec<(usize, usize, usize)>,
    /// The context hits `judge` reads, and their sort keys (see
    /// [`context_from_overlapping_into`]).
    context_hits: Vec<ContextHit>,
    context_keys: Vec<u64>,
    /// [`RuleSet::find_many`]'s places and context hits of a batch.
    batch_places: Vec<(usize, Mask)>,
    batch_context: Vec<(usize, usize, u32)>,
}

impl Scratch {
    /// Ready the buffers for a search of rule set `owner`.
    fn reset(&mut self, owner: u64) {
        if self.owner != owner {
            *self = Scratch {
                owner,
                ..Scratch::default()
            };
        }
        self.digit = None;
        self.raw.clear();
        self.context.clear();
        self.pieces.clear();
    }

    /// Give back what one large record grew: the buffers are per thread
    /// and kept between records, so without this every worker would hold
    /// its largest record's peak (tens of bytes per byte of text) for good.
    /// Short records stay well under the bound and keep their buffers.
    fn trim(&mut self) {
        use super::trim_scratch as trim;
        trim(&mut self.raw);
        trim(&mut self.cands);
        trim(&mut self.merged);
        trim(&mut self.next_ok);
        trim(&mut self.context);
        trim(&mut self.pieces);
        trim(&mut self.streams);
        trim(&mut self.context_hits);
        trim(&mut self.context_keys);
    }

    /// Whether scanned pattern `k`, which ends at a line end, can match
    /// in `chunk` (see [`line_end_match`]); `rev` is its reverse DFA.
    fn ends_at_line_end(
        &mut self,
        k: usize,
        last: &[bool; 256],
        rev: Option<&lazy::DFA>,
        chunk: &str,
    ) -> LineEndMatch {
        let Some(rev) = rev else {
            return line_end_match(chunk, last, None);
        };
        if self.rev_caches.len() <= k {
            self.rev_caches.resize_with(k + 1, || None);
        }
        let cache = self.rev_caches[k].get_or_insert_with(|| rev.create_cache());
        line_end_match(chunk, last, Some((rev, cache)))
    }

    /// Whether `chunk` holds a digit (`\d` is Unicode: any decimal digit).
    fn has_digit(&mut self, chunk: &str) -> bool {
        let key = chunk.as_ptr() as usize;
        if let Some((k, v)) = self.digit
            && k == key
        {
            return v;
        }
        let (digit, non_ascii) = ascii_digits(chunk.as_bytes());
        let v = digit || non_ascii && chunk.chars().any(char::is_numeric);
        self.digit = Some((key, v));
        v
    }
}

/// Whether `bytes` hold an ASCII digit, and whether they hold a non-ASCII
/// byte (then the caller looks for Unicode digits). Eight bytes a step:
/// this runs over every text, and a byte-at-a-time `any` cost 9
/// instructions a byte.
fn ascii_digits(bytes: &[u8]) -> (bool, bool) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let (mut digit, mut high) = (0u64, 0u64);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        digit |= super::ascii_range_bits(x, b'0', b'9');
        high |= x;
    }
    let (mut digit, mut high) = (digit & HIGH != 0, high & HIGH != 0);
    for &b in words.remainder() {
        digit |= b.is_ascii_digit();
        high |= !b.is_ascii();
    }
    (digit, high)
}

/// The checks of [`follow`] for the anchored patterns: per keyword (its
/// text, its patterns and whether it is exact, as `kw_mask`) the checks of
/// the bytes after it, and per pattern of `byte_patterns` the check from
/// its place on. None, and no checks, without the DFAs or where a pattern
/// can match the empty string (the walks are not taken then).
type FollowChecks = (Option<follow::Follows>, Vec<Vec<(Mask, u16)>>, Vec<u16>);

fn follow_checks(
    dfas: Option<&Dfas>,
    keyword_text: &[Vec<u8>],
    kw_mask: &[(Mask, bool)],
    byte_patterns: &[usize],
    patterns: usize,
) -> FollowChecks {
    let mut keyword_follow = vec![Vec::new(); keyword_text.len()];
    let mut byte_follow = vec![u16::MAX; patterns];
    let Some(d) = dfas.filter(|d| !d.first_empty) else {
        return (None, Vec::new(), Vec::new());
    };
    let mut b = follow::Builder::new(&d.first);
    let mut n = 0usize;
    for (k, (text, &(mask, exact))) in keyword_text.iter().zip(kw_mask).enumerate() {
        let mut m = mask;
        while m != 0 {
            let id = m.trailing_zeros() as usize;
            m &= m - 1;
            if n < usize::from(u16::MAX)
                && let Some(f) = b.add(id, text, !exact)
            {
                keyword_follow[k].push((1 << id, f as u16));
                n += 1;
            }
        }
    }
    for &id in byte_patterns {
        if n < usize::from(u16::MAX)
            && let Some(f) = b.add(id, &[], false)
        {
            byte_follow[id] = f as u16;
            n += 1;
        }
    }
    match b.finish() {
        Some(f) => (Some(f), keyword_follow, byte_follow),
        None => (None, Vec::new(), Vec::new()),
    }
}

impl Anchors {
    /// Split the patterns of `rules` into anchored ones (a trigger derives
    /// from the pattern) and scanned ones.
    fn build(
        rules: &[Rule],
        context_words: &[String],
    ) -> Result<(Self, Vec<(usize, usize)>), Error> {
        let mut single = Vec::new();
        let mut owner = Vec::new();
        let mut aliases: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut grouped = Vec::new();
        let mut capturers = Vec::new();
        let mut splits = Vec::new();
        let mut sources = Vec::new();
        // Per anchored pattern: its text as the rules hold it (to find aliases).
        let mut keys: Vec<String> = Vec::new();
        let mut any_mask = Box::new([0 as Mask; 256]);
        let mut bound_mask = Box::new([0 as Mask; 256]);
        // Per fold (exact, folded): each keyword once, with the patterns
        // it opens and the before-triggers it fires.
        let mut keywords: [Vec<(Vec<u8>, Mask, u32)>; 2] = Default::default();
        fn keyword(list: &mut Vec<(Vec<u8>, Mask, u32)>, l: Vec<u8>) -> &mut (Vec<u8>, Mask, u32) {
            let i = match list.iter().position(|k| k.0 == l) {
                Some(i) => i,
                None => {
                    list.push((l, 0, 0));
                    list.len() - 1
                }
            };
            &mut list[i]
        }
        let mut before: Vec<BeforeTrigger> = Vec::new();
        // Per before-trigger: its whole words (see `keyword_words`).
        let mut before_words: Vec<Option<Vec<Vec<u8>>>> = Vec::new();
        let mut keyword_boundary: Mask = 0;
        let mut inner: Vec<InnerTrigger> = Vec::new();
        let mut inner_bytes = Box::new([0u32; 256]);
        let mut scanned = Vec::new();
        let mut byte_patterns = Vec::new();
        let parser = regex_syntax::ParserBuilder::new();
        for (ri, r) in rules.iter().enumerate() {
            for (pi, re) in r.patterns.iter().enumerate() {
                if let Some(id) = keys.iter().position(|s| s == re.as_str()) {
                    aliases[id].push((ri, pi));
                    continue;
                }
                // The trigger comes from the all-ASCII form; what is
                // searched at its places may lack the leading `\b` (the
                // places have the Unicode one: see `unicode_start_forms`).
                let (derive_src, src, unicode) = match &r.unicode_start[pi] {
                    Some((ascii, stripped)) => (ascii.as_str(), stripped.as_str(), true),
                    None => (re.as_str(), re.as_str(), false),
                };
                let trig = if single.len() < MAX_ANCHORED {
                    parser
                        .build()
                        .parse(derive_src)
                        .map_or(Trigger::Scan, |h| trigger::derive(&h))
                } else {
                    Trigger::Scan
                };
                if trig == Trigger::Scan || unicode && !matches!(trig, Trigger::Before { .. }) {
                    scanned.push((ri, pi));
                    continue;
                }
                let Ok(m) = meta::Builder::new()
                    .configure(meta::Config::new().nfa_size_limit(Some(1 << 24)))
                    .build(src)
                else {
                    scanned.push((ri, pi));
                    continue;
                };
                let bit: Mask = 1 << single.len();
                match trig {
                    Trigger::Bytes { any, bound } => {
                        byte_patterns.push(single.len());
                        for b in 0..256 {
                            if any[b] {
                                any_mask[b] |= bit;
                            }
                            if bound[b] {
                                bound_mask[b] |= bit;
                            }
                        }
                    }
                    Trigger::Literals {
                        lits,
                        fold,
                        boundary,
                    } => {
                        for l in lits {
                            keyword(&mut keywords[usize::from(fold)], l).1 |= bit;
                        }
                        if boundary {
                            keyword_boundary |= bit;
                        }
                    }
                    Trigger::Inner {
                        at,
                        lo,
                        hi,
                        any,
                        bound,
                        between,
                    } => {
                        if inner.len() >= 32 {
                            scanned.push((ri, pi));
                            continue;
                        }
                        for (b, &on) in at.iter().enumerate() {
                            if on {
                                inner_bytes[b] |= 1 << inner.len();
                            }
                        }
                        inner.push(InnerTrigger {
                            lo,
                            hi,
                            any,
                            bound,
                            between,
                            bit,
                        });
                    }
                    Trigger::Before {
                        lits,
                        fold,
                        class,
                        last,
                        empty_ok,
                        any,
                        bound,
                        words,
                    } => {
                        if before.len() >= MAX_BEFORE {
                            scanned.push((ri, pi));
                            continue;
                        }
                        for l in lits {
                            keyword(&mut keywords[usize::from(fold)], l).2 |= 1 << before.len();
                        }
                        before_words.push(words);
                        before.push(BeforeTrigger {
                            class,
                            last,
                            empty_ok,
                            any,
                            bound,
                            bit,
                            unicode,
                        });
                    }
                    Trigger::Scan => unreachable!(),
                }
                single.push(m);
                owner.push((ri, pi));
                aliases.push(Vec::new());
                grouped.push(r.grouped[pi]);
                capturers.push(if r.grouped[pi].any() {
                    Capturer::new(src)
                } else {
                    None
                });
                splits.push(if r.grouped[pi].any() {
                    Splits::new(src, r.grouped[pi])
                } else {
                    None
                });
                sources.push(src.to_string());
                keys.push(re.as_str().to_string());
            }
        }
        let dfas = Dfas::build(&sources);
        // One automaton for both kinds: exact keywords are verified on
        // each hit, which costs less than a second pass over the text.
        let mut keyword_text: Vec<Vec<u8>> = Vec::new();
        let mut kw_mask: Vec<(Mask, bool)> = Vec::new();
        let mut kw_before: Vec<u32> = Vec::new();
        for (f, words) in keywords.into_iter().enumerate() {
            for (w, m, b) in words {
                keyword_text.push(w);
                kw_mask.push((m, f == 0));
                kw_before.push(b);
            }
        }
        let (follows, keyword_follow, byte_follow) = follow_checks(
            dfas.as_ref(),
            &keyword_text,
            &kw_mask,
            &byte_patterns,
            single.len(),
        );
        // Exact keywords opening with anything but a lower-case letter go
        // to the byte loop; the rest to the automaton.
        let (mut by_byte, mut in_automaton) = (Vec::new(), Vec::new());
        for (k, (w, &(_, exact))) in keyword_text.iter().zip(&kw_mask).enumerate() {
            if exact && w.len() >= 2 && !w[0].is_ascii_lowercase() {
                by_byte.push((w.clone(), k as u32));
            } else {
                in_automaton.push(k as u32);
            }
        }
        let exact_keywords = ExactKeywords::new(&by_byte);
        // The context words ride in the same automaton (after the
        // keywords), so the trigger pass finds them too and the text is not
        // read again for them. Only when no hit can cross a piece of text
        // (they are cut after a blank line) and no two words fold to the
        // same bytes (their tie would need the other automaton's order).
        let folded: std::collections::HashSet<Vec<u8>> = context_words
            .iter()
            .map(|w| w.as_bytes().to_ascii_lowercase())
            .collect();
        let with_context = !single.is_empty()
            && !context_words.is_empty()
            && folded.len() == context_words.len()
            && context_words
                .iter()
                .all(|w| !w.is_empty() && !w.contains('\n'));
        let context_from = in_automaton.len();
        let automaton = if in_automaton.is_empty() && !with_context {
            None
        } else {
            let ctx: &[String] = if with_context { context_words } else { &[] };
            let dfa = AcDfa::builder()
                .ascii_case_insensitive(true)
                .prefilter(false)
                .build(
                    in_automaton
                        .iter()
                        .map(|&k| &keyword_text[k as usize][..])
                        .chain(ctx.iter().map(|w| w.as_bytes())),
                )
                .map_err(|e| Error::Config(format!("rule keywords: {e}")))?;
            Some((
                KeywordDfa::new(&dfa).map_err(|e| Error::Config(format!("rule keywords: {e}")))?,
                in_automaton,
            ))
        };
        let keyword_words = keyword_text
            .iter()
            .zip(&kw_before)
            .map(|(kw, &bits)| {
                (0..before.len())
                    .filter(|&ti| bits & (1 << ti) != 0)
                    .filter_map(|ti| {
                        let words = before_words[ti].as_ref()?;
                        let fits = words
                            .iter()
                            .filter(|w| w.starts_with(kw) || kw.starts_with(w))
                            .cloned()
                            .collect();
                        Some((ti, fits))
                    })
                    .collect()
            })
            .collect();
        let mut inner_after = Box::new([0u32; 256]);
        let mut inner_first = 0;
        for (ti, t) in inner.iter().enumerate() {
            if t.lo == 0 {
                inner_first |= 1 << ti;
            }
            for (b, &between) in t.between.iter().enumerate() {
                if t.lo == 0 || between {
                    inner_after[b] |= 1 << ti;
                }
            }
        }
        let mut interesting = Box::new([false; 256]);
        for b in 0..256 {
            interesting[b] =
                any_mask[b] | bound_mask[b] != 0 || inner_bytes[b] != 0 || exact_keywords.first[b];
        }
        Ok((
            Self {
                single,
                owner,
                aliases,
                grouped,
                capturers,
                splits,
                dfas,
                any_mask,
                bound_mask,
                interesting,
                inner,
                inner_bytes,
                inner_after,
                inner_first,
                keywords: automaton,
                with_context,
                context_from,
                exact: exact_keywords,
                keyword_mask: kw_mask,
                keyword_text,
                keyword_boundary,
                before,
                keyword_before: kw_before,
                keyword_words,
                follows,
                keyword_follow,
                byte_follow,
            },
            scanned,
        ))
    }

    /// The trigger pass: every place in `chunk` where an anchored pattern
    /// may start, sorted, in `s.cands` (one entry per place and trigger);
    /// and the context-word hits, at offset `base` of the text, added to
    /// `s.context`.
    fn places(&self, base: usize, chunk: &str, s: &mut Scratch) {
        s.cands.clear();
        if self.single.is_empty() {
            return;
        }
        let bytes = chunk.as_bytes();
        let mut unsorted = false;
        // Per before-trigger: places up to here are already listed for
        // the run of class bytes that reaches here (see `keyword_hit`).
        let mut covered = [0usize; MAX_BEFORE];
        // Per inner trigger: starts below this are already tested.
        let mut inner_done = [0usize; 32];
        // The interesting bytes of each 64-byte block as a bit mask, its
        // set bits walked in order (see [`byte_bits`]).
        for (block_at, block) in (0..).step_by(64).zip(bytes.chunks(64)) {
            let mut bits = byte_bits(&self.interesting, block);
            while bits != 0 {
                let i = block_at + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let b = bytes[i];
                // Both masks, the boundary one kept or not without a branch:
                // digits are most of these bytes, and whether one opens a
                // number is close to random.
                let m = self.any_mask[b as usize]
                    | self.bound_mask[b as usize] & Mask::from(boundary(bytes, i)).wrapping_neg();
                if m != 0 && (m & (m - 1) != 0 || self.byte_keeps(m, bytes, i)) {
                    s.cands.push((i, m));
                }
                // Only the triggers the byte before can be part of (see
                // `inner_after`); skipping the rest changes nothing, not
                // even `inner_done` as a later trigger byte sees it: its
                // run of `between` bytes stops after that byte.
                let before = i
                    .checked_sub(1)
                    .map_or(self.inner_first, |p| self.inner_after[bytes[p] as usize]);
                let mut e = self.inner_bytes[b as usize] & before;
                while e != 0 {
                    let ti = e.trailing_zeros() as usize;
                    let t = &self.inner[ti];
                    e &= e - 1;
                    let Some(last) = i.checked_sub(t.lo) else {
                        continue;
                    };
                    // Starts before `inner_done` were tested at an earlier
                    // trigger byte: a run of digits tested (and listed) the
                    // same starts once per digit.
                    let mut from = i.saturating_sub(t.hi).max(inner_done[ti]);
                    inner_done[ti] = inner_done[ti].max(last + 1);
                    // A match's bytes before its trigger byte are all of
                    // `between`: only starts in the run of them that ends here
                    // are places. (A start ruled out here is ruled out at any
                    // later trigger byte too, which `inner_done` relies on.)
                    let mut run = i;
                    while run > from && t.between[bytes[run - 1] as usize] {
                        run -= 1;
                    }
                    from = run;
                    for st in from..=last {
                        let c = bytes[st] as usize;
                        if t.any[c] || t.bound[c] && boundary(bytes, st) {
                            s.cands.push((st, t.bit));
                            unsorted = true;
                        }
                    }
                }
                if self.exact.opens(bytes, i) {
                    self.exact.at(bytes, i, |k| {
                        self.keyword_hit(bytes, i, k, s, &mut covered, &mut unsorted);
                    });
                }
            }
        }
        // Places listed so far came by trigger byte, those below by
        // keyword: two runs, each nearly in order on its own.
        let split = s.cands.len();
        if let Some((ac, ids)) = &self.keywords {
            let mut buf = std::mem::take(&mut s.streams);
            overlapping(ac, bytes, &mut buf, |start, end, id| {
                if id >= self.context_from {
                    let word = (id - self.context_from) as u32;
                    s.context.push((base + start, base + end, word));
                    return;
                }
                let k = ids[id] as usize;
                let exact = self.keyword_mask[k].1;
                if !exact || short_eq(&bytes[start..end], &self.keyword_text[k]) {
                    self.keyword_hit(bytes, start, k, s, &mut covered, &mut unsorted);
                }
            });
            s.streams = buf;
        }
        if unsorted {
            sort_places(&mut s.cands, split, &mut s.merged);
        }
    }

    /// Whether the place at `i` of the one pattern `m` (found by its first
    /// byte) passes that pattern's check, if it has one.
    #[inline]
    fn byte_keeps(&self, m: Mask, bytes: &[u8], i: usize) -> bool {
        let Some(f) = &self.follows else {
            return true;
        };
        let check = self.byte_follow[m.trailing_zeros() as usize];
        check == u16::MAX || f.keeps(usize::from(check), bytes, i)
    }

    /// Keyword `k` is at `p`: the places of the patterns it opens and of
    /// the before-triggers it fires.
    fn keyword_hit(
        &self,
        bytes: &[u8],
        p: usize,
        k: usize,
        s: &mut Scratch,
        covered: &mut [usize; MAX_BEFORE],
        unsorted: &mut bool,
    ) {
        let mut m = self.keyword_mask[k].0;
        if m & self.keyword_boundary != 0 && !boundary(bytes, p) {
            m &= !self.keyword_boundary;
        }
        if let Some(f) = &self.follows {
            let after = p + self.keyword_text[k].len();
            for &(bit, check) in &self.keyword_follow[k] {
                if m & bit != 0 && !f.keeps(usize::from(check), bytes, after) {
                    m &= !bit;
                }
            }
        }
        if m != 0 {
            s.cands.push((p, m));
            *unsorted = true;
        }
        let mut e = self.keyword_before[k];
        while e != 0 {
            let ti = e.trailing_zeros() as usize;
            e &= e - 1;
            let t = &self.before[ti];
            if let Some((_, words)) = self.keyword_words[k].iter().find(|(i, _)| *i == ti)
                && !words.iter().any(|w| whole_word_at(w, &bytes[p..]))
            {
                continue;
            }
            let start_ok = |st: usize| {
                let c = bytes[st] as usize;
                t.any[c]
                    || t.bound[c]
                        && if t.unicode {
                            unicode_boundary(bytes, st)
                        } else {
                            boundary(bytes, st)
                        }
            };
            if t.empty_ok && start_ok(p) {
                s.cands.push((p, t.bit));
                *unsorted = true;
            }
            if p == 0 || !t.last[bytes[p - 1] as usize] {
                continue;
            }
            // Back over the run of class bytes before the keyword. An
            // earlier hit in the same run listed the places before
            // `covered` already: stop there (hits of one pass come in
            // order, so the run is walked once, not once per hit; a hit
            // before `covered`, from the other pass, walks it all).
            let floor = if covered[ti] <= p { covered[ti] } else { 0 };
            // One walk: each byte of the run is checked as a start on the
            // way back (the places are sorted later anyway).
            let mut q = p;
            while q > floor && t.class[bytes[q - 1] as usize] {
                q -= 1;
                if start_ok(q) {
                    s.cands.push((q, t.bit));
                    *unsorted = true;
                }
            }
            covered[ti] = covered[ti].max(p);
        }
    }

    /// Matches of the anchored patterns in `chunk`, appended to `out`: at
    /// each trigger place, the patterns it triggers are tried anchored.
    fn matches(
        &self,
        rules: &[Rule],
        base: usize,
        chunk: &str,
        s: &mut Scratch,
        out: &mut Vec<RawMatch>,
    ) {
        self.places(base, chunk, s);
        self.walk_places(rules, chunk, s, out);
    }

    /// The anchored matches at the places in `s.cands` (see
    /// [`Anchors::matches`]).
    fn walk_places(&self, rules: &[Rule], chunk: &str, s: &mut Scratch, out: &mut Vec<RawMatch>) {
        if s.cands.is_empty() {
            return;
        }
        // Stale entries are never read: `blocked` starts empty and gains a
        // pattern only when its entry is written.
        if s.next_ok.len() < self.single.len() {
            s.next_ok.resize(self.single.len(), 0);
        }
        if s.caps.len() != self.single.len() {
            s.caps.resize_with(self.single.len(), || None);
            s.capturing.resize_with(self.single.len(), || None);
            s.splitting.resize_with(self.single.len(), || None);
        }
        let cands = std::mem::take(&mut s.cands);
        let ends = s.ends.get_or_insert_with(|| Box::new([0; MAX_ANCHORED]));
        let mut caches = self.dfas.as_ref().map(|d| d.caches.get());
        // Patterns whose `next_ok` may lie ahead of the place.
        let mut blocked: Mask = 0;
        let mut k = 0;
        while k < cands.len() {
            let pos = cands[k].0;
            let mut mask: Mask = 0;
            while k < cands.len() && cands[k].0 == pos {
                mask |= cands[k].1;
                k += 1;
            }
            // Only patterns that matched before may still be inside
            // their last match here.
            let mut live: Mask = mask & !blocked;
            let mut m = mask & blocked;
            while m != 0 {
                let id = m.trailing_zeros() as usize;
                m &= m - 1;
                if s.next_ok[id] <= pos {
                    live |= 1 << id;
                    blocked &= !(1 << id);
                }
            }
            if live == 0 {
                continue;
            }
            let input = Input::new(chunk)
                .span(pos..chunk.len())
                .anchored(Anchored::Yes);
            // Live patterns whose one match end here the `which` walk saw.
            let mut known: Mask = 0;
            if live.count_ones() > 1
                && let (Some(d), Some(c)) = (&self.dfas, caches.as_mut())
            {
                if let Some((m, one)) = walk::which(&d.all, &mut c.0, &input, live, ends) {
                    live = m;
                    if !d.first_empty {
                        known = one;
                    }
                } else {
                    let set = s
                        .patset
                        .get_or_insert_with(|| PatternSet::new(d.all.pattern_len()));
                    set.clear();
                    if d.all
                        .try_which_overlapping_matches(&mut c.0, &input, set)
                        .is_ok()
                    {
                        // Only the live patterns: iterating the set walks a
                        // slot per pattern of the rule set.
                        let mut m = live;
                        while m != 0 {
                            let id = m.trailing_zeros() as usize;
                            m &= m - 1;
                            if !set.contains(PatternID::new_unchecked(id)) {
                                live &= !(1 << id);
                            }
                        }
                    }
                }
            }
            while live != 0 {
                let id = live.trailing_zeros() as usize;
                live &= live - 1;
                // Where this pattern's match here ends (the DFA), else
                // the full search decides.
                let end = match (&self.dfas, caches.as_mut()) {
                    _ if known & (1 << id) != 0 => Some(ends[id]),
                    (Some(d), Some(c)) => {
                        let one = input
                            .clone()
                            .anchored(Anchored::Pattern(PatternID::new_unchecked(id)));
                        let walked = if d.first_empty {
                            None
                        } else {
                            walk::end(&d.first, &mut c.1, &one)
                        };
                        match walked.map_or_else(
                            || {
                                d.first
                                    .try_search_fwd(&mut c.1, &one)
                                    .map(|h| h.map(|h| h.offset()))
                            },
                            Ok,
                        ) {
                            Ok(None) => continue,
                            Ok(Some(end)) => Some(end),
                            Err(_) => None,
                        }
                    }
                    _ => None,
                };
                let (ri, pi) = self.owner[id];
                let re = &self.single[id];
                let groups = self.grouped[id];
                let located = match (&self.splits[id], end) {
                    (Some(sp), Some(end)) if groups.any() => {
                        let caches = s.splitting[id].get_or_insert_with(|| sp.create_caches());
                        sp.locate(caches, chunk, pos, end)
                    }
                    _ => None,
                };
                let (whole, v, n) = if let (Some([gv, gn]), Some(end)) = (located, end) {
                    let v = gv.unwrap_or(pos..end);
                    let n = gn.unwrap_or_else(|| v.clone());
                    (pos..end, v, n)
                } else if groups.any() {
                    // Where the DFA says the match ends, the groups are
                    // searched up to there only: the winning path is the
                    // same (paths before it in priority failed on the longer
                    // span and fail on this one, and look-arounds still see
                    // the whole haystack), and the backtracker clears and
                    // walks a table the size of the span it is given, which
                    // was the rest of the piece.
                    let input = match end {
                        Some(end) => input.clone().span(pos..end),
                        None => input.clone(),
                    };
                    let caps = match &self.capturers[id] {
                        Some(c) => {
                            let (cache, caps) = s.capturing[id]
                                .get_or_insert_with(|| (c.create_cache(), c.create_captures()));
                            if c.search(cache, &input, caps) {
                                Some(&*caps)
                            } else {
                                None
                            }
                        }
                        None => None,
                    };
                    let caps = match caps {
                        Some(caps) => caps,
                        None => {
                            let caps = s.caps[id].get_or_insert_with(|| re.create_captures());
                            re.search_captures(&input, caps);
                            &*caps
                        }
                    };
                    let Some(whole) = caps.get_match() else {
                        continue;
                    };
                    let v = groups
                        .v
                        .and_then(|i| caps.get_group(i))
                        .map_or(whole.range(), |g| g.range());
                    let n = groups
                        .n
                        .and_then(|i| caps.get_group(i))
                        .map_or(v.clone(), |g| g.range());
                    (whole.range(), v, n)
                } else if let Some(end) = end {
                    (pos..end, pos..end, pos..end)
                } else {
                    let Some(whole) = re.search(&input) else {
                        continue;
                    };
                    (whole.range(), whole.range(), whole.range())
                };
                s.next_ok[id] = whole.end;
                blocked |= 1 << id;
                if v.start < v.end {
                    for &(ri, pi) in &self.aliases[id] {
                        out.push((rules[ri].order[pi], ri, whole.start, v.clone(), n.clone()));
                    }
                    out.push((rules[ri].order[pi], ri, whole.start, v, n));
                }
            }
        }
        s.cands = cands;
    }
}

/// Every match of `dfa` (built with the standard match kind and no
/// prefilter) in `hay`, overlapping ones included, as `f(start, end,
/// pattern)` by end: what `try_find_overlapping_iter` reports. Its
/// iterator checks bounds and search state on every byte; this loop is
/// the transition and one compare, and these automata read every byte of
/// every text.
///
/// A long `hay` is read as two halves at once (see [`to_special2`]);
/// `buf` holds the second half's hits until the first half's are out.
fn overlapping(
    dfa: &KeywordDfa,
    hay: &[u8],
    buf: &mut Vec<(usize, usize, usize)>,
    mut f: impl FnMut(usize, usize, usize),
) {
    let start = dfa.start();
    // Generic, not `dyn`: a hit is every few bytes of prose, and an
    // indirect call each cost 1.6 % of a scan's instructions.
    #[inline(always)]
    fn report(dfa: &KeywordDfa, end: usize, sid: Sid, f: &mut impl FnMut(usize, usize, usize)) {
        for &pid in dfa.matches(sid) {
            f(end - dfa.pattern_len(pid), end, pid as usize);
        }
    }
    // The second half starts `max - 1` bytes before the middle: a match
    // ending past the middle is at most `max` long, so it starts there or
    // later, and a search started at a point finds every match that
    // starts at or after it. Matches ending up to the middle are the
    // first half's.
    let max = dfa.max_pattern_len();
    let (mut at, mut sid) = (0, start);
    if hay.len() >= TWO_STREAMS && max > 0 && max < hay.len() / 3 {
        let mid = hay.len() / 2;
        let from = mid + 1 - max;
        let (a, b) = (&hay[..mid], &hay[from..]);
        buf.clear();
        let (mut i, mut sb) = (0, start);
        loop {
            let (next, na, nb) = to_special2(dfa, a, b, i, sid, sb);
            (i, sid, sb) = (next, na, nb);
            // No dead state is reached by an unanchored search of this
            // kind. Were one, the one-stream walk below takes over from
            // the first stream, as if there were no second.
            if dfa.is_dead(sid) || dfa.is_dead(sb) {
                buf.clear();
                break;
            }
            if dfa.is_special(sid) {
                report(dfa, i, sid, &mut f);
            }
            if dfa.is_special(sb) && from + i > mid {
                report(dfa, from + i, sb, &mut |s, e, p| buf.push((s, e, p)));
            }
            if i >= a.len() {
                // The first half is done: the second's hits so far, then
                // the rest of it on its own.
                for &(s, e, p) in buf.iter() {
                    f(s, e, p);
                }
                (i, sid) = (from + i, sb);
                break;
            }
        }
        at = i;
    }
    while let Some((end, next)) = to_special(dfa, hay, at, sid) {
        if dfa.is_dead(next) {
            return;
        }
        report(dfa, end, next, &mut f);
        (at, sid) = (end, next);
    }
}

/// Texts at least this long (and three times the longest keyword) are
/// read by [`overlapping`] as two streams.
const TWO_STREAMS: usize = 64;

/// [`to_special`] for two streams read in step, `a[at..]` and
/// `b[at..]`: one state per stream, so each byte's transition does not
/// wait for the other's (a lookup per byte, each depending on the one
/// before, is what bounds a single stream). Returns the offset past the
/// byte where either state became special, or `a.len()` (with `b` no
/// shorter than `a`).
#[inline(never)]
fn to_special2(
    dfa: &KeywordDfa,
    a: &[u8],
    b: &[u8],
    at: usize,
    mut sa: Sid,
    mut sb: Sid,
) -> (usize, Sid, Sid) {
    let n = a.len();
    let (a, b) = (&a[at..n], &b[at..n]);
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        sa = dfa.next(sa, x);
        sb = dfa.next(sb, y);
        if dfa.is_special(sa) | dfa.is_special(sb) {
            return (at + i + 1, sa, sb);
        }
    }
    (n, sa, sb)
}

/// The non-overlapping leftmost-longest matches of `dfa` (built with that
/// match kind and no prefilter) in `hay`, as `f(start, end, pattern)`:
/// what `try_find_iter` reports, without its per-byte overhead.
fn leftmost_longest(dfa: &KeywordDfa, hay: &[u8], mut f: impl FnMut(usize, usize, u32)) {
    let start = dfa.start();
    let mut from = 0;
    while from < hay.len() {
        let (mut at, mut sid) = (from, start);
        let mut found: Option<(usize, usize, u32)> = None;
        while let Some((end, next)) = to_special(dfa, hay, at, sid) {
            if dfa.is_dead(next) {
                break;
            }
            let pid = dfa.matches(next)[0];
            found = Some((end - dfa.pattern_len(pid), end, pid));
            (at, sid) = (end, next);
        }
        let Some((s, e, p)) = found else {
            return;
        };
        f(s, e, p);
        // Patterns are never empty: the next search starts past this one.
        from = e.max(from + 1);
    }
}

/// Bit `j` set where `set[block[j]]`, for a block of at most 64 bytes.
///
/// The trigger pass walks these bits with `trailing_zeros` instead of
/// looking for the next interesting byte a byte at a time: about a third
/// of the bytes of prose are interesting, so that search's branch per byte
/// went either way at random (22 k mispredicts a pass over presidio-dev,
/// 8 instructions a byte). Here a byte is a load, a lookup, a shift and an
/// or, eight at a time with fixed shifts.
#[inline]
fn byte_bits(set: &[bool; 256], block: &[u8]) -> u64 {
    debug_assert!(block.len() <= 64);
    let mut words = block.chunks_exact(8);
    let mut bits = 0u64;
    for (j, w) in (&mut words).enumerate() {
        let mut byte = 0u64;
        for (k, &b) in w.iter().enumerate() {
            byte |= u64::from(set[usize::from(b)]) << k;
        }
        bits |= byte << (8 * j);
    }
    let at = block.len() - words.remainder().len();
    for (k, &b) in words.remainder().iter().enumerate() {
        bits |= u64::from(set[usize::from(b)]) << (at + k);
    }
    bits
}

/// The context hits [`RuleSet::context_hits`] finds (leftmost-longest
/// hits of the context words, those at word boundaries), from all the
/// overlapping hits `all` (by end): from each point on, the hit that starts
/// first, the longest of those; then on from its end.
#[cfg(test)]
fn context_from_overlapping(all: &[(usize, usize, u32)], text: &str) -> Vec<ContextHit> {
    let mut hits = Vec::new();
    context_from_overlapping_into(all, text, &mut Vec::new(), &mut hits);
    hits
}

/// [`context_from_overlapping`] into `hits` (cleared first), with `keys`
/// as its sort buffer: both are kept per thread, as two allocations for
/// every record with a context word were a measurable part of a scan of
/// short records.
fn context_from_overlapping_into(
    all: &[(usize, usize, u32)],
    text: &str,
    keys: &mut Vec<u64>,
    hits: &mut Vec<ContextHit>,
) {
    hits.clear();
    // By start, the longest first: one u64 per hit (start, then the
    // complement of the length, then the word) where all fit, sorted by
    // insertion: hits come by end, so each moves back past the few
    // overlapping it, and a general sort cost more than the search it
    // replaced.
    let fits = |&(start, end, word): &(usize, usize, u32)| {
        start < 1 << 32 && end - start < 1 << 16 && word < 1 << 16
    };
    // Picks the leftmost-longest hits from hits in that order, and keeps
    // those at word boundaries.
    let mut from = 0;
    let mut keep = |start: usize, end: usize, word: u32| {
        if start < from {
            return;
        }
        from = end;
        if super::is_word_boundary(text, start, end) {
            hits.push(ContextHit { start, word });
        }
    };
    if all.iter().all(fits) {
        keys.clear();
        for &(start, end, word) in all {
            let key =
                (start as u64) << 32 | (0xffff - (end - start) as u64) << 16 | u64::from(word);
            let mut i = keys.len();
            keys.push(key);
            while i > 0 && keys[i - 1] > key {
                keys[i] = keys[i - 1];
                i -= 1;
            }
            keys[i] = key;
        }
        for &k in keys.iter() {
            let start = (k >> 32) as usize;
            let len = 0xffff - ((k >> 16) & 0xffff) as usize;
            keep(start, start + len, (k & 0xffff) as u32);
        }
    } else {
        let mut v = all.to_vec();
        v.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        for (start, end, word) in v {
            keep(start, end, word);
        }
    }
    // `Rule::judge` looks its window up by binary search.
    debug_assert!(hits.is_sorted_by_key(|h| h.start));
}

/// What [`line_end_match`] found out about a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEndMatch {
    /// The pattern cannot match in it: it is not searched.
    No,
    /// A match ends at one of its line ends (the reverse DFA said so).
    Yes,
    /// It may match: a byte before a line end fits, with no reverse DFA
    /// to ask or one that could not tell.
    Maybe,
}

/// Whether a pattern that must end at a line end (see
/// `trigger::line_end_last`) matches in `chunk`. At each line end (a
/// `\n` or `\r`, or the end: every place a `$` can hold), the byte reached
/// by skipping ASCII whitespace back must be one of `last` or non-ASCII;
/// then `rev`, the pattern's reverse DFA with its cache, must match
/// anchored at that line end. One `memchr` pass and a few bytes read back
/// per line end, instead of the pattern's own search of the whole piece.
fn line_end_match(
    chunk: &str,
    last: &[bool; 256],
    mut rev: Option<(&lazy::DFA, &mut lazy::Cache)>,
) -> LineEndMatch {
    use super::trigger::is_space_byte;
    let hay = chunk.as_bytes();
    // Each line is read back only to its start; a line of whitespace
    // alone carries the byte found before it (blank lines cost no second
    // reading).
    let mut from = 0;
    let mut before: Option<u8> = None;
    let mut found = LineEndMatch::No;
    for e in memchr::memchr2_iter(b'\n', b'\r', hay).chain(std::iter::once(hay.len())) {
        if let Some(&b) = hay[from..e].iter().rev().find(|&&b| !is_space_byte(b)) {
            before = Some(b);
        }
        from = e + 1;
        if !before.is_some_and(|b| b >= 0x80 || last[b as usize]) {
            continue;
        }
        let Some((dfa, cache)) = rev.as_mut() else {
            return LineEndMatch::Maybe;
        };
        let input = Input::new(chunk).range(..e).anchored(Anchored::Yes);
        match walk::any_rev(dfa, cache, &input) {
            Some(true) => return LineEndMatch::Yes,
            Some(false) => {}
            None => found = LineEndMatch::Maybe,
        }
    }
    found
}

/// Per rule and thread: the caches of its [`Rule::edge_dfas`].
type EdgeCaches = [Option<lazy::Cache>; 2];

/// A look-around pattern of a rule (see [`Rule::edge_hit`]) as a lazy
/// DFA: reversed for `not_before`. A Unicode `\b` quits on non-ASCII
/// bytes (then the regex answers).
fn edge_dfa(pattern: &str, reverse: bool) -> Option<lazy::DFA> {
    any_match_dfa(pattern, reverse, true)
}

/// The reverse lazy DFA of `pattern` (its compiled form), for
/// [`Scratch::ends_at_line_end`]. None when it does not build (the piece
/// is then searched as before).
fn line_end_dfa(pattern: &str) -> Option<lazy::DFA> {
    any_match_dfa(pattern, true, false)
}

/// The lazy DFA settings of the small walks (look-arounds, line ends,
/// group splits): every match reported, a cache that is never given up.
fn any_match_config(unicode_word_boundary: bool) -> lazy::Config {
    lazy::Config::new()
        .match_kind(regex_automata::MatchKind::All)
        .unicode_word_boundary(unicode_word_boundary)
        .cache_capacity(1 << 20)
        .minimum_cache_clear_count(None)
}

/// A lazy DFA of `pattern`, reversed if `reverse`, for walks that ask only
/// whether some match exists: `MatchKind::All` answers at the first match
/// state (and is what the crate advises for reverse searches).
/// `unicode_word_boundary`: build a Unicode `\b` as a DFA that quits on
/// non-ASCII bytes, instead of failing to build.
fn any_match_dfa(pattern: &str, reverse: bool, unicode_word_boundary: bool) -> Option<lazy::DFA> {
    lazy::Builder::new()
        .configure(any_match_config(unicode_word_boundary))
        .thompson(regex_automata::nfa::thompson::Config::new().reverse(reverse))
        .build(pattern)
        .ok()
}

/// Whether `word` (a keyword's whole word, see [`Trigger::Before`])
/// stands at the start of `rest` with a word boundary after it, ignoring
/// ASCII case as the keyword automaton does (folded words are lower
/// case; an exact keyword was compared already).
fn whole_word_at(word: &[u8], rest: &[u8]) -> bool {
    let (Some(head), Some(&last)) = (rest.get(..word.len()), word.last()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(word) {
        return false;
    }
    let next = rest.get(word.len()).copied();
    let word = |b: u8| WORD_BYTE[usize::from(b)];
    if word(last) {
        next.is_none_or(|b| !word(b))
    } else {
        // After a non-word byte, a boundary needs a word character (a
        // non-ASCII one may be, under a Unicode `\b`).
        next.is_some_and(|b| word(b) || b >= 0x80)
    }
}

/// Sort trigger places by offset. `cands[..split]` and `cands[split..]`
/// are each nearly in order (a place found by an inner or before-trigger
/// lies a few places back), so each is sorted by insertion, and the two
/// are merged through `buf`: a general sort of the whole list was 5 % of a
/// scan of long documents. Insertion gives up, for a general sort, once it
/// has moved more than a few places per entry (a pathological text).
fn sort_places(cands: &mut Vec<(usize, Mask)>, split: usize, buf: &mut Vec<(usize, Mask)>) {
    fn insertion(v: &mut [(usize, Mask)]) {
        let mut budget = 8 * v.len() + 64;
        for i in 1..v.len() {
            let x = v[i];
            let mut j = i;
            while j > 0 && v[j - 1].0 > x.0 {
                v[j] = v[j - 1];
                j -= 1;
            }
            v[j] = x;
            budget = budget.saturating_sub(i - j);
            if budget == 0 {
                v.sort_unstable_by_key(|c| c.0);
                return;
            }
        }
    }
    // Short lists (most records): the library's small sort is faster
    // than two passes and a merge.
    if cands.len() <= 32 {
        cands.sort_unstable_by_key(|c| c.0);
        return;
    }
    let (a, b) = cands.split_at_mut(split);
    insertion(a);
    insertion(b);
    if a.is_empty() || b.is_empty() || a[a.len() - 1].0 <= b[0].0 {
        return;
    }
    buf.clear();
    buf.reserve(cands.len());
    let (mut i, mut j) = (0, split);
    while i < split && j < cands.len() {
        if cands[j].0 < cands[i].0 {
            buf.push(cands[j]);
            j += 1;
        } else {
            buf.push(cands[i]);
            i += 1;
        }
    }
    buf.extend_from_slice(&cands[i..split]);
    buf.extend_from_slice(&cands[j..]);
    std::mem::swap(cands, buf);
}

/// Step `dfa` from state `sid` over `hay[at..]` to the first special
/// (match or dead) state: `(offset just past the byte that entered it,
/// that state)`, or None at the end of `hay`.
///
/// Kept out of line on purpose: inlined into a caller whose match
/// handling needs many registers, the per-byte loop spilled its state to
/// the stack (19 instructions a byte instead of 10).
#[inline(never)]
fn to_special(dfa: &KeywordDfa, hay: &[u8], at: usize, mut sid: Sid) -> Option<(usize, Sid)> {
    for (i, &b) in hay.get(at..)?.iter().enumerate() {
        sid = dfa.next(sid, b);
        if dfa.is_special(sid) {
            return Some((at + i + 1, sid));
        }
    }
    None
}

fn sorted_ids(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `a == b` for the few bytes of a keyword, compared inline: slice
/// equality is a `memcmp` call, and the trigger pass checks ~10 k keyword
/// hits a pass over presidio-dev (1.6 % of a scan's time in `memcmp`).
#[inline(always)]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// ASCII word boundary at `i` of `bytes`, as `(?-u:\b)` decides it.
#[inline]
fn boundary(bytes: &[u8], i: usize) -> bool {
    let word = |b: u8| WORD_BYTE[usize::from(b)];
    let prev = i > 0 && word(bytes[i - 1]);
    prev != bytes.get(i).is_some_and(|&b| word(b))
}

/// [`is_word_byte`] as a table: one load where the range tests cost six
/// instructions, and the trigger pass tests a boundary at every digit and
/// every keyword hit (0.8 % of a scan's instructions on presidio-dev).
const WORD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
};

/// The pattern as compiled. `\b` becomes an ASCII word boundary: the lazy
/// DFA cannot do Unicode word boundaries on non-ASCII text and the search
/// would fall back to a 30x slower engine. (A letter next to a non-ASCII
/// letter is then not a boundary; patterns start and end on ASCII or on
/// explicit classes. The exception, a leading `\b` before a letter class,
/// is made by [`unicode_start_forms`].)
pub(super) fn compile_form(p: &str) -> String {
    p.replace(r"\b", r"(?-u:\b)")
}

/// For a pattern that opens with `\b` and then a letter class (`\b\p{Lu}`,
/// `\b(?:\p{Lu}...`, `\b[\p{L}-]+`), found from a later keyword ("Street",
/// "Ltd"): its forms with the leading `\b` a Unicode boundary (the
/// reference search's) and without it (the anchored search's), given its
/// all-ASCII `compiled` form.
///
/// Why: compiled as `(?-u:\b)`, the leading boundary cannot hold before a
/// non-ASCII capital after a space, so "Ölander Road" and "Çiftçi Street"
/// were no streets and "Åsa Xyzzy Road" only "Xyzzy Road". The trigger pass
/// checks the Unicode boundary at each place instead (the lazy DFA cannot,
/// on non-ASCII text), so the anchored search needs no boundary of its own.
/// Only a pattern found from a later keyword qualifies: its places are all
/// checked that way. The others keep the ASCII boundary everywhere.
fn unicode_start_forms(compiled: &str) -> Option<(String, String)> {
    const ASCII_B: &str = r"(?-u:\b)";
    // Inline flags first, if any: "(?i)".
    let flags = match compiled.strip_prefix("(?") {
        Some(rest) => match rest.find(')') {
            Some(k) if rest[..k].chars().all(|c| c.is_ascii_alphabetic()) => k + 3,
            _ => 0,
        },
        None => 0,
    };
    let rest = compiled[flags..].strip_prefix(ASCII_B)?;
    if ![r"\p{L", r"[\p{L", r"(?:\p{L", r"(?:[\p{L"]
        .iter()
        .any(|p| rest.starts_with(p))
    {
        return None;
    }
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(compiled)
        .ok()?;
    // The boundary must open every match: no top-level choice.
    let regex_syntax::hir::HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    if !matches!(
        parts.first().map(|h| h.kind()),
        Some(regex_syntax::hir::HirKind::Look(
            regex_syntax::hir::Look::WordAscii
        ))
    ) || !matches!(
        super::trigger::derive(&hir),
        super::trigger::Trigger::Before { .. }
    ) {
        return None;
    }
    let head = &compiled[..flags];
    Some((format!(r"{head}\b{rest}"), format!("{head}{rest}")))
}

/// Whether a Unicode word boundary (`\b`) holds at byte `i` of `bytes`
/// (UTF-8): no boundary inside a character.
fn unicode_boundary(bytes: &[u8], i: usize) -> bool {
    // Between ASCII bytes (nearly every place) both boundaries agree.
    if bytes.get(i).is_none_or(|b| b.is_ascii()) && (i == 0 || bytes[i - 1].is_ascii()) {
        return boundary(bytes, i);
    }
    let word_at = |k: usize| -> bool {
        let len = match bytes[k] {
            0x00..=0x7f => return WORD_BYTE[usize::from(bytes[k])],
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        std::str::from_utf8(&bytes[k..(k + len).min(bytes.len())])
            .ok()
            .and_then(|s| s.chars().next())
            .is_some_and(regex_syntax::is_word_character)
    };
    if bytes.get(i).is_some_and(|&b| (0x80..0xc0).contains(&b)) {
        return false;
    }
    let prev = i > 0 && {
        let mut k = i - 1;
        while k > 0 && (0x80..0xc0).contains(&bytes[k]) {
            k -= 1;
        }
        word_at(k)
    };
    prev != (i < bytes.len() && word_at(i))
}

/// Texts longer than this are searched paragraph by paragraph.
const CHUNK: usize = 2048;

/// Split `text` at blank lines into pieces of at least ~CHUNK bytes (the
/// whole text when short), with their byte offsets. Patterns never need to
/// see across a blank line.
fn chunks(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let rest = &text[pos..];
        let cut = if rest.len() <= CHUNK {
            rest.len()
        } else {
            let from = CHUNK.min(rest.len());
            let from = (from..rest.len())
                .find(|&i| rest.is_char_boundary(i))
                .unwrap_or(rest.len());
            rest[from..]
                .find("\n\n")
                .map_or(rest.len(), |i| from + i + 2)
        };
        let piece = (pos, &rest[..cut]);
        pos += cut;
        Some(piece)
    })
}

/// How much text around a match the edge patterns see.
const EDGE: usize = 16;

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// True only if every string the pattern can match contains an ASCII digit,
/// decided on the parsed pattern (so optional groups and alternations are
/// handled exactly). Used to skip digit rules on digit-free text, which is
/// most prose: a large share of scan throughput.
fn pattern_needs_digit(p: &str) -> bool {
    // `\d` is Unicode-aware by default; rules that need a digit written as
    // `\d` still need *some* decimal digit, so test on an ASCII parse.
    let mut parser = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build();
    match parser.parse(p) {
        Ok(h) => every_match_holds_digit(&h, &|c| {
            c.ranges()
                .iter()
                .all(|r| r.start() >= '0' && r.end() <= '9')
        }),
        // The real compile reports the error; here, stay conservative.
        Err(_) => false,
    }
}

/// True only if every match of `p` holds a decimal digit: an ASCII one,
/// or any character of the Unicode `\d` class. Parsed as compiled
/// (Unicode on), so `\p{L}` and friends are understood where
/// [`pattern_needs_digit`] gives up.
fn requires_digit(p: &str) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    let parse = |p: &str| regex_syntax::ParserBuilder::new().build().parse(p).ok();
    let Some(digits) = parse(r"\d") else {
        return false;
    };
    let HirKind::Class(Class::Unicode(digits)) = digits.kind() else {
        return false;
    };
    parse(&compile_form(p)).is_some_and(|h| {
        every_match_holds_digit(&h, &|c| {
            let mut rest = c.clone();
            rest.difference(digits);
            rest.ranges().is_empty()
        })
    })
}

/// True only if every string `h` can match holds a digit: a literal ASCII
/// digit, a byte class of digits only, or a non-empty Unicode class
/// `digit_class` accepts. The two callers differ only in that test.
fn every_match_holds_digit(
    h: &regex_syntax::hir::Hir,
    digit_class: &dyn Fn(&regex_syntax::hir::ClassUnicode) -> bool,
) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    let req = |x| every_match_holds_digit(x, digit_class);
    match h.kind() {
        HirKind::Literal(l) => l.0.iter().any(u8::is_ascii_digit),
        HirKind::Class(Class::Unicode(c)) => !c.ranges().is_empty() && digit_class(c),
        HirKind::Class(Class::Bytes(c)) => {
            !c.ranges().is_empty()
                && c.ranges()
                    .iter()
                    .all(|r| r.start() >= b'0' && r.end() <= b'9')
        }
        HirKind::Repetition(r) => r.min >= 1 && req(&r.sub),
        HirKind::Capture(c) => req(&c.sub),
        HirKind::Concat(v) => v.iter().any(req),
        HirKind::Alternation(v) => v.iter().all(req),
        HirKind::Empty | HirKind::Look(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `find_many` (the trigger pass over a batch first) gives each text
    /// what `find` gives it: every rule example and counter-example (their
    /// context words included), an empty text, and texts of more than one
    /// piece, which go the way `find` takes; in one batch and in batches
    /// of every size up to 7.
    #[test]
    fn find_many_equals_find() {
        let rs = RuleSet::load(true, None, &[]).unwrap();
        let mut texts: Vec<String> = vec![String::new()];
        for rule in &rs.rules {
            texts.extend(rule.examples.iter().cloned());
            texts.extend(rule.counter_examples.iter().cloned());
        }
        let long = texts.join("\n\n");
        assert!(long.len() > 2 * CHUNK);
        texts.insert(texts.len() / 2, long);
        texts.push("DOB: 04/12/1981, phone (555) 123-4567, born in Leeds".into());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let want: Vec<Vec<Span>> = refs.iter().map(|t| rs.find(t)).collect();
        assert!(want.iter().filter(|w| !w.is_empty()).count() > 200);
        assert_eq!(rs.find_many(&refs), want);
        for size in 1..8 {
            let got: Vec<Vec<Span>> = refs.chunks(size).flat_map(|c| rs.find_many(c)).collect();
            assert_eq!(got, want, "batches of {size}");
        }
    }

    /// Each anchored pattern's [`Capturer`] finds what its `meta` regex
    /// finds, groups included, at every place of the rules' examples and
    /// counter-examples: over the rest of the text and up to where the
    /// match ends (as the anchored search gives it).
    #[test]
    fn capturers_equal_the_meta_regex() {
        let rs = RuleSet::load(true, None, &[]).unwrap();
        let a = &rs.anchors;
        let mut texts: Vec<String> = Vec::new();
        for rule in &rs.rules {
            texts.extend(rule.examples.iter().cloned());
            texts.extend(rule.counter_examples.iter().cloned());
        }
        texts.push("Call 555-123-4567 x12 or (555) 123 4567, my name is Zoë Ünal-Smith.".into());
        let (mut kinds, mut matched) = ([0; 2], 0);
        for (id, capturer) in a.capturers.iter().enumerate() {
            let Some(c) = capturer else {
                continue;
            };
            kinds[usize::from(matches!(c, Capturer::Backtrack(_)))] += 1;
            let re = &a.single[id];
            let (mut cache, mut got) = (c.create_cache(), c.create_captures());
            let mut want = re.create_captures();
            for text in &texts {
                for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
                    let input = Input::new(text)
                        .span(pos..text.len())
                        .anchored(Anchored::Yes);
                    re.search_captures(&input, &mut want);
                    let ends = [Some(text.len()), want.get_match().map(|m| m.end())];
                    for end in ends.into_iter().flatten() {
                        let input = input.clone().span(pos..end);
                        re.search_captures(&input, &mut want);
                        assert!(c.search(&mut cache, &input, &mut got));
                        let slots = |c: &regex_automata::util::captures::Captures| {
                            (0..c.group_len())
                                .map(|i| c.get_group(i))
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(slots(&got), slots(&want), "{id} {text:?} at {pos}");
                        matched += usize::from(want.is_match());
                    }
                }
            }
        }
        // Both engines are used, and the texts hold matches.
        assert!(kinds[0] > 0 && kinds[1] > 0, "{kinds:?}");
        assert!(matched > 100, "{matched}");
    }

    /// Where [`Splits::locate`] decides, its groups are those the `meta`
    /// regex reports for the anchored match, at every place of `texts`;
    /// returns (decided, undecided) counts over matches with groups.
    fn check_splits(rs: &RuleSet, texts: &[String]) -> (usize, usize) {
        let a = &rs.anchors;
        let (mut decided, mut undecided) = (0, 0);
        for (id, split) in a.splits.iter().enumerate() {
            let Some(split) = split else {
                continue;
            };
            let re = &a.single[id];
            let g = a.grouped[id];
            let mut caches = split.create_caches();
            let mut want = re.create_captures();
            for text in texts {
                for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
                    let input = Input::new(text)
                        .span(pos..text.len())
                        .anchored(Anchored::Yes);
                    re.search_captures(&input, &mut want);
                    let Some(m) = want.get_match() else {
                        continue;
                    };
                    let Some(got) = split.locate(&mut caches, text, pos, m.end()) else {
                        undecided += 1;
                        continue;
                    };
                    for (slot, at) in [g.v, g.n].into_iter().enumerate() {
                        let want = at.and_then(|i| want.get_group(i)).map(|s| s.range());
                        assert_eq!(got[slot], want, "{id} {slot} {text:?} at {pos}");
                    }
                    decided += 1;
                }
            }
        }
        (decided, undecided)
    }

    /// [`Rule::each_split_match`] reports what [`Rule::each_match`] does,
    /// for every scanned pattern with [`Splits`], over `texts`; returns
    /// how many matches there were.
    fn check_scan_splits(rs: &RuleSet, texts: &[String]) -> usize {
        let mut seen = 0;
        for (k, &(ri, pi)) in rs.scanned.iter().enumerate() {
            let Some(sp) = &rs.scan_splits[k] else {
                continue;
            };
            let rule = &rs.rules[ri];
            let mut caches = sp.create_caches();
            for text in texts {
                let (mut want, mut got) = (Vec::new(), Vec::new());
                rule.each_match(pi, text, false, &mut |m, v, n| want.push((m, v, n)));
                rule.each_split_match(pi, text, sp, &mut caches, &mut |m, v, n| {
                    got.push((m, v, n))
                });
                assert_eq!(got, want, "{} {text:?}", rule.id);
                seen += want.len();
            }
        }
        seen
    }

    /// The groups found by DFA walks equal the `meta` regex's, for the
    /// built-in rules and for patterns whose groups can split a match in
    /// more than one place (where the walks must not decide).
    #[test]
    fn split_groups_equal_the_meta_regex() {
        let rs = &RuleSet::load(true, None, &[]).unwrap();
        let mut texts: Vec<String> = Vec::new();
        for rule in &rs.rules {
            texts.extend(rule.examples.iter().cloned());
            texts.extend(rule.counter_examples.iter().cloned());
        }
        texts.push("Call 555-123-4567 x12 or (555) 123 4567, my name is Zoë Ünal-Smith.".into());
        texts.push("signed by John Smith; signed By Mary Jones; patient  Ann Lee; aged 42".into());
        texts.push("Wien, 10115\nBerlin 10117-1234 \n\nParis, 75001\n x 12345".into());
        let (decided, undecided) = check_splits(rs, &texts);
        assert!(decided > 100, "{decided} {undecided}");
        assert!(check_scan_splits(rs, &texts) > 3);
        // Groups whose bounds are ambiguous: greedy or lazy, before or
        // after a part that could take the same bytes.
        let src = vec![(
            "t.toml".to_string(),
            r#"
[pack]
name = "t"
[[rules]]
id = "greedy"
entity = "X"
score = 0.5
patterns = ['(?m)\p{L}(?P<v>a+)a*b$', '\bq(?P<v>a+)a*b', '\bw(?P<v>a+?)a*b', '\be[ab]*(?P<n>a+)b', '\br(?P<v>a*)(?P<n>a*)b\b', '\bt(?P<v>[ab]+)\b[ab]*']
"#
            .to_string(),
        )];
        let rs = RuleSet::from_sources(&src, &[]).unwrap();
        assert!(rs.anchors.splits.iter().filter(|s| s.is_some()).count() >= 4);
        let texts: Vec<String> = [
            "qaaab",
            "waaab",
            "eabaab",
            "raab x",
            "rb",
            "tab ba",
            "qab waab",
            "xab\nyaab\nzb",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let (decided, undecided) = check_splits(&rs, &texts);
        assert!(decided > 0 && undecided > 3, "{decided} {undecided}");
        assert_eq!(rs.scan_splits.iter().flatten().count(), 1);
        assert!(check_scan_splits(&rs, &texts) >= 2);
    }

    /// The group indices equal the lookups by name, in the `regex` pattern
    /// and in the `meta` regex the anchored search builds from it.
    #[test]
    fn group_indices_equal_lookups_by_name() {
        let rs = RuleSet::load(true, None, &[]).unwrap();
        let mut with_groups = 0;
        for rule in &rs.rules {
            for (re, &g) in rule.patterns.iter().zip(&rule.grouped) {
                let meta = meta::Regex::new(re.as_str()).unwrap();
                for (name, at) in [("v", g.v), ("n", g.n)] {
                    let by_name = re.capture_names().position(|n| n == Some(name));
                    assert_eq!(at, by_name, "{}: {name}", rule.id);
                    let in_meta = meta.group_info().to_index(PatternID::ZERO, name);
                    assert_eq!(at, in_meta, "{}: {name}", rule.id);
                }
                with_groups += usize::from(g.any());
            }
        }
        // Both kinds, and groups that are not the first.
        assert!(with_groups > 20);
        let phone = Groups::of(&Regex::new(r"(a)?(?P<x>b)(?P<n>c)(?P<v>d)").unwrap());
        assert_eq!(
            phone,
            Groups {
                v: Some(4),
                n: Some(3)
            }
        );
        assert_eq!(
            Groups::of(&Regex::new("(a)(b)").unwrap()),
            Groups::default()
        );
        assert!(!Groups::default().any());
    }

    #[test]
    fn bad_pack_names_file_and_rule() {
        let src = vec![(
            "custom.toml".to_string(),
            "[pack]\nname='x'\n[[rules]]\nid='bad'\nentity='X'\npatterns=['(']\nscore=0.5\n"
                .to_string(),
        )];
        let e = RuleSet::from_sources(&src, &[]).err().unwrap().to_string();
        assert!(e.contains("custom.toml") && e.contains("bad"), "{e}");
    }

    #[test]
    fn unknown_validator_and_key_are_errors() {
        let src = vec![(
            "v.toml".to_string(),
            "[pack]\nname='x'\n[[rules]]\nid='r'\nentity='X'\npatterns=['a']\nscore=0.5\nvalidator='nope'\n"
                .to_string(),
        )];
        let e = RuleSet::from_sources(&src, &[]).err().unwrap().to_string();
        assert!(e.contains("unknown validator"), "{e}");
        let src = vec![(
            "k.toml".to_string(),
            "[pack]\nname='x'\n[[rules]]\nid='r'\nentity='X'\npatterns=['a']\nscore=0.5\nsocre=1\n"
                .to_string(),
        )];
        let e = RuleSet::from_sources(&src, &[]).err().unwrap().to_string();
        assert!(e.contains("k.toml") && e.contains("socre"), "{e}");
    }

    #[test]
    fn duplicate_ids_rejected() {
        let one = "[pack]\nname='x'\n[[rules]]\nid='r'\nentity='X'\npatterns=['a']\nscore=0.5\n";
        let src = vec![
            ("a.toml".to_string(), one.to_string()),
            ("b.toml".to_string(), one.to_string()),
        ];
        let e = RuleSet::from_sources(&src, &[]).err().unwrap().to_string();
        assert!(e.contains("duplicate") && e.contains("a.toml"), "{e}");
    }

    #[test]
    fn chunks_cover_text_and_cut_at_blank_lines() {
        let text = format!("{}\n\n{}\n\nend", "a".repeat(3000), "b".repeat(10));
        let parts: Vec<_> = chunks(&text).collect();
        assert_eq!(
            parts.iter().map(|(_, p)| p.len()).sum::<usize>(),
            text.len()
        );
        assert!(parts[0].1.ends_with("\n\n"));
        for (base, p) in &parts {
            assert_eq!(&text[*base..*base + p.len()], *p);
        }
        assert_eq!(chunks("short").count(), 1);
        assert_eq!(chunks("").count(), 0);
    }

    #[test]
    fn requires_digit_sees_through_unicode_classes() {
        assert!(requires_digit(
            r"(?m)(?:\p{L},?\s+)(?P<v>\d{5})(?:-\d{4})?\s*$"
        ));
        assert!(requires_digit(r"\b\d{3}-\d{2}-\d{4}\b"));
        assert!(requires_digit(r"(?i)id\s*[0-9]+"));
        assert!(!requires_digit(r"\p{L}+\s*\d*"));
        assert!(!requires_digit(r"(?:\d{3}|[a-z]{3})"));
        assert!(!requires_digit(r"\w{5}"));
        // `\d` is Unicode: a text with only Arabic-Indic digits is not
        // skipped (has_digit counts any numeric char).
        let mut s = Scratch::default();
        assert!(s.has_digit("\u{0661}\u{0662}"));
    }

    /// Texts of `len` chars drawn from `pool` by a xorshift stream.
    fn random_texts(pool: &[char], count: usize, max_len: u64) -> Vec<String> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..count)
            .map(|_| {
                let len = next() % max_len;
                (0..len)
                    .map(|_| pool[(next() % pool.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn byte_bits_equal_the_byte_loop() {
        let mut set = [false; 256];
        for b in [0u8, b'0', b'7', b'A', b'z', 0x80, 0xff] {
            set[usize::from(b)] = true;
        }
        let plain = |block: &[u8]| -> u64 {
            let mut bits = 0;
            for (j, &b) in block.iter().enumerate() {
                if set[usize::from(b)] {
                    bits |= 1 << j;
                }
            }
            bits
        };
        // Every length up to a full block, a set byte at each end and in
        // the middle, among unset bytes.
        for len in 0..=64usize {
            for at in [0, len / 2, len.saturating_sub(1)] {
                for b in [0u8, b'7', 0xff, b'a'] {
                    let mut v = vec![b'a'; len];
                    if at < len {
                        v[at] = b;
                    }
                    assert_eq!(byte_bits(&set, &v), plain(&v), "{v:?}");
                }
            }
            let all: Vec<u8> = (0..len).map(|j| [0u8, 0xff, b'A'][j % 3]).collect();
            assert_eq!(byte_bits(&set, &all), plain(&all), "{all:?}");
        }
        let pool = ['0', '7', 'A', 'a', 'z', '\0', '\u{80}', 'ÿ', ' '];
        for t in random_texts(&pool, 5_000, 70) {
            for block in t.as_bytes().chunks(64) {
                assert_eq!(byte_bits(&set, block), plain(block), "{t:?}");
            }
        }
    }

    #[test]
    fn word_byte_table_equals_is_word_byte() {
        for b in 0..=255u8 {
            assert_eq!(WORD_BYTE[usize::from(b)], trigger::is_word_byte(b), "{b}");
        }
    }

    /// `opens` holds exactly where an exact keyword's first two bytes
    /// are, and `at` finds the keywords there.
    #[test]
    fn exact_keywords_open_at_their_pairs_only() {
        let words: Vec<Vec<u8>> = [
            "IN", "Inc", "GmbH", "+1", "00", "S.A.", "SA ", "INC", "Ind", "000", "IA", "IBAN",
        ]
        .iter()
        .map(|w| w.as_bytes().to_vec())
        .collect();
        let ex = ExactKeywords::new(
            &words
                .iter()
                .enumerate()
                .map(|(k, w)| (w.clone(), k as u32))
                .collect::<Vec<_>>(),
        );
        let alphabet = b"INcGmbH+10S.A nx\xff";
        for &a in alphabet {
            for &b in alphabet {
                let two = [a, b];
                let want = words.iter().any(|w| w[..2] == two);
                assert_eq!(ex.opens(&two, 0), want, "{two:?}");
                assert!(!ex.opens(&two, 1), "{two:?}");
            }
        }
        let text = b"x GmbH, Inc IN +1 00 S.A. SA x INC Ind 0000 In IA IBAN IB";
        let mut found = Vec::new();
        for i in 0..text.len() {
            if ex.opens(text, i) {
                ex.at(text, i, |k| found.push((i, k)));
            }
        }
        let want: Vec<(usize, usize)> = (0..text.len())
            .flat_map(|i| {
                let words = &words;
                (0..words.len())
                    .filter_map(move |k| text[i..].starts_with(&words[k]).then_some((i, k)))
            })
            .collect();
        assert_eq!(found, want);
    }

    /// The places of the inner triggers equal their definition, tested
    /// the plain way: every start `lo..=hi` bytes before a trigger byte
    /// whose bytes up to it are all of `between` and that `any`/`bound`
    /// allow. The trigger pass walks runs once and skips the triggers
    /// the byte before rules out (`inner_after`).
    #[test]
    fn inner_trigger_places_equal_the_plain_search() {
        let rs = RuleSet::load(true, None, &[]).unwrap();
        let a = &rs.anchors;
        assert!(!a.inner.is_empty());
        let inner_bits: Mask = a.inner.iter().map(|t| t.bit).fold(0, |m, b| m | b);
        let plain = |bytes: &[u8]| -> Vec<(usize, Mask)> {
            let mut out = Vec::new();
            for (i, &b) in bytes.iter().enumerate() {
                for (ti, t) in a.inner.iter().enumerate() {
                    if a.inner_bytes[usize::from(b)] & (1 << ti) == 0 || i < t.lo {
                        continue;
                    }
                    for st in i.saturating_sub(t.hi)..=i - t.lo {
                        let c = usize::from(bytes[st]);
                        if bytes[st..i].iter().all(|&x| t.between[usize::from(x)])
                            && (t.any[c] || t.bound[c] && boundary(bytes, st))
                        {
                            out.push((st, t.bit));
                        }
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let pool = [
            'a', 'B', 'f', 'F', 'Z', '0', '1', '9', '.', ':', '-', '%', '@', '+', '_', ' ', 'é',
            '\u{663}',
        ];
        let mut texts = random_texts(&pool, 3_000, 90);
        texts.extend(
            [
                "AB12 A1 ab123 x.1234 12:34:56 aa:bb:cc:dd:ee:ff 1-2-3 AB-12",
                "1a2b:3c4d::5e6f 10% of 50% user@example.com a.b.c.d 1.2.3.4",
                "SW1A 2AA EC1A1BB W1 1AA z9 Zz9 é1 \u{663}\u{664}",
            ]
            .map(String::from),
        );
        let mut s = Scratch::default();
        s.reset(rs.id);
        for t in &texts {
            a.places(0, t, &mut s);
            let mut got: Vec<(usize, Mask)> = s
                .cands
                .iter()
                .flat_map(|&(p, m)| {
                    let m = m & inner_bits;
                    (0..Mask::BITS)
                        .filter(move |&k| m & (1 << k) != 0)
                        .map(move |k| (p, 1 << k))
                })
                .collect();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, plain(t.as_bytes()), "{t:?}");
        }
    }

    #[test]
    fn hand_searches_equal_the_crate_iterators() {
        use aho_corasick::{AhoCorasick, MatchKind};
        let words = [
            "ssn",
            "social security",
            "social",
            "dob",
            "date of birth",
            "birth",
            "no",
            "a/c",
        ];
        let texts = [
            "my SSN: 123, social security number and date of birth (dob), no. a/c",
            "antisocial security birthday nobody",
            "",
            "s",
            "date of birt",
            "xx social  security social securityssn",
        ];
        for kind in [MatchKind::Standard, MatchKind::LeftmostLongest] {
            let dfa = KeywordDfa::new(
                &AcDfa::builder()
                    .ascii_case_insensitive(true)
                    .prefilter(false)
                    .match_kind(kind)
                    .build(words)
                    .unwrap(),
            )
            .unwrap();
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(kind)
                .build(words)
                .unwrap();
            for t in texts {
                let mut got = Vec::new();
                let want: Vec<(usize, usize, usize)> = if kind == MatchKind::Standard {
                    overlapping(&dfa, t.as_bytes(), &mut Vec::new(), |s, e, p| {
                        got.push((s, e, p))
                    });
                    ac.find_overlapping_iter(t)
                        .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                        .collect()
                } else {
                    leftmost_longest(&dfa, t.as_bytes(), |s, e, p| got.push((s, e, p as usize)));
                    ac.find_iter(t)
                        .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                        .collect()
                };
                assert_eq!(got, want, "{kind:?} {t:?}");
            }
        }
    }

    #[test]
    fn short_eq_is_slice_equality() {
        let words: [&[u8]; 7] = [b"", b"a", b"CA", b"Ca", b"Ltd", b"Ltd.", b"\xc3\xa9t"];
        for a in words {
            for b in words {
                assert_eq!(short_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn word_digit_test_equals_the_byte_loop() {
        for len in 0..40usize {
            for b in 0..=255u8 {
                for at in [0, len / 2, len.saturating_sub(1)] {
                    let mut v = vec![b'a'; len];
                    if at < len {
                        v[at] = b;
                    }
                    let want = (v.iter().any(u8::is_ascii_digit), !v.is_ascii());
                    assert_eq!(ascii_digits(&v), want, "{v:?}");
                }
            }
        }
        // Neighbouring bytes of all kinds (a carry would leak across them).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let pool = [b'/', b'0', b'9', b':', 0xb0, 0xb9, 0xff, 0x7f, b'a'];
            let v: Vec<u8> = (0..len)
                .map(|i| pool[((x >> (i * 2)) % pool.len() as u64) as usize])
                .collect();
            let want = (v.iter().any(u8::is_ascii_digit), !v.is_ascii());
            assert_eq!(ascii_digits(&v), want, "{v:?}");
        }
    }

    #[test]
    fn digit_prefilter_is_conservative() {
        assert!(pattern_needs_digit(r"\b\d{3}-\d{2}-\d{4}\b"));
        assert!(!pattern_needs_digit(r"\d{3}|abc"));
        assert!(!pattern_needs_digit(r"[a-z]+@[a-z]+"));
        assert!(pattern_needs_digit(r"(?:a|b)\d"));
        assert!(!pattern_needs_digit(r"(?:\(\d{3}\))?abc"));
        assert!(pattern_needs_digit(r"(?i)(?:\d{3}|\d{5})x"));
    }
}
/// The triggered search must find exactly what the reference search finds.
#[cfg(test)]
mod place_sort {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The two-stream walk of a long text reports what the crate's
        /// overlapping iterator does, in its order: texts of keyword
        /// pieces (so hits straddle the middle cut and the second
        /// stream's start) of every length around the two-stream limit.
        #[test]
        fn two_stream_overlapping_equals_the_crate_iterator(
            parts in proptest::collection::vec(0..12usize, 0..90),
            pad in 0..40usize,
        ) {
            const WORDS: [&str; 8] = [
                "ssn", "social security number", "social", "no", "a/c", "birth", "date of birth", "s",
            ];
            const FILL: [&str; 4] = [" ", "x", "So", "\u{e9}"];
            let dfa = KeywordDfa::new(
                &AcDfa::builder()
                    .ascii_case_insensitive(true)
                    .prefilter(false)
                    .build(WORDS)
                    .unwrap(),
            )
            .unwrap();
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(WORDS)
                .unwrap();
            let mut text = "y".repeat(pad);
            for p in parts {
                text.push_str(if p < 8 { WORDS[p] } else { FILL[p - 8] });
            }
            let mut got = Vec::new();
            overlapping(&dfa, text.as_bytes(), &mut Vec::new(), |s, e, p| got.push((s, e, p)));
            let want: Vec<(usize, usize, usize)> = ac
                .find_overlapping_iter(&text)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            prop_assert_eq!(got, want, "{:?}", text);
        }
    }

    proptest! {
        /// `line_end_match` only ever rules out texts the pattern cannot
        /// match: over random lines of digits, letters, spaces, tabs,
        /// blank lines and non-ASCII characters.
        #[test]
        fn line_end_test_never_rules_out_a_match(
            parts in proptest::collection::vec(0..TOKENS.len(), 0..14)
        ) {
            let text: String = parts.iter().map(|&i| TOKENS[i]).collect();
            let p = r"(?m)(?:\p{L},?\s+)(?P<v>\d{5})(?:-\d{4})?\s*$";
            let hir = regex_syntax::ParserBuilder::new().build().parse(p).unwrap();
            let last = super::super::trigger::line_end_last(&hir).unwrap();
            let re = regex::Regex::new(p).unwrap();
            if re.is_match(&text) {
                prop_assert_ne!(line_end_match(&text, &last, None), LineEndMatch::No, "{:?}", text);
            }
            // With the reverse DFA the answer is exact: every match ends
            // at a line end.
            let rev = line_end_dfa(&compile_form(p)).unwrap();
            let mut cache = rev.create_cache();
            prop_assert_eq!(
                line_end_match(&text, &last, Some((&rev, &mut cache))) == LineEndMatch::Yes,
                re.is_match(&text),
                "{:?}",
                text
            );
        }
    }

    /// Pieces of postcode lines and near misses.
    const TOKENS: &[&str] = &[
        "Paris",
        "é",
        ",",
        " ",
        "\t",
        "\n",
        "\u{a0}",
        "75001",
        "7500",
        "-1234",
        "\u{663}\u{663}\u{663}\u{663}\u{663}",
        "x",
        ".",
        "\r",
    ];

    #[test]
    fn line_end_match_cases() {
        let mut digits = [false; 256];
        digits[b'0' as usize..=b'9' as usize].fill(true);
        let line_end_after = |t: &[u8], last: &[bool; 256]| {
            line_end_match(std::str::from_utf8(t).unwrap(), last, None) != LineEndMatch::No
        };
        assert!(line_end_after(b"Paris 75001", &digits));
        assert!(line_end_after(b"Paris 75001 \t\n\n  \n", &digits));
        assert!(line_end_after(b"Paris 75001\nnext line.", &digits));
        assert!(!line_end_after(
            b"line 75001 here.\nand more.\n\n\n",
            &digits
        ));
        assert!(!line_end_after(b"", &digits));
        assert!(!line_end_after(b" \n \n", &digits));
        // A non-ASCII byte before the line end could be a Unicode digit.
        assert!(line_end_after("Kairo \u{663}".as_bytes(), &digits));
        // With the reverse DFA: only a whole match at a line end counts.
        let p = r"(?m)(?:\p{L},?\s+)(?P<v>\d{5})(?:-\d{4})?\s*$";
        let rev = line_end_dfa(&compile_form(p)).unwrap();
        let mut cache = rev.create_cache();
        let mut exact =
            |t: &str| line_end_match(t, &digits, Some((&rev, &mut cache))) == LineEndMatch::Yes;
        assert!(exact("Paris 75001"));
        assert!(exact("Paris, 75001-1234  \n\nnext"));
        assert!(exact("Kairo \u{663}\u{663}\u{663}\u{663}\u{663}\r\n"));
        assert!(exact("error 40404"));
        assert!(!exact("error 40404 in line"));
        assert!(!exact("75001"));
        assert!(!exact("Paris 750011\nline 2"));
        assert!(!exact("Paris 75001.\n"));
    }

    proptest! {
        /// Two nearly sorted runs (places found a few back), or any order
        /// at all: `sort_places` returns the same places, in order.
        #[test]
        fn sort_places_sorts_and_keeps_every_place(
            a in proptest::collection::vec((0usize..400, 0u32..8, 0u8..4), 0..120),
            b in proptest::collection::vec((0usize..400, 0u32..8, 0u8..4), 0..120),
            shuffled in any::<bool>(),
        ) {
            // (position - back, mask bit): ascending positions with small
            // steps back, as the trigger pass lists them.
            let run = |v: &[(usize, u32, u8)]| -> Vec<(usize, Mask)> {
                let mut pos = 0usize;
                v.iter()
                    .map(|&(step, bit, back)| {
                        pos += step % 7;
                        (pos.saturating_sub(usize::from(back) * 3), 1 << bit)
                    })
                    .collect()
            };
            let mut cands = run(&a);
            let split = cands.len();
            cands.extend(run(&b));
            if shuffled {
                // Any order: the give-up path.
                cands.reverse();
            }
            let mut want = cands.clone();
            want.sort_unstable();
            let mut buf = Vec::new();
            sort_places(&mut cands, split, &mut buf);
            prop_assert!(cands.windows(2).all(|w| w[0].0 <= w[1].0));
            cands.sort_unstable();
            prop_assert_eq!(cands, want);
        }
    }
}

#[cfg(test)]
mod equivalence {
    use super::{Anchored, Input, Mask, PatternID, PatternSet, RuleSet, floor_char, walk};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn rules() -> &'static RuleSet {
        static R: OnceLock<RuleSet> = OnceLock::new();
        R.get_or_init(|| RuleSet::load(true, None, &[]).unwrap())
    }

    /// `find` and the reference search both give `text` exactly the
    /// `entity` spans `want` (their texts, in any order).
    fn assert_finds(text: &str, entity: &str, want: &[&str]) {
        let rs = rules();
        let of = |spans: Vec<super::Span>| -> Vec<String> {
            let mut v: Vec<String> = spans
                .into_iter()
                .filter(|s| &*s.entity == entity)
                .map(|s| text[s.start..s.end].to_string())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        want.sort();
        assert_eq!(of(rs.find(text)), want, "{text}");
        assert_eq!(of(rs.find_reference(text)), want, "{text} (reference)");
    }

    /// A leading `\b` before a letter class is a Unicode boundary: a name
    /// that opens with a non-ASCII capital after a space or a line start
    /// is found whole, and one glued to a letter is not found from inside.
    /// The anchored search and the reference agree.
    #[test]
    fn names_opening_with_a_non_ascii_capital_are_found_whole() {
        let cases: [(&str, &str, &[&str]); 7] = [
            ("Meet at Ölander Road 5.", "ADDRESS", &["Ölander Road"]),
            (
                "She lives on Çiftçi Street now.",
                "ADDRESS",
                &["Çiftçi Street"],
            ),
            ("Åsa Xyzzy Road is closed", "ADDRESS", &["Åsa Xyzzy Road"]),
            ("Office: Ölstraße 5.", "ADDRESS", &["Ölstraße 5"]),
            (
                "The Öztürk Holdings Ltd office.",
                "ORG",
                &["Holdings Ltd", "Öztürk Holdings Ltd"],
            ),
            (
                "Şişli Court of First Instance ruled.",
                "ORG",
                &["Court of First Instance", "Şişli Court"],
            ),
            // Inside a word: no boundary before Ö, and none in ASCII terms
            // either after it ("lander" follows a letter).
            ("xÖlander Road", "ADDRESS", &[]),
        ];
        for (text, entity, want) in cases {
            assert_finds(text, entity, want);
        }
    }

    /// `trim_leading`: the words before a name that open a sentence are
    /// left out of the span, the reference search agrees, and a match
    /// that is nothing without them is dropped.
    #[test]
    fn leading_sentence_words_are_trimmed_from_organisations() {
        let cases: [(&str, &[&str]); 6] = [
            ("The Court notes that the applicant complained.", &[]),
            ("The Council held a vote.", &[]),
            (
                "The Federal Constitutional Court held",
                &["Federal Constitutional Court"],
            ),
            ("Contact Acme Ltd. for details.", &["Acme Ltd."]),
            ("The Ministry of Justice replied.", &["Ministry of Justice"]),
            // The second pattern finds the last word and the suffix.
            (
                "General Motors Corp announced",
                &["General Motors Corp", "Motors Corp"],
            ),
        ];
        for (text, want) in cases {
            assert_finds(text, "ORG", want);
        }
    }

    /// The context hits taken from the trigger pass equal the separate
    /// leftmost-longest search, on texts of many pieces whose context
    /// words overlap, nest and sit at the cuts between pieces.
    #[test]
    fn context_hits_from_the_trigger_pass_equal_their_own_search() {
        let rs = rules();
        assert!(rs.anchors.with_context);
        let words = [
            "date of birth",
            "birth",
            "dob",
            "DOB:",
            "born",
            "phone",
            "tel",
            "ssn",
            "social security",
            "security",
            "address",
            "mail",
            "e-mail",
            "passport",
        ];
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut multi = 0;
        let (mut keys, mut reused) = (Vec::new(), Vec::new());
        for round in 0..300 {
            let mut text = String::new();
            while text.len() < 200 + round * 40 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let w = words[(x % words.len() as u64) as usize];
                text.push_str(match x >> 60 {
                    0 => "\n\n",
                    1 => "",
                    2 => "x",
                    3 => ": ",
                    _ => " ",
                });
                if x >> 59 & 1 == 1 {
                    text.push_str(&w.to_uppercase());
                } else {
                    text.push_str(w);
                }
                if x >> 50 & 7 == 0 {
                    text.push_str(&"filler words and more ".repeat(200));
                }
            }
            let mut s = super::Scratch::default();
            s.reset(rs.id);
            for (base, chunk) in super::chunks(&text) {
                rs.anchors.places(base, chunk, &mut s);
            }
            let got: Vec<(usize, u32)> = super::context_from_overlapping(&s.context, &text)
                .iter()
                .map(|h| (h.start, h.word))
                .collect();
            let want: Vec<(usize, u32)> = rs
                .context_hits(&text)
                .iter()
                .map(|h| (h.start, h.word))
                .collect();
            multi += usize::from(super::chunks(&text).count() > 1);
            assert_eq!(got, want, "{text:?}");
            // The per-thread buffers, reused from the texts before.
            super::context_from_overlapping_into(&s.context, &text, &mut keys, &mut reused);
            let again: Vec<(usize, u32)> = reused.iter().map(|h| (h.start, h.word)).collect();
            assert_eq!(again, want, "{text:?}");
        }
        assert!(multi > 50, "{multi} texts of several pieces");
    }

    /// Hits too long to pack in a sort key take the general sort.
    #[test]
    fn context_hits_beyond_the_packed_keys() {
        let text = format!("{} b c", "a".repeat(70_000));
        let all = [
            (70_003, 70_004, 3),
            (0, 70_000, 1),
            (5, 10, 2),
            (70_001, 70_002, 4),
        ];
        let got: Vec<(usize, u32)> = super::context_from_overlapping(&all, &text)
            .iter()
            .map(|h| (h.start, h.word))
            .collect();
        assert_eq!(got, [(0, 1), (70_001, 4), (70_003, 3)]);
    }

    /// Every rule's examples and counter examples, a line each, after
    /// `text`: the places the walk tests try.
    fn push_examples(rs: &RuleSet, text: &mut String) {
        for r in &rs.rules {
            for e in r.examples.iter().chain(&r.counter_examples) {
                text.push_str(e);
                text.push_str(" \n");
            }
        }
    }

    /// The anchored places of `text` as the trigger pass lists them,
    /// merged per place: (piece start, place in piece, patterns).
    fn merged_places(rs: &RuleSet, text: &str) -> Vec<(usize, usize, Mask)> {
        let mut out: Vec<(usize, usize, Mask)> = Vec::new();
        let mut s = super::Scratch::default();
        s.reset(rs.id);
        for (base, chunk) in super::chunks(text) {
            rs.anchors.places(base, chunk, &mut s);
            for &(pos, m) in &s.cands {
                match out.last_mut() {
                    Some(last) if last.0 == base && last.1 == pos => last.2 |= m,
                    _ => out.push((base, pos, m)),
                }
            }
        }
        out
    }

    /// The checks of [`super::follow`] drop only places where the pattern
    /// has no anchored match: the places with them are those without,
    /// less some (pattern, place) pairs, each of which the pattern's own
    /// regex does not match at. On every rule's example and counter
    /// example, upper-cased too, and prose where the keywords and digits
    /// stand in every way.
    #[test]
    fn follow_checks_drop_only_places_without_a_match() {
        let mut rs = RuleSet::load(true, None, &[]).unwrap();
        assert!(rs.anchors.follows.is_some());
        let mut text = String::from(
            "Ünïcödé ſtraße K 12 ½ ٣٤ I went to the store; to: Anna, TO:Bob, \
             to\t:\tCarl, cc me, CC: Dora, from Paris, FROM : Emil, from:\n \
             my name is Fay, my name is not, MY NAME IS\tGus, name: x, name:Hal, \
             the patient, patient Ida, customer No. 12, signed by Jo, signed\n\
             Kim, attn. Lou, attn: Max, attn Ned, call me Oz, call me at 5. \
             In 2019 (the 10th), 1 2 3, (555) 010-0199, 1-555-010-0199, \
             +1 (212) 555 0187, 1(2, 19.5, 12x, 1. 2, 41 1 , (9 (2 1-2 1.2 1 2\n\
             ",
        );
        push_examples(&rs, &mut text);
        let upper = text.to_uppercase();
        text.push_str(&upper);
        text.push_str(" to");
        let with = merged_places(&rs, &text);
        rs.anchors.follows = None;
        let without = merged_places(&rs, &text);
        let mut with = with.into_iter().peekable();
        let mut dropped = 0usize;
        for (base, pos, m) in without {
            let kept = match with.peek() {
                Some(&(b, p, k)) if b == base && p == pos => {
                    with.next();
                    k
                }
                _ => 0,
            };
            assert_eq!(kept & !m, 0, "{base}+{pos}: a place the checks added");
            let chunk = super::chunks(&text).find(|c| c.0 == base).unwrap().1;
            let mut gone = m & !kept;
            while gone != 0 {
                let id = gone.trailing_zeros() as usize;
                gone &= gone - 1;
                let input = Input::new(chunk)
                    .span(pos..chunk.len())
                    .anchored(Anchored::Yes);
                assert!(
                    rs.anchors.single[id].search(&input).is_none(),
                    "pattern {id} dropped at {:?}",
                    &chunk[pos..floor_char(chunk, pos + 20)]
                );
                dropped += 1;
            }
        }
        assert!(with.next().is_none(), "places only the checks list");
        assert!(dropped > 300, "{dropped}");
    }

    /// The mask of the first `n` anchored patterns.
    fn all_patterns(n: usize) -> Mask {
        if n == Mask::BITS as usize {
            !0
        } else {
            (1 << n) - 1
        }
    }

    /// The hand walks of the lazy DFAs answer as the crate's searches do,
    /// at every place of a text made of every rule's examples and counter
    /// examples (and some non-ASCII), for every anchored pattern.
    #[test]
    fn dfa_walks_equal_the_crate_searches() {
        let rs = rules();
        let d = rs.anchors.dfas.as_ref().unwrap();
        let (mut c_all, mut c_first) = (d.all.create_cache(), d.first.create_cache());
        let mut text = String::from("Ünïcödé ſtraße K 12 ½ ٣٤ ");
        push_examples(rs, &mut text);
        let n = rs.anchors.single.len();
        let every = all_patterns(n);
        let (mut checked, mut matched) = (0usize, 0usize);
        for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
            for end in [text.len(), (pos + 7).min(text.len())] {
                let end = floor_char(&text, end);
                let input = Input::new(&text).span(pos..end).anchored(Anchored::Yes);
                let mut set = PatternSet::new(d.all.pattern_len());
                d.all
                    .try_which_overlapping_matches(&mut c_all, &input, &mut set)
                    .unwrap();
                let want = (0..n)
                    .filter(|&i| set.contains(PatternID::new_unchecked(i)))
                    .fold(0 as Mask, |m, i| m | 1 << i);
                let mut ends = [0; Mask::BITS as usize];
                assert_eq!(
                    walk::which(&d.all, &mut c_all, &input, every, &mut ends).map(|w| w.0),
                    Some(want),
                    "{pos}..{end}"
                );
                if d.first_empty {
                    continue;
                }
                for id in 0..n {
                    let one = input
                        .clone()
                        .anchored(Anchored::Pattern(PatternID::new_unchecked(id)));
                    let want = d
                        .first
                        .try_search_fwd(&mut c_first, &one)
                        .unwrap()
                        .map(|h| h.offset());
                    let got = walk::end(&d.first, &mut c_first, &one);
                    assert_eq!(got, Some(want), "pattern {id} at {pos}..{end}");
                    checked += 1;
                    matched += usize::from(want.is_some());
                }
            }
        }
        assert!(
            !d.first_empty,
            "no anchored pattern matches the empty string"
        );
        assert!(checked > 10_000 && matched > 100, "{checked} {matched}");
    }

    /// Where the `which` walk saw a pattern match at one end only, the
    /// `end` walk (the leftmost-first match) ends there: at every place of
    /// the rules' examples and counter examples and of some text like the
    /// corpora's, for every anchored pattern, on the whole rest of the text
    /// and on a short span (the end-of-input step). Some patterns there
    /// match at several ends, so taking any one of them fails this.
    #[test]
    fn which_walk_single_ends_equal_the_end_walks() {
        let rs = rules();
        let d = rs.anchors.dfas.as_ref().unwrap();
        assert!(!d.first_empty);
        let (mut c_all, mut c_first) = (d.all.create_cache(), d.first.create_cache());
        let mut text = String::from(
            "Call me at (555) 010-0199 ext. 12 or +1 555 010 0199x7 tomorrow. \
             Card 4111 1111 1111 1111, exp 09/27; SSN 078-05-1120. \
             Born on 12/03/1987, moved 2019-04-01T10:00. Zip 90210-1234 \
             in Springfield, IL 62704. Mail j.doe+x@example.org, \
             host 192.168.10.254:8080 or fe80::1%eth0. IBAN DE44 5001 0517 \
             5407 3249 31, ref 12345678901234567890 and 3.14159 kg.\n",
        );
        push_examples(rs, &mut text);
        let n = rs.anchors.single.len();
        let every = all_patterns(n);
        let (mut one_end, mut more) = (0usize, 0usize);
        let mut ends = [usize::MAX; Mask::BITS as usize];
        for pos in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
            for end in [text.len(), (pos + 9).min(text.len())] {
                let end = floor_char(&text, end);
                let input = Input::new(&text).span(pos..end).anchored(Anchored::Yes);
                let Some((found, single)) =
                    walk::which(&d.all, &mut c_all, &input, every, &mut ends)
                else {
                    continue;
                };
                for id in (0..n).filter(|&id| found & (1 << id) != 0) {
                    let one = input
                        .clone()
                        .anchored(Anchored::Pattern(PatternID::new_unchecked(id)));
                    let walked = walk::end(&d.first, &mut c_first, &one).unwrap();
                    if single & (1 << id) != 0 {
                        assert_eq!(walked, Some(ends[id]), "pattern {id} at {pos}..{end}");
                        one_end += 1;
                    } else {
                        assert!(walked.is_some(), "pattern {id} at {pos}..{end}");
                        more += 1;
                    }
                }
            }
        }
        assert!(one_end > 300 && more > 100, "{one_end} {more}");
    }

    /// The look-around DFAs answer as the rules' regexes: for every rule
    /// with one, on every slice of up to 20 bytes (and every suffix and
    /// prefix of up to the edge size) of a text of all examples and
    /// counter examples and some non-ASCII.
    #[test]
    fn edge_dfas_equal_the_edge_regexes() {
        let rs = rules();
        let mut text = String::from("Ünïcödé ſtraße port 12 ½ ٣٤ v1.2.3 $5 €7 a-9 :8 #7 x.4 ");
        push_examples(rs, &mut text);
        let bounds: Vec<usize> = (0..=text.len())
            .filter(|&p| text.is_char_boundary(p))
            .collect();
        let (mut walked, mut hits) = (0usize, 0usize);
        for rule in &rs.rules {
            let mut caches = super::EdgeCaches::default();
            for (which, re) in [(0, &rule.not_before), (1, &rule.not_after)] {
                let Some(re) = re else { continue };
                assert!(rule.edge_dfas[which].is_some(), "{}", rule.id);
                for (i, &a) in bounds.iter().enumerate() {
                    for &b in bounds[i..].iter().take_while(|&&b| b <= a + 20) {
                        let hay = &text[a..b];
                        let want = re.is_match(hay);
                        assert_eq!(
                            rule.edge_hit(re, which, hay, Some(&mut caches)),
                            want,
                            "{} {which} {hay:?}",
                            rule.id
                        );
                        walked += 1;
                        hits += usize::from(want);
                    }
                }
            }
        }
        assert!(walked > 100_000 && hits > 1_000, "{walked} {hits}");
    }

    fn same(text: &str) {
        let r = rules();
        assert_eq!(r.find(text), r.find_reference(text), "{text:?}");
    }

    #[test]
    fn a_pattern_written_twice_is_searched_once_and_found_for_both_rules() {
        let r = rules();
        let name = |(ri, pi): (usize, usize)| format!("{}#{pi}", r.rules[ri].id);
        let aliased: Vec<(String, String)> = r
            .anchors
            .owner
            .iter()
            .zip(&r.anchors.aliases)
            .flat_map(|(&o, list)| list.iter().map(move |&a| (name(o), name(a))))
            .collect();
        for (dob, date) in [
            (0, "date#0"),
            (1, "date#1"),
            (2, "date_written#0"),
            (3, "date_written#1"),
        ] {
            assert!(
                aliased.contains(&(format!("date_of_birth#{dob}"), date.to_string())),
                "{aliased:?}"
            );
        }
        // Both rules' spans, from one search: a date with birth context is
        // a DATE_OF_BIRTH and a DATE (the merge picks later), one without
        // is a DATE only; twice in a row, as `next_ok` is per search.
        let pad = " and so on".repeat(8);
        let text =
            format!("born 12 March 1990.{pad} Filed 3/4/2021 and 3/5/2021.{pad} DOB 1961-02-07.");
        let text = text.as_str();
        let spans = r.find(text);
        let kinds = |e: &str| spans.iter().filter(|s| &*s.entity == e).count();
        assert_eq!((kinds("DATE_OF_BIRTH"), kinds("DATE")), (2, 4), "{spans:?}");
        same(text);
    }

    #[test]
    fn examples_fixtures_and_their_joins_match_the_reference() {
        let r = rules();
        let mut all = Vec::new();
        for rule in &r.rules {
            for ex in rule.examples.iter().chain(&rule.counter_examples) {
                same(ex);
                all.push(ex.clone());
            }
        }
        // Every example next to every other kind of separator, and all of
        // them as one long text (paragraph pieces, repeated patterns).
        for sep in [" ", "\n", "\n\n", "-", "x", "1", "é"] {
            same(&all.join(sep));
        }
        for f in [
            "note.txt",
            "hard_negatives.txt",
            "records.jsonl",
            "chat.jsonl",
        ] {
            let text = std::fs::read_to_string(format!("fixtures/{f}")).unwrap();
            same(&text);
        }
    }

    /// Suffix keywords of before-triggers whole, glued to more letters or
    /// ending in a dot before a word: the whole-word test must keep every
    /// place the reference search matches from.
    #[test]
    fn suffix_words_whole_or_glued_match_the_reference() {
        for t in [
            "Acme S.A.x and Beta S.A. and Gamma S.A.5 or Delta S.A.é",
            "Acme Co Beta Co. Gamma Corp Delta Corporation Epsilon Court Zeta Courts",
            "Main St and Main Street and Main State and Main Str. Oak Dr Oak Drive",
            "Alpha AG Beta AGB Gamma SA Delta SAS Epsilon A/S Zeta A/Sx",
            "acme ltd, beta inc. gamma include, delta LTD and epsilon Inc",
            "Queen University Hospital and King College Court, St Mary Hospitality",
        ] {
            same(t);
            same(&t.to_uppercase());
            same(&t.replace(' ', "\n"));
        }
    }

    /// Pieces that open, extend or break patterns.
    const PIECES: &[&str] = &[
        "0",
        "1",
        "2",
        "5",
        "9",
        "00",
        "+",
        "(",
        ")",
        "-",
        ".",
        ",",
        ":",
        "/",
        "@",
        "#",
        "_",
        " ",
        "\n",
        "\n\n",
        "\t",
        "é",
        "ſ",
        "Ä",
        "x",
        "ext",
        "SSN",
        "ssn",
        "card",
        "phone",
        "call",
        "born",
        "DOB",
        "IBAN",
        "GB82",
        "WEST",
        "Street",
        "St",
        "Main",
        "Apt",
        "Suite",
        "Flat",
        "Box",
        "P.O.",
        "password",
        "token",
        "=",
        "'",
        "\"",
        "user",
        "for",
        "from",
        "Via",
        "rue",
        "straße",
        "Ltd",
        "Co",
        "AG",
        "inc",
        // Suffix words whole, cut or glued to more letters.
        "S.A.",
        "SA",
        "State",
        "Stre",
        "Company",
        "Corporation",
        "include",
        "Courts",
        "Holdings",
        "Road",
        "weg",
        "ring",
        "Hospital",
        "://",
        "’",
        "University",
        "of",
        "Court",
        "Maria",
        "my name is",
        "Regards,",
        "AKIA",
        "ghp_",
        "sk_live_",
        "eyJ",
        "http://",
        "www.",
        "IL",
        "CA",
        "zip",
        "MRN",
        "patient",
        "passport",
        "age",
        "years old",
        "March",
        "2021",
        "19",
        "20",
        "a",
        "b",
        "A",
        "Z",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn random_texts_match_the_reference(parts in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            let r = rules();
            prop_assert_eq!(r.find(&text), r.find_reference(&text), "{:?}", text);
        }
    }
}
/// Built-in patterns are found from their places (a trigger byte, a
/// keyword); one with no place to start from is searched over every text.
/// `ie_eircode`, written as one alternation, was: 7 % of a presidio-dev
/// scan, with no test to notice. Only `zip_after_place` (a `$` pattern
/// behind its line-end gate) may be searched so.
#[cfg(test)]
mod scanned_patterns {
    #[test]
    fn builtin_patterns_are_found_from_their_places() {
        let r = super::RuleSet::load(true, None, &[]).unwrap();
        let scanned: Vec<String> = r
            .scanned
            .iter()
            .map(|&(ri, pi)| format!("{}#{pi}", r.rules[ri].id))
            .collect();
        assert_eq!(scanned, ["zip_after_place#0"]);
    }
}
