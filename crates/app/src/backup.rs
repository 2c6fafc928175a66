//! `rollout backup` and `rollout restore`: the store's snapshot in one file, a manifest
//! line first (`rollout_core::backup::Manifest`), and the checks a restore makes before it
//! writes anything. The file appears under its name only once complete (written beside it,
//! synced, renamed).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rollout_core::backup::{Checksum, Counter, Manifest, FORMAT, FORMAT_VERSION};
use rollout_store::Store;
use serde::Serialize;

use crate::error::{Error, Result};

/// What a restore loaded.
#[derive(Debug, Serialize)]
pub struct Restored {
    pub manifest: Manifest,
    pub rows: u64,
}

/// Hashes what passes through to the file.
struct Hashing<W: Write> {
    inner: W,
    sum: Checksum,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::InvalidInput(format!("cannot {what} {}: {e}", path.display()))
}

/// `path` + `suffix`, beside it.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Writes a consistent snapshot of `store` (shown as `source`) to `path`.
pub async fn backup(
    store: &dyn Store,
    source: &str,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<Manifest> {
    let body_path = beside(path, &format!(".body-{}", std::process::id()));
    let final_tmp = beside(path, &format!(".partial-{}", std::process::id()));
    let result = write_files(store, source, path, &body_path, &final_tmp, now).await;
    let _ = std::fs::remove_file(&body_path);
    if result.is_err() {
        let _ = std::fs::remove_file(&final_tmp);
    }
    result
}

async fn write_files(
    store: &dyn Store,
    source: &str,
    path: &Path,
    body_path: &Path,
    final_tmp: &Path,
    now: DateTime<Utc>,
) -> Result<Manifest> {
    let body = File::create(body_path).map_err(|e| io("create", body_path, e))?;
    let mut out = Hashing {
        inner: BufWriter::new(body),
        sum: Checksum::default(),
    };
    let dumped = store.dump(&mut out).await?;
    out.flush().map_err(|e| io("write", body_path, e))?;
    let Hashing { inner, sum } = out;
    drop(inner);
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        backend: store.backend_name().to_owned(),
        rollout_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: dumped.schema_version,
        created_at: now,
        source: source.to_owned(),
        flags_version: dumped.flags_version,
        tables: dumped.tables,
        sha256: sum.hex(),
    };
    // The snapshot holds the configuration and every row: readable by its owner only.
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(final_tmp)
            .map_err(|e| io("create", final_tmp, e))?
    };
    let line = serde_json::to_string(&manifest).expect("the manifest serializes");
    writeln!(file, "{line}").map_err(|e| io("write", final_tmp, e))?;
    let mut body = File::open(body_path).map_err(|e| io("read", body_path, e))?;
    std::io::copy(&mut body, &mut file).map_err(|e| io("write", final_tmp, e))?;
    file.sync_all().map_err(|e| io("sync", final_tmp, e))?;
    std::fs::rename(final_tmp, path).map_err(|e| io("rename the backup to", path, e))?;
    Ok(manifest)
}

/// The manifest of the backup at `path`, after checking the whole file against it: its
/// checksum and each table's row count.
pub fn verify(path: &Path) -> Result<Manifest> {
    let file = File::open(path).map_err(|e| io("read", path, e))?;
    let mut reader = BufReader::new(file);
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .map_err(|e| io("read", path, e))?;
    let manifest = Manifest::parse(first.trim_end())
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    #[derive(serde::Deserialize)]
    struct TableOnly {
        table: String,
    }
    let mut sum = Checksum::default();
    let mut counter = Counter::default();
    let mut line = Vec::new();
    let mut number = 1;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io("read", path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        sum.update(&line);
        match serde_json::from_slice::<TableOnly>(&line) {
            Ok(t) => counter.add(&t.table),
            Err(_) => {
                return Err(Error::InvalidInput(format!(
                    "{}: the backup is corrupt: line {number} is not a row",
                    path.display()
                )))
            }
        }
    }
    manifest
        .verify(&sum.hex(), &counter.into_rows())
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    Ok(manifest)
}

/// Restores the backup at `path` into `store`: checked whole first ([`verify`]), then
/// loaded in one transaction into an empty store (or, with `force`, one whose data it
/// replaces).
pub async fn restore(store: &dyn Store, path: &Path, force: bool) -> Result<Restored> {
    let manifest = verify(path)?;
    manifest
        .restorable(store.backend_name(), store.latest_schema())
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    let file = File::open(path).map_err(|e| io("read", path, e))?;
    let mut lines = BufReader::new(file).lines().skip(1);
    let rows = store
        .load(manifest.schema_version, &mut lines, force)
        .await?;
    Ok(Restored { manifest, rows })
}
