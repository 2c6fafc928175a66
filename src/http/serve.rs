//! The accept loop: each connection served by hyper's HTTP/1 server with the router (and the
//! peer's address as `ConnectInfo`), header names written in title case (`Content-Type`:
//! header names are case-insensitive, but some clients compare them as written). On
//! shutdown: stop accepting, let each connection finish its request in flight, and wait for
//! them. Each connection is watched (`conn.rs`): it must send a request's head within the
//! header timeout and is closed once idle for the idle timeout (slowloris and idle
//! keep-alive connections are cut off; an open event stream is a request in progress, never
//! idle). At most `max_connections` are served at once, and one more is answered 503 with
//! `Retry-After` and closed.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Service;

use super::conn;

pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: &super::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections as usize));
    let (header, idle) = (limits.header_timeout, limits.idle_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, as axum::serve does.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse_full(stream));
            continue;
        };
        let Ok(svc) = make.call(peer).await;
        let stopping = stopping.clone();
        connections.spawn(async move {
            let _permit = permit;
            let activity = conn::Activity::new();
            let mut builder = http1::Builder::new();
            // hyper's own header timeout would also run between keep-alive requests: the
            // watchdog below times heads and idleness instead.
            builder
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(None);
            let io = TokioIo::new(conn::Watched::new(stream, activity.clone()));
            let svc = TowerToHyperService::new(conn::Tracked::new(svc, activity.clone()));
            let conn = builder.serve_connection(io, svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => drop(r),
                () = conn::expired(activity, header, idle) => {
                    tracing::debug!(%peer, "connection closed: no request head in time, or idle");
                }
                () = stopped(stopping) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Completes when `rx` says the server stops (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The answer when every connection slot is taken.
async fn refuse_full(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = "{\"error\":\"too many connections; retry later\"}";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
}
