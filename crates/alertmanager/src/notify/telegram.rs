//! Telegram (Bot API `sendMessage`), as Alertmanager sends it through its
//! Telegram library: `POST {api_url}/bot{token}/sendMessage` with a JSON object of
//! strings — `chat_id`, `text`, `parse_mode` (when set), `disable_web_page_preview`
//! and, when asked, `disable_notification` — in key order. With `parse_mode: HTML`
//! (the default) the message is rendered as an HTML template, so that label values
//! cannot break the markup. The answer's `ok` decides; every failure is retried,
//! as Alertmanager does for Telegram.

use super::{Context, NotifyError, Render, fail, go_json, truncate_runes};
use crate::receivers::TelegramConfig;
use crate::tmpl::Data;
use std::collections::BTreeMap;

/// Telegram's limit on a message, in characters.
const MAX_MESSAGE_RUNES: usize = 4096;

/// The URL and body for `data`.
pub(super) fn request(
    c: &TelegramConfig,
    r: &Render<'_>,
) -> Result<(String, Vec<u8>), NotifyError> {
    let text = if c.parse_mode == "HTML" {
        r.html(&c.message)?
    } else {
        r.text(&c.message)?
    };
    let (text, cut) = truncate_runes(text, MAX_MESSAGE_RUNES);
    if cut {
        tracing::warn!(max_runes = MAX_MESSAGE_RUNES, "Truncated Telegram message");
    }
    let token = if c.bot_token.is_empty() {
        super::read_secret_file(&c.bot_token_file, "bot token")?
    } else {
        c.bot_token.expose().to_string()
    };
    let mut params = BTreeMap::from([
        ("chat_id", c.chat_id.to_string()),
        ("text", text),
        ("disable_web_page_preview", "true".to_string()),
    ]);
    if !c.parse_mode.is_empty() {
        params.insert("parse_mode", c.parse_mode.clone());
    }
    if c.disable_notifications {
        params.insert("disable_notification", "true".to_string());
    }
    let api = c.api_url.as_deref().unwrap_or("https://api.telegram.org");
    Ok((format!("{api}/bot{token}/sendMessage"), go_json(&params)))
}

pub(super) async fn notify(
    c: &TelegramConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let (url, body) = request(c, &r)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", &url, &headers, body, http).await?;
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        ok: bool,
        #[serde(default)]
        error_code: i64,
        #[serde(default)]
        description: String,
    }
    match serde_json::from_slice::<Answer>(&reply.body) {
        Ok(a) if a.ok => Ok(()),
        Ok(a) => Err(fail(
            true,
            format!("telegram: {} ({})", a.description, a.error_code),
        )),
        Err(_) => Err(fail(
            true,
            format!(
                "telegram: unexpected answer (status {}): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(256)])
            ),
        )),
    }
}
