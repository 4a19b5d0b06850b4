//! The server's alerting side: the rule manager, the notifier, and the discovery of
//! the Alertmanagers it sends to (`alerting.alertmanagers`, one discovery job per
//! entry, named `config-<i>` as Prometheus names them).

use std::sync::{Arc, Mutex};

use ember_config::{AlertingConfig, Config};
use ember_exposition::{MetricFamily, MetricType, Sample};
use ember_model::Label;
use ember_notifier::{Notifier, Options};

/// The rule manager, the notifier and its Alertmanager discovery; tasks stop when
/// dropped.
pub(crate) struct Alerting {
    pub(crate) notifier: Notifier,
    pub(crate) rules: Option<ember_rules::Manager>,
    external_url: String,
    discovery: ember_discovery::Manager,
    config: Arc<Mutex<AlertingConfig>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Alerting {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn job(i: usize) -> String {
    format!("config-{i}")
}

impl Alerting {
    /// Starts the notifier's sender and the Alertmanager discovery, with no
    /// configuration yet.
    pub(crate) fn start(opts: Options, external_url: String) -> Alerting {
        let notifier = Notifier::new(opts);
        let discovery = ember_discovery::Manager::new();
        let config = Arc::new(Mutex::new(AlertingConfig::default()));
        let sender = tokio::spawn(notifier.clone().run());
        let sync = {
            let mut rx = discovery.subscribe();
            let notifier = notifier.clone();
            let config = Arc::clone(&config);
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let snap = rx.borrow_and_update().clone();
                    let Ok(cfg) = config.lock().map(|c| c.clone()) else {
                        return;
                    };
                    let discovered: Vec<Vec<Vec<ember_model::Labels>>> = (0..cfg
                        .alertmanagers
                        .len())
                        .map(|i| {
                            snap.get(&job(i))
                                .map(|groups| groups.iter().map(|g| g.targets.clone()).collect())
                                .unwrap_or_default()
                        })
                        .collect();
                    notifier.set_alertmanager_groups(&cfg, &discovered);
                }
            })
        };
        Alerting {
            notifier,
            rules: None,
            external_url,
            discovery,
            config,
            tasks: vec![sender, sync],
        }
    }

    /// Loads the rule files of `cfg` into the rule manager (if there is one); on
    /// any error the running rules stay and the errors come back, one per line.
    pub(crate) fn apply_rules(&self, cfg: &Config) -> Result<(), String> {
        let Some(m) = &self.rules else {
            return Ok(());
        };
        let mut files = Vec::new();
        for pattern in &cfg.rule_files {
            match glob::glob(pattern) {
                Ok(paths) => files.extend(paths.flatten()),
                Err(e) => return Err(format!("{pattern}: {e}")),
            }
        }
        files.sort();
        files.dedup();
        let rc = ember_rules::RuleConfig {
            files,
            interval: cfg.global.evaluation_interval.into(),
            query_offset: cfg.global.rule_query_offset.into(),
            external_labels: cfg
                .global
                .external_labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            external_url: self.external_url.clone(),
            parse: ember_rules::file::ParseOptions::default(),
        };
        m.update(&rc).map_err(|errs| {
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// Stops the notifier: what is queued is sent first, unless
    /// `--alertmanager.drain-notification-queue-on-shutdown=false`. Call after the
    /// rules stopped, so that their last alerts are among it.
    pub(crate) async fn stop(&self) {
        self.notifier.stop().await;
    }

    /// Takes the alerting section and external labels of a (re)loaded configuration.
    /// Alertmanager entries whose discovery is unchanged keep their targets (the
    /// discovery manager keeps their providers), so their workers and the batches
    /// they hold survive the reload.
    pub(crate) fn apply(&mut self, cfg: &Config) {
        self.notifier
            .apply_config(&cfg.alerting, cfg.global.external_labels.clone());
        if let Ok(mut c) = self.config.lock() {
            *c = cfg.alerting.clone();
        }
        self.discovery.apply(
            cfg.alerting
                .alertmanagers
                .iter()
                .enumerate()
                .map(|(i, am)| (job(i), am.service_discovery.clone()))
                .collect(),
        );
    }
}

/// The notifier's metrics under Prometheus's names.
pub(crate) fn metrics(n: &Notifier) -> Vec<MetricFamily> {
    use std::sync::atomic::Ordering;
    let fam = |name: &str, help: &str, ty: MetricType, samples: Vec<Sample>| MetricFamily {
        help: Some(help.to_string()),
        samples,
        ..MetricFamily::new(name, ty)
    };
    let per_am =
        |name: &str, map: &Mutex<std::collections::BTreeMap<String, u64>>| -> Vec<Sample> {
            map.lock()
                .map(|m| {
                    m.iter()
                        .map(|(am, v)| {
                            let mut s = Sample::new(name, *v as f64);
                            s.labels = vec![Label::new("alertmanager", am.as_str())];
                            s
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
    let stats = n.stats();
    let (summary, histogram) = latency_samples(stats);
    vec![
        fam(
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            MetricType::Gauge,
            vec![Sample::new(
                "prometheus_notifications_alertmanagers_discovered",
                n.alertmanagers().active.len() as f64,
            )],
        ),
        fam(
            "prometheus_notifications_dropped_total",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            MetricType::Counter,
            vec![Sample::new(
                "prometheus_notifications_dropped_total",
                stats.dropped.load(Ordering::Relaxed) as f64,
            )],
        ),
        fam(
            "prometheus_notifications_errors_total",
            "Total number of sent alerts affected by errors.",
            MetricType::Counter,
            per_am("prometheus_notifications_errors_total", &stats.errors),
        ),
        fam(
            "prometheus_notifications_latency_histogram_seconds",
            "Latency histogram for sending alert notifications.",
            MetricType::Histogram,
            histogram,
        ),
        fam(
            "prometheus_notifications_latency_seconds",
            "Latency quantiles for sending alert notifications.",
            MetricType::Summary,
            summary,
        ),
        fam(
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            MetricType::Gauge,
            vec![Sample::new(
                "prometheus_notifications_queue_capacity",
                n.queue_capacity() as f64,
            )],
        ),
        fam(
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            MetricType::Gauge,
            vec![Sample::new(
                "prometheus_notifications_queue_length",
                n.queue_length() as f64,
            )],
        ),
        fam(
            "prometheus_notifications_sent_total",
            "Total number of alerts sent.",
            MetricType::Counter,
            per_am("prometheus_notifications_sent_total", &stats.sent),
        ),
    ]
}

/// The samples of `prometheus_notifications_latency_seconds` (a summary) and of
/// `prometheus_notifications_latency_histogram_seconds` (its classic buckets), per
/// Alertmanager.
fn latency_samples(stats: &ember_notifier::Stats) -> (Vec<Sample>, Vec<Sample>) {
    const SUMMARY: &str = "prometheus_notifications_latency_seconds";
    const HISTOGRAM: &str = "prometheus_notifications_latency_histogram_seconds";
    let (mut summary, mut histogram) = (Vec::new(), Vec::new());
    let Ok(m) = stats.latency.lock() else {
        return (summary, histogram);
    };
    let sample = |name: String, am: &str, extra: Option<(&str, String)>, v: f64| {
        let mut s = Sample::new(name, v);
        s.labels = vec![Label::new("alertmanager", am)];
        if let Some((k, val)) = extra {
            s.labels.push(Label::new(k, val));
        }
        s
    };
    for (am, l) in m.iter() {
        for (q, v) in ember_notifier::LATENCY_QUANTILES.iter().zip(l.quantiles()) {
            summary.push(sample(
                SUMMARY.into(),
                am,
                Some(("quantile", q.to_string())),
                v,
            ));
        }
        summary.push(sample(format!("{SUMMARY}_sum"), am, None, l.sum));
        summary.push(sample(format!("{SUMMARY}_count"), am, None, l.count as f64));
        for (b, n) in ember_notifier::LATENCY_BUCKETS.iter().zip(l.buckets) {
            histogram.push(sample(
                format!("{HISTOGRAM}_bucket"),
                am,
                Some(("le", b.to_string())),
                n as f64,
            ));
        }
        histogram.push(sample(
            format!("{HISTOGRAM}_bucket"),
            am,
            Some(("le", "+Inf".into())),
            l.count as f64,
        ));
        histogram.push(sample(format!("{HISTOGRAM}_sum"), am, None, l.sum));
        histogram.push(sample(
            format!("{HISTOGRAM}_count"),
            am,
            None,
            l.count as f64,
        ));
    }
    (summary, histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        ember_config::load_str(
            yaml,
            std::path::Path::new("t.yml"),
            &ember_config::LoadOptions::default(),
        )
        .expect("config")
    }

    /// A reload with the same Alertmanagers never empties the notifier's list, so
    /// their workers (and what they hold) live on; a changed entry takes effect.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_keeps_unchanged_alertmanagers() {
        let yaml =
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['a:9093']\n";
        let mut a = Alerting::start(Options::default(), "http://ember".into());
        a.apply(&config(yaml));
        let url = "http://a:9093/api/v2/alerts";
        for _ in 0..250 {
            if a.notifier.alertmanagers().active == [url] {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(a.notifier.alertmanagers().active, [url]);
        for _ in 0..3 {
            a.apply(&config(yaml));
            // Before the fix, each reload published an empty target list first,
            // which removed every Alertmanager for about 100 ms.
            for _ in 0..40 {
                assert_eq!(a.notifier.alertmanagers().active, [url]);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        a.apply(&config(&yaml.replace("a:9093", "b:9093")));
        let b = "http://b:9093/api/v2/alerts";
        for _ in 0..250 {
            if a.notifier.alertmanagers().active == [b] {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(a.notifier.alertmanagers().active, [b]);
    }
}
