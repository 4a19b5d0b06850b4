//! Property tests: whatever the input, parsing returns (never panics), every error
//! lies within the input, and whatever parses prints as text that parses again to a
//! tree printing the same way.

use ember_promql_parser::{Parser, ParserOptions, prettify_with_width};
use proptest::prelude::*;

/// Fragments that make up PromQL, including the odd ones that reach unusual paths
/// of the lexer and the parser.
const TOKENS: &[&str] = &[
    "foo",
    "bar",
    "sum",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "@",
    "start()",
    "end()",
    "step()",
    "range()",
    "min_of",
    "max_of",
    "anchored",
    "smoothed",
    "fill",
    "fill_left",
    "fill_right",
    "rate",
    "topk",
    "count_values",
    "quantile",
    "limitk",
    "info",
    "label_replace",
    "histogram_quantile",
    "time",
    "abs",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
    "!=",
    "=~",
    "!~",
    "==",
    "<",
    ">",
    "<=",
    ">=",
    "</",
    ">/",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "atan2",
    "1",
    "0",
    "-1",
    "1.5",
    ".5",
    "0x1f",
    "1e3",
    "Inf",
    "NaN",
    "5m",
    "1h30m",
    "0s",
    "1y",
    "30ms",
    "\"a\"",
    "'b'",
    "`c`",
    "\"\\x\"",
    "\"",
    "'",
    "`",
    "job",
    "__name__",
    "\"a.b\"",
    "#",
    "\n",
    " ",
    "台",
    ".",
    "!",
    "5mm",
    "1_000",
    "_",
    "x:y",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(|v| {
        let mut s = String::new();
        for (t, space) in v {
            s.push_str(t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

fn check(input: &str) -> Result<(), TestCaseError> {
    let p = Parser::new(ParserOptions::all());
    match p.parse_expr(input) {
        Ok(e) => {
            let printed = e.to_string();
            let again = p.parse_expr(&printed);
            prop_assert!(again.is_ok(), "{input:?} prints as {printed:?}: {again:?}");
            if let Ok(again) = again {
                prop_assert_eq!(again.to_string(), printed);
            }
            let pretty = prettify_with_width(&e, 20);
            prop_assert!(
                p.parse_expr(&pretty).is_ok(),
                "{input:?} prettifies as {pretty:?}"
            );
        }
        Err(err) => {
            prop_assert!(!err.errors.is_empty());
            for e in &err.errors {
                prop_assert!(
                    e.position_range.start <= e.position_range.end,
                    "{input:?}: {e}"
                );
                prop_assert!(e.position_range.end <= input.len(), "{input:?}: {e}");
            }
            let _ = err.to_string();
        }
    }
    let _ = Parser::default().parse_expr(input);
    let _ = p.parse_metric_selector(input);
    let _ = p.parse_metric(input);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn token_soup_never_panics(input in soup()) {
        check(&input)?;
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,60}") {
        check(&input)?;
    }
}

#[test]
fn huge_inputs_fail_fast() {
    // Prometheus's own test: 10000 errors and 1000 nested subqueries; here the nesting
    // limit stops it early.
    let q = format!("({}){}", "-{}-1".repeat(10000), "[1m:]".repeat(1000));
    let start = std::time::Instant::now();
    let err = Parser::default().parse_expr(&q).unwrap_err();
    assert!(err.to_string().contains("nested too deeply"), "{err}");
    assert!(start.elapsed().as_secs() < 5);
    // Many errors at once must not re-render the query for each.
    let q = format!("{}1", "{} + ".repeat(400));
    let err = Parser::default().parse_expr(&q).unwrap_err();
    assert_eq!(err.errors.len(), 400);
}

/// Instant-vector expressions from a small grammar, so that the round trip is
/// exercised on valid queries of every shape.
fn vector_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("foo".to_string()),
        Just(r#"bar{job="api", "a.b"=~"x|y"}"#.to_string()),
        Just(r#"{__name__="up", i!=""}"#.to_string()),
        Just("rate(foo[5m])".to_string()),
        Just("foo offset -1h30m".to_string()),
        Just("foo @ 100".to_string()),
        Just("foo[5m:1m] @ start()".to_string()).prop_map(|s| format!("max_over_time({s})")),
        Just("vector(time())".to_string()),
        Just("foo anchored".to_string()),
        Just("increase(foo[step() * 2] smoothed)".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let ops = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "and", "or",
            "unless",
        ]);
        let aggs =
            prop::sample::select(vec!["sum", "avg", "min", "max", "count", "group", "stddev"]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("({a} + on (job) group_left (x) {b})")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("({a} > bool ignoring (i) {b})")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("({a} * fill_left (0.5) {b})")),
            (aggs, inner.clone()).prop_map(|(agg, a)| format!("{agg} by (job) ({a})")),
            inner.clone().prop_map(|a| format!("topk(3, {a})")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("abs({a})")),
            inner
                .clone()
                .prop_map(|a| format!("avg_over_time(({a})[10m:])")),
            inner.clone().prop_map(|a| format!("({a} ^ 2 - 1)")),
            inner.prop_map(|a| format!("label_replace({a}, \"d\", \"$1\", \"s\", \"(.*)\")")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn valid_queries_round_trip(q in vector_expr()) {
        let p = Parser::new(ParserOptions::all());
        let e = p.parse_expr(&q);
        prop_assert!(e.is_ok(), "{q:?}: {e:?}");
        check(&q)?;
    }
}
