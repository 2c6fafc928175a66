//! Properties of the pure state machine over arbitrary sequences of ticks and manual actions.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::config::{self, Rollout};

fn rollout() -> Rollout {
    let src = "
rollouts:
  - name: r
    flag_prefix: R_
    seed: 1
    stages:
      - shadow: { duration: 7d }
      - ab_test: { percentage: 10, duration: 14d, on_inconclusive: hold }
      - canary: { percentage: 5, duration: 24h }
      - canary: { percentage: 25, duration: 48h }
      - full: {}
";
    config::parse("t.yaml", src)
        .unwrap()
        .config
        .rollouts
        .remove(0)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Tick { after_hours: i64 },
    Manual(ManualAction),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0i64..24 * 20).prop_map(|h| Step::Tick { after_hours: h }),
        1 => prop_oneof![
            Just(ManualAction::Pause),
            Just(ManualAction::Resume),
            Just(ManualAction::Promote),
            Just(ManualAction::Rollback),
            Just(ManualAction::Restart),
        ]
        .prop_map(Step::Manual),
    ]
}

proptest! {
    #[test]
    fn stages_are_never_skipped_and_rollbacks_stick(steps in proptest::collection::vec(step(), 1..80)) {
        let r = rollout();
        let mut state: Option<RolloutState> = None;
        let mut now = t0();
        for s in steps {
            let t = match s {
                Step::Tick { after_hours } => {
                    now += Duration::hours(after_hours);
                    let d = decide(&r, state.as_ref(), now, &Signals::default());
                    transition(&r, state.as_ref(), d, now)
                }
                Step::Manual(a) => manual(&r, state.as_ref(), a, "", now).unwrap_or(None),
            };
            let Some(t) = t else { continue };
            let before = state.as_ref();
            let next = &t.to;
            prop_assert_eq!(t.flags.clone(), crate::controller::flags::desired(&r, next));
            prop_assert_eq!(next.version, before.map_or(1, |b| b.version + 1));
            match (before, t.action) {
                (Some(b), Action::Restart) => {
                    prop_assert_eq!(b.status(), Status::RolledBack);
                    prop_assert_eq!(next.stage_index, 0);
                }
                (Some(b), Action::Advance | Action::Complete | Action::Promote) => {
                    prop_assert!(b.status() != Status::RolledBack, "a rolled-back rollout moved");
                    prop_assert_eq!(next.stage_index, b.stage_index + 1, "skipped a stage");
                    if t.action != Action::Promote {
                        let d = r.stages[b.stage_index].kind.duration().unwrap().chrono();
                        prop_assert!(b.elapsed(now) >= d, "stage cut short");
                    }
                }
                (Some(b), _) => prop_assert_eq!(next.stage_index, b.stage_index),
                (None, _) => prop_assert_eq!(next.stage_index, 0),
            }
            if next.status() == Status::Completed {
                prop_assert_eq!(next.stage_index, r.stages.len() - 1);
            }
            state = Some(t.to);
        }
    }
}

#[test]
fn critical_signal_rolls_back_and_warning_holds_then_releases() {
    let r = rollout();
    let now = t0();
    let s = transition(&r, None, Decision::Start, now).unwrap().to;
    let critical = Signals {
        critical: vec!["drawdown 5%".into()],
        ..Signals::default()
    };
    assert_eq!(
        decide(&r, Some(&s), now, &critical),
        Decision::RollBack {
            reason: "drawdown 5%".into()
        }
    );
    let warn = Signals {
        warnings: vec!["latency p99 high".into()],
        ..Signals::default()
    };
    let held = transition(&r, Some(&s), decide(&r, Some(&s), now, &warn), now)
        .unwrap()
        .to;
    assert_eq!(held.status(), Status::Blocked);
    assert_eq!(
        decide(&r, Some(&held), now, &warn),
        Decision::Stay {
            next_transition_at: None
        }
    );
    assert_eq!(
        decide(&r, Some(&held), now, &Signals::default()),
        Decision::Release
    );
}

#[test]
fn ab_verdicts_act_only_in_the_ab_stage() {
    let r = rollout();
    let now = t0();
    let shadow = transition(&r, None, Decision::Start, now).unwrap().to;
    let win = Signals {
        ab: AbVerdict::Win("treatment better".into()),
        ..Signals::default()
    };
    assert!(matches!(
        decide(&r, Some(&shadow), now, &win),
        Decision::Stay { .. }
    ));
    let ab = manual(&r, Some(&shadow), ManualAction::Promote, "", now)
        .unwrap()
        .unwrap()
        .to;
    assert_eq!(
        decide(&r, Some(&ab), now, &win),
        Decision::Advance {
            to: 2,
            reason: "treatment better".into()
        }
    );
    let loss = Signals {
        ab: AbVerdict::Loss("treatment worse".into()),
        ..Signals::default()
    };
    assert_eq!(
        decide(&r, Some(&ab), now, &loss),
        Decision::RollBack {
            reason: "treatment worse".into()
        }
    );
}

/// A rollback has one shape whichever path writes it: the controller's decision on a
/// critical signal or `rollout rollback`. Before `Phase`, the automatic rollback of a
/// paused rollout kept `paused_at` while the manual one dropped it (and neither counted the
/// pause), so the same rollback was stored in two shapes.
#[test]
fn automatic_and_manual_rollbacks_have_the_same_shape() {
    let r = rollout();
    let start = t0();
    let running = transition(&r, None, Decision::Start, start).unwrap().to;
    let paused_at = start + Duration::hours(10);
    let paused = manual(&r, Some(&running), ManualAction::Pause, "", paused_at)
        .unwrap()
        .unwrap()
        .to;
    assert_eq!(paused.paused_at(), Some(paused_at));
    let now = paused_at + Duration::hours(3);
    let critical = Signals {
        critical: vec!["drawdown 5%".into()],
        ..Signals::default()
    };
    for from in [&running, &paused] {
        let decision = decide(&r, Some(from), now, &critical);
        assert!(
            matches!(decision, Decision::RollBack { .. }),
            "{decision:?}"
        );
        let auto = transition(&r, Some(from), decision, now).unwrap();
        let by_hand = manual(&r, Some(from), ManualAction::Rollback, "drawdown 5%", now)
            .unwrap()
            .unwrap();
        assert_eq!(auto.action, Action::Rollback);
        assert_eq!(auto.to, by_hand.to, "from {}", from.status());
        assert_eq!(auto.flags, by_hand.flags);
        assert_eq!(auto.reason, by_hand.reason);
        let to = &auto.to;
        assert_eq!(
            to.phase(),
            &Phase::RolledBack {
                reason: "drawdown 5%".into()
            }
        );
        assert_eq!((to.paused_at(), to.reason()), (None, Some("drawdown 5%")));
        assert_eq!(to.version, from.version + 1);
    }
    // The pause is over and counted, as a resume counts it.
    let back = transition(
        &r,
        Some(&paused),
        decide(&r, Some(&paused), now, &critical),
        now,
    )
    .unwrap()
    .to;
    assert_eq!(back.paused_ms, Duration::hours(3).num_milliseconds());
    assert_eq!(back.elapsed(now), Duration::hours(10));
    // And the stored shape reads back as the same state.
    assert_eq!(RolloutState::from_parts(parts(&back)), Ok(back));
}

fn parts(s: &RolloutState) -> StateParts {
    StateParts {
        rollout: s.rollout.clone(),
        stage_index: s.stage_index,
        stage_label: s.stage_label.clone(),
        stage_entered_at: s.stage_entered_at,
        status: s.status(),
        reason: s.reason().map(str::to_owned),
        paused_at: s.paused_at(),
        paused_ms: s.paused_ms,
        version: s.version,
        weights: s.weights_json(),
    }
}

#[test]
fn from_parts_accepts_what_transitions_write_and_refuses_the_rest() {
    let r = rollout();
    let now = t0();
    let running = transition(&r, None, Decision::Start, now).unwrap().to;
    let paused = manual(&r, Some(&running), ManualAction::Pause, "", now)
        .unwrap()
        .unwrap()
        .to;
    let blocked = transition(
        &r,
        Some(&running),
        Decision::Hold {
            reason: "latency".into(),
        },
        now,
    )
    .unwrap()
    .to;
    let mut completed = running.clone();
    for _ in 1..r.stages.len() {
        completed = manual(&r, Some(&completed), ManualAction::Promote, "", now)
            .unwrap()
            .unwrap()
            .to;
    }
    assert_eq!(completed.status(), Status::Completed);
    for s in [&running, &paused, &blocked, &completed] {
        assert_eq!(RolloutState::from_parts(parts(s)).as_ref(), Ok(s));
    }

    let with = |s: &RolloutState, f: &dyn Fn(&mut StateParts)| {
        let mut p = parts(s);
        f(&mut p);
        RolloutState::from_parts(p)
    };
    let refused = [
        with(&running, &|p| p.paused_at = Some(now)),
        with(&running, &|p| p.reason = Some("why".into())),
        with(&running, &|p| p.status = Status::Pending),
        with(&running, &|p| p.status = Status::Paused),
        with(&running, &|p| p.status = Status::Blocked),
        with(&running, &|p| p.status = Status::RolledBack),
        with(&completed, &|p| p.reason = Some("why".into())),
        with(&blocked, &|p| p.paused_at = Some(now)),
        with(&paused, &|p| p.paused_at = None),
        with(&running, &|p| p.weights = Some("not weights".into())),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert!(r.is_err(), "case {i} was accepted: {r:?}");
    }

    // The old shape of an automatic rollback of a paused rollout still reads.
    let old = with(&paused, &|p| {
        p.status = Status::RolledBack;
        p.reason = Some("drawdown 5%".into());
    })
    .unwrap();
    assert_eq!(old.status(), Status::RolledBack);
    assert_eq!(old.paused_at(), None);
}

#[test]
fn serialises_flat_as_before() {
    let r = rollout();
    let now = t0();
    let running = transition(&r, None, Decision::Start, now).unwrap().to;
    let paused = manual(&r, Some(&running), ManualAction::Pause, "lunch", now)
        .unwrap()
        .unwrap()
        .to;
    let v = serde_json::to_value(&paused).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "rollout": "r",
            "stage_index": 0,
            "stage_label": running.stage_label,
            "stage_entered_at": now,
            "status": "paused",
            "reason": "lunch",
            "paused_at": now,
            "paused_ms": 0,
            "version": 2,
            "weights": null,
        })
    );
}

#[test]
fn unmet_shadow_criteria_hold_in_shadow_at_its_end_and_promote_still_works() {
    let r = rollout();
    let s = transition(&r, None, Decision::Start, t0()).unwrap().to;
    let unmet = Signals {
        shadow_unmet: Some("shadow exit criteria not met: min_records (at least 100)".into()),
        ..Signals::default()
    };
    // Before the end, the criteria do not matter.
    let early = t0() + Duration::days(3);
    assert!(matches!(
        decide(&r, Some(&s), early, &unmet),
        Decision::Stay { .. }
    ));
    let end = t0() + Duration::days(7);
    let held = transition(&r, Some(&s), decide(&r, Some(&s), end, &unmet), end)
        .unwrap()
        .to;
    assert_eq!(held.status(), Status::Blocked);
    assert_eq!(held.stage_index, 0);
    // The same reason again changes nothing; met criteria advance.
    assert!(matches!(
        decide(&r, Some(&held), end, &unmet),
        Decision::Stay { .. }
    ));
    assert!(matches!(
        decide(&r, Some(&held), end, &Signals::default()),
        Decision::Advance { to: 1, .. }
    ));
    let promoted = manual(&r, Some(&held), ManualAction::Promote, "by hand", end)
        .unwrap()
        .unwrap();
    assert_eq!(promoted.to.stage_index, 1);
}
