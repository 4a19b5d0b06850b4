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
    pub(crate) fn start(queue_capacity: usize, external_url: String) -> Alerting {
        let notifier = Notifier::new(Options { queue_capacity });
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
                    let discovered: Vec<Vec<ember_model::Labels>> = (0..cfg.alertmanagers.len())
                        .map(|i| {
                            snap.get(&job(i))
                                .map(|groups| {
                                    groups
                                        .iter()
                                        .flat_map(|g| g.targets.iter().cloned())
                                        .collect()
                                })
                                .unwrap_or_default()
                        })
                        .collect();
                    notifier.set_alertmanagers(&cfg, &discovered);
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

    /// Takes the alerting section and external labels of a (re)loaded configuration.
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
