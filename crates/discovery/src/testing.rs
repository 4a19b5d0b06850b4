//! Test helpers (feature `test-util`, for the tests of the crates that use
//! [`crate::http::HttpClient`]): a throwaway PKI made at test time with `rcgen`, a
//! TLS front that puts any plain-HTTP test server (an axum router, say) behind
//! HTTPS, and an HTTP proxy that records what it is asked. Not for production use:
//! keys are generated per run and nothing is kept.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A CA with a server certificate (for `localhost` and `127.0.0.1`) and a client
/// certificate it signed, in PEM.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca: String,
    /// The server certificate.
    pub server_cert: String,
    /// The server's key.
    pub server_key: String,
    /// The client certificate.
    pub client_cert: String,
    /// The client's key.
    pub client_key: String,
}

/// Where [`Pki::write`] put the files.
#[derive(Clone, Debug)]
pub struct PkiFiles {
    /// `ca.pem`.
    pub ca: PathBuf,
    /// `client.pem`.
    pub client_cert: PathBuf,
    /// `client-key.pem`.
    pub client_key: PathBuf,
}

impl Pki {
    /// A new PKI; `name` goes into the CA's common name (two PKIs made with different
    /// names do not trust each other, and neither would two with the same name).
    ///
    /// # Panics
    /// If rcgen fails (it does not with these parameters).
    pub fn new(name: &str) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("key");
            let mut p = CertificateParams::new(names).expect("params");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &issuer).expect("cert");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) =
            leaf(vec![], "ember-client", ExtendedKeyUsagePurpose::ClientAuth);
        Pki {
            ca: ca_cert.pem(),
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }

    /// Writes the CA and the client's certificate and key into `dir`.
    ///
    /// # Panics
    /// If the files cannot be written.
    pub fn write(&self, dir: &Path) -> PkiFiles {
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        };
        std::fs::write(&files.ca, &self.ca).expect("write CA");
        std::fs::write(&files.client_cert, &self.client_cert).expect("write client cert");
        std::fs::write(&files.client_key, &self.client_key).expect("write client key");
        files
    }

    /// A server configuration presenting the server certificate; with
    /// `require_client_cert`, clients must present a certificate this CA signed.
    ///
    /// # Panics
    /// If the PEMs do not parse (they do).
    pub fn server_config(&self, require_client_cert: bool) -> Arc<ServerConfig> {
        let provider = crate::tls::provider();
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.server_cert.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server cert");
        let key = PrivateKeyDer::from_pem_slice(self.server_key.as_bytes()).expect("server key");
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(self.ca.as_bytes()) {
                roots.add(c.expect("CA")).expect("CA");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(builder.with_single_cert(chain, key).expect("server config"))
    }
}

/// Listens on a loopback port and forwards each TLS connection, once its handshake
/// succeeds, to the plain-TCP server at `backend`; returns the TLS address. The
/// connections of failed handshakes are closed. Runs until the runtime ends.
///
/// # Panics
/// If no loopback port can be bound.
pub async fn tls_front(backend: SocketAddr, config: Arc<ServerConfig>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

/// What a mock server saw, one entry per request or handshake.
pub type Seen = Arc<Mutex<Vec<String>>>;

/// Reads up to the end of an HTTP head; returns the head and any bytes after it.
pub async fn read_head<S: AsyncRead + Unpin>(c: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        match c.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A header's value in a recorded head (names compared without case).
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// An HTTP proxy recording each request head it gets. `CONNECT` opens a tunnel
/// (or, with `refuse`, is answered 407); absolute-form requests are forwarded in
/// origin form without `Proxy-Authorization`, except to `*.invalid` hosts, which
/// the proxy answers itself with `via proxy`.
pub async fn http_proxy(refuse: bool) -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            tokio::spawn(serve_proxy(c, s.clone(), refuse));
        }
    });
    (addr, seen)
}

async fn serve_proxy<S>(mut c: S, seen: Seen, refuse: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some((head, rest)) = read_head(&mut c).await else {
        return;
    };
    seen.lock().unwrap().push(head.clone());
    let mut line = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (line.next().unwrap_or(""), line.next().unwrap_or(""));
    if method == "CONNECT" {
        if refuse {
            let _ = c
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                )
                .await;
            return;
        }
        let Ok(mut up) = TcpStream::connect(target).await else {
            let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return;
        };
        let _ = c
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
        return;
    }
    let Ok(u) = url::Url::parse(target) else {
        let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        return;
    };
    let host = u.host_str().unwrap_or("").to_string();
    if host.ends_with(".invalid") {
        let _ = c
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy",
            )
            .await;
        return;
    }
    let Ok(mut up) =
        TcpStream::connect((host.as_str(), u.port_or_known_default().unwrap_or(80))).await
    else {
        let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let mut fwd = format!("{method} {path} HTTP/1.1\r\n");
    for l in head.lines().skip(1) {
        if !l.is_empty() && !l.to_ascii_lowercase().starts_with("proxy-authorization:") {
            fwd.push_str(l);
            fwd.push_str("\r\n");
        }
    }
    fwd.push_str("\r\n");
    let _ = up.write_all(fwd.as_bytes()).await;
    let _ = up.write_all(&rest).await;
    let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
}
