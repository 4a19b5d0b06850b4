//! `filesystem`: size, free and available bytes, inodes and read-only state of each
//! mounted filesystem, from `/proc/1/mounts` and `statfs(2)`.
//!
//! `statfs` on a dead NFS server blocks in the kernel, so it never runs on the
//! scrape's thread: each call runs on a blocking thread of its own and the collector
//! waits for all of them until `--collector.filesystem.mount-timeout` (5 s by default).
//! A mount that does not answer in time is reported with
//! `node_filesystem_device_error 1` and marked stuck; while the stuck call has not
//! returned, later scrapes report the same without calling `statfs` again, so a
//! hung mount costs one parked thread, not one per scrape. When the call returns the
//! mark is lifted. This is node_exporter's stuck-mount logic, except that node_exporter
//! still waits for the first hung call inside the scrape.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

/// What `statfs(2)` says about a filesystem, in the units node_exporter reports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct FsStats {
    size: f64,
    free: f64,
    avail: f64,
    files: f64,
    files_free: f64,
}

type StatFn = fn(&Path) -> io::Result<FsStats>;

pub(crate) struct Filesystem {
    cfg: Arc<Config>,
    /// Mount points whose `statfs` has not returned yet.
    stuck: Arc<Mutex<HashSet<String>>>,
    statfs: StatFn,
}

/// One line of the mount table.
#[derive(Clone, Debug, PartialEq)]
struct Mount {
    device: String,
    mount_point: String,
    fs_type: String,
    options: String,
}

impl Filesystem {
    pub(crate) fn new(cfg: Arc<Config>) -> Self {
        Filesystem {
            cfg,
            stuck: Arc::default(),
            statfs,
        }
    }

    fn mounts(&self) -> Result<Vec<Mount>, CollectError> {
        let mut path = self.cfg.proc("1/mounts");
        let text = match read_proc(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                path = self.cfg.proc("mounts");
                read_proc(&path).map_err(|e| CollectError::io(&path, e))?
            }
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        let mut out = parse_mounts(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for m in &mut out {
            m.mount_point = self.cfg.rootfs_strip(&m.mount_point);
        }
        Ok(out)
    }
}

impl Collector for Filesystem {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let mut seen = HashSet::new();
        let mut pending = Vec::new();
        for m in self.mounts()? {
            if self.cfg.mount_points_exclude.is_match(&m.mount_point)
                || self.cfg.fs_types_exclude.is_match(&m.fs_type)
            {
                continue;
            }
            if !seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())) {
                continue;
            }
            let stuck = lock(&self.stuck).contains(&m.mount_point);
            if stuck {
                tracing::debug!(mountpoint = %m.mount_point, "mount point is still unresponsive");
                pending.push((m, None));
                continue;
            }
            let (tx, rx) = mpsc::sync_channel(1);
            let path = self.cfg.rootfs_path(&m.mount_point);
            let marks = Arc::clone(&self.stuck);
            let mount_point = m.mount_point.clone();
            let f = self.statfs;
            spawn_blocking(move || {
                let r = f(&path);
                // Lift the mark and hand over the result under the lock, so the
                // waiter either sees the result or marks the mount before we unmark.
                let mut g = lock(&marks);
                g.remove(&mount_point);
                let _ = tx.try_send(r);
                drop(g);
            });
            pending.push((m, Some(rx)));
        }
        let deadline = Instant::now() + self.cfg.mount_timeout;
        for (m, rx) in pending {
            let result = match rx {
                None => None,
                Some(rx) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(r) => Some(r),
                        Err(RecvTimeoutError::Timeout) => {
                            let mut g = lock(&self.stuck);
                            match rx.try_recv() {
                                Ok(r) => Some(r),
                                Err(_) => {
                                    tracing::warn!(mountpoint = %m.mount_point, "statfs timed out; marking the mount point stuck");
                                    g.insert(m.mount_point.clone());
                                    None
                                }
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => None,
                    }
                }
            };
            emit(out, &m, result);
        }
        Ok(())
    }
}

fn emit(out: &mut Out, m: &Mount, result: Option<io::Result<FsStats>>) {
    let labels = [
        ("device", m.device.as_str()),
        ("mountpoint", m.mount_point.as_str()),
        ("fstype", m.fs_type.as_str()),
    ];
    let st = match result {
        Some(Ok(st)) => Some(st),
        Some(Err(e)) => {
            tracing::debug!(mountpoint = %m.mount_point, error = %e, "statfs failed");
            None
        }
        None => None,
    };
    out.gauge(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        &labels,
        if st.is_some() { 0.0 } else { 1.0 },
    );
    let Some(st) = st else { return };
    let ro = if m.options.split(',').any(|o| o == "ro") {
        1.0
    } else {
        0.0
    };
    for (name, help, v) in [
        (
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            st.size,
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            st.free,
        ),
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            st.avail,
        ),
        (
            "node_filesystem_files",
            "Filesystem total file nodes.",
            st.files,
        ),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            st.files_free,
        ),
        (
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            ro,
        ),
    ] {
        out.gauge(name, help, &labels, v);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on the runtime's blocking pool when there is a runtime, else on a
/// thread of its own.
fn spawn_blocking(f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(f);
        }
        Err(_) => {
            std::thread::spawn(f);
        }
    }
}

/// Parses a mount table (`/proc/mounts` format), unescaping `\040` and `\011` in
/// mount points.
fn parse_mounts(text: &str) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [device, mount_point, fs_type, options, ..] = parts[..] else {
            return Err(format!("malformed mount point information: {line:?}"));
        };
        out.push(Mount {
            device: device.to_owned(),
            mount_point: mount_point.replace("\\040", " ").replace("\\011", "\t"),
            fs_type: fs_type.to_owned(),
            options: options.to_owned(),
        });
    }
    Ok(out)
}

/// `statfs(2)`; sizes are blocks times `f_bsize`, as node_exporter computes them, so
/// the numbers equal its to the byte.
fn statfs(path: &Path) -> io::Result<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `statfs` is plain old data, for which all-zero bytes are a valid value.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string and `buf` a valid, writable `statfs`,
    // both alive for the duration of the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut buf) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let bsize = buf.f_bsize as f64;
    Ok(FsStats {
        size: buf.f_blocks as f64 * bsize,
        free: buf.f_bfree as f64 * bsize,
        avail: buf.f_bavail as f64 * bsize,
        files: buf.f_files as f64,
        files_free: buf.f_ffree as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;
    use std::time::Duration;

    #[test]
    fn fixture() {
        let text = collect_ok("filesystem", &[]);
        let s = samples(&text);
        let root = "{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}";
        assert!(s.contains(&format!("node_filesystem_device_error{root} 0").as_str()));
        assert!(s.contains(&format!("node_filesystem_readonly{root} 0").as_str()));
        assert!(
            s.iter()
                .any(|l| l.starts_with(&format!("node_filesystem_size_bytes{root} ")))
        );
        let data = "{device=\"/dev/sdb1\",fstype=\"ext4\",mountpoint=\"/data disk\"}";
        assert!(s.contains(&format!("node_filesystem_readonly{data} 1").as_str()));
        assert!(s.contains(&"node_filesystem_device_error{device=\"server:/export\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1"));
        assert!(!text.contains("mountpoint=\"/proc\"") && !text.contains("fstype=\"sysfs\""));
        assert!(text.contains("mountpoint=\"/run\""));
        // The second "/" line is the same filesystem.
        assert_eq!(
            s.iter()
                .filter(|l| l.starts_with("node_filesystem_device_error"))
                .count(),
            4
        );
    }

    #[test]
    fn excludes() {
        let text = collect_ok(
            "filesystem",
            &["--collector.filesystem.mount-points-exclude=^/(run|mnt)($|/)"],
        );
        assert!(!text.contains("mountpoint=\"/run\"") && !text.contains("/mnt/nfs"));
    }

    fn slow_statfs(path: &Path) -> io::Result<FsStats> {
        if path.ends_with("mnt/nfs") {
            std::thread::sleep(Duration::from_millis(600));
        }
        Ok(FsStats::default())
    }

    #[test]
    fn a_hung_mount_times_out_and_is_marked_stuck() {
        let cfg = config(&["--collector.filesystem.mount-timeout=100ms"]);
        let fs = Filesystem {
            cfg,
            stuck: Arc::default(),
            statfs: slow_statfs,
        };
        let nfs = "node_filesystem_device_error{device=\"server:/export\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"}";
        let run = |fs: &Filesystem| {
            let mut out = Out::default();
            let t = Instant::now();
            fs.update(&mut out).unwrap();
            let mut buf = Vec::new();
            ember_exposition::write_text(&mut buf, &crate::metrics::normalize(out.into_families()));
            (t.elapsed(), String::from_utf8(buf).unwrap())
        };
        let (took, text) = run(&fs);
        assert!(took < Duration::from_millis(500), "{took:?}");
        assert!(text.contains(&format!("{nfs} 1\n")));
        assert!(lock(&fs.stuck).contains("/mnt/nfs"));
        // While stuck, the scrape doesn't wait at all.
        let (took, text) = run(&fs);
        assert!(took < Duration::from_millis(50), "{took:?}");
        assert!(text.contains(&format!("{nfs} 1\n")));
        // Once the call returns, the mount is polled again.
        std::thread::sleep(Duration::from_millis(700));
        assert!(!lock(&fs.stuck).contains("/mnt/nfs"));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse_mounts("/dev/sda1 / ext4\n").is_err());
        assert_eq!(parse_mounts("").unwrap(), vec![]);
    }
}
