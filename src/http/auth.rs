//! Who may call what. Admin actions need the admin token (`ROLLOUT_ADMIN_TOKEN` or the file
//! `ROLLOUT_ADMIN_TOKEN_FILE`; none configured: 503). Ingest (`/v1/observations`,
//! `/learning/collect/*`) needs the ingest token (`ROLLOUT_INGEST_TOKEN` or
//! `ROLLOUT_INGEST_TOKEN_FILE`), a separate secret; with none configured, ingest is open to
//! loopback peers only and refused (403) to everyone else. Failed admin-token attempts are
//! rate-limited per peer (`throttle.rs`): 429 with `Retry-After` once a peer has failed
//! too often, even with the right token, until its window ends.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// A bearer token (admin or ingest). Kept as a digest; never printed.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl Token {
    /// `None` for an empty token: an empty secret would let anyone in.
    pub fn new(token: &str) -> Option<Token> {
        let token = token.trim();
        (!token.is_empty()).then(|| Token(Sha256::digest(token.as_bytes()).into()))
    }

    /// Constant-time comparison (of digests, so the length does not leak either).
    pub fn verify(&self, given: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        d.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The token from the variable `var`, else from the file named by `{var}_FILE`;
/// `Ok(None)` when neither is set.
fn from_env(var: &str) -> Result<Option<Token>, String> {
    if let Ok(t) = std::env::var(var) {
        return Token::new(&t)
            .map(Some)
            .ok_or_else(|| format!("{var} is empty"));
    }
    let file_var = format!("{var}_FILE");
    let Ok(path) = std::env::var(&file_var) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {file_var} {path}: {e}"))?;
    Token::new(&text)
        .map(Some)
        .ok_or_else(|| format!("{file_var} {path} is empty"))
}

/// The admin token from `ROLLOUT_ADMIN_TOKEN` or `ROLLOUT_ADMIN_TOKEN_FILE`; `Ok(None)`
/// when neither is set (admin disabled).
pub fn token_from_env() -> Result<Option<Token>, String> {
    from_env("ROLLOUT_ADMIN_TOKEN")
}

/// The ingest token from `ROLLOUT_INGEST_TOKEN` or `ROLLOUT_INGEST_TOKEN_FILE`; `Ok(None)`
/// when neither is set (ingest from loopback only).
pub fn ingest_token_from_env() -> Result<Option<Token>, String> {
    from_env("ROLLOUT_INGEST_TOKEN")
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme is case-insensitive,
/// RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn unauthorized(message: &str) -> ApiError {
    let mut e = ApiError::new(StatusCode::UNAUTHORIZED, message);
    e.authenticate = true;
    e
}

/// Admin endpoints: 503 without a configured token, 429 for a peer that failed too often
/// lately, 401 without the right token (counted against the peer).
pub(crate) fn authorize_admin(
    s: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let Some(token) = &s.admin_token else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the admin API is disabled: set ROLLOUT_ADMIN_TOKEN or ROLLOUT_ADMIN_TOKEN_FILE",
        ));
    };
    let now = std::time::Instant::now();
    if let Some(wait) = peer.and_then(|p| s.admin_failures.wait(p.ip(), now)) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed admin-token attempts from this address; retry in {secs}s"),
        );
        e.retry_after = Some(secs.max(1));
        return Err(e);
    }
    match bearer(headers) {
        Some(g) if token.verify(g) => Ok(()),
        _ => {
            if let Some(p) = peer {
                s.admin_failures.failed(p.ip(), now);
            }
            Err(unauthorized(
                "a valid `Authorization: Bearer TOKEN` header is required",
            ))
        }
    }
}

/// The caller's address, when the server runs with connection info (axum's
/// `MockConnectInfo` counts too).
async fn peer(parts: &mut Parts, s: &AppState) -> Option<SocketAddr> {
    ConnectInfo::<SocketAddr>::from_request_parts(parts, s)
        .await
        .ok()
        .map(|c| c.0)
}

/// Extracted by the admin handlers, before their body: the caller holds the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let peer = peer(parts, s).await;
        authorize_admin(s, &parts.headers, peer).map(|()| Admin)
    }
}

/// Whether `ip` is this host (an IPv4-mapped loopback address too, as a dual-stack
/// listener reports it).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

/// Ingest: with a token configured, 401 without it (from loopback too); without one,
/// loopback peers only, 403 for the others (and for a peer that cannot be told, when the
/// server runs without connection info).
fn authorize_ingest(
    token: Option<&Token>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<(), ApiError> {
    match token {
        Some(token) => match bearer(headers) {
            Some(g) if token.verify(g) => Ok(()),
            _ => Err(unauthorized(
                "a valid `Authorization: Bearer TOKEN` header with the ingest token (ROLLOUT_INGEST_TOKEN) is required",
            )),
        },
        None if peer.is_some_and(|p| is_loopback(p.ip())) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ingest is open to this host only: the daemon has no ingest token; set ROLLOUT_INGEST_TOKEN (or ROLLOUT_INGEST_TOKEN_FILE) to accept ingest from other hosts",
        )),
    }
}

/// Extracted by the ingest handlers, before their body: the caller may ingest.
pub struct Ingestor;

impl FromRequestParts<AppState> for Ingestor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let peer = peer(parts, s).await;
        authorize_ingest(s.ingest_token.as_ref(), &parts.headers, peer).map(|()| Ingestor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn ingest_without_a_token_is_for_loopback_only() {
        let none = HeaderMap::new();
        let at = |a: &str| Some(a.parse::<SocketAddr>().unwrap());
        assert!(authorize_ingest(None, &none, at("127.0.0.1:5000")).is_ok());
        assert!(authorize_ingest(None, &none, at("[::1]:5000")).is_ok());
        assert!(authorize_ingest(None, &none, at("[::ffff:127.0.0.1]:5000")).is_ok());
        for far in [
            "10.0.0.7:5000",
            "[::ffff:10.0.0.7]:5000",
            "[2001:db8::1]:5000",
        ] {
            let e = authorize_ingest(None, &none, at(far)).unwrap_err();
            assert_eq!(e.status, StatusCode::FORBIDDEN, "{far}");
            assert!(e.message.contains("ROLLOUT_INGEST_TOKEN"), "{}", e.message);
        }
        let e = authorize_ingest(None, &none, None).unwrap_err();
        assert_eq!(
            e.status,
            StatusCode::FORBIDDEN,
            "an unknown peer is not trusted"
        );
    }

    #[test]
    fn ingest_with_a_token_needs_it_from_everywhere() {
        let token = Token::new("ingest-secret").unwrap();
        let local = Some("127.0.0.1:5000".parse().unwrap());
        let far = Some("10.0.0.7:5000".parse().unwrap());
        let e = authorize_ingest(Some(&token), &HeaderMap::new(), local).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.authenticate);
        let e = authorize_ingest(Some(&token), &with_bearer("wrong"), far).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(authorize_ingest(Some(&token), &with_bearer("ingest-secret"), far).is_ok());
        assert!(authorize_ingest(Some(&token), &with_bearer("ingest-secret"), local).is_ok());
    }

    #[test]
    fn tokens_are_not_printed_and_not_empty() {
        assert!(Token::new("  ").is_none());
        let t = Token::new("s3cret").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(t.verify("s3cret") && !t.verify("s3cre"));
    }
}
