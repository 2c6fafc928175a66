//! Validation of `guardrails`, `safety_checks` and `notify`.

use std::collections::HashSet;

use serde_yaml::Value;

use super::Checker;
use crate::config::domain::StageDuration;
use crate::config::guardrails::{
    Bound, Guardrail, HttpCheck, MetricSource, RawGuardrail, RawSafetyCheck, Relative, SafetyCheck,
    SafetyCheckKind, SqlParam, SqlQuery, DEFAULT_GUARDRAIL_WINDOW,
};
use crate::config::names::fields_of;

impl Checker {
    /// `None` when any guardrail is invalid (the errors are recorded).
    pub(super) fn guardrails(&mut self, path: &str, values: &[Value]) -> Option<Vec<Guardrail>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut names = HashSet::new();
        for (i, v) in values.iter().enumerate() {
            let gpath = format!("{path}.guardrails[{i}]");
            let relative = ("relative_to_control", fields_of::<Relative>());
            let Some(raw) = self.read::<RawGuardrail>(&gpath, v.clone(), &[relative]) else {
                ok = false;
                continue;
            };
            if !names.insert(raw.name.clone()) {
                self.error(
                    &format!("{gpath}.name"),
                    format!("guardrail name {:?} is used twice", raw.name),
                );
                ok = false;
            }
            match self.guardrail(&gpath, raw) {
                Some(g) => out.push(g),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn guardrail(&mut self, path: &str, raw: RawGuardrail) -> Option<Guardrail> {
        let before = self.out.len();
        self.name(&format!("{path}.name"), &raw.name, "guardrail");
        let source = match (raw.metric, raw.sql) {
            (Some(metric), None) => {
                if !raw.params.is_empty() {
                    self.error(
                        &format!("{path}.params"),
                        "`params` belongs to an `sql` guardrail",
                    );
                }
                Some(MetricSource::Observations {
                    metric,
                    aggregate: raw.aggregate.unwrap_or_default(),
                })
            }
            (None, Some(query)) => {
                if raw.aggregate.is_some() {
                    self.error(
                        &format!("{path}.aggregate"),
                        "`aggregate` belongs to a `metric` guardrail; an `sql` query returns the value itself",
                    );
                }
                self.query(&format!("{path}.sql"), &query, &raw.params);
                Some(MetricSource::Sql(SqlQuery {
                    query,
                    params: raw.params,
                }))
            }
            (Some(_), Some(_)) => {
                self.error(path, "a guardrail reads either `metric` or `sql`, not both");
                None
            }
            (None, None) => {
                self.error(
                    path,
                    "a guardrail needs a source: `metric` (an observation metric) or `sql` (a query)",
                );
                None
            }
        };
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !finite(raw.max) || !finite(raw.min) {
            self.error(path, "`max` and `min` must be finite numbers");
        }
        if let (Some(min), Some(max)) = (raw.min, raw.max) {
            if min > max {
                self.error(
                    &format!("{path}.min"),
                    format!("min {min} is greater than max {max}"),
                );
            }
        }
        let bound = match (
            raw.max.is_some() || raw.min.is_some(),
            raw.relative_to_control,
        ) {
            (true, None) => Some(Bound::Absolute {
                min: raw.min,
                max: raw.max,
            }),
            (false, Some(rel)) => {
                if !(rel.max_degradation >= 0.0 && rel.max_degradation.is_finite()) {
                    self.error(
                        &format!("{path}.relative_to_control.max_degradation"),
                        format!(
                            "max_degradation must be a non-negative fraction (0.2 = 20 % worse), got {}",
                            rel.max_degradation
                        ),
                    );
                }
                Some(Bound::Relative(rel))
            }
            (true, Some(_)) => {
                self.error(
                    path,
                    "use either `max`/`min` or `relative_to_control` in one guardrail; write two guardrails for both",
                );
                None
            }
            (false, None) => {
                self.error(
                    path,
                    "a guardrail needs a bound: `max`, `min` or `relative_to_control`",
                );
                None
            }
        };
        if raw.consecutive == 0 {
            self.error(
                &format!("{path}.consecutive"),
                "consecutive must be at least 1",
            );
        }
        if self.has_errors_since(before) {
            return None;
        }
        Some(Guardrail {
            name: raw.name,
            source: source?,
            bound: bound?,
            window: raw.window.unwrap_or_else(|| {
                StageDuration::parse(DEFAULT_GUARDRAIL_WINDOW).expect("a valid default")
            }),
            min_samples: raw.min_samples,
            consecutive: raw.consecutive,
            severity: raw.severity,
        })
    }

    pub(super) fn safety_checks(
        &mut self,
        path: &str,
        values: &[Value],
    ) -> Option<Vec<SafetyCheck>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut names = HashSet::new();
        for (i, v) in values.iter().enumerate() {
            let cpath = format!("{path}.safety_checks[{i}]");
            let before = self.out.len();
            let http = ("http", fields_of::<HttpCheck>());
            let Some(raw) = self.read::<RawSafetyCheck>(&cpath, v.clone(), &[http]) else {
                ok = false;
                continue;
            };
            self.name(&format!("{cpath}.name"), &raw.name, "safety check");
            if !names.insert(raw.name.clone()) {
                self.error(
                    &format!("{cpath}.name"),
                    format!("safety check name {:?} is used twice", raw.name),
                );
            }
            if raw.command.is_some() {
                self.error(
                    &format!("{cpath}.command"),
                    "`command` checks are not allowed: the configuration never runs a shell; use `sql` or `http`",
                );
            }
            let kind = match (raw.sql, raw.http) {
                (Some(query), None) => {
                    self.query(&format!("{cpath}.sql"), &query, &raw.params);
                    Some(SafetyCheckKind::Sql(SqlQuery {
                        query,
                        params: raw.params,
                    }))
                }
                (None, Some(http)) => {
                    if !(http.url.starts_with("http://") || http.url.starts_with("https://")) {
                        self.error(
                            &format!("{cpath}.http.url"),
                            format!(
                                "url must start with http:// or https://, got {:?}",
                                http.url
                            ),
                        );
                    }
                    if http.budget_ms == 0 {
                        self.error(
                            &format!("{cpath}.http.budget_ms"),
                            "budget_ms must be positive",
                        );
                    }
                    Some(SafetyCheckKind::Http(http))
                }
                (Some(_), Some(_)) => {
                    self.error(&cpath, "a safety check is either `sql` or `http`, not both");
                    None
                }
                (None, None) if raw.command.is_some() => None,
                (None, None) => {
                    self.error(&cpath, "a safety check needs `sql` or `http`");
                    None
                }
            };
            match kind {
                Some(kind) if !self.has_errors_since(before) => out.push(SafetyCheck {
                    name: raw.name,
                    kind,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn notify(&mut self, path: &str, urls: &[String]) {
        for (i, url) in urls.iter().enumerate() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.error(
                    &format!("{path}.notify[{i}]"),
                    format!("a webhook URL must start with http:// or https://, got {url:?}"),
                );
            }
        }
    }

    fn name(&mut self, path: &str, name: &str, what: &str) {
        if name.trim().is_empty() || name.len() > 64 {
            self.error(path, format!("a {what} name is 1-64 characters"));
        }
    }

    /// A configured query: not empty, and its `$N` placeholders match `params`.
    fn query(&mut self, path: &str, query: &str, params: &[SqlParam]) {
        if query.trim().is_empty() {
            self.error(path, "the query is empty");
            return;
        }
        let highest = placeholders(query);
        if highest != params.len() {
            self.error(
                path,
                format!(
                    "the query uses {highest} parameter(s) ($1..${highest}) but `params` lists {}; list one of rollout, window_start, now per placeholder",
                    params.len()
                ),
            );
        }
    }
}

/// The highest `$N` in a query (0 when there is none). What sits inside a string literal
/// (`'...'`, `E'...'`, a dollar-quoted `$tag$...$tag$`), a quoted identifier (`"..."`) or a
/// comment (`-- ...`, `/* ... */`, nested as PostgreSQL allows) is not a parameter.
fn placeholders(query: &str) -> usize {
    let b = query.as_bytes();
    let mut highest = 0;
    let mut i = 0;
    // The end of what starts at `i` and ends at `close` (an unterminated one runs to the end).
    let skip_to = |from: usize, close: &[u8]| -> usize {
        b[from..]
            .windows(close.len())
            .position(|w| w == close)
            .map_or(b.len(), |p| from + p + close.len())
    };
    while i < b.len() {
        match b[i] {
            // '' inside a literal is an escaped quote: two literals back to back, same skip.
            b'\'' => i = skip_to(i + 1, b"'"),
            b'"' => i = skip_to(i + 1, b"\""),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_to(i + 2, b"\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    if b[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if b[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    if let Ok(n) = query[i + 1..i + 1 + digits].parse::<usize>() {
                        highest = highest.max(n);
                    }
                    i += 1 + digits;
                    continue;
                }
                // A dollar quote: `$$` or `$tag$`, a tag being an identifier.
                let tag_len = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if b.get(i + 1 + tag_len) == Some(&b'$') {
                    let tag = &b[i..i + 2 + tag_len];
                    i = skip_to(i + tag.len(), tag);
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn counts_the_highest_placeholder() {
        assert_eq!(placeholders("SELECT 1"), 0);
        assert_eq!(placeholders("SELECT $2 > $1"), 2);
        assert_eq!(placeholders("SELECT '$' || $1"), 1);
        assert_eq!(placeholders("SELECT $10"), 10);
    }

    #[test]
    fn a_dollar_inside_a_literal_or_a_comment_is_not_a_parameter() {
        assert_eq!(placeholders("SELECT '$2' || $1"), 1);
        assert_eq!(placeholders("SELECT 'it''s $3' || $1"), 1);
        assert_eq!(placeholders("SELECT \"col$4\" FROM t WHERE x = $1"), 1);
        assert_eq!(placeholders("SELECT $1 -- was $5\n"), 1);
        assert_eq!(placeholders("SELECT /* $6 /* $7 */ $8 */ $1"), 1);
        assert_eq!(placeholders("SELECT $$ costs $9 $$, $tag$ $9 $tag$, $2"), 2);
        assert_eq!(placeholders("SELECT 'unterminated $3"), 0);
        assert_eq!(placeholders("SELECT price$ FROM t"), 0);
    }
}
