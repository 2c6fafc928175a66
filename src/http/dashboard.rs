//! The dashboard: one page and its assets, embedded in the binary (`include_str!`), served
//! at `/` and `/dashboard/*`. The page reads the API like any client (`/v1/rollouts`, the
//! history, the time series, the flags stream) and sends actions with the admin token the
//! user types in; nothing here reads the store. A strict Content-Security-Policy keeps the
//! page from loading or sending anything elsewhere.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};

use super::AppState;

const INDEX: &str = include_str!("dashboard/index.html");
const CSS: &str = include_str!("dashboard/app.css");
const JS_APP: &str = include_str!("dashboard/app.js");
const JS_CHARTS: &str = include_str!("dashboard/charts.js");
const JS_VIEWS: &str = include_str!("dashboard/views.js");
const JS_ACTIONS: &str = include_str!("dashboard/actions.js");
const JS_PANELS: &str = include_str!("dashboard/panels.js");
const JS_LIVE: &str = include_str!("dashboard/live.js");

/// Only this origin; no inline script; images from data: URLs only (none today).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// The dashboard's routes: path and handler.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    const JS: &str = "text/javascript; charset=utf-8";
    vec![
        (
            "/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        ),
        (
            "/dashboard/app.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        ),
        ("/dashboard/app.js", get(|| async { asset(JS_APP, JS) })),
        (
            "/dashboard/charts.js",
            get(|| async { asset(JS_CHARTS, JS) }),
        ),
        ("/dashboard/views.js", get(|| async { asset(JS_VIEWS, JS) })),
        (
            "/dashboard/actions.js",
            get(|| async { asset(JS_ACTIONS, JS) }),
        ),
        (
            "/dashboard/panels.js",
            get(|| async { asset(JS_PANELS, JS) }),
        ),
        ("/dashboard/live.js", get(|| async { asset(JS_LIVE, JS) })),
    ]
}
