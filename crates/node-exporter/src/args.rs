//! The command line, with node_exporter's flag names and defaults.
//!
//! Collectors are switched with `--collector.<name>` and `--no-collector.<name>` (the
//! last one given wins, as with kingpin), or `--collector.<name>=false`. Every Linux
//! collector of node_exporter 1.5 has its pair of flags, so a unit file written for
//! node_exporter starts Ember unchanged; the ones Ember does not implement are hidden
//! from `--help` and stay off (a warning says so when one is asked for). Defaults are
//! upstream's current ones (the netstat fields include `TCPOFOQueue` and
//! `TCPRcvQDrop`, diskstats excludes `zram` devices, filesystem excludes `erofs`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

/// Default of `--collector.filesystem.mount-points-exclude` (upstream's, not Debian's).
pub(crate) const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Default of `--collector.filesystem.fs-types-exclude`.
pub(crate) const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";
/// Default of `--collector.diskstats.device-exclude`.
pub(crate) const DEFAULT_DISKSTATS_EXCLUDE: &str =
    r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// Default of `--collector.netstat.fields`.
pub(crate) const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// Default of `--collector.vmstat.fields`.
pub(crate) const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// node_exporter's flags, as Ember's `node-exporter` subcommand takes them.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "node-exporter",
    about = "Exposes the host's metrics under node_exporter's names.",
    args_override_self = true
)]
pub struct Args {
    /// Addresses on which to expose metrics and web interface. Repeatable for
    /// multiple addresses.
    #[arg(long = "web.listen-address", default_value = ":9100")]
    pub web_listen_address: Vec<String>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub web_telemetry_path: String,
    /// Exclude metrics about the exporter itself (promhttp_*, process_*).
    #[arg(long = "web.disable-exporter-metrics")]
    pub web_disable_exporter_metrics: bool,
    /// Maximum number of parallel scrape requests. Use 0 to disable.
    #[arg(long = "web.max-requests", default_value_t = 40)]
    pub web_max_requests: usize,
    /// Path to a configuration file that can enable TLS or authentication
    /// (exporter-toolkit's `web-config.yml`; see `ember-serve`).
    #[arg(long = "web.config.file", default_value = "")]
    pub web_config_file: String,
    /// Use systemd socket activation listeners (not supported; refused by
    /// [`run`](crate::run)).
    #[arg(long = "web.systemd-socket", hide = true)]
    pub web_systemd_socket: bool,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    /// For the `ember` binary's logger to apply.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages: logfmt or json. For the `ember` binary's logger
    /// to apply.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
    /// Go's GOMAXPROCS; accepted for compatibility and ignored.
    #[arg(long = "runtime.gomaxprocs", hide = true)]
    pub runtime_gomaxprocs: Option<i64>,
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub path_procfs: String,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    pub path_sysfs: String,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", default_value = "/")]
    pub path_rootfs: String,
    /// udev data path.
    #[arg(long = "path.udev.data", default_value = "/run/udev/data")]
    pub path_udev_data: String,
    /// Set all collectors to disabled by default.
    #[arg(long = "collector.disable-defaults")]
    pub collector_disable_defaults: bool,
    /// The `--collector.<name>` / `--no-collector.<name>` switches.
    #[command(flatten)]
    pub collectors: CollectorFlags,

    /// Regexp of arp devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.arp.device-include")]
    pub arp_device_include: Option<String>,
    /// Regexp of arp devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.arp.device-exclude")]
    pub arp_device_exclude: Option<String>,
    /// Use netlink to gather stats instead of /proc/net/arp. Accepted for
    /// compatibility: Ember always reads /proc/net/arp, which lists the same IPv4
    /// neighbours (both leave out NOARP entries).
    #[arg(long = "collector.arp.netlink", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = BoolishValueParser::new(), overrides_with = "no_arp_netlink")]
    pub arp_netlink: bool,
    /// `--no-collector.arp.netlink`, kingpin's negation of the above.
    #[arg(
        long = "no-collector.arp.netlink",
        hide = true,
        overrides_with = "arp_netlink"
    )]
    pub no_arp_netlink: bool,
    /// Expose expensive priority stats.
    #[arg(long = "collector.bcache.priorityStats", action = ArgAction::Set,
          default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, value_parser = BoolishValueParser::new(),
          overrides_with = "no_bcache_priority_stats")]
    pub bcache_priority_stats: bool,
    /// `--no-collector.bcache.priorityStats`, kingpin's negation of the above.
    #[arg(
        long = "no-collector.bcache.priorityStats",
        hide = true,
        overrides_with = "bcache_priority_stats"
    )]
    pub no_bcache_priority_stats: bool,
    /// Enables metric node_cpu_guest_seconds_total.
    #[arg(long = "collector.cpu.guest", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = BoolishValueParser::new())]
    pub cpu_guest: bool,
    /// Enables metric node_cpu_info.
    #[arg(long = "collector.cpu.info")]
    pub cpu_info: bool,
    /// Filter the `flags` field in cpuInfo with a value that must be a regular
    /// expression.
    #[arg(long = "collector.cpu.info.flags-include")]
    pub cpu_info_flags_include: Option<String>,
    /// Filter the `bugs` field in cpuInfo with a value that must be a regular
    /// expression.
    #[arg(long = "collector.cpu.info.bugs-include")]
    pub cpu_info_bugs_include: Option<String>,
    /// Regexp of diskstats devices to exclude (mutually exclusive to
    /// device-include) [default: ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$].
    #[arg(long = "collector.diskstats.device-exclude")]
    pub diskstats_device_exclude: Option<String>,
    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.diskstats.device-include")]
    pub diskstats_device_include: Option<String>,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude",
          default_value = DEFAULT_MOUNT_POINTS_EXCLUDE)]
    pub filesystem_mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", default_value = DEFAULT_FS_TYPES_EXCLUDE)]
    pub filesystem_fs_types_exclude: String,
    /// How long to wait for a mount to respond before marking it as stale.
    #[arg(long = "collector.filesystem.mount-timeout", default_value = "5s",
          value_parser = parse_duration)]
    pub filesystem_mount_timeout: Duration,
    /// Comma separated list for IPVS backend stats labels.
    #[arg(
        long = "collector.ipvs.backend-labels",
        default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark"
    )]
    pub ipvs_backend_labels: String,
    /// Regexp of hwmon chip to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.hwmon.chip-include")]
    pub hwmon_chip_include: Option<String>,
    /// Regexp of hwmon chip to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.hwmon.chip-exclude")]
    pub hwmon_chip_exclude: Option<String>,
    /// Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).
    #[arg(long = "collector.hwmon.sensor-include")]
    pub hwmon_sensor_include: Option<String>,
    /// Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).
    #[arg(long = "collector.hwmon.sensor-exclude")]
    pub hwmon_sensor_exclude: Option<String>,
    /// Regexp of infiniband devices to include (mutually exclusive to
    /// device-exclude).
    #[arg(long = "collector.infiniband.device-include")]
    pub infiniband_device_include: Option<String>,
    /// Regexp of infiniband devices to exclude (mutually exclusive to
    /// device-include).
    #[arg(long = "collector.infiniband.device-exclude")]
    pub infiniband_device_exclude: Option<String>,
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", default_value = "^$")]
    pub netclass_ignored_devices: String,
    /// Ignore devices where the speed is invalid.
    #[arg(long = "collector.netclass.ignore-invalid-speed")]
    pub netclass_ignore_invalid_speed: bool,
    /// Use netlink to gather stats instead of /proc/net/dev. Accepted for
    /// compatibility: Ember's netclass always reads /sys/class/net.
    #[arg(long = "collector.netclass.netlink", action = ArgAction::Set,
          default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, value_parser = BoolishValueParser::new(),
          overrides_with = "no_netclass_netlink")]
    pub netclass_netlink: bool,
    /// `--no-collector.netclass.netlink`, kingpin's negation of the above.
    #[arg(
        long = "no-collector.netclass.netlink",
        hide = true,
        overrides_with = "netclass_netlink"
    )]
    pub no_netclass_netlink: bool,
    /// Collect address-info for every device.
    #[arg(long = "collector.netdev.address-info", action = ArgAction::Set,
          default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, value_parser = BoolishValueParser::new(),
          overrides_with = "no_netdev_address_info")]
    pub netdev_address_info: bool,
    /// `--no-collector.netdev.address-info`, kingpin's negation of the above.
    #[arg(
        long = "no-collector.netdev.address-info",
        hide = true,
        overrides_with = "netdev_address_info"
    )]
    pub no_netdev_address_info: bool,
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.netdev.device-include")]
    pub netdev_device_include: Option<String>,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.netdev.device-exclude")]
    pub netdev_device_exclude: Option<String>,
    /// Use netlink to gather stats instead of /proc/net/dev.
    #[arg(long = "collector.netdev.netlink", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = BoolishValueParser::new(), overrides_with = "no_netdev_netlink")]
    pub netdev_netlink: bool,
    /// `--no-collector.netdev.netlink`, kingpin's negation of the above.
    #[arg(
        long = "no-collector.netdev.netlink",
        hide = true,
        overrides_with = "netdev_netlink"
    )]
    pub no_netdev_netlink: bool,
    /// Use (incompatible) metric names that provide more detailed stats on Linux.
    #[arg(long = "collector.netdev.enable-detailed-metrics")]
    pub netdev_enable_detailed_metrics: bool,
    /// Add ifAlias label.
    #[arg(long = "collector.netdev.label-ifalias")]
    pub netdev_label_ifalias: bool,
    /// Regexp of power supplies to ignore for powersupplyclass collector.
    #[arg(long = "collector.powersupply.ignored-supplies", default_value = "^$")]
    pub powersupply_ignored_supplies: String,
    /// Put all RAPL zones in one family with a `rapl_zone` label.
    #[arg(long = "collector.rapl.enable-zone-label")]
    pub rapl_enable_zone_label: bool,
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", default_value = DEFAULT_NETSTAT_FIELDS)]
    pub netstat_fields: String,
    /// Export softirq calls per vector.
    #[arg(long = "collector.stat.softirq")]
    pub stat_softirq: bool,
    /// Regexp of devices to ignore for tapestats.
    #[arg(long = "collector.tapestats.ignored-devices", default_value = "^$")]
    pub tapestats_ignored_devices: String,
    /// Directory to read text files with metrics from.
    #[arg(long = "collector.textfile.directory", default_value = "")]
    pub textfile_directory: String,
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", default_value = DEFAULT_VMSTAT_FIELDS)]
    pub vmstat_fields: String,
}

impl Default for Args {
    /// node_exporter's defaults, as if no flag were given.
    fn default() -> Self {
        <Args as clap::Parser>::parse_from(["node-exporter"])
    }
}

impl Args {
    /// The collectors this command line enables, by name, in name order: the defaults
    /// (unless `--collector.disable-defaults`) with the explicit switches applied. Only
    /// collectors Ember implements are listed.
    pub fn enabled_collectors(&self) -> Vec<&'static str> {
        COLLECTORS
            .iter()
            .filter(|c| c.implemented && self.wants(c))
            .map(|c| c.name)
            .collect()
    }

    /// Collectors asked for (by default or by flag) that Ember does not implement.
    pub(crate) fn unimplemented_requested(&self) -> Vec<&'static str> {
        COLLECTORS
            .iter()
            .filter(|c| !c.implemented && self.wants(c))
            .map(|c| c.name)
            .collect()
    }

    fn wants(&self, c: &CollectorSpec) -> bool {
        match self.collectors.explicit.get(c.name) {
            Some(&on) => on,
            None => !self.collector_disable_defaults && c.default_enabled,
        }
    }
}

/// Explicit `--collector.<name>` / `--no-collector.<name>` switches, by collector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectorFlags {
    /// The collectors switched on (`true`) or off (`false`) on the command line.
    pub explicit: BTreeMap<&'static str, bool>,
}

/// One of node_exporter's collectors: its name, default and whether Ember has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CollectorSpec {
    pub(crate) name: &'static str,
    flag: &'static str,
    no_flag: &'static str,
    help: &'static str,
    pub(crate) default_enabled: bool,
    pub(crate) implemented: bool,
}

macro_rules! state {
    (enabled) => {
        true
    };
    (disabled) => {
        false
    };
}

macro_rules! collectors {
    ($($name:literal $state:ident $implemented:literal;)*) => {
        /// node_exporter 1.5's Linux collectors with their upstream defaults.
        pub(crate) const COLLECTORS: &[CollectorSpec] = &[$(CollectorSpec {
            name: $name,
            flag: concat!("collector.", $name),
            no_flag: concat!("no-collector.", $name),
            help: concat!("Enable the ", $name, " collector (default: ", stringify!($state), ")."),
            default_enabled: state!($state),
            implemented: $implemented,
        },)*];
    };
}

collectors! {
    "arp" enabled true;
    "bcache" enabled true;
    "bonding" enabled true;
    "btrfs" enabled true;
    "buddyinfo" disabled false;
    "cgroups" disabled false;
    "conntrack" enabled true;
    "cpu" enabled true;
    "cpufreq" enabled true;
    "diskstats" enabled true;
    "dmi" enabled true;
    "drbd" disabled false;
    "drm" disabled false;
    "edac" enabled true;
    "entropy" enabled true;
    "ethtool" disabled false;
    "fibrechannel" enabled true;
    "filefd" enabled true;
    "filesystem" enabled true;
    "hwmon" enabled true;
    "infiniband" enabled true;
    "interrupts" disabled false;
    "ipvs" enabled true;
    "ksmd" disabled false;
    "lnstat" disabled false;
    "loadavg" enabled true;
    "logind" disabled false;
    "mdadm" enabled true;
    "meminfo" enabled true;
    "meminfo_numa" disabled false;
    "mountstats" disabled false;
    "netclass" enabled true;
    "netdev" enabled true;
    "netstat" enabled true;
    "network_route" disabled false;
    "nfs" enabled true;
    "nfsd" enabled true;
    "ntp" disabled false;
    "nvme" enabled true;
    "os" enabled true;
    "perf" disabled false;
    "powersupplyclass" enabled true;
    "pressure" enabled true;
    "processes" disabled false;
    "qdisc" disabled false;
    "rapl" enabled true;
    "runit" disabled false;
    "schedstat" enabled true;
    "selinux" enabled true;
    "slabinfo" disabled false;
    "sockstat" enabled true;
    "softnet" enabled true;
    "stat" enabled true;
    "supervisord" disabled false;
    "sysctl" disabled false;
    "systemd" disabled false;
    "tapestats" enabled true;
    "tcpstat" disabled false;
    "textfile" enabled true;
    "thermal_zone" enabled true;
    "time" enabled true;
    "timex" enabled true;
    "udp_queues" enabled true;
    "uname" enabled true;
    "vmstat" enabled true;
    "wifi" disabled false;
    "xfs" enabled true;
    "zfs" enabled true;
    "zoneinfo" disabled false;
}

/// The spec of the collector called `name`, if node_exporter has one.
pub(crate) fn spec(name: &str) -> Option<&'static CollectorSpec> {
    COLLECTORS.iter().find(|c| c.name == name)
}

impl clap::Args for CollectorFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for c in COLLECTORS {
            let on = Arg::new(c.flag)
                .long(c.flag)
                .help(if c.implemented {
                    c.help
                } else {
                    "Not implemented by Ember; accepted for compatibility."
                })
                .hide(!c.implemented)
                .action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(BoolishValueParser::new())
                .overrides_with(c.no_flag);
            let off = Arg::new(c.no_flag)
                .long(c.no_flag)
                .hide(true)
                .action(ArgAction::SetTrue)
                .overrides_with(c.flag);
            cmd = cmd.arg(on).arg(off);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for CollectorFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = CollectorFlags::default();
        flags.update_from_arg_matches(m)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for c in COLLECTORS {
            if let Ok(Some(&on)) = m.try_get_one::<bool>(c.flag) {
                self.explicit.insert(c.name, on);
            }
            if let Ok(Some(&true)) = m.try_get_one::<bool>(c.no_flag) {
                self.explicit.insert(c.name, false);
            }
        }
        Ok(())
    }
}

/// Reads a Go-style duration: a sequence of decimal numbers with units (`5s`, `1m30s`,
/// `250ms`, `1.5h`).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("node-exporter").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_node_exporters() {
        let a = parse(&[]);
        assert_eq!(a.web_listen_address, vec![":9100"]);
        assert_eq!(a.web_telemetry_path, "/metrics");
        assert_eq!(a.path_procfs, "/proc");
        assert!(a.cpu_guest);
        assert!(!a.cpu_info);
        let on = a.enabled_collectors();
        assert!(on.contains(&"cpu") && on.contains(&"textfile") && on.contains(&"dmi"));
        assert!(!on.contains(&"systemd"));
        assert!(a.unimplemented_requested().is_empty());
    }

    #[test]
    fn last_switch_wins() {
        let a = parse(&["--no-collector.cpu", "--collector.cpu"]);
        assert!(a.enabled_collectors().contains(&"cpu"));
        let a = parse(&["--collector.cpu", "--no-collector.cpu"]);
        assert!(!a.enabled_collectors().contains(&"cpu"));
        let a = parse(&["--collector.loadavg=false"]);
        assert!(!a.enabled_collectors().contains(&"loadavg"));
    }

    #[test]
    fn disable_defaults_keeps_explicit_ones() {
        let a = parse(&[
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.systemd",
        ]);
        assert_eq!(a.enabled_collectors(), vec!["cpu", "meminfo"]);
        assert_eq!(a.unimplemented_requested(), vec!["systemd"]);
    }

    #[test]
    fn other_flags() {
        let a = parse(&[
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address=127.0.0.1:2",
            "--path.procfs=/x/proc",
            "--collector.filesystem.mount-timeout=250ms",
            "--collector.cpu.guest=false",
            "--collector.textfile.directory=/t",
        ]);
        assert_eq!(a.web_listen_address.len(), 2);
        assert_eq!(a.path_procfs, "/x/proc");
        assert_eq!(a.filesystem_mount_timeout, Duration::from_millis(250));
        assert!(!a.cpu_guest);
        assert_eq!(a.textfile_directory, "/t");
        // As kingpin: a flag given twice takes the last value.
        let a = parse(&["--path.procfs=/a", "--path.procfs=/b"]);
        assert_eq!(a.path_procfs, "/b");
    }

    #[test]
    fn log_flags_take_only_node_exporters_values() {
        for level in ["debug", "info", "warn", "error"] {
            assert_eq!(parse(&[&format!("--log.level={level}")]).log_level, level);
        }
        let e = Args::try_parse_from(["node-exporter", "--log.level=trace"]).expect_err("refused");
        let msg = e.to_string();
        assert!(msg.contains("invalid value 'trace'"), "{msg}");
        assert!(msg.contains("debug, info, warn, error"), "{msg}");
        assert!(Args::try_parse_from(["node-exporter", "--log.format=xml"]).is_err());
        assert_eq!(parse(&["--log.format=json"]).log_format, "json");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }
}
