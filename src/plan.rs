//! Planning: spans → entities → one operation per entity.
//!
//! Mentions of the same identifier are one entity ("Karl Strobel" and later
//! "Strobel"; "4111 1111 1111 1111" and "4111-1111-1111-1111"), so a tag
//! gets one number and a pseudonym stays consistent inside a document.

use crate::detect::Name;
use crate::detect::Span;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What to do with an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A realistic surrogate of the same shape, keyed: same input, same
    /// surrogate, across documents and restarts.
    Pseudonym,
    /// `[PERSON_1]`, numbered per document.
    Tag,
    /// Keep the last few characters, star the rest.
    Mask,
    /// Coarser value: date → year, age → 5-year band, address → city.
    Generalize,
    /// `[REDACTED]`.
    Redact,
    /// Leave as is (reported, not changed).
    Keep,
}

impl std::str::FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pseudonym" => Op::Pseudonym,
            "tag" => Op::Tag,
            "mask" => Op::Mask,
            "generalize" => Op::Generalize,
            "redact" => Op::Redact,
            "keep" => Op::Keep,
            _ => {
                return Err(format!(
                    "unknown operation {s:?} (pseudonym, tag, mask, generalize, redact, keep)"
                ));
            }
        })
    }
}

/// Granularity of generalised dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DateGranularity {
    Year,
    #[default]
    Month,
}

/// Operation per entity type, from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub ops: BTreeMap<String, Op>,
    /// For types not listed.
    pub default: Op,
    pub mask_keep_last: usize,
    /// Granularity for DATE (DATE_OF_BIRTH is always generalised to the year).
    pub date_granularity: DateGranularity,
    pub person_titles: TitleMode,
}

/// What pseudonyms do with honorifics and name suffixes (Mr., Dr., PhD).
/// They reveal gender or occupation; tags already cover them, so the
/// default drops them from pseudonyms too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TitleMode {
    #[default]
    Drop,
    Keep,
}

impl Default for Policy {
    fn default() -> Self {
        use Op::*;
        let ops = [
            ("PERSON", Pseudonym),
            ("EMAIL", Pseudonym),
            ("PHONE", Pseudonym),
            ("CREDIT_CARD", Pseudonym),
            ("IBAN", Pseudonym),
            ("US_SSN", Pseudonym),
            ("IP_ADDRESS", Pseudonym),
            ("MAC_ADDRESS", Pseudonym),
            ("URL", Pseudonym),
            // A realistic fake key would set off secret scanners downstream.
            ("SECRET", Tag),
            // HIPAA Safe Harbor keeps the year of a birth date, nothing finer;
            // other dates keep month and year (policy.date_granularity).
            ("DATE_OF_BIRTH", Generalize),
            ("DATE", Generalize),
            ("AGE", Generalize),
            ("ADDRESS", Pseudonym),
            ("LOCATION", Pseudonym),
            ("ORG", Pseudonym),
            ("ID", Pseudonym),
            ("ZIP", Pseudonym),
            ("USERNAME", Pseudonym),
            ("CUSTOM", Tag),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            ops,
            default: Op::Tag,
            mask_keep_last: 4,
            date_granularity: DateGranularity::Month,
            person_titles: TitleMode::Drop,
        }
    }
}

impl Policy {
    pub fn op(&self, entity: &str) -> Op {
        self.ops.get(entity).copied().unwrap_or(self.default)
    }
}

/// One identifier, possibly mentioned several times.
#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    pub entity: Name,
    pub op: Op,
    /// 1-based number among entities of the same type in this document.
    pub number: usize,
    /// Indexes into [`Plan::spans`].
    pub mentions: Vec<usize>,
    /// Normalised key (never leaves the process: not serialised).
    #[serde(skip)]
    pub key: String,
    /// PERSON: the lower-case name words (without titles), for matching
    /// later partial mentions.
    #[serde(skip)]
    pub words: Vec<String>,
    /// PERSON known here only by one word ("Ford"): the full name of the
    /// same person in another part of the record ("Mark Ford"), whose
    /// roles the word takes when it is pseudonymised (see
    /// [`Numbering::fill_names`]).
    #[serde(skip)]
    pub full: Option<String>,
}

/// The spans to act on, grouped into entities.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub spans: Vec<Span>,
    /// For each span, the index of its entity.
    pub entity_of: Vec<usize>,
    pub entities: Vec<Entity>,
}

/// The numbers `tag` gives across the parts of one record (the messages of
/// a chat, the columns of a row): without it each part numbered its own
/// entities from 1, so `[PERSON_1]` was one person in the first message
/// and another in the second. Entities are the same across parts as
/// within one: same type and key, or for a person, words of one name
/// among the words of the other ("Whitlock" and "Dana Whitlock").
#[derive(Debug, Default)]
pub struct Numbering {
    /// (type, key, name words, number) of each entity numbered so far.
    known: Vec<(Name, String, Vec<String>, usize)>,
    per_type: BTreeMap<Name, usize>,
    /// The full names (two name words or more) of persons anywhere in the
    /// record, with their name words ([`Numbering::learn_names`]).
    names: Vec<(String, Vec<String>)>,
}

impl Numbering {
    /// Remember the full person names among `spans` (the spans of `text`
    /// the rewrite acts on), before any part is rewritten: a part that
    /// names someone only by a word ("Ford") may come before the part
    /// that names them in full ("Mark Ford").
    pub fn learn_names(&mut self, text: &str, spans: &[Span]) {
        for s in spans.iter().filter(|s| &*s.entity == "PERSON") {
            let Some(value) = text.get(s.start..s.end) else {
                continue;
            };
            let words = name_words(value);
            if words.len() >= 2 && !self.names.iter().any(|(_, w)| *w == words) {
                self.names.push((value.to_string(), words));
            }
        }
    }

    /// Give each person of `plan` named only by one word the first full
    /// name of the record with that word ([`Entity::full`]).
    pub fn fill_names(&self, plan: &mut Plan) {
        if self.names.is_empty() {
            return;
        }
        for e in &mut plan.entities {
            if &*e.entity == "PERSON"
                && let [word] = e.words.as_slice()
            {
                e.full = self
                    .names
                    .iter()
                    .find(|(_, words)| words.contains(word))
                    .map(|(name, _)| name.clone());
            }
        }
    }

    /// Give `plan`'s entities the numbers of the same entities in earlier
    /// parts, and the next free numbers of their types to the rest (in
    /// the plan's order of first appearance).
    pub fn renumber(&mut self, plan: &mut Plan) {
        let mut order: Vec<usize> = (0..plan.entities.len()).collect();
        order.sort_by_key(|&e| plan.entities[e].number);
        for e in order {
            let ent = &mut plan.entities[e];
            let same = self.known.iter_mut().find(|(t, key, words, _)| {
                *t == ent.entity
                    && (*key == ent.key
                        || !words.is_empty()
                            && !ent.words.is_empty()
                            && (ent.words.iter().all(|w| words.contains(w))
                                || words.iter().all(|w| ent.words.contains(w))))
            });
            ent.number = match same {
                Some((_, _, words, n)) => {
                    for w in &ent.words {
                        if !words.contains(w) {
                            words.push(w.clone());
                        }
                    }
                    *n
                }
                None => {
                    let n = self.per_type.entry(ent.entity).or_insert(0);
                    *n += 1;
                    self.known
                        .push((ent.entity, ent.key.clone(), ent.words.clone(), *n));
                    *n
                }
            };
        }
    }
}

const TITLE_WORDS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "herr", "frau",
];

/// Key under which two mentions are the same identifier.
pub fn normalise(entity: &str, text: &str) -> String {
    match entity {
        "PHONE" | "CREDIT_CARD" | "US_SSN" | "IBAN" | "ID" | "ZIP" | "MAC_ADDRESS" => text
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        // Words joined by one space, lower case: built in one string, and
        // lowered in place when ASCII (where `to_lowercase` is ASCII's),
        // not collected, joined and copied (three allocations a mention).
        _ => {
            let mut key = String::with_capacity(text.len());
            for w in text.split_whitespace() {
                if !key.is_empty() {
                    key.push(' ');
                }
                key.push_str(w);
            }
            if key.is_ascii() {
                key.make_ascii_lowercase();
                key
            } else {
                key.to_lowercase()
            }
        }
    }
}

fn name_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '-'))
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| !TITLE_WORDS.contains(&w.as_str()))
        .collect()
}

/// Group `spans` (sorted, disjoint, already filtered by threshold) of
/// `text` into entities and pick each entity's operation.
pub fn plan(text: &str, spans: Vec<Span>, policy: &Policy) -> Plan {
    let indexed = spans.len() > INDEX_FROM;
    plan_with(text, spans, policy, indexed)
}

/// From how many spans a mention finds its entity by lookup ([`Lookup`])
/// instead of comparing itself with every entity so far: the comparisons
/// made planning quadratic in the mentions of a long record, the lookups
/// cost more than they save on a short one. Both group the same way.
const INDEX_FROM: usize = 32;

/// Entities by type and key, and by type and name word (ascending).
#[derive(Default)]
struct Lookup {
    by_key: HashMap<Name, HashMap<String, usize>>,
    by_word: HashMap<Name, HashMap<String, Vec<usize>>>,
}

impl Lookup {
    /// The first entity of type `entity` with `key` or, for a name
    /// (`words` not empty), with every word of `words`.
    fn find(
        &self,
        entities: &[Entity],
        entity: &Name,
        key: &str,
        words: &[String],
    ) -> Option<usize> {
        let same_key = self.by_key.get(entity).and_then(|m| m.get(key)).copied();
        let with_words = if words.is_empty() {
            None
        } else {
            self.by_word.get(entity).and_then(|m| {
                let lists: Option<Vec<&Vec<usize>>> = words.iter().map(|w| m.get(w)).collect();
                let shortest = lists?.into_iter().min_by_key(|l| l.len())?;
                shortest
                    .iter()
                    .copied()
                    .take_while(|&e| same_key.is_none_or(|k| e < k))
                    .find(|&e| words.iter().all(|w| entities[e].words.contains(w)))
            })
        };
        match (same_key, with_words) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Entity `idx` was just created.
    fn add(&mut self, idx: usize, e: &Entity) {
        self.by_key
            .entry(e.entity)
            .or_default()
            .entry(e.key.clone())
            .or_insert(idx);
        if !e.words.is_empty() {
            let m = self.by_word.entry(e.entity).or_default();
            for w in &e.words {
                let list = m.entry(w.clone()).or_default();
                if list.last() != Some(&idx) {
                    list.push(idx);
                }
            }
        }
    }
}

/// [`plan`], finding each mention's entity by comparing it with every
/// entity so far (`indexed` = false) or by [`Lookup`] (true).
fn plan_with(text: &str, spans: Vec<Span>, policy: &Policy, indexed: bool) -> Plan {
    let mut entities: Vec<Entity> = Vec::new();
    let mut entity_of = Vec::with_capacity(spans.len());
    let mut per_type: BTreeMap<Name, usize> = BTreeMap::new();
    // Full names first, so that "Strobel" before "Karl Strobel" in the text
    // still joins the full name's entity.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    // Cached: the key splits the mention into words, once per mention
    // rather than once per comparison. Stable like `sort_by_key`.
    order.sort_by_cached_key(|&i| {
        let s = &spans[i];
        let words = if &*s.entity == "PERSON" {
            name_words(&text[s.start..s.end]).len()
        } else {
            1
        };
        (std::cmp::Reverse(words), s.start)
    });
    let mut assigned = vec![usize::MAX; spans.len()];
    let mut lookup = indexed.then(Lookup::default);
    for &i in &order {
        let s = &spans[i];
        let value = &text[s.start..s.end];
        let key = normalise(&s.entity, value);
        let words = if &*s.entity == "PERSON" {
            name_words(value)
        } else {
            Vec::new()
        };
        let found = match &lookup {
            Some(l) => l.find(&entities, &s.entity, &key, &words),
            None => entities.iter().position(|e| {
                e.entity == s.entity
                    && (e.key == key
                        || (!words.is_empty()
                            && !e.words.is_empty()
                            && words.iter().all(|w| e.words.contains(w))))
            }),
        };
        let idx = match found {
            Some(idx) => idx,
            None => {
                entities.push(Entity {
                    entity: s.entity,
                    op: policy.op(&s.entity),
                    number: 0,
                    mentions: Vec::new(),
                    key,
                    words,
                    full: None,
                });
                let idx = entities.len() - 1;
                if let Some(l) = &mut lookup {
                    l.add(idx, &entities[idx]);
                }
                idx
            }
        };
        assigned[i] = idx;
    }
    // Number entities in order of first appearance in the text.
    let mut numbered = vec![false; entities.len()];
    for (i, &e) in assigned.iter().enumerate() {
        entities[e].mentions.push(i);
        entity_of.push(e);
        if !numbered[e] {
            numbered[e] = true;
            let n = per_type.entry(entities[e].entity).or_insert(0);
            *n += 1;
            entities[e].number = *n;
        }
    }
    Plan {
        spans,
        entity_of,
        entities,
    }
}

#[cfg(test)]
mod tests {

    proptest::proptest! {
        /// A text key is the words joined by one space and lower-cased, as
        /// collecting, joining and `to_lowercase` gave it: any text, and
        /// pieces with Unicode spaces, capitals that lower to more bytes
        /// and a final sigma.
        #[test]
        fn text_keys_are_the_joined_lowered_words(
            any in ".{0,40}",
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "Anna", " ", "  ", "\t", "\u{a0}", "\u{2003}", "\n", "ΟΔΟΣ", "İ", "ẞ", "Ǆ", "x", "MÜLLER",
                ][..]),
                0..12,
            ),
        ) {
            for text in [any, pieces.concat()] {
                let want = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
                proptest::prop_assert_eq!(normalise("PERSON", &text), want);
            }
        }
    }

    use super::*;

    fn sp(start: usize, end: usize, t: &str) -> Span {
        Span {
            start,
            end,
            entity: Name::from(t),
            score: 0.9,
            detector: Name::from("t"),
            validated: false,
        }
    }

    /// Parts of one record share their numbers: the same entity keeps its
    /// number, a new one takes the next of its type.
    #[test]
    fn numbering_carries_across_parts() {
        let policy = Policy::default();
        let span = |text: &str, v: &str, t: &str| {
            let start = text.find(v).unwrap();
            Span {
                start,
                end: start + v.len(),
                entity: Name::new(t),
                score: 0.9,
                detector: Name::new("test"),
                validated: false,
            }
        };
        let mut numbering = Numbering::default();
        let a = "I am Dana Whitlock.";
        let mut p1 = plan(a, vec![span(a, "Dana Whitlock", "PERSON")], &policy);
        numbering.renumber(&mut p1);
        let b = "Hello John Smith and Whitlock, call 555-0100.";
        let mut p2 = plan(
            b,
            vec![
                span(b, "John Smith", "PERSON"),
                span(b, "Whitlock", "PERSON"),
                span(b, "555-0100", "PHONE"),
            ],
            &policy,
        );
        numbering.renumber(&mut p2);
        let num = |p: &Plan, i: usize| p.entities[p.entity_of[i]].number;
        assert_eq!(num(&p1, 0), 1);
        assert_eq!((num(&p2, 0), num(&p2, 1), num(&p2, 2)), (2, 1, 1));
    }

    #[test]
    fn partial_name_mentions_join_the_full_name() {
        let text = "Strobel met Karl Strobel and Mr. Strobel; Anna too.";
        let spans = vec![
            sp(0, 7, "PERSON"),
            sp(12, 24, "PERSON"),
            sp(29, 40, "PERSON"),
            sp(42, 46, "PERSON"),
        ];
        let p = plan(text, spans, &Policy::default());
        assert_eq!(p.entities.len(), 2);
        assert_eq!(p.entity_of[0], p.entity_of[1]);
        assert_eq!(p.entity_of[1], p.entity_of[2]);
        assert_ne!(p.entity_of[3], p.entity_of[0]);
        assert_eq!(p.entities[p.entity_of[0]].number, 1);
        assert_eq!(p.entities[p.entity_of[3]].number, 2);
    }

    #[test]
    fn numbers_spelled_differently_are_one_entity() {
        let text = "4111 1111 1111 1111 / 4111-1111-1111-1111";
        let spans = vec![sp(0, 19, "CREDIT_CARD"), sp(22, 41, "CREDIT_CARD")];
        let p = plan(text, spans, &Policy::default());
        assert_eq!(p.entities.len(), 1);
        assert_eq!(p.entities[0].mentions, vec![0, 1]);
    }

    /// (type, number, mentions, key, words) of an entity.
    type Summary = (String, usize, Vec<usize>, String, Vec<String>);

    proptest::proptest! {
        /// Mentions drawn from a few name words, titles and numbers, so that
        /// keys repeat, names share words and contain each other: the
        /// lookups group and number exactly as the comparisons do.
        #[test]
        fn lookups_group_as_the_comparisons(
            mentions in proptest::collection::vec(
                (0usize..3, proptest::collection::vec(0usize..7, 1..4)),
                0..60,
            )
        ) {
            const WORDS: &[&str] = &["Karl", "Strobel", "Mr.", "anna", "KARL", "Li", "555"];
            const TYPES: &[&str] = &["PERSON", "PHONE", "ORG"];
            let mut text = String::new();
            let mut spans = Vec::new();
            for (t, ws) in &mentions {
                let value: Vec<&str> = ws.iter().map(|&w| WORDS[w]).collect();
                let start = text.len();
                text.push_str(&value.join(" "));
                spans.push(sp(start, text.len(), TYPES[*t]));
                text.push_str(", ");
            }
            let p = Policy::default();
            let scan = plan_with(&text, spans.clone(), &p, false);
            let lookup = plan_with(&text, spans, &p, true);
            proptest::prop_assert_eq!(&lookup.entity_of, &scan.entity_of);
            let summary = |p: &Plan| -> Vec<Summary> {
                p.entities
                    .iter()
                    .map(|e| (e.entity.to_string(), e.number, e.mentions.clone(), e.key.clone(), e.words.clone()))
                    .collect()
            };
            proptest::prop_assert_eq!(summary(&lookup), summary(&scan));
        }
    }

    #[test]
    fn op_parse_and_policy_default() {
        assert_eq!("mask".parse::<Op>().unwrap(), Op::Mask);
        assert!("bogus".parse::<Op>().is_err());
        let p = Policy::default();
        assert_eq!(p.op("PERSON"), Op::Pseudonym);
        assert_eq!(p.op("SOMETHING_NEW"), Op::Tag);
    }
}
