//! Elementwise math on float samples (histograms are skipped), dropping the metric
//! name: rounding, clamping, logarithms, trigonometry.

use super::{instant, map_floats, scalar_of};
use crate::eval::{Evaluator, Result};
use crate::value::{Sample, Value};
use ember_model::Labels;
use ember_promql_parser::Call;

pub(crate) fn dispatch(ev: &mut Evaluator<'_>, c: &Call, name: &str) -> Option<Result<Value>> {
    let simple: Option<fn(f64) -> f64> = match name {
        "abs" => Some(f64::abs),
        "ceil" => Some(f64::ceil),
        "floor" => Some(f64::floor),
        "exp" => Some(f64::exp),
        "ln" => Some(f64::ln),
        "log2" => Some(f64::log2),
        "log10" => Some(f64::log10),
        "sqrt" => Some(f64::sqrt),
        "sgn" => Some(|v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        "acos" => Some(f64::acos),
        "acosh" => Some(f64::acosh),
        "asin" => Some(f64::asin),
        "asinh" => Some(f64::asinh),
        "atan" => Some(f64::atan),
        "atanh" => Some(f64::atanh),
        "cos" => Some(f64::cos),
        "cosh" => Some(f64::cosh),
        "sin" => Some(f64::sin),
        "sinh" => Some(f64::sinh),
        "tan" => Some(f64::tan),
        "tanh" => Some(f64::tanh),
        "deg" => Some(|v: f64| v * 180.0 / std::f64::consts::PI),
        "rad" => Some(|v: f64| v * std::f64::consts::PI / 180.0),
        _ => None,
    };
    if let Some(g) = simple {
        return Some(apply_simple(ev, c, g));
    }
    Some(match name {
        "pi" => instant(ev, c, |_, _, _, _, out| {
            out.push(Sample::float(Labels::empty(), 0, std::f64::consts::PI));
            Ok(())
        }),
        "round" => instant(ev, c, |_, c, v, _, out| {
            let to = if c.args.len() > 1 {
                scalar_of(&v[1])
            } else {
                1.0
            };
            let inv = 1.0 / to;
            map_floats(&v[0], out, |f| (f * inv + 0.5).floor() / inv);
            Ok(())
        }),
        "clamp" => instant(ev, c, |_, _, v, _, out| {
            let (lo, hi) = (scalar_of(&v[1]), scalar_of(&v[2]));
            if hi < lo {
                return Ok(());
            }
            map_floats(&v[0], out, |f| go_max(lo, go_min(hi, f)));
            Ok(())
        }),
        "clamp_min" => instant(ev, c, |_, _, v, _, out| {
            let lo = scalar_of(&v[1]);
            map_floats(&v[0], out, |f| go_max(lo, f));
            Ok(())
        }),
        "clamp_max" => instant(ev, c, |_, _, v, _, out| {
            let hi = scalar_of(&v[1]);
            map_floats(&v[0], out, |f| go_min(hi, f));
            Ok(())
        }),
        _ => return None,
    })
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn apply_simple(ev: &mut Evaluator<'_>, c: &Call, g: fn(f64) -> f64) -> Result<Value> {
    instant(ev, c, move |_, _, v, _, out| {
        map_floats(&v[0], out, g);
        Ok(())
    })
}
