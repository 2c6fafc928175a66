//! The store of HTTP reads: the same database as the controller's, through a pool of its
//! own (`--http-read-pool`, default PostgreSQL 4, SQLite 2 connections), so that many or
//! slow readers wait for each other and never for the controller's connections: ticks,
//! judgments, admin actions and ingest keep theirs.

use std::sync::Arc;

use super::Limits;
use crate::store::{self, DatabaseUrl, Store};

/// A read store on `url`; the controller's own `store` for an in-memory SQLite database
/// (a second pool would open another, empty database) or a URL that cannot be opened.
pub fn open(url: &str, store: &Arc<dyn Store>, limits: &Limits) -> Arc<dyn Store> {
    let parsed = match DatabaseUrl::parse(url) {
        Ok(DatabaseUrl::Sqlite(s)) if s.is_memory() => return store.clone(),
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "HTTP reads share the controller's pool");
            return store.clone();
        }
    };
    let size = limits.read_pool_size(parsed.is_postgres());
    match store::open_url_with_pool(&parsed, size) {
        Ok(s) => Arc::from(s),
        Err(e) => {
            tracing::warn!(error = %e, "HTTP reads share the controller's pool");
            store.clone()
        }
    }
}
