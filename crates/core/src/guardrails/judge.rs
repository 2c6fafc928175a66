//! Judging one guardrail reading: a pure function of the measurement and the last reading.

use chrono::{DateTime, Utc};

use crate::config::{Bound, Guardrail, GuardrailSeverity, WorseWhen};
use crate::records::{GuardrailReading, ReadingStatus};

/// One arm of a measurement. `n` is `None` when the source gives no sample count
/// (a query returning a bare number), and then `min_samples` does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Arm {
    pub n: Option<u64>,
    pub value: Option<f64>,
}

/// What was measured for one guardrail.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Values {
        treatment: Arm,
        control: Arm,
    },
    /// The value could not be measured; the message says why.
    Failed(String),
}

/// Judges `m` against `g`, counting breaches in a row from `previous`.
pub fn judge(
    g: &Guardrail,
    m: &Measurement,
    previous: Option<&GuardrailReading>,
    now: DateTime<Utc>,
) -> GuardrailReading {
    let before = previous.map_or(0, |p| p.consecutive);
    let reading = |status, consecutive, value, control_value, n, detail: String| GuardrailReading {
        guardrail: g.name.clone(),
        status,
        consecutive,
        value,
        control_value,
        n,
        detail,
        evaluated_at: now,
    };
    let (t, c) = match m {
        Measurement::Failed(why) => {
            return reading(ReadingStatus::Error, before, None, None, 0, why.clone())
        }
        Measurement::Values { treatment, control } => (treatment, control),
    };
    if [t.value, c.value].iter().flatten().any(|v| !v.is_finite()) {
        return reading(
            ReadingStatus::Error,
            before,
            None,
            None,
            t.n.unwrap_or(0),
            "the measured value is not a finite number".into(),
        );
    }
    let enough = |a: &Arm| a.n.is_none_or(|n| n >= g.min_samples) && a.value.is_some();
    let n = t.n.unwrap_or(0);
    let verdict: Result<Option<String>, String> = match &g.bound {
        Bound::Absolute { min, max } => match (enough(t), t.value) {
            (true, Some(v)) => Ok(match (min, max) {
                (_, Some(max)) if v > *max => Some(format!("{v} > max {max}")),
                (Some(min), _) if v < *min => Some(format!("{v} < min {min}")),
                _ => None,
            }),
            _ => Err(format!("{} of {} samples in the window", n, g.min_samples)),
        },
        Bound::Relative(rel) => match (enough(t), enough(c), t.value, c.value) {
            (true, true, Some(tv), Some(cv)) => {
                let d = degradation(tv, cv, rel.worse_when);
                Ok((d > rel.max_degradation).then(|| {
                    format!(
                        "treatment {tv} vs control {cv}: {:.1} % worse, more than the allowed {:.1} %",
                        d * 100.0,
                        rel.max_degradation * 100.0
                    )
                }))
            }
            _ => Err(format!(
                "treatment {} / control {} samples in the window, {} needed in each",
                n,
                c.n.unwrap_or(0),
                g.min_samples
            )),
        },
    };
    match verdict {
        Err(detail) => reading(
            ReadingStatus::InsufficientData,
            before,
            t.value,
            c.value,
            n,
            detail,
        ),
        Ok(None) => reading(
            ReadingStatus::Ok,
            0,
            t.value,
            c.value,
            n,
            "within bounds".into(),
        ),
        Ok(Some(detail)) => reading(
            ReadingStatus::Breach,
            before.saturating_add(1),
            t.value,
            c.value,
            n,
            detail,
        ),
    }
}

/// How much worse the treatment is than control, relative to control (0 when not worse).
/// A control value of 0 makes any worsening infinitely large: the safe reading.
pub fn degradation(treatment: f64, control: f64, worse_when: WorseWhen) -> f64 {
    let worse_by = match worse_when {
        WorseWhen::Higher => treatment - control,
        WorseWhen::Lower => control - treatment,
    };
    if worse_by <= 0.0 {
        0.0
    } else if control == 0.0 {
        f64::INFINITY
    } else {
        worse_by / control.abs()
    }
}

/// What a reading means for the controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    Critical(String),
    Warning(String),
}

/// A critical reason carries the measured values; a warning's reason is stable while the
/// breach lasts (the rollout's hold is not rewritten at every tick for a changed number).
pub fn effect(g: &Guardrail, r: &GuardrailReading) -> Effect {
    match r.status {
        ReadingStatus::Breach if r.consecutive >= g.consecutive => {
            let times = if g.consecutive > 1 {
                format!(" {} times in a row", g.consecutive)
            } else {
                String::new()
            };
            match g.severity {
                GuardrailSeverity::Critical => Effect::Critical(format!(
                    "guardrail {} breached{times}: {}",
                    g.name, r.detail
                )),
                GuardrailSeverity::Warning => Effect::Warning(format!(
                    "guardrail {} breached{times}: {}",
                    g.name,
                    bound_text(&g.bound)
                )),
            }
        }
        // A guardrail that cannot be measured must not let the rollout move on.
        ReadingStatus::Error => Effect::Warning(format!(
            "guardrail {} cannot be evaluated: {}",
            g.name, r.detail
        )),
        _ => Effect::None,
    }
}

/// The bound in words, e.g. `above max 100`.
fn bound_text(b: &Bound) -> String {
    match b {
        Bound::Absolute { min, max } => match (min, max) {
            (Some(min), Some(max)) => format!("outside [{min}, {max}]"),
            (None, Some(max)) => format!("above max {max}"),
            (Some(min), None) => format!("below min {min}"),
            (None, None) => "out of bounds".into(),
        },
        Bound::Relative(r) => format!(
            "more than {:.1} % worse than control",
            r.max_degradation * 100.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::domain::StageDuration;
    use crate::config::{Aggregate, MetricSource, Relative};

    fn guardrail(bound: Bound, min_samples: u64, consecutive: u32) -> Guardrail {
        Guardrail {
            name: "g".into(),
            source: MetricSource::Observations {
                metric: "m".into(),
                aggregate: Aggregate::Mean,
            },
            bound,
            window: StageDuration::parse("1h").unwrap(),
            min_samples,
            consecutive,
            severity: GuardrailSeverity::Critical,
        }
    }

    fn values(n: u64, t: f64, c: f64) -> Measurement {
        Measurement::Values {
            treatment: Arm {
                n: Some(n),
                value: Some(t),
            },
            control: Arm {
                n: Some(n),
                value: Some(c),
            },
        }
    }

    #[test]
    fn consecutive_breaches_count_and_reset() {
        let g = guardrail(
            Bound::Absolute {
                min: None,
                max: Some(1.0),
            },
            1,
            3,
        );
        let now = Utc::now();
        let r1 = judge(&g, &values(5, 2.0, 0.0), None, now);
        let r2 = judge(&g, &values(5, 2.0, 0.0), Some(&r1), now);
        assert_eq!((r2.status, r2.consecutive), (ReadingStatus::Breach, 2));
        assert_eq!(effect(&g, &r2), Effect::None);
        let r3 = judge(&g, &values(5, 2.0, 0.0), Some(&r2), now);
        assert!(matches!(effect(&g, &r3), Effect::Critical(_)));
        let ok = judge(&g, &values(5, 0.5, 0.0), Some(&r3), now);
        assert_eq!((ok.status, ok.consecutive), (ReadingStatus::Ok, 0));
    }

    #[test]
    fn too_few_samples_give_no_verdict_and_keep_the_count() {
        let g = guardrail(
            Bound::Absolute {
                min: Some(0.0),
                max: None,
            },
            10,
            2,
        );
        let now = Utc::now();
        let r1 = judge(&g, &values(10, -1.0, 0.0), None, now);
        let r2 = judge(&g, &values(9, -5.0, 0.0), Some(&r1), now);
        assert_eq!(
            (r2.status, r2.consecutive),
            (ReadingStatus::InsufficientData, 1)
        );
    }

    #[test]
    fn relative_degradation_in_either_direction() {
        let rel = |worse_when| {
            Bound::Relative(Relative {
                max_degradation: 0.2,
                worse_when,
            })
        };
        let now = Utc::now();
        let higher = guardrail(rel(WorseWhen::Higher), 1, 1);
        assert_eq!(
            judge(&higher, &values(5, 1.19, 1.0), None, now).status,
            ReadingStatus::Ok
        );
        assert_eq!(
            judge(&higher, &values(5, 1.21, 1.0), None, now).status,
            ReadingStatus::Breach
        );
        let lower = guardrail(rel(WorseWhen::Lower), 1, 1);
        assert_eq!(
            judge(&lower, &values(5, -1.3, -1.0), None, now).status,
            ReadingStatus::Breach
        );
        assert_eq!(
            judge(&lower, &values(5, 5.0, -1.0), None, now).status,
            ReadingStatus::Ok
        );
        assert_eq!(degradation(0.1, 0.0, WorseWhen::Higher), f64::INFINITY);
        assert_eq!(degradation(0.0, 0.0, WorseWhen::Higher), 0.0);
    }

    #[test]
    fn a_failed_measurement_holds() {
        let g = guardrail(
            Bound::Absolute {
                min: None,
                max: Some(1.0),
            },
            1,
            1,
        );
        let r = judge(
            &g,
            &Measurement::Failed("syntax error".into()),
            None,
            Utc::now(),
        );
        assert!(matches!(effect(&g, &r), Effect::Warning(w) if w.contains("syntax error")));
    }
}
