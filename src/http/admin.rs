//! `POST /v1/rollouts/{name}/{pause|resume|promote|rollback|restart}`: manual actions
//! behind a bearer token (`ROLLOUT_ADMIN_TOKEN` or the file `ROLLOUT_ADMIN_TOKEN_FILE`).
//! No token configured: 503 (admin disabled); a missing or wrong token: 401; a peer with
//! too many failed attempts lately: 429 (see `auth`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use rollout_app::usecases::act::ActionReport;
use serde::Deserialize;
use tracing::{info_span, Instrument};

use super::auth::Admin;
use super::{ApiError, AppState};
use crate::controller::ManualAction;

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
    name: String,
    action: ManualAction,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Result<Json<ActionReport>, ApiError> {
    let Json(body) = body?;
    let who = body
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("admin");
    let actor = format!("{who} (http)");
    let report = s
        .service
        .act(&name, action, &body.reason, &actor)
        .instrument(info_span!("http_admin"))
        .await?;
    if let Some(a) = &report.applied {
        s.feed.poke();
        // The engine logs the commit, with the actor.
        super::metrics::transition(&name, a.transition.action.as_str());
    }
    Ok(Json(report))
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        pub async fn $name(
            State(s): State<AppState>,
            name: Result<Path<String>, PathRejection>,
            _: Admin,
            body: Result<Json<ActionBody>, JsonRejection>,
        ) -> Result<Json<ActionReport>, ApiError> {
            let Path(name) = name?;
            act(s, name, $action, body).await
        }
    };
}

action_handler!(pause, ManualAction::Pause);
action_handler!(resume, ManualAction::Resume);
action_handler!(promote, ManualAction::Promote);
action_handler!(rollback, ManualAction::Rollback);
action_handler!(restart, ManualAction::Restart);
