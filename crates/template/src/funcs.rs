//! Go's predefined template functions and the host's [`FuncMap`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::gofmt;
use crate::value::{Func, Value};

/// Host functions by name, added with [`crate::Template::funcs`] before parsing (as in Go,
/// the parser rejects unknown function names). Host functions shadow builtins.
#[derive(Clone, Default)]
pub struct FuncMap {
    map: HashMap<String, Func>,
}

impl FuncMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a function; chainable.
    pub fn add<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.insert(name, f);
        self
    }

    /// Adds (or replaces) a function.
    pub fn insert<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.map.insert(name.to_string(), Arc::new(f));
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Func> {
        self.map.get(name)
    }

    pub(crate) fn extend(&mut self, other: FuncMap) {
        self.map.extend(other.map);
    }
}

impl std::fmt::Debug for FuncMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        f.debug_tuple("FuncMap").field(&names).finish()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Html,
    Js,
    Urlquery,
    Call,
}

impl Builtin {
    pub(crate) fn lookup(name: &str) -> Option<Builtin> {
        Some(match name {
            "and" => Builtin::And,
            "or" => Builtin::Or,
            "not" => Builtin::Not,
            "len" => Builtin::Len,
            "index" => Builtin::Index,
            "slice" => Builtin::Slice,
            "print" => Builtin::Print,
            "printf" => Builtin::Printf,
            "println" => Builtin::Println,
            "eq" => Builtin::Eq,
            "ne" => Builtin::Ne,
            "lt" => Builtin::Lt,
            "le" => Builtin::Le,
            "gt" => Builtin::Gt,
            "ge" => Builtin::Ge,
            "html" => Builtin::Html,
            "js" => Builtin::Js,
            "urlquery" => Builtin::Urlquery,
            "call" => Builtin::Call,
            _ => return None,
        })
    }

    /// (minimum, maximum) argument counts, from the Go signatures.
    pub(crate) fn arity(self) -> (usize, Option<usize>) {
        match self {
            Builtin::And | Builtin::Or | Builtin::Index | Builtin::Slice | Builtin::Printf => {
                (1, None)
            }
            Builtin::Eq | Builtin::Call => (1, None),
            Builtin::Not | Builtin::Len => (1, Some(1)),
            Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => (2, Some(2)),
            Builtin::Print | Builtin::Println | Builtin::Html | Builtin::Js | Builtin::Urlquery => {
                (0, None)
            }
        }
    }

    /// Calls a builtin other than the short-circuiting `and`/`or` (handled by the
    /// executor) on evaluated arguments whose count has been checked.
    pub(crate) fn call(self, a: &[Value]) -> Result<Value, String> {
        match self {
            Builtin::And | Builtin::Or => Ok(a.last().cloned().unwrap_or(Value::NoValue)),
            Builtin::Not => Ok(Value::Bool(!a[0].truth())),
            Builtin::Len => length(&a[0]).map(Value::from),
            Builtin::Index => index(&a[0], &a[1..]),
            Builtin::Slice => slice(&a[0], &a[1..]),
            Builtin::Print => Ok(Value::String(gofmt::sprint(a))),
            Builtin::Println => Ok(Value::String(gofmt::sprintln(a))),
            Builtin::Printf => {
                let f = a[0].as_str().unwrap_or_default();
                Ok(Value::String(gofmt::sprintf(f, &a[1..])))
            }
            Builtin::Eq => eq(&a[0], &a[1..]).map(Value::Bool),
            Builtin::Ne => eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b)),
            Builtin::Lt => lt(&a[0], &a[1]).map(Value::Bool),
            Builtin::Le => le(&a[0], &a[1]).map(Value::Bool),
            Builtin::Gt => le(&a[0], &a[1]).map(|b| Value::Bool(!b)),
            Builtin::Ge => lt(&a[0], &a[1]).map(|b| Value::Bool(!b)),
            Builtin::Html => Ok(Value::String(html_escape(&eval_args(a)))),
            Builtin::Js => Ok(Value::String(js_escape(&eval_args(a)))),
            Builtin::Urlquery => Ok(Value::String(query_escape(&eval_args(a)))),
            Builtin::Call => match &a[0] {
                Value::Func(f) => {
                    let args: Vec<Value> = a[1..]
                        .iter()
                        .map(|v| match v {
                            Value::NoValue => Value::Nil,
                            v => v.clone(),
                        })
                        .collect();
                    f(&args)
                }
                Value::Nil | Value::NoValue => Err("call of nil".into()),
                other => Err(format!("non-function of type {}", other.type_name())),
            },
        }
    }
}

/// Go's `evalArgs`: one string argument as is, otherwise `fmt.Sprint` of all.
pub(crate) fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.clone();
    }
    gofmt::sprint(a)
}

fn length(v: &Value) -> Result<usize, String> {
    match v.underlying() {
        Value::String(s) | Value::Safe(_, s) => Ok(s.len()),
        Value::List(l) => Ok(l.len()),
        Value::Map(m) => Ok(m.len()),
        Value::Nil | Value::NoValue => Err("len of nil pointer".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(x) => *x,
        Value::Nil | Value::NoValue => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    if matches!(item, Value::Nil | Value::NoValue) {
        return Err("index of untyped nil".into());
    }
    for i in indexes {
        let zero = match &item {
            Value::Object(o) => o.zero_element(),
            _ => Value::Nil,
        };
        let next = match item.underlying() {
            Value::List(l) => {
                let x = index_arg(i, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {x}"))?
            }
            Value::String(s) | Value::Safe(_, s) => {
                let x = index_arg(i, s.len())?;
                // Indexing a Go string yields a byte.
                Value::Int(i64::from(
                    *s.as_bytes()
                        .get(x)
                        .ok_or_else(|| format!("index out of range: {x}"))?,
                ))
            }
            Value::Map(m) => match i {
                Value::String(k) | Value::Safe(_, k) => m.get(k).cloned().unwrap_or(zero),
                Value::Nil | Value::NoValue => zero,
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            Value::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
        item = next;
    }
    Ok(item)
}

fn slice(item: &Value, idx: &[Value]) -> Result<Value, String> {
    if matches!(item, Value::Nil | Value::NoValue) {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let (len, is_str) = match item.underlying() {
        Value::String(s) | Value::Safe(_, s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            (s.len(), true)
        }
        Value::List(l) => (l.len(), false),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut ix = [0, len, len];
    for (k, i) in idx.iter().enumerate() {
        ix[k] = index_arg(i, len)?;
    }
    if ix[0] > ix[1] {
        return Err(format!("invalid slice index: {} > {}", ix[0], ix[1]));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(format!("invalid slice index: {} > {}", ix[1], ix[2]));
    }
    Ok(match item.underlying() {
        Value::String(s) | Value::Safe(_, s) if is_str => {
            // Go slices bytes; a cut through a character cannot be a Rust string, so it
            // is repaired with U+FFFD.
            Value::String(String::from_utf8_lossy(&s.as_bytes()[ix[0]..ix[1]]).into_owned())
        }
        Value::List(l) => Value::List(Arc::new(l[ix[0]..ix[1]].to_vec())),
        _ => Value::NoValue,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v.underlying() {
        Value::Nil | Value::NoValue => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) | Value::Safe(..) => Kind::String,
        _ => Kind::Other,
    }
}

fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    let a1 = a.underlying();
    for b in others {
        let k2 = basic_kind(b);
        let b1 = b.underlying();
        let truth = if k1 != k2 {
            if k1 != Kind::Invalid && k2 != Kind::Invalid {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    a1.type_name(),
                    b1.type_name()
                ));
            }
            false
        } else {
            match (a1, b1) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                _ if k1 == Kind::String => a1.as_str() == b1.as_str(),
                _ if k1 == Kind::Invalid => true,
                _ => {
                    return Err(format!("non-comparable type {}: {}", b1, b1.type_name()));
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if matches!(k1, Kind::Invalid | Kind::Other) || matches!(k2, Kind::Invalid | Kind::Other) {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    match (a.underlying(), b.underlying()) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (x, y) if k1 == Kind::String => Ok(x.as_str() < y.as_str()),
        _ => Err("invalid type for comparison".into()),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) >= 0x80 && (c.is_control() || c == '\u{2028}' || c == '\u{2029}') => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
