//! The accept loop: each connection served by hyper's HTTP/1 server with the router (and the
//! peer's address as `ConnectInfo`), header names written in title case (`Content-Type`:
//! header names are case-insensitive, but some clients compare them as written). On
//! shutdown: stop accepting, let each connection finish its request in flight, and wait for
//! them. Each connection must send its headers within [`super::HEADER_TIMEOUT`]
//! (slowloris connections are cut off); at most [`super::MAX_CONNECTIONS`] are served at
//! once, and one more is answered 503 with `Retry-After` and closed.

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

pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(super::MAX_CONNECTIONS));
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
            let mut builder = http1::Builder::new();
            builder
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(super::HEADER_TIMEOUT);
            let conn =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => drop(r),
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
