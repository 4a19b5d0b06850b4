//! Pushover (Messages API): every field in the query string of a `POST` with an
//! empty `text/plain` body to Pushover's fixed endpoint, as Alertmanager 0.25 sends
//! it: token, user, title (250 characters at most), message (1024, trimmed,
//! `(no details)` when empty; HTML with `html: true`), supplementary URL (512) and
//! its title, priority, retry and expiry in seconds, sound. Retried: 5xx.

use super::{Context, NotifyError, Render, check, encode_query, truncate_runes};
use crate::receivers::PushoverConfig;
use crate::tmpl::Data;

/// Where Pushover messages go.
pub const PUSHOVER_URL: &str = "https://api.pushover.net/1/messages.json";

/// The query parameters for `data`, in the order Alertmanager adds them.
pub(super) fn parameters(
    c: &PushoverConfig,
    r: &Render<'_>,
) -> Result<Vec<(String, String)>, NotifyError> {
    let mut p: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| p.push((k.to_string(), v));
    add("token", r.text(c.token.expose())?);
    add("user", r.text(c.user_key.expose())?);
    add("title", truncate_runes(r.text(&c.title)?, 250).0);
    let message = if c.html {
        add("html", "1".into());
        r.html(&c.message)?
    } else {
        r.text(&c.message)?
    };
    let message = truncate_runes(message, 1024).0.trim().to_string();
    // Pushover refuses an empty message.
    add(
        "message",
        if message.is_empty() {
            "(no details)".into()
        } else {
            message
        },
    );
    add("url", truncate_runes(r.text(&c.url)?, 512).0);
    add("url_title", r.text(&c.url_title)?);
    add("priority", r.text(&c.priority)?);
    add("retry", c.retry.as_secs().to_string());
    add("expire", c.expire.as_secs().to_string());
    add("sound", r.text(&c.sound)?);
    Ok(p)
}

/// Sends to `endpoint` ([`PUSHOVER_URL`] but in tests).
pub(super) async fn notify(
    c: &PushoverConfig,
    ctx: &Context<'_>,
    data: &Data,
    endpoint: &str,
) -> Result<(), NotifyError> {
    let params = parameters(c, &Render::new(ctx.templates, data))?;
    let url = format!("{endpoint}?{}", encode_query(&params));
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "text/plain".to_string())];
    let reply = ctx
        .client
        .send("POST", &url, &headers, Vec::new(), http)
        .await?;
    check(&reply, &[])
}
