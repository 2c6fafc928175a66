//! The request body's deadline: a body must arrive whole within the body timeout of its
//! request's head. A client that trickles it slower gets 408 and its connection is closed
//! (the handler's own answer, a 400 for a body it could not read, is replaced).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::{ApiError, AppState};

/// Wraps the request's body in the deadline; answers 408 if it passed.
pub async fn body_in_time(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let late = Arc::new(AtomicBool::new(false));
    let timeout = s.limits.body_timeout;
    let req = req.map(|body| {
        Body::new(Deadline {
            body,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            late: late.clone(),
        })
    });
    let response = next.run(req).await;
    if !late.load(Ordering::SeqCst) {
        return response;
    }
    let secs = timeout.as_secs_f64();
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!("the request body did not arrive within {secs}s"),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A request body that fails once its deadline has passed.
struct Deadline {
    body: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.late.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(axum::Error::new(
                "the request body did not arrive in time",
            ))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
