//! JSON request bodies read as `axum::Json` reads them (415 without a JSON content type,
//! 400 for text that is not JSON, 422 for JSON that does not fit), except that a body that
//! does not fit names the field it is about: `observations[3].observed_at: ...`, also as
//! `field` in the error body.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Whether the request says its body is JSON (`application/json`, or `application/*+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body of a JSON request, as `T`.
pub fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    parse(&body)
}

/// `bytes` as `T`; the errors as [`json`] describes them.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        invalid(&inner, (field != ".").then_some(field))
    })?;
    de.end().map_err(|e| invalid(&e, None))?;
    Ok(value)
}

fn invalid(e: &serde_json::Error, field: Option<String>) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let text = without_position(&e.to_string());
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                match &field {
                    // An unknown top-level key is named by the message itself.
                    Some(f) if !text.starts_with(&format!("unknown field `{f}`")) => {
                        format!("{f}: {text}")
                    }
                    _ => text,
                },
            );
            err.field = field;
            err
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("invalid JSON: {e}"))
        }
    }
}

/// serde_json appends " at line L column C"; for a field error the field says where.
fn without_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        rows: Vec<Row>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Row {
        value: f64,
        #[serde(
            default,
            deserialize_with = "rollout_core::timestamp::deserialize_option"
        )]
        at: Option<DateTime<Utc>>,
    }

    #[test]
    fn errors_name_their_field() {
        let e = parse::<Body>(
            br#"{"rows": [{"value": 1}, {"value": 2, "at": "2026-01-02T03:04:05.5"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.field.as_deref(), Some("rows[1].at"));
        assert!(
            e.message.starts_with("rows[1].at: \"2026-01-02T03:04:05.5\" has no offset: expected an RFC 3339 timestamp with an offset, e.g. 2026-01-02T03:04:05Z"),
            "{}",
            e.message
        );
        let e = parse::<Body>(br#"{"rows": [{"value": "1"}]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rows[0].value"));
        let e = parse::<Body>(br#"{"rows": [], "extra": 1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("extra"), "{}", e.message);
        let e = parse::<Body>(br#"{"rows": [{"value": 1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse::<Body>(br#"{"rows": []} trailing"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            parse::<Body>(br#"{"rows": [{"value": 1, "at": "2026-01-02T03:04:05Z"}]}"#).is_ok()
        );
    }

    #[test]
    fn content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(with("application/vnd.api+json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
