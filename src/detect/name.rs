//! Interned names: the entity types and detector ids spans carry.

use std::collections::HashSet;
use std::fmt;
use std::sync::{LazyLock, Mutex};

/// An entity type or detector id ("PERSON", "rule:email"), interned once
/// and then copied.
///
/// Every span carries two of these, and a scan makes and drops millions of
/// spans with the same few names. As `Arc<str>` each span cost two atomic
/// increments when made and two decrements when dropped: about 18 ns a
/// pair on the development machine, a few per cent of a short-record scan.
/// A `Name` is a `&'static str`: copying it is free.
///
/// The names come from the rule packs, the word lists, the deny list, the
/// policy, the model's six kinds and the spans a user passes to the CLI: a
/// bounded set in a daemon (its configuration), so each distinct name is
/// leaked once into a process-wide table and shared from there. Reloading
/// a configuration with the same names adds nothing.
#[derive(Clone, Copy)]
pub struct Name(&'static str);

static TABLE: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

impl Name {
    /// The interned name equal to `s`.
    pub fn new(s: &str) -> Self {
        // A poisoned table still holds valid names: a panic elsewhere while
        // it was locked cannot have left a half-inserted entry.
        let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&known) = table.get(s) {
            return Name(known);
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        table.insert(leaked);
        Name(leaked)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Whether `self` and `other` are one name, by address alone: every
    /// name is interned by [`Name::new`], so equal strings share one
    /// address. Cheaper than `==` when the names differ (the usual case of
    /// a filter), which must then compare the strings.
    ///
    /// The start addresses alone: no two interned names share one (each
    /// is its own allocation; the one empty name is the only string of
    /// length 0), so comparing the lengths as well would be a second
    /// compare per test for nothing.
    #[inline]
    pub fn same(self, other: Name) -> bool {
        std::ptr::eq(self.0.as_ptr(), other.0.as_ptr())
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(s)
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        // Every name comes from the table, so equal names are one string
        // and the pointer test answers; the string compare only runs for
        // names that differ, and keeps the answer right regardless.
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As its string: consistent with `eq`, which compares strings.
        self.0.hash(state)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(other.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_are_one_string() {
        let a = Name::new("PERSON");
        let b = Name::new(&String::from("PERSON"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, b);
        assert_ne!(a, Name::new("PERSONS"));
        assert_eq!(&*a, "PERSON");
        assert_eq!(format!("{a} {a:?}"), "PERSON \"PERSON\"");
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(set.contains(&Name::new("PERSON")));
        assert!(Name::new("ADDRESS") < a);
    }

    #[test]
    fn same_is_equality() {
        let words = ["PERSON", "PERSOM", "PERSONS", "PERSO", "LOCATION", "ID", ""];
        for x in words {
            for y in words {
                let (a, b) = (Name::new(x), Name::new(&String::from(y)));
                assert_eq!(a.same(b), x == y, "{x} {y}");
                assert_eq!(a.same(b), a == b, "{x} {y}");
            }
        }
    }

    #[test]
    fn names_serialize_as_strings() {
        let json = serde_json::to_string(&Name::new("rule:email")).unwrap();
        assert_eq!(json, "\"rule:email\"");
    }
}
