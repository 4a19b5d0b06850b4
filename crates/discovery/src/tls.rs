//! TLS for [`crate::http::HttpClient`]: a rustls client configuration built from
//! Prometheus's `tls_config`.
//!
//! - Roots: `ca`/`ca_file` when given (and then only those, as Go's `RootCAs`),
//!   otherwise the system's store (`rustls-native-certs`: `SSL_CERT_FILE`,
//!   `SSL_CERT_DIR`, then the distribution's bundle), read once per process. The
//!   system store rather than a bundle compiled in, because that is what Prometheus
//!   (Go's `crypto/x509`) trusts: a CA added to the system store works for both.
//! - Client certificates: `cert`/`cert_file` with `key`/`key_file`. Files are read
//!   at each handshake, as Prometheus does, and parsed again when their contents
//!   changed; a pair that fails to load then is logged and the last good pair is
//!   kept.
//! - `server_name` sets SNI and the name verified; `insecure_skip_verify` accepts
//!   any certificate (its signature over the handshake is still checked).
//! - `min_version`/`max_version`: rustls speaks TLS 1.2 and 1.3 only. A minimum
//!   below 1.2 offers 1.2 and 1.3; a maximum below 1.2 is an error.
//! - One crypto provider, aws-lc-rs, passed explicitly to every builder: the
//!   process-wide default is never consulted, so no other crate's provider choice can
//!   make rustls panic.
//!
//! The CA file is read by the client at each request (see `http.rs`), as Prometheus
//! does: changed contents give a new configuration, and new connections. Contents,
//! not modification times, are compared: file times are too coarse to tell two
//! quick writes apart.

use ember_config::{TlsConfig, TlsVersion};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, Mutex, OnceLock};

/// The crypto provider of every configuration Ember builds.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The system's trusted roots, loaded once.
fn system_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(err = %e, "loading the system's CA certificates");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                ignored,
                "no system CA certificates found: https needs tls_config.ca_file"
            );
        }
        Arc::new(store)
    })
    .clone()
}

/// Inline PEM text or a file holding it.
#[derive(Clone)]
enum Pem {
    Text(String),
    File(String),
}

/// Names the file, never shows inline text (it may be a key).
impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::Text(_) => f.write_str("<inline>"),
            Pem::File(p) => write!(f, "{p:?}"),
        }
    }
}

impl Pem {
    fn new(text: &str, file: &str) -> Option<Pem> {
        if !file.is_empty() {
            Some(Pem::File(file.to_string()))
        } else if !text.is_empty() {
            Some(Pem::Text(text.to_string()))
        } else {
            None
        }
    }

    fn read(&self, what: &str) -> Result<Vec<u8>, String> {
        match self {
            Pem::Text(t) => Ok(t.clone().into_bytes()),
            Pem::File(f) => {
                std::fs::read(f).map_err(|e| format!("unable to read {what} file {f}: {e}"))
            }
        }
    }

    fn name(&self, what: &str) -> String {
        match self {
            Pem::Text(_) => format!("inline {what}"),
            Pem::File(f) => f.clone(),
        }
    }
}

/// Builds rustls client configurations for one `tls_config`; [`Tls::build`] runs
/// again when the CA file changes, with the same client certificate resolver.
#[derive(Debug)]
pub(crate) struct Tls {
    ca: Option<Pem>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    skip_verify: bool,
    client_cert: Option<Arc<ClientCert>>,
    /// `server_name`, when set.
    pub(crate) server_name: Option<ServerName<'static>>,
}

impl Tls {
    /// Checks `cfg` and loads its client certificate (so that a bad one fails now).
    pub(crate) fn new(cfg: &TlsConfig) -> Result<Tls, String> {
        let rank = |v: TlsVersion| match v {
            TlsVersion::Tls10 => 10,
            TlsVersion::Tls11 => 11,
            TlsVersion::Tls12 => 12,
            TlsVersion::Tls13 => 13,
        };
        let min = cfg.min_version.map(rank).unwrap_or(12);
        let max = cfg.max_version.map(rank).unwrap_or(13);
        if max < 12 {
            return Err(format!(
                "tls_config.max_version {} is not supported: Ember speaks TLS 1.2 and 1.3",
                cfg.max_version.map(TlsVersion::as_str).unwrap_or_default()
            ));
        }
        if max < min {
            return Err(
                "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified"
                    .into(),
            );
        }
        let mut versions = Vec::new();
        if min <= 12 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= 13 {
            versions.push(&rustls::version::TLS13);
        }
        let server_name = if cfg.server_name.is_empty() {
            None
        } else {
            Some(
                ServerName::try_from(cfg.server_name.clone())
                    .map_err(|e| format!("invalid tls_config.server_name: {e}"))?,
            )
        };
        let client_cert = match (
            Pem::new(&cfg.cert, &cfg.cert_file),
            Pem::new(cfg.key.expose(), &cfg.key_file),
        ) {
            (Some(cert), Some(key)) => Some(Arc::new(ClientCert::new(cert, key)?)),
            (None, None) => None,
            (Some(_), None) => return Err("client certificate configured without a key".into()),
            (None, Some(_)) => return Err("client key configured without a certificate".into()),
        };
        Ok(Tls {
            ca: Pem::new(&cfg.ca, &cfg.ca_file),
            versions,
            skip_verify: cfg.insecure_skip_verify,
            client_cert,
            server_name,
        })
    }

    /// The CA file's contents now, when the roots come from a file.
    pub(crate) fn ca_file(&self) -> Result<Option<Vec<u8>>, String> {
        match &self.ca {
            Some(ca @ Pem::File(_)) => ca.read("CA").map(Some),
            _ => Ok(None),
        }
    }

    /// A client configuration; `ca_file` holds the CA file's contents (see
    /// [`Tls::ca_file`]) when the roots come from a file.
    pub(crate) fn build(&self, ca_file: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions)
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = if self.skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(
                    provider.signature_verification_algorithms,
                )))
        } else {
            let roots = match (&self.ca, ca_file) {
                (None, _) => system_roots(),
                (Some(ca), Some(pem)) => Arc::new(load_roots(ca, pem)?),
                (Some(ca), None) => Arc::new(load_roots(ca, &ca.read("CA")?)?),
            };
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("unable to use the CA certificates: {e}"))?;
            builder.with_webpki_verifier(verifier)
        };
        let config = match &self.client_cert {
            Some(c) => builder.with_client_cert_resolver(c.clone()),
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

fn load_roots(ca: &Pem, pem: &[u8]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| format!("unable to use specified CA cert {}: {e}", ca.name("CA")))?;
        store
            .add(cert)
            .map_err(|e| format!("unable to use specified CA cert {}: {e}", ca.name("CA")))?;
        n += 1;
    }
    if n == 0 {
        return Err(format!(
            "unable to use specified CA cert {}: no certificate found",
            ca.name("CA")
        ));
    }
    Ok(store)
}

/// The PEM texts of a client certificate and key.
type PairText = (Vec<u8>, Vec<u8>);

/// The client certificate and key, parsed again when their files' contents change.
struct ClientCert {
    cert: Pem,
    key: Pem,
    current: Mutex<(PairText, Arc<CertifiedKey>)>,
}

/// Names the sources, never shows the key.
impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ClientCert {
    fn new(cert: Pem, key: Pem) -> Result<ClientCert, String> {
        let text = (cert.read("client cert")?, key.read("client key")?);
        let loaded = load_pair(&cert, &key, &text)?;
        Ok(ClientCert {
            cert,
            key,
            current: Mutex::new((text, loaded)),
        })
    }
}

fn load_pair(cert: &Pem, key: &Pem, text: &PairText) -> Result<Arc<CertifiedKey>, String> {
    let what = || {
        format!(
            "unable to use specified client cert ({}) & key ({})",
            cert.name("cert"),
            key.name("key")
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text.0)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", what()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate found", what()));
    }
    let key = PrivateKeyDer::from_pem_slice(&text.1).map_err(|e| format!("{}: {e}", what()))?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", what()))
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let now = self
            .cert
            .read("client cert")
            .and_then(|c| Ok((c, self.key.read("client key")?)));
        match now {
            Ok(text) if text != cur.0 => match load_pair(&self.cert, &self.key, &text) {
                Ok(k) => *cur = (text, k),
                // Likely a rotation half done (new cert, old key): keep the last good
                // pair and try again at the next handshake.
                Err(e) => tracing::error!(err = %e, "reloading the client certificate"),
            },
            Ok(_) => {}
            Err(e) => tracing::error!(err = %e, "reloading the client certificate"),
        }
        Some(cur.1.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `insecure_skip_verify`: any certificate for any name; the handshake signatures
/// are still verified, so the peer must hold the certificate's key.
#[derive(Debug)]
struct NoVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A TLS failure in words close to Go's (what Prometheus users search for): the
/// unknown-authority case as Go says it, the others with rustls's details (which
/// name the names a certificate is valid for, or its validity period).
pub(crate) fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                .into()
        }
        rustls::Error::InvalidCertificate(c) => {
            format!("tls: failed to verify certificate: x509: {c}")
        }
        other => format!("tls: {other}"),
    }
}

/// A rustls client configuration for `cfg` (CA or system roots, client
/// certificate, versions, `insecure_skip_verify`) and the name to verify:
/// `server_name`, else `host`. For connections that are not HTTP (SMTP with
/// STARTTLS or implicit TLS), so that every TLS client in Ember is built alike.
pub fn client_config(
    cfg: &TlsConfig,
    host: &str,
) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let tls = Tls::new(cfg)?;
    let ca = tls.ca_file()?;
    let config = tls.build(ca.as_deref())?;
    let name = match &tls.server_name {
        Some(n) => n.clone(),
        None => ServerName::try_from(host.to_string())
            .map_err(|e| format!("invalid host name {host:?}: {e}"))?,
    };
    Ok((config, name))
}
