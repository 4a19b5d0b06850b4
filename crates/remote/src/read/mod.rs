//! Remote read, both ways (Prometheus's remote read API: snappy protobuf
//! `ReadRequest`s answered with raw samples or with streamed XOR chunks).
//!
//! - [`server`] answers `POST /api/v1/read` from any [`ember_storage::Queryable`],
//!   so Prometheus, Thanos sidecars and other Embers can read Ember's data;
//! - [`client`] turns a `remote_read` entry into a [`ember_storage::Queryable`], which
//!   the binary merges with the local TSDB so the PromQL engine sees both;
//! - [`codec`] holds what both share: frames, snappy, conversions and chunk
//!   (re-)encoding; [`proto`] the messages.
//!
//! Everything here is synchronous and free of HTTP: the web crate maps
//! [`ReadError`] to status codes and the binary supplies the HTTP transport.

pub mod client;
pub mod codec;
pub mod proto;
pub mod server;

#[cfg(test)]
mod tests;

/// Remote read errors.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request is malformed or asks for too much (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The storage failed while answering (HTTP 500).
    #[error("{0}")]
    Storage(String),
    /// Encoding the answer failed (HTTP 500).
    #[error("{0}")]
    Internal(String),
    /// A remote's answer could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// The remote could not be reached or refused the request.
    #[error("{0}")]
    Transport(String),
}

impl ReadError {
    /// The HTTP status the server answers this error with, as Prometheus's read
    /// handler does.
    pub fn status(&self) -> u16 {
        match self {
            ReadError::BadRequest(_) => 400,
            _ => 500,
        }
    }
}
