//! Delivery: each receiver's integrations, what they send, and how.
//!
//! Every integration of Alertmanager 0.25 is implemented, with its payloads,
//! default templates and retry rules: webhook, Slack (incoming webhooks and
//! `chat.postMessage`), e-mail (SMTP), PagerDuty (Events API v1 and v2), Opsgenie,
//! WeChat, VictorOps, Pushover, Telegram, Discord, Webex, Amazon SNS (static or
//! environment credentials), plus Microsoft Teams from 0.27. Outgoing HTTP goes
//! through `ember-discovery`'s shared client: `http://` and `https://` (system
//! roots, or the integration's `http_config.tls_config`), with the integration's
//! authentication and headers.
//!
//! Each integration lives in its own module under `notify/` and follows one shape:
//! a pure function renders the request(s) from the configuration, the templates and
//! the [`Data`] (what the unit tests pin), and a small async function sends them and
//! classifies the answer as Alertmanager's `Retrier` for that integration does
//! (2xx success; 5xx retried; the integration's extra retryable codes; anything else
//! final). JSON bodies are encoded as Go's `json.Encoder` does ([`go_json`]), so that
//! they are the same bytes Alertmanager sends.

mod discord;
mod msteams;
mod opsgenie;
mod pagerduty;
mod pushover;
#[cfg(test)]
mod receiver_tests;
mod sns;
mod telegram;
mod victorops;
mod webex;
mod wechat;

pub use pagerduty::PAGERDUTY_V1_URL;
pub use pushover::PUSHOVER_URL;
pub use wechat::WechatToken;

use crate::receivers::{
    DiscordConfig, EmailConfig, MsTeamsConfig, OpsGenieConfig, PagerdutyConfig, PushoverConfig,
    Receiver, SlackConfig, SnsConfig, TelegramConfig, VictorOpsConfig, WebexConfig, WebhookConfig,
    WechatConfig,
};
use crate::tmpl::{Data, Templates};
use ember_config::HttpClientConfig;
use ember_discovery::http::{HttpClient as Client, HttpError};
use ember_template::Value;
use serde::Serialize;
use sha2::Digest;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The User-Agent of outgoing notifications.
pub const USER_AGENT: &str = concat!("Ember-Alertmanager/", env!("CARGO_PKG_VERSION"));

/// Why one delivery attempt failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    /// Whether a retry may succeed (5xx, network errors) or not (4xx, bad config).
    pub retry: bool,
    /// What went wrong.
    pub message: String,
}

fn fail(retry: bool, message: impl Into<String>) -> NotifyError {
    NotifyError {
        retry,
        message: message.into(),
    }
}

/// One integration of a receiver.
#[derive(Clone, Debug)]
pub enum Integration {
    /// `webhook_configs`.
    Webhook(Box<WebhookConfig>),
    /// `slack_configs`.
    Slack(Box<SlackConfig>),
    /// `email_configs`.
    Email(Box<EmailConfig>),
    /// `pagerduty_configs`.
    Pagerduty(Box<PagerdutyConfig>),
    /// `opsgenie_configs`.
    Opsgenie(Box<OpsGenieConfig>),
    /// `wechat_configs`, with the integration's access token.
    Wechat(Box<WechatConfig>, WechatToken),
    /// `victorops_configs`.
    VictorOps(Box<VictorOpsConfig>),
    /// `pushover_configs`.
    Pushover(Box<PushoverConfig>),
    /// `sns_configs`.
    Sns(Box<SnsConfig>),
    /// `telegram_configs`.
    Telegram(Box<TelegramConfig>),
    /// `discord_configs`.
    Discord(Box<DiscordConfig>),
    /// `webex_configs`.
    Webex(Box<WebexConfig>),
    /// `msteams_configs`.
    MsTeams(Box<MsTeamsConfig>),
}

impl Integration {
    /// The integration's type name, as in metrics and the notification log.
    pub fn name(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack(_) => "slack",
            Integration::Email(_) => "email",
            Integration::Pagerduty(_) => "pagerduty",
            Integration::Opsgenie(_) => "opsgenie",
            Integration::Wechat(..) => "wechat",
            Integration::VictorOps(_) => "victorops",
            Integration::Pushover(_) => "pushover",
            Integration::Sns(_) => "sns",
            Integration::Telegram(_) => "telegram",
            Integration::Discord(_) => "discord",
            Integration::Webex(_) => "webex",
            Integration::MsTeams(_) => "msteams",
        }
    }

    /// Whether the integration carries `silence_notifications`: every one except
    /// the incident tools (PagerDuty, Opsgenie, VictorOps), where a notification
    /// opens or closes an incident keyed by its group, and WeChat, whose default
    /// message has no form for a silence yet.
    pub fn carries_silences(&self) -> bool {
        !matches!(
            self,
            Integration::Pagerduty(_)
                | Integration::Opsgenie(_)
                | Integration::VictorOps(_)
                | Integration::Wechat(..)
        )
    }

    /// Whether resolved alerts are sent.
    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(c) => c.send_resolved,
            Integration::Slack(c) => c.send_resolved,
            Integration::Email(c) => c.send_resolved,
            Integration::Pagerduty(c) => c.send_resolved,
            Integration::Opsgenie(c) => c.send_resolved,
            Integration::Wechat(c, _) => c.send_resolved,
            Integration::VictorOps(c) => c.send_resolved,
            Integration::Pushover(c) => c.send_resolved,
            Integration::Sns(c) => c.send_resolved,
            Integration::Telegram(c) => c.send_resolved,
            Integration::Discord(c) => c.send_resolved,
            Integration::Webex(c) => c.send_resolved,
            Integration::MsTeams(c) => c.send_resolved,
        }
    }
}

/// A receiver's integrations with their per-type index, in Alertmanager's order.
pub fn integrations(r: &Receiver) -> Vec<(Integration, usize)> {
    let mut out = Vec::new();
    fn push<T: Clone>(
        out: &mut Vec<(Integration, usize)>,
        list: &[T],
        f: impl Fn(Box<T>) -> Integration,
    ) {
        for (i, c) in list.iter().enumerate() {
            out.push((f(Box::new(c.clone())), i));
        }
    }
    push(&mut out, &r.webhook_configs, Integration::Webhook);
    push(&mut out, &r.email_configs, Integration::Email);
    push(&mut out, &r.pagerduty_configs, Integration::Pagerduty);
    push(&mut out, &r.opsgenie_configs, Integration::Opsgenie);
    for (i, c) in r.wechat_configs.iter().enumerate() {
        let token = WechatToken::default();
        out.push((Integration::Wechat(Box::new(c.clone()), token), i));
    }
    push(&mut out, &r.slack_configs, Integration::Slack);
    push(&mut out, &r.victorops_configs, Integration::VictorOps);
    push(&mut out, &r.pushover_configs, Integration::Pushover);
    push(&mut out, &r.sns_configs, Integration::Sns);
    push(&mut out, &r.telegram_configs, Integration::Telegram);
    push(&mut out, &r.discord_configs, Integration::Discord);
    push(&mut out, &r.webex_configs, Integration::Webex);
    push(&mut out, &r.msteams_configs, Integration::MsTeams);
    out
}

/// What a delivery needs besides the alerts.
pub struct Context<'a> {
    /// The group key (`groupKey` of webhooks).
    pub group_key: &'a str,
    /// Templates of the running configuration.
    pub templates: &'a Templates,
    /// The shared HTTP client.
    pub client: &'a HttpClient,
    /// `global.http_config`, for integrations without their own.
    pub global_http: Option<&'a HttpClientConfig>,
}

/// Sends one notification through `integration`.
pub async fn notify(
    integration: &Integration,
    ctx: &Context<'_>,
    data: Data,
) -> Result<(), NotifyError> {
    match integration {
        Integration::Webhook(c) => webhook(c, ctx, data).await,
        Integration::Slack(c) => slack(c, ctx, data).await,
        Integration::Email(c) => email(c, ctx, data).await,
        Integration::Pagerduty(c) => pagerduty::notify(c, ctx, &data, None).await,
        Integration::Opsgenie(c) => opsgenie::notify(c, ctx, &data).await,
        Integration::Wechat(c, token) => wechat::notify(c, token, ctx, &data).await,
        Integration::VictorOps(c) => victorops::notify(c, ctx, &data).await,
        Integration::Pushover(c) => pushover::notify(c, ctx, &data, PUSHOVER_URL).await,
        Integration::Sns(c) => sns::notify(c, ctx, &data).await,
        Integration::Telegram(c) => telegram::notify(c, ctx, &data).await,
        Integration::Discord(c) => discord::notify(c, ctx, &data).await,
        Integration::Webex(c) => webex::notify(c, ctx, &data).await,
        Integration::MsTeams(c) => msteams::notify(c, ctx, &data).await,
    }
}

/// Alertmanager's `Key.Hash`: the SHA-256 of the group key in lower-case hex, the
/// deduplication key of PagerDuty, the alias of Opsgenie, the entity id of
/// VictorOps, the deduplication id of SNS FIFO topics.
pub fn key_hash(group_key: &str) -> String {
    hex(&sha2::Sha256::digest(group_key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `encoding/json` string escaping on top of `serde_json`: `<`, `>` and `&`
/// as `\u003c`, `\u003e`, `\u0026` (HTML-safe), U+2028 and U+2029 escaped,
/// backspace and form feed as `\u0008` and `\u000c`.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        e: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape as E;
        let s: String = match e {
            E::Quote => "\\\"".into(),
            E::ReverseSolidus => "\\\\".into(),
            E::Solidus => "/".into(),
            E::LineFeed => "\\n".into(),
            E::CarriageReturn => "\\r".into(),
            E::Tab => "\\t".into(),
            E::Backspace => "\\u0008".into(),
            E::FormFeed => "\\u000c".into(),
            E::AsciiControl(b) => format!("\\u{b:04x}"),
        };
        w.write_all(s.as_bytes())
    }
}

/// `v` as Go's `json.NewEncoder(w).Encode(v)` writes it: Go's escaping, and a
/// newline at the end.
pub fn go_json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serialising plain data structures to memory cannot fail.
    let _ = v.serialize(&mut ser);
    out.push(b'\n');
    out
}

/// Go's `url.QueryEscape`: everything but ASCII letters, digits and `-_.~`
/// percent-encoded (upper-case hex), spaces as `+`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: pairs sorted by key (stable for equal keys),
/// `key=value` joined by `&`, both query-escaped.
fn encode_query(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The contents of a secret file (`*_file`), without surrounding white space.
fn read_secret_file(path: &str, what: &str) -> Result<String, NotifyError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            fail(
                false,
                format!("failed to read {what} from file {path}: {e}"),
            )
        })
}

/// The configuration's templates executed over one notification's data.
struct Render<'a> {
    templates: &'a Templates,
    value: Value,
}

impl<'a> Render<'a> {
    fn new(templates: &'a Templates, data: &Data) -> Render<'a> {
        Render {
            templates,
            value: data.to_value(),
        }
    }

    /// A field as a text template; an error is final (no retry), as in
    /// Alertmanager.
    fn text(&self, s: &str) -> Result<String, NotifyError> {
        self.templates
            .text(s, &self.value)
            .map_err(|e| fail(false, format!("template error: {e}")))
    }

    /// A field as an HTML template (escaped for HTML).
    fn html(&self, s: &str) -> Result<String, NotifyError> {
        self.templates
            .html(s, &self.value)
            .map_err(|e| fail(false, format!("template error: {e}")))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookMessage<'a> {
    #[serde(flatten)]
    data: &'a Data,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

/// The webhook body, version 4 (`data` already truncated to `max_alerts`).
pub fn webhook_body(data: &Data, group_key: &str, truncated: u64) -> Vec<u8> {
    let msg = WebhookMessage {
        data,
        version: "4",
        group_key,
        truncated_alerts: truncated,
    };
    go_json(&msg)
}

/// The version of [`silence_webhook_body`]: distinct from alert notifications'
/// `"4"`, so that a consumer of both tells them apart by `version` alone.
pub const SILENCE_WEBHOOK_VERSION: &str = "ember-silence-1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SilenceWebhookMessage<'a> {
    version: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    event: &'a str,
    receiver: &'a str,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    silence: &'a crate::tmpl::SilenceData,
}

/// The webhook body of a silence notification (Ember's own):
///
/// ```json
/// {"version": "ember-silence-1", "type": "silence", "event": "create",
///  "receiver": "team-x", "externalURL": "http://am:9093",
///  "silence": {"id": "…", "status": {"state": "active"}, "updatedAt": "…",
///              "comment": "…", "createdBy": "…", "endsAt": "…",
///              "matchers": [{"isEqual": true, "isRegex": false, "name": "…", "value": "…"}],
///              "startsAt": "…", "url": "http://am:9093/#/silences/…"}}
/// ```
///
/// `silence` is the silence as API v2 shows it (`GET /api/v2/silence/{id}`), plus
/// its link; `event` is `create` or `expire`.
pub fn silence_webhook_body(data: &Data, silence: &crate::tmpl::SilenceData) -> Vec<u8> {
    go_json(&SilenceWebhookMessage {
        version: SILENCE_WEBHOOK_VERSION,
        kind: "silence",
        event: silence.event,
        receiver: &data.receiver,
        external_url: &data.external_url,
        silence,
    })
}

async fn webhook(c: &WebhookConfig, ctx: &Context<'_>, mut data: Data) -> Result<(), NotifyError> {
    if let Some(silence) = data.silence.clone() {
        let url = c.url.as_deref().ok_or_else(|| fail(false, "missing URL"))?;
        let http = c.http_config.as_ref().or(ctx.global_http);
        return ctx
            .client
            .post_json(url, silence_webhook_body(&data, &silence), http)
            .await
            .map_err(|e| fail(e.retry, e.message.replace("<redacted>", url)));
    }
    let mut truncated = 0;
    if c.max_alerts > 0 {
        let max = usize::try_from(c.max_alerts).unwrap_or(usize::MAX);
        truncated = data.truncate(max) as u64;
    }
    let url = c.url.as_deref().ok_or_else(|| fail(false, "missing URL"))?;
    let body = webhook_body(&data, ctx.group_key, truncated);
    let http = c.http_config.as_ref().or(ctx.global_http);
    ctx.client
        .post_json(url, body, http)
        .await
        .map_err(|e| fail(e.retry, e.message.replace("<redacted>", url)))
}

#[derive(Serialize)]
struct SlackRequest {
    #[serde(skip_serializing_if = "String::is_empty")]
    channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    icon_url: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    link_names: bool,
    attachments: Vec<SlackAttachment>,
}

#[derive(Serialize)]
struct SlackAttachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pretext: String,
    text: String,
    fallback: String,
    callback_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<SlackFieldOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<SlackActionOut>,
    #[serde(skip_serializing_if = "String::is_empty")]
    image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    thumb_url: String,
    footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    color: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mrkdwn_in: Vec<String>,
}

#[derive(Serialize)]
struct SlackFieldOut {
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
    short: bool,
}

#[derive(Serialize)]
struct SlackConfirmOut {
    #[serde(skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ok_text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    dismiss_text: String,
}

#[derive(Serialize)]
struct SlackActionOut {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    style: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirm: Option<SlackConfirmOut>,
}

/// Cuts `s` to `n` characters, the last being `…` (without it when `n` is 3 or
/// less), as Alertmanager's `notify.TruncateInRunes`; says whether it cut.
fn truncate_runes(s: String, n: usize) -> (String, bool) {
    if s.chars().count() <= n {
        return (s, false);
    }
    if n <= 3 {
        return (s.chars().take(n).collect(), true);
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    (out, true)
}

/// Cuts `s` to at most `n` bytes on a character boundary, ending with `…`, as
/// Alertmanager's `notify.TruncateInBytes`; says whether it cut.
fn truncate_bytes(s: String, n: usize) -> (String, bool) {
    if s.len() <= n {
        return (s, false);
    }
    if n <= 3 {
        return (if n == 3 { "…".into() } else { ".".repeat(n) }, true);
    }
    let mut end = n - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…", &s[..end]), true)
}

/// The Slack body for `data`, with every field rendered through the templates.
pub fn slack_body(c: &SlackConfig, templates: &Templates, data: &Data) -> Result<Vec<u8>, String> {
    let v = data.to_value();
    let t = |s: &str| templates.text(s, &v);
    let fields = c
        .fields
        .iter()
        .map(|f| {
            Ok(SlackFieldOut {
                title: t(&f.title)?,
                value: t(&f.value)?,
                short: f.short.unwrap_or(c.short_fields),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let actions = c
        .actions
        .iter()
        .map(|a| {
            Ok(SlackActionOut {
                kind: t(&a.kind)?,
                text: t(&a.text)?,
                url: t(&a.url)?,
                style: t(&a.style)?,
                name: t(&a.name)?,
                value: t(&a.value)?,
                confirm: match &a.confirm {
                    Some(cf) => Some(SlackConfirmOut {
                        text: t(&cf.text)?,
                        title: t(&cf.title)?,
                        ok_text: t(&cf.ok_text)?,
                        dismiss_text: t(&cf.dismiss_text)?,
                    }),
                    None => None,
                },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mrkdwn_in = if c.mrkdwn_in.is_empty() {
        vec!["fallback".into(), "pretext".into(), "text".into()]
    } else {
        c.mrkdwn_in.clone()
    };
    let req = SlackRequest {
        channel: t(&c.channel)?,
        username: t(&c.username)?,
        icon_emoji: t(&c.icon_emoji)?,
        icon_url: t(&c.icon_url)?,
        link_names: c.link_names,
        attachments: vec![SlackAttachment {
            title: truncate_runes(t(&c.title)?, 1024).0,
            title_link: t(&c.title_link)?,
            pretext: t(&c.pretext)?,
            text: t(&c.text)?,
            fallback: t(&c.fallback)?,
            callback_id: t(&c.callback_id)?,
            fields,
            actions,
            image_url: t(&c.image_url)?,
            thumb_url: t(&c.thumb_url)?,
            footer: t(&c.footer)?,
            color: t(&c.color)?,
            mrkdwn_in,
        }],
    };
    Ok(go_json(&req))
}

async fn slack(c: &SlackConfig, ctx: &Context<'_>, data: Data) -> Result<(), NotifyError> {
    let body = slack_body(c, ctx.templates, &data).map_err(|e| fail(false, e))?;
    let url = match &c.api_url {
        Some(u) => u.expose().to_string(),
        None if !c.api_url_file.is_empty() => read_secret_file(&c.api_url_file, "Slack API URL")?,
        None => return Err(fail(false, "no Slack API URL")),
    };
    let channel = Render::new(ctx.templates, &data).text(&c.channel)?;
    let http = c.http_config.as_ref().or(ctx.global_http);
    let headers = [("Content-Type", "application/json".to_string())];
    let in_channel = |e: NotifyError| fail(e.retry, format!("channel {channel:?}: {}", e.message));
    let reply = ctx
        .client
        .send("POST", &url, &headers, body, http)
        .await
        .map_err(in_channel)?;
    // Only 5xx is worth retrying (Slack's documented errors are final).
    check(&reply, &[]).map_err(in_channel)?;
    slack_answer(&reply).map_err(in_channel)
}

/// The Web API (`chat.postMessage` with a bot token) answers 200 with a JSON
/// body whose `ok` says whether the message was posted: `"ok": false` is a
/// final error naming Slack's reason, as in Alertmanager (0.27 on; 0.25 did not
/// look). Incoming webhooks answer with text, which is not examined.
fn slack_answer(reply: &Reply) -> Result<(), NotifyError> {
    if !reply.content_type.starts_with("application/json") {
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        ok: bool,
        #[serde(default)]
        error: String,
    }
    match serde_json::from_slice::<Answer>(&reply.body) {
        Ok(a) if a.ok => Ok(()),
        Ok(a) => Err(fail(
            false,
            format!("error response from Slack: {}", a.error),
        )),
        Err(e) => Err(fail(
            true,
            format!(
                "could not unmarshal JSON response {:?}: {e}",
                String::from_utf8_lossy(&reply.body)
            ),
        )),
    }
}

/// The HTTP clients of notifications: one per distinct `http_config` (TLS,
/// authentication), made at first use and kept while the configuration lasts.
#[derive(Clone, Debug, Default)]
pub struct HttpClient {
    clients: Arc<Mutex<Vec<Cached>>>,
}

/// A client and the settings it was made for (`None`: defaults).
type Cached = (Option<HttpClientConfig>, Client);

/// Distinct configurations kept; past that (many reloads with changing settings),
/// the cache starts over.
const MAX_CLIENTS: usize = 64;

/// The whole exchange's deadline; the dispatcher's own, shorter, usually applies.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Response bytes kept (for the error message of a failed notification).
const RESPONSE_LIMIT: usize = 64 * 1024;

impl HttpClient {
    /// A new client.
    pub fn new() -> HttpClient {
        HttpClient::default()
    }

    /// The client for `http`. Settings that cannot be used (an unreadable CA file,
    /// say) are not remembered, so that the next notification tries again.
    fn client(&self, http: Option<&HttpClientConfig>) -> Result<Client, NotifyError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = clients.iter().find(|(k, _)| k.as_ref() == http) {
            return Ok(c.clone());
        }
        let c = match http {
            Some(h) => Client::from_config(h).map_err(|e| fail(false, e.to_string()))?,
            None => Client::new(),
        };
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.push((http.cloned(), c.clone()));
        Ok(c)
    }

    /// Sends one request: `headers` (with `Content-Type`), then the configuration's
    /// authentication and `http_headers`; a `User-Agent` is added when `headers` has
    /// none. Whatever the status, the answer is returned; a failure to exchange
    /// (connection, TLS, timeout) may be retried, a configuration that cannot be
    /// used may not. The URL is not in the error, as it may hold a secret (Go's
    /// `notify.RedactURL`).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        http: Option<&HttpClientConfig>,
    ) -> Result<Reply, NotifyError> {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        if !all
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        {
            all.push(("User-Agent", USER_AGENT.to_string()));
        }
        let client = self.client(http)?;
        let resp = client
            .send(method, url, &all, body, REQUEST_TIMEOUT, RESPONSE_LIMIT)
            .await
            .map_err(|e| match e {
                HttpError::Url(_) => fail(false, "invalid URL"),
                HttpError::Config(m) | HttpError::Unsupported(m) => fail(false, m),
                other => fail(true, format!("{method} <redacted>: {other}")),
            })?;
        Ok(Reply {
            status: resp.status,
            content_type: resp.content_type,
            body: resp.body,
        })
    }

    /// Posts a JSON body; 2xx is success, 5xx may be retried, other statuses may
    /// not (Alertmanager's `Retrier` without extra codes, as for webhooks and
    /// Slack).
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        http: Option<&HttpClientConfig>,
    ) -> Result<(), NotifyError> {
        let headers = [("Content-Type", "application/json".to_string())];
        let reply = self.send("POST", url, &headers, body, http).await?;
        check(&reply, &[])
    }
}

/// An answer to a notification request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body (at most 64 KiB of it).
    pub body: Vec<u8>,
}

/// Alertmanager's `Retrier.Check`: 2xx is success; 5xx and `retry_codes` may be
/// retried; the error names the status and the start of the body.
pub fn check(reply: &Reply, retry_codes: &[u16]) -> Result<(), NotifyError> {
    let body = &reply.body;
    let snippet = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
    check_with(reply, retry_codes, &snippet)
}

/// [`check`] with the error's details given (empty: none).
fn check_with(reply: &Reply, retry_codes: &[u16], details: &str) -> Result<(), NotifyError> {
    if reply.status / 100 == 2 {
        return Ok(());
    }
    let retry = reply.status / 100 == 5 || retry_codes.contains(&reply.status);
    let mut message = format!("unexpected status code {}", reply.status);
    if !details.is_empty() {
        message.push_str(": ");
        message.push_str(details);
    }
    Err(fail(retry, message))
}

/// The address in `Name <addr>` or a bare `addr`.
fn address(s: &str) -> &str {
    let s = s.trim();
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    }
}

/// RFC 2047 Q-encoding of a header value with non-ASCII text (Go's
/// `mime.QEncoding.Encode("utf-8", …)`); ASCII values are left alone.
fn encode_header(v: &str) -> String {
    if v.is_ascii() {
        return v.to_string();
    }
    let mut out = String::from("=?utf-8?q?");
    for b in v.bytes() {
        match b {
            b' ' => out.push('_'),
            b'!'..=b'~' if b != b'=' && b != b'?' && b != b'_' => out.push(b as char),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// Quoted-printable (RFC 2045) with CRLF line ends and soft breaks at 76.
pub fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let enc = match b {
                b'=' => format!("={b:02X}"),
                b' ' | b'\t' if last => format!("={b:02X}"),
                b' ' | b'\t' | b'!'..=b'~' => (b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if col + enc.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += enc.len();
            out.push_str(&enc);
        }
    }
    out
}

fn base64(data: &[u8]) -> String {
    ember_model::base64::encode(data, ember_model::base64::Alphabet::Standard, true)
}

/// The e-mail message (headers and MIME body) for `data`.
pub fn email_message(
    c: &EmailConfig,
    templates: &Templates,
    data: &Data,
) -> Result<String, String> {
    let v = data.to_value();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut have = std::collections::BTreeSet::new();
    for (k, tmpl) in &c.headers {
        headers.push((k.clone(), templates.text(tmpl, &v)?));
        have.insert(k.clone());
    }
    // Alertmanager's defaults for headers the configuration does not set.
    if !have.contains("Subject") {
        headers.push((
            "Subject".into(),
            templates.text(r#"{{ template "email.default.subject" . }}"#, &v)?,
        ));
    }
    if !have.contains("To") {
        headers.push(("To".into(), templates.text(&c.to, &v)?));
    }
    if !have.contains("From") {
        headers.push(("From".into(), templates.text(&c.from, &v)?));
    }
    let boundary = crate::silence::new_uuid().replace('-', "");
    let mut msg = String::new();
    for (k, val) in &headers {
        msg.push_str(&format!("{k}: {}\r\n", encode_header(val)));
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    msg.push_str(&format!(
        "Message-Id: <{}@{host}>\r\n",
        crate::silence::new_uuid()
    ));
    msg.push_str(&format!(
        "Date: {}\r\n",
        jiff::ZonedDateTime::now().strftime("%a, %d %b %Y %H:%M:%S %z")
    ));
    msg.push_str(&format!(
        "Content-Type: multipart/alternative;  boundary={boundary}\r\nMIME-Version: 1.0\r\n\r\n"
    ));
    let text = templates.text(&c.text, &v)?;
    let html = templates.html(&c.html, &v)?;
    for (kind, body) in [("text/plain", text), ("text/html", html)] {
        if body.is_empty() {
            continue;
        }
        msg.push_str(&format!(
            "--{boundary}\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: {kind}; charset=UTF-8\r\n\r\n{}\r\n",
            quoted_printable(&body)
        ));
    }
    msg.push_str(&format!("--{boundary}--\r\n"));
    Ok(msg)
}

/// A plain or TLS connection to the SMTP server.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

struct Smtp {
    io: BufReader<Box<dyn Stream>>,
}

impl Smtp {
    /// Reads a (possibly multi-line) reply: code and lines.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), NotifyError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| fail(true, format!("smtp: {e}")))?;
            if n == 0 {
                return Err(fail(true, "smtp: connection closed"));
            }
            let line = line.trim_end().to_string();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| fail(true, format!("smtp: bad reply {line:?}")))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    async fn cmd(&mut self, line: &str, want: u16) -> Result<Vec<String>, NotifyError> {
        let w = self.io.get_mut();
        w.write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| fail(true, format!("smtp: {e}")))?;
        w.flush()
            .await
            .map_err(|e| fail(true, format!("smtp: {e}")))?;
        let (code, lines) = self.reply().await?;
        if code != want {
            let verb = line.split(' ').next().unwrap_or("");
            return Err(fail(
                (400..500).contains(&code),
                format!("smtp {verb}: {code} {}", lines.join(" ")),
            ));
        }
        Ok(lines)
    }
}

/// The TLS handshake with the smarthost, per the integration's `tls_config`.
async fn handshake(
    c: &EmailConfig,
    addr: &str,
    stream: Box<dyn Stream>,
) -> Result<Box<dyn Stream>, NotifyError> {
    let (config, name) = ember_discovery::tls_client_config(&c.tls_config, &c.smarthost.host)
        .map_err(|e| fail(false, format!("smtp tls_config: {e}")))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map(|s| Box::new(s) as Box<dyn Stream>)
        .map_err(|e| fail(true, format!("smtp TLS handshake with {addr}: {e}")))
}

async fn email(c: &EmailConfig, ctx: &Context<'_>, data: Data) -> Result<(), NotifyError> {
    // SMTPS on port 465, as Alertmanager decides.
    send_email(c, ctx, data, c.smarthost.port == "465").await
}

async fn send_email(
    c: &EmailConfig,
    ctx: &Context<'_>,
    data: Data,
    implicit_tls: bool,
) -> Result<(), NotifyError> {
    let message = email_message(c, ctx.templates, &data).map_err(|e| fail(false, e))?;
    let v = data.to_value();
    let from = ctx
        .templates
        .text(&c.from, &v)
        .map_err(|e| fail(false, e))?;
    let to = ctx.templates.text(&c.to, &v).map_err(|e| fail(false, e))?;
    let addr = format!("{}:{}", c.smarthost.host, c.smarthost.port);
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| fail(true, format!("establish connection to server: {e}")))?;
    let stream: Box<dyn Stream> = if implicit_tls {
        handshake(c, &addr, Box::new(tcp)).await?
    } else {
        Box::new(tcp)
    };
    let mut s = Smtp {
        io: BufReader::new(stream),
    };
    let (code, lines) = s.reply().await?;
    if code != 220 {
        return Err(fail(
            true,
            format!("smtp greeting: {code} {}", lines.join(" ")),
        ));
    }
    let hello = if c.hello.is_empty() {
        "localhost"
    } else {
        &c.hello
    };
    let mut ext = s.cmd(&format!("EHLO {hello}"), 250).await?;
    let has = |ext: &[String], name: &str| {
        ext.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
        })
    };
    // `require_tls` (default true): STARTTLS, which the server must offer; without
    // it, plain text even when offered, as Alertmanager. Not again over SMTPS.
    if c.require_tls.unwrap_or(true) && !implicit_tls {
        if !has(&ext, "STARTTLS") {
            return Err(fail(
                false,
                format!(
                    "'require_tls' is true (default) but {addr:?} does not advertise the STARTTLS extension"
                ),
            ));
        }
        s.cmd("STARTTLS", 220).await?;
        if !s.io.buffer().is_empty() {
            return Err(fail(true, "smtp: data after STARTTLS reply"));
        }
        let stream = handshake(c, &addr, s.io.into_inner()).await?;
        s = Smtp {
            io: BufReader::new(stream),
        };
        ext = s.cmd(&format!("EHLO {hello}"), 250).await?;
    }
    if !c.auth_username.is_empty() {
        let auth = ext
            .iter()
            .find(|l| l.to_ascii_uppercase().starts_with("AUTH"))
            .cloned()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let password = if c.auth_password_file.is_empty() {
            c.auth_password.expose().to_string()
        } else {
            std::fs::read_to_string(&c.auth_password_file)
                .map_err(|e| fail(false, format!("reading {}: {e}", c.auth_password_file)))?
                .trim()
                .to_string()
        };
        if auth.contains("PLAIN") {
            let token =
                base64(format!("{}\0{}\0{password}", c.auth_identity, c.auth_username).as_bytes());
            s.cmd(&format!("AUTH PLAIN {token}"), 235).await?;
        } else if auth.contains("LOGIN") {
            s.cmd("AUTH LOGIN", 334).await?;
            s.cmd(&base64(c.auth_username.as_bytes()), 334).await?;
            s.cmd(&base64(password.as_bytes()), 235).await?;
        } else if !auth.is_empty() {
            return Err(fail(
                false,
                format!("smtp: no supported auth mechanism in {auth:?}"),
            ));
        }
    }
    s.cmd(&format!("MAIL FROM:<{}>", address(&from)), 250)
        .await?;
    for rcpt in to.split(',').filter(|a| !a.trim().is_empty()) {
        s.cmd(&format!("RCPT TO:<{}>", address(rcpt)), 250).await?;
    }
    s.cmd("DATA", 354).await?;
    let mut body = String::with_capacity(message.len() + 16);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            body.push('.');
        }
        body.push_str(line);
    }
    body.push('.');
    s.cmd(&body, 250).await?;
    let _ = s.cmd("QUIT", 221).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base64(b"\0u\0p"), "AHUAcA==");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(quoted_printable("a=b \nc"), "a=3Db=20\r\nc");
        assert_eq!(encode_header("héllo"), "=?utf-8?q?h=C3=A9llo?=");
        assert_eq!(address("Ops <ops@example.org>"), "ops@example.org");
        assert_eq!(truncate_runes("abcdef".into(), 4), ("abc…".into(), true));
        assert_eq!(truncate_runes("abcdef".into(), 3), ("abc".into(), true));
        assert_eq!(
            truncate_bytes("héllo wörld".into(), 8),
            ("héll…".into(), true)
        );
        assert_eq!(truncate_bytes("abcdef".into(), 2), ("..".into(), true));
    }

    /// Webhook and Slack URLs over https: the receiver's `http_config.tls_config`
    /// (here a test CA) is used; without it the system roots are, which do not know
    /// the test CA, and the failure says why.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_over_https() {
        use ember_discovery::testing::{Pki, tls_front};
        let pki = Pki::new("ember");
        let got = Arc::new(Mutex::new(Vec::<(String, Vec<u8>)>::new()));
        let g = Arc::clone(&got);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |h: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                    let auth = h
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    g.lock().unwrap().push((auth, body.to_vec()));
                    "ok"
                },
            ),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        let front = tls_front(plain, pki.server_config(false)).await;
        let url = format!("https://{front}/hook");

        let client = HttpClient::new();
        let mut http = HttpClientConfig::default();
        http.tls_config.ca = pki.ca.clone();
        http.authorization = Some(ember_config::Authorization {
            kind: "Bearer".into(),
            credentials: ember_config::Secret::new("hook-token"),
            credentials_file: String::new(),
        });
        client
            .post_json(&url, b"{}".to_vec(), Some(&http))
            .await
            .expect("https webhook");
        assert_eq!(
            got.lock().unwrap().as_slice(),
            [("Bearer hook-token".to_string(), b"{}".to_vec())]
        );

        let e = client
            .post_json(&url, b"{}".to_vec(), None)
            .await
            .unwrap_err();
        assert!(e.retry);
        assert!(
            e.message
                .contains("certificate signed by unknown authority"),
            "{}",
            e.message
        );
        // The same settings reuse one client.
        client
            .post_json(&url, b"{}".to_vec(), Some(&http))
            .await
            .unwrap();
        assert_eq!(client.clients.lock().unwrap().len(), 2);
    }

    /// A test SMTP server: implicit TLS (`tls_first`) or plain with STARTTLS
    /// offered; records (whether the message came over TLS, the message).
    async fn smtp_server(
        pki: &ember_discovery::testing::Pki,
        tls_first: bool,
    ) -> (u16, Arc<Mutex<Vec<(bool, String)>>>) {
        use tokio::io::AsyncBufReadExt;
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(false));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&got);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = l.accept().await.unwrap();
                let (acceptor, g) = (acceptor.clone(), Arc::clone(&g));
                tokio::spawn(async move {
                    let mut tls = tls_first;
                    let stream: Box<dyn Stream> = if tls_first {
                        match acceptor.accept(tcp).await {
                            Ok(s) => Box::new(s),
                            Err(_) => return,
                        }
                    } else {
                        Box::new(tcp)
                    };
                    let mut io = BufReader::new(stream);
                    let _ = io.get_mut().write_all(b"220 test ESMTP\r\n").await;
                    let mut msg = String::new();
                    loop {
                        let mut line = String::new();
                        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        let reply: &[u8] = if cmd.starts_with("EHLO") {
                            if tls {
                                b"250-test\r\n250 AUTH PLAIN\r\n"
                            } else {
                                b"250-test\r\n250 STARTTLS\r\n"
                            }
                        } else if cmd == "STARTTLS" {
                            let _ = io.get_mut().write_all(b"220 go ahead\r\n").await;
                            match acceptor.accept(io.into_inner()).await {
                                Ok(s) => io = BufReader::new(Box::new(s) as Box<dyn Stream>),
                                Err(_) => return,
                            }
                            tls = true;
                            continue;
                        } else if cmd.starts_with("AUTH PLAIN") {
                            b"235 ok\r\n"
                        } else if cmd == "DATA" {
                            let _ = io.get_mut().write_all(b"354 go\r\n").await;
                            loop {
                                let mut l = String::new();
                                if io.read_line(&mut l).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if l == ".\r\n" {
                                    break;
                                }
                                msg.push_str(&l);
                            }
                            g.lock().unwrap().push((tls, std::mem::take(&mut msg)));
                            b"250 queued\r\n"
                        } else if cmd == "QUIT" {
                            let _ = io.get_mut().write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = io.get_mut().write_all(reply).await;
                        let _ = io.get_mut().flush().await;
                    }
                });
            }
        });
        (port, got)
    }

    fn data() -> Data {
        Data {
            receiver: "mail".into(),
            status: "firing",
            alerts: vec![crate::tmpl::DataAlert {
                status: "firing",
                labels: [("alertname".to_string(), "TlsTest".to_string())].into(),
                annotations: Default::default(),
                starts_at: None,
                ends_at: None,
                generator_url: String::new(),
                fingerprint: "0000000000000001".into(),
            }],
            group_labels: [("alertname".to_string(), "TlsTest".to_string())].into(),
            common_labels: Default::default(),
            common_annotations: Default::default(),
            external_url: "http://am.example".into(),
            silence: None,
        }
    }

    async fn send(c: &EmailConfig) -> Result<(), NotifyError> {
        let templates = Templates::load(&[]).unwrap();
        let client = HttpClient::new();
        let ctx = Context {
            group_key: "{}:{}",
            templates: &templates,
            client: &client,
            global_http: None,
        };
        email(c, &ctx, data()).await
    }

    async fn send_implicit(c: &EmailConfig) -> Result<(), NotifyError> {
        let templates = Templates::load(&[]).unwrap();
        let client = HttpClient::new();
        let ctx = Context {
            group_key: "{}:{}",
            templates: &templates,
            client: &client,
            global_http: None,
        };
        send_email(c, &ctx, data(), true).await
    }

    fn email_config(host: &str, port: u16) -> EmailConfig {
        EmailConfig {
            to: "ops@example.org".into(),
            from: "am@example.org".into(),
            smarthost: crate::values::HostPort {
                host: host.into(),
                port: port.to_string(),
            },
            ..EmailConfig::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn email_over_starttls_and_implicit_tls() {
        let pki = ember_discovery::testing::Pki::new("smtp");
        let dir = tempfile::tempdir().unwrap();
        let files = pki.write(dir.path());

        // STARTTLS (require_tls defaults to true), CA from a file, with AUTH PLAIN
        // offered only after the upgrade.
        let (port, got) = smtp_server(&pki, false).await;
        let mut c = email_config("127.0.0.1", port);
        c.tls_config.ca_file = files.ca.display().to_string();
        c.tls_config.server_name = "localhost".into();
        c.auth_username = "u".into();
        c.auth_password = ember_config::Secret::new("p");
        send(&c).await.expect("STARTTLS");
        {
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 1);
            assert!(got[0].0, "sent over TLS");
            assert!(got[0].1.contains("TlsTest"), "{}", got[0].1);
        }
        // Unknown CA: the handshake fails, and nothing is sent.
        let mut bad = email_config("localhost", port);
        bad.tls_config = Default::default();
        let e = send(&bad).await.unwrap_err();
        assert!(e.message.contains("TLS handshake"), "{}", e.message);
        assert_eq!(got.lock().unwrap().len(), 1);
        // insecure_skip_verify accepts it.
        bad.tls_config.insecure_skip_verify = true;
        send(&bad).await.expect("insecure_skip_verify");
        assert_eq!(got.lock().unwrap().len(), 2);
        // require_tls: false sends in clear even though STARTTLS is offered.
        let mut clear = email_config("127.0.0.1", port);
        clear.require_tls = Some(false);
        send(&clear).await.expect("plain");
        assert!(!got.lock().unwrap()[2].0);

        // Implicit TLS, chosen by port 465 (which the test cannot bind unprivileged:
        // the same path, with the test server's port).
        let (tls_port, got) = smtp_server(&pki, true).await;
        let mut c = email_config("localhost", tls_port);
        c.tls_config.ca = pki.ca.clone();
        send_implicit(&c).await.expect("implicit TLS");
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].0);
    }
}
