//! The backup file (`rollout backup`, `rollout restore`): one text file, a manifest on its
//! first line and one JSON line per row after it (`{"table":"rollout_flags","row":{...}}`).
//! The manifest holds the SHA-256 of everything after its own line and the row count of each
//! table, so that a restore refuses a truncated or altered file before it writes anything.
//! Pure: the store produces and loads the rows; this module only says what a valid file is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The manifest's `format`: what tells a backup from any other JSON file.
pub const FORMAT: &str = "rollout-backup";
/// This release writes and reads version 1.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a backup file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// `postgres` or `sqlite`: a backup restores into the same kind of store.
    pub backend: String,
    /// The rollout release that wrote it.
    pub rollout_version: String,
    /// The last migration applied to the source: the schema the rows have.
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    /// The source store (password redacted).
    pub source: String,
    /// The flags version of the snapshot.
    pub flags_version: i64,
    /// Rows per table, in the order the file holds them.
    pub tables: Vec<TableRows>,
    /// SHA-256 (hex) of every byte after the manifest's line.
    pub sha256: String,
}

/// How many rows of a table a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
}

/// One row of the body: its table and its columns as the store renders them.
#[derive(Debug, Deserialize)]
pub struct Line {
    pub table: String,
    pub row: serde_json::Value,
}

impl Manifest {
    /// Reads a manifest line; a file that is not a rollout backup says so.
    pub fn parse(line: &str) -> Result<Manifest, String> {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|_| "not a rollout backup (its first line is not JSON)".to_owned())?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(format!(
                "not a rollout backup (its first line has no \"format\": \"{FORMAT}\")"
            ));
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| format!("the backup's manifest is invalid: {e}"))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(format!(
                "backup format version {} is not supported (this release reads {FORMAT_VERSION})",
                manifest.format_version
            ));
        }
        Ok(manifest)
    }

    /// Whether this backup can be restored into a `backend` store whose release knows the
    /// migrations up to `latest`.
    pub fn restorable(&self, backend: &str, latest: i64) -> Result<(), String> {
        if self.backend != backend {
            return Err(format!(
                "this backup is of a {} store and cannot be restored into a {backend} store",
                self.backend
            ));
        }
        if self.schema_version > latest {
            return Err(format!(
                "this backup has schema version {} (rollout {}); this release knows up to {latest}: restore it with that release or a later one",
                self.schema_version, self.rollout_version
            ));
        }
        Ok(())
    }

    /// Compares what a file holds (its body's digest and the rows counted per table) with
    /// what the manifest says it holds.
    pub fn verify(&self, digest: &str, counted: &[TableRows]) -> Result<(), String> {
        if digest != self.sha256 {
            return Err(format!(
                "the backup is corrupt: its checksum is {digest}, its manifest says {}",
                self.sha256
            ));
        }
        for expected in &self.tables {
            let got = counted
                .iter()
                .find(|c| c.table == expected.table)
                .map_or(0, |c| c.rows);
            if got != expected.rows {
                return Err(format!(
                    "the backup is corrupt: table {} has {got} row(s), its manifest says {}",
                    expected.table, expected.rows
                ));
            }
        }
        if let Some(extra) = counted
            .iter()
            .find(|c| !self.tables.iter().any(|t| t.table == c.table))
        {
            return Err(format!(
                "the backup is corrupt: it holds rows of table {}, which its manifest does not list",
                extra.table
            ));
        }
        Ok(())
    }
}

/// SHA-256 over bytes fed in pieces; `hex` at the end.
#[derive(Default, Clone)]
pub struct Checksum(Sha256);

impl Checksum {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Counts rows per table in the order tables first appear.
#[derive(Debug, Default)]
pub struct Counter(Vec<TableRows>);

impl Counter {
    pub fn add(&mut self, table: &str) {
        match self.0.last_mut() {
            Some(last) if last.table == table => last.rows += 1,
            _ => match self.0.iter_mut().find(|t| t.table == table) {
                Some(t) => t.rows += 1,
                None => self.0.push(TableRows {
                    table: table.to_owned(),
                    rows: 1,
                }),
            },
        }
    }

    pub fn into_rows(self) -> Vec<TableRows> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            backend: "sqlite".into(),
            rollout_version: "0.1.0".into(),
            schema_version: 9,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            source: "sqlite:///x.db".into(),
            flags_version: 3,
            tables: vec![
                TableRows {
                    table: "a".into(),
                    rows: 2,
                },
                TableRows {
                    table: "b".into(),
                    rows: 0,
                },
            ],
            sha256: "00".into(),
        }
    }

    #[test]
    fn a_manifest_round_trips_and_other_files_are_refused() {
        let m = manifest();
        let line = serde_json::to_string(&m).unwrap();
        assert_eq!(Manifest::parse(&line).unwrap(), m);
        assert!(Manifest::parse("key,value\n")
            .unwrap_err()
            .contains("not a rollout backup"));
        assert!(Manifest::parse("{\"format\":\"x\"}")
            .unwrap_err()
            .contains("not a rollout backup"));
        let v2 = line.replace("\"format_version\":1", "\"format_version\":2");
        assert!(Manifest::parse(&v2).unwrap_err().contains("not supported"));
    }

    #[test]
    fn restorable_into_the_same_backend_at_a_known_schema() {
        let m = manifest();
        assert!(m.restorable("sqlite", 9).is_ok());
        assert!(m.restorable("sqlite", 12).is_ok());
        assert!(m
            .restorable("postgres", 9)
            .unwrap_err()
            .contains("sqlite store"));
        assert!(m
            .restorable("sqlite", 8)
            .unwrap_err()
            .contains("schema version 9"));
    }

    #[test]
    fn verify_compares_checksum_and_counts() {
        let m = manifest();
        let mut c = Counter::default();
        c.add("a");
        c.add("a");
        let counted = c.into_rows();
        assert!(m.verify("00", &counted).is_ok());
        assert!(m.verify("01", &counted).unwrap_err().contains("checksum"));
        let mut c = Counter::default();
        c.add("a");
        assert!(m
            .verify("00", &c.into_rows())
            .unwrap_err()
            .contains("table a has 1 row(s), its manifest says 2"));
        let mut c = Counter::default();
        c.add("a");
        c.add("a");
        c.add("z");
        assert!(m
            .verify("00", &c.into_rows())
            .unwrap_err()
            .contains("table z"));
    }

    #[test]
    fn checksum_is_sha256() {
        // printf 'abc' | sha256sum
        let mut c = Checksum::default();
        c.update(b"a");
        c.update(b"bc");
        assert_eq!(
            c.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
