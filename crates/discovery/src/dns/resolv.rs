//! `/etc/resolv.conf` as Prometheus reads it (through miekg/dns's
//! `ClientConfigFromFile`), and the search-path permutations of a name
//! (miekg/dns's `NameList`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where and how DNS SD asks: the name servers, the search path and `ndots`.
///
/// Prometheus re-reads `/etc/resolv.conf` before every lookup; the provider does the
/// same unless it was given a fixed configuration (tests point it at a local server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvConf {
    /// Name servers, asked in order until one gives a viable answer.
    pub servers: Vec<SocketAddr>,
    /// Search domains (`search`, or `domain`: the last one of them wins).
    pub search: Vec<String>,
    /// `options ndots:n` (default 1, clamped to 0..=15).
    pub ndots: usize,
    /// Deadline of one exchange with one server. Prometheus's DNS client has a fixed
    /// 2 s for dialing, writing and reading: `options timeout:` and `attempts:` are
    /// parsed by miekg/dns but not used by Prometheus's lookups, so not here either.
    pub timeout: Duration,
}

impl Default for ResolvConf {
    fn default() -> Self {
        ResolvConf {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(2),
        }
    }
}

impl ResolvConf {
    /// A configuration asking only `servers`, with no search path.
    pub fn with_servers(servers: Vec<SocketAddr>) -> Self {
        ResolvConf {
            servers,
            ..ResolvConf::default()
        }
    }

    /// Reads a `resolv.conf` file.
    pub fn from_file(path: &str) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses `resolv.conf` text the way miekg/dns does: `nameserver`, `domain`,
    /// `search` and `options ndots:`; every other line is ignored. Name servers that
    /// are not IP addresses (miekg/dns would dial them by name) are skipped.
    pub fn parse(text: &str) -> Self {
        let mut c = ResolvConf::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.first().copied() {
                Some("nameserver") => {
                    if let Some(s) = f.get(1) {
                        match parse_server(s) {
                            Some(a) => c.servers.push(a),
                            None => {
                                tracing::warn!(server = %s, "DNS SD: unusable name server in resolv.conf")
                            }
                        }
                    }
                }
                Some("domain") => {
                    c.search = f.get(1).map(|d| vec![d.to_string()]).unwrap_or_default()
                }
                Some("search") => c.search = f[1..].iter().map(|s| s.to_string()).collect(),
                Some("options") => {
                    for o in &f[1..] {
                        if let Some(n) = o.strip_prefix("ndots:") {
                            // Go's Atoi: anything unparsable is 0.
                            let n: i64 = n.parse().unwrap_or(0);
                            c.ndots = n.clamp(0, 15) as usize;
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// The names to try for `name`, in order (miekg/dns's `NameList`): a rooted name
    /// alone; otherwise the name itself first when it has more labels than `ndots`,
    /// then the name under every search domain, then the name itself last when it had
    /// too few labels. Every returned name is rooted.
    pub fn name_list(&self, name: &str) -> Vec<String> {
        if is_fqdn(name) {
            return vec![name.to_string()];
        }
        let has_ndots = count_labels(name) > self.ndots;
        let name = fqdn(name);
        let mut names = Vec::with_capacity(self.search.len() + 1);
        if has_ndots {
            names.push(name.clone());
        }
        for s in &self.search {
            names.push(fqdn(&format!("{name}{s}")));
        }
        if !has_ndots {
            names.push(name);
        }
        names
    }
}

fn parse_server(s: &str) -> Option<SocketAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    // A scoped IPv6 address (`fe80::1%2`): only numeric zones parse.
    format!("[{s}]:53").parse().ok()
}

/// Whether `name` ends with a dot that is not escaped by a backslash.
pub(crate) fn is_fqdn(name: &str) -> bool {
    let Some(rest) = name.strip_suffix('.') else {
        return false;
    };
    let backslashes = rest.bytes().rev().take_while(|&b| b == b'\\').count();
    backslashes % 2 == 0
}

fn fqdn(name: &str) -> String {
    if is_fqdn(name) {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The number of labels of `name` (the root has none), escaped dots not counting.
fn count_labels(name: &str) -> usize {
    let b = name.as_bytes();
    let mut labels = 0;
    let mut in_label = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                in_label = true;
                i += 2;
                continue;
            }
            b'.' => {
                if in_label {
                    labels += 1;
                }
                in_label = false;
            }
            _ => in_label = true,
        }
        i += 1;
    }
    if in_label {
        labels += 1;
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_miekg() {
        let c = ResolvConf::parse(
            "# generated\nnameserver 10.0.0.1\nnameserver 2001:db8::53\nnameserver not-an-ip\n\
             domain corp.example\nsearch a.example b.example\noptions rotate ndots:3 timeout:1 attempts:4\n",
        );
        assert_eq!(
            c.servers,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap()
            ]
        );
        assert_eq!(c.search, vec!["a.example", "b.example"]);
        assert_eq!(c.ndots, 3);
        assert_eq!(c.timeout, Duration::from_secs(2));
        let c = ResolvConf::parse("search x.example\ndomain y.example\noptions ndots:99\n");
        assert_eq!(c.search, vec!["y.example"]);
        assert_eq!(c.ndots, 15);
        assert_eq!(ResolvConf::parse("").ndots, 1);
    }

    #[test]
    fn name_lists() {
        let c = ResolvConf {
            search: vec!["a.example".into(), "b.example.".into()],
            ..ResolvConf::default()
        };
        assert_eq!(c.name_list("host.example.com."), vec!["host.example.com."]);
        assert_eq!(
            c.name_list("host"),
            vec!["host.a.example.", "host.b.example.", "host."]
        );
        assert_eq!(
            c.name_list("host.sub"),
            vec!["host.sub.", "host.sub.a.example.", "host.sub.b.example."]
        );
        assert_eq!(count_labels("."), 0);
        assert_eq!(count_labels("a\\.b"), 1);
        assert_eq!(count_labels("a.b.c."), 3);
        assert!(!is_fqdn("a\\."));
        assert!(is_fqdn("a\\\\."));
    }
}
