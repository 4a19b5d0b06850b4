//! Ember's Alertmanager: the configuration and the routing core.
//!
//! This crate holds what every other part of the Alertmanager builds on, each with
//! Alertmanager 0.25's exact semantics (the version Debian ships, the oracle of the
//! interoperability tests):
//!
//! - [`config`]: the `alertmanager.yml` schema with its defaults, `global`
//!   inheritance and checks, loaded strictly (unknown fields and duplicate keys are
//!   errors, as with Go's `yaml.UnmarshalStrict`), every error naming file, line and
//!   field ([`Error`]);
//! - [`matcher`]: the matcher syntax of routes, inhibition rules, silences and
//!   `amtool` (`foo="bar"`, `{a=~"b.*", c!="d"}`);
//! - [`Route`]: the routing tree with inherited options, matching, route keys, group
//!   labels and group keys;
//! - [`TimeInterval`]: whether an instant lies in a time interval, in its time zone;
//! - [`InhibitRule`]: whether one alert inhibits another.
//!
//! On these the running Alertmanager (`ember alertmanager`) is built:
//!
//! - [`alert`]: alerts and the store that merges re-sent ones by fingerprint;
//! - [`silence`] and [`nflog`]: silences and the notification log, persisted under
//!   `--storage.path` in formats documented in `docs/format/`;
//! - [`tmpl`]: the template data model, functions and default templates;
//! - [`notify`]: the integrations (webhook, Slack, e-mail, PagerDuty, Opsgenie,
//!   VictorOps, Pushover, SNS, Telegram, Discord, Webex, Microsoft Teams), their
//!   payloads byte for byte as Alertmanager's, and their retry rules;
//! - [`Alertmanager`]: the dispatcher with its aggregation groups and timers, the
//!   notification pipeline, reload and maintenance;
//! - [`api`]: API v2 and the lifecycle endpoints over `axum`.
//!
//! Beyond Alertmanager, two long-standing requests, described in
//! `docs/extensions.md`: firing alerts are notified again as soon as the silence or
//! time interval that muted them ends (`--notify.on-unmute`, on by default), and
//! silences being created and ending can be reported through a receiver
//! (`silence_notifications:` in the configuration).
//!
//! Written by hand rather than taken from a crate: nothing on crates.io reads
//! `alertmanager.yml`, and the quirks that decide whether a file or a matcher is
//! accepted (what 0.25's parser tolerates, which defaults come from `global`, how
//! `match_re` patterns are anchored and appear in route keys) are the contract. The
//! YAML goes through `serde-saphyr` (strict, with positions), the HTTP client settings
//! become `ember-config`'s shared [`ember_config::HttpClientConfig`], regexes use
//! `ember-model`'s Go-compatible [`ember_model::Regex`], templates are parse-checked
//! with `ember-template`, and time zones come from the system tz database through
//! `jiff`.

pub mod alert;
pub mod api;
pub mod config;
mod error;
mod http;
mod inhibit;
pub mod matcher;
pub mod nflog;
pub mod notify;
pub mod receivers;
mod route;
mod server;
pub mod silence;
mod timeinterval;
pub mod tmpl;
mod values;
mod yaml;

pub use config::{
    Config, GlobalConfig, InhibitRuleConfig, NamedTimeInterval, RouteConfig, load_file, load_str,
};
pub use error::Error;
pub use inhibit::{InhibitRule, find_inhibitor};
pub use matcher::{Matcher, Matchers, parse_matcher, parse_matchers};
pub use receivers::Receiver;
pub use route::{Route, RouteOpts, fingerprint, label_set_string};
pub use server::{Alertmanager, Options};
pub use timeinterval::{InclusiveRange, Location, TimeInterval, TimeRange, any_contains};
pub use values::{HostPort, check_url, is_valid_label_name, parse_go_duration};

/// Re-exported so that callers can build the times [`TimeInterval::contains`] takes.
pub use jiff;
