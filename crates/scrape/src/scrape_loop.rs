//! One target's scrape loop: fetch, parse, label, relabel, append — all of a scrape
//! in one transaction, so a failed or malformed scrape stores nothing of itself —
//! then the report series (`up`, `scrape_duration_seconds`, …) and staleness markers
//! for series that disappeared.

use crate::metadata::{Declared, MetadataCache};
use crate::target::Target;
use ember_config::ScrapeConfig;
use ember_discovery::http::HttpClient;
use ember_exposition::{Entry, Format, Parser};
use ember_model::relabel::process_builder;
use ember_model::value::stale_nan;
use ember_model::{Labels, LabelsBuilder};
use ember_storage::{Appendable, Appender, Error as StorageError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the loop last saw, for the targets API.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// The last error, if any.
    pub last_error: String,
    /// When the last scrape started (ms).
    pub last_scrape: i64,
    /// How long it took.
    pub last_duration: Duration,
}

pub(crate) struct LoopState {
    pub(crate) target: Target,
    pub(crate) cfg: Arc<ScrapeConfig>,
    pub(crate) store: Arc<dyn Appendable>,
    pub(crate) client: HttpClient,
    pub(crate) health: Arc<Mutex<Health>>,
    /// Series appended by the last successful scrape (raw line key → labels), for
    /// staleness and for skipping relabeling of lines seen before. Shared with the
    /// manager so that stopping the loop can mark them stale.
    prev: Arc<Mutex<SeriesCache>>,
    /// Metric metadata of the last scrapes, shared with the manager for the API.
    pub(crate) metadata: Arc<Mutex<MetadataCache>>,
}

/// What a target's previous scrapes taught: for each raw exposition line (name and
/// labels as written), the labels stored for it (`None` when metric relabeling drops
/// it), the storage reference that skips the label lookup on append, and the last
/// scrape that contained it. Lines are looked up by the bytes as written, so a
/// steady target costs no label parsing or relabeling after its first scrape.
#[derive(Default)]
pub(crate) struct SeriesCache {
    entries: HashMap<Vec<u8>, CacheEntry>,
    /// The last successful scrape.
    generation: u64,
}

struct CacheEntry {
    labels: Option<Labels>,
    r: Option<ember_storage::SeriesRef>,
    seen_in: u64,
    /// The scrape that first produced the line (a failed scrape may have added it).
    first_seen: u64,
}

impl SeriesCache {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const REPORT: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

impl LoopState {
    pub(crate) fn new(
        target: Target,
        cfg: Arc<ScrapeConfig>,
        store: Arc<dyn Appendable>,
        client: HttpClient,
        health: Arc<Mutex<Health>>,
        prev: Arc<Mutex<SeriesCache>>,
        metadata: Arc<Mutex<MetadataCache>>,
    ) -> Self {
        LoopState {
            target,
            cfg,
            store,
            client,
            health,
            prev,
            metadata,
        }
    }

    fn accept(&self) -> String {
        let mut parts = Vec::new();
        let n = self.cfg.scrape_protocols.len();
        for (i, p) in self.cfg.scrape_protocols.iter().enumerate() {
            // Protobuf is not parsed yet: never ask for it.
            if matches!(p, ember_config::ScrapeProtocol::PrometheusProto) {
                continue;
            }
            parts.push(format!(
                "{};q={:.1}",
                p.header(),
                1.0 - (i as f64) / (n as f64 + 1.0)
            ));
        }
        parts.push("*/*;q=0.1".into());
        parts.join(",")
    }

    /// Runs forever (until aborted), aligned to the target's offset in the interval.
    pub(crate) async fn run(mut self) {
        let interval = self.target.interval;
        let offset = Duration::from_millis(self.target.hash() % interval.as_millis().max(1) as u64);
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let into =
            Duration::from_nanos((since_epoch.as_nanos() % interval.as_nanos().max(1)) as u64);
        let wait = if offset >= into {
            offset - into
        } else {
            interval + offset - into
        };
        tokio::time::sleep(wait).await;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            self.scrape_once().await;
        }
    }

    /// One scrape and its report.
    pub(crate) async fn scrape_once(&mut self) {
        let start = Instant::now();
        let ts = now_ms();
        let limit = self.cfg.body_size_limit.0.max(0) as usize;
        let mut headers = vec![
            ("Accept", self.accept()),
            (
                "User-Agent",
                format!("Prometheus/{} (Ember)", env!("CARGO_PKG_VERSION")),
            ),
            (
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", self.target.timeout.as_secs_f64()),
            ),
        ];
        if self.cfg.enable_compression {
            headers.push(("Accept-Encoding", "gzip".into()));
        }
        let fetched = self
            .client
            .get(&self.target.url, &headers, self.target.timeout, limit)
            .await;
        let store = self.store.clone();
        let mut app = store.appender();
        let outcome = match fetched {
            Ok(resp) => self.append_body(app.as_mut(), &resp.body, &resp.content_type, ts),
            Err(e) => Err(e.to_string()),
        };
        let (scraped, post, added, err) = match outcome {
            Ok(x) => (x.0, x.1, x.2, None),
            Err(e) => {
                // Nothing of a failed scrape is kept; its series go stale.
                let _ = app.rollback();
                app = store.appender();
                self.stale_all(app.as_mut(), ts);
                (0, 0, 0, Some(e))
            }
        };
        let dur = start.elapsed();
        let up = err.is_none();
        let vals = [
            if up { 1.0 } else { 0.0 },
            dur.as_secs_f64(),
            scraped as f64,
            post as f64,
            added as f64,
        ];
        for (name, v) in REPORT.iter().zip(vals) {
            let _ = app.append(None, &self.report_labels(name), ts, v);
        }
        if let Err(e) = app.commit() {
            tracing::error!(target = %self.target.url, err = %e, "appending scrape failed");
        }
        if let Some(e) = &err {
            tracing::debug!(target = %self.target.url, err = %e, "scrape failed");
        }
        if let Ok(mut h) = self.health.lock() {
            *h = Health {
                up,
                last_error: err.unwrap_or_default(),
                last_scrape: ts,
                last_duration: dur,
            };
        }
    }

    fn report_labels(&self, name: &str) -> Labels {
        let mut b = LabelsBuilder::new(self.target.labels.clone());
        b.set("__name__", name);
        b.into_labels()
    }

    /// Writes staleness markers for every series of the last scrape.
    fn stale_all(&self, app: &mut dyn Appender, ts: i64) {
        let mut prev = self.prev.lock().unwrap_or_else(|p| p.into_inner());
        let generation = prev.generation;
        // Series of the last successful scrape, even if a failed one touched them since.
        for e in prev
            .entries
            .values()
            .filter(|e| e.first_seen <= generation && e.seen_in >= generation && generation > 0)
        {
            if let Some(l) = &e.labels {
                let _ = app.append(e.r, l, ts, stale_nan());
            }
        }
        prev.entries.clear();
    }

    /// Called when the target goes away.
    pub(crate) fn stop(self) {
        let ts = now_ms();
        let store = self.store.clone();
        let mut app = store.appender();
        self.stale_all(app.as_mut(), ts);
        for name in REPORT {
            let _ = app.append(None, &self.report_labels(name), ts, stale_nan());
        }
        let _ = app.commit();
    }

    /// Parses and appends a body; returns (scraped, after relabeling, new series).
    fn append_body(
        &mut self,
        app: &mut dyn Appender,
        body: &[u8],
        content_type: &str,
        ts: i64,
    ) -> Result<(usize, usize, usize), String> {
        let format = if content_type.is_empty() {
            Format::Text
        } else {
            match Format::from_content_type(content_type) {
                Ok(f) => f,
                Err(_) => match self.cfg.fallback_scrape_protocol {
                    Some(p) if p.as_str().starts_with("OpenMetrics") => Format::OpenMetrics,
                    Some(_) => Format::Text,
                    None => {
                        return Err(format!(
                            "received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target"
                        ));
                    }
                },
            }
        };
        let mut parser = Parser::new(body, format);
        let prev_arc = self.prev.clone();
        let mut cache = prev_arc.lock().unwrap_or_else(|p| p.into_inner());
        let last = cache.generation;
        let generation = last + 1;
        let (mut scraped, mut post, mut added) = (0usize, 0usize, 0usize);
        let honor_ts = self.cfg.honor_timestamps;
        let mut declared: Vec<(String, Declared)> = Vec::new();
        while let Some(entry) = parser.next_entry().map_err(|e| e.to_string())? {
            let s = match entry {
                Entry::Series(s) => s,
                Entry::Help { name, help } => {
                    declared.push((
                        name.unescape().into_owned(),
                        Declared::Help(help.unescape().into_owned()),
                    ));
                    continue;
                }
                Entry::Type { name, metric_type } => {
                    declared.push((
                        name.unescape().into_owned(),
                        Declared::Type(metric_type.as_str()),
                    ));
                    continue;
                }
                Entry::Unit { name, unit } => {
                    declared.push((
                        name.unescape().into_owned(),
                        Declared::Unit(unit.to_string()),
                    ));
                    continue;
                }
                Entry::Comment(_) => continue,
            };
            scraped += 1;
            if !cache.entries.contains_key(s.raw) {
                let raw = s.to_labels().map_err(|e| e.to_string())?;
                // Label sets drop empty values, but under honor_labels an exposed
                // label with an empty value still wins over the target's label of
                // that name (and then vanishes), as in Prometheus: a Pushgateway's
                // `instance=""` must not become the gateway's address.
                let empty: Vec<String> = if self.cfg.honor_labels {
                    s.labels
                        .iter()
                        .filter(|l| l.value == "")
                        .map(|l| l.name.unescape().into_owned())
                        .collect()
                } else {
                    Vec::new()
                };
                let labels = self.build_labels(raw, &empty)?;
                cache.entries.insert(
                    s.raw.to_vec(),
                    CacheEntry {
                        labels,
                        r: None,
                        seen_in: 0,
                        first_seen: generation,
                    },
                );
            }
            let Some(e) = cache.entries.get_mut(s.raw) else {
                continue;
            };
            if e.labels.is_none() {
                e.seen_in = generation;
                continue;
            }
            post += 1;
            if self.cfg.sample_limit > 0 && post as u64 > self.cfg.sample_limit {
                return Err(format!(
                    "sample limit exceeded: {} > {}",
                    post, self.cfg.sample_limit
                ));
            }
            if e.seen_in == generation {
                // The same series twice in one exposition: the first one counts.
                continue;
            }
            if e.seen_in != last || last == 0 {
                added += 1;
            }
            e.seen_in = generation;
            let t = if honor_ts {
                s.timestamp_ms.unwrap_or(ts)
            } else {
                ts
            };
            let Some(l) = &e.labels else { continue };
            match app.append(e.r, l, t, s.value) {
                Ok(r) => e.r = Some(r),
                Err(StorageError::OutOfOrderSample)
                | Err(StorageError::DuplicateSampleForTimestamp)
                | Err(StorageError::OutOfBounds) => {}
                Err(err) => return Err(err.to_string()),
            }
        }
        // Series in the last scrape but not in this one go stale and leave the cache.
        for e in cache.entries.values() {
            if e.seen_in == last
                && last > 0
                && let Some(l) = &e.labels
            {
                let _ = app.append(e.r, l, ts, stale_nan());
            }
        }
        cache.entries.retain(|_, e| e.seen_in == generation);
        cache.generation = generation;
        if let Ok(mut m) = self.metadata.lock() {
            m.update(declared, true);
        }
        Ok((scraped, post, added))
    }

    /// Target labels merged in (with `honor_labels` semantics), label limits checked,
    /// then `metric_relabel_configs`; `None` when relabeling drops the series.
    fn build_labels(&self, scraped: Labels, empty: &[String]) -> Result<Option<Labels>, String> {
        let mut b = LabelsBuilder::new(scraped.clone());
        for tl in &self.target.labels {
            if empty.contains(&tl.name) {
                continue;
            }
            let existing = scraped.get(&tl.name);
            match existing {
                Some(_) if self.cfg.honor_labels => {}
                Some(v) => {
                    b.set(format!("exported_{}", tl.name), v);
                    b.set(tl.name.as_str(), tl.value.as_str());
                }
                None => {
                    b.set(tl.name.as_str(), tl.value.as_str());
                }
            }
        }
        if !process_builder(
            &mut b,
            &self.cfg.metric_relabel_configs,
            self.cfg.metric_name_validation_scheme,
        ) {
            return Ok(None);
        }
        let l = b.into_labels();
        if self.cfg.label_limit > 0 && l.len() as u64 > self.cfg.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
                l.metric_name(),
                l.len(),
                self.cfg.label_limit
            ));
        }
        for x in &l {
            if self.cfg.label_name_length_limit > 0
                && x.name.len() as u64 > self.cfg.label_name_length_limit
            {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {}, label name: {})",
                    l.metric_name(),
                    x.name
                ));
            }
            if self.cfg.label_value_length_limit > 0
                && x.value.len() as u64 > self.cfg.label_value_length_limit
            {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {}, label name: {}, value: {:?})",
                    l.metric_name(),
                    x.name,
                    x.value
                ));
            }
        }
        Ok(Some(l))
    }
}
