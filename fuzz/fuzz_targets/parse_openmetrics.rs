#![no_main]
//! The OpenMetrics parser on arbitrary bytes.

#[path = "exposition.rs"]
mod exposition;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exposition::check(data, ember_exposition::Format::OpenMetrics);
});
