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
                    prop_assert_eq!(b.status, Status::RolledBack);
                    prop_assert_eq!(next.stage_index, 0);
                }
                (Some(b), Action::Advance | Action::Complete | Action::Promote) => {
                    prop_assert!(b.status != Status::RolledBack, "a rolled-back rollout moved");
                    prop_assert_eq!(next.stage_index, b.stage_index + 1, "skipped a stage");
                    if t.action != Action::Promote {
                        let d = r.stages[b.stage_index].kind.duration().unwrap().chrono();
                        prop_assert!(b.elapsed(now) >= d, "stage cut short");
                    }
                }
                (Some(b), _) => prop_assert_eq!(next.stage_index, b.stage_index),
                (None, _) => prop_assert_eq!(next.stage_index, 0),
            }
            if next.status == Status::Completed {
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
    assert_eq!(held.status, Status::Blocked);
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
