//! Recording and alerting rules: rule files, their evaluation, the templates of alert
//! labels and annotations, and promtool's rule checks and unit tests.
//!
//! The crate sits between the PromQL engine and the notifier. A [`Group`] is loaded
//! from rule files ([`file`](mod@file) parses and validates them with promtool's messages,
//! [`load_groups`] builds groups from paths the caller has already globbed), and is
//! evaluated at a timestamp the caller picks ([`Group::eval`]): each rule queries
//! through a [`QueryFunc`] — normally [`EngineQueryFunc`], the engine over a
//! `storage::Queryable` — and its results go to a `storage::Appendable`, recorded
//! series and `ALERTS`/`ALERTS_FOR_STATE` alike, with stale markers for series that
//! disappear. Alerting rules keep their alerts' state machine (inactive → pending →
//! firing, `for`, `keep_firing_for`) and hand back the alerts due for notification.
//!
//! Scheduling is left to the caller on purpose: the server ticks groups on the grid
//! given by [`eval_timestamp`], promtool's unit tests ([`unittest`]) step through
//! simulated time, and both run the same evaluation code. Templates ([`template`])
//! use `ember-template`, the engine Alertmanager shares, with Prometheus's functions.

mod error;
pub mod file;
mod group;
mod manager;
mod rule;
mod state_file;
pub mod template;
pub mod unittest;

pub use error::{Error, Position, RuleProblem};
pub use group::{
    EvalContext, Group, GroupOptions, LoadOptions, eval_timestamp, group_hash, group_key,
    load_groups,
};
pub use manager::{Manager, ManagerOptions, RuleConfig, SAVE_EVERY, to_notifier_alert};
pub use rule::{Alert, AlertState, AlertingRule, AlertingRuleOptions, Health, RecordingRule, Rule};

use ember_promql::{Engine, Sample, Value, Vector};
use ember_promql_parser::Expr;
use ember_storage::Queryable;
use std::sync::Arc;

/// Runs the instant queries of rules and of templates' `query` function.
pub trait QueryFunc: Send + Sync {
    /// Evaluates `q` at `t` (ms) to a vector; a scalar result becomes one sample
    /// without labels, anything else is an error.
    fn query(&self, q: &str, t: i64) -> Result<Vector, Error>;

    /// Evaluates an already parsed expression (`q` is its text, for messages).
    fn query_expr(&self, expr: &Expr, q: &str, t: i64) -> Result<Vector, Error> {
        let _ = expr;
        self.query(q, t)
    }
}

/// The [`QueryFunc`] over the PromQL engine and a storage, as Prometheus's
/// `EngineQueryFunc`.
pub struct EngineQueryFunc {
    /// The engine.
    pub engine: Engine,
    /// The storage queried.
    pub queryable: Arc<dyn Queryable>,
}

impl QueryFunc for EngineQueryFunc {
    fn query(&self, q: &str, t: i64) -> Result<Vector, Error> {
        let expr = self.engine.parse(q)?;
        self.query_expr(&expr, q, t)
    }

    fn query_expr(&self, expr: &Expr, q: &str, t: i64) -> Result<Vector, Error> {
        let r = self
            .engine
            .exec(self.queryable.as_ref(), q, expr, t, t, 0, None)?;
        to_vector(r.value)
    }
}

/// A query result as rules use it: vectors as they are, scalars as one sample.
pub fn to_vector(v: Value) -> Result<Vector, Error> {
    match v {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![Sample::float(ember_model::Labels::empty(), t, v)]),
        _ => Err(Error::Eval("rule result is not a vector or scalar".into())),
    }
}
