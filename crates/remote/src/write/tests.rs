//! The sender end to end inside the crate: a real WAL written with
//! `ember_wal`'s writer, the watcher tailing it, and a scripted client standing in
//! for the receiver (status codes in order, requests decoded back).

use super::queue::{QueueManager, Shared};
use super::*;
use crate::proto;
use ember_wal::record::{self, RefSample, RefSeries};
use ember_wal::segment::{Wal, WalOptions};
use prost::Message;
use std::collections::VecDeque;
use std::time::Instant;

/// What the fake receiver got: headers and the decoded request.
type Got = Vec<(Vec<(String, String)>, proto::WriteRequest)>;

#[derive(Default)]
struct Mock {
    /// Statuses to answer, in order; 200 once empty. 0 means a transport error.
    script: Mutex<VecDeque<(u16, Option<Duration>)>>,
    got: Mutex<Got>,
    attempts: Mutex<Vec<Instant>>,
}

impl WriteClient for Mock {
    fn store<'a>(
        &'a self,
        _url: &'a str,
        req: WriteRequest,
    ) -> BoxFuture<'a, Result<Reply, String>> {
        Box::pin(async move {
            self.attempts.lock().unwrap().push(Instant::now());
            let (status, retry_after) = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((200, None));
            if status == 0 {
                return Err("connection refused".into());
            }
            if (200..300).contains(&status) {
                let raw = snap::raw::Decoder::new().decompress_vec(&req.body).unwrap();
                let w = proto::WriteRequest::decode(&raw[..]).unwrap();
                self.got.lock().unwrap().push((req.headers, w));
            }
            Ok(Reply {
                status,
                body: b"nope".to_vec(),
                retry_after,
            })
        })
    }
}

fn config(yaml: &str) -> ember_config::Config {
    ember_config::load_str(
        yaml,
        std::path::Path::new("t.yml"),
        &ember_config::LoadOptions::default(),
    )
    .unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Harness {
    _dir: tempfile::TempDir,
    wal: Wal,
    qm: Option<QueueManager>,
    mock: Arc<Mock>,
    t0: i64,
}

impl Harness {
    /// A WAL and a queue for the first `remote_write` entry of `yaml`, answering
    /// with `script` first.
    async fn new(yaml: &str, script: &[(u16, Option<Duration>)]) -> Harness {
        let cfg = config(yaml);
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        let wal = Wal::open(&wal_dir, WalOptions::default()).unwrap();
        let mock = Arc::new(Mock::default());
        mock.script.lock().unwrap().extend(script.iter().copied());
        let shared = Shared::new(
            "test".into(),
            cfg.remote_write[0].clone(),
            cfg.global.external_labels.clone(),
            mock.clone(),
        );
        let qm = QueueManager::start(shared, wal_dir);
        // Samples must be newer than the watcher's start.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Harness {
            _dir: dir,
            wal,
            qm: Some(qm),
            mock,
            t0: now_ms() + 1000,
        }
    }

    fn series(&mut self, s: &[(u64, &[(&str, &str)])]) {
        let s: Vec<RefSeries> = s
            .iter()
            .map(|(r, l)| RefSeries {
                r: *r,
                labels: Labels::from_pairs(l.iter().copied()),
            })
            .collect();
        let mut b = Vec::new();
        record::encode_series(&s, &mut b);
        self.wal.log(&[&b]).unwrap();
    }

    /// Samples of series `r` at t0+i for i in `range`.
    fn samples(&mut self, r: u64, range: std::ops::Range<i64>) {
        let s: Vec<RefSample> = range
            .map(|i| RefSample {
                r,
                t: self.t0 + i,
                v: i as f64,
            })
            .collect();
        let mut b = Vec::new();
        record::encode_samples(&s, &mut b);
        self.wal.log(&[&b]).unwrap();
    }

    fn shared(&self) -> &Shared {
        &self.qm.as_ref().unwrap().shared
    }

    fn sent_samples(&self) -> usize {
        self.mock
            .got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, w)| &w.timeseries)
            .map(|t| t.samples.len())
            .sum()
    }

    async fn wait_samples(&self, n: usize) {
        let t = Instant::now();
        while self.sent_samples() < n {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "got {} of {n} samples",
                self.sent_samples()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(q) = self.qm.take() {
            q.stop(Duration::from_secs(5)).await;
        }
    }
}

fn counter(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

const BASE: &str = "remote_write:\n  - url: http://x/\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_by_size_then_deadline() {
    let yaml = format!(
        "{BASE}    headers: {{X-Scope-OrgID: tenant}}\n    queue_config: {{max_samples_per_send: 3, batch_send_deadline: 300ms}}\n"
    );
    let mut h = Harness::new(&yaml, &[]).await;
    h.series(&[(1, &[("__name__", "up"), ("job", "a")])]);
    h.samples(1, 0..7);
    h.wait_samples(7).await;
    let got = h.mock.got.lock().unwrap().clone();
    let sizes: Vec<usize> = got.iter().map(|(_, w)| w.timeseries.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let ts: Vec<i64> = got
        .iter()
        .flat_map(|(_, w)| &w.timeseries)
        .map(|t| t.samples[0].timestamp - h.t0)
        .collect();
    assert_eq!(ts, (0..7).collect::<Vec<_>>(), "in order");
    let hd = &got[0].0;
    let has = |k: &str, v: &str| hd.iter().any(|(a, b)| a == k && b.starts_with(v));
    assert!(has("Content-Type", "application/x-protobuf"), "{hd:?}");
    assert!(has("Content-Encoding", "snappy"));
    assert!(has("X-Prometheus-Remote-Write-Version", "0.1.0"));
    assert!(has("User-Agent", "Prometheus/"));
    assert!(has("X-Scope-OrgID", "tenant"));
    let m = &h.shared().metrics;
    assert_eq!(counter(&m.sent.samples), 7);
    assert_eq!(m.pending_samples.load(Ordering::Relaxed), 0);
    assert_eq!(m.highest_sent_ms.load(Ordering::Relaxed), h.t0 + 6);
    assert_eq!(counter(&m.batch_count), 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_and_transport_errors_then_succeeds() {
    let yaml = format!(
        "{BASE}    queue_config: {{min_backoff: 20ms, max_backoff: 100ms, batch_send_deadline: 50ms}}\n"
    );
    let mut h = Harness::new(&yaml, &[(500, None), (0, None), (503, None)]).await;
    h.series(&[(1, &[("__name__", "up")])]);
    h.samples(1, 0..4);
    h.wait_samples(4).await;
    let m = &h.shared().metrics;
    assert_eq!(
        counter(&m.retried.samples),
        12,
        "three failed attempts of 4"
    );
    assert_eq!(counter(&m.failed.samples), 0);
    assert_eq!(counter(&m.sent.samples), 16, "counted per attempt");
    // Backoff: 20ms, 40ms, 80ms between the attempts.
    let at = h.mock.attempts.lock().unwrap().clone();
    assert_eq!(at.len(), 4);
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps[0] >= 20 && gaps[1] >= 40 && gaps[2] >= 80, "{gaps:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_retryable_4xx_is_dropped_and_429_retried_when_asked() {
    let yaml = format!("{BASE}    queue_config: {{batch_send_deadline: 50ms}}\n");
    let mut h = Harness::new(&yaml, &[(400, None), (429, None)]).await;
    h.series(&[(1, &[("__name__", "up")])]);
    h.samples(1, 0..2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.samples(1, 2..4);
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.samples(1, 4..6);
    h.wait_samples(2).await;
    let m = &h.shared().metrics;
    // 400 and 429 (without retry_on_http_429): both batches dropped, no retries.
    assert_eq!(counter(&m.failed.samples), 4);
    assert_eq!(counter(&m.retried.samples), 0);
    h.stop().await;

    let yaml = format!(
        "{BASE}    queue_config: {{batch_send_deadline: 50ms, retry_on_http_429: true, min_backoff: 10ms}}\n"
    );
    let mut h = Harness::new(&yaml, &[(429, Some(Duration::from_millis(300)))]).await;
    h.series(&[(1, &[("__name__", "up")])]);
    h.samples(1, 0..2);
    h.wait_samples(2).await;
    let at = h.mock.attempts.lock().unwrap().clone();
    assert!(
        at[1] - at[0] >= Duration::from_millis(300),
        "Retry-After honoured"
    );
    assert_eq!(counter(&h.shared().metrics.retried.samples), 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_labels_and_relabel_drop() {
    let yaml = "global:\n  external_labels: {cluster: eu, replica: a}\nremote_write:\n  - url: http://x/\n    queue_config: {batch_send_deadline: 50ms}\n    write_relabel_configs:\n      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n";
    let mut h = Harness::new(yaml, &[]).await;
    h.series(&[
        (1, &[("__name__", "up"), ("job", "a")]),
        (2, &[("__name__", "up"), ("cluster", "own"), ("job", "b")]),
        (3, &[("__name__", "go_goroutines"), ("job", "a")]),
    ]);
    h.samples(1, 0..2);
    h.samples(2, 0..2);
    h.samples(3, 0..5);
    // A reference never declared: dropped as unknown.
    h.samples(99, 0..1);
    h.wait_samples(4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.sent_samples(), 4);
    let got = h.mock.got.lock().unwrap().clone();
    let mut sets: Vec<String> = got
        .iter()
        .flat_map(|(_, w)| &w.timeseries)
        .map(|t| {
            t.labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    sets.dedup();
    assert_eq!(
        sets,
        [
            "__name__=up,cluster=eu,job=a,replica=a",
            "__name__=up,cluster=own,job=b,replica=a"
        ]
    );
    let m = &h.shared().metrics;
    let dropped = m.dropped.lock().unwrap().clone();
    assert_eq!(
        dropped.get(&(0, metrics::DropReason::DroppedSeries)),
        Some(&5)
    );
    assert_eq!(
        dropped.get(&(0, metrics::DropReason::UnknownSeries)),
        Some(&1)
    );
    h.stop().await;
}

/// Samples written before the watcher started are not sent (Prometheus's rule);
/// the watcher follows the TSDB into a new segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_new_segments_and_skips_old_samples() {
    let yaml = format!("{BASE}    queue_config: {{batch_send_deadline: 50ms}}\n");
    let mut h = Harness::new(&yaml, &[]).await;
    h.series(&[(1, &[("__name__", "up")])]);
    // Older than the start.
    let old = RefSample {
        r: 1,
        t: h.t0 - 60_000,
        v: 1.0,
    };
    let mut b = Vec::new();
    record::encode_samples(&[old], &mut b);
    h.wal.log(&[&b]).unwrap();
    h.samples(1, 0..3);
    h.wait_samples(3).await;
    h.wal.next_segment().unwrap();
    h.samples(1, 3..6);
    h.wal.next_segment().unwrap();
    h.samples(1, 6..9);
    h.wait_samples(9).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.sent_samples(), 9);
    h.stop().await;
}

/// Remote write 2.0: symbols, label references, metadata from the WAL; the
/// crate's own receiver reads it back.
#[test]
fn v2_request_decodes() {
    let series = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
    let batch = vec![
        queue::Item {
            series: series.clone(),
            t: 10,
            data: queue::Data::Float(1.0),
        },
        queue::Item {
            series,
            t: 20,
            data: queue::Data::Float(2.0),
        },
    ];
    let mut meta = std::collections::HashMap::new();
    meta.insert(
        "up".to_string(),
        queue::FamilyMeta {
            metric_type: 2,
            help: "Up.".into(),
            unit: String::new(),
        },
    );
    let req = queue::build_v2(&batch, &meta);
    assert_eq!(req.symbols[0], "");
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let st = ember_storage::list::MemStorage::new();
    let mut app = ember_storage::Appendable::appender(&st);
    let w = crate::receive(&body, crate::Protocol::V2, app.as_mut()).unwrap();
    app.commit().unwrap();
    assert_eq!(w.samples, 2);
}

/// A reload keeps an unchanged queue (the same one, with its counters) and
/// replaces a changed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_queues() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let _wal = Wal::open(&wal_dir, WalOptions::default()).unwrap();
    let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let factory: ClientFactory = {
        let made = made.clone();
        Arc::new(move |_cfg| {
            made.fetch_add(1, Ordering::Relaxed);
            Ok(Arc::new(Mock::default()) as Arc<dyn WriteClient>)
        })
    };
    let mut ws = WriteStorage::new(wal_dir, factory, Duration::from_secs(1));
    let a = config("remote_write:\n  - {url: 'http://a/'}\n  - {url: 'http://b/', name: bee}\n");
    ws.apply_config(&a.remote_write, &a.global.external_labels)
        .await
        .unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 2);
    ws.apply_config(&a.remote_write, &a.global.external_labels)
        .await
        .unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 2, "nothing rebuilt");
    let b = config(
        "remote_write:\n  - {url: 'http://a/'}\n  - {url: 'http://b/', name: bee, remote_timeout: 5s}\n",
    );
    ws.apply_config(&b.remote_write, &b.global.external_labels)
        .await
        .unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 3, "only the changed one");
    let text = {
        let mut out = Vec::new();
        ember_exposition::write_text(&mut out, &ws.metrics().families());
        String::from_utf8(out).unwrap()
    };
    assert!(
        text.contains(r#"prometheus_remote_storage_shards{remote_name="bee",url="http://b/"} 1"#),
        "{text}"
    );
    let dup = config("remote_write:\n  - {url: 'http://a/'}\n  - {url: 'http://a/'}\n");
    assert!(matches!(
        ws.apply_config(&dup.remote_write, &dup.global.external_labels)
            .await,
        Err(WriteError::Duplicate(_))
    ));
    assert_eq!(ws.len(), 2);
    ws.stop().await;
    assert!(ws.metrics().families().is_empty());
}
