//! `POST /v1/rollouts/{name}/{pause|resume|promote|rollback|restart}`: manual actions
//! behind a bearer token (`ROLLOUT_ADMIN_TOKEN` or the file `ROLLOUT_ADMIN_TOKEN_FILE`).
//! No token configured: 503 (admin disabled); a missing or wrong token: 401.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use rollout_app::usecases::act::ActionReport;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::info;

use super::{ApiError, AppState};
use crate::controller::ManualAction;

/// The admin bearer token. Kept as a digest; never printed.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    /// `None` for an empty token: an empty secret would let anyone in.
    pub fn new(token: &str) -> Option<AdminToken> {
        let token = token.trim();
        (!token.is_empty()).then(|| AdminToken(Sha256::digest(token.as_bytes()).into()))
    }

    /// Constant-time comparison (of digests, so the length does not leak either).
    pub fn verify(&self, given: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        d.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

/// The token from `ROLLOUT_ADMIN_TOKEN`, else from the file named by
/// `ROLLOUT_ADMIN_TOKEN_FILE`; `Ok(None)` when neither is set (admin disabled).
pub fn token_from_env() -> Result<Option<AdminToken>, String> {
    if let Ok(t) = std::env::var("ROLLOUT_ADMIN_TOKEN") {
        return AdminToken::new(&t)
            .map(Some)
            .ok_or_else(|| "ROLLOUT_ADMIN_TOKEN is empty".to_owned());
    }
    let Ok(path) = std::env::var("ROLLOUT_ADMIN_TOKEN_FILE") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read ROLLOUT_ADMIN_TOKEN_FILE {path}: {e}"))?;
    AdminToken::new(&text)
        .map(Some)
        .ok_or_else(|| format!("ROLLOUT_ADMIN_TOKEN_FILE {path} is empty"))
}

fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &s.admin_token else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the admin API is disabled: set ROLLOUT_ADMIN_TOKEN or ROLLOUT_ADMIN_TOKEN_FILE",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 7235).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        });
    match given {
        Some(g) if token.verify(g.trim()) => Ok(()),
        _ => {
            let mut e = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a valid `Authorization: Bearer TOKEN` header is required",
            );
            e.authenticate = true;
            Err(e)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    #[serde(default)]
    reason: String,
    /// Who asks, for the history (default `admin`); recorded as `<actor> (http)`.
    #[serde(default)]
    actor: Option<String>,
}

async fn act(
    s: AppState,
    headers: HeaderMap,
    name: String,
    action: ManualAction,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Result<Json<ActionReport>, ApiError> {
    authorize(&s, &headers)?;
    let Json(body) = body?;
    let who = body
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("admin");
    let actor = format!("{who} (http)");
    let report = s.service.act(&name, action, &body.reason, &actor).await?;
    if let Some(a) = &report.applied {
        s.feed.poke();
        super::metrics::transition(&name, a.transition.action.as_str());
        info!(rollout = %name, action = action.as_str(), actor = ?actor, "admin action over HTTP");
    }
    Ok(Json(report))
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        pub async fn $name(
            State(s): State<AppState>,
            name: Result<Path<String>, PathRejection>,
            headers: HeaderMap,
            body: Result<Json<ActionBody>, JsonRejection>,
        ) -> Result<Json<ActionReport>, ApiError> {
            let Path(name) = name?;
            act(s, headers, name, $action, body).await
        }
    };
}

action_handler!(pause, ManualAction::Pause);
action_handler!(resume, ManualAction::Resume);
action_handler!(promote, ManualAction::Promote);
action_handler!(rollback, ManualAction::Rollback);
action_handler!(restart, ManualAction::Restart);
