//! `dns_sd_configs`: targets from SRV, A, AAAA, MX or NS records, with the semantics
//! of Prometheus's `discovery/dns/dns.go`.
//!
//! Every `refresh_interval` each name is looked up (concurrently) and becomes one
//! group whose source is the name as configured. The targets are the records of the
//! answer section as the server returned them (CNAMEs skipped, nothing chased):
//! SRV gives `target:port` of the record, A and AAAA `address:port` with the
//! configured port (IPv6 bracketed), MX and NS `host:port`; trailing dots are cut
//! from the address and kept in the meta labels (`__meta_dns_name`,
//! `__meta_dns_srv_record_target`, `__meta_dns_srv_record_port`,
//! `__meta_dns_mx_record_target`, `__meta_dns_ns_record_target`; the labels that do
//! not apply are empty, that is absent).
//!
//! A lookup tries the search-path permutations of the name (see [`ResolvConf`]) and,
//! for each, the servers in order until one gives a viable answer (success or
//! NXDOMAIN). The first permutation answered with success wins, even with no
//! records; when every permutation got NXDOMAIN the name has no targets (an empty
//! group); when some permutation got only errors (timeouts, SERVFAIL, REFUSED…) the
//! lookup fails, is logged, and the name keeps the group it had, as Prometheus's
//! discovery manager keeps a group its provider did not send again.
//!
//! Why not `hickory-resolver` (the crate `DEPENDENCIES.md` names for DNS SD): it is
//! a caching, CNAME-chasing resolver with its own retry and error classes, which
//! would change what targets Prometheus configurations produce. Prometheus itself
//! uses a message library (miekg/dns) and does the asking by hand; Ember does the
//! same with the message layer of the same project, `hickory-proto` (encoding,
//! decoding and name decompression), and a small client here (`client.rs`: UDP,
//! TCP on truncation, deadlines, random and checked ids; `resolv.rs`:
//! `/etc/resolv.conf` and the search path).

mod client;
mod resolv;
#[cfg(test)]
mod tests;

pub use resolv::ResolvConf;

use crate::{Group, Provider};
use ember_config::{DnsRecordType, DnsSdConfig};
use ember_model::{Labels, LabelsBuilder};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The DNS SD provider of one `dns_sd_configs` entry.
#[derive(Debug)]
pub struct DnsProvider {
    cfg: DnsSdConfig,
    resolv: Option<ResolvConf>,
}

impl DnsProvider {
    /// A provider reading `/etc/resolv.conf` before every lookup, as Prometheus does.
    pub fn new(cfg: DnsSdConfig) -> Self {
        DnsProvider { cfg, resolv: None }
    }

    /// A provider asking the servers of `resolv` instead (tests, embedding).
    pub fn with_resolv_conf(cfg: DnsSdConfig, resolv: ResolvConf) -> Self {
        DnsProvider {
            cfg,
            resolv: Some(resolv),
        }
    }
}

impl Provider for DnsProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let refresh = self
                .cfg
                .refresh_interval
                .as_std()
                .max(Duration::from_secs(1));
            let mut tick = tokio::time::interval(refresh);
            let mut state = HashMap::new();
            let mut last: Option<Vec<Group>> = None;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = out.closed() => return,
                }
                let groups = refresh_all(&self.cfg, self.resolv.as_ref(), &mut state).await;
                if last.as_ref() != Some(&groups) {
                    last = Some(groups.clone());
                    if out.send(groups).await.is_err() {
                        return;
                    }
                }
            }
        })
    }
}

/// One refresh: looks every name up and returns the groups, in the order of the
/// names. `state` holds each name's last group, kept when its lookup fails.
pub(crate) async fn refresh_all(
    cfg: &DnsSdConfig,
    fixed: Option<&ResolvConf>,
    state: &mut HashMap<String, Group>,
) -> Vec<Group> {
    let conf: Result<Arc<ResolvConf>, String> = match fixed {
        Some(c) => Ok(Arc::new(c.clone())),
        None => ResolvConf::from_file(RESOLV_CONF)
            .map(Arc::new)
            .map_err(|e| format!("could not load resolv.conf: {e}")),
    };
    let qtype = record_type(cfg.record_type);
    let mut tasks = Vec::new();
    for name in &cfg.names {
        let (name, conf, port) = (name.clone(), conf.clone(), cfg.port);
        tasks.push(tokio::spawn(async move {
            let r = match conf {
                Ok(c) => lookup_with_search_path(&name, qtype, &c)
                    .await
                    .map(|m| group_of(&name, &m, port)),
                Err(e) => Err(e),
            };
            (name, r)
        }));
    }
    for t in tasks {
        let Ok((name, r)) = t.await else { continue };
        match r {
            Ok(g) => {
                state.insert(name, g);
            }
            Err(e) => tracing::error!(name = %name, err = %e, "Error refreshing DNS targets"),
        }
    }
    let mut seen = std::collections::HashSet::new();
    cfg.names
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .filter_map(|n| state.get(n).cloned())
        .collect()
}

fn record_type(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::Srv => RecordType::SRV,
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Ns => RecordType::NS,
    }
}

/// The group of `name` from the answer section of `m`.
pub(crate) fn group_of(name: &str, m: &Message, port: u16) -> Group {
    let mut targets = Vec::new();
    for rec in &m.answers {
        let (mut srv_t, mut srv_p, mut mx_t, mut ns_t) =
            (String::new(), String::new(), String::new(), String::new());
        let address = match &rec.data {
            RData::SRV(srv) => {
                srv_t = srv.target.to_ascii();
                srv_p = srv.port.to_string();
                join_host_port(srv_t.trim_end_matches('.'), srv.port)
            }
            RData::MX(mx) => {
                mx_t = mx.exchange.to_ascii();
                join_host_port(mx_t.trim_end_matches('.'), port)
            }
            RData::NS(ns) => {
                ns_t = ns.0.to_ascii();
                join_host_port(ns_t.trim_end_matches('.'), port)
            }
            RData::A(a) => join_host_port(&go_ip_string(IpAddr::V4(a.0)), port),
            RData::AAAA(a) => join_host_port(&go_ip_string(IpAddr::V6(a.0)), port),
            // CNAME records come with A queries for aliases.
            RData::CNAME(_) => continue,
            other => {
                tracing::warn!(record = ?other, "Invalid record");
                continue;
            }
        };
        let mut b = LabelsBuilder::new(Labels::empty());
        b.set("__address__", address);
        b.set("__meta_dns_name", name);
        b.set("__meta_dns_srv_record_target", srv_t);
        b.set("__meta_dns_srv_record_port", srv_p);
        b.set("__meta_dns_mx_record_target", mx_t);
        b.set("__meta_dns_ns_record_target", ns_t);
        targets.push(b.into_labels());
    }
    Group {
        source: name.to_string(),
        targets,
    }
}

/// Go's `net.JoinHostPort`: brackets around hosts with a colon.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's `net.IP.String`: IPv4-mapped IPv6 addresses print as IPv4.
fn go_ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Prometheus's `lookupWithSearchPath`: the first permutation of `name` answered
/// with success; an empty answer when all were answered NXDOMAIN; an error when
/// some permutation got no viable answer from any server.
pub(crate) async fn lookup_with_search_path(
    name: &str,
    qtype: RecordType,
    conf: &ResolvConf,
) -> Result<Message, String> {
    let mut all_valid = true;
    for lname in conf.name_list(name) {
        match lookup_from_any_server(&lname, qtype, conf).await {
            Err(_) => all_valid = false,
            Ok(m) if m.metadata.response_code == ResponseCode::NoError => return Ok(m),
            Ok(_) => {}
        }
    }
    if all_valid {
        Ok(Message::response(0, hickory_proto::op::OpCode::Query))
    } else {
        Err(format!(
            "could not resolve {name:?}: all servers responded with errors to at least one search domain"
        ))
    }
}

/// Prometheus's `lookupFromAnyServer`: the first success or NXDOMAIN answer.
async fn lookup_from_any_server(
    name: &str,
    qtype: RecordType,
    conf: &ResolvConf,
) -> Result<Message, String> {
    for server in &conf.servers {
        match client::ask(*server, name, qtype, conf.timeout).await {
            Err(e) => {
                tracing::warn!(server = %server, name = %name, err = %e, "DNS resolution failed")
            }
            Ok(m)
                if matches!(
                    m.metadata.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                return Ok(m);
            }
            Ok(_) => {}
        }
    }
    Err(format!(
        "could not resolve {name}: no servers returned a viable answer"
    ))
}
