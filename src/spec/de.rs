//! An error-collecting serde deserializer over a parsed YAML tree (`serde_yaml::Value`).
//!
//! serde's derived code stops at the first error; a spec check must report all of them. This
//! deserializer never fails on bad input: it records a [`Finding`] (with the field path) and
//! hands the visitor a placeholder of the requested kind, so deserialization always completes
//! and every problem in the file is found in one pass:
//! - unknown fields (serde passes the known `fields` to `deserialize_struct`) are recorded with
//!   a "did you mean" hint and skipped;
//! - missing fields are presented to the visitor as placeholders; a placeholder records
//!   "missing field" only when asked for a required kind (a scalar, struct or enum; `Option`,
//!   lists and maps are optional by the convention of [`super::types`]);
//! - unknown enum values (serde passes the known `variants`) are recorded and replaced by the
//!   first variant;
//! - values of the wrong kind are recorded and replaced by an empty value of the right kind.
//!
//! String values are expanded (`${NAME}`) here, after YAML parsing, so variables can never
//! change the document's structure. A result built from placeholders is never used: any
//! finding makes the spec invalid.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_yaml::Value;

use super::diag::Code;
use super::suggest::did_you_mean;
use super::types::STRING_OR_STRUCT;
use super::vars::{ExpandError, Vars, expand};

/// A problem found at a field path, before it is given a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub path: String,
    /// Point at the key (`name:`) rather than the value.
    pub at_key: bool,
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    pub warning: bool,
}

impl Finding {
    pub fn error(path: impl Into<String>, code: Code, message: impl Into<String>) -> Finding {
        Finding {
            path: path.into(),
            at_key: false,
            code,
            message: message.into(),
            hint: None,
            warning: false,
        }
    }

    pub fn warning(path: impl Into<String>, code: Code, message: impl Into<String>) -> Finding {
        Finding {
            warning: true,
            ..Finding::error(path, code, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }

    pub fn at_key(mut self) -> Finding {
        self.at_key = true;
        self
    }
}

/// What the deserializer shares across the tree: the variables and the findings so far.
pub(crate) struct Ctx<'v> {
    vars: &'v Vars,
    findings: RefCell<Vec<Finding>>,
}

impl<'v> Ctx<'v> {
    pub fn new(vars: &'v Vars) -> Ctx<'v> {
        Ctx {
            vars,
            findings: RefCell::new(Vec::new()),
        }
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings.into_inner()
    }

    fn push(&self, finding: Finding) {
        self.findings.borrow_mut().push(finding);
    }

    fn expand(&self, s: &str, path: &str) -> String {
        let (out, errors) = expand(s, self.vars);
        for e in errors {
            self.push(match e {
                ExpandError::Unset(name) => Finding::error(
                    path,
                    Code::UnsetVariable,
                    format!("variable `{name}` is not set"),
                )
                .hint(format!(
                    "pass `--var {name}=VALUE`, set the environment variable {name}, or give a default: `${{{name}:-value}}`"
                )),
                ExpandError::Syntax(msg) => Finding::error(path, Code::BadVariable, msg),
            });
        }
        out
    }
}

/// Field path helpers: `a.b`, `a[2]`, `tags["team name"]`.
pub(crate) fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!(
            "{path}[{}]",
            serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""))
        ),
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// How a YAML value is described in messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) if s.chars().count() > 40 => "a string".into(),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// The deserializer's error type. Bad input never produces one (it becomes a [`Finding`]);
/// these only travel when a visitor itself refuses a value.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

/// Deserializes one YAML node at `path`.
pub(crate) struct Node<'a, 'v> {
    pub value: &'a Value,
    pub path: String,
    pub cx: &'a Ctx<'v>,
}

impl<'a, 'v> Node<'a, 'v> {
    pub fn new(value: &'a Value, path: String, cx: &'a Ctx<'v>) -> Self {
        Node { value, path, cx }
    }

    fn mismatch(&self, expected: &str) {
        let mut finding = Finding::error(
            &self.path,
            Code::InvalidType,
            format!("expected {expected}, found {}", describe(self.value)),
        );
        if expected == "a string" && matches!(self.value, Value::Number(_) | Value::Bool(_)) {
            finding = finding.hint("quote the value to make it a string, e.g. \"123\"");
        }
        if matches!(self.value, Value::Null) {
            finding = finding.hint("give the field a value, or remove it");
        }
        self.cx.push(finding);
    }

    fn tagged(&self) -> Option<Node<'a, 'v>> {
        if let Value::Tagged(t) = self.value {
            self.cx.push(
                Finding::error(
                    &self.path,
                    Code::Syntax,
                    format!("YAML tags such as `{}` are not supported in a spec", t.tag),
                )
                .hint("remove the tag"),
            );
            return Some(Node::new(&t.value, self.path.clone(), self.cx));
        }
        None
    }

    fn integer(&self) -> Option<i128> {
        match self.value {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            _ => None,
        }
    }

    fn string(&self) -> Option<String> {
        match self.value {
            Value::String(s) => Some(self.cx.expand(s, &self.path)),
            _ => None,
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if let Some(inner) = self.tagged() {
                return inner.$method(visitor);
            }
            match self.integer() {
                Some(n) => match <$ty>::try_from(n) {
                    Ok(v) => visitor.$visit(v),
                    Err(_) => {
                        self.cx.push(Finding::error(
                            &self.path,
                            Code::InvalidValue,
                            format!("{n} is out of range ({} to {})", <$ty>::MIN, <$ty>::MAX),
                        ));
                        visitor.$visit(0)
                    }
                },
                None => {
                    self.mismatch("an integer");
                    visitor.$visit(0)
                }
            }
        }
    )*};
}

impl<'de, 'a, 'v> de::Deserializer<'de> for Node<'a, 'v> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(_) => visitor.visit_string(self.string().unwrap_or_default()),
            Value::Sequence(_) => self.deserialize_seq(visitor),
            Value::Mapping(_) => self.deserialize_map(visitor),
            Value::Tagged(_) => match self.tagged() {
                Some(inner) => inner.deserialize_any(visitor),
                None => visitor.visit_unit(),
            },
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_bool(visitor);
        }
        match self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => {
                self.mismatch("true or false");
                visitor.visit_bool(false)
            }
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_f64(visitor);
        }
        match self.value {
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(0.0)),
            _ => {
                self.mismatch("a number");
                visitor.visit_f64(0.0)
            }
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_string(visitor);
        }
        match self.string() {
            Some(s) => visitor.visit_string(s),
            None => {
                self.mismatch("a string");
                visitor.visit_string(String::new())
            }
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !matches!(self.value, Value::Null) {
            self.mismatch("nothing (null)");
        }
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_seq(visitor);
        }
        match self.value {
            Value::Sequence(items) => visitor.visit_seq(Seq {
                items: items.iter().enumerate(),
                path: &self.path,
                cx: self.cx,
            }),
            _ => {
                self.mismatch("a list");
                visitor.visit_seq(Seq {
                    items: [].iter().enumerate(),
                    path: &self.path,
                    cx: self.cx,
                })
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_map(visitor);
        }
        let entries = match self.value {
            Value::Mapping(m) => string_keyed(m, &self.path, self.cx),
            _ => {
                self.mismatch("a mapping");
                Vec::new()
            }
        };
        visitor.visit_map(Map {
            entries: entries.into_iter(),
            missing: Vec::new().into_iter(),
            pending: None,
            path: &self.path,
            cx: self.cx,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_struct(name, fields, visitor);
        }
        if name == STRING_OR_STRUCT
            && let Some(s) = self.string()
        {
            return visitor.visit_string(s);
        }
        let (entries, missing) = match self.value {
            Value::Mapping(m) => {
                let mut known = Vec::new();
                for (key, value) in string_keyed(m, &self.path, self.cx) {
                    if fields.contains(&key.as_str()) {
                        known.push((key, value));
                    } else {
                        self.cx.push(unknown_field(&self.path, &key, fields));
                    }
                }
                let missing: Vec<(&'static str, bool)> = fields
                    .iter()
                    .filter(|f| !known.iter().any(|(k, _)| k == *f))
                    .map(|f| (*f, true))
                    .collect();
                (known, missing)
            }
            _ => {
                let expected = if name == STRING_OR_STRUCT {
                    "a string or a mapping"
                } else {
                    "a mapping"
                };
                self.mismatch(expected);
                // The whole mapping is reported; its fields are not reported again.
                (Vec::new(), fields.iter().map(|f| (*f, false)).collect())
            }
        };
        visitor.visit_map(Map {
            entries: entries.into_iter(),
            missing: missing.into_iter(),
            pending: None,
            path: &self.path,
            cx: self.cx,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(inner) = self.tagged() {
            return inner.deserialize_enum(_name, variants, visitor);
        }
        let first = variants.first().copied().unwrap_or_default();
        let chosen = match self.string() {
            Some(s) if variants.contains(&s.as_str()) => s,
            Some(s) => {
                let mut finding = Finding::error(
                    &self.path,
                    Code::InvalidValue,
                    format!("`{s}` is not one of {}", list(variants)),
                );
                if let Some(m) = did_you_mean(&s, variants.iter().copied()) {
                    finding = finding.hint(format!("did you mean `{m}`?"));
                }
                self.cx.push(finding);
                first.to_string()
            }
            None => {
                self.mismatch(&format!("one of {}", list(variants)));
                first.to_string()
            }
        };
        visitor.visit_enum(chosen.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

fn unknown_field(path: &str, key: &str, fields: &[&str]) -> Finding {
    let mut finding = Finding::error(
        child(path, key),
        Code::UnknownField,
        format!(
            "unknown field `{key}`{}",
            if path.is_empty() {
                String::new()
            } else {
                format!(" in {path}")
            }
        ),
    )
    .at_key();
    finding = match did_you_mean(key, fields.iter().copied()) {
        Some(m) => finding.hint(format!("did you mean `{m}`?")),
        None => finding.hint(format!("the fields here are: {}", list(fields))),
    };
    finding
}

/// A mapping's entries with string keys; other keys are reported and dropped.
fn string_keyed<'a>(m: &'a serde_yaml::Mapping, path: &str, cx: &Ctx) -> Vec<(String, &'a Value)> {
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        match k {
            Value::String(s) => out.push((s.clone(), v)),
            other => {
                let shown = match other {
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => "null".into(),
                    _ => "a complex key".into(),
                };
                cx.push(
                    Finding::error(
                        path,
                        Code::InvalidType,
                        format!("mapping key {shown} is not a string"),
                    )
                    .hint("quote the key, e.g. \"1\": value"),
                );
            }
        }
    }
    out
}

struct Seq<'a, 'v, I> {
    items: I,
    path: &'a str,
    cx: &'a Ctx<'v>,
}

impl<'de, 'a, 'v, I> de::SeqAccess<'de> for Seq<'a, 'v, I>
where
    I: Iterator<Item = (usize, &'a Value)>,
{
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some((i, value)) => seed
                .deserialize(Node::new(value, index(self.path, i), self.cx))
                .map(Some),
            None => Ok(None),
        }
    }
}

enum Pending<'a> {
    Present(&'a Value, String),
    Missing(String, bool),
}

struct Map<'a, 'v> {
    entries: std::vec::IntoIter<(String, &'a Value)>,
    /// Fields absent from the input, presented as placeholders (`true`: report if required).
    missing: std::vec::IntoIter<(&'static str, bool)>,
    pending: Option<Pending<'a>>,
    path: &'a str,
    cx: &'a Ctx<'v>,
}

impl<'de, 'a, 'v> de::MapAccess<'de> for Map<'a, 'v> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if let Some((key, value)) = self.entries.next() {
            let path = child(self.path, &key);
            self.pending = Some(Pending::Present(value, path));
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        if let Some((field, record)) = self.missing.next() {
            self.pending = Some(Pending::Missing(child(self.path, field), record));
            return seed.deserialize(field.into_deserializer()).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.pending.take() {
            Some(Pending::Present(value, path)) => {
                seed.deserialize(Node::new(value, path, self.cx))
            }
            Some(Pending::Missing(path, record)) => seed.deserialize(Placeholder {
                path,
                cx: self.cx,
                record,
            }),
            None => Err(de::Error::custom("value requested before its key")),
        }
    }
}

macro_rules! placeholder_number {
    ($($method:ident => $visit:ident($zero:expr)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.missing();
            visitor.$visit($zero)
        }
    )*};
}

/// Stands in for a field the input does not have. Reports it as missing when asked for a
/// required kind (unless `record` is off because an enclosing problem was reported already).
struct Placeholder<'a, 'v> {
    path: String,
    cx: &'a Ctx<'v>,
    record: bool,
}

impl Placeholder<'_, '_> {
    fn missing(&self) {
        if self.record {
            let (parent, field) = match self.path.rfind('.') {
                Some(i) => (&self.path[..i], &self.path[i + 1..]),
                None => ("", self.path.as_str()),
            };
            let place = if parent.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in {parent}")
            };
            self.cx.push(Finding::error(
                &self.path,
                Code::MissingField,
                format!("missing required field `{field}` {place}"),
            ));
        }
    }

    fn quiet(&self) -> Placeholder<'_, '_> {
        Placeholder {
            path: self.path.clone(),
            cx: self.cx,
            record: false,
        }
    }
}

impl<'de> de::Deserializer<'de> for Placeholder<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.missing();
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.missing();
        visitor.visit_bool(false)
    }

    placeholder_number! {
        deserialize_i8 => visit_i8(0),
        deserialize_i16 => visit_i16(0),
        deserialize_i32 => visit_i32(0),
        deserialize_i64 => visit_i64(0),
        deserialize_u8 => visit_u8(0),
        deserialize_u16 => visit_u16(0),
        deserialize_u32 => visit_u32(0),
        deserialize_u64 => visit_u64(0),
        deserialize_f32 => visit_f32(0.0),
        deserialize_f64 => visit_f64(0.0),
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.missing();
        visitor.visit_string(String::new())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Seq {
            items: [].iter().enumerate(),
            path: &self.path,
            cx: self.cx,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Map {
            entries: Vec::new().into_iter(),
            missing: Vec::new().into_iter(),
            pending: None,
            path: &self.path,
            cx: self.cx,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.missing();
        let quiet = self.quiet();
        visitor.visit_map(Map {
            entries: Vec::new().into_iter(),
            missing: fields
                .iter()
                .map(|f| (*f, false))
                .collect::<Vec<_>>()
                .into_iter(),
            pending: None,
            path: &quiet.path,
            cx: quiet.cx,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.missing();
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(first.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(String::new())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// Deserializes `T` from `value`, collecting every problem instead of stopping at the first.
/// `Err` only when a visitor refused a value outright (then the findings explain why too).
pub(crate) fn from_value<T: de::DeserializeOwned>(value: &Value, cx: &Ctx) -> Result<T, Error> {
    T::deserialize(Node::new(value, String::new(), cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Outer {
        name: String,
        count: u8,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        note: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        kind: Kind,
        label: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    enum Kind {
        ApiKey,
        AwsIam,
    }

    fn run(yaml: &str) -> (Option<Outer>, Vec<Finding>) {
        let value: Value = serde_yaml::from_str(yaml).expect("test yaml parses");
        let vars = Vars::new([("WHO", "world")]);
        let cx = Ctx::new(&vars);
        let out = from_value::<Outer>(&value, &cx).ok();
        (out, cx.into_findings())
    }

    fn summary(findings: &[Finding]) -> Vec<(String, Code)> {
        let mut s: Vec<_> = findings.iter().map(|f| (f.path.clone(), f.code)).collect();
        s.sort();
        s
    }

    #[test]
    fn a_good_document_has_no_findings() {
        let (out, findings) =
            run("name: hello ${WHO}\ncount: 3\nitems:\n  - {kind: API_KEY, label: a}\n");
        assert_eq!(findings, vec![]);
        let out = out.expect("value");
        assert_eq!(out.name, "hello world");
        assert_eq!(out.items[0].kind, Kind::ApiKey);
        assert_eq!(out.note, None);
    }

    #[test]
    fn every_problem_is_collected() {
        let (out, findings) = run(
            "nme: x\ncount: 300\nitems:\n  - {kind: API_KEYS, label: [1]}\n  - {kind: AWS_IAM}\n  - 7\nextra: 1\n",
        );
        assert!(out.is_some(), "deserialization completes with placeholders");
        assert_eq!(
            summary(&findings),
            vec![
                ("count".into(), Code::InvalidValue),
                ("extra".into(), Code::UnknownField),
                ("items[0].kind".into(), Code::InvalidValue),
                ("items[0].label".into(), Code::InvalidType),
                ("items[1].label".into(), Code::MissingField),
                ("items[2]".into(), Code::InvalidType),
                ("name".into(), Code::MissingField),
                ("nme".into(), Code::UnknownField),
            ]
        );
        let hint = |path: &str| {
            findings
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| f.hint.clone())
        };
        assert_eq!(hint("nme").as_deref(), Some("did you mean `name`?"));
        assert_eq!(
            hint("items[0].kind").as_deref(),
            Some("did you mean `API_KEY`?")
        );
    }

    #[test]
    fn unset_variables_are_findings_at_their_path() {
        let (_, findings) = run("name: ${NOPE}\ncount: 1\n");
        assert_eq!(
            summary(&findings),
            vec![("name".into(), Code::UnsetVariable)]
        );
    }

    #[test]
    fn paths_quote_keys_that_are_not_plain() {
        assert_eq!(child("", "api"), "api");
        assert_eq!(child("api", "tags"), "api.tags");
        assert_eq!(child("api.tags", "team name"), "api.tags[\"team name\"]");
        assert_eq!(index("channelNamespaces", 2), "channelNamespaces[2]");
    }
}
