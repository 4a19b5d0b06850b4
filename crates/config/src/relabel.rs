//! `relabel_configs` and friends: parsed here, represented and validated by
//! `ember_model::relabel`.

use crate::ConfigError;
use crate::load::{Ctx, idx};
use crate::yaml::{Pos, Sp, nullable};
use ember_model::Regex;
use ember_model::labels::ValidationScheme;
use ember_model::relabel::{Action, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR, RelabelConfig};
use serde::{Deserialize, Deserializer};

/// A regex compiled while parsing, so a bad pattern is reported at its position.
pub(crate) struct RegexField(Regex);

impl<'de> Deserialize<'de> for RegexField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s)
            .map(RegexField)
            .map_err(serde::de::Error::custom)
    }
}

/// An action checked while parsing (`unknown relabel action "x"`).
pub(crate) struct ActionField(Action);

impl<'de> Deserialize<'de> for ActionField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Action>()
            .map(ActionField)
            .map_err(serde::de::Error::custom)
    }
}

/// A label name checked while parsing; Prometheus 3 accepts any non-empty UTF-8.
pub(crate) struct LabelName(pub(crate) String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom(format!(
                "{s:?} is not a valid label name"
            )));
        }
        Ok(LabelName(s))
    }
}

/// A relabel rule as written. Go's decoder zeroes a field on an explicit `null`
/// (so `regex:` alone is the empty pattern, `action: null` is an empty action),
/// which the double options keep apart from absent fields.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelabel {
    source_labels: Option<Vec<LabelName>>,
    #[serde(default, deserialize_with = "nullable")]
    separator: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    regex: Option<Option<RegexField>>,
    modulus: Option<u64>,
    #[serde(default, deserialize_with = "nullable")]
    target_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    replacement: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    action: Option<Option<ActionField>>,
}

/// A list of rules as written; a `null` entry is kept to be reported.
pub(crate) type RawRelabels = Option<Vec<Sp<Option<RawRelabel>>>>;

/// A rule converted but not yet validated, with what validation needs.
pub(crate) struct PendingRelabel {
    config: RelabelConfig,
    empty_action: bool,
    field: String,
    pos: Pos,
}

/// Converts a list; `null_msg` is Prometheus's message for a `null` entry.
pub(crate) fn convert_relabels(
    raw: RawRelabels,
    ctx: &Ctx,
    field: &str,
    null_msg: &str,
) -> Result<Vec<PendingRelabel>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in raw.unwrap_or_default().into_iter().enumerate() {
        let pos = Pos::of(&item);
        let here = idx(field, i);
        let Some(r) = item.value else {
            return Err(ctx.invalid(&here, pos, null_msg));
        };
        let regex = match r.regex {
            None => None,
            Some(Some(RegexField(re))) => Some(re),
            Some(None) => Some(Regex::new("").map_err(|e| ctx.invalid(&here, pos, e.to_string()))?),
        };
        let empty_action = matches!(r.action, Some(None));
        out.push(PendingRelabel {
            config: RelabelConfig {
                source_labels: r
                    .source_labels
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.0)
                    .collect(),
                separator: r
                    .separator
                    .map_or_else(|| DEFAULT_SEPARATOR.to_string(), Option::unwrap_or_default),
                regex,
                modulus: r.modulus.unwrap_or(0),
                target_label: r.target_label.flatten().unwrap_or_default(),
                replacement: r.replacement.map_or_else(
                    || DEFAULT_REPLACEMENT.to_string(),
                    Option::unwrap_or_default,
                ),
                action: r.action.flatten().map_or(Action::Replace, |a| a.0),
            },
            empty_action,
            field: here,
            pos,
        });
    }
    Ok(out)
}

/// Validates rules under `scheme` (Prometheus's `relabel.Config.Validate`).
pub(crate) fn validate_relabels(
    pending: Vec<PendingRelabel>,
    scheme: ValidationScheme,
    ctx: &Ctx,
) -> Result<Vec<RelabelConfig>, ConfigError> {
    pending
        .into_iter()
        .map(|p| {
            if p.empty_action {
                return Err(ctx.invalid(&p.field, p.pos, "relabel action cannot be empty"));
            }
            p.config
                .validate(scheme)
                .map_err(|e| ctx.invalid(&p.field, p.pos, e.to_string()))?;
            Ok(p.config)
        })
        .collect()
}

/// Whether a list holds any rule (Prometheus skips its target-address check then).
pub(crate) fn any(raw: &RawRelabels) -> bool {
    raw.as_ref().is_some_and(|v| !v.is_empty())
}
