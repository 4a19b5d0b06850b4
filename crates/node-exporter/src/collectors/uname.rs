//! `uname`: the kernel's identification from `uname(2)` as `node_uname_info` labels.

use std::ffi::CStr;
use std::os::raw::c_char;

use super::{CollectError, Collector};
use crate::metrics::Out;

pub(crate) struct Uname;

impl Collector for Uname {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        // SAFETY: `utsname` is plain old data; all-zero bytes are a valid value.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable `utsname` for the duration of the call.
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(CollectError::io(
                std::path::Path::new("uname(2)"),
                std::io::Error::last_os_error(),
            ));
        }
        out.gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            &[
                ("sysname", &field(&u.sysname)),
                ("release", &field(&u.release)),
                ("version", &field(&u.version)),
                ("machine", &field(&u.machine)),
                ("nodename", &field(&u.nodename)),
                ("domainname", &field(&u.domainname)),
            ],
            1.0,
        );
        Ok(())
    }
}

/// A `utsname` field up to its NUL (or its whole length if it has none).
fn field(f: &[c_char]) -> String {
    let bytes: Vec<u8> = f.iter().map(|&c| c as u8).collect();
    match CStr::from_bytes_until_nul(&bytes) {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel() {
        let mut out = Out::default();
        Uname.update(&mut out).unwrap();
        let fams = out.into_families();
        let s = &fams[0].samples[0];
        let names: Vec<&str> = s.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "domainname",
                "machine",
                "nodename",
                "release",
                "sysname",
                "version"
            ]
        );
        assert_eq!(s.labels[4].value, "Linux");
    }
}
