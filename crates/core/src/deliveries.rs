//! A rollout's webhook deliveries as the dashboard shows them: each outbox row's event,
//! where it goes (credentials hidden), its state and its attempts.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The receiver acknowledged it.
    Delivered,
    /// Not tried yet.
    Pending,
    /// Tried and failed; tried again at `next_attempt_at`.
    Retrying,
    /// Never to be sent: its URL left the rollout's `notify` (or the rollout left the
    /// configuration); `last_error` says which.
    Abandoned,
}

/// One webhook delivery (a row of the outbox), as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The outbox row's id: the pagination cursor.
    pub id: i64,
    /// The history row it announces, its action (`start`, `rollback`, …) and time.
    pub event_id: i64,
    pub event: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// The receiver's URL with its credentials hidden ([`redact_webhook_url`]).
    pub url: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The last failure, with the URL in it hidden the same way.
    pub last_error: Option<String>,
    /// When it is tried next (`None` once delivered or abandoned).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub abandoned_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A stored outbox row as shown: the URL (also inside the error) redacted, the status
    /// derived from the delivery time and the attempts.
    #[allow(clippy::too_many_arguments)]
    pub fn shown(
        id: i64,
        event_id: i64,
        event: Option<String>,
        at: Option<DateTime<Utc>>,
        url: &str,
        attempts: i64,
        last_error: Option<String>,
        next_attempt_at: DateTime<Utc>,
        delivered_at: Option<DateTime<Utc>>,
    ) -> Delivery {
        let status = match (delivered_at, attempts) {
            (Some(_), _) => DeliveryStatus::Delivered,
            (None, 0) => DeliveryStatus::Pending,
            (None, _) => DeliveryStatus::Retrying,
        };
        let shown = redact_webhook_url(url);
        Delivery {
            id,
            event_id,
            event,
            at,
            status,
            attempts,
            last_error: last_error.map(|e| redact_urls_in(&e)),
            next_attempt_at: delivered_at.is_none().then_some(next_attempt_at),
            delivered_at,
            abandoned_at: None,
            url: shown,
        }
    }

    /// The delivery, abandoned at `at` if it was (never tried again).
    pub fn abandoned(mut self, at: Option<DateTime<Utc>>) -> Delivery {
        if at.is_some() && self.delivered_at.is_none() {
            self.status = DeliveryStatus::Abandoned;
            self.next_attempt_at = None;
            self.abandoned_at = at;
        }
        self
    }
}

/// `url` without what could be a secret: the user info (`user:password@`), every query
/// value, the fragment, and any path segment that looks like a token (16 characters or
/// more with a digit in them, as in `/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX`) become
/// `***`. The scheme, host, port and the readable path stay, so that a person can tell the
/// receivers apart.
pub fn redact_webhook_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (head, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match head.find('/') {
        Some(i) => (&head[..i], &head[i..]),
        None => (head, ""),
    };
    let mut out = String::from(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str("***");
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|s| if looks_secret(s) { "***" } else { s })
        .collect();
    out.push_str(&segments.join("/"));
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `text` with every URL in it (`scheme://` up to a space, a quote, a bracket or `>`)
/// shown as [`redact_webhook_url`] shows it: an error message may quote the receiver's URL
/// in its own form.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: the letters (and `+.-`) just before `://`.
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(0, |j| j + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || "()<>\"'`".contains(c))
            .map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..start]);
        out.push_str(&redact_webhook_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn looks_secret(segment: &str) -> bool {
    segment.len() >= 16 && segment.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_hidden_and_the_receiver_stays_recognisable() {
        for (raw, shown) in [
            (
                "https://hooks.example.com/rollout",
                "https://hooks.example.com/rollout",
            ),
            (
                "https://bot:s3cret@hooks.example.com:8443/a?token=abc&x=1#frag",
                "https://***@hooks.example.com:8443/a?token=***&x=***",
            ),
            (
                "https://hooks.slack.com/services/T0001/B0002/a1b2c3d4e5f6g7h8i9j0",
                "https://hooks.slack.com/services/T0001/B0002/***",
            ),
            ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_webhook_url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn the_status_follows_the_delivery_and_the_error_hides_the_url() {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let url = "https://u:pw@h/x";
        let d = Delivery::shown(
            1,
            2,
            Some("start".into()),
            Some(t),
            url,
            3,
            Some(format!("error sending request for url ({url})")),
            t,
            None,
        );
        assert_eq!(d.status, DeliveryStatus::Retrying);
        assert_eq!(d.next_attempt_at, Some(t));
        assert!(!d.last_error.unwrap().contains("pw"));
        assert_eq!(
            redact_urls_in(
                "error sending request for url (http://u:pw@h:9/x?t=s) at \"https://a:b@c/\""
            ),
            "error sending request for url (http://***@h:9/x?t=***) at \"https://***@c/\""
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
        let pending = Delivery::shown(1, 2, None, None, url, 0, None, t, None);
        assert_eq!(pending.status, DeliveryStatus::Pending);
        let done = Delivery::shown(1, 2, None, None, url, 1, None, t, Some(t));
        let gone = Delivery::shown(1, 2, None, None, url, 3, None, t, None).abandoned(Some(t));
        assert_eq!(gone.status, DeliveryStatus::Abandoned);
        assert_eq!((gone.next_attempt_at, gone.abandoned_at), (None, Some(t)));
        assert_eq!(
            done.clone().abandoned(Some(t)),
            done,
            "a delivered row stays delivered"
        );
        assert_eq!(done.status, DeliveryStatus::Delivered);
        assert_eq!(done.next_attempt_at, None);
    }
}
