//! Host objects: fields, methods with arguments, Alertmanager's KV and templates.

mod common;
use common::*;
use ember_template::{FuncMap, Kv, Object, Template, Value, check_args, time::Time};
use std::any::Any;

/// A host struct with a field, methods with and without arguments, and a failing method.
struct Person {
    name: String,
}

impl Object for Person {
    fn type_name(&self) -> &str {
        "main.Person"
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "Name").then(|| Value::from(self.name.as_str()))
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match name {
            "Greet" => check_args(name, args, 1)
                .map(|_| Value::String(format!("{}, {}!", args[0], self.name))),
            "Upper" => check_args(name, args, 0).map(|_| Value::String(self.name.to_uppercase())),
            "Fail" => Err("no can do".into()),
            _ => return None,
        })
    }
    fn to_text(&self) -> String {
        format!("Person({})", self.name)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn person_data() -> Value {
    Value::map([("P", Value::object(Person { name: "Ann".into() }))])
}

#[test]
fn fields_and_methods() {
    let d = person_data();
    assert_eq!(
        run("{{.P.Name}} {{.P.Upper}} {{.P}}", &d),
        "Ann ANN Person(Ann)"
    );
    assert_eq!(run("{{.P.Greet \"Hello\"}}", &d), "Hello, Ann!");
    // The piped value is the method's last argument.
    assert_eq!(run("{{\"Hi\" | .P.Greet}}", &d), "Hi, Ann!");
    assert_eq!(
        run(
            "{{with .P}}{{.Greet (printf \"%s%s\" \"Yo\" \"!\")}}{{end}}",
            &d
        ),
        "Yo!, Ann!"
    );
    assert_eq!(run("{{$p := .P}}{{$p.Greet 1}}", &d), "1, Ann!");
}

#[test]
fn method_errors() {
    let d = person_data();
    assert_eq!(
        exec_err("{{.P.Fail}}", &d),
        "template: t:1:2: executing \"t\" at <.P.Fail>: error calling Fail: no can do"
    );
    assert_eq!(
        exec_err("{{.P.Greet}}", &d),
        "template: t:1:2: executing \"t\" at <.P.Greet>: error calling Greet: wrong number of args for Greet: want 1 got 0"
    );
    assert_eq!(
        exec_err("{{.P.Name 1}}", &d),
        "template: t:1:2: executing \"t\" at <.P.Name>: Name has arguments but cannot be invoked as function"
    );
    assert_eq!(
        exec_err("{{.P.Age}}", &d),
        "template: t:1:2: executing \"t\" at <.P.Age>: can't evaluate field Age in type main.Person"
    );
}

fn kv(pairs: &[(&str, &str)]) -> Value {
    Value::object(Kv::new(pairs.iter().copied()))
}

#[test]
fn kv_methods() {
    let labels = kv(&[("severity", "page"), ("alertname", "Down"), ("job", "api")]);
    let group = kv(&[("job", "api")]);
    let d = Value::map([("L", labels), ("G", group)]);
    assert_eq!(run("{{.L.severity}} {{.L.missing}}", &d), "page <no value>");
    assert_eq!(
        run("{{range .L.SortedPairs}}{{.Name}}={{.Value}} {{end}}", &d),
        "alertname=Down job=api severity=page "
    );
    assert_eq!(
        run("{{.L.Names}} {{.L.Values}}", &d),
        "[alertname job severity] [Down api page]"
    );
    assert_eq!(run("{{.L.SortedPairs.Values}}", &d), "[Down api page]");
    assert_eq!(
        run("{{(.L.Remove .G.Names).Names}}", &d),
        "[alertname severity]"
    );
    assert_eq!(run("{{with .L.Remove .G.Names}}{{len .}}{{end}}", &d), "2");
    assert_eq!(
        run("{{range $k, $v := .L}}{{$k}}:{{$v}} {{end}}", &d),
        "alertname:Down job:api severity:page "
    );
    assert_eq!(
        run("{{len .L}} {{index .L \"job\"}} {{if .L}}y{{end}}", &d),
        "3 api y"
    );
    assert_eq!(
        run("{{.L}}", &d),
        "map[alertname:Down job:api severity:page]"
    );
    assert_eq!(
        run("{{.L.SortedPairs}}", &d),
        "[{alertname Down} {job api} {severity page}]"
    );
    assert_eq!(
        run("{{if eq (index .L \"job\") \"api\"}}match{{end}}", &d),
        "match"
    );
    // Under missingkey=zero a KV's missing key is "", as for Go's map[string]string.
    let mut t = Template::new("t");
    t.option("missingkey=zero")
        .unwrap()
        .parse("[{{.L.missing}}]")
        .unwrap();
    assert_eq!(t.execute(&d).unwrap(), "[]");
}

/// Alertmanager's `Alerts` type: a list with `Firing` and `Resolved` methods.
struct Alerts(Value);

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let want = match name {
            "Firing" => "firing",
            "Resolved" => "resolved",
            _ => return None,
        };
        Some(check_args(name, args, 0).map(|_| {
            let Value::List(l) = &self.0 else {
                return Value::Nil;
            };
            Value::list(
                l.iter()
                    .filter(|a| match a {
                        Value::Map(m) => m.get("Status").and_then(Value::as_str) == Some(want),
                        _ => false,
                    })
                    .cloned(),
            )
        }))
    }
    fn as_value(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn alertmanager_funcs() -> FuncMap {
    FuncMap::new()
        .add("toUpper", |a| {
            Ok(Value::String(a[0].as_str().unwrap_or("").to_uppercase()))
        })
        .add("join", |a| {
            let sep = a[0].as_str().unwrap_or("").to_string();
            match a[1].underlying_list() {
                Some(l) => Ok(Value::String(
                    l.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(&sep),
                )),
                None => Err("join expects a list".into()),
            }
        })
}

trait ListExt {
    fn underlying_list(&self) -> Option<Vec<Value>>;
}
impl ListExt for Value {
    fn underlying_list(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.to_vec()),
            _ => None,
        }
    }
}

fn alert(status: &str, labels: &[(&str, &str)], summary: &str, start: i64) -> Value {
    Value::map([
        ("Status", Value::from(status)),
        ("Labels", kv(labels)),
        ("Annotations", kv(&[("summary", summary)])),
        ("StartsAt", Value::object(Time::from_unix(start, 0))),
    ])
}

fn notification() -> Value {
    let alerts = Value::list([
        alert(
            "firing",
            &[("alertname", "Down"), ("job", "api"), ("instance", "a:1")],
            "a is down",
            1_700_000_000,
        ),
        alert(
            "firing",
            &[("alertname", "Down"), ("job", "api"), ("instance", "b:1")],
            "b is down",
            1_700_000_060,
        ),
        alert(
            "resolved",
            &[("alertname", "Down"), ("job", "api"), ("instance", "c:1")],
            "c was down",
            1_699_999_000,
        ),
    ]);
    Value::map([
        ("Receiver", Value::from("team-x")),
        ("Status", Value::from("firing")),
        ("Alerts", Value::object(Alerts(alerts))),
        ("GroupLabels", kv(&[("alertname", "Down")])),
        ("CommonLabels", kv(&[("alertname", "Down"), ("job", "api")])),
        ("CommonAnnotations", kv(&[])),
        ("ExternalURL", Value::from("http://am:9093")),
    ])
}

#[test]
fn alertmanager_default_subject() {
    // Alertmanager's default `__subject` template, verbatim.
    let text = r#"{{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}{{ end }}"#;
    let mut t = Template::new("");
    t.option("missingkey=zero")
        .unwrap()
        .funcs(alertmanager_funcs())
        .parse(text)
        .unwrap();
    assert_eq!(
        t.execute_template("__subject", &notification()).unwrap(),
        "[FIRING:2] Down (api)"
    );
}

#[test]
fn alertmanager_alert_list() {
    let text = r#"{{ define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Started: {{ .StartsAt.Format "2006-01-02 15:04:05" }}
{{ end }}{{ end }}{{ template "__text_alert_list" .Alerts.Resolved }}"#;
    let mut t = Template::new("t");
    t.funcs(alertmanager_funcs()).parse(text).unwrap();
    assert_eq!(
        t.execute(&notification()).unwrap(),
        "Labels:\n - alertname = Down\n - instance = c:1\n - job = api\nAnnotations:\n - summary = c was down\nStarted: 2023-11-14 21:56:40\n"
    );
}

#[test]
fn range_over_object_list() {
    let d = notification();
    assert_eq!(
        run("{{range .Alerts}}{{.Labels.instance}} {{end}}", &d),
        "a:1 b:1 c:1 "
    );
    assert_eq!(
        run("{{len .Alerts}} {{(index .Alerts 1).Status}}", &d),
        "3 firing"
    );
}
