//! [`serve`]: an axum router on a bound listener, in the clear or over TLS.
//!
//! TLS runs under axum's own connection handling through a [`Listener`] whose
//! `accept` yields connections whose handshake is done: a task accepts TCP
//! connections and runs each handshake on a task of its own (so that a slow or
//! silent client does not hold up the others), asking the [`WebConfigFile`] for
//! the configuration to use once the ClientHello is in, as exporter-toolkit's
//! `GetConfigForClient` does.

use crate::WebConfigFile;
use crate::auth::{Guard, Limiter};
use axum::Router;
use axum::serve::Listener;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then waits for the open
/// connections to finish (axum's graceful shutdown); pass
/// `std::future::pending()` to serve until the task is dropped.
///
/// Without `web`, plain HTTP as `axum::serve` does. With it, what the file asks
/// for: TLS (when `tls_server_config` sets it up), `basic_auth_users` (401 with
/// `WWW-Authenticate: Basic` without valid credentials), `http_server_config`'s
/// headers on every response, and `rate_limit` (429 beyond it). The file is read
/// again for every request and handshake (see [`WebConfigFile`]).
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    web: Option<WebConfigFile>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let Some(web) = web else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let limiter = match web.current() {
        Ok(c) => c
            .rate_limit
            .interval
            .map(|i| Limiter::new(i, c.rate_limit.burst)),
        Err(_) => None,
    };
    let guard = Arc::new(Guard {
        file: web.clone(),
        limiter,
    });
    let app = app.layer(axum::middleware::from_fn_with_state(
        guard,
        crate::auth::guard,
    ));
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    if web.tls() {
        tracing::info!(%address, http2 = false, "TLS is enabled.");
        axum::serve(TlsListener::new(listener, web), app)
            .with_graceful_shutdown(shutdown)
            .await
    } else {
        tracing::info!(%address, http2 = false, "TLS is disabled.");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Connections whose TLS handshake succeeded, for `axum::serve`.
struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: io::Result<SocketAddr>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl TlsListener {
    fn new(listener: TcpListener, web: WebConfigFile) -> TlsListener {
        let local = listener.local_addr();
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        accept_error(e).await;
                        continue;
                    }
                };
                let web = web.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(tcp, &web)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, err = %e, "TLS handshake error");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            ready,
            local,
            acceptor,
        }
    }
}

/// As axum's listener does: connection errors are the peer's business; others
/// (out of file descriptors, say) are logged and retried after a pause.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(err = %e, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn handshake(tcp: TcpStream, web: &WebConfigFile) -> Result<TlsStream<TcpStream>, String> {
    let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let config = web.server_config()?;
    start.into_stream(config).await.map_err(|e| e.to_string())
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The acceptor only stops when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}
