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

use super::{Span, validators};
use crate::Error;
use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

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

/// A compiled rule.
pub struct Rule {
    pub id: String,
    pub pack: String,
    pub entity: Arc<str>,
    detector: Arc<str>,
    patterns: Vec<Regex>,
    /// Per pattern: has a `v` or `n` group (needs the capturing search).
    grouped: Vec<bool>,
    validator: Option<fn(&str) -> bool>,
    score: f32,
    context_score: f32,
    invalid_score: Option<f32>,
    context: HashSet<u32>,
    negative: HashSet<u32>,
    requires_context: bool,
    window: usize,
    exclude: Vec<Regex>,
    not_before: Option<Regex>,
    not_after: Option<Regex>,
    min_digits: usize,
    max_digits: usize,
    /// Skip the regexes entirely on text without an ASCII digit.
    needs_digit: bool,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
}

/// All rules of all packs, with one shared automaton for context words.
pub struct RuleSet {
    pub rules: Vec<Rule>,
    context_ac: Option<AhoCorasick>,
    pub packs: Vec<String>,
    /// The patterns in two sets: one pass per set tells which patterns
    /// match at all, so the per-pattern search runs only for those.
    sets: Vec<(regex::RegexSet, Vec<(usize, usize)>)>,
}

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
                for p in &def.patterns {
                    patterns.push(
                        regex::RegexBuilder::new(&compile_form(p))
                            .size_limit(1 << 24)
                            .build()
                            .map_err(|e| err(format!("bad pattern: {e}")))?,
                    );
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
                let grouped = patterns
                    .iter()
                    .map(|re| re.capture_names().flatten().any(|n| n == "v" || n == "n"))
                    .collect();
                rules.push(Rule {
                    grouped,
                    detector: Arc::from(format!("rule:{}", def.id).as_str()),
                    entity: Arc::from(def.entity.as_str()),
                    pack: pf.pack.name.clone(),
                    patterns,
                    validator,
                    score: def.score,
                    context_score: def.context_score.unwrap_or((def.score + 0.25).min(1.0)),
                    invalid_score: def.invalid_score,
                    context: def.context.iter().map(|w| intern(w)).collect(),
                    negative: def.negative_context.iter().map(|w| intern(w)).collect(),
                    requires_context: def.requires_context,
                    window: def.context_window,
                    exclude,
                    not_before,
                    not_after,
                    min_digits: def.min_digits.unwrap_or(0),
                    max_digits: def.max_digits.unwrap_or(usize::MAX),
                    needs_digit,
                    examples: def.examples,
                    counter_examples: def.counter_examples,
                    id: def.id,
                });
            }
        }
        let context_ac = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&words)
                    .map_err(|e| Error::Config(format!("context words: {e}")))?,
            )
        };
        type Group = (Vec<String>, Vec<(usize, usize)>);
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: std::collections::HashMap<bool, usize> = Default::default();
        for (ri, r) in rules.iter().enumerate() {
            for (pi, re) in r.patterns.iter().enumerate() {
                // Two sets: patterns that need a digit (skipped on digit-free
                // text) and the others. Measured against one set, one per
                // pack and one per rule: two is fastest (`gdr bench`).
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
            let set = regex::RegexSetBuilder::new(&pats)
                .size_limit(1 << 26)
                // The lazy DFA's cache: at the 2 MiB default the union of
                // patterns thrashes it and search falls back to the PikeVM
                // (30x slower); 16 MiB holds it (`gdr bench`).
                .dfa_size_limit(1 << 24)
                .build()
                .map_err(|e| Error::Config(format!("rule set: {e}")))?;
            sets.push((set, index));
        }
        Ok(Self {
            rules,
            context_ac,
            packs,
            sets,
        })
    }

    /// Run every rule over `text`.
    pub fn find(&self, text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        // `\d` is Unicode: non-ASCII digits count too.
        let has_digit = text.bytes().any(|b| b.is_ascii_digit())
            || (!text.is_ascii() && text.chars().any(char::is_numeric));
        // Context words are found once per text, lazily: most texts match no rule.
        let mut hits: Option<Vec<ContextHit>> = None;
        // Long documents are searched paragraph by paragraph: a pattern that
        // matches in one paragraph is then re-run (with captures) on that
        // paragraph only, not on the whole document.
        let mut todo: Vec<(usize, usize)> = Vec::new();
        for (base, chunk) in chunks(text) {
            todo.clear();
            for (set, set_index) in &self.sets {
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
                rule.each_match(pi, chunk, &mut |v, n| {
                    let hits = hits.get_or_insert_with(|| self.context_hits(text));
                    let (start, end) = (base + v.start, base + v.end);
                    if let Some(score) = rule.judge(text, start, end, &chunk[n], hits) {
                        out.push(Span {
                            start,
                            end,
                            entity: rule.entity.clone(),
                            score,
                            detector: rule.detector.clone(),
                            validated: rule.validator.is_some() && score >= rule.score,
                        });
                    }
                });
            }
        }
        out
    }

    fn context_hits(&self, text: &str) -> Vec<ContextHit> {
        let Some(ac) = &self.context_ac else {
            return Vec::new();
        };
        ac.find_iter(text)
            .filter(|m| super::is_word_boundary(text, m.start(), m.end()))
            .map(|m| ContextHit {
                start: m.start(),
                word: m.pattern().as_u32(),
            })
            .collect()
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

    /// Only the prefilter pass of set `i` (benchmarks: what it costs).
    pub fn prefilter_count(&self, i: usize, text: &str) -> usize {
        self.sets
            .get(i)
            .map_or(0, |(set, _)| set.matches(text).iter().count())
    }

    /// For each prefilter set, whether it holds the digit patterns.
    pub fn set_kinds(&self) -> Vec<bool> {
        self.sets
            .iter()
            .map(|(_, idx)| {
                idx.first()
                    .is_some_and(|&(ri, _)| self.rules[ri].needs_digit)
            })
            .collect()
    }

    /// Spans of a single rule on `text` (for tests and examples).
    pub fn find_one(&self, rule: &Rule, text: &str) -> Vec<Span> {
        let hits = self.context_hits(text);
        let mut out = Vec::new();
        for pi in 0..rule.patterns.len() {
            rule.each_match(pi, text, &mut |v, n| {
                if let Some(score) = rule.judge(text, v.start, v.end, &text[n], &hits) {
                    out.push(Span {
                        start: v.start,
                        end: v.end,
                        entity: rule.entity.clone(),
                        score,
                        detector: rule.detector.clone(),
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
    /// Call `f(span range, validated range)` for every non-empty match of
    /// pattern `pi` in `hay`. Patterns without `v`/`n` groups use the plain
    /// (DFA-only) search; capture groups cost a slower engine.
    fn each_match(
        &self,
        pi: usize,
        hay: &str,
        f: &mut dyn FnMut(std::ops::Range<usize>, std::ops::Range<usize>),
    ) {
        let re = &self.patterns[pi];
        if !self.grouped[pi] {
            for m in re.find_iter(hay) {
                if m.start() < m.end() {
                    f(m.range(), m.range());
                }
            }
            return;
        }
        for caps in re.captures_iter(hay) {
            let Some(m) = caps.name("v").or_else(|| caps.get(0)) else {
                continue;
            };
            if m.start() == m.end() {
                continue;
            }
            let n = caps.name("n").map_or(m.range(), |n| n.range());
            f(m.range(), n);
        }
    }

    /// Decide whether a regex match is a span, and its score.
    fn judge(
        &self,
        text: &str,
        start: usize,
        end: usize,
        checked: &str,
        hits: &[ContextHit],
    ) -> Option<f32> {
        let value = &text[start..end];
        if self.min_digits > 0 || self.max_digits < usize::MAX {
            let n = value.bytes().filter(u8::is_ascii_digit).count();
            if n < self.min_digits || n > self.max_digits {
                return None;
            }
        }
        if self.exclude.iter().any(|re| re.is_match(value)) {
            return None;
        }
        if let Some(re) = &self.not_before
            && re.is_match(&text[floor_char(text, start.saturating_sub(EDGE))..start])
        {
            return None;
        }
        if let Some(re) = &self.not_after
            && re.is_match(&text[end..ceil_char(text, end + EDGE)])
        {
            return None;
        }
        let lo = start.saturating_sub(self.window);
        let hi = end + self.window / 2;
        let near = hits
            .iter()
            .filter(|h| h.start >= lo && h.start < hi && (h.start < start || h.start >= end));
        let mut ctx = false;
        let mut neg = false;
        for h in near {
            ctx |= self.context.contains(&h.word);
            neg |= self.negative.contains(&h.word);
        }
        if neg {
            return None;
        }
        if self.requires_context && !ctx {
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

/// The pattern as compiled. `\b` becomes an ASCII word boundary: the lazy
/// DFA cannot do Unicode word boundaries on non-ASCII text and the search
/// would fall back to a 30x slower engine. (A letter next to a non-ASCII
/// letter is then not a boundary; patterns start and end on ASCII or on
/// explicit classes.)
fn compile_form(p: &str) -> String {
    p.replace(r"\b", r"(?-u:\b)")
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
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn req(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Literal(l) => l.0.iter().any(u8::is_ascii_digit),
            HirKind::Class(Class::Unicode(c)) => {
                !c.ranges().is_empty()
                    && c.ranges()
                        .iter()
                        .all(|r| r.start() >= '0' && r.end() <= '9')
            }
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
    // `\d` is Unicode-aware by default; rules that need a digit written as
    // `\d` still need *some* decimal digit, so test on an ASCII parse.
    let mut parser = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build();
    match parser.parse(p) {
        Ok(h) => req(&h),
        // The real compile reports the error; here, stay conservative.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn digit_prefilter_is_conservative() {
        assert!(pattern_needs_digit(r"\b\d{3}-\d{2}-\d{4}\b"));
        assert!(!pattern_needs_digit(r"\d{3}|abc"));
        assert!(!pattern_needs_digit(r"[a-z]+@[a-z]+"));
        assert!(pattern_needs_digit(r"(?:a|b)\d"));
        assert!(!pattern_needs_digit(r"(?:\(\d{3}\))?abc"));
        assert!(pattern_needs_digit(r"(?i)(?:\d{3}|\d{5})x"));
    }
}
