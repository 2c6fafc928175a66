//! What changed between two configurations, in words: the daemon logs it on reload.

use super::model::{Config, Rollout};

/// The differences from `old` to `new`, one phrase each: `tick "*/10 * * * * *" -> "0 * * * * *"`,
/// `rollout beta added`, `rollout learning: stages, guardrails`. Empty when they are equal.
/// The database URL is not printed (it may hold a password).
pub fn changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if old.database != new.database {
        out.push("database (used after a restart)".to_owned());
    }
    if old.tick != new.tick {
        out.push(format!("tick {:?} -> {:?}", old.tick, new.tick));
    }
    if old.listen != new.listen {
        let show = |l: Option<std::net::SocketAddr>| l.map_or("none".to_owned(), |a| a.to_string());
        out.push(format!(
            "listen {} -> {} (used after a restart)",
            show(old.listen),
            show(new.listen)
        ));
    }
    for r in &new.rollouts {
        match old.rollout(r.name.as_str()) {
            None => out.push(format!("rollout {} added", r.name)),
            Some(o) if o != r => {
                out.push(format!("rollout {}: {}", r.name, fields(o, r).join(", ")))
            }
            Some(_) => {}
        }
    }
    for r in &old.rollouts {
        if new.rollout(r.name.as_str()).is_none() {
            out.push(format!("rollout {} removed", r.name));
        }
    }
    let names =
        |c: &Config| -> Vec<String> { c.rollouts.iter().map(|r| r.name.to_string()).collect() };
    if out.is_empty() && names(old) != names(new) {
        out.push("the order of the rollouts".to_owned());
    }
    out
}

/// The fields of a rollout that differ.
fn fields(a: &Rollout, b: &Rollout) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut differ = |name: &'static str, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    differ("flag_prefix", a.flag_prefix != b.flag_prefix);
    differ("seed", a.seed != b.seed);
    differ("stages", a.stages != b.stages);
    differ("on_rollback", a.on_rollback != b.on_rollback);
    differ("guardrails", a.guardrails != b.guardrails);
    differ("safety_checks", a.safety_checks != b.safety_checks);
    differ("max_silence", a.max_silence != b.max_silence);
    differ("notify", a.notify != b.notify);
    differ("analysis", a.analysis != b.analysis);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(src: &str) -> Config {
        crate::config::parse("t.yaml", src).unwrap().config
    }

    #[test]
    fn says_what_changed() {
        let old = config(
            "rollouts:\n  - name: a\n    flag_prefix: A_\n    seed: 1\n    stages: [ { shadow: { duration: 1d } }, full ]\n  - name: b\n    flag_prefix: B_\n    seed: 1\n    stages: [ full ]\n",
        );
        let new = config(
            "database: sqlite://other.db\ntick: \"0 * * * * *\"\nrollouts:\n  - name: a\n    flag_prefix: A_\n    seed: 2\n    stages: [ { shadow: { duration: 2d } }, full ]\n    max_silence: 1d\n  - name: c\n    flag_prefix: C_\n    seed: 1\n    stages: [ full ]\n",
        );
        assert_eq!(
            changes(&old, &new),
            [
                "database (used after a restart)",
                "tick \"*/10 * * * * *\" -> \"0 * * * * *\"",
                "rollout a: seed, stages, max_silence",
                "rollout c added",
                "rollout b removed",
            ]
        );
        assert!(changes(&old, &old).is_empty());
    }
}
