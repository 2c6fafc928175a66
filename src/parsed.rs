//! The daemon's parse of its configuration file, off the tick path: a text is parsed once
//! (the daemon reads the file at every tick and on SIGHUP, and it rarely changes), and the
//! parse runs on a blocking thread, so that a large file (up to the 1 MiB `validate`
//! allows, nested as deep as it allows) never stalls a lease renewal or a tick.

use crate::config::{self, Loaded};

/// How a text parses: the configuration, or the errors as people read them.
pub type Parse = Result<Loaded, String>;

/// The last text parsed and what it parsed to.
#[derive(Default)]
pub struct ParsedConfig {
    last: Option<(String, Parse)>,
}

impl ParsedConfig {
    /// What `text` (the file `source`) parses to, and whether it was parsed now (false:
    /// the same text as last time, not parsed again).
    pub async fn parse(&mut self, source: &str, text: &str) -> (Parse, bool) {
        self.parse_with(source, text, |source, text| {
            config::parse(source, text).map_err(|e| e.to_string())
        })
        .await
    }

    /// [`ParsedConfig::parse`] with the parser given (tests count and hold it).
    pub async fn parse_with(
        &mut self,
        source: &str,
        text: &str,
        parser: fn(&str, &str) -> Parse,
    ) -> (Parse, bool) {
        if let Some((last, parsed)) = &self.last {
            if last == text {
                return (parsed.clone(), false);
            }
        }
        let (source, owned) = (source.to_owned(), text.to_owned());
        let parsed = tokio::task::spawn_blocking(move || parser(&source, &owned))
            .await
            .unwrap_or_else(|e| Err(format!("the configuration parser failed: {e}")));
        self.last = Some((text.to_owned(), parsed.clone()));
        (parsed, true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    use super::*;

    const YAML: &str = "database: sqlite://x.db\nrollouts: []\n";

    #[tokio::test]
    async fn the_same_text_is_parsed_once() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn counting(source: &str, text: &str) -> Parse {
            CALLS.fetch_add(1, Ordering::SeqCst);
            config::parse(source, text).map_err(|e| e.to_string())
        }
        let mut p = ParsedConfig::default();
        let (first, fresh) = p.parse_with("r.yaml", YAML, counting).await;
        assert!(first.is_ok() && fresh);
        let (again, fresh) = p.parse_with("r.yaml", YAML, counting).await;
        assert!(again.is_ok() && !fresh, "not parsed again");
        let (bad, fresh) = p.parse_with("r.yaml", "rollouts: [", counting).await;
        assert!(bad.is_err() && fresh);
        let (bad, fresh) = p.parse_with("r.yaml", "rollouts: [", counting).await;
        assert!(
            bad.is_err() && !fresh,
            "a bad text is not parsed again either"
        );
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }

    /// The parse runs off the async threads: on a single-threaded runtime, a parse that
    /// cannot finish until another task of the runtime (a tick) has run finishes. Parsed
    /// on the runtime's thread, the tick could not run before the parse returned (the
    /// parser gives up after 10 s and the test fails).
    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_parse_does_not_hold_up_the_runtime() {
        static TICKED: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
        fn waits_for_a_tick(source: &str, text: &str) -> Parse {
            let rx = TICKED.lock().unwrap().take().expect("one parse");
            rx.recv_timeout(Duration::from_secs(10))
                .map_err(|_| "no tick ran while the configuration was parsed".to_owned())?;
            config::parse(source, text).map_err(|e| e.to_string())
        }
        let (tx, rx) = mpsc::channel();
        *TICKED.lock().unwrap() = Some(rx);
        let tick = tokio::spawn(async move {
            tx.send(()).unwrap();
        });
        let mut p = ParsedConfig::default();
        let (parsed, _) = p.parse_with("r.yaml", YAML, waits_for_a_tick).await;
        assert!(parsed.is_ok(), "{:?}", parsed.err());
        tick.await.unwrap();
    }
}
