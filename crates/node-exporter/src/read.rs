//! Bounded reads of /proc and /sys files, and the small parsers they share.
//!
//! Every read is bounded: a /proc file larger than [`MAX_PROC_FILE`] is an error for the
//! collector reading it, never an unbounded allocation. sysfs attributes are read as
//! the kernel serves them, with one `read(2)` of at most a page, as procfs's
//! `SysReadFile` does (some attributes block or fail on a second read).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::collectors::CollectError;

/// The most a /proc or /sys file may hold (4 MiB); larger is an error.
pub(crate) const MAX_PROC_FILE: u64 = 4 << 20;

/// Reads a whole file of at most `limit` bytes, as text (invalid UTF-8 replaced).
pub(crate) fn read_limited(path: &Path, limit: u64) -> io::Result<String> {
    thread_local! {
        /// A read buffer kept by each thread across reads and scrapes: reading into
        /// an empty `Vec` grows it by doubling, a reallocation and copy each time,
        /// for every file of every scrape.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// What the buffer may keep between reads; one larger file's buffer is freed.
    const KEEP: usize = 256 << 10;
    let f = File::open(path)?;
    BUF.with(|cell| {
        // A reentrant read on this thread (there is none) would find the buffer
        // borrowed and use a fresh one.
        let mut own = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let buf = guard.as_deref_mut().unwrap_or(&mut own);
        buf.clear();
        if buf.capacity() < 16 << 10 {
            buf.reserve(16 << 10);
        }
        let r = f.take(limit + 1).read_to_end(buf);
        let text = match r {
            Ok(_) if buf.len() as u64 > limit => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file larger than {limit} bytes"),
            )),
            Ok(_) => Ok(String::from_utf8_lossy(buf).into_owned()),
            Err(e) => Err(e),
        };
        if buf.capacity() > KEEP {
            *buf = Vec::new();
        }
        text
    })
}

/// Reads a /proc file (at most [`MAX_PROC_FILE`] bytes).
pub(crate) fn read_proc(path: &Path) -> io::Result<String> {
    read_limited(path, MAX_PROC_FILE)
}

/// Reads a /proc file, the error naming the path.
pub(crate) fn read_file(path: &Path) -> Result<String, CollectError> {
    read_proc(path).map_err(|e| CollectError::io(path, e))
}

/// The most a sysfs attribute read returns: one page, as the kernel serves them.
const SYS_ATTR_MAX: usize = 4096;

/// Reads a sysfs attribute with a single `read(2)` of at most 4 KiB, trimmed of
/// surrounding whitespace.
pub(crate) fn read_sys(path: &Path) -> io::Result<String> {
    let f = File::open(path)?;
    read_attr_trimmed(f)
}

/// Reads a sysfs attribute as [`read_sys`] does, as raw bytes (untrimmed).
pub(crate) fn read_sys_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = [0u8; SYS_ATTR_MAX];
    let n = read_once(&mut f, &mut buf)?;
    Ok(buf[..n].to_vec())
}

/// One `read(2)` into `buf`, retried on `EINTR`.
fn read_once(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match f.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One read of at most a page (on the stack, not the heap), as text, trimmed.
fn read_attr_trimmed(mut f: File) -> io::Result<String> {
    let mut buf = [0u8; SYS_ATTR_MAX];
    let n = read_once(&mut f, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
}

/// An open directory whose files are opened by name relative to it, with
/// `openat(2)`. Opening `/sys/class/net/eth0/mtu` by its full path makes the kernel
/// walk every component again and follow the `eth0` symlink into `/sys/devices` for
/// each attribute; relative to the open directory it looks up one name. For
/// collectors that read many attributes of the same directory (netclass reads two
/// dozen per interface), the path walk was most of the cost.
pub(crate) struct Dir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the directory (`O_PATH`: no read permission needed, nothing read).
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(path)?;
        Ok(Dir {
            fd: f.into(),
            path: path.to_owned(),
        })
    }

    /// The path of `name` in this directory, for error messages.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens `name` in this directory for reading.
    fn open_file(&self, name: &str) -> io::Result<File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let c = std::ffi::CString::new(name)?;
        // SAFETY: the directory descriptor is open for the life of `self`, and `c` is
        // a NUL-terminated string alive for the call.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by `openat` and is owned by nothing else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Reads the attribute `name` as [`read_sys`] does.
    pub(crate) fn read_sys(&self, name: &str) -> io::Result<String> {
        read_attr_trimmed(self.open_file(name)?)
    }
}

/// Text as Go's `strings.ToValidUTF8(s, "\u{FFFD}")` makes it: each run of invalid
/// bytes becomes one replacement character (Rust's lossy conversion would write
/// one per invalid sequence).
pub(crate) fn go_valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_invalid_run = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            in_invalid_run = false;
        }
        if !chunk.invalid().is_empty() {
            if !in_invalid_run {
                out.push(char::REPLACEMENT_CHARACTER);
            }
            in_invalid_run = true;
        }
    }
    out
}

/// Reads an unsigned integer from a file (procfs's `ReadUintFromFile`).
pub(crate) fn read_u64(path: &Path) -> Result<u64, CollectError> {
    let s = read_limited(path, 4096).map_err(|e| CollectError::io(path, e))?;
    s.trim()
        .parse()
        .map_err(|_| CollectError::invalid(path, format!("not an unsigned integer: {s:?}")))
}

/// Reads a signed integer from a file (procfs's `ReadIntFromFile`).
pub(crate) fn read_i64(path: &Path) -> Result<i64, CollectError> {
    let s = read_limited(path, 4096).map_err(|e| CollectError::io(path, e))?;
    s.trim()
        .parse()
        .map_err(|_| CollectError::invalid(path, format!("not an integer: {s:?}")))
}

/// The entries of a directory whose names start with `prefix` followed by a digit (the
/// glob `prefix[0-9]*`), sorted by name as Go's `filepath.Glob` returns them. A missing
/// directory has none.
pub(crate) fn glob_numbered(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, CollectError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CollectError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| CollectError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The names in a directory, sorted.
pub(crate) fn dir_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str() {
            out.push(n.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then
/// `0x`/`0o`/`0b` prefixes or a leading `0` for octal.
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Parses an unsigned integer as Go's `strconv.ParseUint(s, 0, 64)` (procfs's
/// `ValueParser`): `0x`/`0o`/`0b` prefixes or a leading `0` for octal, no sign.
pub(crate) fn parse_uint_base0(s: &str) -> Option<u64> {
    if s.starts_with(['+', '-']) {
        return None;
    }
    let (radix, digits) = if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, d)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A directory's entries, sorted by name as Go's `os.ReadDir` returns them, with
/// their types (not following symlinks).
pub(crate) fn dir_entries(dir: &Path) -> io::Result<Vec<(String, std::fs::FileType)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        out.push((name, entry.file_type()?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Whether an I/O error says the file or attribute is absent or not readable by us,
/// which collectors treat as "no such value" rather than as a failure.
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENODATA)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base0_integers() {
        assert_eq!(parse_int_base0("0x1003"), Some(4099));
        assert_eq!(parse_int_base0("1500"), Some(1500));
        assert_eq!(parse_int_base0("-1"), Some(-1));
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("010"), Some(8));
        assert_eq!(parse_int_base0(""), None);
        assert_eq!(parse_int_base0("x"), None);
        assert_eq!(parse_int_base0("0x"), None);
        assert_eq!(parse_int_base0("--1"), None);
        assert_eq!(parse_uint_base0("0x10"), Some(16));
        assert_eq!(parse_uint_base0("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint_base0("-1"), None);
        assert_eq!(parse_uint_base0("+1"), None);
        assert_eq!(parse_uint_base0("N/A (no PMA)"), None);
    }

    #[test]
    fn go_utf8() {
        assert_eq!(go_valid_utf8(b"a\xff\xfeb\xffc"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(go_valid_utf8("é".as_bytes()), "é");
    }

    #[test]
    fn bounded() {
        let dir = std::env::temp_dir().join(format!("ember-ne-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, "hello").unwrap();
        assert_eq!(read_limited(&p, 5).unwrap(), "hello");
        assert!(read_limited(&p, 4).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
