//! A minimal rtnetlink client: the interface list with each interface's 64-bit
//! statistics, as one `RTM_GETLINK` dump over a `NETLINK_ROUTE` socket.
//!
//! node_exporter's `netdev` collector reads its counters this way by default
//! (`--collector.netdev.netlink`), which sees the interfaces of the exporter's own
//! network namespace whatever `--path.procfs` says, and has `rx_nohandler`, which
//! /proc/net/dev lacks. This is all Ember needs of netlink, so it speaks the few
//! messages itself through `libc` rather than pulling in a netlink stack.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `struct nlmsghdr`: length, type, flags, sequence number, port id.
const NLMSG_HDRLEN: usize = 16;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS: u16 = 7;
const IFLA_STATS64: u16 = 23;
/// How long a dump may take before it is abandoned (a scrape must not hang).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The fields of `struct rtnl_link_stats64`, in the kernel's order. Older kernels
/// send fewer (the missing ones read as 0); newer ones may send more (ignored).
pub(crate) const STATS_FIELDS: [&str; 25] = [
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
    "multicast",
    "collisions",
    "rx_length_errors",
    "rx_over_errors",
    "rx_crc_errors",
    "rx_frame_errors",
    "rx_fifo_errors",
    "rx_missed_errors",
    "tx_aborted_errors",
    "tx_carrier_errors",
    "tx_fifo_errors",
    "tx_heartbeat_errors",
    "tx_window_errors",
    "rx_compressed",
    "tx_compressed",
    "rx_nohandler",
    "rx_otherhost_dropped",
];

/// Index of a field in [`Link::stats`].
pub(crate) fn field(name: &str) -> usize {
    STATS_FIELDS
        .iter()
        .position(|f| *f == name)
        .unwrap_or(STATS_FIELDS.len())
}

/// One interface of the dump.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    pub(crate) name: String,
    /// The counters, indexed as [`STATS_FIELDS`]; `None` when the kernel sent no
    /// statistics for the interface.
    pub(crate) stats: Option<[u64; 25]>,
}

/// Lists the interfaces of this network namespace with their statistics.
pub(crate) fn links() -> io::Result<Vec<Link>> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with a pointer to a live timeval of the size given.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }

    let seq: u32 = 1;
    let mut req = Vec::with_capacity(NLMSG_HDRLEN + IFINFOMSG_LEN);
    req.extend_from_slice(&((NLMSG_HDRLEN + IFINFOMSG_LEN) as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    // ifinfomsg: AF_UNSPEC, every interface.
    req.extend_from_slice(&[0u8; IFINFOMSG_LEN]);
    // SAFETY: a zeroed sockaddr_nl is valid; the kernel is port 0.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: sendto with a live buffer and address of the sizes given.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: recv into a live buffer of the length given.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        if n > buf.len() {
            return Err(invalid("netlink message larger than the receive buffer"));
        }
        if parse_messages(&buf[..n], seq, &mut out)? {
            return Ok(out);
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses the netlink messages of one datagram into `out`; whether the dump is done.
fn parse_messages(mut b: &[u8], seq: u32, out: &mut Vec<Link>) -> io::Result<bool> {
    while b.len() >= NLMSG_HDRLEN {
        let len = u32_at(b, 0).ok_or_else(|| invalid("short netlink header"))? as usize;
        let kind = u16_at(b, 4).ok_or_else(|| invalid("short netlink header"))?;
        let msg_seq = u32_at(b, 8).ok_or_else(|| invalid("short netlink header"))?;
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(invalid("netlink message length out of bounds"));
        }
        let body = &b[NLMSG_HDRLEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code =
                        u32_at(body, 0).ok_or_else(|| invalid("short netlink error"))? as i32;
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                }
                RTM_NEWLINK => out.push(parse_link(body)?),
                _ => {}
            }
        }
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(false)
}

/// An `RTM_NEWLINK` body: `ifinfomsg`, then attributes.
fn parse_link(body: &[u8]) -> io::Result<Link> {
    let mut attrs = body
        .get(IFINFOMSG_LEN..)
        .ok_or_else(|| invalid("short ifinfomsg"))?;
    let mut name = String::new();
    let mut stats64 = None;
    let mut stats32 = None;
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0).unwrap_or(0) as usize;
        let kind = u16_at(attrs, 2).unwrap_or(0) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return Err(invalid("netlink attribute length out of bounds"));
        }
        let payload = &attrs[4..len];
        match kind {
            IFLA_IFNAME => {
                let end = payload
                    .iter()
                    .position(|c| *c == 0)
                    .unwrap_or(payload.len());
                name = String::from_utf8_lossy(&payload[..end]).into_owned();
            }
            IFLA_STATS64 => stats64 = Some(counters(payload, 8)),
            IFLA_STATS => stats32 = Some(counters(payload, 4)),
            _ => {}
        }
        attrs = attrs.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(Link {
        name,
        // The 32-bit block is the fallback of kernels without the 64-bit one.
        stats: stats64.or(stats32),
    })
}

/// Counters of `width` bytes each, as many as the payload holds.
fn counters(payload: &[u8], width: usize) -> [u64; 25] {
    let mut v = [0u64; 25];
    for (slot, chunk) in v.iter_mut().zip(payload.chunks_exact(width)) {
        *slot = match width {
            8 => u64::from_ne_bytes(chunk.try_into().unwrap_or_default()),
            _ => u64::from(u32::from_ne_bytes(chunk.try_into().unwrap_or_default())),
        };
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(payload);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn parses_a_dump() {
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body.extend(attr(IFLA_IFNAME, b"eth0\0"));
        let stats: Vec<u8> = (1..=24u64).flat_map(|v| v.to_ne_bytes()).collect();
        body.extend(attr(IFLA_STATS64, &stats));
        let mut dgram = message(RTM_NEWLINK, 1, &body);
        let mut lo = vec![0u8; IFINFOMSG_LEN];
        lo.extend(attr(IFLA_IFNAME, b"lo\0"));
        lo.extend(attr(IFLA_STATS, &7u32.to_ne_bytes()));
        dgram.extend(message(RTM_NEWLINK, 1, &lo));
        let mut out = Vec::new();
        assert!(!parse_messages(&dgram, 1, &mut out).unwrap());
        assert!(parse_messages(&message(NLMSG_DONE, 1, &[0; 4]), 1, &mut out).unwrap());
        assert_eq!(out[0].name, "eth0");
        let s = out[0].stats.unwrap();
        assert_eq!(
            (s[field("rx_nohandler")], s[field("rx_otherhost_dropped")]),
            (24, 0)
        );
        assert_eq!(out[1].stats.unwrap()[0], 7);
    }

    #[test]
    fn rejects_garbage() {
        let mut out = Vec::new();
        let mut bad = message(RTM_NEWLINK, 1, &[0u8; IFINFOMSG_LEN]);
        bad[0] = 200;
        assert!(parse_messages(&bad, 1, &mut out).is_err());
        let err = message(NLMSG_ERROR, 1, &(-1i32).to_ne_bytes());
        assert!(parse_messages(&err, 1, &mut out).is_err());
    }

    #[test]
    fn lists_this_namespace() {
        // Every Linux network namespace has a loopback interface.
        let links = links().expect("rtnetlink dump");
        assert!(links.iter().any(|l| l.name == "lo" && l.stats.is_some()));
    }
}
