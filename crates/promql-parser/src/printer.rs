//! The canonical text of an expression, as Prometheus's `String()` methods print it.
//!
//! Rules files, `/api/v1/format_query`, recording-rule names in tools and tests all
//! compare this text with Prometheus's, so spacing, quoting, number and duration
//! formats follow Go exactly; parsing the output gives back the same tree.

use crate::ast::*;
use crate::strconv::{format_go_float, format_go_g, go_quote, go_quote_bytes};
use ember_model::Matcher;
use ember_model::labels::is_legacy_label_name;
use std::fmt::{self, Write as _};

/// Writes label names separated by `, `, quoting those that are not legacy names.
pub(crate) fn write_labels(out: &mut String, labels: &[String]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_label_name(l) {
            out.push_str(l);
        } else {
            out.push_str(&go_quote(l));
        }
    }
}

/// A matcher as Prometheus prints it: `name="value"`, the name quoted unless it is a
/// legacy label name.
pub fn matcher_to_string(m: &Matcher) -> String {
    let mut out = String::new();
    let bare = !m.name.is_empty()
        && m.name
            .char_indices()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if bare {
        out.push_str(&m.name);
    } else {
        out.push_str(&go_quote(&m.name));
    }
    out.push_str(m.kind.as_str());
    out.push_str(&go_quote(&m.value));
    out
}

fn at_suffix(out: &mut String, at: Option<AtModifier>) {
    match at {
        Some(AtModifier::Timestamp(ms)) => {
            let _ = write!(out, " @ {:.3}", ms as f64 / 1000.0);
        }
        Some(AtModifier::Start) => out.push_str(" @ start()"),
        Some(AtModifier::End) => out.push_str(" @ end()"),
        None => {}
    }
}

fn offset_suffix(out: &mut String, offset: crate::duration::Duration, expr: Option<&DurationExpr>) {
    if let Some(e) = expr {
        out.push_str(" offset ");
        e.write_to(out);
    } else if offset.as_nanos() > 0 {
        let _ = write!(out, " offset {offset}");
    } else if offset.as_nanos() < 0 {
        let _ = write!(out, " offset -{}", -offset);
    }
}

impl AggregateExpr {
    /// The operator with its grouping, without arguments: `sum by (job) `.
    pub fn short_string(&self) -> String {
        let mut out = String::from(self.op.as_str());
        if self.without {
            out.push_str(" without (");
            write_labels(&mut out, &self.grouping);
            out.push_str(") ");
        } else if !self.grouping.is_empty() {
            out.push_str(" by (");
            write_labels(&mut out, &self.grouping);
            out.push_str(") ");
        }
        out
    }
}

impl BinaryExpr {
    /// `on (…)`, `ignoring (…)`, `group_x (…)` and `fill…` as printed after the
    /// operator, each with a leading space.
    pub fn matching_string(&self) -> String {
        let mut out = String::new();
        let Some(vm) = &self.vector_matching else {
            return out;
        };
        let grouped = matches!(
            vm.card,
            VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany
        );
        if !vm.matching_labels.is_empty() || vm.on || grouped {
            out.push_str(if vm.on { " on (" } else { " ignoring (" });
            write_labels(&mut out, &vm.matching_labels);
            out.push(')');
        }
        if grouped {
            out.push_str(if vm.card == VectorMatchCardinality::ManyToOne {
                " group_left ("
            } else {
                " group_right ("
            });
            write_labels(&mut out, &vm.include);
            out.push(')');
        }
        let f = vm.fill_values;
        match (f.lhs, f.rhs) {
            (Some(l), Some(r)) if l == r => {
                let _ = write!(out, " fill ({})", format_go_g(l));
            }
            (l, r) => {
                if let Some(l) = l {
                    let _ = write!(out, " fill_left ({})", format_go_g(l));
                }
                if let Some(r) = r {
                    let _ = write!(out, " fill_right ({})", format_go_g(r));
                }
            }
        }
        out
    }

    /// The operator with `bool` and matching: `> bool on (job)`.
    pub fn short_string(&self) -> String {
        let mut out = String::from(self.op.as_str());
        if self.return_bool {
            out.push_str(" bool");
        }
        out.push_str(&self.matching_string());
        out
    }
}

impl DurationExpr {
    pub(crate) fn write_to(&self, out: &mut String) {
        if self.wrapped {
            out.push('(');
        }
        match self.op {
            DurationOp::Step => out.push_str("step()"),
            DurationOp::Range => out.push_str("range()"),
            DurationOp::MinOf | DurationOp::MaxOf => {
                out.push_str(self.op.as_str());
                out.push('(');
                if let Some(l) = &self.lhs {
                    let _ = write!(out, "{l}");
                }
                out.push_str(", ");
                if let Some(r) = &self.rhs {
                    let _ = write!(out, "{r}");
                }
                out.push(')');
            }
            op => match (&self.lhs, &self.rhs) {
                (Some(l), Some(r)) => {
                    let _ = write!(out, "{l} {} {r}", op.as_str());
                }
                (None, Some(r)) => {
                    if op == DurationOp::Sub {
                        out.push('-');
                    }
                    let _ = write!(out, "{r}");
                }
                (Some(l), None) => {
                    let _ = write!(out, "{l}");
                }
                (None, None) => {}
            },
        }
        if self.wrapped {
            out.push(')');
        }
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl VectorSelector {
    /// The selector without its modifiers.
    fn write_base(&self, out: &mut String) {
        let mut matchers: Vec<String> = self
            .label_matchers
            .iter()
            .filter(|m| {
                // The name written before the braces is printed there, not as a matcher.
                !(m.name == "__name__"
                    && m.kind == ember_model::MatchType::Equal
                    && m.value == self.name
                    && !m.value.is_empty())
            })
            .map(matcher_to_string)
            .collect();
        out.push_str(&self.name);
        if !matchers.is_empty() {
            matchers.sort();
            out.push('{');
            out.push_str(&matchers.join(","));
            out.push('}');
        }
    }
}

impl fmt::Display for VectorSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_base(&mut out);
        at_suffix(&mut out, self.at);
        if self.anchored {
            out.push_str(" anchored");
        } else if self.smoothed {
            out.push_str(" smoothed");
        }
        offset_suffix(
            &mut out,
            self.original_offset,
            self.original_offset_expr.as_deref(),
        );
        f.write_str(&out)
    }
}

fn range_string(range: crate::duration::Duration, expr: Option<&DurationExpr>) -> String {
    match expr {
        Some(e) => e.to_string(),
        None => range.to_string(),
    }
}

impl SubqueryExpr {
    /// `[range:step] @ … offset …`, everything after the inner expression.
    pub fn time_suffix(&self) -> String {
        let mut out = String::from("[");
        out.push_str(&range_string(self.range, self.range_expr.as_deref()));
        out.push(':');
        if !self.step.is_zero() {
            out.push_str(&self.step.to_string());
        } else if let Some(e) = &self.step_expr {
            out.push_str(&e.to_string());
        }
        out.push(']');
        at_suffix(&mut out, self.at);
        offset_suffix(
            &mut out,
            self.original_offset,
            self.original_offset_expr.as_deref(),
        );
        out
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Aggregate(a) => {
                f.write_str(&a.short_string())?;
                f.write_str("(")?;
                if a.op.takes_param()
                    && let Some(p) = &a.param
                {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Binary(b) => match &*b.lhs {
                // Go prints `+Inf ^ x` here, which reads back as `+(Inf ^ x)` (`^`
                // binds tighter than a unary sign): a different tree. `Inf` reads back
                // as the same literal. Elsewhere Go's `+Inf` is kept.
                Expr::NumberLiteral(n)
                    if !n.duration && n.val == f64::INFINITY && b.op == BinaryOp::Pow =>
                {
                    write!(f, "Inf {} {}", b.short_string(), b.rhs)
                }
                lhs => write!(f, "{} {} {}", lhs, b.short_string(), b.rhs),
            },
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Duration(d) => write!(f, "{d}"),
            Expr::MatrixSelector(m) => {
                match &*m.vector_selector {
                    Expr::VectorSelector(vs) => {
                        let mut out = String::new();
                        vs.write_base(&mut out);
                        out.push('[');
                        out.push_str(&range_string(m.range, m.range_expr.as_deref()));
                        out.push(']');
                        if vs.anchored {
                            out.push_str(" anchored");
                        } else if vs.smoothed {
                            out.push_str(" smoothed");
                        }
                        at_suffix(&mut out, vs.at);
                        offset_suffix(
                            &mut out,
                            vs.original_offset,
                            vs.original_offset_expr.as_deref(),
                        );
                        f.write_str(&out)
                    }
                    // Only in trees the parser rejected.
                    other => write!(
                        f,
                        "{other}[{}]",
                        range_string(m.range, m.range_expr.as_deref())
                    ),
                }
            }
            Expr::NumberLiteral(n) => {
                if n.duration {
                    // As Go's `time.Duration(v * 1e9)`: truncated to the nanosecond.
                    let ns = |v: f64| crate::duration::Duration::from_nanos((v * 1e9) as i64);
                    if n.val < 0.0 {
                        write!(f, "-{}", ns(-n.val))
                    } else {
                        write!(f, "{}", ns(n.val))
                    }
                } else {
                    f.write_str(&format_go_float(n.val))
                }
            }
            Expr::Paren(p) => write!(f, "({})", p.expr),
            Expr::StepInvariant(s) => write!(f, "{}", s.expr),
            Expr::StringLiteral(s) => f.write_str(&go_quote_bytes(s.bytes())),
            Expr::Subquery(s) => write!(f, "{}{}", s.expr, s.time_suffix()),
            Expr::Unary(u) => write!(f, "{}{}", u.op.as_str(), u.expr),
            Expr::VectorSelector(vs) => write!(f, "{vs}"),
        }
    }
}
