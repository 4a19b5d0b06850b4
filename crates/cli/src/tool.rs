//! `ember tool`: the promtool jobs, with promtool's output shape and exit codes so
//! that CI scripts written against promtool work unchanged.

use clap::Subcommand;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum ToolCommand {
    /// Check the resources for validity.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Unit testing.
    Test(TestArgs),
    /// Run PromQL test files (Prometheus's promqltest language).
    Promqltest {
        /// Test files, or folders whose `*.test` files to run.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print each failing case.
        #[arg(long, short)]
        verbose: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum CheckCommand {
    /// Check if the config files are valid or not.
    Config {
        /// Only check the config file syntax, ignoring file and content validation
        /// referenced in the config.
        #[arg(long = "syntax-only")]
        syntax_only: bool,
        /// Check config files for Prometheus in agent mode.
        #[arg(long)]
        agent: bool,
        /// The config files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Pass Prometheus metrics over stdin to check them for consistency and correctness.
    Metrics,
    /// Validate alertmanager config files, like `amtool check-config`; reads standard
    /// input when no file is given.
    AlertmanagerConfig {
        /// The alertmanager.yml files to check.
        files: Vec<PathBuf>,
    },
    /// Check if the web config files are valid or not.
    WebConfig {
        /// The web configuration files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check if the rule files are valid or not.
    Rules {
        /// Linting checks to apply. Available options are: all, duplicate-rules, none.
        #[arg(long, default_value = "duplicate-rules")]
        lint: String,
        /// Make lint errors exit with exit code 3.
        #[arg(long = "lint-fatal")]
        lint_fatal: bool,
        /// Ignore unknown fields in the rule files.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// The rule files to check, default is read from standard input.
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct TestArgs {
    /// File path to store JUnit XML test results.
    #[arg(long, global = true)]
    junit: Option<PathBuf>,
    #[command(subcommand)]
    cmd: TestCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TestCommand {
    /// Unit tests for rules.
    Rules {
        /// If set, will only run test groups whose names match the regular
        /// expression. Can be specified multiple times.
        #[arg(long)]
        run: Vec<String>,
        /// Enable unit test debugging.
        #[arg(long)]
        debug: bool,
        /// Print differential output (accepted for promtool compatibility; the plain
        /// expected/got output is printed).
        #[arg(long)]
        diff: bool,
        /// Ignore unknown fields in the rule files.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// The unit test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// promtool's exit code for an invalid input.
const FAILURE: u8 = 1;

/// promtool's exit code for lint findings under `--lint-fatal`.
const LINT_FAILURE: u8 = 3;

pub(crate) fn run(cmd: ToolCommand) -> ExitCode {
    match cmd {
        ToolCommand::Check(CheckCommand::Config {
            syntax_only,
            agent,
            files,
        }) => check_config(&files, syntax_only, agent),
        ToolCommand::Check(CheckCommand::Metrics) => check_metrics(),
        ToolCommand::Check(CheckCommand::AlertmanagerConfig { files }) => {
            check_alertmanager_config(&files)
        }
        ToolCommand::Check(CheckCommand::WebConfig { files }) => check_web_config(&files),
        ToolCommand::Check(CheckCommand::Rules {
            lint,
            lint_fatal,
            ignore_unknown_fields,
            files,
        }) => check_rules(&files, &lint, lint_fatal, ignore_unknown_fields),
        ToolCommand::Test(TestArgs {
            junit,
            cmd:
                TestCommand::Rules {
                    run,
                    debug,
                    diff: _,
                    ignore_unknown_fields,
                    files,
                },
        }) => test_rules(&files, run, ignore_unknown_fields, debug, junit.as_deref()),
        ToolCommand::Promqltest { paths, verbose } => promqltest(&paths, verbose),
    }
}

/// Runs test files and prints `file: passed P of T` per file, then `N passed, N
/// failed`; exits non-zero when any case failed or a file could not be read.
fn promqltest(paths: &[PathBuf], verbose: bool) -> ExitCode {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "test"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed += 1;
                continue;
            }
        };
        let r = ember_promql::promqltest::run_file(&text);
        println!("{}: passed {} of {}", f.display(), r.passed, r.total);
        if verbose {
            for (line, msg) in &r.failures {
                println!("  line {line}: {msg}");
            }
        }
        passed += r.passed;
        failed += r.total - r.passed;
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// promtool's `check web-config`: `FILE SUCCESS` or `FILE FAILED: reason`, both on
/// standard error.
fn check_web_config(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        match ember_serve::check(f) {
            Ok(()) => eprintln!("{} SUCCESS", f.display()),
            Err(e) => {
                eprintln!("{} FAILED: {e}", f.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

fn check_config(files: &[PathBuf], syntax_only: bool, agent: bool) -> ExitCode {
    let opts = ember_config::LoadOptions {
        syntax_only,
        agent_mode: agent,
    };
    let mut failed = false;
    for f in files {
        println!("Checking {}", f.display());
        match check_one(f, &opts) {
            Ok(rule_files) => {
                if rule_files > 0 {
                    println!("  SUCCESS: {rule_files} rule files found");
                }
                println!(
                    " SUCCESS: {} is valid prometheus config file syntax",
                    f.display()
                );
            }
            Err(e) => {
                eprintln!("  FAILED: {e}");
                failed = true;
            }
        }
        println!();
    }
    if failed {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Loads one file; without `--syntax-only`, also resolves `rule_files` the way
/// promtool does (an explicit path that matches nothing is an error).
fn check_one(path: &std::path::Path, opts: &ember_config::LoadOptions) -> Result<usize, String> {
    let cfg = ember_config::load_file(path, opts).map_err(|e| e.to_string())?;
    if opts.syntax_only {
        return Ok(0);
    }
    let mut n = 0;
    for pattern in &cfg.rule_files {
        let matches: Vec<_> = glob::glob(pattern)
            .map_err(|e| format!("invalid rule file pattern {pattern:?}: {e}"))?
            .filter_map(Result::ok)
            .collect();
        if !pattern.contains('*') && matches.is_empty() {
            return Err(format!("{pattern:?} does not point to an existing file"));
        }
        for m in &matches {
            std::fs::metadata(m)
                .map_err(|e| format!("error checking rule file {:?}: {e}", m.display()))?;
        }
        n += matches.len();
    }
    Ok(n)
}

/// Parses an exposition from stdin (text 0.0.4 or OpenMetrics, told apart by `# EOF`)
/// and reports the first problem, as `promtool check metrics` does.
/// `amtool check-config`: the same report per file (`Checking 'f'  SUCCESS`, what
/// was found, then the templates' verdict), errors with file, line and field, and a
/// non-zero exit when any file fails.
fn check_alertmanager_config(files: &[PathBuf]) -> ExitCode {
    let stdin = [PathBuf::from("/dev/stdin")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut failed = 0usize;
    for f in files {
        print!("Checking '{}'", f.display());
        match ember_alertmanager::load_file(f) {
            Err(e) => {
                println!("  FAILED: {e}");
                failed += 1;
            }
            Ok(cfg) => {
                println!("  SUCCESS");
                println!("Found:");
                println!(" - global config");
                if cfg.route.is_some() {
                    println!(" - route");
                }
                println!(" - {} inhibit rules", cfg.inhibit_rules.len());
                println!(" - {} receivers", cfg.receivers.len());
                println!(" - {} templates", cfg.templates.len());
                if !cfg.templates.is_empty() {
                    match cfg.check_templates() {
                        Ok(_) => println!("  SUCCESS"),
                        Err(e) => {
                            println!("  FAILED: {e}");
                            failed += 1;
                        }
                    }
                }
            }
        }
        println!();
    }
    if failed > 0 {
        eprintln!("ember: error: failed to validate {failed} file(s)");
        return ExitCode::from(FAILURE);
    }
    ExitCode::SUCCESS
}

fn check_metrics() -> ExitCode {
    let mut buf = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
        eprintln!("error while reading stdin: {e}");
        return ExitCode::from(FAILURE);
    }
    let format = if buf.trim_ascii_end().ends_with(b"# EOF") {
        ember_exposition::Format::OpenMetrics
    } else {
        ember_exposition::Format::Text
    };
    match ember_exposition::parse(&buf, format) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error while linting: {e}");
            ExitCode::from(FAILURE)
        }
    }
}

/// `check rules`: parses each file (or stdin) and reports problems as promtool does;
/// duplicate rules are a lint finding, fatal (exit 3) only with `--lint-fatal`.
fn check_rules(files: &[PathBuf], lint: &str, lint_fatal: bool, ignore_unknown: bool) -> ExitCode {
    let mut lint_duplicates = false;
    for setting in lint.split(',').filter(|s| !s.is_empty()) {
        match setting {
            "all" | "duplicate-rules" => lint_duplicates = true,
            "none" => {}
            other => println!("WARNING: unknown lint option: {other:?}"),
        }
    }
    let opts = ember_rules::file::ParseOptions {
        ignore_unknown_fields: ignore_unknown,
        ..Default::default()
    };
    let (mut failed, mut has_errors) = (false, false);
    let inputs: Vec<Option<&PathBuf>> = if files.is_empty() {
        vec![None]
    } else {
        files.iter().map(Some).collect()
    };
    for f in inputs {
        let parsed = match f {
            Some(f) => {
                println!("Checking {}", f.display());
                ember_rules::file::parse_file(f, &opts)
            }
            None => {
                println!("Checking standard input");
                let mut text = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                    eprintln!("  FAILED: {e}");
                    return ExitCode::from(FAILURE);
                }
                ember_rules::file::parse(&text, std::path::Path::new(""), &opts)
            }
        };
        match parsed {
            Err(errs) => {
                failed = true;
                has_errors = true;
                eprintln!("  FAILED:");
                for e in errs {
                    let text = e.to_string();
                    // Errors about stdin have no file name to show.
                    eprintln!("{}", text.strip_prefix(": ").unwrap_or(&text));
                }
            }
            Ok(rgs) => {
                let n: usize = rgs.groups.iter().map(|g| g.rules.len()).sum();
                match lint_duplicates.then(|| duplicate_rules(&rgs)).flatten() {
                    Some(msg) => {
                        failed = true;
                        eprintln!("  FAILED:");
                        eprintln!("lint error {msg}");
                    }
                    None => println!("  SUCCESS: {n} rules found"),
                }
            }
        }
        println!();
    }
    if failed && has_errors {
        ExitCode::from(FAILURE)
    } else if failed && lint_fatal {
        ExitCode::from(LINT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// promtool's duplicate-rules lint: rules with the same name and labels.
fn duplicate_rules(rgs: &ember_rules::file::RuleGroups) -> Option<String> {
    let mut all: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for g in &rgs.groups {
        for r in &g.rules {
            let mut labels = g.labels.clone();
            labels.extend(r.labels.clone());
            all.push((r.name().to_string(), labels.into_iter().collect()));
        }
    }
    all.sort();
    let mut dups: Vec<&(String, Vec<(String, String)>)> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && dups.last().is_none_or(|d| **d != w[1]) {
            dups.push(&w[1]);
        }
    }
    if dups.is_empty() {
        return None;
    }
    let mut msg = format!("{} duplicate rule(s) found.\n", dups.len());
    for (name, labels) in dups {
        msg.push_str(&format!("Metric: {name}\nLabel(s):\n"));
        for (k, v) in labels {
            msg.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    msg.push_str("Might cause inconsistency while recording expressions");
    Some(msg)
}

/// `test rules`: runs promtool's rule unit tests; exit 1 when any file failed.
fn test_rules(
    files: &[PathBuf],
    run: Vec<String>,
    ignore_unknown: bool,
    debug: bool,
    junit: Option<&Path>,
) -> ExitCode {
    let opts = ember_rules::unittest::Options {
        run,
        ignore_unknown_fields: ignore_unknown,
        debug,
        ..Default::default()
    };
    // promtool opens (and truncates) the JUnit file before running anything.
    let mut junit_out = match junit.map(std::fs::File::create).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "promtool: error: open {}: {e}",
                junit.unwrap_or(Path::new("")).display()
            );
            return ExitCode::from(FAILURE);
        }
    };
    let mut report = JunitReport::default();
    let mut failed = false;
    for f in files {
        let stamp = junit_timestamp();
        let r = ember_rules::unittest::run_file(f, &opts);
        report.add(&f.display().to_string(), &stamp, &r);
        for line in r.cases.iter().flat_map(|c| &c.debug) {
            eprintln!("{line}");
        }
        for w in &r.warnings {
            eprintln!("{w}");
        }
        if r.errors.is_empty() {
            println!("  SUCCESS");
        } else {
            failed = true;
            eprintln!("  FAILED:");
            for e in &r.errors {
                eprintln!("{e}");
                println!();
            }
        }
        println!();
    }
    if let Some(out) = &mut junit_out {
        use std::io::Write;
        if let Err(e) = out
            .write_all(report.xml.as_bytes())
            .and_then(|()| out.write_all(b"</testsuites>"))
        {
            eprintln!("failed to write JUnit XML: {e}");
        }
    }
    if failed {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// promtool's JUnit XML report (`--junit`): one `testsuite` per file, one `testcase`
/// per test group run, its failures as `failure` elements and a file-level error as
/// the last case's `error` — the shape and escaping of Go's `encoding/xml` output.
struct JunitReport {
    xml: String,
}

impl Default for JunitReport {
    fn default() -> Self {
        JunitReport {
            xml: "<testsuites>".into(),
        }
    }
}

impl JunitReport {
    fn add(&mut self, file: &str, stamp: &str, r: &ember_rules::unittest::FileResult) {
        use std::fmt::Write;
        let mut cases: Vec<(&str, &[String])> = r
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.failures.as_slice()))
            .collect();
        // An abort before any group lands on a case named "unknown", as in promtool.
        if r.aborted.is_some() && cases.is_empty() {
            cases.push(("unknown", &[]));
        }
        let failures: usize = cases.iter().map(|c| c.1.len()).sum();
        // promtool stamps a suite only once the file has parsed.
        let stamp = if r.aborted.is_some() && r.cases.is_empty() {
            ""
        } else {
            stamp
        };
        let _ = write!(
            self.xml,
            r#"<testsuite name="{}" tests="{}" failures="{failures}" errors="{}" skipped="0" timestamp="{}">"#,
            xml_escape(file),
            cases.len(),
            usize::from(r.aborted.is_some()),
            xml_escape(stamp),
        );
        let last = cases.len().saturating_sub(1);
        for (i, (name, fails)) in cases.iter().enumerate() {
            let _ = write!(self.xml, r#"<testcase name="{}">"#, xml_escape(name));
            for f in *fails {
                let _ = write!(self.xml, "<failure>{}</failure>", xml_escape(f));
            }
            if i == last
                && let Some(e) = &r.aborted
            {
                let _ = write!(self.xml, "<error>{}</error>", xml_escape(e));
            }
            self.xml.push_str("</testcase>");
        }
        self.xml.push_str("</testsuite>");
    }
}

/// The suite's time as promtool writes it (Go's `2006-01-02T15:04:05`), in UTC here
/// where promtool uses the local zone.
fn junit_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let c = ember_model::time::civil(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Go's `xml.EscapeText`, which also escapes quotes and whitespace controls.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}
