//! Rule files in Prometheus's format: a list of `groups`, each with a `name`, an
//! optional `interval`, `query_offset`, `limit` and `labels`, and its `rules`, each a
//! `record` or an `alert` with an `expr` (plus `for`, `keep_firing_for`, `labels` and
//! `annotations`).
//!
//! Parsing goes in three passes, as Prometheus's `rulefmt` does with two YAML
//! decoders: a shape-only pass finds unknown keys with their lines (so that
//! `--ignore-unknown-fields` can switch that check off without a second schema), a
//! typed pass reads the values with their positions, and validation reports every
//! problem with file, group, rule index, rule name and position.

use crate::error::{Error, Position, RuleProblem};
use ember_config::{Duration, YamlNode, is_blank_document, strict_options};
use ember_model::labels::{ValidationScheme, is_valid_label_name, is_valid_metric_name};
use ember_promql_parser::ParserOptions;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// The parsed content of one rule file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleGroups {
    /// The groups, in file order.
    pub groups: Vec<GroupDesc>,
}

/// One `groups` entry as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupDesc {
    /// `name`.
    pub name: String,
    /// `interval`; `None` means the global `evaluation_interval`.
    pub interval: Option<Duration>,
    /// `query_offset`; `None` means the global `rule_query_offset`.
    pub query_offset: Option<Duration>,
    /// `limit`: most series (recording) or alerts (alerting) a rule may produce; 0
    /// for no limit.
    pub limit: usize,
    /// `labels`, added to every rule's labels (rule labels win).
    pub labels: BTreeMap<String, String>,
    /// The rules, in evaluation order.
    pub rules: Vec<RuleDesc>,
    /// Where the group's mapping starts.
    pub position: Position,
}

/// One rule as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleDesc {
    /// `record`: the metric name of a recording rule; empty for an alerting rule.
    pub record: String,
    /// `alert`: the alert name of an alerting rule; empty for a recording rule.
    pub alert: String,
    /// `expr`, the PromQL expression.
    pub expr: String,
    /// `for`: how long an alert stays pending before it fires.
    pub for_: Duration,
    /// `keep_firing_for`: how long an alert keeps firing after its condition clears.
    pub keep_firing_for: Duration,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `annotations` (alerting rules only).
    pub annotations: BTreeMap<String, String>,
    /// Where `record`'s value is (0:0 when absent).
    pub record_position: Position,
    /// Where `alert`'s value is (0:0 when absent).
    pub alert_position: Position,
    /// Where `expr`'s value is (0:0 when absent).
    pub expr_position: Position,
}

impl RuleDesc {
    /// The rule's name: `alert` for an alerting rule, else `record`.
    pub fn name(&self) -> &str {
        if self.alert.is_empty() {
            &self.record
        } else {
            &self.alert
        }
    }
}

/// How to parse rule files.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Accept keys the format does not know (`--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// Which metric and label names are valid.
    pub validation_scheme: ValidationScheme,
    /// PromQL parser options (experimental features).
    pub parser: ParserOptions,
}

/// Reads and parses a rule file; all problems found are returned.
pub fn parse_file(path: &Path, opts: &ParseOptions) -> Result<RuleGroups, Vec<Error>> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        vec![Error::Io {
            file: path.to_path_buf(),
            source,
        }]
    })?;
    parse(&text, path, opts)
}

/// Parses and validates the text of a rule file named `file` (used in messages).
pub fn parse(text: &str, file: &Path, opts: &ParseOptions) -> Result<RuleGroups, Vec<Error>> {
    let yaml_err = |message: String| {
        vec![Error::Yaml {
            file: file.to_path_buf(),
            message,
        }]
    };
    // Only the first document counts, as in Prometheus (which warns about the rest).
    let text = first_document(text);
    if is_blank_document(text) {
        return Ok(RuleGroups::default());
    }
    // The shape alone first, for the unknown-field check.
    let shape: Option<Spanned<YamlNode>> =
        serde_saphyr::from_str_with_options(text, strict_options())
            .map_err(|e| yaml_err(syntax(&e)))?;
    if !opts.ignore_unknown_fields
        && let Some(root) = &shape
    {
        let mut unknown = Vec::new();
        check_fields(root, &FILE_SCHEMA, &mut unknown);
        if !unknown.is_empty() {
            let mut msg = String::from("yaml: unmarshal errors:");
            for u in unknown {
                msg.push_str("\n  ");
                msg.push_str(&u);
            }
            return Err(yaml_err(msg));
        }
    }
    let raw: Option<RawFile> = serde_saphyr::from_str_with_options(text, strict_options())
        .map_err(|e| yaml_err(syntax(&e)))?;
    let raw = raw.unwrap_or_default();
    let groups = raw
        .groups
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|g| convert_group(g.value.unwrap_or_default(), pos(&g.referenced)))
        .collect();
    let rgs = RuleGroups { groups };
    let errs = validate(&rgs, file, opts);
    if errs.is_empty() { Ok(rgs) } else { Err(errs) }
}

fn first_document(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if (t == "---" || t.starts_with("--- ")) && seen_content {
            return &text[..offset];
        }
        if !t.trim().is_empty() && !t.trim_start().starts_with('#') && t != "---" {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

fn pos(l: &serde_saphyr::Location) -> Position {
    Position {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX),
        column: u32::try_from(l.column()).unwrap_or(u32::MAX),
    }
}

/// Go's `yaml` wording for a decoding error: `yaml: line N: message`.
fn syntax(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let line = e.location().map(|l| l.line()).unwrap_or(0);
    let msg = serde_saphyr::DefaultMessageFormatter
        .format_message(e)
        .into_owned();
    if line > 0 {
        format!("yaml: unmarshal errors:\n  line {line}: {msg}")
    } else {
        format!("yaml: {msg}")
    }
}

/// The keys a mapping may hold, Go's type name for messages, and the schema of the
/// children that are themselves structs (lists of them).
struct Schema {
    go_type: &'static str,
    fields: &'static [&'static str],
    children: &'static [(&'static str, &'static Schema)],
}

const RULE_SCHEMA: Schema = Schema {
    go_type: "rulefmt.Rule",
    fields: &[
        "record",
        "alert",
        "expr",
        "for",
        "keep_firing_for",
        "labels",
        "annotations",
    ],
    children: &[],
};

const GROUP_SCHEMA: Schema = Schema {
    go_type: "rulefmt.RuleGroup",
    fields: &[
        "name",
        "interval",
        "query_offset",
        "limit",
        "rules",
        "labels",
    ],
    children: &[("rules", &RULE_SCHEMA)],
};

const FILE_SCHEMA: Schema = Schema {
    go_type: "rulefmt.RuleGroups",
    fields: &["groups"],
    children: &[("groups", &GROUP_SCHEMA)],
};

fn check_fields(node: &Spanned<YamlNode>, schema: &Schema, out: &mut Vec<String>) {
    let YamlNode::Map(entries) = &node.value else {
        return;
    };
    for (k, v) in entries {
        if !schema.fields.contains(&k.value.as_str()) {
            out.push(format!(
                "line {}: field {} not found in type {}",
                k.referenced.line(),
                k.value,
                schema.go_type
            ));
            continue;
        }
        if let Some((_, child)) = schema.children.iter().find(|(n, _)| *n == k.value)
            && let YamlNode::Seq(items) = &v.value
        {
            for item in items {
                check_fields(item, child, out);
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct RawFile {
    groups: Option<Vec<Option<Spanned<Option<RawGroup>>>>>,
}

#[derive(Deserialize, Default)]
struct RawGroup {
    name: Option<String>,
    interval: Option<Duration>,
    query_offset: Option<Duration>,
    limit: Option<i64>,
    rules: Option<Vec<Option<RawRule>>>,
    labels: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default)]
struct RawRule {
    record: Option<Spanned<Option<String>>>,
    alert: Option<Spanned<Option<String>>>,
    expr: Option<Spanned<Option<String>>>,
    #[serde(rename = "for")]
    for_: Option<Duration>,
    keep_firing_for: Option<Duration>,
    labels: Option<BTreeMap<String, Option<String>>>,
    annotations: Option<BTreeMap<String, Option<String>>>,
}

fn string_map(m: Option<BTreeMap<String, Option<String>>>) -> BTreeMap<String, String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect()
}

fn spanned_str(s: Option<Spanned<Option<String>>>) -> (String, Position) {
    match s {
        Some(s) => (s.value.unwrap_or_default(), pos(&s.referenced)),
        None => (String::new(), Position::default()),
    }
}

fn convert_group(g: RawGroup, position: Position) -> GroupDesc {
    GroupDesc {
        name: g.name.unwrap_or_default(),
        interval: g.interval.filter(|d| !d.is_zero()),
        query_offset: g.query_offset,
        limit: usize::try_from(g.limit.unwrap_or(0)).unwrap_or(0),
        labels: string_map(g.labels),
        rules: g
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let r = r.unwrap_or_default();
                let (record, record_position) = spanned_str(r.record);
                let (alert, alert_position) = spanned_str(r.alert);
                let (expr, expr_position) = spanned_str(r.expr);
                RuleDesc {
                    record,
                    alert,
                    expr,
                    for_: r.for_.unwrap_or_default(),
                    keep_firing_for: r.keep_firing_for.unwrap_or_default(),
                    labels: string_map(r.labels),
                    annotations: string_map(r.annotations),
                    record_position,
                    alert_position,
                    expr_position,
                }
            })
            .collect(),
        position,
    }
}

/// Prometheus's checks on a parsed file, every problem reported.
fn validate(rgs: &RuleGroups, file: &Path, opts: &ParseOptions) -> Vec<Error> {
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let group_err = |position: Option<Position>, message: String| Error::Group {
        file: file.to_path_buf(),
        position,
        message,
    };
    for g in &rgs.groups {
        if g.name.is_empty() {
            errs.push(group_err(
                Some(g.position),
                "Groupname must not be empty".into(),
            ));
        }
        if !seen.insert(g.name.as_str()) {
            errs.push(group_err(
                Some(g.position),
                format!("groupname: \"{}\" is repeated in the same file", g.name),
            ));
        }
        for k in g.labels.keys() {
            if !is_valid_label_name(k, opts.validation_scheme) || k == "__name__" {
                errs.push(group_err(None, format!("invalid label name: {k}")));
            }
        }
        for (i, r) in g.rules.iter().enumerate() {
            for (position, alt_position, message) in validate_rule(r, opts) {
                errs.push(Error::Rule(Box::new(RuleProblem {
                    file: file.to_path_buf(),
                    group: g.name.clone(),
                    index: i + 1,
                    name: r.name().to_string(),
                    position,
                    alt_position,
                    message,
                })));
            }
        }
    }
    errs
}

type Problem = (Option<Position>, Option<Position>, String);

fn validate_rule(r: &RuleDesc, opts: &ParseOptions) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let both = Some(r.record_position);
    let alt = Some(r.alert_position);
    if !r.record.is_empty() && !r.alert.is_empty() {
        out.push((
            both,
            alt,
            "only one of 'record' and 'alert' must be set".into(),
        ));
    }
    if r.record.is_empty() && r.alert.is_empty() {
        out.push((both, alt, "one of 'record' or 'alert' must be set".into()));
    }
    let at_expr = Some(r.expr_position);
    if r.expr.is_empty() {
        out.push((at_expr, None, "field 'expr' must be set in rule".into()));
    } else if let Err(e) = ember_promql_parser::Parser::new(opts.parser).parse_expr(&r.expr) {
        out.push((at_expr, None, format!("could not parse expression: {e}")));
    }
    let at_record = Some(r.record_position);
    if !r.record.is_empty() {
        if !r.annotations.is_empty() {
            out.push((
                at_record,
                None,
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
        if !r.for_.is_zero() {
            out.push((
                at_record,
                None,
                "invalid field 'for' in recording rule".into(),
            ));
        }
        if !r.keep_firing_for.is_zero() {
            out.push((
                at_record,
                None,
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if !is_valid_metric_name(&r.record, opts.validation_scheme) {
            out.push((
                at_record,
                None,
                format!("invalid recording rule name: {}", r.record),
            ));
        }
        if r.record.contains(['{', '}']) {
            out.push((
                at_record,
                None,
                format!(
                    "braces present in the recording rule name; should it be in expr?: {}",
                    r.record
                ),
            ));
        }
    }
    for k in r.labels.keys() {
        if !is_valid_label_name(k, opts.validation_scheme) || k == "__name__" {
            out.push((None, None, format!("invalid label name: {k}")));
        }
    }
    for k in r.annotations.keys() {
        if !is_valid_label_name(k, opts.validation_scheme) {
            out.push((None, None, format!("invalid annotation name: {k}")));
        }
    }
    // Templates are only expanded for alerting rules, so only theirs are checked.
    if !r.alert.is_empty() {
        for (k, v) in &r.labels {
            if let Err(e) = crate::template::check(&r.alert, v) {
                out.push((None, None, format!("label {k:?}: {e}")));
            }
        }
        for (k, v) in &r.annotations {
            if let Err(e) = crate::template::check(&r.alert, v) {
                out.push((None, None, format!("annotation {k:?}: {e}")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<RuleGroups, Vec<String>> {
        parse(text, Path::new("r.yml"), &ParseOptions::default())
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn parses_groups_and_rules() {
        let g = p("groups:\n  - name: a\n    interval: 30s\n    limit: 3\n    labels: {team: x}\n    rules:\n      - record: r\n        expr: up\n      - alert: A\n        expr: 1\n        for: 5m\n        labels: {sev: page}\n        annotations: {s: '{{ $value }}'}\n")
            .unwrap();
        let g = &g.groups[0];
        assert_eq!(g.name, "a");
        assert_eq!(g.interval.unwrap().as_millis(), 30_000);
        assert_eq!(g.limit, 3);
        assert_eq!(g.rules[1].expr, "1");
        assert_eq!(g.rules[1].for_.as_millis(), 300_000);
        assert_eq!(
            g.rules[0].expr_position,
            Position {
                line: 8,
                column: 15
            }
        );
    }

    #[test]
    fn reports_like_promtool() {
        let e = p("groups:\n  - name: bad-syntax\n    rules:\n      - record: x\n        expr: 'test +'\n")
            .unwrap_err();
        assert_eq!(
            e,
            vec![
                "r.yml: 5:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: unexpected end of input"
            ]
        );
        let e = p("groups:\n  - name: a\n    rules:\n      - expr: up\n").unwrap_err();
        assert_eq!(
            e,
            vec![
                "r.yml: 0:0: 0:0: group \"a\", rule 1, \"\": one of 'record' or 'alert' must be set"
            ]
        );
        let e = p("groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n").unwrap_err();
        assert_eq!(
            e,
            vec!["r.yml: 4:5: groupname: \"a\" is repeated in the same file"]
        );
        let e = p("groups:\n  - name: a\n    owner: me\n    rules: []\n").unwrap_err();
        assert_eq!(
            e,
            vec![
                "r.yml: yaml: unmarshal errors:\n  line 3: field owner not found in type rulefmt.RuleGroup"
            ]
        );
        let ok = parse(
            "groups:\n  - name: a\n    owner: me\n    rules: []\n",
            Path::new("r.yml"),
            &ParseOptions {
                ignore_unknown_fields: true,
                ..Default::default()
            },
        );
        assert!(ok.is_ok());
        let e = p("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          s: '{{ $label.x }}'\n").unwrap_err();
        assert_eq!(
            e,
            vec![
                "r.yml: group \"a\", rule 1, \"A\": annotation \"s\": template: __alert_A:1: undefined variable \"$label\""
            ]
        );
    }

    #[test]
    fn empty_file_has_no_groups() {
        assert_eq!(p("# nothing\n").unwrap(), RuleGroups::default());
    }
}
