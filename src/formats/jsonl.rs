//! JSONL records with field paths: `text`, `meta.note`, `messages[].content`.
//! Only the selected string fields change. A record is kept as its top-level
//! fields in order, each as the raw JSON text it had: fields no path touches
//! are written back byte for byte (numbers such as `1e3` keep their
//! spelling). A field a path reaches is parsed (key order and number digits
//! kept by `preserve_order` and `arbitrary_precision`) and re-serialised.

use crate::RecordError;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A JSONL record's top-level fields in order, values as raw JSON. `K` is
/// the key and `V` the raw value: owned in a [`Record`] (which a rewrite
/// changes), borrowed from the line in a [`RecordRef`] (which a scan only
/// reads). One definition, so that both parse a line alike, to the byte
/// and the error.
#[derive(Debug)]
pub struct Fields<K, V> {
    fields: Vec<(K, V)>,
}

/// One JSONL record, owned: what rewrites change in place.
pub type Record = Fields<String, Box<RawValue>>;

/// One JSONL record borrowed from its line: what scans read. Its keys and
/// raw values are slices of the line (a key is copied only when it has
/// escapes), so parsing a record allocates one `Vec` and no string.
pub type RecordRef<'a> = Fields<Key<'a>, &'a RawValue>;

impl<'de, K: serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::Deserialize<'de>
    for Fields<K, V>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::de::Visitor<'de>
            for Visit<K, V>
        {
            type Value = Fields<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Fields<K, V>, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = m.next_entry::<K, V>()? {
                    fields.push((k, v));
                }
                Ok(Fields { fields })
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A JSON string borrowed from the input when it has no escapes (serde's
/// own `Cow<str>` always copies), else unescaped into a `String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_string(Visit)
    }
}

impl<K: std::ops::Deref<Target = str>, V: std::ops::Deref<Target = RawValue>> Fields<K, V> {
    /// The record's `id` when it is a string or number (for reports).
    pub fn id(&self) -> Option<Value> {
        let (_, raw) = self.fields.iter().find(|(k, _)| &**k == "id")?;
        match serde_json::from_str::<Value>(raw.get()).ok()? {
            id @ (Value::String(_) | Value::Number(_)) => Some(id),
            _ => None,
        }
    }
}

impl Record {
    /// Apply `f` to every string `path` reaches; the touched top-level field
    /// is re-serialised, the others stay as they were.
    pub fn for_each_mut(
        &mut self,
        path: &FieldPath,
        f: &mut dyn FnMut(&str, &mut String),
    ) -> Result<usize, RecordError> {
        let Some((Step::Key(first), rest)) = path.steps.split_first() else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        let Some(slot) = self.fields.iter_mut().find(|(k, _)| k == first) else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        let (n, v) = walk_raw(slot.1.get(), first, rest, &path.raw, f)?;
        if n > 0 {
            let text = serde_json::to_string(&v).map_err(|e| RecordError::Json(e.to_string()))?;
            slot.1 = RawValue::from_string(text).map_err(|e| RecordError::Json(e.to_string()))?;
        }
        Ok(n)
    }

    /// Call `f` with every string `path` reaches, in the order
    /// [`Record::for_each_mut`] visits them; the record is unchanged.
    fn for_each(
        &self,
        path: &FieldPath,
        f: &mut dyn FnMut(&str, &str),
    ) -> Result<usize, RecordError> {
        let Some((Step::Key(first), rest)) = path.steps.split_first() else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        let Some(slot) = self.fields.iter().find(|(k, _)| k == first) else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        let (n, _) = walk_raw(slot.1.get(), first, rest, &path.raw, &mut |loc, s| {
            f(loc, s)
        })?;
        Ok(n)
    }

    /// (location, text) of every string `paths` reach, in the order
    /// [`Record::for_each_mut`] visits them: all the parts of the record,
    /// read before any is rewritten.
    pub fn texts(&self, paths: &[FieldPath]) -> Result<Vec<(String, String)>, RecordError> {
        let mut out = Vec::new();
        for path in paths {
            self.for_each(path, &mut |loc, s| {
                out.push((loc.to_string(), s.to_string()))
            })?;
        }
        Ok(out)
    }

    /// Replace the strings `paths` reach, in [`Record::texts`]' order, by
    /// `new` (while it lasts).
    pub fn set_texts(
        &mut self,
        paths: &[FieldPath],
        new: impl IntoIterator<Item = String>,
    ) -> Result<(), RecordError> {
        let mut new = new.into_iter();
        for path in paths {
            self.for_each_mut(path, &mut |_, s| {
                if let Some(t) = new.next() {
                    *s = t;
                }
            })?;
        }
        Ok(())
    }

    /// The record as one JSON line (compact separators between top-level
    /// fields; field values as they were unless rewritten).
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(
            self.fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 2,
        );
        out.push('{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into()));
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }
}

impl<'a> RecordRef<'a> {
    /// Append to `out` every string `path` reaches with its location: the
    /// strings and errors of [`Record::for_each_mut`], read only. A
    /// top-level string field (the usual `text`) is borrowed from the line
    /// when it has no escapes, and located by the path's own text, so a scan
    /// copies nothing; other fields are parsed as `for_each_mut` parses them
    /// and their strings moved out of the parsed value.
    pub fn strings<'p>(
        &self,
        path: &'p FieldPath,
        out: &mut Vec<(Cow<'p, str>, Cow<'a, str>)>,
    ) -> Result<usize, RecordError> {
        let Some((Step::Key(first), rest)) = path.steps.split_first() else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        let Some(raw) = self
            .fields
            .iter()
            .find(|(k, _)| **k == **first)
            .map(|(_, v)| v.get())
        else {
            return Err(RecordError::MissingField(path.raw.clone()));
        };
        // A one-key path locates its field as the key itself (`path.raw`),
        // and a JSON string parses to the same text whatever it is parsed
        // into; anything else (or an error) takes the general way, which
        // gives the error `for_each_mut` gives.
        if rest.is_empty()
            && raw.starts_with('"')
            && let Ok(Key(text)) = serde_json::from_str::<Key<'a>>(raw)
        {
            out.push((Cow::Borrowed(&path.raw), text));
            return Ok(1);
        }
        let (n, _) = walk_raw(raw, first, rest, &path.raw, &mut |loc, s| {
            out.push((Cow::Owned(loc.to_string()), Cow::Owned(std::mem::take(s))))
        })?;
        Ok(n)
    }
}

/// Parse `raw`, the value of top-level field `first`, and call `f` on every
/// string the path's `rest` reaches: what [`Record::for_each_mut`] and
/// [`RecordRef::strings`] share. Returns the count and the parsed value
/// (with `f`'s changes).
fn walk_raw(
    raw: &str,
    first: &str,
    rest: &[Step],
    path: &str,
    f: &mut dyn FnMut(&str, &mut String),
) -> Result<(usize, Value), RecordError> {
    let mut v: Value = serde_json::from_str(raw).map_err(|e| RecordError::Json(e.to_string()))?;
    let mut loc = first.to_string();
    let n = walk(rest, &mut v, &mut loc, false, f, path)?;
    Ok((n, v))
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    /// `[]`: every element of an array.
    Each,
}

/// A parsed field path such as `messages[].content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    pub raw: String,
    steps: Vec<Step>,
}

impl std::str::FromStr for FieldPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty field path".into());
        }
        let mut steps = Vec::new();
        for part in s.split('.') {
            let mut name = part;
            let mut each = 0;
            while let Some(stripped) = name.strip_suffix("[]") {
                name = stripped;
                each += 1;
            }
            if name.contains('[') || name.contains(']') {
                return Err(format!(
                    "field path {s:?}: only [] (every element) is supported"
                ));
            }
            if name.is_empty() && each == 0 {
                return Err(format!("field path {s:?}: empty segment"));
            }
            if !name.is_empty() {
                steps.push(Step::Key(name.to_string()));
            }
            steps.extend(std::iter::repeat_n(Step::Each, each));
        }
        Ok(Self {
            raw: s.to_string(),
            steps,
        })
    }
}

impl FieldPath {
    /// Call `f` on every string this path reaches in `v`, with the concrete
    /// location (e.g. `messages[2].content`). A missing key is an error,
    /// except inside array elements (chat messages differ in shape); null
    /// values are skipped; other non-string values are errors.
    pub fn for_each_mut(
        &self,
        v: &mut Value,
        f: &mut dyn FnMut(&str, &mut String),
    ) -> Result<usize, RecordError> {
        let mut loc = String::new();
        walk(&self.steps, v, &mut loc, false, f, &self.raw)
    }
}

/// "a number", "an object"...: what a field holds, for error messages
/// (never the value itself).
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn walk(
    steps: &[Step],
    v: &mut Value,
    loc: &mut String,
    in_array: bool,
    f: &mut dyn FnMut(&str, &mut String),
    raw: &str,
) -> Result<usize, RecordError> {
    let Some((step, rest)) = steps.split_first() else {
        return match v {
            Value::String(s) => {
                f(loc, s);
                Ok(1)
            }
            Value::Null => Ok(0),
            other => Err(RecordError::NotString {
                path: loc.clone(),
                found: kind(other),
            }),
        };
    };
    let base = loc.len();
    let r = match (step, v) {
        (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
            Some(child) => {
                if !loc.is_empty() {
                    loc.push('.');
                }
                loc.push_str(k);
                walk(rest, child, loc, in_array, f, raw)
            }
            None if in_array => Ok(0),
            None => Err(RecordError::MissingField(raw.to_string())),
        },
        (Step::Each, Value::Array(items)) => {
            let mut n = 0;
            for (i, item) in items.iter_mut().enumerate() {
                let b = loc.len();
                loc.push_str(&format!("[{i}]"));
                n += walk(rest, item, loc, true, f, raw)?;
                loc.truncate(b);
            }
            Ok(n)
        }
        (_, Value::Null) if in_array => Ok(0),
        (_, other) => Err(RecordError::NotString {
            path: if loc.is_empty() {
                raw.to_string()
            } else {
                loc.clone()
            },
            found: kind(other),
        }),
    };
    loc.truncate(base);
    r
}

/// Parse one line as a JSON object.
pub fn parse_line(line: &[u8]) -> Result<Record, RecordError> {
    parse(line)
}

/// Parse one line as a JSON object borrowed from the line (for reading
/// only); the same errors as [`parse_line`].
pub fn parse_line_ref(line: &[u8]) -> Result<RecordRef<'_>, RecordError> {
    parse(line)
}

fn parse<'a, T: serde::Deserialize<'a>>(line: &'a [u8]) -> Result<T, RecordError> {
    let text = std::str::from_utf8(line).map_err(|e| RecordError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        // Distinguish "not JSON" from "JSON but not an object".
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => RecordError::NotObject,
            Err(e) => RecordError::Json(e.to_string()),
        });
    }
    // serde_json's messages give line/column and the kind of error, never
    // the offending content.
    serde_json::from_str(text).map_err(|e| RecordError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FieldPath {
        s.parse().unwrap()
    }

    #[test]
    fn nested_paths_and_order_kept() {
        let line = br#"{"z":1,"messages":[{"role":"user","content":"hi Ann"},{"role":"tool","content":null},{"role":"x"}],"a":1.50}"#;
        let mut v = parse_line(line).unwrap();
        let mut seen = Vec::new();
        let n = v
            .for_each_mut(&p("messages[].content"), &mut |loc, s| {
                seen.push(loc.to_string());
                s.make_ascii_uppercase();
            })
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(seen, ["messages[0].content"]);
        assert_eq!(
            v.to_line(),
            r#"{"z":1,"messages":[{"role":"user","content":"HI ANN"},{"role":"tool","content":null},{"role":"x"}],"a":1.50}"#
        );
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = parse_line(br#"{"id":"x","body":"t"}"#).unwrap();
        assert_eq!(v.id(), Some(Value::String("x".into())));
        let e = v.for_each_mut(&p("text"), &mut |_, _| {}).unwrap_err();
        assert_eq!(e, RecordError::MissingField("text".into()));
        let mut v = parse_line(br#"{"text":5}"#).unwrap();
        let e = v.for_each_mut(&p("text"), &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("number"), "{e}");
        assert!(matches!(parse_line(b"{\"a\":"), Err(RecordError::Json(_))));
        assert!(matches!(parse_line(b"[1]"), Err(RecordError::NotObject)));
        assert!(matches!(
            parse_line(b"{\"a\":\"\xff\"}"),
            Err(RecordError::InvalidUtf8 { offset: 6 })
        ));
    }

    #[test]
    fn untouched_fields_are_byte_exact() {
        let line =
            br#"{"id": 7, "amount": 1e3, "rate":2.5E-3, "text": "a b", "nested": {"x": [1 , 2]}}"#;
        let mut v = parse_line(line).unwrap();
        v.for_each_mut(&p("text"), &mut |_, s| s.push('!')).unwrap();
        assert_eq!(
            v.to_line(),
            r#"{"id":7,"amount":1e3,"rate":2.5E-3,"text":"a b!","nested":{"x": [1 , 2]}}"#
        );
    }

    /// `RecordRef::strings` (borrowed, with a fast way for top-level
    /// strings) finds what `Record::for_each_mut` visits, with the same
    /// locations, counts and errors.
    #[test]
    fn borrowed_strings_match_for_each_mut() {
        let lines: &[&[u8]] = &[
            br#"{"id":1,"text":"plain text"}"#,
            br#"{"text":"esc \"q\" \u00e9\ud83d\ude00 \n\t end","id":"a\u0062"}"#,
            br#"{"text":"lone \ud800 surrogate"}"#,
            br#"{"text":"bad \u12 escape"}"#,
            br#"{"text":"a","text":"b"}"#,
            br#"{"te\u0078t":"escaped key"}"#,
            br#"{"text":null}"#,
            br#"{"text":5}"#,
            br#"{"text":["a",null,"b"]}"#,
            br#"{"text":{"a":"b"}}"#,
            br#"{"body":"x"}"#,
            br#"{"meta":{"note":"n \u0041","tags":["x",{"y":1}]},"text":"t"}"#,
            br#"{"messages":[{"content":"hi"},{"content":null},{"role":"x"},null,{"content":"yo \u00e9"}]}"#,
            br#"{"messages":[{"content":"hi"},{"content":5}]}"#,
            br#"{"messages":{"content":"x"}}"#,
        ];
        let paths = [
            "text",
            "id",
            "body",
            "meta.note",
            "meta.tags[]",
            "text[]",
            "messages[].content",
            "messages[]",
        ];
        for line in lines {
            for path in paths {
                let path = p(path);
                let Ok(mut owned) = parse_line(line) else {
                    assert!(parse_line_ref(line).is_err());
                    continue;
                };
                let mut want = Vec::new();
                let want_n = owned
                    .for_each_mut(&path, &mut |loc, s| want.push((loc.to_string(), s.clone())));
                let mut got = Vec::new();
                let got_n = parse_line_ref(line).unwrap().strings(&path, &mut got);
                let got: Vec<(String, String)> = got
                    .into_iter()
                    .map(|(l, t)| (l.into_owned(), t.into_owned()))
                    .collect();
                let what = format!("{} at {}", String::from_utf8_lossy(line), path.raw);
                assert_eq!(got_n, want_n, "{what}");
                assert_eq!(got, want, "{what}");
            }
        }
        // A plain top-level string is borrowed from the line.
        let line = br#"{"text":"plain"}"#;
        let text = p("text");
        let mut got = Vec::new();
        parse_line_ref(line)
            .unwrap()
            .strings(&text, &mut got)
            .unwrap();
        assert!(matches!(got[0].1, Cow::Borrowed("plain")));
    }

    /// A borrowed record fails where an owned one does, with the same
    /// error, and finds the same id.
    #[test]
    fn borrowed_records_parse_alike() {
        let lines: &[&[u8]] = &[
            br#"{"id":1e3,"text":"x"}"#,
            br#"{"id":"a\"b","id":2}"#,
            br#"{"id":true}"#,
            br#"{"id":"x","text":"ok",}"#,
            br#"{"id":"x" "text":"ok"}"#,
            br#"{"a":"\u00"}"#,
            br#"{"a":"\ud800"}"#,
            br#"{"a":1} trailing"#,
            b"{\"a\":\"\xff\"}",
            b"[1]",
            b"nope",
            b"  {\"k\\u0065y\":1}  ",
        ];
        for line in lines {
            let owned = parse_line(line).map(|r| r.id());
            let borrowed = parse_line_ref(line).map(|r| r.id());
            assert_eq!(
                format!("{owned:?}"),
                format!("{borrowed:?}"),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn bad_paths_rejected() {
        assert!("a[0]".parse::<FieldPath>().is_err());
        assert!("".parse::<FieldPath>().is_err());
        assert!("a..b".parse::<FieldPath>().is_err());
        assert_eq!(p("a[][]").steps.len(), 3);
    }
}
