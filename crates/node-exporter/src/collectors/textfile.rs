//! `textfile`: metrics from `*.prom` files in `--collector.textfile.directory` (a
//! directory or a glob of directories), as node_exporter's textfile collector reads
//! them: text format, no timestamps, one `node_textfile_mtime_seconds` per file read
//! and `node_textfile_scrape_error` 1 when a directory or file could not be read.
//!
//! Families without `# HELP` get `Metric read from <files>`; within a family every
//! series gets every label name of the family (empty when it had none), and
//! histograms and summaries are rebuilt as client_golang's const histograms and
//! summaries write them (buckets in order with a `+Inf` bucket, then `_sum` and
//! `_count`). Each file is read up to [`MAX_TEXTFILE`] bytes; a larger one is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use ember_exposition::{Format, MetricFamily, MetricType, Sample};
use ember_model::labels::Label;

use super::{CollectError, Collector, Config};
use crate::metrics::{Out, go_float};
use crate::read::read_limited;

pub(crate) struct Textfile(pub(crate) Arc<Config>);

/// The largest textfile read (16 MiB).
pub(crate) const MAX_TEXTFILE: u64 = 16 << 20;

impl Collector for Textfile {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let dir = self.0.textfile_directory.as_str();
        let mut errored = false;
        let mut families: Vec<MetricFamily> = Vec::new();
        let mut files_by_family: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut mtimes: BTreeMap<String, f64> = BTreeMap::new();
        for d in directories(dir) {
            let names = match crate::read::dir_names(Path::new(&d)) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(path = %d, error = %e, "failed to read textfile collector directory");
                    errored = true;
                    continue;
                }
            };
            for name in names.iter().filter(|n| n.ends_with(".prom")) {
                let path = Path::new(&d).join(name);
                let shown = path.to_string_lossy().into_owned();
                match process_file(&path) {
                    Ok((mtime, fams)) => {
                        for f in fams {
                            files_by_family
                                .entry(f.name.clone())
                                .or_default()
                                .push(shown.clone());
                            families.push(f);
                        }
                        mtimes.insert(shown, mtime);
                    }
                    Err(e) => {
                        tracing::error!(file = %name, error = %e, "failed to collect textfile data");
                        errored = true;
                    }
                }
            }
        }
        for mut f in families {
            if f.help.is_none() {
                let files = files_by_family
                    .get(&f.name)
                    .map(|v| v.join(", "))
                    .unwrap_or_default();
                f.help = Some(format!("Metric read from {files}"));
            }
            convert(out, f);
        }
        for (file, mtime) in &mtimes {
            out.gauge(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                &[("file", file)],
                *mtime,
            );
        }
        out.gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            &[],
            if errored { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

/// The directories to read: the matches of `dir` as a glob, or `dir` itself when it
/// matches nothing (none when the flag is empty).
fn directories(dir: &str) -> Vec<String> {
    if dir.is_empty() {
        return Vec::new();
    }
    let matches: Vec<String> = glob::glob(dir)
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if matches.is_empty() {
        vec![dir.to_owned()]
    } else {
        matches
    }
}

/// Reads one file: its mtime (whole seconds) and families, merged by name.
fn process_file(path: &Path) -> Result<(f64, Vec<MetricFamily>), CollectError> {
    let text = read_limited(path, MAX_TEXTFILE).map_err(|e| CollectError::io(path, e))?;
    let parsed = ember_exposition::parse(text.as_bytes(), Format::Text)
        .map_err(|e| CollectError::invalid(path, format!("failed to parse textfile data: {e}")))?;
    if parsed
        .iter()
        .any(|f| f.samples.iter().any(|s| s.timestamp_ms.is_some()))
    {
        return Err(CollectError::invalid(
            path,
            "textfile contains unsupported client-side timestamps, skipping entire file",
        ));
    }
    let mut merged: Vec<MetricFamily> = Vec::new();
    for f in parsed.into_iter().flat_map(split_strays) {
        match merged.iter_mut().find(|m| m.name == f.name) {
            Some(m) => {
                m.samples.extend(f.samples);
                if m.help.is_none() {
                    m.help = f.help;
                }
                if m.metric_type == MetricType::Unknown {
                    m.metric_type = f.metric_type;
                }
            }
            None => merged.push(f),
        }
    }
    let meta = std::fs::metadata(path).map_err(|e| CollectError::io(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    Ok((mtime, merged))
}

/// expfmt's text parser only groups `_bucket`, `_sum` and `_count` series under a
/// histogram or summary; any other series whose name is not the family's (a
/// counter's `foo_total` under `# TYPE foo counter`, say) is a family of its own,
/// untyped and without help.
fn split_strays(mut f: MetricFamily) -> Vec<MetricFamily> {
    let allowed: &[&str] = match f.metric_type {
        MetricType::Histogram => &["_bucket", "_sum", "_count"],
        MetricType::Summary => &["", "_sum", "_count"],
        _ => &[""],
    };
    let (keep, strays): (Vec<Sample>, Vec<Sample>) = f.samples.drain(..).partition(|s| {
        s.name
            .strip_prefix(f.name.as_str())
            .is_some_and(|rest| allowed.contains(&rest))
    });
    f.samples = keep;
    let mut out = vec![f];
    for s in strays {
        match out.iter_mut().skip(1).find(|g| g.name == s.name) {
            Some(g) => g.samples.push(s),
            None => {
                let mut g = MetricFamily::new(s.name.clone(), MetricType::Unknown);
                g.samples.push(s);
                out.push(g);
            }
        }
    }
    out.retain(|g| !g.samples.is_empty());
    out
}

/// Writes a parsed family as client_golang's const metrics would expose it.
fn convert(out: &mut Out, f: MetricFamily) {
    let help = f.help.clone().unwrap_or_default();
    let special = match f.metric_type {
        MetricType::Histogram => "le",
        MetricType::Summary => "quantile",
        _ => "",
    };
    // Every label name any series of the family has.
    let all: BTreeSet<String> = f
        .samples
        .iter()
        .flat_map(|s| s.labels.iter())
        .filter(|l| l.name != special)
        .map(|l| l.name.clone())
        .collect();
    let pad = |labels: &[Label]| -> Vec<Label> {
        all.iter()
            .map(|n| {
                let v = labels
                    .iter()
                    .find(|l| &l.name == n)
                    .map(|l| l.value.clone())
                    .unwrap_or_default();
                Label::new(n.clone(), v)
            })
            .collect()
    };
    match f.metric_type {
        MetricType::Histogram | MetricType::Summary => {
            // Series by their labels (less `le`/`quantile`), in order of appearance.
            let mut groups: Vec<(Vec<Label>, Group)> = Vec::new();
            for s in &f.samples {
                let labels = pad(&s.labels);
                let idx = match groups.iter().position(|(l, _)| *l == labels) {
                    Some(i) => i,
                    None => {
                        groups.push((labels, Group::default()));
                        groups.len() - 1
                    }
                };
                let g = &mut groups[idx].1;
                let suffix = s.name.strip_prefix(f.name.as_str()).unwrap_or("");
                let bound = s
                    .labels
                    .iter()
                    .find(|l| l.name == special)
                    .and_then(|l| parse_bound(&l.value));
                match (suffix, bound) {
                    ("_sum", _) => g.sum = s.value,
                    ("_count", _) => g.count = s.value,
                    ("_bucket", Some(b)) if special == "le" => g.points.push((b, s.value)),
                    ("", Some(q)) if special == "quantile" => g.points.push((q, s.value)),
                    _ => {}
                }
            }
            let fam = out.family(&f.name, &help, f.metric_type);
            for (labels, mut g) in groups {
                g.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                g.points.dedup_by(|b, a| a.0 == b.0);
                let with = |extra: Option<(&str, f64)>| -> Vec<Label> {
                    let mut l = labels.clone();
                    if let Some((n, v)) = extra {
                        l.push(Label::new(n, go_float(v)));
                    }
                    l
                };
                let point_name = if special == "le" {
                    format!("{}_bucket", f.name)
                } else {
                    f.name.clone()
                };
                for (b, v) in &g.points {
                    fam.samples
                        .push(sample(&point_name, with(Some((special, *b))), *v));
                }
                if special == "le" && g.points.last().is_none_or(|(b, _)| *b != f64::INFINITY) {
                    fam.samples.push(sample(
                        &point_name,
                        with(Some(("le", f64::INFINITY))),
                        g.count,
                    ));
                }
                fam.samples
                    .push(sample(&format!("{}_sum", f.name), with(None), g.sum));
                fam.samples
                    .push(sample(&format!("{}_count", f.name), with(None), g.count));
            }
        }
        _ => {
            let t = match f.metric_type {
                MetricType::Counter | MetricType::Gauge => f.metric_type,
                _ => MetricType::Unknown,
            };
            let fam = out.family(&f.name, &help, t);
            for s in &f.samples {
                fam.samples.push(sample(&s.name, pad(&s.labels), s.value));
            }
        }
    }
}

/// One histogram or summary series: its buckets or quantiles, sum and count.
#[derive(Default)]
struct Group {
    points: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

fn sample(name: &str, labels: Vec<Label>, value: f64) -> Sample {
    Sample {
        name: name.to_owned(),
        labels,
        value,
        ..Sample::default()
    }
}

/// A bucket bound or quantile as Go's `ParseFloat` reads it.
fn parse_bound(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    fn dir(name: &str) -> String {
        format!(
            "--collector.textfile.directory={}",
            testdata().join("textfile").join(name).display()
        )
    }

    #[test]
    fn good_files() {
        let text = collect_ok("textfile", &[&dir("good")]);
        let d = testdata().join("textfile/good");
        let m = d.join("metrics.prom").display().to_string();
        let o = d.join("other.prom").display().to_string();
        let st = d.join("strays.prom").display().to_string();
        let expected = format!(
            r#"# HELP app_latency_seconds Metric read from {m}
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{{le="0.1"}} 10
app_latency_seconds_bucket{{le="1"}} 15
app_latency_seconds_bucket{{le="+Inf"}} 17
app_latency_seconds_sum 9.5
app_latency_seconds_count 17
# HELP app_queue_depth Metric read from {o}
# TYPE app_queue_depth gauge
app_queue_depth{{queue="a"}} 3
# HELP app_requests_total Requests handled.
# TYPE app_requests_total counter
app_requests_total{{code="200",method="get"}} 1027
app_requests_total{{code="500",method=""}} 3
# HELP app_rpc_duration_seconds RPC latency.
# TYPE app_rpc_duration_seconds summary
app_rpc_duration_seconds{{quantile="0.5"}} 0.05
app_rpc_duration_seconds{{quantile="0.99"}} 0.4
app_rpc_duration_seconds_sum 12
app_rpc_duration_seconds_count 200
# HELP app_shared Metric read from {m}, {o}
# TYPE app_shared gauge
app_shared{{file="metrics"}} 1
app_shared{{file="other"}} 2
# HELP app_size_bytes Metric read from {o}
# TYPE app_size_bytes histogram
app_size_bytes_bucket{{kind="x",le="1e+06"}} 3
app_size_bytes_bucket{{kind="x",le="+Inf"}} 4
app_size_bytes_sum{{kind="x"}} 100
app_size_bytes_count{{kind="x"}} 4
# HELP app_untyped_thing Metric read from {m}
# TYPE app_untyped_thing untyped
app_untyped_thing 42
# HELP stray_counter_total Metric read from {st}
# TYPE stray_counter_total untyped
stray_counter_total 5
"#
        );
        let body: String = text
            .lines()
            .filter(|l| !l.contains("node_textfile_"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(body, expected);
        assert!(text.contains(&format!("node_textfile_mtime_seconds{{file=\"{m}\"}} ")));
        assert!(text.contains("node_textfile_scrape_error 0\n"));
    }

    #[test]
    fn bad_files_set_the_error_and_keep_the_rest() {
        let text = collect_ok("textfile", &[&dir("bad")]);
        assert!(text.contains("fine_metric 1\n"));
        assert!(!text.contains("with_timestamp") && !text.contains("broken"));
        assert!(text.ends_with("node_textfile_scrape_error 1\n"));
        assert_eq!(text.matches("node_textfile_mtime_seconds{").count(), 1);
    }

    #[test]
    fn missing_directory_and_no_directory() {
        let text = collect_ok("textfile", &[&dir("nope")]);
        assert_eq!(samples(&text), ["node_textfile_scrape_error 1"]);
        let text = collect_ok("textfile", &[]);
        assert_eq!(samples(&text), ["node_textfile_scrape_error 0"]);
    }

    #[test]
    fn stray_series_are_families_of_their_own() {
        let text = "# HELP foo A counter.\n# TYPE foo counter\nfoo_total 1\nfoo 2\n";
        let fams = ember_exposition::parse(text.as_bytes(), Format::Text).unwrap();
        let split: Vec<MetricFamily> = fams.into_iter().flat_map(split_strays).collect();
        let names: Vec<(&str, MetricType, usize)> = split
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type, f.samples.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("foo", MetricType::Counter, 1),
                ("foo_total", MetricType::Unknown, 1)
            ]
        );
    }

    #[test]
    fn globs() {
        let pattern = format!(
            "--collector.textfile.directory={}",
            testdata().join("textfile/go*").display()
        );
        let text = collect_ok("textfile", &[&pattern]);
        assert!(text.contains("app_queue_depth{queue=\"a\"} 3\n"));
    }
}
