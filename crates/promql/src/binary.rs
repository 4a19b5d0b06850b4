//! Binary operators: arithmetic, comparison (filtering or `bool`), set operators,
//! and vector matching with `on`/`ignoring` and `group_left`/`group_right`, with
//! Prometheus's rules for which labels survive and its error texts.

use crate::Error;
use crate::eval::{Evaluator, Result};
use crate::functions::histogram as fh;
use crate::value::{Sample, Value, Vector};
use ember_model::histogram::FloatHistogram;
use ember_model::{Labels, LabelsBuilder};
use ember_promql_parser::{
    BinaryExpr, BinaryOp, ValueType, VectorMatchCardinality, VectorMatching,
};
use std::collections::HashMap;
use std::sync::Arc;

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
    )
}

fn is_set(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
}

/// Arithmetic (not comparisons or set operators) changes what a metric means, so the
/// result loses its name.
fn changes_schema(op: BinaryOp) -> bool {
    !is_comparison(op) && !is_set(op)
}

pub(crate) fn op_str(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Mod => "%",
        BinaryOp::Pow => "^",
        BinaryOp::Atan2 => "atan2",
        BinaryOp::Eql => "==",
        BinaryOp::Neq => "!=",
        BinaryOp::Gtr => ">",
        BinaryOp::Lss => "<",
        BinaryOp::Gte => ">=",
        BinaryOp::Lte => "<=",
        BinaryOp::TrimUpper => "</",
        BinaryOp::TrimLower => ">/",
        BinaryOp::And => "and",
        BinaryOp::Or => "or",
        BinaryOp::Unless => "unless",
    }
}

/// Result of applying an operator to two elements: (float, histogram, keep).
type Elem = (f64, Option<Arc<FloatHistogram>>, bool);

/// Applies `op` to one pair of values. `Err` carries an info text for incompatible
/// types (the pair is then dropped).
fn elem(
    op: BinaryOp,
    l: f64,
    r: f64,
    hl: Option<&Arc<FloatHistogram>>,
    hr: Option<&Arc<FloatHistogram>>,
) -> std::result::Result<Elem, String> {
    let incompatible = |a: &str, b: &str| {
        Err(format!(
            "incompatible sample types encountered for binary operator {:?}: {a} {} {b}",
            op_str(op),
            op_str(op)
        ))
    };
    match (hl, hr) {
        (None, None) => Ok(match op {
            BinaryOp::Add => (l + r, None, true),
            BinaryOp::Sub => (l - r, None, true),
            BinaryOp::Mul => (l * r, None, true),
            BinaryOp::Div => (l / r, None, true),
            BinaryOp::Pow => (l.powf(r), None, true),
            BinaryOp::Mod => (go_mod(l, r), None, true),
            BinaryOp::Atan2 => (l.atan2(r), None, true),
            BinaryOp::Eql => (l, None, l == r),
            BinaryOp::Neq => (l, None, l != r),
            BinaryOp::Gtr => (l, None, l > r),
            BinaryOp::Lss => (l, None, l < r),
            BinaryOp::Gte => (l, None, l >= r),
            BinaryOp::Lte => (l, None, l <= r),
            BinaryOp::TrimUpper | BinaryOp::TrimLower => return incompatible("float", "float"),
            BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => (l, None, true),
        }),
        (None, Some(h)) => match op {
            BinaryOp::Mul => {
                let mut x = (**h).clone();
                fh::scale(&mut x, l);
                Ok((0.0, Some(Arc::new(x)), true))
            }
            _ => incompatible("float", "histogram"),
        },
        (Some(h), None) => match op {
            BinaryOp::Mul | BinaryOp::Div => {
                let mut x = (**h).clone();
                fh::scale(&mut x, if op == BinaryOp::Mul { r } else { 1.0 / r });
                Ok((0.0, Some(Arc::new(x)), true))
            }
            _ => incompatible("histogram", "float"),
        },
        (Some(a), Some(b)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let res = if op == BinaryOp::Add {
                    fh::add(a, b)
                } else {
                    fh::sub(a, b)
                };
                match res {
                    Ok(x) => Ok((0.0, Some(Arc::new(x)), true)),
                    Err(e) => Err(e),
                }
            }
            BinaryOp::Eql => Ok((0.0, Some(a.clone()), fh::equals(a, b))),
            BinaryOp::Neq => Ok((0.0, Some(a.clone()), !fh::equals(a, b))),
            _ => incompatible("histogram", "histogram"),
        },
    }
}

/// Go's `math.Mod`: the result has the sign of the dividend (Rust's `%` agrees).
fn go_mod(a: f64, b: f64) -> f64 {
    a % b
}

pub(crate) fn eval_binary(ev: &mut Evaluator<'_>, b: &BinaryExpr) -> Result<Value> {
    let lt = b.lhs.value_type();
    let rt = b.rhs.value_type();
    let lhs = ev.eval_matrix(&b.lhs)?;
    let rhs = ev.eval_matrix(&b.rhs)?;
    let op = b.op;
    let pos = b.lhs.pos_range().start;
    match (lt, rt) {
        (ValueType::Scalar, ValueType::Scalar) => ev.range_eval(&[&lhs, &rhs], |_, v, out| {
            let (l, r) = (
                v[0].first().map_or(f64::NAN, |s| s.f),
                v[1].first().map_or(f64::NAN, |s| s.f),
            );
            let (mut f, _, keep) = elem(op, l, r, None, None).map_err(Error::Eval)?;
            if b.return_bool {
                f = if keep { 1.0 } else { 0.0 };
            }
            out.push(Sample::float(Labels::empty(), 0, f));
            Ok(())
        }),
        (ValueType::Vector, ValueType::Scalar) | (ValueType::Scalar, ValueType::Vector) => {
            let swap = lt == ValueType::Scalar;
            let (vecm, scal) = if swap { (&rhs, &lhs) } else { (&lhs, &rhs) };
            ev.range_eval(&[vecm, scal], |ev, v, out| {
                let s = v[1].first().map_or(f64::NAN, |s| s.f);
                for x in &v[0] {
                    let (l, r, hl, hr) = if swap {
                        (s, x.f, None, x.h.as_ref())
                    } else {
                        (x.f, s, x.h.as_ref(), None)
                    };
                    let (mut f, mut h, mut keep) = match elem(op, l, r, hl, hr) {
                        Ok(e) => e,
                        Err(info) => {
                            ev.info_at(info, pos);
                            continue;
                        }
                    };
                    if is_comparison(op) && swap {
                        f = x.f;
                        h = x.h.clone();
                    }
                    if b.return_bool {
                        f = if keep { 1.0 } else { 0.0 };
                        h = None;
                        keep = true;
                    }
                    if keep {
                        let metric = if changes_schema(op) || b.return_bool {
                            crate::eval::drop_name(&x.metric)
                        } else {
                            x.metric.clone()
                        };
                        out.push(Sample { metric, t: 0, f, h });
                    }
                }
                Ok(())
            })
        }
        _ => {
            let matching = b.vector_matching.clone().unwrap_or_default();
            ev.range_eval(&[&lhs, &rhs], |ev, v, out| {
                if is_set(op) {
                    set_op(op, &v[0], &v[1], &matching, out);
                    Ok(())
                } else {
                    vector_binop(ev, op, &v[0], &v[1], &matching, b.return_bool, pos, out)
                }
            })
        }
    }
}

/// The matching key of a series: the `on` labels, or everything but the `ignoring`
/// labels and the name.
fn signature(l: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        let names: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        l.only(&names)
    } else {
        let mut names: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        names.push("__name__");
        l.without(&names)
    }
}

fn set_op(op: BinaryOp, lhs: &Vector, rhs: &Vector, m: &VectorMatching, out: &mut Vector) {
    match op {
        BinaryOp::And => {
            let right: std::collections::HashSet<Labels> =
                rhs.iter().map(|s| signature(&s.metric, m)).collect();
            out.extend(
                lhs.iter()
                    .filter(|s| right.contains(&signature(&s.metric, m)))
                    .cloned(),
            );
        }
        BinaryOp::Unless => {
            let right: std::collections::HashSet<Labels> =
                rhs.iter().map(|s| signature(&s.metric, m)).collect();
            out.extend(
                lhs.iter()
                    .filter(|s| !right.contains(&signature(&s.metric, m)))
                    .cloned(),
            );
        }
        _ => {
            let left: std::collections::HashSet<Labels> =
                lhs.iter().map(|s| signature(&s.metric, m)).collect();
            out.extend(lhs.iter().cloned());
            out.extend(
                rhs.iter()
                    .filter(|s| !left.contains(&signature(&s.metric, m)))
                    .cloned(),
            );
        }
    }
}

/// Labels of a result element, as Prometheus's `resultMetric`.
fn result_metric(
    l: &Labels,
    r: &Labels,
    op: BinaryOp,
    m: &VectorMatching,
    drop_name: bool,
) -> Labels {
    let mut b = LabelsBuilder::new(l.clone());
    if drop_name || changes_schema(op) {
        b.del("__name__");
    }
    if m.card == VectorMatchCardinality::OneToOne {
        if m.on {
            let keep: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
            b.retain(|x| keep.contains(&x.name.as_str()));
        } else {
            for n in &m.matching_labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match r.get(n) {
            Some(v) => b.set(n.as_str(), v),
            None => b.del(n),
        };
    }
    b.into_labels()
}

#[allow(clippy::too_many_arguments)]
fn vector_binop(
    ev: &mut Evaluator<'_>,
    op: BinaryOp,
    lhs: &Vector,
    rhs: &Vector,
    m: &VectorMatching,
    return_bool: bool,
    pos: usize,
    out: &mut Vector,
) -> Result<()> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(());
    }
    let one_to_many = m.card == VectorMatchCardinality::OneToMany;
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Labels, &Sample> = HashMap::new();
    for rs in rhs {
        let sig = signature(&rs.metric, m);
        if let Some(dup) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let (mut a, mut b) = (rs.metric.to_string(), dup.metric.to_string());
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            return Err(Error::Eval(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
        right.insert(sig, rs);
    }
    let mut matched_one: std::collections::HashSet<Labels> = std::collections::HashSet::new();
    let mut matched_many: HashMap<Labels, std::collections::HashSet<Labels>> = HashMap::new();
    for ls in lhs {
        let sig = signature(&ls.metric, m);
        let Some(rs) = right.get(&sig) else { continue };
        let (mut fl, mut fr) = (ls.f, rs.f);
        let (mut hl, mut hr) = (ls.h.as_ref(), rs.h.as_ref());
        if one_to_many {
            std::mem::swap(&mut fl, &mut fr);
            std::mem::swap(&mut hl, &mut hr);
        }
        let (mut f, mut h, keep) = match elem(op, fl, fr, hl, hr) {
            Ok(e) => e,
            Err(info) => {
                ev.info_at(info, pos);
                continue;
            }
        };
        if return_bool {
            h = None;
            f = if keep { 1.0 } else { 0.0 };
        }
        let metric = result_metric(&ls.metric, &rs.metric, op, m, return_bool);
        if m.card == VectorMatchCardinality::OneToOne {
            if !matched_one.insert(sig) {
                return Err(Error::Eval(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
        } else if !matched_many.entry(sig).or_default().insert(metric.clone()) {
            return Err(Error::Eval(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if !keep && !return_bool {
            continue;
        }
        out.push(Sample { metric, t: 0, f, h });
    }
    Ok(())
}
