//! Where the API server is and how to talk to it, resolved as Prometheus resolves
//! it: `api_server` with the job's HTTP client settings; else `kubeconfig_file`
//! (its current context's cluster and user); else the in-cluster configuration
//! of a pod's service account. The result is an API base URL and an
//! [`HttpClientConfig`] for the shared client, so that TLS, authentication and
//! proxies work the same as for every other request Ember makes. Files (the
//! service account token, CA files) are named rather than read, so the shared
//! client re-reads them as it does for any `*_file` setting and rotated tokens
//! keep working.

use super::KubernetesError;
use ember_config::{Authorization, BasicAuth, HttpClientConfig, KubernetesSdConfig, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where a pod's service account credentials are mounted.
pub(crate) const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The API server's base URL (no trailing slash) and how to reach it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) base: String,
    pub(crate) http: HttpClientConfig,
    /// The pod's own namespace, in-cluster with `own_namespace` only.
    pub(crate) own_namespace: Option<String>,
}

/// Resolves `cfg`, with `env` for the environment and `sa_dir` for the service
/// account directory (parameters so that tests need neither).
pub(crate) fn resolve(
    cfg: &KubernetesSdConfig,
    env: &dyn Fn(&str) -> Option<String>,
    sa_dir: &Path,
) -> Result<Endpoint, KubernetesError> {
    if !cfg.kubeconfig_file.is_empty() {
        return from_kubeconfig(Path::new(&cfg.kubeconfig_file));
    }
    if !cfg.api_server.is_empty() {
        return Ok(Endpoint {
            base: cfg.api_server.trim_end_matches('/').to_string(),
            http: cfg.http_client.clone(),
            own_namespace: None,
        });
    }
    in_cluster(cfg.namespaces.own_namespace, env, sa_dir)
}

/// client-go's `InClusterConfig`.
fn in_cluster(
    own_namespace: bool,
    env: &dyn Fn(&str) -> Option<String>,
    sa_dir: &Path,
) -> Result<Endpoint, KubernetesError> {
    let (Some(host), Some(port)) = (
        env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty()),
        env("KUBERNETES_SERVICE_PORT").filter(|p| !p.is_empty()),
    ) else {
        return Err(KubernetesError::Config(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined".into(),
        ));
    };
    let token = sa_dir.join("token");
    // Checked now so that a pod without a mounted token says so at once; read
    // again at each request afterwards.
    std::fs::metadata(&token)
        .map_err(|e| KubernetesError::Config(format!("reading {}: {e}", token.display())))?;
    let mut http = HttpClientConfig {
        authorization: Some(Authorization {
            kind: "Bearer".into(),
            credentials: Secret::default(),
            credentials_file: token.display().to_string(),
        }),
        ..HttpClientConfig::default()
    };
    let ca = sa_dir.join("ca.crt");
    if ca.exists() {
        http.tls_config.ca_file = ca.display().to_string();
    }
    let own_namespace = if own_namespace {
        let file = sa_dir.join("namespace");
        let ns = std::fs::read_to_string(&file).map_err(|e| {
            KubernetesError::Config(format!("could not determine the pod's namespace: {e}"))
        })?;
        if ns.is_empty() {
            return Err(KubernetesError::Config(
                "could not read own namespace name (empty file)".into(),
            ));
        }
        Some(ns)
    } else {
        None
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(Endpoint {
        base: format!("https://{host}:{port}"),
        http,
        own_namespace,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct KubeConfig {
    clusters: Vec<Named<Cluster>>,
    contexts: Vec<Named<Context>>,
    users: Vec<Named<User>>,
    current_context: String,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "context", alias = "user")]
    value: T,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct Cluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
    proxy_url: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct User {
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    username: String,
    password: String,
    exec: Option<serde::de::IgnoredAny>,
    auth_provider: Option<serde::de::IgnoredAny>,
}

/// The current context's cluster and user from a kubeconfig file. Relative paths
/// in it are relative to the file's directory, as kubectl takes them.
fn from_kubeconfig(path: &Path) -> Result<Endpoint, KubernetesError> {
    let bad = |m: String| KubernetesError::Config(format!("kubeconfig {}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let kc: KubeConfig = serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let abs = |p: &str| -> String {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { dir.join(p) }
            .display()
            .to_string()
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == kc.current_context)
        .ok_or_else(|| bad(format!("context {:?} not found", kc.current_context)))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.value.cluster)
        .ok_or_else(|| bad(format!("cluster {:?} not found", ctx.value.cluster)))?;
    let c = &cluster.value;
    if c.server.is_empty() {
        return Err(bad("no server found for cluster".into()));
    }
    let mut http = HttpClientConfig::default();
    let tls = &mut http.tls_config;
    if !c.certificate_authority_data.is_empty() {
        tls.ca = pem_from_base64(&c.certificate_authority_data).map_err(bad)?;
    } else if !c.certificate_authority.is_empty() {
        tls.ca_file = abs(&c.certificate_authority);
    }
    tls.insecure_skip_verify = c.insecure_skip_tls_verify;
    if !c.tls_server_name.is_empty() {
        tls.server_name = c.tls_server_name.clone();
    }
    if !c.proxy_url.is_empty() {
        http.proxy.proxy_url = c.proxy_url.clone();
    }
    if let Some(user) = kc.users.iter().find(|u| u.name == ctx.value.user) {
        let u = &user.value;
        if u.exec.is_some() || u.auth_provider.is_some() {
            return Err(bad(
                "exec and auth-provider credential plugins are not supported".into(),
            ));
        }
        let tls = &mut http.tls_config;
        if !u.client_certificate_data.is_empty() {
            tls.cert = pem_from_base64(&u.client_certificate_data).map_err(bad)?;
        } else if !u.client_certificate.is_empty() {
            tls.cert_file = abs(&u.client_certificate);
        }
        if !u.client_key_data.is_empty() {
            tls.key = Secret::new(pem_from_base64(&u.client_key_data).map_err(bad)?);
        } else if !u.client_key.is_empty() {
            tls.key_file = abs(&u.client_key);
        }
        if !u.token.is_empty() || !u.token_file.is_empty() {
            http.authorization = Some(Authorization {
                kind: "Bearer".into(),
                credentials: Secret::new(u.token.clone()),
                credentials_file: if u.token.is_empty() {
                    abs(&u.token_file)
                } else {
                    String::new()
                },
            });
        } else if !u.username.is_empty() {
            http.basic_auth = Some(BasicAuth {
                username: u.username.clone(),
                password: Secret::new(u.password.clone()),
                ..BasicAuth::default()
            });
        }
    }
    Ok(Endpoint {
        base: c.server.trim_end_matches('/').to_string(),
        http,
        own_namespace: None,
    })
}

/// Standard base64 (padding optional) to text, for kubeconfig's `*-data` fields.
fn pem_from_base64(s: &str) -> Result<String, String> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '=')
        .collect();
    let out = ember_model::base64::decode(&digits, ember_model::base64::Alphabet::Standard)
        .map_err(|e| format!("invalid base64 in a *-data field: {e}"))?;
    String::from_utf8(out).map_err(|_| "a *-data field is not PEM text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(pem_from_base64("aGVsbG8gd29ybGQ=").unwrap(), "hello world");
        assert_eq!(pem_from_base64("aGk").unwrap(), "hi");
        assert!(pem_from_base64("a*b").is_err());
    }

    #[test]
    fn kubeconfig_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: b\n\
             clusters:\n- name: one\n  cluster: {server: 'https://one:6443/', certificate-authority: ca.pem}\n\
             - name: two\n  cluster: {server: 'https://two:6443', certificate-authority-data: aGk=}\n\
             contexts:\n- name: a\n  context: {cluster: one, user: u1}\n- name: b\n  context: {cluster: two, user: u2, namespace: x}\n\
             users:\n- name: u1\n  user: {token: t1}\n- name: u2\n  user: {tokenFile: tok, client-certificate: c.pem, client-key: k.pem}\n\
             preferences: {}\n",
        )
        .unwrap();
        let e = from_kubeconfig(&path).unwrap();
        assert_eq!(e.base, "https://two:6443");
        assert_eq!(e.http.tls_config.ca, "hi");
        let auth = e.http.authorization.unwrap();
        assert_eq!(
            auth.credentials_file,
            dir.path().join("tok").display().to_string()
        );
        assert_eq!(
            e.http.tls_config.cert_file,
            dir.path().join("c.pem").display().to_string()
        );
    }

    #[test]
    fn in_cluster_from_environment_and_service_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "secret").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "x").unwrap();
        std::fs::write(dir.path().join("namespace"), "monitoring").unwrap();
        let env = |k: &str| match k {
            "KUBERNETES_SERVICE_HOST" => Some("fd00::1".to_string()),
            "KUBERNETES_SERVICE_PORT" => Some("443".to_string()),
            _ => None,
        };
        let e = in_cluster(true, &env, dir.path()).unwrap();
        assert_eq!(e.base, "https://[fd00::1]:443");
        assert_eq!(e.own_namespace.as_deref(), Some("monitoring"));
        assert!(e.http.tls_config.ca_file.ends_with("ca.crt"));
        assert!(in_cluster(false, &|_| None, dir.path()).is_err());
    }
}
