//! The HTTP client configuration shared by scrape jobs, service discovery,
//! Alertmanagers, remote write and read: authentication, TLS, proxies and headers,
//! with prometheus/common's defaults and validation.
//!
//! In YAML these fields sit inline in their holder (`basic_auth:` directly under a
//! scrape job). serde's `flatten` would lose locations and strictness, so the
//! [`with_http!`] macro writes the fields out in each holder's raw struct instead.

use crate::load::{Ctx, sub};
use crate::secret::Secret;
use crate::yaml::{Pairs, Pos, Sp, YamlValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The version a configuration file names (`TLS12`), if any.
    pub fn from_name(s: &str) -> Option<TlsVersion> {
        [
            TlsVersion::Tls10,
            TlsVersion::Tls11,
            TlsVersion::Tls12,
            TlsVersion::Tls13,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The name used in configuration files (`TLS12`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TlsVersion::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown TLS version: {s}")))
    }
}

/// `tls_config`. Paths are joined with the config file's directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TlsConfig {
    /// CA certificate text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// Client certificate text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// Client key text.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub key: Secret,
    /// CA certificate file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// Client certificate file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Client key file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// Name to verify the server certificate against.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Skip server certificate verification.
    pub insecure_skip_verify: bool,
    /// Lowest version offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Highest version offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

impl TlsConfig {
    fn is_default(&self) -> bool {
        *self == TlsConfig::default()
    }
}

/// `basic_auth`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BasicAuth {
    /// User name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// File holding the user name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username_file: String,
    /// Password.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// File holding the password, read at each request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password_file: String,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Authorization {
    /// The scheme (default `Bearer`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The credentials.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub credentials: Secret,
    /// File holding the credentials, read at each request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
}

/// Proxy settings (inline in HTTP client and OAuth2 configs).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProxyConfig {
    /// Proxy URL; empty for none.
    #[serde(skip_serializing_if = "String::is_empty", serialize_with = "ser_url")]
    pub proxy_url: String,
    /// Hosts not proxied (comma-separated, as `NO_PROXY`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Take the proxy from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`.
    #[serde(skip_serializing_if = "is_false")]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy in `CONNECT`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// `oauth2`: client-credentials (or JWT bearer) token fetching.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OAuth2 {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub client_secret: Secret,
    /// File holding the client secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_secret_file: String,
    /// Key id for the JWT bearer grant.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_certificate_key_id: String,
    /// Signing key for the JWT bearer grant.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub client_certificate_key: Secret,
    /// File holding the signing key.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_certificate_key_file: String,
    /// `client_credentials` (default) or `urn:ietf:params:oauth:grant-type:jwt-bearer`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub grant_type: String,
    /// RS256, RS384 or RS512, for the JWT bearer grant.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_algorithm: String,
    /// JWT issuer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub iss: String,
    /// JWT audience.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// Extra JWT claims.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, YamlValue>,
    /// Requested scopes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    pub token_url: String,
    /// Extra token request parameters.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS for the token endpoint.
    #[serde(skip_serializing_if = "TlsConfig::is_default")]
    pub tls_config: TlsConfig,
    /// Proxy for the token endpoint.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
}

/// One entry of `http_headers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Secret values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Files whose trimmed content is a value, read at each request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// How to make requests to a target or endpoint. Legacy `bearer_token` and
/// `bearer_token_file` arrive here as [`Authorization`] of type `Bearer`, as
/// Prometheus rewrites them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth2 tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// TLS.
    #[serde(skip_serializing_if = "TlsConfig::is_default")]
    pub tls_config: TlsConfig,
    /// Follow redirects (default true).
    pub follow_redirects: bool,
    /// Offer HTTP/2 (default true; false for remote write).
    pub enable_http2: bool,
    /// Proxy.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
    /// Headers added to every request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HttpHeader>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            proxy: ProxyConfig::default(),
            http_headers: BTreeMap::new(),
        }
    }
}

// ---------------------------------------------------------------------------------
// Raw (as written) forms.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    ca: Option<String>,
    cert: Option<String>,
    key: Option<Secret>,
    ca_file: Option<Sp<String>>,
    cert_file: Option<Sp<String>>,
    key_file: Option<Sp<String>>,
    server_name: Option<String>,
    insecure_skip_verify: Option<bool>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    username: Option<String>,
    username_file: Option<Sp<String>>,
    password: Option<Secret>,
    password_file: Option<Sp<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    #[serde(rename = "type")]
    kind: Option<String>,
    credentials: Option<Secret>,
    credentials_file: Option<Sp<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    values: Option<Vec<String>>,
    secrets: Option<Vec<Secret>>,
    files: Option<Vec<Sp<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth2 {
    client_id: Option<String>,
    client_secret: Option<Secret>,
    client_secret_file: Option<Sp<String>>,
    client_certificate_key_id: Option<String>,
    client_certificate_key: Option<Secret>,
    client_certificate_key_file: Option<Sp<String>>,
    grant_type: Option<String>,
    signature_algorithm: Option<String>,
    iss: Option<String>,
    audience: Option<String>,
    claims: Option<BTreeMap<String, YamlValue>>,
    scopes: Option<Vec<String>>,
    token_url: Option<String>,
    endpoint_params: Option<BTreeMap<String, String>>,
    tls_config: Option<Sp<RawTls>>,
    proxy_url: Option<Sp<String>>,
    no_proxy: Option<String>,
    proxy_from_environment: Option<bool>,
    proxy_connect_header: Option<BTreeMap<String, Vec<Secret>>>,
}

/// The inline HTTP client fields of one holder, taken out of its raw struct.
#[derive(Default)]
pub(crate) struct RawHttp {
    pub(crate) basic_auth: Option<Sp<RawBasicAuth>>,
    pub(crate) authorization: Option<Sp<RawAuthorization>>,
    pub(crate) oauth2: Option<Sp<RawOAuth2>>,
    pub(crate) bearer_token: Option<Sp<Secret>>,
    pub(crate) bearer_token_file: Option<Sp<String>>,
    pub(crate) tls_config: Option<Sp<RawTls>>,
    pub(crate) follow_redirects: Option<bool>,
    pub(crate) enable_http2: Option<bool>,
    pub(crate) proxy_url: Option<Sp<String>>,
    pub(crate) no_proxy: Option<Sp<String>>,
    pub(crate) proxy_from_environment: Option<Sp<bool>>,
    pub(crate) proxy_connect_header: Option<Sp<BTreeMap<String, Vec<Secret>>>>,
    pub(crate) http_headers: Option<Pairs<Sp<String>, RawHeader>>,
}

/// Declares a raw struct with the inline HTTP client fields appended, and a
/// `take_http` method that moves them into a [`RawHttp`].
macro_rules! with_http {
    (
        $(#[$meta:meta])*
        struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }
    ) => {
        $(#[$meta])*
        pub(crate) struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty,)*
            pub(crate) basic_auth: Option<$crate::yaml::Sp<$crate::http::RawBasicAuth>>,
            pub(crate) authorization: Option<$crate::yaml::Sp<$crate::http::RawAuthorization>>,
            pub(crate) oauth2: Option<$crate::yaml::Sp<$crate::http::RawOAuth2>>,
            pub(crate) bearer_token: Option<$crate::yaml::Sp<$crate::secret::Secret>>,
            pub(crate) bearer_token_file: Option<$crate::yaml::Sp<String>>,
            pub(crate) tls_config: Option<$crate::yaml::Sp<$crate::http::RawTls>>,
            pub(crate) follow_redirects: Option<bool>,
            pub(crate) enable_http2: Option<bool>,
            pub(crate) proxy_url: Option<$crate::yaml::Sp<String>>,
            pub(crate) no_proxy: Option<$crate::yaml::Sp<String>>,
            pub(crate) proxy_from_environment: Option<$crate::yaml::Sp<bool>>,
            pub(crate) proxy_connect_header:
                Option<$crate::yaml::Sp<std::collections::BTreeMap<String, Vec<$crate::secret::Secret>>>>,
            pub(crate) http_headers: Option<
                $crate::yaml::Pairs<$crate::yaml::Sp<String>, $crate::http::RawHeader>,
            >,
        }

        impl $name {
            pub(crate) fn take_http(&mut self) -> $crate::http::RawHttp {
                $crate::http::RawHttp {
                    basic_auth: self.basic_auth.take(),
                    authorization: self.authorization.take(),
                    oauth2: self.oauth2.take(),
                    bearer_token: self.bearer_token.take(),
                    bearer_token_file: self.bearer_token_file.take(),
                    tls_config: self.tls_config.take(),
                    follow_redirects: self.follow_redirects.take(),
                    enable_http2: self.enable_http2.take(),
                    proxy_url: self.proxy_url.take(),
                    no_proxy: self.no_proxy.take(),
                    proxy_from_environment: self.proxy_from_environment.take(),
                    proxy_connect_header: self.proxy_connect_header.take(),
                    http_headers: self.http_headers.take(),
                }
            }
        }
    };
}
pub(crate) use with_http;

// ---------------------------------------------------------------------------------
// Conversion and validation.

/// The parts of a URL that Prometheus looks at, split the way Go's `url.Parse` does
/// (which, unlike WHATWG parsers, accepts relative references and opaque forms such
/// as `localhost:9090`).
#[derive(Debug)]
pub(crate) struct GoUrl {
    pub(crate) scheme: String,
    pub(crate) host: String,
}

pub(crate) fn parse_go_url(s: &str) -> Result<GoUrl, String> {
    let fail = |why: String| format!("parse {s:?}: {why}");
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(fail("net/url: invalid control character in URL".into()));
    }
    let bytes = s.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let ok = bytes.len() > i + 2
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit();
        if !ok {
            let end = (i + 3).min(s.len());
            return Err(fail(format!(
                "invalid URL escape {:?}",
                s.get(i..end).unwrap_or("%")
            )));
        }
    }
    let mut rest = s.split('#').next().unwrap_or("");
    let mut scheme = String::new();
    if let Some(colon) = rest.find(':') {
        let cand = &rest[..colon];
        let valid = cand.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || (i > 0 && (c.is_ascii_digit() || "+-.".contains(c)))
        });
        if colon == 0 {
            return Err(fail("missing protocol scheme".into()));
        }
        if valid {
            scheme = cand.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }
    let rest = rest.split('?').next().unwrap_or("");
    let mut host = String::new();
    if let Some(after) = rest.strip_prefix("//") {
        let authority = after.split('/').next().unwrap_or("");
        let hostport = authority.rsplit('@').next().unwrap_or("");
        let port = if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
            host = hostport[..end + 2].to_string();
            &hostport[end + 2..]
        } else if let Some(c) = hostport.rfind(':') {
            host = hostport[..c].to_string();
            &hostport[c..]
        } else {
            host = hostport.to_string();
            ""
        };
        let digits = port.strip_prefix(':').unwrap_or(port);
        if !port.is_empty()
            && (!port.starts_with(':') || !digits.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(fail(format!("invalid port {port:?} after host")));
        }
    } else if scheme.is_empty() {
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return Err(fail(
                "first path segment in URL cannot contain colon".into(),
            ));
        }
    }
    Ok(GoUrl { scheme, host })
}

/// Replaces a password in a URL with `xxxxx`, as Prometheus prints URLs.
pub(crate) fn redact_url(s: &str) -> String {
    let Some(start) = s.find("//").map(|i| i + 2) else {
        return s.to_string();
    };
    let end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |e| start + e);
    let authority = &s[start..end];
    let Some(at) = authority.rfind('@') else {
        return s.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return s.to_string();
    };
    format!(
        "{}{}:xxxxx{}",
        &s[..start],
        &authority[..colon],
        &s[start + at..]
    )
}

pub(crate) fn ser_url<S: Serializer>(u: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(u))
}

/// Headers that requests set themselves or that would change the connection;
/// `http_headers` may not set them.
const RESERVED_HEADERS: &[&str] = &[
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// Go's `http.CanonicalHeaderKey`: `x-foo-bar` becomes `X-Foo-Bar`; keys with
/// characters outside HTTP tokens are returned unchanged.
pub(crate) fn canonical_header(k: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !k.chars().all(token) {
        return k.to_string();
    }
    let mut upper = true;
    k.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

fn count(flags: &[bool]) -> usize {
    flags.iter().filter(|f| **f).count()
}

fn convert_tls(
    raw: Option<Sp<RawTls>>,
    ctx: &mut Ctx,
    field: &str,
) -> Result<TlsConfig, crate::ConfigError> {
    let Some(raw) = raw else {
        return Ok(TlsConfig::default());
    };
    let pos = Pos::of(&raw);
    let r = raw.value;
    let file = |f: &Option<Sp<String>>, name: &str, ctx: &mut Ctx| -> String {
        f.as_ref()
            .map(|s| ctx.file_ref(&sub(field, name), s))
            .unwrap_or_default()
    };
    let tls = TlsConfig {
        ca: r.ca.unwrap_or_default(),
        cert: r.cert.unwrap_or_default(),
        key: r.key.unwrap_or_default(),
        ca_file: file(&r.ca_file, "ca_file", ctx),
        cert_file: file(&r.cert_file, "cert_file", ctx),
        key_file: file(&r.key_file, "key_file", ctx),
        server_name: r.server_name.unwrap_or_default(),
        insecure_skip_verify: r.insecure_skip_verify.unwrap_or(false),
        min_version: r.min_version,
        max_version: r.max_version,
    };
    let err = |m: &str| Err(ctx.invalid(field, pos, m));
    if count(&[!tls.ca.is_empty(), !tls.ca_file.is_empty()]) > 1 {
        return err("at most one of ca, ca_file & ca_ref must be configured");
    }
    if count(&[!tls.cert.is_empty(), !tls.cert_file.is_empty()]) > 1 {
        return err("at most one of cert, cert_file & cert_ref must be configured");
    }
    if count(&[!tls.key.is_empty(), !tls.key_file.is_empty()]) > 1 {
        return err("at most one of key and key_file must be configured");
    }
    let using_cert = !tls.cert.is_empty() || !tls.cert_file.is_empty();
    let using_key = !tls.key.is_empty() || !tls.key_file.is_empty();
    if using_cert && !using_key {
        return err(
            "exactly one of key or key_file must be configured when a client certificate is configured",
        );
    }
    if using_key && !using_cert {
        return err(
            "exactly one of cert or cert_file must be configured when a client key is configured",
        );
    }
    // Prometheus finds this only when it builds the client, which also fails the
    // (re)load; finding it here gives the error a location.
    if let (Some(min), Some(max)) = (tls.min_version, tls.max_version)
        && max < min
    {
        return err(
            "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
        );
    }
    Ok(tls)
}

fn check_proxy(
    p: &ProxyConfig,
    ctx: &Ctx,
    field: &str,
    pos: Pos,
) -> Result<(), crate::ConfigError> {
    let has_url = !p.proxy_url.is_empty();
    let msg = if !p.proxy_connect_header.is_empty() && !p.proxy_from_environment && !has_url {
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"
    } else if p.proxy_from_environment && has_url {
        "if proxy_from_environment is configured, proxy_url must not be configured"
    } else if p.proxy_from_environment && !p.no_proxy.is_empty() {
        "if proxy_from_environment is configured, no_proxy must not be configured"
    } else if !has_url && !p.no_proxy.is_empty() {
        "if no_proxy is configured, proxy_url must also be configured"
    } else {
        return Ok(());
    };
    Err(ctx.invalid(field, pos, msg))
}

fn proxy_url(u: Option<Sp<String>>, ctx: &Ctx, field: &str) -> Result<String, crate::ConfigError> {
    let Some(u) = u else {
        return Ok(String::new());
    };
    parse_go_url(&u.value).map_err(|e| ctx.invalid(&sub(field, "proxy_url"), Pos::of(&u), e))?;
    Ok(u.value)
}

fn convert_oauth2(
    raw: Sp<RawOAuth2>,
    ctx: &mut Ctx,
    field: &str,
) -> Result<OAuth2, crate::ConfigError> {
    let pos = Pos::of(&raw);
    let r = raw.value;
    let tls = convert_tls(r.tls_config, ctx, &sub(field, "tls_config"))?;
    let proxy = ProxyConfig {
        proxy_url: proxy_url(r.proxy_url, ctx, field)?,
        no_proxy: r.no_proxy.unwrap_or_default(),
        proxy_from_environment: r.proxy_from_environment.unwrap_or(false),
        proxy_connect_header: r.proxy_connect_header.unwrap_or_default(),
    };
    check_proxy(&proxy, ctx, field, pos)?;
    Ok(OAuth2 {
        client_id: r.client_id.unwrap_or_default(),
        client_secret: r.client_secret.unwrap_or_default(),
        client_secret_file: r
            .client_secret_file
            .map(|f| ctx.file_ref(&sub(field, "client_secret_file"), &f))
            .unwrap_or_default(),
        client_certificate_key_id: r.client_certificate_key_id.unwrap_or_default(),
        client_certificate_key: r.client_certificate_key.unwrap_or_default(),
        client_certificate_key_file: r
            .client_certificate_key_file
            .map(|f| ctx.file_ref(&sub(field, "client_certificate_key_file"), &f))
            .unwrap_or_default(),
        grant_type: r.grant_type.unwrap_or_default(),
        signature_algorithm: r.signature_algorithm.unwrap_or_default(),
        iss: r.iss.unwrap_or_default(),
        audience: r.audience.unwrap_or_default(),
        claims: r.claims.unwrap_or_default(),
        scopes: r.scopes.unwrap_or_default(),
        token_url: r.token_url.unwrap_or_default(),
        endpoint_params: r.endpoint_params.unwrap_or_default(),
        tls_config: tls,
        proxy,
    })
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Builds and validates an HTTP client config as prometheus/common's
/// `HTTPClientConfig.Validate` does, in its order. `defaults` gives
/// `(follow_redirects, enable_http2)` when not written. `field`/`pos` locate the
/// holder.
pub(crate) fn convert_http(
    raw: RawHttp,
    defaults: (bool, bool),
    ctx: &mut Ctx,
    field: &str,
    pos: Pos,
) -> Result<HttpClientConfig, crate::ConfigError> {
    convert_http_with(raw, defaults, ctx, field, pos, None)
}

/// [`convert_http`] for a holder that supplies basic auth from its own fields
/// (Consul's `username`/`password`), checked as if written under `basic_auth`.
pub(crate) fn convert_http_with(
    raw: RawHttp,
    defaults: (bool, bool),
    ctx: &mut Ctx,
    field: &str,
    pos: Pos,
    injected_basic_auth: Option<BasicAuth>,
) -> Result<HttpClientConfig, crate::ConfigError> {
    let at = |name: &str| sub(field, name);
    let tls_config = convert_tls(raw.tls_config, ctx, &at("tls_config"))?;
    let oauth2_pos = raw.oauth2.as_ref().map(Pos::of).unwrap_or(pos);
    let mut oauth2 = match raw.oauth2 {
        Some(o) => Some(convert_oauth2(o, ctx, &at("oauth2"))?),
        None => None,
    };
    let bearer_pos = raw
        .bearer_token_file
        .as_ref()
        .map(Pos::of)
        .or(raw.bearer_token.as_ref().map(Pos::of))
        .unwrap_or(pos);
    let bearer_field = if raw.bearer_token_file.is_some() {
        at("bearer_token_file")
    } else {
        at("bearer_token")
    };
    let bearer_token = raw.bearer_token.map(|s| s.value).unwrap_or_default();
    let bearer_token_file = raw
        .bearer_token_file
        .map(|f| ctx.file_ref(&at("bearer_token_file"), &f))
        .unwrap_or_default();
    let basic_pos = raw.basic_auth.as_ref().map(Pos::of).unwrap_or(pos);
    let basic_auth = raw
        .basic_auth
        .map(|b| {
            let b = b.value;
            BasicAuth {
                username: b.username.unwrap_or_default(),
                username_file: b
                    .username_file
                    .map(|f| ctx.file_ref(&sub(&at("basic_auth"), "username_file"), &f))
                    .unwrap_or_default(),
                password: b.password.unwrap_or_default(),
                password_file: b
                    .password_file
                    .map(|f| ctx.file_ref(&sub(&at("basic_auth"), "password_file"), &f))
                    .unwrap_or_default(),
            }
        })
        .or(injected_basic_auth);
    let auth_pos = raw.authorization.as_ref().map(Pos::of).unwrap_or(pos);
    let mut authorization = raw.authorization.map(|a| {
        let a = a.value;
        Authorization {
            kind: a.kind.unwrap_or_default(),
            credentials: a.credentials.unwrap_or_default(),
            credentials_file: a
                .credentials_file
                .map(|f| ctx.file_ref(&sub(&at("authorization"), "credentials_file"), &f))
                .unwrap_or_default(),
        }
    });
    let proxy_pos = raw
        .proxy_url
        .as_ref()
        .map(Pos::of)
        .or(raw.no_proxy.as_ref().map(Pos::of))
        .or(raw.proxy_from_environment.as_ref().map(Pos::of))
        .or(raw.proxy_connect_header.as_ref().map(Pos::of))
        .unwrap_or(pos);
    let proxy = ProxyConfig {
        proxy_url: proxy_url(raw.proxy_url, ctx, field)?,
        no_proxy: raw.no_proxy.map(|s| s.value).unwrap_or_default(),
        proxy_from_environment: raw.proxy_from_environment.is_some_and(|s| s.value),
        proxy_connect_header: raw
            .proxy_connect_header
            .map(|s| s.value)
            .unwrap_or_default(),
    };
    let mut http_headers = BTreeMap::new();
    let mut header_positions = Vec::new();
    for (name, h) in raw.http_headers.unwrap_or_default().0 {
        let files = h
            .files
            .unwrap_or_default()
            .iter()
            .map(|f| ctx.file_ref(&sub(&at("http_headers"), &name.value), f))
            .collect();
        header_positions.push((name.value.clone(), Pos::of(&name)));
        http_headers.insert(
            name.value,
            HttpHeader {
                values: h.values.unwrap_or_default(),
                secrets: h.secrets.unwrap_or_default(),
                files,
            },
        );
    }

    let has_bearer = !bearer_token.is_empty() || !bearer_token_file.is_empty();
    if !bearer_token.is_empty() && !bearer_token_file.is_empty() {
        return Err(ctx.invalid(
            &bearer_field,
            bearer_pos,
            "at most one of bearer_token & bearer_token_file must be configured",
        ));
    }
    if (basic_auth.is_some() || oauth2.is_some()) && has_bearer {
        return Err(ctx.invalid(
            &bearer_field,
            bearer_pos,
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        ));
    }
    if let Some(b) = &basic_auth {
        if !b.username.is_empty() && !b.username_file.is_empty() {
            return Err(ctx.invalid(
                &at("basic_auth"),
                basic_pos,
                "at most one of basic_auth username, username_file & username_ref must be configured",
            ));
        }
        if !b.password.is_empty() && !b.password_file.is_empty() {
            return Err(ctx.invalid(
                &at("basic_auth"),
                basic_pos,
                "at most one of basic_auth password, password_file & password_ref must be configured",
            ));
        }
    }
    if let Some(a) = &mut authorization {
        let here = at("authorization");
        if has_bearer {
            return Err(ctx.invalid(
                &here,
                auth_pos,
                "authorization is not compatible with bearer_token & bearer_token_file",
            ));
        }
        if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
            return Err(ctx.invalid(
                &here,
                auth_pos,
                "at most one of authorization credentials & credentials_file must be configured",
            ));
        }
        a.kind = a.kind.trim().to_string();
        if a.kind.is_empty() {
            a.kind = "Bearer".into();
        }
        if a.kind.eq_ignore_ascii_case("basic") {
            return Err(ctx.invalid(
                &here,
                auth_pos,
                r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
            ));
        }
        if basic_auth.is_some() || oauth2.is_some() {
            return Err(ctx.invalid(
                &here,
                auth_pos,
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ));
        }
    } else if !bearer_token.is_empty() {
        authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: bearer_token,
            credentials_file: String::new(),
        });
    } else if !bearer_token_file.is_empty() {
        authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: Secret::default(),
            credentials_file: bearer_token_file,
        });
    }
    if let Some(o) = &mut oauth2 {
        let here = at("oauth2");
        let fail = |m: &str| Err(ctx.invalid(&here, oauth2_pos, m));
        if basic_auth.is_some() {
            return fail("at most one of basic_auth, oauth2 & authorization must be configured");
        }
        if o.client_id.is_empty() {
            return fail("oauth2 client_id must be configured");
        }
        if o.token_url.is_empty() {
            return fail("oauth2 token_url must be configured");
        }
        if o.grant_type == JWT_BEARER {
            if !o.client_certificate_key.is_empty() && !o.client_certificate_key_file.is_empty() {
                return fail(
                    "at most one of oauth2 client_certificate_key, client_certificate_key_file & client_certificate_key_ref must be configured using grant-type=urn:ietf:params:oauth:grant-type:jwt-bearer",
                );
            }
            if !o.signature_algorithm.is_empty()
                && !["RS256", "RS384", "RS512"].contains(&o.signature_algorithm.as_str())
            {
                return fail("valid signature algorithms are RS256, RS384 and RS512");
            }
        } else if !o.client_secret.is_empty() && !o.client_secret_file.is_empty() {
            return fail(
                "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials",
            );
        }
    }
    check_proxy(&proxy, ctx, field, proxy_pos)?;
    for (name, npos) in &header_positions {
        let canonical = canonical_header(name);
        if RESERVED_HEADERS.contains(&canonical.as_str()) {
            return Err(ctx.invalid(
                &sub(&at("http_headers"), name),
                *npos,
                format!("setting header {canonical:?} is not allowed"),
            ));
        }
    }
    Ok(HttpClientConfig {
        basic_auth,
        authorization,
        oauth2,
        tls_config,
        follow_redirects: raw.follow_redirects.unwrap_or(defaults.0),
        enable_http2: raw.enable_http2.unwrap_or(defaults.1),
        proxy,
        http_headers,
    })
}

/// TLS settings outside an HTTP client config (`tracing.tls_config`).
pub(crate) fn convert_tls_only(
    raw: Option<Sp<RawTls>>,
    ctx: &mut Ctx,
    field: &str,
) -> Result<TlsConfig, crate::ConfigError> {
    convert_tls(raw, ctx, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_url_parsing() {
        let u = parse_go_url("http://example.com/prometheus").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str()),
            ("http", "example.com")
        );
        let u = parse_go_url("kubernetes:443").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str()), ("kubernetes", ""));
        let u = parse_go_url("https://user:pw@[::1]:9090/x?y#z").unwrap();
        assert_eq!(u.host, "[::1]");
        let u = parse_go_url("http://").unwrap();
        assert_eq!(u.host, "");
        assert!(parse_go_url("remote1/push").is_ok());
        assert!(
            parse_go_url(":foo")
                .unwrap_err()
                .contains("missing protocol scheme")
        );
        assert!(
            parse_go_url("http://h:port/")
                .unwrap_err()
                .contains("invalid port")
        );
        assert!(
            parse_go_url("http://h/%zz")
                .unwrap_err()
                .contains("invalid URL escape")
        );
        assert!(
            parse_go_url("a\nb")
                .unwrap_err()
                .contains("control character")
        );
        assert!(
            parse_go_url("1a:b/c")
                .unwrap_err()
                .contains("first path segment")
        );
    }

    #[test]
    fn url_redaction() {
        assert_eq!(redact_url("http://u:p@h:1/x"), "http://u:xxxxx@h:1/x");
        assert_eq!(redact_url("http://u@h/x"), "http://u@h/x");
        assert_eq!(redact_url("http://h/x"), "http://h/x");
    }

    #[test]
    fn header_canonicalisation() {
        assert_eq!(
            canonical_header("x-prometheus-remote-write-version"),
            "X-Prometheus-Remote-Write-Version"
        );
        assert_eq!(canonical_header("AUTHORIZATION"), "Authorization");
        assert_eq!(canonical_header("bad header"), "bad header");
    }
}

impl HttpClientConfig {
    /// The headers this configuration adds to every request: `Authorization` from
    /// `basic_auth` or `authorization`, then each of `http_headers`' values. Files
    /// (`password_file`, `credentials_file`, header `files`) are read now, so that a
    /// rotated secret takes effect at the next request, as in Prometheus; a file that
    /// cannot be read is an error naming it. OAuth2 and TLS are not covered here.
    pub fn request_headers(&self) -> Result<Vec<(String, String)>, String> {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("unable to read {path}: {e}"))
        };
        let mut out = Vec::new();
        if let Some(b) = &self.basic_auth {
            let user = if b.username_file.is_empty() {
                b.username.clone()
            } else {
                read(&b.username_file)?
            };
            let pass = if b.password_file.is_empty() {
                b.password.expose().to_string()
            } else {
                read(&b.password_file)?
            };
            out.push((
                "Authorization".to_string(),
                format!(
                    "Basic {}",
                    ember_model::base64::encode(
                        format!("{user}:{pass}").as_bytes(),
                        ember_model::base64::Alphabet::Standard,
                        true,
                    )
                ),
            ));
        } else if let Some(a) = &self.authorization {
            let creds = if a.credentials_file.is_empty() {
                a.credentials.expose().to_string()
            } else {
                read(&a.credentials_file)?
            };
            let kind = if a.kind.is_empty() { "Bearer" } else { &a.kind };
            out.push(("Authorization".to_string(), format!("{kind} {creds}")));
        }
        for (name, h) in &self.http_headers {
            for v in &h.values {
                out.push((name.clone(), v.clone()));
            }
            for s in &h.secrets {
                out.push((name.clone(), s.expose().to_string()));
            }
            for f in &h.files {
                out.push((name.clone(), read(f)?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod request_header_tests {
    use super::*;

    #[test]
    fn basic_bearer_and_custom_headers() {
        let c = HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "u".into(),
                password: Secret::new("p"),
                ..BasicAuth::default()
            }),
            ..HttpClientConfig::default()
        };
        assert_eq!(
            c.request_headers().expect("headers"),
            [("Authorization".to_string(), "Basic dTpw".to_string())]
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("token");
        std::fs::write(&f, "tok\n").expect("write");
        let c = HttpClientConfig {
            authorization: Some(Authorization {
                credentials_file: f.display().to_string(),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        };
        assert_eq!(
            c.request_headers().expect("headers"),
            [("Authorization".to_string(), "Bearer tok".to_string())]
        );
        let missing = HttpClientConfig {
            authorization: Some(Authorization {
                credentials_file: "/nonexistent/x".into(),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        };
        assert!(missing.request_headers().is_err());
    }
}
