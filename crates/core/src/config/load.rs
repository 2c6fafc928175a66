//! Reading `rollout.yaml`: YAML syntax, field types and cross-field rules, reported all at once.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::diagnostic::{ConfigErrors, Diagnostic, Severity};
use super::domain::{FlagKey, FlagPrefix, FlagValue, Percentage};
use super::flag_names::{OVERRIDABLE_ON_ROLLBACK, STANDARD_SUFFIXES};
use super::model::{
    AbAnalysis, Config, Flags, Rollout, Sequential, Stage, StageKind, DEFAULT_DATABASE,
    DEFAULT_TICK,
};
use super::raw::{RawAbTest, RawCanary, RawFull, RawRollout, RawShadow, RawTop, STAGE_KINDS};
use super::spans::{Location, Spans};

mod guardrails;

/// A configuration that passed validation, with the warnings it produced.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates a configuration file.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(src) => parse(&name, &src),
        Err(e) => Err(ConfigErrors(vec![Diagnostic {
            severity: Severity::Error,
            file: name,
            location: Location { line: 1, col: 1 },
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        }])),
    }
}

/// Parses and validates configuration text; `file` names it in messages.
pub fn parse(file: &str, src: &str) -> Result<Loaded, ConfigErrors> {
    let mut ck = Checker {
        file: file.to_owned(),
        spans: Spans::index(src),
        out: Vec::new(),
    };
    let value: Value = match serde_yaml::from_str(src) {
        Ok(v) => v,
        Err(e) => {
            let location = e
                .location()
                .map(|l| Location {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or(Location { line: 1, col: 1 });
            let message = strip_location(&e.to_string());
            ck.out.push(Diagnostic {
                severity: Severity::Error,
                file: file.to_owned(),
                location,
                path: String::new(),
                message: format!("invalid YAML: {message}"),
            });
            return Err(ConfigErrors(ck.out));
        }
    };
    let config = ck.config(value);
    ck.out.sort_by_key(|d| (d.location.line, d.location.col));
    let errors: Vec<_> = ck
        .out
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    match config {
        Some(config) if errors.is_empty() => Ok(Loaded {
            config,
            warnings: ck.out,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

/// serde_yaml appends " at line L column C"; the location is printed in front instead.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

struct Checker {
    file: String,
    spans: Spans,
    out: Vec<Diagnostic>,
}

impl Checker {
    fn push(&mut self, severity: Severity, path: &str, message: impl Into<String>) {
        self.out.push(Diagnostic {
            severity,
            file: self.file.clone(),
            location: self.spans.locate(path),
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, path, message);
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, path, message);
    }

    /// Deserializes `value` (found at `path`) into `T`, recording the error with its field path.
    fn typed<T: DeserializeOwned>(&mut self, path: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.path().to_string();
                let full = match (path.is_empty(), inner.as_str()) {
                    (_, ".") => path.to_owned(),
                    (true, _) => inner,
                    (false, p) if p.starts_with('[') => format!("{path}{p}"),
                    (false, p) => format!("{path}.{p}"),
                };
                self.error(&full, strip_location(&e.into_inner().to_string()));
                None
            }
        }
    }

    fn config(&mut self, value: Value) -> Option<Config> {
        let value = if value.is_null() {
            Value::Mapping(Default::default())
        } else {
            value
        };
        let rollouts_value = value.get("rollouts").cloned();
        let top: Option<RawTop> = self.typed("", value);
        let rollout_values = match (&top, rollouts_value) {
            (Some(t), _) => t.rollouts.clone(),
            // The top level is broken, but the rollouts can still be checked.
            (None, Some(Value::Sequence(seq))) => seq,
            (None, _) => Vec::new(),
        };

        let mut rollouts = Vec::new();
        for (i, v) in rollout_values.into_iter().enumerate() {
            if let Some(r) = self.rollout(&format!("rollouts[{i}]"), v) {
                rollouts.push(r);
            }
        }
        self.across_rollouts(&rollouts);

        let top = top?;
        let database = top.database.unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            self.error(
                "database",
                format!("database must be a sqlite:// or postgres:// URL, got {database:?}"),
            );
        }
        let tick = top.tick.unwrap_or_else(|| DEFAULT_TICK.to_owned());
        if let Err(e) = check_cron(&tick) {
            self.error("tick", e);
        }
        let listen = match top.listen.as_deref().map(str::parse::<SocketAddr>) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => {
                self.error("listen", "listen must be an address like 127.0.0.1:8080");
                None
            }
        };
        if rollouts.is_empty() && !self.out.iter().any(|d| d.severity == Severity::Error) {
            self.warn(
                "rollouts",
                "no rollouts are configured; the daemon will have nothing to do",
            );
        }
        Some(Config {
            database,
            tick,
            listen,
            rollouts,
        })
    }

    fn rollout(&mut self, path: &str, value: Value) -> Option<Rollout> {
        let stage_values = value.get("stages").cloned();
        let raw: Option<RawRollout> = self.typed(path, value);
        let stage_values = match (&raw, stage_values) {
            (Some(r), _) => r.stages.clone(),
            (None, Some(Value::Sequence(seq))) => seq,
            (None, _) => Vec::new(),
        };
        let count = stage_values.len();
        let mut parsed = Vec::new();
        for (i, v) in stage_values.into_iter().enumerate() {
            if let Some(s) = self.stage(&format!("{path}.stages[{i}]"), v) {
                parsed.push((i, s));
            }
        }
        self.stage_order(path, &parsed, count);
        let raw = raw?;
        // Checked even when a stage is broken, so that every error is reported at once.
        let guardrails = self.guardrails(path, &raw.guardrails);
        let safety_checks = self.safety_checks(path, &raw.safety_checks);
        self.notify(path, &raw.notify);
        if parsed.len() != count {
            return None;
        }
        let stages = parsed.into_iter().map(|(_, s)| s).collect();
        let mut analysis_ok = true;
        let analysis = match raw.analysis {
            None => None,
            Some(a) => match super::analysis::validate(a) {
                Ok(a) => Some(a),
                Err(errors) => {
                    for (p, message) in errors {
                        self.error(&format!("{path}.analysis.{p}"), message);
                    }
                    analysis_ok = false;
                    None
                }
            },
        };
        let rollout = Rollout {
            name: raw.name,
            flag_prefix: raw.flag_prefix,
            seed: raw.seed,
            stages,
            on_rollback: raw.on_rollback,
            guardrails: guardrails?,
            safety_checks: safety_checks?,
            max_silence: raw.max_silence,
            notify: raw.notify,
            analysis,
        };
        self.flag_keys(path, &rollout);
        analysis_ok.then_some(rollout)
    }

    fn stage(&mut self, path: &str, value: Value) -> Option<Stage> {
        let (kind, inner) = match value {
            Value::String(s) if s == "full" => ("full".to_owned(), Value::Null),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, v) = m.into_iter().next()?;
                match k {
                    Value::String(k) => (k, v),
                    _ => {
                        self.error(path, "a stage is written as `- KIND: {...}`");
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    path,
                    format!(
                        "a stage is a mapping with exactly one key, one of {}",
                        STAGE_KINDS.join(", ")
                    ),
                );
                return None;
            }
        };
        let inner_path = format!("{path}.{kind}");
        let inner = if inner.is_null() {
            Value::Mapping(Default::default())
        } else {
            inner
        };
        let stage = match kind.as_str() {
            "shadow" => {
                let s: RawShadow = self.typed(&inner_path, inner)?;
                if s.duration.get().as_secs() < 86_400 {
                    self.warn(
                        &format!("{inner_path}.duration"),
                        format!("shadow stage of {} is shorter than a day", s.duration),
                    );
                }
                Stage {
                    kind: StageKind::Shadow {
                        duration: s.duration,
                    },
                    flags: s.flags,
                }
            }
            "ab_test" => {
                let s: RawAbTest = self.typed(&inner_path, inner)?;
                let analysis = self.ab_analysis(&inner_path, &s)?;
                Stage {
                    kind: StageKind::AbTest {
                        percentage: s.percentage,
                        duration: s.duration,
                        on_inconclusive: s.on_inconclusive,
                        analysis,
                    },
                    flags: s.flags,
                }
            }
            "canary" => {
                let s: RawCanary = self.typed(&inner_path, inner)?;
                Stage {
                    kind: StageKind::Canary {
                        percentage: s.percentage,
                        duration: s.duration,
                    },
                    flags: s.flags,
                }
            }
            "full" => {
                let s: RawFull = self.typed(&inner_path, inner)?;
                Stage {
                    kind: StageKind::Full,
                    flags: s.flags,
                }
            }
            other => {
                self.error(
                    path,
                    format!(
                        "unknown stage kind `{other}`, expected one of {}",
                        STAGE_KINDS.join(", ")
                    ),
                );
                return None;
            }
        };
        Some(stage)
    }

    fn ab_analysis(&mut self, path: &str, s: &RawAbTest) -> Option<AbAnalysis> {
        let before = self.out.len();
        if !(s.alpha > 0.0 && s.alpha < 0.5) {
            self.error(
                &format!("{path}.alpha"),
                format!("alpha must be in (0, 0.5), got {}", s.alpha),
            );
        }
        if !(s.min_effect > 0.0 && s.min_effect.is_finite()) {
            self.error(
                &format!("{path}.min_effect"),
                format!("min_effect must be positive, got {}", s.min_effect),
            );
        }
        if s.min_samples < 2 {
            self.error(
                &format!("{path}.min_samples"),
                "min_samples must be at least 2 per arm",
            );
        }
        if let Some(u) = s.expected_units_per_day {
            if !(u > 0.0 && u.is_finite()) {
                self.error(
                    &format!("{path}.expected_units_per_day"),
                    format!("expected_units_per_day must be positive, got {u}"),
                );
            }
        }
        let mut seen = HashSet::new();
        for (i, m) in s.metrics.iter().enumerate() {
            let mpath = format!("{path}.metrics[{i}].name");
            if m.name.trim().is_empty() || m.name.len() > 64 {
                self.error(&mpath, "a metric name is 1-64 characters");
            }
            if !seen.insert((m.name.clone(), m.test)) {
                self.error(
                    &mpath,
                    format!(
                        "metric {} with test {} is listed twice",
                        m.name,
                        m.test.as_str()
                    ),
                );
            }
        }
        if s.metrics.is_empty() {
            self.warn(path, "no metrics: the A/B stage ends on its duration alone, without a statistical verdict");
        }
        if self.out[before..]
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            return None;
        }
        Some(AbAnalysis {
            alpha: s.alpha,
            min_effect: s.min_effect,
            min_samples: s.min_samples,
            sequential: if s.sequential {
                Sequential::AlwaysValid
            } else {
                Sequential::FixedHorizon
            },
            expected_units_per_day: s.expected_units_per_day,
            metrics: s.metrics.clone(),
        })
    }

    /// Order rules over the stages that parsed (`(index, stage)`), out of `count` written.
    fn stage_order(&mut self, path: &str, stages: &[(usize, Stage)], count: usize) {
        let stages_path = format!("{path}.stages");
        if count == 0 {
            self.error(
                &stages_path,
                "a rollout needs at least one stage, and the last one is `full`",
            );
            return;
        }
        let last = count - 1;
        for (i, s) in stages {
            if s.kind == StageKind::Full && *i != last {
                self.error(
                    &format!("{stages_path}[{i}]"),
                    "`full` can only be the last stage",
                );
            }
        }
        if let Some((i, s)) = stages.last() {
            if *i == last && s.kind != StageKind::Full {
                self.error(
                    &format!("{stages_path}[{last}]"),
                    "the last stage must be `full`",
                );
            }
        }
        let mut previous: Option<Percentage> = None;
        for (i, s) in stages {
            if let StageKind::Canary { percentage, .. } = s.kind {
                if let Some(p) = previous {
                    if percentage <= p {
                        self.error(
                            &format!("{stages_path}[{i}].canary.percentage"),
                            format!("canary percentages must increase strictly: {percentage} follows {p}"),
                        );
                    }
                }
                previous = Some(percentage);
            }
        }
    }

    fn flag_keys(&mut self, path: &str, r: &Rollout) {
        let prefix = &r.flag_prefix;
        let standard: HashSet<String> = STANDARD_SUFFIXES.iter().map(|s| prefix.key(s)).collect();
        for (i, s) in r.stages.iter().enumerate() {
            let fpath = format!("{path}.stages[{i}].{}.flags", s.kind.name());
            for key in s.flags.keys() {
                self.own_key(&fpath, prefix, key);
                if standard.contains(key.as_str()) {
                    self.error(
                        &format!("{fpath}.{key}"),
                        format!(
                            "{key} is written by the stage itself and cannot be set in `flags`"
                        ),
                    );
                }
            }
        }
        let rpath = format!("{path}.on_rollback");
        for (key, value) in &r.on_rollback {
            self.own_key(&rpath, prefix, key);
            let overridable: Vec<String> = OVERRIDABLE_ON_ROLLBACK
                .iter()
                .map(|s| prefix.key(s))
                .collect();
            if standard.contains(key.as_str()) && !overridable.iter().any(|k| k == key.as_str()) {
                self.error(
                    &format!("{rpath}.{key}"),
                    format!(
                        "{key} cannot be overridden on rollback (only {} can)",
                        overridable.join(", ")
                    ),
                );
            }
            if overridable.iter().any(|k| k == key.as_str())
                && !matches!(value.0.as_str(), "true" | "false")
            {
                self.error(
                    &format!("{rpath}.{key}"),
                    format!("{key} must be \"true\" or \"false\""),
                );
            }
        }
    }

    fn own_key(&mut self, path: &str, prefix: &FlagPrefix, key: &FlagKey) {
        if !key.as_str().starts_with(prefix.as_str()) || key.as_str() == prefix.as_str() {
            self.error(
                &format!("{path}.{key}"),
                format!("flag {key} must start with this rollout's flag_prefix {prefix}"),
            );
        }
    }

    fn across_rollouts(&mut self, rollouts: &[Rollout]) {
        let mut names = BTreeMap::new();
        for (i, r) in rollouts.iter().enumerate() {
            if let Some(first) = names.insert(r.name.clone(), i) {
                self.error(
                    &format!("rollouts[{i}].name"),
                    format!(
                        "rollout name {} is already used by rollouts[{first}]",
                        r.name
                    ),
                );
            }
        }
        for (i, a) in rollouts.iter().enumerate() {
            for (j, b) in rollouts.iter().enumerate().take(i) {
                let (pa, pb) = (a.flag_prefix.as_str(), b.flag_prefix.as_str());
                if pa.starts_with(pb) || pb.starts_with(pa) {
                    self.error(
                        &format!("rollouts[{i}].flag_prefix"),
                        format!("flag_prefix {pa} overlaps rollouts[{j}]'s {pb}; their flags would collide"),
                    );
                }
            }
        }
    }
}

fn check_cron(expr: &str) -> Result<(), String> {
    super::cron::parses(expr).then_some(()).ok_or_else(|| {
        format!("invalid cron expression {expr:?}: six fields are expected, seconds first (e.g. \"*/10 * * * * *\")")
    })
}

/// Flags as the store keeps them: plain strings.
pub fn flag_strings(flags: &Flags) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|(k, FlagValue(v))| (k.as_str().to_owned(), v.clone()))
        .collect()
}
