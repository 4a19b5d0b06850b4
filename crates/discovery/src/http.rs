//! The HTTP client of everything Ember fetches or sends: scrapes, HTTP service
//! discovery, alerts to Alertmanagers, Alertmanager's webhook and Slack
//! notifications. One [`HttpClient`] per Prometheus `HttpClientConfig` (a scrape
//! pool, an HTTP SD provider, an `alertmanagers` entry, a receiver), as Prometheus
//! makes one `http.Client` per config:
//!
//! - `http://` and `https://`, HTTP/1.1, pooled keep-alive connections; TLS from
//!   `tls_config` (see `tls.rs` for roots, client certificates, SNI,
//!   `insecure_skip_verify`, versions and file reloading);
//! - `basic_auth`, `authorization` (and `bearer_token`) and `http_headers` on every
//!   request, redirects included, with their files read at each request (through
//!   [`HttpClientConfig::request_headers`]), so rotated secrets need no reload;
//! - `oauth2` (see `oauth2.rs`): a token from `token_url`, cached until shortly
//!   before it expires, as `Authorization` on every request but redirects to other
//!   hosts;
//! - `proxy_url`, `no_proxy`, `proxy_from_environment` and `proxy_connect_header`
//!   (see `proxy.rs`): HTTP, HTTPS and SOCKS5 proxies, `CONNECT` tunnels for
//!   `https` targets;
//! - `follow_redirects` (default on): up to 10 redirects, as Go's client;
//! - a deadline over the whole exchange (token requests included), a body size
//!   limit, gzip bodies decoded.
//!
//! `enable_http2` is accepted but HTTP/2 is not offered.

use crate::oauth2::TokenSource;
use crate::proxy::{Connector, Proxies};
use crate::tls::{self, Tls};
use ember_config::HttpClientConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_rustls::{
    DefaultServerNameResolver, FixedServerNameResolver, HttpsConnector, ResolveServerName,
};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use hyper::Method;

/// Redirects followed before giving up, as Go's `http.Client`.
const MAX_REDIRECTS: usize = 10;

/// HTTP errors, worded for `up`'s accompanying log lines.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be used.
    #[error("invalid URL {0:?}")]
    Url(String),
    /// A setting Ember does not implement yet.
    #[error("{0}")]
    Unsupported(String),
    /// The client configuration cannot be used (unreadable CA or certificate,
    /// unreadable credentials file, bad TLS settings).
    #[error("{0}")]
    Config(String),
    /// Connecting or transferring failed (TLS handshake failures included).
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
    /// No OAuth2 token could be had (unreadable secret, token endpoint down or
    /// refusing).
    #[error("{0}")]
    OAuth2(String),
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: String,
    /// The decoded (gunzipped) body.
    pub body: Vec<u8>,
    /// The `Retry-After` header, as sent (seconds or an HTTP date), if any.
    pub retry_after: Option<String>,
    /// All response headers (Consul SD reads its blocking-query index there).
    pub headers: HeaderMap,
}

type Hyper = Client<HttpsConnector<Connector>, Full<Bytes>>;

/// A pooled client for one `HttpClientConfig`; cheap to clone (clones share the
/// connection pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpClientConfig,
    /// Why this client cannot send anything, when it cannot.
    unusable: Option<String>,
    tls: Option<Tls>,
    /// Where requests go (`proxy_url`, `proxy_from_environment`, …).
    proxies: Arc<Proxies>,
    /// `oauth2`'s tokens.
    oauth2: Option<TokenSource>,
    /// The connection pool, with the CA file's contents it was built with; rebuilt
    /// when they change.
    state: Mutex<Option<(Option<Vec<u8>>, Hyper)>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("unusable", &self.inner.unusable)
            .field("tls", &self.inner.tls)
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with Prometheus's default settings: system roots, no
    /// authentication, redirects followed. The TLS configuration is built at the
    /// first request.
    pub fn new() -> Self {
        let config = HttpClientConfig::default();
        match Tls::new(&config.tls_config) {
            Ok(tls) => HttpClient::with(config, None, Some(tls), Proxies::default(), None),
            // The default settings are always valid; should that change, say so at
            // each request rather than panic.
            Err(e) => HttpClient::failing(e),
        }
    }

    /// A client for `cfg`. TLS material (CA, client certificate and key) is read and
    /// checked now, and so is the proxy URL, and the environment for
    /// `proxy_from_environment`; credentials files are read at each request.
    pub fn from_config(cfg: &HttpClientConfig) -> Result<HttpClient, HttpError> {
        HttpClient::from_config_env(cfg, &|name| std::env::var(name).ok())
    }

    /// [`HttpClient::from_config`] with `env` for the environment.
    pub(crate) fn from_config_env(
        cfg: &HttpClientConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HttpClient, HttpError> {
        let proxies =
            Proxies::new(&cfg.proxy, env).map_err(|e| HttpError::Config(e.to_string()))?;
        let oauth2 = cfg
            .oauth2
            .as_ref()
            .map(|o| TokenSource::new(o, env))
            .transpose()?;
        let tls = Tls::new(&cfg.tls_config).map_err(HttpError::Config)?;
        let client = HttpClient::with(cfg.clone(), None, Some(tls), proxies, oauth2);
        client.pool()?;
        Ok(client)
    }

    /// A client whose requests all fail with `message`: for settings
    /// [`HttpClient::from_config`] refused, so that the reason shows where the
    /// requests' errors show (a target's last error, a notification's failure).
    pub fn failing(message: impl Into<String>) -> HttpClient {
        HttpClient::with(
            HttpClientConfig::default(),
            Some(message.into()),
            None,
            Proxies::default(),
            None,
        )
    }

    fn with(
        config: HttpClientConfig,
        unusable: Option<String>,
        tls: Option<Tls>,
        proxies: Proxies,
        oauth2: Option<TokenSource>,
    ) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config,
                unusable,
                tls,
                proxies: Arc::new(proxies),
                oauth2,
                state: Mutex::new(None),
            }),
        }
    }

    /// The connection pool, rebuilt first if the CA file changed since.
    fn pool(&self) -> Result<Hyper, HttpError> {
        if let Some(e) = &self.inner.unusable {
            return Err(HttpError::Config(e.clone()));
        }
        let Some(tls) = &self.inner.tls else {
            return Err(HttpError::Config("no TLS configuration".into()));
        };
        // Read at each request, as Prometheus does; a CA file that cannot be read or
        // used fails the request until it can.
        let ca = tls.ca_file().map_err(HttpError::Config)?;
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((built_with, pool)) = &*state
            && *built_with == ca
        {
            return Ok(pool.clone());
        }
        let config = tls.build(ca.as_deref()).map_err(HttpError::Config)?;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(30)));
        let names: Arc<dyn ResolveServerName + Send + Sync> = match &tls.server_name {
            Some(n) => Arc::new(FixedServerNameResolver::new(n.clone())),
            None => Arc::new(DefaultServerNameResolver::default()),
        };
        // `https://` proxies are reached with the same TLS settings as the targets,
        // as Go's transport does.
        let hop = HttpsConnector::new(http.clone(), config.clone(), false, names.clone());
        let connector = Connector::new(http, hop, self.inner.proxies.clone());
        let pool: Hyper = Client::builder(TokioExecutor::new())
            .build(HttpsConnector::new(connector, config, false, names));
        *state = Some((ca, pool.clone()));
        Ok(pool)
    }

    /// GETs `url` with `headers`, within `timeout`; bodies over `limit` bytes (0: no
    /// limit) are refused, and so are statuses other than 2xx (after redirects).
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
        timeout: Duration,
        limit: usize,
    ) -> Result<Response, HttpError> {
        let r = self
            .exchange(
                Method::GET,
                url,
                headers,
                Bytes::new(),
                timeout,
                (limit, true),
            )
            .await?;
        if !(200..300).contains(&r.status) {
            let reason = hyper::StatusCode::from_u16(r.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            return Err(HttpError::Status(format!("{} {reason}", r.status)));
        }
        Ok(r)
    }

    /// POSTs `body` to `url` with `headers` (`Content-Type` among them), within
    /// `timeout`, and returns the response whatever its status; at most `limit`
    /// bytes of its body are kept (0: all).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: impl Into<Bytes>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Response, HttpError> {
        self.exchange(
            Method::POST,
            url,
            headers,
            body.into(),
            timeout,
            (limit, false),
        )
        .await
    }

    /// As [`HttpClient::post`] with another method (`PUT`, `DELETE`, …), for
    /// integrations whose APIs need one (Opsgenie's alert updates).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: impl Into<Bytes>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Response, HttpError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| HttpError::Url(format!("invalid method {method:?}")))?;
        self.exchange(method, url, headers, body.into(), timeout, (limit, false))
            .await
    }

    /// GETs `url` with `headers` and hands back the response as soon as its head
    /// arrives, whatever its status, with the body still to be read piece by piece:
    /// for long-lived responses such as Kubernetes watches, whose events come as they
    /// happen. `timeout` bounds the wait for the head only; redirects are not
    /// followed (API servers do not send them for watches).
    pub async fn get_stream(
        &self,
        url: &str,
        headers: &[(&str, String)],
        timeout: Duration,
    ) -> Result<BodyStream, HttpError> {
        let fut = async {
            let pool = self.pool()?;
            let uri: hyper::Uri = url.parse().map_err(|_| HttpError::Url(url.to_string()))?;
            let mut map = self.headers(headers)?;
            self.oauth2_authorization(headers, timeout, &mut map)
                .await?;
            self.proxy_authorization(url, &mut map)?;
            let mut req = hyper::Request::builder()
                .method(Method::GET)
                .uri(uri)
                .body(Full::new(Bytes::new()))
                .map_err(|e| HttpError::Url(e.to_string()))?;
            *req.headers_mut() = map;
            let resp = pool
                .request(req)
                .await
                .map_err(|e| HttpError::Transport(transport_msg(&e)))?;
            Ok(BodyStream {
                status: resp.status().as_u16(),
                body: resp.into_body(),
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }

    /// One request and its redirects. `limit.1`: whether a body over `limit.0` is an
    /// error (otherwise it is cut).
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Bytes,
        timeout: Duration,
        limit: (usize, bool),
    ) -> Result<Response, HttpError> {
        let fut = async {
            let pool = self.pool()?;
            let (mut method, mut url, mut body) = (method, url.to_string(), body);
            let mut hops = 0;
            let origin = host_of(&url);
            // Once a redirect leaves the origin's domain, the OAuth2 token stays off
            // for the rest of the chain (prometheus/common's isCrossHostRedirect).
            let mut crossed = false;
            loop {
                let uri: hyper::Uri = url.parse().map_err(|_| HttpError::Url(url.clone()))?;
                crossed = crossed || !is_domain_or_subdomain(&host_of(&url), &origin);
                let mut map = self.headers(headers)?;
                if !crossed {
                    self.oauth2_authorization(headers, timeout, &mut map)
                        .await?;
                }
                self.proxy_authorization(&url, &mut map)?;
                let mut req = hyper::Request::builder()
                    .method(method.clone())
                    .uri(uri)
                    .body(Full::new(body.clone()))
                    .map_err(|e| HttpError::Url(e.to_string()))?;
                *req.headers_mut() = map;
                let resp = pool
                    .request(req)
                    .await
                    .map_err(|e| HttpError::Transport(transport_msg(&e)))?;
                let status = resp.status().as_u16();
                let location = resp
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                if let (true, Some(location), 301 | 302 | 303 | 307 | 308) =
                    (self.inner.config.follow_redirects, location, status)
                {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(HttpError::Transport(format!(
                            "stopped after {MAX_REDIRECTS} redirects"
                        )));
                    }
                    url = redirect_target(&url, &location)?;
                    // As Go: 303, and 301/302 after a POST, continue as a GET.
                    if status == 303 || (status <= 302 && method == Method::POST) {
                        method = Method::GET;
                        body = Bytes::new();
                    }
                    continue;
                }
                return read_body(resp, limit).await;
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }

    /// With `oauth2`, the token's `Authorization` (fetched or cached; the token
    /// request carries the request's `User-Agent`).
    async fn oauth2_authorization(
        &self,
        headers: &[(&str, String)],
        timeout: Duration,
        map: &mut HeaderMap,
    ) -> Result<(), HttpError> {
        let Some(source) = &self.inner.oauth2 else {
            return Ok(());
        };
        let agent = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            .map(|(_, v)| v.as_str());
        let auth = source
            .authorization(agent, timeout)
            .await
            .map_err(|e| HttpError::OAuth2(e.to_string()))?;
        let value = HeaderValue::from_str(&auth)
            .map_err(|_| HttpError::OAuth2("oauth2: invalid characters in the token".into()))?;
        map.insert(hyper::header::AUTHORIZATION, value);
        Ok(())
    }

    /// `Proxy-Authorization` for an `http` target reached through an HTTP proxy
    /// whose URL has a user (requests to `https` targets carry none: their
    /// `CONNECT` does).
    fn proxy_authorization(&self, url: &str, map: &mut HeaderMap) -> Result<(), HttpError> {
        if self.inner.proxies.is_direct() {
            return Ok(());
        }
        let parsed = url::Url::parse(url).map_err(|_| HttpError::Url(url.into()))?;
        if parsed.scheme() != "http" {
            return Ok(());
        }
        let proxy = self
            .inner
            .proxies
            .for_url(&parsed)
            .map_err(|e| HttpError::Transport(e.to_string()))?;
        if let Some(p) = proxy
            && p.kind != crate::proxy::Kind::Socks5
            && let Some(auth) = p.authorization()
        {
            let value = HeaderValue::from_str(&auth)
                .map_err(|_| HttpError::Config("invalid proxy credentials".into()))?;
            map.insert(hyper::header::PROXY_AUTHORIZATION, value);
        }
        Ok(())
    }

    /// The caller's headers, then the configuration's (authentication,
    /// `http_headers`), which replace any of the caller's of the same name.
    fn headers(&self, headers: &[(&str, String)]) -> Result<HeaderMap, HttpError> {
        let bad = |e: String| HttpError::Config(format!("invalid header: {e}"));
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(e.to_string()))?;
            let value = HeaderValue::from_str(v).map_err(|e| bad(e.to_string()))?;
            map.append(name, value);
        }
        let mut replaced = Vec::new();
        for (k, v) in self
            .inner
            .config
            .request_headers()
            .map_err(HttpError::Config)?
        {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(e.to_string()))?;
            let value = HeaderValue::from_str(&v).map_err(|e| bad(format!("{k}: {e}")))?;
            if !replaced.contains(&name) {
                map.remove(&name);
                replaced.push(name.clone());
            }
            map.append(name, value);
        }
        Ok(map)
    }
}

/// A response whose body is read as it arrives (see [`HttpClient::get_stream`]).
#[derive(Debug)]
pub struct BodyStream {
    /// The status code.
    pub status: u16,
    body: hyper::body::Incoming,
}

impl BodyStream {
    /// The next piece of the body as the server sent it; `None` at its end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, HttpError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    // Trailers carry no body; keep reading.
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(HttpError::Transport(e.to_string()))),
            }
        }
    }

    /// The rest of the body, at most `limit` bytes (for error documents).
    pub async fn rest(&mut self, limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.chunk().await {
                Some(Ok(b)) => out.extend_from_slice(&b[..b.len().min(limit - out.len())]),
                _ => break,
            }
        }
        out
    }
}

/// The lower-case host of `url` (IPv6 without brackets), empty if none.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase()
            })
        })
        .unwrap_or_default()
}

/// Go's `isDomainOrSubdomain`: `sub` is `parent` or one of its subdomains.
fn is_domain_or_subdomain(sub: &str, parent: &str) -> bool {
    if sub == parent {
        return true;
    }
    if sub.contains([':', '%']) {
        return false;
    }
    sub.len() > parent.len()
        && sub.ends_with(parent)
        && sub.as_bytes()[sub.len() - parent.len() - 1] == b'.'
}

/// `location` resolved against `base`.
fn redirect_target(base: &str, location: &str) -> Result<String, HttpError> {
    let base = url::Url::parse(base).map_err(|_| HttpError::Url(base.into()))?;
    base.join(location).map(String::from).map_err(|e| {
        HttpError::Transport(format!("failed to parse Location header {location:?}: {e}"))
    })
}

/// Reads the body: decoded from gzip when so labelled, at most `limit.0` bytes (0:
/// no limit); more is an error if `limit.1`, else cut off.
async fn read_body(
    resp: hyper::Response<hyper::body::Incoming>,
    limit: (usize, bool),
) -> Result<Response, HttpError> {
    let header = |n: hyper::header::HeaderName| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let status = resp.status().as_u16();
    let content_type = header(hyper::header::CONTENT_TYPE);
    let retry_after = Some(header(hyper::header::RETRY_AFTER)).filter(|v| !v.is_empty());
    let gzip = header(hyper::header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
    let headers = resp.headers().clone();
    let (cap, strict) = (if limit.0 == 0 { usize::MAX } else { limit.0 }, limit.1);
    let mut incoming = resp.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| HttpError::Transport(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.len() > cap - body.len() {
            if strict {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&data[..cap - body.len()]);
            break;
        }
        body.extend_from_slice(&data);
    }
    let body = if gzip {
        let mut out = Vec::new();
        // One byte past the limit tells "too large" from "exactly at it"; with no
        // limit (`usize::MAX`) the sum must saturate, not wrap to zero.
        let mut d = flate2::read::GzDecoder::new(&body[..]).take((cap as u64).saturating_add(1));
        match d.read_to_end(&mut out) {
            Ok(_) => {}
            // A cut-off gzip body decodes as far as it goes.
            Err(_) if !strict && !out.is_empty() => {}
            Err(e) => return Err(HttpError::Transport(format!("decompressing: {e}"))),
        }
        if out.len() > cap {
            if strict {
                return Err(HttpError::TooLarge);
            }
            out.truncate(cap);
        }
        out
    } else {
        body
    };
    Ok(Response {
        status,
        content_type,
        body,
        retry_after,
        headers,
    })
}

/// The error and its causes; a TLS failure is worded on its own.
fn transport_msg(e: &hyper_util::client::legacy::Error) -> String {
    if let Some(m) = crate::proxy::describe_dial(e) {
        return m;
    }
    if let Some(t) = find_tls_error(e) {
        return tls::describe(t);
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// The rustls error somewhere in `e`'s causes (I/O errors wrap it, and an I/O
/// error's `source` skips its payload, so payloads are looked into).
pub(crate) fn find_tls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
        && let Some(t) = find_tls_error(inner)
    {
        return Some(t);
    }
    e.source().and_then(find_tls_error)
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
