//! The web configuration file's schema, read as exporter-toolkit reads it
//! (`yaml.UnmarshalStrict` into `web.Config`, then its checks), with Ember's located
//! errors.
//!
//! Parsing goes in two passes, as `ember-rules` does for rule files: a shape-only
//! pass ([`YamlNode`]) finds unknown keys with their lines and gives every later
//! error a line, a column and a field path; a typed pass reads the values. The
//! checks that need no file (header names and values, TLS versions, cipher and
//! curve names, `client_auth_type`, bcrypt hashes, `rate_limit`) run here; reading
//! and pairing certificates is [`crate::tls`]'s.

use ember_config::{ConfigError, Secret, YamlNode, YamlValue, is_blank_document, strict_options};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A parsed web configuration file: what exporter-toolkit's `web.Config` holds,
/// defaults applied and relative paths joined with the file's directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebConfig {
    /// `tls_server_config`: TLS is on when any of its certificate, key, CA or
    /// `client_auth_type` fields is set ([`TlsServerConfig::is_enabled`]).
    pub tls_server_config: TlsServerConfig,
    /// `http_server_config`.
    pub http_server_config: HttpServerConfig,
    /// `basic_auth_users`: user name to bcrypt hash. Empty: no authentication.
    pub basic_auth_users: BTreeMap<String, Secret>,
    /// `rate_limit`.
    pub rate_limit: RateLimit,
    /// Where each field was written, for errors found after parsing.
    locations: Locations,
}

/// `tls_server_config`.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsServerConfig {
    /// `cert`: the server certificate (chain) inline, in PEM.
    pub cert: String,
    /// `key`: the server key inline, in PEM.
    pub key: Secret,
    /// `client_ca`: CA certificates for client certificates, inline, in PEM.
    pub client_ca: String,
    /// `cert_file`, joined with the configuration file's directory; empty when unset.
    pub cert_file: PathBuf,
    /// `key_file`, likewise.
    pub key_file: PathBuf,
    /// `client_ca_file`, likewise.
    pub client_ca_file: PathBuf,
    /// `client_auth_type` as written; empty when unset.
    pub client_auth_type: String,
    /// `client_allowed_sans`: when given, a client certificate must carry one of
    /// these SANs (DNS name, e-mail address, IP address or URI), exactly.
    pub client_allowed_sans: Option<Vec<String>>,
    /// `min_version` (default TLS 1.2).
    pub min_version: TlsVersion,
    /// `max_version` (default TLS 1.3).
    pub max_version: TlsVersion,
    /// `cipher_suites`, Go's names; empty: the defaults.
    pub cipher_suites: Vec<String>,
    /// `prefer_server_cipher_suites` (default true).
    pub prefer_server_cipher_suites: bool,
    /// `curve_preferences`, Go's names; empty: the defaults.
    pub curve_preferences: Vec<String>,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        TlsServerConfig {
            cert: String::new(),
            key: Secret::default(),
            client_ca: String::new(),
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            client_ca_file: PathBuf::new(),
            client_auth_type: String::new(),
            client_allowed_sans: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            prefer_server_cipher_suites: true,
            curve_preferences: Vec::new(),
        }
    }
}

impl TlsServerConfig {
    /// Whether TLS is configured at all, as exporter-toolkit's `IsEnabled`: any
    /// certificate, key, CA or `client_auth_type` field set. Whether the settings
    /// are complete is checked when the TLS configuration is built.
    pub fn is_enabled(&self) -> bool {
        !self.cert.is_empty()
            || !self.key.is_empty()
            || !self.client_ca.is_empty()
            || !self.cert_file.as_os_str().is_empty()
            || !self.key_file.as_os_str().is_empty()
            || !self.client_ca_file.as_os_str().is_empty()
            || !self.client_auth_type.is_empty()
    }

    /// The client authentication policy named by `client_auth_type`.
    pub fn client_auth(&self) -> Option<ClientAuth> {
        ClientAuth::from_name(&self.client_auth_type)
    }
}

/// `client_auth_type`: Go's `tls.ClientAuthType` policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert` (or unset): no client certificate is asked for.
    NoClientCert,
    /// `RequestClientCert`: asked for, not required, not verified.
    RequestClientCert,
    /// `RequireAnyClientCert` (or `RequireClientCert`): required, not verified.
    RequireAnyClientCert,
    /// `VerifyClientCertIfGiven`: not required, verified when given.
    VerifyClientCertIfGiven,
    /// `RequireAndVerifyClientCert`: required and verified.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn from_name(s: &str) -> Option<ClientAuth> {
        Some(match s {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            // exporter-toolkit keeps the old spelling working.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }
}

/// A TLS protocol version: the one type the client side (`tls_config`) uses too.
pub use ember_config::TlsVersion;

/// The cipher suites Go's `tls.CipherSuites()` lists, by the names the file uses,
/// with their IANA numbers. Names outside this list are errors, as in Go.
pub(crate) const GO_CIPHER_SUITES: &[(&str, u16)] = &[
    ("TLS_AES_128_GCM_SHA256", 0x1301),
    ("TLS_AES_256_GCM_SHA384", 0x1302),
    ("TLS_CHACHA20_POLY1305_SHA256", 0x1303),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xc009),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xc00a),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xc013),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xc014),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xc030),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9),
];

/// The curves exporter-toolkit accepts in `curve_preferences`.
pub(crate) const GO_CURVES: &[&str] = &["CurveP256", "CurveP384", "CurveP521", "X25519"];

/// `http_server_config`.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpServerConfig {
    /// `http2` (default true). Ember's listeners speak HTTP/1.1 only, so this is
    /// accepted and has no effect.
    pub http2: bool,
    /// `headers`: extra response headers, from the few exporter-toolkit allows.
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// The headers `http_server_config.headers` may set, and the values allowed for
/// those with a fixed set (exporter-toolkit's `extraHTTPHeaders`).
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// `rate_limit`: a token bucket over all requests of a listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `interval`: one token per interval; `None` (0 or negative) switches the
    /// limiter off.
    pub interval: Option<Duration>,
    /// `burst`: the bucket's size (0 or less refuses every request while on).
    pub burst: i64,
}

/// Field positions, by dotted path (`tls_server_config.cert_file`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Locations(BTreeMap<String, (u32, u32)>);

impl WebConfig {
    /// A located "invalid" error about `field` (a dotted path) of this file.
    pub(crate) fn invalid(&self, file: &Path, field: &str, message: String) -> ConfigError {
        let (line, column) = self.locations.0.get(field).copied().unwrap_or((0, 0));
        ConfigError::Invalid {
            file: file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message,
        }
    }

    /// A located I/O error about the file named by `field`.
    pub(crate) fn io_error(
        &self,
        file: &Path,
        field: &str,
        path: &Path,
        source: std::io::Error,
    ) -> ConfigError {
        let (line, column) = self.locations.0.get(field).copied().unwrap_or((0, 0));
        ConfigError::Io {
            file: file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads and parses the web configuration file at `path` (no certificate is
/// read; see [`crate::WebConfigFile::load`] for the full check).
pub fn load_file(path: &Path) -> Result<WebConfig, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Io {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        path: path.to_path_buf(),
        source,
    })?;
    parse(&String::from_utf8_lossy(&text), path)
}

/// Parses the text of a web configuration file named `file` (used in messages and
/// to resolve relative paths).
pub fn parse(text: &str, file: &Path) -> Result<WebConfig, ConfigError> {
    if is_blank_document(text) {
        return Ok(WebConfig::default());
    }
    let shape: Option<Node> = serde_saphyr::from_str_with_options(text, strict_options())
        .map_err(|e| yaml_error(&e, None, file))?;
    let Some(shape) = shape else {
        return Ok(WebConfig::default());
    };
    check_fields(&shape, &ROOT, "", file)?;
    let raw: Option<Raw> = serde_saphyr::from_str_with_options(text, strict_options())
        .map_err(|e| yaml_error(&e, Some(&shape), file))?;
    let raw = raw.unwrap_or_default();
    let mut locations = Locations::default();
    collect_locations(&shape, "", &mut locations);
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut cfg = WebConfig {
        locations,
        ..WebConfig::default()
    };
    let err = |cfg: &WebConfig, field: &str, message: String| cfg.invalid(file, field, message);

    if let Some(t) = raw.tls_server_config {
        let tls = &mut cfg.tls_server_config;
        tls.cert = t.cert.unwrap_or_default();
        tls.key = Secret::new(t.key.unwrap_or_default());
        tls.client_ca = t.client_ca.unwrap_or_default();
        tls.cert_file = join_dir(dir, t.cert_file.as_deref());
        tls.key_file = join_dir(dir, t.key_file.as_deref());
        tls.client_ca_file = join_dir(dir, t.client_ca_file.as_deref());
        tls.client_auth_type = t.client_auth_type.unwrap_or_default();
        tls.client_allowed_sans = t
            .client_allowed_sans
            .map(|v| v.into_iter().map(Option::unwrap_or_default).collect());
        tls.prefer_server_cipher_suites = t.prefer_server_cipher_suites.unwrap_or(true);
        let version = |cfg: &WebConfig, field: &str, v: Option<String>, default| match v {
            None => Ok(default),
            Some(s) => TlsVersion::from_name(&s).ok_or_else(|| {
                err(
                    cfg,
                    &format!("tls_server_config.{field}"),
                    format!("unknown TLS version: {s}"),
                )
            }),
        };
        let min = version(&cfg, "min_version", t.min_version, TlsVersion::Tls12)?;
        let max = version(&cfg, "max_version", t.max_version, TlsVersion::Tls13)?;
        let mut ciphers = Vec::new();
        for (i, c) in t.cipher_suites.unwrap_or_default().into_iter().enumerate() {
            let c = c.unwrap_or_default();
            if !GO_CIPHER_SUITES.iter().any(|(n, _)| *n == c) {
                return Err(err(
                    &cfg,
                    &format!("tls_server_config.cipher_suites[{i}]"),
                    format!("unknown cipher: {c}"),
                ));
            }
            ciphers.push(c);
        }
        let mut curves = Vec::new();
        for (i, c) in t
            .curve_preferences
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let c = c.unwrap_or_default();
            if !GO_CURVES.contains(&c.as_str()) {
                return Err(err(
                    &cfg,
                    &format!("tls_server_config.curve_preferences[{i}]"),
                    format!("unknown curve: {c}"),
                ));
            }
            curves.push(c);
        }
        let tls = &mut cfg.tls_server_config;
        tls.min_version = min;
        tls.max_version = max;
        tls.cipher_suites = ciphers;
        tls.curve_preferences = curves;
    }

    if let Some(h) = raw.http_server_config {
        cfg.http_server_config.http2 = h.http2.unwrap_or(true);
        let headers: BTreeMap<String, String> = h
            .headers
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        for (k, v) in &headers {
            let field = format!("http_server_config.headers[{k:?}]");
            let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| n == k) else {
                return Err(err(
                    &cfg,
                    &field,
                    format!("HTTP header {k:?} can not be configured"),
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&v.as_str()) {
                return Err(err(
                    &cfg,
                    &field,
                    format!("invalid value for {k}. Expected one of: {allowed:?}, but got: {v:?}"),
                ));
            }
            if axum::http::HeaderValue::from_str(v).is_err() {
                return Err(err(
                    &cfg,
                    &field,
                    format!("invalid value for {k}: not a valid HTTP header value"),
                ));
            }
        }
        cfg.http_server_config.headers = headers;
    }

    for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
        let hash = hash.unwrap_or_default();
        if let Err(e) = check_bcrypt_hash(&hash) {
            return Err(err(
                &cfg,
                &format!("basic_auth_users[{user:?}]"),
                format!("invalid password hash for user {user:?}: {e}"),
            ));
        }
        cfg.basic_auth_users.insert(user, Secret::new(hash));
    }

    if let Some(r) = raw.rate_limit {
        let interval = match r.interval {
            None | Some(YamlValue::Null) => None,
            Some(YamlValue::Int(ns)) => positive(i128::from(ns)),
            Some(YamlValue::String(s)) => positive(
                parse_go_duration(&s)
                    .map_err(|e| err(&cfg, "rate_limit.interval", format!("time: {e}")))?,
            ),
            Some(other) => {
                return Err(err(
                    &cfg,
                    "rate_limit.interval",
                    format!("cannot unmarshal {other:?} into time.Duration"),
                ));
            }
        };
        cfg.rate_limit = RateLimit {
            interval,
            burst: r.burst.unwrap_or(0),
        };
    }
    Ok(cfg)
}

/// Nanoseconds as a duration, when positive.
fn positive(ns: i128) -> Option<Duration> {
    (ns > 0).then(|| Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
}

/// Go's `config.JoinDir`: a relative, non-empty path is joined with `dir`.
fn join_dir(dir: &Path, p: Option<&str>) -> PathBuf {
    match p {
        None | Some("") => PathBuf::new(),
        Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
        Some(p) => dir.join(p),
    }
}

/// What Go's `bcrypt.Cost` accepts: a well-formed hash with a cost from 4 to 31.
fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    let parts: bcrypt::HashParts = hash
        .parse()
        .map_err(|e: bcrypt::BcryptError| e.to_string())?;
    let cost = parts.get_cost();
    if !(4..=31).contains(&cost) {
        return Err(format!("cost {cost} is outside allowed range (4,31)"));
    }
    Ok(())
}

/// Go's `time.ParseDuration`, in nanoseconds: `1h30m`, `1.5s`, `300ms`, `-2us`, `0`.
pub(crate) fn parse_go_duration(s: &str) -> Result<i128, String> {
    let bad = || format!("invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        let (num, tail) = rest.split_at(digits);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("unknown unit {unit:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = next;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    rate_limit: Option<RawRate>,
    basic_auth_users: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    cipher_suites: Option<Vec<Option<String>>>,
    curve_preferences: Option<Vec<Option<String>>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<Option<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRate {
    interval: Option<YamlValue>,
    burst: Option<i64>,
}

type Node = Spanned<YamlNode>;

/// The keys a mapping may hold, Go's type name for messages, and the children
/// that are structs themselves (maps with free keys have no schema).
struct Schema {
    go_type: &'static str,
    fields: &'static [&'static str],
    children: &'static [(&'static str, &'static Schema)],
}

const TLS: Schema = Schema {
    go_type: "web.TLSConfig",
    fields: &[
        "cert",
        "key",
        "client_ca",
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "cipher_suites",
        "curve_preferences",
        "min_version",
        "max_version",
        "prefer_server_cipher_suites",
        "client_allowed_sans",
    ],
    children: &[],
};

const HTTP: Schema = Schema {
    go_type: "web.HTTPConfig",
    fields: &["http2", "headers"],
    children: &[],
};

const RATE: Schema = Schema {
    go_type: "web.RateLimiterConfig",
    fields: &["burst", "interval"],
    children: &[],
};

const ROOT: Schema = Schema {
    go_type: "web.Config",
    fields: &[
        "tls_server_config",
        "http_server_config",
        "rate_limit",
        "basic_auth_users",
    ],
    children: &[
        ("tls_server_config", &TLS),
        ("http_server_config", &HTTP),
        ("rate_limit", &RATE),
    ],
};

fn pos(l: &serde_saphyr::Location) -> (u32, u32) {
    (
        u32::try_from(l.line()).unwrap_or(u32::MAX),
        u32::try_from(l.column()).unwrap_or(u32::MAX),
    )
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Unknown keys, as Go's strict decoder reports them: the first one, located.
fn check_fields(node: &Node, schema: &Schema, path: &str, file: &Path) -> Result<(), ConfigError> {
    let YamlNode::Map(entries) = &node.value else {
        return Ok(());
    };
    for (k, v) in entries {
        let here = join_path(path, &k.value);
        if !schema.fields.contains(&k.value.as_str()) {
            let (line, column) = pos(&k.referenced);
            return Err(ConfigError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                field: here,
                message: format!("field {} not found in type {}", k.value, schema.go_type),
            });
        }
        if let Some((_, child)) = schema.children.iter().find(|(n, _)| *n == k.value) {
            check_fields(v, child, &here, file)?;
        }
    }
    Ok(())
}

/// Records where every field's value is, by path: `a.b`, `a.list[0]`, and
/// `a.map["Key"]` for the free-form maps (headers, users).
fn collect_locations(node: &Node, path: &str, out: &mut Locations) {
    match &node.value {
        YamlNode::Leaf => {}
        YamlNode::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.0.insert(p.clone(), pos(&item.referenced));
                collect_locations(item, &p, out);
            }
        }
        YamlNode::Map(entries) => {
            let free = matches!(path, "basic_auth_users" | "http_server_config.headers");
            for (k, v) in entries {
                let p = if free {
                    format!("{path}[{:?}]", k.value)
                } else {
                    join_path(path, &k.value)
                };
                // Errors about a field point at its value.
                out.0.insert(p.clone(), pos(&v.referenced));
                collect_locations(v, &p, out);
            }
        }
    }
}

/// The path of the innermost node starting at or before `at`.
fn path_at(node: &Node, path: String, at: (u32, u32), best: &mut String) {
    if pos(&node.referenced) > at {
        return;
    }
    *best = path.clone();
    match &node.value {
        YamlNode::Leaf => {}
        YamlNode::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path_at(item, format!("{path}[{i}]"), at, best);
            }
        }
        YamlNode::Map(entries) => {
            for (k, v) in entries {
                if pos(&k.referenced) > at {
                    break;
                }
                let child = join_path(&path, &k.value);
                *best = child.clone();
                path_at(v, child, at, best);
            }
        }
    }
}

fn unwrap_error(e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match e {
        serde_saphyr::Error::WithSnippet { error, .. } => unwrap_error(error),
        serde_saphyr::Error::AliasError { error, .. } => unwrap_error(error),
        other => other,
    }
}

/// A YAML or type error from serde-saphyr, located, with the field path when the
/// document's shape is known.
fn yaml_error(e: &serde_saphyr::Error, shape: Option<&Node>, file: &Path) -> ConfigError {
    use serde_saphyr::MessageFormatter;
    let (line, column) = e.location().map(|l| pos(&l)).unwrap_or((0, 0));
    let mut field = String::new();
    if let Some(root) = shape
        && line > 0
    {
        path_at(root, String::new(), (line, column), &mut field);
    }
    let mut message = match unwrap_error(e) {
        // Go's words for a repeated key, without serde-saphyr's advice on options.
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => match key {
            Some(k) => format!("key {k:?} already set in map"),
            None => "key already set in map".into(),
        },
        inner => serde_saphyr::DefaultMessageFormatter
            .format_message(inner)
            .into_owned(),
    };
    if field.is_empty() && line > 0 && shape.is_some() {
        message = format!("cannot unmarshal into web.Config: {message}");
    }
    ConfigError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<WebConfig, ConfigError> {
        parse(text, Path::new("/etc/ember/web.yml"))
    }

    #[test]
    fn empty_file_is_the_default() {
        let c = p("").unwrap();
        assert_eq!(c, WebConfig::default());
        assert!(!c.tls_server_config.is_enabled());
        assert!(c.http_server_config.http2);
        assert!(c.tls_server_config.prefer_server_cipher_suites);
        assert_eq!(p("# nothing\n\n").unwrap(), WebConfig::default());
    }

    #[test]
    fn full_file() {
        let c = p(r#"
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca/client.pem
  client_allowed_sans: [one, "two"]
  min_version: TLS13
  max_version: TLS13
  cipher_suites:
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-XSS-Protection: 1
    Content-Security-Policy: "default-src 'self'"
basic_auth_users:
  alice: $2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu
rate_limit:
  interval: 1s
  burst: 5
"#)
        .unwrap();
        let t = &c.tls_server_config;
        assert!(t.is_enabled());
        assert_eq!(t.cert_file, Path::new("/etc/ember/server.crt"));
        assert_eq!(t.key_file, Path::new("/abs/server.key"));
        assert_eq!(t.client_ca_file, Path::new("/etc/ember/ca/client.pem"));
        assert_eq!(
            t.client_auth(),
            Some(ClientAuth::RequireAndVerifyClientCert)
        );
        assert_eq!(
            t.client_allowed_sans.as_deref(),
            Some(&["one".to_string(), "two".to_string()][..])
        );
        assert_eq!(t.min_version, TlsVersion::Tls13);
        assert_eq!(t.cipher_suites, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
        assert!(!t.prefer_server_cipher_suites);
        assert_eq!(t.curve_preferences, ["X25519", "CurveP256"]);
        assert!(!c.http_server_config.http2);
        assert_eq!(c.http_server_config.headers["X-XSS-Protection"], "1");
        assert_eq!(c.http_server_config.headers.len(), 3);
        assert!(c.basic_auth_users["alice"].expose().starts_with("$2y$10$"));
        assert_eq!(
            c.rate_limit,
            RateLimit {
                interval: Some(Duration::from_secs(1)),
                burst: 5
            }
        );
        // Secrets stay hidden in debug output.
        assert!(!format!("{c:?}").contains("qRTBuFoULoYNA7AQ"));
    }

    #[test]
    fn relative_paths_resolve_against_the_files_directory() {
        let c = parse(
            "tls_server_config:\n  cert_file: a.pem\n",
            Path::new("web.yml"),
        )
        .unwrap();
        assert_eq!(c.tls_server_config.cert_file, Path::new("./a.pem"));
        let c = parse(
            "tls_server_config:\n  cert_file: a.pem\n",
            Path::new("conf/web.yml"),
        )
        .unwrap();
        assert_eq!(c.tls_server_config.cert_file, Path::new("conf/a.pem"));
    }

    #[test]
    fn unknown_fields_are_located() {
        let e = p("tls_server_config:\n  cert_filse: server.crt\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.column(), Some(3));
        assert_eq!(e.field(), Some("tls_server_config.cert_filse"));
        assert_eq!(
            e.to_string(),
            "/etc/ember/web.yml:2:3: tls_server_config.cert_filse: field cert_filse not found in type web.TLSConfig"
        );
        let e = p("basic_auth_users: {}\nfoo: 1\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.message(), "field foo not found in type web.Config");
        let e = p("http_server_config:\n  http3: true\n").unwrap_err();
        assert_eq!(e.message(), "field http3 not found in type web.HTTPConfig");
        let e = p("rate_limit:\n  bursts: 1\n").unwrap_err();
        assert_eq!(
            e.message(),
            "field bursts not found in type web.RateLimiterConfig"
        );
    }

    #[test]
    fn bad_values_are_located() {
        let e = p("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS111\n")
            .unwrap_err();
        assert_eq!(e.line(), Some(4));
        assert_eq!(e.field(), Some("tls_server_config.min_version"));
        assert_eq!(e.message(), "unknown TLS version: TLS111");

        let e = p(
            "tls_server_config:\n  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n",
        )
        .unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.field(), Some("tls_server_config.cipher_suites[0]"));
        assert!(e.message().contains("unknown cipher"), "{e}");

        let e = p("tls_server_config:\n  curve_preferences:\n    - CurveP257\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(e.message().contains("unknown curve: CurveP257"), "{e}");

        let e = p("http_server_config:\n  http2: maybe\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.field(), Some("http_server_config.http2"));

        let e = p("tls_server_config: 5\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
        assert_eq!(e.field(), Some("tls_server_config"));

        let e = p("hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n").unwrap_err();
        assert_eq!(e.line(), Some(1));

        let e = p("basic_auth_users:\n  a: x\n  a: y\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.message(), "key \"a\" already set in map");

        let e = p("rate_limit:\n  interval: soon\n").unwrap_err();
        assert_eq!(e.field(), Some("rate_limit.interval"));
    }

    #[test]
    fn headers_like_exporter_toolkit() {
        let e = p("http_server_config:\n  headers:\n    Content-Type: foo\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert_eq!(
            e.message(),
            "HTTP header \"Content-Type\" can not be configured"
        );
        let e = p("http_server_config:\n  headers:\n    X-Frame-Options: foo\n").unwrap_err();
        assert!(
            e.message().starts_with("invalid value for X-Frame-Options"),
            "{e}"
        );
        let e =
            p("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n").unwrap_err();
        assert!(e.message().starts_with("invalid value for"), "{e}");
        p("http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n").unwrap();
    }

    #[test]
    fn bcrypt_hashes_are_checked() {
        let e = p("basic_auth_users:\n  john: doe\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.field(), Some("basic_auth_users[\"john\"]"));
        assert!(e.message().contains("invalid password hash"), "{e}");
        let e = p("basic_auth_users:\n  john: $2y$99$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu\n")
            .unwrap_err();
        assert!(e.message().contains("outside allowed range"), "{e}");
    }

    #[test]
    fn rate_limit_values() {
        let c = p("rate_limit:\n  interval: 0\n  burst: 0\n").unwrap();
        assert_eq!(c.rate_limit.interval, None);
        let c = p("rate_limit:\n  interval: 1000000\n").unwrap();
        assert_eq!(c.rate_limit.interval, Some(Duration::from_millis(1)));
        let c = p("rate_limit:\n  interval: 1m30s\n  burst: 2\n").unwrap();
        assert_eq!(c.rate_limit.interval, Some(Duration::from_secs(90)));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("-2us"), Ok(-2_000));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert!(parse_go_duration("1d").is_err());
        assert!(parse_go_duration("1").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
    }
}
