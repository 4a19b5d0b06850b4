//! The TSDB admin endpoints, `/api/v1/admin/tsdb/{delete_series,clean_tombstones,snapshot}`,
//! served only with `--web.enable-admin-api` as in Prometheus; without it they answer
//! `unavailable` "admin APIs disabled" with status 500 (Prometheus has no status of
//! its own for that error type), which is what scripts written against Prometheus
//! check for.

use crate::api::{ApiError, ApiResult, Params, blocking, matchers, range_params};
use crate::status::Sources;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

fn tsdb(sources: Sources) -> Result<Arc<ember_tsdb::Db>, ApiError> {
    let Some(axum::Extension(s)) = sources else {
        return Err(disabled());
    };
    if !s.enable_admin {
        return Err(disabled());
    }
    s.tsdb
        .clone()
        .ok_or_else(|| ApiError::with_kind("unavailable", "TSDB not ready"))
}

fn disabled() -> ApiError {
    ApiError::with_kind("unavailable", "admin APIs disabled")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::with_kind("internal", e.to_string())
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series?match[]=…&start=…&end=…`: 204 on
/// success.
pub(crate) async fn delete_series(
    sources: Sources,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let db = tsdb(sources)?;
    let p = Params::new(q, &headers, &body);
    let sets = matchers(&p)?;
    if sets.is_empty() {
        return Err(ApiError::bad("no match[] parameter provided"));
    }
    let (start, end) = range_params(&p)?;
    blocking(move || -> Result<(), ApiError> {
        for m in &sets {
            db.delete(start, end, m).map_err(internal)?;
        }
        Ok(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`: 204 on success.
pub(crate) async fn clean_tombstones(sources: Sources) -> ApiResult {
    let db = tsdb(sources)?;
    blocking(move || db.clean_tombstones().map_err(internal)).await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/snapshot?skip_head=…`: writes
/// `<data>/snapshots/<name>` and answers `{"name": <name>}`, the name being the UTC
/// time (`20060102T150405Z`) and a random 63-bit number in hex, as Prometheus names
/// them.
pub(crate) async fn snapshot(
    sources: Sources,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let db = tsdb(sources)?;
    let p = Params::new(q, &headers, &body);
    let skip_head = match p.get("skip_head") {
        None | Some("") => false,
        Some(v) => parse_go_bool(v).ok_or_else(|| {
            ApiError::bad(format!(
                "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing {v:?}: invalid syntax"
            ))
        })?,
    };
    let name = snapshot_name();
    let out = name.clone();
    blocking(move || -> Result<(), ApiError> {
        let dir = db.dir().join("snapshots");
        std::fs::create_dir_all(&dir)
            .map_err(|e| internal(format!("create snapshot directory: {e}")))?;
        db.snapshot(&dir.join(&name), skip_head)
            .map_err(|e| internal(format!("create snapshot: {e}")))
    })
    .await??;
    Ok(crate::success(serde_json::json!({ "name": out })))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn snapshot_name() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let c = ember_model::time::civil(now);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now);
    let r = h.finish() & (i64::MAX as u64);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{r:016x}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_look_like_prometheus_ones() {
        let n = snapshot_name();
        assert_eq!(n.len(), "20171210T211224Z-2be650b6d019eb54".len(), "{n}");
        assert_eq!(&n[8..9], "T");
        assert_eq!(&n[15..17], "Z-");
        assert_ne!(snapshot_name()[17..], n[17..]);
    }

    #[test]
    fn go_bools() {
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
