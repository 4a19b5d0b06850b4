//! Parser behaviours and error cases, most of them taken from Prometheus's
//! `promparse_test.go` and `openmetricsparse_test.go` so that the two parsers agree.

use ember_model::labels::Labels;

use super::*;
use crate::NORMAL_NAN;

/// An entry copied out of the parser, for comparing against expectations.
#[derive(Debug, PartialEq)]
enum Got {
    Help(String, String),
    Type(String, MetricType),
    Unit(String, String),
    Comment(String),
    Series {
        raw: String,
        labels: Labels,
        value: f64,
        ts: Option<i64>,
        exemplar: Option<(Labels, f64, Option<i64>)>,
    },
}

fn series(raw: &str, value: f64, pairs: &[(&str, &str)]) -> Got {
    Got::Series {
        raw: raw.to_owned(),
        labels: Labels::from_pairs(pairs.iter().copied()),
        value,
        ts: None,
        exemplar: None,
    }
}

fn with_ts(mut g: Got, t: i64) -> Got {
    if let Got::Series { ts, .. } = &mut g {
        *ts = Some(t);
    }
    g
}

fn with_exemplar(mut g: Got, pairs: &[(&str, &str)], v: f64, t: Option<i64>) -> Got {
    if let Got::Series { exemplar, .. } = &mut g {
        *exemplar = Some((Labels::from_pairs(pairs.iter().copied()), v, t));
    }
    g
}

fn help(name: &str, text: &str) -> Got {
    Got::Help(name.to_owned(), text.to_owned())
}

fn typ(name: &str, t: MetricType) -> Got {
    Got::Type(name.to_owned(), t)
}

fn unit(name: &str, u: &str) -> Got {
    Got::Unit(name.to_owned(), u.to_owned())
}

fn comment(text: &str) -> Got {
    Got::Comment(text.to_owned())
}

fn collect(input: &[u8], format: Format) -> Result<Vec<Got>, Error> {
    let mut p = Parser::new(input, format);
    let mut out = Vec::new();
    while let Some(e) = p.next_entry()? {
        out.push(match e {
            Entry::Help { name, help } => Got::Help(name.to_string(), help.to_string()),
            Entry::Type { name, metric_type } => Got::Type(name.to_string(), metric_type),
            Entry::Unit { name, unit } => Got::Unit(name.to_string(), unit.to_owned()),
            Entry::Comment(c) => Got::Comment(String::from_utf8_lossy(c).into_owned()),
            Entry::Series(s) => Got::Series {
                raw: String::from_utf8_lossy(s.raw).into_owned(),
                labels: s.to_labels()?,
                value: s.value,
                ts: s.timestamp_ms,
                exemplar: match s.exemplar {
                    Some(e) => Some((e.to_labels()?, e.value, e.timestamp_ms)),
                    None => None,
                },
            },
        });
    }
    Ok(out)
}

fn check(input: &str, format: Format, want: &[Got]) {
    let got = collect(input.as_bytes(), format).unwrap_or_else(|e| panic!("{e}"));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "entry {i}");
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
}

/// The first error, without its position.
fn error_of(input: &[u8], format: Format) -> String {
    let mut p = Parser::new(input, format);
    loop {
        match p.next_entry() {
            Ok(Some(_)) => {}
            Ok(None) => return "EOF".to_owned(),
            Err(e) => {
                let s = e.to_string();
                return s.split_once(": ").map_or(s.clone(), |(_, m)| m.to_owned());
            }
        }
    }
}

use MetricType::*;

#[test]
fn text_format_entries() {
    let mut input = r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# 	TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25",} 7.424100000000001e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
go_gc_duration_seconds{quantile="0.8", a="b"} 8.3835e-05
go_gc_duration_seconds{ quantile="0.9", a="b"} 8.3835e-05
# HELP prometheus_http_request_duration_seconds Histogram of latencies for HTTP requests.
# TYPE prometheus_http_request_duration_seconds histogram
prometheus_http_request_duration_seconds_bucket{handler="/",le="1"} 423
prometheus_http_request_duration_seconds_bucket{handler="/",le="2"} 1423
prometheus_http_request_duration_seconds_bucket{handler="/",le="+Inf"} 1423
prometheus_http_request_duration_seconds_sum{handler="/"} 2000
prometheus_http_request_duration_seconds_count{handler="/"} 1423
# Hrandom comment starting with prefix of HELP
#
wind_speed{A="2",c="3"} 12345
# comment with escaped \n newline
# comment with escaped \ escape character
# HELP nohelp1
# HELP nohelp2 
go_gc_duration_seconds{ quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile= "1.0", a= "b", } 8.3835e-05
go_gc_duration_seconds { quantile = "1.0", a = "b" } 8.3835e-05
go_gc_duration_seconds { quantile = "2.0" a = "b" } 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"}	1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33  	123123
# TYPE some_counter_total counter
# HELP some_counter_total Help after type.
some_counter_total 12
# HELP nohelp3
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore="foo"} 1
testmetric{label="\"bar\""} 1
testmetric{le="10"} 1"#
        .to_owned();
    input += "\n# HELP metric foo\x00bar";
    input += "\nnull_byte_metric{a=\"abc\x00\"} 1";
    let gc = "go_gc_duration_seconds";
    let hist = "prometheus_http_request_duration_seconds";
    let want = vec![
        help(gc, "A summary of the GC invocation durations."),
        typ(gc, Summary),
        series(
            r#"go_gc_duration_seconds{quantile="0"}"#,
            4.9351e-05,
            &[("__name__", gc), ("quantile", "0.0")],
        ),
        series(
            r#"go_gc_duration_seconds{quantile="0.25",}"#,
            7.424100000000001e-05,
            &[("__name__", gc), ("quantile", "0.25")],
        ),
        series(
            r#"go_gc_duration_seconds{quantile="0.5",a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.5"), ("a", "b")],
        ),
        series(
            r#"go_gc_duration_seconds{quantile="0.8", a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.8"), ("a", "b")],
        ),
        series(
            r#"go_gc_duration_seconds{ quantile="0.9", a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.9"), ("a", "b")],
        ),
        help(hist, "Histogram of latencies for HTTP requests."),
        typ(hist, Histogram),
        series(
            r#"prometheus_http_request_duration_seconds_bucket{handler="/",le="1"}"#,
            423.0,
            &[
                (
                    "__name__",
                    "prometheus_http_request_duration_seconds_bucket",
                ),
                ("handler", "/"),
                ("le", "1.0"),
            ],
        ),
        series(
            r#"prometheus_http_request_duration_seconds_bucket{handler="/",le="2"}"#,
            1423.0,
            &[
                (
                    "__name__",
                    "prometheus_http_request_duration_seconds_bucket",
                ),
                ("handler", "/"),
                ("le", "2.0"),
            ],
        ),
        series(
            r#"prometheus_http_request_duration_seconds_bucket{handler="/",le="+Inf"}"#,
            1423.0,
            &[
                (
                    "__name__",
                    "prometheus_http_request_duration_seconds_bucket",
                ),
                ("handler", "/"),
                ("le", "+Inf"),
            ],
        ),
        series(
            r#"prometheus_http_request_duration_seconds_sum{handler="/"}"#,
            2000.0,
            &[
                ("__name__", "prometheus_http_request_duration_seconds_sum"),
                ("handler", "/"),
            ],
        ),
        series(
            r#"prometheus_http_request_duration_seconds_count{handler="/"}"#,
            1423.0,
            &[
                ("__name__", "prometheus_http_request_duration_seconds_count"),
                ("handler", "/"),
            ],
        ),
        comment("# Hrandom comment starting with prefix of HELP"),
        comment("#"),
        series(
            r#"wind_speed{A="2",c="3"}"#,
            12345.0,
            &[("A", "2"), ("__name__", "wind_speed"), ("c", "3")],
        ),
        comment("# comment with escaped \\n newline"),
        comment("# comment with escaped \\ escape character"),
        help("nohelp1", ""),
        help("nohelp2", ""),
        series(
            r#"go_gc_duration_seconds{ quantile="1.0", a="b" }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        series(
            r#"go_gc_duration_seconds { quantile="1.0", a="b" }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        series(
            r#"go_gc_duration_seconds { quantile= "1.0", a= "b", }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        series(
            r#"go_gc_duration_seconds { quantile = "1.0", a = "b" }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        // Blanks instead of a comma between pairs: Prometheus accepts them.
        series(
            r#"go_gc_duration_seconds { quantile = "2.0" a = "b" }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "2.0"), ("a", "b")],
        ),
        series(
            "go_gc_duration_seconds_count",
            99.0,
            &[("__name__", "go_gc_duration_seconds_count")],
        ),
        series(
            r#"some:aggregate:rate5m{a_b="c"}"#,
            1.0,
            &[("__name__", "some:aggregate:rate5m"), ("a_b", "c")],
        ),
        help(
            "go_goroutines",
            "Number of goroutines that currently exist.",
        ),
        typ("go_goroutines", Gauge),
        with_ts(
            series("go_goroutines", 33.0, &[("__name__", "go_goroutines")]),
            123123,
        ),
        typ("some_counter_total", Counter),
        help("some_counter_total", "Help after type."),
        series(
            "some_counter_total",
            12.0,
            &[("__name__", "some_counter_total")],
        ),
        help("nohelp3", ""),
        series(
            "_metric_starting_with_underscore",
            1.0,
            &[("__name__", "_metric_starting_with_underscore")],
        ),
        series(
            r#"testmetric{_label_starting_with_underscore="foo"}"#,
            1.0,
            &[
                ("__name__", "testmetric"),
                ("_label_starting_with_underscore", "foo"),
            ],
        ),
        series(
            r#"testmetric{label="\"bar\""}"#,
            1.0,
            &[("__name__", "testmetric"), ("label", "\"bar\"")],
        ),
        // Type counter is in effect: `le` stays as written.
        series(
            r#"testmetric{le="10"}"#,
            1.0,
            &[("__name__", "testmetric"), ("le", "10")],
        ),
        help("metric", "foo\x00bar"),
        series(
            "null_byte_metric{a=\"abc\x00\"}",
            1.0,
            &[("__name__", "null_byte_metric"), ("a", "abc\x00")],
        ),
    ];
    check(&input, Format::Text, &want);
}

#[test]
fn text_format_utf8_names() {
    let input = r#"# HELP "go.gc_duration_seconds" A summary of the GC invocation durations.
# 	TYPE "go.gc_duration_seconds" summary
{"go.gc_duration_seconds",quantile="0"} 4.9351e-05
{"go.gc_duration_seconds",quantile="0.25",} 7.424100000000001e-05
{"go.gc_duration_seconds",quantile="0.5",a="b"} 8.3835e-05
{"go.gc_duration_seconds", quantile="0.9", a="b"} 8.3835e-05
{ "go.gc_duration_seconds", quantile = "1.0", a = "b" } 8.3835e-05
{"go.gc_duration_seconds_count"} 99
{"Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}","strange©™\n'quoted' \"name\""="6"} 10.0"#;
    let gc = "go.gc_duration_seconds";
    let want = vec![
        help(gc, "A summary of the GC invocation durations."),
        typ(gc, Summary),
        series(
            r#"{"go.gc_duration_seconds",quantile="0"}"#,
            4.9351e-05,
            &[("__name__", gc), ("quantile", "0.0")],
        ),
        series(
            r#"{"go.gc_duration_seconds",quantile="0.25",}"#,
            7.424100000000001e-05,
            &[("__name__", gc), ("quantile", "0.25")],
        ),
        series(
            r#"{"go.gc_duration_seconds",quantile="0.5",a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.5"), ("a", "b")],
        ),
        series(
            r#"{"go.gc_duration_seconds", quantile="0.9", a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.9"), ("a", "b")],
        ),
        series(
            r#"{ "go.gc_duration_seconds", quantile = "1.0", a = "b" }"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        series(
            r#"{"go.gc_duration_seconds_count"}"#,
            99.0,
            &[("__name__", "go.gc_duration_seconds_count")],
        ),
        series(
            r#"{"Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}","strange©™\n'quoted' \"name\""="6"}"#,
            10.0,
            &[
                (
                    "__name__",
                    "Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}",
                ),
                ("strange©™\n'quoted' \"name\"", "6"),
            ],
        ),
    ];
    check(input, Format::Text, &want);
}

#[test]
fn text_format_errors() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"a",
            r#"expected value after metric, got "\n" ("INVALID") while parsing: "a\n""#,
        ),
        (
            b"a{b='c'} 1\n",
            r#"expected label value, got "'" ("INVALID") while parsing: "a{b='""#,
        ),
        (
            b"a{b=\n",
            r#"expected label value, got "\n" ("INVALID") while parsing: "a{b=\n""#,
        ),
        (
            b"a{\xff=\"foo\"} 1\n",
            r#"expected label name, got "\xff" ("INVALID") while parsing: "a{\xff""#,
        ),
        (
            b"a{b=\"\xff\"} 1\n",
            r#"invalid UTF-8 label value: "\"\xff\"""#,
        ),
        (
            br#"{"a", "b = "c"}"#,
            r#"expected equal, got "c\"" ("LNAME") while parsing: "{\"a\", \"b = \"c\"""#,
        ),
        (
            br#"{"a",b\nc="d"} 1"#,
            r#"expected equal, got "\\" ("INVALID") while parsing: "{\"a\",b\\""#,
        ),
        (
            b"a true\n",
            r#"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "a true""#,
        ),
        (
            b"something_weird{problem=\"",
            r#"expected label value, got "\"\n" ("INVALID") while parsing: "something_weird{problem=\"\n""#,
        ),
        (
            b"empty_label_name{=\"\"} 0",
            r#"expected label name, got "=\"" ("EQUAL") while parsing: "empty_label_name{=\"""#,
        ),
        (
            b"{A}0",
            r#"expected equal, got "}0" ("BCLOSE") while parsing: "{A}0""#,
        ),
        (
            b"foo 1_2\n",
            r#"unsupported character in float while parsing: "foo 1_2""#,
        ),
        (
            b"foo 0x1p-3\n",
            r#"unsupported character in float while parsing: "foo 0x1p-3""#,
        ),
        (
            b"foo 0x1P-3\n",
            r#"unsupported character in float while parsing: "foo 0x1P-3""#,
        ),
        (
            b"foo 0 1_2\n",
            r#"expected next entry after timestamp, got "_" ("INVALID") while parsing: "foo 0 1_""#,
        ),
        (
            br#"{a="ok"} 1"#,
            r#"metric name not set while parsing: "{a=\"ok\"} 1""#,
        ),
        (
            b"# TYPE #\n#EOF\n",
            r##"expected metric name after TYPE, got "#" ("INVALID") while parsing: "# TYPE #""##,
        ),
        (
            b"# HELP #\n#EOF\n",
            r##"expected metric name after HELP, got "#" ("INVALID") while parsing: "# HELP #""##,
        ),
        // Null bytes, from TestPromNullByteHandling.
        (
            b"a{b=\x00\"ssss\"} 1\n",
            r#"expected label value, got "\x00" ("INVALID") while parsing: "a{b=\x00""#,
        ),
        (
            b"a{b=\"\x00",
            r#"expected label value, got "\"\x00\n" ("INVALID") while parsing: "a{b=\"\x00\n""#,
        ),
        (
            b"a{b\x00=\"hiih\"}\t1",
            r#"expected equal, got "\x00" ("INVALID") while parsing: "a{b\x00""#,
        ),
        (
            b"a\x00{b=\"ddd\"} 1",
            r#"expected value after metric, got "\x00" ("INVALID") while parsing: "a\x00""#,
        ),
        (
            b"a 0 1\x00",
            r#"expected next entry after timestamp, got "\x00" ("INVALID") while parsing: "a 0 1\x00""#,
        ),
        // Beyond Prometheus's tests.
        (
            b"# TYPE a gaugehistogram\n",
            r#"invalid metric type "gaugehistogram""#,
        ),
        (b"# TYPE a counter \n", r#"invalid metric type "counter ""#),
        (b"# HELP a \xff\n", r#"invalid UTF-8 help text: "\xff""#),
        (
            b"a 1 -5\n",
            r#"expected timestamp or new record, got "-" ("INVALID") while parsing: "a 1 -""#,
        ),
        (
            b"a 1 99999999999999999999\n",
            r#"strconv.ParseInt: parsing "99999999999999999999": value out of range while parsing: "a 1 99999999999999999999""#,
        ),
        (
            b"a 1e400\n",
            r#"strconv.ParseFloat: parsing "1e400": value out of range while parsing: "a 1e400""#,
        ),
        (
            b"a 1\r\n",
            r#"strconv.ParseFloat: parsing "1\r": invalid syntax while parsing: "a 1\r""#,
        ),
        (
            b"a{\"b\"} 1\n",
            r#"metric name already set while parsing: "a{\"b\"}""#,
        ),
        (
            b"{\"a\",\"b\"} 1\n",
            r#"metric name already set while parsing: "{\"a\",\"b\"}""#,
        ),
        (
            b"a{b=\"c\",,d=\"e\"} 1\n",
            r#"expected label name, got ",d" ("COMMA") while parsing: "a{b=\"c\",,d""#,
        ),
        (
            b"9 1\n",
            r#"expected a valid start token, got "9" ("INVALID") while parsing: "9""#,
        ),
        (
            b"a{b=\"c\\\n\"} 1\n",
            r#"expected label value, got "\"c\\\n" ("INVALID") while parsing: "a{b=\"c\\\n""#,
        ),
        (
            b"a 1 2 3\n",
            r#"expected next entry after timestamp, got "3\n" ("TIMESTAMP") while parsing: "a 1 2 3\n""#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            error_of(input, Format::Text),
            *want,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn text_format_null_bytes_accepted() {
    for input in [
        &b"null_byte_metric{a=\"abc\x00\"} 1"[..],
        b"a{b=\"\x00ss\"} 1\n",
        b"a{b=\"\x00\"} 1\n",
    ] {
        assert_eq!(error_of(input, Format::Text), "EOF");
    }
}

#[test]
fn text_format_leniencies() {
    // A NUL at the start of a line ends the input, as in Prometheus's lexer.
    let got = collect(b"a 1\n\x00b x\n", Format::Text).unwrap();
    assert_eq!(got.len(), 1);
    // No final newline, blank lines, leading blanks, CRLF-free tabs.
    let got = collect(b"\n\n  a 1\n\t\n b{c=\"d\"}2", Format::Text).unwrap();
    assert_eq!(got.len(), 2);
    // A value may follow a name directly when it cannot continue the name.
    let got = collect(b"a+1\n", Format::Text).unwrap();
    assert_eq!(got, vec![series("a", 1.0, &[("__name__", "a")])]);
    // Text of a HELP line is the rest of the line less one byte.
    let got = collect(b"# HELP a  two\n# HELP b\tx \n", Format::Text).unwrap();
    assert_eq!(got, vec![help("a", " two"), help("b", "x ")]);
    // HELP escapes are \\ and \n only.
    let got = collect(br#"# HELP a x\"y\\z\nw\q"#, Format::Text).unwrap();
    assert_eq!(got, vec![help("a", "x\\\"y\\z\nw\\q")]);
    // A label value may span lines in the text format.
    let got = collect(b"a{b=\"1\n2\"} 1\nc 2\n", Format::Text).unwrap();
    assert_eq!(got.len(), 2);
    // Empty input.
    assert_eq!(collect(b"", Format::Text).unwrap(), vec![]);
    // The text format has no EOF marker: `# EOF` is a comment.
    assert_eq!(
        collect(b"# EOF\na 1\n", Format::Text).unwrap()[0],
        comment("# EOF")
    );
}

#[test]
fn lines_and_columns() {
    let mut p = Parser::text(b"a 1\n\n  b{c=\"d\ne\"} 2\nc{x=} 3\n");
    let mut lines = Vec::new();
    let err = loop {
        match p.next_entry() {
            Ok(Some(Entry::Series(s))) => lines.push(s.line),
            Ok(Some(_)) => {}
            Ok(None) => panic!("expected an error"),
            Err(e) => break e,
        }
    };
    assert_eq!(lines, [1, 3]);
    assert_eq!(err.position(), Some(Position { line: 5, column: 5 }));
    assert!(
        err.to_string().starts_with("5:5: expected label value"),
        "{err}"
    );
    // The error sticks.
    assert_eq!(p.next_entry().unwrap_err(), err);
}

#[test]
fn openmetrics_entries() {
    let mut input = r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# TYPE go_gc_duration_seconds summary
# UNIT go_gc_duration_seconds seconds
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25"} 7.424100000000001e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
# HELP nohelp1 
# HELP help2 escape \ \n \\ \" \x chars
# UNIT nounit 
go_gc_duration_seconds{quantile="1.0",a="b"} 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"} 1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33 123.123
# TYPE hh histogram
hh_bucket{le="+Inf"} 1
# TYPE gh gaugehistogram
gh_bucket{le="+Inf"} 1
# TYPE hhh histogram
hhh_bucket{le="+Inf"} 1 # {id="histogram-bucket-test"} 4
hhh_count 1 # {id="histogram-count-test"} 4
# TYPE ggh gaugehistogram
ggh_bucket{le="+Inf"} 1 # {id="gaugehistogram-bucket-test",xx="yy"} 4 123.123
ggh_count 1 # {id="gaugehistogram-count-test",xx="yy"} 4 123.123
# TYPE smr_seconds summary
smr_seconds_count 2.0 # {id="summary-count-test"} 1 123.321
smr_seconds_sum 42.0 # {id="summary-sum-test"} 1 123.321
# TYPE ii info
ii{foo="bar"} 1
# TYPE ss stateset
ss{ss="foo"} 1
ss{ss="bar"} 0
ss{A="a"} 0
# TYPE un unknown
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore="foo"} 1
testmetric{label="\"bar\""} 1
# HELP foo Counter with and without labels to certify ST is parsed for both cases
# TYPE foo counter
foo_total 17.0 1520879607.789 # {id="counter-test"} 5
foo_created 1520872607.123
foo_total{le="1"} 10.0
# HELP fizz_created Gauge which shouldn't be parsed as ST
# TYPE fizz_created gauge
fizz_created 17.0
# HELP nansum Summary with NaN value
# TYPE nansum summary
nansum{quantile="0.95"} nan
nansum{quantile="0.99"} NaN"#
        .to_owned();
    input += "\n# HELP metric foo\x00bar";
    input += "\nnull_byte_metric{a=\"abc\x00\"} 1";
    input += "\n# EOF\n";
    let gc = "go_gc_duration_seconds";
    let want = vec![
        help(gc, "A summary of the GC invocation durations."),
        typ(gc, Summary),
        unit(gc, "seconds"),
        series(
            r#"go_gc_duration_seconds{quantile="0"}"#,
            4.9351e-05,
            &[("__name__", gc), ("quantile", "0.0")],
        ),
        series(
            r#"go_gc_duration_seconds{quantile="0.25"}"#,
            7.424100000000001e-05,
            &[("__name__", gc), ("quantile", "0.25")],
        ),
        series(
            r#"go_gc_duration_seconds{quantile="0.5",a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.5"), ("a", "b")],
        ),
        help("nohelp1", ""),
        help("help2", "escape \\ \n \\ \" \\x chars"),
        unit("nounit", ""),
        series(
            r#"go_gc_duration_seconds{quantile="1.0",a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "1.0"), ("a", "b")],
        ),
        series(
            "go_gc_duration_seconds_count",
            99.0,
            &[("__name__", "go_gc_duration_seconds_count")],
        ),
        series(
            r#"some:aggregate:rate5m{a_b="c"}"#,
            1.0,
            &[("__name__", "some:aggregate:rate5m"), ("a_b", "c")],
        ),
        help(
            "go_goroutines",
            "Number of goroutines that currently exist.",
        ),
        typ("go_goroutines", Gauge),
        with_ts(
            series("go_goroutines", 33.0, &[("__name__", "go_goroutines")]),
            123123,
        ),
        typ("hh", Histogram),
        series(
            r#"hh_bucket{le="+Inf"}"#,
            1.0,
            &[("__name__", "hh_bucket"), ("le", "+Inf")],
        ),
        typ("gh", GaugeHistogram),
        series(
            r#"gh_bucket{le="+Inf"}"#,
            1.0,
            &[("__name__", "gh_bucket"), ("le", "+Inf")],
        ),
        typ("hhh", Histogram),
        with_exemplar(
            series(
                r#"hhh_bucket{le="+Inf"}"#,
                1.0,
                &[("__name__", "hhh_bucket"), ("le", "+Inf")],
            ),
            &[("id", "histogram-bucket-test")],
            4.0,
            None,
        ),
        with_exemplar(
            series("hhh_count", 1.0, &[("__name__", "hhh_count")]),
            &[("id", "histogram-count-test")],
            4.0,
            None,
        ),
        typ("ggh", GaugeHistogram),
        with_exemplar(
            series(
                r#"ggh_bucket{le="+Inf"}"#,
                1.0,
                &[("__name__", "ggh_bucket"), ("le", "+Inf")],
            ),
            &[("id", "gaugehistogram-bucket-test"), ("xx", "yy")],
            4.0,
            Some(123123),
        ),
        with_exemplar(
            series("ggh_count", 1.0, &[("__name__", "ggh_count")]),
            &[("id", "gaugehistogram-count-test"), ("xx", "yy")],
            4.0,
            Some(123123),
        ),
        typ("smr_seconds", Summary),
        with_exemplar(
            series(
                "smr_seconds_count",
                2.0,
                &[("__name__", "smr_seconds_count")],
            ),
            &[("id", "summary-count-test")],
            1.0,
            Some(123321),
        ),
        with_exemplar(
            series("smr_seconds_sum", 42.0, &[("__name__", "smr_seconds_sum")]),
            &[("id", "summary-sum-test")],
            1.0,
            Some(123321),
        ),
        typ("ii", Info),
        series(
            r#"ii{foo="bar"}"#,
            1.0,
            &[("__name__", "ii"), ("foo", "bar")],
        ),
        typ("ss", StateSet),
        series(r#"ss{ss="foo"}"#, 1.0, &[("__name__", "ss"), ("ss", "foo")]),
        series(r#"ss{ss="bar"}"#, 0.0, &[("__name__", "ss"), ("ss", "bar")]),
        series(r#"ss{A="a"}"#, 0.0, &[("__name__", "ss"), ("A", "a")]),
        typ("un", Unknown),
        series(
            "_metric_starting_with_underscore",
            1.0,
            &[("__name__", "_metric_starting_with_underscore")],
        ),
        series(
            r#"testmetric{_label_starting_with_underscore="foo"}"#,
            1.0,
            &[
                ("__name__", "testmetric"),
                ("_label_starting_with_underscore", "foo"),
            ],
        ),
        series(
            r#"testmetric{label="\"bar\""}"#,
            1.0,
            &[("__name__", "testmetric"), ("label", "\"bar\"")],
        ),
        help(
            "foo",
            "Counter with and without labels to certify ST is parsed for both cases",
        ),
        typ("foo", Counter),
        with_exemplar(
            with_ts(
                series("foo_total", 17.0, &[("__name__", "foo_total")]),
                1520879607789,
            ),
            &[("id", "counter-test")],
            5.0,
            None,
        ),
        series(
            "foo_created",
            1520872607.123,
            &[("__name__", "foo_created")],
        ),
        series(
            r#"foo_total{le="1"}"#,
            10.0,
            &[("__name__", "foo_total"), ("le", "1")],
        ),
        help("fizz_created", "Gauge which shouldn't be parsed as ST"),
        typ("fizz_created", Gauge),
        series("fizz_created", 17.0, &[("__name__", "fizz_created")]),
        help("nansum", "Summary with NaN value"),
        typ("nansum", Summary),
        series(
            r#"nansum{quantile="0.95"}"#,
            f64::NAN,
            &[("__name__", "nansum"), ("quantile", "0.95")],
        ),
        series(
            r#"nansum{quantile="0.99"}"#,
            f64::NAN,
            &[("__name__", "nansum"), ("quantile", "0.99")],
        ),
        help("metric", "foo\x00bar"),
        series(
            "null_byte_metric{a=\"abc\x00\"}",
            1.0,
            &[("__name__", "null_byte_metric"), ("a", "abc\x00")],
        ),
    ];
    let got = collect(input.as_bytes(), Format::OpenMetrics).unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        match (g, w) {
            (
                Got::Series {
                    value: a,
                    labels: la,
                    ..
                },
                Got::Series {
                    value: b,
                    labels: lb,
                    ..
                },
            ) if b.is_nan() => {
                assert_eq!(a.to_bits(), NORMAL_NAN, "entry {i}");
                assert_eq!(la, lb, "entry {i}");
            }
            _ => assert_eq!(g, w, "entry {i}"),
        }
    }
}

#[test]
fn openmetrics_created_series_are_marked() {
    let input =
        b"# TYPE foo counter\nfoo_total 1\nfoo_created 2\n# TYPE g gauge\ng_created 3\n# EOF\n";
    let mut p = Parser::openmetrics(input);
    let mut created = Vec::new();
    while let Some(e) = p.next_entry().unwrap() {
        if let Entry::Series(s) = e {
            created.push((s.name.to_string(), s.is_created()));
        }
    }
    assert_eq!(
        created,
        [
            ("foo_total".to_owned(), false),
            ("foo_created".to_owned(), true),
            ("g_created".to_owned(), false)
        ]
    );
}

#[test]
fn openmetrics_utf8_names() {
    let input = r#"# HELP "go.gc_duration_seconds" A summary of the GC invocation durations.
# TYPE "go.gc_duration_seconds" summary
# UNIT "go.gc_duration_seconds" seconds
{"go.gc_duration_seconds",quantile="0"} 4.9351e-05
{"go.gc_duration_seconds",quantile="0.25"} 7.424100000000001e-05
{"go.gc_duration_seconds_created"} 1520872607.123
{"go.gc_duration_seconds",quantile="0.5",a="b"} 8.3835e-05
{"http.status",q="0.9",a="b"} 8.3835e-05
{q="0.9","http.status",a="b"} 8.3835e-05
{"go.gc_duration_seconds_sum"} 0.004304266
{"Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}","strange©™\n'quoted' \"name\""="6"} 10.0
quotedexemplar_count 1 # {"id.thing"="histogram-count-test"} 4
quotedexemplar2_count 1 # {"id.thing"="histogram-count-test",other="hello"} 4
# EOF
"#;
    let gc = "go.gc_duration_seconds";
    let want = vec![
        help(gc, "A summary of the GC invocation durations."),
        typ(gc, Summary),
        unit(gc, "seconds"),
        series(
            r#"{"go.gc_duration_seconds",quantile="0"}"#,
            4.9351e-05,
            &[("__name__", gc), ("quantile", "0.0")],
        ),
        series(
            r#"{"go.gc_duration_seconds",quantile="0.25"}"#,
            7.424100000000001e-05,
            &[("__name__", gc), ("quantile", "0.25")],
        ),
        series(
            r#"{"go.gc_duration_seconds_created"}"#,
            1520872607.123,
            &[("__name__", "go.gc_duration_seconds_created")],
        ),
        series(
            r#"{"go.gc_duration_seconds",quantile="0.5",a="b"}"#,
            8.3835e-05,
            &[("__name__", gc), ("quantile", "0.5"), ("a", "b")],
        ),
        series(
            r#"{"http.status",q="0.9",a="b"}"#,
            8.3835e-05,
            &[("__name__", "http.status"), ("q", "0.9"), ("a", "b")],
        ),
        series(
            r#"{q="0.9","http.status",a="b"}"#,
            8.3835e-05,
            &[("__name__", "http.status"), ("q", "0.9"), ("a", "b")],
        ),
        series(
            r#"{"go.gc_duration_seconds_sum"}"#,
            0.004304266,
            &[("__name__", "go.gc_duration_seconds_sum")],
        ),
        series(
            r#"{"Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}","strange©™\n'quoted' \"name\""="6"}"#,
            10.0,
            &[
                (
                    "__name__",
                    "Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}",
                ),
                ("strange©™\n'quoted' \"name\"", "6"),
            ],
        ),
        with_exemplar(
            series(
                "quotedexemplar_count",
                1.0,
                &[("__name__", "quotedexemplar_count")],
            ),
            &[("id.thing", "histogram-count-test")],
            4.0,
            None,
        ),
        with_exemplar(
            series(
                "quotedexemplar2_count",
                1.0,
                &[("__name__", "quotedexemplar2_count")],
            ),
            &[("id.thing", "histogram-count-test"), ("other", "hello")],
            4.0,
            None,
        ),
    ];
    check(input, Format::OpenMetrics, &want);
}

#[test]
fn openmetrics_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"# EOF", "EOF"),
        (b"# EOF\n", "EOF"),
        (b"", "data does not end with # EOF"),
        (
            b"\n",
            r#"expected a valid start token, got "\n" ("INVALID") while parsing: "\n""#,
        ),
        (
            b"metric",
            r#"expected value after metric, got "metric" ("EOF") while parsing: "metric""#,
        ),
        (b"metric 1", "data does not end with # EOF"),
        (b"metric 1\n", "data does not end with # EOF"),
        (
            b"metric_total 1 # {aa=\"bb\"} 4",
            "data does not end with # EOF",
        ),
        (
            b"a\n#EOF\n",
            r#"expected value after metric, got "\n" ("INVALID") while parsing: "a\n""#,
        ),
        (
            b"\n\n#EOF\n",
            r#"expected a valid start token, got "\n" ("INVALID") while parsing: "\n""#,
        ),
        (
            b" a 1\n#EOF\n",
            r#"expected a valid start token, got " " ("INVALID") while parsing: " ""#,
        ),
        (
            b"9\n#EOF\n",
            r#"expected a valid start token, got "9" ("INVALID") while parsing: "9""#,
        ),
        (
            b"# TYPE u untyped\n#EOF\n",
            r#"invalid metric type "untyped""#,
        ),
        (
            b"# TYPE c counter \n#EOF\n",
            r#"invalid metric type "counter ""#,
        ),
        (
            b"#  TYPE c counter\n#EOF\n",
            r##"expected a valid start token, got "#  " ("INVALID") while parsing: "#  ""##,
        ),
        (
            b"# TYPE \n#EOF\n",
            r##"expected metric name after TYPE, got "\n" ("INVALID") while parsing: "# TYPE \n""##,
        ),
        (b"# TYPE m\n#EOF\n", "expected text in TYPE"),
        (
            b"# UNIT metric suffix\n#EOF\n",
            r#"unit "suffix" not a suffix of metric "metric""#,
        ),
        (
            b"# UNIT metricsuffix suffix\n#EOF\n",
            r#"unit "suffix" not a suffix of metric "metricsuffix""#,
        ),
        (
            b"# UNIT m suffix\n#EOF\n",
            r#"unit "suffix" not a suffix of metric "m""#,
        ),
        (
            b"# UNIT \n#EOF\n",
            r##"expected metric name after UNIT, got "\n" ("INVALID") while parsing: "# UNIT \n""##,
        ),
        (b"# UNIT m\n#EOF\n", "expected text in UNIT"),
        (
            b"# HELP \n#EOF\n",
            r##"expected metric name after HELP, got "\n" ("INVALID") while parsing: "# HELP \n""##,
        ),
        (b"# HELP m\n#EOF\n", "expected text in HELP"),
        (
            b"a\t1\n#EOF\n",
            r#"expected value after metric, got "\t" ("INVALID") while parsing: "a\t""#,
        ),
        (
            b"a 1\t2\n#EOF\n",
            r#"strconv.ParseFloat: parsing "1\t2": invalid syntax while parsing: "a 1\t2""#,
        ),
        (
            b"a 1 2 \n#EOF\n",
            r#"expected next entry after timestamp, got " \n" ("INVALID") while parsing: "a 1 2 \n""#,
        ),
        (
            b"a 1 2 #\n#EOF\n",
            r#"expected next entry after timestamp, got " #\n" ("TIMESTAMP") while parsing: "a 1 2 #\n""#,
        ),
        (
            b"a 1 1z\n#EOF\n",
            r#"strconv.ParseFloat: parsing "1z": invalid syntax while parsing: "a 1 1z""#,
        ),
        (
            b" # EOF\n",
            r#"expected a valid start token, got " " ("INVALID") while parsing: " ""#,
        ),
        (b"# EOF\na 1", "unexpected data after # EOF"),
        (b"# EOF\n\n", "unexpected data after # EOF"),
        (b"# EOFa 1", "unexpected data after # EOF"),
        (
            b"#\tTYPE c counter\n",
            r##"expected a valid start token, got "#\t" ("INVALID") while parsing: "#\t""##,
        ),
        (b"# TYPE c  counter\n", r#"invalid metric type " counter""#),
        (
            b"a 1 1 1\n# EOF\n",
            r#"expected next entry after timestamp, got " 1\n" ("TIMESTAMP") while parsing: "a 1 1 1\n""#,
        ),
        (
            b"a{b='c'} 1\n# EOF\n",
            r#"expected label value, got "'" ("INVALID") while parsing: "a{b='""#,
        ),
        (
            b"a{,b=\"c\"} 1\n# EOF\n",
            r#"expected label name, got ",b" ("COMMA") while parsing: "a{,b""#,
        ),
        (
            b"a{b=\"c\"d=\"e\"} 1\n# EOF\n",
            r#"expected comma or brace close, got "d=" ("LNAME") while parsing: "a{b=\"c\"d=""#,
        ),
        (
            b"a{b=\"c\",,d=\"e\"} 1\n# EOF\n",
            r#"expected label name, got ",d" ("COMMA") while parsing: "a{b=\"c\",,d""#,
        ),
        (
            b"a{b=\n# EOF\n",
            r#"expected label value, got "\n" ("INVALID") while parsing: "a{b=\n""#,
        ),
        (
            b"a{\xff=\"foo\"} 1\n# EOF\n",
            r#"expected label name, got "\xff" ("INVALID") while parsing: "a{\xff""#,
        ),
        (
            b"a{b=\"\xff\"} 1\n# EOF\n",
            r#"invalid UTF-8 label value: "\"\xff\"""#,
        ),
        (
            b"{\"a\",\"b = \"c\"}\n# EOF\n",
            r#"expected equal, got "c\"" ("LNAME") while parsing: "{\"a\",\"b = \"c\"""#,
        ),
        (
            b"{\"a\",b\\nc=\"d\"} 1\n# EOF\n",
            r#"expected equal, got "\\" ("INVALID") while parsing: "{\"a\",b\\""#,
        ),
        (
            b"a true\n",
            r#"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "a true""#,
        ),
        (
            b"something_weird{problem=\"\n# EOF\n",
            r#"expected label value, got "\"\n" ("INVALID") while parsing: "something_weird{problem=\"\n""#,
        ),
        (
            b"empty_label_name{=\"\"} 0\n# EOF\n",
            r#"expected label name, got "=\"" ("EQUAL") while parsing: "empty_label_name{=\"""#,
        ),
        (
            b"{A}0\n# EOF\n",
            r#"expected equal, got "}0" ("BCLOSE") while parsing: "{A}0""#,
        ),
        (
            b"foo 1_2\n\n# EOF\n",
            r#"unsupported character in float while parsing: "foo 1_2""#,
        ),
        (
            b"foo 0x1p-3\n\n# EOF\n",
            r#"unsupported character in float while parsing: "foo 0x1p-3""#,
        ),
        (
            b"foo 0x1P-3\n\n# EOF\n",
            r#"unsupported character in float while parsing: "foo 0x1P-3""#,
        ),
        (
            b"foo 0 1_2\n\n# EOF\n",
            r#"unsupported character in float while parsing: "foo 0 1_2""#,
        ),
        (
            b"custom_metric_total 1 # {aa=bb}\n# EOF\n",
            r#"expected label value, got "b" ("INVALID") while parsing: "custom_metric_total 1 # {aa=b""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\"}\n# EOF\n",
            r#"expected value after exemplar labels, got "\n" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\"bb\"}\n""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\"}",
            r#"expected value after exemplar labels, got "}" ("EOF") while parsing: "custom_metric_total 1 # {aa=\"bb\"}""#,
        ),
        (
            b"custom_metric_total 1 # {bb}",
            r#"expected equal, got "}" ("BCLOSE") while parsing: "custom_metric_total 1 # {bb}""#,
        ),
        (
            b"custom_metric_total 1 # {bb, a=\"dd\"}",
            r#"expected equal, got ", " ("COMMA") while parsing: "custom_metric_total 1 # {bb, ""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\",,cc=\"dd\"} 1",
            r#"expected label name, got ",c" ("COMMA") while parsing: "custom_metric_total 1 # {aa=\"bb\",,c""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\"} 1_2",
            r#"unsupported character in float while parsing: "custom_metric_total 1 # {aa=\"bb\"} 1_2""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\"} 0x1p-3",
            r#"unsupported character in float while parsing: "custom_metric_total 1 # {aa=\"bb\"} 0x1p-3""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\"} true",
            r#"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "custom_metric_total 1 # {aa=\"bb\"} true""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\"bb\",cc=}",
            r#"expected label value, got "}" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\"bb\",cc=}""#,
        ),
        (
            b"custom_metric_total 1 # {aa=\\\"\xff\\\"} 9.0",
            r#"expected label value, got "\\" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\\""#,
        ),
        (
            b"{b=\"c\",} 1",
            r#"metric name not set while parsing: "{b=\"c\",} 1""#,
        ),
        (b"a 1 NaN", "invalid timestamp NaN"),
        (b"a 1 -Inf", "invalid timestamp -Inf"),
        (b"a 1 Inf", "invalid timestamp +Inf"),
        (
            b"# TYPE hhh histogram\nhhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 NaN",
            "invalid exemplar timestamp NaN",
        ),
        (
            b"# TYPE hhh histogram\nhhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 -Inf",
            "invalid exemplar timestamp -Inf",
        ),
        // Null bytes, from TestOMNullByteHandling.
        (
            b"a{b=\x00\"ssss\"} 1\n# EOF\n",
            r#"expected label value, got "\x00" ("INVALID") while parsing: "a{b=\x00""#,
        ),
        (
            b"a{b=\"\x00",
            r#"expected label value, got "\"\x00" ("INVALID") while parsing: "a{b=\"\x00""#,
        ),
        (
            b"a{b\x00=\"hiih\"}\t1",
            r#"expected equal, got "\x00" ("INVALID") while parsing: "a{b\x00""#,
        ),
        (
            b"a\x00{b=\"ddd\"} 1",
            r#"expected value after metric, got "\x00" ("INVALID") while parsing: "a\x00""#,
        ),
        (
            b"#",
            r##"expected a valid start token, got "#" ("INVALID") while parsing: "#""##,
        ),
        (
            b"# H",
            r##"expected a valid start token, got "# H" ("INVALID") while parsing: "# H""##,
        ),
        (
            b"custom_metric_total 1 # {b=\x00\"ssss\"} 1\n",
            r#"expected label value, got "\x00" ("INVALID") while parsing: "custom_metric_total 1 # {b=\x00""#,
        ),
        (
            b"custom_metric_total 1 # {b=\"\x00ss\"} 1\n",
            r#"expected label value, got "\"\x00" ("INVALID") while parsing: "custom_metric_total 1 # {b=\"\x00""#,
        ),
        // Beyond Prometheus's tests.
        (
            b"# comment\n# EOF\n",
            r##"expected a valid start token, got "# c" ("INVALID") while parsing: "# c""##,
        ),
        (
            b"a{b=\"c\", d=\"e\"} 1\n# EOF\n",
            r#"expected label name, got " " ("INVALID") while parsing: "a{b=\"c\", ""#,
        ),
        (
            b"a  1\n# EOF\n",
            r#"expected value after metric, got "  " ("INVALID") while parsing: "a  ""#,
        ),
        (
            b"a 1 \n# EOF\n",
            r#"expected timestamp or new record, got " \n" ("INVALID") while parsing: "a 1 \n""#,
        ),
        (
            b"a{\"b\"} 1\n# EOF\n",
            r#"metric name already set while parsing: "a{\"b\"}""#,
        ),
        (
            b"a 1 # {\"x\"} 1\n# EOF\n",
            r#"expected label name, got "} " ("BCLOSE") while parsing: "a 1 # {\"x\"} ""#,
        ),
        (
            b"a 1 # {x=\"1\"} 1 2 3\n# EOF\n",
            r#"expected next entry after exemplar timestamp, got " 3\n" ("TIMESTAMP") while parsing: "a 1 # {x=\"1\"} 1 2 3\n""#,
        ),
        (
            b"a 1 # {x=\"1\"} 1 2",
            r#"expected next entry after exemplar timestamp, got " 2" ("EOF") while parsing: "a 1 # {x=\"1\"} 1 2""#,
        ),
        (
            b"a 1e999\n# EOF\n",
            r#"strconv.ParseFloat: parsing "1e999": value out of range while parsing: "a 1e999""#,
        ),
        (
            b"# TYPE a untyped\n# EOF\n",
            r#"invalid metric type "untyped""#,
        ),
        (
            b"# HELP a \xff\n# EOF\n",
            r#"invalid UTF-8 help text: "\xff""#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            error_of(input, Format::OpenMetrics),
            *want,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn openmetrics_null_bytes_accepted() {
    for input in [
        &b"null_byte_metric{a=\"abc\x00\"} 1\n# EOF\n"[..],
        b"a{b=\"\x00ss\"} 1\n# EOF\n",
        b"a{b=\"\x00\"} 1\n# EOF\n",
        b"a{b=\"\x00\"} 1\n# EOF",
    ] {
        assert_eq!(error_of(input, Format::OpenMetrics), "EOF");
    }
}

#[test]
fn bare_identifier_in_braces_does_not_panic() {
    assert!(collect(b"{A} 0\n", Format::Text).is_err());
    assert!(collect(b"{A} 0\n# EOF\n", Format::OpenMetrics).is_err());
}

#[test]
fn timestamps_and_values() {
    let got = collect(
        b"a 1.5 1520879607.789\nb -Inf -0.5\nc +Inf 0\nd 0.29 0.29 # {x=\"y\"} -1 0.001\n# EOF\n",
        Format::OpenMetrics,
    )
    .unwrap();
    let values: Vec<_> = got
        .iter()
        .map(|g| match g {
            Got::Series { value, ts, .. } => (*value, *ts),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        values,
        [
            (1.5, Some(1520879607789)),
            (f64::NEG_INFINITY, Some(-500)),
            (f64::INFINITY, Some(0)),
            (0.29, Some(290)),
        ]
    );
    let Got::Series { exemplar, .. } = &got[3] else {
        unreachable!()
    };
    assert_eq!(
        exemplar,
        &Some((Labels::from_pairs([("x", "y")]), -1.0, Some(1)))
    );
}

#[test]
fn labels_for_storage() {
    let mut p = Parser::text(
        b"# TYPE h histogram\nh_bucket{le=\"1\",z=\"\",a=\"x\\\\y\"} 1\nh_bucket{a=\"1\",a=\"2\"} 1\n",
    );
    p.next_entry().unwrap();
    let Some(Entry::Series(s)) = p.next_entry().unwrap() else {
        panic!()
    };
    assert_eq!(s.labels.len(), 3);
    assert!(s.labels[2].value.has_escapes());
    assert_eq!(s.labels[2].value.raw(), "x\\\\y");
    assert_eq!(
        s.to_labels().unwrap(),
        Labels::from_pairs([("__name__", "h_bucket"), ("le", "1.0"), ("a", "x\\y")])
    );
    let Some(Entry::Series(s)) = p.next_entry().unwrap() else {
        panic!()
    };
    let err = s.to_labels().unwrap_err();
    assert_eq!(err.to_string(), r#"3:1: label name "a" is not unique"#);
}

#[test]
fn series_raw_is_name_and_labels() {
    let mut p = Parser::openmetrics(b"a{b=\"c\"} 1 2 # {d=\"e\"} 3\n# EOF\n");
    let Some(Entry::Series(s)) = p.next_entry().unwrap() else {
        panic!()
    };
    assert_eq!(s.raw, b"a{b=\"c\"}");
    assert_eq!(s.name, "a");
    assert_eq!(s.timestamp_ms, Some(2000));
    assert_eq!(p.next_entry().unwrap(), None);
    assert_eq!(p.next_entry().unwrap(), None);
}

#[test]
fn invalid_utf8_outside_tokens_is_accepted() {
    // Comments are not checked, as in Prometheus; the rest still parses.
    let got = collect(b"# \xff\xfe\na{b=\"\xc3\xa4\"} 1\n", Format::Text).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        series(
            "a{b=\"\u{e4}\"}",
            1.0,
            &[("__name__", "a"), ("b", "\u{e4}")]
        )
    );
    // NUL is refused in quoted names, escaped or not (a written name could not
    // escape it).
    assert!(collect(b"{\"a\\\x00\"} 1\n", Format::Text).is_err());
    assert!(collect(b"# HELP \"a\\\x00\" x\n", Format::Text).is_err());
    assert!(matches!(
        collect(b"{\"\xff\"} 1\n", Format::Text),
        Err(Error::InvalidUtf8 {
            what: "label name",
            ..
        })
    ));
}
