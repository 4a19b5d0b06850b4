//! VictorOps / Splunk On-Call (REST endpoint integration): a JSON object posted
//! to `{api_url}{api_key}/{routing_key}`, with the hash of the group key as
//! `entity_id`. `message_type` is `RECOVERY` once resolved, and `CRITICAL` while
//! firing unless the template gives `INFO`, `WARNING` or `CRITICAL`; the custom
//! fields are added to the object. Retried: 5xx.

use super::{Context, NotifyError, Render, check, fail, go_json, key_hash, truncate_runes};
use crate::receivers::VictorOpsConfig;
use crate::tmpl::Data;
use std::collections::BTreeMap;

/// VictorOps's limit on `state_message`, in characters.
const MAX_MESSAGE_RUNES: usize = 20480;

/// The URL and body for `data`.
pub(super) fn request(
    c: &VictorOpsConfig,
    r: &Render<'_>,
    data: &Data,
    group_key: &str,
) -> Result<(String, Vec<u8>), NotifyError> {
    let api_key = if c.api_key.is_empty() {
        super::read_secret_file(&c.api_key_file, "API key")?
    } else {
        c.api_key.expose().to_string()
    };
    let api_url = c.api_url.as_deref().unwrap_or_default();
    let url = format!("{api_url}{api_key}/{}", r.text(&c.routing_key)?);
    let mut message_type = r.text(&c.message_type)?;
    if data.status == "resolved" {
        message_type = "RECOVERY".into();
    } else if !matches!(message_type.as_str(), "INFO" | "WARNING" | "CRITICAL") {
        message_type = "CRITICAL".into();
    }
    let (state_message, cut) = truncate_runes(r.text(&c.state_message)?, MAX_MESSAGE_RUNES);
    if cut {
        tracing::warn!(
            max_runes = MAX_MESSAGE_RUNES,
            "Truncated VictorOps state_message"
        );
    }
    let mut msg = BTreeMap::from([
        ("message_type".to_string(), message_type),
        ("entity_id".to_string(), key_hash(group_key)),
        (
            "entity_display_name".to_string(),
            r.text(&c.entity_display_name)?,
        ),
        ("state_message".to_string(), state_message),
        ("monitoring_tool".to_string(), r.text(&c.monitoring_tool)?),
    ]);
    for (k, v) in &c.custom_fields {
        msg.insert(k.clone(), r.text(v)?);
    }
    Ok((url, go_json(&msg)))
}

pub(super) async fn notify(
    c: &VictorOpsConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let (url, body) = request(c, &r, data, ctx.group_key)?;
    if url.is_empty() {
        return Err(fail(false, "no VictorOps URL"));
    }
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx.client.send("POST", &url, &headers, body, http).await?;
    check(&reply, &[])
}
