//! Version strings for `--version` and `/api/v1/status/buildinfo`.

use std::sync::LazyLock;

pub(crate) const SHORT: &str = env!("CARGO_PKG_VERSION");
pub(crate) const REVISION: &str = env!("EMBER_GIT_REVISION");
pub(crate) const BRANCH: &str = env!("EMBER_GIT_BRANCH");
pub(crate) const BUILD_DATE: &str = env!("EMBER_BUILD_DATE");
pub(crate) const RUSTC: &str = env!("EMBER_RUSTC_VERSION");

/// Laid out like Prometheus's `--version` so that scripts scraping it keep working.
pub(crate) static LONG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{SHORT} (branch: {BRANCH}, revision: {REVISION})\n  build date:       {BUILD_DATE}\n  rustc version:    {RUSTC}\n  platform:         {}/{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
});

pub(crate) fn build_info() -> ember_web::BuildInfo {
    ember_web::BuildInfo {
        version: SHORT.into(),
        revision: REVISION.into(),
        branch: BRANCH.into(),
        build_user: std::env::var("USER").unwrap_or_default(),
        build_date: BUILD_DATE.into(),
        go_version: RUSTC.into(),
    }
}

pub(crate) fn pushgateway_build_info() -> ember_pushgateway::BuildInfo {
    ember_pushgateway::BuildInfo {
        version: SHORT.into(),
        revision: REVISION.into(),
        branch: BRANCH.into(),
        build_date: BUILD_DATE.into(),
        compiler: RUSTC.into(),
    }
}
