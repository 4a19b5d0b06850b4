//! `tls_server_config` as a rustls server configuration.
//!
//! - One crypto provider, aws-lc-rs, passed explicitly to every builder (as
//!   `ember-discovery` does for its client): the process-wide default is never
//!   consulted, so no other crate's provider choice can make rustls panic.
//! - Versions: rustls speaks TLS 1.2 and 1.3. A `min_version` below 1.2 offers 1.2
//!   and 1.3; a `max_version` below 1.2 is an error, as is a minimum above the
//!   maximum (Go would start and then fail every handshake).
//! - `cipher_suites` orders and restricts the TLS 1.2 suites; like Go, it does not
//!   touch TLS 1.3's. Go's CBC suites are valid names that rustls does not
//!   implement: they are left out (with a warning), and a list left with none for a
//!   TLS 1.2-only server is an error. `prefer_server_cipher_suites` is rustls's
//!   `ignore_client_order`.
//! - `curve_preferences`: P-256, P-384 and X25519; P-521 is a valid name that
//!   aws-lc-rs's rustls provider does not offer, left out likewise.
//! - `client_auth_type`: Go's five policies. The verifying ones check against
//!   `client_ca_file`/`client_ca`, or the system's CA store when neither is given
//!   (as Go does with a nil `ClientCAs`); `RequestClientCert` and
//!   `RequireAnyClientCert` accept any certificate, checking only that the client
//!   holds its key. `client_allowed_sans` then requires one of the listed SANs,
//!   exactly; with it, a client that sends no certificate is refused (Go's check
//!   cannot pass without one).
//! - ALPN offers `http/1.1` only: the listeners speak HTTP/1.1 (`http2` is
//!   accepted and has no effect).

use crate::config::{ClientAuth, GO_CIPHER_SUITES, TlsVersion, WebConfig};
use ember_config::ConfigError;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The PEM texts a TLS configuration is built from: read again at each handshake
/// so that replaced files take effect, compared to tell whether to rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Material {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Option<Vec<u8>>,
}

impl Material {
    /// Whether only the certificate and key differ from `other` (a rotation).
    pub(crate) fn same_ca(&self, other: &Material) -> bool {
        self.ca == other.ca
    }
}

/// Reads the certificate, key and client CA that `cfg` names (files win over
/// inline text, as in exporter-toolkit), after its completeness checks.
pub(crate) fn read_material(cfg: &WebConfig, file: &Path) -> Result<Material, ConfigError> {
    let t = &cfg.tls_server_config;
    let here = "tls_server_config";
    if t.cert_file.as_os_str().is_empty() && t.cert.is_empty() {
        return Err(cfg.invalid(file, here, "missing one of cert or cert_file".into()));
    }
    if t.key_file.as_os_str().is_empty() && t.key.is_empty() {
        return Err(cfg.invalid(file, here, "missing one of key or key_file".into()));
    }
    let read = |field: &str, path: &Path, inline: &str| -> Result<Vec<u8>, ConfigError> {
        if path.as_os_str().is_empty() {
            Ok(inline.as_bytes().to_vec())
        } else {
            std::fs::read(path).map_err(|e| cfg.io_error(file, &format!("{here}.{field}"), path, e))
        }
    };
    let cert = read("cert_file", &t.cert_file, &t.cert)?;
    let key = read("key_file", &t.key_file, t.key.expose())?;
    let ca = if !t.client_ca_file.as_os_str().is_empty() {
        Some(read("client_ca_file", &t.client_ca_file, "")?)
    } else if !t.client_ca.is_empty() {
        Some(t.client_ca.as_bytes().to_vec())
    } else {
        None
    };
    Ok(Material { cert, key, ca })
}

fn base_provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The system's trusted roots, loaded once, for client certificates verified
/// without a configured CA.
fn system_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(err = %e, "loading the system's CA certificates");
        }
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(found.certs);
        Arc::new(store)
    })
    .clone()
}

/// Builds the rustls configuration for `cfg` from `m` (see [`read_material`]).
pub(crate) fn build(
    cfg: &WebConfig,
    m: &Material,
    file: &Path,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let t = &cfg.tls_server_config;
    let invalid = |field: &str, message: String| {
        cfg.invalid(file, &format!("tls_server_config{field}"), message)
    };
    let mut provider = base_provider();

    // The pair first, as exporter-toolkit loads it before anything else.
    let pair_error = |e: String| {
        let field = if t.cert_file.as_os_str().is_empty() {
            ".cert"
        } else {
            ".cert_file"
        };
        invalid(field, format!("failed to load X509KeyPair: {e}"))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&m.cert)
        .collect::<Result<_, _>>()
        .map_err(|e| pair_error(format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(pair_error(
            "failed to find any PEM data in certificate input".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&m.key).map_err(|e| pair_error(format!("key: {e}")))?;
    let certified =
        CertifiedKey::from_der(chain, key, &provider).map_err(|e| pair_error(e.to_string()))?;

    let auth = t.client_auth().ok_or_else(|| {
        invalid(
            ".client_auth_type",
            format!("invalid ClientAuth: {}", t.client_auth_type),
        )
    })?;
    if m.ca.is_some() && auth == ClientAuth::NoClientCert {
        let field = if t.client_ca_file.as_os_str().is_empty() {
            ".client_ca"
        } else {
            ".client_ca_file"
        };
        return Err(invalid(
            field,
            "client CA's have been configured without a Client Auth Policy".into(),
        ));
    }

    // Versions.
    if t.max_version < TlsVersion::Tls12 {
        return Err(invalid(
            ".max_version",
            format!(
                "max_version {} is not supported: Ember speaks TLS 1.2 and 1.3",
                t.max_version.as_str()
            ),
        ));
    }
    if t.min_version > t.max_version {
        return Err(invalid(
            ".min_version",
            "no supported versions satisfy MinVersion and MaxVersion".into(),
        ));
    }
    let mut tls12 = t.min_version <= TlsVersion::Tls12;
    let tls13 = t.max_version >= TlsVersion::Tls13;

    // Cipher suites: the listed TLS 1.2 ones in the listed order, TLS 1.3's as they are.
    if !t.cipher_suites.is_empty() {
        let mut suites: Vec<rustls::SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        let mut any12 = false;
        for name in &t.cipher_suites {
            let Some((_, id)) = GO_CIPHER_SUITES.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if (0x1301..=0x1303).contains(id) {
                continue;
            }
            match provider
                .cipher_suites
                .iter()
                .find(|s| s.version() == &rustls::version::TLS12 && u16::from(s.suite()) == *id)
            {
                Some(s) if !suites.contains(s) => {
                    suites.push(*s);
                    any12 = true;
                }
                Some(_) => {}
                None => tracing::warn!(
                    cipher = %name,
                    "cipher suite not implemented by rustls; left out"
                ),
            }
        }
        if !any12 && tls12 {
            if !tls13 {
                return Err(invalid(
                    ".cipher_suites",
                    "none of the TLS 1.2 cipher suites listed is supported by Ember (its TLS 1.2 suites are the ECDHE ones with AES-GCM or ChaCha20-Poly1305)".into(),
                ));
            }
            tls12 = false;
        }
        provider.cipher_suites = suites;
    }

    // Curves.
    if !t.curve_preferences.is_empty() {
        use rustls::crypto::aws_lc_rs::kx_group;
        let mut groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup> = Vec::new();
        for name in &t.curve_preferences {
            let g: &'static dyn rustls::crypto::SupportedKxGroup = match name.as_str() {
                "CurveP256" => kx_group::SECP256R1,
                "CurveP384" => kx_group::SECP384R1,
                "X25519" => kx_group::X25519,
                other => {
                    tracing::warn!(curve = %other, "curve not offered by rustls; left out");
                    continue;
                }
            };
            if !groups.iter().any(|x| x.name() == g.name()) {
                groups.push(g);
            }
        }
        if groups.is_empty() {
            return Err(invalid(
                ".curve_preferences",
                "none of the curves listed is supported by Ember (CurveP256, CurveP384 and X25519 are)".into(),
            ));
        }
        provider.kx_groups = groups;
    }

    let provider = Arc::new(provider);
    let sans = t.client_allowed_sans.clone();
    let verify_roots = || -> Result<Arc<RootCertStore>, ConfigError> {
        let Some(pem) = &m.ca else {
            let roots = system_roots();
            if roots.is_empty() {
                return Err(invalid(
                    ".client_auth_type",
                    "no client_ca_file given and no system CA certificates found to verify client certificates with".into(),
                ));
            }
            return Ok(roots);
        };
        let field = if t.client_ca_file.as_os_str().is_empty() {
            ".client_ca"
        } else {
            ".client_ca_file"
        };
        let mut store = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pem) {
            let c = c.map_err(|e| invalid(field, format!("client CA: {e}")))?;
            store
                .add(c)
                .map_err(|e| invalid(field, format!("client CA: {e}")))?;
        }
        if store.is_empty() {
            return Err(invalid(field, "client CA: no certificate found".into()));
        }
        Ok(Arc::new(store))
    };
    let webpki = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, ConfigError> {
        let b = WebPkiClientVerifier::builder_with_provider(verify_roots()?, provider.clone());
        let b = if optional {
            b.allow_unauthenticated()
        } else {
            b
        };
        b.build()
            .map_err(|e| invalid(".client_auth_type", format!("client verification: {e}")))
    };
    let any = |mandatory: bool| -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCert {
            mandatory,
            algs: provider.signature_verification_algorithms,
        })
    };
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match auth {
        ClientAuth::NoClientCert => None,
        ClientAuth::RequestClientCert => Some(any(sans.is_some())),
        ClientAuth::RequireAnyClientCert => Some(any(true)),
        ClientAuth::VerifyClientCertIfGiven => Some(webpki(sans.is_none())?),
        ClientAuth::RequireAndVerifyClientCert => Some(webpki(false)?),
    };
    let verifier = match (verifier, sans) {
        (None, _) => None,
        (Some(v), None) => Some(v),
        (Some(inner), Some(allowed)) => {
            Some(Arc::new(AllowedSans { inner, allowed }) as Arc<dyn ClientCertVerifier>)
        }
    };

    let mut versions = Vec::new();
    if tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if tls13 {
        versions.push(&rustls::version::TLS13);
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid("", format!("TLS settings: {e}")))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.ignore_client_order = t.prefer_server_cipher_suites;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `RequestClientCert` and `RequireAnyClientCert`: any certificate, unverified;
/// the handshake signature is still checked, so the client holds its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// `client_allowed_sans` over another verifier: after it accepts a certificate,
/// one of the certificate's SANs must be in the list.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = subject_alt_names(end_entity).map_err(rustls::Error::General)?;
        if sans.iter().any(|s| self.allowed.contains(s)) {
            Ok(ok)
        } else {
            Err(rustls::Error::General(format!(
                "could not find allowed SANs in client cert, found: {:?}",
                self.allowed
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A certificate's SANs as Go's `x509.Certificate` spells them: DNS names, e-mail
/// addresses, IP addresses (IPv4-mapped ones as IPv4) and URIs.
pub(crate) fn subject_alt_names(der: &[u8]) -> Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("error parsing client certificate: {e}"))?;
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| format!("error parsing client certificate: {e}"))?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                out.push((*s).to_string());
            }
            GeneralName::IPAddress(b) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                    out.push(std::net::Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                    let ip = std::net::Ipv6Addr::from(v6);
                    match ip.to_ipv4_mapped() {
                        Some(v4) => out.push(v4.to_string()),
                        None => out.push(ip.to_string()),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
