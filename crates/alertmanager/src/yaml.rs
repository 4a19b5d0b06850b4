//! YAML plumbing: strict parsing (Go's `yaml.UnmarshalStrict`), and locating errors.
//!
//! The public schema types derive `Deserialize` directly and carry no positions. Where
//! a position is needed, it is recovered from a second, lenient parse of the document
//! into a bare tree of located nodes ([`Index`]): a serde error's position gives its
//! field path, and a validation error's field path gives its position. This keeps the
//! schema types plain while every error still names file, line and field.

use crate::Error;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};
use std::fmt;
use std::path::Path;

/// A 1-based line and column; zero when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Pos {
    fn from_location(l: &Location) -> Pos {
        Pos {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX),
        }
    }
}

fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.with_snippet = false;
    // Go's strict decoder rejects a key given twice, in structs and maps alike.
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o
}

/// For `#[serde(deserialize_with = "crate::yaml::z")]`: an explicit `null` gives the
/// type's zero value, as Go's decoder does (it zeroes the field, default or not).
pub(crate) fn z<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Parses `text` into `T`; `Ok(None)` for an empty document (only comments or
/// blanks), which Go's decoder leaves untouched.
pub(crate) fn parse<T: DeserializeOwned>(
    text: &str,
    file: &Path,
    index: &Index,
) -> Result<Option<T>, Error> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(None);
    }
    serde_saphyr::from_str_with_options::<Option<T>>(text, options())
        .map_err(|e| convert_error(&e, file, index))
}

/// A document reduced to its shape: where each node starts and how it is keyed.
enum Node {
    Leaf,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any node")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Node::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = a.next_key()? {
                    out.push((k, a.next_value()?));
                }
                Ok(Node::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A field path such as `receivers[1].slack_configs[0].api_url`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<Seg>);

impl FieldPath {
    pub(crate) fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k)
                    if !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => write!(f, "[{k:?}]")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Positions of the document's nodes, from a lenient parse (duplicates allowed).
pub(crate) struct Index(Option<Spanned<Node>>);

impl Index {
    pub(crate) fn build(text: &str) -> Index {
        let mut o = options();
        o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
        o.ignore_binary_tag_for_string = true;
        Index(serde_saphyr::from_str_with_options::<Spanned<Node>>(text, o).ok())
    }

    /// Where the node at `path` starts; for a key that is absent, where its nearest
    /// present ancestor starts. Keys are located at the key itself, as Go reports them.
    pub(crate) fn locate(&self, path: &FieldPath) -> Pos {
        let Some(mut node) = self.0.as_ref() else {
            return Pos::default();
        };
        let mut pos = Pos::from_location(&node.referenced);
        for seg in &path.0 {
            let next = match (&node.value, seg) {
                (Node::Map(entries), Seg::Key(k)) => entries
                    .iter()
                    .rev()
                    .find(|(key, _)| key.value == *k)
                    .map(|(key, v)| (Pos::from_location(&key.referenced), v)),
                (Node::Seq(items), Seg::Index(i)) => items
                    .get(*i)
                    .map(|v| (Pos::from_location(&v.referenced), v)),
                _ => None,
            };
            match next {
                Some((p, v)) => {
                    pos = p;
                    node = v;
                }
                None => break,
            }
        }
        pos
    }

    /// The field path of the innermost node starting at or before `at`.
    fn path_at(&self, at: Pos) -> FieldPath {
        let mut out = FieldPath::default();
        if let Some(root) = &self.0 {
            walk(root, &mut Vec::new(), at, &mut out);
        }
        out
    }
}

fn walk(node: &Spanned<Node>, path: &mut Vec<Seg>, at: Pos, out: &mut FieldPath) {
    if Pos::from_location(&node.referenced) > at {
        return;
    }
    out.0.clone_from(path);
    match &node.value {
        Node::Leaf => {}
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, at, out);
                path.pop();
            }
        }
        Node::Map(entries) => {
            for (k, v) in entries {
                if Pos::from_location(&k.referenced) > at {
                    break;
                }
                path.push(Seg::Key(k.value.clone()));
                out.0.clone_from(path);
                walk(v, path, at, out);
                path.pop();
            }
        }
    }
}

fn unwrap_error(e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match e {
        serde_saphyr::Error::WithSnippet { error, .. } => unwrap_error(error),
        serde_saphyr::Error::AliasError { error, .. } => unwrap_error(error),
        other => other,
    }
}

/// Removes serde-saphyr's trailing " at line N column M", since the position is
/// rendered separately.
fn strip_location(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    }
}

fn convert_error(err: &serde_saphyr::Error, file: &Path, index: &Index) -> Error {
    use serde_saphyr::Error as E;
    let inner = unwrap_error(err);
    let pos = inner
        .location()
        .as_ref()
        .map(Pos::from_location)
        .unwrap_or_default();
    let field = if pos.line > 0 {
        index.path_at(pos)
    } else {
        FieldPath::default()
    };
    // Go names the struct ("config.plain") in its unknown-field message; every
    // Alertmanager struct decodes through such a `plain` alias.
    let message = match inner {
        E::SerdeUnknownField { field, .. } => {
            format!("field {field} not found in type config.plain")
        }
        E::DuplicateMappingKey { key, .. } => {
            format!("key {:?} already set", key.clone().unwrap_or_default())
        }
        E::Message { msg, .. } => strip_location(msg).to_string(),
        other => strip_location(&other.to_string()).to_string(),
    };
    Error::Syntax {
        file: file.to_path_buf(),
        line: pos.line,
        column: pos.column,
        field: field.to_string(),
        message,
    }
}

/// For `map[string]string` fields: `null` values read as `""`, as in Go.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    Ok(
        Option::<std::collections::BTreeMap<String, Option<String>>>::deserialize(d)?
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
    )
}

/// For integer fields: a plain YAML integer (or `null` for zero). A quoted string is
/// refused even when it holds digits, as Go's decoder refuses `!!str` for an int.
pub(crate) fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64> + Default,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: TryFrom<i64> + TryFrom<u64> + Default> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            T::try_from(v)
                .map_err(|_| E::custom(format!("cannot unmarshal !!int `{v}` into this field")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v)
                .map_err(|_| E::custom(format!("cannot unmarshal !!int `{v}` into this field")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Err(E::custom(format!(
                "cannot unmarshal !!str `{v}` into an integer"
            )))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            // Go's yaml.v2 truncates a float into an integer field when it fits.
            if v.is_finite() && v.abs() < 9.2e18 {
                self.visit_i64(v.trunc() as i64)
            } else {
                Err(E::custom(format!(
                    "cannot unmarshal !!float `{v}` into an integer"
                )))
            }
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// A YAML boolean, refusing quoted strings (`'true'`), as Go's decoder refuses `!!str`
/// for a bool; `null` is false.
fn bool_visit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<bool>, E> {
            Ok(Some(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<bool>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<bool>, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<bool>, E> {
            Err(E::custom(format!("cannot unmarshal !!str `{v}` into bool")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<bool>, E> {
            Err(E::custom(format!("cannot unmarshal !!int `{v}` into bool")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<bool>, E> {
            Err(E::custom(format!("cannot unmarshal !!int `{v}` into bool")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<bool>, E> {
            Err(E::custom(format!(
                "cannot unmarshal !!float `{v}` into bool"
            )))
        }
    }
    d.deserialize_any(V)
}

/// For `bool` fields (see [`bool_visit`]).
pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    bool_visit(d).map(Option::unwrap_or_default)
}

/// For `Option<bool>` fields (`*bool` in Go): `null` is unset.
pub(crate) fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    bool_visit(d)
}
