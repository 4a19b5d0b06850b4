//! Grouping keys: the labels a push names in its URL,
//! `/metrics/job/<job>{/<label>/<value>}`, with the `@base64` suffix marking a value
//! (or the job) written in URL-safe base64 so that it may be empty or hold `/`.

use std::collections::BTreeMap;

use ember_model::labels::is_legacy_label_name;

/// A group's identity: its labels, `job` always among them, sorted by name.
pub type GroupingKey = BTreeMap<String, String>;

/// Why a push URL does not name a group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The label part has a name without a value.
    #[error("odd number of components in label string {0:?}")]
    OddComponents(String),
    /// A label name that is not a valid name, or a reserved one.
    #[error("improper label name {0:?}")]
    ImproperName(String),
    /// A value marked `@base64` that does not decode.
    #[error("invalid base64 encoding for label {name}={value:?}: {reason}")]
    Base64 {
        /// The label.
        name: String,
        /// The value as written.
        value: String,
        /// What the decoder said.
        reason: String,
    },
    /// The job, marked `@base64`, does not decode.
    #[error("invalid base64 encoding in job name {job:?}: {reason}")]
    JobBase64 {
        /// The job as written.
        job: String,
        /// What the decoder said.
        reason: String,
    },
    /// The job is empty.
    #[error("job name is required")]
    NoJob,
}

/// Parses the path after `/metrics/`: `job/<job>` or `job@base64/<job>`, then label
/// pairs. `None` when the path does not start with a job segment (not a push URL).
pub fn parse_push_path(rest: &str) -> Option<Result<GroupingKey, KeyError>> {
    let (first, after) = rest.split_once('/').unwrap_or((rest, ""));
    let job_b64 = match first {
        "job" => false,
        "job@base64" => true,
        _ => return None,
    };
    let (job, labels) = match after.split_once('/') {
        Some((j, l)) => (j, Some(l)),
        None => (after, None),
    };
    Some(build_key(job, job_b64, labels))
}

fn build_key(job: &str, job_b64: bool, labels: Option<&str>) -> Result<GroupingKey, KeyError> {
    let job = if job_b64 {
        decode_base64(job).map_err(|reason| KeyError::JobBase64 {
            job: job.to_string(),
            reason,
        })?
    } else {
        job.to_string()
    };
    let mut key = match labels {
        Some(l) => split_labels(l)?,
        None => GroupingKey::new(),
    };
    if job.is_empty() {
        return Err(KeyError::NoJob);
    }
    key.insert("job".to_string(), job);
    Ok(key)
}

/// The label pairs of a push URL, `a/1/b@base64/Mg==`. A trailing slash alone
/// (`/metrics/job/x/`) names no labels, as in the original's router.
fn split_labels(labels: &str) -> Result<GroupingKey, KeyError> {
    let mut out = GroupingKey::new();
    if labels.is_empty() {
        return Ok(out);
    }
    let parts: Vec<&str> = labels.split('/').collect();
    if !parts.len().is_multiple_of(2) {
        return Err(KeyError::OddComponents(format!("/{labels}")));
    }
    for pair in parts.chunks_exact(2) {
        let (name, value) = (pair[0], pair[1]);
        let (trimmed, b64) = match name.strip_suffix("@base64") {
            Some(t) => (t, true),
            None => (name, false),
        };
        if !is_legacy_label_name(trimmed) || trimmed.starts_with("__") {
            return Err(KeyError::ImproperName(trimmed.to_string()));
        }
        let value = if b64 {
            decode_base64(value).map_err(|reason| KeyError::Base64 {
                name: trimmed.to_string(),
                value: value.to_string(),
                reason,
            })?
        } else {
            value.to_string()
        };
        out.insert(trimmed.to_string(), value);
    }
    Ok(out)
}

/// URL-safe base64 (RFC 4648 §5), padding optional, as the original accepts it
/// (Go's `RawURLEncoding` after trimming `=`); the standard alphabet's `+` and `/`
/// are not accepted. A single `=` is the empty string.
pub fn decode_base64(s: &str) -> Result<String, String> {
    let bytes = ember_model::base64::decode(
        s.trim_end_matches('='),
        ember_model::base64::Alphabet::UrlSafe,
    )?;
    String::from_utf8(bytes).map_err(|_| "decoded value is not valid UTF-8".to_string())
}

/// URL-safe base64 without padding, `=` for the empty string: how the UI and the
/// tests write a value into a push URL.
pub fn encode_base64(s: &str) -> String {
    if s.is_empty() {
        return "=".to_string();
    }
    ember_model::base64::encode(s.as_bytes(), ember_model::base64::Alphabet::UrlSafe, false)
}

/// The push URL path (after `/metrics/`) of a group, every value base64-encoded so
/// that any value round-trips.
pub fn push_path(key: &GroupingKey) -> String {
    let job = key.get("job").map(String::as_str).unwrap_or("");
    let mut p = format!("job@base64/{}", encode_base64(job));
    for (n, v) in key {
        if n != "job" {
            p.push('/');
            p.push_str(n);
            p.push_str("@base64/");
            p.push_str(&encode_base64(v));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn plain_and_base64_paths() {
        assert_eq!(
            parse_push_path("job/j1/instance/i1"),
            Some(Ok(key(&[("job", "j1"), ("instance", "i1")])))
        );
        assert_eq!(
            parse_push_path("job/j2/a@base64/L3Zhci90bXA="),
            Some(Ok(key(&[("job", "j2"), ("a", "/var/tmp")])))
        );
        assert_eq!(
            parse_push_path("job/j3/e@base64/="),
            Some(Ok(key(&[("job", "j3"), ("e", "")])))
        );
        assert_eq!(
            parse_push_path("job@base64/L3g"),
            Some(Ok(key(&[("job", "/x")])))
        );
        assert_eq!(parse_push_path("job/x/"), Some(Ok(key(&[("job", "x")]))));
        assert_eq!(parse_push_path("nojob/x"), None);
    }

    #[test]
    fn bad_paths() {
        assert_eq!(
            parse_push_path("job/x/a"),
            Some(Err(KeyError::OddComponents("/a".into())))
        );
        assert_eq!(
            parse_push_path("job/x/__a/1"),
            Some(Err(KeyError::ImproperName("__a".into())))
        );
        assert_eq!(
            parse_push_path("job/x/a-b/1"),
            Some(Err(KeyError::ImproperName("a-b".into())))
        );
        assert!(matches!(
            parse_push_path("job/x/a@base64/%%"),
            Some(Err(KeyError::Base64 { .. }))
        ));
        assert_eq!(parse_push_path("job/"), Some(Err(KeyError::NoJob)));
        assert_eq!(parse_push_path("job@base64/="), Some(Err(KeyError::NoJob)));
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "/var/tmp", "ü/€"] {
            assert_eq!(decode_base64(&encode_base64(s)).as_deref(), Ok(s));
        }
        assert!(decode_base64("a").is_err());
        assert!(decode_base64("a+b/").is_err());
        let k = key(&[("job", "j/1"), ("e", "")]);
        assert_eq!(parse_push_path(&push_path(&k)), Some(Ok(k)));
    }
}
