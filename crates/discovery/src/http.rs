//! A small HTTP/1.1 client for scraping and HTTP service discovery: GET with
//! headers, a deadline, gzip, and a body size limit. Plain `http://` only for now;
//! `https://` targets fail with a clear error until TLS lands.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::Read;
use std::time::Duration;

/// HTTP errors, worded for `up`'s accompanying log lines.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be used.
    #[error("invalid URL {0:?}")]
    Url(String),
    /// Scheme not supported yet.
    #[error("{0}")]
    Unsupported(String),
    /// Connecting or transferring failed.
    #[error("{0}")]
    Transport(String),
    /// The deadline passed.
    #[error("context deadline exceeded")]
    Timeout,
    /// A non-2xx status.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The body was larger than allowed.
    #[error("body size limit exceeded")]
    TooLarge,
}

/// A response body with its content type.
#[derive(Debug)]
pub struct Response {
    /// `Content-Type` header value.
    pub content_type: String,
    /// The decoded (gunzipped) body.
    pub body: Vec<u8>,
}

/// A pooled client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with keep-alive connections.
    pub fn new() -> Self {
        let mut c = HttpConnector::new();
        c.set_nodelay(true);
        HttpClient {
            inner: Client::builder(TokioExecutor::new()).build(c),
        }
    }

    /// GETs `url` with `headers`, within `timeout`; bodies over `limit` bytes (0: no
    /// limit) are refused.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
        timeout: Duration,
        limit: usize,
    ) -> Result<Response, HttpError> {
        if url.starts_with("https://") {
            return Err(HttpError::Unsupported(
                "https targets are not supported by Ember yet".into(),
            ));
        }
        let uri: hyper::Uri = url.parse().map_err(|_| HttpError::Url(url.into()))?;
        let mut req = hyper::Request::get(uri);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| HttpError::Url(e.to_string()))?;
        let fut = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| HttpError::Transport(transport_msg(&e)))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(HttpError::Status(format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )));
            }
            let header = |n: hyper::header::HeaderName| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let content_type = header(hyper::header::CONTENT_TYPE);
            let gzip = header(hyper::header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
            let cap = if limit == 0 { usize::MAX } else { limit };
            let body = Limited::new(resp.into_body(), cap)
                .collect()
                .await
                .map_err(|e| {
                    if e.to_string().contains("length limit") {
                        HttpError::TooLarge
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            let body = if gzip {
                let mut out = Vec::new();
                // One byte past the limit tells "too large" from "exactly at it"; with no
                // limit (`usize::MAX`) the sum must saturate, not wrap to zero.
                let mut d =
                    flate2::read::GzDecoder::new(&body[..]).take((cap as u64).saturating_add(1));
                d.read_to_end(&mut out)
                    .map_err(|e| HttpError::Transport(format!("decompressing: {e}")))?;
                if out.len() > cap {
                    return Err(HttpError::TooLarge);
                }
                out
            } else {
                body.to_vec()
            };
            Ok(Response { content_type, body })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }
}

fn transport_msg(e: &hyper_util::client::legacy::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one canned gzip response and returns the URL.
    async fn gzip_server(body: &[u8]) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body).unwrap();
        let z = z.finish().unwrap();
        tokio::spawn(async move {
            let (mut c, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                z.len()
            );
            c.write_all(head.as_bytes()).await.unwrap();
            c.write_all(&z).await.unwrap();
        });
        format!("http://{addr}/metrics")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn gzip_bodies_are_decompressed_with_and_without_a_limit() {
        // Compressible, so the limit is tested on the decompressed size.
        let body = "a 1\n".repeat(500).into_bytes();
        let client = HttpClient::new();
        for (limit, want_ok) in [(0, true), (body.len(), true), (body.len() - 1, false)] {
            let url = gzip_server(&body).await;
            let got = client.get(&url, &[], Duration::from_secs(5), limit).await;
            match got {
                Ok(r) => {
                    assert!(want_ok, "limit {limit} should refuse");
                    assert_eq!(r.body, body, "limit {limit}");
                }
                Err(e) => assert!(
                    !want_ok && matches!(e, HttpError::TooLarge),
                    "limit {limit}: {e}"
                ),
            }
        }
    }
}
