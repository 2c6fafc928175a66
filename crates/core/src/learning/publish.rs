//! Whether freshly computed weights are published, as a pure function producing a
//! [`Action::Publish`] transition (committed like any other: CAS, epoch fence, history row).

use crate::config::Rollout;
use crate::controller::flags::applies_parameters;
use crate::controller::{Action, RolloutState, Status, Transition};

use super::Weights;

/// What happens to computed weights.
#[derive(Debug, Clone, PartialEq)]
pub enum Publication {
    /// Commit this transition.
    Publish(Box<Transition>),
    /// They are already the published weights.
    Unchanged,
    /// Stored in the history only; the reason says why.
    Withheld(String),
}

/// Publishes `weights` if the rollout's stage applies parameters and it is running or
/// completed; paused and blocked rollouts keep their published weights.
pub fn publication(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    weights: &Weights,
) -> Publication {
    if rollout.analysis.is_none() {
        return Publication::Withheld(format!("rollout {} has no analysis block", rollout.name));
    }
    let Some(s) = state else {
        return Publication::Withheld("the rollout has not started".into());
    };
    if !applies_parameters(rollout, s) {
        let stage = rollout
            .stages
            .get(s.stage_index)
            .map_or("unknown", |st| st.kind.name());
        return Publication::Withheld(format!(
            "stage {} ({stage}, {}) does not apply parameters; the conservative weights stay published",
            s.stage_index + 1,
            s.status()
        ));
    }
    if !matches!(s.status(), Status::Running | Status::Completed) {
        return Publication::Withheld(format!(
            "the rollout is {}; its published weights are frozen",
            s.status()
        ));
    }
    // Compared as published (the flag's text), not as numbers.
    if s.weights_json() == Some(weights.to_json()) {
        return Publication::Unchanged;
    }
    let to = RolloutState {
        version: s.version + 1,
        weights: Some(weights.clone()),
        ..s.clone()
    };
    Publication::Publish(Box::new(Transition::new(
        rollout,
        Action::Publish,
        Some(s),
        to,
        "learned weights",
    )))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::config;
    use crate::controller::{manual, transition, Decision, ManualAction};

    fn rollout() -> Rollout {
        let src = "
rollouts:
  - name: r
    flag_prefix: R_
    seed: 1
    stages:
      - shadow: { duration: 7d }
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    analysis: {}
";
        config::parse("t.yaml", src)
            .unwrap()
            .config
            .rollouts
            .remove(0)
    }

    fn learned() -> Weights {
        Weights::rounded(
            &[
                ("volume_momentum", 0.3),
                ("squeeze", 0.25),
                ("catalyst", 0.15),
                ("sentiment", 0.1),
                ("options", 0.1),
                ("technical", 0.1),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect(),
        )
    }

    #[test]
    fn published_only_where_the_stage_applies_parameters() {
        let r = rollout();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let conservative = r.analysis.as_ref().unwrap().conservative_weights.to_json();
        let w = learned();
        let withheld = |p: Publication| matches!(p, Publication::Withheld(_));
        let promote = |s: &RolloutState, a: ManualAction| {
            manual(&r, Some(s), a, "why", now).unwrap().unwrap().to
        };
        assert!(withheld(publication(&r, None, &w)));
        let shadow = transition(&r, None, Decision::Start, now).unwrap();
        assert_eq!(shadow.flags["R_WEIGHTS"], conservative);
        assert!(withheld(publication(&r, Some(&shadow.to), &w)));

        let canary = promote(&shadow.to, ManualAction::Promote);
        assert_eq!(
            crate::controller::flags::desired(&r, &canary)["R_WEIGHTS"],
            conservative
        );
        let Publication::Publish(t) = publication(&r, Some(&canary), &w) else {
            panic!("a canary publishes")
        };
        assert_eq!(t.action, Action::Publish);
        assert_eq!(t.to.version, canary.version + 1);
        assert_eq!(t.flags["R_WEIGHTS"], w.to_json());
        assert_eq!(publication(&r, Some(&t.to), &w), Publication::Unchanged);

        // Promoting keeps the published weights; pausing freezes them; a rollback writes the
        // conservative ones; a restart forgets the learned ones.
        let full = promote(&t.to, ManualAction::Promote);
        assert_eq!(
            crate::controller::flags::desired(&r, &full)["R_WEIGHTS"],
            w.to_json()
        );
        let paused = promote(&t.to, ManualAction::Pause);
        assert_eq!(
            crate::controller::flags::desired(&r, &paused)["R_WEIGHTS"],
            w.to_json()
        );
        assert!(withheld(publication(&r, Some(&paused), &learned())));
        let back = promote(&t.to, ManualAction::Rollback);
        assert_eq!(
            crate::controller::flags::desired(&r, &back)["R_WEIGHTS"],
            conservative
        );
        assert!(withheld(publication(&r, Some(&back), &w)));
        let restarted = promote(&back, ManualAction::Restart);
        assert_eq!(restarted.weights, None);
        // CONSERVATIVE_WEIGHTS is the conservative weights in every state, learned or not.
        for s in [
            &shadow.to, &canary, &t.to, &full, &paused, &back, &restarted,
        ] {
            assert_eq!(
                crate::controller::flags::desired(&r, s)["R_CONSERVATIVE_WEIGHTS"],
                conservative
            );
        }
    }
}
