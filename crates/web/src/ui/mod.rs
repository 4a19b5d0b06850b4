//! The web UI: one page of plain HTML, CSS and JavaScript, embedded in the binary
//! with `include_str!` — no npm, no build step, no CDN, so it works on a closed
//! network and ships in the one `ember` binary.
//!
//! The page is served at `/` and at every path of Prometheus's UI that dashboards,
//! alert generator URLs and bookmarks use (`/graph?g0.expr=…&g0.tab=1`, `/query`,
//! `/targets`, `/service-discovery`, `/rules`, `/alerts`, `/status`, `/flags`,
//! `/config`, `/tsdb-status`); the path only picks which view the script opens.
//! In agent mode, as in Prometheus, `/` and `/agent` show the agent page and the
//! paths of views that need local storage (query, rules, alerts, TSDB) are 404. Every URL in the page and its
//! script is relative (`api/v1/query`, `assets/ember.js`) and all these paths sit at
//! the top level, so the page works unchanged under `--web.route-prefix` and the path
//! of `--web.external-url`, which [`with_route_prefix`] applies.

use crate::WebState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

const INDEX_HTML: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("ember.js");
const STYLE: &str = include_str!("ember.css");

/// The page with the view named `view` open: the title (`--web.page-title`), the
/// version, the view and the mode filled into the embedded HTML. The mode is
/// decided here rather than by the script asking the flags API, so the navigation
/// is right on first paint (Prometheus's server likewise writes it into its page).
pub(crate) fn page(s: &WebState, view: &str) -> Response {
    let title = flag(&s.flags, "web.page-title").unwrap_or("Ember");
    let mode = if agent_mode(&s.flags) {
        "agent"
    } else {
        "server"
    };
    let html = INDEX_HTML
        .replace("{{title}}", &escape(title))
        .replace("{{version}}", &escape(&s.build.version))
        .replace("{{view}}", view)
        .replace("{{mode}}", mode);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

/// Whether the binary runs as an agent, read from the effective flags it hands
/// over: `--agent`, or 2.x's `--enable-feature=agent`.
pub(crate) fn agent_mode(flags: &[(String, String)]) -> bool {
    flag(flags, "agent") == Some("true")
        || flag(flags, "enable-feature").is_some_and(|f| f.split(',').any(|f| f.trim() == "agent"))
}

/// The view `/` opens: the query page, or the agent page in agent mode.
pub(crate) fn home_view(flags: &[(String, String)]) -> &'static str {
    if agent_mode(flags) { "agent" } else { "query" }
}

/// The UI's routes other than `/` (which the crate's `index` serves): Prometheus's
/// UI paths for the mode, each opening one view of the page, and the page's script
/// and style. Paths of the other mode are left to the 404 fallback, as Prometheus
/// routes them only in their mode.
pub(crate) fn routes(flags: &[(String, String)]) -> Router<Arc<WebState>> {
    let mut r = Router::new()
        .route("/assets/ember.js", get(script))
        .route("/assets/ember.css", get(style));
    let mode_paths: &[(&str, &str)] = if agent_mode(flags) {
        &[("/agent", "agent")]
    } else {
        &[
            ("/query", "query"),
            ("/graph", "query"),
            ("/alerts", "alerts"),
            ("/rules", "rules"),
            ("/tsdb-status", "tsdb-status"),
        ]
    };
    let common = [
        ("/targets", "targets"),
        ("/service-discovery", "service-discovery"),
        ("/status", "status"),
        ("/flags", "flags"),
        ("/config", "config"),
    ];
    for &(path, view) in mode_paths.iter().chain(&common) {
        r = r.route(
            path,
            get(move |State(s): State<Arc<WebState>>| async move { page(&s, view) }),
        );
    }
    r
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The route prefix, as Prometheus derives it: `--web.route-prefix`, else the path
/// of `--web.external-url`; `""` for none, otherwise `/x` without a trailing slash.
/// Read from the effective flag values the binary hands over in
/// [`WebState::flags`].
pub(crate) fn route_prefix(flags: &[(String, String)]) -> String {
    let raw = match flag(flags, "web.route-prefix") {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => flag(flags, "web.external-url")
            .map(url_path)
            .unwrap_or_default(),
    };
    let p = raw.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("/{p}")
    }
}

/// `app` served under `prefix` (non-empty, from [`route_prefix`]), as Prometheus
/// does it, and paths outside the prefix are 404. `/` and the bare prefix redirect
/// to `prefix/`, where the page is: the slash matters, as the page's relative URLs
/// resolve against it.
pub(crate) fn with_route_prefix(prefix: &str, app: Router, state: Arc<WebState>) -> Router {
    let home = format!("{prefix}/");
    let bare = prefix.to_string();
    let redirect = move |req: Request, next: Next| {
        let (home, bare) = (home.clone(), bare.clone());
        async move {
            let path = req.uri().path();
            if path == "/" || path == bare {
                let to = match req.uri().query() {
                    Some(q) => format!("{home}?{q}"),
                    None => home,
                };
                return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
            }
            next.run(req).await
        }
    };
    Router::new()
        .route(
            &format!("{prefix}/"),
            get(move || async move { page(&state, home_view(&state.flags)) }),
        )
        .nest(prefix, app)
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .layer(axum::middleware::from_fn(redirect))
}

/// The path of a URL (`http://host:9090/ember/` → `/ember/`), `""` without one.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/')
        .map_or(String::new(), |i| rest[i..].to_string())
}

fn flag<'a>(flags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    flags
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(prefix: &str, external: &str) -> Vec<(String, String)> {
        vec![
            ("web.external-url".into(), external.into()),
            ("web.route-prefix".into(), prefix.into()),
        ]
    }

    #[test]
    fn prefix_from_flag_or_external_url() {
        assert_eq!(route_prefix(&[]), "");
        assert_eq!(route_prefix(&flags("", "")), "");
        assert_eq!(route_prefix(&flags("/", "")), "");
        assert_eq!(route_prefix(&flags("ember/", "")), "/ember");
        assert_eq!(route_prefix(&flags("/a/b", "http://x/c")), "/a/b");
        assert_eq!(route_prefix(&flags("", "http://x:9090/c/")), "/c");
        assert_eq!(route_prefix(&flags("", "https://x:9090")), "");
        assert_eq!(route_prefix(&flags("", "http://x/?q=/y")), "");
    }

    #[test]
    fn page_fills_title_version_and_view() {
        let html = INDEX_HTML
            .replace("{{title}}", &escape("a<b"))
            .replace("{{view}}", "targets");
        assert!(html.contains("<title>a&lt;b</title>"));
        assert!(html.contains("data-view=\"targets\""));
        // Relative URLs only, so that route prefixes work.
        for bad in ["href=\"/", "src=\"/", "fetch(\"/"] {
            assert!(!INDEX_HTML.contains(bad), "{bad}");
            assert!(!SCRIPT.contains(bad), "{bad}");
        }
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .unwrap_or("")
            .to_string();
        (head[9..12].parse().unwrap(), location, body.to_string())
    }

    /// A server over a state with `flags`, on a free port.
    async fn serve(flags: Vec<(String, String)>) -> std::net::SocketAddr {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let state = Arc::new(WebState {
            build: crate::BuildInfo::default(),
            config_yaml: Default::default(),
            external_labels: Default::default(),
            flags,
            ready: Default::default(),
            enable_lifecycle: false,
            lifecycle: tx,
            metrics: Box::new(String::new),
            query: None,
            remote_write: None,
            scrape: None,
            alertmanagers: None,
            rules: None,
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, crate::router(state)).await });
        addr
    }

    /// Every UI path serves the page with its view; under a route prefix everything
    /// moves below it and `/` and the bare prefix redirect to `prefix/`.
    #[tokio::test]
    async fn ui_paths_with_and_without_prefix() {
        for (flag, external, prefix) in [
            ("", "", ""),
            ("/ember", "http://example.com:9090/elsewhere", "/ember"),
            ("", "http://example.com:9090/elsewhere/", "/elsewhere"),
        ] {
            let addr = serve(flags(flag, external)).await;
            for (path, view) in [
                ("/", "query"),
                ("/graph?g0.expr=up&g0.tab=1", "query"),
                ("/query", "query"),
                ("/targets", "targets"),
                ("/service-discovery", "service-discovery"),
                ("/alerts", "alerts"),
                ("/config", "config"),
            ] {
                let (code, _, body) = get(addr, &format!("{prefix}{path}")).await;
                assert_eq!(code, 200, "{prefix}{path}");
                assert!(
                    body.contains(&format!("<body data-view=\"{view}\" data-mode=\"server\">")),
                    "{path}"
                );
            }
            for path in [
                "/assets/ember.js",
                "/assets/ember.css",
                "/-/healthy",
                "/metrics",
            ] {
                assert_eq!(get(addr, &format!("{prefix}{path}")).await.0, 200, "{path}");
            }
            assert_eq!(get(addr, &format!("{prefix}/nope")).await.0, 404);
            assert_eq!(get(addr, &format!("{prefix}/agent")).await.0, 404);
            if prefix.is_empty() {
                continue;
            }
            assert_eq!(
                get(addr, "/").await,
                (302, format!("{prefix}/"), String::new())
            );
            let (code, to, _) = get(addr, &format!("{prefix}?g0.expr=up")).await;
            assert_eq!((code, to), (302, format!("{prefix}/?g0.expr=up")));
            assert_eq!(get(addr, "/graph").await.0, 404);
        }
    }

    /// In agent mode (`--agent` or 2.x's `--enable-feature=agent`) `/` and `/agent`
    /// show the agent page, the views over local storage are 404 as in Prometheus,
    /// and the page is marked so its navigation leaves them out.
    #[tokio::test]
    async fn agent_mode_pages() {
        for (k, v) in [("agent", "true"), ("enable-feature", "foo,agent")] {
            let addr = serve(vec![(k.into(), v.into())]).await;
            for path in ["/", "/agent"] {
                let (code, _, body) = get(addr, path).await;
                assert_eq!(code, 200, "{path}");
                assert!(
                    body.contains("<body data-view=\"agent\" data-mode=\"agent\">"),
                    "{path}"
                );
            }
            for path in [
                "/targets",
                "/service-discovery",
                "/status",
                "/flags",
                "/config",
            ] {
                assert_eq!(get(addr, path).await.0, 200, "{path}");
            }
            for path in ["/query", "/graph", "/alerts", "/rules", "/tsdb-status"] {
                assert_eq!(get(addr, path).await.0, 404, "{path}");
            }
        }
        let (_, _, body) = get(serve(vec![]).await, "/").await;
        assert!(body.contains("data-mode=\"server\""));
    }
}
