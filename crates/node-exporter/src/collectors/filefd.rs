//! `filefd`: allocated and maximum file handles from `/proc/sys/fs/file-nr`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct FileFd(pub(crate) Arc<Config>);

impl Collector for FileFd {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("sys/fs/file-nr");
        let text = read_file(&path)?;
        let parts: Vec<&str> = text.trim().split('\t').collect();
        let (Some(allocated), Some(maximum)) = (parts.first(), parts.get(2)) else {
            return Err(CollectError::invalid(
                &path,
                "unexpected number of file stats",
            ));
        };
        for (name, value) in [("allocated", allocated), ("maximum", maximum)] {
            let v: f64 = value.parse().map_err(|_| {
                CollectError::invalid(&path, format!("invalid value {value} in file-nr"))
            })?;
            out.gauge(
                &format!("node_filefd_{name}"),
                &format!("File descriptor statistics: {name}."),
                &[],
                v,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("filefd", &[])),
            [
                "node_filefd_allocated 1024",
                "node_filefd_maximum 1.631329e+06"
            ]
        );
    }
}
