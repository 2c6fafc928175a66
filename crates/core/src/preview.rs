//! What a manual action would do, without doing it: the dashboard's confirmation shows this
//! before it sends the action. The same `controller::manual` the action runs, against the
//! stored flags. Pure: the state, the stored flags and `now` are arguments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Rollout;
use crate::controller::{manual, ManualAction, RolloutState, Status};

/// One flag the action would write: its value now (`None`: absent) and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagDiff {
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Where a rollout is: status and stage (0-based; `None` while pending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    pub status: Status,
    pub stage_index: Option<usize>,
    pub stage_label: Option<String>,
}

/// The dry run of a manual action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionPreview {
    pub rollout: String,
    pub action: &'static str,
    /// Whether the action may be taken now; `refused` says why not.
    pub allowed: bool,
    pub refused: Option<String>,
    /// False when the rollout is already where the action would put it.
    pub changes: bool,
    pub from: Position,
    pub to: Option<Position>,
    /// The flags that would change, by key; unchanged flags are left out.
    pub flags: Vec<FlagDiff>,
    pub reason: String,
}

fn position(state: Option<&RolloutState>) -> Position {
    Position {
        status: state.map_or(Status::Pending, RolloutState::status),
        stage_index: state.map(|s| s.stage_index),
        stage_label: state.map(|s| s.stage_label.clone()),
    }
}

/// What `action` would do to `rollout` in `state` at `now`, given the flags stored for it.
pub fn preview(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    stored: &BTreeMap<String, String>,
    action: ManualAction,
    reason: &str,
    now: DateTime<Utc>,
) -> ActionPreview {
    let mut out = ActionPreview {
        rollout: rollout.name.to_string(),
        action: action.as_str(),
        allowed: true,
        refused: None,
        changes: false,
        from: position(state),
        to: None,
        flags: Vec::new(),
        reason: reason.to_owned(),
    };
    match manual(rollout, state, action, reason, now) {
        Err(e) => {
            out.allowed = false;
            out.refused = Some(e.to_string());
        }
        Ok(None) => out.to = Some(out.from.clone()),
        Ok(Some(t)) => {
            out.changes = true;
            out.to = Some(position(Some(&t.to)));
            out.reason = t.reason.clone();
            out.flags = diff(stored, &t.flags);
        }
    }
    out
}

/// The keys whose value differs between `stored` and `desired` (a stored key the desired
/// set lacks is removed).
pub fn diff(
    stored: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Vec<FlagDiff> {
    let mut out = Vec::new();
    for (k, v) in desired {
        if stored.get(k) != Some(v) {
            out.push(FlagDiff {
                key: k.clone(),
                from: stored.get(k).cloned(),
                to: Some(v.clone()),
            });
        }
    }
    for (k, v) in stored {
        if !desired.contains_key(k) {
            out.push(FlagDiff {
                key: k.clone(),
                from: Some(v.clone()),
                to: None,
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "rollouts:\n  - name: r\n    flag_prefix: R_\n    seed: 1\n    stages:\n      - canary: { percentage: 5, duration: 1d }\n      - full: {}\n";

    fn rollout() -> Rollout {
        crate::config::parse("t.yaml", YAML)
            .unwrap()
            .config
            .rollouts[0]
            .clone()
    }

    #[test]
    fn a_rollback_preview_lists_the_flags_it_writes() {
        let r = rollout();
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let start = manual(&r, None, ManualAction::Promote, "", now)
            .unwrap()
            .unwrap();
        let state = start.to.clone();
        let p = preview(
            &r,
            Some(&state),
            &start.flags,
            ManualAction::Rollback,
            "bad",
            now,
        );
        assert!(p.allowed && p.changes);
        assert_eq!(p.to.as_ref().unwrap().status, Status::RolledBack);
        assert!(!p.flags.is_empty());
        assert!(p
            .flags
            .iter()
            .all(|f| start.flags.get(&f.key) != f.to.as_ref()));
        let p = preview(
            &r,
            Some(&state),
            &start.flags,
            ManualAction::Restart,
            "",
            now,
        );
        assert!(!p.allowed && p.refused.unwrap().contains("restart"));
        let p = preview(
            &r,
            Some(&state),
            &start.flags,
            ManualAction::Resume,
            "",
            now,
        );
        assert!(p.allowed && !p.changes && p.flags.is_empty());
    }

    #[test]
    fn diff_names_added_changed_and_removed_keys() {
        let m = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let d = diff(&m(&[("A", "1"), ("B", "2")]), &m(&[("B", "3"), ("C", "4")]));
        let keys: Vec<_> = d
            .iter()
            .map(|f| (f.key.as_str(), f.from.as_deref(), f.to.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                ("A", Some("1"), None),
                ("B", Some("2"), Some("3")),
                ("C", None, Some("4"))
            ]
        );
    }
}
