//! Alertmanager's `template.KV`, `Pairs` and `Pair` as template objects, so that
//! notification templates such as `{{ .CommonLabels.Remove .GroupLabels.Names }}` and
//! `{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }}{{ end }}` work unchanged.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::value::{Object, Value, check_args};

/// A `map[string]string` with Alertmanager's methods: `SortedPairs`, `Names`, `Values`,
/// `Remove`. Keys resolve as fields (`.Labels.severity`), missing keys are "no value"
/// (or `""` under `missingkey=zero`, as for Go's string-valued maps).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kv {
    map: Value,
    entries: Arc<BTreeMap<String, String>>,
}

impl Kv {
    /// Builds a KV from pairs.
    pub fn new<I, K, V>(pairs: I) -> Kv
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let entries: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Kv::from_map(entries)
    }

    fn from_map(entries: BTreeMap<String, String>) -> Kv {
        let map = Value::map(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        Kv {
            map,
            entries: Arc::new(entries),
        }
    }

    /// The entries, in key order.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// Alertmanager's order: `alertname` first, then the other keys sorted.
    fn sorted_keys(&self) -> Vec<&String> {
        let mut keys: Vec<&String> = Vec::with_capacity(self.entries.len());
        if let Some((k, _)) = self.entries.get_key_value("alertname") {
            keys.push(k);
        }
        keys.extend(self.entries.keys().filter(|k| k.as_str() != "alertname"));
        keys
    }

    fn pairs(&self) -> Pairs {
        Pairs::new(
            self.sorted_keys()
                .into_iter()
                .map(|k| (k.clone(), self.entries[k].clone()))
                .collect(),
        )
    }
}

impl Object for Kv {
    fn type_name(&self) -> &str {
        "template.KV"
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match name {
            "SortedPairs" => check_args(name, args, 0).map(|_| Value::object(self.pairs())),
            // Names and Values are sorted by key without the alertname special case.
            "Names" => check_args(name, args, 0)
                .map(|_| Value::list(self.entries.keys().map(String::as_str))),
            "Values" => check_args(name, args, 0)
                .map(|_| Value::list(self.entries.values().map(String::as_str))),
            "Remove" => check_args(name, args, 1).and_then(|_| {
                let keys: Vec<String> = match args[0].underlying() {
                    Value::List(l) => l
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or("wrong type for value; expected []string")?,
                    Value::Nil | Value::NoValue => Vec::new(),
                    other => {
                        return Err(format!(
                            "wrong type for value; expected []string; got {}",
                            other.type_name()
                        ));
                    }
                };
                let mut m = (*self.entries).clone();
                for k in &keys {
                    m.remove(k);
                }
                Ok(Value::object(Kv::from_map(m)))
            }),
            _ => return None,
        })
    }

    fn as_value(&self) -> Option<&Value> {
        Some(&self.map)
    }

    fn zero_element(&self) -> Value {
        Value::String(String::new())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Alertmanager's `Pairs`: a list of [`Pair`]s with `Names` and `Values` methods.
#[derive(Debug, Clone)]
pub struct Pairs {
    pairs: Vec<(String, String)>,
    /// The same pairs as a list of `Pair` objects, for `range`, `index` and printing.
    list: Value,
}

impl Object for Pairs {
    fn type_name(&self) -> &str {
        "template.Pairs"
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let v = match name {
            "Names" => Value::list(self.pairs.iter().map(|(k, _)| k.as_str())),
            "Values" => Value::list(self.pairs.iter().map(|(_, v)| v.as_str())),
            _ => return None,
        };
        Some(check_args(name, args, 0).map(|_| v))
    }

    fn as_value(&self) -> Option<&Value> {
        Some(&self.list)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Pairs {
    fn new(pairs: Vec<(String, String)>) -> Pairs {
        let list = Value::list(
            pairs
                .iter()
                .map(|(k, v)| Value::object(Pair(k.clone(), v.clone()))),
        );
        Pairs { pairs, list }
    }
}

/// Alertmanager's `Pair`, with fields `Name` and `Value`.
#[derive(Debug, Clone)]
pub struct Pair(String, String);

impl Object for Pair {
    fn type_name(&self) -> &str {
        "template.Pair"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::String(self.0.clone())),
            "Value" => Some(Value::String(self.1.clone())),
            _ => None,
        }
    }

    fn to_text(&self) -> String {
        format!("{{{} {}}}", self.0, self.1)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
