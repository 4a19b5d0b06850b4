//! Ember's data model: what a series *is*, independent of where it is stored or how it
//! travels.
//!
//! Every other crate speaks in these types: [`Labels`] identify a series, [`Matcher`]s
//! select series, [`relabel`] rewrites label sets the way Prometheus's `relabel_configs`
//! do, and [`Regex`] gives Go's RE2 semantics (fully anchored, ASCII classes) on top of
//! the `regex` crate so that a pattern copied from a Prometheus config matches the same
//! strings here. The crate does no I/O, so it can sit at the bottom of the workspace.

pub mod base64;
mod error;
pub mod histogram;
pub mod labels;
pub mod matcher;
pub mod regex;
pub mod relabel;
pub mod time;
pub mod value;

pub use error::Error;
pub use labels::{Label, Labels, LabelsBuilder, ValidationScheme};
pub use matcher::{MatchType, Matcher};
pub use regex::Regex;
