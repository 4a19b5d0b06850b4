//! `label_replace` and `label_join`: rewrite the labels of whole series. Writing
//! `__name__` keeps the (new) name even where it was to be dropped.

use super::{label_name_arg, string_arg};
use crate::Error;
use crate::eval::{EMatrix, Evaluator, Result, merge_same_labels};
use ember_model::labels::{ValidationScheme, is_valid_label_name};
use ember_model::{LabelsBuilder, Regex};
use ember_promql_parser::Call;

pub(crate) fn label_replace(ev: &mut Evaluator<'_>, c: &Call) -> Result<EMatrix> {
    let dst = string_arg(&c.args[1])?;
    if label_name_arg(&c.args[1])?.is_none() {
        return Err(Error::Eval(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let repl = string_arg(&c.args[2])?;
    let src = string_arg(&c.args[3])?;
    let re_src = string_arg(&c.args[4])?;
    let re = Regex::new(&re_src).map_err(|_| {
        Error::Eval(format!(
            "invalid regular expression in label_replace(): {re_src}"
        ))
    })?;
    if !is_valid_label_name(&dst, ValidationScheme::Utf8) {
        return Err(Error::Eval(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut m = ev.eval_matrix(&c.args[0])?;
    for s in &mut m {
        let v = s.metric.get_or_empty(&src);
        if let Some(res) = re.expand(v, &repl) {
            let mut b = LabelsBuilder::new((*s.metric).clone());
            b.set(dst.as_str(), res);
            s.metric = b.into_labels().into();
            if dst == "__name__" {
                s.drop_name = false;
            }
        }
    }
    merge_same_labels(m)
}

pub(crate) fn label_join(ev: &mut Evaluator<'_>, c: &Call) -> Result<EMatrix> {
    let dst = string_arg(&c.args[1])?;
    if label_name_arg(&c.args[1])?.is_none() {
        return Err(Error::Eval(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let sep = string_arg(&c.args[2])?;
    let srcs: Vec<String> = c.args[3..].iter().map(string_arg).collect::<Result<_>>()?;
    for (a, s) in c.args[3..].iter().zip(&srcs) {
        if label_name_arg(a)?.is_none() || !is_valid_label_name(s, ValidationScheme::Utf8) {
            return Err(Error::Eval(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
    }
    if !is_valid_label_name(&dst, ValidationScheme::Utf8) {
        return Err(Error::Eval(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut m = ev.eval_matrix(&c.args[0])?;
    for s in &mut m {
        let joined: Vec<&str> = srcs.iter().map(|n| s.metric.get_or_empty(n)).collect();
        let mut b = LabelsBuilder::new((*s.metric).clone());
        b.set(dst.as_str(), joined.join(&sep));
        s.metric = b.into_labels().into();
        if dst == "__name__" {
            s.drop_name = false;
        }
    }
    merge_same_labels(m)
}
