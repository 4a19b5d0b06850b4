//! Elementwise math on float samples (histograms are skipped), dropping the metric
//! name: rounding, clamping, logarithms, trigonometry; and the scalar functions
//! `pi`, `min_of`, `max_of`.

use super::{InstantFn, scalar_of};
use crate::aggregate::{go_max, go_min};
use crate::eval::{ESample, EVector, Evaluator};
use ember_model::Labels;

/// Applies `g` to every float of a vector, marking the name for removal.
pub(crate) fn map_floats(ev: &Evaluator<'_>, v: &EVector, g: impl Fn(f64) -> f64) -> EVector {
    v.iter()
        .filter(|s| s.h.is_none())
        .map(|s| ESample {
            metric: ev.drop_now(&s.metric, true),
            t: s.t,
            f: g(s.f),
            h: None,
            drop_name: true,
        })
        .collect()
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

macro_rules! simple {
    ($g:expr) => {
        |ev, _, v, _| Ok(map_floats(ev, &v[0], $g))
    };
}

pub(crate) fn instant_fn(name: &str) -> Option<InstantFn> {
    Some(match name {
        "abs" => simple!(f64::abs),
        "ceil" => simple!(f64::ceil),
        "floor" => simple!(f64::floor),
        "exp" => simple!(f64::exp),
        "ln" => simple!(f64::ln),
        "log2" => simple!(f64::log2),
        "log10" => simple!(f64::log10),
        "sqrt" => simple!(f64::sqrt),
        "sgn" => simple!(sgn),
        "acos" => simple!(f64::acos),
        "acosh" => simple!(f64::acosh),
        "asin" => simple!(f64::asin),
        "asinh" => simple!(f64::asinh),
        "atan" => simple!(f64::atan),
        "atanh" => simple!(f64::atanh),
        "cos" => simple!(f64::cos),
        "cosh" => simple!(f64::cosh),
        "sin" => simple!(f64::sin),
        "sinh" => simple!(f64::sinh),
        "tan" => simple!(f64::tan),
        "tanh" => simple!(f64::tanh),
        "deg" => simple!(|v: f64| v * 180.0 / std::f64::consts::PI),
        "rad" => simple!(|v: f64| v * std::f64::consts::PI / 180.0),
        "pi" => |_, _, _, _| Ok(vec![ESample::float(Labels::empty(), std::f64::consts::PI)]),
        "min_of" => |_, _, v, _| {
            Ok(vec![ESample::float(
                Labels::empty(),
                go_min(scalar_of(&v[0]), scalar_of(&v[1])),
            )])
        },
        "max_of" => |_, _, v, _| {
            Ok(vec![ESample::float(
                Labels::empty(),
                go_max(scalar_of(&v[0]), scalar_of(&v[1])),
            )])
        },
        "round" => |ev, c, v, _| {
            let to = if c.args.len() > 1 {
                scalar_of(&v[1])
            } else {
                1.0
            };
            // The inverse gives fewer rounding artefacts than dividing.
            let inv = 1.0 / to;
            Ok(map_floats(ev, &v[0], |f| (f * inv + 0.5).floor() / inv))
        },
        "clamp" => |ev, _, v, _| {
            let (lo, hi) = (scalar_of(&v[1]), scalar_of(&v[2]));
            if hi < lo {
                return Ok(Vec::new());
            }
            Ok(map_floats(ev, &v[0], |f| go_max(lo, go_min(hi, f))))
        },
        "clamp_min" => |ev, _, v, _| {
            let lo = scalar_of(&v[1]);
            Ok(map_floats(ev, &v[0], |f| {
                go_max(lo, go_min(f64::INFINITY, f))
            }))
        },
        "clamp_max" => |ev, _, v, _| {
            let hi = scalar_of(&v[1]);
            Ok(map_floats(ev, &v[0], |f| {
                go_max(f64::NEG_INFINITY, go_min(hi, f))
            }))
        },
        _ => return None,
    })
}
