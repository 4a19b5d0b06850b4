//! AWS Signature Version 4 for outgoing requests: the `sigv4` block of
//! `remote_write` and `alertmanager_config` (Amazon Managed Service for Prometheus,
//! service `aps`) and the Alertmanager's SNS receiver.
//!
//! Credentials, in order: the configured access and secret key; the shared
//! credentials file's profile when one is named (`profile`, or `AWS_PROFILE`); the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
//! the file's `default` profile (`AWS_SHARED_CREDENTIALS_FILE` or
//! `~/.aws/credentials`). The region is the configured one, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`. Not supported: `role_arn` (STS `AssumeRole`) and instance
//! or container roles — a configuration asking for them is refused at load time.
//!
//! Written here rather than taken from the AWS SDK: signing is one canonical string
//! and four HMACs, and the SDK would bring its own HTTP and TLS stacks.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token of temporary credentials; empty for long-term keys.
    pub session_token: String,
}

/// Credentials from a shared credentials file's `profile` section.
pub fn from_file(text: &str, profile: &str) -> Option<Credentials> {
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

/// The credentials to sign with, looked up in the order of the module doc.
pub fn credentials(
    access_key: &str,
    secret_key: &str,
    profile: &str,
) -> Result<Credentials, String> {
    if !access_key.is_empty() && !secret_key.is_empty() {
        return Ok(Credentials {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
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
    let profile = if profile.is_empty() {
        Some(env("AWS_PROFILE")).filter(|p| !p.is_empty())
    } else {
        Some(profile.to_string())
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
        "no AWS credentials: set sigv4.access_key and sigv4.secret_key, the AWS_* environment variables or a shared credentials file (instance and container roles are not supported by Ember yet)".to_string()
    })
}

/// The configured region, or the environment's.
pub fn region(configured: &str) -> Option<String> {
    [
        configured.to_string(),
        env("AWS_REGION"),
        env("AWS_DEFAULT_REGION"),
    ]
    .into_iter()
    .find(|r| !r.is_empty())
}

/// RFC 3986 percent-encoding of everything but unreserved characters, as SigV4
/// and the AWS query protocol want it.
pub fn aws_escape(s: &str) -> String {
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

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A request to sign: method, host (as sent in `Host`), path, query, the headers to
/// sign besides `host`, and the body.
pub struct ToSign<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The `Host` header's value: the authority without a default port.
    pub host: &'a str,
    /// The path, unescaped.
    pub path: &'a str,
    /// The canonical query string (already sorted and escaped).
    pub query: &'a str,
    /// Headers to sign besides `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// The `Authorization` header of Signature Version 4 for `req`, at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`).
pub fn authorization(
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

/// `YYYYMMDDTHHMMSSZ` of a Unix time in seconds.
pub fn amz_date(unix_secs: i64) -> String {
    let c = ember_model::time::civil(unix_secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A `sigv4` block resolved for signing: credentials and region, looked up once.
#[derive(Clone, Debug)]
pub struct Signer {
    creds: Credentials,
    region: String,
    service: String,
}

impl Signer {
    /// Resolves `cfg` (credentials and region) for `service` (`aps` for remote write
    /// and Alertmanagers, as Prometheus signs them).
    pub fn new(cfg: &ember_config::SigV4Config, service: &str) -> Result<Signer, String> {
        if !cfg.role_arn.is_empty() {
            return Err("sigv4.role_arn (STS AssumeRole) is not supported by Ember yet".into());
        }
        let creds = credentials(&cfg.access_key, cfg.secret_key.expose(), &cfg.profile)?;
        let region = region(&cfg.region)
            .ok_or("region not configured in sigv4 or in default credentials chain")?;
        Ok(Signer {
            creds,
            region,
            service: service.to_string(),
        })
    }

    /// The headers to add to a request to `url` with `headers` and `body`, signed
    /// now: `X-Amz-Date`, `X-Amz-Security-Token` for temporary credentials, and
    /// `Authorization`. Every given header is signed except `User-Agent` and
    /// `Authorization`, as the AWS SDK signer Prometheus uses does.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.sign_at(method, url, headers, body, now)
    }

    fn sign_at(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        now: i64,
    ) -> Result<Vec<(&'static str, String)>, String> {
        let u = url::Url::parse(url).map_err(|e| format!("sigv4: {url}: {e}"))?;
        let host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(format!("sigv4: {url}: no host")),
        };
        let mut query: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| (aws_escape(&k), aws_escape(&v)))
            .collect();
        query.sort();
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let path = percent_decode(u.path());
        let date = amz_date(now);
        let mut signed: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("user-agent")
                    && !k.eq_ignore_ascii_case("authorization")
                    && !k.eq_ignore_ascii_case("host")
            })
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        signed.push(("x-amz-date", &date));
        if !self.creds.session_token.is_empty() {
            signed.push(("x-amz-security-token", &self.creds.session_token));
        }
        let auth = authorization(
            &ToSign {
                method,
                host: &host,
                path: &path,
                query: &query,
                headers: &signed,
                body,
            },
            &self.creds,
            &self.region,
            &self.service,
            &date,
        );
        let mut out = vec![("X-Amz-Date", date.clone())];
        if !self.creds.session_token.is_empty() {
            out.push(("X-Amz-Security-Token", self.creds.session_token.clone()));
        }
        out.push(("Authorization", auth));
        Ok(out)
    }
}

/// `%XX` sequences decoded (the canonical path is escaped again when signing).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
                    (
                        "Content-Type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    ),
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
        // The same request through `Signer`, from its URL and time.
        let s = Signer {
            creds,
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let h = s
            .sign_at(
                "GET",
                "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers",
                &[(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                b"",
                1_440_938_160,
            )
            .unwrap();
        assert_eq!(h[0], ("X-Amz-Date", "20150830T123600Z".into()));
        assert_eq!(h[1].1, auth);
    }

    /// Two cases of AWS's SigV4 test suite (`get-vanilla`, `post-vanilla`): service
    /// `service`, region `us-east-1`, 2015-08-30T12:36:00Z.
    #[test]
    fn aws_test_suite_vanilla_requests() {
        let s = Signer {
            creds: Credentials {
                access_key: "AKIDEXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: String::new(),
            },
            region: "us-east-1".into(),
            service: "service".into(),
        };
        for (method, signature) in [
            (
                "GET",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "POST",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
        ] {
            let h = s
                .sign_at(
                    method,
                    "https://example.amazonaws.com/",
                    &[],
                    b"",
                    1_440_938_160,
                )
                .unwrap();
            assert_eq!(
                h[1].1,
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
                ),
                "{method}"
            );
        }
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

    #[test]
    fn paths_and_dates() {
        assert_eq!(percent_decode("/a%20b/c"), "/a b/c");
        assert_eq!(percent_decode("/50%"), "/50%");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    }
}
