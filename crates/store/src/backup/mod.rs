//! Backups: which tables are rollout's, and the rows of a backup's body in batches. The
//! SQL that renders a row as JSON and loads it back differs per database (`postgres.rs`,
//! `sqlite.rs`); what a valid file is lives in `rollout_core::backup`.

mod postgres;
mod sqlite;

use rollout_core::backup::Line;

use crate::StoreError;

pub(crate) use crate::tables::{PG_TABLES, SQLITE_TABLES};

/// Tables whose rows do not make a store "in use": the one-row tables every migrated store
/// has (their rows are replaced), the recorded configuration (any command records it), and
/// the rebuilds a migration leaves to do (the backup's own are loaded).
pub(crate) const REPLACED: &[&str] = &[
    "rollout_flags_version",
    "rollout_leader",
    "rollout_config",
    "aggregate_rebuilds",
];

/// Rows per INSERT when loading.
const BATCH: usize = 500;

/// Writes one body line.
pub(crate) fn write_line(
    out: &mut (dyn std::io::Write + Send),
    table: &str,
    row_json: &str,
) -> Result<(), StoreError> {
    let table = serde_json::to_string(table).expect("a string serializes");
    writeln!(out, "{{\"table\":{table},\"row\":{row_json}}}")
        .map_err(|e| StoreError::Invalid(format!("cannot write the backup: {e}")))
}

/// The body's lines as batches of rows of one table: `(table, JSON array of rows, count)`.
pub(crate) struct Batches<'a> {
    lines: &'a mut (dyn Iterator<Item = std::io::Result<String>> + Send),
    tables: &'static [&'static str],
    pending: Option<Line>,
    number: u64,
}

impl<'a> Batches<'a> {
    pub(crate) fn new(
        lines: &'a mut (dyn Iterator<Item = std::io::Result<String>> + Send),
        tables: &'static [&'static str],
    ) -> Batches<'a> {
        Batches {
            lines,
            tables,
            pending: None,
            number: 1, // the manifest is line 1
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>, StoreError> {
        if let Some(l) = self.pending.take() {
            return Ok(Some(l));
        }
        let Some(text) = self.lines.next() else {
            return Ok(None);
        };
        self.number += 1;
        let text = text.map_err(|e| StoreError::Invalid(format!("cannot read the backup: {e}")))?;
        let line: Line = serde_json::from_str(&text).map_err(|e| {
            StoreError::Invalid(format!("backup line {}: not a row: {e}", self.number))
        })?;
        if !self.tables.contains(&line.table.as_str()) {
            return Err(StoreError::Invalid(format!(
                "backup line {}: {} is not one of rollout's tables",
                self.number, line.table
            )));
        }
        if !line.row.is_object() {
            return Err(StoreError::Invalid(format!(
                "backup line {}: the row is not a JSON object",
                self.number
            )));
        }
        Ok(Some(line))
    }

    /// The next batch: up to [`BATCH`] consecutive rows of one table.
    pub(crate) fn next_batch(&mut self) -> Result<Option<(String, String, u64)>, StoreError> {
        let Some(first) = self.next_line()? else {
            return Ok(None);
        };
        let table = first.table;
        let mut rows = vec![first.row];
        while rows.len() < BATCH {
            match self.next_line()? {
                Some(l) if l.table == table => rows.push(l.row),
                Some(l) => {
                    self.pending = Some(l);
                    break;
                }
                None => break,
            }
        }
        let n = rows.len() as u64;
        let json = serde_json::to_string(&rows).expect("JSON values serialize");
        Ok(Some((table, json, n)))
    }
}

/// The refusal of a restore into a store that holds data.
pub(crate) fn not_empty(table: &str) -> StoreError {
    StoreError::Refused(format!(
        "the target store is not empty ({table} has rows); restore into a new database, or pass --force to replace everything it holds"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_group_consecutive_rows_of_a_table() {
        let text = [
            r#"{"table":"rollout_flags","row":{"key":"a"}}"#,
            r#"{"table":"rollout_flags","row":{"key":"b"}}"#,
            r#"{"table":"rollout_state","row":{"rollout":"r"}}"#,
        ];
        let mut lines = text.iter().map(|l| Ok(l.to_string()));
        let mut b = super::Batches::new(&mut lines, &super::PG_TABLES);
        let (t, json, n) = b.next_batch().unwrap().unwrap();
        assert_eq!((t.as_str(), n), ("rollout_flags", 2));
        assert_eq!(json, r#"[{"key":"a"},{"key":"b"}]"#);
        let (t, _, n) = b.next_batch().unwrap().unwrap();
        assert_eq!((t.as_str(), n), ("rollout_state", 1));
        assert!(b.next_batch().unwrap().is_none());
    }

    #[test]
    fn foreign_tables_and_bad_lines_are_refused() {
        let text = [r#"{"table":"pg_authid","row":{}}"#];
        let mut lines = text.iter().map(|l| Ok(l.to_string()));
        let e = super::Batches::new(&mut lines, &super::PG_TABLES)
            .next_batch()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: pg_authid is not one of rollout's tables"),
            "{e}"
        );
        let text = ["{not json"];
        let mut lines = text.iter().map(|l| Ok(l.to_string()));
        let e = super::Batches::new(&mut lines, &super::PG_TABLES)
            .next_batch()
            .unwrap_err();
        assert!(e.to_string().contains("line 2: not a row"), "{e}");
    }
}
