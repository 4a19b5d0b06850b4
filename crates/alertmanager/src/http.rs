//! `http_config`: the HTTP client settings of each integration, as prometheus/common
//! 0.38 (the version Alertmanager 0.25 uses) reads them, turned into Ember's shared
//! [`HttpClientConfig`].
//!
//! Alertmanager nests the settings under `http_config:` (Prometheus inlines them in
//! its holders), and 0.38 knows fewer fields than the current prometheus/common that
//! `ember-config` follows (no inline `ca`/`cert`/`key`, no `no_proxy`, no
//! `http_headers`): a file using those is rejected here as 0.25 rejects it. Hence
//! this small raw schema of its own rather than `ember-config`'s private one.

use crate::yaml::{boolean, string_map, z};
use ember_config::{
    Authorization, BasicAuth, HttpClientConfig, OAuth2, ProxyConfig, Secret, TlsConfig, TlsVersion,
};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    #[serde(deserialize_with = "z")]
    ca_file: String,
    #[serde(deserialize_with = "z")]
    cert_file: String,
    #[serde(deserialize_with = "z")]
    key_file: String,
    #[serde(deserialize_with = "z")]
    server_name: String,
    #[serde(deserialize_with = "boolean")]
    insecure_skip_verify: bool,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
}

impl From<RawTls> for TlsConfig {
    fn from(r: RawTls) -> TlsConfig {
        TlsConfig {
            ca_file: r.ca_file,
            cert_file: r.cert_file,
            key_file: r.key_file,
            server_name: r.server_name,
            insecure_skip_verify: r.insecure_skip_verify,
            min_version: r.min_version,
            max_version: r.max_version,
            ..TlsConfig::default()
        }
    }
}

/// Decodes a bare `tls_config` (as email's).
pub(crate) fn tls<'de, D: Deserializer<'de>>(d: D) -> Result<TlsConfig, D::Error> {
    Ok(Option::<RawTls>::deserialize(d)?
        .map(TlsConfig::from)
        .unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawBasicAuth {
    #[serde(deserialize_with = "z")]
    username: String,
    #[serde(deserialize_with = "z")]
    password: Secret,
    #[serde(deserialize_with = "z")]
    password_file: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawAuthorization {
    #[serde(rename = "type", deserialize_with = "z")]
    kind: String,
    #[serde(deserialize_with = "z")]
    credentials: Secret,
    #[serde(deserialize_with = "z")]
    credentials_file: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawOAuth2 {
    #[serde(deserialize_with = "z")]
    client_id: String,
    #[serde(deserialize_with = "z")]
    client_secret: Secret,
    #[serde(deserialize_with = "z")]
    client_secret_file: String,
    #[serde(deserialize_with = "z")]
    scopes: Vec<String>,
    #[serde(deserialize_with = "z")]
    token_url: String,
    #[serde(deserialize_with = "string_map")]
    endpoint_params: BTreeMap<String, String>,
    #[serde(deserialize_with = "z")]
    proxy_url: String,
    #[serde(deserialize_with = "tls")]
    tls_config: TlsConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    basic_auth: Option<RawBasicAuth>,
    authorization: Option<RawAuthorization>,
    oauth2: Option<RawOAuth2>,
    #[serde(deserialize_with = "z")]
    bearer_token: Secret,
    #[serde(deserialize_with = "z")]
    bearer_token_file: String,
    #[serde(deserialize_with = "z")]
    proxy_url: String,
    #[serde(deserialize_with = "tls")]
    tls_config: TlsConfig,
    #[serde(deserialize_with = "boolean")]
    follow_redirects: bool,
    #[serde(deserialize_with = "boolean")]
    enable_http2: bool,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            proxy_url: String::new(),
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// prometheus/common 0.38's `Validate`, with its messages, and the rewriting of
/// `bearer_token(_file)` into an `Authorization` of type `Bearer`.
fn validate(r: RawHttp) -> Result<HttpClientConfig, String> {
    let has_bearer = !r.bearer_token.is_empty() || !r.bearer_token_file.is_empty();
    if !r.bearer_token.is_empty() && !r.bearer_token_file.is_empty() {
        return Err("at most one of bearer_token & bearer_token_file must be configured".into());
    }
    if (r.basic_auth.is_some() || r.oauth2.is_some()) && has_bearer {
        return Err(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                .into(),
        );
    }
    if let Some(b) = &r.basic_auth
        && !b.password.is_empty()
        && !b.password_file.is_empty()
    {
        return Err("at most one of basic_auth password & password_file must be configured".into());
    }
    let authorization = match r.authorization {
        Some(a) => {
            if has_bearer {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                );
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                );
            }
            let mut kind = a.kind.trim().to_string();
            if kind.is_empty() {
                kind = "Bearer".into();
            }
            if kind.eq_ignore_ascii_case("basic") {
                return Err(
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#
                        .into(),
                );
            }
            if r.basic_auth.is_some() || r.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
            Some(Authorization {
                kind,
                credentials: a.credentials,
                credentials_file: a.credentials_file,
            })
        }
        None if !r.bearer_token.is_empty() => Some(Authorization {
            kind: "Bearer".into(),
            credentials: r.bearer_token,
            credentials_file: String::new(),
        }),
        None if !r.bearer_token_file.is_empty() => Some(Authorization {
            kind: "Bearer".into(),
            credentials: Secret::default(),
            credentials_file: r.bearer_token_file,
        }),
        None => None,
    };
    let oauth2 = match r.oauth2 {
        Some(o) => {
            if r.basic_auth.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
            if o.client_id.is_empty() {
                return Err("oauth2 client_id must be configured".into());
            }
            if o.client_secret.is_empty() && o.client_secret_file.is_empty() {
                return Err(
                    "either oauth2 client_secret or client_secret_file must be configured".into(),
                );
            }
            if o.token_url.is_empty() {
                return Err("oauth2 token_url must be configured".into());
            }
            if !o.client_secret.is_empty() && !o.client_secret_file.is_empty() {
                return Err(
                    "at most one of oauth2 client_secret & client_secret_file must be configured"
                        .into(),
                );
            }
            Some(OAuth2 {
                client_id: o.client_id,
                client_secret: o.client_secret,
                client_secret_file: o.client_secret_file,
                scopes: o.scopes,
                token_url: o.token_url,
                endpoint_params: o.endpoint_params,
                tls_config: o.tls_config,
                proxy: ProxyConfig {
                    proxy_url: o.proxy_url,
                    ..ProxyConfig::default()
                },
                ..OAuth2::default()
            })
        }
        None => None,
    };
    Ok(HttpClientConfig {
        basic_auth: r.basic_auth.map(|b| BasicAuth {
            username: b.username,
            username_file: String::new(),
            password: b.password,
            password_file: b.password_file,
        }),
        authorization,
        oauth2,
        tls_config: r.tls_config,
        follow_redirects: r.follow_redirects,
        enable_http2: r.enable_http2,
        proxy: ProxyConfig {
            proxy_url: r.proxy_url,
            ..ProxyConfig::default()
        },
        http_headers: BTreeMap::new(),
    })
}

/// For `#[serde(deserialize_with)]` on an `Option<HttpClientConfig>` field: absent or
/// `null` is `None` (the global one applies), otherwise decoded and validated.
pub(crate) fn http_config<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<HttpClientConfig>, D::Error> {
    match Option::<RawHttp>::deserialize(d)? {
        None => Ok(None),
        Some(r) => validate(r).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Joins the relative file paths of `c` with `dir`, as `SetDirectory` does.
pub(crate) fn set_directory(c: &mut HttpClientConfig, dir: &Path) {
    let join = |p: &mut String| {
        if !p.is_empty() && Path::new(p.as_str()).is_relative() {
            *p = dir.join(p.as_str()).to_string_lossy().into_owned();
        }
    };
    join(&mut c.tls_config.ca_file);
    join(&mut c.tls_config.cert_file);
    join(&mut c.tls_config.key_file);
    if let Some(b) = &mut c.basic_auth {
        join(&mut b.password_file);
    }
    if let Some(a) = &mut c.authorization {
        join(&mut a.credentials_file);
    }
    if let Some(o) = &mut c.oauth2 {
        join(&mut o.client_secret_file);
        join(&mut o.tls_config.ca_file);
        join(&mut o.tls_config.cert_file);
        join(&mut o.tls_config.key_file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<Option<HttpClientConfig>, String> {
        #[derive(Deserialize)]
        struct H {
            #[serde(default, deserialize_with = "http_config")]
            http_config: Option<HttpClientConfig>,
        }
        serde_saphyr::from_str::<H>(y)
            .map(|h| h.http_config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_bearer_rewrite() {
        let c = parse("http_config: {bearer_token: abc}").ok().flatten();
        let c = c.unwrap_or_else(|| panic!("no config"));
        assert!(c.follow_redirects && c.enable_http2);
        let a = c.authorization.unwrap_or_default();
        assert_eq!((a.kind.as_str(), a.credentials.expose()), ("Bearer", "abc"));
        assert!(parse("{}").ok().flatten().is_none());
    }

    #[test]
    fn rejects_what_common_0_38_rejects() {
        for y in [
            "http_config: {bearer_token: a, bearer_token_file: b}",
            "http_config: {basic_auth: {username: u}, bearer_token: a}",
            "http_config: {authorization: {type: Basic}}",
            "http_config: {oauth2: {client_id: a, token_url: b}}",
            "http_config: {no_proxy: x}",
            "http_config: {tls_config: {ca: x}}",
            "http_config: {tls_config: {min_version: TLS14}}",
        ] {
            assert!(parse(y).is_err(), "{y} should be rejected");
        }
    }
}
