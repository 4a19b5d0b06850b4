//! Relabeling: the rewrite rules of `relabel_configs`, `metric_relabel_configs`,
//! `alert_relabel_configs` and `write_relabel_configs`, with Prometheus's defaults,
//! validation messages and per-action semantics.

use crate::labels::{Labels, LabelsBuilder, ValidationScheme, is_valid_label_name};
use crate::{Error, Regex};
use std::str::FromStr;
use std::sync::OnceLock;

/// A relabel action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Set `target_label` to the expanded `replacement` when `regex` matches.
    #[default]
    Replace,
    /// Keep the target only if `regex` matches the joined source values.
    Keep,
    /// Drop the target if `regex` matches.
    Drop,
    /// Keep the target only if the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drop the target if the joined source values equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to MD5(joined values) modulo `modulus`.
    HashMod,
    /// Copy labels whose names match `regex` to the expanded `replacement` name.
    LabelMap,
    /// Remove labels whose names match `regex`.
    LabelDrop,
    /// Remove labels whose names do not match `regex`.
    LabelKeep,
    /// Set `target_label` to the lowercased joined values.
    Lowercase,
    /// Set `target_label` to the uppercased joined values.
    Uppercase,
}

impl Action {
    /// The action's name as written in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl FromStr for Action {
    type Err = Error;
    /// Case-insensitive, as Prometheus lowercases the action before matching it.
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(Error::Relabel(format!("unknown relabel action {s:?}"))),
        })
    }
}

/// The default separator.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default replacement.
pub const DEFAULT_REPLACEMENT: &str = "$1";

fn default_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new("(.*)").expect("constant pattern compiles"))
}

/// One relabel rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator`.
    pub source_labels: Vec<String>,
    /// Joins the source values; default `;`.
    pub separator: String,
    /// `None` means the default `(.*)`. Prometheus treats an explicitly written regex
    /// differently from the default (see `validate` and the `replace` shortcut), so
    /// the distinction is kept.
    pub regex: Option<Regex>,
    /// For `hashmod`.
    pub modulus: u64,
    /// Label written by `replace`, `hashmod`, `lowercase`, `uppercase`, compared by
    /// `keepequal`/`dropequal`.
    pub target_label: String,
    /// Expansion template; default `$1`.
    pub replacement: String,
    /// What to do.
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.into(),
            regex: None,
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.into(),
            action: Action::Replace,
        }
    }
}

fn legacy_target_with_vars(s: &str) -> bool {
    static R: OnceLock<regex::Regex> = OnceLock::new();
    R.get_or_init(|| {
        regex::Regex::new(
            r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$",
        )
        .expect("constant pattern compiles")
    })
    .is_match(s)
}

impl RelabelConfig {
    /// The effective regex.
    pub fn regex(&self) -> &Regex {
        self.regex.as_ref().unwrap_or_else(|| default_regex())
    }

    /// Checks the rule as Prometheus does when loading a config; messages match
    /// Prometheus's.
    pub fn validate(&self, scheme: ValidationScheme) -> Result<(), Error> {
        use Action::*;
        let a = self.action;
        let err = |m: String| Err(Error::Relabel(m));
        if self.modulus == 0 && a == HashMod {
            return err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if matches!(
            a,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        ) && self.target_label.is_empty()
        {
            return err(format!(
                "relabel configuration for {} action requires 'target_label' value",
                a.as_str()
            ));
        }
        let has_var = self.target_label.contains('$');
        let valid_with_vars = |v: &str| match scheme {
            ValidationScheme::Utf8 => is_valid_label_name(v, scheme),
            ValidationScheme::Legacy => legacy_target_with_vars(v),
        };
        let bad_target = || {
            format!(
                "{:?} is invalid 'target_label' for {} action",
                self.target_label,
                a.as_str()
            )
        };
        if a == Replace && !has_var && !is_valid_label_name(&self.target_label, scheme) {
            return err(bad_target());
        }
        if a == Replace && has_var && !valid_with_vars(&self.target_label) {
            return err(bad_target());
        }
        if matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual | HashMod)
            && !is_valid_label_name(&self.target_label, scheme)
        {
            return err(bad_target());
        }
        if matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual)
            && self.replacement != DEFAULT_REPLACEMENT
        {
            return err(format!(
                "'replacement' can not be set for {} action",
                a.as_str()
            ));
        }
        if a == LabelMap && !valid_with_vars(&self.replacement) {
            return err(format!(
                "{:?} is invalid 'replacement' for {} action",
                self.replacement,
                a.as_str()
            ));
        }
        if matches!(a, KeepEqual | DropEqual)
            && (self.regex.is_some()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!(
                "{} action requires only 'source_labels' and `target_label`, and no other fields",
                a.as_str()
            ));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!(
                "{} action requires only 'regex', and no other fields",
                a.as_str()
            ));
        }
        Ok(())
    }
}

/// Applies `cfgs` in order; `None` if a rule dropped the label set.
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    let mut b = LabelsBuilder::new(labels.clone());
    process_builder(&mut b, cfgs, ValidationScheme::Utf8).then(|| b.into_labels())
}

/// Applies `cfgs` to a builder in place; false if a rule dropped it. `scheme` decides
/// which names `replace` may write (an invalid expanded target leaves labels unchanged).
pub fn process_builder(
    b: &mut LabelsBuilder,
    cfgs: &[RelabelConfig],
    scheme: ValidationScheme,
) -> bool {
    cfgs.iter().all(|c| apply(c, b, scheme))
}

fn apply(cfg: &RelabelConfig, b: &mut LabelsBuilder, scheme: ValidationScheme) -> bool {
    let val = {
        let mut v = String::new();
        for (i, n) in cfg.source_labels.iter().enumerate() {
            if i > 0 {
                v.push_str(&cfg.separator);
            }
            v.push_str(b.get(n));
        }
        v
    };
    let re = cfg.regex();
    match cfg.action {
        Action::Drop => return !re.is_match(&val),
        Action::Keep => return re.is_match(&val),
        Action::DropEqual => return b.get(&cfg.target_label) != val,
        Action::KeepEqual => return b.get(&cfg.target_label) == val,
        Action::Replace => {
            if val.is_empty()
                && cfg.regex.is_none()
                && !cfg.target_label.contains('$')
                && !cfg.replacement.contains('$')
            {
                b.set(cfg.target_label.clone(), cfg.replacement.clone());
                return true;
            }
            let Some(target) = re.expand(&val, &cfg.target_label) else {
                return true;
            };
            if !is_valid_label_name(&target, scheme) {
                return true;
            }
            let res = re.expand(&val, &cfg.replacement).unwrap_or_default();
            if res.is_empty() {
                b.del(&target);
            } else {
                b.set(target, res);
            }
        }
        Action::Lowercase => {
            b.set(cfg.target_label.clone(), val.to_lowercase());
        }
        Action::Uppercase => {
            b.set(cfg.target_label.clone(), val.to_uppercase());
        }
        Action::HashMod => {
            use md5::Digest;
            let sum = md5::Md5::digest(val.as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&sum[8..16]);
            let m = u64::from_be_bytes(tail) % cfg.modulus.max(1);
            b.set(cfg.target_label.clone(), m.to_string());
        }
        Action::LabelMap => {
            let snapshot: Vec<_> = b.iter().cloned().collect();
            for l in snapshot {
                if let Some(name) = re.expand(&l.name, &cfg.replacement) {
                    b.set(name, l.value);
                }
            }
        }
        Action::LabelDrop => {
            b.retain(|l| !re.is_match(&l.name));
        }
        Action::LabelKeep => {
            b.retain(|l| re.is_match(&l.name));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(action: Action) -> RelabelConfig {
        RelabelConfig {
            action,
            ..Default::default()
        }
    }

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied())
    }

    #[test]
    fn replace_with_groups() {
        let c = RelabelConfig {
            source_labels: vec!["a".into(), "b".into()],
            regex: Some(Regex::new("f(.*);(.*)r").unwrap()),
            target_label: "x".into(),
            replacement: "ch${1}-ch${2}".into(),
            ..cfg(Action::Replace)
        };
        let out = process(&ls(&[("a", "foo"), ("b", "bar")]), &[c]).unwrap();
        assert_eq!(out.get("x"), Some("choo-chba"));
    }

    #[test]
    fn replace_no_match_keeps_and_empty_deletes() {
        let c = RelabelConfig {
            source_labels: vec!["a".into()],
            regex: Some(Regex::new("nomatch(.*)").unwrap()),
            target_label: "a".into(),
            ..cfg(Action::Replace)
        };
        assert_eq!(
            process(&ls(&[("a", "foo")]), &[c]).unwrap(),
            ls(&[("a", "foo")])
        );
        let c = RelabelConfig {
            source_labels: vec!["a".into()],
            regex: Some(Regex::new("(f).*").unwrap()),
            target_label: "a".into(),
            replacement: "$2".into(),
            ..cfg(Action::Replace)
        };
        assert_eq!(
            process(&ls(&[("a", "foo")]), &[c]).unwrap(),
            Labels::empty()
        );
    }

    #[test]
    fn keep_drop_equal() {
        let mut c = cfg(Action::Keep);
        c.source_labels = vec!["a".into()];
        c.regex = Some(Regex::new("f.*").unwrap());
        assert!(process(&ls(&[("a", "foo")]), &[c.clone()]).is_some());
        assert!(process(&ls(&[("a", "bar")]), &[c.clone()]).is_none());
        c.action = Action::Drop;
        assert!(process(&ls(&[("a", "foo")]), &[c]).is_none());
        let mut c = cfg(Action::KeepEqual);
        c.source_labels = vec!["a".into()];
        c.target_label = "b".into();
        assert!(process(&ls(&[("a", "x"), ("b", "x")]), &[c.clone()]).is_some());
        assert!(process(&ls(&[("a", "x"), ("b", "y")]), &[c]).is_none());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Values from Prometheus's relabel_test.go.
        for (input, want) in [("baz", "976"), ("foo\nbar", "734")] {
            let c = RelabelConfig {
                source_labels: vec!["a".into()],
                target_label: "h".into(),
                modulus: 1000,
                ..cfg(Action::HashMod)
            };
            let out = process(&ls(&[("a", input)]), &[c]).unwrap();
            assert_eq!(out.get("h"), Some(want));
        }
    }

    #[test]
    fn labelmap_drop_keep_case() {
        let c = RelabelConfig {
            regex: Some(Regex::new("__meta_(.+)").unwrap()),
            replacement: "m_$1".into(),
            ..cfg(Action::LabelMap)
        };
        let out = process(&ls(&[("__meta_x", "1"), ("y", "2")]), &[c]).unwrap();
        assert_eq!(out, ls(&[("__meta_x", "1"), ("m_x", "1"), ("y", "2")]));
        let c = RelabelConfig {
            regex: Some(Regex::new("__.*").unwrap()),
            ..cfg(Action::LabelDrop)
        };
        assert_eq!(
            process(&out, &[c]).unwrap(),
            ls(&[("m_x", "1"), ("y", "2")])
        );
        let c = RelabelConfig {
            regex: Some(Regex::new("y").unwrap()),
            ..cfg(Action::LabelKeep)
        };
        assert_eq!(process(&out, &[c]).unwrap(), ls(&[("y", "2")]));
        let c = RelabelConfig {
            source_labels: vec!["y".into()],
            target_label: "u".into(),
            ..cfg(Action::Uppercase)
        };
        assert_eq!(
            process(&ls(&[("y", "aB")]), &[c]).unwrap().get("u"),
            Some("AB")
        );
    }

    #[test]
    fn default_replace_sets_constant() {
        let c = RelabelConfig {
            target_label: "env".into(),
            replacement: "prod".into(),
            ..cfg(Action::Replace)
        };
        assert_eq!(
            process(&Labels::empty(), &[c]).unwrap().get("env"),
            Some("prod")
        );
    }

    #[test]
    fn validation_messages() {
        let v = |c: RelabelConfig| {
            c.validate(ValidationScheme::Legacy)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            v(cfg(Action::HashMod)),
            "relabel configuration for hashmod requires non-zero modulus"
        );
        assert_eq!(
            v(cfg(Action::Replace)),
            "relabel configuration for replace action requires 'target_label' value"
        );
        let c = RelabelConfig {
            target_label: "1a".into(),
            ..cfg(Action::Replace)
        };
        assert_eq!(v(c), "\"1a\" is invalid 'target_label' for replace action");
        let c = RelabelConfig {
            target_label: "${1}".into(),
            ..cfg(Action::Replace)
        };
        assert!(c.validate(ValidationScheme::Legacy).is_ok());
        let c = RelabelConfig {
            target_label: "a".into(),
            ..cfg(Action::LabelDrop)
        };
        assert_eq!(
            v(c),
            "labeldrop action requires only 'regex', and no other fields"
        );
        let c = RelabelConfig {
            source_labels: vec!["a".into()],
            target_label: "b".into(),
            regex: Some(Regex::new("x").unwrap()),
            ..cfg(Action::KeepEqual)
        };
        assert!(v(c).contains("requires only 'source_labels'"));
        assert_eq!("LabelMap".parse::<Action>().unwrap(), Action::LabelMap);
        assert!("nope".parse::<Action>().is_err());
    }
}
