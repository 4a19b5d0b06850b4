//! The behaviours of Prometheus's `parse_test.go`: inputs with the tree or the errors
//! Prometheus produces for them, written in a compact notation (see [`dump`]), plus
//! cases of our own for corners the upstream table does not cover.

use crate::*;

/// Options of Prometheus's `TestParseExpressions`.
fn test_parser() -> Parser {
    Parser::new(ParserOptions {
        enable_experimental_functions: true,
        experimental_duration_expr: true,
        enable_extended_range_selectors: true,
        enable_binop_fill_modifiers: false,
    })
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

fn labels(ls: &[String]) -> String {
    let mut s = String::new();
    crate::printer::write_labels(&mut s, ls);
    s.replace(", ", ",")
}

fn at(a: Option<AtModifier>) -> String {
    match a {
        Some(AtModifier::Timestamp(ms)) => format!(";at={ms}"),
        Some(AtModifier::Start) => ";at=start".to_string(),
        Some(AtModifier::End) => ";at=end".to_string(),
        None => String::new(),
    }
}

fn dur(d: &DurationExpr) -> String {
    let mut s = format!("dur({}", d.op.as_str());
    if d.wrapped {
        s.push_str(" w");
    }
    s.push(';');
    if let Some(l) = &d.lhs {
        s.push_str(&format!("l={};", dump(l)));
    }
    if let Some(r) = &d.rhs {
        s.push_str(&format!("r={};", dump(r)));
    }
    s.push_str(&format!("s={};e={})", d.start_pos, d.end_pos));
    s
}

fn offsets(off: Duration, offx: &Option<Box<DurationExpr>>) -> String {
    let mut s = String::new();
    if !off.is_zero() {
        s.push_str(&format!(";off={off}"));
    }
    if let Some(x) = offx {
        s.push_str(&format!(";offx={}", dur(x)));
    }
    s
}

/// A compact rendering of a tree with every position, used to compare trees with the
/// ones Prometheus's tests expect.
pub(crate) fn dump(e: &Expr) -> String {
    match e {
        Expr::NumberLiteral(n) => format!(
            "num({}{} {}..{})",
            num(n.val),
            if n.duration { "d" } else { "" },
            n.pos_range.start,
            n.pos_range.end
        ),
        Expr::StringLiteral(s) => format!(
            "str({} {}..{})",
            go_quote_bytes(s.bytes()),
            s.pos_range.start,
            s.pos_range.end
        ),
        Expr::VectorSelector(vs) => {
            let ms: Vec<String> = vs.label_matchers.iter().map(matcher_to_string).collect();
            let mut s = format!(
                "vs({};{};{}..{}",
                vs.name,
                ms.join(","),
                vs.pos_range.start,
                vs.pos_range.end
            );
            s.push_str(&offsets(vs.original_offset, &vs.original_offset_expr));
            s.push_str(&at(vs.at));
            if vs.anchored {
                s.push_str(";anchored");
            }
            if vs.smoothed {
                s.push_str(";smoothed");
            }
            if vs.bypass_empty_matcher_check {
                s.push_str(";bypass");
            }
            s.push(')');
            s
        }
        Expr::MatrixSelector(m) => {
            let range = match &m.range_expr {
                Some(x) => format!("rangex={}", dur(x)),
                None => format!("range={}", m.range),
            };
            format!(
                "mat({};{range};end={})",
                dump(&m.vector_selector),
                m.end_pos
            )
        }
        Expr::Subquery(sq) => {
            let range = match &sq.range_expr {
                Some(x) => format!("rangex={}", dur(x)),
                None => format!("range={}", sq.range),
            };
            let step = match &sq.step_expr {
                Some(x) => format!("stepx={}", dur(x)),
                None => format!("step={}", sq.step),
            };
            format!(
                "sub({};{range};{step}{}{};end={})",
                dump(&sq.expr),
                offsets(sq.original_offset, &sq.original_offset_expr),
                at(sq.at),
                sq.end_pos
            )
        }
        Expr::Binary(b) => {
            let mut s = format!("bin({}", b.op.as_str());
            if b.return_bool {
                s.push_str(" bool");
            }
            if let Some(vm) = &b.vector_matching {
                let card = match vm.card {
                    VectorMatchCardinality::OneToOne => "1:1",
                    VectorMatchCardinality::ManyToOne => "n:1",
                    VectorMatchCardinality::OneToMany => "1:n",
                    VectorMatchCardinality::ManyToMany => "n:n",
                };
                s.push_str(&format!(" vm({card}"));
                if vm.on {
                    s.push_str(" on");
                }
                if !vm.matching_labels.is_empty() {
                    s.push_str(&format!(" m={}", labels(&vm.matching_labels)));
                }
                if !vm.include.is_empty() {
                    s.push_str(&format!(" inc={}", labels(&vm.include)));
                }
                if let Some(v) = vm.fill_values.lhs {
                    s.push_str(&format!(" fl={}", num(v)));
                }
                if let Some(v) = vm.fill_values.rhs {
                    s.push_str(&format!(" fr={}", num(v)));
                }
                s.push(')');
            }
            format!("{s} {} {})", dump(&b.lhs), dump(&b.rhs))
        }
        Expr::Unary(u) => format!("un({} {} @{})", u.op.as_str(), dump(&u.expr), u.start_pos),
        Expr::Paren(p) => format!(
            "par({} {}..{})",
            dump(&p.expr),
            p.pos_range.start,
            p.pos_range.end
        ),
        Expr::Call(c) => {
            let args: String = c.args.iter().map(|a| format!("{};", dump(a))).collect();
            format!(
                "call({};{args}{}..{})",
                c.func.name, c.pos_range.start, c.pos_range.end
            )
        }
        Expr::Aggregate(a) => {
            let mut s = format!("agg({}", a.op.as_str());
            if a.without {
                s.push_str(&format!(" without({})", labels(&a.grouping)));
            } else if !a.grouping.is_empty() {
                s.push_str(&format!(" by({})", labels(&a.grouping)));
            }
            s.push(';');
            if let Some(p) = &a.param {
                s.push_str(&format!("{};", dump(p)));
            }
            format!(
                "{s}{};{}..{})",
                dump(&a.expr),
                a.pos_range.start,
                a.pos_range.end
            )
        }
        Expr::Duration(d) => dur(d),
        Expr::StepInvariant(s) => format!("si({})", dump(&s.expr)),
    }
}

/// Prometheus's successful cases: input and expected tree.
pub(crate) const PROMETHEUS_OK: &[(&str, &str)] = &[
    (r#"1"#, r#"num(1 0..1)"#),
    (r#"+Inf"#, r#"num(+Inf 0..4)"#),
    (r#"-Inf"#, r#"num(-Inf 0..4)"#),
    (r#".5"#, r#"num(0.5 0..2)"#),
    (r#"5."#, r#"num(5 0..2)"#),
    (r#"123.4567"#, r#"num(123.4567 0..8)"#),
    (r#"5e-3"#, r#"num(0.005 0..4)"#),
    (r#"5e3"#, r#"num(5000 0..3)"#),
    (r#"0xc"#, r#"num(12 0..3)"#),
    (r#"0755"#, r#"num(493 0..4)"#),
    (r#"+5.5e-3"#, r#"num(0.0055 0..7)"#),
    (r#"-0755"#, r#"num(-493 0..5)"#),
    (r#"1 + 1"#, r#"bin(+ num(1 0..1) num(1 4..5))"#),
    (r#"1 - 1"#, r#"bin(- num(1 0..1) num(1 4..5))"#),
    (r#"1 * 1"#, r#"bin(* num(1 0..1) num(1 4..5))"#),
    (r#"1 % 1"#, r#"bin(% num(1 0..1) num(1 4..5))"#),
    (r#"1 / 1"#, r#"bin(/ num(1 0..1) num(1 4..5))"#),
    (
        r#"1 == bool 1"#,
        r#"bin(== bool num(1 0..1) num(1 10..11))"#,
    ),
    (
        r#"1 != bool 1"#,
        r#"bin(!= bool num(1 0..1) num(1 10..11))"#,
    ),
    (r#"1 > bool 1"#, r#"bin(> bool num(1 0..1) num(1 9..10))"#),
    (
        r#"1 >= bool 1"#,
        r#"bin(>= bool num(1 0..1) num(1 10..11))"#,
    ),
    (r#"1 < bool 1"#, r#"bin(< bool num(1 0..1) num(1 9..10))"#),
    (
        r#"1 <= bool 1"#,
        r#"bin(<= bool num(1 0..1) num(1 10..11))"#,
    ),
    (r#"-1^2"#, r#"un(- bin(^ num(1 1..2) num(2 3..4)) @0)"#),
    (r#"-1*2"#, r#"bin(* num(-1 0..2) num(2 3..4))"#),
    (r#"-1+2"#, r#"bin(+ num(-1 0..2) num(2 3..4))"#),
    (r#"-1^-2"#, r#"un(- bin(^ num(1 1..2) num(-2 3..5)) @0)"#),
    (
        r#"+1 + -2 * 1"#,
        r#"bin(+ num(1 0..2) bin(* num(-2 5..7) num(1 10..11)))"#,
    ),
    (
        r#"1 + 2/(3*1)"#,
        r#"bin(+ num(1 0..1) bin(/ num(2 4..5) par(bin(* num(3 7..8) num(1 9..10)) 6..11)))"#,
    ),
    (
        r#"1 < bool 2 - 1 * 2"#,
        r#"bin(< bool num(1 0..1) bin(- num(2 9..10) bin(* num(1 13..14) num(2 17..18))))"#,
    ),
    (
        r#"-some_metric"#,
        r#"un(- vs(some_metric;__name__="some_metric";1..12) @0)"#,
    ),
    (
        r#"+some_metric"#,
        r#"un(+ vs(some_metric;__name__="some_metric";1..12) @0)"#,
    ),
    (
        r#" +some_metric"#,
        r#"un(+ vs(some_metric;__name__="some_metric";2..13) @1)"#,
    ),
    (
        r#" +{"some_metric"}"#,
        r#"un(+ vs(;__name__="some_metric";2..17) @1)"#,
    ),
    (
        r#"offset{step="1s"}[5m]"#,
        r#"mat(vs(offset;step="1s",__name__="offset";0..17);range=5m;end=21)"#,
    ),
    (
        r#"step{offset="1s"}[5m]"#,
        r#"mat(vs(step;offset="1s",__name__="step";0..17);range=5m;end=21)"#,
    ),
    (
        r#"anchored{job="test"}"#,
        r#"vs(anchored;job="test",__name__="anchored";0..20)"#,
    ),
    (
        r#"smoothed{job="test"}"#,
        r#"vs(smoothed;job="test",__name__="smoothed";0..20)"#,
    ),
    (
        r#"foo * bar"#,
        r#"bin(* vm(1:1) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";6..9))"#,
    ),
    (
        r#"foo * sum"#,
        r#"bin(* vm(1:1) vs(foo;__name__="foo";0..3) vs(sum;__name__="sum";6..9))"#,
    ),
    (
        r#"foo == 1"#,
        r#"bin(== vs(foo;__name__="foo";0..3) num(1 7..8))"#,
    ),
    (
        r#"foo == bool 1"#,
        r#"bin(== bool vs(foo;__name__="foo";0..3) num(1 12..13))"#,
    ),
    (
        r#"2.5 / bar"#,
        r#"bin(/ num(2.5 0..3) vs(bar;__name__="bar";6..9))"#,
    ),
    (
        r#"foo and bar"#,
        r#"bin(and vm(n:n) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";8..11))"#,
    ),
    (
        r#"foo or bar"#,
        r#"bin(or vm(n:n) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";7..10))"#,
    ),
    (
        r#"foo unless bar"#,
        r#"bin(unless vm(n:n) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";11..14))"#,
    ),
    (
        r#"foo + bar or bla and blub"#,
        r#"bin(or vm(n:n) bin(+ vm(1:1) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";6..9)) bin(and vm(n:n) vs(bla;__name__="bla";13..16) vs(blub;__name__="blub";21..25)))"#,
    ),
    (
        r#"foo and bar unless baz or qux"#,
        r#"bin(or vm(n:n) bin(unless vm(n:n) bin(and vm(n:n) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";8..11)) vs(baz;__name__="baz";19..22)) vs(qux;__name__="qux";26..29))"#,
    ),
    (
        r#"bar + on(foo) bla / on(baz, buz) group_right(test) blub"#,
        r#"bin(+ vm(1:1 on m=foo) vs(bar;__name__="bar";0..3) bin(/ vm(1:n on m=baz,buz inc=test) vs(bla;__name__="bla";14..17) vs(blub;__name__="blub";51..55)))"#,
    ),
    (
        r#"foo * on(test,blub) bar"#,
        r#"bin(* vm(1:1 on m=test,blub) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";20..23))"#,
    ),
    (
        r#"foo * on(test,blub) group_left bar"#,
        r#"bin(* vm(n:1 on m=test,blub) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";31..34))"#,
    ),
    (
        r#"foo and on(test,blub) bar"#,
        r#"bin(and vm(n:n on m=test,blub) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";22..25))"#,
    ),
    (
        r#"foo and on() bar"#,
        r#"bin(and vm(n:n on) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";13..16))"#,
    ),
    (
        r#"foo and ignoring(test,blub) bar"#,
        r#"bin(and vm(n:n m=test,blub) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";28..31))"#,
    ),
    (
        r#"foo and ignoring() bar"#,
        r#"bin(and vm(n:n) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";19..22))"#,
    ),
    (
        r#"foo unless on(bar) baz"#,
        r#"bin(unless vm(n:n on m=bar) vs(foo;__name__="foo";0..3) vs(baz;__name__="baz";19..22))"#,
    ),
    (
        r#"foo / on(test,blub) group_left(bar) bar"#,
        r#"bin(/ vm(n:1 on m=test,blub inc=bar) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";36..39))"#,
    ),
    (
        r#"foo / ignoring(test,blub) group_left(blub) bar"#,
        r#"bin(/ vm(n:1 m=test,blub inc=blub) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";43..46))"#,
    ),
    (
        r#"foo / ignoring(test,blub) group_left(bar) bar"#,
        r#"bin(/ vm(n:1 m=test,blub inc=bar) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";42..45))"#,
    ),
    (
        r#"foo - on(test,blub) group_right(bar,foo) bar"#,
        r#"bin(- vm(1:n on m=test,blub inc=bar,foo) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";41..44))"#,
    ),
    (
        r#"foo - ignoring(test,blub) group_right(bar,foo) bar"#,
        r#"bin(- vm(1:n m=test,blub inc=bar,foo) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";47..50))"#,
    ),
    (r#"foo"#, r#"vs(foo;__name__="foo";0..3)"#),
    (r#"min"#, r#"vs(min;__name__="min";0..3)"#),
    (r#"foo offset 5m"#, r#"vs(foo;__name__="foo";0..13;off=5m)"#),
    (
        r#"foo offset -7m"#,
        r#"vs(foo;__name__="foo";0..14;off=-7m)"#,
    ),
    (
        r#"foo offset +(5)"#,
        r#"vs(foo;__name__="foo";0..15;offx=dur(+ w;r=num(5 13..14);s=13;e=14))"#,
    ),
    (
        r#"foo offset -(5)"#,
        r#"vs(foo;__name__="foo";0..15;offx=dur(-;r=dur(+ w;r=num(5 13..14);s=13;e=14);s=11;e=0))"#,
    ),
    (
        r#"foo offset (5)"#,
        r#"vs(foo;__name__="foo";0..14;offx=dur(+ w;r=num(5 12..13);s=11;e=14))"#,
    ),
    (
        r#"foo[(5s)]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+ w;r=num(5d 5..7);s=4;e=8);end=9)"#,
    ),
    (
        r#"foo OFFSET 1h30m"#,
        r#"vs(foo;__name__="foo";0..16;off=1h30m)"#,
    ),
    (
        r#"foo OFFSET 1m30ms"#,
        r#"vs(foo;__name__="foo";0..17;off=1m30ms)"#,
    ),
    (
        r#"foo @ 1603774568"#,
        r#"vs(foo;__name__="foo";0..16;at=1603774568000)"#,
    ),
    (
        r#"foo @ -100"#,
        r#"vs(foo;__name__="foo";0..10;at=-100000)"#,
    ),
    (r#"foo @ .3"#, r#"vs(foo;__name__="foo";0..8;at=300)"#),
    (r#"foo @ 3."#, r#"vs(foo;__name__="foo";0..8;at=3000)"#),
    (r#"foo @ 3.33"#, r#"vs(foo;__name__="foo";0..10;at=3330)"#),
    (r#"foo @ 3.3333"#, r#"vs(foo;__name__="foo";0..12;at=3333)"#),
    (r#"foo @ 3.3335"#, r#"vs(foo;__name__="foo";0..12;at=3334)"#),
    (r#"foo @ 3e2"#, r#"vs(foo;__name__="foo";0..9;at=300000)"#),
    (r#"foo @ 3e-1"#, r#"vs(foo;__name__="foo";0..10;at=300)"#),
    (r#"foo @ 0xA"#, r#"vs(foo;__name__="foo";0..9;at=10000)"#),
    (
        r#"foo @ -3.3e1"#,
        r#"vs(foo;__name__="foo";0..12;at=-33000)"#,
    ),
    (
        r#"foo:bar{a="bc"}"#,
        r#"vs(foo:bar;a="bc",__name__="foo:bar";0..15)"#,
    ),
    (r#"{"foo"}"#, r#"vs(;__name__="foo";0..7)"#),
    (
        r#"{'foo\'bar', 'a\\dos\\path'='boo\\urns'}"#,
        r#"vs(;__name__="foo'bar","a\\dos\\path"="boo\\urns";0..40)"#,
    ),
    (
        r#"{'foo\'bar', `a\dos\path`="boo"}"#,
        r#"vs(;__name__="foo'bar","a\\dos\\path"="boo";0..32)"#,
    ),
    (r#"{"foo", a="bc"}"#, r#"vs(;__name__="foo",a="bc";0..15)"#),
    (
        r#"foo{NaN='bc'}"#,
        r#"vs(foo;NaN="bc",__name__="foo";0..13)"#,
    ),
    (r#"foo{bar='}'}"#, r#"vs(foo;bar="}",__name__="foo";0..12)"#),
    (
        r#"foo{a="b", foo!="bar", test=~"test", bar!~"baz"}"#,
        r#"vs(foo;a="b",foo!="bar",test=~"test",bar!~"baz",__name__="foo";0..48)"#,
    ),
    (
        r#"{a="b", foo!="bar", "foo", test=~"test", bar!~"baz"}"#,
        r#"vs(;a="b",foo!="bar",__name__="foo",test=~"test",bar!~"baz";0..52)"#,
    ),
    (
        r#"foo{a="b", foo!="bar", test=~"test", bar!~"baz",}"#,
        r#"vs(foo;a="b",foo!="bar",test=~"test",bar!~"baz",__name__="foo";0..49)"#,
    ),
    (
        r#"{__name__=~"bar", __name__!~"baz"}"#,
        r#"vs(;__name__=~"bar",__name__!~"baz";0..34)"#,
    ),
    (
        r#"{__name__="bar", __name__="baz"}"#,
        r#"vs(;__name__="bar",__name__="baz";0..32)"#,
    ),
    (
        r#"{"bar", __name__="baz"}"#,
        r#"vs(;__name__="bar",__name__="baz";0..23)"#,
    ),
    (
        r#"test[1000ms]"#,
        r#"mat(vs(test;__name__="test";0..4);range=1s;end=12)"#,
    ),
    (
        r#"test[1001ms]"#,
        r#"mat(vs(test;__name__="test";0..4);range=1s1ms;end=12)"#,
    ),
    (
        r#"test[1002ms]"#,
        r#"mat(vs(test;__name__="test";0..4);range=1s2ms;end=12)"#,
    ),
    (
        r#"test[5s]"#,
        r#"mat(vs(test;__name__="test";0..4);range=5s;end=8)"#,
    ),
    (
        r#"test[5m]"#,
        r#"mat(vs(test;__name__="test";0..4);range=5m;end=8)"#,
    ),
    (
        r#"foo[5m30s]"#,
        r#"mat(vs(foo;__name__="foo";0..3);range=5m30s;end=10)"#,
    ),
    (
        r#"test[5h] OFFSET 5m"#,
        r#"mat(vs(test;__name__="test";0..4;off=5m);range=5h;end=18)"#,
    ),
    (
        r#"test[5d] OFFSET 10s"#,
        r#"mat(vs(test;__name__="test";0..4;off=10s);range=5d;end=19)"#,
    ),
    (
        r#"test[5w] offset 2w"#,
        r#"mat(vs(test;__name__="test";0..4;off=2w);range=5w;end=18)"#,
    ),
    (
        r#"test{a="b"}[5y] OFFSET 3d"#,
        r#"mat(vs(test;a="b",__name__="test";0..11;off=3d);range=5y;end=25)"#,
    ),
    (
        r#"test{a="b"}[5m] OFFSET 3600"#,
        r#"mat(vs(test;a="b",__name__="test";0..11;off=1h);range=5m;end=27)"#,
    ),
    (
        r#"foo[3ms] @ 2.345"#,
        r#"mat(vs(foo;__name__="foo";0..3;at=2345);range=3ms;end=16)"#,
    ),
    (
        r#"foo[4s180ms] @ 2.345"#,
        r#"mat(vs(foo;__name__="foo";0..3;at=2345);range=4s180ms;end=20)"#,
    ),
    (
        r#"foo[4.18] @ 2.345"#,
        r#"mat(vs(foo;__name__="foo";0..3;at=2345);range=4s180ms;end=17)"#,
    ),
    (
        r#"foo[4s18ms] @ 2.345"#,
        r#"mat(vs(foo;__name__="foo";0..3;at=2345);range=4s18ms;end=19)"#,
    ),
    (
        r#"foo[4.018] @ 2.345"#,
        r#"mat(vs(foo;__name__="foo";0..3;at=2345);range=4s18ms;end=18)"#,
    ),
    (
        r#"test{a="b"}[5y] @ 1603774699"#,
        r#"mat(vs(test;a="b",__name__="test";0..11;at=1603774699000);range=5y;end=28)"#,
    ),
    (
        r#"test[5]"#,
        r#"mat(vs(test;__name__="test";0..4);range=5s;end=7)"#,
    ),
    (
        r#"some_metric[5m] @ 1m"#,
        r#"mat(vs(some_metric;__name__="some_metric";0..11;at=60000);range=5m;end=20)"#,
    ),
    (
        r#"sum by (foo)(some_metric)"#,
        r#"agg(sum by(foo);vs(some_metric;__name__="some_metric";13..24);0..25)"#,
    ),
    (
        r#"sum by (anchored)(some_metric)"#,
        r#"agg(sum by(anchored);vs(some_metric;__name__="some_metric";18..29);0..30)"#,
    ),
    (
        r#"sum by (smoothed)(some_metric)"#,
        r#"agg(sum by(smoothed);vs(some_metric;__name__="some_metric";18..29);0..30)"#,
    ),
    (
        r#"sum by ("foo bar")({"some.metric"})"#,
        r#"agg(sum by("foo bar");vs(;__name__="some.metric";19..34);0..35)"#,
    ),
    (
        r#"sum by ("foo", bar, 'baz')({"some.metric"})"#,
        r#"agg(sum by(foo,bar,baz);vs(;__name__="some.metric";27..42);0..43)"#,
    ),
    (
        r#"avg by (foo)(some_metric)"#,
        r#"agg(avg by(foo);vs(some_metric;__name__="some_metric";13..24);0..25)"#,
    ),
    (
        r#"max by (foo)(some_metric)"#,
        r#"agg(max by(foo);vs(some_metric;__name__="some_metric";13..24);0..25)"#,
    ),
    (
        r#"sum without (foo) (some_metric)"#,
        r#"agg(sum without(foo);vs(some_metric;__name__="some_metric";19..30);0..31)"#,
    ),
    (
        r#"sum (some_metric) without (foo)"#,
        r#"agg(sum without(foo);vs(some_metric;__name__="some_metric";5..16);0..31)"#,
    ),
    (
        r#"stddev(some_metric)"#,
        r#"agg(stddev;vs(some_metric;__name__="some_metric";7..18);0..19)"#,
    ),
    (
        r#"stdvar by (foo)(some_metric)"#,
        r#"agg(stdvar by(foo);vs(some_metric;__name__="some_metric";16..27);0..28)"#,
    ),
    (
        r#"sum by ()(some_metric)"#,
        r#"agg(sum;vs(some_metric;__name__="some_metric";10..21);0..22)"#,
    ),
    (
        r#"sum by (foo,bar,)(some_metric)"#,
        r#"agg(sum by(foo,bar);vs(some_metric;__name__="some_metric";18..29);0..30)"#,
    ),
    (
        r#"sum by (foo,)(some_metric)"#,
        r#"agg(sum by(foo);vs(some_metric;__name__="some_metric";14..25);0..26)"#,
    ),
    (
        r#"topk(5, some_metric)"#,
        r#"agg(topk;num(5 5..6);vs(some_metric;__name__="some_metric";8..19);0..20)"#,
    ),
    (
        r#"count_values("value", some_metric)"#,
        r#"agg(count_values;str("value" 13..20);vs(some_metric;__name__="some_metric";22..33);0..34)"#,
    ),
    (
        r#"sum without(and, by, avg, count, alert, annotations)(some_metric)"#,
        r#"agg(sum without(and,by,avg,count,alert,annotations);vs(some_metric;__name__="some_metric";53..64);0..65)"#,
    ),
    (r#"time()"#, r#"call(time;0..6)"#),
    (
        r#"floor(some_metric{foo!="bar"})"#,
        r#"call(floor;vs(some_metric;foo!="bar",__name__="some_metric";6..29);0..30)"#,
    ),
    (
        r#"rate(some_metric[5m])"#,
        r#"call(rate;mat(vs(some_metric;__name__="some_metric";5..16);range=5m;end=20);0..21)"#,
    ),
    (
        r#"round(some_metric)"#,
        r#"call(round;vs(some_metric;__name__="some_metric";6..17);0..18)"#,
    ),
    (
        r#"round(some_metric, 5)"#,
        r#"call(round;vs(some_metric;__name__="some_metric";6..17);num(5 19..20);0..21)"#,
    ),
    (
        r#"sum(sum)"#,
        r#"agg(sum;vs(sum;__name__="sum";4..7);0..8)"#,
    ),
    (
        r#"a + sum"#,
        r#"bin(+ vm(1:1) vs(a;__name__="a";0..1) vs(sum;__name__="sum";4..7))"#,
    ),
    (
        r#""double-quoted string \" with escaped quote""#,
        r#"str("double-quoted string \" with escaped quote" 0..44)"#,
    ),
    (
        r#"'single-quoted string \' with escaped quote'"#,
        r#"str("single-quoted string ' with escaped quote" 0..44)"#,
    ),
    (
        r#"`backtick-quoted string`"#,
        r#"str("backtick-quoted string" 0..24)"#,
    ),
    (
        r#""\a\b\f\n\r\t\v\\\" - \xFF\377\u1234\U00010111\U0001011111☺""#,
        r#"str("\a\b\f\n\r\t\v\\\" - \xff\xffሴ𐄑𐄑11☺" 0..62)"#,
    ),
    (
        r#"'\a\b\f\n\r\t\v\\\' - \xFF\377\u1234\U00010111\U0001011111☺'"#,
        r#"str("\a\b\f\n\r\t\v\\' - \xff\xffሴ𐄑𐄑11☺" 0..62)"#,
    ),
    (
        r#"`\a\b\f\n\r\t\v\\\"\' - \xFF\377\u1234\U00010111\U0001011111☺`"#,
        r#"str("\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111☺" 0..64)"#,
    ),
    (
        r#"foo{bar="baz"}[10m:6s]"#,
        r#"sub(vs(foo;bar="baz",__name__="foo";0..14);range=10m;step=6s;end=22)"#,
    ),
    (
        r#"foo{bar="baz"}[10m5s:1h6ms]"#,
        r#"sub(vs(foo;bar="baz",__name__="foo";0..14);range=10m5s;step=1h6ms;end=27)"#,
    ),
    (
        r#"foo[10m:]"#,
        r#"sub(vs(foo;__name__="foo";0..3);range=10m;step=0s;end=9)"#,
    ),
    (
        r#"min_over_time(rate(foo{bar="baz"}[2s])[5m:5s])"#,
        r#"call(min_over_time;sub(call(rate;mat(vs(foo;bar="baz",__name__="foo";19..33);range=2s;end=37);14..38);range=5m;step=5s;end=45);0..46)"#,
    ),
    (
        r#"min_over_time(rate(foo{bar="baz"}[2s])[5m:])[4m:3s]"#,
        r#"sub(call(min_over_time;sub(call(rate;mat(vs(foo;bar="baz",__name__="foo";19..33);range=2s;end=37);14..38);range=5m;step=0s;end=43);0..44);range=4m;step=3s;end=51)"#,
    ),
    (
        r#"min_over_time(rate(foo{bar="baz"}[2s])[5m:] offset 4m)[4m:3s]"#,
        r#"sub(call(min_over_time;sub(call(rate;mat(vs(foo;bar="baz",__name__="foo";19..33);range=2s;end=37);14..38);range=5m;step=0s;off=4m;end=53);0..54);range=4m;step=3s;end=61)"#,
    ),
    (
        r#"min_over_time(rate(foo{bar="baz"}[2s])[5m:] @ 1603775091)[4m:3s]"#,
        r#"sub(call(min_over_time;sub(call(rate;mat(vs(foo;bar="baz",__name__="foo";19..33);range=2s;end=37);14..38);range=5m;step=0s;at=1603775091000;end=56);0..57);range=4m;step=3s;end=64)"#,
    ),
    (
        r#"min_over_time(rate(foo{bar="baz"}[2s])[5m:] @ -160377509)[4m:3s]"#,
        r#"sub(call(min_over_time;sub(call(rate;mat(vs(foo;bar="baz",__name__="foo";19..33);range=2s;end=37);14..38);range=5m;step=0s;at=-160377509000;end=56);0..57);range=4m;step=3s;end=64)"#,
    ),
    (
        r#"sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]"#,
        r#"sub(agg(sum without(and,by,avg,count,alert,annotations);vs(some_metric;__name__="some_metric";53..64);0..65);range=30m;step=10s;end=75)"#,
    ),
    (
        r#"some_metric OFFSET 1m [10m:5s]"#,
        r#"sub(vs(some_metric;__name__="some_metric";0..21;off=1m);range=10m;step=5s;end=30)"#,
    ),
    (
        r#"some_metric @ 123 [10m:5s]"#,
        r#"sub(vs(some_metric;__name__="some_metric";0..17;at=123000);range=10m;step=5s;end=26)"#,
    ),
    (
        r#"some_metric @ 123 offset 1m [10m:5s]"#,
        r#"sub(vs(some_metric;__name__="some_metric";0..27;off=1m;at=123000);range=10m;step=5s;end=36)"#,
    ),
    (
        r#"some_metric offset 1m @ 123 [10m:5s]"#,
        r#"sub(vs(some_metric;__name__="some_metric";0..27;off=1m;at=123000);range=10m;step=5s;end=36)"#,
    ),
    (
        r#"some_metric[10m:5s] offset 1m @ 123"#,
        r#"sub(vs(some_metric;__name__="some_metric";0..11);range=10m;step=5s;off=1m;at=123000;end=35)"#,
    ),
    (
        r#"(foo + bar{nm="val"})[5m:]"#,
        r#"sub(par(bin(+ vm(1:1) vs(foo;__name__="foo";1..4) vs(bar;nm="val",__name__="bar";7..20)) 0..21);range=5m;step=0s;end=26)"#,
    ),
    (
        r#"(foo + bar{nm="val"})[5m:] offset 10m"#,
        r#"sub(par(bin(+ vm(1:1) vs(foo;__name__="foo";1..4) vs(bar;nm="val",__name__="bar";7..20)) 0..21);range=5m;step=0s;off=10m;end=37)"#,
    ),
    (
        r#"(foo + bar{nm="val"} @ 1234)[5m:] @ 1603775019"#,
        r#"sub(par(bin(+ vm(1:1) vs(foo;__name__="foo";1..4) vs(bar;nm="val",__name__="bar";7..27;at=1234000)) 0..28);range=5m;step=0s;at=1603775019000;end=46)"#,
    ),
    (
        r#"foo @ start()"#,
        r#"vs(foo;__name__="foo";0..13;at=start)"#,
    ),
    (r#"foo @ end()"#, r#"vs(foo;__name__="foo";0..11;at=end)"#),
    (
        r#"test[5y] @ start()"#,
        r#"mat(vs(test;__name__="test";0..4;at=start);range=5y;end=18)"#,
    ),
    (
        r#"test[5y] @ end()"#,
        r#"mat(vs(test;__name__="test";0..4;at=end);range=5y;end=16)"#,
    ),
    (
        r#"foo[10m:6s] @ start()"#,
        r#"sub(vs(foo;__name__="foo";0..3);range=10m;step=6s;at=start;end=21)"#,
    ),
    (
        r#"foo[10m:6s] @ end()"#,
        r#"sub(vs(foo;__name__="foo";0..3);range=10m;step=6s;at=end;end=19)"#,
    ),
    (r#"start()"#, r#"call(start;0..7)"#),
    (r#"end()"#, r#"call(end;0..5)"#),
    (r#"start"#, r#"vs(start;__name__="start";0..5)"#),
    (r#"end"#, r#"vs(end;__name__="end";0..3)"#),
    (
        r#"start{end="foo"}"#,
        r#"vs(start;end="foo",__name__="start";0..16)"#,
    ),
    (
        r#"end{start="foo"}"#,
        r#"vs(end;start="foo",__name__="end";0..16)"#,
    ),
    (
        r#"foo unless on(start) bar"#,
        r#"bin(unless vm(n:n on m=start) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";21..24))"#,
    ),
    (
        r#"foo unless on(end) bar"#,
        r#"bin(unless vm(n:n on m=end) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";19..22))"#,
    ),
    (
        r#"info(rate(http_request_counter_total{}[5m]))"#,
        r#"call(info;call(rate;mat(vs(http_request_counter_total;__name__="http_request_counter_total";10..38);range=5m;end=42);5..43);0..44)"#,
    ),
    (
        r#"info(http_request_counter_total{namespace="zzz"}, {foo="bar", bar="baz"})"#,
        r#"call(info;vs(http_request_counter_total;namespace="zzz",__name__="http_request_counter_total";5..48);vs(;foo="bar",bar="baz";50..72;bypass);0..73)"#,
    ),
    (
        r#"foo[11s+10s-5*2^2]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(-;l=dur(+;l=num(11d 4..7);r=num(10d 8..11);s=0;e=0);r=dur(*;l=num(5 12..13);r=dur(^;l=num(2 14..15);r=num(2 16..17);s=0;e=0);s=0;e=0);s=0;e=0);end=18)"#,
    ),
    (
        r#"foo[-(10s-5s)+20s]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=dur(-;r=dur(- w;l=num(10d 6..9);r=num(5d 10..12);s=0;e=0);s=4;e=0);r=num(20d 14..17);s=0;e=0);end=18)"#,
    ),
    (
        r#"foo[-10s+15s]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(-10d 4..8);r=num(15d 9..12);s=0;e=0);end=13)"#,
    ),
    (
        r#"foo[step()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(step;s=4;e=10);end=11)"#,
    ),
    (
        r#"foo[  -  step  (  )  ]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(-;r=dur(step;s=9;e=19);s=6;e=0);end=22)"#,
    ),
    (
        r#"foo[   step  (  )  ]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(step;s=7;e=17);end=20)"#,
    ),
    (
        r#"foo[-step()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(-;r=dur(step;s=5;e=11);s=4;e=0);end=12)"#,
    ),
    (
        r#"foo offset step()"#,
        r#"vs(foo;__name__="foo";0..17;offx=dur(step;s=11;e=17))"#,
    ),
    (
        r#"foo offset -step()"#,
        r#"vs(foo;__name__="foo";0..18;offx=dur(-;r=dur(step;s=12;e=18);s=11;e=0))"#,
    ),
    (
        r#"foo[max_of(step(),5s)]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(max_of;l=dur(step;s=11;e=17);r=num(5d 18..20);s=4;e=21);end=22)"#,
    ),
    (
        r#"foo offset max_of(step(),5s)"#,
        r#"vs(foo;__name__="foo";0..28;offx=dur(max_of;l=dur(step;s=18;e=24);r=num(5d 25..27);s=11;e=28))"#,
    ),
    (
        r#"foo offset -min_of(5s,step()+8s)"#,
        r#"vs(foo;__name__="foo";0..32;offx=dur(-;r=dur(min_of;l=num(5d 19..21);r=dur(+;l=dur(step;s=22;e=28);r=num(8d 29..31);s=0;e=0);s=12;e=31);s=11;e=31))"#,
    ),
    (
        r#"foo[range()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(range;s=4;e=11);end=12)"#,
    ),
    (
        r#"foo[2m/range()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(/;l=num(120d 4..6);r=dur(range;s=7;e=14);s=0;e=0);end=15)"#,
    ),
    (
        r#"foo[-range()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(-;r=dur(range;s=5;e=12);s=4;e=0);end=13)"#,
    ),
    (
        r#"foo offset range()"#,
        r#"vs(foo;__name__="foo";0..18;offx=dur(range;s=11;e=18))"#,
    ),
    (
        r#"foo offset -range()"#,
        r#"vs(foo;__name__="foo";0..19;offx=dur(-;r=dur(range;s=12;e=19);s=11;e=0))"#,
    ),
    (
        r#"foo[max_of(range(),5s)]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(max_of;l=dur(range;s=11;e=18);r=num(5d 19..21);s=4;e=22);end=23)"#,
    ),
    (
        r#"foo[4s+4s:1s*2] offset (5s-8)"#,
        r#"sub(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(4d 4..6);r=num(4d 7..9);s=0;e=0);stepx=dur(*;l=num(1d 10..12);r=num(2 13..14);s=0;e=0);offx=dur(- w;l=num(5d 24..26);r=num(8 27..28);s=0;e=0);end=29)"#,
    ),
    (
        r#"foo offset 5s-8"#,
        r#"bin(- vs(foo;__name__="foo";0..13;off=5s) num(8 14..15))"#,
    ),
    (
        r#"rate(foo[2m+2m])"#,
        r#"call(rate;mat(vs(foo;__name__="foo";5..8);rangex=dur(+;l=num(120d 9..11);r=num(120d 12..14);s=0;e=0);end=15);0..16)"#,
    ),
    (
        r#"foo offset -1^1"#,
        r#"bin(^ vs(foo;__name__="foo";0..13;off=-1s) num(1 14..15))"#,
    ),
    (
        r#"foo offset -(1^2)"#,
        r#"vs(foo;__name__="foo";0..17;offx=dur(-;r=dur(^ w;l=num(1 13..14);r=num(2 15..16);s=0;e=0);s=11;e=0))"#,
    ),
    (
        r#"foo offset (-1^2)"#,
        r#"vs(foo;__name__="foo";0..17;offx=dur(- w;r=dur(^;l=num(1 13..14);r=num(2 15..16);s=0;e=0);s=12;e=0))"#,
    ),
    (
        r#"foo[-2^2]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(-;r=dur(^;l=num(2 5..6);r=num(2 7..8);s=0;e=0);s=4;e=0);end=9)"#,
    ),
    (
        r#"foo[0+-2^2]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(0 4..5);r=dur(-;r=dur(^;l=num(2 7..8);r=num(2 9..10);s=0;e=0);s=6;e=0);s=0;e=0);end=11)"#,
    ),
    (
        r#"(sum(foo))"#,
        r#"par(agg(sum;vs(foo;__name__="foo";5..8);1..9) 0..10)"#,
    ),
    (
        r#"(sum(foo) )"#,
        r#"par(agg(sum;vs(foo;__name__="foo";5..8);1..9) 0..11)"#,
    ),
    (
        r#"(sum(foo) by (bar))"#,
        r#"par(agg(sum by(bar);vs(foo;__name__="foo";5..8);1..18) 0..19)"#,
    ),
    (
        r#"(sum by (bar) (foo))"#,
        r#"par(agg(sum by(bar);vs(foo;__name__="foo";15..18);1..19) 0..20)"#,
    ),
    (
        r#"sum by (job)(rate(http_requests_total[30m]))"#,
        r#"agg(sum by(job);call(rate;mat(vs(http_requests_total;__name__="http_requests_total";18..37);range=30m;end=42);13..43);0..44)"#,
    ),
];

type Errs = &'static [(usize, usize, &'static str)];

/// Prometheus's failing cases: input and the errors Prometheus reports, in order.
const PROMETHEUS_ERR: &[(&str, Errs)] = &[
    (r#""#, &[(0, 0, r#"no expression found in input"#)]),
    (
        r#"# just a comment

"#,
        &[(0, 0, r#"no expression found in input"#)],
    ),
    (r#"1+"#, &[(2, 2, r#"unexpected end of input"#)]),
    (r#"."#, &[(0, 1, r#"unexpected character: '.'"#)]),
    (
        r#"2.5."#,
        &[(0, 4, r#"bad number or duration syntax: "2.5.""#)],
    ),
    (
        r#"100..4"#,
        &[(0, 6, r#"bad number or duration syntax: "100..""#)],
    ),
    (
        r#"0deadbeef"#,
        &[(0, 9, r#"bad number or duration syntax: "0de""#)],
    ),
    (r#"1 /"#, &[(3, 3, r#"unexpected end of input"#)]),
    (r#"*1"#, &[(0, 1, r#"unexpected <op:*>"#)]),
    (r#"(1))"#, &[(4, 4, r#"unexpected right parenthesis ')'"#)]),
    (r#"((1)"#, &[(4, 4, r#"unclosed left parenthesis"#)]),
    (
        r#"999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"#,
        &[(
            0,
            309,
            r#"error parsing number: strconv.ParseFloat: parsing "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999": value out of range"#,
        )],
    ),
    (r#"("#, &[(1, 1, r#"unclosed left parenthesis"#)]),
    (
        r#"1 and 1"#,
        &[(
            0,
            7,
            r#"set operator "and" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 == 1"#,
        &[(
            2,
            3,
            r#"comparisons between scalars must use BOOL modifier"#,
        )],
    ),
    (
        r#"1 or 1"#,
        &[(
            0,
            6,
            r#"set operator "or" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 unless 1"#,
        &[(
            0,
            10,
            r#"set operator "unless" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 !~ 1"#,
        &[(2, 6, r#"unexpected character after '!': '~'"#)],
    ),
    (
        r#"1 =~ 1"#,
        &[(2, 6, r#"unexpected character after '=': '~'"#)],
    ),
    (
        r#"-"string""#,
        &[(
            0,
            9,
            r#"unary expression only allowed on expressions of type scalar or instant vector, got "string""#,
        )],
    ),
    (
        r#"-test[5m]"#,
        &[(
            0,
            9,
            r#"unary expression only allowed on expressions of type scalar or instant vector, got "range vector""#,
        )],
    ),
    (r#"*test"#, &[(0, 1, r#"unexpected <op:*>"#)]),
    (r#"@@"#, &[(0, 1, r#"unexpected <op:@>"#)]),
    (
        r#"1 offset 1d"#,
        &[(
            0,
            1,
            r#"offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"#,
        )],
    ),
    (
        r#"foo offset 1s offset 2s"#,
        &[(0, 13, r#"offset may not be set multiple times"#)],
    ),
    (
        r#"a - on(b) ignoring(c) d"#,
        &[(10, 18, r#"unexpected <ignoring>"#)],
    ),
    (
        r#"foo and 1"#,
        &[(
            0,
            9,
            r#"set operator "and" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 and foo"#,
        &[(
            0,
            9,
            r#"set operator "and" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"foo or 1"#,
        &[(
            0,
            8,
            r#"set operator "or" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 or foo"#,
        &[(
            0,
            8,
            r#"set operator "or" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"foo unless 1"#,
        &[(
            0,
            12,
            r#"set operator "unless" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 unless foo"#,
        &[(
            0,
            12,
            r#"set operator "unless" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"1 or on(bar) foo"#,
        &[
            (
                0,
                16,
                r#"vector matching only allowed between instant vectors"#,
            ),
            (
                0,
                16,
                r#"set operator "or" not allowed in binary scalar expression"#,
            ),
        ],
    ),
    (
        r#"foo == on(bar) 10"#,
        &[(
            0,
            17,
            r#"vector matching only allowed between instant vectors"#,
        )],
    ),
    (
        r#"foo + group_left(baz) bar"#,
        &[(6, 16, r#"unexpected <group_left>"#)],
    ),
    (
        r#"foo and on(bar) group_left(baz) bar"#,
        &[
            (0, 35, r#"no grouping allowed for "and" operation"#),
            (0, 35, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo and on(bar) group_right(baz) bar"#,
        &[
            (0, 36, r#"no grouping allowed for "and" operation"#),
            (0, 36, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo or on(bar) group_left(baz) bar"#,
        &[
            (0, 34, r#"no grouping allowed for "or" operation"#),
            (0, 34, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo or on(bar) group_right(baz) bar"#,
        &[
            (0, 35, r#"no grouping allowed for "or" operation"#),
            (0, 35, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo unless on(bar) group_left(baz) bar"#,
        &[
            (0, 38, r#"no grouping allowed for "unless" operation"#),
            (0, 38, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo unless on(bar) group_right(baz) bar"#,
        &[
            (0, 39, r#"no grouping allowed for "unless" operation"#),
            (0, 39, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"}"#,
        &[(
            34,
            72,
            r#"label "instance" must not occur in ON and GROUP clause at once"#,
        )],
    ),
    (
        r#"foo + bool bar"#,
        &[(
            4,
            9,
            r#"bool modifier can only be used on comparison operators"#,
        )],
    ),
    (
        r#"foo + bool 10"#,
        &[(
            4,
            9,
            r#"bool modifier can only be used on comparison operators"#,
        )],
    ),
    (
        r#"foo and bool 10"#,
        &[
            (
                4,
                11,
                r#"bool modifier can only be used on comparison operators"#,
            ),
            (
                0,
                15,
                r#"set operator "and" not allowed in binary scalar expression"#,
            ),
        ],
    ),
    (
        r#"http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"}"#,
        &[(
            34,
            72,
            r#"label "instance" must not occur in ON and GROUP clause at once"#,
        )],
    ),
    (
        r#"foo @ +Inf"#,
        &[(0, 3, r#"timestamp out of bounds for @ modifier: +Inf"#)],
    ),
    (
        r#"foo @ -Inf"#,
        &[(0, 3, r#"timestamp out of bounds for @ modifier: -Inf"#)],
    ),
    (
        r#"foo @ NaN"#,
        &[(0, 3, r#"timestamp out of bounds for @ modifier: NaN"#)],
    ),
    (
        r#"{"#,
        &[(1, 1, r#"unexpected end of input inside braces"#)],
    ),
    (r#"}"#, &[(0, 1, r#"unexpected character: '}'"#)]),
    (
        r#"some{"#,
        &[(5, 5, r#"unexpected end of input inside braces"#)],
    ),
    (r#"some}"#, &[(4, 5, r#"unexpected character: '}'"#)]),
    (
        r#"some_metric{a=b}"#,
        &[(
            14,
            15,
            r#"unexpected identifier "b" in label matching, expected string"#,
        )],
    ),
    (
        r#"some_metric{a:b="b"}"#,
        &[(13, 20, r#"unexpected character inside braces: ':'"#)],
    ),
    (
        r#"foo{a*"b"}"#,
        &[(5, 10, r#"unexpected character inside braces: '*'"#)],
    ),
    (
        r#"foo{a>="b"}"#,
        &[(5, 11, r#"unexpected character inside braces: '>'"#)],
    ),
    (
        r#"foo{gibberish}"#,
        &[(
            13,
            14,
            r#"unexpected "}" in label matching, expected label matching operator"#,
        )],
    ),
    (
        r#"foo{1}"#,
        &[(4, 6, r#"unexpected character inside braces: '1'"#)],
    ),
    (
        r#"{}"#,
        &[(
            0,
            2,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"{x=""}"#,
        &[(
            0,
            6,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"{x=~".*"}"#,
        &[(
            0,
            9,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"{x!~".+"}"#,
        &[(
            0,
            9,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"{x!="a"}"#,
        &[(
            0,
            8,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"foo{__name__="bar"}"#,
        &[(
            0,
            19,
            r#"metric name must not be set twice: "foo" or "bar""#,
        )],
    ),
    (
        r#"foo{__name__= =}"#,
        &[(
            14,
            15,
            r#"unexpected "=" in label matching, expected string"#,
        )],
    ),
    (
        r#"foo{,}"#,
        &[(
            4,
            5,
            r#"unexpected "," in label matching, expected identifier or "}""#,
        )],
    ),
    (
        r#"foo{__name__ == "bar"}"#,
        &[(
            14,
            15,
            r#"unexpected "=" in label matching, expected string"#,
        )],
    ),
    (
        r#"foo{__name__="bar" lol}"#,
        &[(
            19,
            22,
            r#"unexpected identifier "lol" in label matching, expected "," or "}""#,
        )],
    ),
    (
        r#"foo{"a"=}"#,
        &[(8, 9, r#"unexpected "}" in label matching, expected string"#)],
    ),
    (
        r#"foo[5mm]"#,
        &[(4, 8, r#"bad number or duration syntax: "5mm""#)],
    ),
    (
        r#"foo[5m1]"#,
        &[(4, 8, r#"bad number or duration syntax: "5m1""#)],
    ),
    (
        r#"foo[5m:1m1]"#,
        &[(7, 11, r#"bad number or duration syntax: "1m1""#)],
    ),
    (
        r#"foo[5y1hs]"#,
        &[
            (4, 9, r#"unknown unit "hs" in duration "5y1hs""#),
            (4, 9, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[5m1h]"#,
        &[
            (4, 8, r#"not a valid duration string: "5m1h""#),
            (4, 8, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[5m1m]"#,
        &[
            (4, 8, r#"not a valid duration string: "5m1m""#),
            (4, 8, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[0m]"#,
        &[(4, 6, r#"duration must be greater than 0"#)],
    ),
    (
        r#"foo["5m"]"#,
        &[(4, 9, r#"unexpected character in duration expression: '"'"#)],
    ),
    (
        r#"foo[]"#,
        &[(
            4,
            5,
            r#"unexpected "]" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo[-1]"#,
        &[(4, 6, r#"duration must be greater than 0"#)],
    ),
    (
        r#"some_metric[5m] OFFSET 1mm"#,
        &[(23, 26, r#"bad number or duration syntax: "1mm""#)],
    ),
    (
        r#"some_metric[5m] OFFSET"#,
        &[(
            22,
            22,
            r#"unexpected end of input in offset, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"some_metric OFFSET 1m[5m]"#,
        &[(21, 25, r#"no offset modifiers allowed before range"#)],
    ),
    (
        r#"some_metric[5m] @"#,
        &[(
            17,
            17,
            r#"unexpected end of input in @, expected timestamp"#,
        )],
    ),
    (
        r#"some_metric @ 1234 [5m]"#,
        &[(19, 23, r#"no @ modifiers allowed before range"#)],
    ),
    (
        r#"some_metric @ start() [5m]"#,
        &[(22, 26, r#"no @ modifiers allowed before range"#)],
    ),
    (
        r#"some_metric @ end()[5m]"#,
        &[(19, 23, r#"no @ modifiers allowed before range"#)],
    ),
    (
        r#"some_metric offset step()[5m]"#,
        &[(25, 29, r#"no offset modifiers allowed before range"#)],
    ),
    (
        r#"(foo + bar)[5m]"#,
        &[(11, 15, r#"ranges only allowed for vector selectors"#)],
    ),
    (
        r#"sum by ("foo)(some_metric{})"#,
        &[(8, 28, r#"unterminated quoted string"#)],
    ),
    (
        r#"sum without(==)(some_metric)"#,
        &[(
            12,
            14,
            r#"unexpected <op:==> in grouping opts, expected label"#,
        )],
    ),
    (
        r#"sum without(,)(some_metric)"#,
        &[(12, 13, r#"unexpected "," in grouping opts, expected label"#)],
    ),
    (
        r#"sum without(foo,,)(some_metric)"#,
        &[(16, 17, r#"unexpected "," in grouping opts, expected label"#)],
    ),
    (
        r#"sum some_metric by (test)"#,
        &[(4, 15, r#"unexpected identifier "some_metric""#)],
    ),
    (
        r#"sum (some_metric) by test"#,
        &[(
            21,
            25,
            r#"unexpected identifier "test" in grouping opts, expected "(""#,
        )],
    ),
    (
        r#"sum () by (test)"#,
        &[(0, 16, r#"no arguments for aggregate expression provided"#)],
    ),
    (
        r#"MIN keep_common (some_metric)"#,
        &[(4, 15, r#"unexpected identifier "keep_common""#)],
    ),
    (
        r#"MIN (some_metric) keep_common"#,
        &[(18, 29, r#"unexpected identifier "keep_common""#)],
    ),
    (
        r#"sum (some_metric) without (test) by (test)"#,
        &[(33, 35, r#"unexpected <by>"#)],
    ),
    (
        r#"sum without (test) (some_metric) by (test)"#,
        &[(33, 35, r#"unexpected <by>"#)],
    ),
    (
        r#"topk(some_metric)"#,
        &[(
            0,
            17,
            r#"wrong number of arguments for aggregate expression provided, expected 2, got 1"#,
        )],
    ),
    (
        r#"topk(some_metric,)"#,
        &[
            (
                16,
                17,
                r#"trailing commas not allowed in function call args"#,
            ),
            (
                0,
                18,
                r#"wrong number of arguments for aggregate expression provided, expected 2, got 1"#,
            ),
        ],
    ),
    (
        r#"topk(some_metric, other_metric)"#,
        &[(
            5,
            16,
            r#"expected type scalar in aggregation parameter, got instant vector"#,
        )],
    ),
    (
        r#"count_values(5, other_metric)"#,
        &[(
            13,
            14,
            r#"expected type string in aggregation parameter, got scalar"#,
        )],
    ),
    (
        r#"rate(some_metric[5m]) @ 1234"#,
        &[(
            0,
            21,
            r#"@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"#,
        )],
    ),
    (
        r#"floor()"#,
        &[(0, 7, r#"expected 1 argument(s) in call to "floor", got 0"#)],
    ),
    (
        r#"floor(some_metric, other_metric)"#,
        &[(0, 32, r#"expected 1 argument(s) in call to "floor", got 2"#)],
    ),
    (
        r#"floor(some_metric, 1)"#,
        &[(0, 21, r#"expected 1 argument(s) in call to "floor", got 2"#)],
    ),
    (
        r#"floor(1)"#,
        &[(
            6,
            7,
            r#"expected type instant vector in call to function "floor", got scalar"#,
        )],
    ),
    (
        r#"hour(some_metric, some_metric, some_metric)"#,
        &[(
            0,
            43,
            r#"expected at most 1 argument(s) in call to "hour", got 3"#,
        )],
    ),
    (
        r#"time(some_metric)"#,
        &[(0, 17, r#"expected 0 argument(s) in call to "time", got 1"#)],
    ),
    (
        r#"non_existent_function_far_bar()"#,
        &[(
            0,
            29,
            r#"unknown function with name "non_existent_function_far_bar""#,
        )],
    ),
    (
        r#"rate(some_metric)"#,
        &[(
            5,
            16,
            r#"expected type range vector in call to function "rate", got instant vector"#,
        )],
    ),
    (r#"*1"#, &[(0, 1, r#"unexpected <op:*>"#)]),
    (r#"-="#, &[(1, 2, r#"unexpected "=""#)]),
    (r#"++-++-+-+-<"#, &[(10, 11, r#"unexpected <op:<>"#)]),
    (r#"e-+=/(0)"#, &[(3, 4, r#"unexpected "=""#)]),
    (r#"a>b()"#, &[(2, 3, r#"unknown function with name "b""#)]),
    (
        r#"rate(avg)"#,
        &[(
            5,
            8,
            r#"expected type range vector in call to function "rate", got instant vector"#,
        )],
    ),
    (r#"`\``"#, &[(3, 4, r#"unterminated raw string"#)]),
    (r#""\"#, &[(0, 2, r#"escape sequence not terminated"#)]),
    (
        r#""\c""#,
        &[(0, 4, r#"unknown escape sequence U+0063 'c'"#)],
    ),
    (
        r#""\x.""#,
        &[(0, 5, r#"illegal character U+002E '.' in escape sequence"#)],
    ),
    (
        r#"foo{bar="baz"}["#,
        &[(15, 15, r#"unexpected end of input in duration expression"#)],
    ),
    (
        r#"test[5d] OFFSET 10s [10m:5s]"#,
        &[(
            0,
            28,
            r#"subquery is only allowed on instant vector, got matrix instead"#,
        )],
    ),
    (
        r#"(foo + bar{nm="val"})[5m:][10m:5s]"#,
        &[(
            0,
            34,
            r#"subquery is only allowed on instant vector, got matrix instead"#,
        )],
    ),
    (
        r#"rate(food[1m])[1h] offset 1h"#,
        &[
            (14, 18, r#"ranges only allowed for vector selectors"#),
            (0, 18, r#"ranges only allowed for vector selectors"#),
        ],
    ),
    (
        r#"rate(food[1m])[1h] @ 100"#,
        &[
            (14, 18, r#"ranges only allowed for vector selectors"#),
            (0, 18, r#"ranges only allowed for vector selectors"#),
        ],
    ),
    (
        r#"info(rate(http_request_counter_total{}[5m]), target_info{foo="bar"})"#,
        &[(
            45,
            67,
            r#"expected label selectors only, got vector selector instead"#,
        )],
    ),
    (
        r#"info(http_request_counter_total{namespace="zzz"}, {foo="bar"} == 1)"#,
        &[(50, 66, r#"expected label selectors only"#)],
    ),
    (
        r#"foo[step]"#,
        &[(
            8,
            9,
            r#"unexpected "]" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo[step()/0d]"#,
        &[
            (10, 11, r#"division by zero"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[5s/0d]"#,
        &[
            (6, 7, r#"division by zero"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (r#"foo offset (4d/0)"#, &[(14, 15, r#"division by zero"#)]),
    (
        r#"foo[5s%0d]"#,
        &[
            (6, 7, r#"modulo by zero"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo offset 9.5e10"#,
        &[(11, 17, r#"duration out of range"#)],
    ),
    (
        r#"foo[9.5e10]"#,
        &[
            (4, 10, r#"duration out of range"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"sum("#,
        &[
            (4, 4, r#"unclosed left parenthesis"#),
            (0, 0, r#"no arguments for aggregate expression provided"#),
        ],
    ),
    (
        r#"sum(rate("#,
        &[
            (9, 9, r#"unclosed left parenthesis"#),
            (0, 0, r#"no arguments for aggregate expression provided"#),
        ],
    ),
    (
        r#"foo[5s x 5s]"#,
        &[(7, 12, r#"unexpected character: 'x', expected ':'"#)],
    ),
    (
        r#"foo[5s s 5s]"#,
        &[(7, 12, r#"unexpected character: 's', expected ':'"#)],
    ),
    (
        r#"1[5m] smoothed"#,
        &[(1, 5, r#"ranges only allowed for vector selectors"#)],
    ),
    (
        r#"1[5m] anchored"#,
        &[(1, 5, r#"ranges only allowed for vector selectors"#)],
    ),
];

#[test]
fn prometheus_successful_cases() {
    let p = test_parser();
    let mut bad = Vec::new();
    for (input, want) in PROMETHEUS_OK {
        match p.parse_expr(input) {
            Ok(e) => {
                let got = dump(&e);
                if got != *want {
                    bad.push(format!("{input:?}\n   got  {got}\n   want {want}"));
                }
            }
            Err(e) => bad.push(format!("{input:?}: unexpected error {:?}", e.errors)),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        PROMETHEUS_OK.len(),
        bad.join("\n")
    );
}

#[test]
fn prometheus_failing_cases() {
    let p = test_parser();
    let mut bad = Vec::new();
    for (input, want) in PROMETHEUS_ERR {
        match p.parse_expr(input) {
            Ok(e) => bad.push(format!("{input:?}: parsed as {}", dump(&e))),
            Err(errs) => {
                let got: Vec<(usize, usize, String)> = errs
                    .errors
                    .iter()
                    .map(|e| {
                        (
                            e.position_range.start,
                            e.position_range.end,
                            e.message.clone(),
                        )
                    })
                    .collect();
                // After a lexer error Prometheus's yacc parser still reduces what it
                // holds and may add errors; this parser stops, so only the first
                // error is compared there. It is the one users see.
                let lexer_error_first = matches!(*input, "sum(" | "sum(rate(");
                let n = if lexer_error_first {
                    1
                } else {
                    want.len().max(got.len())
                };
                let same = (0..n).all(|i| match (got.get(i), want.get(i)) {
                    (Some(g), Some(w)) => (g.0, g.1, g.2.as_str()) == (w.0, w.1, w.2),
                    _ => false,
                });
                if !same {
                    bad.push(format!("{input:?}\n   got  {got:?}\n   want {want:?}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        PROMETHEUS_ERR.len(),
        bad.join("\n")
    );
}

#[test]
fn dump_sanity() {
    let e = test_parser().parse_expr("foo[5m] offset 1m").unwrap();
    assert_eq!(
        dump(&e),
        "mat(vs(foo;__name__=\"foo\";0..3;off=1m);range=5m;end=17)"
    );
    assert!(PROMETHEUS_OK.len() > 200 && PROMETHEUS_ERR.len() > 140);
}

/// Our own successful cases (every experimental feature on): corners of precedence,
/// keywords used as names, modifiers, duration expressions, the new operators.
pub(crate) const OWN_OK: &[(&str, &str)] = &[
    (
        r#"foo and and"#,
        r#"bin(and vm(n:n) vs(foo;__name__="foo";0..3) vs(and;__name__="and";8..11))"#,
    ),
    (r#"by"#, r#"vs(by;__name__="by";0..2)"#),
    (r#"offset"#, r#"vs(offset;__name__="offset";0..6)"#),
    (
        r#"without{a="b"}"#,
        r#"vs(without;a="b",__name__="without";0..14)"#,
    ),
    (
        r#"sum by (without_x) (x)"#,
        r#"agg(sum by(without_x);vs(x;__name__="x";20..21);0..22)"#,
    ),
    (
        r#"a ^ b ^ c"#,
        r#"bin(^ vm(1:1) vs(a;__name__="a";0..1) bin(^ vm(1:1) vs(b;__name__="b";4..5) vs(c;__name__="c";8..9)))"#,
    ),
    (
        r#"a - b - c"#,
        r#"bin(- vm(1:1) bin(- vm(1:1) vs(a;__name__="a";0..1) vs(b;__name__="b";4..5)) vs(c;__name__="c";8..9))"#,
    ),
    (
        r#"a or b and c"#,
        r#"bin(or vm(n:n) vs(a;__name__="a";0..1) bin(and vm(n:n) vs(b;__name__="b";5..6) vs(c;__name__="c";11..12)))"#,
    ),
    (
        r#"a and b or c"#,
        r#"bin(or vm(n:n) bin(and vm(n:n) vs(a;__name__="a";0..1) vs(b;__name__="b";6..7)) vs(c;__name__="c";11..12))"#,
    ),
    (
        r#"a unless b and c"#,
        r#"bin(and vm(n:n) bin(unless vm(n:n) vs(a;__name__="a";0..1) vs(b;__name__="b";9..10)) vs(c;__name__="c";15..16))"#,
    ),
    (
        r#"a == b + c"#,
        r#"bin(== vm(1:1) vs(a;__name__="a";0..1) bin(+ vm(1:1) vs(b;__name__="b";5..6) vs(c;__name__="c";9..10)))"#,
    ),
    (
        r#"a atan2 b * c"#,
        r#"bin(* vm(1:1) bin(atan2 vm(1:1) vs(a;__name__="a";0..1) vs(b;__name__="b";8..9)) vs(c;__name__="c";12..13))"#,
    ),
    (
        r#"-a ^ 2"#,
        r#"un(- bin(^ vs(a;__name__="a";1..2) num(2 5..6)) @0)"#,
    ),
    (
        r#"-a * 2"#,
        r#"bin(* un(- vs(a;__name__="a";1..2) @0) num(2 5..6))"#,
    ),
    (
        r#"2 ^ -1 ^ 2"#,
        r#"bin(^ num(2 0..1) un(- bin(^ num(1 5..6) num(2 9..10)) @4))"#,
    ),
    (r#"- - 1"#, r#"num(1 0..5)"#),
    (r#"-(1)"#, r#"un(- par(num(1 2..3) 1..4) @0)"#),
    (r#"+-+-1"#, r#"num(1 0..5)"#),
    (r#"1 </ 2"#, r#"bin(</ num(1 0..1) num(2 5..6))"#),
    (
        r#"foo >/ 0.5"#,
        r#"bin(>/ vs(foo;__name__="foo";0..3) num(0.5 7..10))"#,
    ),
    (r#"foo @ 1m"#, r#"vs(foo;__name__="foo";0..8;at=60000)"#),
    (r#"foo @ -1m"#, r#"vs(foo;__name__="foo";0..9;at=-60000)"#),
    (
        r#"foo offset -1m30s"#,
        r#"vs(foo;__name__="foo";0..17;off=-1m30s)"#,
    ),
    (
        r#"foo[1h] offset 1d @ 10"#,
        r#"mat(vs(foo;__name__="foo";0..3;off=1d;at=10000);range=1h;end=22)"#,
    ),
    (
        r#"foo @ start() offset 5m"#,
        r#"vs(foo;__name__="foo";0..23;off=5m;at=start)"#,
    ),
    (
        r#"rate(foo[5m:])"#,
        r#"call(rate;sub(vs(foo;__name__="foo";5..8);range=5m;step=0s;end=13);0..14)"#,
    ),
    (
        r#"foo offset (1h * 2)"#,
        r#"vs(foo;__name__="foo";0..19;offx=dur(* w;l=num(3600d 12..14);r=num(2 17..18);s=0;e=0))"#,
    ),
    (
        r#"foo offset (1h) * 2"#,
        r#"vs(foo;__name__="foo";0..19;offx=dur(*;l=dur(+ w;r=num(3600d 12..14);s=11;e=15);r=num(2 18..19);s=0;e=0))"#,
    ),
    (
        r#"foo offset 1h * 2"#,
        r#"bin(* vs(foo;__name__="foo";0..13;off=1h) num(2 16..17))"#,
    ),
    (
        r#"foo offset - -5m + 1m"#,
        r#"vs(foo;__name__="foo";0..21;offx=dur(+;l=num(300d 11..16);r=num(60d 19..21);s=0;e=0))"#,
    ),
    (
        r#"foo[5m + step()]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(300d 4..6);r=dur(step;s=9;e=15);s=0;e=0);end=16)"#,
    ),
    (
        r#"foo[5m:step()]"#,
        r#"sub(vs(foo;__name__="foo";0..3);range=5m;stepx=dur(step;s=7;e=13);end=14)"#,
    ),
    (
        r#"rate(foo[5m]) + rate(bar[step():5m])"#,
        r#"bin(+ vm(1:1) call(rate;mat(vs(foo;__name__="foo";5..8);range=5m;end=12);0..13) call(rate;sub(vs(bar;__name__="bar";21..24);rangex=dur(step;s=25;e=31);step=5m;end=35);16..36))"#,
    ),
    (
        r#"foo[min_of(5m, 1h)]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(min_of;l=num(300d 11..13);r=num(3600d 15..17);s=4;e=18);end=19)"#,
    ),
    (
        r#"foo[max_of(step(), 1m) * 2]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(*;l=dur(max_of;l=dur(step;s=11;e=17);r=num(60d 19..21);s=4;e=22);r=num(2 25..26);s=0;e=0);end=27)"#,
    ),
    (
        r#"foo[-5m + 10m]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(-300d 4..7);r=num(600d 10..13);s=0;e=0);end=14)"#,
    ),
    (
        r#"foo[5m] anchored"#,
        r#"mat(vs(foo;__name__="foo";0..3;anchored);range=5m;end=7)"#,
    ),
    (
        r#"foo[5m] smoothed"#,
        r#"mat(vs(foo;__name__="foo";0..3;smoothed);range=5m;end=7)"#,
    ),
    (r#"foo smoothed"#, r#"vs(foo;__name__="foo";0..3;smoothed)"#),
    (
        r#"rate(foo[5m] anchored)"#,
        r#"call(rate;mat(vs(foo;__name__="foo";5..8;anchored);range=5m;end=12);0..22)"#,
    ),
    (
        r#"foo anchored offset 5m"#,
        r#"vs(foo;__name__="foo";0..22;off=5m;anchored)"#,
    ),
    (
        r#"a + on(b) group_left c"#,
        r#"bin(+ vm(n:1 on m=b) vs(a;__name__="a";0..1) vs(c;__name__="c";21..22))"#,
    ),
    (
        r#"a + ignoring(b) group_right(c, d) e"#,
        r#"bin(+ vm(1:n m=b inc=c,d) vs(a;__name__="a";0..1) vs(e;__name__="e";34..35))"#,
    ),
    (
        r#"a + fill(0) b"#,
        r#"bin(+ vm(1:1 fl=0 fr=0) vs(a;__name__="a";0..1) vs(b;__name__="b";12..13))"#,
    ),
    (
        r#"a + fill_left(1) fill_right(-1) b"#,
        r#"bin(+ vm(1:1 fl=1 fr=-1) vs(a;__name__="a";0..1) vs(b;__name__="b";32..33))"#,
    ),
    (
        r#"a + on(x) group_left(y) fill(0) b"#,
        r#"bin(+ vm(n:1 on m=x inc=y fl=0 fr=0) vs(a;__name__="a";0..1) vs(b;__name__="b";32..33))"#,
    ),
    (
        r#"a > bool on(x) b"#,
        r#"bin(> bool vm(1:1 on m=x) vs(a;__name__="a";0..1) vs(b;__name__="b";15..16))"#,
    ),
    (
        r#"fill + fill"#,
        r#"bin(+ vm(1:1) vs(fill;__name__="fill";0..4) vs(fill;__name__="fill";7..11))"#,
    ),
    (r#"fill{a="b"}"#, r#"vs(fill;a="b",__name__="fill";0..11)"#),
    (
        r#"topk by (a) (3, x)"#,
        r#"agg(topk by(a);num(3 13..14);vs(x;__name__="x";16..17);0..18)"#,
    ),
    (
        r#"limit_ratio(0.5, x)"#,
        r#"agg(limit_ratio;num(0.5 12..15);vs(x;__name__="x";17..18);0..19)"#,
    ),
    (
        r#"group without () (x)"#,
        r#"agg(group without();vs(x;__name__="x";18..19);0..20)"#,
    ),
    (
        r#"label_join(x, "a", ",", "b", "c", "d")"#,
        r#"call(label_join;vs(x;__name__="x";11..12);str("a" 14..17);str("," 19..22);str("b" 24..27);str("c" 29..32);str("d" 34..37);0..38)"#,
    ),
    (
        r#"sort_by_label(x, "a", "b")"#,
        r#"call(sort_by_label;vs(x;__name__="x";14..15);str("a" 17..20);str("b" 22..25);0..26)"#,
    ),
    (
        r#"sort_by_label(x)"#,
        r#"call(sort_by_label;vs(x;__name__="x";14..15);0..16)"#,
    ),
    (r#"info(x)"#, r#"call(info;vs(x;__name__="x";5..6);0..7)"#),
    (
        r#"info(x, {k8s_cluster_id=~".+"})"#,
        r#"call(info;vs(x;__name__="x";5..6);vs(;k8s_cluster_id=~".+";8..30;bypass);0..31)"#,
    ),
    (r#"day_of_week()"#, r#"call(day_of_week;0..13)"#),
    (
        r#"histogram_quantiles(x, "q", 0.5, 0.9)"#,
        r#"call(histogram_quantiles;vs(x;__name__="x";20..21);str("q" 23..26);num(0.5 28..31);num(0.9 33..36);0..37)"#,
    ),
    (r#"step()"#, r#"call(step;0..6)"#),
    (
        r#"min_of(1, 2)"#,
        r#"call(min_of;num(1 7..8);num(2 10..11);0..12)"#,
    ),
    (
        r#"{"foo.bar", job="x"}"#,
        r#"vs(;__name__="foo.bar",job="x";0..20)"#,
    ),
    (r#"{__name__=~"a|b"}"#, r#"vs(;__name__=~"a|b";0..17)"#),
    (r#"{a!~".*"}"#, r#"vs(;a!~".*";0..9)"#),
    (r#"foo{}"#, r#"vs(foo;__name__="foo";0..5)"#),
    (
        r#"sum(x) # comment"#,
        r#"agg(sum;vs(x;__name__="x";4..5);0..6)"#,
    ),
    (
        r#"sum( # c
 x)"#,
        r#"agg(sum;vs(x;__name__="x";10..11);0..12)"#,
    ),
    (
        r#"sum(
  rate(x[5m])
)"#,
        r#"agg(sum;call(rate;mat(vs(x;__name__="x";12..13);range=5m;end=17);7..18);0..20)"#,
    ),
    (
        r#"SUM BY (a) (x)"#,
        r#"agg(sum by(a);vs(x;__name__="x";12..13);0..14)"#,
    ),
    (
        r#"x AND y"#,
        r#"bin(and vm(n:n) vs(x;__name__="x";0..1) vs(y;__name__="y";6..7))"#,
    ),
    (r#"x OFFSET 5m"#, r#"vs(x;__name__="x";0..11;off=5m)"#),
    (r#"x @ START()"#, r#"vs(x;__name__="x";0..11;at=start)"#),
    (r#"-nan"#, r#"num(NaN 0..4)"#),
    (r#"0X1F"#, r#"num(31 0..4)"#),
    (r#"1_000_000"#, r#"num(1000000 0..9)"#),
    (r#"5m + 1"#, r#"bin(+ num(300d 0..2) num(1 5..6))"#),
    (
        r#"(foo)[5m:]"#,
        r#"sub(par(vs(foo;__name__="foo";1..4) 0..5);range=5m;step=0s;end=10)"#,
    ),
    (
        r#"rate(x[5m])[1h:] offset 1d @ 100"#,
        r#"sub(call(rate;mat(vs(x;__name__="x";5..6);range=5m;end=10);0..11);range=1h;step=0s;off=1d;at=100000;end=32)"#,
    ),
    (
        r#"x @ 100 offset 5m [1h:]"#,
        r#"sub(vs(x;__name__="x";0..17;off=5m;at=100000);range=1h;step=0s;end=23)"#,
    ),
    (
        r#"abs(-x)"#,
        r#"call(abs;un(- vs(x;__name__="x";5..6) @4);0..7)"#,
    ),
    (r#"x offset 0s"#, r#"vs(x;__name__="x";0..11)"#),
    (
        r#"foo[1m1s]"#,
        r#"mat(vs(foo;__name__="foo";0..3);range=1m1s;end=9)"#,
    ),
    (
        r#"foo atan2 bar"#,
        r#"bin(atan2 vm(1:1) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";10..13))"#,
    ),
    (
        r#"foo[5m] @ 10 offset 1m"#,
        r#"mat(vs(foo;__name__="foo";0..3;off=1m;at=10000);range=5m;end=22)"#,
    ),
    (r#""日本""#, r#"str("日本" 0..8)"#),
    (
        r#"foo + ignoring(a) group_left(a) bar"#,
        r#"bin(+ vm(n:1 m=a inc=a) vs(foo;__name__="foo";0..3) vs(bar;__name__="bar";32..35))"#,
    ),
    (
        r#"foo[-1m+1m]"#,
        r#"mat(vs(foo;__name__="foo";0..3);rangex=dur(+;l=num(-60d 4..7);r=num(60d 8..10);s=0;e=0);end=11)"#,
    ),
    (r#"Sum(x)"#, r#"agg(sum;vs(x;__name__="x";4..5);0..6)"#),
    (
        r#"count_values("a", x) by (b)"#,
        r#"agg(count_values by(b);str("a" 13..16);vs(x;__name__="x";18..19);0..27)"#,
    ),
    (r#"foo{"a"="b"}"#, r#"vs(foo;a="b",__name__="foo";0..12)"#),
    (
        r#"sum(x)[5m:1m]"#,
        r#"sub(agg(sum;vs(x;__name__="x";4..5);0..6);range=5m;step=1m;end=13)"#,
    ),
    (
        r#"max_over_time(deriv(rate(x[1m])[5m:1m])[10m:])"#,
        r#"call(max_over_time;sub(call(deriv;sub(call(rate;mat(vs(x;__name__="x";25..26);range=1m;end=30);20..31);range=5m;step=1m;end=38);14..39);range=10m;step=0s;end=45);0..46)"#,
    ),
    (
        r#"foo{a="b"} unless on(c) bar"#,
        r#"bin(unless vm(n:n on m=c) vs(foo;a="b",__name__="foo";0..10) vs(bar;__name__="bar";24..27))"#,
    ),
    (
        r#"foo{a="\\n\\t\\\\"}"#,
        r#"vs(foo;a="\\n\\t\\\\",__name__="foo";0..19)"#,
    ),
    (
        r#"foo{a=~"a\\\\.b", b!~"^x$"}"#,
        r#"vs(foo;a=~"a\\\\.b",b!~"^x$",__name__="foo";0..27)"#,
    ),
    (r#"{a!~".*"}"#, r#"vs(;a!~".*";0..9)"#),
    (
        r#"sort_by_label(x)"#,
        r#"call(sort_by_label;vs(x;__name__="x";14..15);0..16)"#,
    ),
];

/// Our own successful cases with default options.
const OWN_OK_DEFAULT: &[(&str, &str)] = &[
    (
        r#"foo offset -5m"#,
        r#"vs(foo;__name__="foo";0..14;off=-5m)"#,
    ),
    (
        r#"foo @ 10 offset 5m"#,
        r#"vs(foo;__name__="foo";0..18;off=5m;at=10000)"#,
    ),
    (
        r#"foo offset -(5m)"#,
        r#"vs(foo;__name__="foo";0..16;offx=dur(-;r=dur(+ w;r=num(300d 13..15);s=13;e=15);s=11;e=0))"#,
    ),
    (
        r#"foo offset -(5m)"#,
        r#"vs(foo;__name__="foo";0..16;offx=dur(-;r=dur(+ w;r=num(300d 13..15);s=13;e=15);s=11;e=0))"#,
    ),
];

/// Our own failing cases (every experimental feature on), with all errors.
const OWN_ERR: &[(&str, Errs)] = &[
    (
        r#"`raw\\n` + 1"#,
        &[(
            0,
            8,
            r#"binary expression must contain only scalar and instant vector types"#,
        )],
    ),
    (r#"foo bar"#, &[(4, 7, r#"unexpected identifier "bar""#)]),
    (
        r#"sum(foo bar)"#,
        &[(8, 11, r#"unexpected identifier "bar" in aggregation"#)],
    ),
    (
        r#"sum by (a) foo"#,
        &[(11, 14, r#"unexpected identifier "foo" in aggregation"#)],
    ),
    (
        r#"rate(sum(foo bar))"#,
        &[(13, 16, r#"unexpected identifier "bar" in aggregation"#)],
    ),
    (
        r#"abs(sum(foo) bar)"#,
        &[(13, 16, r#"unexpected identifier "bar""#)],
    ),
    (r#"sum(1 +)"#, &[(7, 8, r#"unexpected ")" in aggregation"#)]),
    (
        r#"sum(foo) by"#,
        &[(
            11,
            11,
            r#"unexpected end of input in grouping opts, expected "(""#,
        )],
    ),
    (
        r#"sum by (a b) (x)"#,
        &[(
            10,
            11,
            r#"unexpected identifier "b" in grouping opts, expected "," or ")""#,
        )],
    ),
    (
        r#"sum by (without) (x)"#,
        &[(
            8,
            15,
            r#"unexpected <without> in grouping opts, expected label"#,
        )],
    ),
    (
        r#"sum by (inf) (x)"#,
        &[(
            8,
            11,
            r#"unexpected number "inf" in grouping opts, expected label"#,
        )],
    ),
    (
        r#"sum by ("") (x)"#,
        &[(8, 10, r#"invalid label name for grouping: """#)],
    ),
    (
        r#"sum by ("\xff") (x)"#,
        &[(8, 14, r#"invalid label name for grouping: "\xff""#)],
    ),
    (
        r#"topk by (a)"#,
        &[(11, 11, r#"unexpected end of input in aggregation"#)],
    ),
    (
        r#"foo + on bar"#,
        &[(
            9,
            12,
            r#"unexpected identifier "bar" in grouping opts, expected "(""#,
        )],
    ),
    (
        r#"foo == on(a) bool bar"#,
        &[(13, 17, r#"unexpected <bool>"#)],
    ),
    (
        r#"foo offset"#,
        &[(
            10,
            10,
            r#"unexpected end of input in offset, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo offset bar"#,
        &[(
            11,
            14,
            r#"unexpected identifier "bar" in offset, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo offset step"#,
        &[(
            15,
            15,
            r#"unexpected end of input in offset, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo offset (5m +)"#,
        &[(
            16,
            17,
            r#"unexpected ")" in offset, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo offset 5m offset 1m"#,
        &[(0, 13, r#"offset may not be set multiple times"#)],
    ),
    (
        r#"foo @ 1 @ 2"#,
        &[(0, 7, r#"@ <timestamp> may not be set multiple times"#)],
    ),
    (
        r#"foo @ start"#,
        &[(
            11,
            11,
            r#"unexpected end of input in @, expected timestamp"#,
        )],
    ),
    (
        r#"foo @ bar"#,
        &[(
            6,
            9,
            r#"unexpected identifier "bar" in @, expected timestamp"#,
        )],
    ),
    (
        r#"1 @ 1"#,
        &[(
            0,
            1,
            r#"@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"#,
        )],
    ),
    (
        r#"foo[5m] @ start() @ end()"#,
        &[(0, 17, r#"@ <timestamp> may not be set multiple times"#)],
    ),
    (
        r#"foo[5m+]"#,
        &[(
            7,
            8,
            r#"unexpected "]" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo[5m 5m]"#,
        &[(
            7,
            9,
            r#"unexpected duration "5m" in subquery or range, expected ":" or "]""#,
        )],
    ),
    (
        r#"foo[5m:5m+]"#,
        &[(
            10,
            11,
            r#"unexpected "]" in subquery selector, expected number, duration, step(), range(), or "]""#,
        )],
    ),
    (
        r#"foo[5m:5m 1m]"#,
        &[(
            10,
            12,
            r#"unexpected duration "1m" in subquery selector, expected "]""#,
        )],
    ),
    (
        r#"foo[step():5m]"#,
        &[(
            11,
            14,
            r#"unexpected colon before duration in duration expression"#,
        )],
    ),
    (r#"foo[5m::]"#, &[(7, 9, r#"unexpected colon ':'"#)]),
    (
        r#"foo[[5m]]"#,
        &[(4, 9, r#"unexpected character in duration expression: '['"#)],
    ),
    (r#"foo]"#, &[(3, 4, r#"unexpected right bracket ']'"#)]),
    (r#"foo[5m"#, &[(6, 6, r#"unclosed left bracket"#)]),
    (
        r#"foo{a="b""#,
        &[(9, 9, r#"unexpected end of input inside braces"#)],
    ),
    (
        r#"foo{a="b" c="d"}"#,
        &[(
            10,
            11,
            r#"unexpected identifier "c" in label matching, expected "," or "}""#,
        )],
    ),
    (
        r#"foo{a=~"("}"#,
        &[(4, 10, r#"error parsing regexp: missing closing ): `(`"#)],
    ),
    (
        r#"foo{"a" "b"}"#,
        &[(
            8,
            11,
            r#"unexpected string "\"b\"" in label matching, expected "," or "}""#,
        )],
    ),
    (
        r#"foo{a="b",,}"#,
        &[(
            10,
            11,
            r#"unexpected "," in label matching, expected identifier or "}""#,
        )],
    ),
    (
        r#"{x="1"} and 1"#,
        &[(
            0,
            13,
            r#"set operator "and" not allowed in binary scalar expression"#,
        )],
    ),
    (
        r#"foo and bool bar"#,
        &[(
            4,
            11,
            r#"bool modifier can only be used on comparison operators"#,
        )],
    ),
    (
        r#"foo </ bool 1"#,
        &[(
            4,
            10,
            r#"bool modifier can only be used on comparison operators"#,
        )],
    ),
    (
        r#"1 < 2"#,
        &[(
            2,
            2,
            r#"comparisons between scalars must use BOOL modifier"#,
        )],
    ),
    (
        r#""a" + 1"#,
        &[(
            0,
            3,
            r#"binary expression must contain only scalar and instant vector types"#,
        )],
    ),
    (
        r#"foo[5m] + 1"#,
        &[(
            0,
            7,
            r#"binary expression must contain only scalar and instant vector types"#,
        )],
    ),
    (
        r#"rate(1)"#,
        &[(
            5,
            6,
            r#"expected type range vector in call to function "rate", got scalar"#,
        )],
    ),
    (
        r#"abs("a")"#,
        &[(
            4,
            7,
            r#"expected type instant vector in call to function "abs", got string"#,
        )],
    ),
    (
        r#"abs()"#,
        &[(0, 5, r#"expected 1 argument(s) in call to "abs", got 0"#)],
    ),
    (
        r#"round()"#,
        &[(
            0,
            7,
            r#"expected at least 1 argument(s) in call to "round", got 0"#,
        )],
    ),
    (
        r#"round(a, 1, 2)"#,
        &[(
            0,
            14,
            r#"expected at most 2 argument(s) in call to "round", got 3"#,
        )],
    ),
    (
        r#"label_join(x)"#,
        &[(
            0,
            13,
            r#"expected at least 3 argument(s) in call to "label_join", got 1"#,
        )],
    ),
    (
        r#"day_of_week(a, b)"#,
        &[(
            0,
            17,
            r#"expected at most 1 argument(s) in call to "day_of_week", got 2"#,
        )],
    ),
    (
        r#"info(x, y)"#,
        &[(
            8,
            9,
            r#"expected label selectors only, got vector selector instead"#,
        )],
    ),
    (
        r#"info(x, 1)"#,
        &[
            (
                0,
                10,
                r#"expected type instant vector in call to function "info", got scalar"#,
            ),
            (8, 9, r#"expected label selectors only"#),
            (
                8,
                9,
                r#"expected type instant vector in call to function "info", got scalar"#,
            ),
        ],
    ),
    (
        r#"count_values(x, y)"#,
        &[(
            13,
            14,
            r#"expected type string in aggregation parameter, got instant vector"#,
        )],
    ),
    (
        r#"quantile(x, y)"#,
        &[(
            9,
            10,
            r#"expected type scalar in aggregation parameter, got instant vector"#,
        )],
    ),
    (
        r#"sum(1)"#,
        &[(
            4,
            5,
            r#"expected type instant vector in aggregation expression, got scalar"#,
        )],
    ),
    (
        r#"sum(x, y)"#,
        &[(
            0,
            9,
            r#"wrong number of arguments for aggregate expression provided, expected 1, got 2"#,
        )],
    ),
    (
        r#"topk(1, 2, x)"#,
        &[(
            0,
            13,
            r#"wrong number of arguments for aggregate expression provided, expected 2, got 3"#,
        )],
    ),
    (
        r#"Rate(x[5m])"#,
        &[(0, 4, r#"unknown function with name "Rate""#)],
    ),
    (
        r#"START()"#,
        &[(0, 5, r#"unknown function with name "START""#)],
    ),
    (
        r#"foo[5m][1h:]"#,
        &[(
            0,
            12,
            r#"subquery is only allowed on instant vector, got matrix instead"#,
        )],
    ),
    (
        r#"foo[1h:][5m]"#,
        &[(8, 12, r#"ranges only allowed for vector selectors"#)],
    ),
    (
        r#"(foo)[5m]"#,
        &[(5, 9, r#"ranges only allowed for vector selectors"#)],
    ),
    (
        r#"sum(foo) offset 5m"#,
        &[(
            0,
            8,
            r#"offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"#,
        )],
    ),
    (
        r#"foo + offset 5m"#,
        &[(13, 15, r#"unexpected duration "5m""#)],
    ),
    (r#"x ^"#, &[(3, 3, r#"unexpected end of input"#)]),
    (r#"(x"#, &[(2, 2, r#"unclosed left parenthesis"#)]),
    (r#"x)"#, &[(2, 2, r#"unexpected right parenthesis ')'"#)]),
    (r#"a + fill(0)"#, &[(11, 11, r#"unexpected end of input"#)]),
    (
        r#"a + fill(x) b"#,
        &[(9, 10, r#"unexpected identifier "x""#)],
    ),
    (
        r#"foo smoothed anchored"#,
        &[(
            0,
            3,
            r#"anchored and smoothed modifiers cannot be used together"#,
        )],
    ),
    (
        r#"foo[5m:] anchored"#,
        &[(0, 8, r#"anchored modifier is not supported for subqueries"#)],
    ),
    (
        r#"sum(foo) anchored"#,
        &[(0, 8, r#"anchored modifier not implemented"#)],
    ),
    (r#"foo{a="b"}{c="d"}"#, &[(10, 11, r#"unexpected "{""#)]),
    (
        r#"foo == on(a) group_left(a) bar"#,
        &[(
            4,
            25,
            r#"label "a" must not occur in ON and GROUP clause at once"#,
        )],
    ),
    (
        r#"1 + on(a) 2"#,
        &[(
            0,
            11,
            r#"vector matching only allowed between instant vectors"#,
        )],
    ),
    (
        r#"a and on(b) fill(0) c"#,
        &[(
            0,
            21,
            r#"filling in missing series not allowed for set operators"#,
        )],
    ),
    (
        r#"1 + fill(0) a"#,
        &[(
            0,
            13,
            r#"filling in missing series only allowed between instant vectors"#,
        )],
    ),
    (
        r#"foo[0s:1m]"#,
        &[(4, 6, r#"duration must be greater than 0"#)],
    ),
    (
        r#"foo[1m:0s]"#,
        &[(7, 9, r#"duration must be greater than 0"#)],
    ),
    (
        r#"foo offset 1e10"#,
        &[(11, 15, r#"duration out of range"#)],
    ),
    (
        r#"foo offset -1e10"#,
        &[(11, 12, r#"duration out of range"#)],
    ),
    (
        r#"-x[5m:]"#,
        &[(
            0,
            7,
            r#"unary expression only allowed on expressions of type scalar or instant vector, got "range vector""#,
        )],
    ),
    (
        r#"sum(x) without (a) by (b)"#,
        &[(19, 21, r#"unexpected <by>"#)],
    ),
    (
        r#"foo unless on(c) group_right bar"#,
        &[
            (0, 32, r#"no grouping allowed for "unless" operation"#),
            (0, 32, r#"set operations must always be many-to-many"#),
        ],
    ),
    (
        r#"foo @ 10 [5m]"#,
        &[(9, 13, r#"no @ modifiers allowed before range"#)],
    ),
    (
        r#"foo offset 1m [5m]"#,
        &[(14, 18, r#"no offset modifiers allowed before range"#)],
    ),
    (
        r#"foo[5m] offset 1m offset 2m"#,
        &[(0, 17, r#"offset may not be set multiple times"#)],
    ),
    (
        r#"foo{__name__="bar"}"#,
        &[(
            0,
            19,
            r#"metric name must not be set twice: "foo" or "bar""#,
        )],
    ),
    (
        r#"{__name__=""}"#,
        &[(
            0,
            13,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"{a=~".+"} + {b=""}"#,
        &[(
            12,
            18,
            r#"vector selector must contain at least one non-empty matcher"#,
        )],
    ),
    (
        r#"histogram_quantile("a", x)"#,
        &[(
            19,
            22,
            r#"expected type scalar in call to function "histogram_quantile", got string"#,
        )],
    ),
    (r#"foo = 1"#, &[(4, 5, r#"unexpected "=""#)]),
    (
        r#"foo ! 1"#,
        &[(4, 7, r#"unexpected character after '!': ' '"#)],
    ),
    (r#"foo <> 1"#, &[(5, 6, r#"unexpected <op:>>"#)]),
    (
        r#"foo{a!b}"#,
        &[(5, 8, r#"unexpected character after '!' inside braces: 'b'"#)],
    ),
    (r#"1e"#, &[(0, 2, r#"bad number or duration syntax: "1e""#)]),
    (
        r#"0x"#,
        &[(
            0,
            2,
            r#"error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax"#,
        )],
    ),
    (r#"."#, &[(0, 1, r#"unexpected character: '.'"#)]),
    (r#"foo.bar"#, &[(3, 7, r#"unexpected character: '.'"#)]),
    (
        r#"foo[5x]"#,
        &[(4, 7, r#"bad number or duration syntax: "5""#)],
    ),
    (
        r#"foo[5m] @"#,
        &[(9, 9, r#"unexpected end of input in @, expected timestamp"#)],
    ),
    (
        r#""unterminated"#,
        &[(0, 13, r#"unterminated quoted string"#)],
    ),
    (
        r#"'a\"'"#,
        &[(0, 5, r#"unknown escape sequence U+0022 '"'"#)],
    ),
    (
        r#""\400""#,
        &[(0, 6, r#"escape sequence is an invalid Unicode code point"#)],
    ),
    (
        r#""\uD800""#,
        &[(0, 8, r#"escape sequence is an invalid Unicode code point"#)],
    ),
    (
        r#""\U00110000""#,
        &[(0, 12, r#"escape sequence is an invalid Unicode code point"#)],
    ),
    (
        r#"foo[1.5m]"#,
        &[
            (4, 8, r#"unknown unit "." in duration "1.5m""#),
            (4, 8, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo offset 1y1y"#,
        &[(11, 15, r#"bad number or duration syntax: "1y1""#)],
    ),
    (
        r#"foo[step() / 0]"#,
        &[
            (11, 12, r#"division by zero"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[5m % 0]"#,
        &[
            (7, 8, r#"modulo by zero"#),
            (0, 0, r#"duration must be greater than 0"#),
        ],
    ),
    (
        r#"foo[max_of(5m)]"#,
        &[(
            13,
            14,
            r#"unexpected ")" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo[min_of 5m]"#,
        &[(
            11,
            13,
            r#"unexpected duration "5m" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"foo[range]"#,
        &[(
            9,
            10,
            r#"unexpected "]" in subquery or range selector, expected number, duration, step(), or range()"#,
        )],
    ),
    (
        r#"info()"#,
        &[(
            0,
            6,
            r#"expected at least 1 argument(s) in call to "info", got 0"#,
        )],
    ),
    (
        r#"pi(1)"#,
        &[(0, 5, r#"expected 0 argument(s) in call to "pi", got 1"#)],
    ),
    (
        r#"vector("a")"#,
        &[(
            7,
            10,
            r#"expected type scalar in call to function "vector", got string"#,
        )],
    ),
    (
        r#"scalar(x[5m])"#,
        &[(
            7,
            12,
            r#"expected type instant vector in call to function "scalar", got range vector"#,
        )],
    ),
    (
        r#"limitk(x, y)"#,
        &[(
            7,
            8,
            r#"expected type scalar in aggregation parameter, got instant vector"#,
        )],
    ),
    (
        r#"-"a" + 1"#,
        &[
            (
                0,
                4,
                r#"unary expression only allowed on expressions of type scalar or instant vector, got "string""#,
            ),
            (
                0,
                4,
                r#"binary expression must contain only scalar and instant vector types"#,
            ),
        ],
    ),
];

/// Our own failing cases with default options: experimental parts refused.
const OWN_ERR_DEFAULT: &[(&str, Errs)] = &[
    (
        r#"limitk(1, x)"#,
        &[(
            0,
            12,
            r#"limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"#,
        )],
    ),
    (
        r#"limit_ratio(0.5, x)"#,
        &[(
            0,
            19,
            r#"limit_ratio() is experimental and must be enabled with --enable-feature=promql-experimental-functions"#,
        )],
    ),
    (
        r#"sort_by_label(x, "a")"#,
        &[(0, 13, r#"function "sort_by_label" is not enabled"#)],
    ),
    (
        r#"foo[5m + 1m]"#,
        &[(4, 6, r#"experimental duration expression is not enabled"#)],
    ),
    (
        r#"foo[step()]"#,
        &[(4, 10, r#"experimental duration expression is not enabled"#)],
    ),
    (
        r#"foo[(5m)]"#,
        &[(5, 7, r#"experimental duration expression is not enabled"#)],
    ),
    (
        r#"foo offset (5m)"#,
        &[(12, 14, r#"experimental duration expression is not enabled"#)],
    ),
    (
        r#"foo offset step()"#,
        &[(11, 17, r#"experimental duration expression is not enabled"#)],
    ),
    (
        r#"foo anchored"#,
        &[(0, 3, r#"anchored modifier is experimental and not enabled"#)],
    ),
    (
        r#"foo[5m] smoothed"#,
        &[(0, 7, r#"smoothed modifier is experimental and not enabled"#)],
    ),
    (
        r#"a + fill(0) b"#,
        &[(
            0,
            13,
            r#"binop fill modifiers are experimental and not enabled"#,
        )],
    ),
    (
        r#"a + fill_left(0) b"#,
        &[(
            0,
            18,
            r#"binop fill modifiers are experimental and not enabled"#,
        )],
    ),
    (r#"step()"#, &[(0, 4, r#"function "step" is not enabled"#)]),
    (
        r#"foo[-5m]"#,
        &[(4, 7, r#"duration must be greater than 0"#)],
    ),
    (
        r#"foo[5m:min_of(1m, 2m)]"#,
        &[(14, 20, r#"experimental duration expression is not enabled"#)],
    ),
    (r#"info(x)"#, &[(0, 4, r#"function "info" is not enabled"#)]),
    (
        r#"foo offset -max_of(1m, 2m)"#,
        &[(11, 25, r#"experimental duration expression is not enabled"#)],
    ),
];

fn check_ok(p: Parser, cases: &[(&str, &str)]) {
    let mut bad = Vec::new();
    for (input, want) in cases {
        match p.parse_expr(input) {
            Ok(e) => {
                let got = dump(&e);
                if got != *want {
                    bad.push(format!("{input:?}\n   got  {got}\n   want {want}"));
                }
            }
            Err(e) => bad.push(format!("{input:?}: unexpected error {:?}", e.errors)),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

fn check_err(p: Parser, cases: &[(&str, Errs)]) {
    let mut bad = Vec::new();
    for (input, want) in cases {
        match p.parse_expr(input) {
            Ok(e) => bad.push(format!("{input:?}: parsed as {}", dump(&e))),
            Err(errs) => {
                let got: Vec<(usize, usize, &str)> = errs
                    .errors
                    .iter()
                    .map(|e| {
                        (
                            e.position_range.start,
                            e.position_range.end,
                            e.message.as_str(),
                        )
                    })
                    .collect();
                if got != *want {
                    bad.push(format!("{input:?}\n   got  {got:?}\n   want {want:?}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn own_successful_cases() {
    check_ok(Parser::new(ParserOptions::all()), OWN_OK);
    check_ok(Parser::default(), OWN_OK_DEFAULT);
}

#[test]
fn own_failing_cases() {
    check_err(Parser::new(ParserOptions::all()), OWN_ERR);
    check_err(Parser::default(), OWN_ERR_DEFAULT);
}

fn strip_duration(d: &mut DurationExpr) {
    // A unary `+` prints as nothing (as in Prometheus), so it cannot survive a round
    // trip; it means the same as its operand.
    while d.op == DurationOp::Add && d.lhs.is_none() && !d.wrapped {
        match d.rhs.take().map(|b| *b) {
            Some(Expr::Duration(inner)) => *d = inner,
            other => {
                d.rhs = other.map(Box::new);
                break;
            }
        }
    }
    d.start_pos = 0;
    d.end_pos = 0;
    for e in [d.lhs.as_deref_mut(), d.rhs.as_deref_mut()]
        .into_iter()
        .flatten()
    {
        strip(e);
    }
}

fn strip(e: &mut Expr) {
    match e {
        Expr::Aggregate(a) => a.pos_range = PositionRange::default(),
        Expr::Call(c) => c.pos_range = PositionRange::default(),
        Expr::Duration(d) => strip_duration(d),
        Expr::MatrixSelector(m) => {
            m.end_pos = 0;
            if let Some(r) = m.range_expr.as_deref_mut() {
                strip_duration(r);
            }
        }
        Expr::NumberLiteral(n) => n.pos_range = PositionRange::default(),
        Expr::Paren(p) => p.pos_range = PositionRange::default(),
        Expr::StringLiteral(s) => s.pos_range = PositionRange::default(),
        Expr::Subquery(s) => {
            s.end_pos = 0;
            for d in [
                &mut s.range_expr,
                &mut s.step_expr,
                &mut s.original_offset_expr,
            ] {
                if let Some(d) = d.as_deref_mut() {
                    strip_duration(d);
                }
            }
        }
        Expr::Unary(u) => u.start_pos = 0,
        Expr::VectorSelector(v) => {
            v.pos_range = PositionRange::default();
            v.label_matchers.sort_by_key(matcher_to_string);
            if let Some(d) = v.original_offset_expr.as_deref_mut() {
                strip_duration(d);
            }
        }
        Expr::Binary(_) | Expr::StepInvariant(_) => {}
    }
    for c in e.children_mut() {
        strip(c);
    }
}

/// The tree without positions, matchers in printing order: what must survive printing
/// and parsing again.
pub(crate) fn normalized(e: &Expr) -> String {
    let mut e = e.clone();
    strip(&mut e);
    format!("{e:?}")
}
