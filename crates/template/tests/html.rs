//! html/template contextual escaping.

mod common;
use common::*;
use ember_template::{ContentKind, Template, Value};

fn one(text: &str, v: Value) -> String {
    html(text, &Value::map([("X", v)]))
}

#[test]
fn html_text() {
    assert_eq!(
        one("<p>{{.X}}</p>", "<script>alert(1)</script>".into()),
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    );
    assert_eq!(
        one("{{.X}}", "O'Reilly & \"co\" +1".into()),
        "O&#39;Reilly &amp; &#34;co&#34; &#43;1"
    );
    assert_eq!(
        one(
            "<b>{{.X}}</b>",
            Value::Safe(ContentKind::Html, "<i>ok</i>".into())
        ),
        "<b><i>ok</i></b>"
    );
    assert_eq!(one("[{{.X}}]", Value::Int(3)), "[3]");
    // Nil and missing values print nothing in html/template.
    assert_eq!(one("[{{.X}}][{{.Y}}]", Value::Nil), "[][]");
}

#[test]
fn attributes() {
    assert_eq!(
        one(r#"<a title="{{.X}}">"#, "\"q\" <x>".into()),
        r#"<a title="&#34;q&#34; &lt;x&gt;">"#
    );
    assert_eq!(
        one(r#"<a title='{{.X}}'>"#, "it's".into()),
        r#"<a title='it&#39;s'>"#
    );
    assert_eq!(
        one("<a title={{.X}}>", "a b=c".into()),
        "<a title=a&#32;b&#61;c>"
    );
    assert_eq!(one("<a title={{.X}}>", "".into()), "<a title=ZgotmplZ>");
    // Attribute names from data are filtered.
    assert_eq!(one("<input {{.X}}>", "checked".into()), "<input checked>");
    assert_eq!(
        one("<input {{.X}}>", "onclick=alert(1)".into()),
        "<input ZgotmplZ>"
    );
    assert_eq!(
        one(
            "<input {{.X}}>",
            Value::Safe(ContentKind::HtmlAttr, "onclick=\"ok()\"".into())
        ),
        "<input onclick=\"ok()\">"
    );
}

#[test]
fn urls() {
    assert_eq!(
        one(r#"<a href="{{.X}}">"#, "javascript:alert(1)".into()),
        r##"<a href="#ZgotmplZ">"##
    );
    assert_eq!(
        one(r#"<a href="{{.X}}">"#, "http://x.com/a b?q=1&r=2".into()),
        r#"<a href="http://x.com/a%20b?q=1&amp;r=2">"#
    );
    assert_eq!(
        one(r#"<a href="/search?q={{.X}}">"#, "a b&c/d".into()),
        r#"<a href="/search?q=a%20b%26c%2fd">"#
    );
    assert_eq!(
        one(r#"<img src="{{.X}}">"#, "/img.png".into()),
        r#"<img src="/img.png">"#
    );
    assert_eq!(
        one(
            r#"<a href="{{.X}}">"#,
            Value::Safe(ContentKind::Url, "javascript:ok()".into())
        ),
        r#"<a href="javascript:ok%28%29">"#
    );
    assert_eq!(
        one(r#"<a data-url="{{.X}}">"#, "vbscript:x".into()),
        r##"<a data-url="#ZgotmplZ">"##
    );
}

#[test]
fn predefined_escapers_merge() {
    // `| html` in text is the escaper itself, not a second escaping.
    assert_eq!(one("{{.X | html}}", "<a>".into()), "&lt;a&gt;");
    // `| urlquery` in a query takes the URL escaper's place.
    assert_eq!(
        one(r#"<a href="/x?r={{.X | urlquery}}">"#, "a b".into()),
        r#"<a href="/x?r=a&#43;b">"#
    );
}

#[test]
fn alertmanager_email_link() {
    let d = Value::map([
        ("ExternalURL", Value::from("http://am:9093")),
        ("Receiver", Value::from("team x")),
    ]);
    assert_eq!(
        html(
            r#"<a href="{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}">Open</a>"#,
            &d
        ),
        r#"<a href="http://am:9093/#/alerts?receiver=team&#43;x">Open</a>"#
    );
}

#[test]
fn templates_called_in_attributes_inherit_the_context() {
    let mut t = Template::new_html("t");
    t.parse(r#"{{define "u"}}/path?a={{.}}{{end}}<a href="{{template "u" "x y"}}">{{template "u" "<>"}}</a>"#).unwrap();
    assert_eq!(
        t.execute(&Value::Nil).unwrap(),
        r#"<a href="/path?a=x%20y">/path?a=&lt;&gt;</a>"#
    );
}

#[test]
fn scripts() {
    assert_eq!(
        one("<script>var x = {{.X}};</script>", "a\"b".into()),
        "<script>var x = \"a\\\"b\";</script>"
    );
    assert_eq!(
        one("<script>var x = {{.X}};</script>", Value::Int(42)),
        "<script>var x =  42 ;</script>"
    );
    assert_eq!(
        one(
            "<script>var x = {{.X}};</script>",
            Value::map([("k", Value::list(["<v>"]))])
        ),
        "<script>var x = {\"k\":[\"\\u003cv\\u003e\"]};</script>"
    );
    assert_eq!(
        one(
            "<script>var s = \"{{.X}}\";</script>",
            "a\"b</script>".into()
        ),
        "<script>var s = \"a\\u0022b\\u003c\\/script\\u003e\";</script>"
    );
    assert_eq!(
        one(r#"<a onclick="f({{.X}})">"#, "x".into()),
        r#"<a onclick="f(&#34;x&#34;)">"#
    );
    // After the script ends, text rules apply again.
    assert_eq!(
        one("<script>1</script>{{.X}}", "<".into()),
        "<script>1</script>&lt;"
    );
}

#[test]
fn css() {
    assert_eq!(
        one(r#"<p style="color: {{.X}}">"#, "red".into()),
        r#"<p style="color: red">"#
    );
    assert_eq!(
        one(
            r#"<p style="color: {{.X}}">"#,
            "expression(alert(1))".into()
        ),
        r#"<p style="color: ZgotmplZ">"#
    );
    assert_eq!(
        one("<style>p { color: {{.X}} }</style>", "blue".into()),
        "<style>p { color: blue }</style>"
    );
}

#[test]
fn rcdata_comments_and_stray_brackets() {
    assert_eq!(
        one("<title>{{.X}}</title>", "<b>".into()),
        "<title>&lt;b&gt;</title>"
    );
    assert_eq!(
        one("<textarea>{{.X}}</textarea>", "</textarea>".into()),
        "<textarea>&lt;/textarea&gt;</textarea>"
    );
    assert_eq!(one("<!-- secret {{.X}} -->{{.X}}", "x".into()), "x");
    assert_eq!(one("a < b {{.X}}", "c".into()), "a &lt; b c");
    assert_eq!(
        one("<!DOCTYPE html><p>{{.X}}", "c".into()),
        "<!DOCTYPE html><p>c"
    );
}

#[test]
fn text_mode_does_not_escape() {
    assert_eq!(run("<p>{{.}}</p>", &Value::from("<b>")), "<p><b></p>");
}

#[test]
fn end_tags_are_case_insensitive() {
    assert_eq!(
        one("<SCRIPT>var a = 1;</Script >{{.X}}", "<".into()),
        "<SCRIPT>var a = 1;</Script >&lt;"
    );
    // A "</script>" inside a JS string does not end the script.
    assert_eq!(
        one(
            "<script>var s = '</script>'; x = {{.X}}</script>",
            Value::Int(1)
        ),
        "<script>var s = '</script>'; x =  1 </script>"
    );
}
