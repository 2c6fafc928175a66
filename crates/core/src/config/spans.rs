//! Where each field of a YAML document starts, keyed by its path (`rollouts[0].stages[2].canary`),
//! so that errors found after parsing can still point at `FILE:LINE:COL`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Default)]
pub struct Spans {
    at: HashMap<String, Location>,
}

impl Spans {
    /// Indexes `src`. A document that does not parse gives an empty index; serde_yaml
    /// reports the syntax error itself.
    pub fn index(src: &str) -> Spans {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(src);
        let _ = parser.load(&mut builder, false);
        Spans { at: builder.at }
    }

    /// The location of `path`, or of its closest ancestor that has one.
    pub fn locate(&self, path: &str) -> Location {
        let mut p = path;
        loop {
            if let Some(loc) = self.at.get(p) {
                return *loc;
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p = &p[..cut],
                None => {
                    return self
                        .at
                        .get("")
                        .copied()
                        .unwrap_or(Location { line: 1, col: 1 })
                }
            }
        }
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    at: HashMap<String, Location>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Builder {
    /// Called when a node starts; returns its path, or `None` when the node is a mapping key.
    fn node_start(&mut self, scalar: Option<&str>, mark: Marker) -> Option<String> {
        let loc = Location {
            line: mark.line(),
            col: mark.col() + 1,
        };
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                p
            }
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    let k = scalar.unwrap_or("?").to_owned();
                    let full = join(path, &k);
                    self.at.entry(full).or_insert(loc);
                    // A block mapping is marked where its first `:` is; its first key is
                    // where a reader sees it start.
                    if let Some(start) = self.at.get_mut(path.as_str()) {
                        if (loc.line, loc.col) < (start.line, start.col) {
                            *start = loc;
                        }
                    }
                    *key = Some(k);
                    return None;
                }
                Some(k) => {
                    // The value of a key: its location is already the key's.
                    let full = join(path, &k);
                    return Some(full);
                }
            },
        };
        self.at.entry(path.clone()).or_insert(loc);
        Some(path)
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(ref value, ..) => {
                self.node_start(Some(value), mark);
            }
            Event::Alias(_) => {
                self.node_start(None, mark);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A complex mapping key gets the placeholder path `?`.
                let path = self.node_start(None, mark).unwrap_or_else(|| "?".into());
                self.stack.push(if matches!(ev, Event::MappingStart(..)) {
                    Frame::Map { path, key: None }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_fields() {
        let src =
            "database: x\nrollouts:\n  - name: a\n    stages:\n      - canary: { percentage: 5 }\n";
        let spans = Spans::index(src);
        assert_eq!(spans.locate("database"), Location { line: 1, col: 1 });
        assert_eq!(
            spans.locate("rollouts[0].name"),
            Location { line: 3, col: 5 }
        );
        assert_eq!(
            spans.locate("rollouts[0].stages[0].canary.percentage"),
            Location { line: 5, col: 19 }
        );
        // Unknown paths fall back to the closest known ancestor.
        assert_eq!(
            spans.locate("rollouts[0].stages[0].canary.nope"),
            Location { line: 5, col: 9 }
        );
        // A block mapping starts at its first key.
        assert_eq!(spans.locate("rollouts[0]"), Location { line: 3, col: 5 });
        assert_eq!(
            spans.locate("rollouts[0].stages[0]"),
            Location { line: 5, col: 9 }
        );
    }
}
