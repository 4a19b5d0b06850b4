//! What the interop tests share for native histograms: reading a running
//! Prometheus's query API (the oracle where `promtool tsdb dump` of Prometheus 2.42
//! prints floats only), and putting Ember's histograms in the same shape as
//! Prometheus's JSON (count, sum and the non-empty buckets with their bounds).

#![allow(dead_code)]

use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span};
use ember_model::value::is_stale_nan;
use ember_storage::{SampleIterator, ValueType};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A sample as Prometheus's API shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ApiSample {
    Float(f64),
    /// Count, sum and the non-empty buckets as (lower, upper, count), sorted.
    Histogram {
        count: f64,
        sum: f64,
        buckets: Vec<(f64, f64, f64)>,
    },
}

/// Samples per series, keyed by `{name="value", …}` with labels sorted.
pub(crate) type Dump = BTreeMap<String, Vec<(i64, ApiSample)>>;

pub(crate) fn series_key<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut v: Vec<(&str, &str)> = pairs.collect();
    v.sort();
    let inner: Vec<String> = v.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

pub(crate) fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub(crate) struct Kill(pub(crate) std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free local port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET (the tsdb crate has no HTTP client, and needs none).
pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until Prometheus answers `/-/ready`.
pub(crate) fn wait_ready(port: u16, child: &mut Kill) {
    let began = Instant::now();
    loop {
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("prometheus exited early: {status}");
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "prometheus did not get ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until an instant query for `query` returns something.
pub(crate) fn wait_for_samples(port: u16, query: &str) {
    let began = Instant::now();
    let path = format!("/api/v1/query?query={}", urlencode(query));
    loop {
        if let Ok((200, body)) = http_get(port, &path)
            && serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|j| {
                j["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            })
        {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no samples for {query}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn num(v: &serde_json::Value) -> f64 {
    let s = v.as_str().expect("numbers are strings in the API");
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().expect("a float"),
    }
}

/// Runs an instant query returning a matrix (a range selector) and collects its
/// float and histogram samples.
pub(crate) fn api_matrix(port: u16, query: &str, time_ms: i64) -> Dump {
    let path = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        urlencode(query),
        time_ms.div_euclid(1000),
        time_ms.rem_euclid(1000)
    );
    let (status, body) = http_get(port, &path).unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["resultType"], "matrix", "{body}");
    let mut out = Dump::new();
    for series in json["data"]["result"].as_array().unwrap() {
        let metric = series["metric"].as_object().unwrap();
        let key = series_key(
            metric
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
        );
        let samples = out.entry(key).or_default();
        let ts = |v: &serde_json::Value| (v.as_f64().unwrap() * 1000.0).round() as i64;
        for p in series["values"].as_array().into_iter().flatten() {
            samples.push((ts(&p[0]), ApiSample::Float(num(&p[1]))));
        }
        for p in series["histograms"].as_array().into_iter().flatten() {
            let h = &p[1];
            let mut buckets: Vec<(f64, f64, f64)> = h["buckets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| (num(&b[1]), num(&b[2]), num(&b[3])))
                .collect();
            buckets.sort_by(|a, b| a.partial_cmp(b).unwrap());
            samples.push((
                ts(&p[0]),
                ApiSample::Histogram {
                    count: num(&h["count"]),
                    sum: num(&h["sum"]),
                    buckets,
                },
            ));
        }
        samples.sort_by_key(|s| s.0);
    }
    out
}

/// Upper bound of exponential bucket `idx` (Prometheus's `getBound`, up to the
/// last bit: compare bounds with [`close`]).
fn bound(idx: i64, schema: i32) -> f64 {
    (idx as f64 * (-schema as f64).exp2()).exp2()
}

fn buckets_of(spans: &[Span], counts: &[f64], mut out: impl FnMut(i64, f64)) {
    let mut idx = 0i64;
    let mut counts = counts.iter();
    // The first span's offset is the index of its first bucket; later offsets are
    // gaps after the previous span.
    for s in spans {
        idx += s.offset as i64;
        for _ in 0..s.length {
            if let Some(c) = counts.next() {
                out(idx, *c);
            }
            idx += 1;
        }
    }
}

/// An Ember histogram as the API would show it.
pub(crate) fn api_histogram(h: &FloatHistogram) -> ApiSample {
    let mut buckets = Vec::new();
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        buckets_of(&h.positive_spans, &h.positive_buckets, |i, c| {
            let i = i as usize;
            let lo = if i == 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values[i - 1]
            };
            let hi = h.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((lo, hi, c));
        });
    } else {
        if h.zero_count != 0.0 {
            buckets.push((-h.zero_threshold, h.zero_threshold, h.zero_count));
        }
        buckets_of(&h.positive_spans, &h.positive_buckets, |i, c| {
            buckets.push((bound(i - 1, h.schema), bound(i, h.schema), c));
        });
        buckets_of(&h.negative_spans, &h.negative_buckets, |i, c| {
            buckets.push((-bound(i, h.schema), -bound(i - 1, h.schema), c));
        });
    }
    buckets.retain(|b| b.2 != 0.0);
    buckets.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ApiSample::Histogram {
        count: h.count,
        sum: h.sum,
        buckets,
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Whether two API samples agree: counts and sums exactly, bucket bounds to the
/// last few bits (Prometheus takes them from a table, Ember computes them).
pub(crate) fn same(a: &ApiSample, b: &ApiSample) -> bool {
    match (a, b) {
        (ApiSample::Float(x), ApiSample::Float(y)) => x.to_bits() == y.to_bits(),
        (
            ApiSample::Histogram {
                count: c1,
                sum: s1,
                buckets: b1,
            },
            ApiSample::Histogram {
                count: c2,
                sum: s2,
                buckets: b2,
            },
        ) => {
            c1 == c2
                && s1.to_bits() == s2.to_bits()
                && b1.len() == b2.len()
                && b1
                    .iter()
                    .zip(b2)
                    .all(|(x, y)| close(x.0, y.0) && close(x.1, y.1) && x.2 == y.2)
        }
        _ => false,
    }
}

/// Reads every sample of an Ember series in the API's shape; staleness markers
/// (which the API never shows) are counted instead.
pub(crate) fn ember_samples(it: &mut dyn SampleIterator) -> (Vec<(i64, ApiSample)>, usize) {
    let mut out = Vec::new();
    let mut stale = 0;
    let mut fh = FloatHistogram::default();
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = it.at();
                if is_stale_nan(v) {
                    stale += 1;
                } else {
                    out.push((t, ApiSample::Float(v)));
                }
            }
            ValueType::Histogram | ValueType::FloatHistogram => {
                let t = it.at_float_histogram(&mut fh);
                if is_stale_nan(fh.sum) {
                    stale += 1;
                } else {
                    out.push((t, api_histogram(&fh)));
                }
            }
        }
    }
    assert!(it.err().is_none(), "{:?}", it.err());
    (out, stale)
}

/// Asserts two dumps are equal, showing the first differences.
pub(crate) fn assert_same(want: &Dump, got: &Dump) {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "series differ"
    );
    for (k, w) in want {
        let g = &got[k];
        if w.len() != g.len() {
            let wt: std::collections::BTreeSet<i64> = w.iter().map(|s| s.0).collect();
            let extra: Vec<_> = g.iter().filter(|s| !wt.contains(&s.0)).take(3).collect();
            let gt: std::collections::BTreeSet<i64> = g.iter().map(|s| s.0).collect();
            let missing: Vec<_> = w.iter().filter(|s| !gt.contains(&s.0)).take(3).collect();
            panic!(
                "{k}: {} vs {} samples; missing {missing:?}, extra {extra:?}",
                w.len(),
                g.len()
            );
        }
        let diff: Vec<_> = w
            .iter()
            .zip(g)
            .filter(|(a, b)| a.0 != b.0 || !same(&a.1, &b.1))
            .take(3)
            .collect();
        assert!(
            w.len() == g.len() && diff.is_empty(),
            "{k}: {} vs {} samples; first differences (want, got): {diff:#?}",
            w.len(),
            g.len()
        );
    }
}
