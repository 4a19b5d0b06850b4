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

use super::{Context, NotifyError, Render, check_with, fail, hex, key_hash};
use crate::receivers::SnsConfig;
use crate::tmpl::Data;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Largest message, in bytes: 256 KiB, and 1600 for SMS.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_SMS_BYTES: usize = 1600;
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Credentials {
    pub(super) access_key: String,
    pub(super) secret_key: String,
    pub(super) session_token: String,
}

/// Credentials from a shared credentials file's `profile` section.
fn from_file(text: &str, profile: &str) -> Option<Credentials> {
    let mut section = String::new();
    let (mut ak, mut sk, mut token) = (String::new(), String::new(), String::new());
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => ak = v,
                "aws_secret_access_key" => sk = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    (!ak.is_empty() && !sk.is_empty()).then_some(Credentials {
        access_key: ak,
        secret_key: sk,
        session_token: token,
    })
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn credentials(c: &SnsConfig) -> Result<Credentials, NotifyError> {
    if !c.sigv4.role_arn.is_empty() {
        return Err(fail(
            false,
            "sigv4.role_arn (STS AssumeRole) is not supported by Ember yet",
        ));
    }
    if !c.sigv4.access_key.is_empty() && !c.sigv4.secret_key.is_empty() {
        return Ok(Credentials {
            access_key: c.sigv4.access_key.clone(),
            secret_key: c.sigv4.secret_key.expose().to_string(),
            session_token: String::new(),
        });
    }
    let from_env = || {
        let (ak, sk) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"));
        (!ak.is_empty() && !sk.is_empty()).then(|| Credentials {
            access_key: ak,
            secret_key: sk,
            session_token: env("AWS_SESSION_TOKEN"),
        })
    };
    let profile = if c.sigv4.profile.is_empty() {
        Some(env("AWS_PROFILE")).filter(|p| !p.is_empty())
    } else {
        Some(c.sigv4.profile.clone())
    };
    let from_shared = |profile: &str| {
        let path = Some(env("AWS_SHARED_CREDENTIALS_FILE"))
            .filter(|p| !p.is_empty())
            .or_else(|| {
                let home = env("HOME");
                (!home.is_empty()).then(|| format!("{home}/.aws/credentials"))
            })?;
        from_file(&std::fs::read_to_string(path).ok()?, profile)
    };
    let found = match &profile {
        Some(p) => from_shared(p).or_else(from_env),
        None => from_env().or_else(|| from_shared("default")),
    };
    found.ok_or_else(|| {
        fail(
            false,
            "no AWS credentials: set sigv4.access_key and sigv4.secret_key, the AWS_* environment variables or a shared credentials file (instance and container roles are not supported by Ember yet)",
        )
    })
}

fn region(c: &SnsConfig) -> Result<String, NotifyError> {
    [
        c.sigv4.region.clone(),
        env("AWS_REGION"),
        env("AWS_DEFAULT_REGION"),
    ]
    .into_iter()
    .find(|r| !r.is_empty())
    .ok_or_else(|| {
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

/// RFC 3986 percent-encoding of everything but unreserved characters, as SigV4
/// and the AWS query protocol want it.
fn aws_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A request to sign: method, host (as sent in `Host`), path, the headers to sign
/// besides `host` (lower-case names), and the body.
pub(super) struct ToSign<'a> {
    pub(super) method: &'a str,
    pub(super) host: &'a str,
    pub(super) path: &'a str,
    pub(super) query: &'a str,
    pub(super) headers: &'a [(&'a str, &'a str)],
    pub(super) body: &'a [u8],
}

/// The `Authorization` header of Signature Version 4 for `req`, at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`).
pub(super) fn authorization(
    req: &ToSign<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.push(("host".into(), req.host.to_string()));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let path = if req.path.is_empty() {
        "/".to_string()
    } else {
        req.path
            .split('/')
            .map(aws_escape)
            .collect::<Vec<_>>()
            .join("/")
    };
    let canonical = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed}\n{}",
        req.method,
        req.query,
        hex(&Sha256::digest(req.body))
    );
    let date = &amz_date[..amz_date.len().min(8)];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of AWS's Signature Version 4 documentation (IAM
    /// `ListUsers`, 2015-08-30).
    #[test]
    fn signature_v4_matches_awss_example() {
        let creds = Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: String::new(),
        };
        let auth = authorization(
            &ToSign {
                method: "GET",
                host: "iam.amazonaws.com",
                path: "/",
                query: "Action=ListUsers&Version=2010-05-08",
                headers: &[
                    ("Content-Type", CONTENT_TYPE),
                    ("X-Amz-Date", "20150830T123600Z"),
                ],
                body: b"",
            },
            &creds,
            "us-east-1",
            "iam",
            "20150830T123600Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn shared_credentials_file() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[ops]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=T\n";
        assert_eq!(
            from_file(text, "ops"),
            Some(Credentials {
                access_key: "C".into(),
                secret_key: "D".into(),
                session_token: "T".into()
            })
        );
        assert_eq!(
            from_file(text, "default").map(|c| c.access_key),
            Some("A".into())
        );
        assert_eq!(from_file(text, "none"), None);
    }
}
