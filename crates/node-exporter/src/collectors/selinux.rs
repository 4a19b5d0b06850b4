//! `selinux`: whether SELinux is enabled and, if so, its configured and current
//! enforcement modes. Like node_exporter (through go-selinux), it looks at this
//! machine's `/sys/fs/selinux`, `/proc/self/attr/current` and `/etc/selinux/config`,
//! not at `--path.*`.

use std::path::Path;

use super::{CollectError, Collector};
use crate::metrics::Out;
use crate::read::read_limited;

pub(crate) struct Selinux;

/// `SELINUX_MAGIC`, the filesystem type of selinuxfs.
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

impl Collector for Selinux {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let fs = Path::new("/sys/fs/selinux");
        if !enabled(fs) {
            out.gauge(
                "node_selinux_enabled",
                "SELinux is enabled, 1 is true, 0 is false",
                &[],
                0.0,
            );
            return Ok(());
        }
        out.gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
            &[],
            1.0,
        );
        let config = read_limited(Path::new("/etc/selinux/config"), 1 << 16).unwrap_or_default();
        out.gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            &[],
            config_mode(&config),
        );
        let current = read_limited(&fs.join("enforce"), 64)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(-1.0);
        out.gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            &[],
            current,
        );
        Ok(())
    }
}

/// go-selinux's `GetEnabled`: selinuxfs is mounted read-write and this process
/// has a security context other than `kernel`.
fn enabled(fs: &Path) -> bool {
    if !is_selinuxfs(fs) {
        return false;
    }
    let con = read_limited(Path::new("/proc/self/attr/current"), 4096).unwrap_or_default();
    let con = con.trim_end_matches(['\0', '\n']);
    !con.is_empty() && con != "kernel"
}

fn is_selinuxfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `statfs` is plain old data, for which all-zero bytes are a valid value.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `buf` writable, both alive during the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut buf) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    let magic = buf.f_type as i64;
    // SAFETY: as above, for `statvfs`.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `vfs` writable, both alive during the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut vfs) } != 0 {
        return false;
    }
    let read_only = vfs.f_flag & libc::ST_RDONLY != 0;
    magic == SELINUX_MAGIC && !read_only
}

/// `SELINUX=` of /etc/selinux/config: enforcing 1, permissive 0, otherwise -1.
fn config_mode(config: &str) -> f64 {
    let mode = config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SELINUX="))
        .next_back()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    match mode {
        "enforcing" => 1.0,
        "permissive" => 0.0,
        _ => -1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(
            config_mode("# c\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"),
            1.0
        );
        assert_eq!(config_mode("SELINUX=permissive\n"), 0.0);
        assert_eq!(config_mode("SELINUX=disabled\n"), -1.0);
        assert_eq!(config_mode(""), -1.0);
    }

    #[test]
    fn reports_enabled() {
        let mut out = Out::default();
        Selinux.update(&mut out).unwrap();
        assert_eq!(out.into_families()[0].name, "node_selinux_enabled");
    }
}
