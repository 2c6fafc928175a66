//! Reading `rollout.yaml`: YAML syntax, field types and cross-field rules, reported all at once.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::analysis::{AnalysisConfig, RawAnalysis};
use super::diagnostic::{ConfigErrors, Diagnostic, Severity};
use super::domain::{FlagKey, FlagPrefix, FlagValue, Percentage, RolloutName, StageDuration};
use super::flag_names::{OVERRIDABLE_ON_ROLLBACK, STANDARD_SUFFIXES};
use super::model::{
    AbAnalysis, Config, Flags, MetricRole, MetricSpec, OnInconclusive, Rollout, Sequential, Stage,
    StageKind, TestKind, DEFAULT_DATABASE, DEFAULT_MIN_EVENTS, DEFAULT_TICK,
};
use super::names::{self, nearest};
use super::raw::{
    RawAbTest, RawCanary, RawFull, RawShadow, ROLLOUT_FIELDS, STAGE_KINDS, TOP_FIELDS,
};
use super::shadow::{ShadowRequire, ShadowSettings};
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
        suggested: HashSet::new(),
    };
    if let Err(message) = bounded(src) {
        ck.out.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            location: Location { line: 1, col: 1 },
            path: String::new(),
            message,
        });
        return Err(ConfigErrors(ck.out));
    }
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
    ck.no_nul("", &value);
    let config = ck.config(value);
    ck.out.sort_by_key(|d| (d.location.line, d.location.col));
    ck.out.dedup();
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

/// The largest configuration file accepted.
pub const MAX_BYTES: usize = 1 << 20;
/// The deepest nesting accepted: flow collections (`[`, `{`) inside one another, and block
/// indentation in columns. rollout.yaml needs about 6 levels; parsing time grows with the
/// square of the depth, so a hostile file could stall a daemon's reload.
const MAX_FLOW_DEPTH: usize = 32;
const MAX_INDENT: usize = 128;

/// Refuses text too large or too deeply nested to parse safely, before parsing it.
fn bounded(src: &str) -> Result<(), String> {
    if src.len() > MAX_BYTES {
        return Err(format!(
            "the file is {} bytes; a configuration is at most {MAX_BYTES} bytes (1 MiB)",
            src.len()
        ));
    }
    let (mut depth, mut quote) = (0usize, None::<char>);
    for (n, line) in src.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > MAX_INDENT {
            return Err(format!(
                "line {} is indented {indent} columns; nesting deeper than {MAX_INDENT} columns is refused",
                n + 1
            ));
        }
        let mut prev = ' ';
        for c in line.chars() {
            match (quote, c) {
                (None, '#') if prev == ' ' || prev == '\t' => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q && prev != '\\' => quote = None,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(format!(
                            "line {}: collections nested more than {MAX_FLOW_DEPTH} deep are refused",
                            n + 1
                        ));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
        // A single-quoted scalar may span lines; a double-quoted one too. Neither changes
        // the depth, so an unclosed quote only makes the count conservative.
    }
    Ok(())
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
    /// The paths of the fields suggested for unknown keys: such a field is not also reported
    /// as missing (`flag_prefx` is one mistake).
    suggested: HashSet<String>,
}

/// What was read of one rollout: its name and prefix (for the checks across rollouts, even
/// when something else in it is wrong) and the rollout itself when all of it is valid.
#[derive(Default)]
struct RolloutParts {
    name: Option<RolloutName>,
    prefix: Option<FlagPrefix>,
    rollout: Option<Rollout>,
}

/// `parent.key`, or `key` at the top.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `path` followed by a path serde_path_to_error found below it (`.` is `path` itself).
fn below(path: &str, inner: &str) -> String {
    match (path.is_empty(), inner) {
        (_, ".") => path.to_owned(),
        (true, _) => inner.to_owned(),
        (false, p) if p.starts_with('[') => format!("{path}{p}"),
        (false, p) => format!("{path}.{p}"),
    }
}

/// What a YAML value is, in words.
fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The message for a key that `fields` does not have.
fn unknown_field(key: &str, fields: &[&str]) -> String {
    match nearest(key, fields) {
        Some(n) => format!("unknown field `{key}`; did you mean `{n}`?"),
        None if fields.is_empty() => format!("unknown field `{key}`: no fields are expected here"),
        None => format!(
            "unknown field `{key}`, expected one of {}",
            fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The message for a stage kind that does not exist.
fn unknown_kind(kind: &str) -> String {
    match nearest(kind, STAGE_KINDS) {
        Some(n) => format!("unknown stage kind `{kind}`; did you mean `{n}`?"),
        None => format!(
            "unknown stage kind `{kind}`, expected one of {}",
            STAGE_KINDS.join(", ")
        ),
    }
}

/// How a stage of `kind` is written.
fn stage_example(kind: &str) -> &'static str {
    match kind {
        "shadow" => "- shadow: { duration: 7d }",
        "ab_test" => "- ab_test: { percentage: 10, duration: 2w }",
        "canary" => "- canary: { percentage: 5, duration: 24h }",
        _ => "- full: {}",
    }
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

    /// Every string (keys included) that holds a NUL character: PostgreSQL text cannot
    /// store one, so a flag value or a name with it would fail every write of its rollout.
    fn no_nul(&mut self, path: &str, v: &Value) {
        match v {
            Value::String(s) if s.contains('\0') => self.error(
                path,
                "contains a NUL character (\\0), which the store cannot hold",
            ),
            Value::Sequence(items) => {
                for (i, x) in items.iter().enumerate() {
                    self.no_nul(&format!("{path}[{i}]"), x);
                }
            }
            Value::Mapping(m) => {
                for (k, x) in m {
                    let key = k.as_str().unwrap_or("?");
                    let p = join(path, key);
                    if key.contains('\0') {
                        self.error(&p, "the key contains a NUL character (\\0)");
                    }
                    self.no_nul(&p, x);
                }
            }
            Value::Tagged(t) => self.no_nul(path, &t.value),
            _ => {}
        }
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
                let full = below(path, &e.path().to_string());
                self.error(&full, strip_location(&e.into_inner().to_string()));
                None
            }
        }
    }

    /// `value` as a mapping with only the keys in `fields`: any other key is reported, with
    /// the nearest known name, and left out so that the rest is still checked. Nothing
    /// (`key:` without a value) is an empty mapping; anything else is reported (`None`).
    fn mapping(&mut self, path: &str, value: Value, fields: &[&str]) -> Option<Mapping> {
        let map = match value {
            Value::Null => return Some(Mapping::new()),
            Value::Mapping(m) => m,
            other => {
                self.error(
                    path,
                    format!(
                        "expected a mapping (`key: value` lines), got {}",
                        describe(&other)
                    ),
                );
                return None;
            }
        };
        let mut kept = Mapping::new();
        for (k, v) in map {
            match k.as_str() {
                Some(key) if fields.contains(&key) => {
                    kept.insert(k, v);
                }
                Some(key) => {
                    if let Some(n) = nearest(key, fields) {
                        self.suggested.insert(join(path, n));
                    }
                    self.error(&join(path, key), unknown_field(key, fields));
                }
                None => self.error(path, format!("a key must be text, got {}", describe(&k))),
            }
        }
        Some(kept)
    }

    /// The keys of the mapping at `map[key]`, or of each mapping in the list there, checked
    /// against `fields` as [`Checker::mapping`] does; unknown ones are removed.
    fn nested_keys(&mut self, path: &str, map: &mut Mapping, key: &str, fields: &[&str]) {
        let Some(v) = map.get_mut(key) else {
            return;
        };
        let path = join(path, key);
        match v {
            Value::Mapping(m) => {
                if let Some(kept) = self.mapping(&path, Value::Mapping(std::mem::take(m)), fields) {
                    *m = kept;
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let Value::Mapping(m) = item {
                        let p = format!("{path}[{i}]");
                        if let Some(kept) =
                            self.mapping(&p, Value::Mapping(std::mem::take(m)), fields)
                        {
                            *m = kept;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// One field of `map`, read on its own. `Some(None)`: absent (or written without a
    /// value); `None`: invalid, and reported.
    fn optional<T: DeserializeOwned>(
        &mut self,
        path: &str,
        map: &Mapping,
        key: &str,
    ) -> Option<Option<T>> {
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.typed(&join(path, key), v.clone()).map(Some),
        }
    }

    /// A field that must be there; `None` when it is missing or invalid (reported).
    fn required<T: DeserializeOwned>(&mut self, path: &str, map: &Mapping, key: &str) -> Option<T> {
        match map.get(key) {
            None => {
                self.missing(path, key);
                None
            }
            Some(Value::Null) => {
                self.error(&join(path, key), format!("`{key}` has no value"));
                None
            }
            Some(v) => self.typed(&join(path, key), v.clone()),
        }
    }

    /// Reports that `path` lacks `key`, unless an unknown key there was probably meant to be it.
    fn missing(&mut self, path: &str, key: &str) {
        if !self.suggested.contains(&join(path, key)) {
            self.error(path, format!("missing field `{key}`"));
        }
    }

    /// Records a serde error found at `path`; a missing field goes through [`Checker::missing`].
    fn serde_error(&mut self, path: &str, message: String) {
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'));
        match missing {
            Some(key) => self.missing(path, key),
            None => self.error(path, message),
        }
    }

    /// Reads a struct that serde derives: unknown keys are reported (with the nearest known
    /// name) and left out, and each field's error is reported on its own, so that one
    /// mistake does not hide the next. `nested` lists fields holding a mapping (or a list of
    /// mappings) whose keys are checked the same way.
    fn read<T: DeserializeOwned>(
        &mut self,
        path: &str,
        value: Value,
        nested: &[(&str, &[&str])],
    ) -> Option<T> {
        let mut map = self.mapping(path, value, names::fields_of::<T>())?;
        for (key, fields) in nested {
            self.nested_keys(path, &mut map, key, fields);
        }
        let whole =
            |m: &Mapping| serde_path_to_error::deserialize::<_, T>(Value::Mapping(m.clone()));
        if let Ok(v) = whole(&map) {
            return Some(v);
        }
        // Each field alone: an error below the field is that field's. (Alone, the struct
        // misses its other required fields, but serde reports those only after every field
        // present was read.)
        let mut bad = Vec::new();
        for (k, v) in &map {
            let Some(key) = k.as_str() else { continue };
            let mut alone = Mapping::new();
            alone.insert(k.clone(), v.clone());
            let Err(e) = whole(&alone) else { continue };
            let inner = e.path().to_string();
            let first = inner.split(['.', '[']).next().unwrap_or_default();
            if first == key {
                self.serde_error(
                    &below(path, &inner),
                    strip_location(&e.into_inner().to_string()),
                );
                bad.push(key.to_owned());
            }
        }
        // What is left is about the struct as a whole: a missing field, say.
        let mut rest = map.clone();
        for key in &bad {
            rest.remove(key.as_str());
        }
        if let Err(e) = whole(&rest) {
            let message = strip_location(&e.inner().to_string());
            let already = bad
                .iter()
                .any(|key| message == format!("missing field `{key}`"));
            if !already {
                let full = below(path, &e.path().to_string());
                self.serde_error(&full, message);
            }
        }
        None
    }

    fn config(&mut self, value: Value) -> Option<Config> {
        let map = self.mapping("", value, TOP_FIELDS)?;
        let database = self.optional::<String>("", &map, "database");
        let tick = self.optional::<String>("", &map, "tick");
        let listen = self.optional::<String>("", &map, "listen");
        let rollout_values = self.optional::<Vec<Value>>("", &map, "rollouts");

        let mut parts = Vec::new();
        for (i, v) in rollout_values
            .clone()
            .flatten()
            .into_iter()
            .flatten()
            .enumerate()
        {
            parts.push(self.rollout(&format!("rollouts[{i}]"), v));
        }
        self.across_rollouts(&parts);

        let database = database.map(|d| d.unwrap_or_else(|| DEFAULT_DATABASE.to_owned()));
        if let Some(database) = &database {
            if !(database.starts_with("sqlite:")
                || database.starts_with("postgres://")
                || database.starts_with("postgresql://"))
            {
                self.error(
                    "database",
                    format!("database must be a sqlite:// or postgres:// URL, got {database:?}"),
                );
            }
        }
        let tick = tick.map(|t| t.unwrap_or_else(|| DEFAULT_TICK.to_owned()));
        if let Some(tick) = &tick {
            match check_cron(tick) {
                Err(e) => self.error("tick", e),
                Ok(()) => match super::cron::firing(tick) {
                    Some(super::cron::Firing::Never) => self.error(
                        "tick",
                        format!("tick {tick:?} never fires: the daemon would never evaluate a rollout"),
                    ),
                    Some(super::cron::Firing::Rarely(gap)) => self.warn(
                        "tick",
                        format!(
                            "tick {tick:?} waits up to {} between evaluations: critical issues would be judged that late",
                            format_args!("{:.1} days", gap.as_secs_f64() / 86_400.0)
                        ),
                    ),
                    _ => {}
                },
            }
        }
        let listen = match listen {
            None => None,
            Some(None) => Some(None),
            Some(Some(text)) => match text.parse::<SocketAddr>() {
                Ok(a) => Some(Some(a)),
                Err(_) => {
                    self.error("listen", "listen must be an address like 127.0.0.1:8080");
                    None
                }
            },
        };
        if parts.is_empty() && !self.out.iter().any(|d| d.severity == Severity::Error) {
            self.warn(
                "rollouts",
                "no rollouts are configured; the daemon will have nothing to do",
            );
        }
        rollout_values?;
        let rollouts = parts
            .into_iter()
            .map(|p| p.rollout)
            .collect::<Option<Vec<_>>>()?;
        Some(Config {
            database: database?,
            tick: tick?,
            listen: listen?,
            rollouts,
        })
    }

    /// Reads one rollout field by field, so that every mistake in it is reported, and
    /// applies the rules within it to whatever parts are valid.
    fn rollout(&mut self, path: &str, value: Value) -> RolloutParts {
        let before = self.out.len();
        let Some(map) = self.mapping(path, value, ROLLOUT_FIELDS) else {
            return RolloutParts::default();
        };
        let name = self.required::<RolloutName>(path, &map, "name");
        let prefix = self.required::<FlagPrefix>(path, &map, "flag_prefix");
        let seed = self.seed(path, &map);
        let stage_values = self.required::<Vec<Value>>(path, &map, "stages");
        let on_rollback = self
            .optional::<Flags>(path, &map, "on_rollback")
            .map(Option::unwrap_or_default);
        let guardrail_values = self
            .optional::<Vec<Value>>(path, &map, "guardrails")
            .map(Option::unwrap_or_default);
        let check_values = self
            .optional::<Vec<Value>>(path, &map, "safety_checks")
            .map(Option::unwrap_or_default);
        let max_silence = self.optional::<StageDuration>(path, &map, "max_silence");
        let retention = self.optional::<StageDuration>(path, &map, "retention");
        let notify = self
            .optional::<Vec<String>>(path, &map, "notify")
            .map(Option::unwrap_or_default);
        let analysis_value = self.optional::<Value>(path, &map, "analysis");

        let mut stages = Vec::new();
        let count = stage_values.as_ref().map_or(0, Vec::len);
        for (i, v) in stage_values.clone().into_iter().flatten().enumerate() {
            if let Some(s) = self.stage(&format!("{path}.stages[{i}]"), v) {
                stages.push((i, s));
            }
        }
        if stage_values.is_some() {
            self.stage_order(path, &stages, count);
        }
        let guardrails = guardrail_values.and_then(|v| self.guardrails(path, &v));
        let safety_checks = check_values.and_then(|v| self.safety_checks(path, &v));
        if let Some(urls) = &notify {
            self.notify(path, urls);
        }
        let analysis = match analysis_value {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => self.analysis(&join(path, "analysis"), v).map(Some),
        };
        if let Some(prefix) = &prefix {
            self.flag_keys(path, prefix, &stages, on_rollback.as_ref());
        }
        if matches!(analysis, Some(None)) {
            self.shadow_needs_analysis(path, &stages);
        }

        let complete = stages.len() == count && !self.has_errors_since(before);
        let rollout = match (
            name.clone(),
            prefix.clone(),
            seed,
            on_rollback,
            guardrails,
            safety_checks,
            (max_silence, retention),
            notify,
            analysis,
        ) {
            (
                Some(name),
                Some(flag_prefix),
                Some(seed),
                Some(on_rollback),
                Some(guardrails),
                Some(safety_checks),
                (Some(max_silence), Some(retention)),
                Some(notify),
                Some(analysis),
            ) if complete => Some(Rollout {
                name,
                flag_prefix,
                seed,
                stages: stages.into_iter().map(|(_, s)| s).collect(),
                on_rollback,
                guardrails,
                safety_checks,
                max_silence,
                retention,
                notify,
                analysis,
            }),
            _ => None,
        };
        RolloutParts {
            name,
            prefix,
            rollout,
        }
    }

    /// `seed`, with a message in words rather than serde's `expected u64`.
    fn seed(&mut self, path: &str, map: &Mapping) -> Option<u64> {
        let value = self.required::<Value>(path, map, "seed")?;
        let seed = value.as_u64();
        if seed.is_none() {
            let shown = match &value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => format!("{s:?}"),
                other => describe(other).to_owned(),
            };
            self.error(
                &join(path, "seed"),
                format!("seed must be a whole number, 0 or more, got {shown}"),
            );
        }
        seed
    }

    fn analysis(&mut self, path: &str, value: Value) -> Option<AnalysisConfig> {
        let raw = self.read::<RawAnalysis>(path, value, &[])?;
        match super::analysis::validate(raw) {
            Ok(a) => Some(a),
            Err(errors) => {
                for (p, message) in errors {
                    self.error(&join(path, &p), message);
                }
                None
            }
        }
    }

    fn stage(&mut self, path: &str, value: Value) -> Option<Stage> {
        let (kind, inner) = match value {
            Value::String(s) if s == "full" => ("full".to_owned(), Value::Null),
            Value::String(s) if STAGE_KINDS.contains(&s.as_str()) => {
                self.error(
                    path,
                    format!("a `{s}` stage needs its settings: `{}`", stage_example(&s)),
                );
                return None;
            }
            Value::String(s) => {
                self.error(path, unknown_kind(&s));
                return None;
            }
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
            Value::Mapping(m) => {
                let keys: Vec<&str> = m.keys().filter_map(Value::as_str).collect();
                let shown: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                let message = match keys.iter().find(|k| STAGE_KINDS.contains(k)) {
                    Some(kind) => format!(
                        "a stage has exactly one key, its kind; found {}: indent the settings under `{kind}` (`{}`)",
                        shown.join(", "),
                        stage_example(kind)
                    ),
                    None => format!(
                        "a stage has exactly one key, its kind (one of {}); found {}",
                        STAGE_KINDS.join(", "),
                        shown.join(", ")
                    ),
                };
                self.error(path, message);
                return None;
            }
            _ => {
                self.error(
                    path,
                    format!(
                        "a stage is written as `- KIND: {{...}}`, KIND one of {}",
                        STAGE_KINDS.join(", ")
                    ),
                );
                return None;
            }
        };
        let inner_path = format!("{path}.{kind}");
        let stage = match kind.as_str() {
            "shadow" => {
                let require = names::fields_of::<ShadowRequire>();
                let s: RawShadow = self.read(&inner_path, inner, &[("require", require)])?;
                if s.duration.get().as_secs() < 86_400 {
                    self.warn(
                        &format!("{inner_path}.duration"),
                        format!("shadow stage of {} is shorter than a day", s.duration),
                    );
                }
                self.shadow_settings(&inner_path, &s)?;
                Stage {
                    kind: StageKind::Shadow {
                        duration: s.duration,
                        settings: ShadowSettings {
                            require: s.require,
                            top_k: s.top_k,
                        },
                    },
                    flags: s.flags,
                }
            }
            "ab_test" => {
                let metrics = names::fields_of::<MetricSpec>();
                let s: RawAbTest = self.read(&inner_path, inner, &[("metrics", metrics)])?;
                let analysis = self.ab_analysis(&inner_path, &s)?;
                let stage = Stage {
                    kind: StageKind::AbTest {
                        percentage: s.percentage,
                        duration: s.duration,
                        on_inconclusive: s.on_inconclusive,
                        analysis,
                    },
                    flags: s.flags,
                };
                self.warn_low_power(&inner_path, &stage.kind);
                stage
            }
            "canary" => {
                let s: RawCanary = self.read(&inner_path, inner, &[])?;
                Stage {
                    kind: StageKind::Canary {
                        percentage: s.percentage,
                        duration: s.duration,
                    },
                    flags: s.flags,
                }
            }
            "full" => {
                let s: RawFull = self.read(&inner_path, inner, &[])?;
                Stage {
                    kind: StageKind::Full,
                    flags: s.flags,
                }
            }
            other => {
                self.error(path, unknown_kind(other));
                return None;
            }
        };
        Some(stage)
    }

    /// The rules of a shadow stage's `top_k` and `require` beyond their types.
    fn shadow_settings(&mut self, path: &str, s: &RawShadow) -> Option<()> {
        let before = self.out.len();
        if s.top_k == Some(0) {
            self.error(&format!("{path}.top_k"), "top_k must be at least 1");
        }
        for kind in s.require.max_errors.keys() {
            if !super::shadow::error_kind_ok(kind) {
                self.error(
                    &format!("{path}.require.max_errors"),
                    format!("error kind {kind:?} must be 1-64 of a-z, 0-9, '_', '-', '.'"),
                );
            }
        }
        (!self.has_errors_since(before)).then_some(())
    }

    /// Shadow criteria that read the learning module's data need its `analysis:` block.
    fn shadow_needs_analysis(&mut self, path: &str, stages: &[(usize, Stage)]) {
        for (i, stage) in stages {
            let StageKind::Shadow { settings, .. } = &stage.kind else {
                continue;
            };
            for name in settings.require.learning_criteria() {
                self.error(
                    &format!("{path}.stages[{i}].shadow.require.{name}"),
                    format!("{name} reads the learning module's data: the rollout needs an `analysis:` block"),
                );
            }
        }
    }

    /// `on_inconclusive: hold` on a stage that cannot reach 50 % power at `min_effect` over
    /// its planned horizon mostly holds: say so.
    #[cfg(feature = "stats")]
    fn warn_low_power(&mut self, path: &str, kind: &StageKind) {
        let StageKind::AbTest {
            on_inconclusive: OnInconclusive::Hold,
            analysis,
            ..
        } = kind
        else {
            return;
        };
        // The power over the planned horizon, from the statistics alone (the plan module
        // says the same at length; configuration does not depend on it).
        let Some((t, c)) = kind.planned_units() else {
            return;
        };
        let horizon = match analysis.sequential {
            crate::config::Sequential::FixedHorizon => crate::stats::Horizon::FixedHorizon,
            _ => crate::stats::Horizon::GroupSequential {
                looks: analysis.looks.max(1),
            },
        };
        let Some(critical) = crate::stats::critical_z(horizon, analysis.alpha) else {
            return;
        };
        let Some(power) = crate::stats::power_fixed(analysis.min_effect, t, c, critical) else {
            return;
        };
        if power < 0.5 {
            // Days for 80 %: the units scale with the days, the drift with their square
            // root, and 80 % needs a drift of critical + z(0.8).
            let z80 = 0.841_621_233_572_914_3;
            let drift = analysis.min_effect / (1.0 / t + 1.0 / c).sqrt();
            let days_needed = kind
                .duration()
                .map(|d| ((critical + z80) / drift).powi(2) * d.get().as_secs_f64() / 86_400.0);
            self.warn(
                path,
                format!(
                    "with on_inconclusive: hold, this stage reaches {:.0} % power at min_effect {} over its planned units ({} design): \
                     most runs will hold at the end; {} days would give 80 %",
                    100.0 * power,
                    analysis.min_effect,
                    horizon.as_str(),
                    days_needed.map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                ),
            );
        }
    }

    #[cfg(not(feature = "stats"))]
    fn warn_low_power(&mut self, _path: &str, _kind: &StageKind) {}

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
        let days = (s.duration.get().as_secs_f64() / 86_400.0).floor() as u32;
        let looks = s.looks.unwrap_or(days.max(1));
        if !(1..=100).contains(&looks) {
            self.error(
                &format!("{path}.looks"),
                format!("looks must be in [1, 100], got {looks}"),
            );
        }
        let decide: Vec<usize> = s
            .metrics
            .iter()
            .enumerate()
            .filter(|(i, m)| m.role_at(*i) == MetricRole::Decide)
            .map(|(i, _)| i)
            .collect();
        if !s.metrics.is_empty() && decide.len() != 1 {
            self.error(
                &format!("{path}.metrics"),
                format!(
                    "exactly one metric decides (the first, unless `role` says otherwise); {} do",
                    decide.len()
                ),
            );
        }
        let mut seen = HashSet::new();
        for (i, m) in s.metrics.iter().enumerate() {
            if !(m.max_abs.is_finite() && m.max_abs > 0.0) {
                self.error(
                    &format!("{path}.metrics[{i}].max_abs"),
                    format!(
                        "max_abs must be a positive finite number, got {}",
                        m.max_abs
                    ),
                );
            }
            if m.min_events < 1 {
                self.error(
                    &format!("{path}.metrics[{i}].min_events"),
                    "min_events must be at least 1",
                );
            }
            if m.test != TestKind::TwoProportionZ && m.min_events != DEFAULT_MIN_EVENTS {
                self.warn(
                    &format!("{path}.metrics[{i}].min_events"),
                    "min_events only applies to two_proportion_z metrics",
                );
            }
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
            looks,
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

    /// Stage flags and `on_rollback` keys must be the rollout's own, and may not be standard flags.
    fn flag_keys(
        &mut self,
        path: &str,
        prefix: &FlagPrefix,
        stages: &[(usize, Stage)],
        on_rollback: Option<&Flags>,
    ) {
        let standard: HashSet<String> = STANDARD_SUFFIXES.iter().map(|s| prefix.key(s)).collect();
        for (i, s) in stages {
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
        for (key, value) in on_rollback.into_iter().flatten() {
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

    fn has_errors_since(&self, before: usize) -> bool {
        self.out[before..]
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    fn own_key(&mut self, path: &str, prefix: &FlagPrefix, key: &FlagKey) {
        if !key.as_str().starts_with(prefix.as_str()) || key.as_str() == prefix.as_str() {
            self.error(
                &format!("{path}.{key}"),
                format!("flag {key} must start with this rollout's flag_prefix {prefix}"),
            );
        }
    }

    /// Names unique, prefixes apart: over every rollout whose name or prefix could be read,
    /// whatever else is wrong with it.
    fn across_rollouts(&mut self, parts: &[RolloutParts]) {
        let mut names = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            let Some(name) = &p.name else { continue };
            if let Some(first) = names.insert(name.clone(), i) {
                self.error(
                    &format!("rollouts[{i}].name"),
                    format!("rollout name {name} is already used by rollouts[{first}]"),
                );
            }
        }
        for (i, a) in parts.iter().enumerate() {
            let Some(pa) = &a.prefix else { continue };
            for (j, b) in parts.iter().enumerate().take(i) {
                let Some(pb) = &b.prefix else { continue };
                let (pa, pb) = (pa.as_str(), pb.as_str());
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

#[cfg(test)]
mod ab_tests {
    use super::parse;

    fn errors(metrics: &str, extra: &str) -> String {
        let yaml = format!(
            "rollouts:\n  - name: p\n    flag_prefix: P_\n    seed: 1\n    stages:\n      - ab_test:\n          percentage: 10\n          duration: 14d\n          {extra}\n          metrics: [ {metrics} ]\n      - full: {{}}\n"
        );
        match parse("p.yaml", &yaml) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn metric_roles_bounds_and_looks_are_validated() {
        assert_eq!(errors("{ name: a }, { name: b }", ""), "");
        let e = errors("{ name: a }, { name: b, role: decide }", "");
        assert!(e.contains("exactly one metric decides"), "{e}");
        let e = errors("{ name: a, role: guard }", "");
        assert!(e.contains("exactly one metric decides"), "{e}");
        assert_eq!(
            errors("{ name: a, role: report }, { name: b, role: decide }", ""),
            ""
        );
        let e = errors("{ name: a, max_abs: 0 }", "");
        assert!(e.contains("max_abs"), "{e}");
        let e = errors("{ name: a, test: two_proportion_z, min_events: 0 }", "");
        assert!(e.contains("min_events"), "{e}");
        let e = errors("{ name: a }", "looks: 0");
        assert!(e.contains("looks must be in [1, 100]"), "{e}");
    }
}
