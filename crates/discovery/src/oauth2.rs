//! OAuth2 for [`crate::http::HttpClient`]: Prometheus's `oauth2` block, the
//! client credentials grant as prometheus/common sets it up over Go's
//! `golang.org/x/oauth2/clientcredentials`. It exists so that every request of a
//! client configured with `oauth2` carries `Authorization: Bearer <token>`, the
//! token fetched from `token_url` when needed:
//!
//! - The token request is a form `POST` (`grant_type=client_credentials`, `scope`
//!   with the `scopes` joined by spaces, then `endpoint_params`, which may replace
//!   `grant_type` but no other parameter), through its own client built from the
//!   block's `tls_config` and proxy settings, with the request's `User-Agent`.
//! - Client authentication is detected as Go's `AuthStyleAutoDetect` does (which
//!   prometheus/common leaves in place, setting no `AuthStyle`): first HTTP Basic
//!   with the form-escaped client id and secret; if that fails for any reason, the
//!   id and secret as `client_id`/`client_secret` form fields. The style that
//!   worked is remembered for later requests.
//! - The answer is JSON, or a form when labelled `application/x-www-form-urlencoded`
//!   or `text/plain`; an `error` field or a non-2xx status is an error, and so is a
//!   missing `access_token`. `expires_in` (a number or a numeric string) sets the
//!   expiry; without it the token never expires.
//! - The token is reused until 10 seconds before it expires (Go's `expiryDelta`),
//!   then fetched again at the next request. Concurrent requests wait for one fetch.
//! - `client_secret_file` is read at every request (trimmed); when the secret
//!   changes, the cached token and the detected style are dropped, as
//!   prometheus/common rebuilds its token source.
//! - The header is `Authorization: <type> <token>`, the type normalised as Go's
//!   `Token.Type` does (`bearer` → `Bearer`, empty → `Bearer`). It replaces any
//!   other `Authorization` and is not sent on redirects to another host.
//! - The JWT bearer grant (`grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer`,
//!   RFC 7523) signs an assertion with `client_certificate_key` (RS256, RS384 or
//!   RS512 through rustls's aws-lc-rs provider) and posts it without client
//!   authentication, as prometheus/common's `JwtGrantTypeConfig` does.
//!
//! Token errors fail the request that needed the token, with Go's wording.

use crate::http::{HttpClient, HttpError};
use ember_config::{HttpClientConfig, OAuth2};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

/// Tokens are renewed this long before they expire (Go's `defaultExpiryDelta`).
const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// The most of a token response read (Go's `io.LimitReader(body, 1<<20)`).
const RESPONSE_LIMIT: usize = 1 << 20;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// `client_secret_file` (or `client_certificate_key_file`) cannot be read.
    #[error("unable to read oauth2 {what}: unable to read file {file}: {source}")]
    Secret {
        /// What the file holds.
        what: &'static str,
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// `endpoint_params` names a parameter the grant sets.
    #[error("oauth2: cannot overwrite parameter {0:?}")]
    Overwrite(String),
    /// The token request could not be made.
    #[error("Post {url:?}: {error}")]
    Request {
        /// `token_url`.
        url: String,
        /// Why.
        error: HttpError,
    },
    /// A non-2xx answer without an OAuth2 error code.
    #[error("oauth2: cannot fetch token: {status}\nResponse: {body}")]
    Status {
        /// Code and reason.
        status: String,
        /// The response body.
        body: String,
    },
    /// An OAuth2 error answer (RFC 6749 5.2).
    #[error("oauth2: {0}")]
    Server(String),
    /// A JSON answer that does not parse.
    #[error("oauth2: cannot parse json: {0}")]
    Json(String),
    /// An answer without a token.
    #[error("oauth2: server response missing access_token")]
    MissingToken,
    /// The JWT assertion cannot be made.
    #[error("oauth2: {0}")]
    Assertion(String),
}

/// How the client id and secret are sent (Go's `AuthStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStyle {
    /// HTTP Basic.
    Header,
    /// `client_id` and `client_secret` form fields.
    Params,
}

/// A token and when it stops being usable.
#[derive(Clone)]
struct Token {
    access: String,
    kind: String,
    expiry: Option<Instant>,
}

impl Token {
    /// Go's `Token.Valid`: a token, not expiring within [`EXPIRY_DELTA`].
    fn valid(&self) -> bool {
        !self.access.is_empty()
            && self.expiry.is_none_or(|e| {
                e.checked_sub(EXPIRY_DELTA)
                    .is_some_and(|t| t >= Instant::now())
            })
    }

    /// The `Authorization` value (Go's `Token.Type` and `SetAuthHeader`).
    fn header(&self) -> String {
        let kind = match self.kind.as_str() {
            k if k.eq_ignore_ascii_case("bearer") || k.is_empty() => "Bearer",
            k if k.eq_ignore_ascii_case("mac") => "MAC",
            k if k.eq_ignore_ascii_case("basic") => "Basic",
            k => k,
        };
        format!("{kind} {}", self.access)
    }
}

/// What is kept between requests; reset when the secret changes.
#[derive(Default)]
struct State {
    /// The secret the token was fetched with (`None`: nothing fetched yet).
    secret: Option<String>,
    token: Option<Token>,
    style: Option<AuthStyle>,
}

/// Fetches and caches the tokens of one `oauth2` block.
pub(crate) struct TokenSource {
    cfg: OAuth2,
    jwt: bool,
    /// The token endpoint's client (the block's TLS and proxy settings).
    client: HttpClient,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_id", &self.cfg.client_id)
            .field("token_url", &self.cfg.token_url)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for `cfg`; its client's TLS material is checked now.
    pub(crate) fn new(
        cfg: &OAuth2,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TokenSource, HttpError> {
        let client = HttpClient::from_config_env(
            &HttpClientConfig {
                tls_config: cfg.tls_config.clone(),
                proxy: cfg.proxy.clone(),
                ..HttpClientConfig::default()
            },
            env,
        )
        .map_err(|e| match e {
            HttpError::Config(m) => HttpError::Config(format!("oauth2: {m}")),
            other => other,
        })?;
        Ok(TokenSource {
            cfg: cfg.clone(),
            jwt: cfg.grant_type == JWT_BEARER,
            client,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The `Authorization` header value for a request, fetching a token first when
    /// there is none or it is about to expire. `user_agent` is the request's.
    ///
    /// A boxed future of a named type: the token request goes through
    /// [`HttpClient`]'s exchange, which awaits this, and an `async fn` here would
    /// make that a cycle of opaque types whose `Send` cannot be proved.
    pub(crate) fn authorization<'a>(
        &'a self,
        user_agent: Option<&'a str>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<String, TokenError>> + Send + 'a>> {
        Box::pin(self.fetch_authorization(user_agent, timeout))
    }

    async fn fetch_authorization(
        &self,
        user_agent: Option<&str>,
        timeout: Duration,
    ) -> Result<String, TokenError> {
        let secret = self.secret()?;
        let mut state = self.state.lock().await;
        if state.secret.as_deref() != Some(secret.as_str()) {
            *state = State {
                secret: Some(secret.clone()),
                ..State::default()
            };
        }
        if let Some(t) = &state.token
            && t.valid()
        {
            return Ok(t.header());
        }
        let token = if self.jwt {
            let form = self.jwt_form(&secret)?;
            self.post(&form, None, user_agent, timeout).await?
        } else {
            let form = self.form()?;
            match state.style {
                Some(style) => {
                    self.post(&form, Some((style, &secret)), user_agent, timeout)
                        .await?
                }
                None => {
                    let header = Some((AuthStyle::Header, secret.as_str()));
                    let (token, style) = match self.post(&form, header, user_agent, timeout).await {
                        Ok(t) => (t, AuthStyle::Header),
                        Err(_) => {
                            let params = Some((AuthStyle::Params, secret.as_str()));
                            let t = self.post(&form, params, user_agent, timeout).await?;
                            (t, AuthStyle::Params)
                        }
                    };
                    state.style = Some(style);
                    token
                }
            }
        };
        // As Go's ReuseTokenSource: a fresh token is used even if already "expired".
        let header = token.header();
        state.token = Some(token);
        Ok(header)
    }

    /// The client secret (or, for the JWT grant, the signing key) now.
    fn secret(&self) -> Result<String, TokenError> {
        let (inline, file, what) = if self.jwt {
            (
                &self.cfg.client_certificate_key,
                &self.cfg.client_certificate_key_file,
                "client certificate key",
            )
        } else {
            (
                &self.cfg.client_secret,
                &self.cfg.client_secret_file,
                "client secret",
            )
        };
        if file.is_empty() {
            return Ok(inline.expose().to_string());
        }
        std::fs::read_to_string(file)
            .map(|s| s.trim().to_string())
            .map_err(|source| TokenError::Secret {
                what,
                file: file.clone(),
                source,
            })
    }

    /// The client credentials form, before client authentication.
    fn form(&self) -> Result<BTreeMap<String, String>, TokenError> {
        let mut form = BTreeMap::from([("grant_type".to_string(), "client_credentials".into())]);
        if !self.cfg.scopes.is_empty() {
            form.insert("scope".into(), self.cfg.scopes.join(" "));
        }
        self.add_endpoint_params(form)
    }

    fn add_endpoint_params(
        &self,
        mut form: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, TokenError> {
        for (k, v) in &self.cfg.endpoint_params {
            if k != "grant_type" && form.contains_key(k) {
                return Err(TokenError::Overwrite(k.clone()));
            }
            form.insert(k.clone(), v.clone());
        }
        Ok(form)
    }

    /// Posts the token request and reads the answer. `auth`: how to send the
    /// client id and secret, if at all.
    async fn post(
        &self,
        form: &BTreeMap<String, String>,
        auth: Option<(AuthStyle, &str)>,
        user_agent: Option<&str>,
        timeout: Duration,
    ) -> Result<Token, TokenError> {
        let id = &self.cfg.client_id;
        let mut form = form.clone();
        let mut headers = vec![(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )];
        match auth {
            Some((AuthStyle::Params, secret)) => {
                if !id.is_empty() {
                    form.insert("client_id".into(), id.clone());
                }
                if !secret.is_empty() {
                    form.insert("client_secret".into(), secret.to_string());
                }
            }
            Some((AuthStyle::Header, secret)) => {
                let pair = format!("{}:{}", query_escape(id), query_escape(secret));
                headers.push((
                    "Authorization",
                    format!(
                        "Basic {}",
                        ember_model::base64::encode(
                            pair.as_bytes(),
                            ember_model::base64::Alphabet::Standard,
                            true
                        )
                    ),
                ));
            }
            None => {}
        }
        if let Some(ua) = user_agent {
            headers.push(("User-Agent", ua.to_string()));
        }
        let body = encode_form(&form);
        let resp = self
            .client
            .post(&self.cfg.token_url, &headers, body, timeout, RESPONSE_LIMIT)
            .await
            .map_err(|error| TokenError::Request {
                url: self.cfg.token_url.clone(),
                error,
            })?;
        if self.jwt {
            parse_jwt_grant_response(resp.status, &resp.body)
        } else {
            parse_response(resp.status, &resp.content_type, &resp.body)
        }
    }

    /// The JWT bearer grant's form: a signed assertion, `scope`, then
    /// `endpoint_params`.
    fn jwt_form(&self, key: &str) -> Result<BTreeMap<String, String>, TokenError> {
        let scopes = self.cfg.scopes.join(" ");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut claims = serde_json::Map::new();
        let iss = if self.cfg.iss.is_empty() {
            &self.cfg.client_id
        } else {
            &self.cfg.iss
        };
        let aud = if self.cfg.audience.is_empty() {
            &self.cfg.token_url
        } else {
            &self.cfg.audience
        };
        claims.insert("iss".into(), iss.clone().into());
        claims.insert("sub".into(), self.cfg.client_id.clone().into());
        claims.insert("jti".into(), jwt::uuid_v4()?.into());
        claims.insert("aud".into(), aud.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 600).into());
        if !scopes.is_empty() {
            claims.insert("scope".into(), scopes.clone().into());
        }
        for (k, v) in &self.cfg.claims {
            let v = serde_json::to_value(v)
                .map_err(|e| TokenError::Assertion(format!("claim {k}: {e}")))?;
            claims.insert(k.clone(), v);
        }
        let alg = match self.cfg.signature_algorithm.as_str() {
            "RS384" => "RS384",
            "RS512" => "RS512",
            _ => "RS256",
        };
        let assertion = jwt::sign(
            key.as_bytes(),
            alg,
            &self.cfg.client_certificate_key_id,
            &Value::Object(claims),
        )?;
        let mut form = BTreeMap::from([
            ("grant_type".to_string(), JWT_BEARER.to_string()),
            ("assertion".to_string(), assertion),
        ]);
        if !scopes.is_empty() {
            form.insert("scope".into(), scopes);
        }
        self.add_endpoint_params(form)
    }
}

/// Go's `url.QueryEscape`: everything but `A-Z a-z 0-9 - _ . ~` escaped, spaces
/// as `+`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: sorted by key.
fn encode_form(form: &BTreeMap<String, String>) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn status_text(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

fn expiry_after(secs: i64) -> Option<Instant> {
    let now = Instant::now();
    match secs {
        0 => None,
        s if s > 0 => now.checked_add(Duration::from_secs(s.unsigned_abs())),
        s => Some(
            now.checked_sub(Duration::from_secs(s.unsigned_abs()))
                .unwrap_or(now),
        ),
    }
}

/// Reads a token endpoint's answer as Go's `internal.doTokenRoundTrip` does.
fn parse_response(status: u16, content_type: &str, body: &[u8]) -> Result<Token, TokenError> {
    let failed = !(200..300).contains(&status);
    let status_err = || TokenError::Status {
        status: status_text(status),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (token, code, desc, uri) = if media == "application/x-www-form-urlencoded"
        || media == "text/plain"
    {
        let mut vals: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            vals.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        let get = |k: &str| vals.get(k).cloned().unwrap_or_default();
        let expires = get("expires_in").parse::<i64>().unwrap_or(0);
        (
            Token {
                access: get("access_token"),
                kind: get("token_type"),
                expiry: expiry_after(expires),
            },
            get("error"),
            get("error_description"),
            get("error_uri"),
        )
    } else {
        let json_err = |e: String| {
            if failed {
                status_err()
            } else {
                TokenError::Json(e)
            }
        };
        let v: Value = serde_json::from_slice(body).map_err(|e| json_err(e.to_string()))?;
        let obj = match v {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(json_err(format!(
                    "json: cannot unmarshal {} into Go value of type internal.tokenJSON",
                    json_kind(&other)
                )));
            }
        };
        let text = |k: &str| -> Result<String, TokenError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(json_err(format!(
                    "json: cannot unmarshal {} into Go struct field tokenJSON.{k} of type string",
                    json_kind(other)
                ))),
            }
        };
        let expires = match obj.get("expires_in") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                json_err(format!("strconv.ParseInt: parsing \"{n}\": invalid syntax"))
            })?,
            Some(Value::String(s)) => s.parse::<i64>().map_err(|_| {
                json_err(format!(
                    "json: invalid number literal, trying to unmarshal {:?} into Number",
                    format!("\"{s}\"")
                ))
            })?,
            Some(other) => {
                return Err(json_err(format!(
                    "json: cannot unmarshal {} into Go struct field tokenJSON.expires_in of type json.Number",
                    json_kind(other)
                )));
            }
        };
        (
            Token {
                access: text("access_token")?,
                kind: text("token_type")?,
                expiry: expiry_after(expires.min(i64::from(i32::MAX))),
            },
            text("error")?,
            text("error_description")?,
            text("error_uri")?,
        )
    };
    if !code.is_empty() {
        let mut msg = format!("{code:?}");
        if !desc.is_empty() {
            msg.push_str(&format!(" {desc:?}"));
        }
        if !uri.is_empty() {
            msg.push_str(&format!(" {uri:?}"));
        }
        return Err(TokenError::Server(msg));
    }
    if failed {
        return Err(status_err());
    }
    if token.access.is_empty() {
        return Err(TokenError::MissingToken);
    }
    Ok(token)
}

/// Reads the JWT grant's answer as prometheus/common's `jwtSource` does: 2xx with
/// JSON, else the status.
fn parse_jwt_grant_response(status: u16, body: &[u8]) -> Result<Token, TokenError> {
    if !(200..300).contains(&status) {
        return Err(TokenError::Status {
            status: status_text(status),
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }
    let bad = |e: String| TokenError::Assertion(format!("cannot fetch token: {e}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let expires = v.get("expires_in").and_then(Value::as_i64).unwrap_or(0);
    Ok(Token {
        access: field("access_token"),
        kind: field("token_type"),
        expiry: if expires > 0 {
            expiry_after(expires)
        } else {
            None
        },
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON Web Tokens signed with RSA, through rustls's crypto provider.
mod jwt {
    use super::TokenError;
    use ember_model::base64::{Alphabet, encode};
    use rustls::SignatureScheme;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use serde_json::Value;

    fn b64(data: &[u8]) -> String {
        encode(data, Alphabet::UrlSafe, false)
    }

    /// `header.claims.signature` with `alg` (RS256, RS384, RS512) and `kid` when
    /// not empty. `pem`: an RSA private key, PKCS #1 or PKCS #8.
    pub(super) fn sign(
        pem: &[u8],
        alg: &str,
        kid: &str,
        claims: &Value,
    ) -> Result<String, TokenError> {
        let bad = |m: String| TokenError::Assertion(m);
        let key =
            PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad(format!("invalid key: {e}")))?;
        if matches!(key, PrivateKeyDer::Sec1(_)) {
            return Err(bad("key is not a valid RSA private key".into()));
        }
        let key = crate::tls::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| bad(format!("invalid key: {e}")))?;
        let scheme = match alg {
            "RS384" => SignatureScheme::RSA_PKCS1_SHA384,
            "RS512" => SignatureScheme::RSA_PKCS1_SHA512,
            _ => SignatureScheme::RSA_PKCS1_SHA256,
        };
        let signer = key
            .choose_scheme(&[scheme])
            .ok_or_else(|| bad("key is not a valid RSA private key".into()))?;
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), alg.into());
        if !kid.is_empty() {
            header.insert("kid".into(), kid.into());
        }
        header.insert("typ".into(), "JWT".into());
        let head = serde_json::to_vec(&Value::Object(header)).map_err(|e| bad(e.to_string()))?;
        let body = serde_json::to_vec(claims).map_err(|e| bad(e.to_string()))?;
        let signing_input = format!("{}.{}", b64(&head), b64(&body));
        let sig = signer
            .sign(signing_input.as_bytes())
            .map_err(|e| bad(format!("signing: {e}")))?;
        Ok(format!("{signing_input}.{}", b64(&sig)))
    }

    /// A random (version 4) UUID, for `jti`.
    pub(super) fn uuid_v4() -> Result<String, TokenError> {
        let mut b = [0u8; 16];
        crate::tls::provider()
            .secure_random
            .fill(&mut b)
            .map_err(|e| TokenError::Assertion(format!("random: {e:?}")))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_forms() {
        assert_eq!(query_escape("a b+c/~*é"), "a+b%2Bc%2F~%2A%C3%A9");
        let form = BTreeMap::from([
            ("scope".to_string(), "A B".to_string()),
            ("grant_type".to_string(), "client_credentials".to_string()),
        ]);
        assert_eq!(
            encode_form(&form),
            "grant_type=client_credentials&scope=A+B"
        );
    }

    #[test]
    fn token_types_and_validity() {
        let t = |kind: &str, expiry| Token {
            access: "x".into(),
            kind: kind.into(),
            expiry,
        };
        assert_eq!(t("bearer", None).header(), "Bearer x");
        assert_eq!(t("", None).header(), "Bearer x");
        assert_eq!(t("mac", None).header(), "MAC x");
        assert_eq!(t("DPoP", None).header(), "DPoP x");
        assert!(t("", None).valid());
        assert!(t("", expiry_after(11)).valid());
        assert!(!t("", expiry_after(9)).valid());
        assert!(!t("", expiry_after(-1)).valid());
    }

    #[test]
    fn responses() {
        let json = "application/json";
        let ok = parse_response(
            200,
            json,
            br#"{"access_token":"a","token_type":"bearer","expires_in":"3600"}"#,
        )
        .unwrap();
        assert_eq!(ok.header(), "Bearer a");
        assert!(ok.expiry.is_some());
        let form = parse_response(
            200,
            "text/plain; charset=utf-8",
            b"access_token=b&token_type=Bearer&expires_in=x",
        )
        .unwrap();
        assert_eq!((form.access.as_str(), form.expiry), ("b", None));
        let err =
            |status, ct, body: &[u8]| parse_response(status, ct, body).err().unwrap().to_string();
        assert_eq!(
            err(
                400,
                json,
                br#"{"error":"invalid_client","error_description":"bad secret"}"#
            ),
            r#"oauth2: "invalid_client" "bad secret""#
        );
        assert_eq!(
            err(200, json, br#"{"error":"invalid_scope"}"#),
            r#"oauth2: "invalid_scope""#
        );
        assert_eq!(
            err(401, json, b"nope"),
            "oauth2: cannot fetch token: 401 Unauthorized\nResponse: nope"
        );
        assert_eq!(
            err(200, json, b"{}"),
            "oauth2: server response missing access_token"
        );
        assert!(err(200, json, b"nope").starts_with("oauth2: cannot parse json: "));
        assert!(err(200, json, br#"{"access_token":1}"#).contains("tokenJSON.access_token"));
        assert!(
            err(200, json, br#"{"access_token":"a","expires_in":1.5}"#)
                .starts_with("oauth2: cannot parse json")
        );
    }

    #[test]
    fn uuids() {
        let u = jwt::uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, jwt::uuid_v4().unwrap());
    }
}
