//! Prometheus → Ember: a data directory written by Debian's `prometheus` (blocks
//! backfilled by `promtool`, plus a WAL from a real server run) opens in Ember, and a
//! full dump of it equals what `promtool tsdb dump` reads from the same directory.

use ember_model::{MatchType, Matcher};
use ember_storage::{Queryable, ValueType};
use ember_tsdb::{Db, DbOptions};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
    }
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
