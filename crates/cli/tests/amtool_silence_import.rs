//! `amtool silence import` into `ember alertmanager`, with Debian's
//! `prometheus-alertmanager` 0.25 as the oracle: silences made with `amtool silence
//! add` on one Alertmanager are exported with `amtool silence query -o json`, then
//! imported with `amtool silence import` into a fresh Alertmanager and a fresh
//! Ember, and `amtool silence query -o json` must then say the same on both (and
//! the same as the export).
//!
//! Ignored when comparing, because they legitimately differ: ids (new random UUIDs
//! on each side), `updatedAt` (the import time), and the `startsAt` of silences
//! already active (a new silence never starts in the past: each side sets it to the
//! time of its import). Pending silences keep their `startsAt`, and it is compared.
//!
//! Both ways amtool imports are exercised: without `--force` amtool first posts each
//! silence with its original id, which the destination does not know (404 "not
//! found"), and then retries without it; with `--force` it posts without ids.

mod common;

use common::{Am, free_port, have_binary, start_alertmanager};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs amtool against `port`; returns (success, stdout, stderr).
fn amtool(port: u16, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("amtool")
        .arg(format!("--alertmanager.url=http://127.0.0.1:{port}"))
        // Ember reports its own version, which amtool would warn about.
        .arg("--no-version-check")
        .args(args)
        .output()
        .expect("amtool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rfc3339(offset_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let ms = now.as_millis() as i64 + offset_secs * 1000;
    ember_model::time::format_rfc3339_millis(ms - ms.rem_euclid(1000))
}

/// `silence query -o json` (active and pending) on `port`, parsed.
fn query(port: u16) -> Vec<Value> {
    let (ok, out, err) = amtool(port, &["silence", "query", "-o", "json"]);
    assert!(ok, "query on {port}: {err}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The silences without what legitimately differs, sorted by comment.
fn normalised(list: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = list
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let m = s.as_object_mut().unwrap();
            m.remove("id");
            m.remove("updatedAt");
            if m["status"]["state"] == "active" {
                m.remove("startsAt");
            }
            s
        })
        .collect();
    out.sort_by_key(|s| s["comment"].as_str().unwrap_or("").to_string());
    out
}

fn import(port: u16, file: &Path, force: bool) -> Vec<String> {
    let f = file.display().to_string();
    let mut args = vec!["silence", "import"];
    if force {
        args.push("--force");
    }
    args.push(&f);
    let (ok, out, err) = amtool(port, &args);
    assert!(ok, "import into {port} (force: {force}): {err}\n{out}");
    assert!(err.is_empty(), "import into {port} (force: {force}): {err}");
    let mut ids: Vec<String> = out.lines().map(str::to_string).collect();
    ids.sort();
    ids
}

#[test]
fn amtool_silence_import_agrees_with_alertmanager() {
    if !have_binary("prometheus-alertmanager") || !have_binary("amtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = "route:\n  receiver: r\nreceivers:\n- name: r\n";

    // The source: silences of every matcher kind, active and pending, one expired
    // (not exported: `query` lists active and pending ones).
    let src_dir = dir.path().join("src");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = free_port();
    let _src = start_alertmanager(Am::Debian, &src_dir, cfg, src, &[]);
    let (later, end, far) = (rfc3339(3600), rfc3339(7200), rfc3339(86400));
    let adds: Vec<Vec<String>> = vec![
        vec![
            "instance=db-1".into(),
            "-c".into(),
            "1 disk swap".into(),
            "-a".into(),
            "alice".into(),
            format!("--end={end}"),
        ],
        vec![
            "alertname=~\"CPU|Disk\"".into(),
            "zone!=eu".into(),
            "-c".into(),
            "2 regex and negative".into(),
            "-a".into(),
            "bob".into(),
            format!("--end={far}"),
        ],
        vec![
            "job!~\"batch.*\"".into(),
            "severity=\"critical\"".into(),
            "-c".into(),
            "3 pending, with \"quotes\" & <html> and ünïcode".into(),
            "-a".into(),
            "carol".into(),
            format!("--start={later}"),
            format!("--end={far}"),
        ],
        vec![
            "team=\"a b\"".into(),
            "-c".into(),
            "4 to expire".into(),
            "-a".into(),
            "dan".into(),
            format!("--end={end}"),
        ],
    ];
    let mut expire_id = String::new();
    for a in &adds {
        let mut args = vec!["silence", "add"];
        args.extend(a.iter().map(String::as_str));
        let (ok, out, err) = amtool(src, &args);
        assert!(ok, "silence add {a:?}: {err}");
        expire_id = out.trim().to_string();
    }
    let (ok, _, err) = amtool(src, &["silence", "expire", &expire_id]);
    assert!(ok, "{err}");
    let exported = query(src);
    assert_eq!(exported.len(), 3, "{exported:?}");
    let file = dir.path().join("silences.json");
    let (ok, out, err) = amtool(src, &["silence", "query", "-o", "json"]);
    assert!(ok, "{err}");
    std::fs::write(&file, out).unwrap();

    // Two fresh destinations, one of each, importing both ways.
    let (real, ember) = (free_port(), free_port());
    let _r = start_alertmanager(Am::Debian, dir.path(), cfg, real, &[]);
    let _e = start_alertmanager(Am::Ember, dir.path(), cfg, ember, &[]);
    for force in [false, true] {
        let (r_ids, e_ids) = (import(real, &file, force), import(ember, &file, force));
        assert_eq!(r_ids.len(), 3, "{r_ids:?}");
        assert_eq!(e_ids.len(), 3, "{e_ids:?}");
        for id in r_ids.iter().chain(&e_ids) {
            assert_eq!(id.len(), 36, "not a silence id: {id:?}");
        }
        // New ids, never the exported ones.
        for s in &exported {
            let old = s["id"].as_str().unwrap();
            assert!(!r_ids.iter().chain(&e_ids).any(|i| i == old));
        }
    }
    let (r, e) = (query(real), query(ember));
    assert_eq!(r.len(), 6, "{r:?}");
    let want: Vec<Value> = normalised(&exported)
        .into_iter()
        .flat_map(|s| [s.clone(), s])
        .collect();
    assert_eq!(normalised(&r), want, "Alertmanager differs from the export");
    assert_eq!(
        normalised(&e),
        normalised(&r),
        "left: Ember, right: Alertmanager"
    );
    // The table amtool prints agrees too, ids and times aside (amtool prints times
    // to the second, which may fall on either side of a second for the import
    // times; the times themselves were compared above).
    let table = |port: u16| {
        let (ok, out, err) = amtool(port, &["silence", "query", "-o", "extended"]);
        assert!(ok, "{err}");
        let ids = query(port);
        let mut lines: Vec<String> = out
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                for s in &ids {
                    l = l.replace(s["id"].as_str().unwrap(), "<ID>");
                }
                l.split_whitespace()
                    .filter(|w| {
                        !w.chars().next().is_some_and(|c| c.is_ascii_digit()) || w.len() < 3
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        lines.sort();
        lines
    };
    let (rt, et) = (table(real), table(ember));
    assert_eq!(rt.len(), 7, "{rt:#?}");
    assert_eq!(et, rt, "left: Ember, right: Alertmanager");
}
