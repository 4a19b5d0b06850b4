//! Runs Ember's node exporter on its own, with node_exporter's flags, for trying it
//! out and benchmarking it without the rest of Ember:
//!
//! ```text
//! cargo run --release -p ember-node-exporter --example serve -- --web.listen-address=127.0.0.1:9100
//! ```

use clap::Parser;

#[tokio::main]
async fn main() {
    let args = ember_node_exporter::Args::parse();
    if let Err(e) = ember_node_exporter::run(args).await {
        eprintln!("node-exporter: {e}");
        std::process::exit(1);
    }
}
