//! [`WebConfigFile`]: a web configuration file that follows its changes.
//!
//! exporter-toolkit reads the file again for every request (users, headers) and
//! builds the TLS configuration again for every handshake, so a replaced
//! certificate, a new user or a changed policy takes effect without a restart.
//! This does the same reads and compares contents (not modification times, which
//! are too coarse to tell two quick writes apart), and parses or builds again only
//! when something changed. A file that turns bad while serving is logged once per
//! change and refused, as in exporter-toolkit: requests get 500, handshakes are
//! dropped. One exception, for a rotation caught half done (new certificate, old
//! key): when only the certificate or key changed and the pair does not load, the
//! last good pair is kept and the error logged, until the pair matches again.

use crate::Error;
use crate::auth::AuthCache;
use crate::config::{self, WebConfig};
use crate::tls::{self, Material};
use ember_config::ConfigError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A loaded and checked `--web.config.file`, shared by every listener of a
/// component (cheap to clone). See the module documentation of this crate.
#[derive(Clone)]
pub struct WebConfigFile {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfigFile")
            .field("path", &self.inner.path)
            .field("tls", &self.inner.tls)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    /// Whether the listeners speak TLS: decided at start, as exporter-toolkit does.
    tls: bool,
    doc: Mutex<Doc>,
    server: Mutex<ServerState>,
    pub(crate) auth: AuthCache,
}

/// The file's last contents and what they parsed to.
struct Doc {
    text: Vec<u8>,
    parsed: Result<Arc<WebConfig>, String>,
}

/// The TLS configuration in use, and the last failure to build one.
#[derive(Default)]
struct ServerState {
    built: Option<Built>,
    failed: Option<(Arc<WebConfig>, Material, String)>,
}

/// A TLS configuration and what it was built from.
struct Built {
    from: Arc<WebConfig>,
    material: Material,
    config: Arc<rustls::ServerConfig>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Io {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        path: path.to_path_buf(),
        source,
    })
}

fn parse(text: &[u8], path: &Path) -> Result<WebConfig, ConfigError> {
    config::parse(&String::from_utf8_lossy(text), path)
}

impl WebConfigFile {
    /// Reads and checks the file at `path` as exporter-toolkit does when a server
    /// starts: the document (unknown fields, values, headers, bcrypt hashes) and,
    /// when TLS is configured, the certificate, key and client CA, which are read
    /// and paired. Errors name the file, line and field.
    pub fn load(path: impl Into<PathBuf>) -> Result<WebConfigFile, Error> {
        let path = path.into();
        let text = read(&path)?;
        let cfg = Arc::new(parse(&text, &path)?);
        let tls = cfg.tls_server_config.is_enabled();
        let server = if tls {
            let material = tls::read_material(&cfg, &path)?;
            let config = tls::build(&cfg, &material, &path)?;
            Some(Built {
                from: cfg.clone(),
                material,
                config,
            })
        } else {
            None
        };
        Ok(WebConfigFile {
            inner: Arc::new(Inner {
                path,
                tls,
                doc: Mutex::new(Doc {
                    text,
                    parsed: Ok(cfg),
                }),
                server: Mutex::new(ServerState {
                    built: server,
                    failed: None,
                }),
                auth: AuthCache::default(),
            }),
        })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether the listeners serve TLS (decided when the file was loaded: a change
    /// between plain HTTP and TLS needs a restart, as with exporter-toolkit).
    pub fn tls(&self) -> bool {
        self.inner.tls
    }

    /// The configuration as the file holds it now; an error (already logged) when
    /// the file became unreadable or invalid.
    pub fn current(&self) -> Result<Arc<WebConfig>, String> {
        let path = &self.inner.path;
        let text = match read(path) {
            Ok(t) => t,
            Err(e) => {
                let e = e.to_string();
                tracing::error!(err = %e, "unable to read the web configuration file");
                return Err(e);
            }
        };
        let mut doc = lock(&self.inner.doc);
        if doc.text != text {
            doc.parsed = match parse(&text, path) {
                Ok(c) => {
                    tracing::info!(file = %path.display(), "web configuration file changed; applied");
                    Ok(Arc::new(c))
                }
                Err(e) => {
                    let e = e.to_string();
                    tracing::error!(err = %e, "unable to parse the web configuration file");
                    Err(e)
                }
            };
            doc.text = text;
        }
        doc.parsed.clone()
    }

    /// The rustls configuration for a new handshake, built again when the file, the
    /// certificate, the key or the client CA changed.
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let cfg = self.current()?;
        let path = &self.inner.path;
        if !cfg.tls_server_config.is_enabled() {
            let e = format!(
                "{}: TLS config is not present (the listener was started with TLS; restart to serve plain HTTP)",
                path.display()
            );
            tracing::error!(err = %e, "TLS handshake refused");
            return Err(e);
        }
        let material = tls::read_material(&cfg, path).map_err(|e| {
            let e = e.to_string();
            tracing::error!(err = %e, "TLS handshake refused");
            e
        })?;
        let mut state = lock(&self.inner.server);
        if let Some(b) = &state.built
            && Arc::ptr_eq(&b.from, &cfg)
            && b.material == material
        {
            return Ok(b.config.clone());
        }
        // The same failure as last time: answer as then, without building or
        // logging again at every handshake.
        let same_failure = state
            .failed
            .as_ref()
            .is_some_and(|(c, m, _)| Arc::ptr_eq(c, &cfg) && *m == material);
        let result = if same_failure {
            Err(state
                .failed
                .as_ref()
                .map(|f| f.2.clone())
                .unwrap_or_default())
        } else {
            tls::build(&cfg, &material, path).map_err(|e| e.to_string())
        };
        match result {
            Ok(config) => {
                if state.built.is_some() {
                    tracing::info!(file = %path.display(), "TLS configuration reloaded");
                }
                state.built = Some(Built {
                    from: cfg,
                    material,
                    config: config.clone(),
                });
                state.failed = None;
                Ok(config)
            }
            Err(e) => {
                let keep = state.built.as_ref().and_then(|b| {
                    (Arc::ptr_eq(&b.from, &cfg) && b.material.same_ca(&material))
                        .then(|| b.config.clone())
                });
                if !same_failure {
                    match keep {
                        Some(_) => {
                            tracing::error!(err = %e, "new TLS certificate or key does not load; serving the previous pair")
                        }
                        None => tracing::error!(err = %e, "TLS handshake refused"),
                    }
                    state.failed = Some((cfg, material, e.clone()));
                }
                keep.ok_or(e)
            }
        }
    }

    pub(crate) fn auth(&self) -> &AuthCache {
        &self.inner.auth
    }
}

/// Checks a web configuration file as `promtool check web-config` does (and as
/// [`WebConfigFile::load`] does at start-up).
pub fn check(path: &Path) -> Result<(), Error> {
    WebConfigFile::load(path).map(|_| ())
}
