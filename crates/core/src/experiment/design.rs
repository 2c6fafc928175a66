//! Which sequential design judges an A/B stage, and when it looks.
//!
//! - `group_sequential`: `sequential: true` and a known horizon (`expected_units_per_day`).
//!   Lan–DeMets O'Brien–Fleming-type alpha spending; look k is taken when the stage's units
//!   reach k/`looks` of the planned total; the final look spends what is left, when the
//!   units reach the plan or when the duration ends, whichever comes first.
//! - `always_valid`: `sequential: true` without a horizon. A mixture SPRT whose mixing sd is
//!   tuned for the sample `min_effect` needs at 80 % power; valid at every tick.
//! - `fixed_horizon`: `sequential: false`. One look, when the duration ends.

use serde::{Deserialize, Serialize};

use super::analysis::StageClock;
use super::memory::AnalysisMemory;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    GroupSequential,
    AlwaysValid,
    FixedHorizon,
}

impl Design {
    pub fn as_str(self) -> &'static str {
        match self {
            Design::GroupSequential => "group_sequential",
            Design::AlwaysValid => "always_valid",
            Design::FixedHorizon => "fixed_horizon",
        }
    }
}

/// A look to take now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookNow {
    /// 1-based count of looks including this one.
    pub index: u32,
    /// ⌊fraction × looks⌋, at most `looks`.
    pub planned: u32,
    pub fraction: f64,
    pub final_look: bool,
}

/// The stage's information fraction: its units relative to the planned total (1 without a
/// plan). Not capped: more units than planned give a fraction above 1.
pub fn information_fraction(units: u64, planned_total: Option<f64>) -> f64 {
    match planned_total {
        Some(p) if p.is_finite() && p > 0.0 => units as f64 / p,
        _ => 1.0,
    }
}

/// Whether the design takes a look at this tick, given what it has taken.
pub fn look_now(
    design: Design,
    looks: u32,
    fraction: f64,
    clock: &StageClock,
    memory: &AnalysisMemory,
) -> Option<LookNow> {
    let ended = clock.elapsed >= clock.duration;
    let last = memory.last_look();
    if last.is_some_and(|l| l.final_look) {
        return None;
    }
    let index = last.map_or(1, |l| l.index + 1);
    match design {
        Design::AlwaysValid => None,
        Design::FixedHorizon => ended.then_some(LookNow {
            index,
            planned: 1,
            fraction,
            final_look: true,
        }),
        Design::GroupSequential => {
            let looks = looks.max(1);
            let planned = if fraction.is_finite() && fraction > 0.0 {
                // A hair of slack so that exactly k/looks of the plan (in floating point) is look k.
                ((fraction * looks as f64 + 1e-9).floor().min(looks as f64)) as u32
            } else {
                0
            };
            let due = planned > last.map_or(0, |l| l.planned);
            (ended || due).then_some(LookNow {
                index,
                planned,
                fraction,
                final_look: ended || planned >= looks,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::memory::Look;
    use chrono::{DateTime, Duration, Utc};

    fn clock(elapsed_days: i64) -> StageClock {
        StageClock {
            elapsed: Duration::days(elapsed_days),
            duration: Duration::days(14),
        }
    }

    fn taken(planned: u32, final_look: bool) -> AnalysisMemory {
        AnalysisMemory {
            design: Some(Design::GroupSequential),
            looks: vec![Look {
                index: 1,
                planned,
                information_fraction: planned as f64 / 14.0,
                at: DateTime::<Utc>::UNIX_EPOCH,
                final_look,
                metrics: vec![],
            }],
            ..AnalysisMemory::default()
        }
    }

    #[test]
    fn group_sequential_looks_by_information() {
        let none = AnalysisMemory::default();
        let gs = Design::GroupSequential;
        assert_eq!(look_now(gs, 14, 0.05, &clock(0), &none), None);
        let l = look_now(gs, 14, 1.0 / 14.0 + 1e-9, &clock(1), &none).unwrap();
        assert_eq!((l.index, l.planned, l.final_look), (1, 1, false));
        assert_eq!(look_now(gs, 14, 0.1, &clock(1), &taken(1, false)), None);
        let l = look_now(gs, 14, 0.3, &clock(4), &taken(1, false)).unwrap();
        assert_eq!((l.index, l.planned), (2, 4));
        // The duration ends short of the plan: the final look anyway.
        let l = look_now(gs, 14, 0.6, &clock(14), &taken(1, false)).unwrap();
        assert!(l.final_look);
        // More units than planned before the end: the final look at the plan.
        assert!(
            look_now(gs, 14, 1.2, &clock(9), &taken(1, false))
                .unwrap()
                .final_look
        );
        assert_eq!(look_now(gs, 14, 2.0, &clock(20), &taken(14, true)), None);
    }

    #[test]
    fn fixed_horizon_looks_once_at_the_end() {
        let none = AnalysisMemory::default();
        let fh = Design::FixedHorizon;
        assert_eq!(look_now(fh, 14, 0.9, &clock(13), &none), None);
        assert!(look_now(fh, 14, 0.9, &clock(14), &none).unwrap().final_look);
        assert_eq!(look_now(fh, 14, 1.0, &clock(15), &taken(1, true)), None);
        assert_eq!(
            look_now(Design::AlwaysValid, 14, 1.0, &clock(15), &none),
            None
        );
    }

    #[test]
    fn fraction_without_a_plan_is_one() {
        assert_eq!(information_fraction(10, None), 1.0);
        assert_eq!(information_fraction(10, Some(0.0)), 1.0);
        assert_eq!(information_fraction(70, Some(140.0)), 0.5);
    }
}
