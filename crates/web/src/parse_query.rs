//! `/api/v1/parse_query`: the syntax tree of a PromQL expression as JSON, in the shape
//! Prometheus 3.x's `translateAST` (web/api/v1) produces for the UI's tree view.
//!
//! Every node is an object with a `type` (`vectorSelector`, `matrixSelector`,
//! `binaryExpr`, `aggregation`, `call`, `numberLiteral`, `stringLiteral`, `subquery`,
//! `parenExpr`, `unaryExpr`, `durationExpr`) and the fields Prometheus emits for that
//! type; durations are whole milliseconds, absent sub-trees are `null`, empty label
//! lists are `[]`, and keys are sorted (as Go's JSON encoding of maps sorts them).

use crate::api::{ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use ember_promql_parser::{AtModifier, DurationExpr, Expr, Parser, VectorSelector};
use serde_json::{Value as J, json};
use std::sync::Arc;

/// `GET|POST /api/v1/parse_query?query=…`.
/// Parsed with the engine's parser options (the `--enable-feature` flags), as
/// Prometheus parses with its configured parser.
pub(crate) async fn parse_query(
    State(s): State<Arc<crate::WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = Params::new(q, &headers, &body);
    let query = p.get("query").unwrap_or("");
    let opts = s
        .query
        .as_ref()
        .map(|q| q.engine.options().parser)
        .unwrap_or_default();
    let e = Parser::new(opts)
        .parse_expr(query)
        .map_err(|e| ApiError::bad(format!("invalid parameter \"query\": {e}")))?;
    let body = json!({"status": "success", "data": translate_ast(&e)});
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an
/// exponent; `+Inf`, `-Inf`, `NaN`.
fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's `Display` for floats is the shortest round-trip form without exponent.
        format!("{v}")
    }
}

/// A float as Go's `encoding/json` writes it (integral values without `.0`);
/// non-finite values, which Go cannot encode, become `null`.
fn json_float(v: f64) -> J {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn timestamp(at: &Option<AtModifier>) -> J {
    match at {
        Some(AtModifier::Timestamp(ms)) => json!(ms),
        _ => J::Null,
    }
}

fn start_or_end(at: &Option<AtModifier>) -> J {
    match at {
        Some(AtModifier::Start) => json!("start"),
        Some(AtModifier::End) => json!("end"),
        _ => J::Null,
    }
}

fn matchers(vs: &VectorSelector) -> J {
    J::Array(
        vs.label_matchers
            .iter()
            .map(|m| json!({"name": m.name, "value": m.value, "type": m.kind.as_str()}))
            .collect(),
    )
}

fn duration_expr_opt(d: &Option<Box<DurationExpr>>) -> J {
    match d {
        Some(d) => duration_expr(d),
        None => J::Null,
    }
}

fn duration_expr(d: &DurationExpr) -> J {
    let side = |e: &Option<Box<Expr>>| match e {
        Some(e) => duration_child(e),
        None => J::Null,
    };
    json!({
        "type": "durationExpr",
        "op": d.op.as_str(),
        "lhs": side(&d.lhs),
        "rhs": side(&d.rhs),
        "wrapped": d.wrapped,
    })
}

/// Prometheus's `translateDurationExpr`: number literals carry their `duration` flag.
fn duration_child(e: &Expr) -> J {
    match e {
        Expr::Duration(d) => duration_expr(d),
        Expr::NumberLiteral(n) => json!({
            "type": "numberLiteral",
            "val": format_f(n.val),
            "duration": n.duration,
        }),
        other => translate_ast(other),
    }
}

/// The JSON tree of `e`, field for field as Prometheus's `translateAST`.
pub(crate) fn translate_ast(e: &Expr) -> J {
    match e {
        Expr::Aggregate(a) => json!({
            "type": "aggregation",
            "op": a.op.as_str(),
            "expr": translate_ast(&a.expr),
            "param": a.param.as_deref().map_or(J::Null, translate_ast),
            "grouping": a.grouping,
            "without": a.without,
        }),
        Expr::Binary(b) => {
            let matching = match &b.vector_matching {
                Some(m) => json!({
                    "card": m.card.to_string(),
                    "labels": m.matching_labels,
                    "on": m.on,
                    "include": m.include,
                    "fillValues": {
                        "lhs": m.fill_values.lhs.map_or(J::Null, json_float),
                        "rhs": m.fill_values.rhs.map_or(J::Null, json_float),
                    },
                }),
                None => J::Null,
            };
            json!({
                "type": "binaryExpr",
                "op": b.op.as_str(),
                "lhs": translate_ast(&b.lhs),
                "rhs": translate_ast(&b.rhs),
                "matching": matching,
                "bool": b.return_bool,
            })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.arg_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": c.func.return_type.as_str(),
            },
            "args": c.args.iter().map(translate_ast).collect::<Vec<_>>(),
        }),
        Expr::MatrixSelector(m) => {
            let Some(vs) = m.vs() else {
                return translate_ast(&m.vector_selector);
            };
            json!({
                "type": "matrixSelector",
                "name": vs.name,
                "range": m.range.as_millis(),
                "rangeExpr": duration_expr_opt(&m.range_expr),
                "offset": vs.original_offset.as_millis(),
                "offsetExpr": duration_expr_opt(&vs.original_offset_expr),
                "matchers": matchers(vs),
                "timestamp": timestamp(&vs.at),
                "startOrEnd": start_or_end(&vs.at),
                "anchored": vs.anchored,
                "smoothed": vs.smoothed,
            })
        }
        Expr::Subquery(s) => json!({
            "type": "subquery",
            "expr": translate_ast(&s.expr),
            "range": s.range.as_millis(),
            "rangeExpr": duration_expr_opt(&s.range_expr),
            "offset": s.original_offset.as_millis(),
            "offsetExpr": duration_expr_opt(&s.original_offset_expr),
            "step": s.step.as_millis(),
            "stepExpr": duration_expr_opt(&s.step_expr),
            "timestamp": timestamp(&s.at),
            "startOrEnd": start_or_end(&s.at),
        }),
        Expr::Duration(d) => duration_expr(d),
        Expr::NumberLiteral(n) => json!({"type": "numberLiteral", "val": format_f(n.val)}),
        Expr::Paren(p) => json!({"type": "parenExpr", "expr": translate_ast(&p.expr)}),
        Expr::StringLiteral(s) => json!({"type": "stringLiteral", "val": s.val}),
        Expr::Unary(u) => json!({
            "type": "unaryExpr",
            "op": u.op.as_str(),
            "expr": translate_ast(&u.expr),
        }),
        Expr::VectorSelector(vs) => json!({
            "type": "vectorSelector",
            "name": vs.name,
            "offset": vs.original_offset.as_millis(),
            "offsetExpr": duration_expr_opt(&vs.original_offset_expr),
            "matchers": matchers(vs),
            "timestamp": timestamp(&vs.at),
            "startOrEnd": start_or_end(&vs.at),
            "anchored": vs.anchored,
            "smoothed": vs.smoothed,
        }),
        // Only the engine inserts these; the parser never does.
        Expr::StepInvariant(s) => translate_ast(&s.expr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(q: &str) -> J {
        let opts = ember_promql_parser::ParserOptions::all();
        translate_ast(&Parser::new(opts).parse_expr(q).unwrap())
    }

    #[test]
    fn vector_selector() {
        assert_eq!(
            t(r#"foo{job="a",x=~"b.*"} offset 5m @ 1000"#),
            json!({
                "type": "vectorSelector", "name": "foo", "offset": 300000, "offsetExpr": null,
                "matchers": [
                    {"name": "job", "type": "=", "value": "a"},
                    {"name": "x", "type": "=~", "value": "b.*"},
                    {"name": "__name__", "type": "=", "value": "foo"},
                ],
                "timestamp": 1000000, "startOrEnd": null, "anchored": false, "smoothed": false,
            })
        );
        let v = t(r#"{__name__="up", a!="b", c!~"d"} @ start()"#);
        assert_eq!(v["name"], json!(""));
        assert_eq!(v["startOrEnd"], json!("start"));
        assert_eq!(v["timestamp"], J::Null);
        assert_eq!(
            v["matchers"][1],
            json!({"name": "a", "type": "!=", "value": "b"})
        );
        assert_eq!(
            v["matchers"][2],
            json!({"name": "c", "type": "!~", "value": "d"})
        );
        assert_eq!(t("up @ end()")["startOrEnd"], json!("end"));
        assert_eq!(t("up offset -1m")["offset"], json!(-60000));
    }

    #[test]
    fn matrix_selector() {
        assert_eq!(
            t("foo[5m] offset 1m"),
            json!({
                "type": "matrixSelector", "name": "foo", "range": 300000, "rangeExpr": null,
                "offset": 60000, "offsetExpr": null,
                "matchers": [{"name": "__name__", "type": "=", "value": "foo"}],
                "timestamp": null, "startOrEnd": null, "anchored": false, "smoothed": false,
            })
        );
    }

    #[test]
    fn binary_expr() {
        assert_eq!(
            t("a / on(x) group_left(y) b"),
            json!({
                "type": "binaryExpr", "op": "/", "bool": false,
                "lhs": t("a"), "rhs": t("b"),
                "matching": {
                    "card": "many-to-one", "labels": ["x"], "on": true, "include": ["y"],
                    "fillValues": {"lhs": null, "rhs": null},
                },
            })
        );
        let b = t("a > bool 1");
        assert_eq!(b["bool"], json!(true));
        assert_eq!(b["op"], json!(">"));
        assert_eq!(b["matching"], J::Null);
        let b = t("a and ignoring(z) b");
        assert_eq!(b["op"], json!("and"));
        assert_eq!(b["matching"]["card"], json!("many-to-many"));
        assert_eq!(b["matching"]["on"], json!(false));
        assert_eq!(b["matching"]["labels"], json!(["z"]));
        let b = t("a + b");
        assert_eq!(
            b["matching"],
            json!({"card": "one-to-one", "labels": [], "on": false, "include": [],
                   "fillValues": {"lhs": null, "rhs": null}})
        );
        assert_eq!(t("1 + 2")["matching"], J::Null);
    }

    #[test]
    fn aggregation() {
        assert_eq!(
            t("topk(3, foo) without (a, b)"),
            json!({
                "type": "aggregation", "op": "topk", "expr": t("foo"),
                "param": {"type": "numberLiteral", "val": "3"},
                "grouping": ["a", "b"], "without": true,
            })
        );
        let a = t("sum(foo)");
        assert_eq!(a["grouping"], json!([]));
        assert_eq!(a["param"], J::Null);
        assert_eq!(a["without"], json!(false));
        assert_eq!(
            t("count_values(\"v\", foo)")["param"]["type"],
            json!("stringLiteral")
        );
    }

    #[test]
    fn call() {
        assert_eq!(
            t("rate(foo[1m])"),
            json!({
                "type": "call",
                "func": {"name": "rate", "argTypes": ["matrix"], "variadic": 0,
                         "returnType": "vector"},
                "args": [t("foo[1m]")],
            })
        );
        let c = t("label_join(up, \"a\", \",\", \"b\", \"c\")");
        assert_eq!(
            c["func"],
            json!({"name": "label_join",
                   "argTypes": ["vector", "string", "string", "string"],
                   "variadic": -1, "returnType": "vector"})
        );
        assert_eq!(c["args"].as_array().unwrap().len(), 5);
        assert_eq!(t("time()")["args"], json!([]));
        assert_eq!(t("round(up)")["func"]["variadic"], json!(1));
    }

    #[test]
    fn literals() {
        assert_eq!(t("1.5"), json!({"type": "numberLiteral", "val": "1.5"}));
        assert_eq!(t("1e21")["val"], json!("1000000000000000000000"));
        assert_eq!(t("1e-7")["val"], json!("0.0000001"));
        assert_eq!(t("Inf")["val"], json!("+Inf"));
        assert_eq!(t("NaN")["val"], json!("NaN"));
        assert_eq!(t("0x10")["val"], json!("16"));
        assert_eq!(
            t("\"a\\nb\""),
            json!({"type": "stringLiteral", "val": "a\nb"})
        );
    }

    #[test]
    fn subquery_paren_unary() {
        assert_eq!(
            t("rate(foo[1m])[5m:30s] offset 2m @ 100"),
            json!({
                "type": "subquery", "expr": t("rate(foo[1m])"),
                "range": 300000, "rangeExpr": null, "offset": 120000, "offsetExpr": null,
                "step": 30000, "stepExpr": null, "timestamp": 100000, "startOrEnd": null,
            })
        );
        assert_eq!(t("foo[5m:]")["step"], json!(0));
        assert_eq!(t("(foo)"), json!({"type": "parenExpr", "expr": t("foo")}));
        assert_eq!(
            t("-foo"),
            json!({"type": "unaryExpr", "op": "-", "expr": t("foo")})
        );
    }

    #[test]
    fn duration_expressions_like_prometheus_tests() {
        // Prometheus's translate_ast_test.go cases.
        let num = |v: &str, d: bool| json!({"type": "numberLiteral", "val": v, "duration": d});
        let dur = |op: &str, l: J, r: J, w: bool| json!({"type": "durationExpr", "op": op, "lhs": l, "rhs": r, "wrapped": w});
        let m = t("foo[5m+1m] offset (10m/2)");
        assert_eq!(m["range"], json!(0));
        assert_eq!(
            m["rangeExpr"],
            dur("+", num("300", true), num("60", true), false)
        );
        assert_eq!(m["offset"], json!(0));
        assert_eq!(
            m["offsetExpr"],
            dur("/", num("600", true), num("2", false), true)
        );
        let s = t("foo[4s+4s:1s*2] offset (5s-8)");
        assert_eq!(
            s["stepExpr"],
            dur("*", num("1", true), num("2", false), false)
        );
        assert_eq!(
            s["offsetExpr"],
            dur("-", num("5", true), num("8", false), true)
        );
        let r = t("foo[max_of(step(),5m+3m) ]");
        assert_eq!(
            r["rangeExpr"],
            dur(
                "max_of",
                dur("step", J::Null, J::Null, false),
                dur("+", num("300", true), num("180", true), false),
                false
            )
        );
        let v = t("foo offset -min_of(5s,step()+8s)");
        assert_eq!(v["offset"], json!(0));
        assert_eq!(
            v["offsetExpr"],
            dur(
                "-",
                J::Null,
                dur(
                    "min_of",
                    num("5", true),
                    dur(
                        "+",
                        dur("step", J::Null, J::Null, false),
                        num("8", true),
                        false
                    ),
                    false
                ),
                false
            )
        );
    }
}
