//! How far the HTTP API lets its clients go: timeouts, caps on connections and event
//! streams, and the size of the pool HTTP reads use. `rollout daemon` takes them as flags
//! (`--http-*`, also from `ROLLOUT_HTTP_*` variables); tests build them in code.

use std::time::Duration;

/// The bounds the HTTP API holds its clients to.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// How long a client may take to send a request's headers (from its first byte, or
    /// from the connection's start); slowloris connections are closed after it.
    #[arg(long = "http-header-timeout", env = "ROLLOUT_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, after its headers; a slower
    /// one gets 408 and its connection is closed.
    #[arg(long = "http-body-timeout", env = "ROLLOUT_HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,
    /// How long a keep-alive connection may stay idle between requests before it is
    /// closed (event streams, which are never idle, are exempt).
    #[arg(long = "http-idle-timeout", env = "ROLLOUT_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Connections served at once; one more is answered 503 with `Retry-After` and closed.
    #[arg(long = "http-max-connections", env = "ROLLOUT_HTTP_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Open `/v1/flags/stream` event streams at once; one more is answered 503 with
    /// `Retry-After` (the clients retry). Each stream also takes a connection.
    #[arg(long = "http-max-streams", env = "ROLLOUT_HTTP_MAX_STREAMS", default_value_t = 768, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: u32,
    /// Database connections of the pool HTTP reads use (0: PostgreSQL 4, SQLite 2); the
    /// controller's own pool (ticks, judgments, admin actions, ingest) is separate, so
    /// readers cannot starve it.
    #[arg(
        long = "http-read-pool",
        env = "ROLLOUT_HTTP_READ_POOL",
        default_value_t = 0
    )]
    pub read_pool: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_streams: 768,
            read_pool: 0,
        }
    }
}

impl Limits {
    /// Refuses a timeout of zero (every client would be cut off at once).
    pub fn check(&self) -> Result<(), String> {
        for (flag, d) in [
            ("--http-header-timeout", self.header_timeout),
            ("--http-body-timeout", self.body_timeout),
            ("--http-idle-timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(format!(
                    "{flag} 0 would cut off every client; give a duration such as 10s"
                ));
            }
        }
        Ok(())
    }

    /// The read pool's size for a store of this kind.
    pub fn read_pool_size(&self, postgres: bool) -> u32 {
        match (self.read_pool, postgres) {
            (0, true) => 4,
            (0, false) => 2,
            (n, _) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    /// The flags' defaults are [`Limits::default`]'s.
    #[test]
    fn defaults_agree() {
        let parsed = Cli::parse_from(["x"]).limits;
        let d = Limits::default();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{d:?}"),
            "the clap defaults and Default agree"
        );
        let l = Cli::parse_from(["x", "--http-body-timeout", "2s", "--http-max-streams", "3"]);
        assert_eq!(l.limits.body_timeout, Duration::from_secs(2));
        assert_eq!(l.limits.max_streams, 3);
        assert!(Cli::try_parse_from(["x", "--http-max-connections", "0"]).is_err());
        assert_eq!(d.read_pool_size(true), 4);
        assert_eq!(d.read_pool_size(false), 2);
    }
}
