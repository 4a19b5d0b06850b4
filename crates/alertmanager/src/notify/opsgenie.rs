//! Opsgenie (Alert API v2): an alert created while the group fires, closed once
//! it is resolved, both by the alias that is the hash of the group key. With
//! `update_alerts`, the message and description of an existing alert are updated
//! as well (two PUTs after the create). The key goes in `Authorization: GenieKey …`.
//! Retried: 5xx and 429.

use super::{
    Context, NotifyError, Render, check, encode_query, fail, go_json, key_hash, truncate_runes,
};
use crate::receivers::OpsGenieConfig;
use crate::tmpl::Data;
use serde::Serialize;
use std::collections::BTreeMap;

/// Opsgenie's limit on `message`, in characters.
const MAX_MESSAGE_RUNES: usize = 130;

#[derive(Serialize)]
struct Create {
    alias: String,
    message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    details: BTreeMap<String, String>,
    source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    responders: Vec<Responder>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    note: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    priority: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    entity: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<String>,
}

#[derive(Serialize, PartialEq, Eq, Default)]
struct Responder {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize)]
struct Close {
    source: String,
}

#[derive(Serialize)]
struct UpdateMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

#[derive(Serialize)]
struct UpdateDescription {
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
}

/// One API call.
pub(super) struct Call {
    pub(super) method: &'static str,
    pub(super) url: String,
    pub(super) body: Vec<u8>,
}

/// Go's `strings.Split` of the trimmed string, empty parts dropped (the parts
/// themselves are not trimmed).
fn safe_split(s: &str) -> Vec<String> {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// `api_url` (ending with `/`) with `path` appended to its path; with
/// `identifier`, `identifierType=alias` set in its query, which is then re-encoded
/// sorted by key as Go's `url.Values.Encode` does.
pub(super) fn endpoint(api_url: &str, path: &str, identifier: bool) -> String {
    let (base, query) = match api_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (api_url, None),
    };
    let query = query.map(|q| q.split('#').next().unwrap_or(""));
    let mut url = format!("{base}{path}");
    if identifier {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "identifierType")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        pairs.push(("identifierType".into(), "alias".into()));
        url.push('?');
        url.push_str(&encode_query(&pairs));
    } else if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// The calls for `data` and the API key.
pub(super) fn calls(
    c: &OpsGenieConfig,
    r: &Render<'_>,
    data: &Data,
    group_key: &str,
) -> Result<(Vec<Call>, String), NotifyError> {
    let api_url = c.api_url.as_deref().unwrap_or("https://api.opsgenie.com/");
    let alias = key_hash(group_key);
    let mut details = data.common_labels.clone();
    for (k, v) in &c.details {
        details.insert(k.clone(), r.text(v)?);
    }
    let mut calls = Vec::new();
    if data.status == "resolved" {
        calls.push(Call {
            method: "POST",
            url: endpoint(api_url, &format!("v2/alerts/{alias}/close"), true),
            body: go_json(&Close {
                source: r.text(&c.source)?,
            }),
        });
    } else {
        let (message, cut) = truncate_runes(r.text(&c.message)?, MAX_MESSAGE_RUNES);
        if cut {
            tracing::warn!(max_runes = MAX_MESSAGE_RUNES, "Truncated Opsgenie message");
        }
        let mut responders = Vec::new();
        for cfg in &c.responders {
            let one = Responder {
                id: r.text(&cfg.id)?,
                name: r.text(&cfg.name)?,
                username: r.text(&cfg.username)?,
                kind: r.text(&cfg.kind)?,
            };
            // All empty (say, filled from labels the alerts lack): left out.
            if one == Responder::default() {
                continue;
            }
            if one.kind == "teams" {
                for team in safe_split(&one.name) {
                    responders.push(Responder {
                        name: r.text(&team)?,
                        kind: "team".into(),
                        ..Responder::default()
                    });
                }
                continue;
            }
            responders.push(one);
        }
        let create = Create {
            alias: alias.clone(),
            message,
            description: r.text(&c.description)?,
            details,
            source: r.text(&c.source)?,
            responders,
            tags: safe_split(&r.text(&c.tags)?),
            note: r.text(&c.note)?,
            priority: r.text(&c.priority)?,
            entity: r.text(&c.entity)?,
            actions: safe_split(&r.text(&c.actions)?),
        };
        calls.push(Call {
            method: "POST",
            url: endpoint(api_url, "v2/alerts", false),
            body: go_json(&create),
        });
        if c.update_alerts {
            calls.push(Call {
                method: "PUT",
                url: endpoint(api_url, &format!("v2/alerts/{alias}/message"), true),
                body: go_json(&UpdateMessage {
                    message: create.message.clone(),
                }),
            });
            calls.push(Call {
                method: "PUT",
                url: endpoint(api_url, &format!("v2/alerts/{alias}/description"), true),
                body: go_json(&UpdateDescription {
                    description: create.description.clone(),
                }),
            });
        }
    }
    // The key is a template too; from a file it is trimmed (as Alertmanager 0.26
    // on does: 0.25 sent the file's final newline, which Go's client refuses).
    let api_key = if c.api_key.is_empty() {
        let raw = std::fs::read_to_string(&c.api_key_file)
            .map_err(|e| fail(false, format!("read key_file error: {e}")))?;
        r.text(&raw)?.trim().to_string()
    } else {
        r.text(c.api_key.expose())?
    };
    Ok((calls, api_key))
}

pub(super) async fn notify(
    c: &OpsGenieConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let (calls, key) = calls(c, &r, data, ctx.group_key)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("Authorization", format!("GenieKey {key}")),
    ];
    for call in calls {
        let reply = ctx
            .client
            .send(call.method, &call.url, &headers, call.body, http)
            .await?;
        check(&reply, &[429])?;
    }
    Ok(())
}
