//! An incremental Server-Sent Events parser (the WHATWG event-stream format): comments,
//! multi-line `data`, CR/LF/CRLF line ends. An incomplete event at the end is never yielded.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
    id: Option<String>,
    /// The last byte seen was a CR: a following LF belongs to the same line end.
    after_cr: bool,
}

impl Parser {
    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
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
                    if let Some(e) = self.line(&String::from_utf8_lossy(&line)) {
                        out.push(e);
                    }
                }
                _ => self.buf.push(b),
            }
        }
        out
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            let event = std::mem::take(&mut self.event);
            if data.is_empty() {
                return None;
            }
            return Some(Event {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data: data.join("\n"),
                id: self.id.clone(),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "event" => self.event = value.to_owned(),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
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
            let mut got = p.feed(&text[..split]);
            got.extend(p.feed(&text[split..]));
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].event, "snapshot");
            assert_eq!(got[0].id.as_deref(), Some("3"));
            assert_eq!(got[0].data, "{\"a\":\n1}");
            assert_eq!(got[1].event, "change");
            assert_eq!(got[1].data, "x");
            assert_eq!(got[1].id.as_deref(), Some("4"));
        }
    }
}
