//! Where each node of a YAML file sits, so that errors found after parsing can still name the
//! file, line and column.
//!
//! serde_yaml reports locations for syntax and type errors while it deserializes, but its
//! `Value` carries no positions. Checks that run later (unknown references, bad CIDRs, cycles)
//! look the position up here by the node's path, such as `resources.vpc.cidr_block`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A position in a stack file; line and column count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file, when the stack came from one.
    pub file: Option<PathBuf>,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "<stack>:{}:{}", self.line, self.column),
        }
    }
}

/// Positions of the keys and values of a YAML document, by dotted path.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    file: Option<PathBuf>,
    keys: HashMap<String, (usize, usize)>,
    values: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map { path: String, pending_key: Option<String> },
    Seq { path: String, index: usize },
}

struct Builder {
    stack: Vec<Frame>,
    map: SourceMap,
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

impl Builder {
    /// The path of the node that starts now, or `None` when it is a mapping key.
    fn next_path(&mut self, event_text: Option<&str>, mark: Marker) -> Option<String> {
        let pos = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, index }) => {
                let p = join(path, &index.to_string());
                *index += 1;
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some(key) => Some(join(path, &key)),
                None => {
                    // A block mapping's start mark falls after its first key, so a mapping with
                    // no key of its own (the document, a list item) starts at its first key.
                    if let Some(start) = self.map.values.get_mut(path.as_str()) {
                        if pos < *start {
                            *start = pos;
                        }
                    }
                    // This node is a key; complex (non-scalar) keys get a placeholder name.
                    let key = event_text.unwrap_or("?").to_string();
                    let key_path = join(path, &key);
                    self.map.keys.insert(key_path, pos);
                    *pending_key = Some(key);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(text, ..) => {
                if let Some(path) = self.next_path(Some(&text), mark) {
                    self.map.values.insert(path, pos);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.next_path(None, mark) {
                    self.map.values.insert(path, pos);
                }
            }
            Event::MappingStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_else(|| "?".into());
                // A block mapping's start mark falls after its first key; its own key is clearer.
                let at = self.map.keys.get(&path).copied().unwrap_or(pos);
                self.map.values.insert(path.clone(), at);
                self.stack.push(Frame::Map { path, pending_key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_else(|| "?".into());
                let at = self.map.keys.get(&path).copied().unwrap_or(pos);
                self.map.values.insert(path.clone(), at);
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl SourceMap {
    /// Indexes `text`; a syntax error leaves the map partial (serde_yaml reports the error).
    pub fn build(text: &str, file: Option<&Path>) -> SourceMap {
        let mut builder = Builder { stack: Vec::new(), map: SourceMap { file: file.map(Path::to_path_buf), ..Default::default() } };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut builder, false);
        builder.map
    }

    /// A map that knows the file but no positions (for stacks built in code).
    pub fn empty(file: Option<&Path>) -> SourceMap {
        SourceMap { file: file.map(Path::to_path_buf), ..Default::default() }
    }

    /// The position of the value at `path`, or of its nearest ancestor that is known.
    pub fn value(&self, path: &str) -> Location {
        self.lookup(path, &self.values)
    }

    /// The position of the key that names `path` (for unknown or duplicate fields).
    pub fn key(&self, path: &str) -> Location {
        match self.keys.get(path) {
            Some(&(line, column)) => Location { file: self.file.clone(), line, column },
            None => self.value(path),
        }
    }

    fn lookup(&self, path: &str, table: &HashMap<String, (usize, usize)>) -> Location {
        let mut p = path;
        loop {
            if let Some(&(line, column)) = table.get(p) {
                return Location { file: self.file.clone(), line, column };
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => {
                    let (line, column) = table.get("").copied().unwrap_or((1, 1));
                    return Location { file: self.file.clone(), line, column };
                }
            }
        }
    }

    /// The file the map was built from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_values() {
        let text = "stack: net\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.0.0.0/16\n    list:\n      - a\n      - b\n";
        let map = SourceMap::build(text, None);
        assert_eq!(map.value("resources.vpc.cidr_block"), Location { file: None, line: 5, column: 17 });
        assert_eq!(map.key("resources.vpc.cidr_block"), Location { file: None, line: 5, column: 5 });
        assert_eq!(map.value("resources.vpc.list.1"), Location { file: None, line: 8, column: 9 });
        assert_eq!(map.value("resources.vpc.missing"), Location { file: None, line: 3, column: 3 });
    }
}
