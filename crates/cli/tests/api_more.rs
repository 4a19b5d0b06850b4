//! The metadata and status endpoints against Debian's `prometheus`: both scrape the
//! same small OpenMetrics target, then the same requests must give the same JSON
//! (orders that Prometheus leaves to Go's map iteration are compared sorted).

mod common;

use common::{free_port, get, have_prometheus, start_ember, start_prometheus, wait_ready};
use serde_json::Value as J;
use std::time::{Duration, Instant};

const EXPOSITION: &str = "# HELP req Requests served.\n\
# TYPE req counter\n\
req_total{code=\"200\"} 5\n\
req_total{code=\"404\"} 2\n\
req_total{code=\"500\"} 1\n\
# HELP temp_celsius Temperature \\\"inside\\\" \\\\ the box.\\nSecond line.\n\
# TYPE temp_celsius gauge\n\
# UNIT temp_celsius celsius\n\
temp_celsius 21.5\n\
# TYPE plain unknown\n\
plain 1\n\
# HELP only_help Just help.\n\
only_help 3\n\
# EOF\n";

/// Serves [`EXPOSITION`] as OpenMetrics to every request; returns the port.
fn serve_target() -> u16 {
    common::serve_exposition(
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        EXPOSITION,
    )
}

fn config(target: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
}

fn json(port: u16, path: &str) -> (u16, J) {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer on {path}"));
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (code, v)
}

/// Waits until the server has the target's metadata.
fn wait_metadata(port: u16) {
    let t = Instant::now();
    loop {
        let (_, v) = json(port, "/api/v1/targets/metadata");
        if v["data"].as_array().is_some_and(|a| a.len() >= 4) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no metadata: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sorts every array of objects or scalars (by their JSON text), recursively.
/// A top list as (counts, names above the smallest count): what two correct
/// top-10 answers share whatever order ties come in.
fn top10(v: &J) -> (Vec<u64>, Vec<String>) {
    let mut items: Vec<(u64, String)> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["value"].as_u64().unwrap_or(0),
                x["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    items.truncate(10);
    let cut = items.last().map(|x| x.0).unwrap_or(0);
    let counts = items.iter().map(|x| x.0).collect();
    let mut names: Vec<String> = items
        .into_iter()
        .filter(|x| x.0 > cut)
        .map(|x| x.1)
        .collect();
    names.sort();
    (counts, names)
}

fn sorted(v: &J) -> J {
    match v {
        J::Array(a) => {
            let mut a: Vec<J> = a.iter().map(sorted).collect();
            a.sort_by_key(|x| x.to_string());
            J::Array(a)
        }
        J::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect()),
        x => x.clone(),
    }
}

struct Pair {
    ember: u16,
    prom: u16,
    _procs: Vec<common::Kill>,
    _dirs: Vec<tempfile::TempDir>,
}

fn start_pair() -> Option<Pair> {
    if !have_prometheus() {
        return None;
    }
    let target = serve_target();
    let (de, dp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ember, prom) = (free_port(), free_port());
    let e = start_ember(de.path(), &config(target), ember, &[]);
    let p = start_prometheus(dp.path(), &config(target), prom);
    wait_ready(prom);
    wait_metadata(ember);
    wait_metadata(prom);
    Some(Pair {
        ember,
        prom,
        _procs: vec![e, p],
        _dirs: vec![de, dp],
    })
}

fn same(p: &Pair, path: &str) -> J {
    let (ce, ve) = json(p.ember, path);
    let (cp, vp) = json(p.prom, path);
    assert_eq!(ce, cp, "{path}: status codes: ember {ve}, prometheus {vp}");
    assert_eq!(sorted(&ve), sorted(&vp), "{path}");
    ve
}

#[test]
fn metadata_endpoints_match_prometheus() {
    let Some(p) = start_pair() else { return };
    let all = same(&p, "/api/v1/metadata");
    assert_eq!(all["data"]["temp_celsius"][0]["unit"], "celsius", "{all}");
    assert_eq!(
        all["data"]["temp_celsius"][0]["help"],
        "Temperature \"inside\" \\ the box.\nSecond line."
    );
    assert_eq!(all["data"]["only_help"][0]["type"], "unknown");
    same(&p, "/api/v1/metadata?metric=req");
    same(&p, "/api/v1/metadata?metric=nope");
    same(&p, "/api/v1/metadata?limit_per_metric=1");
    same(&p, "/api/v1/metadata?limit=0");
    same(&p, "/api/v1/metadata?limit=x");
    // `limit_per_metric` came after Debian's 2.42: checked against 3.x's texts.
    let (c, v) = json(p.ember, "/api/v1/metadata?limit_per_metric=x");
    assert_eq!(c, 400);
    assert_eq!(v["error"], "limit_per_metric must be a number");
    let (_, one) = json(p.ember, "/api/v1/metadata?limit=1");
    assert_eq!(one["data"].as_object().map(|m| m.len()), Some(1), "{one}");

    let t = same(&p, "/api/v1/targets/metadata");
    assert_eq!(t["data"].as_array().map(Vec::len), Some(4), "{t}");
    same(&p, "/api/v1/targets/metadata?metric=req");
    same(
        &p,
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22t%22%7D&metric=temp_celsius",
    );
    same(
        &p,
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22x%22%7D",
    );
    same(&p, "/api/v1/targets/metadata?limit=0");
    same(&p, "/api/v1/targets/metadata?limit=x");
    same(&p, "/api/v1/targets/metadata?match_target=%7B");
}

#[test]
fn exemplars_and_walreplay_match_prometheus() {
    let Some(p) = start_pair() else { return };
    same(&p, "/api/v1/query_exemplars?query=req_total");
    same(&p, "/api/v1/query_exemplars?query=req_total&start=10&end=5");
    same(&p, "/api/v1/query_exemplars?query=req_total%7B");
    same(&p, "/api/v1/status/walreplay");
    // Runtime facts differ by nature; the fields Prometheus reports are all there,
    // with the same JSON types.
    let (_, e) = json(p.ember, "/api/v1/status/runtimeinfo");
    let (_, pr) = json(p.prom, "/api/v1/status/runtimeinfo");
    for (k, v) in pr["data"].as_object().unwrap() {
        let mine = &e["data"][k];
        assert_eq!(
            std::mem::discriminant(mine),
            std::mem::discriminant(v),
            "runtimeinfo {k}: ember {mine}, prometheus {v}"
        );
    }
    assert_eq!(
        e["data"]["storageRetention"],
        pr["data"]["storageRetention"]
    );
    assert_eq!(e["data"]["reloadConfigSuccess"], true);
}

/// Needs the server to hand the TSDB to the web layer (`router_with_status`).
#[test]
fn tsdb_status_matches_prometheus() {
    let Some(p) = start_pair() else { return };
    // Both have scraped the same target at least once; wait for a second scrape so
    // that the head has the same series on both sides.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, e) = json(p.ember, "/api/v1/status/tsdb?limit=100");
    let (_, pr) = json(p.prom, "/api/v1/status/tsdb?limit=100");
    // Prometheus 2.42 ignores `limit` (always 10) and orders ties at random, so the
    // lists are compared as top-10 lists: the same counts, and the same names above
    // the last count (ties at the cut may be any of the tied names).
    for k in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "seriesCountByLabelValuePair",
    ] {
        let (a, b) = (top10(&e["data"][k]), top10(&pr["data"][k]));
        assert_eq!(
            a, b,
            "{k}: ember {} prometheus {}",
            e["data"][k], pr["data"][k]
        );
    }
    // memoryInBytesByLabelName follows Prometheus 3.x (encoded name and value size
    // times series count), which Debian's 2.42 does not (value lengths once): the
    // label names must agree, the values are checked against 3.x's formula.
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["name"].as_str().unwrap_or("").to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&e["data"]["memoryInBytesByLabelName"]),
        names(&pr["data"]["memoryInBytesByLabelName"])
    );
    let pairs = e["data"]["seriesCountByLabelValuePair"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for m in e["data"]["memoryInBytesByLabelName"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let label = m["name"].as_str().unwrap_or("");
        let want: u64 = pairs
            .iter()
            .filter_map(|p| {
                let (n, v) = p["name"].as_str()?.split_once('=')?;
                (n == label)
                    .then(|| (2 + n.len() + v.len()) as u64 * p["value"].as_u64().unwrap_or(0))
            })
            .sum();
        assert_eq!(
            m["value"].as_u64(),
            Some(want),
            "memoryInBytesByLabelName {label}"
        );
    }
    for k in ["numSeries", "numLabelPairs"] {
        assert_eq!(e["data"]["headStats"][k], pr["data"]["headStats"][k], "{k}");
    }
    // `limit` is Prometheus 3.x's (2.42 ignores it): 0 is refused as 3.x refuses it.
    let (c, v) = json(p.ember, "/api/v1/status/tsdb?limit=0");
    assert_eq!(c, 400, "{v}");
    assert_eq!(v["error"], "limit must be a positive number");
}
