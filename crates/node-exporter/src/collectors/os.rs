//! `os`: the distribution from `os-release` (`/etc/os-release`, else
//! `/usr/lib/os-release`, under `--path.rootfs`).

use std::collections::HashMap;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Os(pub(crate) Arc<Config>);

const INFO_HELP: &str = "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.";

impl Collector for Os {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let mut text = None;
        for file in ["/etc/os-release", "/usr/lib/os-release"] {
            let path = self.0.rootfs_path(file);
            match read_proc(&path) {
                Ok(t) => {
                    text = Some(t);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectError::io(&path, e)),
            }
        }
        let Some(text) = text else {
            return Err(CollectError::NoData("no os-release file found".into()));
        };
        let env = parse(&text);
        let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
        out.gauge(
            "node_os_info",
            INFO_HELP,
            &[
                ("build_id", get("BUILD_ID")),
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("image_id", get("IMAGE_ID")),
                ("image_version", get("IMAGE_VERSION")),
                ("name", get("NAME")),
                ("pretty_name", get("PRETTY_NAME")),
                ("variant", get("VARIANT")),
                ("variant_id", get("VARIANT_ID")),
                ("version", get("VERSION")),
                ("version_codename", get("VERSION_CODENAME")),
                ("version_id", get("VERSION_ID")),
            ],
            1.0,
        );
        let version = major_minor(get("VERSION_ID"));
        if version > 0.0 {
            out.gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                &[
                    ("id", get("ID")),
                    ("id_like", get("ID_LIKE")),
                    ("name", get("NAME")),
                ],
                version,
            );
        }
        Ok(())
    }
}

/// The leading `major[.minor]` of a version as a number (`22.04.1` -> 22.04).
fn major_minor(v: &str) -> f64 {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let major = digits(v);
    if major == 0 {
        return 0.0;
    }
    let mut end = major;
    if v[major..].starts_with('.') {
        end += 1 + digits(&v[major + 1..]);
    }
    v[..end].trim_end_matches('.').parse().unwrap_or(0.0)
}

/// Parses `KEY=value` lines, with shell-style single and double quotes and
/// backslash escapes inside double quotes; comments and blank lines are skipped.
fn parse(text: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        env.insert(k.trim().to_owned(), unquote(v.trim()));
    }
    env
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'') {
        return inner.split('\'').next().unwrap_or("").to_owned();
    }
    if let Some(inner) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        if !matches!(n, '"' | '\\' | '$' | '`') {
                            out.push('\\');
                        }
                        out.push(n);
                    }
                }
                c => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: up to a comment.
    v.split(" #").next().unwrap_or("").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("os", &[])),
            [
                "node_os_info{build_id=\"2024 build\",id=\"debian\",id_like=\"\",image_id=\"\",image_version=\"\",name=\"Debian GNU/Linux\",pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"Server \\\"edition\\\"\",variant_id=\"\",version=\"12 (bookworm)\",version_codename=\"bookworm\",version_id=\"12\"} 1",
                "node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12",
            ]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(major_minor("22.04.1"), 22.04);
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("7."), 7.0);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
    }
}
