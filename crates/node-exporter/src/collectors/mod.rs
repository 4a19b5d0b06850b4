//! The collectors, one file each, and what they share: the resolved configuration, the
//! [`Collector`] trait and its error.
//!
//! A collector reads its files on a blocking thread and writes samples into an
//! [`Out`]. It returns an error when its source is missing or unreadable; the scrape
//! then reports `node_scrape_collector_success 0` for it and keeps whatever it wrote
//! before failing, as node_exporter does. Nothing here panics on file content.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regex::Regex;

use crate::Error;
use crate::args::{self, Args};
use crate::metrics::Out;

mod arp;
mod bcache;
mod bonding;
mod btrfs;
mod conntrack;
mod cpu;
mod cpufreq;
mod diskstats;
mod dmi;
mod edac;
mod entropy;
mod fibrechannel;
mod filefd;
mod filesystem;
mod hwmon;
mod infiniband;
mod ipvs;
mod loadavg;
mod mdadm;
mod meminfo;
mod netclass;
mod netdev;
mod netstat;
mod nfs;
mod nfsd;
mod nvme;
mod os;
mod powersupplyclass;
mod pressure;
mod rapl;
mod schedstat;
mod selinux;
mod sockstat;
mod softnet;
mod stat;
mod tapestats;
mod textfile;
mod thermal_zone;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;
mod xfs;
mod zfs;

pub(crate) use sockstat::page_size;

/// One collector: reads its sources and writes samples.
pub(crate) trait Collector: Send + Sync + 'static {
    /// Collects one scrape's samples into `out`.
    fn update(&self, out: &mut Out) -> Result<(), CollectError>;
}

/// Why a collector failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CollectError {
    /// The source does not exist on this host (node_exporter's `ErrNoData`).
    #[error("collector returned no data: {0}")]
    NoData(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file held something unexpected.
    #[error("{path}: {msg}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        msg: String,
    },
}

impl CollectError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        CollectError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, msg: impl Into<String>) -> Self {
        CollectError::Invalid {
            path: path.to_owned(),
            msg: msg.into(),
        }
    }

    /// Whether the underlying I/O error is "not found".
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, CollectError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// A device filter: `exclude` and `include` regexps (node_exporter's `deviceFilter`).
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceFilter {
    exclude: Option<Regex>,
    include: Option<Regex>,
}

impl DeviceFilter {
    fn new(flag: &str, exclude: Option<&str>, include: Option<&str>) -> Result<Self, Error> {
        if exclude.is_some_and(|s| !s.is_empty()) && include.is_some_and(|s| !s.is_empty()) {
            return Err(Error::Flags(format!(
                "--collector.{flag}.device-exclude and --collector.{flag}.device-include are mutually exclusive"
            )));
        }
        Ok(DeviceFilter {
            exclude: compile_opt(&format!("collector.{flag}.device-exclude"), exclude)?,
            include: compile_opt(&format!("collector.{flag}.device-include"), include)?,
        })
    }

    /// A filter with both regexps allowed at once, as node_exporter builds the
    /// hwmon filters (a name must then match the include and not the exclude).
    fn both(flag: &str, exclude: Option<&str>, include: Option<&str>) -> Result<Self, Error> {
        Ok(DeviceFilter {
            exclude: compile_opt(&format!("collector.{flag}-exclude"), exclude)?,
            include: compile_opt(&format!("collector.{flag}-include"), include)?,
        })
    }

    /// Whether `name` is filtered out.
    pub(crate) fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
            || self.include.as_ref().is_some_and(|r| !r.is_match(name))
    }
}

/// A `--collector.*.fields` regular expression over the field names of a kernel
/// table (`/proc/vmstat`, `/proc/net/netstat`), with its answers remembered. Every
/// scrape asks about the same few hundred names, and the default expressions start
/// with `.*`, so matching is a scan of each name; a hash lookup is several times
/// cheaper. The memory is bounded: past [`NameFilter::MAX_NAMES`] names it starts
/// over.
#[derive(Debug)]
pub(crate) struct NameFilter {
    re: Regex,
    memo: Mutex<HashMap<String, bool>>,
}

impl NameFilter {
    /// How many names it remembers at most.
    const MAX_NAMES: usize = 4096;

    fn new(re: Regex) -> Self {
        NameFilter {
            re,
            memo: Mutex::default(),
        }
    }

    /// A matcher for one collector run, which holds the memory until dropped (a
    /// collector runs on one thread at a time per scrape; concurrent scrapes wait
    /// for each other only for the length of one table's lookups).
    pub(crate) fn matcher(&self) -> NameMatcher<'_> {
        NameMatcher {
            re: &self.re,
            memo: self.memo.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// [`NameFilter`]'s remembered answers, locked for one collector run.
pub(crate) struct NameMatcher<'a> {
    re: &'a Regex,
    memo: MutexGuard<'a, HashMap<String, bool>>,
}

impl NameMatcher<'_> {
    /// Whether the expression matches `name`.
    pub(crate) fn is_match(&mut self, name: &str) -> bool {
        if let Some(&m) = self.memo.get(name) {
            return m;
        }
        let m = self.re.is_match(name);
        if self.memo.len() >= NameFilter::MAX_NAMES {
            self.memo.clear();
        }
        self.memo.insert(name.to_owned(), m);
        m
    }
}

fn compile(flag: &str, re: &str) -> Result<Regex, Error> {
    Regex::new(re).map_err(|source| Error::Regex {
        flag: flag.to_owned(),
        source: Box::new(source),
    })
}

fn compile_opt(flag: &str, re: Option<&str>) -> Result<Option<Regex>, Error> {
    match re {
        Some(r) if !r.is_empty() => compile(flag, r).map(Some),
        _ => Ok(None),
    }
}

/// The command line, resolved: paths, compiled regexps, options.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) procfs: PathBuf,
    pub(crate) sysfs: PathBuf,
    pub(crate) rootfs: PathBuf,
    pub(crate) udev_data: PathBuf,
    pub(crate) arp_filter: DeviceFilter,
    pub(crate) bcache_priority_stats: bool,
    pub(crate) cpu_guest: bool,
    pub(crate) cpu_info: bool,
    pub(crate) cpu_flags_include: Option<Regex>,
    pub(crate) cpu_bugs_include: Option<Regex>,
    /// Whether the cpufreq collector is enabled (the cpu collector then adds the
    /// frequencies of /proc/cpuinfo).
    pub(crate) cpufreq_enabled: bool,
    pub(crate) diskstats_filter: DeviceFilter,
    pub(crate) hwmon_chip_filter: DeviceFilter,
    pub(crate) hwmon_sensor_filter: DeviceFilter,
    pub(crate) infiniband_filter: DeviceFilter,
    pub(crate) ipvs_labels: Vec<&'static str>,
    pub(crate) mount_points_exclude: Regex,
    pub(crate) fs_types_exclude: Regex,
    pub(crate) mount_timeout: Duration,
    pub(crate) netclass_ignored: Regex,
    pub(crate) netclass_ignore_invalid_speed: bool,
    pub(crate) netdev_filter: DeviceFilter,
    pub(crate) netdev_netlink: bool,
    pub(crate) netdev_detailed: bool,
    pub(crate) netdev_label_ifalias: bool,
    pub(crate) netdev_address_info: bool,
    pub(crate) netstat_fields: NameFilter,
    pub(crate) powersupply_ignored: Regex,
    pub(crate) rapl_zone_label: bool,
    pub(crate) stat_softirq: bool,
    pub(crate) tapestats_ignored: Regex,
    pub(crate) textfile_directory: String,
    pub(crate) vmstat_fields: NameFilter,
}

impl Config {
    pub(crate) fn new(a: &Args) -> Result<Config, Error> {
        let cpu_flags_include = compile_opt(
            "collector.cpu.info.flags-include",
            a.cpu_info_flags_include.as_deref(),
        )?;
        let cpu_bugs_include = compile_opt(
            "collector.cpu.info.bugs-include",
            a.cpu_info_bugs_include.as_deref(),
        )?;
        // As node_exporter: an include filter turns cpu info on.
        let cpu_info = a.cpu_info || cpu_flags_include.is_some() || cpu_bugs_include.is_some();
        // The default exclude only applies when no include is given.
        let disk_exclude = match (&a.diskstats_device_exclude, &a.diskstats_device_include) {
            (Some(e), _) => Some(e.as_str()),
            (None, Some(i)) if !i.is_empty() => None,
            (None, _) => Some(args::DEFAULT_DISKSTATS_EXCLUDE),
        };
        Ok(Config {
            procfs: PathBuf::from(&a.path_procfs),
            sysfs: PathBuf::from(&a.path_sysfs),
            rootfs: PathBuf::from(&a.path_rootfs),
            udev_data: PathBuf::from(&a.path_udev_data),
            arp_filter: DeviceFilter::new(
                "arp",
                a.arp_device_exclude.as_deref(),
                a.arp_device_include.as_deref(),
            )?,
            bcache_priority_stats: a.bcache_priority_stats && !a.no_bcache_priority_stats,
            cpu_guest: a.cpu_guest,
            cpu_info,
            cpu_flags_include,
            cpu_bugs_include,
            cpufreq_enabled: a.enabled_collectors().contains(&"cpufreq"),
            diskstats_filter: DeviceFilter::new(
                "diskstats",
                disk_exclude,
                a.diskstats_device_include.as_deref(),
            )?,
            hwmon_chip_filter: DeviceFilter::both(
                "hwmon.chip",
                a.hwmon_chip_exclude.as_deref(),
                a.hwmon_chip_include.as_deref(),
            )?,
            hwmon_sensor_filter: DeviceFilter::both(
                "hwmon.sensor",
                a.hwmon_sensor_exclude.as_deref(),
                a.hwmon_sensor_include.as_deref(),
            )?,
            infiniband_filter: DeviceFilter::new(
                "infiniband",
                a.infiniband_device_exclude.as_deref(),
                a.infiniband_device_include.as_deref(),
            )?,
            ipvs_labels: ipvs::backend_labels(&a.ipvs_backend_labels)?,
            mount_points_exclude: compile(
                "collector.filesystem.mount-points-exclude",
                &a.filesystem_mount_points_exclude,
            )?,
            fs_types_exclude: compile(
                "collector.filesystem.fs-types-exclude",
                &a.filesystem_fs_types_exclude,
            )?,
            mount_timeout: a.filesystem_mount_timeout,
            netclass_ignored: compile(
                "collector.netclass.ignored-devices",
                &a.netclass_ignored_devices,
            )?,
            netclass_ignore_invalid_speed: a.netclass_ignore_invalid_speed,
            netdev_filter: DeviceFilter::new(
                "netdev",
                a.netdev_device_exclude.as_deref(),
                a.netdev_device_include.as_deref(),
            )?,
            netdev_netlink: a.netdev_netlink && !a.no_netdev_netlink,
            netdev_detailed: a.netdev_enable_detailed_metrics,
            netdev_label_ifalias: a.netdev_label_ifalias,
            netdev_address_info: a.netdev_address_info && !a.no_netdev_address_info,
            netstat_fields: NameFilter::new(compile(
                "collector.netstat.fields",
                &a.netstat_fields,
            )?),
            powersupply_ignored: compile(
                "collector.powersupply.ignored-supplies",
                &a.powersupply_ignored_supplies,
            )?,
            rapl_zone_label: a.rapl_enable_zone_label,
            stat_softirq: a.stat_softirq,
            tapestats_ignored: compile(
                "collector.tapestats.ignored-devices",
                &a.tapestats_ignored_devices,
            )?,
            textfile_directory: a.textfile_directory.clone(),
            vmstat_fields: NameFilter::new(compile("collector.vmstat.fields", &a.vmstat_fields)?),
        })
    }

    /// A path under `--path.procfs`.
    pub(crate) fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// A path under `--path.sysfs`.
    pub(crate) fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// An absolute host path under `--path.rootfs` (`rootfsFilePath`).
    pub(crate) fn rootfs_path(&self, abs: &str) -> PathBuf {
        self.rootfs.join(abs.trim_start_matches('/'))
    }

    /// A mount point as the host sees it, with `--path.rootfs` taken off
    /// (`rootfsStripPrefix`).
    pub(crate) fn rootfs_strip(&self, path: &str) -> String {
        let root = self.rootfs.to_string_lossy();
        if root == "/" {
            return path.to_owned();
        }
        match path.strip_prefix(root.as_ref()) {
            Some("") => "/".to_owned(),
            Some(rest) => rest.to_owned(),
            None => path.to_owned(),
        }
    }
}

/// Builds the collector called `name`, if Ember implements it.
pub(crate) fn build(name: &str, cfg: &Arc<Config>) -> Option<Arc<dyn Collector>> {
    let c = Arc::clone(cfg);
    Some(match name {
        "arp" => Arc::new(arp::Arp(c)),
        "bcache" => Arc::new(bcache::Bcache(c)),
        "bonding" => Arc::new(bonding::Bonding(c)),
        "btrfs" => Arc::new(btrfs::Btrfs(c)),
        "conntrack" => Arc::new(conntrack::Conntrack(c)),
        "cpu" => Arc::new(cpu::Cpu::new(c)),
        "cpufreq" => Arc::new(cpufreq::CpuFreq(c)),
        "diskstats" => Arc::new(diskstats::Diskstats(c)),
        "dmi" => Arc::new(dmi::Dmi(c)),
        "edac" => Arc::new(edac::Edac(c)),
        "entropy" => Arc::new(entropy::Entropy(c)),
        "fibrechannel" => Arc::new(fibrechannel::FibreChannel(c)),
        "filefd" => Arc::new(filefd::FileFd(c)),
        "filesystem" => Arc::new(filesystem::Filesystem::new(c)),
        "hwmon" => Arc::new(hwmon::Hwmon(c)),
        "infiniband" => Arc::new(infiniband::Infiniband(c)),
        "ipvs" => Arc::new(ipvs::Ipvs(c)),
        "loadavg" => Arc::new(loadavg::Loadavg(c)),
        "mdadm" => Arc::new(mdadm::Mdadm(c)),
        "meminfo" => Arc::new(meminfo::Meminfo(c)),
        "netclass" => Arc::new(netclass::NetClass(c)),
        "netdev" => Arc::new(netdev::NetDev(c)),
        "netstat" => Arc::new(netstat::NetStat(c)),
        "nfs" => Arc::new(nfs::Nfs(c)),
        "nfsd" => Arc::new(nfsd::Nfsd(c)),
        "nvme" => Arc::new(nvme::Nvme(c)),
        "os" => Arc::new(os::Os(c)),
        "powersupplyclass" => Arc::new(powersupplyclass::PowerSupplyClass(c)),
        "pressure" => Arc::new(pressure::Pressure(c)),
        "rapl" => Arc::new(rapl::Rapl(c)),
        "schedstat" => Arc::new(schedstat::Schedstat(c)),
        "selinux" => Arc::new(selinux::Selinux),
        "sockstat" => Arc::new(sockstat::Sockstat(c)),
        "softnet" => Arc::new(softnet::Softnet(c)),
        "stat" => Arc::new(stat::Stat(c)),
        "tapestats" => Arc::new(tapestats::TapeStats(c)),
        "textfile" => Arc::new(textfile::Textfile(c)),
        "thermal_zone" => Arc::new(thermal_zone::ThermalZone(c)),
        "time" => Arc::new(time::Time(c)),
        "timex" => Arc::new(timex::Timex),
        "udp_queues" => Arc::new(udp_queues::UdpQueues(c)),
        "uname" => Arc::new(uname::Uname),
        "vmstat" => Arc::new(vmstat::Vmstat(c)),
        "xfs" => Arc::new(xfs::Xfs(c)),
        "zfs" => Arc::new(zfs::Zfs(c)),
        _ => return None,
    })
}

/// Helpers for the collectors' unit tests: a configuration over the fixture trees in
/// `testdata/`.
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use clap::Parser;

    /// The crate's `testdata` directory.
    pub(crate) fn testdata() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
    }

    /// A configuration reading `testdata/proc`, `testdata/sys` and `testdata/rootfs`,
    /// with `extra` flags.
    pub(crate) fn config(extra: &[&str]) -> Arc<Config> {
        let td = testdata();
        let mut argv = vec![
            "node-exporter".to_owned(),
            format!("--path.procfs={}", td.join("proc").display()),
            format!("--path.sysfs={}", td.join("sys").display()),
            format!("--path.rootfs={}", td.join("rootfs").display()),
            format!("--path.udev.data={}", td.join("udev").display()),
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        let args = Args::try_parse_from(argv).expect("test flags parse");
        Arc::new(Config::new(&args).expect("test config"))
    }

    /// Flags pointing `--path.procfs` and `--path.sysfs` at `testdata/newer`: fixtures
    /// for behaviour that changed after node_exporter 1.5, kept out of the trees
    /// `tests/vs_node_exporter.rs` compares with Debian's 1.5.
    pub(crate) fn newer() -> [String; 2] {
        let td = testdata().join("newer");
        [
            format!("--path.procfs={}", td.join("proc").display()),
            format!("--path.sysfs={}", td.join("sys").display()),
        ]
    }

    /// Runs the collector `name` over the fixtures and returns its output as
    /// text-format lines (no `# HELP`/`# TYPE`), sorted as a scrape sorts them.
    pub(crate) fn collect(name: &str, extra: &[&str]) -> (Result<(), CollectError>, String) {
        let cfg = config(extra);
        let c = build(name, &cfg).expect("known collector");
        let mut out = Out::default();
        let r = c.update(&mut out);
        let fams = crate::metrics::normalize(out.into_families());
        let mut buf = Vec::new();
        ember_exposition::write_text(&mut buf, &fams);
        (r, String::from_utf8_lossy(&buf).into_owned())
    }

    /// Like [`collect`], but the output with its metadata lines.
    pub(crate) fn collect_ok(name: &str, extra: &[&str]) -> String {
        let (r, text) = collect(name, extra);
        if let Err(e) = r {
            panic!("collector {name} failed: {e}");
        }
        text
    }

    /// Only the sample lines of a text exposition.
    pub(crate) fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_collector_builds() {
        let cfg = testutil::config(&[]);
        for c in args::COLLECTORS {
            assert_eq!(build(c.name, &cfg).is_some(), c.implemented, "{}", c.name);
        }
    }

    #[test]
    fn name_filters_remember_within_bounds() {
        let f = NameFilter::new(Regex::new("^(a|b)$").unwrap());
        for _ in 0..2 {
            let mut m = f.matcher();
            assert!(m.is_match("a") && m.is_match("b") && !m.is_match("c"));
        }
        let mut m = f.matcher();
        for i in 0..NameFilter::MAX_NAMES + 10 {
            assert!(!m.is_match(&format!("x{i}")));
        }
        assert!(m.memo.len() <= NameFilter::MAX_NAMES);
        assert!(m.is_match("a"));
    }

    #[test]
    fn device_filters() {
        let f = DeviceFilter::new("x", Some("^lo$"), None).unwrap();
        assert!(f.ignored("lo") && !f.ignored("eth0"));
        let f = DeviceFilter::new("x", None, Some("^eth")).unwrap();
        assert!(f.ignored("lo") && !f.ignored("eth0"));
        assert!(DeviceFilter::new("x", Some("a"), Some("b")).is_err());
    }
}
