//! The DNS client against hand-made bytes and an in-process server on 127.0.0.1
//! (UDP and TCP); expected targets and labels derived from Prometheus's dns.go.

use super::client::{ask, decode, encode_query};
use super::*;
use hickory_proto::op::OpCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SRV};
use hickory_proto::rr::{Name, Record};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

type Handler = Arc<dyn Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync>;

/// What the fake server saw: (over TCP, with EDNS0, recursion desired, name, type).
type Seen = Arc<Mutex<Vec<(bool, bool, bool, String, RecordType)>>>;

struct Fake {
    addr: SocketAddr,
    seen: Seen,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A server on one port for UDP and TCP; `handler` returns the messages to send
/// back (over TCP only the first one is sent).
async fn fake(handler: Handler) -> Fake {
    let (tcp, udp) = loop {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)).await {
            break (tcp, udp);
        }
    };
    let addr = tcp.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let note = |seen: &Seen, q: &Message, tcp: bool| {
        let query = &q.queries[0];
        seen.lock().unwrap().push((
            tcp,
            q.edns.is_some(),
            q.metadata.recursion_desired,
            query.name().to_ascii(),
            query.query_type(),
        ));
    };
    let (h, s) = (handler.clone(), seen.clone());
    let u = tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, from) = udp.recv_from(&mut buf).await.unwrap();
            let q = decode(&buf[..n]).unwrap();
            note(&s, &q, false);
            for r in h(&q, false) {
                udp.send_to(&r, from).await.unwrap();
            }
        }
    });
    let (h, s) = (handler, seen.clone());
    let t = tokio::spawn(async move {
        loop {
            let (mut c, _) = tcp.accept().await.unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).await.unwrap();
            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
            c.read_exact(&mut buf).await.unwrap();
            let q = decode(&buf).unwrap();
            note(&s, &q, true);
            if let Some(r) = h(&q, true).into_iter().next() {
                c.write_all(&(r.len() as u16).to_be_bytes()).await.unwrap();
                c.write_all(&r).await.unwrap();
            }
        }
    });
    Fake {
        addr,
        seen,
        tasks: vec![u, t],
    }
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn reply(q: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = code;
    m.add_query(q.queries[0].clone());
    for a in answers {
        m.add_answer(a);
    }
    m
}

fn rec(owner: &str, data: RData) -> Record {
    Record::from_rdata(name(owner), 300, data)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut b = LabelsBuilder::new(Labels::empty());
    for (k, v) in pairs {
        b.set(*k, *v);
    }
    b.into_labels()
}

#[test]
fn query_encoding_is_byte_exact() {
    let q = encode_query(0xBEEF, "a.example.", RecordType::SRV, true).unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1][..], // id, RD, 1 question, 1 additional
        &[1, b'a', 7], b"example", &[0, 0, 33, 0, 1],          // a.example. SRV IN
        &[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0],               // OPT, 4096 bytes, no flags
    ].concat();
    assert_eq!(q, want);
    let q = encode_query(7, "a.example.", RecordType::AAAA, false).unwrap();
    assert_eq!(&q[..12], &[0, 7, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&q[q.len() - 4..], &[0, 28, 0, 1]);
    assert!(encode_query(1, &format!("{}.", "x".repeat(64)), RecordType::A, true).is_err());
}

#[test]
fn response_decoding_follows_compression_pointers() {
    let mut b: Vec<u8> = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    // Question at 12: _x._tcp.example.com. SRV IN; "example" starts at 12+3+5 = 20.
    b.extend_from_slice(b"\x02_x\x04_tcp\x07example\x03com\x00\x00\x21\x00\x01");
    // Answer 1: owner -> 12, target "node1" + pointer to "example.com." at 20.
    b.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1, 0, 0, 1, 44, 0, 14]);
    b.extend_from_slice(&[0, 10, 0, 5, 0x23, 0x8C]); // priority 10, weight 5, port 9100
    let node1 = b.len();
    b.extend_from_slice(b"\x05node1\xC0\x14");
    // Answer 2: target "Node2" + pointer to answer 1's pointer (pointer to pointer).
    b.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1, 0, 0, 1, 44, 0, 14]);
    b.extend_from_slice(&[0, 10, 0, 5, 0x23, 0x8D]);
    b.extend_from_slice(b"\x05Node2\xC0");
    b.push((node1 + 6) as u8);
    let m = decode(&b).unwrap();
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.answers.len(), 2);
    let g = group_of("_x._tcp.example.com", &m, 0);
    assert_eq!(
        g,
        Group {
            source: "_x._tcp.example.com".into(),
            targets: vec![
                labels(&[
                    ("__address__", "node1.example.com:9100"),
                    ("__meta_dns_name", "_x._tcp.example.com"),
                    ("__meta_dns_srv_record_target", "node1.example.com."),
                    ("__meta_dns_srv_record_port", "9100"),
                ]),
                labels(&[
                    ("__address__", "Node2.example.com:9101"),
                    ("__meta_dns_name", "_x._tcp.example.com"),
                    ("__meta_dns_srv_record_target", "Node2.example.com."),
                    ("__meta_dns_srv_record_port", "9101"),
                ]),
            ],
        }
    );
    // A pointer loop and a cut-off message are errors, not hangs or panics.
    let mut looped = b[..12].to_vec();
    looped[7] = 0;
    looped.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1]);
    assert!(decode(&looped).is_err());
    assert!(decode(&b[..b.len() - 3]).is_err());
}

#[tokio::test]
async fn truncated_udp_answer_is_asked_again_over_tcp() {
    let f = fake(Arc::new(|q, tcp| {
        let mut m = reply(
            q,
            ResponseCode::NoError,
            vec![rec("big.test.", RData::A(A::new(192, 0, 2, 1)))],
        );
        if !tcp {
            m.answers.clear();
            m.metadata.truncation = true;
        }
        vec![m.to_vec().unwrap()]
    }))
    .await;
    let m = ask(f.addr, "big.test.", RecordType::A, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(m.answers.len(), 1);
    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (false, true, true, "big.test.".into(), RecordType::A),
            (true, false, true, "big.test.".into(), RecordType::A),
        ]
    );
}

#[tokio::test]
async fn answers_with_another_id_are_ignored_and_silence_times_out() {
    let f = fake(Arc::new(|q, _| {
        let mut stale = reply(q, ResponseCode::ServFail, vec![]);
        stale.metadata.id = q.metadata.id.wrapping_add(1);
        let good = reply(
            q,
            ResponseCode::NoError,
            vec![rec("x.test.", RData::A(A::new(192, 0, 2, 3)))],
        );
        vec![stale.to_vec().unwrap(), good.to_vec().unwrap()]
    }))
    .await;
    let m = ask(f.addr, "x.test.", RecordType::A, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);

    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let e = ask(
        silent.local_addr().unwrap(),
        "x.test.",
        RecordType::A,
        Duration::from_millis(200),
    )
    .await
    .unwrap_err();
    assert_eq!(e, "i/o timeout");
}

/// The zone of the provider tests; `flaky.example.com.` fails while `fail` is set.
fn zone(fail: Arc<AtomicBool>) -> Handler {
    Arc::new(move |q, tcp| {
        let qn = q.queries[0].name().to_ascii();
        let qt = q.queries[0].query_type();
        let (code, answers) = match (qn.as_str(), qt) {
            ("_node._tcp.example.com.", RecordType::SRV) if !tcp => {
                // Too big for UDP: ask again over TCP.
                let mut m = reply(q, ResponseCode::NoError, vec![]);
                m.metadata.truncation = true;
                return vec![m.to_vec().unwrap()];
            }
            ("_node._tcp.example.com.", RecordType::SRV) => (
                ResponseCode::NoError,
                vec![
                    rec(
                        &qn,
                        RData::SRV(SRV::new(0, 0, 9100, name("node1.example.com."))),
                    ),
                    rec(
                        &qn,
                        RData::SRV(SRV::new(10, 5, 9101, name("node2.example.com."))),
                    ),
                ],
            ),
            ("web.example.com.", RecordType::A) => (
                ResponseCode::NoError,
                vec![
                    rec(&qn, RData::CNAME(CNAME(name("host.example.com.")))),
                    rec("host.example.com.", RData::A(A::new(192, 0, 2, 1))),
                    rec("host.example.com.", RData::A(A::new(192, 0, 2, 2))),
                ],
            ),
            ("v6.example.com.", RecordType::AAAA) => (
                ResponseCode::NoError,
                vec![
                    rec(&qn, RData::AAAA(AAAA("2001:db8::1".parse().unwrap()))),
                    rec(&qn, RData::AAAA(AAAA("::ffff:192.0.2.7".parse().unwrap()))),
                ],
            ),
            ("example.com.", RecordType::MX) => (
                ResponseCode::NoError,
                vec![rec(&qn, RData::MX(MX::new(10, name("mail.example.com."))))],
            ),
            ("example.com.", RecordType::NS) => (
                ResponseCode::NoError,
                vec![rec(&qn, RData::NS(NS(name("ns1.example.com."))))],
            ),
            ("empty.example.com.", _) => (ResponseCode::NoError, vec![]),
            ("flaky.example.com.", RecordType::A) if fail.load(Ordering::SeqCst) => {
                (ResponseCode::ServFail, vec![])
            }
            ("flaky.example.com.", RecordType::A) => (
                ResponseCode::NoError,
                vec![rec(&qn, RData::A(A::new(192, 0, 2, 9)))],
            ),
            ("broken.example.com.", _) => (ResponseCode::Refused, vec![]),
            _ => (ResponseCode::NXDomain, vec![]),
        };
        vec![reply(q, code, answers).to_vec().unwrap()]
    })
}

fn sd(names: &[&str], t: DnsRecordType, port: u16) -> DnsSdConfig {
    DnsSdConfig {
        names: names.iter().map(|s| s.to_string()).collect(),
        refresh_interval: ember_config::Duration::from_secs(30),
        record_type: t,
        port,
    }
}

#[tokio::test]
async fn provider_groups_and_meta_labels_match_prometheus() {
    let fail = Arc::new(AtomicBool::new(false));
    let f = fake(zone(fail.clone())).await;
    let conf = ResolvConf::with_servers(vec![f.addr]);
    let mut st = HashMap::new();

    // SRV, the default; the UDP answer is truncated, TCP gives the records.
    let g = refresh_all(
        &sd(&["_node._tcp.example.com"], DnsRecordType::Srv, 0),
        Some(&conf),
        &mut st,
    )
    .await;
    let srv = |addr: &str, target: &str, port: &str| {
        labels(&[
            ("__address__", addr),
            ("__meta_dns_name", "_node._tcp.example.com"),
            ("__meta_dns_srv_record_target", target),
            ("__meta_dns_srv_record_port", port),
        ])
    };
    assert_eq!(
        g,
        vec![Group {
            source: "_node._tcp.example.com".into(),
            targets: vec![
                srv("node1.example.com:9100", "node1.example.com.", "9100"),
                srv("node2.example.com:9101", "node2.example.com.", "9101"),
            ],
        }]
    );

    // A through a CNAME (skipped), AAAA bracketed, IPv4-mapped printed as IPv4.
    let g = refresh_all(
        &sd(&["web.example.com"], DnsRecordType::A, 9100),
        Some(&conf),
        &mut HashMap::new(),
    )
    .await;
    let plain = |addr: &str, n: &str| labels(&[("__address__", addr), ("__meta_dns_name", n)]);
    assert_eq!(
        g[0].targets,
        vec![
            plain("192.0.2.1:9100", "web.example.com"),
            plain("192.0.2.2:9100", "web.example.com"),
        ]
    );
    let g = refresh_all(
        &sd(&["v6.example.com."], DnsRecordType::Aaaa, 80),
        Some(&conf),
        &mut HashMap::new(),
    )
    .await;
    assert_eq!(g[0].source, "v6.example.com.");
    assert_eq!(
        g[0].targets,
        vec![
            plain("[2001:db8::1]:80", "v6.example.com."),
            plain("192.0.2.7:80", "v6.example.com."),
        ]
    );

    // MX and NS: the configured port, the record's host in the meta label.
    let g = refresh_all(
        &sd(&["example.com"], DnsRecordType::Mx, 25),
        Some(&conf),
        &mut HashMap::new(),
    )
    .await;
    assert_eq!(
        g[0].targets,
        vec![labels(&[
            ("__address__", "mail.example.com:25"),
            ("__meta_dns_name", "example.com"),
            ("__meta_dns_mx_record_target", "mail.example.com."),
        ])]
    );
    let g = refresh_all(
        &sd(&["example.com"], DnsRecordType::Ns, 53),
        Some(&conf),
        &mut HashMap::new(),
    )
    .await;
    assert_eq!(
        g[0].targets,
        vec![labels(&[
            ("__address__", "ns1.example.com:53"),
            ("__meta_dns_name", "example.com"),
            ("__meta_dns_ns_record_target", "ns1.example.com."),
        ])]
    );

    // Queries go out rooted, recursive, with EDNS0 over UDP only.
    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(
        seen[..2],
        [
            (
                false,
                true,
                true,
                "_node._tcp.example.com.".into(),
                RecordType::SRV
            ),
            (
                true,
                false,
                true,
                "_node._tcp.example.com.".into(),
                RecordType::SRV
            ),
        ]
    );
}

#[tokio::test]
async fn failures_keep_the_last_group_and_nxdomain_empties_it() {
    let fail = Arc::new(AtomicBool::new(false));
    let f = fake(zone(fail.clone())).await;
    // A silent first server: its timeout is logged and the next server asked.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let conf = ResolvConf {
        timeout: Duration::from_millis(200),
        ..ResolvConf::with_servers(vec![silent.local_addr().unwrap(), f.addr])
    };
    let cfg = sd(
        &[
            "flaky.example.com",
            "missing.example.com",
            "empty.example.com",
            "broken.example.com",
            "flaky.example.com",
        ],
        DnsRecordType::A,
        80,
    );
    let mut st = HashMap::new();
    let first = refresh_all(&cfg, Some(&conf), &mut st).await;
    let flaky = Group {
        source: "flaky.example.com".into(),
        targets: vec![labels(&[
            ("__address__", "192.0.2.9:80"),
            ("__meta_dns_name", "flaky.example.com"),
        ])],
    };
    let empty = |s: &str| Group {
        source: s.into(),
        targets: vec![],
    };
    // NXDOMAIN and an empty answer give empty groups; REFUSED from every server
    // gives none; a repeated name one group.
    assert_eq!(
        first,
        vec![
            flaky.clone(),
            empty("missing.example.com"),
            empty("empty.example.com")
        ]
    );
    fail.store(true, Ordering::SeqCst);
    let second = refresh_all(&cfg, Some(&conf), &mut st).await;
    assert_eq!(second, first);
    fail.store(false, Ordering::SeqCst);
    drop(f);
    // No server left that answers: everything is kept.
    let third = refresh_all(&cfg, Some(&conf), &mut st).await;
    assert_eq!(third, first);
}

#[tokio::test]
async fn search_path_and_provider_run() {
    let f = fake(zone(Arc::default())).await;
    let conf = ResolvConf {
        search: vec!["nowhere.test".into(), "example.com".into()],
        ..ResolvConf::with_servers(vec![f.addr])
    };
    // Two labels > ndots 1: the name itself first (NXDOMAIN), then the search path.
    let cfg = sd(&["_node._tcp", "web"], DnsRecordType::Srv, 0);
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(Box::new(DnsProvider::with_resolv_conf(cfg, conf)).run(tx));
    let groups = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    task.abort();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].source, "_node._tcp");
    assert_eq!(
        groups[0].targets[0],
        labels(&[
            ("__address__", "node1.example.com:9100"),
            ("__meta_dns_name", "_node._tcp"),
            ("__meta_dns_srv_record_target", "node1.example.com."),
            ("__meta_dns_srv_record_port", "9100"),
        ])
    );
    // "web" has no SRV records anywhere: every permutation NXDOMAIN, an empty group.
    assert_eq!(groups[1].source, "web");
    assert!(groups[1].targets.is_empty());
    let names: Vec<String> = f
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| !s.0)
        .map(|s| s.3.clone())
        .collect();
    let mut names_sorted = names.clone();
    names_sorted.sort();
    assert_eq!(
        names_sorted,
        vec![
            "_node._tcp.",
            "_node._tcp.example.com.",
            "_node._tcp.nowhere.test.",
            "web.",
            "web.example.com.",
            "web.nowhere.test.",
        ]
    );
    let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
    assert!(pos("_node._tcp.") < pos("_node._tcp.nowhere.test."));
    assert!(
        pos("web.nowhere.test.") < pos("web.example.com.") && pos("web.example.com.") < pos("web.")
    );
}
