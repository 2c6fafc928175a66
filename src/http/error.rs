//! API errors: a status and a JSON body `{"error": reason}` (plus `rows` for bad input rows,
//! and `field`, the path of the field a body error is about).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::AppError;
use crate::store::StoreError;

/// One bad row of a request, by its 0-based index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub row: usize,
    pub error: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub rows: Vec<BadRow>,
    /// The field of the request body the error is about, e.g. `observations[3].observed_at`.
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    pub authenticate: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            rows: Vec::new(),
            field: None,
            retry_after: None,
            authenticate: false,
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unknown_rollout(name: &str) -> ApiError {
        ApiError::not_found(format!("no rollout named {name:?} in the configuration"))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "<[BadRow]>::is_empty")]
    rows: &'a [BadRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(Body {
                error: &self.message,
                rows: &self.rows,
                field: self.field.as_deref(),
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.authenticate {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollout\""),
            );
        }
        resp
    }
}

impl ApiError {
    /// A failure the client cannot fix: the body says what failed in words and carries an
    /// id; the details (driver text, SQL) go to the log under the same id, never to the
    /// client.
    pub fn internal(status: StatusCode, what: &str, detail: &dyn std::fmt::Display) -> ApiError {
        let id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(error_id = %id, status = status.as_u16(), error = %detail, "{what}");
        let mut e = ApiError::new(status, format!("{what} (error id {id})"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            e.retry_after = Some(1);
        }
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Unavailable(_) => ApiError::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is unavailable",
                &e,
            ),
            StoreError::Conflict { .. } | StoreError::Fenced { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            _ => ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal error", &e),
        }
    }
}

/// The one place a use case's failure becomes an HTTP status.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(e) => e.into(),
            AppError::UnknownRollout(name) => ApiError::unknown_rollout(&name),
            AppError::NotFound(msg) => ApiError::not_found(msg),
            AppError::Domain(e) => ApiError::not_found(e.to_string()),
            AppError::NotAllowed(e) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            AppError::NotLeader(msg) => ApiError::new(StatusCode::CONFLICT, msg),
            AppError::ChecksFailed(msg) => ApiError::new(StatusCode::CONFLICT, msg),
            AppError::Input(e) => {
                // Rows of a JSON body: `line` is the row's index.
                let shown: Vec<String> = e
                    .errors
                    .iter()
                    .take(20)
                    .map(|b| format!("row {}: {}", b.line, b.message))
                    .collect();
                let mut out = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{} bad observation(s); nothing was written: {}{}",
                        e.errors.len(),
                        shown.join("; "),
                        if e.errors.len() > shown.len() {
                            "; ..."
                        } else {
                            ""
                        }
                    ),
                );
                out.rows = e
                    .errors
                    .into_iter()
                    .map(|b| BadRow {
                        row: b.line as usize,
                        error: b.message,
                    })
                    .collect();
                out
            }
            e @ (AppError::InvalidInput(_) | AppError::Config(_)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
        }
    }
}

/// Bad JSON is 400, a body that does not fit the schema (unknown field, wrong type) 422,
/// a missing `Content-Type: application/json` 415, a body over the limit 413.
impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(e.status(), e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::new(e.status(), e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

pub async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}
