//! Observation rows in PostgreSQL's `COPY` text format: tab-separated columns in the order
//! of `observation_staging`, `\N` for NULL, and backslash, tab, newline and carriage return
//! escaped in text (units, metrics and event ids come from the user).

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use rollout_core::experiment::Observation;

/// Batches at least this large take the bulk path where the backend has one.
pub(crate) const BULK_MIN: usize = 500;

pub(crate) fn render(rollout: &str, rows: &[&Observation], now: DateTime<Utc>) -> Vec<u8> {
    let mut out = String::with_capacity(rows.len() * 120);
    let ingested = time(now);
    for o in rows {
        text(&mut out, rollout);
        out.push('\t');
        out.push_str(o.variant.as_str());
        out.push('\t');
        text(&mut out, &o.unit);
        out.push('\t');
        text(&mut out, &o.metric);
        out.push('\t');
        // Shortest round-trip form: the stored double is the one given.
        let _ = write!(out, "{:e}", o.value);
        out.push('\t');
        out.push_str(&time(o.observed_at));
        out.push('\t');
        match &o.event_id {
            Some(id) => text(&mut out, id),
            None => out.push_str("\\N"),
        }
        out.push('\t');
        out.push_str(&ingested);
        out.push('\t');
        match o.entry {
            Some(e) => {
                let _ = write!(out, "{}\t{}", e.stage, time(e.entered_at));
            }
            None => out.push_str("\\N\t\\N"),
        }
        out.push('\n');
    }
    out.into_bytes()
}

fn time(t: DateTime<Utc>) -> String {
    // Microseconds, truncated: what sqlx binds, and what PostgreSQL keeps (it would round).
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_core::assignment::Variant;

    #[test]
    fn escapes_what_copy_would_misread() {
        let at: DateTime<Utc> = "2026-11-30T01:02:03.5000009Z".parse().unwrap();
        let o = Observation {
            unit: "a\tb\\c\nd\re".into(),
            variant: Variant::Treatment,
            metric: "m".into(),
            value: -1.5e-300,
            observed_at: at,
            event_id: None,
            entry: None,
        };
        let text = String::from_utf8(render("r", &[&o], at)).unwrap();
        assert_eq!(
            text,
            "r\ttreatment\ta\\tb\\\\c\\nd\\re\tm\t-1.5e-300\t2026-11-30T01:02:03.500000Z\t\\N\t2026-11-30T01:02:03.500000Z\t\\N\t\\N\n"
        );
    }
}
