//! The HTTP surface: the metrics path with `collect[]` filtering, content
//! negotiation and gzip, and the landing page everywhere else (Go's `/` pattern
//! matches every path).

use std::io::Write;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use ember_exposition::{MetricFamily, MetricType};

use crate::Error;
use crate::exporter::Exporter;

/// Content type of the text format 0.0.4.
pub(crate) const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(crate) fn router(exporter: Exporter) -> Router {
    let path = exporter.telemetry_path().to_owned();
    Router::new()
        .route(&path, get(metrics))
        .fallback(landing)
        .with_state(exporter)
}

async fn landing(State(exporter): State<Exporter>) -> Html<String> {
    Html(format!(
        "<html>\n<head><title>Node Exporter</title></head>\n<body>\n<h1>Node Exporter</h1>\n<p>Ember's node exporter, with node_exporter's metric names.</p>\n<p><a href=\"{}\">Metrics</a></p>\n</body>\n</html>\n",
        html_escape(exporter.telemetry_path())
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn metrics(
    State(exporter): State<Exporter>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let _permit = match exporter.try_begin() {
        Ok(p) => p,
        Err(limit) => {
            exporter.count_request(503);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Limit of concurrent requests reached ({limit}), try again later.\n"),
            )
                .into_response();
        }
    };
    let _in_flight = exporter.in_flight();
    let collect: Vec<String> = query
        .into_iter()
        .filter(|(k, _)| k == "collect[]")
        .map(|(_, v)| v)
        .collect();
    let families = match exporter.gather(&collect).await {
        Ok(f) => f,
        Err(e @ (Error::MissingCollector(_) | Error::DisabledCollector(_))) => {
            tracing::warn!(error = %e, "couldn't create filtered metrics handler");
            return (
                StatusCode::BAD_REQUEST,
                format!("Couldn't create filtered metrics handler: couldn't create collector: {e}"),
            )
                .into_response();
        }
        Err(e) => {
            exporter.count_request(500);
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let openmetrics = wants_openmetrics(accept);
    let mut body = Vec::with_capacity(64 * 1024);
    let content_type = if openmetrics {
        ember_exposition::write_openmetrics(&mut body, &for_openmetrics(families));
        OPENMETRICS
    } else {
        ember_exposition::write_text(&mut body, &families);
        TEXT
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let mut resp = if gzip {
        match gzip_bytes(&body) {
            Ok(z) => {
                let mut r = z.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            Err(_) => body.into_response(),
        }
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    exporter.count_request(200);
    resp
}

/// Compresses a response body. At the fastest level: on a typical scrape (55 KB of
/// text) miniz_oxide's default level 6 takes about 1.1 ms, a third of the whole
/// scrape's CPU, for 9.0 KB; level 1 takes about 0.2 ms for 11 KB. (promhttp's Go
/// gzip at its default level makes node_exporter's 58 KB about 9.6 KB.) Two
/// kilobytes more per scrape matter less than a millisecond of CPU.
fn gzip_bytes(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

/// The media ranges of an Accept-style header with their q-values.
fn ranges(header: &str) -> impl Iterator<Item = (&str, f32)> {
    header.split(',').map(|part| {
        let mut it = part.split(';');
        let media = it.next().unwrap_or("").trim();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        (media, q)
    })
}

/// Whether the Accept header prefers OpenMetrics to the text format.
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    let (mut om, mut text) = (0.0_f32, 0.0_f32);
    for (media, q) in ranges(accept) {
        match media {
            "application/openmetrics-text" => om = om.max(q),
            "text/plain" => text = text.max(q),
            _ => {}
        }
    }
    om > 0.0 && om >= text
}

fn accepts_gzip(accept_encoding: &str) -> bool {
    ranges(accept_encoding).any(|(enc, q)| enc.eq_ignore_ascii_case("gzip") && q > 0.0)
}

/// OpenMetrics requires counters to be named `*_total`; like client_golang, a
/// counter family whose name lacks the suffix is written as `unknown`.
fn for_openmetrics(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    for f in &mut families {
        if f.metric_type == MetricType::Counter && !f.name.ends_with("_total") {
            f.metric_type = MetricType::Unknown;
        }
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert!(!wants_openmetrics(""));
        assert!(!wants_openmetrics("text/plain"));
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(!wants_openmetrics(
            "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"
        ));
        assert!(accepts_gzip("gzip, deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}
