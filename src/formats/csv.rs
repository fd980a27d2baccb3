//! CSV records (RFC 4180) with columns selected by header name.
//!
//! The first record is the header. Only the selected columns change; the
//! header and every other field are written back byte for byte, including
//! their original quoting, line endings (LF, CRLF or CR) and a UTF-8 BOM,
//! because a CSV consumer may depend on any of them. A rewritten value is
//! quoted when RFC 4180 requires it (comma, quote, CR or LF in the value), or
//! when the original field was quoted, so the output stays valid CSV.
//!
//! Parsing is csv-core's (the `csv` crate's engine), driven one field at a
//! time: each call reports how many input bytes the field took, which gives
//! the raw span to copy through, and lets a record that outgrows
//! `max_record_bytes` be dropped while it streams instead of being buffered
//! whole. One record is in memory at a time.
//!
//! A bad record — field count different from the header's, invalid UTF-8, an
//! unterminated quoted field, too large — comes back as a
//! [`RecordError`] with the line it starts on; reading goes on with the next
//! record. Blank lines between records are skipped, as csv-core does.

use crate::RecordError;
use std::io::{self, BufRead, Write};
use std::ops::Range;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Streaming CSV reader keeping each record's raw bytes.
pub struct Reader<R> {
    src: Source<R>,
    core: csv_core::Reader,
    limit: usize,
    /// Line number of the next unread byte (1-based).
    line: usize,
    /// The header's field count, once read: every record must match it.
    width: Option<usize>,
    /// No byte read yet: a BOM may still come.
    at_start: bool,
    /// The input began with a UTF-8 BOM (kept in the header's raw bytes).
    bom: bool,
    scratch: Vec<u8>,
}

/// One record as read: the line it starts on, and the record or why it was
/// rejected.
#[derive(Debug)]
pub struct Item {
    pub line: usize,
    pub result: Result<Row, RecordError>,
}

/// A parsed record: its raw bytes (terminator included) and field values.
#[derive(Debug, Clone)]
pub struct Row {
    raw: Vec<u8>,
    fields: Vec<RawField>,
    values: Vec<String>,
    /// Fields whose value changed: only these are re-encoded.
    dirty: Vec<bool>,
}

#[derive(Debug, Clone)]
struct RawField {
    /// The field's bytes in `Row::raw`, without delimiter or terminator.
    span: Range<usize>,
    quoted: bool,
}

/// A selected column: its position and header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub index: usize,
    pub name: String,
}

/// The input, behind the few bytes read ahead to look for a BOM.
struct Source<R> {
    input: R,
    ahead: Vec<u8>,
}

impl<R: BufRead> Source<R> {
    fn fill(&mut self) -> io::Result<&[u8]> {
        if !self.ahead.is_empty() {
            return Ok(&self.ahead);
        }
        loop {
            match self.input.fill_buf() {
                // Re-borrowed below: returning it here does not borrow-check.
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.input.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.ahead.is_empty() {
            self.input.consume(n);
        } else {
            self.ahead.drain(..n);
        }
    }
}

fn newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

impl<R: BufRead> Reader<R> {
    /// A reader rejecting records above `limit` raw bytes.
    pub fn new(input: R, limit: usize) -> Self {
        Self {
            src: Source {
                input,
                ahead: Vec::new(),
            },
            // csv-core strips a BOM only when its first input holds all
            // three bytes; `strip_bom` does it whatever the read sizes.
            core: csv_core::Reader::new(),
            limit,
            line: 1,
            width: None,
            at_start: true,
            bom: false,
            scratch: vec![0; 8192],
        }
    }

    /// The header record (`None` for empty input). Call once, first.
    pub fn read_header(&mut self) -> io::Result<Option<Item>> {
        let item = self.read_raw()?;
        if let Some(Item {
            result: Ok(row), ..
        }) = &item
        {
            self.width = Some(row.len());
        }
        Ok(item)
    }

    /// The next data record, `None` at end of input.
    pub fn next_record(&mut self) -> io::Result<Option<Item>> {
        let Some(mut item) = self.read_raw()? else {
            return Ok(None);
        };
        if let (Some(expected), Ok(row)) = (self.width, &item.result)
            && row.len() != expected
        {
            item.result = Err(RecordError::FieldCount {
                expected,
                found: row.len(),
            });
        }
        Ok(Some(item))
    }

    /// Skip line terminators before a record (blank lines, which csv-core
    /// would discard too), counting lines.
    fn skip_blank_lines(&mut self) -> io::Result<()> {
        loop {
            let buf = self.src.fill()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            let whole = n == buf.len();
            self.line += newlines(&buf[..n]);
            self.src.consume(n);
            if !whole {
                return Ok(());
            }
        }
    }

    /// Read the first three bytes: a BOM is set aside (and written back
    /// with the header), anything else is read again by the parser.
    fn strip_bom(&mut self) -> io::Result<()> {
        let mut head = Vec::with_capacity(BOM.len());
        while head.len() < BOM.len() {
            let buf = self.src.fill()?;
            if buf.is_empty() {
                break;
            }
            let take = (BOM.len() - head.len()).min(buf.len());
            head.extend_from_slice(&buf[..take]);
            self.src.consume(take);
            if !BOM.starts_with(&head) {
                break;
            }
        }
        if head == BOM {
            self.bom = true;
        } else {
            self.src.ahead = head;
        }
        Ok(())
    }

    fn read_raw(&mut self) -> io::Result<Option<Item>> {
        let first = self.at_start;
        if first {
            self.strip_bom()?;
        }
        self.skip_blank_lines()?;
        let line = self.line;
        let mut raw = Vec::new();
        if first && self.bom {
            raw.extend_from_slice(BOM);
        }
        let mut fields = Vec::new();
        let mut values: Vec<Vec<u8>> = Vec::new();
        let mut value = Vec::new();
        let mut field_start = raw.len();
        let mut size = raw.len();
        let mut over = false;
        let mut last_byte = None;
        let mut unterminated = None;
        loop {
            let buf = self.src.fill()?;
            let eof = buf.is_empty();
            let (res, nin, nout) = self.core.read_field(buf, &mut self.scratch);
            let consumed = &buf[..nin];
            self.line += newlines(consumed);
            if nin > 0 {
                last_byte = consumed.last().copied();
            }
            if !over && size + nin > self.limit {
                // Too large: keep parsing to find the record's end, but
                // drop what was kept so memory stays bounded.
                over = true;
                raw = Vec::new();
                fields = Vec::new();
                values = Vec::new();
                value = Vec::new();
            }
            if !over {
                raw.extend_from_slice(consumed);
                value.extend_from_slice(&self.scratch[..nout]);
            }
            size += nin;
            self.src.consume(nin);
            match res {
                csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {
                    if eof && nin == 0 && nout == 0 {
                        // Cannot happen with csv-core's final transitions;
                        // guard against looping forever all the same.
                        break;
                    }
                }
                csv_core::ReadFieldResult::Field { record_end } => {
                    if !over {
                        // A field that ended on a byte ended on its delimiter
                        // or terminator; at end of input it ended on nothing.
                        let end = if nin > 0 { raw.len() - 1 } else { raw.len() };
                        let start = field_start;
                        let quoted = raw.get(start) == Some(&b'"') && start < end;
                        if quoted && unterminated.is_none() && !closed(&raw[start..end]) {
                            unterminated = Some(fields.len() + 1);
                        }
                        fields.push(RawField {
                            span: start..end,
                            quoted,
                        });
                        values.push(std::mem::take(&mut value));
                        field_start = raw.len();
                    }
                    if record_end {
                        if last_byte == Some(b'\r') && nin > 0 {
                            // CRLF: the LF belongs to this record's
                            // terminator (csv-core would discard it next).
                            let next = self.src.fill()?;
                            if next.first() == Some(&b'\n') {
                                self.src.consume(1);
                                self.line += 1;
                                size += 1;
                                if !over {
                                    raw.push(b'\n');
                                }
                            }
                        }
                        break;
                    }
                }
                // Only reached between records (a record in progress ends
                // with a Field at end of input): nothing but a BOM is lost.
                csv_core::ReadFieldResult::End => return Ok(None),
            }
        }
        self.at_start = false;
        if over {
            let e = RecordError::TooLarge {
                size,
                limit: self.limit,
            };
            return Ok(Some(Item {
                line,
                result: Err(e),
            }));
        }
        if let Some(column) = unterminated {
            return Ok(Some(Item {
                line,
                result: Err(RecordError::UnterminatedQuote { column }),
            }));
        }
        let mut strings = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            match String::from_utf8(v) {
                Ok(s) => strings.push(s),
                Err(e) => {
                    return Ok(Some(Item {
                        line,
                        result: Err(RecordError::FieldUtf8 {
                            column: i + 1,
                            offset: e.utf8_error().valid_up_to(),
                        }),
                    }));
                }
            }
        }
        let dirty = vec![false; strings.len()];
        Ok(Some(Item {
            line,
            result: Ok(Row {
                raw,
                fields,
                values: strings,
                dirty,
            }),
        }))
    }
}

/// Whether a quoted field (raw, starting with its opening quote) has its
/// closing quote; `""` inside is an escaped quote.
fn closed(raw: &[u8]) -> bool {
    let mut i = 1;
    while i < raw.len() {
        if raw[i] == b'"' {
            if raw.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return true;
        }
        i += 1;
    }
    false
}

impl Row {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Field values (unescaped).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// (column name, value) of each selected column the row has, in the
    /// order [`Row::for_each_mut`] visits them.
    pub fn selected<'a>(&'a self, cols: &'a [Column]) -> Vec<(&'a str, &'a str)> {
        cols.iter()
            .filter_map(|c| Some((c.name.as_str(), self.values.get(c.index)?.as_str())))
            .collect()
    }

    /// Replace the values of [`Row::selected`], in its order, by `new`
    /// (while it lasts).
    pub fn set_selected(&mut self, cols: &[Column], new: impl IntoIterator<Item = String>) {
        let mut new = new.into_iter();
        self.for_each_mut(cols, &mut |_, s| {
            if let Some(t) = new.next() {
                *s = t;
            }
        });
    }

    /// Apply `f` (column name, value) to each selected column; a value `f`
    /// changes is re-encoded on output, the rest stay byte for byte.
    pub fn for_each_mut(&mut self, cols: &[Column], f: &mut dyn FnMut(&str, &mut String)) {
        for c in cols {
            let Some(v) = self.values.get_mut(c.index) else {
                continue;
            };
            let before = v.clone();
            f(&c.name, v);
            if *v != before {
                self.dirty[c.index] = true;
            }
        }
    }

    /// The record as CSV bytes, terminator included (none when the input's
    /// last record had none).
    pub fn to_bytes(&self) -> Vec<u8> {
        if !self.dirty.contains(&true) {
            return self.raw.clone();
        }
        let mut out = Vec::with_capacity(self.raw.len() + 16);
        let mut pos = 0;
        for (i, f) in self.fields.iter().enumerate() {
            if !self.dirty[i] {
                continue;
            }
            out.extend_from_slice(&self.raw[pos..f.span.start]);
            // A lone empty field unquoted would be a blank line, which
            // readers skip: the record would vanish.
            let force = f.quoted || (self.fields.len() == 1 && self.values[i].is_empty());
            encode(&self.values[i], force, &mut out);
            pos = f.span.end;
        }
        out.extend_from_slice(&self.raw[pos..]);
        out
    }

    /// Write [`Row::to_bytes`] to `w`.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.to_bytes())
    }
}

/// RFC 4180 field encoding: quoted when it contains a delimiter, quote or
/// line break (or when `force`), quotes doubled inside.
fn encode(value: &str, force: bool, out: &mut Vec<u8>) {
    let needs = force
        || value
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !needs {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    out.push(b'"');
    for b in value.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Resolve column names against the header: every column carrying a
/// requested name is selected. An unknown name is an error listing the
/// header (names are schema, not record content).
pub fn select(header: &Row, names: &[String]) -> Result<Vec<Column>, String> {
    let mut cols = Vec::new();
    for name in names {
        let before = cols.len();
        for (index, h) in header.values().iter().enumerate() {
            if h == name && !cols.iter().any(|c: &Column| c.index == index) {
                cols.push(Column {
                    index,
                    name: name.clone(),
                });
            }
        }
        if cols.len() == before && !cols.iter().any(|c| &c.name == name) {
            return Err(format!(
                "column {name:?} is not in the CSV header (columns: {})",
                header.values().join(", ")
            ));
        }
    }
    cols.sort_by_key(|c| c.index);
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(data: &[u8], limit: usize) -> (Option<Item>, Vec<Item>) {
        // A tiny buffer exercises fields and terminators split across reads.
        let mut r = Reader::new(io::BufReader::with_capacity(3, data), limit);
        let head = r.read_header().unwrap();
        let mut items = Vec::new();
        while let Some(it) = r.next_record().unwrap() {
            items.push(it);
        }
        (head, items)
    }

    fn rows(items: &[Item]) -> Vec<Vec<String>> {
        items
            .iter()
            .map(|i| i.result.as_ref().unwrap().values().to_vec())
            .collect()
    }

    #[test]
    fn untouched_records_are_byte_exact() {
        let data = b"\xef\xbb\xbf\"id\",notes,n\r\n1,\"said \"\"hi\"\"\nthen left\",  x \r\n\r\n2,plain,\"\"\r\n3,last,z";
        let (head, items) = read_all(data, 1 << 20);
        let head = head.unwrap().result.unwrap();
        assert_eq!(head.values(), ["id", "notes", "n"]);
        assert_eq!(
            rows(&items),
            [
                vec!["1", "said \"hi\"\nthen left", "  x "],
                vec!["2", "plain", ""],
                vec!["3", "last", "z"],
            ]
        );
        assert_eq!(
            items.iter().map(|i| i.line).collect::<Vec<_>>(),
            [2, 5, 6],
            "records start on their own lines; the quoted newline counts"
        );
        let mut out = head.to_bytes();
        for i in &items {
            out.extend(i.result.as_ref().unwrap().to_bytes());
        }
        // Everything but the skipped blank line comes back byte for byte.
        let mut expected = data.to_vec();
        let blank = expected.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        expected.drain(blank..blank + 2);
        assert_eq!(out, expected);
    }

    #[test]
    fn rewritten_fields_are_quoted_when_needed() {
        let data = b"id,notes,other\n1,\"Ann, at home\",keep \"as\" is\n2,Bob,x\n";
        let (head, items) = read_all(data, 1 << 20);
        let head = head.unwrap().result.unwrap();
        let cols = select(&head, &["notes".to_string()]).unwrap();
        assert_eq!(
            cols,
            [Column {
                index: 1,
                name: "notes".into()
            }]
        );
        let mut out = Vec::new();
        let new = ["X", "say \"no\", then\nleave"];
        for (it, new) in items.into_iter().zip(new) {
            let mut row = it.result.unwrap();
            row.for_each_mut(&cols, &mut |name, v| {
                assert_eq!(name, "notes");
                *v = new.to_string();
            });
            out.extend(row.to_bytes());
        }
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "1,\"X\",keep \"as\" is\n2,\"say \"\"no\"\", then\nleave\",x\n"
        );
        let mut again = b"id,notes,other\n".to_vec();
        again.extend(out);
        let (_, items) = read_all(&again, 1 << 20);
        assert_eq!(
            rows(&items),
            [
                vec!["1", "X", "keep \"as\" is"],
                vec!["2", "say \"no\", then\nleave", "x"]
            ]
        );
    }

    #[test]
    fn a_single_empty_column_stays_a_record() {
        let (_, items) = read_all(b"notes\nAnn\n", 1 << 20);
        let mut row = items.into_iter().next().unwrap().result.unwrap();
        let cols = vec![Column {
            index: 0,
            name: "notes".into(),
        }];
        row.for_each_mut(&cols, &mut |_, v| v.clear());
        assert_eq!(row.to_bytes(), b"\"\"\n");
    }

    #[test]
    fn bad_records_are_reported_and_reading_goes_on() {
        let data = b"a,b\n1,2\n1,2,3\nok,\xff\xfe\nbig,0123456789012345678901234567890123456789\n\"x\ny\",z\n3,4\n5,\"open\n";
        let (_, items) = read_all(data, 24);
        let got: Vec<(usize, Result<Vec<String>, RecordError>)> = items
            .into_iter()
            .map(|i| (i.line, i.result.map(|r| r.values().to_vec())))
            .collect();
        assert_eq!(
            got,
            [
                (2, Ok(vec!["1".into(), "2".into()])),
                (
                    3,
                    Err(RecordError::FieldCount {
                        expected: 2,
                        found: 3
                    })
                ),
                (
                    4,
                    Err(RecordError::FieldUtf8 {
                        column: 2,
                        offset: 0
                    })
                ),
                (
                    5,
                    Err(RecordError::TooLarge {
                        size: 45,
                        limit: 24
                    })
                ),
                (6, Ok(vec!["x\ny".into(), "z".into()])),
                (8, Ok(vec!["3".into(), "4".into()])),
                (9, Err(RecordError::UnterminatedQuote { column: 2 })),
            ]
        );
    }

    #[test]
    fn unknown_column_is_an_error_naming_the_header() {
        let (head, _) = read_all(b"id,text\n", 100);
        let head = head.unwrap().result.unwrap();
        let e = select(&head, &["notes".into()]).unwrap_err();
        assert!(e.contains("\"notes\"") && e.contains("id, text"), "{e}");
        let (head, items) = read_all(b"", 100);
        assert!(head.is_none() && items.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever a rewrite puts in a field, the output parses back to
        /// exactly those values.
        #[test]
        fn any_value_round_trips(vals in proptest::collection::vec("[a-z,\"\r\n ]{0,12}|(?s).{0,8}", 1..4),
                                 crlf in any::<bool>()) {
            let term = if crlf { "\r\n" } else { "\n" };
            let names: Vec<String> = (0..vals.len()).map(|i| format!("c{i}")).collect();
            let header = format!("{}{term}", names.join(","));
            let blank = vec!["q"; vals.len()].join(",");
            let data = format!("{header}{blank}{term}");
            let (head, items) = read_all(data.as_bytes(), 1 << 20);
            let cols = select(&head.unwrap().result.unwrap(), &names).unwrap();
            let mut row = items.into_iter().next().unwrap().result.unwrap();
            let mut it = vals.iter();
            row.for_each_mut(&cols, &mut |_, v| *v = it.next().unwrap().clone());
            let mut again = header.into_bytes();
            again.extend(row.to_bytes());
            let (_, items) = read_all(&again, 1 << 20);
            prop_assert_eq!(items.len(), 1);
            prop_assert_eq!(items[0].result.as_ref().unwrap().values(), &vals[..]);
        }
    }
}
