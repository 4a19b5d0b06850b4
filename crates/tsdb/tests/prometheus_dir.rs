//! Prometheus → Ember: a data directory written by Debian's `prometheus` (blocks
//! backfilled by `promtool`, plus a WAL from a real server run) opens in Ember, and a
//! full dump of it equals what `promtool tsdb dump` reads from the same directory.
//!
//! Native histograms: a real Prometheus (2.42, `--enable-feature=native-histograms`)
//! scrapes an endpoint serving them in the protobuf format and records a float
//! histogram with a rule, with tiny blocks so that its blocks, WAL and
//! `chunks_head/` all hold histograms; Ember must read exactly what Prometheus's
//! query API returned before it was stopped. (`promtool tsdb dump` of 2.42 prints
//! float samples only, so it cannot be the oracle for histograms.)

mod common;

use common::Kill;

use ember_model::{MatchType, Matcher};
use ember_storage::{Queryable, ValueType};
use ember_tsdb::{Db, DbOptions};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tools_present() -> bool {
    if have("promtool") && have("prometheus") {
        return true;
    }
    assert!(
        std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
        "prometheus/promtool not installed (apt-get install prometheus) and EMBER_REQUIRE_INTEROP=1"
    );
    println!("skipped: prometheus/promtool not found");
    false
}

type Sample = (String, i64, u64);

/// Parses `promtool tsdb dump` lines: `{labels} value timestamp`.
fn parse_dump(text: &str) -> BTreeSet<Sample> {
    text.lines()
        .filter_map(|line| {
            let (labels, rest) = line.rsplit_once("} ")?;
            let mut p = rest.split(' ');
            let v: f64 = p.next()?.parse().ok()?;
            let t: i64 = p.next()?.parse().ok()?;
            Some((format!("{labels}}}"), t, canonical(v)))
        })
        .collect()
}

/// promtool prints every NaN alike, so NaNs (stale markers included) compare as one.
fn canonical(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

#[test]
fn ember_reads_a_prometheus_data_dir() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    // Blocks: backfill 5 hours of OpenMetrics data, a day ago.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now - 86_400) / 7200 * 7200;
    let om = tmp.path().join("in.om");
    let mut f = std::fs::File::create(&om).unwrap();
    writeln!(f, "# TYPE backfilled gauge").unwrap();
    for i in 0..(5 * 60) {
        let t = start + i * 60;
        for s in 0..3 {
            writeln!(
                f,
                "backfilled{{s=\"{s}\",kind=\"a b\"}} {} {t}",
                (i * (s + 1)) as f64 / 3.0
            )
            .unwrap();
        }
    }
    writeln!(f, "# EOF").unwrap();
    drop(f);
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "backfill: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // WAL: a real Prometheus scraping itself for a few seconds, then stopped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = tmp.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"),
    )
    .unwrap();
    let mut prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Targets are picked up a few seconds after start (more under load): wait
    // for the first scrape rather than for a fixed time, then a few more.
    common::wait_ready(port, &mut prom);
    common::wait_for_samples(port, "up");
    std::thread::sleep(Duration::from_secs(3));
    // SIGTERM: a clean shutdown, as a user would do before switching.
    assert!(
        Command::new("kill")
            .arg(prom.0.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let status = prom.0.wait().unwrap();
    assert!(
        status.success() || status.code().is_some(),
        "prometheus exited: {status:?}"
    );

    let out = Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = parse_dump(&String::from_utf8_lossy(&out.stdout));
    let from_wal = want.iter().filter(|s| s.0.contains("job=\"self\"")).count();
    let from_blocks = want.iter().filter(|s| s.0.contains("backfilled")).count();
    assert_eq!(from_blocks, 900);
    assert!(from_wal > 100, "the WAL holds scraped samples: {from_wal}");

    let db = Db::open(&data, DbOptions::default()).unwrap();
    assert!(
        db.replay_report().bad_blocks.is_empty(),
        "{:?}",
        db.replay_report().bad_blocks
    );
    assert!(
        db.replay_report().repaired.is_none(),
        "{:?}",
        db.replay_report().repaired
    );
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
    let mut got = BTreeSet::new();
    for s in q.select(true, None, &[m]) {
        let s = s.unwrap();
        let labels = s.labels().to_string();
        let mut it = s.iter();
        while it.next() == ValueType::Float {
            let (t, v) = it.at();
            got.insert((labels.clone(), t, canonical(v)));
        }
        assert!(it.err().is_none(), "{labels}: {:?}", it.err());
    }
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    println!(
        "Prometheus dir: {} samples ({from_blocks} from blocks, {from_wal} from the WAL) read identically",
        got.len()
    );
}

/// A hand-written protobuf encoder for the few messages of Prometheus's
/// `io.prometheus.client` exposition format the test serves (Ember has no protobuf
/// crate). Repeated scalars are written unpacked, which proto2 readers accept.
mod pb {
    pub(super) fn varint(b: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            b.push(v as u8 | 0x80);
            v >>= 7;
        }
        b.push(v as u8);
    }
    fn key(b: &mut Vec<u8>, field: u64, wire: u64) {
        varint(b, field << 3 | wire);
    }
    pub(super) fn uint(b: &mut Vec<u8>, field: u64, v: u64) {
        key(b, field, 0);
        varint(b, v);
    }
    pub(super) fn sint(b: &mut Vec<u8>, field: u64, v: i64) {
        key(b, field, 0);
        varint(b, ((v << 1) ^ (v >> 63)) as u64);
    }
    pub(super) fn double(b: &mut Vec<u8>, field: u64, v: f64) {
        key(b, field, 1);
        b.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn bytes(b: &mut Vec<u8>, field: u64, data: &[u8]) {
        key(b, field, 2);
        varint(b, data.len() as u64);
        b.extend_from_slice(data);
    }
}

/// A native histogram to serve, with absolute bucket counts by bucket index
/// (schema 0, so that bounds are exact powers of two).
struct Served {
    zero_count: f64,
    sum: f64,
    positive: Vec<(i32, f64)>,
    negative: Vec<(i32, f64)>,
}

impl Served {
    fn count(&self) -> f64 {
        self.zero_count
            + self.positive.iter().map(|b| b.1).sum::<f64>()
            + self.negative.iter().map(|b| b.1).sum::<f64>()
    }

    /// Spans and counts in Prometheus's layout: bucket indexes must ascend.
    fn spans(buckets: &[(i32, f64)]) -> (Vec<(i32, u32)>, Vec<f64>) {
        let mut spans: Vec<(i32, u32)> = Vec::new();
        let mut next = 0i32;
        for (i, (idx, _)) in buckets.iter().enumerate() {
            match spans.last_mut() {
                Some(s) if i > 0 && *idx == next => s.1 += 1,
                _ => spans.push((if i == 0 { *idx } else { idx - next }, 1)),
            }
            next = idx + 1;
        }
        (spans, buckets.iter().map(|b| b.1).collect())
    }

    /// The `Histogram` message; integer counts are delta-encoded, float ones
    /// absolute.
    fn encode(&self, float: bool) -> Vec<u8> {
        let mut h = Vec::new();
        if float {
            pb::double(&mut h, 4, self.count());
            pb::double(&mut h, 8, self.zero_count);
        } else {
            pb::uint(&mut h, 1, self.count() as u64);
            pb::uint(&mut h, 7, self.zero_count as u64);
        }
        pb::double(&mut h, 2, self.sum);
        pb::sint(&mut h, 5, 0);
        pb::double(&mut h, 6, 0.001);
        for (side, span_field, delta_field, count_field) in
            [(&self.negative, 9, 10, 11), (&self.positive, 12, 13, 14)]
        {
            let (spans, counts) = Self::spans(side);
            for (offset, length) in spans {
                let mut s = Vec::new();
                pb::sint(&mut s, 1, offset as i64);
                pb::uint(&mut s, 2, length as u64);
                pb::bytes(&mut h, span_field, &s);
            }
            let mut prev = 0i64;
            for c in counts {
                if float {
                    pb::double(&mut h, count_field, c);
                } else {
                    pb::sint(&mut h, delta_field, c as i64 - prev);
                    prev = c as i64;
                }
            }
        }
        h
    }
}

/// One length-delimited `MetricFamily` with one metric.
fn family(out: &mut Vec<u8>, name: &str, typ: u64, labels: &[(&str, &str)], h: &[u8]) {
    let mut m = Vec::new();
    for (n, v) in labels {
        let mut l = Vec::new();
        pb::bytes(&mut l, 1, n.as_bytes());
        pb::bytes(&mut l, 2, v.as_bytes());
        pb::bytes(&mut m, 1, &l);
    }
    pb::bytes(&mut m, 7, h);
    let mut f = Vec::new();
    pb::bytes(&mut f, 1, name.as_bytes());
    pb::bytes(&mut f, 2, b"Test histogram.");
    pb::uint(&mut f, 3, typ);
    pb::bytes(&mut f, 4, &m);
    pb::varint(out, f.len() as u64);
    out.extend_from_slice(&f);
}

/// The payload of scrape `k`: a counter histogram that resets every 30 scrapes and
/// gains a bucket halfway through each cycle, a gauge histogram, and a float
/// histogram.
fn payload(k: u64) -> Vec<u8> {
    let n = (1 + k % 30) as f64;
    let mut positive = vec![(0, n), (1, 2.0 * n), (3, n + 1.0)];
    if n > 15.0 {
        positive.push((6, n - 15.0));
    }
    let counter = Served {
        zero_count: n,
        sum: 0.25 * n,
        positive,
        negative: vec![(1, n)],
    };
    let g = ((k * 7) % 11) as f64;
    let gauge = Served {
        zero_count: g,
        sum: -0.5 * g,
        positive: vec![(-2, g), (2, 3.0)],
        negative: vec![(0, 1.0), (4, g)],
    };
    let m = 1.0 + k as f64;
    let float = Served {
        zero_count: 0.5 * m,
        sum: 0.125 * m,
        positive: vec![(0, 0.25 * m), (1, 1.5), (2, 0.75 * m)],
        negative: vec![],
    };
    let mut out = Vec::new();
    family(
        &mut out,
        "test_hist",
        4,
        &[("kind", "counter")],
        &counter.encode(false),
    );
    family(&mut out, "test_gauge_hist", 5, &[], &gauge.encode(false));
    family(&mut out, "test_float_hist", 4, &[], &float.encode(true));
    out
}

/// Serves `payload(k)` for the k-th request until `down` is set, then 503s. One
/// thread per connection, so that a connection the client opens and leaves idle
/// never holds up the next scrape.
fn serve(listener: std::net::TcpListener, down: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{BufRead, BufReader};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let scrapes = Arc::new(AtomicU64::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let (down, scrapes) = (down.clone(), scrapes.clone());
        std::thread::spawn(move || {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(c) = conn.try_clone() else { return };
            let mut r = BufReader::new(c);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(n) if n > 2 => continue,
                    Ok(n) if n > 0 => break,
                    _ => return,
                }
            }
            let resp = if down.load(Ordering::SeqCst) {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec()
            } else {
                let body = payload(scrapes.fetch_add(1, Ordering::SeqCst));
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.google.protobuf; \
                     proto=io.prometheus.client.MetricFamily; encoding=delimited\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            };
            let _ = conn.write_all(&resp);
        });
    }
}

#[test]
fn ember_reads_prometheus_native_histograms() {
    if !tools_present() {
        return;
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().port();
    let down = Arc::new(AtomicBool::new(false));
    {
        let down = down.clone();
        std::thread::spawn(move || serve(listener, down));
    }
    let port = common::free_port();
    std::fs::write(
        tmp.path().join("rules.yml"),
        "groups:\n  - name: h\n    interval: 200ms\n    rules:\n      - record: job:test_hist:sum\n        expr: sum(test_hist)\n",
    )
    .unwrap();
    let cfg = tmp.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n  evaluation_interval: 200ms\n\
             rule_files: ['{}']\n\
             scrape_configs:\n  - job_name: hist\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n",
            tmp.path().join("rules.yml").display()
        ),
    )
    .unwrap();
    let mut prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=native-histograms")
            // Blocks of one second, so that a few seconds of scraping leave
            // histograms in blocks (level 1 and compacted) as well as in the WAL.
            .arg("--storage.tsdb.min-block-duration=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    common::wait_ready(port, &mut prom);
    // Targets are picked up a few seconds after start; scrape for 8 s from the
    // first sample on.
    common::wait_for_samples(port, "test_hist");
    std::thread::sleep(Duration::from_secs(8));
    // The target goes away: Prometheus writes staleness markers, as histograms.
    down.store(true, Ordering::SeqCst);
    // Long enough for the markers (scrape, then rule), short enough that the
    // newest histograms are still only in the head, that is in the WAL.
    std::thread::sleep(Duration::from_millis(500));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // One query per name: 2.42 answers `{__name__=~"a.*|b"}` with only some of
    // the matching series.
    let mut want = common::Dump::new();
    for name in [
        "test_hist",
        "test_gauge_hist",
        "test_float_hist",
        "job:test_hist:sum",
    ] {
        want.extend(common::api_matrix(port, &format!("{name}[1h]"), now));
    }
    assert!(
        Command::new("kill")
            .arg(prom.0.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let _ = prom.0.wait();
    assert_eq!(want.len(), 4, "{:?}", want.keys().collect::<Vec<_>>());
    let total: usize = want.values().map(Vec::len).sum();
    assert!(total > 150, "only {total} histogram samples");
    assert!(
        want.values()
            .flatten()
            .all(|s| matches!(s.1, common::ApiSample::Histogram { .. }))
    );

    // Prometheus left histograms in blocks, not only in its WAL: Ember's head
    // starts after the newest block, so samples before its end come from blocks.
    let blocks_end = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("meta.json")).ok())
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m).unwrap()["maxTime"]
                .as_i64()
                .unwrap()
        })
        .max()
        .unwrap_or(i64::MIN);
    let in_blocks = want.values().flatten().filter(|s| s.0 < blocks_end).count();
    let in_head = total - in_blocks;
    assert!(in_blocks > 50, "{in_blocks} histogram samples in blocks");
    // How many are left only in the WAL depends on timing (a loaded machine cuts
    // blocks later); replay of histogram records is also covered by the tsdb unit
    // test `histograms_survive_restart_and_compaction`.
    if in_head == 0 {
        println!("note: no histogram samples were left only in Prometheus's WAL this run");
    }

    let db = Db::open(&data, DbOptions::default()).unwrap();
    let report = db.replay_report();
    assert!(report.bad_blocks.is_empty(), "{:?}", report.bad_blocks);
    assert!(report.repaired.is_none(), "{:?}", report.repaired);
    assert!(
        report.histogram_samples > 0,
        "no histogram records replayed: {report:?}"
    );
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = Matcher::new(
        MatchType::RegexMatch,
        "__name__",
        "test_.*|job:test_hist:sum",
    )
    .unwrap();
    let mut got = common::Dump::new();
    let mut stale = 0;
    for s in q.select(true, None, &[m]) {
        let s = s.unwrap();
        let key = common::series_key(
            s.labels()
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str())),
        );
        let (samples, n) = common::ember_samples(s.iter().as_mut());
        stale += n;
        got.insert(key, samples);
    }
    common::assert_same(&want, &got);
    // One staleness marker per series when the target went away (the recorded
    // series goes stale when its input does).
    assert!(stale >= 3, "{stale} staleness markers");
    println!(
        "Prometheus native histograms: {total} samples ({in_blocks} from blocks, {in_head} from the WAL) and {stale} staleness markers read identically"
    );
}
