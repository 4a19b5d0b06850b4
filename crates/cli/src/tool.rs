//! `ember tool`: the promtool jobs, with promtool's output shape and exit codes so
//! that CI scripts written against promtool work unchanged.

use clap::Subcommand;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum ToolCommand {
    /// Check the resources for validity.
    #[command(subcommand)]
    Check(CheckCommand),
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
}

/// promtool's exit code for an invalid input.
const FAILURE: u8 = 1;

pub(crate) fn run(cmd: ToolCommand) -> ExitCode {
    match cmd {
        ToolCommand::Check(CheckCommand::Config {
            syntax_only,
            agent,
            files,
        }) => check_config(&files, syntax_only, agent),
        ToolCommand::Check(CheckCommand::Metrics) => check_metrics(),
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
