//! One question to one server, as miekg/dns's `Client.Exchange` and Prometheus's
//! `askServerForName` do it: UDP with an EDNS0 OPT record announcing 4096 bytes,
//! then, when the answer comes back truncated, the same question again over TCP
//! (without EDNS0, with a fresh id). Each exchange has its own deadline.

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// miekg/dns's `DefaultMsgSize`, the UDP payload size Prometheus announces.
const EDNS_PAYLOAD: u16 = 4096;

/// Encodes a recursive query for `name` (rooted) and `qtype` with message id `id`.
pub(crate) fn encode_query(
    id: u16,
    name: &str,
    qtype: RecordType,
    edns: bool,
) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(name).map_err(|e| format!("invalid name {name:?}: {e}"))?;
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name, qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(EDNS_PAYLOAD);
        m.set_edns(e);
    }
    m.to_vec().map_err(|e| e.to_string())
}

/// Decodes a message (names in records decompressed).
pub(crate) fn decode(bytes: &[u8]) -> Result<Message, String> {
    Message::from_vec(bytes).map_err(|e| format!("invalid DNS message: {e}"))
}

/// Asks `server` for `name`/`qtype`: UDP first, TCP when the UDP answer is truncated.
/// Returns the server's answer whatever its response code.
pub(crate) async fn ask(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
) -> Result<Message, String> {
    let query = encode_query(rand_id(), name, qtype, true)?;
    let r = deadline(timeout, udp_exchange(server, &query)).await?;
    if !r.metadata.truncation {
        return Ok(r);
    }
    let query = encode_query(rand_id(), name, qtype, false)?;
    let r = deadline(timeout, tcp_exchange(server, &query)).await?;
    if r.metadata.truncation {
        return Err("got truncated message on TCP (64kiB limit exceeded?)".into());
    }
    Ok(r)
}

async fn deadline<T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or_else(|_| Err("i/o timeout".into()))
}

fn rand_id() -> u16 {
    // hickory's own random query id (thread-local CSPRNG).
    Message::query().metadata.id
}

fn id_of(query: &[u8]) -> u16 {
    u16::from_be_bytes([query[0], query[1]])
}

async fn udp_exchange(server: SocketAddr, query: &[u8]) -> Result<Message, String> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let sock = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    sock.send(query).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
        let m = decode(&buf[..n])?;
        // A late answer to an earlier, timed-out query: keep waiting for ours.
        if m.metadata.id == id_of(query) {
            return Ok(m);
        }
    }
}

async fn tcp_exchange(server: SocketAddr, query: &[u8]) -> Result<Message, String> {
    let mut s = TcpStream::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
    framed.extend_from_slice(query);
    s.write_all(&framed).await.map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    let m = decode(&buf)?;
    if m.metadata.id != id_of(query) {
        return Err("id mismatch".into());
    }
    Ok(m)
}
