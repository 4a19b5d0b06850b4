//! The TSDB admin API against Debian's `prometheus`: both open copies of the same
//! blocks (made by `promtool tsdb create-blocks-from openmetrics`), then the same
//! `delete_series`, `clean_tombstones` and `snapshot` requests must give the same
//! answers, and the same queries afterwards the same samples. Ember's snapshot must
//! read back in `promtool tsdb dump` as exactly what Ember serves.

mod common;

use common::{
    free_port, get, have_prometheus, request, start_ember, start_prometheus_with, wait_ready,
};
use serde_json::Value as J;
use std::process::{Command, Stdio};

const STEP: i64 = 15;

/// Three hours of `a{i="1".."3"}` at 15 s, ending four hours ago (seconds).
fn openmetrics(end: i64) -> String {
    let start = end - 3 * 3600;
    let mut s = String::from("# TYPE a gauge\n");
    for i in 1..=3 {
        let mut t = start;
        while t < end {
            s.push_str(&format!("a{{i=\"{i}\"}} {} {t}\n", t % 1000 + i));
            t += STEP;
        }
    }
    s.push_str("# EOF\n");
    s
}

fn post(port: u16, path: &str) -> (u16, String) {
    let (code, body) = request(port, "POST", path, &[], b"")
        .unwrap_or_else(|| panic!("no answer on {port}{path}"));
    (code, String::from_utf8_lossy(&body).into_owned())
}

/// The raw samples of `q` over the four hours before `end` (a range selector: no
/// lookback, whose left edge Prometheus 2.42 includes and 3.x does not).
fn raw_samples(port: u16, q: &str, end: i64) -> J {
    let path = format!("/api/v1/query?query={q}%5B4h%5D&time={end}");
    let (code, body) = get(port, &path).unwrap();
    assert_eq!(code, 200, "{body}");
    let v: J = serde_json::from_str(&body).unwrap();
    v["data"].clone()
}

/// Asserts two matrix results equal, naming only the first difference (the
/// results are thousands of points long).
#[track_caller]
fn same(ours: &J, theirs: &J, what: &str) {
    let (a, b) = (&ours["result"], &theirs["result"]);
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    let metrics = |v: &[J]| v.iter().map(|s| s["metric"].clone()).collect::<Vec<_>>();
    assert_eq!(metrics(a), metrics(b), "{what}: series differ");
    for (x, y) in a.iter().zip(b) {
        let (xv, yv) = (
            x["values"].as_array().unwrap(),
            y["values"].as_array().unwrap(),
        );
        if let Some(i) = (0..xv.len().max(yv.len())).find(|i| xv.get(*i) != yv.get(*i)) {
            panic!(
                "{what}: {} differs at point {i}: ours {:?} ({} points), Prometheus {:?} ({} points)",
                x["metric"],
                xv.get(i),
                xv.len(),
                yv.get(i),
                yv.len()
            );
        }
    }
}

/// `promtool tsdb dump` of `dir`: the number of samples per label set.
fn dump_counts(dir: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let out = Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool tsdb dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((labels, _)) = line.rsplit_once('}') {
            *m.entry(format!("{labels}}}")).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn admin_api_matches_prometheus() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let end = (now - 4 * 3600) / 3600 * 3600;
    let start = end - 3 * 3600;
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(end)).unwrap();
    let blocks = dir.path().join("blocks");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&blocks)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (pd, ed, p0d, e0d) = (
        dir.path().join("p"),
        dir.path().join("e"),
        dir.path().join("p0"),
        dir.path().join("e0"),
    );
    for d in [&pd, &p0d] {
        common::copy_dir(&blocks, &d.join("prom"));
    }
    for d in [&ed, &e0d] {
        common::copy_dir(&blocks, &d.join("ember"));
    }
    let (pp, ep, pp0, ep0) = (free_port(), free_port(), free_port(), free_port());
    let _p = start_prometheus_with(&pd, "global: {}\n", pp, &["--web.enable-admin-api"]);
    wait_ready(pp);
    let _e = start_ember(&ed, "global: {}\n", ep, &["--web.enable-admin-api"]);
    let _p0 = start_prometheus_with(&p0d, "global: {}\n", pp0, &[]);
    wait_ready(pp0);
    let _e0 = start_ember(&e0d, "global: {}\n", ep0, &[]);

    // Both serve the same data to begin with.
    let all = |port| raw_samples(port, "a", end);
    same(&all(ep), &all(pp), "before");
    assert_eq!(all(ep)["result"].as_array().unwrap().len(), 3);

    // Without the flag: the same error envelope for every endpoint.
    for path in [
        "/api/v1/admin/tsdb/delete_series?match[]=a",
        "/api/v1/admin/tsdb/clean_tombstones",
        "/api/v1/admin/tsdb/snapshot",
    ] {
        let (a, b) = (post(ep0, path), post(pp0, path));
        assert_eq!(a.0, b.0, "{path}");
        assert_eq!(
            serde_json::from_str::<J>(&a.1).unwrap(),
            serde_json::from_str::<J>(&b.1).unwrap(),
            "{path}"
        );
        assert_eq!(a.0, 500);
    }

    // Bad requests: the same 400s.
    for path in [
        "/api/v1/admin/tsdb/delete_series",
        "/api/v1/admin/tsdb/delete_series?match[]=a{",
        "/api/v1/admin/tsdb/delete_series?match[]=a&start=yesterday",
        "/api/v1/admin/tsdb/snapshot?skip_head=maybe",
    ] {
        let (a, b) = (post(ep, path), post(pp, path));
        assert_eq!((a.0, b.0), (400, 400), "{path}: {} / {}", a.1, b.1);
        let (ja, jb): (J, J) = (
            serde_json::from_str(&a.1).unwrap(),
            serde_json::from_str(&b.1).unwrap(),
        );
        assert_eq!(ja["errorType"], jb["errorType"], "{path}");
        if !path.contains("a{") {
            // Parser messages are worded by each parser; the others must be equal.
            assert_eq!(ja["error"], jb["error"], "{path}");
        }
    }

    // An hour of a{i="2"} straddling two blocks, and all of a{i="3"}.
    let (d0, d1) = (start + 3600 + 1800, start + 2 * 3600 + 1800);
    for (path, code) in [
        (
            format!("/api/v1/admin/tsdb/delete_series?match[]=a{{i=\"2\"}}&start={d0}&end={d1}"),
            204,
        ),
        (
            "/api/v1/admin/tsdb/delete_series?match[]=a{i=\"3\"}".to_string(),
            204,
        ),
    ] {
        let path = path
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D");
        assert_eq!(post(ep, &path).0, code);
        assert_eq!(post(pp, &path).0, code);
    }
    let after = all(ep);
    same(&after, &all(pp), "after delete_series");
    assert_eq!(after["result"].as_array().unwrap().len(), 2, "{after}");
    let series = |port| {
        get(
            port,
            &format!("/api/v1/series?match[]=a&start={start}&end={end}"),
        )
        .unwrap()
        .1
    };
    assert_eq!(
        serde_json::from_str::<J>(&series(ep)).unwrap(),
        serde_json::from_str::<J>(&series(pp)).unwrap()
    );

    // Tombstones cleaned: same answers, same data.
    let path = "/api/v1/admin/tsdb/clean_tombstones";
    assert_eq!(post(ep, path).0, 204);
    assert_eq!(post(pp, path).0, 204);
    same(&all(ep), &after, "Ember after clean_tombstones");
    same(&all(pp), &after, "Prometheus after clean_tombstones");

    // Snapshots: Prometheus's name shape, and Ember's reads back in promtool as
    // exactly the samples Ember serves.
    let (code, body) = post(ep, "/api/v1/admin/tsdb/snapshot?skip_head=true");
    assert_eq!(code, 200, "{body}");
    let (pcode, pbody) = post(pp, "/api/v1/admin/tsdb/snapshot?skip_head=true");
    assert_eq!(pcode, 200, "{pbody}");
    let name = serde_json::from_str::<J>(&body).unwrap()["data"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let pname = serde_json::from_str::<J>(&pbody).unwrap()["data"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(name.len(), pname.len(), "{name} vs {pname}");
    assert_eq!(&name[8..9], &pname[8..9]);
    assert_eq!(&name[15..17], &pname[15..17]);
    let (ours, theirs) = (
        ed.join("ember/snapshots").join(&name),
        pd.join("prom/snapshots").join(&pname),
    );
    let listing = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let files = std::fs::read_dir(e.path()).map_or(0, |r| r.count());
                format!("{} entries", files)
            })
            .collect();
        v.sort();
        v
    };
    // The same shape: one directory per block, each with the same files.
    assert_eq!(listing(&ours), listing(&theirs));
    // promtool opens a snapshot as a data directory, which needs a `wal` folder:
    // a snapshot has none, from either.
    for d in [&ours, &theirs] {
        assert!(!d.join("wal").exists());
        std::fs::create_dir(d.join("wal")).unwrap();
    }
    let (ours, theirs) = (dump_counts(&ours), dump_counts(&theirs));
    assert_eq!(ours, theirs);
    let served: usize = after["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(ours.values().sum::<usize>(), served, "{ours:?}");
}
