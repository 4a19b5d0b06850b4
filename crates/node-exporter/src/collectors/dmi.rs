//! `dmi`: firmware, board, chassis and product identification from
//! `/sys/class/dmi/id`, as the labels of `node_dmi_info`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_names, read_sys};

pub(crate) struct Dmi(pub(crate) Arc<Config>);

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.";

/// (file, label).
const FIELDS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

impl Collector for Dmi {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let dir = self.0.sys("class/dmi/id");
        let present = match dir_names(&dir) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(CollectError::io(&dir, e)),
        };
        let mut labels: Vec<(&str, String)> = Vec::new();
        for (file, label) in FIELDS {
            if !present.iter().any(|p| p == file) {
                continue;
            }
            let path = dir.join(file);
            match read_sys(&path) {
                Ok(v) => labels.push((label, v)),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(CollectError::io(&path, e)),
            }
        }
        if labels.is_empty() {
            return Err(CollectError::NoData(
                "platform does not provide DMI information".into(),
            ));
        }
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.gauge("node_dmi_info", HELP, &pairs, 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("dmi", &[])),
            [
                "node_dmi_info{bios_date=\"12/01/2006\",bios_vendor=\"SeaBIOS\",bios_version=\"1.16.2\",product_name=\"Standard PC (Q35 + ICH9, 2009)\",system_vendor=\"QEMU\"} 1"
            ]
        );
    }
}
