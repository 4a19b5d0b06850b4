//! text/template behaviours, each with the output Go's documentation and semantics give.

mod common;
use common::*;
use ember_template::{FuncMap, Template, Value};

#[test]
fn plain_text_and_fields() {
    let d = data();
    assert_eq!(run("hello", &d), "hello");
    assert_eq!(run("{{.I}} {{.S}} {{.B}} {{.F}}", &d), "17 xyz true 1.5");
    assert_eq!(run("{{.U.V}}-{{.U.W.X}}", &d), "v-deep");
    assert_eq!(run("{{.}}", &Value::from("dot")), "dot");
}

#[test]
fn printing_like_fmt_v() {
    let d = data();
    assert_eq!(run("{{.SI}}", &d), "[3 4 5]");
    assert_eq!(run("{{.MSI}}", &d), "map[one:1 three:3 two:2]");
    assert_eq!(run("{{.SEmpty}}|{{.MEmpty}}", &d), "[]|map[]");
    assert_eq!(
        run("{{1e6}} {{1.0}} {{0.000001}} {{123456.0}}", &d),
        "1e+06 1 1e-06 123456"
    );
    assert_eq!(run("{{.Nil}}", &d), "<no value>");
    assert_eq!(run("{{print .Nil}}", &d), "<nil>");
    assert_eq!(run("{{print (index .SS 0) nil}}", &d), "a<nil>");
}

#[test]
fn missing_map_key_prints_no_value() {
    let d = data();
    assert_eq!(run("{{.Missing}}", &d), "<no value>");
    assert_eq!(run("{{.U.Missing}}", &d), "<no value>");
    // A field of a missing value is missing too, not an error.
    assert_eq!(run("{{.Missing.Deeper}}", &d), "<no value>");
    assert_eq!(run("{{printf \"%v\" .Missing}}", &d), "<nil>");
    assert_eq!(run("{{if .Missing}}y{{else}}n{{end}}", &d), "n");
}

#[test]
fn missingkey_options() {
    let d = data();
    let mut t = Template::new("t");
    t.option("missingkey=zero")
        .unwrap()
        .parse("{{.Missing}}")
        .unwrap();
    // The zero of interface{} is nil, which a pipeline turns back into no value.
    assert_eq!(t.execute(&d).unwrap(), "<no value>");
    let mut t = Template::new("t");
    t.option("missingkey=error")
        .unwrap()
        .parse("{{.Missing}}")
        .unwrap();
    assert_eq!(
        t.execute(&d).unwrap_err().to_string(),
        "template: t:1:2: executing \"t\" at <.Missing>: map has no entry for key \"Missing\""
    );
    assert!(Template::new("t").option("missingkey=bogus").is_err());
}

#[test]
fn trim_markers() {
    let d = data();
    assert_eq!(run("a  {{- .I -}}  b", &d), "a17b");
    assert_eq!(run("a \n\t{{- .I}} b", &d), "a17 b");
    assert_eq!(run("a {{.I -}}\n\n b", &d), "a 17b");
    assert_eq!(run("{{- 3 -}}", &d), "3");
    // Without a space the minus is part of a number.
    assert_eq!(run("a {{-3}} b", &d), "a -3 b");
    assert_eq!(run("x {{- /* comment */ -}} y", &d), "xy");
    assert_eq!(run("{{range .SS -}}\n  {{.}}\n{{- end}}", &d), "ab");
}

#[test]
fn comments() {
    let d = data();
    assert_eq!(run("a{{/* a comment */}}b", &d), "ab");
    assert_eq!(run("a{{/* multi\nline */}}b", &d), "ab");
}

#[test]
fn literals() {
    let d = data();
    assert_eq!(run(r#"{{"a\tb\u00e9\x41"}}"#, &d), "a\tbéA");
    assert_eq!(run("{{`raw\\n`}}", &d), "raw\\n");
    assert_eq!(
        run("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", &d),
        "31 15 15 5 1000"
    );
    assert_eq!(run("{{'a'}} {{'\\n'}}", &d), "97 10");
    assert_eq!(run("{{1.5e3}} {{-2.5}} {{.5}}", &d), "1500 -2.5 0.5");
    assert_eq!(run("{{true}} {{false}}", &d), "true false");
    assert_eq!(run("{{0x1p-2}}", &d), "0.25");
}

#[test]
fn variables() {
    let d = data();
    assert_eq!(run("{{$x := .I}}{{$x}}", &d), "17");
    assert_eq!(run("{{$}}", &Value::from("root")), "root");
    assert_eq!(run("{{with .U}}{{$.I}}{{end}}", &d), "17");
    assert_eq!(run("{{$x := 1}}{{$x = 2}}{{$x}}", &d), "2");
    // Assignment inside a range changes the outer variable.
    assert_eq!(
        run("{{$x := 0}}{{range .SI}}{{$x = .}}{{end}}{{$x}}", &d),
        "5"
    );
    // A variable declared in a control structure ends with it.
    assert_eq!(
        run(
            "{{$x := \"outer\"}}{{if true}}{{$x := \"inner\"}}{{$x}}{{end}} {{$x}}",
            &d
        ),
        "inner outer"
    );
    assert_eq!(run("{{$x := .U}}{{$x.V}}{{$x.W.X}}", &d), "vdeep");
    // A declaration prints nothing.
    assert_eq!(run("{{$x := 5}}", &d), "");
}

#[test]
fn pipelines_and_parens() {
    let d = data();
    assert_eq!(run("{{.S | printf \"%q\"}}", &d), "\"xyz\"");
    assert_eq!(run("{{\"a\" | printf \"%s-%s\" \"b\"}}", &d), "b-a");
    assert_eq!(run("{{(len .SI)}}", &d), "3");
    assert_eq!(run("{{printf \"%d\" (len .SS)}}", &d), "2");
    assert_eq!(run("{{(.U).V}}", &d), "v");
    assert_eq!(run("{{(index .MSI \"two\") | print}}", &d), "2");
}

#[test]
fn if_else_chains() {
    let d = data();
    assert_eq!(run("{{if .B}}yes{{end}}", &d), "yes");
    assert_eq!(run("{{if .Zero}}yes{{else}}no{{end}}", &d), "no");
    assert_eq!(
        run(
            "{{if .Zero}}a{{else if .Empty}}b{{else if .I}}c{{else}}d{{end}}",
            &d
        ),
        "c"
    );
    assert_eq!(run("{{if .SEmpty}}a{{else}}b{{end}}", &d), "b");
    assert_eq!(run("{{if .MEmpty}}a{{else}}b{{end}}", &d), "b");
    assert_eq!(run("{{if .Nil}}a{{else}}b{{end}}", &d), "b");
    assert_eq!(run("{{if 0.0}}a{{else}}b{{end}}", &d), "b");
    assert_eq!(run("{{if .U}}a{{end}}", &d), "a");
}

#[test]
fn with_and_else_with() {
    let d = data();
    assert_eq!(run("{{with .U}}{{.V}}{{end}}", &d), "v");
    assert_eq!(run("{{with .Empty}}x{{else}}empty{{end}}", &d), "empty");
    assert_eq!(
        run("{{with .Empty}}a{{else with .S}}{{.}}{{else}}c{{end}}", &d),
        "xyz"
    );
    assert_eq!(run("{{with $x := .I}}{{$x}}{{.}}{{end}}", &d), "1717");
}

#[test]
fn range_lists() {
    let d = data();
    assert_eq!(run("{{range .SI}}<{{.}}>{{end}}", &d), "<3><4><5>");
    assert_eq!(
        run("{{range $i, $e := .SS}}{{$i}}={{$e}} {{end}}", &d),
        "0=a 1=b "
    );
    assert_eq!(run("{{range $e := .SS}}{{$e}}{{end}}", &d), "ab");
    assert_eq!(run("{{range .SEmpty}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(run("{{range .Missing}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(run("{{range .SI}}{{$.S}}{{end}}", &d), "xyzxyzxyz");
}

#[test]
fn range_maps_in_key_order() {
    let d = data();
    assert_eq!(
        run("{{range $k, $v := .MSI}}{{$k}}:{{$v}},{{end}}", &d),
        "one:1,three:3,two:2,"
    );
    assert_eq!(run("{{range .MSI}}{{.}}{{end}}", &d), "132");
    assert_eq!(run("{{range .MEmpty}}x{{else}}empty{{end}}", &d), "empty");
}

#[test]
fn range_break_continue_and_int() {
    let d = data();
    assert_eq!(
        run("{{range .SI}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", &d),
        "3"
    );
    assert_eq!(
        run(
            "{{range .SI}}{{if eq . 4}}{{continue}}{{end}}{{.}}{{end}}",
            &d
        ),
        "35"
    );
    assert_eq!(run("{{range 3}}{{.}}{{end}}", &d), "012");
    assert_eq!(
        run(
            "{{range $i, $x := .SS}}{{range $.SI}}{{if eq . 4}}{{break}}{{end}}{{$x}}{{end}}{{end}}",
            &d
        ),
        "ab"
    );
}

#[test]
fn range_assign_to_outer_variables() {
    let d = data();
    assert_eq!(
        run(
            "{{$i := 0}}{{$e := 0}}{{range $i, $e = .SI}}{{end}}{{$i}} {{$e}}",
            &d
        ),
        "2 5"
    );
}

#[test]
fn define_and_template() {
    let d = data();
    assert_eq!(
        run(
            r#"{{define "x"}}[{{.}}]{{end}}{{template "x" .S}}{{template "x" .I}}"#,
            &d
        ),
        "[xyz][17]"
    );
    assert_eq!(
        run(
            r#"{{define "a"}}A{{template "b" .}}{{end}}{{define "b"}}B{{.V}}{{end}}{{template "a" .U}}"#,
            &d
        ),
        "ABv"
    );
    // Without a pipeline the called template's dot is no value.
    assert_eq!(
        run(r#"{{define "x"}}{{.}}{{end}}{{template "x"}}"#, &d),
        "<no value>"
    );
    // $ in a called template is its own dot.
    assert_eq!(
        run(r#"{{define "x"}}{{$}}{{end}}{{template "x" "in"}}"#, &d),
        "in"
    );
}

#[test]
fn recursive_template() {
    let tree = Value::map([
        ("V", Value::from(1)),
        (
            "Kids",
            Value::list([
                Value::map([
                    ("V", Value::from(2)),
                    ("Kids", Value::list(Vec::<Value>::new())),
                ]),
                Value::map([
                    ("V", Value::from(3)),
                    ("Kids", Value::list(Vec::<Value>::new())),
                ]),
            ]),
        ),
    ]);
    let text = r#"{{define "node"}}({{.V}}{{range .Kids}}{{template "node" .}}{{end}}){{end}}{{template "node" .}}"#;
    assert_eq!(run(text, &tree), "(1(2)(3))");
}

#[test]
fn block_defines_and_calls() {
    let d = data();
    assert_eq!(run(r#"a{{block "b" .S}}[{{.}}]{{end}}c"#, &d), "a[xyz]c");
    let mut t = Template::new("page");
    t.parse(r#"<{{block "content" .}}default{{end}}>"#).unwrap();
    assert_eq!(t.execute(&d).unwrap(), "<default>");
    // A later parse redefines the block, as in Go's overlay pattern.
    let mut t2 = t.clone();
    t2.parse_named("overlay", r#"{{define "content"}}custom {{.S}}{{end}}"#)
        .unwrap();
    assert_eq!(t2.execute(&d).unwrap(), "<custom xyz>");
    assert_eq!(t.execute(&d).unwrap(), "<default>");
}

#[test]
fn template_sets() {
    let d = data();
    let mut t = Template::new("root");
    t.parse(r#"{{define "a"}}A{{.S}}{{end}}{{define "b"}}B{{end}}"#)
        .unwrap();
    t.parse_named("file2", r#"{{define "c"}}C{{template "a" .}}{{end}}"#)
        .unwrap();
    assert_eq!(t.execute_template("c", &d).unwrap(), "CAxyz");
    assert_eq!(t.execute_template("b", &d).unwrap(), "B");
    assert!(t.lookup("a").is_some());
    assert!(t.lookup("zz").is_none());
    assert_eq!(
        t.lookup("a").map(|x| x.execute(&d).unwrap()),
        Some("Axyz".into())
    );
    assert_eq!(t.templates(), vec!["a", "b", "c", "file2", "root"]);
    assert_eq!(
        t.execute_template("nope", &d).unwrap_err().to_string(),
        "template: no template \"nope\" associated with template \"root\""
    );
    // A whitespace-only body does not replace a real one.
    let mut t = Template::new("x");
    t.parse("body").unwrap();
    t.parse("  {{define \"y\"}}Y{{end}}\n").unwrap();
    assert_eq!(t.execute(&d).unwrap(), "body");
    // A later parse call replaces a definition.
    t.parse(r#"{{define "y"}}Y2{{end}}"#).unwrap();
    assert_eq!(t.execute_template("y", &d).unwrap(), "Y2");
    assert!(
        t.defined_templates()
            .starts_with("; defined templates are: ")
    );
}

#[test]
fn empty_template_errors() {
    let t = Template::new("e");
    assert_eq!(
        t.execute(&Value::Nil).unwrap_err().to_string(),
        "template: e: \"e\" is an incomplete or empty template"
    );
}

#[test]
fn builtin_and_or_not() {
    let d = data();
    assert_eq!(
        run(
            "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}",
            &d
        ),
        "0 2 3 "
    );
    assert_eq!(
        run("{{not true}} {{not 0}} {{not .S}}", &d),
        "false true false"
    );
    // Short-circuit: the failing call is never evaluated.
    assert_eq!(run("{{and false (index .SI 99)}}", &d), "false");
    assert_eq!(run("{{or true (index .SI 99)}}", &d), "true");
    assert_eq!(run("{{if and .B .I}}y{{end}}", &d), "y");
    assert_eq!(run("{{.I | and true}}", &d), "17");
}

#[test]
fn builtin_len_index_slice() {
    let d = data();
    assert_eq!(
        run("{{len .SI}} {{len .S}} {{len .MSI}} {{len \"héllo\"}}", &d),
        "3 3 3 6"
    );
    assert_eq!(
        run("{{index .SI 1}} {{index .MSI \"two\"}} {{index .S 0}}", &d),
        "4 2 120"
    );
    let nested = Value::map([("M", Value::map([("a", Value::list([10, 20]))]))]);
    assert_eq!(run("{{index .M \"a\" 1}}", &nested), "20");
    assert_eq!(run("{{index .MSI \"nope\"}}", &d), "<no value>");
    assert_eq!(
        run(
            "{{slice .SI 1}} {{slice .SI 1 2}} {{slice .S 1 2}} {{slice .S}}",
            &d
        ),
        "[4 5] [4] y xyz"
    );
}

#[test]
fn builtin_comparisons() {
    let d = data();
    assert_eq!(
        run("{{eq 1 1}} {{eq 1 2}} {{eq .S \"xyz\"}} {{eq 2 1 3 2}}", &d),
        "true false true true"
    );
    assert_eq!(
        run("{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 2}}", &d),
        "true true true false true"
    );
    assert_eq!(run("{{lt \"a\" \"b\"}} {{lt 1.5 2.5}}", &d), "true true");
    assert_eq!(
        run("{{eq .Missing \"x\"}} {{eq .Missing nil}}", &d),
        "false true"
    );
    assert_eq!(run("{{if eq .S \"a\" \"xyz\"}}in{{end}}", &d), "in");
}

#[test]
fn builtin_print_family() {
    let d = data();
    assert_eq!(run("{{print 1 2 \"a\" \"b\" 3}}", &d), "1 2ab3");
    assert_eq!(run("{{println 1 \"a\"}}", &d), "1 a\n");
    assert_eq!(
        run("{{printf \"%05.1f|%-4s|%x\" 3.14159 \"ab\" 255}}", &d),
        "003.1|ab  |ff"
    );
    assert_eq!(run("{{printf \"%v %d\" .SI .SI}}", &d), "[3 4 5] [3 4 5]");
    assert_eq!(
        run("{{printf \"%s\" .MSI}}", &d),
        "map[one:%!s(int=1) three:%!s(int=3) two:%!s(int=2)]"
    );
    assert_eq!(run("{{printf \"%.2f%%\" 12.345}}", &d), "12.35%");
    assert_eq!(run("{{printf \"%T\" 1}}", &d), "%!T(int=1)");
}

#[test]
fn builtin_escapers() {
    let d = data();
    assert_eq!(
        run("{{html \"<a href='x'>&</a>\"}}", &d),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(
        run("{{js \"it's <b> \\\"q\\\" =\"}}", &d),
        "it\\'s \\u003Cb\\u003E \\\"q\\\" \\u003D"
    );
    assert_eq!(
        run("{{urlquery \"a b&c=d/é\"}}", &d),
        "a+b%26c%3Dd%2F%C3%A9"
    );
    assert_eq!(run("{{html .Missing}}", &d), "&lt;nil&gt;");
    assert_eq!(run("{{\"<x>\" | html}}", &d), "&lt;x&gt;");
}

#[test]
fn builtin_call() {
    let d = Value::map([(
        "F",
        Value::func(|a| Ok(Value::Int(a.iter().filter_map(Value::as_i64).sum()))),
    )]);
    assert_eq!(run("{{call .F 1 2 3}}", &d), "6");
    let fails = Value::map([("F", Value::func(|_| Err("boom".into())))]);
    assert_eq!(
        exec_err("{{call .F}}", &fails),
        "template: t:1:2: executing \"t\" at <call .F>: error calling call: boom"
    );
}

#[test]
fn host_functions() {
    let funcs = FuncMap::new()
        .add("toUpper", |a| {
            Ok(Value::String(a[0].as_str().unwrap_or("").to_uppercase()))
        })
        .add("join", |a| {
            let sep = a[1].as_str().unwrap_or("");
            match &a[0] {
                Value::List(l) => Ok(Value::String(
                    l.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(sep),
                )),
                other => Err(format!("cannot join {}", other.type_name())),
            }
        })
        .add("fail", |_| Err("host says no".into()))
        // Host functions shadow builtins, as a Go FuncMap does.
        .add("len", |_| Ok(Value::Int(42)));
    let d = data();
    assert_eq!(run_funcs("{{.S | toUpper}}", funcs.clone(), &d), "XYZ");
    assert_eq!(run_funcs("{{join .SS \", \"}}", funcs.clone(), &d), "a, b");
    assert_eq!(run_funcs("{{len .SI}}", funcs.clone(), &d), "42");
    let mut t = Template::new("t");
    t.funcs(funcs);
    t.parse("{{fail 1}}").unwrap();
    assert_eq!(
        t.execute(&d).unwrap_err().to_string(),
        "template: t:1:2: executing \"t\" at <fail 1>: error calling fail: host says no"
    );
}

#[test]
fn multiline_actions() {
    let d = data();
    assert_eq!(run("{{ if\n .B }}y{{\n end }}", &d), "y");
}

#[test]
fn nested_templates_with_whitespace_control() {
    let d = data();
    let text = "{{ define \"item\" }}\n- {{ . }}\n{{- end }}\n{{- range .SS }}{{ template \"item\" . }}{{ end }}";
    assert_eq!(run(text, &d), "\n- a\n- b");
}

#[test]
fn execution_is_repeatable_and_shareable() {
    let mut t = Template::new("t");
    t.parse("{{.}}").unwrap();
    let t = std::sync::Arc::new(t);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || t.execute(&Value::Int(i)).unwrap())
        })
        .collect();
    let outs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outs, vec!["0", "1", "2", "3"]);
}

#[test]
fn prometheus_alert_template() {
    // Prometheus prepends these definitions to every annotation template.
    let defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";
    let data = Value::map([
        (
            "Labels",
            Value::map([("instance", "host:9100"), ("job", "node"), ("foo-bar", "x")]),
        ),
        ("ExternalLabels", Value::map([("cluster", "eu1")])),
        ("ExternalURL", Value::from("http://prom:9090")),
        ("Value", Value::Float(0.1 + 0.2)),
    ]);
    let text = format!(
        "{defs}{{{{ $labels.instance }}}} of {{{{ $labels.job }}}} in {{{{ $externalLabels.cluster }}}} is down (value {{{{ $value }}}}, {{{{ printf \"%.2f\" $value }}}}); {{{{ index $labels \"foo-bar\" }}}}; missing: {{{{ $labels.nope }}}}"
    );
    assert_eq!(
        run(&text, &data),
        "host:9100 of node in eu1 is down (value 0.30000000000000004, 0.30); x; missing: <no value>"
    );
}

#[test]
fn if_declared_variable_is_visible_in_else() {
    let d = data();
    assert_eq!(run("{{if $x := .Empty}}a{{else}}[{{$x}}]{{end}}", &d), "[]");
    assert_eq!(
        run("{{range $i, $e := .SEmpty}}{{else}}{{$i}}{{end}}", &d),
        "[]"
    );
}

#[test]
fn html_and_urlquery_with_several_args() {
    let d = data();
    assert_eq!(run("{{html \"<\" 1 2}}", &d), "&lt;1 2");
    assert_eq!(run("{{urlquery \"a\" \"b c\"}}", &d), "ab+c");
    assert_eq!(run("{{js 1 \"=\"}}", &d), "1\\u003D");
}
