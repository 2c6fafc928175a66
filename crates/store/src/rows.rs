//! The rows the store reads, as sqlx decodes them (`#[derive(FromRow)]`, by column name),
//! and their conversion into the domain's types. A stored value this version cannot read
//! becomes [`StoreError::Corrupt`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::types::Json;

use rollout_core::controller::{RolloutState, StateParts, Status};
use rollout_core::learning::Weights;
use rollout_core::records::{
    EventRow, FlagChange, FlagRow, GuardrailReading, LeaderRecord, OutboxRow, PendingHold,
    ReadingStatus, WeightsRecord,
};

use crate::StoreError;

/// JSON columns are bound and read as [`serde_json::Value`] (JSONB on PostgreSQL, text on
/// SQLite), so that the store needs one JSON type per backend.
pub(crate) type JsonValue = Json<serde_json::Value>;

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> JsonValue {
    // Maps with string keys, numbers and strings: serialisation cannot fail.
    Json(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
}

pub(crate) fn from_json<T: DeserializeOwned>(
    value: JsonValue,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(value.0).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The columns of `rollout_state`, in [`StateRow`]'s order.
pub(crate) const STATE_COLUMNS: &str = "rollout, stage_index, stage_label, stage_entered_at, \
     status, reason, paused_at, paused_ms, version, weights";

/// A row of `rollout_state`.
#[derive(sqlx::FromRow)]
pub(crate) struct StateRow {
    rollout: String,
    stage_index: i64,
    stage_label: String,
    stage_entered_at: DateTime<Utc>,
    status: String,
    reason: Option<String>,
    paused_at: Option<DateTime<Utc>>,
    paused_ms: i64,
    version: i64,
    weights: Option<String>,
}

/// The one place a stored state becomes a [`RolloutState`].
impl TryFrom<StateRow> for RolloutState {
    type Error = StoreError;

    fn try_from(r: StateRow) -> Result<RolloutState, StoreError> {
        RolloutState::from_parts(StateParts {
            rollout: r.rollout,
            stage_index: usize::try_from(r.stage_index)
                .map_err(|_| StoreError::Corrupt(format!("stage_index {}", r.stage_index)))?,
            stage_label: r.stage_label,
            stage_entered_at: r.stage_entered_at,
            status: r.status.parse::<Status>().map_err(StoreError::Corrupt)?,
            reason: r.reason,
            paused_at: r.paused_at,
            paused_ms: r.paused_ms,
            version: r.version,
            weights: r.weights,
        })
        .map_err(StoreError::Corrupt)
    }
}

/// The row of `rollout_leader`.
#[derive(sqlx::FromRow)]
pub(crate) struct LeaderRow {
    epoch: i64,
    holder: Option<String>,
    acquired_at: Option<DateTime<Utc>>,
    last_tick_at: Option<DateTime<Utc>>,
    tick_interval_secs: Option<i64>,
    lease_until: Option<DateTime<Utc>>,
}

/// The lease columns of `rollout_leader`.
#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    pub epoch: i64,
    pub holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

impl From<LeaderRow> for LeaderRecord {
    fn from(r: LeaderRow) -> LeaderRecord {
        LeaderRecord {
            epoch: r.epoch,
            holder: r.holder,
            acquired_at: r.acquired_at,
            last_tick_at: r.last_tick_at,
            tick_interval_secs: r.tick_interval_secs.and_then(|s| u64::try_from(s).ok()),
            lease_until: r.lease_until,
        }
    }
}

/// A row of `rollout_holds`.
#[derive(sqlx::FromRow)]
pub(crate) struct HoldRow {
    rollout: String,
    reason: String,
    since: DateTime<Utc>,
    checked_at: DateTime<Utc>,
}

impl From<HoldRow> for PendingHold {
    fn from(r: HoldRow) -> PendingHold {
        PendingHold {
            rollout: r.rollout,
            reason: r.reason,
            since: r.since,
            checked_at: r.checked_at,
        }
    }
}

/// A row of `rollout_flags`.
#[derive(sqlx::FromRow)]
pub(crate) struct FlagsRow {
    key: String,
    value: String,
    rollout: String,
    version: i64,
    updated_at: DateTime<Utc>,
    updated_by: String,
    reason: String,
}

impl From<FlagsRow> for FlagRow {
    fn from(r: FlagsRow) -> FlagRow {
        FlagRow {
            key: r.key,
            value: r.value,
            rollout: r.rollout,
            version: r.version,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
            reason: r.reason,
        }
    }
}

/// A flag's key and value.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyValueRow {
    pub key: String,
    pub value: String,
}

/// A row of `rollout_events`.
#[derive(sqlx::FromRow)]
pub(crate) struct EventsRow {
    id: i64,
    rollout: String,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    reason: String,
    from_stage: Option<i64>,
    to_stage: i64,
    from_status: Option<String>,
    to_status: String,
    state_version: i64,
    flags_version: i64,
    flags: JsonValue,
    stage_entered_at: Option<DateTime<Utc>>,
}

impl TryFrom<EventsRow> for EventRow {
    type Error = StoreError;

    fn try_from(r: EventsRow) -> Result<EventRow, StoreError> {
        Ok(EventRow {
            flags: from_json(r.flags, "rollout_events.flags")?,
            id: r.id,
            rollout: r.rollout,
            at: r.at,
            actor: r.actor,
            action: r.action,
            reason: r.reason,
            from_stage: r.from_stage,
            to_stage: r.to_stage,
            from_status: r.from_status,
            to_status: r.to_status,
            state_version: r.state_version,
            flags_version: r.flags_version,
            stage_entered_at: r.stage_entered_at,
        })
    }
}

/// The flag changes of one history row.
#[derive(sqlx::FromRow)]
pub(crate) struct FlagChangeRow {
    flags_version: i64,
    rollout: String,
    flags: JsonValue,
}

impl TryFrom<FlagChangeRow> for FlagChange {
    type Error = StoreError;

    fn try_from(r: FlagChangeRow) -> Result<FlagChange, StoreError> {
        Ok(FlagChange {
            version: r.flags_version,
            rollout: r.rollout,
            changed: from_json::<BTreeMap<String, Option<String>>>(
                r.flags,
                "rollout_events.flags",
            )?,
        })
    }
}

/// What the observations INSERT reports back for each row it stored.
#[derive(sqlx::FromRow)]
pub(crate) struct InsertedObservation {
    pub variant: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    pub observed_at: DateTime<Utc>,
    pub stage: Option<i64>,
    pub stage_entered_at: Option<DateTime<Utc>>,
}

/// A row of `unit_moments`.
#[derive(sqlx::FromRow)]
pub(crate) struct UnitMomentsRow {
    pub variant: String,
    pub per_unit: String,
    pub units: i64,
    pub observations: i64,
    pub events: i64,
    pub mean: f64,
    pub m2: f64,
}

/// A unit's stored count and mean.
#[derive(sqlx::FromRow)]
pub(crate) struct UnitValueRow {
    pub variant: String,
    pub unit: String,
    pub n: i64,
    pub mean: f64,
}

/// A row of `exposure_counts`.
#[derive(sqlx::FromRow)]
pub(crate) struct ExposureRow {
    pub control: i64,
    pub treatment: i64,
    pub multiple: i64,
}

/// A row of `guardrail_status`.
#[derive(sqlx::FromRow)]
pub(crate) struct GuardrailStatusRow {
    guardrail: String,
    status: String,
    consecutive: i64,
    value: Option<f64>,
    control_value: Option<f64>,
    n: i64,
    detail: String,
    evaluated_at: DateTime<Utc>,
}

impl TryFrom<GuardrailStatusRow> for GuardrailReading {
    type Error = StoreError;

    fn try_from(r: GuardrailStatusRow) -> Result<GuardrailReading, StoreError> {
        Ok(GuardrailReading {
            status: ReadingStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("guardrail status {:?}", r.status)))?,
            guardrail: r.guardrail,
            consecutive: u32::try_from(r.consecutive.max(0)).unwrap_or(u32::MAX),
            value: r.value,
            control_value: r.control_value,
            n: r.n.max(0) as u64,
            detail: r.detail,
            evaluated_at: r.evaluated_at,
        })
    }
}

/// A claimed row of `rollout_outbox`.
#[derive(sqlx::FromRow)]
pub(crate) struct OutboxClaimRow {
    pub id: i64,
    event_id: i64,
    rollout: String,
    url: String,
    payload: String,
    attempts: i64,
}

impl From<OutboxClaimRow> for OutboxRow {
    fn from(r: OutboxClaimRow) -> OutboxRow {
        OutboxRow {
            id: r.id,
            event_id: r.event_id,
            rollout: r.rollout,
            url: r.url,
            payload: r.payload,
            attempts: r.attempts,
        }
    }
}

/// A discovery's features and the return of the trade it was paired with.
#[derive(sqlx::FromRow)]
pub(crate) struct PairRow {
    discovery_features: JsonValue,
    return_pct: f64,
}

impl TryFrom<PairRow> for rollout_core::learning::Pair {
    type Error = StoreError;

    fn try_from(r: PairRow) -> Result<Self, StoreError> {
        Ok(rollout_core::learning::Pair {
            features: from_json(r.discovery_features, "discovery_features")?,
            return_pct: r.return_pct,
        })
    }
}

/// The learning counts over a range.
#[derive(sqlx::FromRow)]
pub(crate) struct LearningCountsRow {
    pub discoveries: i64,
    pub theses: i64,
    pub outcomes: i64,
    pub positive_outcomes: i64,
}

/// A regime (NULL when the conditions have none).
#[derive(sqlx::FromRow)]
pub(crate) struct RegimeRow {
    pub regime: Option<String>,
}

/// A row of the weights history.
#[derive(sqlx::FromRow)]
pub(crate) struct WeightsHistoryRow {
    rollout: String,
    computed_at: DateTime<Utc>,
    current: JsonValue,
    suggested: JsonValue,
    final_weights: JsonValue,
    fallback: bool,
    reason: String,
    confidence: Option<f64>,
    sample_size: i64,
    regime: Option<String>,
    inputs: JsonValue,
}

impl TryFrom<WeightsHistoryRow> for WeightsRecord {
    type Error = StoreError;

    fn try_from(r: WeightsHistoryRow) -> Result<WeightsRecord, StoreError> {
        let weights = |v: JsonValue, what: &str| -> Result<Weights, StoreError> {
            Ok(Weights::rounded(&from_json::<BTreeMap<String, f64>>(
                v, what,
            )?))
        };
        Ok(WeightsRecord {
            current: weights(r.current, "weights_history.current")?,
            suggested: weights(r.suggested, "weights_history.suggested")?,
            final_weights: weights(r.final_weights, "weights_history.final_weights")?,
            rollout: r.rollout,
            computed_at: r.computed_at,
            fallback: r.fallback,
            reason: r.reason,
            confidence: r.confidence,
            sample_size: r.sample_size.max(0) as u64,
            regime: r.regime,
            inputs: r.inputs.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_row() -> StateRow {
        StateRow {
            rollout: "r".into(),
            stage_index: 2,
            stage_label: "canary 5%".into(),
            stage_entered_at: DateTime::<Utc>::UNIX_EPOCH,
            status: "running".into(),
            reason: None,
            paused_at: None,
            paused_ms: 0,
            version: 7,
            weights: None,
        }
    }

    #[test]
    fn a_state_row_becomes_a_state() {
        let s = RolloutState::try_from(state_row()).unwrap();
        assert_eq!((s.stage_index, s.version), (2, 7));
        assert_eq!(s.status().as_str(), "running");
    }

    #[test]
    fn unreadable_values_are_corrupt() {
        let bad_status = StateRow {
            status: "sideways".into(),
            ..state_row()
        };
        assert!(matches!(
            RolloutState::try_from(bad_status),
            Err(StoreError::Corrupt(_))
        ));
        let bad_stage = StateRow {
            stage_index: -1,
            ..state_row()
        };
        assert!(matches!(
            RolloutState::try_from(bad_stage),
            Err(StoreError::Corrupt(m)) if m == "stage_index -1"
        ));
        let reading = GuardrailStatusRow {
            guardrail: "g".into(),
            status: "maybe".into(),
            consecutive: 1,
            value: None,
            control_value: None,
            n: 0,
            detail: String::new(),
            evaluated_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert!(matches!(
            GuardrailReading::try_from(reading),
            Err(StoreError::Corrupt(_))
        ));
        let change = FlagChangeRow {
            flags_version: 1,
            rollout: "r".into(),
            flags: Json(serde_json::json!({"K": 3})),
        };
        assert!(matches!(
            FlagChange::try_from(change),
            Err(StoreError::Corrupt(_))
        ));
    }
}

/// A row of `rollout_config`.
#[derive(sqlx::FromRow)]
pub(crate) struct RecordedConfigRow {
    pub content: String,
    pub hash: String,
    pub source: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}
