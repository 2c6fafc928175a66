//! One connection's clock: whether a request is in progress (from its headers until its
//! response body ends, so an event stream counts as in progress for as long as it is open),
//! and when the connection last had something to do. [`expired`] completes when the
//! connection has outstayed its welcome:
//! - a new connection that has not sent a whole request head within the header timeout;
//! - a request head begun (its first byte read) and not finished within the header timeout;
//! - no request in progress and nothing received for the idle timeout (keep-alive).
//!
//! The request body has its own deadline (`deadline.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Shared by a connection's reader, its service and its watchdog.
pub struct Activity {
    start: Instant,
    /// Requests in progress.
    busy: AtomicUsize,
    /// When the last request ended (ms since `start`, +1; 0: no request yet).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived (ms since `start`, +1; 0: none).
    head_began: AtomicU64,
    changed: Notify,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_began: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    fn stamp(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    fn at(&self, stamp: u64) -> Instant {
        self.start + Duration::from_millis(stamp - 1)
    }

    /// Bytes arrived: if no request is in progress they begin the next request's head.
    fn received(&self) {
        if self.busy.load(Ordering::SeqCst) == 0
            && self
                .head_began
                .compare_exchange(0, self.stamp(), Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request's head was read: it is in progress until the returned guard drops.
    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.head_began.store(0, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// When the connection expires if nothing changes; `None` while a request is in progress.
    fn deadline(&self, header: Duration, idle: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let began = self.head_began.load(Ordering::SeqCst);
        let since = self.idle_since.load(Ordering::SeqCst);
        Some(match (began, since) {
            (0, 0) => self.start + header,
            (0, since) => self.at(since) + idle,
            (began, _) => self.at(began) + header,
        })
    }
}

/// A request in progress; dropped with its response body (or with the connection).
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.stamp(), Ordering::SeqCst);
        a.busy.fetch_sub(1, Ordering::SeqCst);
        a.changed.notify_one();
    }
}

/// Completes when the connection has outstayed the header or the idle timeout.
pub async fn expired(activity: Arc<Activity>, header: Duration, idle: Duration) {
    loop {
        let notified = activity.changed.notified();
        match activity.deadline(header, idle) {
            None => notified.await,
            Some(at) if Instant::now() >= at => return,
            Some(at) => {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep_until(at) => {}
                }
            }
        }
    }
}

/// The connection's socket, telling [`Activity`] when bytes arrive.
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router's service for one connection, marking each request in progress until its
/// response body ends.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Tracked<S> {
        Tracked { inner, activity }
    }
}

impl<S, B> tower::Service<Request<B>> for Tracked<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let busy = self.activity.begin();
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(Guarded { body, _busy: busy })))
        })
    }
}

/// A response body that keeps its request in progress until it ends or is dropped.
struct Guarded {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadlines, from stamps set by hand (ms since the start, +1).
    #[tokio::test]
    async fn deadlines_follow_the_connection() {
        let h = Duration::from_secs(10);
        let i = Duration::from_secs(60);
        let a = Activity::new();
        let at = |secs: u64| a.start + Duration::from_secs(secs);
        assert_eq!(a.deadline(h, i), Some(at(10)), "a new connection");
        a.head_began.store(3_001, Ordering::SeqCst);
        assert_eq!(a.deadline(h, i), Some(at(13)), "a head begun");
        let busy = a.begin();
        assert_eq!(a.deadline(h, i), None, "in progress");
        a.received();
        assert_eq!(a.deadline(h, i), None, "a body arriving");
        drop(busy);
        assert_eq!(a.head_began.load(Ordering::SeqCst), 0);
        a.idle_since.store(100_001, Ordering::SeqCst);
        assert_eq!(a.deadline(h, i), Some(at(160)), "idle between requests");
        a.head_began.store(105_001, Ordering::SeqCst);
        assert_eq!(a.deadline(h, i), Some(at(115)), "the next head begun");
    }
}
