//! Loading a whole file: the top-level schema, the order of checks, and the full
//! check of referenced files. The sections themselves are in `scrape` and
//! `sections`.
//!
//! Prometheus checks a config in three rounds, and which error a file with several
//! problems reports depends on them, so they are kept:
//!
//! 1. while decoding, each section checks itself (`UnmarshalYAML`): these errors
//!    come in document order, so each section is converted on its own and the
//!    earliest error wins;
//! 2. then `Config.UnmarshalYAML` checks what needs `global` (scrape job defaults,
//!    relabel rules under the name validation scheme, duplicate names);
//! 3. then `Load`/`LoadFile` expand external labels and check agent mode, and
//!    promtool (here: unless `syntax_only`) reads the files the config refers to.

use crate::relabel::validate_relabels;
use crate::scrape::{
    GlobalExtra, RawGlobal, RawScrapeConfig, convert_global, scrape_list, stage_all,
};
use crate::sections::{
    RawAlerting, RawOtlp, RawRemoteRead, RawRemoteWrite, RawStorage, RawTracing, alerting_finish,
    alerting_stage, convert_otlp, convert_storage, convert_tracing, remote_read_stage,
    remote_write_stage,
};
use crate::types::*;
use crate::yaml::{Pos, Sp, parse};
use crate::{ConfigError, LoadOptions};
use ember_model::labels::{Labels, ValidationScheme};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------
// Context shared by the converters.

/// A file the config refers to, read when the whole config is checked.
struct FileRef {
    path: String,
    field: String,
    pos: Pos,
}

/// What every converter needs: where errors are reported and what paths are
/// relative to.
pub(crate) struct Ctx {
    file: PathBuf,
    dir: PathBuf,
    file_refs: Vec<FileRef>,
}

impl Ctx {
    fn new(file: &Path) -> Ctx {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ctx {
            file: file.to_path_buf(),
            dir,
            file_refs: Vec::new(),
        }
    }

    pub(crate) fn invalid(&self, field: &str, pos: Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(&self, field: &str, pos: Pos, feature: &str) -> ConfigError {
        ConfigError::Unsupported {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.to_string(),
            feature: feature.to_string(),
        }
    }

    /// Joins a relative path with the config file's directory, as Prometheus's
    /// `SetDirectory` does (empty and absolute paths are left alone).
    pub(crate) fn join(&self, p: &str) -> String {
        if p.is_empty() || Path::new(p).is_absolute() {
            return p.to_string();
        }
        go_clean(&format!("{}/{p}", self.dir.display()))
    }

    /// Reads every remembered `*_file`; the first unreadable one is the error.
    fn check_file_refs(&self) -> Result<(), ConfigError> {
        for r in &self.file_refs {
            if let Err(source) = std::fs::read(&r.path) {
                return Err(ConfigError::Io {
                    file: self.file.clone(),
                    line: r.pos.line,
                    column: r.pos.column,
                    field: r.field.clone(),
                    path: PathBuf::from(&r.path),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Joins a `*_file` path and remembers it to be read in a full check.
    pub(crate) fn file_ref(&mut self, field: &str, s: &Sp<String>) -> String {
        let path = self.join(&s.value);
        if !path.is_empty() {
            self.file_refs.push(FileRef {
                path: path.clone(),
                field: field.to_string(),
                pos: Pos::of(s),
            });
        }
        path
    }
}

/// Go's `filepath.Clean`: lexical removal of `.`, `..` and repeated slashes.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `base.name`, or `name` at the top.
pub(crate) fn sub(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

/// `base[i]`.
pub(crate) fn idx(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

// ---------------------------------------------------------------------------------
// Raw schema.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    global: Option<Sp<RawGlobal>>,
    runtime: Option<RawRuntime>,
    alerting: Option<Sp<RawAlerting>>,
    rule_files: Option<Vec<Sp<Option<String>>>>,
    scrape_config_files: Option<Vec<Sp<Option<String>>>>,
    scrape_configs: Option<Vec<Sp<Option<RawScrapeConfig>>>>,
    storage: Option<RawStorage>,
    tracing: Option<Sp<RawTracing>>,
    remote_write: Option<Vec<Sp<Option<RawRemoteWrite>>>>,
    remote_read: Option<Vec<Sp<Option<RawRemoteRead>>>>,
    otlp: Option<Sp<RawOtlp>>,
}

/// A file named by `scrape_config_files`: only scrape jobs.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScrapeConfigsFile {
    scrape_configs: Option<Vec<Sp<Option<RawScrapeConfig>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    gogc: Option<i64>,
}

// ---------------------------------------------------------------------------------
// External labels.

/// Go's `os.Expand` with Prometheus's mapping: `$$` is a literal `$`, unset or
/// empty variables expand to nothing.
fn expand_env(s: &str) -> String {
    let special = |c: u8| b"*#$@!?-".contains(&c) || c.is_ascii_digit();
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".into();
        }
        std::env::var(name).unwrap_or_default()
    };
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let rest = &s[j + 1..];
            let rb = rest.as_bytes();
            let (name, width): (Option<&str>, usize) = if rb[0] == b'{' {
                if rb.len() > 2 && special(rb[1]) && rb[2] == b'}' {
                    (Some(&rest[1..2]), 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => (None, 2),
                        Some(k) => (Some(&rest[1..=k]), k + 2),
                        None => (None, 1),
                    }
                }
            } else if special(rb[0]) {
                (Some(&rest[..1]), 1)
            } else {
                let n = rb
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (Some(&rest[..n]), n)
            };
            match name {
                // Bad syntax such as `${}`: the characters are dropped.
                None => {}
                // `$` not followed by a name stays.
                Some("") => out.push('$'),
                Some(n) => out.push_str(&lookup(n)),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(s.get(i..).unwrap_or(""));
    out
}

// ---------------------------------------------------------------------------------
// The whole file.

/// `^[^*]*(\*[^/]*)?$`: a glob only in the last path element.
fn valid_rule_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains(['*', '/']),
    }
}

fn earliest(errors: Vec<ConfigError>) -> Option<ConfigError> {
    errors.into_iter().min_by_key(ConfigError::sort_key)
}

/// Loads a configuration document; `file` names it in errors and anchors
/// relative paths.
pub(crate) fn load(text: &str, file: &Path, opts: &LoadOptions) -> Result<Config, ConfigError> {
    let raw: RawConfig = parse(text, file, "config.plain")?;
    let mut ctx = Ctx::new(file);

    // Round 1: each section on its own; the first error in the document wins.
    let mut errors = Vec::new();
    let global = convert_global(raw.global, &ctx)
        .map_err(|e| errors.push(e))
        .ok();
    let runtime = RuntimeConfig {
        gogc: raw.runtime.and_then(|r| r.gogc).unwrap_or(75),
    };
    let alerting = alerting_stage(raw.alerting, &mut ctx)
        .map_err(|e| errors.push(e))
        .ok();
    let scrape = stage_all(raw.scrape_configs, &mut ctx)
        .map_err(|e| errors.push(e))
        .ok();
    let storage = convert_storage(raw.storage, &ctx)
        .map_err(|e| errors.push(e))
        .ok();
    let tracing = convert_tracing(raw.tracing, &mut ctx)
        .map_err(|e| errors.push(e))
        .ok();
    let mut remote_write = Vec::new();
    for (i, item) in raw.remote_write.unwrap_or_default().into_iter().enumerate() {
        let field = idx("remote_write", i);
        let pos = Pos::of(&item);
        match remote_write_stage(item, &mut ctx, &field) {
            Ok(s) => remote_write.push((s, field, pos)),
            Err(e) => {
                errors.push(e);
                break;
            }
        }
    }
    let mut remote_read = Vec::new();
    for (i, item) in raw.remote_read.unwrap_or_default().into_iter().enumerate() {
        let field = idx("remote_read", i);
        let pos = Pos::of(&item);
        match remote_read_stage(item, &mut ctx, &field) {
            Ok(s) => remote_read.push((s, field, pos)),
            Err(e) => {
                errors.push(e);
                break;
            }
        }
    }
    let otlp = convert_otlp(raw.otlp, &ctx)
        .map_err(|e| errors.push(e))
        .ok();
    if let Some(e) = earliest(errors) {
        return Err(e);
    }
    let (
        Some((mut global, gx)),
        Some(alerting),
        Some(scrape),
        Some(storage),
        Some(tracing),
        Some((otlp, strategy_pos)),
    ) = (global, alerting, scrape, storage, tracing, otlp)
    else {
        return Err(ctx.invalid("", Pos::default(), "internal error: section lost"));
    };

    // Round 2: what needs `global`.
    let mut rule_files = Vec::new();
    let mut first_rule_pos = None;
    for (i, rf) in raw.rule_files.unwrap_or_default().into_iter().enumerate() {
        let pos = Pos::of(&rf);
        first_rule_pos.get_or_insert(pos);
        let p = rf.value.unwrap_or_default();
        if !valid_rule_path(&p) {
            return Err(ctx.invalid(
                &idx("rule_files", i),
                pos,
                format!("invalid rule file path {p:?}"),
            ));
        }
        rule_files.push((ctx.join(&p), idx("rule_files", i), pos));
    }
    let mut scrape_config_files = Vec::new();
    for (i, sf) in raw
        .scrape_config_files
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let pos = Pos::of(&sf);
        let p = sf.value.unwrap_or_default();
        if !valid_rule_path(&p) {
            return Err(ctx.invalid(
                &idx("scrape_config_files", i),
                pos,
                format!("invalid scrape config file path {p:?}"),
            ));
        }
        scrape_config_files.push((ctx.join(&p), idx("scrape_config_files", i), pos));
    }
    let mut job_names = HashMap::new();
    let scrape_configs = scrape_list(
        scrape,
        &global,
        &gx,
        &ctx,
        &mut job_names,
        "main config file",
    )?;
    let scheme = global.metric_name_validation_scheme;
    let alerting = alerting_finish(alerting, scheme, &ctx)?;
    let mut rw_names: Vec<String> = Vec::new();
    let mut remote_write_cfgs = Vec::new();
    for (stage, field, pos) in remote_write {
        let Some(stage) = stage else {
            return Err(ctx.invalid(&field, pos, "empty or null remote write config section"));
        };
        let name = stage.cfg.name.clone();
        if !name.is_empty() && rw_names.contains(&name) {
            return Err(ctx.invalid(
                &sub(&stage.field, "name"),
                stage.name_pos,
                format!("found multiple remote write configs with job name {name:?}"),
            ));
        }
        let mut cfg = stage.cfg;
        cfg.write_relabel_configs = validate_relabels(stage.relabel, scheme, &ctx)?;
        rw_names.push(name);
        remote_write_cfgs.push(cfg);
    }
    let mut rr_names: Vec<String> = Vec::new();
    let mut remote_read_cfgs = Vec::new();
    for (stage, field, pos) in remote_read {
        let Some(stage) = stage else {
            return Err(ctx.invalid(&field, pos, "empty or null remote read config section"));
        };
        let name = stage.cfg.name.clone();
        if !name.is_empty() && rr_names.contains(&name) {
            return Err(ctx.invalid(
                &sub(&stage.field, "name"),
                stage.name_pos,
                format!("found multiple remote read configs with job name {name:?}"),
            ));
        }
        rr_names.push(name);
        remote_read_cfgs.push(stage.cfg);
    }

    // Round 3: `Load` and `LoadFile`.
    global.external_labels = Labels::from_pairs(
        global
            .external_labels
            .iter()
            .map(|l| (l.name.clone(), expand_env(&l.value)))
            .collect::<Vec<_>>(),
    );
    if matches!(
        otlp.translation_strategy,
        TranslationStrategy::NoTranslation | TranslationStrategy::NoUtf8EscapingWithSuffixes
    ) && scheme == ValidationScheme::Legacy
    {
        return Err(ctx.invalid(
            "otlp.translation_strategy",
            strategy_pos,
            format!(
                "OTLP translation strategy {:?} is not allowed when UTF8 is disabled",
                otlp.translation_strategy.as_str()
            ),
        ));
    }
    if opts.agent_mode {
        if !alerting.alertmanagers.is_empty() || !alerting.alert_relabel_configs.is_empty() {
            return Err(ctx.invalid(
                "alerting",
                Pos::default(),
                "field alerting is not allowed in agent mode",
            ));
        }
        if let Some(pos) = first_rule_pos {
            return Err(ctx.invalid(
                "rule_files",
                pos,
                "field rule_files is not allowed in agent mode",
            ));
        }
        if !remote_read_cfgs.is_empty() {
            return Err(ctx.invalid(
                "remote_read",
                Pos::default(),
                "field remote_read is not allowed in agent mode",
            ));
        }
    }

    let mut config = Config {
        global,
        runtime,
        alerting,
        rule_files: rule_files.iter().map(|(p, _, _)| p.clone()).collect(),
        scrape_config_files: scrape_config_files
            .iter()
            .map(|(p, _, _)| p.clone())
            .collect(),
        scrape_configs,
        included_scrape_configs: Vec::new(),
        storage,
        tracing,
        remote_write: remote_write_cfgs,
        remote_read: remote_read_cfgs,
        otlp,
    };
    // `scrape_config_files` are loaded even for a syntax-only check: their jobs are
    // part of the configuration as much as inline ones, and a check that skipped
    // them would pass files the server then refuses (promtool's `--syntax-only`
    // does skip them; Ember's check is stricter on purpose).
    let mut contexts = Vec::new();
    for (pattern, field, pos) in &scrape_config_files {
        let paths = glob::glob(pattern).map_err(|e| {
            ctx.invalid(
                field,
                *pos,
                format!("error retrieving scrape config files for {pattern:?}: {e}"),
            )
        })?;
        let mut paths: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        paths.sort();
        for path in paths {
            let (included, included_ctx) =
                load_included(&path, &config.global, &gx, &mut job_names)?;
            config.included_scrape_configs.extend(included);
            contexts.push(included_ctx);
        }
    }
    if opts.syntax_only {
        return Ok(config);
    }

    // The full check: the files the config refers to must be there.
    for (path, field, pos) in &rule_files {
        if path.contains('*') {
            continue;
        }
        if let Err(source) = std::fs::metadata(path) {
            return Err(ConfigError::Io {
                file: ctx.file.clone(),
                line: pos.line,
                column: pos.column,
                field: field.clone(),
                path: PathBuf::from(path),
                source,
            });
        }
    }
    // As promtool does, files named by the jobs are looked at only once every
    // job is loaded.
    ctx.check_file_refs()?;
    for c in &contexts {
        c.check_file_refs()?;
    }
    Ok(config)
}

/// Loads one of `scrape_config_files`, with the main file's `global`.
fn load_included(
    path: &Path,
    global: &GlobalConfig,
    gx: &GlobalExtra,
    names: &mut HashMap<String, String>,
) -> Result<(Vec<ScrapeConfig>, Ctx), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        path: path.to_path_buf(),
        source,
    })?;
    let raw: RawScrapeConfigsFile = parse(&text, path, "config.ScrapeConfigs")?;
    let mut ctx = Ctx::new(path);
    let stages = stage_all(raw.scrape_configs, &mut ctx)?;
    let origin = format!(
        "{:?}",
        std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    );
    let cfgs = scrape_list(stages, global, gx, &ctx, names, &origin)?;
    Ok((cfgs, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_like_go() {
        // Only unset variables, so the test does not depend on the environment.
        let cases = [
            ("foo", "foo"),
            ("foo$$bar", "foo$bar"),
            ("foo$${EMBER_CFG_TEST_UNSET}", "foo${EMBER_CFG_TEST_UNSET}"),
            ("${EMBER_CFG_TEST_UNSET}", ""),
            ("a${EMBER_CFG_TEST_UNSET}b", "ab"),
            ("$EMBER_CFG_TEST_UNSET-x", "-x"),
            ("trailing$", "trailing$"),
            ("${}x", "x"),
            ("${unclosed", "unclosed"),
            ("$ x", "$ x"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_env(input), want, "{input}");
        }
    }

    #[test]
    fn path_cleaning() {
        assert_eq!(go_clean("./a/../b//c/"), "b/c");
        assert_eq!(
            go_clean("testdata/scrape_configs/../valid"),
            "testdata/valid"
        );
        assert_eq!(go_clean("/x/../../y"), "/y");
        assert_eq!(go_clean("../a"), "../a");
        assert!(valid_rule_path("my/*.rules"));
        assert!(!valid_rule_path("my/*/rule"));
    }
}
