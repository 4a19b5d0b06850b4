//! Discord (webhooks): one embed with the title and the message as its
//! description, red while firing and green once resolved, cut to Discord's limits
//! (256 and 4096 characters, as Alertmanager 0.27 on). Retried: 5xx.

use super::{Context, NotifyError, Render, check, fail, go_json, truncate_runes};
use crate::receivers::DiscordConfig;
use crate::tmpl::Data;
use serde::Serialize;

const MAX_TITLE_RUNES: usize = 256;
const MAX_DESCRIPTION_RUNES: usize = 4096;
const RED: u32 = 0x992D22;
const GREEN: u32 = 0x2ECC71;

#[derive(Serialize)]
struct Webhook {
    content: String,
    embeds: Vec<Embed>,
}

#[derive(Serialize)]
struct Embed {
    title: String,
    description: String,
    color: u32,
}

/// The body for `data`.
pub(super) fn body(c: &DiscordConfig, r: &Render<'_>, data: &Data) -> Result<Vec<u8>, NotifyError> {
    let title = truncate_runes(r.text(&c.title)?, MAX_TITLE_RUNES).0;
    let description = truncate_runes(r.text(&c.message)?, MAX_DESCRIPTION_RUNES).0;
    let color = if data.status == "firing" { RED } else { GREEN };
    Ok(go_json(&Webhook {
        content: String::new(),
        embeds: vec![Embed {
            title,
            description,
            color,
        }],
    }))
}

pub(super) async fn notify(
    c: &DiscordConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let body = body(c, &r, data)?;
    let url = match &c.webhook_url {
        Some(u) => u.expose().to_string(),
        None if !c.webhook_url_file.is_empty() => {
            super::read_secret_file(&c.webhook_url_file, "webhook URL")?
        }
        None => return Err(fail(false, "no discord webhook URL provided")),
    };
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", &url, &headers, body, http).await?;
    check(&reply, &[])
}
