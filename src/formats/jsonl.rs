//! JSONL records with field paths: `text`, `meta.note`, `messages[].content`.
//! Only the selected string fields change. A record is kept as its top-level
//! fields in order, each as the raw JSON text it had: fields no path touches
//! are written back byte for byte (numbers such as `1e3` keep their
//! spelling). A field a path reaches is parsed (key order and number digits
//! kept by `preserve_order` and `arbitrary_precision`) and re-serialised.

use crate::RecordError;
use serde_json::Value;
use serde_json::value::RawValue;

/// One JSONL record: its top-level fields in order, values as raw JSON.
#[derive(Debug)]
pub struct Record {
    fields: Vec<(String, Box<RawValue>)>,
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Record;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Record, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                    fields.push((k, v));
                }
                Ok(Record { fields })
            }
        }
        d.deserialize_map(V)
    }
}

impl Record {
    /// The record's `id` when it is a string or number (for reports).
    pub fn id(&self) -> Option<Value> {
        let (_, raw) = self.fields.iter().find(|(k, _)| k == "id")?;
        match serde_json::from_str::<Value>(raw.get()).ok()? {
            id @ (Value::String(_) | Value::Number(_)) => Some(id),
            _ => None,
        }
    }

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
        let mut v: Value =
            serde_json::from_str(slot.1.get()).map_err(|e| RecordError::Json(e.to_string()))?;
        let mut loc = first.clone();
        let n = walk(rest, &mut v, &mut loc, false, f, &path.raw)?;
        if n > 0 {
            let text = serde_json::to_string(&v).map_err(|e| RecordError::Json(e.to_string()))?;
            slot.1 = RawValue::from_string(text).map_err(|e| RecordError::Json(e.to_string()))?;
        }
        Ok(n)
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

    #[test]
    fn bad_paths_rejected() {
        assert!("a[0]".parse::<FieldPath>().is_err());
        assert!("".parse::<FieldPath>().is_err());
        assert!("a..b".parse::<FieldPath>().is_err());
        assert_eq!(p("a[][]").steps.len(), 3);
    }
}
