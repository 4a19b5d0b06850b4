//! Receivers and their integrations (`*_configs`), with Alertmanager 0.25's fields,
//! defaults and checks.
//!
//! Each integration type starts from Alertmanager's defaults (its `Default` impl:
//! `send_resolved` and the default notification templates), then the YAML overwrites
//! what it sets, and an explicit `null` zeroes a field, as Go's decoder does. The
//! checks that need nothing but the integration itself are its `check` method; the
//! ones that need `global` (inherited URLs, keys, SMTP settings) run in
//! [`crate::config`].
//!
//! Additions to 0.25's schema, each from a later Alertmanager and none changing the
//! verdict on a file 0.25 accepts: `msteams_configs` (0.26, with 0.27's `summary` and
//! `webhook_url_file`), Telegram's `bot_token_file` (0.26) and Discord's
//! `webhook_url_file` (0.27).

use crate::http::{http_config, tls};
use crate::values::{HostPort, go_duration, secret_url, url};
use crate::yaml::{boolean, int, opt_boolean, string_map, z};
use ember_config::{HttpClientConfig, Secret, TlsConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A problem in one integration: the offending field (relative to the integration)
/// and Alertmanager's message.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) field: Option<&'static str>,
    pub(crate) message: String,
}

fn problem<T>(field: &'static str, message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem {
        field: Some(field),
        message: message.into(),
    })
}

fn t(name: &str) -> String {
    format!(r#"{{{{ template "{name}" . }}}}"#)
}

/// A receiver: a name and the integrations notified through it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receiver {
    /// Unique name, referenced by routes.
    #[serde(deserialize_with = "z")]
    pub name: String,
    /// Discord webhooks.
    #[serde(deserialize_with = "z")]
    pub discord_configs: Vec<DiscordConfig>,
    /// E-mail.
    #[serde(deserialize_with = "z")]
    pub email_configs: Vec<EmailConfig>,
    /// PagerDuty.
    #[serde(deserialize_with = "z")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    /// Slack.
    #[serde(deserialize_with = "z")]
    pub slack_configs: Vec<SlackConfig>,
    /// Generic webhooks.
    #[serde(deserialize_with = "z")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Opsgenie.
    #[serde(deserialize_with = "z")]
    pub opsgenie_configs: Vec<OpsGenieConfig>,
    /// WeChat.
    #[serde(deserialize_with = "z")]
    pub wechat_configs: Vec<WechatConfig>,
    /// Pushover.
    #[serde(deserialize_with = "z")]
    pub pushover_configs: Vec<PushoverConfig>,
    /// VictorOps (Splunk On-Call).
    #[serde(deserialize_with = "z")]
    pub victorops_configs: Vec<VictorOpsConfig>,
    /// Amazon SNS.
    #[serde(deserialize_with = "z")]
    pub sns_configs: Vec<SnsConfig>,
    /// Telegram.
    #[serde(deserialize_with = "z")]
    pub telegram_configs: Vec<TelegramConfig>,
    /// Cisco Webex.
    #[serde(deserialize_with = "z")]
    pub webex_configs: Vec<WebexConfig>,
    /// Microsoft Teams (Alertmanager 0.26's schema).
    #[serde(deserialize_with = "z")]
    pub msteams_configs: Vec<MsTeamsConfig>,
}

impl Receiver {
    /// How many integrations the receiver has.
    pub fn integration_count(&self) -> usize {
        self.discord_configs.len()
            + self.email_configs.len()
            + self.pagerduty_configs.len()
            + self.slack_configs.len()
            + self.webhook_configs.len()
            + self.opsgenie_configs.len()
            + self.wechat_configs.len()
            + self.pushover_configs.len()
            + self.victorops_configs.len()
            + self.sns_configs.len()
            + self.telegram_configs.len()
            + self.webex_configs.len()
            + self.msteams_configs.len()
    }
}

/// `webex_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebexConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// API URL; `None` means `global.webex_api_url`.
    #[serde(deserialize_with = "url")]
    pub api_url: Option<String>,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// Room to post to (required).
    #[serde(deserialize_with = "z")]
    pub room_id: String,
}

impl Default for WebexConfig {
    fn default() -> Self {
        WebexConfig {
            send_resolved: true,
            http_config: None,
            api_url: None,
            message: t("webex.default.message"),
            room_id: String::new(),
        }
    }
}

impl WebexConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        if self.room_id.is_empty() {
            return problem("room_id", "missing room_id on webex_config");
        }
        if self
            .http_config
            .as_ref()
            .is_none_or(|h| h.authorization.is_none())
        {
            return problem(
                "http_config",
                "missing webex_configs.http_config.authorization",
            );
        }
        Ok(())
    }
}

/// `discord_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Webhook URL (this or the file is required).
    #[serde(deserialize_with = "secret_url")]
    pub webhook_url: Option<Secret>,
    /// File holding the webhook URL (Alertmanager 0.27).
    #[serde(deserialize_with = "z")]
    pub webhook_url_file: String,
    /// Title template.
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            title: t("discord.default.title"),
            message: t("discord.default.message"),
        }
    }
}

impl DiscordConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        // Neither URL nor file is reported later, with 0.25's message (see
        // `config`'s `inherit`).
        if self.webhook_url.is_some() && !self.webhook_url_file.is_empty() {
            return problem(
                "webhook_url",
                "at most one of webhook_url & webhook_url_file must be configured",
            );
        }
        Ok(())
    }
}

/// `email_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Notify about resolved alerts (default false).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// Recipients (required; a template).
    #[serde(deserialize_with = "z")]
    pub to: String,
    /// Sender; empty means `global.smtp_from`.
    #[serde(deserialize_with = "z")]
    pub from: String,
    /// HELO name; empty means `global.smtp_hello`.
    #[serde(deserialize_with = "z")]
    pub hello: String,
    /// SMTP server; empty means `global.smtp_smarthost`.
    pub smarthost: HostPort,
    /// SMTP user.
    #[serde(deserialize_with = "z")]
    pub auth_username: String,
    /// SMTP password.
    #[serde(deserialize_with = "z")]
    pub auth_password: Secret,
    /// File holding the SMTP password.
    #[serde(deserialize_with = "z")]
    pub auth_password_file: String,
    /// CRAM-MD5 secret.
    #[serde(deserialize_with = "z")]
    pub auth_secret: Secret,
    /// PLAIN identity.
    #[serde(deserialize_with = "z")]
    pub auth_identity: String,
    /// Extra headers, names canonicalised (`x-foo` → `X-Foo`).
    #[serde(deserialize_with = "string_map")]
    pub headers: BTreeMap<String, String>,
    /// HTML body template.
    #[serde(deserialize_with = "z")]
    pub html: String,
    /// Text body template.
    #[serde(deserialize_with = "z")]
    pub text: String,
    /// Require STARTTLS; `None` means `global.smtp_require_tls`.
    #[serde(deserialize_with = "opt_boolean")]
    pub require_tls: Option<bool>,
    /// TLS settings.
    #[serde(deserialize_with = "tls")]
    pub tls_config: TlsConfig,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: String::new(),
            hello: String::new(),
            smarthost: HostPort::default(),
            auth_username: String::new(),
            auth_password: Secret::default(),
            auth_password_file: String::new(),
            auth_secret: Secret::default(),
            auth_identity: String::new(),
            headers: BTreeMap::new(),
            html: t("email.default.html"),
            text: String::new(),
            require_tls: None,
            tls_config: TlsConfig::default(),
        }
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: each `-`-separated word capitalised,
/// unless the key holds a byte that is not a token character.
pub fn canonical_header_key(k: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !k.chars().all(token) {
        return k.to_string();
    }
    let mut out = String::with_capacity(k.len());
    let mut upper = true;
    for c in k.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

impl EmailConfig {
    pub(crate) fn check(&mut self) -> Result<(), Problem> {
        if self.to.is_empty() {
            return problem("to", "missing to address in email config");
        }
        let mut normalized = BTreeMap::new();
        for (k, v) in std::mem::take(&mut self.headers) {
            let n = canonical_header_key(&k);
            if normalized.insert(n.clone(), v).is_some() {
                return problem("headers", format!("duplicate header {n:?} in email config"));
            }
        }
        self.headers = normalized;
        Ok(())
    }
}

/// A link in a PagerDuty event.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyLink {
    /// Target.
    #[serde(deserialize_with = "z")]
    pub href: String,
    /// Text.
    #[serde(deserialize_with = "z")]
    pub text: String,
}

/// An image in a PagerDuty event.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyImage {
    /// Image URL.
    #[serde(deserialize_with = "z")]
    pub src: String,
    /// Alternative text.
    #[serde(deserialize_with = "z")]
    pub alt: String,
    /// Link target.
    #[serde(deserialize_with = "z")]
    pub href: String,
}

/// `pagerduty_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Events API v1 integration key.
    #[serde(deserialize_with = "z")]
    pub service_key: Secret,
    /// File holding the service key.
    #[serde(deserialize_with = "z")]
    pub service_key_file: String,
    /// Events API v2 integration key.
    #[serde(deserialize_with = "z")]
    pub routing_key: Secret,
    /// File holding the routing key.
    #[serde(deserialize_with = "z")]
    pub routing_key_file: String,
    /// API URL; `None` means `global.pagerduty_url`.
    #[serde(deserialize_with = "url")]
    pub url: Option<String>,
    /// Client name template.
    #[serde(deserialize_with = "z")]
    pub client: String,
    /// Client URL template.
    #[serde(deserialize_with = "z")]
    pub client_url: String,
    /// Description template.
    #[serde(deserialize_with = "z")]
    pub description: String,
    /// Details, with the four defaults added where not set.
    #[serde(deserialize_with = "string_map")]
    pub details: BTreeMap<String, String>,
    /// Images.
    #[serde(deserialize_with = "z")]
    pub images: Vec<PagerdutyImage>,
    /// Links.
    #[serde(deserialize_with = "z")]
    pub links: Vec<PagerdutyLink>,
    /// Source (defaults to `client`).
    #[serde(deserialize_with = "z")]
    pub source: String,
    /// Severity.
    #[serde(deserialize_with = "z")]
    pub severity: String,
    /// Class.
    #[serde(deserialize_with = "z")]
    pub class: String,
    /// Component.
    #[serde(deserialize_with = "z")]
    pub component: String,
    /// Group.
    #[serde(deserialize_with = "z")]
    pub group: String,
}

impl Default for PagerdutyConfig {
    fn default() -> Self {
        PagerdutyConfig {
            send_resolved: true,
            http_config: None,
            service_key: Secret::default(),
            service_key_file: String::new(),
            routing_key: Secret::default(),
            routing_key_file: String::new(),
            url: None,
            client: t("pagerduty.default.client"),
            client_url: t("pagerduty.default.clientURL"),
            description: r#"{{ template "pagerduty.default.description" .}}"#.into(),
            details: BTreeMap::new(),
            images: Vec::new(),
            links: Vec::new(),
            source: String::new(),
            severity: String::new(),
            class: String::new(),
            component: String::new(),
            group: String::new(),
        }
    }
}

impl PagerdutyConfig {
    pub(crate) fn check(&mut self) -> Result<(), Problem> {
        if self.routing_key.is_empty()
            && self.service_key.is_empty()
            && self.routing_key_file.is_empty()
            && self.service_key_file.is_empty()
        {
            return problem(
                "routing_key",
                "missing service or routing key in PagerDuty config",
            );
        }
        if !self.routing_key.is_empty() && !self.routing_key_file.is_empty() {
            return problem(
                "routing_key",
                "at most one of routing_key & routing_key_file must be configured",
            );
        }
        if !self.service_key.is_empty() && !self.service_key_file.is_empty() {
            return problem(
                "service_key",
                "at most one of service_key & service_key_file must be configured",
            );
        }
        if self.source.is_empty() {
            self.source = self.client.clone();
        }
        for (k, v) in [
            (
                "firing",
                r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
            ),
            (
                "resolved",
                r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
            ),
            ("num_firing", "{{ .Alerts.Firing | len }}"),
            ("num_resolved", "{{ .Alerts.Resolved | len }}"),
        ] {
            self.details.entry(k.into()).or_insert_with(|| v.into());
        }
        Ok(())
    }
}

/// The confirmation dialog of a Slack action.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfirmationField {
    /// Text (required).
    #[serde(deserialize_with = "z")]
    pub text: String,
    /// Title.
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// OK button text.
    #[serde(deserialize_with = "z")]
    pub ok_text: String,
    /// Dismiss button text.
    #[serde(deserialize_with = "z")]
    pub dismiss_text: String,
}

/// A Slack message action (button).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackAction {
    /// Type (required).
    #[serde(rename = "type", deserialize_with = "z")]
    pub kind: String,
    /// Text (required).
    #[serde(deserialize_with = "z")]
    pub text: String,
    /// Link; when set, `name`, `value` and `confirm` are dropped.
    #[serde(deserialize_with = "z")]
    pub url: String,
    /// Style.
    #[serde(deserialize_with = "z")]
    pub style: String,
    /// Name (required without `url`).
    #[serde(deserialize_with = "z")]
    pub name: String,
    /// Value.
    #[serde(deserialize_with = "z")]
    pub value: String,
    /// Confirmation dialog.
    pub confirm: Option<SlackConfirmationField>,
}

/// A Slack attachment field.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackField {
    /// Title (required).
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// Value (required).
    #[serde(deserialize_with = "z")]
    pub value: String,
    /// Short field; `None` means the config's `short_fields`.
    #[serde(deserialize_with = "opt_boolean")]
    pub short: Option<bool>,
}

/// `slack_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Notify about resolved alerts (default false).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Webhook URL (or `chat.postMessage`); from `global` when neither it nor the file
    /// is set.
    #[serde(deserialize_with = "secret_url")]
    pub api_url: Option<Secret>,
    /// File holding the URL.
    #[serde(deserialize_with = "z")]
    pub api_url_file: String,
    /// Channel or user.
    #[serde(deserialize_with = "z")]
    pub channel: String,
    /// User name template.
    #[serde(deserialize_with = "z")]
    pub username: String,
    /// Colour template.
    #[serde(deserialize_with = "z")]
    pub color: String,
    /// Title template.
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// Title link template.
    #[serde(deserialize_with = "z")]
    pub title_link: String,
    /// Pretext template.
    #[serde(deserialize_with = "z")]
    pub pretext: String,
    /// Text template.
    #[serde(deserialize_with = "z")]
    pub text: String,
    /// Attachment fields.
    #[serde(deserialize_with = "z")]
    pub fields: Vec<SlackField>,
    /// Default for fields' `short`.
    #[serde(deserialize_with = "boolean")]
    pub short_fields: bool,
    /// Footer template.
    #[serde(deserialize_with = "z")]
    pub footer: String,
    /// Fallback template.
    #[serde(deserialize_with = "z")]
    pub fallback: String,
    /// Callback id template.
    #[serde(deserialize_with = "z")]
    pub callback_id: String,
    /// Icon emoji template.
    #[serde(deserialize_with = "z")]
    pub icon_emoji: String,
    /// Icon URL template.
    #[serde(deserialize_with = "z")]
    pub icon_url: String,
    /// Image URL.
    #[serde(deserialize_with = "z")]
    pub image_url: String,
    /// Thumbnail URL.
    #[serde(deserialize_with = "z")]
    pub thumb_url: String,
    /// Link channel names and users.
    #[serde(deserialize_with = "boolean")]
    pub link_names: bool,
    /// Fields formatted as mrkdwn.
    #[serde(deserialize_with = "z")]
    pub mrkdwn_in: Vec<String>,
    /// Buttons.
    #[serde(deserialize_with = "z")]
    pub actions: Vec<SlackAction>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            send_resolved: false,
            http_config: None,
            api_url: None,
            api_url_file: String::new(),
            channel: String::new(),
            username: t("slack.default.username"),
            color: r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.into(),
            title: t("slack.default.title"),
            title_link: t("slack.default.titlelink"),
            pretext: t("slack.default.pretext"),
            text: t("slack.default.text"),
            fields: Vec::new(),
            short_fields: false,
            footer: t("slack.default.footer"),
            fallback: t("slack.default.fallback"),
            callback_id: t("slack.default.callbackid"),
            icon_emoji: t("slack.default.iconemoji"),
            icon_url: t("slack.default.iconurl"),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            mrkdwn_in: Vec::new(),
            actions: Vec::new(),
        }
    }
}

impl SlackConfig {
    pub(crate) fn check(&mut self) -> Result<(), Problem> {
        for f in &self.fields {
            if f.title.is_empty() {
                return problem("fields", "missing title in Slack field configuration");
            }
            if f.value.is_empty() {
                return problem("fields", "missing value in Slack field configuration");
            }
        }
        for a in &mut self.actions {
            if a.kind.is_empty() {
                return problem("actions", "missing type in Slack action configuration");
            }
            if a.text.is_empty() {
                return problem("actions", "missing text in Slack action configuration");
            }
            if let Some(c) = &a.confirm
                && c.text.is_empty()
            {
                return problem(
                    "actions",
                    "missing text in Slack confirmation configuration",
                );
            }
            if !a.url.is_empty() {
                a.name.clear();
                a.value.clear();
                a.confirm = None;
            } else if a.name.is_empty() {
                return problem(
                    "actions",
                    "missing name or url in Slack action configuration",
                );
            }
        }
        if self.api_url.is_some() && !self.api_url_file.is_empty() {
            return problem(
                "api_url",
                "at most one of api_url & api_url_file must be configured",
            );
        }
        Ok(())
    }
}

/// `webhook_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Endpoint (required).
    #[serde(deserialize_with = "url")]
    pub url: Option<String>,
    /// At most this many alerts per payload; 0 for all.
    #[serde(deserialize_with = "int")]
    pub max_alerts: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            send_resolved: true,
            http_config: None,
            url: None,
            max_alerts: 0,
        }
    }
}

impl WebhookConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        if self.url.is_none() {
            return problem("url", "missing URL in webhook config");
        }
        Ok(())
    }
}

/// `wechat_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatConfig {
    /// Notify about resolved alerts (default false).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// API secret; empty means `global.wechat_api_secret`.
    #[serde(deserialize_with = "z")]
    pub api_secret: Secret,
    /// Corporation id; empty means `global.wechat_api_corp_id`.
    #[serde(deserialize_with = "z")]
    pub corp_id: String,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// API URL; `None` means `global.wechat_api_url`.
    #[serde(deserialize_with = "url")]
    pub api_url: Option<String>,
    /// User template.
    #[serde(deserialize_with = "z")]
    pub to_user: String,
    /// Party template.
    #[serde(deserialize_with = "z")]
    pub to_party: String,
    /// Tag template.
    #[serde(deserialize_with = "z")]
    pub to_tag: String,
    /// Agent id template.
    #[serde(deserialize_with = "z")]
    pub agent_id: String,
    /// `text` (default) or `markdown`.
    #[serde(deserialize_with = "z")]
    pub message_type: String,
}

impl Default for WechatConfig {
    fn default() -> Self {
        WechatConfig {
            send_resolved: false,
            http_config: None,
            api_secret: Secret::default(),
            corp_id: String::new(),
            message: t("wechat.default.message"),
            api_url: None,
            to_user: t("wechat.default.to_user"),
            to_party: t("wechat.default.to_party"),
            to_tag: t("wechat.default.to_tag"),
            agent_id: t("wechat.default.agent_id"),
            message_type: String::new(),
        }
    }
}

impl WechatConfig {
    pub(crate) fn check(&mut self) -> Result<(), Problem> {
        if self.message_type.is_empty() {
            self.message_type = "text".into();
        }
        if self.message_type != "text" && self.message_type != "markdown" {
            return problem(
                "message_type",
                format!(
                    "weChat message type {:?} does not match valid options ^(text|markdown)$",
                    self.message_type
                ),
            );
        }
        Ok(())
    }
}

/// An Opsgenie responder.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsGenieResponder {
    /// Id.
    #[serde(deserialize_with = "z")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "z")]
    pub name: String,
    /// User name.
    #[serde(deserialize_with = "z")]
    pub username: String,
    /// `team`, `teams`, `user`, `escalation`, `schedule`, or a template.
    #[serde(rename = "type", deserialize_with = "z")]
    pub kind: String,
}

/// `opsgenie_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsGenieConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// API key; from `global` when neither it nor the file is set.
    #[serde(deserialize_with = "z")]
    pub api_key: Secret,
    /// File holding the API key.
    #[serde(deserialize_with = "z")]
    pub api_key_file: String,
    /// API URL; `None` means `global.opsgenie_api_url`. Ends with `/`.
    #[serde(deserialize_with = "url")]
    pub api_url: Option<String>,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// Description template.
    #[serde(deserialize_with = "z")]
    pub description: String,
    /// Source template.
    #[serde(deserialize_with = "z")]
    pub source: String,
    /// Details.
    #[serde(deserialize_with = "string_map")]
    pub details: BTreeMap<String, String>,
    /// Entity template.
    #[serde(deserialize_with = "z")]
    pub entity: String,
    /// Responders.
    #[serde(deserialize_with = "z")]
    pub responders: Vec<OpsGenieResponder>,
    /// Actions (comma-separated template).
    #[serde(deserialize_with = "z")]
    pub actions: String,
    /// Tags (comma-separated template).
    #[serde(deserialize_with = "z")]
    pub tags: String,
    /// Note template.
    #[serde(deserialize_with = "z")]
    pub note: String,
    /// Priority template.
    #[serde(deserialize_with = "z")]
    pub priority: String,
    /// Update message and description of existing alerts.
    #[serde(deserialize_with = "boolean")]
    pub update_alerts: bool,
}

impl Default for OpsGenieConfig {
    fn default() -> Self {
        OpsGenieConfig {
            send_resolved: true,
            http_config: None,
            api_key: Secret::default(),
            api_key_file: String::new(),
            api_url: None,
            message: t("opsgenie.default.message"),
            description: t("opsgenie.default.description"),
            source: t("opsgenie.default.source"),
            details: BTreeMap::new(),
            entity: String::new(),
            responders: Vec::new(),
            actions: String::new(),
            tags: String::new(),
            note: String::new(),
            priority: String::new(),
            update_alerts: false,
        }
    }
}

impl OpsGenieConfig {
    pub(crate) fn check(&mut self) -> Result<(), Problem> {
        if !self.api_key.is_empty() && !self.api_key_file.is_empty() {
            return problem(
                "api_key",
                "at most one of api_key & api_key_file must be configured",
            );
        }
        for r in &mut self.responders {
            if r.id.is_empty() && r.username.is_empty() && r.name.is_empty() {
                return problem(
                    "responders",
                    format!(
                        "opsGenieConfig responder {{{} {} {} {}}} has to have at least one of id, username or name specified",
                        r.id, r.name, r.username, r.kind
                    ),
                );
            }
            if r.kind.contains("{{") {
                let mut tmpl = ember_template::Template::new("");
                if let Err(e) = tmpl.parse(&r.kind) {
                    return problem(
                        "responders",
                        format!("opsGenieConfig responder type is not a valid template: {e}"),
                    );
                }
            } else {
                r.kind = r.kind.to_lowercase();
                if !matches!(
                    r.kind.as_str(),
                    "team" | "teams" | "user" | "escalation" | "schedule"
                ) {
                    return problem(
                        "responders",
                        format!(
                            "opsGenieConfig responder {{{} {} {} {}}} type does not match valid options ^(team|teams|user|escalation|schedule)$",
                            r.id, r.name, r.username, r.kind
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// `victorops_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VictorOpsConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// API key; from `global` when neither it nor the file is set.
    #[serde(deserialize_with = "z")]
    pub api_key: Secret,
    /// File holding the API key.
    #[serde(deserialize_with = "z")]
    pub api_key_file: String,
    /// API URL; `None` means `global.victorops_api_url`. Ends with `/`.
    #[serde(deserialize_with = "url")]
    pub api_url: Option<String>,
    /// Routing key (required).
    #[serde(deserialize_with = "z")]
    pub routing_key: String,
    /// Message type template.
    #[serde(deserialize_with = "z")]
    pub message_type: String,
    /// State message template.
    #[serde(deserialize_with = "z")]
    pub state_message: String,
    /// Entity display name template.
    #[serde(deserialize_with = "z")]
    pub entity_display_name: String,
    /// Monitoring tool template.
    #[serde(deserialize_with = "z")]
    pub monitoring_tool: String,
    /// Extra fields.
    #[serde(deserialize_with = "string_map")]
    pub custom_fields: BTreeMap<String, String>,
}

impl Default for VictorOpsConfig {
    fn default() -> Self {
        VictorOpsConfig {
            send_resolved: true,
            http_config: None,
            api_key: Secret::default(),
            api_key_file: String::new(),
            api_url: None,
            routing_key: String::new(),
            message_type: "CRITICAL".into(),
            state_message: t("victorops.default.state_message"),
            entity_display_name: t("victorops.default.entity_display_name"),
            monitoring_tool: t("victorops.default.monitoring_tool"),
            custom_fields: BTreeMap::new(),
        }
    }
}

impl VictorOpsConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        if self.routing_key.is_empty() {
            return problem("routing_key", "missing Routing key in VictorOps config");
        }
        if !self.api_key.is_empty() && !self.api_key_file.is_empty() {
            return problem(
                "api_key",
                "at most one of api_key & api_key_file must be configured",
            );
        }
        for f in [
            "routing_key",
            "message_type",
            "state_message",
            "entity_display_name",
            "monitoring_tool",
            "entity_id",
            "entity_state",
        ] {
            if self.custom_fields.contains_key(f) {
                return problem(
                    "custom_fields",
                    format!(
                        "victorOps config contains custom field {f} which cannot be used as it conflicts with the fixed/static fields"
                    ),
                );
            }
        }
        Ok(())
    }
}

/// `pushover_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushoverConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Recipient key (required).
    #[serde(deserialize_with = "z")]
    pub user_key: Secret,
    /// Application token (required).
    #[serde(deserialize_with = "z")]
    pub token: Secret,
    /// Title template.
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// Supplementary URL template.
    #[serde(deserialize_with = "z")]
    pub url: String,
    /// URL title template.
    #[serde(deserialize_with = "z")]
    pub url_title: String,
    /// Sound.
    #[serde(deserialize_with = "z")]
    pub sound: String,
    /// Priority template.
    #[serde(deserialize_with = "z")]
    pub priority: String,
    /// Retry period for emergency priority (Go duration, default 1m).
    #[serde(deserialize_with = "go_duration")]
    pub retry: std::time::Duration,
    /// Expiry for emergency priority (Go duration, default 1h).
    #[serde(deserialize_with = "go_duration")]
    pub expire: std::time::Duration,
    /// Message is HTML.
    #[serde(deserialize_with = "boolean")]
    pub html: bool,
}

impl Default for PushoverConfig {
    fn default() -> Self {
        PushoverConfig {
            send_resolved: true,
            http_config: None,
            user_key: Secret::default(),
            token: Secret::default(),
            title: t("pushover.default.title"),
            message: t("pushover.default.message"),
            url: t("pushover.default.url"),
            url_title: String::new(),
            sound: String::new(),
            priority: r#"{{ if eq .Status "firing" }}2{{ else }}0{{ end }}"#.into(),
            retry: std::time::Duration::from_secs(60),
            expire: std::time::Duration::from_secs(3600),
            html: false,
        }
    }
}

impl PushoverConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        if self.user_key.is_empty() {
            return problem("user_key", "missing user key in Pushover config");
        }
        if self.token.is_empty() {
            return problem("token", "missing token in Pushover config");
        }
        Ok(())
    }
}

/// AWS Signature v4 settings of `sns_configs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigV4Config {
    /// Region.
    #[serde(deserialize_with = "z")]
    pub region: String,
    /// Access key.
    #[serde(deserialize_with = "z")]
    pub access_key: String,
    /// Secret key.
    #[serde(deserialize_with = "z")]
    pub secret_key: Secret,
    /// Profile.
    #[serde(deserialize_with = "z")]
    pub profile: String,
    /// Role to assume.
    #[serde(deserialize_with = "z")]
    pub role_arn: String,
}

/// `sns_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnsConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// SNS API URL.
    #[serde(deserialize_with = "z")]
    pub api_url: String,
    /// Signing settings.
    #[serde(deserialize_with = "z")]
    pub sigv4: SigV4Config,
    /// Topic ARN.
    #[serde(deserialize_with = "z")]
    pub topic_arn: String,
    /// Phone number (SMS).
    #[serde(deserialize_with = "z")]
    pub phone_number: String,
    /// Target ARN (mobile push).
    #[serde(deserialize_with = "z")]
    pub target_arn: String,
    /// Subject template.
    #[serde(deserialize_with = "z")]
    pub subject: String,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// Message attributes.
    #[serde(deserialize_with = "string_map")]
    pub attributes: BTreeMap<String, String>,
}

impl Default for SnsConfig {
    fn default() -> Self {
        SnsConfig {
            send_resolved: true,
            http_config: None,
            api_url: String::new(),
            sigv4: SigV4Config::default(),
            topic_arn: String::new(),
            phone_number: String::new(),
            target_arn: String::new(),
            subject: t("sns.default.subject"),
            message: t("sns.default.message"),
            attributes: BTreeMap::new(),
        }
    }
}

impl SnsConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        if self.sigv4.access_key.is_empty() != self.sigv4.secret_key.is_empty() {
            return problem(
                "sigv4",
                "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config",
            );
        }
        // 0.25 chains `!=` over the three emptiness tests: it rejects when an even
        // number of the three are set (none, or two), and accepts one or all three.
        let a = self.target_arn.is_empty();
        let b = self.topic_arn.is_empty();
        let c = self.phone_number.is_empty();
        if (a != b) != c {
            return problem(
                "topic_arn",
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
            );
        }
        Ok(())
    }
}

/// `telegram_configs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// API URL; `None` means `global.telegram_api_url`.
    #[serde(deserialize_with = "url")]
    pub api_url: Option<String>,
    /// Bot token (this or the file is required).
    #[serde(deserialize_with = "z")]
    pub bot_token: Secret,
    /// File holding the bot token (Alertmanager 0.26).
    #[serde(deserialize_with = "z")]
    pub bot_token_file: String,
    /// Chat id (required).
    #[serde(deserialize_with = "int")]
    pub chat_id: i64,
    /// Message template.
    #[serde(deserialize_with = "z")]
    pub message: String,
    /// Send silently.
    #[serde(deserialize_with = "boolean")]
    pub disable_notifications: bool,
    /// `Markdown`, `MarkdownV2`, `HTML` (default) or empty.
    #[serde(deserialize_with = "z")]
    pub parse_mode: String,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            send_resolved: true,
            http_config: None,
            api_url: None,
            bot_token: Secret::default(),
            bot_token_file: String::new(),
            chat_id: 0,
            message: t("telegram.default.message"),
            disable_notifications: false,
            parse_mode: "HTML".into(),
        }
    }
}

impl TelegramConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        match (self.bot_token.is_empty(), self.bot_token_file.is_empty()) {
            // 0.25's message: the file is an addition of 0.26.
            (true, true) => return problem("bot_token", "missing bot_token on telegram_config"),
            (false, false) => {
                return problem(
                    "bot_token",
                    "at most one of bot_token & bot_token_file must be configured",
                );
            }
            _ => {}
        }
        if self.chat_id == 0 {
            return problem("chat_id", "missing chat_id on telegram_config");
        }
        if !matches!(
            self.parse_mode.as_str(),
            "" | "Markdown" | "MarkdownV2" | "HTML"
        ) {
            return problem(
                "parse_mode",
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
            );
        }
        Ok(())
    }
}

/// `msteams_configs` (Alertmanager 0.26's schema; see the module doc).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsTeamsConfig {
    /// Notify about resolved alerts (default true).
    #[serde(deserialize_with = "boolean")]
    pub send_resolved: bool,
    /// HTTP client; `None` means the global one.
    #[serde(deserialize_with = "http_config")]
    pub http_config: Option<HttpClientConfig>,
    /// Incoming webhook URL.
    #[serde(deserialize_with = "secret_url")]
    pub webhook_url: Option<Secret>,
    /// File holding the webhook URL.
    #[serde(deserialize_with = "z")]
    pub webhook_url_file: String,
    /// Title template.
    #[serde(deserialize_with = "z")]
    pub title: String,
    /// Summary template.
    #[serde(deserialize_with = "z")]
    pub summary: String,
    /// Text template.
    #[serde(deserialize_with = "z")]
    pub text: String,
}

impl Default for MsTeamsConfig {
    fn default() -> Self {
        MsTeamsConfig {
            send_resolved: true,
            http_config: None,
            webhook_url: None,
            webhook_url_file: String::new(),
            title: t("msteams.default.title"),
            summary: t("msteams.default.summary"),
            text: t("msteams.default.text"),
        }
    }
}

impl MsTeamsConfig {
    pub(crate) fn check(&self) -> Result<(), Problem> {
        match (
            self.webhook_url.is_some(),
            !self.webhook_url_file.is_empty(),
        ) {
            (false, false) => problem(
                "webhook_url",
                "one of webhook_url or webhook_url_file must be configured",
            ),
            (true, true) => problem(
                "webhook_url",
                "at most one of webhook_url & webhook_url_file must be configured",
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_are_canonicalised_like_go() {
        assert_eq!(canonical_header_key("x-foo-BAR"), "X-Foo-Bar");
        assert_eq!(canonical_header_key("subject"), "Subject");
        assert_eq!(canonical_header_key("bad key"), "bad key");
    }

    #[test]
    fn sns_target_rule_is_0_25s() {
        let mut c = SnsConfig::default();
        assert!(c.check().is_err());
        c.topic_arn = "t".into();
        assert!(c.check().is_ok());
        c.phone_number = "p".into();
        assert!(c.check().is_err());
        c.target_arn = "a".into();
        assert!(c.check().is_ok());
    }
}
