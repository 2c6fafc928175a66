//! An incremental Server-Sent Events parser (the WHATWG event-stream format): comments,
//! multi-line `data`, CR/LF/CRLF line ends. An incomplete event at the end is never yielded.
//! A line longer than [`MAX_LINE`] (or an event's data longer than [`MAX_EVENT`]) is an
//! error, which ends the stream: a hostile or broken server cannot make the client buffer
//! without bound.

/// The longest line accepted (bytes, without its line end).
pub const MAX_LINE: usize = 1024 * 1024;
/// The most data one event may carry (bytes, its `data` lines together).
pub const MAX_EVENT: usize = 4 * MAX_LINE;

/// A line or an event over the caps: the stream is not one this client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event stream has {what} longer than {limit} bytes; the stream is dropped")]
pub struct TooLong {
    pub what: &'static str,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

pub struct Parser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
    /// The bytes in `data` (with the newlines that will join them).
    data_len: usize,
    max_line: usize,
    id: Option<String>,
    /// The last byte seen was a CR: a following LF belongs to the same line end.
    after_cr: bool,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::with_max_line(MAX_LINE)
    }
}

impl Parser {
    /// A parser that accepts lines of at most `max_line` bytes (events: 4 times that).
    pub fn with_max_line(max_line: usize) -> Parser {
        Parser {
            buf: Vec::new(),
            event: String::new(),
            data: Vec::new(),
            data_len: 0,
            max_line,
            id: None,
            after_cr: false,
        }
    }

    /// Feeds bytes; pushes the events they complete onto `out`. After an error the stream
    /// must be dropped (the events pushed before it are complete and may be used).
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), TooLong> {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.buf);
                    if let Some(e) = self.line(&String::from_utf8_lossy(&line))? {
                        out.push(e);
                    }
                }
                _ if self.buf.len() >= self.max_line => {
                    self.buf = Vec::new();
                    return Err(TooLong {
                        what: "a line",
                        limit: self.max_line,
                    });
                }
                _ => self.buf.push(b),
            }
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<Option<Event>, TooLong> {
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            let event = std::mem::take(&mut self.event);
            self.data_len = 0;
            if data.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Event {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data: data.join("\n"),
                id: self.id.clone(),
            }));
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "event" => self.event = value.to_owned(),
            "data" => {
                self.data_len += value.len() + 1;
                if self.data_len > self.max_line.saturating_mul(4) {
                    self.data = Vec::new();
                    self.data_len = 0;
                    return Err(TooLong {
                        what: "an event",
                        limit: self.max_line.saturating_mul(4),
                    });
                }
                self.data.push(value.to_owned());
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_anywhere() {
        let text = b": keepalive\n\nevent: snapshot\r\nid: 3\r\ndata: {\"a\":\ndata: 1}\r\n\r\nevent:change\nid:4\ndata:x\n\nevent: change\nid: 5\ndata: cut";
        for split in 0..text.len() {
            let mut p = Parser::default();
            let mut got = Vec::new();
            p.feed(&text[..split], &mut got).unwrap();
            p.feed(&text[split..], &mut got).unwrap();
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].event, "snapshot");
            assert_eq!(got[0].id.as_deref(), Some("3"));
            assert_eq!(got[0].data, "{\"a\":\n1}");
            assert_eq!(got[1].event, "change");
            assert_eq!(got[1].data, "x");
            assert_eq!(got[1].id.as_deref(), Some("4"));
        }
    }

    /// A line that never ends is an error once it passes the cap, whatever the chunking;
    /// the complete events before it are delivered. The memory held stays under the cap.
    #[test]
    fn a_line_over_the_cap_ends_the_stream() {
        let mut p = Parser::with_max_line(16);
        let mut got = Vec::new();
        p.feed(b"data: ok\n\ndata: ", &mut got).unwrap();
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = p.feed(b"xxxx", &mut got) {
                err = Some(e);
                break;
            }
            assert!(p.buf.len() <= 16);
        }
        assert_eq!(
            err,
            Some(TooLong {
                what: "a line",
                limit: 16
            })
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "ok");
        // A line of exactly the cap is fine.
        let mut p = Parser::with_max_line(16);
        let mut got = Vec::new();
        p.feed(b"data: 0123456789\n\n", &mut got).unwrap();
        assert_eq!(got[0].data, "0123456789");
    }

    /// Many short data lines cannot add up to an unbounded event either.
    #[test]
    fn an_event_over_the_cap_ends_the_stream() {
        let mut p = Parser::with_max_line(16);
        let mut got = Vec::new();
        let e = (0..100)
            .find_map(|_| p.feed(b"data: 0123456789\n", &mut got).err())
            .expect("an error");
        assert_eq!(e.what, "an event");
        assert!(got.is_empty());
        assert!(TooLong {
            what: "a line",
            limit: MAX_LINE
        }
        .to_string()
        .contains("1048576"));
    }
}
