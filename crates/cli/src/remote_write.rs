//! The server's remote-write sender: the `remote_write` entries of the
//! configuration become queues reading `<storage.tsdb.path>/wal` (see
//! `ember_remote::write`), each sending through the shared HTTP client of
//! `ember-discovery`, which brings `basic_auth`, `authorization`, `oauth2`,
//! `tls_config`, proxies and `http_headers`; with `sigv4`, each request is signed
//! for the `aps` service as Prometheus signs it (`ember_discovery::sigv4`).

use ember_discovery::http::HttpClient;
use ember_discovery::sigv4::Signer;
use ember_remote::write::{
    BoxFuture, ClientFactory, MetricsHandle, Reply, WriteClient, WriteRequest, WriteStorage,
};
use std::sync::Arc;
use std::time::Duration;

/// The first bytes of an error answer kept for the log, as Prometheus keeps.
const ERROR_BODY_LIMIT: usize = 1024;

/// [`WriteClient`] over the shared HTTP client of one `remote_write` entry, and its
/// SigV4 signer when `sigv4` is set.
struct HttpWriteClient(HttpClient, Option<Signer>);

impl WriteClient for HttpWriteClient {
    fn store<'a>(
        &'a self,
        url: &'a str,
        req: WriteRequest,
    ) -> BoxFuture<'a, Result<Reply, String>> {
        Box::pin(async move {
            let mut headers: Vec<(&str, String)> = req
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            if let Some(signer) = &self.1 {
                headers.extend(signer.sign("POST", url, &headers, &req.body)?);
            }
            let resp = self
                .0
                .post(
                    url,
                    &headers,
                    req.body.to_vec(),
                    req.timeout,
                    ERROR_BODY_LIMIT,
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(Reply {
                status: resp.status,
                body: resp.body,
                retry_after: resp.retry_after.as_deref().and_then(retry_after),
            })
        })
    }
}

/// A `Retry-After` value as Prometheus reads it: whole seconds, or an HTTP date
/// (the time until then); anything else leaves the backoff in charge.
fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    let rest = v.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let (day, mon, year, hms, zone) = (
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?,
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?,
        parts.next()?,
    );
    if zone != "GMT" || parts.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    let at =
        ember_model::time::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // A date in the past waits not at all beyond the usual backoff, as in Go where
    // the negative duration is ignored.
    let wait = at as f64 - now;
    (wait > 0.0).then(|| Duration::from_secs(wait as u64))
}

fn factory() -> ClientFactory {
    Arc::new(|cfg| {
        let client = HttpClient::from_config(&cfg.http_client).map_err(|e| e.to_string())?;
        let signer = cfg
            .sigv4
            .as_ref()
            .map(|c| Signer::new(c, "aps"))
            .transpose()?;
        Ok(Arc::new(HttpWriteClient(client, signer)) as Arc<dyn WriteClient>)
    })
}

/// The queues of the running configuration.
pub(crate) struct RemoteWrite {
    storage: WriteStorage,
}

impl RemoteWrite {
    /// Starts the queues of `cfg` over the WAL under `tsdb_path`;
    /// `flush_deadline` is `--storage.remote.flush-deadline`.
    pub(crate) async fn start(
        tsdb_path: &std::path::Path,
        flush_deadline: &str,
        cfg: &ember_config::Config,
    ) -> anyhow::Result<RemoteWrite> {
        let deadline: ember_config::Duration = flush_deadline.parse().map_err(|e| {
            anyhow::anyhow!("invalid --storage.remote.flush-deadline {flush_deadline:?}: {e}")
        })?;
        let mut storage =
            WriteStorage::new(tsdb_path.join("wal"), factory(), Duration::from(deadline));
        storage
            .apply_config(&cfg.remote_write, &cfg.global.external_labels)
            .await
            .map_err(|e| anyhow::anyhow!("error applying remote write config: {e}"))?;
        Ok(RemoteWrite { storage })
    }

    /// Takes a reloaded configuration; on error the running queues stay and the
    /// error is logged.
    pub(crate) async fn apply(&mut self, cfg: &ember_config::Config) -> Result<(), String> {
        self.storage
            .apply_config(&cfg.remote_write, &cfg.global.external_labels)
            .await
            .map_err(|e| {
                tracing::error!(err = %e, "error applying remote write config; keeping the running queues");
                e.to_string()
            })
    }

    /// The `prometheus_remote_storage_*` metrics, for `/metrics`.
    pub(crate) fn metrics(&self) -> MetricsHandle {
        self.storage.metrics()
    }

    /// Stops the queues; each sends what it holds within the flush deadline.
    pub(crate) async fn stop(&mut self) {
        self.storage.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("soon"), None);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            None,
            "in the past"
        );
        let w = retry_after("Fri, 01 Jan 2100 00:00:00 GMT").expect("future");
        assert!(w > Duration::from_secs(365 * 86_400 * 50), "{w:?}");
    }
    use std::io::{BufRead, BufReader, Read, Write};

    /// What the capture server saw: headers (lower-cased names) and the body.
    type Seen = Arc<std::sync::Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

    /// A loopback HTTP/1.1 server recording requests and answering `status`.
    fn capture(status: u16) -> (u16, Seen) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers = Vec::new();
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h == "\r\n" {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                                if k == "content-length" {
                                    len = v.parse().unwrap_or(0);
                                }
                                headers.push((k, v));
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).is_err() {
                            return;
                        }
                        s.lock().unwrap().push((headers, body));
                        let _ = write!(conn, "HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nno");
                    }
                });
            }
        });
        (port, seen)
    }

    /// Through the real HTTP client: Prometheus's headers, the entry's headers
    /// and basic auth, a snappy protobuf body; a 400 comes back as a reply.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_prometheus_headers_and_auth() {
        let (port, seen) = capture(204);
        let yaml = format!(
            "remote_write:\n  - url: http://127.0.0.1:{port}/api/v1/write\n    headers: {{X-Scope-OrgID: t1}}\n    basic_auth: {{username: u, password: p}}\n"
        );
        let cfg = ember_config::load_str(
            &yaml,
            std::path::Path::new("t.yml"),
            &ember_config::LoadOptions::default(),
        )
        .unwrap();
        let rw = &cfg.remote_write[0];
        let client = factory()(rw).unwrap();
        let body: Arc<[u8]> = Arc::from(snap::raw::Encoder::new().compress_vec(b"x").unwrap());
        let reply = client
            .store(
                &rw.url,
                WriteRequest {
                    body: body.clone(),
                    headers: vec![
                        ("Content-Type".into(), "application/x-protobuf".into()),
                        ("X-Scope-OrgID".into(), "t1".into()),
                    ],
                    timeout: Duration::from_secs(5),
                },
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 204);
        let got = seen.lock().unwrap().clone();
        let (h, b) = &got[0];
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("content-type"), Some("application/x-protobuf"));
        assert_eq!(get("x-scope-orgid"), Some("t1"));
        assert_eq!(get("authorization"), Some("Basic dTpw"));
        assert_eq!(b[..], body[..]);

        let (port, _) = capture(400);
        let client = factory()(rw).unwrap();
        let reply = client
            .store(
                &format!("http://127.0.0.1:{port}/"),
                WriteRequest {
                    body,
                    headers: Vec::new(),
                    timeout: Duration::from_secs(5),
                },
            )
            .await
            .unwrap();
        assert_eq!((reply.status, &reply.body[..]), (400, &b"no"[..]));
    }
}
