//! A fault-injecting TCP proxy in front of PostgreSQL, for the tests that cut a process off
//! from its database: `cut` is an outage (every forwarded connection closed, new ones
//! refused), `partition` a network partition (connections stay open but nothing passes
//! either way, new ones hang; what was sent meanwhile is delivered when it `heal`s, as a
//! late packet would be).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::support::TestDb;

pub struct Proxy {
    pub addr: std::net::SocketAddr,
    down: Arc<AtomicBool>,
    /// Connection attempts, counted when accepted.
    pub accepted: Arc<AtomicUsize>,
    /// `true` while partitioned.
    stalled: watch::Sender<bool>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stalled, _) = watch::channel(false);
        let (d, a, c, s) = (
            down.clone(),
            accepted.clone(),
            conns.clone(),
            stalled.clone(),
        );
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let open = s.subscribe();
                c.lock().unwrap().push(tokio::spawn(async move {
                    passable(open.clone()).await;
                    if let Ok(out) = tokio::net::TcpStream::connect(&target).await {
                        let (ri, wi) = inbound.into_split();
                        let (ro, wo) = out.into_split();
                        tokio::join!(pump(ri, wo, open.clone()), pump(ro, wi, open));
                    }
                }));
            }
        });
        Proxy {
            addr,
            down,
            accepted,
            stalled,
            conns,
            task,
        }
    }

    /// A proxy in front of `db` (PostgreSQL) and the URL that reaches it through it.
    pub async fn before(db: &TestDb) -> (Proxy, String) {
        let (head, rest) = db.url.split_once('@').expect("user@host in the URL");
        let (hostport, path) = rest.split_once('/').expect("a database in the URL");
        let proxy = Proxy::start(hostport.to_owned()).await;
        let url = format!("{head}@{}/{path}", proxy.addr);
        (proxy, url)
    }

    /// An outage: closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// A partition: nothing passes, nothing is closed.
    pub fn partition(&self) {
        self.stalled.send_replace(true);
    }

    /// The end of a partition: what was held is delivered, and traffic flows again.
    pub fn heal(&self) {
        self.stalled.send_replace(false);
    }
}

/// Waits while partitioned.
async fn passable(mut open: watch::Receiver<bool>) {
    let _ = open.wait_for(|stalled| !stalled).await;
}

/// Copies `from` to `to`, holding each chunk (and the end of the stream) while partitioned.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    open: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        passable(open.clone()).await;
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            let _ = to.shutdown().await;
            return;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}
