//! Microsoft Teams (incoming webhooks, Alertmanager 0.27's integration): a
//! legacy `MessageCard` with title, summary and text, its theme colour red while
//! firing and green once resolved. Retried: 5xx.

use super::{Context, NotifyError, Render, check, fail, go_json};
use crate::receivers::MsTeamsConfig;
use crate::tmpl::Data;
use serde::Serialize;

#[derive(Serialize)]
struct Card {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    summary: String,
    text: String,
    #[serde(rename = "themeColor")]
    theme_color: &'static str,
}

/// The body for `data`.
pub(super) fn body(c: &MsTeamsConfig, r: &Render<'_>, data: &Data) -> Result<Vec<u8>, NotifyError> {
    Ok(go_json(&Card {
        context: "http://schema.org/extensions",
        kind: "MessageCard",
        title: r.text(&c.title)?,
        summary: r.text(&c.summary)?,
        text: r.text(&c.text)?,
        theme_color: if data.status == "firing" {
            "8C1A1A"
        } else {
            "2DC72D"
        },
    }))
}

pub(super) async fn notify(
    c: &MsTeamsConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let body = body(c, &Render::new(ctx.templates, data), data)?;
    let url = match &c.webhook_url {
        Some(u) => u.expose().to_string(),
        None if !c.webhook_url_file.is_empty() => {
            super::read_secret_file(&c.webhook_url_file, "webhook URL")?
        }
        None => return Err(fail(false, "no Teams webhook URL provided")),
    };
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", &url, &headers, body, http).await?;
    check(&reply, &[])
}
