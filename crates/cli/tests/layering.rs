//! The layering rule of DESIGN.md: a crate may depend only on crates above it in this
//! list. Read from `cargo metadata`, so a new dependency that breaks it fails CI.

const ORDER: &[&str] = &[
    "model",
    "exposition",
    "config",
    "template",
    "chunkenc",
    "storage",
    "wal",
    "tsdb",
    "remote",
    "promql-parser",
    "promql",
    "discovery",
    "serve",
    "scrape",
    "notifier",
    "rules",
    "alertmanager",
    "pushgateway",
    "node-exporter",
    "web",
    "cli",
];

fn rank(package: &str) -> Option<usize> {
    let short = package.strip_prefix("ember-")?;
    ORDER.iter().position(|c| *c == short)
}

#[test]
fn crates_depend_only_on_crates_above_them() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
            "--manifest-path",
            root,
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata gives JSON");
    let mut violations = Vec::new();
    let mut checked = 0;
    for pkg in meta["packages"].as_array().expect("packages array") {
        let name = pkg["name"].as_str().unwrap_or_default();
        let Some(own) = rank(name) else {
            violations.push(format!(
                "{name}: not in DESIGN.md's crate list; place it in ORDER"
            ));
            continue;
        };
        checked += 1;
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if !dep_name.starts_with("ember-") {
                continue;
            }
            match rank(dep_name) {
                Some(r) if r < own => {}
                _ => violations.push(format!(
                    "{name} depends on {dep_name}, which is not above it"
                )),
            }
        }
    }
    assert!(
        checked >= 3,
        "expected to check the workspace crates, checked {checked}"
    );
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}
