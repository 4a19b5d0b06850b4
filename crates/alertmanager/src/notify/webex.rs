//! Webex (Messages API): the message as Markdown to `room_id`, cut to Webex's
//! 7439 bytes; the bot's token comes from `http_config.authorization`, which the
//! configuration requires. Retried: 5xx.

use super::{Context, NotifyError, Render, check, go_json, truncate_bytes};
use crate::receivers::WebexConfig;
use crate::tmpl::Data;
use serde::Serialize;

const MAX_MESSAGE_BYTES: usize = 7439;

#[derive(Serialize)]
struct Message {
    markdown: String,
    #[serde(rename = "roomId", skip_serializing_if = "String::is_empty")]
    room_id: String,
}

/// The body for `data`.
pub(super) fn body(c: &WebexConfig, r: &Render<'_>) -> Result<Vec<u8>, NotifyError> {
    let (markdown, cut) = truncate_bytes(r.text(&c.message)?, MAX_MESSAGE_BYTES);
    if cut {
        tracing::debug!("Webex message truncated to {MAX_MESSAGE_BYTES} bytes");
    }
    Ok(go_json(&Message {
        markdown,
        room_id: c.room_id.clone(),
    }))
}

pub(super) async fn notify(
    c: &WebexConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let body = body(c, &Render::new(ctx.templates, data))?;
    let url = c
        .api_url
        .as_deref()
        .unwrap_or("https://webexapis.com/v1/messages");
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", url, &headers, body, http).await?;
    check(&reply, &[])
}
