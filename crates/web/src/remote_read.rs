//! `POST /api/v1/read`: Prometheus's remote read endpoint over the same storage the
//! query API reads (local TSDB merged with any `remote_read` remotes, as Prometheus
//! serves its fan-out storage here).
//!
//! The protocol work is `ember_remote::read::server`; this module adds the HTTP
//! side as Prometheus's `readHandler`: a concurrency gate
//! (`--storage.remote.read-concurrent-limit`), the running configuration's external
//! labels, errors as `text/plain` bodies with 400 for bad requests (sample limit
//! included) and 500 otherwise. The binary hands the flag values over as an
//! [`axum::Extension`] of [`RemoteReadServer`]; without one, Prometheus's defaults
//! apply.

use crate::WebState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Body};
use ember_remote::read::ReadError;
use ember_remote::read::codec::DECODE_READ_LIMIT;
use ember_remote::read::server::{ServerOptions, serve};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// The remote read flags and the concurrency gate they imply.
#[derive(Debug)]
pub struct RemoteReadServer {
    opts: ServerOptions,
    /// `None` when the concurrency limit is 0 (no limit).
    gate: Option<Semaphore>,
}

impl RemoteReadServer {
    /// From `--storage.remote.read-sample-limit`, `…-concurrent-limit` and
    /// `…-max-bytes-in-frame`; 0 means no limit for the first two, as in Prometheus.
    pub fn new(sample_limit: u64, concurrent_limit: u64, max_bytes_in_frame: u64) -> Self {
        RemoteReadServer {
            opts: ServerOptions {
                sample_limit: usize::try_from(sample_limit).unwrap_or(usize::MAX),
                max_bytes_in_frame: usize::try_from(max_bytes_in_frame).unwrap_or(usize::MAX),
            },
            gate: (concurrent_limit > 0).then(|| {
                Semaphore::new(usize::try_from(concurrent_limit).unwrap_or(Semaphore::MAX_PERMITS))
            }),
        }
    }
}

impl Default for RemoteReadServer {
    fn default() -> Self {
        RemoteReadServer::new(50_000_000, 10, 1_048_576)
    }
}

/// Go's `http.Error`: the message and a newline as plain text.
fn http_error(code: StatusCode, msg: &str) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

pub(crate) async fn read(
    State(s): State<Arc<WebState>>,
    server: Option<Extension<Arc<RemoteReadServer>>>,
    body: Body,
) -> Response {
    static DEFAULT: OnceLock<Arc<RemoteReadServer>> = OnceLock::new();
    let server = match server {
        Some(Extension(x)) => x,
        None => DEFAULT.get_or_init(Default::default).clone(),
    };
    let Some(query) = s.query.clone() else {
        return http_error(StatusCode::SERVICE_UNAVAILABLE, "storage not ready");
    };
    let _permit = match &server.gate {
        Some(g) => match g.acquire().await {
            Ok(p) => Some(p),
            Err(e) => return http_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        None => None,
    };
    let body = match axum::body::to_bytes(body, DECODE_READ_LIMIT).await {
        Ok(b) => b,
        Err(e) => return http_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let external = s
        .external_labels
        .read()
        .map(|l| l.clone())
        .unwrap_or_default();
    let opts = server.opts;
    let res =
        tokio::task::spawn_blocking(move || serve(query.storage.as_ref(), &body, &external, &opts))
            .await;
    match res {
        Ok(Ok(reply)) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, reply.content_type)],
                reply.body,
            )
                .into_response();
            if let Some(enc) = reply.content_encoding {
                r.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    header::HeaderValue::from_static(enc),
                );
            }
            r
        }
        Ok(Err(e)) => {
            let code = match e {
                ReadError::BadRequest(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            http_error(code, &e.to_string())
        }
        Err(e) => http_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

impl RemoteReadServer {
    /// Hands these settings to the `/api/v1/read` route of `app` (a router from
    /// [`crate::router`] or [`crate::router_with_status`]).
    pub fn install(self, app: axum::Router) -> axum::Router {
        app.layer(Extension(Arc::new(self)))
    }
}
