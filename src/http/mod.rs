//! The HTTP API of `rollout daemon` (axum): flags and their event stream, rollouts,
//! assignment, admin actions, observation ingest, health and metrics; and the dashboard at `/`. The contract is in
//! `openapi.yaml` and `clients/python/README.md` ("The HTTP contract").

mod admin;
mod auth;
mod body;
mod conn;
mod dashboard;
mod deadline;
mod error;
mod feed;
mod flags;
mod learning;
mod limits;
pub mod metrics;
mod observations;
mod panels;
mod reads;
mod report;
mod rollouts;
mod series;
mod serve;
mod stream;
mod throttle;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tokio::sync::{watch, Semaphore};

use crate::role::Role;
use crate::store::Store;
use rollout_app::{Judgments, Service, SystemClock};

/// The admin token's former name.
pub use auth::Token as AdminToken;
pub use auth::{ingest_token_from_env, token_from_env, Token};
pub use error::ApiError;
pub use feed::Feed;
pub use limits::Limits;
pub use observations::MAX_ROWS;

/// The largest request body accepted (bytes); larger ones get 413.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

pub use rollout_app::SharedConfig;

/// What the server needs; built once by the daemon (or a test).
pub struct Options {
    pub store: Arc<dyn Store>,
    /// The database URL, for `LISTEN rollout_flags` on PostgreSQL.
    pub database_url: String,
    pub config: SharedConfig,
    /// Whether this process leads, and its epoch: ingest judges new data with it.
    pub role: Arc<Role>,
    /// The daemon's actor (`daemon@HOST:PID`), for writes made as the leader.
    pub actor: String,
    /// `None` disables the admin endpoints (503).
    pub admin_token: Option<Token>,
    /// `None`: ingest only from loopback peers (403 for the others).
    pub ingest_token: Option<Token>,
    /// Ingest requests processed at once; more get 429.
    pub ingest_slots: usize,
    /// Where ingest asks for judgments of the rows it committed. `None`: the leader's
    /// ([`crate::judge::leader`] with `role` and `actor`), which streams its rollbacks.
    pub judgments: Option<Judgments>,
    /// Timeouts, caps and the size of the HTTP read pool.
    pub limits: Limits,
    /// The store HTTP reads use. `None`: a pool of its own on `database_url`
    /// (`limits.read_pool` connections), so readers cannot starve the controller's pool.
    pub read_store: Option<Arc<dyn Store>>,
}

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared state behind [`AppState`].
pub struct Inner {
    /// The use cases; handlers parse, call one and render what it returns. On the
    /// controller's pool: admin actions, ingest, readiness.
    pub(crate) service: Service,
    /// The same use cases on the small pool of HTTP reads (every `GET` of the API).
    pub(crate) reads: Service,
    pub(crate) limits: Limits,
    /// One permit per open event stream.
    pub(crate) streams: Arc<Semaphore>,
    /// Failed admin-token attempts, per peer.
    pub(crate) admin_failures: throttle::Throttle,
    pub(crate) role: Arc<Role>,
    pub(crate) admin_token: Option<Token>,
    pub(crate) ingest_token: Option<Token>,
    pub(crate) ingest: Semaphore,
    /// Judgments of ingested rows, run after the answer.
    pub(crate) judgments: Judgments,
    pub(crate) feed: Feed,
    /// Becomes true when the server shuts down: open event streams end.
    pub(crate) closing: watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state and starts the change feed (it needs a tokio runtime).
    pub fn new(opts: Options) -> AppState {
        let feed = Feed::start(opts.store.clone(), &opts.database_url);
        let read_store = opts
            .read_store
            .unwrap_or_else(|| reads::open(&opts.database_url, &opts.store, &opts.limits));
        let reads = Service::new(read_store, opts.config.clone(), Arc::new(SystemClock));
        let service = Service::new(opts.store, opts.config, Arc::new(SystemClock));
        let judgments = opts.judgments.unwrap_or_else(|| {
            crate::judge::leader(
                service.clone(),
                opts.role.clone(),
                opts.actor.clone(),
                feed.poker(),
            )
        });
        AppState(Arc::new(Inner {
            service,
            reads,
            streams: Arc::new(Semaphore::new(opts.limits.max_streams as usize)),
            limits: opts.limits,
            admin_failures: throttle::Throttle::default(),
            judgments,
            role: opts.role,
            admin_token: opts.admin_token,
            ingest_token: opts.ingest_token,
            ingest: Semaphore::new(opts.ingest_slots.max(1)),
            feed,
            closing: watch::channel(false).0,
        }))
    }

    /// The change feed; call [`Feed::poke`] after an in-process commit.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The judgments ingest asks for.
    pub fn judgments(&self) -> &Judgments {
        &self.judgments
    }
}

/// Every route: method, path (as in `openapi.yaml`) and handler. [`router`] is built from
/// this list, so a test can compare it with the spec.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("get", "/healthz", get(metrics::healthz)),
        ("get", "/readyz", get(metrics::readyz)),
        ("get", "/metrics", get(metrics::scrape)),
        ("get", "/v1/flags", get(flags::all)),
        ("get", "/v1/flags/stream", get(stream::stream)),
        ("get", "/v1/flags/{key}", get(flags::one)),
        ("get", "/v1/rollouts", get(rollouts::list)),
        ("get", "/v1/overview", get(rollouts::overview)),
        ("get", "/v1/rollouts/{name}", get(rollouts::one)),
        ("get", "/v1/rollouts/{name}/history", get(series::history)),
        (
            "get",
            "/v1/rollouts/{name}/timeseries",
            get(series::timeseries),
        ),
        ("get", "/v1/rollouts/{name}/preview", get(series::preview)),
        ("get", "/v1/rollouts/{name}/learning", get(panels::learning)),
        ("get", "/v1/rollouts/{name}/webhooks", get(panels::webhooks)),
        ("get", "/v1/rollouts/{name}/report", get(report::report)),
        ("post", "/v1/rollouts/{name}/errors", post(report::errors)),
        ("get", "/v1/assign", get(rollouts::assign)),
        ("post", "/v1/rollouts/{name}/pause", post(admin::pause)),
        ("post", "/v1/rollouts/{name}/resume", post(admin::resume)),
        ("post", "/v1/rollouts/{name}/promote", post(admin::promote)),
        (
            "post",
            "/v1/rollouts/{name}/rollback",
            post(admin::rollback),
        ),
        ("post", "/v1/rollouts/{name}/restart", post(admin::restart)),
        ("post", "/v1/observations", post(observations::ingest)),
        (
            "post",
            "/learning/collect/discovery-data",
            post(learning::discovery),
        ),
        (
            "post",
            "/learning/collect/thesis-decision",
            post(learning::thesis),
        ),
        (
            "post",
            "/learning/collect/trade-outcome",
            post(learning::outcome),
        ),
        (
            "get",
            "/learning/intelligence/discovery-parameters",
            get(learning::discovery_parameters),
        ),
        (
            "get",
            "/learning/intelligence/market-insights",
            get(learning::market_insights),
        ),
    ]
}

/// The API as an axum router. Serve it with connection info
/// (`into_make_service_with_connect_info::<SocketAddr>()`, as [`serve`] does): without a
/// configured ingest token, ingest is allowed from loopback peers only, and a peer that
/// cannot be told is refused.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for (_, path, handler) in routes() {
        app = app.route(path, handler);
    }
    // The dashboard: a page and its embedded assets, not part of the API's contract.
    for (path, handler) in dashboard::routes() {
        app = app.route(path, handler);
    }
    app.fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline::body_in_time,
        ))
        .with_state(state)
}

/// The API running in the background (as the daemon runs it).
pub struct Running {
    pub address: std::net::SocketAddr,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Something was committed in this process: stream it now rather than at the next poll.
    pub fn poke(&self) {
        self.state.feed.poke();
    }

    /// The judgments of new observations this API asks for (the daemon's `NOTIFY` and
    /// poll share them).
    pub fn judgments(&self) -> Judgments {
        self.state.judgments.clone()
    }

    /// Stops accepting, ends the open streams and waits (at most 5 s) for requests in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

/// Binds `addr` and serves the API in the background.
pub async fn start(addr: std::net::SocketAddr, opts: Options) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let address = listener.local_addr()?;
    let state = AppState::new(opts);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = state.clone();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = serve(listener, serving, shutdown).await {
            tracing::error!(error = %e, "the HTTP API stopped");
        }
    });
    Ok(Running {
        address,
        state,
        stop,
        task,
    })
}

/// How long a client may take to send a request's headers by default (slowloris
/// connections are closed after it); `--http-header-timeout`.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections served at once by default; more are answered 503 with `Retry-After` and
/// closed; `--http-max-connections`.
pub const MAX_CONNECTIONS: usize = 1024;

/// Serves the API on `listener` until `shutdown` completes; open event streams are closed
/// then, so that shutdown does not wait for them. The state's [`Limits`] bound each
/// connection (header, body and idle timeouts) and their number.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.clone();
    let limits = state.limits.clone();
    serve::run(listener, router(state), &limits, async move {
        shutdown.await;
        closing.closing.send_replace(true);
    })
    .await
}
