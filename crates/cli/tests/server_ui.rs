//! The server's web UI in headless Chromium, driven over WebDriver (`chromedriver`):
//! an expression typed and run with Enter shows its series in the table, a bad one
//! shows the API's parse error, the graph tab draws the series as an SVG line with a
//! legend and a hover tooltip, Prometheus's `/graph?g0.expr=…&g0.tab=1` links prefill
//! and run the expression, typing part of a metric name offers it for completion,
//! the targets, service-discovery, rules, alerts and status views render their
//! APIs, all of it works under `--web.route-prefix`, and `ember server --agent`
//! shows the agent page and leaves the storage views out of its navigation.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says so and
//! passes, unless `EMBER_REQUIRE_INTEROP=1`. Screenshots of the table, the graph,
//! the service-discovery and the agent page are left in the target directory
//! (`server-ui-table.png`, `server-ui-graph.png`, `server-ui-sd.png`,
//! `server-ui-agent.png`) for a human to look at.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::webdriver::Driver;
use common::{get, start_ember, start_ember_prefixed};
use serde_json::{Value, json};

/// The scrape jobs: `ember` scrapes this server every second and drops a second
/// discovered target by relabelling; every target of `other` is dropped, so the
/// service-discovery page has two pools and dropped targets to show.
fn scrape_configs(port: u16, metrics_path: &str) -> String {
    format!(
        "scrape_configs:\n  - job_name: ember\n    metrics_path: {metrics_path}\n    static_configs:\n      - targets: ['127.0.0.1:{port}', 'dropped.invalid:9']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'dropped\\.invalid:9'\n        action: drop\n  - job_name: other\n    static_configs:\n      - targets: ['other.invalid:9']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: '.*'\n        action: drop\n"
    )
}

/// Scrapes itself every second, with one recording and one always-firing alerting
/// rule.
fn config(dir: &Path, port: u16, metrics_path: &str) -> String {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: ui\n    interval: 1s\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: AlwaysFiring\n        expr: vector(1)\n        labels:\n          severity: none\n        annotations:\n          summary: it fires\n",
    )
    .expect("rules");
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\n{}",
        rules.display(),
        scrape_configs(port, metrics_path)
    )
}

/// Waits until the server has `n` samples of `up` (so a graph has a line).
fn wait_for_samples(port: u16, prefix: &str, n: u32) {
    let t = Instant::now();
    let path = format!("{prefix}/api/v1/query?query=count_over_time(up%5B1m%5D)");
    loop {
        let answer = get(port, &path);
        if let Some((200, body)) = &answer {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let have = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0);
            if have >= n {
                return;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no samples of up: {answer:?}; targets: {:?}",
            get(port, &format!("{prefix}/api/v1/targets"))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The joined texts of the elements matching `css` (empty when none is shown).
fn text_of(d: &Driver, css: &str) -> String {
    d.texts(css).join("\n")
}

/// Waits until the elements matching `css` show text containing `want`.
fn wait_text(d: &Driver, css: &str, want: &str) -> String {
    d.wait(&format!("{css} shows {want:?}"), |d| {
        text_of(d, css).contains(want)
    });
    text_of(d, css)
}

fn current_url(d: &Driver) -> String {
    d.call("GET", "/url", None)
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Moves the mouse to the centre of `element`.
fn hover(d: &Driver, element: &str) {
    let r = d.call("GET", &format!("/element/{element}/rect"), None);
    let at = |k: &str, len: &str| {
        (r[k].as_f64().unwrap_or(0.0) + r[len].as_f64().unwrap_or(0.0) / 2.0) as i64
    };
    d.call(
        "POST",
        "/actions",
        Some(json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "duration": 0, "origin": "viewport",
                         "x": at("x", "width"), "y": at("y", "height")}]
        }]})),
    );
}

const ENTER: &str = "\u{E007}";
const SHIFT: &str = "\u{E008}";
const RELEASE: &str = "\u{E000}";

#[test]
fn query_page_table_graph_and_views() {
    let Some(d) = Driver::start() else { return };
    // Room for the graph in the screenshots.
    d.call(
        "POST",
        "/window/rect",
        Some(json!({"width": 1280, "height": 1000})),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let _ember = start_ember(dir.path(), &config(dir.path(), port, "/metrics"), port, &[]);
    wait_for_samples(port, "", 3);
    let base = format!("http://127.0.0.1:{port}");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));

    // Table: `up` and Enter runs it.
    d.goto(&format!("{base}/"));
    d.fill_css("#expr", &format!("up{ENTER}"));
    let row = wait_text(&d, "#result-table tr.series", "up{");
    assert!(
        row.contains(&format!(
            "up{{instance=\"127.0.0.1:{port}\", job=\"ember\"}}"
        )),
        "{row}"
    );
    let values = d.texts("#result-table tr.series td.value");
    assert_eq!(values, ["1"], "one series, value 1");
    let stats = text_of(&d, "#query-stats");
    assert!(
        stats.contains("Load time:") && stats.contains("Result series: 1"),
        "{stats}"
    );
    assert!(
        current_url(&d).contains("g0.expr=up"),
        "the URL is shareable"
    );
    d.screenshot(&shots.join("server-ui-table.png"));

    // Shift+Enter is a new line, not a run; the button runs the two-line expression.
    d.fill_css("#expr", &format!("sum(up){SHIFT}{ENTER}{RELEASE}by (job)"));
    assert_eq!(d.value_css("#expr"), "sum(up)\nby (job)");
    d.click_css("#execute", 0);
    wait_text(&d, "#result-table tr.series", "{job=\"ember\"}");

    // A bad expression: the API's error text, and no stale rows.
    let (code, body) = get(port, "/api/v1/query?query=sum(").expect("api");
    assert_eq!(code, 400);
    let api_error = serde_json::from_str::<Value>(&body).expect("json")["error"]
        .as_str()
        .expect("error")
        .to_string();
    d.fill_css("#expr", &format!("sum({ENTER}"));
    let shown = wait_text(&d, "#query-error", "parse error");
    assert!(shown.contains(&api_error), "{shown} vs {api_error}");
    assert!(d.elements("#result-table tr.series").is_empty());

    // Graph of the last 5 minutes: a line, axes, a legend, a tooltip on hover.
    d.click_css("#tab-graph", 0);
    d.fill_css("#range", &format!("5m{ENTER}"));
    d.fill_css("#expr", &format!("up{ENTER}"));
    d.wait("a series line", |d| {
        !d.elements("#graph svg path.series-line").is_empty()
    });
    assert_eq!(d.elements("#graph svg path.series-line").len(), 1);
    let legend = text_of(&d, "#legend .legend-item");
    assert!(
        legend.contains(&format!(
            "up{{instance=\"127.0.0.1:{port}\", job=\"ember\"}}"
        )),
        "{legend}"
    );
    assert!(
        !d.texts("#graph svg text.y-label").is_empty(),
        "value labels"
    );
    let times = d.texts("#graph svg text.x-label");
    assert!(
        times.iter().any(|t| t.len() >= 5 && t.contains(':')),
        "time labels: {times:?}"
    );
    let stats = text_of(&d, "#query-stats");
    assert!(stats.contains("Resolution: 1s"), "5m/250 → 1s: {stats}");
    let url = current_url(&d);
    assert!(
        url.contains("g0.tab=graph") && url.contains("g0.range_input=5m"),
        "{url}"
    );
    hover(&d, &d.element("#graph svg"));
    let tip = wait_text(&d, "#graph-tooltip", "Value: 1");
    assert!(tip.contains("up{"), "{tip}");
    d.screenshot(&shots.join("server-ui-graph.png"));

    // Prometheus's links: the alert generator URL opens the table with `up`.
    d.goto(&format!("{base}/graph?g0.expr=up&g0.tab=1"));
    assert_eq!(d.value_css("#expr"), "up");
    wait_text(&d, "#result-table tr.series", "job=\"ember\"");
    assert!(text_of(&d, "#tab-table").contains("Table"));
    assert_eq!(d.elements(".tab.active#tab-table").len(), 1);
    // The 3.x form, on the graph tab with its range.
    d.goto(&format!(
        "{base}/query?g0.expr=up&g0.tab=graph&g0.range_input=2m"
    ));
    d.wait("graph from the URL", |d| {
        !d.elements("#graph svg path.series-line").is_empty()
    });
    assert_eq!(d.value_css("#range"), "2m");

    // Completion: part of a metric name offers the whole; Tab takes it.
    d.goto(&format!("{base}/query"));
    d.fill_css("#expr", "scrape_dur");
    let offered = wait_text(&d, "#expr-suggest li", "scrape_duration_seconds");
    assert!(
        offered.lines().all(|n| n.contains("scrape_dur")),
        "{offered}"
    );
    let expr = d.element("#expr");
    d.call(
        "POST",
        &format!("/element/{expr}/value"),
        Some(json!({"text": "\u{E004}"})),
    );
    assert_eq!(d.value_css("#expr"), "scrape_duration_seconds");
    assert_eq!(text_of(&d, "#expr-suggest"), "", "the list closes");
    d.call(
        "POST",
        &format!("/element/{expr}/value"),
        Some(json!({"text": ENTER})),
    );
    wait_text(&d, "#result-table tr.series", "scrape_duration_seconds{");
    // No metric names inside label matchers.
    d.fill_css("#expr", "up{job=\"scrape_dur");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(text_of(&d, "#expr-suggest"), "");

    service_discovery_view(&d, &base, port);

    // Targets: the pool, the endpoint, its state and labels.
    d.goto(&format!("{base}/targets"));
    let target = wait_text(&d, "tr.target", "UP");
    assert!(
        target.contains(&format!("http://127.0.0.1:{port}/metrics"))
            && target.contains("job=\"ember\""),
        "{target}"
    );
    assert!(text_of(&d, "h2.pool").contains("ember (1/1 up)"));

    // Rules and alerts.
    d.goto(&format!("{base}/rules"));
    let rules = wait_text(&d, "tr.rule", "AlwaysFiring");
    assert!(
        rules.contains("record: job:up:sum") && rules.contains("expr: sum by (job) (up)"),
        "{rules}"
    );
    d.goto(&format!("{base}/alerts"));
    let alert = wait_text(&d, "tr.alert", "alertname=\"AlwaysFiring\"");
    assert!(alert.contains("FIRING"), "{alert}");

    // Status, flags, configuration.
    d.goto(&format!("{base}/status"));
    wait_text(&d, "#page-body", "goVersion");
    d.goto(&format!("{base}/flags"));
    let flags = wait_text(&d, "tr.flag", "--web.listen-address");
    assert!(flags.contains(&format!("127.0.0.1:{port}")), "{flags}");
    d.goto(&format!("{base}/config"));
    wait_text(&d, "pre.config", "job_name: ember");
}

/// The service-discovery page: each pool with its targets' discovered labels
/// beside their target labels or "dropped", the pool and search filters (kept in
/// the URL) and the collapse toggle.
fn service_discovery_view(d: &Driver, base: &str, port: u16) {
    d.goto(&format!("{base}/service-discovery"));
    let ember = "details.sd-pool[data-pool=ember]";
    let kept = wait_text(
        d,
        &format!("{ember} tr.sd-target:not(.sd-dropped)"),
        "__address__=",
    );
    for want in [
        format!("__address__=\"127.0.0.1:{port}\""),
        "__scrape_interval__=\"1s\"".to_string(),
        format!("instance=\"127.0.0.1:{port}\""),
        "job=\"ember\"".to_string(),
    ] {
        assert!(kept.contains(&want), "{want} in {kept}");
    }
    let cells = d.texts(&format!(
        "{ember} tr.sd-target:not(.sd-dropped) td.target-labels"
    ));
    assert!(
        cells.len() == 1 && !cells[0].contains("__address__"),
        "target labels: {cells:?}"
    );
    let dropped = text_of(d, &format!("{ember} tr.sd-dropped"));
    assert!(
        dropped.contains("__address__=\"dropped.invalid:9\"") && dropped.contains("dropped"),
        "{dropped}"
    );
    assert!(text_of(d, &format!("{ember} summary")).contains("1 / 2 active targets"));
    d.screenshot(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-ui-sd.png"));
    let other = text_of(d, "details.sd-pool[data-pool=other]");
    assert!(
        other.contains("0 / 1 active targets") && other.contains("other.invalid:9"),
        "{other}"
    );

    // The pool filter shows one pool and says so in the URL.
    d.click_css("#sd-pool option[value=other]", 0);
    d.wait("only the other pool", |d| {
        text_of(d, ember).is_empty() && text_of(d, "details.sd-pool").contains("other.invalid")
    });
    assert!(current_url(d).contains("pool=other"), "{}", current_url(d));
    d.goto(&format!("{base}/service-discovery?pool=ember"));
    wait_text(d, ember, "127.0.0.1");
    assert_eq!(text_of(d, "details.sd-pool[data-pool=other]"), "");
    assert_eq!(d.value_css("#sd-pool"), "ember");

    // The search keeps the rows whose labels match.
    d.fill_css("#sd-search", "dropped.invalid");
    d.wait("only the dropped row", |d| {
        !text_of(d, ember).contains("127.0.0.1")
    });
    assert!(text_of(d, ember).contains("dropped.invalid:9"));
    d.fill_css("#sd-search", "");

    // Collapse all, then expand again.
    assert_eq!(text_of(d, "#sd-toggle"), "Collapse all");
    d.click_css("#sd-toggle", 0);
    d.wait("collapsed", |d| {
        d.elements("details.sd-pool[open]").is_empty()
    });
    assert!(
        d.texts(&format!("{ember} tr.sd-target"))
            .iter()
            .all(|t| t.is_empty()),
        "rows hidden"
    );
    assert_eq!(text_of(d, "#sd-toggle"), "Expand all");
    d.click_css("#sd-toggle", 0);
    wait_text(d, &format!("{ember} tr.sd-target"), "127.0.0.1");

    // Reachable from the navigation.
    d.click_css("nav a[data-view=targets]", 0);
    wait_text(d, "tr.target", "UP");
    d.click_css("nav a[data-view=service-discovery]", 0);
    wait_text(d, ember, "127.0.0.1");
}

/// `ember server --agent`: `/` and `/agent` show the agent page with its links, the
/// navigation offers no query, rules, alerts or TSDB view (their paths are 404, as
/// in Prometheus's agent), and targets, service discovery and status still work.
#[test]
fn agent_page_and_navigation() {
    let Some(d) = Driver::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let cfg = dir.path().join("agent.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n{}",
            scrape_configs(port, "/metrics")
        ),
    )
    .expect("config");
    let _agent = common::Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["server", "--agent", "--log.level=error"])
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.agent.path={}",
                dir.path().join("agent").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .spawn()
            .expect("start ember --agent"),
    );
    common::wait_ready(port);
    let base = format!("http://127.0.0.1:{port}");

    for path in ["/", "/agent"] {
        d.goto(&format!("{base}{path}"));
        let page = wait_text(&d, "#page-body", "agent mode");
        assert!(page.contains("remote-write"), "{page}");
        assert_eq!(text_of(&d, "#page-title"), "Agent mode");
        for link in ["targets", "service-discovery", "status", "flags", "config"] {
            assert_eq!(
                d.elements(&format!("#page-body a[href={link}]")).len(),
                1,
                "{link}"
            );
        }
        let nav = text_of(&d, "nav");
        for shown in [
            "Agent",
            "Targets",
            "Service discovery",
            "Status",
            "Flags",
            "Config",
        ] {
            assert!(nav.contains(shown), "{shown} in {nav}");
        }
        for hidden in ["Query", "Alerts", "Rules", "TSDB"] {
            assert!(!nav.contains(hidden), "{hidden} in {nav}");
        }
    }
    for path in ["/query", "/graph", "/alerts", "/rules", "/tsdb-status"] {
        assert_eq!(get(port, path).map(|r| r.0), Some(404), "{path}");
    }
    assert_eq!(get(port, "/agent").map(|r| r.0), Some(200));
    d.screenshot(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-ui-agent.png"));

    // The targets view renders the agent's target. Whether its scrapes succeed is
    // agent_mode.rs's to check (against Prometheus's agent): here, on a loaded CI
    // machine, the first self-scrape has been seen to take over a minute.
    d.click_css("#page-body a[href=targets]", 0);
    wait_text(&d, "tr.target", &format!("127.0.0.1:{port}"));
    d.click_css("nav a[data-view=service-discovery]", 0);
    wait_text(
        &d,
        "details.sd-pool[data-pool=ember] tr.sd-dropped",
        "dropped.invalid:9",
    );
    d.click_css("nav a[data-view=status]", 0);
    wait_text(&d, "#page-body", "goVersion");
    assert!(
        !text_of(&d, "#page-body").contains("Alertmanagers"),
        "an agent has no Alertmanagers"
    );
    assert_eq!(text_of(&d, "#page-error"), "");
}

#[test]
fn query_page_under_route_prefix() {
    let Some(d) = Driver::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let cfg = config(dir.path(), port, "/prefix/metrics");
    let _ember = start_ember_prefixed(dir.path(), &cfg, port, "/prefix");
    wait_for_samples(port, "/prefix", 1);

    // `/` redirects into the prefix, where the page runs queries.
    d.goto(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(current_url(&d), format!("http://127.0.0.1:{port}/prefix/"));
    d.fill_css("#expr", &format!("up{ENTER}"));
    let row = wait_text(&d, "#result-table tr.series", "job=\"ember\"");
    assert!(row.starts_with("up{"), "{row}");
    // A range of one minute: its last step is now, so even the first samples
    // make a point.
    d.click_css("#tab-graph", 0);
    d.fill_css("#range", &format!("1m{ENTER}"));
    d.wait("a series line", |d| {
        !d.elements("#graph svg path.series-line").is_empty()
    });
    // The navigation stays inside the prefix.
    d.click_css("nav a[data-view=targets]", 0);
    wait_text(&d, "tr.target", "UP");
    assert_eq!(
        current_url(&d),
        format!("http://127.0.0.1:{port}/prefix/targets")
    );
}
