//! PagerDuty: Events API v2 (`routing_key`, sent to `url`) and the older v1
//! (`service_key`, sent to PagerDuty's fixed v1 endpoint whatever `url` says, as in
//! Alertmanager 0.25).
//!
//! One event per notification: `trigger` while any alert fires, `resolve` once all
//! are resolved, deduplicated by the hash of the group key ([`super::key_hash`]) so
//! that PagerDuty folds the group's notifications into one incident. `details` are
//! templates (Alertmanager's four defaults — `firing`, `resolved`, `num_firing`,
//! `num_resolved` — added at load time where not set); an event over 512 kB loses
//! them for a note saying so. Retried: 5xx, plus 429 (v2) or 403 (v1), PagerDuty's
//! rate limiting.

use super::{Context, NotifyError, Render, check_with, fail, go_json, key_hash, truncate_runes};
use crate::receivers::PagerdutyConfig;
use crate::tmpl::Data;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where Events API v1 events go (`service_key` configurations).
pub const PAGERDUTY_V1_URL: &str =
    "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// The largest event PagerDuty takes, in bytes.
const MAX_EVENT_SIZE: usize = 512_000;
/// v1 `description` and v2 `summary`, in characters.
const MAX_SUMMARY_RUNES: usize = 1024;

/// An event, v1 or v2: the fields of the other version stay empty and are left out,
/// except `event_action` and `payload` (`""` and `null` in v1), as Go encodes them.
#[derive(Serialize)]
struct Message {
    #[serde(skip_serializing_if = "String::is_empty")]
    routing_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    service_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    dedup_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    incident_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    event_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    event_action: String,
    payload: Option<Payload>,
    #[serde(skip_serializing_if = "String::is_empty")]
    client: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    client_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    details: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<Image>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
}

#[derive(Serialize)]
struct Payload {
    summary: String,
    source: String,
    severity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    class: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    component: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    group: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    custom_details: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Image {
    src: String,
    alt: String,
    href: String,
}

#[derive(Serialize)]
struct Link {
    href: String,
    text: String,
}

/// A rendered event: where it goes, its body, and the extra status that may be
/// retried.
pub(super) struct Event {
    pub(super) url: String,
    pub(super) body: Vec<u8>,
    pub(super) retry_code: u16,
}

fn key(secret: &ember_config::Secret, file: &str, what: &str) -> Result<String, NotifyError> {
    if secret.is_empty() {
        super::read_secret_file(file, what)
    } else {
        Ok(secret.expose().to_string())
    }
}

/// The event for `data`; `v1_url` replaces [`PAGERDUTY_V1_URL`] (tests).
pub(super) fn event(
    c: &PagerdutyConfig,
    r: &Render<'_>,
    data: &Data,
    group_key: &str,
    v1_url: Option<&str>,
) -> Result<Event, NotifyError> {
    let resolved = data.status == "resolved";
    let mut details = BTreeMap::new();
    for (k, v) in &c.details {
        details.insert(k.clone(), r.text(v)?);
    }
    let v1 = !c.service_key.is_empty() || !c.service_key_file.is_empty();
    let mut msg = if v1 {
        let service_key = r.text(&key(&c.service_key, &c.service_key_file, "service key")?)?;
        if service_key.is_empty() {
            return Err(fail(false, "service key cannot be empty"));
        }
        let (client, client_url) = if resolved {
            (String::new(), String::new())
        } else {
            (r.text(&c.client)?, r.text(&c.client_url)?)
        };
        Message {
            routing_key: String::new(),
            service_key,
            dedup_key: String::new(),
            incident_key: key_hash(group_key),
            event_type: if resolved { "resolve" } else { "trigger" }.into(),
            description: truncate_runes(r.text(&c.description)?, MAX_SUMMARY_RUNES).0,
            event_action: String::new(),
            payload: None,
            client,
            client_url,
            details,
            images: Vec::new(),
            links: Vec::new(),
        }
    } else {
        let routing_key = r.text(&key(&c.routing_key, &c.routing_key_file, "routing key")?)?;
        if routing_key.is_empty() {
            return Err(fail(false, "routing key cannot be empty"));
        }
        let severity = if c.severity.is_empty() {
            "error"
        } else {
            &c.severity
        };
        let mut images = Vec::new();
        for i in &c.images {
            let img = Image {
                src: r.text(&i.src)?,
                alt: r.text(&i.alt)?,
                href: r.text(&i.href)?,
            };
            if !img.src.is_empty() {
                images.push(img);
            }
        }
        let mut links = Vec::new();
        for l in &c.links {
            let link = Link {
                href: r.text(&l.href)?,
                text: r.text(&l.text)?,
            };
            if !link.href.is_empty() {
                links.push(link);
            }
        }
        Message {
            routing_key,
            service_key: String::new(),
            dedup_key: key_hash(group_key),
            incident_key: String::new(),
            event_type: String::new(),
            description: String::new(),
            event_action: if resolved { "resolve" } else { "trigger" }.into(),
            payload: Some(Payload {
                summary: truncate_runes(r.text(&c.description)?, MAX_SUMMARY_RUNES).0,
                source: r.text(&c.source)?,
                severity: r.text(severity)?,
                class: r.text(&c.class)?,
                component: r.text(&c.component)?,
                group: r.text(&c.group)?,
                custom_details: details,
            }),
            client: r.text(&c.client)?,
            client_url: r.text(&c.client_url)?,
            details: BTreeMap::new(),
            images,
            links,
        }
    };
    let mut body = go_json(&msg);
    if body.len() > MAX_EVENT_SIZE {
        let note = BTreeMap::from([(
            "error".to_string(),
            "Custom details have been removed because the original event exceeds the maximum size of 512KB"
                .to_string(),
        )]);
        match &mut msg.payload {
            Some(p) => p.custom_details = note,
            None => msg.details = note,
        }
        tracing::warn!(
            size = body.len(),
            "Truncated Details because message exceeds PagerDuty's limit of 512KB"
        );
        body = go_json(&msg);
    }
    let url = if v1 {
        v1_url.unwrap_or(PAGERDUTY_V1_URL).to_string()
    } else {
        c.url.clone().unwrap_or_default()
    };
    Ok(Event {
        url,
        body,
        retry_code: if v1 { 403 } else { 429 },
    })
}

/// PagerDuty's explanation of a 400: `message: error,error`.
fn details(status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    if status != 400 {
        return String::new();
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(a) => format!("{}: {}", a.message, a.errors.join(",")),
        Err(_) => String::new(),
    }
}

pub(super) async fn notify(
    c: &PagerdutyConfig,
    ctx: &Context<'_>,
    data: &Data,
    v1_url: Option<&str>,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let ev = event(c, &r, data, ctx.group_key, v1_url)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let reply = ctx
        .client
        .send("POST", &ev.url, &headers, ev.body, http)
        .await
        .map_err(|e| {
            fail(
                e.retry,
                format!("failed to post message to PagerDuty: {}", e.message),
            )
        })?;
    check_with(
        &reply,
        &[ev.retry_code],
        &details(reply.status, &reply.body),
    )
}
