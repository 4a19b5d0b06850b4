//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ember_template::{FuncMap, Template, Value};

pub(crate) fn run(text: &str, data: &Value) -> String {
    let mut t = Template::new("t");
    t.parse(text)
        .unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    t.execute(data)
        .unwrap_or_else(|e| panic!("exec {text:?}: {e}"))
}

pub(crate) fn run_funcs(text: &str, funcs: FuncMap, data: &Value) -> String {
    let mut t = Template::new("t");
    t.funcs(funcs);
    t.parse(text)
        .unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    t.execute(data)
        .unwrap_or_else(|e| panic!("exec {text:?}: {e}"))
}

pub(crate) fn parse_err(text: &str) -> String {
    let mut t = Template::new("t");
    match t.parse(text) {
        Ok(_) => panic!("parse {text:?} should fail"),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn exec_err(text: &str, data: &Value) -> String {
    let mut t = Template::new("t");
    t.parse(text)
        .unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    match t.execute(data) {
        Ok(out) => panic!("exec {text:?} should fail, got {out:?}"),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn html(text: &str, data: &Value) -> String {
    let mut t = Template::new_html("t");
    t.parse(text)
        .unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    t.execute(data)
        .unwrap_or_else(|e| panic!("exec {text:?}: {e}"))
}

/// A data value resembling the structs in Go's exec tests.
pub(crate) fn data() -> Value {
    Value::map([
        ("I", Value::Int(17)),
        ("F", Value::Float(1.5)),
        ("S", Value::from("xyz")),
        ("B", Value::Bool(true)),
        ("Empty", Value::from("")),
        ("Zero", Value::Int(0)),
        ("SI", Value::list([3, 4, 5])),
        ("SS", Value::list(["a", "b"])),
        ("SEmpty", Value::list(Vec::<Value>::new())),
        ("MSI", Value::map([("one", 1), ("two", 2), ("three", 3)])),
        ("MEmpty", Value::map(Vec::<(String, Value)>::new())),
        ("Nil", Value::Nil),
        (
            "U",
            Value::map([("V", Value::from("v")), ("W", Value::map([("X", "deep")]))]),
        ),
    ])
}
