//! Acceptance test over node_exporter's own end-to-end fixtures.
//!
//! node_exporter checks itself with `end-to-end-test.sh`: it unpacks `sys.ttar` and
//! `udev.ttar`, runs the exporter over `collector/fixtures/{proc,sys,udev}` with a
//! fixed set of flags, drops the series its `skip_re` names (clocks, durations, the
//! process's own metrics) and diffs the scrape against `e2e-output.txt`. This test does
//! the same with Ember's exporter and the same flags, as far as Ember knows them (like
//! the script, which passes only the flags of the collectors built in, it drops the
//! flags Ember would reject and prints them).
//!
//! Every family of `e2e-output.txt` is attributed to the collector that emits it
//! ([`owner`]). For the collectors Ember implements, every family must come out with
//! the same HELP and TYPE and every series with the same name, labels and value, and
//! Ember must emit nothing else, unless the difference is listed in [`ALLOWED`] with a
//! reason. The test prints the fraction of families and samples reproduced exactly for
//! the collectors of the acceptance list ([`LISTED`]), for all collectors Ember
//! implements, and for all of node_exporter's, every difference, and the collectors
//! of the fixture Ember does not implement yet. The listed collectors the script
//! disables (`filesystem`, `timex`, `uname`: their output depends on the host) have
//! no data in `e2e-output.txt`; the report names them as such, and
//! `vs_node_exporter.rs` checks them live against Debian's node_exporter.
//!
//! The fixtures are read from `$EMBER_TESTDATA/node_exporter/collector/fixtures`
//! (by default the shared test data beside the repository) and never copied into it;
//! without them the test says so and passes.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::Parser;
use ember_exposition::{Format, MetricFamily};
use ember_node_exporter::{Args, Exporter};
use regex::Regex;

/// The collectors of the acceptance list: these must reproduce the fixture output.
const LISTED: &[&str] = &[
    "cpu",
    "cpufreq",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "netstat",
    "netclass",
    "sockstat",
    "stat",
    "vmstat",
    "filefd",
    "uname",
    "time",
    "timex",
    "entropy",
    "pressure",
    "hwmon",
    "thermal_zone",
    "conntrack",
    "edac",
    "mdadm",
    "arp",
    "schedstat",
    "softnet",
    "os",
    "dmi",
    "textfile",
];

/// Differences accepted, each with its reason: a family name or a series (as
/// [`series_key`] spells it) and why Ember cannot or should not match it.
const ALLOWED: &[(&str, &str)] = &[];

/// The script's `enabled_collectors`.
const ENABLED: &[&str] = &[
    "arp",
    "bcache",
    "bcachefs",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "conntrack",
    "cpu",
    "cpufreq",
    "cpu_vulnerabilities",
    "diskstats",
    "dmi",
    "drbd",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "loadavg",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "pcidevice",
    "pressure",
    "processes",
    "qdisc",
    "rapl",
    "schedstat",
    "slabinfo",
    "sockstat",
    "softirqs",
    "stat",
    "sysctl",
    "textfile",
    "thermal_zone",
    "udp_queues",
    "vmstat",
    "watchdog",
    "wifi",
    "xfrm",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// The script's `disabled_collectors`.
const DISABLED: &[&str] = &["selinux", "filesystem", "timex", "uname"];

/// The script's `skip_re`: series it drops from the scrape before the diff (their
/// `# HELP` and `# TYPE` lines stay, as `grep -v` only sees sample lines start with
/// these names).
const SKIP_RE: &str = r"^(go_|node_exporter_build_info|node_scrape_collector_duration_seconds|process_|node_textfile_mtime_seconds|node_time_(zone|seconds)|node_network_(receive|transmit)_(bytes|packets)_total)";

/// Family name prefixes (longest match wins) and the collector emitting them.
/// `exporter` stands for the exporter's own metrics, which belong to no collector.
const OWNERS: &[(&str, &str)] = &[
    ("go_", "exporter"),
    ("process_", "exporter"),
    ("promhttp_", "exporter"),
    ("node_exporter_build_info", "exporter"),
    ("node_scrape_collector_", "exporter"),
    ("node_arp_", "arp"),
    ("node_bcache_", "bcache"),
    ("node_bcachefs_", "bcachefs"),
    ("node_bonding_", "bonding"),
    ("node_btrfs_", "btrfs"),
    ("node_buddyinfo_", "buddyinfo"),
    ("node_cgroups_", "cgroups"),
    ("node_nf_conntrack_", "conntrack"),
    ("node_cpu_", "cpu"),
    ("node_cpu_frequency_", "cpufreq"),
    // From /proc/cpuinfo, by `cpu` when `cpufreq` is enabled too.
    ("node_cpu_frequency_hertz", "cpu"),
    ("node_cpu_scaling_", "cpufreq"),
    ("node_cpu_vulnerabilities_", "cpu_vulnerabilities"),
    ("node_disk_", "diskstats"),
    ("node_dmi_", "dmi"),
    ("node_dmmultipath_", "dmmultipath"),
    ("node_drbd_", "drbd"),
    ("node_edac_", "edac"),
    ("node_entropy_", "entropy"),
    ("node_fibrechannel_", "fibrechannel"),
    ("node_filefd_", "filefd"),
    ("node_filesystem_", "filesystem"),
    ("node_hwmon_", "hwmon"),
    ("node_infiniband_", "infiniband"),
    ("node_interrupts_", "interrupts"),
    ("node_ipvs_", "ipvs"),
    ("node_kernel_hung_", "kernel_hung"),
    ("node_ksmd_", "ksmd"),
    ("node_lnstat_", "lnstat"),
    ("node_load", "loadavg"),
    ("node_md_", "mdadm"),
    ("node_memory_", "meminfo"),
    ("node_memory_numa_", "meminfo_numa"),
    ("node_mountstats_", "mountstats"),
    ("node_network_", "netclass"),
    ("node_network_receive_", "netdev"),
    ("node_network_transmit_", "netdev"),
    ("node_network_transmit_queue_length", "netclass"),
    ("node_netstat_", "netstat"),
    ("node_nfs_", "nfs"),
    ("node_nfsd_", "nfsd"),
    ("node_nvme_", "nvme"),
    ("node_os_", "os"),
    ("node_pcidevice_", "pcidevice"),
    ("node_power_supply_", "powersupplyclass"),
    ("node_pressure_", "pressure"),
    ("node_processes_", "processes"),
    ("node_qdisc_", "qdisc"),
    ("node_rapl_", "rapl"),
    ("node_schedstat_", "schedstat"),
    ("node_slabinfo_", "slabinfo"),
    ("node_sockstat_", "sockstat"),
    ("node_softirqs_functions_", "softirqs"),
    ("node_softnet_", "softnet"),
    ("node_boot_time_seconds", "stat"),
    ("node_context_switches_total", "stat"),
    ("node_forks_total", "stat"),
    ("node_intr_total", "stat"),
    ("node_procs_", "stat"),
    ("node_softirqs_total", "stat"),
    ("node_sysctl_", "sysctl"),
    ("node_tape_", "tapestats"),
    ("node_textfile_", "textfile"),
    // The metrics of the textfiles themselves.
    ("testmetric", "textfile"),
    ("node_cooling_device_", "thermal_zone"),
    ("node_thermal_zone_", "thermal_zone"),
    ("node_time_", "time"),
    ("node_timex_", "timex"),
    ("node_udp_queues", "udp_queues"),
    ("node_uname_", "uname"),
    ("node_vmstat_", "vmstat"),
    ("node_watchdog_", "watchdog"),
    ("node_wifi_", "wifi"),
    ("node_xfrm_", "xfrm"),
    ("node_xfs_", "xfs"),
    ("node_zfs_", "zfs"),
    ("node_zoneinfo_", "zoneinfo"),
];

/// The collector that emits family `name` (longest matching prefix of [`OWNERS`]).
fn owner(name: &str) -> Option<&'static str> {
    OWNERS
        .iter()
        .filter(|(p, _)| name.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, c)| *c)
}

/// The fixtures directory, if the shared test data is there.
fn fixtures() -> Option<PathBuf> {
    let root = match std::env::var_os("EMBER_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    let d = root.join("node_exporter/collector/fixtures");
    d.join("e2e-output.txt").is_file().then_some(d)
}

/// Unpacks a ttar archive (node_exporter's plain-text archive format) under `dest`.
///
/// The format: `Directory: p` and `Mode: m` lines make directories, `Path: p` then
/// `SymlinkTo: t` a symlink, and `Path: p`, `Lines: n` and `n` lines of content a
/// file. In content, a line ending in `EOF` is the last and has no newline, and
/// `NULLBYTE` stands for a NUL byte (both escaped with a backslash to mean
/// themselves). `#` lines separate entries.
fn untar(archive: &Path, dest: &Path) -> io::Result<()> {
    let text = fs::read_to_string(archive)?;
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut lines = text.lines();
    let mut path: Option<PathBuf> = None;
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(": ") else {
            return Err(bad(format!("unknown ttar line {line:?}")));
        };
        // Paths are relative and made of plain names; refuse anything else rather
        // than write outside `dest`.
        let target = |p: &str| -> io::Result<PathBuf> {
            if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return Err(bad(format!("unsafe ttar path {p:?}")));
            }
            Ok(dest.join(p))
        };
        match key {
            "Directory" => {
                let p = target(value)?;
                fs::create_dir_all(&p)?;
                path = Some(p);
            }
            "Path" => {
                let p = target(value)?;
                if p.symlink_metadata().is_ok() {
                    fs::remove_file(&p)?;
                }
                path = Some(p);
            }
            "SymlinkTo" => {
                let p = path
                    .as_ref()
                    .ok_or_else(|| bad("SymlinkTo without Path".into()))?;
                std::os::unix::fs::symlink(value, p)?;
            }
            "Lines" => {
                let p = path
                    .as_ref()
                    .ok_or_else(|| bad("Lines without Path".into()))?;
                let n: usize = value
                    .parse()
                    .map_err(|_| bad(format!("bad line count {value:?}")))?;
                let mut content = Vec::new();
                for _ in 0..n {
                    let l = lines.next().ok_or_else(|| bad("truncated file".into()))?;
                    let (l, newline) = match l.strip_suffix("EOF") {
                        Some(rest) if !rest.ends_with('\\') => (rest, false),
                        _ => (l, true),
                    };
                    content.extend_from_slice(&unescape_ttar(l));
                    if newline {
                        content.push(b'\n');
                    }
                }
                fs::write(p, content)?;
            }
            "Mode" => {
                let p = path
                    .as_ref()
                    .ok_or_else(|| bad("Mode without Path".into()))?;
                let mode = u32::from_str_radix(value, 8)
                    .map_err(|_| bad(format!("bad mode {value:?}")))?;
                fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
            }
            _ => return Err(bad(format!("unknown ttar keyword {key:?}"))),
        }
    }
    Ok(())
}

/// A ttar content line's bytes: `NULLBYTE` is a NUL, `\NULLBYTE` and `\EOF` the words.
fn unescape_ttar(line: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("\\NULLBYTE") {
            out.extend_from_slice(b"NULLBYTE");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("\\EOF") {
            out.extend_from_slice(b"EOF");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("NULLBYTE") {
            out.push(0);
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Removes the unpacked trees when the test ends, however it ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Whether Ember's command line takes `flag` (the script likewise passes only the
/// flags of the collectors compiled in).
fn accepted(flag: &str) -> bool {
    Args::try_parse_from(["node-exporter", flag]).is_ok()
}

/// A series as one string: name, labels in order, for maps and messages.
fn series_key(s: &ember_exposition::Sample) -> String {
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{}{{{}}}", s.name, labels.join(","))
}

/// One exposition, indexed: per family its help, type and series (series key to
/// value, as written).
struct Indexed {
    families: BTreeMap<String, Family>,
}

struct Family {
    help: Option<String>,
    metric_type: String,
    series: BTreeMap<String, f64>,
}

impl Indexed {
    fn new(fams: &[MetricFamily]) -> Indexed {
        let mut families = BTreeMap::new();
        for f in fams {
            let series = f.samples.iter().map(|s| (series_key(s), s.value)).collect();
            families.insert(
                f.name.clone(),
                Family {
                    help: f.help.clone(),
                    metric_type: f.metric_type.to_string(),
                    series,
                },
            );
        }
        Indexed { families }
    }
}

/// The collector a series counts for: its family's, but the collector label's for
/// `node_scrape_collector_success`, which reports on every collector.
fn series_owner(family: &str, key: &str) -> Option<String> {
    if family == "node_scrape_collector_success" {
        let start = key.find("collector=\"")? + "collector=\"".len();
        let end = key[start..].find('"')? + start;
        return Some(key[start..end].to_owned());
    }
    owner(family).map(str::to_owned)
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Exact and total counts of families and samples, per collector.
#[derive(Default, Clone, Copy)]
struct Tally {
    families: usize,
    families_exact: usize,
    samples: usize,
    samples_exact: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.families += o.families;
        self.families_exact += o.families_exact;
        self.samples += o.samples;
        self.samples_exact += o.samples_exact;
    }

    fn line(&self, what: &str) -> String {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                100.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        format!(
            "{what}: families {}/{} ({:.1}%), samples {}/{} ({:.1}%)",
            self.families_exact,
            self.families,
            pct(self.families_exact, self.families),
            self.samples_exact,
            self.samples,
            pct(self.samples_exact, self.samples)
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduces_node_exporter_e2e_output() {
    let Some(fx) = fixtures() else {
        println!(
            "skipped: node_exporter fixtures not found (set EMBER_TESTDATA to the shared test data)"
        );
        return;
    };
    // The script's layout: it runs from node_exporter's source tree with paths
    // relative to it, and the textfile collector's HELP names the path as given. So
    // the test builds `collector/fixtures` in a temporary directory (links to the
    // shared fixtures, plus the unpacked archives) and runs from there.
    let tmp = TempDir(
        std::env::temp_dir().join(format!("ember-node-exporter-e2e-{}", std::process::id())),
    );
    let _ = fs::remove_dir_all(&tmp.0);
    let tree = tmp.0.join("collector/fixtures");
    fs::create_dir_all(&tree).expect("temp dir");
    for entry in fs::read_dir(&fx).expect("fixtures") {
        let entry = entry.expect("fixtures entry");
        std::os::unix::fs::symlink(entry.path(), tree.join(entry.file_name()))
            .expect("link fixture");
    }
    untar(&fx.join("sys.ttar"), &tree).expect("unpack sys.ttar");
    untar(&fx.join("udev.ttar"), &tree).expect("unpack udev.ttar");
    std::env::set_current_dir(&tmp.0).expect("cd to the fixtures' parent");

    // The script's command line; the x86_64 cpu info flags, as e2e-output.txt was
    // made with them.
    let mut wanted: Vec<String> = [
        "--path.rootfs=collector/fixtures",
        "--path.procfs=collector/fixtures/proc",
        "--path.sysfs=collector/fixtures/sys",
        "--path.udev.data=collector/fixtures/udev/data",
    ]
    .map(str::to_owned)
    .into();
    wanted.extend(ENABLED.iter().map(|c| format!("--collector.{c}")));
    wanted.extend(DISABLED.iter().map(|c| format!("--no-collector.{c}")));
    wanted.extend(
        [
            "--collector.cpu.info",
            "--collector.arp.device-exclude=nope",
            "--collector.bcache.priorityStats",
            "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
            "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
            "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)",
            "--collector.netclass.ignore-invalid-speed",
            "--collector.netclass.ignored-devices=(dmz|int)",
            "--collector.netdev.device-include=lo",
            "--collector.qdisc.device-include=(wlan0|eth0)",
            "--collector.qdisc.fixtures=collector/fixtures/qdisc/",
            "--collector.stat.softirq",
            "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
            "--collector.sysctl.include=fs.file-nr",
            "--collector.sysctl.include=fs.file-nr:total,current,max",
            "--collector.sysctl.include=kernel.threads-max",
            "--collector.textfile.directory=collector/fixtures/textfile/two_metric_files/",
            "--collector.wifi.fixtures=collector/fixtures/wifi",
            "--no-collector.arp.netlink",
        ]
        .map(str::to_owned),
    );
    let (flags, ignored): (Vec<String>, Vec<String>) =
        wanted.into_iter().partition(|f| accepted(f));
    println!("IGNORED FLAGS (Ember does not take them): {ignored:?}");

    let args = Args::try_parse_from(std::iter::once("node-exporter".to_owned()).chain(flags))
        .expect("flags parse together");
    let implemented = args.enabled_collectors();
    let exporter = Exporter::new(&args).expect("exporter");
    let fams = exporter.gather(&[]).await.expect("gather");
    let mut text = Vec::new();
    ember_exposition::write_text(&mut text, &fams);
    let text = String::from_utf8(text).expect("UTF-8 exposition");
    let skip = Regex::new(SKIP_RE).expect("skip_re");
    let kept: String = text
        .lines()
        .filter(|l| !skip.is_match(l))
        .flat_map(|l| [l, "\n"])
        .collect();
    let ours = ember_exposition::parse(kept.as_bytes(), Format::Text).expect("Ember's output");
    let expected_text = fs::read(fx.join("e2e-output.txt")).expect("e2e-output.txt");
    let theirs = ember_exposition::parse(&expected_text, Format::Text).expect("e2e-output.txt");
    let (ours, theirs) = (Indexed::new(&ours), Indexed::new(&theirs));

    // Per collector: the tally, and the differences.
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut diffs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut unattributed = Vec::new();
    let mut diff = |c: &str, key: String, msg: String| {
        diffs.entry(c.to_owned()).or_default().push((key, msg));
    };
    for (name, want) in &theirs.families {
        let Some(fam_owner) = owner(name) else {
            unattributed.push(name.clone());
            continue;
        };
        let got = ours.families.get(name);
        let meta_ok = got.is_some_and(|g| g.help == want.help && g.metric_type == want.metric_type);
        match got {
            None => diff(fam_owner, name.clone(), "family missing".into()),
            Some(g) if !meta_ok => diff(
                fam_owner,
                name.clone(),
                format!(
                    "HELP/TYPE: Ember {:?} {}, node_exporter {:?} {}",
                    g.help, g.metric_type, want.help, want.metric_type
                ),
            ),
            Some(_) => {}
        }
        // Per collector of this family's series: whether all of them matched.
        let mut all_ok: BTreeMap<String, bool> = BTreeMap::new();
        all_ok.insert(fam_owner.to_owned(), meta_ok);
        for (key, v) in &want.series {
            let c = series_owner(name, key).unwrap_or_else(|| fam_owner.to_owned());
            let t = tallies.entry(c.clone()).or_default();
            t.samples += 1;
            let mine = got.and_then(|g| g.series.get(key)).copied();
            let ok = meta_ok && mine.is_some_and(|m| same_value(m, *v));
            if ok {
                t.samples_exact += 1;
            } else if got.is_some() {
                match mine {
                    None => diff(
                        &c,
                        key.clone(),
                        format!("series missing (node_exporter {v})"),
                    ),
                    Some(m) if !same_value(m, *v) => diff(
                        &c,
                        key.clone(),
                        format!("value: Ember {m}, node_exporter {v}"),
                    ),
                    Some(_) => {}
                }
            }
            *all_ok.entry(c).or_insert(meta_ok) &= ok;
        }
        if let Some(g) = got {
            for (key, m) in &g.series {
                if !want.series.contains_key(key) {
                    let c = series_owner(name, key).unwrap_or_else(|| fam_owner.to_owned());
                    diff(&c, key.clone(), format!("extra series (Ember {m})"));
                    all_ok.insert(c, false);
                }
            }
        }
        // node_scrape_collector_success is counted per series, not as a family.
        if name != "node_scrape_collector_success" {
            let t = tallies.entry(fam_owner.to_owned()).or_default();
            t.families += 1;
            if all_ok.values().all(|ok| *ok) {
                t.families_exact += 1;
            }
        }
    }
    for name in ours.families.keys() {
        if !theirs.families.contains_key(name) {
            let c = owner(name).unwrap_or("unknown");
            diff(c, name.clone(), "extra family".into());
        }
    }
    assert!(
        unattributed.is_empty(),
        "families of e2e-output.txt with no known collector: {unattributed:?}"
    );

    let mut listed = Tally::default();
    let mut ember = Tally::default();
    let mut everything = Tally::default();
    let mut left = Vec::new();
    for (c, t) in &tallies {
        if c == "exporter" {
            continue;
        }
        if LISTED.contains(&c.as_str()) {
            listed.add(t);
        }
        if implemented.contains(&c.as_str()) {
            ember.add(t);
        }
        everything.add(t);
        let mark = if implemented.contains(&c.as_str()) {
            ""
        } else {
            left.push(format!("{c} ({}/{})", t.families, t.samples));
            " (not implemented)"
        };
        println!("{}", t.line(&format!("  {c}{mark}")));
    }
    // The script disables some listed collectors (their output depends on the host
    // running it), so the fixture has nothing of theirs: say so rather than let the
    // fraction below read as covering all of the list.
    let no_data: Vec<&str> = LISTED
        .iter()
        .copied()
        .filter(|c| !tallies.contains_key(*c))
        .collect();
    for c in &no_data {
        println!("  {c}: no fixture data: checked live in vs_node_exporter.rs");
    }
    let unexplained: Vec<&&str> = no_data.iter().filter(|c| !DISABLED.contains(c)).collect();
    assert!(
        unexplained.is_empty(),
        "listed collectors the script enables but with nothing in e2e-output.txt: {unexplained:?}"
    );
    println!(
        "{}",
        listed.line(&format!(
            "acceptance-list collectors with fixture data ({} of {})",
            LISTED.len() - no_data.len(),
            LISTED.len()
        ))
    );
    if !no_data.is_empty() {
        println!(
            "acceptance-list collectors without fixture data ({}): {}: no fixture data: checked live in vs_node_exporter.rs",
            no_data.len(),
            no_data.join(", ")
        );
    }
    println!(
        "{}",
        ember.line(&format!(
            "collectors Ember implements ({})",
            implemented.len()
        ))
    );
    println!("{}", everything.line("all node_exporter collectors"));
    println!(
        "left to implement ({}, families/samples in the fixture): {}",
        left.len(),
        left.join(", ")
    );

    let allowed = |key: &str| ALLOWED.iter().any(|(k, _)| *k == key);
    let mut failing = Vec::new();
    for (c, list) in &diffs {
        let in_scope = implemented.contains(&c.as_str()) || c == "unknown";
        for (key, msg) in list {
            let verdict = if !in_scope {
                "not implemented"
            } else if allowed(key) {
                "allowed"
            } else {
                failing.push(format!("{c}: {key}: {msg}"));
                "FAIL"
            };
            if in_scope {
                println!("  [{verdict}] {c}: {key}: {msg}");
            }
        }
    }
    let not_impl: usize = diffs
        .iter()
        .filter(|(c, _)| !implemented.contains(&c.as_str()) && c.as_str() != "unknown")
        .map(|(_, l)| l.len())
        .sum();
    println!("differences in collectors Ember does not implement: {not_impl}");
    assert!(
        failing.is_empty(),
        "{} differences from e2e-output.txt in collectors Ember implements:\n{}",
        failing.len(),
        failing.join("\n")
    );
}

#[test]
fn ttar_unescapes() {
    assert_eq!(unescape_ttar("a\\NULLBYTEb"), b"aNULLBYTEb");
    assert_eq!(unescape_ttar("aNULLBYTEb"), b"a\0b");
    assert_eq!(unescape_ttar("x\\EOF"), b"xEOF");
}

#[test]
fn owners_are_longest_prefix() {
    assert_eq!(owner("node_cpu_seconds_total"), Some("cpu"));
    assert_eq!(owner("node_cpu_scaling_governor"), Some("cpufreq"));
    assert_eq!(
        owner("node_network_transmit_queue_length"),
        Some("netclass")
    );
    assert_eq!(owner("node_network_transmit_drop_total"), Some("netdev"));
    assert_eq!(owner("node_softirqs_functions_total"), Some("softirqs"));
    assert_eq!(owner("node_softirqs_total"), Some("stat"));
    assert_eq!(owner("node_nfsd_packets_total"), Some("nfsd"));
    assert_eq!(owner("nope"), None);
}
