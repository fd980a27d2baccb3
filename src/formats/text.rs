//! Plain text: a record is a paragraph (lines up to a blank line), so an
//! address or a signature that spans lines is seen whole, while memory stays
//! bounded by the largest paragraph (capped; longer ones are split at line
//! boundaries).

use super::read_line_capped;
use crate::RecordError;
use std::io::BufRead;

/// One paragraph: its text (lines joined with `\n`, no trailing newline),
/// the blank lines that followed it, and the 1-based line it started on.
#[derive(Debug)]
pub struct Paragraph {
    pub first_line: usize,
    pub result: Result<String, RecordError>,
    /// Exact bytes that followed the paragraph (newlines, blank lines).
    pub trailer: String,
}

/// Iterator over paragraphs of a text stream.
pub struct Paragraphs<R> {
    reader: R,
    line_no: usize,
    limit: usize,
    buf: Vec<u8>,
    pending: Option<Vec<u8>>,
    done: bool,
}

impl<R: BufRead> Paragraphs<R> {
    pub fn new(reader: R, limit: usize) -> Self {
        Self {
            reader,
            line_no: 0,
            limit,
            buf: Vec::new(),
            pending: None,
            done: false,
        }
    }

    fn next_line(&mut self) -> std::io::Result<Option<(Vec<u8>, usize)>> {
        if let Some(p) = self.pending.take() {
            let n = p.len();
            return Ok(Some((p, n)));
        }
        match read_line_capped(&mut self.reader, &mut self.buf, self.limit)? {
            None => Ok(None),
            Some(n) => {
                self.line_no += 1;
                Ok(Some((std::mem::take(&mut self.buf), n)))
            }
        }
    }
}

impl<R: BufRead> Iterator for Paragraphs<R> {
    type Item = std::io::Result<Paragraph>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut para: Vec<u8> = Vec::new();
        let mut first_line = 0;
        let mut error: Option<RecordError> = None;
        let mut trailer = String::new();
        loop {
            let (line, full) = match self.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => return Some(Err(e)),
            };
            let blank = line.iter().all(|b| b.is_ascii_whitespace()) && full == line.len();
            if blank {
                if para.is_empty() && error.is_none() {
                    // Leading blank lines belong to the output as they are.
                    trailer.push_str(std::str::from_utf8(&line).unwrap_or(""));
                    trailer.push('\n');
                    if first_line == 0 {
                        return Some(Ok(Paragraph {
                            first_line: self.line_no,
                            result: Ok(String::new()),
                            trailer,
                        }));
                    }
                    continue;
                }
                // The newline that ended the paragraph's last line, then
                // the blank line itself.
                trailer.push('\n');
                trailer.push_str(std::str::from_utf8(&line).unwrap_or(""));
                trailer.push('\n');
                break;
            }
            if first_line == 0 {
                first_line = self.line_no;
            }
            if full > line.len() {
                error.get_or_insert(RecordError::TooLarge {
                    size: full,
                    limit: self.limit,
                });
            }
            if para.len() + line.len() + 1 > self.limit && !para.is_empty() {
                // Split an oversized paragraph at this line boundary.
                self.pending = Some(line);
                break;
            }
            if !para.is_empty() {
                para.push(b'\n');
            }
            para.extend_from_slice(&line);
        }
        if para.is_empty() && error.is_none() && trailer.is_empty() {
            return None;
        }
        let result = match error {
            Some(e) => Err(e),
            None => String::from_utf8(para).map_err(|e| RecordError::InvalidUtf8 {
                offset: e.utf8_error().valid_up_to(),
            }),
        };
        if trailer.is_empty() {
            // Split at a size limit or end of input: the last line's newline
            // (a missing final newline is added: the text convention).
            trailer.push('\n');
        }
        Some(Ok(Paragraph {
            first_line,
            result,
            trailer,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paras(s: &[u8]) -> Vec<(usize, Result<String, RecordError>, String)> {
        Paragraphs::new(s, 1 << 20)
            .map(|p| p.unwrap())
            .map(|p| (p.first_line, p.result, p.trailer))
            .collect()
    }

    #[test]
    fn splits_on_blank_lines_and_keeps_layout() {
        let v = paras(b"a\nb\n\nc\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], (1, Ok("a\nb".into()), "\n\n".into()));
        assert_eq!(v[1], (4, Ok("c".into()), "\n".into()));
    }

    #[test]
    fn invalid_utf8_is_one_bad_paragraph() {
        let v = paras(b"ok\n\nbad \xff\n\nfine\n");
        assert!(v[0].1.is_ok());
        assert_eq!(v[1].0, 3);
        assert!(matches!(v[1].1, Err(RecordError::InvalidUtf8 { .. })));
        assert_eq!(v[2].1, Ok("fine".into()));
    }
}
