//! `/federate`: Ember serves the latest samples of the matched series in the text
//! format, with its external labels, and Debian's `prometheus` (2.42) federating from
//! it stores them as it would from another Prometheus.

mod common;

use common::{free_port, get, have_prometheus, start_ember, start_prometheus, wait_ready};
use std::time::{Duration, Instant};

const MATCH_SELF: &str = "/federate?match%5B%5D=%7Bjob%3D%22self%22%7D";

#[test]
fn federation_from_ember() {
    let dir = tempfile::tempdir().unwrap();
    let ep = free_port();
    let _ember = start_ember(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    dc: ember\n    job: outer\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{ep}']\n"
        ),
        ep,
        &[],
    );

    // The series' own labels first, then the external labels it lacks (`job` it has).
    let want = format!("up{{instance=\"127.0.0.1:{ep}\",job=\"self\",dc=\"ember\"}} 1 ");
    let t = Instant::now();
    let body = loop {
        let (code, body) = get(ep, MATCH_SELF).unwrap();
        assert_eq!(code, 200, "{body}");
        if body.contains(&want) {
            break body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no up sample in /federate after 30s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.contains("# TYPE up untyped\n"), "{body}");
    // Families are in name order, each with one TYPE line.
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    assert!(
        names.len() >= 5 && names.contains(&"scrape_duration_seconds"),
        "{body}"
    );
    // Only what was matched.
    assert!(
        body.lines()
            .all(|l| l.starts_with('#') || l.contains("job=\"self\""))
    );

    // A bad selector is the client's error; no selector selects nothing.
    let (code, body) = get(ep, "/federate?match%5B%5D=up%7B").unwrap();
    assert_eq!(code, 400, "{body}");
    let (code, body) = get(ep, "/federate").unwrap();
    assert_eq!((code, body.as_str()), (200, ""));

    if !have_prometheus() {
        return;
    }
    let pp = free_port();
    let _prom = start_prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{{job=\"self\"}}']\n    static_configs:\n      - targets: ['127.0.0.1:{ep}']\n"
        ),
        pp,
    );
    wait_ready(pp);
    let t = Instant::now();
    loop {
        let (code, body) = get(
            pp,
            "/api/v1/query?query=up%7Bjob%3D%22self%22%2Cdc%3D%22ember%22%7D",
        )
        .unwrap();
        assert_eq!(code, 200, "{body}");
        if body.contains(&format!("\"instance\":\"127.0.0.1:{ep}\"")) && body.contains("\"1\"]") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "Prometheus did not federate Ember's up series after 60s: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // And Prometheus saw the federation target as healthy, with every sample accepted.
    let (_, body) = get(
        pp,
        "/api/v1/query?query=scrape_samples_post_metric_relabeling%7Bjob%3D%22federate%22%7D",
    )
    .unwrap();
    assert!(body.contains("\"job\":\"federate\""), "{body}");
    let (_, body) = get(pp, "/api/v1/targets").unwrap();
    assert!(body.contains("\"health\":\"up\""), "{body}");
}
