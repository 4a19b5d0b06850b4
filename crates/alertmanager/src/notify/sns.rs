//! Amazon SNS (`Publish` of the query API), signed with AWS Signature Version 4.
//!
//! What is sent is what Alertmanager's AWS SDK sends: a form body with `Action`,
//! `Version`, the target (`TopicArn`, `TargetArn` or `PhoneNumber`), `Message`
//! (cut to 256 KiB, or 1600 bytes for SMS, with a `truncated` attribute then),
//! `Subject` and the message attributes as `String`s; a FIFO topic (`….fifo`) gets
//! the hash of the group key as deduplication id and message group. The endpoint is
//! `api_url` (a template) or `https://sns.{region}.amazonaws.com/`.
//!
//! Credentials, in order: `sigv4.access_key`/`secret_key`; the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the shared
//! credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
//! `sigv4.profile`, `AWS_PROFILE` or `default`; a named profile is looked up before
//! the environment). The region is `sigv4.region`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`. Not supported, and said so at each notification:
//! `sigv4.role_arn` (STS `AssumeRole`) and instance or container roles. Retried: 5xx.

use super::{Context, NotifyError, Render, check_with, fail, key_hash};
use crate::receivers::SnsConfig;
use crate::tmpl::Data;
use ember_discovery::sigv4;
use ember_discovery::sigv4::aws_escape;
pub(super) use ember_discovery::sigv4::{Credentials, ToSign, authorization};

/// Largest message, in bytes: 256 KiB, and 1600 for SMS.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_SMS_BYTES: usize = 1600;
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn credentials(c: &SnsConfig) -> Result<Credentials, NotifyError> {
    if !c.sigv4.role_arn.is_empty() {
        return Err(fail(
            false,
            "sigv4.role_arn (STS AssumeRole) is not supported by Ember yet",
        ));
    }
    sigv4::credentials(
        &c.sigv4.access_key,
        c.sigv4.secret_key.expose(),
        &c.sigv4.profile,
    )
    .map_err(|e| fail(false, e))
}

fn region(c: &SnsConfig) -> Result<String, NotifyError> {
    sigv4::region(&c.sigv4.region).ok_or_else(|| {
        fail(
            true,
            "region not configured in sns.sigv4.region or in default credentials chain",
        )
    })
}

/// `s` cut to at most `n` bytes on a character boundary, and whether it was cut.
fn cut(s: String, n: usize) -> (String, bool) {
    if s.len() <= n {
        return (s, false);
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// The `Publish` parameters for `data`, sorted as the SDK sends them.
pub(super) fn parameters(
    c: &SnsConfig,
    r: &Render<'_>,
    group_key: &str,
) -> Result<Vec<(String, String)>, NotifyError> {
    let mut p: Vec<(String, String)> = vec![
        ("Action".into(), "Publish".into()),
        ("Version".into(), "2010-03-31".into()),
    ];
    let mut limit = MAX_MESSAGE_BYTES;
    if !c.topic_arn.is_empty() {
        let topic = r.text(&c.topic_arn)?;
        if topic.ends_with(".fifo") {
            let key = key_hash(group_key);
            p.push(("MessageDeduplicationId".into(), key.clone()));
            p.push(("MessageGroupId".into(), key));
        }
        p.push(("TopicArn".into(), topic));
    }
    if !c.phone_number.is_empty() {
        p.push(("PhoneNumber".into(), r.text(&c.phone_number)?));
        limit = MAX_SMS_BYTES;
    }
    if !c.target_arn.is_empty() {
        p.push(("TargetArn".into(), r.text(&c.target_arn)?));
    }
    let mut attributes = std::collections::BTreeMap::new();
    for (k, v) in &c.attributes {
        attributes.insert(k.clone(), r.text(v)?);
    }
    let (message, truncated) = cut(r.text(&c.message)?, limit);
    if truncated {
        attributes.insert("truncated".into(), "true".into());
    }
    p.push(("Message".into(), message));
    for (i, (k, v)) in attributes.into_iter().enumerate() {
        let at = format!("MessageAttributes.entry.{}", i + 1);
        p.push((format!("{at}.Name"), k));
        p.push((format!("{at}.Value.DataType"), "String".into()));
        p.push((format!("{at}.Value.StringValue"), v));
    }
    if !c.subject.is_empty() {
        p.push(("Subject".into(), r.text(&c.subject)?));
    }
    p.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(p)
}

/// The text of `<tag>…</tag>` in an XML answer.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

pub(super) async fn notify(
    c: &SnsConfig,
    ctx: &Context<'_>,
    data: &Data,
) -> Result<(), NotifyError> {
    let r = Render::new(ctx.templates, data);
    let creds = credentials(c)?;
    let region = region(c)?;
    let endpoint = match r.text(&c.api_url)? {
        e if e.is_empty() => format!("https://sns.{region}.amazonaws.com/"),
        e if e.contains("://") => e,
        e => format!("https://{e}"),
    };
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", &endpoint));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // The Host header is the authority without a default port.
    let host = match (scheme, host.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h,
        _ => host,
    };
    let params = parameters(c, &r, ctx.group_key)?;
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", aws_escape(k), aws_escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    let amz_date = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut signed: Vec<(&str, &str)> =
        vec![("content-type", CONTENT_TYPE), ("x-amz-date", &amz_date)];
    if !creds.session_token.is_empty() {
        signed.push(("x-amz-security-token", &creds.session_token));
    }
    let auth = authorization(
        &ToSign {
            method: "POST",
            host,
            path,
            query: "",
            headers: &signed,
            body: body.as_bytes(),
        },
        &creds,
        &region,
        "sns",
        &amz_date,
    );
    let mut headers: Vec<(&str, String)> = vec![
        ("Content-Type", CONTENT_TYPE.to_string()),
        ("Host", host.to_string()),
        ("X-Amz-Date", amz_date.clone()),
        ("Authorization", auth),
    ];
    if !creds.session_token.is_empty() {
        headers.push(("X-Amz-Security-Token", creds.session_token.clone()));
    }
    let url = format!("{scheme}://{host}{path}");
    let http = c.http_config.as_ref().or(ctx.global_http);
    let reply = ctx
        .client
        .send("POST", &url, &headers, body.into_bytes(), http)
        .await?;
    let text = String::from_utf8_lossy(&reply.body);
    let details = match (xml_text(&text, "Code"), xml_text(&text, "Message")) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => text.chars().take(256).collect(),
    };
    check_with(&reply, &[], &details)
}
