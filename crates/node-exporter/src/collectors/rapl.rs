//! `rapl`: the energy counters of Intel RAPL power zones, from
//! `/sys/class/powercap/*/energy_uj`, in joules.
//!
//! As procfs names zones: a `name` of the form `package-0` is name `package` and
//! index 0; a name without an index gets how many zones of that name came before
//! (several `dram` zones are 0, 1, ...). Each zone is its own family,
//! `node_rapl_<name>_joules_total`, unless `--collector.rapl.enable-zone-label`
//! puts them all in `node_rapl_joules_total` with a `rapl_zone` label. Missing or
//! unreadable powercap files mean no data (they are root-only on recent kernels).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_names, read_limited, read_u64};

pub(crate) struct Rapl(pub(crate) Arc<Config>);

impl Collector for Rapl {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/powercap");
        let no_data = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            )
        };
        let dirs = match dir_names(&root) {
            Ok(d) => d,
            Err(e) if no_data(&e) => {
                return Err(CollectError::NoData(format!(
                    "no powercap files: {}: {e}",
                    root.display()
                )));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        let mut uses: HashMap<String, usize> = HashMap::new();
        let mut zones = Vec::new();
        for d in dirs {
            let dir = root.join(&d);
            let Ok(raw) = read_limited(&dir.join("name"), 4096) else {
                continue;
            };
            let (index, name) = index_and_name(&uses, raw.trim());
            read_u64(&dir.join("max_energy_range_uj")).map_err(|e| match e {
                CollectError::Io { ref source, .. } if no_data(source) => {
                    CollectError::NoData(e.to_string())
                }
                e => e,
            })?;
            uses.insert(name.clone(), index + 1);
            zones.push((index, name, dir));
        }
        for (index, name, dir) in zones {
            let uj = match read_u64(&dir.join("energy_uj")) {
                Ok(v) => v,
                Err(CollectError::Io { source, path })
                    if source.kind() == io::ErrorKind::PermissionDenied =>
                {
                    return Err(CollectError::NoData(format!(
                        "can't access {}: {source}",
                        path.display()
                    )));
                }
                Err(e) => return Err(e),
            };
            let joules = uj as f64 / 1_000_000.0;
            let index = index.to_string();
            let path = dir.to_string_lossy();
            if self.0.rapl_zone_label {
                out.counter(
                    "node_rapl_joules_total",
                    "Current RAPL value in joules",
                    &[("index", &index), ("path", &path), ("rapl_zone", &name)],
                    joules,
                );
            } else {
                out.counter(
                    &format!("node_rapl_{}_joules_total", sanitize(&name)),
                    &format!("Current RAPL {name} value in joules"),
                    &[("index", &index), ("path", &path)],
                    joules,
                );
            }
        }
        Ok(())
    }
}

/// `package-0` is (0, "package"); a name without a numeric suffix is indexed by
/// how many zones of that name came before.
fn index_and_name(uses: &HashMap<String, usize>, name: &str) -> (usize, String) {
    if let Some((base, idx)) = name.split_once('-')
        && !idx.contains('-')
        && let Ok(i) = idx.parse::<usize>()
    {
        return (i, base.to_owned());
    }
    (uses.get(name).copied().unwrap_or(0), name.to_owned())
}

/// node_exporter's `SanitizeMetricName`: every match of `_*[^0-9A-Za-z_]+_*`
/// becomes one `_` (the regex crate matches leftmost-first like Go's RE2).
pub(crate) fn sanitize(s: &str) -> String {
    static RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new("_*[^0-9A-Za-z_]+_*").ok());
    match RE.as_ref() {
        Some(re) => re.replace_all(s, "_").into_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let sys = testdata().join("sys/class/powercap/intel-rapl:0");
        let text = collect_ok("rapl", &[]);
        assert!(text.contains(
            "# HELP node_rapl_package_joules_total Current RAPL package value in joules\n"
        ));
        assert!(text.contains(&format!(
            "node_rapl_package_joules_total{{index=\"0\",path=\"{}\"}} 12.345678\n",
            sys.display()
        )));
        let text = collect_ok("rapl", &["--collector.rapl.enable-zone-label"]);
        assert!(text.contains("node_rapl_joules_total{index=\"0\",path="));
        assert!(text.contains("rapl_zone=\"package\"} 12.345678\n"));
    }

    #[test]
    fn names_and_indexes() {
        let mut uses = HashMap::new();
        assert_eq!(index_and_name(&uses, "package-0"), (0, "package".into()));
        assert_eq!(index_and_name(&uses, "dram"), (0, "dram".into()));
        uses.insert("dram".to_owned(), 1);
        assert_eq!(index_and_name(&uses, "dram"), (1, "dram".into()));
        assert_eq!(index_and_name(&uses, "a-b-1"), (0, "a-b-1".into()));
    }

    #[test]
    fn sanitizes_like_node_exporter() {
        assert_eq!(sanitize("package"), "package");
        assert_eq!(sanitize("psys-x"), "psys_x");
        assert_eq!(sanitize("a__._-_b"), "a__b");
        assert_eq!(sanitize("a__b"), "a__b");
    }
}
