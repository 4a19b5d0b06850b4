//! Proxies for [`crate::http::HttpClient`], as Prometheus's `proxy_url`,
//! `no_proxy`, `proxy_from_environment` and `proxy_connect_header` behave
//! (prometheus/common's `ProxyConfig`, Go's `net/http` transport and
//! `golang.org/x/net/http/httpproxy`). It exists because hyper's pooled client
//! connects straight to the target: the proxy is chosen per target URL here and the
//! connection set up by [`Connector`], underneath the TLS layer, so that an `https`
//! target's TLS runs end to end through the tunnel.
//!
//! Which proxy:
//! - `proxy_url` alone: every request, loopback targets included (Go's
//!   `http.ProxyURL`);
//! - `proxy_url` with `no_proxy`, and `proxy_from_environment`: Go's `httpproxy`
//!   rules. `http://` targets use the HTTP proxy, `https://` targets the HTTPS one;
//!   `localhost` and loopback addresses are never proxied; `NO_PROXY` entries are
//!   comma-separated, case-insensitive: `*` (nothing is proxied), an IP address, a
//!   CIDR range, a domain (`example.com`: itself and its subdomains; `.example.com`
//!   and `*.example.com`: subdomains only), each optionally with a port
//!   (`example.com:8080`, `[2001:db8::1]:443`); anything else is ignored. The
//!   environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, upper case first, then
//!   lower case) is read when the client is made. A value without a scheme is taken
//!   as `http://`. Under CGI (`REQUEST_METHOD` set) `HTTP_PROXY` is refused, as Go
//!   refuses it.
//!
//! How:
//! - `http://` (and `https://`, over TLS with the client's `tls_config`) proxies:
//!   `http` targets get absolute-form requests (`GET http://host:port/path`) with
//!   `Proxy-Authorization: Basic` from the proxy URL's user and password; `https`
//!   targets get a `CONNECT host:port` tunnel, sent with `proxy_connect_header` and
//!   that `Proxy-Authorization`; anything but `200` fails the request;
//! - `socks5://` and `socks5h://`: SOCKS5 (RFC 1928), without authentication or
//!   with the URL's user and password (RFC 1929); host names are resolved by the
//!   proxy, as Go's dialer does.

use crate::tls;
use ember_config::ProxyConfig;
use hyper::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most bytes of a proxy's answer to `CONNECT` read before giving up.
const MAX_CONNECT_RESPONSE: usize = 64 * 1024;

/// Why a proxy could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The proxy URL does not parse.
    #[error("invalid proxy URL {url:?}: {reason}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an `http`, `https`, `socks5` or `socks5h` proxy.
    #[error(
        "unsupported proxy scheme {0:?}: Ember supports http, https, socks5 and socks5h proxies"
    )]
    Scheme(String),
    /// `HTTP_PROXY` under CGI, where a client may have set it.
    #[error("refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy")]
    Cgi,
    /// The target URL cannot be routed.
    #[error("invalid URL {0:?}")]
    Target(String),
    /// Reaching the proxy (TCP, TLS) failed.
    #[error("proxyconnect tcp")]
    Dial(#[source] BoxError),
    /// The proxy answered `CONNECT` with something other than 200.
    #[error("proxy refused CONNECT to {target}: {status}")]
    Refused {
        /// `host:port` asked for.
        target: String,
        /// The status line after the protocol, as Go reports it.
        status: String,
    },
    /// The proxy's answer to `CONNECT` is not HTTP.
    #[error("malformed response from proxy to CONNECT {target}: {reason}")]
    BadResponse {
        /// `host:port` asked for.
        target: String,
        /// What was wrong.
        reason: String,
    },
    /// The SOCKS5 exchange failed.
    #[error("socks connect tcp {proxy}->{target}: {reason}")]
    Socks {
        /// The proxy's `host:port`.
        proxy: String,
        /// `host:port` asked for.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading or writing the proxy handshake failed.
    #[error("proxy handshake with {proxy}")]
    Io {
        /// The proxy's `host:port`.
        proxy: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// How to talk to a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// HTTP proxy over TCP.
    Http,
    /// HTTP proxy over TLS.
    Https,
    /// SOCKS5.
    Socks5,
}

/// One proxy, parsed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub(crate) kind: Kind,
    /// `host:port` (IPv6 in brackets), port defaulted by scheme as Go does.
    pub(crate) authority: String,
    /// User and password, percent-decoded.
    auth: Option<(String, String)>,
}

/// Never shows the password.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("authority", &self.authority)
            .field("auth", &self.auth.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL as configured (`proxy_url`): a scheme is required.
    pub(crate) fn parse(s: &str) -> Result<Proxy, ProxyError> {
        let bad = |reason: String| ProxyError::Url {
            url: redact(s),
            reason,
        };
        let u = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
        let (kind, default_port) = match u.scheme() {
            "http" => (Kind::Http, 80),
            "https" => (Kind::Https, 443),
            "socks5" | "socks5h" => (Kind::Socks5, 1080),
            other => return Err(ProxyError::Scheme(other.to_string())),
        };
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host".into()))?;
        let port = u.port().unwrap_or(default_port);
        let auth = if u.username().is_empty() && u.password().is_none() {
            None
        } else {
            Some((
                percent_decode(u.username()),
                u.password().map(percent_decode).unwrap_or_default(),
            ))
        };
        Ok(Proxy {
            kind,
            authority: format!("{host}:{port}"),
            auth,
        })
    }

    /// Parses a proxy from the environment (Go's `httpproxy.parseProxy`): a value
    /// that has no scheme and host, such as `proxy:3128` or `10.0.0.1:3128`, is
    /// taken as `http://` followed by it. `None` when empty or unusable, as Go
    /// ignores such values; an unknown scheme is kept as the error.
    fn from_env(s: &str) -> Option<Result<Proxy, ProxyError>> {
        if s.is_empty() {
            return None;
        }
        let has_host =
            url::Url::parse(s).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
        if has_host {
            return Some(Proxy::parse(s));
        }
        Proxy::parse(&format!("http://{s}")).ok().map(Ok)
    }

    /// `Proxy-Authorization` for this proxy, when its URL has a user.
    pub(crate) fn authorization(&self) -> Option<String> {
        self.auth.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                ember_model::base64::encode(
                    format!("{u}:{p}").as_bytes(),
                    ember_model::base64::Alphabet::Standard,
                    true,
                )
            )
        })
    }

    /// The URI the first hop connects to.
    fn hop_uri(&self) -> Result<Uri, ProxyError> {
        let scheme = if self.kind == Kind::Https {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/", self.authority)
            .parse()
            .map_err(|_| ProxyError::Target(self.authority.clone()))
    }
}

/// `user:password@` replaced by `user:xxxxx@`, for error messages (by hand: the
/// URL may not parse).
fn redact(s: &str) -> String {
    let Some(start) = s.find("//").map(|i| i + 2) else {
        return s.to_string();
    };
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |e| start + e);
    let Some(at) = s[start..end].rfind('@').map(|a| start + a) else {
        return s.to_string();
    };
    match s[start..at].find(':') {
        Some(colon) => format!("{}:xxxxx{}", &s[..start + colon], &s[at..]),
        None => s.to_string(),
    }
}

/// Decodes `%XX` escapes (userinfo as Go's `url.User` returns it).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `NO_PROXY` list, as Go's `httpproxy` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    /// `*`: nothing is proxied.
    all: bool,
    /// IP addresses (with an optional port) and CIDR ranges.
    ips: Vec<IpRule>,
    /// Domains (with an optional port).
    domains: Vec<DomainRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum IpRule {
    Cidr(IpAddr, u8),
    Ip(IpAddr, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct DomainRule {
    /// With a leading dot.
    suffix: String,
    port: String,
    /// Whether the domain itself matches (entries written without a leading dot).
    itself: bool,
}

impl NoProxy {
    /// Parses a comma-separated list; entries that make no sense are ignored.
    pub(crate) fn parse(list: &str) -> NoProxy {
        let mut np = NoProxy::default();
        for p in list.split(',') {
            let p = p.trim().to_ascii_lowercase();
            if p.is_empty() {
                continue;
            }
            if p == "*" {
                return NoProxy {
                    all: true,
                    ..NoProxy::default()
                };
            }
            if let Some(cidr) = parse_cidr(&p) {
                np.ips.push(cidr);
                continue;
            }
            let (host, port) = match split_host_port(&p) {
                Some((h, port)) => {
                    if h.is_empty() {
                        continue;
                    }
                    (h.to_string(), port.to_string())
                }
                None => (p.clone(), String::new()),
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                np.ips.push(IpRule::Ip(ip.to_canonical(), port));
                continue;
            }
            // `*.example.com` is `.example.com`.
            let mut host = match host.strip_prefix("*.") {
                Some(rest) => format!(".{rest}"),
                None => host,
            };
            let itself = !host.starts_with('.');
            if itself {
                host.insert(0, '.');
            }
            if !host.is_ascii()
                && let Ok(url::Host::Domain(ascii)) = url::Host::parse(&host[1..])
            {
                host = format!(".{ascii}");
            }
            np.domains.push(DomainRule {
                suffix: host,
                port,
                itself,
            });
        }
        np
    }

    /// Whether a request to `host` (lower case, IPv6 without brackets) on `port`
    /// goes through the proxy: `localhost` and loopback addresses never do.
    pub(crate) fn use_proxy(&self, host: &str, port: &str) -> bool {
        if host == "localhost" {
            return false;
        }
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return false;
        }
        if self.all {
            return false;
        }
        if let Some(ip) = ip {
            let hit = self.ips.iter().any(|r| match r {
                IpRule::Cidr(net, bits) => in_cidr(ip, *net, *bits),
                IpRule::Ip(want, p) => *want == ip && (p.is_empty() || p == port),
            });
            return !hit;
        }
        !self.domains.iter().any(|d| {
            (host.ends_with(&d.suffix) || (d.itself && host == &d.suffix[1..]))
                && (d.port.is_empty() || d.port == port)
        })
    }
}

/// `a.b.c.d/n` or `v6/n` (Go's `net.ParseCIDR`).
fn parse_cidr(s: &str) -> Option<IpRule> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if !bits.bytes().all(|b| b.is_ascii_digit()) || bits.is_empty() || bits.len() > 3 {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(IpRule::Cidr(ip.to_canonical(), bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: &[u8], b: &[u8]| {
        let full = usize::from(bits / 8);
        let rest = bits % 8;
        a[..full] == b[..full] && (rest == 0 || (a[full] ^ b[full]) & (0xffu8 << (8 - rest)) == 0)
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix(&a.octets(), &b.octets()),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(&a.octets(), &b.octets()),
        _ => false,
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[v6]:port`; `None` without a port or
/// with too many colons.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        return (!port.contains([':', '[', ']'])).then_some((&rest[..end], port));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains([':', '[', ']']) && !port.contains([':', '[', ']'])).then_some((host, port))
}

/// The proxies of one client configuration.
#[derive(Clone, Default)]
pub(crate) struct Proxies {
    route: Route,
    /// `proxy_connect_header`, by name (the order Go writes them in).
    connect_headers: BTreeMap<String, Vec<String>>,
}

/// Names the `CONNECT` headers, never shows their values (secrets).
impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxies")
            .field("route", &self.route)
            .field("connect_headers", &self.connect_headers.keys())
            .finish()
    }
}

#[derive(Clone, Debug, Default)]
enum Route {
    /// No proxy.
    #[default]
    Direct,
    /// `proxy_url` without `no_proxy`: everything.
    All(Proxy),
    /// `httpproxy` rules.
    Rules {
        http: Option<Result<Proxy, String>>,
        https: Option<Result<Proxy, String>>,
        no_proxy: NoProxy,
        cgi: bool,
    },
}

impl Proxies {
    /// The proxies `cfg` asks for; `env` looks up environment variables (for
    /// `proxy_from_environment`).
    pub(crate) fn new(
        cfg: &ProxyConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Proxies, ProxyError> {
        let any = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| env(n))
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        let keep = |p: Option<Result<Proxy, ProxyError>>| p.map(|r| r.map_err(|e| e.to_string()));
        let route = if cfg.proxy_from_environment {
            Route::Rules {
                http: keep(Proxy::from_env(&any(&["HTTP_PROXY", "http_proxy"]))),
                https: keep(Proxy::from_env(&any(&["HTTPS_PROXY", "https_proxy"]))),
                no_proxy: NoProxy::parse(&any(&["NO_PROXY", "no_proxy"])),
                cgi: env("REQUEST_METHOD").is_some_and(|v| !v.is_empty()),
            }
        } else if !cfg.proxy_url.is_empty() {
            let p = Proxy::parse(&cfg.proxy_url)?;
            if cfg.no_proxy.is_empty() {
                Route::All(p)
            } else {
                Route::Rules {
                    http: Some(Ok(p.clone())),
                    https: Some(Ok(p)),
                    no_proxy: NoProxy::parse(&cfg.no_proxy),
                    cgi: false,
                }
            }
        } else {
            Route::Direct
        };
        let connect_headers = cfg
            .proxy_connect_header
            .iter()
            .map(|(k, vs)| {
                (
                    no_newlines(k),
                    vs.iter().map(|v| no_newlines(v.expose())).collect(),
                )
            })
            .collect();
        Ok(Proxies {
            route,
            connect_headers,
        })
    }

    /// The proxy for a request to `url`, if any.
    pub(crate) fn for_url(&self, url: &url::Url) -> Result<Option<&Proxy>, ProxyError> {
        let (http, https, no_proxy, cgi) = match &self.route {
            Route::Direct => return Ok(None),
            Route::All(p) => return Ok(Some(p)),
            Route::Rules {
                http,
                https,
                no_proxy,
                cgi,
            } => (http, https, no_proxy, *cgi),
        };
        let chosen = match url.scheme() {
            "https" => https,
            "http" => {
                if http.is_some() && cgi {
                    return Err(ProxyError::Cgi);
                }
                http
            }
            _ => &None,
        };
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        let host = url.host_str().unwrap_or("");
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .map(|p| p.to_string())
            .unwrap_or_default();
        if !no_proxy.use_proxy(&host, &port) {
            return Ok(None);
        }
        match chosen {
            Ok(p) => Ok(Some(p)),
            Err(e) => Err(ProxyError::Url {
                url: String::new(),
                reason: e.clone(),
            }),
        }
    }

    /// Whether no request goes through a proxy.
    pub(crate) fn is_direct(&self) -> bool {
        matches!(self.route, Route::Direct)
    }
}

/// Go writes header lines with CR and LF replaced by spaces.
fn no_newlines(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// `host:port` of `url` with the scheme's default port (Go's `canonicalAddr`).
fn canonical_addr(url: &url::Url) -> Result<(String, String, u16), ProxyError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ProxyError::Target(url.to_string()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ProxyError::Target(url.to_string()))?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok((format!("{host}:{port}"), bare.to_string(), port))
}

/// A connection: direct, through a tunnel, or to an HTTP proxy that gets
/// absolute-form requests.
pub(crate) struct Conn {
    io: MaybeHttpsStream<TokioIo<TcpStream>>,
    /// Requests on it go to an HTTP proxy (absolute-form).
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// Makes the connections of the client: sits under hyper-rustls's TLS connector,
/// which adds the target's TLS on top of what this returns for `https` targets.
#[derive(Clone)]
pub(crate) struct Connector {
    direct: HttpConnector,
    /// Reaches the proxy itself: plain TCP, or TLS for `https://` proxies.
    hop: HttpsConnector<HttpConnector>,
    proxies: Arc<Proxies>,
}

impl Connector {
    /// A connector that connects with `http` and reaches `https://` proxies over
    /// `hop`.
    pub(crate) fn new(
        http: HttpConnector,
        hop: HttpsConnector<HttpConnector>,
        proxies: Arc<Proxies>,
    ) -> Connector {
        Connector {
            direct: http,
            hop,
            proxies,
        }
    }

    async fn connect(mut self, dst: Uri) -> Result<Conn, BoxError> {
        use tower_service::Service;
        let proxy = if self.proxies.is_direct() {
            None
        } else {
            let url = url::Url::parse(&dst.to_string())
                .map_err(|_| ProxyError::Target(dst.to_string()))?;
            self.proxies.for_url(&url)?.cloned().map(|p| (p, url))
        };
        let Some((proxy, url)) = proxy else {
            let tcp = self.direct.call(dst).await?;
            return Ok(Conn {
                io: MaybeHttpsStream::Http(tcp),
                proxied: false,
            });
        };
        let hop = self
            .hop
            .call(proxy.hop_uri()?)
            .await
            .map_err(ProxyError::Dial)?;
        let (target, host, port) = canonical_addr(&url)?;
        let mut io = TokioIo::new(hop);
        let proxied = match proxy.kind {
            Kind::Socks5 => {
                socks5(&mut io, &proxy, &host, port)
                    .await
                    .map_err(|reason| match reason {
                        Step::Io(source) => ProxyError::Io {
                            proxy: proxy.authority.clone(),
                            source,
                        },
                        Step::Refused(reason) => ProxyError::Socks {
                            proxy: proxy.authority.clone(),
                            target: target.clone(),
                            reason,
                        },
                    })?;
                false
            }
            Kind::Http | Kind::Https if url.scheme() == "https" => {
                self.tunnel(&mut io, &proxy, &target).await?;
                false
            }
            Kind::Http | Kind::Https => true,
        };
        Ok(Conn {
            io: io.into_inner(),
            proxied,
        })
    }

    /// `CONNECT target` over `io`; the proxy must answer 200.
    async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut S,
        proxy: &Proxy,
        target: &str,
    ) -> Result<(), ProxyError> {
        let mut headers = self.proxies.connect_headers.clone();
        if let Some(auth) = proxy.authorization() {
            headers.insert("Proxy-Authorization".into(), vec![auth]);
        }
        let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        for (name, values) in &headers {
            if name == "Host" {
                continue;
            }
            for v in values {
                req.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        req.push_str("\r\n");
        let io_err = |source| ProxyError::Io {
            proxy: proxy.authority.clone(),
            source,
        };
        io.write_all(req.as_bytes()).await.map_err(io_err)?;
        io.flush().await.map_err(io_err)?;
        // Byte by byte up to the blank line: what follows belongs to the tunnel.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
            if head.len() >= MAX_CONNECT_RESPONSE {
                return Err(ProxyError::BadResponse {
                    target: target.into(),
                    reason: "response headers too long".into(),
                });
            }
            match io.read_u8().await {
                Ok(b) => head.push(b),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(ProxyError::BadResponse {
                        target: target.into(),
                        reason: "connection closed before the response".into(),
                    });
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        let text = String::from_utf8_lossy(&head);
        let line = text.lines().next().unwrap_or("");
        let status = match line.split_once(' ') {
            Some((proto, status)) if proto.starts_with("HTTP/") => status.trim_start(),
            _ => {
                return Err(ProxyError::BadResponse {
                    target: target.into(),
                    reason: format!("malformed HTTP response {line:?}"),
                });
            }
        };
        let code = status.split(' ').next().unwrap_or("");
        if code == "200" {
            return Ok(());
        }
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProxyError::BadResponse {
                target: target.into(),
                reason: format!("malformed HTTP status code {code:?}"),
            });
        }
        Err(ProxyError::Refused {
            target: target.into(),
            status: status.to_string(),
        })
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Both inner connectors are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst))
    }
}

/// How a SOCKS5 exchange failed.
enum Step {
    Io(std::io::Error),
    Refused(String),
}

impl From<std::io::Error> for Step {
    fn from(e: std::io::Error) -> Step {
        Step::Io(e)
    }
}

/// SOCKS5 `CONNECT host:port` (RFC 1928), with username/password authentication
/// (RFC 1929) offered when the proxy URL has a user.
async fn socks5<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Step> {
    const NO_AUTH: u8 = 0x00;
    const USER_PASS: u8 = 0x02;
    let refused = |s: &str| Err(Step::Refused(s.to_string()));
    if proxy.auth.is_some() {
        io.write_all(&[5, 2, NO_AUTH, USER_PASS]).await?;
    } else {
        io.write_all(&[5, 1, NO_AUTH]).await?;
    }
    let mut reply = [0u8; 2];
    io.read_exact(&mut reply).await?;
    if reply[0] != 5 {
        return refused(&format!("unexpected protocol version {}", reply[0]));
    }
    match (reply[1], &proxy.auth) {
        (NO_AUTH, _) => {}
        (USER_PASS, Some((user, pass))) => {
            if user.is_empty() || user.len() > 255 || pass.len() > 255 {
                return refused("invalid username/password");
            }
            let mut msg = vec![1, user.len() as u8];
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            io.write_all(&msg).await?;
            io.read_exact(&mut reply).await?;
            if reply[1] != 0 {
                return refused("username/password authentication failed");
            }
        }
        (0xff, _) => return refused("no acceptable authentication methods"),
        (m, _) => return refused(&format!("unsupported authentication method {m}")),
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let Ok(len) = u8::try_from(host.len()) else {
                return refused("host name too long");
            };
            req.push(3);
            req.push(len);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    io.write_all(&req).await?;
    let mut head = [0u8; 4];
    io.read_exact(&mut head).await?;
    if head[0] != 5 {
        return refused(&format!("unexpected protocol version {}", head[0]));
    }
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general SOCKS server failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return refused(why);
    }
    // The bound address, which nobody needs, then the tunnel.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => usize::from(io.read_u8().await?) + 2,
        t => return refused(&format!("unknown address type {t}")),
    };
    let mut skip = vec![0u8; rest];
    io.read_exact(&mut skip).await?;
    Ok(())
}

/// The message of a failure to reach the proxy (TCP or TLS with the proxy),
/// found among `e`'s causes: `proxyconnect tcp: …` as Go words it, TLS failures
/// described as for targets. `None` when the proxy was not the problem.
pub(crate) fn describe_dial(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(ProxyError::Dial(inner)) = err.downcast_ref::<ProxyError>() {
            let mut msg = "proxyconnect tcp".to_string();
            if let Some(t) = crate::http::find_tls_error(inner.as_ref()) {
                return Some(format!("{msg}: {}", tls::describe(t)));
            }
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            return Some(msg);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = Proxy::parse("http://user:p%40ss@proxy.example:3128").unwrap();
        assert_eq!(p.kind, Kind::Http);
        assert_eq!(p.authority, "proxy.example:3128");
        assert_eq!(p.authorization().unwrap(), "Basic dXNlcjpwQHNz");
        assert_eq!(Proxy::parse("https://p").unwrap().authority, "p:443");
        assert_eq!(Proxy::parse("http://[::1]").unwrap().authority, "[::1]:80");
        assert_eq!(Proxy::parse("socks5://p").unwrap().authority, "p:1080");
        assert_eq!(Proxy::parse("socks5h://p:9").unwrap().kind, Kind::Socks5);
        assert!(matches!(
            Proxy::parse("ftp://p"),
            Err(ProxyError::Scheme(s)) if s == "ftp"
        ));
        let e = Proxy::parse("http://u:secret@").unwrap_err().to_string();
        assert_eq!(e, r#"invalid proxy URL "http://u:xxxxx@": empty host"#);
        // The environment's forms (Go's parseProxy).
        for (v, want) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("cache.corp.example.com:1234", "cache.corp.example.com:1234"),
            ("cache.corp.example.com", "cache.corp.example.com:80"),
            ("localhost", "localhost:80"),
            (
                "https://cache.corp.example.com",
                "cache.corp.example.com:443",
            ),
        ] {
            let p = Proxy::from_env(v).unwrap().unwrap();
            assert_eq!(p.authority, want, "{v}");
        }
        assert!(Proxy::from_env("").is_none());
        assert!(matches!(
            Proxy::from_env("foo://host"),
            Some(Err(ProxyError::Scheme(_)))
        ));
    }

    /// Go's `TestUseProxy` list and cases (golang.org/x/net/http/httpproxy).
    #[test]
    fn no_proxy_matching() {
        let np = NoProxy::parse(
            "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64",
        );
        for (host, proxied) in [
            ("localhost", false),
            ("127.0.0.1", false),
            ("127.0.0.2", false),
            ("::1", false),
            ("::2", true),
            ("192.168.1.1", false),
            ("192.168.1.2", true),
            ("192.168.1.3", false),
            ("192.168.1.4", true),
            ("10.0.0.2", false),
            ("10.0.0.4", true),
            ("2001:db8::52:0:1", false),
            ("2001:db8::52:0:2", true),
            ("2001:db8::52:0:3", false),
            ("2002:db8:a::123", false),
            ("fe80::424b:c8be:1643:a1b6", true),
            ("barbaz.net", true),
            ("www.barbaz.net", false),
            ("foobar.com", false),
            ("www.foobar.com", false),
            ("foofoobar.com", true),
            ("baz.com", true),
            ("localhost.net", true),
            ("local.localhost", true),
            ("barbarbaz.net", true),
            ("wildcard.io", true),
            ("nested.wildcard.io", false),
            ("awildcard.io", true),
        ] {
            assert_eq!(np.use_proxy(host, "80"), proxied, "{host}");
        }
        let all = NoProxy::parse("*");
        assert!(!all.use_proxy("example.com", "80"));
        assert!(!all.use_proxy("10.1.1.1", "80"));
        // Malformed entries are ignored.
        assert!(NoProxy::parse(":1").use_proxy("example.com", "80"));
        // A domain with a port matches that port only; domains never match IPs.
        let np = NoProxy::parse("example.com:8080, EXAMPLE.org");
        assert!(!np.use_proxy("a.example.com", "8080"));
        assert!(np.use_proxy("a.example.com", "80"));
        assert!(!np.use_proxy("example.org", "443"));
        // Internationalised names compare in their ASCII form.
        let np = NoProxy::parse(".示例.com");
        assert!(!np.use_proxy("www.xn--fsq092h.com", "80"));
    }

    #[test]
    fn routes() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let url = |s: &str| url::Url::parse(s).unwrap();
        let from_env = ProxyConfig {
            proxy_from_environment: true,
            ..ProxyConfig::default()
        };
        let p = Proxies::new(
            &from_env,
            &env(&[
                ("HTTP_PROXY", "http-proxy:3128"),
                ("https_proxy", "https://secure-proxy"),
                ("no_proxy", "internal.example"),
            ]),
        )
        .unwrap();
        let at = |p: &Proxies, u: &str| {
            p.for_url(&url(u))
                .unwrap()
                .map(|p| p.authority.clone())
                .unwrap_or_default()
        };
        assert_eq!(at(&p, "http://example.com/"), "http-proxy:3128");
        assert_eq!(at(&p, "https://example.com/"), "secure-proxy:443");
        assert_eq!(at(&p, "http://a.internal.example/"), "");
        assert_eq!(at(&p, "http://localhost:9090/"), "");
        assert_eq!(at(&p, "http://127.0.0.1:9090/"), "");
        // Upper case wins over lower case.
        let p = Proxies::new(
            &from_env,
            &env(&[("HTTP_PROXY", "upper:1"), ("http_proxy", "lower:1")]),
        )
        .unwrap();
        assert_eq!(at(&p, "http://example.com/"), "upper:1");
        assert_eq!(at(&p, "https://example.com/"), "");
        // CGI: HTTP_PROXY is refused, HTTPS_PROXY still used.
        let p = Proxies::new(
            &from_env,
            &env(&[
                ("HTTP_PROXY", "p:1"),
                ("HTTPS_PROXY", "p:2"),
                ("REQUEST_METHOD", "GET"),
            ]),
        )
        .unwrap();
        assert!(matches!(
            p.for_url(&url("http://example.com/")),
            Err(ProxyError::Cgi)
        ));
        assert_eq!(at(&p, "https://example.com/"), "p:2");
        // proxy_url alone proxies loopback targets too; with no_proxy, Go's rules.
        let fixed = ProxyConfig {
            proxy_url: "http://proxy:3128".into(),
            ..ProxyConfig::default()
        };
        let p = Proxies::new(&fixed, &env(&[])).unwrap();
        assert_eq!(at(&p, "http://localhost/"), "proxy:3128");
        let with_no_proxy = ProxyConfig {
            no_proxy: "prometheus.io".into(),
            ..fixed.clone()
        };
        let p = Proxies::new(&with_no_proxy, &env(&[])).unwrap();
        assert_eq!(at(&p, "http://localhost/"), "");
        assert_eq!(at(&p, "http://prometheus.io/"), "");
        assert_eq!(at(&p, "https://cncf.io/"), "proxy:3128");
        assert!(
            Proxies::new(&ProxyConfig::default(), &env(&[]))
                .unwrap()
                .is_direct()
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
