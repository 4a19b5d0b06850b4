//! Small value types of `alertmanager.yml` with Alertmanager's parsing rules: URLs,
//! `host:port` addresses, Go durations, label names.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// Checks a URL the way Alertmanager's `parseURL` does after Go's `url.Parse`: the
/// scheme must be `http` or `https` (any case) and the host non-empty.
pub fn check_url(s: &str) -> Result<(), String> {
    let scheme_end = s.find(':').filter(|&i| {
        i > 0
            && s[..i].chars().enumerate().all(|(j, c)| {
                c.is_ascii_alphabetic() || (j > 0 && (c.is_ascii_digit() || "+-.".contains(c)))
            })
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (s[..i].to_ascii_lowercase(), &s[i + 1..]),
        None => (String::new(), s),
    };
    if s.chars().any(|c| c.is_ascii_control()) {
        return Err(format!(
            "parse {s:?}: net/url: invalid control character in URL"
        ));
    }
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    let host = rest
        .strip_prefix("//")
        .map(|a| {
            let auth = a.split(['/', '?', '#']).next().unwrap_or("");
            auth.rsplit('@').next().unwrap_or("")
        })
        .unwrap_or("");
    check_host(s, host)?;
    if host.is_empty() {
        return Err("missing host for URL".into());
    }
    Ok(())
}

/// Go's `url.parseHost` checks: a bracketed IPv6 literal needs its `]` and only a
/// port after it; a port is digits; host characters are those Go leaves unescaped.
fn check_host(url: &str, host: &str) -> Result<(), String> {
    let port_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let name = if let Some(inner) = host.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Err(format!("parse {url:?}: missing ']' in host"));
        };
        let after = &inner[end + 1..];
        if !(after.is_empty() || (after.starts_with(':') && port_ok(&after[1..]))) {
            return Err(format!("parse {url:?}: invalid port {after:?} after host"));
        }
        &inner[..end]
    } else {
        match host.rfind(':') {
            Some(i) => {
                if !port_ok(&host[i + 1..]) {
                    return Err(format!(
                        "parse {url:?}: invalid port {:?} after host",
                        &host[i..]
                    ));
                }
                &host[..i]
            }
            None => host,
        }
    };
    for c in name.chars() {
        let ok =
            !c.is_ascii() || c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:[]<>\"%".contains(c);
        if !ok {
            return Err(format!(
                "parse {url:?}: invalid character {:?} in host name",
                c.to_string()
            ));
        }
    }
    Ok(())
}

/// For `Option<String>` URL fields (`*URL` in Alertmanager).
pub(crate) fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => check_url(&s)
            .map(|()| Some(s))
            .map_err(serde::de::Error::custom),
    }
}

/// For secret URL fields (`*SecretURL`): as [`url`], and `<secret>` is accepted so
/// that a configuration printed by the API reads back.
pub(crate) fn secret_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<ember_config::Secret>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s == "<secret>" => Ok(Some(ember_config::Secret::new(s))),
        Some(s) => check_url(&s)
            .map(|()| Some(ember_config::Secret::new(s)))
            .map_err(serde::de::Error::custom),
    }
}

/// A `host:port` address (`smtp_smarthost`, `smarthost`); empty when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (name or number).
    pub port: String,
}

impl HostPort {
    /// Whether no address was given.
    pub fn is_empty(&self) -> bool {
        self.host.is_empty() && self.port.is_empty()
    }

    /// Parses with Go's `net.SplitHostPort` rules; the port must not be empty.
    pub fn parse(s: &str) -> Result<HostPort, String> {
        if s.is_empty() {
            return Ok(HostPort::default());
        }
        let (host, port) = split_host_port(s)?;
        if port.is_empty() {
            return Err(format!("address {s:?}: port cannot be empty"));
        }
        Ok(HostPort {
            host: host.to_string(),
            port: port.to_string(),
        })
    }
}

fn split_host_port(s: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| Err(format!("address {s}: {why}"));
    let Some(i) = s.rfind(':') else {
        return err("missing port in address");
    };
    let (host, port) = if s.starts_with('[') {
        let Some(end) = s.find(']') else {
            return err("missing ']' in address");
        };
        if end + 1 == s.len() {
            return err("missing port in address");
        }
        if end + 1 != i {
            return err(if s.as_bytes().get(end + 1) == Some(&b':') {
                "too many colons in address"
            } else {
                "missing port in address"
            });
        }
        (&s[1..end], &s[i + 1..])
    } else {
        let host = &s[..i];
        if host.contains(':') {
            return err("too many colons in address");
        }
        (host, &s[i + 1..])
    };
    if s[..i].contains('[') && !s.starts_with('[') || s[i..].contains(['[', ']']) {
        return err("unexpected '[' in address");
    }
    Ok((host, port))
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        HostPort::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Go's `time.ParseDuration`, for the few fields that use it (Pushover's `retry`,
/// `expire`): decimal numbers with units `ns us µs ms s m h`, signs and fractions.
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(err());
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let v: f64 = num.parse().map_err(|_| err())?;
        total += v * scale;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    if neg && total > 0.0 {
        // Alertmanager stores it in a signed duration; a negative one is meaningless
        // for Pushover and is read as zero here.
        return Ok(std::time::Duration::ZERO);
    }
    Ok(std::time::Duration::from_nanos(total as u64))
}

/// For Go-duration fields.
pub(crate) fn go_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::time::Duration, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(std::time::Duration::ZERO),
        Some(s) => parse_go_duration(&s).map_err(serde::de::Error::custom),
    }
}

/// prometheus/common 0.38's `LabelNameRE`: `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// For `equal:` lists (`model.LabelNames`): each name is checked while decoding.
pub(crate) fn label_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
    names
        .into_iter()
        .map(|n| {
            let n = n.unwrap_or_default();
            if is_valid_label_name(&n) {
                Ok(n)
            } else {
                Err(serde::de::Error::custom(format!(
                    "{n:?} is not a valid label name"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("http://example.com/x").is_ok());
        assert!(check_url("HTTPS://u:p@example.com").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("example.com").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("http:///path").is_err());
        assert!(check_url("http://x y/").is_err());
        assert!(check_url("http://[::1/").is_err());
        assert!(check_url("http://[::1]:80/").is_ok());
        assert!(check_url("http://x:port/").is_err());
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            HostPort::parse("localhost:25"),
            Ok(HostPort {
                host: "localhost".into(),
                port: "25".into()
            })
        );
        assert_eq!(
            HostPort::parse("[::1]:25").map(|h| h.host),
            Ok("::1".into())
        );
        assert_eq!(HostPort::parse(":25").map(|h| h.port), Ok("25".into()));
        assert!(HostPort::parse("localhost").is_err());
        assert!(HostPort::parse("localhost:").is_err());
        assert!(HostPort::parse("::1:25").is_err());
        assert!(HostPort::parse("").is_ok_and(|h| h.is_empty()));
    }

    #[test]
    fn go_durations() {
        let d = |s| parse_go_duration(s).map(|d| d.as_secs_f64());
        assert_eq!(d("1m"), Ok(60.0));
        assert_eq!(d("1.5h"), Ok(5400.0));
        assert_eq!(d("1h30m"), Ok(5400.0));
        assert_eq!(d("0"), Ok(0.0));
        assert!(d("1d").is_err());
        assert!(d("30").is_err());
        assert!(d("").is_err());
    }

    #[test]
    fn label_name_rule() {
        assert!(is_valid_label_name("alertname"));
        assert!(is_valid_label_name("_a1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name(""));
    }
}
