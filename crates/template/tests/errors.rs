//! Parse and execution errors: Go's texts and positions.

mod common;
use common::*;
use ember_template::{Error, Template, Value};

#[test]
fn parse_error_texts() {
    let cases = [
        ("{{ .Name }", "template: t:1: unexpected \"}\" in operand"),
        ("{{.Name}", "template: t:1: bad character U+007D '}'"),
        ("{{if .X}}a", "template: t:1: unexpected EOF"),
        ("{{end}}", "template: t:1: unexpected {{end}}"),
        ("{{else}}", "template: t:1: unexpected {{else}}"),
        (
            "{{range .X}}{{else}}{{else}}{{end}}",
            "template: t:1: expected end; found {{else}}",
        ),
        ("{{foo}}", "template: t:1: function \"foo\" not defined"),
        ("{{$x}}", "template: t:1: undefined variable \"$x\""),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{continue}}",
            "template: t:1: {{continue}} outside {{range}}",
        ),
        (
            "{{.X | 3}}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        ("{{}}", "template: t:1: missing value for command"),
        ("{{if}}{{end}}", "template: t:1: missing value for if"),
        ("{{\"abc}}", "template: t:1: unterminated quoted string"),
        ("{{`abc}}", "template: t:1: unterminated raw quoted string"),
        ("{{/* abc }}", "template: t:1: unclosed comment"),
        ("{{(1}}", "template: t:1: unclosed left paren"),
        ("{{3)}}", "template: t:1: unexpected \")\" in command"),
        (
            "{{template .X}}",
            "template: t:1: unexpected \".X\" in template clause",
        ),
        ("{{3.x}}", "template: t:1: bad number syntax: \"3.x\""),
        (
            "{{range $i, $j, $k := .}}{{end}}",
            "template: t:1: too many declarations in range",
        ),
        (
            "{{with $x, $y := .}}{{end}}",
            "template: t:1: too many declarations in with",
        ),
        ("{{.X.}}", "template: t:1: unexpected \".\" in operand"),
        ("{{1.Y}}", "template: t:1: bad number syntax: \"1.Y\""),
        (
            "{{true.Y}}",
            "template: t:1: unexpected . after term \"true\"",
        ),
        (
            "{{\"x\".Y}}",
            "template: t:1: unexpected . after term \"\\\"x\\\"\"",
        ),
        (
            "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
            "template: t:1: template: multiple definition of template \"a\"",
        ),
        ("{{if .X}}\n\n{{else}}", "template: t:3: unexpected EOF"),
        ("a\nb\n{{.X", "template: t:3: unclosed action"),
        ("{{.X\n\n", "template: t:3: unclosed action started at t:1"),
        ("{{#}}", "template: t:1: unexpected \"#\" in command"),
        (
            "{{with $x := 1}}{{end}}{{$x}}",
            "template: t:1: undefined variable \"$x\"",
        ),
        ("{{$x = 1}}", "template: t:1: undefined variable \"$x\""),
        (
            "{{template \"x\" }}{{define \"y\"}}{{else}}{{end}}",
            "template: t:1: unexpected {{else}} in define clause",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_err(text), want, "template {text:?}");
    }
}

#[test]
fn parse_error_carries_line_and_column() {
    let mut t = Template::new("file.tmpl");
    match t.parse("line one\n  {{ .A | nosuch }}") {
        Err(Error::Parse {
            name,
            line,
            col,
            message,
        }) => {
            assert_eq!((name.as_str(), line, col), ("file.tmpl", 2, 10));
            assert_eq!(message, "function \"nosuch\" not defined");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn exec_error_texts() {
    let d = data();
    let cases = [
        (
            "{{.S.Foo}}",
            "template: t:1:2: executing \"t\" at <.S.Foo>: can't evaluate field Foo in type string",
        ),
        (
            "{{.I.X}}",
            "template: t:1:2: executing \"t\" at <.I.X>: can't evaluate field X in type int",
        ),
        (
            "{{.Nil.X}}",
            "template: t:1:2: executing \"t\" at <.Nil.X>: nil pointer evaluating interface {}.X",
        ),
        (
            "{{index .SI 10}}",
            "template: t:1:2: executing \"t\" at <index .SI 10>: error calling index: index out of range: 10",
        ),
        (
            "{{index .SI \"a\"}}",
            "template: t:1:2: executing \"t\" at <index .SI \"a\">: error calling index: cannot index slice/array with type string",
        ),
        (
            "{{index .Missing 1}}",
            "template: t:1:2: executing \"t\" at <index .Missing 1>: error calling index: index of untyped nil",
        ),
        (
            "{{index .I 1}}",
            "template: t:1:2: executing \"t\" at <index .I 1>: error calling index: can't index item of type int",
        ),
        (
            "{{slice .SI 2 1}}",
            "template: t:1:2: executing \"t\" at <slice .SI 2 1>: error calling slice: invalid slice index: 2 > 1",
        ),
        (
            "{{slice .S 1 2 3}}",
            "template: t:1:2: executing \"t\" at <slice .S 1 2 3>: error calling slice: cannot 3-index slice a string",
        ),
        (
            "{{len 3}}",
            "template: t:1:2: executing \"t\" at <len 3>: error calling len: len of type int",
        ),
        (
            "{{len}}",
            "template: t:1:2: executing \"t\" at <len>: wrong number of args for len: want 1 got 0",
        ),
        (
            "{{not 1 2}}",
            "template: t:1:2: executing \"t\" at <not>: wrong number of args for not: want 1 got 2",
        ),
        (
            "{{and}}",
            "template: t:1:2: executing \"t\" at <and>: wrong number of args for and: want at least 1 got 0",
        ),
        (
            "{{template \"nope\"}}",
            "template: t:1:11: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined",
        ),
        (
            "{{range .S}}{{end}}",
            "template: t:1:8: executing \"t\" at <.S>: range can't iterate over xyz",
        ),
        (
            "{{nil}}",
            "template: t:1:2: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{1 2}}",
            "template: t:1:2: executing \"t\" at <1>: can't give argument to non-function 1",
        ),
        (
            "{{.MSI.one 2}}",
            "template: t:1:2: executing \"t\" at <.MSI.one>: one is not a method but has arguments",
        ),
        (
            "{{eq .I \"x\"}}",
            "template: t:1:2: executing \"t\" at <eq .I \"x\">: error calling eq: incompatible types for comparison: int and string",
        ),
        (
            "{{eq 1 1.0}}",
            "template: t:1:2: executing \"t\" at <eq 1 1.0>: error calling eq: incompatible types for comparison: int and float64",
        ),
        (
            "{{eq .I}}",
            "template: t:1:2: executing \"t\" at <eq .I>: error calling eq: missing argument for comparison",
        ),
        (
            "{{lt .SI 1}}",
            "template: t:1:2: executing \"t\" at <lt .SI 1>: error calling lt: invalid type for comparison",
        ),
        (
            "{{lt 1 \"a\"}}",
            "template: t:1:2: executing \"t\" at <lt 1 \"a\">: error calling lt: incompatible types for comparison",
        ),
        (
            "{{printf 3}}",
            "template: t:1:9: executing \"t\" at <3>: wrong type for value; expected string; got int",
        ),
        (
            "{{index .SI 10 11 12 13 14}}",
            "template: t:1:2: executing \"t\" at <index .SI 10 11 12 1...>: error calling index: index out of range: 10",
        ),
        (
            "{{call .S}}",
            "template: t:1:2: executing \"t\" at <call .S>: error calling call: non-function of type string",
        ),
        (
            "{{18446744073709551615}}",
            "template: t:1:2: executing \"t\" at <18446744073709551615>: 18446744073709551615 overflows int",
        ),
        (
            "a\nb {{.S.Bad}}",
            "template: t:2:4: executing \"t\" at <.S.Bad>: can't evaluate field Bad in type string",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(exec_err(text, &d), want, "template {text:?}");
    }
}

#[test]
fn exec_error_inside_defined_template_names_it() {
    let d = data();
    assert_eq!(
        exec_err(r#"{{define "x"}}{{.S.Bad}}{{end}}{{template "x" .}}"#, &d),
        "template: t:1:16: executing \"x\" at <.S.Bad>: can't evaluate field Bad in type string"
    );
    // A template from another parse call reports its own parse name.
    let mut t = Template::new("main");
    t.parse(r#"{{template "x" .}}"#).unwrap();
    t.parse_named("other.tmpl", "\n{{define \"x\"}} {{len 1}}{{end}}")
        .unwrap();
    assert_eq!(
        t.execute(&d).unwrap_err().to_string(),
        "template: other.tmpl:2:17: executing \"x\" at <len 1>: error calling len: len of type int"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep_ifs = "{{if 1}}".repeat(5000) + &"{{end}}".repeat(5000);
    assert!(parse_err(&deep_ifs).ends_with("max expression depth exceeded"));
    let deep_parens = format!("{{{{{}1{}}}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(parse_err(&deep_parens).ends_with("max expression depth exceeded"));
    // Moderate nesting parses and runs (in a 2 MiB thread, like the test's).
    let ok = "{{if 1}}".repeat(50) + "x" + &"{{end}}".repeat(50);
    assert_eq!(run(&ok, &Value::Nil), "x");
}

#[test]
fn recursion_is_bounded() {
    let mut t = Template::new("t");
    t.parse(r#"{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}"#)
        .unwrap();
    let e = t.execute(&Value::Nil).unwrap_err().to_string();
    assert!(e.ends_with("exceeded maximum template depth (1000)"), "{e}");
}

#[test]
fn exec_error_variant_fields() {
    let d = data();
    let mut t = Template::new("t");
    t.parse("{{.S.Foo}}").unwrap();
    match t.execute(&d) {
        Err(Error::Exec {
            location,
            template,
            context,
            message,
        }) => {
            assert_eq!(location, "t:1:2");
            assert_eq!(template, "t");
            assert_eq!(context, ".S.Foo");
            assert_eq!(message, "can't evaluate field Foo in type string");
        }
        other => panic!("{other:?}"),
    }
}
