//! Where each field of a spec is written: a field path -> (line, column) index built from a
//! marked YAML event scan (saphyr-parser), because `serde_yaml` gives no positions for values
//! it parsed successfully.
//!
//! The scan runs only on text that `serde_yaml` already accepted (so size and nesting are
//! bounded); if the two parsers ever disagree, a path falls back to its nearest located
//! ancestor, so a diagnostic is never lost, only less precise.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use super::de::{child, index as item};

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy)]
struct Located {
    key: Option<Pos>,
    value: Pos,
}

/// Field path -> position of its key (in a mapping) and of its value.
#[derive(Debug, Default)]
pub(crate) struct Index {
    paths: HashMap<String, Located>,
}

enum Frame {
    Map {
        path: Option<String>,
        key: Option<(String, Pos)>,
        expect_key: bool,
    },
    Seq {
        path: Option<String>,
        next: usize,
    },
    /// Inside a complex (non-scalar) mapping key: nothing here has a field path.
    Ignore {
        depth: usize,
    },
}

impl Index {
    pub fn build(text: &str) -> Index {
        let mut index = Index::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut seen_root = false;
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let pos = Pos {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            let (is_start, scalar) = match &event {
                Event::Scalar(text, ..) => (true, Some(text.to_string())),
                Event::Alias(_) => (true, None),
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, None),
                Event::MappingEnd | Event::SequenceEnd => {
                    match stack.last_mut() {
                        Some(Frame::Ignore { depth }) if *depth > 1 => *depth -= 1,
                        _ => {
                            stack.pop();
                        }
                    }
                    continue;
                }
                Event::DocumentEnd if seen_root => break,
                _ => continue,
            };
            debug_assert!(is_start);
            let collection = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
            let path = match stack.last_mut() {
                None if !seen_root => {
                    seen_root = true;
                    Some(String::new())
                }
                None => break,
                Some(Frame::Ignore { depth }) => {
                    if collection {
                        *depth += 1;
                    }
                    continue;
                }
                Some(Frame::Map {
                    path,
                    key,
                    expect_key,
                }) if *expect_key => {
                    *expect_key = false;
                    *key = scalar.filter(|_| path.is_some()).map(|s| (s, pos));
                    if collection {
                        stack.push(Frame::Ignore { depth: 1 });
                    }
                    continue;
                }
                Some(Frame::Map {
                    path,
                    key,
                    expect_key,
                }) => {
                    *expect_key = true;
                    match (path.as_deref(), key.take()) {
                        (Some(p), Some((k, key_pos))) => {
                            let p = child(p, &k);
                            index.paths.insert(
                                p.clone(),
                                Located {
                                    key: Some(key_pos),
                                    value: pos,
                                },
                            );
                            Some(p)
                        }
                        _ => None,
                    }
                }
                Some(Frame::Seq { path, next }) => {
                    let p = path.as_deref().map(|p| item(p, *next));
                    *next += 1;
                    if let Some(p) = &p {
                        index.paths.insert(
                            p.clone(),
                            Located {
                                key: None,
                                value: pos,
                            },
                        );
                    }
                    p
                }
            };
            if path.as_deref() == Some("") {
                index.paths.insert(
                    String::new(),
                    Located {
                        key: None,
                        value: pos,
                    },
                );
            }
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map {
                    path,
                    key: None,
                    expect_key: true,
                }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                _ => {}
            }
        }
        index
    }

    /// The position of `path` (its key when `at_key` and it has one), or of its nearest
    /// located ancestor (then its key, which is where a missing field belongs).
    pub fn locate(&self, path: &str, at_key: bool) -> Option<Pos> {
        if let Some(found) = self.paths.get(path) {
            return Some(if at_key {
                found.key.unwrap_or(found.value)
            } else {
                found.value
            });
        }
        let mut current = path;
        while let Some(up) = parent(current) {
            if let Some(found) = self.paths.get(up) {
                return Some(found.key.unwrap_or(found.value));
            }
            current = up;
        }
        None
    }
}

/// Where the second YAML document of `text` starts (a spec holds exactly one).
pub(crate) fn second_document(text: &str) -> Option<Pos> {
    Parser::new_from_str(text)
        .map_while(Result::ok)
        .filter(|(event, _)| matches!(event, Event::DocumentStart(_)))
        .nth(1)
        .map(|(_, span)| Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        })
}

/// The path without its last segment (`a.b[2]` -> `a.b`, `a["x.y"]` -> `a`); `None` for "".
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let mut last = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '.' | '[' => last = i,
            _ => {}
        }
    }
    Some(&path[..last])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
version: 1
api:
  name: chat
  tags:
    team name: x
channelNamespaces:
  - name: default
    publishAuthModes: [API_KEY, AWS_IAM]
  - name: other
? [complex, key]
: ignored
";

    fn at(line: usize, column: usize) -> Option<Pos> {
        Some(Pos { line, column })
    }

    #[test]
    fn finds_keys_values_and_list_items() {
        let index = Index::build(DOC);
        assert_eq!(index.locate("version", false), at(1, 10));
        assert_eq!(index.locate("version", true), at(1, 1));
        assert_eq!(index.locate("api.name", false), at(3, 9));
        assert_eq!(index.locate("api.tags[\"team name\"]", true), at(5, 5));
        assert_eq!(
            index.locate("channelNamespaces[0].publishAuthModes[1]", false),
            at(8, 33)
        );
        assert_eq!(index.locate("channelNamespaces[1]", false), at(9, 5));
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor_key() {
        let index = Index::build(DOC);
        assert_eq!(index.locate("api.ownerContact", false), at(2, 1));
        assert_eq!(
            index.locate("channelNamespaces[1].codeHandlers", false),
            at(9, 5)
        );
        assert_eq!(index.locate("smoke", false), at(1, 1));
    }

    #[test]
    fn finds_the_second_document() {
        assert_eq!(second_document("a: 1\n---\nb: 2\n"), at(2, 1));
        assert_eq!(second_document("a: 1\n"), None);
    }

    #[test]
    fn parents_respect_quoted_keys() {
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a[\"x.y[1]\"]"), Some("a"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}
