//! Interop against the real node_exporter: runs Debian's `prometheus-node-exporter`
//! (1.5) and Ember's collectors side by side on this host, with the same collectors
//! and filters, and compares what they expose.
//!
//! - Every family Ember emits must be one node_exporter emits (an extra one would be
//!   a name no dashboard or alert knows).
//! - For every shared family, HELP, TYPE and the label names must be equal.
//! - A collector that succeeds under node_exporter must succeed under Ember.
//! - Families node_exporter emits and Ember lacks are printed. `go_*` (Go runtime
//!   internals, which a Rust process has no equivalent of) are not counted; of the
//!   rest at most [`MAX_MISSING`] may be missing. It is 0: the collectors compared
//!   are the ones Ember implements, so on the same host the same files give the same
//!   families, and any gap is a bug or an unported corner of a collector worth a
//!   failure rather than a silent difference.
//!
//! Ember follows upstream's current node_exporter (its output over upstream's own
//! fixtures is checked by `tests/e2e_fixtures.rs`), which has grown families, labels
//! and reworded help texts since 1.5. Those changes are listed in [`NEWER_THAN_1_5`]
//! and left out of the comparison with 1.5; anything else must still match. Defaults
//! that changed since 1.5 are spelled out on both command lines.
//!
//! The binary is `/usr/bin/prometheus-node-exporter` or `$EMBER_NODE_EXPORTER_BIN`.
//! Without it the test says so and passes, unless `EMBER_REQUIRE_INTEROP=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use ember_exposition::{Format, MetricFamily, MetricType};
use ember_node_exporter::{Args, Exporter};

/// node_exporter families (other than `go_*`) Ember may lack; see the module doc.
const MAX_MISSING: usize = 0;

/// Upstream's default; Debian's also excludes /run, /mnt and /media.
const UPSTREAM_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// Upstream's default since 1.6 (1.5 did not exclude zram devices).
const UPSTREAM_DISKSTATS_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// How a family changed in node_exporter after 1.5.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Since {
    /// The family is new.
    Added,
    /// The family gained this label.
    Label(&'static str),
    /// The help text was reworded.
    Help,
    /// The family's series with this label pair (`name="value"`) are new or were
    /// remapped, and are not compared (`node_nfsd_requests_total`: procfs fixed its
    /// NFSv4 operation indexes and node_exporter added `WdelegGetattr`;
    /// `node_zfs_zpool_state`: the `suspended` state).
    Series(&'static str),
    /// Another collector now emits a family of this name with other labels and help
    /// (`cpu` with `--collector.cpu.info` and cpufreq on: `node_cpu_frequency_hertz`
    /// from /proc/cpuinfo).
    Redefined,
}

/// What changed after node_exporter 1.5 in the families Ember emits, as of
/// upstream's current release.
const NEWER_THAN_1_5: &[(&str, Since)] = &[
    ("node_btrfs_commit_seconds_total", Since::Added),
    ("node_btrfs_commits_total", Since::Added),
    ("node_btrfs_last_commit_seconds", Since::Added),
    ("node_btrfs_max_commit_seconds", Since::Added),
    ("node_cpu_frequency_avg_hertz", Since::Added),
    ("node_cpu_frequency_hertz", Since::Redefined),
    ("node_cpu_frequency_max_hertz", Since::Help),
    ("node_cpu_frequency_min_hertz", Since::Help),
    ("node_cpu_scaling_governor", Since::Added),
    ("node_disk_info", Since::Label("rotational")),
    ("node_edac_channel_correctable_errors_total", Since::Added),
    ("node_edac_channel_uncorrectable_errors_total", Since::Added),
    ("node_hwmon_freq_freq_mhz", Since::Added),
    (
        "node_infiniband_duplicate_requests_packets_total",
        Since::Added,
    ),
    ("node_infiniband_implied_nak_seq_errors_total", Since::Added),
    ("node_infiniband_lifespan_seconds", Since::Added),
    (
        "node_infiniband_local_ack_timeout_errors_total",
        Since::Added,
    ),
    ("node_infiniband_np_cnp_packets_sent_total", Since::Added),
    (
        "node_infiniband_np_ecn_marked_roce_packets_received_total",
        Since::Added,
    ),
    ("node_infiniband_out_of_buffer_drops_total", Since::Added),
    (
        "node_infiniband_out_of_sequence_packets_received_total",
        Since::Added,
    ),
    ("node_infiniband_packet_sequence_errors_total", Since::Added),
    ("node_infiniband_req_cqes_errors_total", Since::Added),
    ("node_infiniband_req_cqes_flush_errors_total", Since::Added),
    (
        "node_infiniband_req_remote_access_errors_total",
        Since::Added,
    ),
    (
        "node_infiniband_req_remote_invalid_request_errors_total",
        Since::Added,
    ),
    ("node_infiniband_resp_cqes_errors_total", Since::Added),
    ("node_infiniband_resp_cqes_flush_errors_total", Since::Added),
    (
        "node_infiniband_resp_local_length_errors_total",
        Since::Added,
    ),
    (
        "node_infiniband_resp_remote_access_errors_total",
        Since::Added,
    ),
    (
        "node_infiniband_rnr_nak_retry_packets_received_total",
        Since::Added,
    ),
    (
        "node_infiniband_roce_adp_retransmits_timeout_total",
        Since::Added,
    ),
    ("node_infiniband_roce_adp_retransmits_total", Since::Added),
    ("node_infiniband_roce_slow_restart_cnps_total", Since::Added),
    ("node_infiniband_roce_slow_restart_total", Since::Added),
    ("node_infiniband_roce_slow_restart_used_total", Since::Added),
    (
        "node_infiniband_rp_cnp_ignored_packets_received_total",
        Since::Added,
    ),
    ("node_infiniband_rp_cnp_packets_handled_total", Since::Added),
    ("node_infiniband_rx_atomic_requests_total", Since::Added),
    (
        "node_infiniband_rx_dct_connect_requests_total",
        Since::Added,
    ),
    (
        "node_infiniband_rx_icrc_encapsulated_errors_total",
        Since::Added,
    ),
    ("node_infiniband_rx_read_requests_total", Since::Added),
    ("node_infiniband_rx_write_requests_total", Since::Added),
    ("node_md_degraded", Since::Added),
    ("node_md_raid_disks", Since::Added),
    ("node_netstat_TcpExt_TCPOFOQueue", Since::Added),
    ("node_netstat_TcpExt_TCPRcvQDrop", Since::Added),
    ("node_network_info", Since::Label("adminstate")),
    ("node_nfsd_requests_total", Since::Series("proto=\"4\"")),
    ("node_nvme_info", Since::Label("cntlid")),
    ("node_nvme_namespace_capacity_bytes", Since::Added),
    ("node_nvme_namespace_info", Since::Added),
    ("node_nvme_namespace_logical_block_size_bytes", Since::Added),
    ("node_nvme_namespace_size_bytes", Since::Added),
    ("node_nvme_namespace_used_bytes", Since::Added),
    ("node_pressure_irq_stalled_seconds_total", Since::Added),
    ("node_softnet_backlog_len", Since::Added),
    ("node_softnet_cpu_collision_total", Since::Added),
    ("node_softnet_flow_limit_count_total", Since::Added),
    ("node_softnet_received_rps_total", Since::Added),
    ("node_zfs_zpool_state", Since::Series("state=\"suspended\"")),
];

fn since(name: &str) -> Option<Since> {
    NEWER_THAN_1_5
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// The label a family gained after 1.5, or "".
fn added_label(name: &str) -> &'static str {
    match since(name) {
        Some(Since::Label(l)) => l,
        _ => "",
    }
}

/// Whether a series of family `name` is one added or remapped after 1.5 (a
/// [`Since::Series`] label pair).
fn added_series(name: &str, s: &ember_exposition::Sample) -> bool {
    match since(name) {
        Some(Since::Series(pair)) => s
            .labels
            .iter()
            .any(|l| format!("{}={:?}", l.name, l.value) == pair),
        _ => false,
    }
}

/// Families whose values differ between two scrapes of the same fixtures: clocks,
/// durations, the processes themselves, and statfs of live directories.
const VOLATILE: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    "node_time_seconds",
    "node_filesystem_avail_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_files_free",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
];

fn volatile(name: &str) -> bool {
    VOLATILE.contains(&name)
        || ["go_", "process_", "promhttp_", "node_timex_"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// Kills the child on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EMBER_NODE_EXPORTER_BIN") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("/usr/bin/prometheus-node-exporter");
    p.exists().then_some(p)
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(std::io::Error::other("no HTTP header"));
    };
    if !head.contains(" 200 ") {
        return Err(std::io::Error::other(head.to_owned()));
    }
    Ok(body.to_owned())
}

/// Starts node_exporter with `args` and returns its first scrape.
fn scrape_node_exporter(bin: &Path, args: &[String]) -> (Guard, String) {
    let port = free_port();
    let child = Command::new(bin)
        .args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node_exporter");
    let guard = Guard(child);
    let start = Instant::now();
    loop {
        match http_get(port, "/metrics") {
            Ok(t) => return (guard, t),
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("node_exporter did not answer: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Per family: help, type, and the label names its series use.
type Shape = BTreeMap<String, (Option<String>, MetricType, BTreeSet<String>)>;

fn shape(fams: &[MetricFamily]) -> Shape {
    let mut out = Shape::new();
    for f in fams {
        let added = added_label(&f.name);
        let labels: BTreeSet<String> = f
            .samples
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.clone()))
            .filter(|l| l != added)
            .collect();
        out.insert(f.name.clone(), (f.help.clone(), f.metric_type, labels));
    }
    out
}

fn successes(fams: &[MetricFamily]) -> BTreeMap<String, f64> {
    fams.iter()
        .filter(|f| f.name == "node_scrape_collector_success")
        .flat_map(|f| f.samples.iter())
        .filter_map(|s| {
            let c = s.labels.iter().find(|l| l.name == "collector")?;
            Some((c.value.clone(), s.value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_families_as_node_exporter() {
    let Some(bin) = binary() else {
        if std::env::var("EMBER_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("prometheus-node-exporter not found and EMBER_REQUIRE_INTEROP=1");
        }
        eprintln!(
            "skipping: /usr/bin/prometheus-node-exporter not found (apt install prometheus-node-exporter)"
        );
        return;
    };
    let textfiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/textfile/good");
    let collectors = Args::default().enabled_collectors();
    // Flags both get: the same collectors and the same filters (Debian patches some
    // defaults, so they are spelled out).
    let mut common = vec![
        "--collector.disable-defaults".to_owned(),
        "--collector.cpu.info".to_owned(),
        "--collector.cpu.info.flags-include=^(fpu|sse2|avx)$".to_owned(),
        "--collector.cpu.info.bugs-include=.".to_owned(),
        "--collector.stat.softirq".to_owned(),
        format!("--collector.textfile.directory={}", textfiles.display()),
        format!("--collector.filesystem.mount-points-exclude={UPSTREAM_MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.diskstats.device-exclude={UPSTREAM_DISKSTATS_EXCLUDE}"),
        "--collector.netdev.device-exclude=".to_owned(),
        "--collector.netdev.address-info".to_owned(),
    ];
    common.extend(collectors.iter().map(|c| format!("--collector.{c}")));

    let (_guard, ne_text) = scrape_node_exporter(&bin, &common);

    let args = Args::try_parse_from(std::iter::once("node-exporter".to_owned()).chain(common))
        .expect("Ember takes node_exporter's flags");
    let exporter = Exporter::new(&args).expect("exporter");
    let ember = exporter.gather(&[]).await.expect("gather");
    let mut ember_text = Vec::new();
    ember_exposition::write_text(&mut ember_text, &ember);
    // Read back what Ember serves, as a scraper would.
    let ember = ember_exposition::parse(&ember_text, Format::Text).expect("Ember's output parses");
    let ne = ember_exposition::parse(ne_text.as_bytes(), Format::Text)
        .expect("node_exporter's output parses");

    let (ours, theirs) = (shape(&ember), shape(&ne));
    let extra: Vec<&String> = ours
        .keys()
        .filter(|k| {
            !theirs.contains_key(*k) && !matches!(since(k), Some(Since::Added | Since::Redefined))
        })
        .collect();
    let missing: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let (go, missing): (Vec<&String>, Vec<&String>) =
        missing.into_iter().partition(|k| k.starts_with("go_"));
    let mut help = Vec::new();
    let mut types = Vec::new();
    let mut labels = Vec::new();
    let mut shared = 0;
    for (name, (h, t, l)) in &ours {
        let Some((h2, t2, l2)) = theirs.get(name) else {
            continue;
        };
        shared += 1;
        if since(name) == Some(Since::Redefined) {
            continue;
        }
        if h != h2 && since(name) != Some(Since::Help) {
            help.push(format!("{name}: Ember {h:?}, node_exporter {h2:?}"));
        }
        if t != t2 {
            types.push(format!("{name}: Ember {t}, node_exporter {t2}"));
        }
        if l != l2 {
            labels.push(format!("{name}: Ember {l:?}, node_exporter {l2:?}"));
        }
    }
    let (ok_ours, ok_theirs) = (successes(&ember), successes(&ne));
    let mut failing = Vec::new();
    for (c, v) in &ok_theirs {
        let mine = ok_ours.get(c).copied();
        if mine != Some(*v) {
            failing.push(format!("{c}: Ember {mine:?}, node_exporter {v}"));
        }
    }

    // Series (name and labels, not values) of the shared families: on the same host
    // they should be the same; printed, not asserted, since a device or an ARP entry
    // can come or go between the two scrapes.
    let series = |fams: &[MetricFamily]| -> BTreeSet<String> {
        fams.iter()
            .filter(|f| !f.name.starts_with("go_") && f.name != "node_exporter_build_info")
            .filter(|f| !matches!(since(&f.name), Some(Since::Added | Since::Redefined)))
            .flat_map(|f| f.samples.iter().map(move |s| (f, s)))
            .filter(|(f, s)| !added_series(&f.name, s))
            .map(|(f, s)| {
                let l: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|l| l.name != added_label(&f.name))
                    .map(|l| format!("{}={:?}", l.name, l.value))
                    .collect();
                format!("{}{{{}}}", s.name, l.join(","))
            })
            .collect()
    };
    let (s_ours, s_theirs) = (series(&ember), series(&ne));
    let only_theirs: Vec<&String> = s_theirs.difference(&s_ours).collect();
    let only_ours: Vec<&String> = s_ours.difference(&s_theirs).collect();

    println!("node_exporter: {}", bin.display());
    println!(
        "collectors compared ({}): {}",
        collectors.len(),
        collectors.join(",")
    );
    println!(
        "families: node_exporter {}, Ember {}, shared {shared}, missing {} (+{} go_*), extra {}",
        theirs.len(),
        ours.len(),
        missing.len(),
        go.len(),
        extra.len()
    );
    println!(
        "mismatches: HELP {}, TYPE {}, label names {}, collector success {}",
        help.len(),
        types.len(),
        labels.len(),
        failing.len()
    );
    println!(
        "series: node_exporter {}, Ember {}, only node_exporter {}, only Ember {}",
        s_theirs.len(),
        s_ours.len(),
        only_theirs.len(),
        only_ours.len()
    );
    for s in only_theirs.iter().take(20) {
        println!("  series only in node_exporter: {s}");
    }
    for s in only_ours.iter().take(20) {
        println!("  series only in Ember: {s}");
    }
    for m in &missing {
        println!("  missing: {m}");
    }
    for e in &extra {
        println!("  extra: {e}");
    }
    for m in help.iter().chain(&types).chain(&labels).chain(&failing) {
        println!("  mismatch: {m}");
    }

    // Values of metrics that do not move between two scrapes of the same host:
    // memory and swap totals, filesystem sizes and inode counts, the CPU count
    // (idle-time series per CPU), uname, and the boot time.
    let stable = |fams: &[MetricFamily]| -> BTreeMap<String, f64> {
        const STABLE: &[&str] = &[
            "node_memory_MemTotal_bytes",
            "node_memory_SwapTotal_bytes",
            "node_filesystem_size_bytes",
            "node_filesystem_files",
            "node_uname_info",
            "node_boot_time_seconds",
        ];
        let mut out = BTreeMap::new();
        for f in fams {
            for s in &f.samples {
                if STABLE.contains(&s.name.as_str()) {
                    let mut l: Vec<String> = s
                        .labels
                        .iter()
                        .map(|l| format!("{}={:?}", l.name, l.value))
                        .collect();
                    l.sort();
                    out.insert(format!("{}{{{}}}", s.name, l.join(",")), s.value);
                }
                if s.name == "node_cpu_seconds_total"
                    && s.labels
                        .iter()
                        .any(|l| l.name == "mode" && l.value == "idle")
                {
                    *out.entry("cpu count".to_string()).or_insert(0.0) += 1.0;
                }
            }
        }
        out
    };
    let (v_ours, v_theirs) = (stable(&ember), stable(&ne));
    println!(
        "stable values compared: {} (memory, swap, filesystem sizes and inodes, CPU count, uname, boot time)",
        v_theirs.len()
    );
    assert!(
        v_theirs.len() >= 5,
        "too few stable values to compare: {v_theirs:?}"
    );
    assert_eq!(v_ours, v_theirs, "stable values differ");

    assert!(
        extra.is_empty(),
        "families node_exporter doesn't have: {extra:?}"
    );
    assert!(help.is_empty(), "HELP differs: {help:#?}");
    assert!(types.is_empty(), "TYPE differs: {types:#?}");
    assert!(labels.is_empty(), "label names differ: {labels:#?}");
    // Ember succeeding where node_exporter fails is fine (it is more lenient in a few
    // places); the reverse is not.
    let worse: Vec<&String> = failing.iter().filter(|m| m.ends_with(" 1")).collect();
    assert!(
        worse.is_empty(),
        "collectors failing under Ember only: {worse:?}"
    );
    #[allow(
        clippy::absurd_extreme_comparisons,
        reason = "the threshold is a policy that may be raised"
    )]
    let within = missing.len() <= MAX_MISSING;
    assert!(
        within,
        "{} node_exporter families missing (at most {MAX_MISSING} allowed): {missing:?}",
        missing.len()
    );
}

/// Both exporters over Ember's fixture trees (`testdata/`): this covers the
/// collectors this host has nothing for (hwmon, thermal zones, md arrays, EDAC, DMI,
/// cpufreq, schedstat...). Every series must be the same, and every value too, but
/// for clocks, durations and the exporters' own process metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_output_as_node_exporter_on_fixtures() {
    compare_on_fixtures("good").await;
}

/// The same with broken and timestamped textfiles beside a good one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_output_as_node_exporter_on_bad_textfiles() {
    compare_on_fixtures("bad").await;
}

async fn compare_on_fixtures(textfiles: &str) {
    let Some(bin) = binary() else {
        if std::env::var("EMBER_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("prometheus-node-exporter not found and EMBER_REQUIRE_INTEROP=1");
        }
        eprintln!("skipping: /usr/bin/prometheus-node-exporter not found");
        return;
    };
    let td = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut common = vec![
        "--collector.disable-defaults".to_owned(),
        format!("--path.procfs={}", td.join("proc").display()),
        format!("--path.sysfs={}", td.join("sys").display()),
        format!("--path.rootfs={}", td.join("rootfs").display()),
        format!("--path.udev.data={}", td.join("udev").display()),
        "--collector.cpu.info".to_owned(),
        "--collector.cpu.info.flags-include=^(sse2|avx)$".to_owned(),
        "--collector.stat.softirq".to_owned(),
        format!(
            "--collector.textfile.directory={}",
            td.join("textfile").join(textfiles).display()
        ),
        "--collector.netdev.device-exclude=".to_owned(),
        format!("--collector.filesystem.mount-points-exclude={UPSTREAM_MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.diskstats.device-exclude={UPSTREAM_DISKSTATS_EXCLUDE}"),
        // Both read the fixtures' /proc/net/dev rather than the host's interfaces
        // over netlink.
        "--no-collector.netdev.netlink".to_owned(),
    ];
    common.extend(
        Args::default()
            .enabled_collectors()
            .iter()
            .map(|c| format!("--collector.{c}")),
    );
    let (_guard, ne_text) = scrape_node_exporter(&bin, &common);

    let args = Args::try_parse_from(std::iter::once("node-exporter".to_owned()).chain(common))
        .expect("flags");
    let ember = Exporter::new(&args).unwrap().gather(&[]).await.unwrap();
    let mut ember_text = Vec::new();
    ember_exposition::write_text(&mut ember_text, &ember);
    let ember = ember_exposition::parse(&ember_text, Format::Text).unwrap();
    let ne = ember_exposition::parse(ne_text.as_bytes(), Format::Text).unwrap();

    let lines = |fams: &[MetricFamily]| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        // The build info names each exporter's own version.
        for f in fams
            .iter()
            .filter(|f| !f.name.starts_with("go_") && f.name != "node_exporter_build_info")
            .filter(|f| !matches!(since(&f.name), Some(Since::Added | Since::Redefined)))
        {
            if since(&f.name) != Some(Since::Help) {
                out.insert(format!("# HELP {} {:?}", f.name, f.help));
            }
            out.insert(format!("# TYPE {} {}", f.name, f.metric_type));
            for s in f.samples.iter().filter(|s| !added_series(&f.name, s)) {
                let l: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|l| l.name != added_label(&f.name))
                    .map(|l| format!("{}={:?}", l.name, l.value))
                    .collect();
                let v = if volatile(&f.name) {
                    String::new()
                } else {
                    format!(" {}", s.value)
                };
                out.insert(format!("{}{{{}}}{v}", s.name, l.join(",")));
            }
        }
        out
    };
    let (ours, theirs) = (lines(&ember), lines(&ne));
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    println!(
        "fixtures ({textfiles} textfiles): node_exporter {} lines, Ember {} lines, only node_exporter {}, only Ember {}",
        theirs.len(),
        ours.len(),
        only_theirs.len(),
        only_ours.len()
    );
    for l in &only_theirs {
        println!("  only node_exporter: {l}");
    }
    for l in &only_ours {
        println!("  only Ember: {l}");
    }
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "outputs differ over the fixtures"
    );
}
