//! `info(v, {selector})`: enriches each series of `v` with the data labels of the
//! info series (by default `target_info`) that share its identifying labels
//! (`instance`, `job`), as of the time `v`'s own `@` and offset select.

use super::unwrap;
use crate::Error;
use crate::eval::{EMatrix, ESample, ESeries, EVector, Evaluator, RawSeries, Result};
use crate::value::FPoint;
use ember_model::{Labels, LabelsBuilder, MatchType, Matcher};
use ember_promql_parser::{AtModifier, Call, Expr, VectorSelector};
use std::collections::{BTreeMap, HashMap, HashSet};

const TARGET_INFO: &str = "target_info";
const IDENTIFYING: [&str; 2] = ["instance", "job"];

fn matcher(kind: MatchType, name: &str, value: &str) -> Result<Matcher> {
    Matcher::new(kind, name, value).map_err(|e| Error::Eval(e.to_string()))
}

/// The `__name__` matchers that select info series: the positive ones as given,
/// only negative ones narrowed to `.+_info`, none meaning `target_info`.
fn effective_name_matchers(m: &[Matcher]) -> Result<Vec<Matcher>> {
    if m.iter()
        .any(|m| matches!(m.kind, MatchType::Equal | MatchType::RegexMatch))
    {
        return Ok(m.to_vec());
    }
    if !m.is_empty() {
        let mut v = vec![matcher(MatchType::RegexMatch, "__name__", ".+_info")?];
        v.extend(m.iter().cloned());
        return Ok(v);
    }
    Ok(vec![matcher(MatchType::Equal, "__name__", TARGET_INFO)?])
}

/// The `@` time and offset of the first selector in `e`, with the offsets of the
/// subqueries around it up to the one that pins the time.
fn at_and_offset(e: &Expr) -> (Option<AtModifier>, i64) {
    fn go(
        e: &Expr,
        path: &mut Vec<(Option<AtModifier>, i64)>,
    ) -> Option<(Option<AtModifier>, i64)> {
        match e {
            Expr::VectorSelector(vs) => {
                let mut at = vs.at;
                let mut off = vs.original_offset.as_millis();
                for (sat, soff) in path.iter().rev() {
                    if at.is_some() {
                        break;
                    }
                    off += soff;
                    at = *sat;
                }
                Some((at, off))
            }
            Expr::Subquery(sq) => {
                path.push((sq.at, sq.original_offset.as_millis()));
                let r = go(&sq.expr, path);
                path.pop();
                r
            }
            _ => e.children().into_iter().find_map(|c| go(c, path)),
        }
    }
    go(e, &mut Vec::new()).unwrap_or((None, 0))
}

fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn info(ev: &mut Evaluator<'_>, c: &Call) -> Result<EMatrix> {
    let (at, offset) = at_and_offset(unwrap(&c.args[0]));
    let base = ev.eval_matrix(&c.args[0])?;
    let mut data: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
    let mut name_matchers: Vec<Matcher> = Vec::new();
    match c.args.get(1).map(unwrap) {
        Some(Expr::VectorSelector(sel)) => {
            for m in &sel.label_matchers {
                data.entry(m.name.clone()).or_default().push(m.clone());
                if m.name == "__name__" {
                    name_matchers.push(m.clone());
                }
            }
        }
        _ => name_matchers.push(matcher(MatchType::Equal, "__name__", TARGET_INFO)?),
    }
    let effective = effective_name_matchers(&name_matchers)?;
    let ignore: HashSet<crate::eval::Metric> = base
        .iter()
        .filter(|s| {
            let n = s.metric.metric_name();
            effective.iter().all(|m| m.matches(n))
        })
        .map(|s| s.metric.clone())
        .collect();

    // Values of the identifying labels among the series to enrich.
    let mut id_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in base.iter().filter(|s| !ignore.contains(&s.metric)) {
        for l in IDENTIFYING {
            let v = s.metric.get_or_empty(l);
            if v.is_empty() {
                continue;
            }
            let e = id_values.entry(l).or_default();
            if !e.iter().any(|x| x == v) {
                e.push(v.to_string());
            }
        }
    }
    let mut sel_matchers = Vec::new();
    let mut sel_names = Vec::new();
    for ms in data.values() {
        for m in ms {
            if m.name == "__name__" {
                sel_names.push(m.clone());
            } else {
                sel_matchers.push(m.clone());
            }
        }
    }
    data.remove("__name__");
    let mut info_mat: EMatrix = Vec::new();
    if !id_values.is_empty() {
        let mut matchers: Vec<Matcher> = Vec::new();
        for (name, vals) in &id_values {
            let re: Vec<String> = vals.iter().map(|v| quote_meta(v)).collect();
            matchers.push(matcher(MatchType::RegexMatch, name, &re.join("|"))?);
        }
        matchers.extend(sel_matchers);
        matchers.extend(effective_name_matchers(&sel_names)?);
        let vs = VectorSelector {
            label_matchers: matchers,
            at,
            original_offset: ember_promql_parser::Duration::from_millis(offset),
            ..Default::default()
        };
        let series = ev.select_for(&vs, 0)?;
        info_mat = info_points(ev, &vs, &series)?;
    }
    combine(ev, &base, &info_mat, &ignore, &data)
}

/// The info series at every step, each point's value being the time of the sample
/// found (so that the newest of conflicting info series can win).
fn info_points(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
    series: &[RawSeries],
) -> Result<EMatrix> {
    let found = ev.selector_found(vs, series, false)?;
    let mut out = Vec::with_capacity(found.len());
    for (labels, pts) in found {
        let mut s = ESeries::new(labels, false);
        for (ts, t, is_hist) in pts {
            if is_hist {
                return Err(Error::Eval(format!(
                    "this should be an info metric, with float samples: {}",
                    s.metric
                )));
            }
            s.floats.push(FPoint { t: ts, f: t as f64 });
        }
        out.push(s);
    }
    Ok(out)
}

/// The identifying signature of `l` for info metric `name`.
fn signature(name: &str, l: &Labels) -> Labels {
    let mut b = LabelsBuilder::new(l.only(&IDENTIFYING));
    b.set("__name__", name);
    b.into_labels()
}

fn combine(
    ev: &mut Evaluator<'_>,
    base: &EMatrix,
    info: &EMatrix,
    ignore: &HashSet<crate::eval::Metric>,
    data: &BTreeMap<String, Vec<Matcher>>,
) -> Result<EMatrix> {
    let info_names: Vec<String> = {
        let mut v: Vec<String> = info
            .iter()
            .map(|s| s.metric.metric_name().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let info_sigs: HashMap<&Labels, Labels> = info
        .iter()
        .map(|s| (&*s.metric, signature(s.metric.metric_name(), &s.metric)))
        .collect();
    let all_match_empty = data.values().flatten().all(|m| m.matches(""));
    let base_ref = base;
    ev.range_eval(&[base_ref, info], |_, v, _| {
        let (bv, iv) = (&v[0], &v[1]);
        if bv.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_sig: HashMap<Labels, &ESample> = HashMap::new();
        for s in iv {
            if s.h.is_some() {
                return Err(Error::Eval("info sample should be float".into()));
            }
            let Some(sig) = info_sigs.get(&*s.metric) else {
                continue;
            };
            match by_sig.get(sig) {
                Some(existing) => {
                    let (et, nt) = (existing.f as i64, s.f as i64);
                    if et < nt {
                        by_sig.insert(sig.clone(), s);
                    } else if et == nt {
                        return Err(Error::Eval(format!(
                            "found duplicate series for info metric: existing {} @ {et}, new {} @ {nt}",
                            existing.metric, s.metric
                        )));
                    }
                }
                None => {
                    by_sig.insert(sig.clone(), s);
                }
            }
        }
        let mut out: EVector = Vec::with_capacity(bv.len());
        for bs in bv {
            if ignore.contains(&bs.metric) {
                out.push(bs.clone());
                continue;
            }
            let mut add = LabelsBuilder::new(Labels::empty());
            let mut matched = false;
            for name in &info_names {
                let Some(is) = by_sig.get(&signature(name, &bs.metric)) else {
                    continue;
                };
                matched = true;
                for l in is.metric.iter() {
                    if l.name == "__name__" {
                        continue;
                    }
                    if !data.is_empty() && !data.contains_key(&l.name) {
                        continue;
                    }
                    let cur = add.get(&l.name);
                    if !cur.is_empty() && cur != l.value {
                        return Err(Error::Eval(format!("conflicting label: {}", l.name)));
                    }
                    if bs.metric.has(&l.name) {
                        continue;
                    }
                    add.set(l.name.as_str(), l.value.as_str());
                }
            }
            if !matched && !all_match_empty {
                continue;
            }
            let mut b = LabelsBuilder::new((*bs.metric).clone());
            for l in add.labels().iter() {
                b.set(l.name.as_str(), l.value.as_str());
            }
            out.push(ESample {
                metric: b.into_labels().into(),
                ..bs.clone()
            });
        }
        Ok(out)
    })
}
