//! Ember's listeners: where every component — `ember server`, `ember pushgateway`,
//! `ember node-exporter`, `ember alertmanager` — binds its `--web.listen-address`
//! and serves its router, in the clear or as `--web.config.file` asks.
//!
//! Prometheus, the Pushgateway, node_exporter and Alertmanager all serve through
//! exporter-toolkit, so they share one listen-address syntax and one web
//! configuration file (`web-config.yml`: TLS, client certificates, basic auth,
//! response headers, a rate limit). This crate is that one place for Ember. It
//! exists as a crate of its own because DESIGN.md's `web` crate sits below the
//! Pushgateway, node exporter and Alertmanager in the layering (it is the server's
//! HTTP API), so the listener they all share has to live above them: here, right
//! under `discovery`, the lowest crate that speaks TLS.
//!
//! - [`bind`]: Go-style listen addresses (`:9100` is every interface, IPv6 and
//!   IPv4).
//! - [`WebConfig`] / [`parse`] / [`load_file`]: the file's schema exactly as
//!   exporter-toolkit documents it, read strictly (an unknown field is an error)
//!   with `ember-config`'s located errors (`web.yml:3:5:
//!   tls_server_config.cert_filse: field cert_filse not found in type
//!   web.TLSConfig`), relative paths joined with the file's directory, and
//!   exporter-toolkit's checks (a certificate without a key, a client CA without a
//!   client auth policy, headers that may not be set, malformed bcrypt hashes).
//! - [`WebConfigFile`]: the file loaded and fully checked at start-up (certificate
//!   and key read and paired), then followed: read again for each request and
//!   handshake, as exporter-toolkit does, so that certificate rotation, new users
//!   and new headers need no restart.
//! - [`serve`]: an axum router on a bound listener, plain HTTP or rustls, with
//!   client-certificate verification per `client_auth_type`, basic auth (bcrypt
//!   checks cached, since bcrypt is slow by design), the extra headers and the rate
//!   limit, and axum's graceful shutdown.
//!
//! Where Ember differs from exporter-toolkit, on purpose or by necessity: it
//! speaks HTTP/1.1 only (`http2` is accepted and ignored; ALPN offers
//! `http/1.1`), TLS 1.2 and 1.3 only, and no CBC cipher suites or P-521 (rustls
//! does not implement them; see `tls.rs`); a `min_version` above `max_version` is
//! refused at start rather than failing every handshake. vsock and systemd socket
//! activation are not supported.
//!
//! Dependencies beyond the workspace's usual ones: `bcrypt` for the password
//! hashes (DEPENDENCIES.md's choice), and `x509-parser` to read the SANs of client
//! certificates for `client_allowed_sans` (rustls's webpki verifies names but does
//! not list them, and Go's check is an exact match on every kind of SAN).

mod auth;
mod config;
mod file;
mod server;
mod tls;

pub use config::{
    ClientAuth, HttpServerConfig, RateLimit, TlsServerConfig, TlsVersion, WebConfig, load_file,
    parse,
};
pub use file::{WebConfigFile, check};
pub use server::serve;

use ember_config::ConfigError;
use std::io;
use tokio::net::TcpListener;

/// Why a listener could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address as given.
        addr: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The web configuration file is unreadable or invalid; the error names the
    /// file and, when known, the line, column and field.
    #[error(transparent)]
    Config(Box<ConfigError>),
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

/// Binds a Go-style listen address: `:port` means every interface (IPv6 and IPv4
/// where the system allows, else IPv4); `host:port` and `[v6]:port` as given.
pub async fn bind(addr: &str) -> Result<TcpListener, Error> {
    let err = |source| Error::Listen {
        addr: addr.to_owned(),
        source,
    };
    if let Some(port) = addr.strip_prefix(':') {
        if let Ok(l) = TcpListener::bind(format!("[::]:{port}")).await {
            return Ok(l);
        }
        return TcpListener::bind(format!("0.0.0.0:{port}"))
            .await
            .map_err(err);
    }
    TcpListener::bind(addr).await.map_err(err)
}

#[cfg(test)]
mod tests;
