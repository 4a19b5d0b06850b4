//! The `ember` binary: one executable with a subcommand per component, as DESIGN.md
//! lays out. This crate parses flags (spelled as Prometheus spells them, so service
//! files and scripts keep working), wires the library crates together, and owns the
//! process concerns: logging, signals, reload and shutdown. It is the only crate that
//! uses `anyhow`; everything below it returns typed errors.

mod agent;
mod alerting;
mod alertmanager;
mod remote_read;
mod remote_write;
mod server;
mod tool;
mod version;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "ember",
    version = version::SHORT,
    long_version = version::LONG.as_str(),
    about = "Ember: a Prometheus-compatible monitoring system in one binary.",
    long_about = "Ember: a Prometheus-compatible monitoring system in one binary.\n\n\
        Without a subcommand, Ember starts the whole stack on an embedded default \
        configuration and prints the URL to open."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: discovery, scraping, TSDB, PromQL, HTTP API (like `prometheus`).
    Server(Box<server::ServerArgs>),
    /// Host metrics with node_exporter's names (like `node_exporter`).
    NodeExporter(Box<ember_node_exporter::Args>),
    /// Accept pushed metrics from batch jobs for scraping (like `pushgateway`).
    Pushgateway(Box<ember_pushgateway::Args>),
    /// Receive, group, silence and route alerts to receivers (like `alertmanager`).
    Alertmanager(Box<alertmanager::AlertmanagerArgs>),
    /// Tooling, like `promtool`: check configs, lint metrics.
    Tool {
        #[command(subcommand)]
        command: tool::ToolCommand,
    },
}

fn main() -> ExitCode {
    let argv = server::kingpin_negations(std::env::args_os().collect());
    let cli = Cli::parse_from(argv.clone());
    match cli.command {
        None => server::run_all_in_one(),
        Some(Command::Server(args)) => match agent::check_mode_flags(&argv, &args) {
            Ok(()) => server::run(*args, None),
            Err(code) => code,
        },
        Some(Command::Tool { command }) => tool::run(command),
        Some(Command::NodeExporter(args)) => server::run_node_exporter(*args),
        Some(Command::Pushgateway(args)) => server::run_pushgateway(*args),
        Some(Command::Alertmanager(args)) => alertmanager::run(*args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> server::ServerArgs {
        let argv = ["ember", "server"]
            .iter()
            .chain(args)
            .map(std::ffi::OsString::from)
            .collect();
        match Cli::try_parse_from(server::kingpin_negations(argv)) {
            Ok(Cli {
                command: Some(Command::Server(a)),
                ..
            }) => *a,
            Ok(_) => panic!("not the server"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    /// Prometheus's boolean flags take `--flag`, `--flag=true|false` and `--no-flag`.
    #[test]
    fn boolean_flags_parse_like_kingpin() {
        let a = server(&[]);
        assert!(a.wal_compression && !a.enable_lifecycle && !a.agent);
        let a = server(&[
            "--no-storage.tsdb.wal-compression",
            "--web.enable-lifecycle",
        ]);
        assert!(!a.wal_compression && a.enable_lifecycle);
        let a = server(&[
            "--storage.tsdb.wal-compression",
            "--web.enable-admin-api=true",
        ]);
        assert!(a.wal_compression && a.enable_admin_api);
        let a = server(&["--web.enable-lifecycle", "--no-web.enable-lifecycle"]);
        assert!(!a.enable_lifecycle, "the last one wins");
        let a = server(&["--storage.tsdb.wal-compression=false"]);
        assert!(!a.wal_compression);
        assert!(Cli::try_parse_from(["ember", "server", "--web.enable-lifecycle=maybe"]).is_err());
    }
}
