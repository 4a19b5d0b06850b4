//! The PromQL engine: evaluates expressions from `ember-promql-parser` over any
//! `ember_storage::Queryable` — the head, blocks, their fan-out, or remote read —
//! with Prometheus 3.x semantics.
//!
//! Layout follows Prometheus's own: [`engine`] is the entry point (instant and range
//! queries, limits), `eval` walks the tree step by step producing matrices,
//! `binary` and `aggregate` hold the operators, `functions/` one file per
//! function family, and `fhist` the float native histogram arithmetic (which the
//! model crate leaves to its users, as Prometheus's `FloatHistogram` methods are
//! query semantics). [`promqltest`] runs Prometheus's data-driven test files;
//! [`series_notation`] is the notation their series are written in, which
//! promtool's rule unit tests share.

mod aggregate;
mod annotations;
mod binary;
pub mod engine;
mod error;
mod eval;
mod fhist;
mod functions;
pub mod promqltest;
pub mod series_notation;
pub mod value;

pub use annotations::Annotations;
pub use engine::{Engine, EngineOptions, QueryResult};
pub use error::Error;
pub use value::{FPoint, HPoint, Matrix, Sample, Series, Value, Vector};
