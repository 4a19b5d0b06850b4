//! WeChat Work (the enterprise WeChat API), as Alertmanager 0.25 talks to it:
//! an access token from `GET {api_url}gettoken?corpid=…&corpsecret=…` (both
//! templated), kept for two hours from when it was fetched, then
//! `POST {api_url}message/send?access_token=…` with a JSON message — `text`,
//! `touser`, `toparty`, `totag`, `agentid` (the four only when not empty), `safe`
//! `"0"`, `msgtype`, `markdown` in that order, the rendered `message` in `text` or
//! `markdown` by `message_type` and an empty `content` in the other. No
//! truncation: Alertmanager sends the message whole.
//!
//! Outcome of the send: a status other than exactly 200, an answer that is not
//! JSON, or a failure to exchange is retried; `errcode` 0 is success; 42001
//! (token expired) drops the cached token and is retried, so the next attempt
//! fetches a new one; any other `errcode` is final. Alertmanager 0.25 looked for
//! `code`/`error` rather than the API's `errcode`/`errmsg`, so it saw every
//! answer as a success; Ember reads the API's fields, as Alertmanager does from
//! 0.26 on. Fetching the token: a failure to exchange is retried; an answer
//! that is not JSON, or has no `access_token`, is final (the status is not
//! looked at, as in Alertmanager).

use super::{Context, NotifyError, Render, encode_query, fail, go_json};
use crate::receivers::WechatConfig;
use crate::tmpl::Data;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a fetched token is used before another is fetched (Alertmanager's
/// fixed two hours, WeChat's documented `expires_in`).
const TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// The `errcode` of an expired access token.
const TOKEN_EXPIRED: i64 = 42001;

/// The access token of one WeChat integration, shared by every notification
/// through it while the configuration lasts (a reload starts without one, as
/// Alertmanager builds its notifiers anew).
#[derive(Clone, Debug, Default)]
pub struct WechatToken {
    cached: Arc<Mutex<Option<(String, Instant)>>>,
}

impl WechatToken {
    /// The cached token, if it is young enough to use.
    fn get(&self) -> Option<String> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(_, at)| at.elapsed() <= TOKEN_LIFETIME)
            .map(|(t, _)| t.clone())
    }

    fn set(&self, token: String) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, Instant::now()));
    }

    fn clear(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Makes the cached token look `by` older (tests of the expiry).
    #[cfg(test)]
    pub(super) fn age(&self, by: Duration) {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, at)) = cached.as_mut() {
            *at = at.checked_sub(by).unwrap_or(*at);
        }
    }
}

/// `api_url` split into the part the endpoint name is appended to (ending with
/// `/`, as the configuration ensures) and its query, if any; a fragment is not
/// sent over HTTP and is dropped.
fn split_api_url(c: &WechatConfig) -> Result<(&str, &str), NotifyError> {
    let url = c
        .api_url
        .as_deref()
        .ok_or_else(|| fail(false, "no WeChat API URL"))?;
    let url = url.split('#').next().unwrap_or(url);
    Ok(url.split_once('?').unwrap_or((url, "")))
}

/// The token request's URL. Its query is replaced, not merged: Alertmanager sets
/// the whole query of its copy of `api_url`.
pub(super) fn token_url(c: &WechatConfig, r: &Render<'_>) -> Result<String, NotifyError> {
    let (base, _) = split_api_url(c)?;
    let query = encode_query(&[
        ("corpsecret".into(), r.text(c.api_secret.expose())?),
        ("corpid".into(), r.text(&c.corp_id)?),
    ]);
    Ok(format!("{base}gettoken?{query}"))
}

/// The send request's URL: `api_url`'s own query, with `access_token` set,
/// re-encoded in key order as Go's `url.Values` does.
pub(super) fn send_url(c: &WechatConfig, token: &str) -> Result<String, NotifyError> {
    let (base, query) = split_api_url(c)?;
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "access_token")
        .collect();
    pairs.push(("access_token".into(), token.to_string()));
    Ok(format!("{base}message/send?{}", encode_query(&pairs)))
}

#[derive(Serialize)]
struct Content {
    content: String,
}

/// The message, with Alertmanager's field order and omissions.
#[derive(Serialize)]
struct Message {
    text: Content,
    #[serde(skip_serializing_if = "String::is_empty")]
    touser: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    toparty: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    totag: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    agentid: String,
    safe: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    msgtype: String,
    markdown: Content,
}

/// The message body for `data`.
pub(super) fn body(c: &WechatConfig, r: &Render<'_>) -> Result<Vec<u8>, NotifyError> {
    let message = r.text(&c.message)?;
    let (text, markdown) = if c.message_type == "markdown" {
        (String::new(), message)
    } else {
        (message, String::new())
    };
    Ok(go_json(&Message {
        text: Content { content: text },
        touser: r.text(&c.to_user)?,
        toparty: r.text(&c.to_party)?,
        totag: r.text(&c.to_tag)?,
        agentid: r.text(&c.agent_id)?,
        safe: "0",
        msgtype: c.message_type.clone(),
        markdown: Content { content: markdown },
    }))
}

/// The cached token, or a new one from the API.
async fn token(
    c: &WechatConfig,
    cache: &WechatToken,
    ctx: &Context<'_>,
    r: &Render<'_>,
) -> Result<String, NotifyError> {
    if let Some(t) = cache.get() {
        return Ok(t);
    }
    let url = token_url(c, r)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let reply = ctx.client.send("GET", &url, &[], Vec::new(), http).await?;
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        access_token: Option<String>,
    }
    // Only the first JSON value counts, as for Go's `json.Decoder`.
    let answer = serde_json::Deserializer::from_slice(&reply.body)
        .into_iter::<Answer>()
        .next()
        .unwrap_or_else(|| serde_json::from_slice::<Answer>(b""))
        .map_err(|e| fail(false, format!("wechat: reading the access token: {e}")))?;
    let token = answer.access_token.unwrap_or_default();
    if token.is_empty() {
        return Err(fail(
            false,
            format!("invalid APISecret for CorpID: {}", c.corp_id),
        ));
    }
    cache.set(token.clone());
    Ok(token)
}

pub(super) async fn notify(
    c: &WechatConfig,
    cache: &WechatToken,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    // Rendered before any request, so that a template error costs no token fetch.
    let body = body(c, &r)?;
    let token = token(c, cache, ctx, &r).await?;
    let url = send_url(c, &token)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", &url, &headers, body, http).await?;
    if reply.status != 200 {
        return Err(fail(
            true,
            format!("unexpected status code {}", reply.status),
        ));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        errcode: Option<i64>,
        #[serde(default)]
        errmsg: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(&reply.body).map_err(|e| {
        fail(
            true,
            format!(
                "wechat: unexpected answer: {e}: {}",
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(256)])
            ),
        )
    })?;
    let code = answer.errcode.unwrap_or(0);
    if code == 0 {
        return Ok(());
    }
    let message = format!(
        "wechat: {} (errcode {code})",
        answer.errmsg.unwrap_or_default()
    );
    if code == TOKEN_EXPIRED {
        cache.clear();
        return Err(fail(true, message));
    }
    Err(fail(false, message))
}
