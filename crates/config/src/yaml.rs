//! YAML plumbing: strict parsing, located errors, and the few generic value types the
//! raw schema needs.
//!
//! serde-saphyr reports a line and column for every error but no field path, and its
//! texts are not Go's. When a parse fails, the document is parsed a second time into a
//! bare tree of located nodes ([`PathIndex`]) to recover the path of the node the error
//! points at, and the error is reworded after Go's `yaml.v2` (`field x not found in
//! type config.plain`) so that messages read as Prometheus's do.

use crate::ConfigError;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_saphyr::{Location, MessageFormatter, Spanned};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// Shorthand: a value with the place it came from.
pub(crate) type Sp<T> = Spanned<T>;

/// A 1-based line and column; zero when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Pos {
    pub(crate) fn of<T>(s: &Sp<T>) -> Pos {
        Pos::from_location(&s.referenced)
    }

    pub(crate) fn from_location(l: &Location) -> Pos {
        Pos {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX),
        }
    }
}

/// Go's `yaml.UnmarshalStrict`: duplicate keys are errors; snippets are left out
/// because callers render errors in Go's words. Shared with the other YAML formats
/// Prometheus decodes strictly (rule files).
pub fn strict_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.with_snippet = false;
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o
}

/// Parses `text` into `T`, mapping failures to located [`ConfigError`]s. `root_type`
/// is the Go type name used in "field x not found in type ..." at the top level.
pub(crate) fn parse<T: DeserializeOwned + Default>(
    text: &str,
    file: &Path,
    root_type: &str,
) -> Result<T, ConfigError> {
    // An empty document is the default config, as in Prometheus, where the decoder
    // never calls UnmarshalYAML for it.
    if is_blank_document(text) {
        return Ok(T::default());
    }
    serde_saphyr::from_str_with_options::<Option<T>>(text, strict_options())
        .map(Option::unwrap_or_default)
        .map_err(|e| convert_error(&e, text, file, root_type))
}

/// Whether a document holds nothing but blank lines and comments, which Go's
/// decoder reads as no value at all (the zero value, without calling any
/// `UnmarshalYAML`).
pub fn is_blank_document(text: &str) -> bool {
    text.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// A mapping kept in document order with every entry, for the maps whose keys need
/// validating with a location (label names, header names).
#[derive(Debug)]
pub(crate) struct Pairs<K, V>(pub(crate) Vec<(K, V)>);

impl<K, V> Default for Pairs<K, V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Pairs<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for V2<K, V> {
            type Value = Pairs<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Pairs(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = a.next_key()? {
                    out.push((k, a.next_value()?));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// For `#[serde(deserialize_with)]`: tells an explicit `null` (`Some(None)`) from an
/// absent key (`None`), where Go's decoder zeroes the field on `null`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An arbitrary YAML value, for the one schema field that is free-form (OAuth2
/// `claims`).
#[derive(Clone, Debug, PartialEq)]
pub enum YamlValue {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<YamlValue>),
    /// A mapping, in document order.
    Map(Vec<(String, YamlValue)>),
}

impl<'de> Deserialize<'de> for YamlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YamlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<YamlValue, E> {
                Ok(YamlValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<YamlValue, E> {
                Ok(YamlValue::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlValue, E> {
                Ok(YamlValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlValue, E> {
                Ok(YamlValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlValue, E> {
                Ok(i64::try_from(v).map_or(YamlValue::Float(v as f64), YamlValue::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlValue, E> {
                Ok(YamlValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlValue, E> {
                Ok(YamlValue::String(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<YamlValue, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(YamlValue::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<YamlValue, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = a.next_key::<String>()? {
                    out.push((k, a.next_value()?));
                }
                Ok(YamlValue::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for YamlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            YamlValue::Null => s.serialize_unit(),
            YamlValue::Bool(b) => s.serialize_bool(*b),
            YamlValue::Int(i) => s.serialize_i64(*i),
            YamlValue::Float(f) => s.serialize_f64(*f),
            YamlValue::String(v) => s.serialize_str(v),
            YamlValue::Seq(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            YamlValue::Map(v) => {
                let mut map = s.serialize_map(Some(v.len()))?;
                for (k, x) in v {
                    map.serialize_entry(k, x)?;
                }
                map.end()
            }
        }
    }
}

/// Go's `strconv.Quote` for arbitrary bytes: what Prometheus prints for a label name
/// that is not UTF-8.
pub(crate) fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = b;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (v, r) = rest.split_at(e.valid_up_to());
                (std::str::from_utf8(v).unwrap_or_default(), r)
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c => out.push(c),
            }
        }
        if let Some((first, tail)) = bad.split_first() {
            out.push_str(&format!("\\x{first:02x}"));
            rest = tail;
        } else {
            rest = &[];
        }
    }
    out.push('"');
    out
}

/// Base64 as YAML's `!!binary` uses it (whitespace ignored, padding optional).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect();
    ember_model::base64::decode(&digits, ember_model::base64::Alphabet::Standard).ok()
}

/// A YAML document reduced to its shape: where each node starts and how it is
/// keyed, whatever the values. What a check for unknown keys or a lookup of the
/// field path at an error's position needs, without a schema.
#[derive(Debug)]
pub enum YamlNode {
    /// A scalar (or null).
    Leaf,
    /// A sequence.
    Seq(Vec<Spanned<YamlNode>>),
    /// A mapping, in document order; keys are read as strings, so that `y` stays
    /// `y` rather than becoming YAML 1.1's `true`.
    Map(Vec<(Spanned<String>, Spanned<YamlNode>)>),
}

macro_rules! leaf_visits {
    ($ty:ty, $make:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<$ty, E> {
            Ok($make(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
            Ok($make(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
            Ok($make(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
            Ok($make(v.to_string()))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
            Ok($make(v.to_string()))
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<$ty, E> {
            Ok($make(String::from_utf8_lossy(v).into_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$ty, E> {
            Ok($make(String::new()))
        }
        fn visit_none<E: de::Error>(self) -> Result<$ty, E> {
            Ok($make(String::new()))
        }
    };
}

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YamlNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any node")
            }
            leaf_visits!(YamlNode, |_: String| YamlNode::Leaf);
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<YamlNode, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(YamlNode::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<YamlNode, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = a.next_key()? {
                    out.push((k, a.next_value()?));
                }
                Ok(YamlNode::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// What the index knows about the node at an error's position.
#[derive(Default)]
struct Found {
    /// Path of the innermost node starting at or before the position.
    path: String,
    /// Path of the mapping that holds it.
    parent: String,
    /// The node is a mapping key.
    is_key: bool,
    /// Kind of the node starting exactly at the position, as Go's tags name them.
    tag: Option<&'static str>,
}

/// Recovers field paths from positions, by a second, lenient parse.
struct PathIndex(Option<Sp<YamlNode>>);

impl PathIndex {
    fn build(text: &str) -> PathIndex {
        let mut o = strict_options();
        o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
        o.ignore_binary_tag_for_string = true;
        PathIndex(serde_saphyr::from_str_with_options::<Sp<YamlNode>>(text, o).ok())
    }

    fn find(&self, at: Pos) -> Found {
        let mut found = Found::default();
        if let Some(root) = &self.0 {
            walk(root, String::new(), String::new(), at, &mut found);
        }
        found
    }
}

fn tag_of(n: &YamlNode) -> &'static str {
    match n {
        YamlNode::Leaf => "!!str",
        YamlNode::Seq(_) => "!!seq",
        YamlNode::Map(_) => "!!map",
    }
}

fn key_segment(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

fn walk(node: &Sp<YamlNode>, path: String, parent: String, at: Pos, found: &mut Found) {
    let start = Pos::of(node);
    if start > at {
        return;
    }
    if start == at && found.tag.is_none() {
        found.tag = Some(tag_of(&node.value));
    }
    found.path = path.clone();
    found.parent = parent;
    found.is_key = false;
    match &node.value {
        YamlNode::Leaf => {}
        YamlNode::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), path.clone(), at, found);
            }
        }
        YamlNode::Map(entries) => {
            for (k, v) in entries {
                let kpos = Pos::of(k);
                if kpos > at {
                    break;
                }
                let child = key_segment(&path, &k.value);
                found.path = child.clone();
                found.parent = path.clone();
                found.is_key = true;
                if kpos == at {
                    found.tag = Some("!!str");
                }
                // A value always starts after its key, so it only takes over when
                // the position lies in or after it.
                walk(v, child, path.clone(), at, found);
            }
        }
    }
}

/// Prometheus's service discovery mechanisms that Ember does not implement. Their
/// keys are reported as unsupported rather than unknown.
pub(crate) const UNSUPPORTED_SD: &[&str] = &[
    "aws_sd_configs",
    "azure_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "ec2_sd_configs",
    "ecs_sd_configs",
    "elasticache_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "msk_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "oci_sd_configs",
    "openstack_sd_configs",
    "outscale_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "rds_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
];

/// The Go type Prometheus would name for the mapping at `parent`, so that unknown-
/// field messages match Prometheus's (`field foo not found in type kubernetes.plain`).
fn go_type<'a>(parent: &str, root_type: &'a str) -> &'a str {
    let last = parent
        .rsplit('.')
        .next()
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("");
    match last {
        "" => root_type,
        "kubernetes_sd_configs" | "namespaces" | "selectors" | "attach_metadata" => {
            "kubernetes.plain"
        }
        "file_sd_configs" => "file.plain",
        "http_sd_configs" => "http.plain",
        "dns_sd_configs" => "dns.plain",
        "consul_sd_configs" => "consul.plain",
        "static_configs" => "targetgroup.Group",
        _ => "config.plain",
    }
}

/// Fields whose values are free mappings rather than structs: a duplicate key there
/// is reported the way Go reports map keys.
const MAP_FIELDS: &[&str] = &[
    "external_labels",
    "labels",
    "headers",
    "http_headers",
    "params",
    "required_matchers",
    "node_meta",
    "endpoint_params",
    "proxy_connect_header",
    "claims",
];

fn unwrap_error(e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match e {
        serde_saphyr::Error::WithSnippet { error, .. } => unwrap_error(error),
        serde_saphyr::Error::AliasError { error, .. } => unwrap_error(error),
        other => other,
    }
}

fn convert_error(
    err: &serde_saphyr::Error,
    text: &str,
    file: &Path,
    root_type: &str,
) -> ConfigError {
    use serde_saphyr::Error as E;
    let inner = unwrap_error(err);
    let location = inner.location();
    let pos = location
        .as_ref()
        .map(Pos::from_location)
        .unwrap_or_default();
    let found = if pos.line > 0 {
        PathIndex::build(text).find(pos)
    } else {
        Found::default()
    };
    let syntax = |message: String| ConfigError::Syntax {
        file: file.to_path_buf(),
        line: pos.line,
        column: pos.column,
        field: found.path.clone(),
        message,
    };
    match inner {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let in_sd_holder = expected.contains(&"job_name") || expected.contains(&"api_version");
            if in_sd_holder && UNSUPPORTED_SD.contains(&field.as_str()) {
                return ConfigError::Unsupported {
                    file: file.to_path_buf(),
                    line: pos.line,
                    column: pos.column,
                    field: found.path.clone(),
                    feature: field.clone(),
                };
            }
            syntax(format!(
                "field {field} not found in type {}",
                go_type(&found.parent, root_type)
            ))
        }
        E::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_default();
            let holder = found.parent.rsplit('.').next().unwrap_or("");
            if MAP_FIELDS.contains(&holder) {
                syntax(format!("key {key:?} already set in map"))
            } else {
                syntax(format!(
                    "field {key} already set in type {}",
                    go_type(&found.parent, root_type)
                ))
            }
        }
        E::InvalidBinaryBase64 { .. } => {
            syntax("!!binary value contains invalid base64 data".into())
        }
        E::BinaryNotUtf8 { location } => {
            let span = location.span();
            let raw = match (span.byte_offset(), span.byte_len()) {
                (Some(o), Some(l)) => text
                    .get(o as usize..(o + l) as usize)
                    .unwrap_or_default()
                    .trim_matches(|c| c == '"' || c == '\''),
                _ => "",
            };
            let quoted = go_quote_bytes(&decode_base64(raw).unwrap_or_default());
            let in_labels =
                found.parent.ends_with("external_labels") || found.parent.ends_with(".labels");
            let what = match (in_labels, found.is_key) {
                (true, true) => "is not a valid label name",
                (true, false) => "is not a valid label value",
                _ => "is not valid UTF-8",
            };
            syntax(format!("{quoted} {what}"))
        }
        E::Message { msg, .. } => syntax(msg.clone()),
        E::Unexpected { expected, .. } => syntax(type_error(found.tag, expected)),
        E::SerdeInvalidType { expected, .. } => syntax(type_error(found.tag, expected)),
        E::InvalidScalar { ty, .. } => {
            let shown = scalar_text(text, location.as_ref());
            syntax(format!(
                "unmarshal errors: cannot unmarshal !!str `{shown}` into {}",
                go_scalar_type(ty)
            ))
        }
        other => syntax(
            serde_saphyr::DefaultMessageFormatter
                .format_message(other)
                .into_owned(),
        ),
    }
}

fn scalar_text<'a>(text: &'a str, location: Option<&Location>) -> &'a str {
    location
        .and_then(|l| {
            let span = l.span();
            let (o, len) = (span.byte_offset()?, span.byte_len()?);
            text.get(o as usize..(o + len) as usize)
        })
        .unwrap_or_default()
}

fn go_scalar_type(ty: &str) -> &str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "usize" => "uint",
        "i8" | "i16" | "i32" | "i64" | "isize" => "int",
        "f32" | "f64" => "float64",
        "bool" => "bool",
        other => other,
    }
}

fn type_error(found: Option<&str>, expected: &str) -> String {
    let expected = expected
        .trim_end_matches(" start")
        .trim_end_matches(" scalar");
    let into = match expected {
        "mapping" | "a mapping" | "struct" => "a mapping",
        "sequence" | "a sequence" => "a sequence",
        "string" | "a string" => "a string",
        other => other,
    };
    format!(
        "unmarshal errors: cannot unmarshal {} into {into}",
        found.unwrap_or("value")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote_bytes(b"\xff"), r#""\xff""#);
        assert_eq!(go_quote_bytes("a\"b\n".as_bytes()), r#""a\"b\n""#);
        assert_eq!(go_quote_bytes("測試".as_bytes()), "\"測試\"");
        assert_eq!(decode_base64("/w==").unwrap(), vec![0xff]);
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi".to_vec());
        assert!(decode_base64("/w==$1").is_none());
    }

    #[test]
    fn index_finds_paths() {
        let text = "a:\n  b:\n    - x: 1\n      y: [1, 2]\n  c: 3\n";
        let idx = PathIndex::build(text);
        let f = idx.find(Pos { line: 4, column: 7 });
        assert_eq!(f.path, "a.b[0].y");
        assert!(f.is_key);
        let f = idx.find(Pos {
            line: 4,
            column: 10,
        });
        assert_eq!(f.path, "a.b[0].y");
        assert!(!f.is_key);
        assert_eq!(f.tag, Some("!!seq"));
        let f = idx.find(Pos { line: 5, column: 3 });
        assert_eq!(f.path, "a.c");
        assert_eq!(f.parent, "a");
    }
}
