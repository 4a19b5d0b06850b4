//! `GET /federate`: the latest sample of every series matching the `match[]`
//! selectors, in the text exposition format, for a higher-level Prometheus (or Ember) to
//! scrape — Prometheus's federation endpoint.
//!
//! Like Prometheus, each series contributes its last sample within the lookback delta
//! before now (stale markers mean "gone" and are left out), every family is `untyped`,
//! families come in metric-name order, and external labels the series does not already
//! carry are appended after its own. Native histograms need the protobuf format, which
//! Ember does not serve yet, so they are left out here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ember_exposition::{MetricFamily, MetricType, Sample};
use ember_model::labels::Label;
use ember_model::value::is_stale_nan;
use ember_storage::{SelectHints, ValueType};

use crate::WebState;
use crate::api::{Params, blocking, matchers, now_ms, service};

fn plain(code: StatusCode, msg: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg + "\n",
    )
        .into_response()
}

pub(crate) async fn federate(
    State(s): State<Arc<WebState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &headers, &body);
    let sets = match matchers(&p) {
        Ok(sets) => sets,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.message().to_owned()),
    };
    let svc = match service(&s) {
        Ok(svc) => svc,
        Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, e.message().to_owned()),
    };
    let external = s
        .external_labels
        .read()
        .map(|l| l.clone())
        .unwrap_or_default();
    let maxt = now_ms();
    let mint = maxt - svc.engine.options().lookback_delta.as_millis() as i64;
    let result = blocking(move || -> Result<Vec<u8>, String> {
        let q = svc.local.querier(mint, maxt).map_err(|e| e.to_string())?;
        let hints = SelectHints {
            start: mint,
            end: maxt,
            func: "series".into(),
            ..Default::default()
        };
        // Keyed by (name, labels) so that families come out in name order and the
        // same series selected by two `match[]` sets is written once.
        let mut latest: BTreeMap<(String, ember_model::Labels), (i64, f64)> = BTreeMap::new();
        for set in &sets {
            for series in q.select(true, Some(&hints), set) {
                let series = series.map_err(|e| e.to_string())?;
                let Some(name) = series.labels().get("__name__") else {
                    continue;
                };
                let mut it = series.iter();
                let mut last = None;
                loop {
                    match it.next() {
                        ValueType::None => break,
                        ValueType::Float => {
                            let (t, v) = it.at();
                            if t <= maxt {
                                last = Some((t, v));
                            }
                        }
                        // The text format has no native histograms.
                        ValueType::Histogram | ValueType::FloatHistogram => last = None,
                    }
                }
                if let Some(e) = it.err() {
                    return Err(e.to_string());
                }
                if let Some((t, v)) = last.filter(|&(t, v)| t >= mint && !is_stale_nan(v)) {
                    latest.insert((name.to_owned(), series.labels().clone()), (t, v));
                }
            }
        }
        let mut families: Vec<MetricFamily> = Vec::new();
        for ((name, labels), (t, v)) in latest {
            if families.last().is_none_or(|f| f.name != name) {
                families.push(MetricFamily {
                    name: name.clone(),
                    help: None,
                    metric_type: MetricType::Unknown,
                    unit: None,
                    samples: Vec::new(),
                });
            }
            let mut out: Vec<Label> = labels
                .iter()
                .filter(|l| l.name != "__name__")
                .cloned()
                .collect();
            for l in external.iter() {
                if labels.get(&l.name).is_none() {
                    out.push(l.clone());
                }
            }
            if let Some(f) = families.last_mut() {
                f.samples.push(Sample {
                    name,
                    labels: out,
                    value: v,
                    timestamp_ms: Some(t),
                    exemplar: None,
                });
            }
        }
        let mut buf = Vec::new();
        ember_exposition::write_text(&mut buf, &families);
        Ok(buf)
    })
    .await;
    match result {
        Ok(Ok(buf)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            buf,
        )
            .into_response(),
        Ok(Err(e)) => plain(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.message().to_owned()),
    }
}
