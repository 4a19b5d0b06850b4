//! One target's scrape loop: fetch, parse, label, relabel, append — all of a scrape
//! in one transaction, so a failed or malformed scrape stores nothing of itself —
//! then the report series (`up`, `scrape_duration_seconds`, …) and staleness markers
//! for series that disappeared.

use crate::metadata::{Declared, MetadataCache};
use crate::target::Target;
use ember_config::ScrapeConfig;
use ember_config::{EscapingScheme, ScrapeProtocol};
use ember_discovery::http::HttpClient;
use ember_exposition::proto;
use ember_exposition::{Entry, Format, Parser};
use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use ember_model::relabel::process_builder;
use ember_model::value::{Exemplar, stale_nan};
use ember_model::{Labels, LabelsBuilder};
use ember_storage::{Appendable, Appender, Error as StorageError, HistogramRef};
use std::collections::HashMap;
use std::num::NonZeroU64;
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
    /// An error that fails every scrape of the pool without asking the target
    /// (Prometheus's forced error: `target_limit` exceeded).
    forced: Arc<Mutex<Option<String>>>,
}

/// What a target's previous scrapes taught: for each raw exposition line (name and
/// labels as written), the labels stored for it (`None` when metric relabeling drops
/// it), the storage reference that skips the label lookup on append, and the last
/// scrape that contained it. Lines are looked up by the bytes as written, so a
/// steady target costs no label parsing or relabeling after its first scrape.
#[derive(Default)]
pub(crate) struct SeriesCache {
    entries: HashMap<Box<[u8]>, CacheEntry>,
    /// The last successful scrape.
    generation: u64,
}

struct CacheEntry {
    labels: Option<Labels>,
    /// The storage's reference (never 0), in 8 bytes: one entry per series.
    r: Option<NonZeroU64>,
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
            forced: Arc::default(),
        }
    }

    /// Shares the pool's forced error with this loop.
    pub(crate) fn with_forced_error(mut self, forced: Arc<Mutex<Option<String>>>) -> Self {
        self.forced = forced;
        self
    }

    fn accept(&self) -> String {
        accept_header(
            &self.cfg.scrape_protocols,
            self.cfg.metric_name_escaping_scheme,
        )
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
            // A panic while scraping (a bug, never the target's fault) must not end
            // the loop for good: the target is reported down with the reason and
            // scraped again at the next tick.
            let scrape = std::panic::AssertUnwindSafe(self.scrape_once());
            if let Err(p) = futures_util::FutureExt::catch_unwind(scrape).await {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(target = %self.target.url, panic = %msg, "scrape panicked; the loop goes on");
                if let Ok(mut h) = self.health.lock() {
                    h.up = false;
                    h.last_error = format!("scrape panicked: {msg}");
                }
            }
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
        headers.push((
            "Accept-Encoding",
            if self.cfg.enable_compression {
                "gzip"
            } else {
                "identity"
            }
            .into(),
        ));
        let forced = self.forced.lock().ok().and_then(|f| f.clone());
        let fetched = match forced {
            Some(e) => Err(e),
            None => self
                .client
                .get(&self.target.url, &headers, self.target.timeout, limit)
                .await
                .map_err(|e| e.to_string()),
        };
        let store = self.store.clone();
        let mut app = store.appender();
        let outcome = match fetched {
            Ok(resp) => self.append_body(app.as_mut(), &resp.body, &resp.content_type, ts),
            Err(e) => Err(e),
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
                let _ = app.append(e.r.map(NonZeroU64::get), l, ts, stale_nan());
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
        let proto = if content_type.is_empty() {
            false
        } else if is_proto_content_type(content_type) {
            true
        } else {
            Format::from_content_type(content_type).is_err()
                && self.cfg.fallback_scrape_protocol == Some(ScrapeProtocol::PrometheusProto)
        };
        let format = if content_type.is_empty() || proto {
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
        // Protobuf: the float series (classic histograms and summaries spelled out as
        // their series) go through the text path below, native histograms apart.
        let text;
        let mut natives = Vec::new();
        let body = if proto {
            let (t, n) = split_proto(
                body,
                self.cfg.scrape_native_histograms,
                self.cfg.always_scrape_classic_histograms,
            )?;
            text = t;
            natives = n;
            &text[..]
        } else {
            body
        };
        let mut parser = Parser::new(body, format);
        let prev_arc = self.prev.clone();
        let mut cache = prev_arc.lock().unwrap_or_else(|p| p.into_inner());
        let last = cache.generation;
        let generation = last + 1;
        let (mut scraped, mut post, mut added) = (0usize, 0usize, 0usize);
        let honor_ts = self.cfg.honor_timestamps;
        let mut declared: Vec<(String, Declared)> = Vec::new();
        let keep_classic = self.cfg.always_scrape_classic_histograms;
        let mut nhcb = self.cfg.convert_classic_histograms_to_nhcb.then(|| {
            crate::nhcb::Collector::new(natives.iter().map(|n| n.labels.clone()).collect())
        });
        let mut converted = Vec::new();
        while let Some(entry) = parser.next_entry().map_err(|e| e.message())? {
            if let Some(c) = nhcb.as_mut() {
                // Any line other than a series ends a classic histogram's group.
                match &entry {
                    Entry::Series(_) => {}
                    Entry::Type { name, metric_type } => {
                        converted.extend(c.declare(&name.unescape(), *metric_type));
                    }
                    _ => converted.extend(c.finish()),
                }
            }
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
            if let Some(c) = nhcb.as_mut() {
                let (done, part) = c.offer(&s);
                converted.extend(done);
                if part && !keep_classic {
                    continue;
                }
            }
            scraped += 1;
            let honor_labels = self.cfg.honor_labels;
            let t = if honor_ts {
                s.timestamp_ms.unwrap_or(ts)
            } else {
                ts
            };
            // OpenMetrics exemplars; one with labels that do not form a label set
            // (a name twice) is dropped, as the sample is kept.
            let exemplar = s.exemplar.and_then(|x| {
                Some(Exemplar {
                    labels: x.to_labels().ok()?,
                    value: x.value,
                    ts: x.timestamp_ms,
                })
            });
            self.ingest(
                app,
                &mut cache,
                s.raw,
                || {
                    let raw = s.to_labels().map_err(|e| e.to_string())?;
                    // Label sets drop empty values, but under honor_labels an exposed
                    // label with an empty value still wins over the target's label of
                    // that name (and then vanishes), as in Prometheus: a Pushgateway's
                    // `instance=""` must not become the gateway's address.
                    let empty: Vec<String> = if honor_labels {
                        s.labels
                            .iter()
                            .filter(|l| l.value == "")
                            .map(|l| l.name.unescape().into_owned())
                            .collect()
                    } else {
                        Vec::new()
                    };
                    Ok((raw, empty))
                },
                t,
                Val::Float(s.value),
                exemplar.as_slice(),
                (last, generation),
                (&mut post, &mut added),
            )?;
        }
        converted.extend(nhcb.as_mut().and_then(|c| c.finish()));
        for n in &converted {
            scraped += 1;
            let t = if honor_ts {
                n.timestamp_ms.unwrap_or(ts)
            } else {
                ts
            };
            let h = match &n.h {
                NativeHist::Int(h) => Val::Hist(HistogramRef::Int(h)),
                NativeHist::Float(h) => Val::Hist(HistogramRef::Float(h)),
            };
            // Cannot collide with a text line or a protobuf native histogram's key.
            let mut key = vec![0xff, 0xfc];
            key.extend_from_slice(n.labels.to_string().as_bytes());
            self.ingest(
                app,
                &mut cache,
                &key,
                || Ok((n.labels.clone(), Vec::new())),
                t,
                h,
                &[],
                (last, generation),
                (&mut post, &mut added),
            )?;
        }
        for n in &natives {
            scraped += 1;
            let t = if honor_ts {
                n.timestamp_ms.unwrap_or(ts)
            } else {
                ts
            };
            let h = match &n.h {
                NativeHist::Int(h) => Val::Hist(HistogramRef::Int(h)),
                NativeHist::Float(h) => Val::Hist(HistogramRef::Float(h)),
            };
            self.ingest(
                app,
                &mut cache,
                &n.key,
                || Ok((n.labels.clone(), n.empty.clone())),
                t,
                h,
                &n.exemplars,
                (last, generation),
                (&mut post, &mut added),
            )?;
        }
        // Series in the last scrape but not in this one go stale and leave the cache.
        for e in cache.entries.values() {
            if e.seen_in == last
                && last > 0
                && let Some(l) = &e.labels
            {
                let _ = app.append(e.r.map(NonZeroU64::get), l, ts, stale_nan());
            }
        }
        cache.entries.retain(|_, e| e.seen_in == generation);
        cache.generation = generation;
        if let Ok(mut m) = self.metadata.lock() {
            m.update(declared, true);
        }
        Ok((scraped, post, added))
    }

    /// Appends one scraped series: labels built (and cached by the raw key) on first
    /// sight, limits checked, duplicates within a scrape skipped, `added` counted.
    #[allow(clippy::too_many_arguments)]
    fn ingest(
        &self,
        app: &mut dyn Appender,
        cache: &mut SeriesCache,
        key: &[u8],
        raw_labels: impl FnOnce() -> Result<(Labels, Vec<String>), String>,
        t: i64,
        v: Val<'_>,
        exemplars: &[Exemplar],
        (last, generation): (u64, u64),
        (post, added): (&mut usize, &mut usize),
    ) -> Result<(), String> {
        if !cache.entries.contains_key(key) {
            let (raw, empty) = raw_labels()?;
            let labels = self.build_labels(raw, &empty)?;
            cache.entries.insert(
                key.into(),
                CacheEntry {
                    labels,
                    r: None,
                    seen_in: 0,
                    first_seen: generation,
                },
            );
        }
        let Some(e) = cache.entries.get_mut(key) else {
            return Ok(());
        };
        if e.labels.is_none() {
            e.seen_in = generation;
            return Ok(());
        }
        *post += 1;
        if self.cfg.sample_limit > 0 && *post as u64 > self.cfg.sample_limit {
            return Err(format!(
                "sample limit exceeded: {} > {}",
                post, self.cfg.sample_limit
            ));
        }
        if e.seen_in == generation {
            // The same series twice in one exposition: the first one counts.
            return Ok(());
        }
        if e.seen_in != last || last == 0 {
            *added += 1;
        }
        e.seen_in = generation;
        let Some(l) = &e.labels else {
            return Ok(());
        };
        let r = e.r.map(NonZeroU64::get);
        let res = match v {
            Val::Float(f) => app.append(r, l, t, f),
            Val::Hist(h) => app.append_histogram(r, l, t, h),
        };
        match res {
            Ok(r) => e.r = NonZeroU64::new(r),
            Err(StorageError::OutOfOrderSample)
            | Err(StorageError::DuplicateSampleForTimestamp)
            | Err(StorageError::OutOfBounds) => {}
            Err(err) => return Err(err.to_string()),
        }
        // As Prometheus: after the sample, whether or not the sample was taken, and
        // never failing the scrape (exemplar storage is best-effort; a storage that
        // keeps none accepts and drops them).
        for x in exemplars {
            let _ = app.append_exemplar(e.r.map(NonZeroU64::get), l, x);
        }
        Ok(())
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

/// A sample to append: a float or a native histogram.
enum Val<'a> {
    Float(f64),
    Hist(HistogramRef<'a>),
}

/// Prometheus's `acceptHeader`: the configured protocols in order with falling
/// q-values from `0.6` (one more than the number of protocols known), the escaping
/// scheme on the 1.0.0 text formats, and `*/*` last.
pub(crate) fn accept_header(protocols: &[ScrapeProtocol], escaping: EscapingScheme) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    let mut vals = Vec::with_capacity(protocols.len() + 1);
    for p in protocols {
        let mut v = p.header().to_string();
        if matches!(
            p,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        ) {
            v.push_str(";escaping=");
            v.push_str(escaping.as_str());
        }
        v.push_str(&format!(";q=0.{weight}"));
        vals.push(v);
        weight = weight.saturating_sub(1);
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

/// Whether a `Content-Type` is the delimited protobuf format (the media type is
/// what Prometheus looks at).
fn is_proto_content_type(ct: &str) -> bool {
    ct.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("application/vnd.google.protobuf")
}

/// A native histogram sample of a protobuf scrape.
pub(crate) struct Native {
    /// Cache key: cannot collide with a text line (starts with `0xff`).
    key: Vec<u8>,
    labels: Labels,
    /// Labels exposed with empty values (for `honor_labels`).
    empty: Vec<String>,
    timestamp_ms: Option<i64>,
    h: NativeHist,
    /// Exemplars, in (timestamp, value, labels) order.
    exemplars: Vec<Exemplar>,
}

#[derive(Debug)]
pub(crate) enum NativeHist {
    Int(Histogram),
    Float(FloatHistogram),
}

fn spans(s: &[proto::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset.unwrap_or(0),
            length: s.length.unwrap_or(0),
        })
        .collect()
}

/// The native part of a protobuf histogram, integer or float as the message has it
/// (float when a float count is set, as Prometheus decides).
fn native_hist(h: &proto::Histogram, gauge: bool) -> NativeHist {
    let hint = if gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    let float =
        h.sample_count_float.unwrap_or(0.0) > 0.0 || h.zero_count_float.unwrap_or(0.0) > 0.0;
    if float {
        NativeHist::Float(FloatHistogram {
            counter_reset_hint: hint,
            schema: h.schema.unwrap_or(0),
            zero_threshold: h.zero_threshold.unwrap_or(0.0),
            zero_count: h.zero_count_float.unwrap_or(0.0),
            count: h.sample_count_float.unwrap_or(0.0),
            sum: h.sample_sum.unwrap_or(0.0),
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_count.clone(),
            negative_buckets: h.negative_count.clone(),
            custom_values: Vec::new(),
        })
    } else {
        NativeHist::Int(Histogram {
            counter_reset_hint: hint,
            schema: h.schema.unwrap_or(0),
            zero_threshold: h.zero_threshold.unwrap_or(0.0),
            zero_count: h.zero_count.unwrap_or(0),
            count: h.sample_count.unwrap_or(0),
            sum: h.sample_sum.unwrap_or(0.0),
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_delta.clone(),
            negative_buckets: h.negative_delta.clone(),
            custom_values: Vec::new(),
        })
    }
}

/// A native histogram's exemplars as Prometheus takes them: the histogram's own list
/// if it has one, else the buckets' exemplars; only those with a timestamp (without
/// one, repeats could not be told from new observations), sorted so that the
/// storage's order checks hold within the scrape.
fn native_exemplars(h: &proto::Histogram) -> Vec<Exemplar> {
    let from = |x: &proto::Exemplar| -> Option<Exemplar> {
        let ts = x.timestamp.as_ref()?;
        Some(Exemplar {
            labels: Labels::from_pairs(x.label.iter().map(|l| {
                (
                    l.name.clone().unwrap_or_default(),
                    l.value.clone().unwrap_or_default(),
                )
            })),
            value: x.value.unwrap_or(0.0),
            ts: Some(ts.seconds * 1000 + i64::from(ts.nanos / 1_000_000)),
        })
    };
    let mut out: Vec<Exemplar> = if h.exemplars.is_empty() {
        h.bucket
            .iter()
            .filter_map(|b| b.exemplar.as_deref())
            .filter_map(from)
            .collect()
    } else {
        h.exemplars.iter().filter_map(from).collect()
    };
    out.sort_by(|a, b| {
        a.ts.cmp(&b.ts)
            .then(a.value.total_cmp(&b.value))
            .then_with(|| a.labels.cmp(&b.labels))
    });
    out
}

/// Decodes a delimited protobuf body into the text format 0.0.4 (every float series,
/// classic histograms and summaries as their series, as Go's `MetricFamilyToText`
/// writes them) plus the native histograms. With `native` off, or for histograms
/// without native parts, histograms are ingested as classic series only; with it on,
/// a native histogram keeps its classic series only under `always_classic`.
pub(crate) fn split_proto(
    body: &[u8],
    native: bool,
    always_classic: bool,
) -> Result<(Vec<u8>, Vec<Native>), String> {
    let mut families = proto::decode_delimited(body).map_err(|e| e.to_string())?;
    let mut natives = Vec::new();
    if native {
        for f in &mut families {
            let ty = f.metric_type();
            if !matches!(
                ty,
                proto::MetricType::Histogram | proto::MetricType::GaugeHistogram
            ) {
                continue;
            }
            let name = f.name().to_string();
            f.metric.retain(|m| {
                let Some(h) = m.histogram.as_deref().filter(|h| h.is_native()) else {
                    return true;
                };
                let mut key = vec![0xff];
                key.extend_from_slice(name.as_bytes());
                let mut pairs = vec![("__name__".to_string(), name.clone())];
                let mut empty = Vec::new();
                for l in &m.label {
                    let (n, v) = (
                        l.name.clone().unwrap_or_default(),
                        l.value.clone().unwrap_or_default(),
                    );
                    key.push(0xfe);
                    key.extend_from_slice(n.as_bytes());
                    key.push(0xfd);
                    key.extend_from_slice(v.as_bytes());
                    if v.is_empty() {
                        empty.push(n);
                    } else {
                        pairs.push((n, v));
                    }
                }
                natives.push(Native {
                    key,
                    labels: Labels::from_pairs(pairs),
                    empty,
                    timestamp_ms: m.timestamp_ms,
                    h: native_hist(h, ty == proto::MetricType::GaugeHistogram),
                    exemplars: native_exemplars(h),
                });
                always_classic && !h.bucket.is_empty()
            });
        }
    }
    let mut text = Vec::new();
    ember_exposition::write_text(&mut text, &proto::to_flat(&families));
    Ok((text, natives))
}

#[cfg(test)]
mod proto_tests {
    use super::*;
    use ember_exposition::{Format, parse};

    #[test]
    fn accept_header_like_prometheus() {
        // Prometheus's scrape_test.go TestAcceptHeader expectations.
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT, EscapingScheme::Underscores),
            "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&ScrapeProtocol::PROTO_FIRST, EscapingScheme::AllowUtf8),
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        );
        assert_eq!(
            accept_header(
                &[ScrapeProtocol::PrometheusProto],
                EscapingScheme::Underscores
            ),
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5"
        );
        assert!(is_proto_content_type(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        ));
        assert!(!is_proto_content_type("text/plain; version=0.0.4"));
    }

    const TEXT: &str = "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\nrpc_seconds_bucket{le=\"0.1\"} 3\nrpc_seconds_bucket{le=\"1\"} 5\nrpc_seconds_bucket{le=\"+Inf\"} 6\nrpc_seconds_sum 4.5\nrpc_seconds_count 6\n# TYPE lat summary\nlat{quantile=\"0.5\"} 1.5\nlat_sum 10\nlat_count 4\n# TYPE reqs_total counter\nreqs_total{code=\"200\"} 7\n";

    fn families() -> Vec<proto::MetricFamily> {
        proto::from_flat(parse(TEXT.as_bytes(), Format::Text).unwrap()).unwrap()
    }

    fn lines(b: &[u8]) -> Vec<String> {
        let mut v: Vec<String> = std::str::from_utf8(b)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn classic_series_from_protobuf() {
        let mut body = Vec::new();
        proto::encode_delimited(&mut body, &families());
        let (text, natives) = split_proto(&body, false, false).unwrap();
        assert!(natives.is_empty());
        assert_eq!(lines(&text), lines(TEXT.as_bytes()));
        assert!(split_proto(b"\x05abc", false, false).is_err());
    }

    #[test]
    fn native_histogram_exemplars_need_timestamps_and_come_sorted() {
        let ex = |trace: &str, v: f64, secs: Option<i64>| proto::Exemplar {
            label: vec![proto::LabelPair {
                name: Some("trace_id".into()),
                value: Some(trace.into()),
            }],
            value: Some(v),
            timestamp: secs.map(|s| proto::Timestamp {
                seconds: s,
                nanos: 250_000_000,
            }),
        };
        let mut h = proto::Histogram {
            exemplars: vec![
                ex("b", 2.0, Some(10)),
                ex("none", 1.0, None),
                ex("a", 1.0, Some(10)),
            ],
            ..Default::default()
        };
        let got: Vec<(String, Option<i64>)> = native_exemplars(&h)
            .into_iter()
            .map(|e| (e.labels.get_or_empty("trace_id").to_string(), e.ts))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), Some(10_250)),
                ("b".to_string(), Some(10_250))
            ]
        );
        // Without a list of its own, the buckets' exemplars.
        h.exemplars.clear();
        h.bucket = vec![proto::Bucket {
            exemplar: Some(Box::new(ex("c", 0.5, Some(3)))),
            ..Default::default()
        }];
        assert_eq!(native_exemplars(&h)[0].ts, Some(3_250));
    }

    #[test]
    fn native_histograms_from_protobuf() {
        let mut fams = families();
        let h = fams[0].metric[0].histogram.as_deref_mut().unwrap();
        h.schema = Some(0);
        h.zero_threshold = Some(1e-128);
        h.zero_count = Some(1);
        h.positive_span = vec![proto::BucketSpan {
            offset: Some(-3),
            length: Some(2),
        }];
        h.positive_delta = vec![2, 1];
        let mut body = Vec::new();
        proto::encode_delimited(&mut body, &fams);
        // Native on: the histogram is native only…
        let (text, natives) = split_proto(&body, true, false).unwrap();
        assert_eq!(natives.len(), 1);
        assert_eq!(natives[0].labels.get("__name__"), Some("rpc_seconds"));
        let NativeHist::Int(nh) = &natives[0].h else {
            panic!("integer histogram expected")
        };
        assert_eq!((nh.count, nh.zero_count, nh.sum), (6, 1, 4.5));
        assert_eq!(nh.positive_buckets, [2, 1]);
        assert!(!String::from_utf8_lossy(&text).contains("rpc_seconds_bucket"));
        // …plus its classic series when asked to.
        let (text, natives) = split_proto(&body, true, true).unwrap();
        assert_eq!(natives.len(), 1);
        assert_eq!(lines(&text), lines(TEXT.as_bytes()));
        // Native off: classic series only.
        let (text, natives) = split_proto(&body, false, false).unwrap();
        assert!(natives.is_empty());
        assert_eq!(lines(&text), lines(TEXT.as_bytes()));
    }
}
