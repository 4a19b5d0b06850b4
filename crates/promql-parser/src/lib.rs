//! PromQL's front end: lexer, syntax tree, parser, type checks, printer and pretty
//! printer, for the full Prometheus 3.x language.
//!
//! Everything in Ember that reads a query goes through here: the `promql` engine
//! evaluates the [`Expr`] trees this crate builds, the rules crate parses and prints
//! the `expr` of recording and alerting rules, and the web API's
//! `/api/v1/parse_query` and `/api/v1/format_query` return this crate's tree and
//! [`prettify`] output. Parsing is [`parse_expr`] or a [`Parser`] with
//! [`ParserOptions`] for the experimental parts of the language (functions such as
//! `limitk`, duration expressions like `foo[5m + step()]`, `anchored`/`smoothed`,
//! `fill()` modifiers), which are off by default as in Prometheus.
//!
//! The parser is written by hand rather than taken from the `promql-parser` crate
//! (see `DEPENDENCIES.md`): Ember is a drop-in replacement, and users and tools see
//! Prometheus's exact error texts with their positions (`1:5: parse error: unexpected
//! <op:+>`), the position range of every node (annotations quote them), duration
//! expressions and the extended range selectors, none of which that crate has. The
//! lexer follows Prometheus's `lex.go` state by state; the grammar is recursive
//! descent with precedence climbing and reproduces the yacc parser's visible
//! behaviour, including how it words syntax errors.
//!
//! ```
//! use ember_promql_parser::{parse_expr, Expr};
//!
//! let e = parse_expr("sum by (job) (rate(http_requests_total[5m]))").unwrap();
//! assert!(matches!(e, Expr::Aggregate(_)));
//! assert_eq!(e.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
//!
//! let err = parse_expr("foo +").unwrap_err();
//! assert_eq!(err.to_string(), "1:6: parse error: unexpected end of input");
//! ```

pub mod ast;
mod check;
mod duration;
mod error;
mod functions;
mod lexer;
mod parser;
mod prettier;
mod printer;
mod strconv;

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod printer_tests;
#[cfg(test)]
mod promqltest_exprs_tests;

pub use ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, DurationExpr, DurationOp,
    Expr, FillValues, MatrixSelector, NumberLiteral, ParenExpr, PositionRange, StepInvariantExpr,
    StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp, ValueType, VectorMatchCardinality,
    VectorMatching, VectorSelector,
};
pub use duration::{Duration, parse_duration};
pub use error::{Error, ParseErr, ParseErrors};
pub use functions::{FUNCTIONS, Function, get_function};
pub use parser::MAX_NESTING;
pub use prettier::{MAX_CHARACTERS_PER_LINE, prettify, prettify_with_width};
pub use printer::matcher_to_string;
pub use strconv::{format_go_float, go_quote, go_quote_bytes};

use ember_model::{Labels, Matcher};

/// Which experimental parts of the language the parser accepts. All are off by
/// default, as in Prometheus; each corresponds to a Prometheus feature flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ParserOptions {
    /// Experimental functions and aggregations (`limitk`, `info`, `sort_by_label`, …):
    /// `--enable-feature=promql-experimental-functions`.
    pub enable_experimental_functions: bool,
    /// Arithmetic in ranges, steps and offsets (`foo[5m + step()]`, `offset (1h * 2)`):
    /// `--enable-feature=promql-duration-expr`.
    pub experimental_duration_expr: bool,
    /// `anchored` and `smoothed` range selectors:
    /// `--enable-feature=promql-extended-range-selectors`.
    pub enable_extended_range_selectors: bool,
    /// `fill()`, `fill_left()`, `fill_right()` on binary operators:
    /// `--enable-feature=promql-binop-fill-modifiers`.
    pub enable_binop_fill_modifiers: bool,
}

impl ParserOptions {
    /// Everything enabled, as Prometheus's promqltest runs its test files.
    pub const fn all() -> Self {
        ParserOptions {
            enable_experimental_functions: true,
            experimental_duration_expr: true,
            enable_extended_range_selectors: true,
            enable_binop_fill_modifiers: true,
        }
    }
}

/// A PromQL parser with fixed [`ParserOptions`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Parser {
    /// The options every parse uses.
    pub options: ParserOptions,
}

impl Parser {
    /// A parser with `options`.
    pub const fn new(options: ParserOptions) -> Self {
        Parser { options }
    }

    /// Parses and type-checks an expression. On failure every problem found is
    /// returned; the error displays as the first, as Prometheus reports it.
    pub fn parse_expr(&self, input: &str) -> Result<Expr, ParseErrors> {
        let mut p = parser::Parser::new(input, self.options);
        let mut expr = p.parse_query();
        if p.errors.is_empty()
            && let Some(e) = expr.as_mut()
        {
            p.check(e);
        }
        p.into_result(expr)
    }

    /// Parses a lone vector selector such as `up{job="api"}` (the API's `match[]`),
    /// returning its matchers; a metric name comes last as `__name__="…"`. Unlike
    /// [`Parser::parse_expr`] it does not reject selectors that match everything.
    pub fn parse_metric_selector(&self, input: &str) -> Result<Vec<Matcher>, ParseErrors> {
        let mut p = parser::Parser::new(input, self.options);
        let m = p.parse_metric_selector();
        p.into_result(m)
    }

    /// Parses a series' labels, `name{label="value", …}` (only `=`, as in exposition
    /// formats and test files); the empty input is the empty label set.
    pub fn parse_metric(&self, input: &str) -> Result<Labels, ParseErrors> {
        let mut p = parser::Parser::new(input, self.options);
        let m = p.parse_metric();
        p.into_result(m)
    }
}

/// Parses an expression with default options (experimental features off).
pub fn parse_expr(input: &str) -> Result<Expr, ParseErrors> {
    Parser::default().parse_expr(input)
}

/// Parses a lone vector selector with default options; see
/// [`Parser::parse_metric_selector`].
pub fn parse_metric_selector(input: &str) -> Result<Vec<Matcher>, ParseErrors> {
    Parser::default().parse_metric_selector(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::MatchType;

    #[test]
    fn errors_display_like_prometheus() {
        let cases = [
            ("foo +", "1:6: parse error: unexpected end of input"),
            ("1 + *", "1:5: parse error: unexpected <op:*>"),
            (
                "",
                "unknown position: parse error: no expression found in input",
            ),
            (
                "sum(x)\n  by (a b)",
                "2:9: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
            ),
            (
                "foo{a=\"b\"}\n+ on(x)\n",
                "3:1: parse error: unexpected end of input",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_expr(input).map_err(|e| e.to_string()),
                Err(want.to_string())
            );
        }
    }

    #[test]
    fn errors_keep_every_problem() {
        let err = parse_expr("foo and on(bar) group_left(baz) bar").unwrap_err();
        let msgs: Vec<&str> = err.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "no grouping allowed for \"and\" operation",
                "set operations must always be many-to-many"
            ]
        );
        assert_eq!(
            err.first().map(|e| e.position_range),
            Some(PositionRange::new(0, 35))
        );
    }

    #[test]
    fn metric_selectors() {
        let ms = parse_metric_selector(r#"up{job="api", instance=~"a.*"}"#).unwrap();
        let got: Vec<String> = ms.iter().map(matcher_to_string).collect();
        assert_eq!(
            got,
            [r#"job="api""#, r#"instance=~"a.*""#, r#"__name__="up""#]
        );
        assert!(parse_metric_selector("{}").unwrap().is_empty());
        let ms = parse_metric_selector(r#"{"a.b", c!="d"}"#).unwrap();
        assert_eq!(ms[0].kind, MatchType::Equal);
        assert_eq!(ms[0].name, "__name__");
        assert_eq!(
            parse_metric_selector("up + 1").unwrap_err().to_string(),
            "1:4: parse error: unexpected <op:+>"
        );
        assert_eq!(
            parse_metric_selector("rate(x)").unwrap_err().to_string(),
            "1:5: parse error: unexpected \"(\""
        );
        assert_eq!(
            parse_metric_selector("").unwrap_err().to_string(),
            "unknown position: parse error: unexpected end of input"
        );
        assert!(parse_metric_selector("sum").is_ok());
    }

    #[test]
    fn metrics() {
        let p = Parser::default();
        let l = p
            .parse_metric(r#"up{job="api", "a.b"="c", instance="x"}"#)
            .unwrap();
        assert_eq!(
            l.to_string(),
            r#"{__name__="up", a.b="c", instance="x", job="api"}"#
        );
        assert_eq!(p.parse_metric(r#"{"up"}"#).unwrap().metric_name(), "up");
        assert!(p.parse_metric("").unwrap().is_empty());
        assert!(p.parse_metric("{}").unwrap().is_empty());
        assert_eq!(
            p.parse_metric(r#"up{a!="b"}"#).unwrap_err().to_string(),
            "1:5: parse error: unexpected <op:!=> in label set, expected \"=\""
        );
        assert_eq!(
            p.parse_metric(r#"up{a="b" c="d"}"#)
                .unwrap_err()
                .to_string(),
            "1:10: parse error: unexpected identifier \"c\" in label set, expected \",\" or \"}\""
        );
        assert_eq!(
            p.parse_metric(r#"up{a=b}"#).unwrap_err().to_string(),
            "1:6: parse error: unexpected identifier \"b\" in label set, expected string"
        );
    }

    #[test]
    fn options() {
        let all = ParserOptions::all();
        assert!(all.enable_experimental_functions && all.experimental_duration_expr);
        assert!(all.enable_extended_range_selectors && all.enable_binop_fill_modifiers);
        assert_eq!(ParserOptions::default(), Parser::default().options);
        assert!(parse_expr("limitk(1, x)").is_err());
        assert!(Parser::new(all).parse_expr("limitk(1, x)").is_ok());
    }

    #[test]
    fn value_types_and_walks() {
        let p = Parser::new(ParserOptions::all());
        for (q, t) in [
            ("1", ValueType::Scalar),
            ("\"a\"", ValueType::String),
            ("x", ValueType::Vector),
            ("x[5m]", ValueType::Matrix),
            ("rate(x[5m])[1h:]", ValueType::Matrix),
            ("1 + 2", ValueType::Scalar),
            ("1 + x", ValueType::Vector),
            ("-(1)", ValueType::Scalar),
            ("time()", ValueType::Scalar),
            ("sum(x)", ValueType::Vector),
        ] {
            assert_eq!(p.parse_expr(q).unwrap().value_type(), t, "{q}");
        }
        let e = p
            .parse_expr("sum(rate(a[5m])) / on() b offset 1m + topk(2, c)")
            .unwrap();
        let sel: Vec<String> = e
            .extract_selectors()
            .iter()
            .map(|ms| {
                ms.iter()
                    .map(matcher_to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        assert_eq!(
            sel,
            [r#"__name__="a""#, r#"__name__="b""#, r#"__name__="c""#]
        );
        let mut depths = Vec::new();
        e.inspect(|n, path| {
            if let Expr::VectorSelector(vs) = n {
                depths.push((vs.name.clone(), path.len()));
            }
        });
        assert_eq!(depths, [("a".into(), 5), ("b".into(), 2), ("c".into(), 2)]);
        assert_eq!(e.pos_range(), PositionRange::new(0, 48));
    }

    #[test]
    fn string_literals_keep_invalid_utf8() {
        let e = parse_expr(r#""a\xc5z""#).unwrap();
        let Expr::StringLiteral(s) = &e else {
            panic!("not a string: {e:?}");
        };
        assert_eq!(s.bytes(), b"a\xc5z");
        assert_eq!(s.val, "a\u{fffd}z");
        assert_eq!(e.to_string(), r#""a\xc5z""#);
        assert!(
            matches!(parse_expr(r#""ä""#), Ok(Expr::StringLiteral(s)) if s.invalid_utf8.is_none())
        );
    }
}
