//! What exporter-toolkit's `webHandler` does for every request: read the file
//! again, apply the rate limit, set the extra headers, and check basic auth.
//!
//! bcrypt is slow by design (about 70 ms at cost 10), so a check runs on a
//! blocking thread, one at a time (as exporter-toolkit serialises them), and its
//! outcome is cached under (user, hash, password), up to 100 entries with random
//! eviction, as exporter-toolkit's cache does. A changed hash in the file is a new
//! key, so a password change takes effect at once. Like exporter-toolkit's cache,
//! it holds the passwords it was given in memory (basic auth sends them with every
//! request anyway). An unknown user is checked against a fixed hash, so that
//! timing does not tell which users exist.

use crate::WebConfigFile;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bcrypt hash of "fakepassword", checked for unknown users (exporter-toolkit's).
const FAKE_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// How many outcomes [`AuthCache`] keeps.
const CACHE_SIZE: usize = 100;

/// Outcomes of bcrypt checks, and the lock that runs them one at a time.
#[derive(Default)]
pub(crate) struct AuthCache {
    outcomes: Mutex<HashMap<(String, String, String), bool>>,
    bcrypt: Mutex<()>,
}

impl AuthCache {
    fn get(&self, key: &(String, String, String)) -> Option<bool> {
        lock(&self.outcomes).get(key).copied()
    }

    fn set(&self, key: (String, String, String), ok: bool) {
        let mut m = lock(&self.outcomes);
        if m.len() >= CACHE_SIZE {
            // Drop about a tenth, chosen at random, so that eviction is not done
            // at every insert and does not always hit the same entries.
            let n = (m.len() / 10).max(1);
            let mut seed = random_seed();
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % m.len().max(1) as u64) as usize;
                if let Some(k) = m.keys().nth(i).cloned() {
                    m.remove(&k);
                }
            }
        }
        m.insert(key, ok);
    }

    /// Number of cached outcomes (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.outcomes).len()
    }

    /// Whether `password` is `user`'s, given `users`' hash for them (if any).
    /// Blocking: run it off the async threads.
    pub(crate) fn check(&self, user: &str, hash: Option<&str>, password: &str) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or(FAKE_HASH);
        let key = (user.to_string(), hash.to_string(), password.to_string());
        if let Some(ok) = self.get(&key) {
            return ok && known;
        }
        let ok = {
            let _one_at_a_time = lock(&self.bcrypt);
            // Go's bcrypt refuses passwords over 72 bytes rather than truncating.
            password.len() <= 72 && bcrypt::verify(password, hash).unwrap_or(false)
        };
        let ok = ok && known;
        self.set(key, ok);
        ok
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() | 1
}

/// Go's `rate.Limiter`: a bucket of `burst` tokens, one more every `interval`,
/// full at the start.
pub(crate) struct Limiter {
    interval: Duration,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Limiter {
    pub(crate) fn new(interval: Duration, burst: i64) -> Limiter {
        let burst = burst.max(0) as f64;
        Limiter {
            interval,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    pub(crate) fn allow(&self) -> bool {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let elapsed = now.duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed / self.interval.as_secs_f64()).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The middleware's state: the file and this listener's limiter.
pub(crate) struct Guard {
    pub(crate) file: WebConfigFile,
    pub(crate) limiter: Option<Limiter>,
}

/// Go's `http.Error`: the status text and a newline, as plain text.
fn error(code: StatusCode) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{}\n", code.canonical_reason().unwrap_or("")),
    )
        .into_response()
}

/// Go's `Request.BasicAuth`: `Authorization: Basic base64(user:password)`.
fn basic_auth(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let digits = encoded.trim().trim_end_matches('=');
    let decoded =
        ember_model::base64::decode(digits, ember_model::base64::Alphabet::Standard).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The per-request work of exporter-toolkit's `webHandler`.
pub(crate) async fn guard(
    State(g): State<std::sync::Arc<Guard>>,
    req: Request,
    next: Next,
) -> Response {
    let cfg = match g.file.current() {
        Ok(c) => c,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR),
    };
    if let Some(l) = &g.limiter
        && !l.allow()
    {
        return error(StatusCode::TOO_MANY_REQUESTS);
    }
    let headers: Vec<(HeaderName, HeaderValue)> = cfg
        .http_server_config
        .headers
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(k, v)| {
            Some((
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            ))
        })
        .collect();
    let mut authorised = cfg.basic_auth_users.is_empty();
    if !authorised && let Some((user, password)) = basic_auth(&req) {
        let hash = cfg
            .basic_auth_users
            .get(&user)
            .map(|h| h.expose().to_string());
        let file = g.file.clone();
        authorised = tokio::task::spawn_blocking(move || {
            file.auth().check(&user, hash.as_deref(), &password)
        })
        .await
        .unwrap_or(false);
    }
    let mut resp = if authorised {
        next.run(req).await
    } else {
        let mut r = error(StatusCode::UNAUTHORIZED);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        r
    };
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_checks_are_cached() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let c = AuthCache::default();
        assert!(c.check("alice", Some(&hash), "secret"));
        assert_eq!(c.len(), 1);
        // A second check is answered from the cache.
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(c.check("alice", Some(&hash), "secret"));
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(c.len(), 1);
        assert!(!c.check("alice", Some(&hash), "wrong"));
        assert!(!c.check("alice", Some(&hash), "wrong"));
        assert_eq!(c.len(), 2);
        // Unknown users never pass, even with the fake hash's password.
        assert!(!c.check("mallory", None, "fakepassword"));
        // A changed hash is a new entry.
        let other = bcrypt::hash("secret2", 4).unwrap();
        assert!(!c.check("alice", Some(&other), "secret"));
        assert!(c.check("alice", Some(&other), "secret2"));
        // Over 72 bytes is refused, as Go's bcrypt does.
        let long = "x".repeat(73);
        let h = bcrypt::hash(&long[..72], 4).unwrap();
        assert!(c.check("bob", Some(&h), &long[..72]));
        assert!(!c.check("bob", Some(&h), &long));
    }

    #[test]
    fn cache_is_bounded() {
        let c = AuthCache::default();
        for i in 0..CACHE_SIZE * 3 {
            c.set((i.to_string(), String::new(), String::new()), true);
        }
        assert!(c.len() <= CACHE_SIZE);
    }

    #[test]
    fn limiter_like_go() {
        let l = Limiter::new(Duration::from_secs(3600), 2);
        assert!(l.allow());
        assert!(l.allow());
        assert!(!l.allow());
        let l = Limiter::new(Duration::from_secs(1), 0);
        assert!(!l.allow());
        let l = Limiter::new(Duration::from_millis(1), 1);
        assert!(l.allow());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.allow());
    }

    #[test]
    fn parses_basic_auth() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(
            basic_auth(&req("Basic YWxpY2U6czpwdw==")),
            Some(("alice".into(), "s:pw".into()))
        );
        assert_eq!(
            basic_auth(&req("basic YWxpY2U6czpwdw==")),
            Some(("alice".into(), "s:pw".into()))
        );
        assert_eq!(basic_auth(&req("Bearer x")), None);
        assert_eq!(basic_auth(&req("Basic !!!")), None);
        assert_eq!(basic_auth(&req("Basic YWxpY2U=")), None);
    }
}
