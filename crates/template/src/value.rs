//! The dynamic data model templates run over.
//!
//! Go templates reach into arbitrary Go values by reflection; here the host converts its
//! data into [`Value`]s once. Plain data uses the enum's variants; anything with methods
//! (Alertmanager's `KV`, times, durations, the host's own structs) implements [`Object`].

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A function callable from templates: it gets the evaluated arguments and returns a value
/// or an error message (Go's `(T, error)` convention). Used for the [`crate::FuncMap`],
/// for [`Value::Func`] (Go's `call`) and by [`Object::method`] implementations.
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// What kind of trusted content a [`Value::Safe`] carries (Go's `template.HTML`,
/// `template.URL`, …). html/template skips escaping for content whose kind suits the
/// context; text/template treats all of them as plain strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    /// A document fragment (`template.HTML`), emitted unescaped in HTML text.
    Html,
    /// An attribute name/value pair (`template.HTMLAttr`), allowed where attribute names go.
    HtmlAttr,
    /// A URL (`template.URL`), exempt from the URL scheme filter.
    Url,
    /// A JavaScript expression (`template.JS`).
    Js,
    /// Text for inside a JavaScript string (`template.JSStr`).
    JsStr,
    /// CSS (`template.CSS`).
    Css,
}

/// A template data value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's invalid value: what a missing map key evaluates to. It prints as
    /// `<no value>` and is false; functions receive it as [`Value::Nil`].
    NoValue,
    /// Go's `nil`; prints as `<nil>`.
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// A signed integer (Go's `int`).
    Int(i64),
    /// A float (Go's `float64`).
    Float(f64),
    /// A string.
    String(String),
    /// A slice; shared so that passing it around the template is cheap.
    List(Arc<Vec<Value>>),
    /// A string-keyed map; iteration (and printing) follow key order, as Go's templates do.
    Map(Arc<BTreeMap<String, Value>>),
    /// A host value with fields and methods.
    Object(Arc<dyn Object>),
    /// A function value, callable with the `call` builtin.
    Func(Func),
    /// A string the host vouches for in html/template (`safeHtml` and friends).
    Safe(ContentKind, String),
}

/// A host value exposed to templates: a struct with fields, methods, or both.
///
/// Lookups for `.Name` try [`method`](Object::method) first (Go resolves methods before
/// fields and map keys), then [`field`](Object::field), then the keys of the
/// [`as_value`](Object::as_value) map if there is one.
pub trait Object: Send + Sync {
    /// Go's type name, used in error messages (`can't evaluate field X in type T`).
    fn type_name(&self) -> &str;

    /// A field's value, or `None` if there is no such field.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    /// Calls a method with already evaluated arguments; `None` if there is no such method.
    /// Arity and type errors are the method's to report (see [`check_args`]).
    fn method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }

    /// The plain value the object wraps, if any: a map type such as `KV` returns its map
    /// here so that `range`, `len`, `index`, map-key lookups, truth and comparison work
    /// on it as in Go.
    fn as_value(&self) -> Option<&Value> {
        None
    }

    /// The text `{{.}}` and `%v` print (Go's `String()` method or struct printing).
    fn to_text(&self) -> String {
        match self.as_value() {
            Some(v) => v.to_string(),
            None => format!("{{{}}}", self.type_name()),
        }
    }

    /// Go truth: the wrapped value's, else true (a non-nil struct or pointer).
    fn truth(&self) -> bool {
        self.as_value().is_none_or(Value::truth)
    }

    /// What a missing key yields under `missingkey=zero`: the zero value of the map's
    /// element type (`""` for a `map[string]string` such as `KV`).
    fn zero_element(&self) -> Value {
        Value::Nil
    }

    /// For hosts that need the concrete type back (e.g. a `humanizeTimestamp` taking a time).
    fn as_any(&self) -> &dyn Any;
}

/// Checks a method's argument count with Go's message for a mismatch.
pub fn check_args(name: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() != want {
        return Err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        ));
    }
    Ok(())
}

impl Value {
    /// Builds a list value.
    pub fn list<I: IntoIterator<Item = V>, V: Into<Value>>(items: I) -> Value {
        Value::List(Arc::new(items.into_iter().map(Into::into).collect()))
    }

    /// Builds a map value.
    pub fn map<I, K, V>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        Value::Map(Arc::new(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }

    /// Wraps a host object.
    pub fn object<O: Object + 'static>(o: O) -> Value {
        Value::Object(Arc::new(o))
    }

    /// Wraps a closure for `call`.
    pub fn func<F>(f: F) -> Value
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        Value::Func(Arc::new(f))
    }

    /// Go's truth: false for false, 0, 0.0, "", empty lists and maps, nil and no value.
    pub fn truth(&self) -> bool {
        match self {
            Value::NoValue | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) | Value::Safe(_, s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.truth(),
            Value::Func(_) => true,
        }
    }

    /// The string inside a string or trusted-content value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Safe(_, s) => Some(s),
            _ => None,
        }
    }

    /// The number as a float, for ints and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer, for ints.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The host object, downcast to `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        match self {
            Value::Object(o) => o.as_any().downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Objects that wrap plain data stand for that data; everything else for itself.
    pub(crate) fn underlying(&self) -> &Value {
        match self {
            Value::Object(o) => o.as_value().unwrap_or(self),
            _ => self,
        }
    }

    /// Go's type name for messages and `%!verb(type=value)` texts.
    pub fn type_name(&self) -> String {
        match self {
            Value::NoValue | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name().to_string(),
            Value::Func(_) => "func(...interface {}) (interface {}, error)".into(),
            Value::Safe(k, _) => match k {
                ContentKind::Html => "template.HTML",
                ContentKind::HtmlAttr => "template.HTMLAttr",
                ContentKind::Url => "template.URL",
                ContentKind::Js => "template.JS",
                ContentKind::JsStr => "template.JSStr",
                ContentKind::Css => "template.CSS",
            }
            .into(),
        }
    }
}

impl fmt::Display for Value {
    /// Go's `%v`: `map[a:1 b:2]`, `[a b]`, `<nil>`, floats in `%g` shortest form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::NoValue => write!(f, "<no value>"),
            Value::Nil => write!(f, "<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", crate::gofmt::format_float_g(*x)),
            Value::String(s) | Value::Safe(_, s) => write!(f, "{s}"),
            Value::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    v.fmt_nested(f)?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{k}:")?;
                    v.fmt_nested(f)?;
                }
                write!(f, "]")
            }
            Value::Object(o) => write!(f, "{}", o.to_text()),
            Value::Func(_) => write!(f, "0x0"),
        }
    }
}

impl Value {
    /// Inside lists and maps Go prints a nil interface as `<nil>`, never `<no value>`.
    fn fmt_nested(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::NoValue => write!(f, "<nil>"),
            v => write!(f, "{v}"),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{s:?}"),
            Value::Safe(k, s) => write!(f, "{k:?}({s:?})"),
            Value::Object(o) => write!(f, "{}({})", o.type_name(), o.to_text()),
            v => write!(f, "{v}"),
        }
    }
}

impl PartialEq for Value {
    /// Structural equality for tests and hosts (not Go's `eq`, which has its own rules).
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::NoValue, Value::NoValue) | (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Safe(k1, a), Value::Safe(k2, b)) => k1 == k2 && a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => {
                Arc::ptr_eq(a, b) || (a.type_name() == b.type_name() && a.to_text() == b.to_text())
            }
            (Value::Func(a), Value::Func(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(Arc::new(v))
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(v: BTreeMap<String, Value>) -> Self {
        Value::Map(Arc::new(v))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Nil, Into::into)
    }
}
