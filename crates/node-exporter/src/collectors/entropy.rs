//! `entropy`: available entropy and pool size from `/proc/sys/kernel/random`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_u64;

pub(crate) struct Entropy(pub(crate) Arc<Config>);

impl Collector for Entropy {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let avail = read_u64(&self.0.proc("sys/kernel/random/entropy_avail"))?;
        out.gauge(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            &[],
            avail as f64,
        );
        let pool = read_u64(&self.0.proc("sys/kernel/random/poolsize"))?;
        out.gauge(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            &[],
            pool as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("entropy", &[])),
            [
                "node_entropy_available_bits 256",
                "node_entropy_pool_size_bits 256"
            ]
        );
    }
}
