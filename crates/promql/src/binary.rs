//! Binary operators: arithmetic, comparison (filtering or `bool`), set operators,
//! histogram trimming (`</`, `>/`), vector matching with `on`/`ignoring`,
//! `group_left`/`group_right` and `fill` values, with Prometheus's rules for which
//! labels survive, which element pairs are dropped with which annotation, and its
//! error texts.

use crate::Error;
use crate::eval::{EMatrix, ESample, EVector, Evaluator, FastMap, FastSet, Metric, Result};
use crate::fhist;
use ember_model::histogram::{CounterResetHint, FloatHistogram};
use ember_model::{Labels, LabelsBuilder};
use ember_promql_parser::{
    BinaryExpr, BinaryOp, ValueType, VectorMatchCardinality, VectorMatching,
};
use std::sync::Arc;

/// Arithmetic changes what a metric means, so the result loses its name.
fn changes_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

/// An annotation produced by one element pair.
enum Note {
    Info(String),
    Warn(String),
}

/// Result of one element pair: value, histogram, whether to keep it, and a note.
struct Elem {
    f: f64,
    h: Option<Arc<FloatHistogram>>,
    keep: bool,
}

fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `lhs op rhs` between two scalars (comparisons give 0 or 1).
fn scalar_op(op: BinaryOp, l: f64, r: f64) -> f64 {
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => l.powf(r),
        BinaryOp::Mod => l % r,
        BinaryOp::Eql => btos(l == r),
        BinaryOp::Neq => btos(l != r),
        BinaryOp::Gtr => btos(l > r),
        BinaryOp::Lss => btos(l < r),
        BinaryOp::Gte => btos(l >= r),
        BinaryOp::Lte => btos(l <= r),
        BinaryOp::Atan2 => l.atan2(r),
        _ => f64::NAN,
    }
}

/// Applies `op` to one pair of elements, as Prometheus's `vectorElemBinop`. `Err`
/// drops the pair with a note; `Ok` may still carry an info.
fn elem(
    op: BinaryOp,
    l: f64,
    r: f64,
    hl: Option<&Arc<FloatHistogram>>,
    hr: Option<&Arc<FloatHistogram>>,
) -> (Option<Elem>, Option<Note>) {
    let incompatible = |a: &str, b: &str| {
        (
            None,
            Some(Note::Info(format!(
                "incompatible sample types encountered for binary operator \"{}\": {a} {} {b}",
                op.as_str(),
                op.as_str()
            ))),
        )
    };
    let keep = |f: f64, keep: bool| (Some(Elem { f, h: None, keep }), None);
    let hist = |h: FloatHistogram| {
        Some(Elem {
            f: 0.0,
            h: Some(Arc::new(h)),
            keep: true,
        })
    };
    match (hl, hr) {
        (None, None) => match op {
            BinaryOp::Eql => keep(l, l == r),
            BinaryOp::Neq => keep(l, l != r),
            BinaryOp::Gtr => keep(l, l > r),
            BinaryOp::Lss => keep(l, l < r),
            BinaryOp::Gte => keep(l, l >= r),
            BinaryOp::Lte => keep(l, l <= r),
            BinaryOp::TrimUpper | BinaryOp::TrimLower => incompatible("float", "float"),
            _ => keep(scalar_op(op, l, r), true),
        },
        (None, Some(h)) => match op {
            BinaryOp::Mul => {
                let mut x = (**h).clone();
                fhist::mul(&mut x, l);
                fhist::compact(&mut x);
                (hist(x), None)
            }
            _ => incompatible("float", "histogram"),
        },
        (Some(h), None) => match op {
            BinaryOp::Mul | BinaryOp::Div => {
                let mut x = (**h).clone();
                if op == BinaryOp::Mul {
                    fhist::mul(&mut x, r);
                } else {
                    fhist::div(&mut x, r);
                }
                fhist::compact(&mut x);
                (hist(x), None)
            }
            BinaryOp::TrimUpper => (hist(fhist::trim(h, r, true)), None),
            BinaryOp::TrimLower => (hist(fhist::trim(h, r, false)), None),
            _ => incompatible("histogram", "float"),
        },
        (Some(a), Some(b)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let res = if op == BinaryOp::Add {
                    fhist::add(a, b)
                } else {
                    fhist::sub(a, b)
                };
                let what = if op == BinaryOp::Add {
                    "addition"
                } else {
                    "subtraction"
                };
                match res {
                    Err(fhist::Incompatible) => (
                        None,
                        Some(Note::Warn(format!(
                            "incompatible bucket layout encountered for binary operator {}",
                            op.as_str()
                        ))),
                    ),
                    Ok((mut x, notes)) => {
                        if op == BinaryOp::Sub {
                            x.counter_reset_hint = CounterResetHint::Gauge;
                        }
                        if notes.collision {
                            // Prometheus drops the pair when the hints clash.
                            return (
                                None,
                                Some(Note::Warn(format!(
                                    "conflicting counter resets during histogram {what}"
                                ))),
                            );
                        }
                        let info = notes.reconciled.then(|| {
                            Note::Info(format!(
                                "mismatched custom buckets were reconciled during {what}"
                            ))
                        });
                        (hist(x), info)
                    }
                }
            }
            BinaryOp::Eql => (
                Some(Elem {
                    f: 0.0,
                    h: Some(a.clone()),
                    keep: fhist::equals(a, b),
                }),
                None,
            ),
            BinaryOp::Neq => (
                Some(Elem {
                    f: 0.0,
                    h: Some(a.clone()),
                    keep: !fhist::equals(a, b),
                }),
                None,
            ),
            _ => incompatible("histogram", "histogram"),
        },
    }
}

pub(crate) fn eval_binary(ev: &mut Evaluator<'_>, b: &BinaryExpr) -> Result<EMatrix> {
    let lt = b.lhs.value_type();
    let rt = b.rhs.value_type();
    let lhs = ev.eval_matrix(&b.lhs)?;
    let rhs = ev.eval_matrix(&b.rhs)?;
    let op = b.op;
    let pos = b.lhs.pos_range().start;
    match (lt, rt) {
        (ValueType::Scalar, ValueType::Scalar) => ev.range_eval(&[&lhs, &rhs], |_, v, _| {
            let l = v[0].first().map_or(f64::NAN, |s| s.f);
            let r = v[1].first().map_or(f64::NAN, |s| s.f);
            Ok(vec![ESample::float(Labels::empty(), scalar_op(op, l, r))])
        }),
        (ValueType::Vector, ValueType::Scalar) | (ValueType::Scalar, ValueType::Vector) => {
            let swap = lt == ValueType::Scalar;
            let (vecm, scal) = if swap { (&rhs, &lhs) } else { (&lhs, &rhs) };
            ev.range_eval(&[vecm, scal], |ev, v, _| {
                let s = v[1].first().map_or(f64::NAN, |s| s.f);
                vector_scalar(ev, op, &v[0], s, swap, b.return_bool, pos)
            })
        }
        _ => {
            let matching = b.vector_matching.clone().unwrap_or_default();
            // Signatures and result labels are worked out once per series (pair).
            let kind = ev.new_derive_kind();
            ev.range_eval(&[&lhs, &rhs], |ev, v, _| match op {
                BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => {
                    Ok(set_op(ev, kind, op, &v[0], &v[1], &matching))
                }
                _ => vector_binop(ev, kind, op, &v[0], &v[1], &matching, b.return_bool, pos),
            })
        }
    }
}

fn vector_scalar(
    ev: &mut Evaluator<'_>,
    op: BinaryOp,
    vec: &EVector,
    s: f64,
    swap: bool,
    return_bool: bool,
    pos: usize,
) -> Result<EVector> {
    let mut out = Vec::with_capacity(vec.len());
    let mut last: Option<Note> = None;
    for x in vec {
        let (l, r, hl, hr) = if swap {
            (s, x.f, None, x.h.as_ref())
        } else {
            (x.f, s, x.h.as_ref(), None)
        };
        let (res, note) = elem(op, l, r, hl, hr);
        let Some(mut e) = res else {
            if let Some(n) = note {
                last = Some(n);
            }
            continue;
        };
        if op.is_comparison() && swap {
            e.f = x.f;
            e.h = x.h.clone();
        }
        if return_bool {
            e.f = btos(e.keep);
            e.h = None;
            e.keep = true;
        }
        if e.keep {
            let drop = changes_schema(op) || return_bool;
            out.push(ESample {
                metric: ev.drop_now(&x.metric, drop),
                t: x.t,
                f: e.f,
                h: e.h,
                drop_name: x.drop_name || drop,
            });
        }
    }
    if let Some(n) = last {
        add_note(ev, n, pos);
    }
    Ok(out)
}

fn add_note(ev: &mut Evaluator<'_>, n: Note, pos: usize) {
    match n {
        Note::Info(m) => ev.annos.info(m, pos),
        Note::Warn(m) => ev.annos.warn(m, pos),
    }
}

/// The matching key of a series (interned, so that equal keys are one allocation).
fn signature(ev: &Evaluator<'_>, kind: usize, l: &Metric, m: &VectorMatching) -> Metric {
    ev.derive(l, kind, |l| signature_labels(l, m))
}

/// The address standing for an interned label set.
fn addr(m: &Metric) -> usize {
    Arc::as_ptr(m) as usize
}

/// The matching key of a series: the `on` labels, or everything but the `ignoring`
/// labels and the name.
fn signature_labels(l: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        let names: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        l.only(&names)
    } else {
        let mut names: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        names.push("__name__");
        l.without(&names)
    }
}

fn set_op(
    ev: &Evaluator<'_>,
    kind: usize,
    op: BinaryOp,
    lhs: &EVector,
    rhs: &EVector,
    m: &VectorMatching,
) -> EVector {
    let sig = |s: &ESample| addr(&signature(ev, kind, &s.metric, m));
    match op {
        BinaryOp::And => {
            if lhs.is_empty() || rhs.is_empty() {
                return Vec::new();
            }
            let right: FastSet<usize> = rhs.iter().map(sig).collect();
            lhs.iter()
                .filter(|s| right.contains(&sig(s)))
                .cloned()
                .collect()
        }
        BinaryOp::Unless => {
            if lhs.is_empty() || rhs.is_empty() {
                return lhs.clone();
            }
            let right: FastSet<usize> = rhs.iter().map(sig).collect();
            lhs.iter()
                .filter(|s| !right.contains(&sig(s)))
                .cloned()
                .collect()
        }
        _ => {
            let left: FastSet<usize> = lhs.iter().map(sig).collect();
            let mut out = lhs.clone();
            out.extend(rhs.iter().filter(|s| !left.contains(&sig(s))).cloned());
            out
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
        for n in crate::eval::METADATA_LABELS {
            b.del(n);
        }
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
    kind: usize,
    op: BinaryOp,
    lhs: &EVector,
    rhs: &EVector,
    m: &VectorMatching,
    return_bool: bool,
    pos: usize,
) -> Result<EVector> {
    let fills = m.fill_values;
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && fills.lhs.is_none() && fills.rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let one_to_many = m.card == VectorMatchCardinality::OneToMany;
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: FastMap<usize, &ESample> = FastMap::default();
    right.reserve(rhs.len());
    for rs in rhs {
        let sig = signature(ev, kind, &rs.metric, m);
        if let Some(dup) = right.get(&addr(&sig)) {
            let side = if one_to_many { "left" } else { "right" };
            let (mut a, mut b) = (rs.metric.to_string(), dup.metric.to_string());
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            return Err(Error::Eval(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
        right.insert(addr(&sig), rs);
    }
    let mut st = MatchState {
        one: FastSet::default(),
        many: FastMap::default(),
        out: Vec::with_capacity(lhs.len()),
        last: None,
    };
    let ctx = OpCtx {
        ev,
        kind,
        op,
        m,
        one_to_many,
        return_bool,
        delayed: ev.delayed_name_removal,
    };
    for ls in lhs {
        let sig = signature(ev, kind, &ls.metric, m);
        match right.get(&addr(&sig)) {
            Some(rs) => ctx.apply(ls, rs, sig, &mut st)?,
            None => {
                let Some(fill) = fills.rhs else { continue };
                let rs = ESample {
                    metric: sig.clone(),
                    t: ls.t,
                    f: fill,
                    h: None,
                    drop_name: false,
                };
                ctx.apply(ls, &rs, sig, &mut st)?;
            }
        }
    }
    if let Some(fill) = fills.lhs {
        for rs in rhs {
            let sig = signature(ev, kind, &rs.metric, m);
            let matched = if m.card == VectorMatchCardinality::OneToOne {
                st.one.contains(&addr(&sig))
            } else {
                st.many.get(&addr(&sig)).is_some_and(|s| !s.is_empty())
            };
            if matched {
                continue;
            }
            let ls = ESample {
                metric: sig.clone(),
                t: rs.t,
                f: fill,
                h: None,
                drop_name: false,
            };
            ctx.apply(&ls, rs, sig, &mut st)?;
        }
    }
    let MatchState { out, last, .. } = st;
    if let Some(n) = last {
        add_note(ev, n, pos);
    }
    Ok(out)
}

/// What a vector operation has matched so far at one step: signatures and result
/// labels by the address of their interned allocation.
struct MatchState {
    one: FastSet<usize>,
    many: FastMap<usize, FastSet<usize>>,
    out: EVector,
    last: Option<Note>,
}

struct OpCtx<'a, 'q> {
    ev: &'a Evaluator<'q>,
    kind: usize,
    op: BinaryOp,
    m: &'a VectorMatching,
    one_to_many: bool,
    return_bool: bool,
    delayed: bool,
}

impl OpCtx<'_, '_> {
    /// One matched pair (sides as after the `group_right` swap).
    fn apply(&self, ls: &ESample, rs: &ESample, sig: Metric, st: &mut MatchState) -> Result<()> {
        let (mut fl, mut fr) = (ls.f, rs.f);
        let (mut hl, mut hr) = (ls.h.as_ref(), rs.h.as_ref());
        if self.one_to_many {
            std::mem::swap(&mut fl, &mut fr);
            std::mem::swap(&mut hl, &mut hr);
        }
        let (res, note) = elem(self.op, fl, fr, hl, hr);
        if let Some(n) = note {
            st.last = Some(n);
        }
        let Some(mut e) = res else {
            return Ok(());
        };
        if self.return_bool {
            e.h = None;
            e.f = btos(e.keep);
        }
        let drop_name = !self.delayed && self.return_bool;
        let metric = self.ev.derive2(&ls.metric, &rs.metric, self.kind, |l, r| {
            result_metric(l, r, self.op, self.m, drop_name)
        });
        if self.m.card == VectorMatchCardinality::OneToOne {
            if !st.one.insert(addr(&sig)) {
                return Err(Error::Eval(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
        } else if !st.many.entry(addr(&sig)).or_default().insert(addr(&metric)) {
            return Err(Error::Eval(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if !e.keep && !self.return_bool {
            return Ok(());
        }
        st.out.push(ESample {
            metric,
            t: ls.t,
            f: e.f,
            h: e.h,
            // Prometheus keeps only the `bool` flag here: arithmetic drops the
            // name in `result_metric` right away.
            drop_name: self.return_bool,
        });
        Ok(())
    }
}
