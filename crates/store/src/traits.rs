//! What the store can do, one narrow trait per capability, and [`Store`], all of them.
//!
//! A use case that needs only the outbox can take `&dyn OutboxStore`; everything that
//! takes `&dyn Store` keeps working, since every store is all of them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use rollout_core::config::{Aggregate, PerUnit};
use rollout_core::controller::{RolloutState, Transition};
use rollout_core::deliveries::Delivery;
use rollout_core::experiment::{
    ExposureCounts, IngestReport, Observation, StageEntry, UnitAggregate,
};
use rollout_core::learning::{Kind, LearningIngest, Pair, Rows};
use rollout_core::records::{
    Committed, EventRow, FlagChange, FlagTable, GuardrailReading, LeaderRecord, LearningCounts,
    Lease, OutboxRow, PendingHold, PerVariant, QueryParam, RecordedConfig, SqlValue, WeightsRecord,
    WindowValue, Writer,
};
use rollout_core::report::Verdict;
use rollout_core::series::{
    AnalysisSnapshot, GuardrailPoint, LatestAnalysis, WeightsFlagChange, WeightsPoint,
};
use rollout_core::shadow::{AnalysisRun, DatedPair, Rejection, ServiceError};
use rollout_core::stats::RankSums;

use crate::StoreError;

/// Rollout state, flags and history; leader epochs; the store's upkeep.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Creates or upgrades the tables.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// A cheap round trip, to tell whether the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
    async fn state(&self, rollout: &str) -> Result<Option<RolloutState>, StoreError>;
    async fn states(&self) -> Result<Vec<RolloutState>, StoreError>;
    /// Commits `t` atomically, or fails with `Conflict`/`Fenced` having written nothing.
    async fn commit(
        &self,
        t: &Transition,
        writer: &Writer,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError>;
    async fn flags(&self) -> Result<FlagTable, StoreError>;
    /// The stored flags of one rollout, key → value.
    async fn rollout_flags(&self, rollout: &str) -> Result<BTreeMap<String, String>, StoreError>;
    async fn history(&self, rollout: &str) -> Result<Vec<EventRow>, StoreError>;
    /// The history from the last row at or before `since` on, oldest first: what was in
    /// force at `since` and every change after it.
    async fn events_since(
        &self,
        rollout: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// The table-wide flags version (`rollout_flags_version`).
    async fn flags_version(&self) -> Result<i64, StoreError>;
    /// The committed flag changes with a version above `version`, oldest first, at most
    /// `limit` history rows read; from the history, so a change is never missed.
    async fn flag_changes_since(
        &self,
        version: i64,
        limit: i64,
    ) -> Result<Vec<FlagChange>, StoreError>;
    /// Starts a new leader epoch for `holder` and returns it; writes fenced by older epochs fail.
    async fn new_epoch(&self, holder: &str, now: DateTime<Utc>) -> Result<i64, StoreError>;
    /// Claims or renews the leadership lease for `holder` until `now + lease`. A free or
    /// expired lease is taken over with a new epoch; the holder's own lease is renewed, with
    /// a new epoch when `fresh_epoch` (it is starting to lead). Another holder's unexpired
    /// lease is left alone. On PostgreSQL the claim waits at most 2 s for a lock (a frozen
    /// leader's transaction is ended by the server's idle-in-transaction timeout).
    async fn claim_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        fresh_epoch: bool,
    ) -> Result<Lease, StoreError>;
    /// Gives the lease up, if `holder` has it: anyone may claim it at once.
    async fn release_lease(&self, holder: &str) -> Result<(), StoreError>;
    /// Ends the database sessions of the process that held the lease as `holder` (a new
    /// leader calls it after taking over an expired lease: a frozen or cut-off leader's
    /// sessions, and whatever locks they hold, go at once). Returns how many were ended;
    /// 0 on SQLite, which has no server sessions.
    async fn end_sessions(&self, holder: &str) -> Result<u64, StoreError>;
    /// What holds the locks a commit waits for: each other session with an open
    /// transaction that wrote the state, the flags version or the leader row, described
    /// (`rollout HOST:PID (backend N, idle in transaction for S s)`). Empty on SQLite.
    async fn lock_holders(&self) -> Result<Vec<String>, StoreError>;
    /// Ends the sessions among [`StateStore::lock_holders`] that have been idle in their
    /// transaction for at least `idle` (a frozen process; the server would end them at its
    /// idle-in-transaction timeout), so that a manual action need not wait for that; returns
    /// them, described. Empty on SQLite, or when this login may not end them.
    async fn end_stalled_lock_holders(
        &self,
        idle: std::time::Duration,
    ) -> Result<Vec<String>, StoreError>;
    /// Records the configuration acted on, unless the same text is recorded already;
    /// returns whether it wrote.
    async fn record_config(&self, config: &RecordedConfig) -> Result<bool, StoreError>;
    /// The configuration last recorded, if any.
    async fn recorded_config(&self) -> Result<Option<RecordedConfig>, StoreError>;
    /// The leader row: the epoch, its holder, and the last recorded pass.
    async fn leader(&self) -> Result<LeaderRecord, StoreError>;
    /// Records that the leader of `epoch` finished an evaluation pass `at`, ticking every
    /// `interval_secs` (`None`: a one-off pass). Fails with `Fenced` if `epoch` no longer leads.
    async fn record_tick(
        &self,
        epoch: i64,
        at: DateTime<Utc>,
        interval_secs: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Records why pending `rollout` did not start at `now` (a failing safety check);
    /// `since` stays while the reason does. Fenced by `writer`'s epoch, if it has one.
    /// The commit that starts the rollout deletes it.
    async fn hold_pending(
        &self,
        rollout: &str,
        reason: &str,
        writer: &Writer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every recorded pending hold, by rollout.
    async fn pending_holds(&self) -> Result<Vec<PendingHold>, StoreError>;
}

/// The experiment's observations and their maintained statistics.
#[async_trait]
pub trait ObservationStore: Send + Sync {
    /// Stores observations and updates their sufficient statistics in one transaction.
    /// Rows whose `event_id` is already stored are skipped.
    async fn ingest(
        &self,
        rollout: &str,
        rows: &[Observation],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError>;
    /// A metric's maintained statistics over the unit values of a stage entry.
    async fn unit_aggregate(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        per_unit: PerUnit,
    ) -> Result<UnitAggregate, StoreError>;
    /// Rank sums of the unit values of a stage entry (treatment is `a`), computed in SQL.
    async fn unit_rank_sums(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        per_unit: PerUnit,
    ) -> Result<RankSums, StoreError>;
    /// Units observed per variant in a stage entry, and those observed in both.
    async fn exposure(
        &self,
        rollout: &str,
        entry: StageEntry,
    ) -> Result<ExposureCounts, StoreError>;
    /// The A/B design's memory of a stage entry (JSON), if any was saved.
    async fn analysis_memory(
        &self,
        rollout: &str,
        entry: StageEntry,
    ) -> Result<Option<String>, StoreError>;
    /// A metric's observations of stage entry `entry` observed in [`since`, `until`],
    /// aggregated per variant from the time buckets: the bucket of `since` counts whole.
    async fn window_aggregate(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        aggregate: Aggregate,
    ) -> Result<PerVariant<WindowValue>, StoreError>;
    /// When the newest observation of a rollout arrived.
    async fn last_ingested_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// When the rollout's raw observations were last compacted, if ever.
    async fn compacted_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Deletes the raw observations observed before `before` that belong to no stage entry
    /// or to one other than `current` (stages that ended), keeping every aggregate, and
    /// moves the rollout's compaction watermark there (later rows observed before it count
    /// as re-delivered), noting `now` as when it ran. Returns the rows deleted and the
    /// watermark.
    async fn compact(
        &self,
        rollout: &str,
        before: DateTime<Utc>,
        current: Option<StageEntry>,
        now: DateTime<Utc>,
    ) -> Result<(u64, DateTime<Utc>), StoreError>;
}

/// Guardrail readings, and the configured queries that measure them.
#[async_trait]
pub trait GuardrailStore: Send + Sync {
    /// Runs a configured query read-only, bounded by `timeout`. Its failures are
    /// `UserQuery`; only an unreachable store is `Unavailable`.
    async fn run_query(
        &self,
        query: &str,
        params: &[QueryParam],
        timeout: std::time::Duration,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError>;
    /// The last reading of each guardrail of a rollout.
    async fn guardrail_status(&self, rollout: &str) -> Result<Vec<GuardrailReading>, StoreError>;
    /// Replaces the readings of the guardrails named in `readings`, and appends them to the
    /// series of every evaluation ([`SeriesStore::guardrail_points`]).
    /// With `epoch`, fenced: a deposed leader's readings are refused ([`StoreError::Fenced`]).
    async fn record_guardrails(
        &self,
        rollout: &str,
        readings: &[GuardrailReading],
        epoch: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// The webhook outbox, filled by [`StateStore::commit`].
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims the undelivered webhooks due at `now` until `lease_until`, oldest first: at most
    /// one per URL (so each receiver sees events in order), and a claimed row is not handed
    /// to another sender until its lease ends.
    async fn claim_webhooks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Abandons the undelivered webhooks of `rollout` to `url` (the URL left the
    /// rollout's `notify`, or the rollout left the config): they are never sent, and say
    /// why in `last_error`. Returns how many.
    async fn abandon_webhooks(
        &self,
        rollout: &str,
        url: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Records a delivery attempt: delivered, or failed and retried at `retry_at`.
    async fn webhook_attempt(
        &self,
        id: i64,
        outcome: Result<(), String>,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The learning module's rows and weights history.
#[async_trait]
pub trait LearningStore: Send + Sync {
    /// Stores rows in one transaction; rows whose (symbol, timestamp) is stored are skipped.
    async fn ingest_learning(&self, rows: &Rows) -> Result<LearningIngest, StoreError>;
    /// Each trade entered in `[from, to]` and closed with a return by `to`, once, with the
    /// features of the latest discovery of its symbol at or before its entry — if that
    /// discovery is at or after `from` and at most `match_window` before the entry.
    async fn learning_pairs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        match_window: std::time::Duration,
    ) -> Result<Vec<Pair>, StoreError>;
    async fn learning_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<LearningCounts, StoreError>;
    /// `market_conditions.regime` of the latest discovery in `[from, to]` that has conditions.
    async fn latest_regime(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a computation; with `epoch` (a daemon), only while that epoch leads, checked
    /// in the same transaction, so a deposed leader's row never becomes the next `current`.
    async fn record_weights(
        &self,
        record: &WeightsRecord,
        epoch: Option<i64>,
    ) -> Result<(), StoreError>;
    /// The latest computation for `rollout` (by `computed_at`, then insertion order).
    async fn latest_weights(&self, rollout: &str) -> Result<Option<WeightsRecord>, StoreError>;
    /// The computations for `rollout` after `since`, and the latest at or before it (the
    /// weights in force at `since`), oldest first: what the rolling daily cap compares with.
    async fn weights_since(
        &self,
        rollout: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<WeightsRecord>, StoreError>;
}

/// The dashboard's series: the history by page, guardrail points and analysis snapshots.
/// Pages are newest first: rows with an id below `before` (all for `None`), at most `limit`.
#[async_trait]
pub trait SeriesStore: Send + Sync {
    async fn history_page(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// Every guardrail evaluation of a tick, as [`GuardrailStore::record_guardrails`] stored it.
    async fn guardrail_points(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<GuardrailPoint>, StoreError>;
    async fn analysis_snapshots(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AnalysisSnapshot>, StoreError>;
    /// Stores a look (its `id` is ignored) and returns its id.
    async fn record_snapshot(&self, snapshot: &AnalysisSnapshot) -> Result<i64, StoreError>;
    /// Keeps what one judgment computed, in one transaction: `latest` as the rollout's
    /// latest analysis; when the judgment changed the design's memory (`memory`: stage
    /// entry, new memory, whether the design took a look), that memory, and for a look
    /// `latest` as a snapshot. Returns the snapshot's id. With `epoch`, fenced: a deposed
    /// leader's judgment is refused ([`StoreError::Fenced`]).
    async fn record_judgment(
        &self,
        rollout: &str,
        latest: &LatestAnalysis,
        memory: Option<(StageEntry, &str, bool)>,
        epoch: Option<i64>,
    ) -> Result<Option<i64>, StoreError>;
    /// The latest analysis a judgment computed for `rollout`.
    async fn latest_analysis(&self, rollout: &str) -> Result<Option<LatestAnalysis>, StoreError>;
    /// Every rollout's latest analysis, in one read.
    async fn latest_analyses(&self) -> Result<BTreeMap<String, LatestAnalysis>, StoreError>;
    /// Thins the series of ended stages before `before` (retention): guardrail readings
    /// other than breaches, and analysis snapshots other than the last of each stage index.
    /// Returns the readings and the snapshots deleted.
    async fn thin_series(
        &self,
        rollout: &str,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError>;
}

/// The dashboard's panels beside the series: webhook deliveries and the learned weights.
/// Pages are newest first, as [`SeriesStore`]'s.
#[async_trait]
pub trait PanelStore: Send + Sync {
    /// A page of `rollout`'s webhook deliveries.
    async fn deliveries(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// A page of `rollout`'s weights history (its learned weights' computations).
    async fn weights_page(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WeightsPoint>, StoreError>;
    /// A page of the history rows of `rollout` that wrote flag `key`.
    async fn flag_writes(
        &self,
        rollout: &str,
        key: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WeightsFlagChange>, StoreError>;
}

/// Which rollouts got observations since the last look: how the leading daemon notices
/// another process's ingest where the database cannot notify (SQLite).
#[async_trait]
pub trait ArrivalStore: Send + Sync {
    /// The observations stored with an id above `after` (`None`: none, only the newest
    /// id): the newest id, and the rollouts they belong to. Ids grow with each commit on
    /// SQLite; on PostgreSQL a sequence may commit out of order, so there this is only a
    /// net under `NOTIFY`.
    async fn arrivals(&self, after: Option<i64>) -> Result<Arrivals, StoreError>;
}

/// What [`ArrivalStore::arrivals`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// The newest observation id seen (the next look's `after`); 0 with none stored.
    pub last_id: i64,
    /// The rollouts with observations above `after`, by name.
    pub rollouts: Vec<String>,
}

/// What the report and the shadow exit criteria read, and the errors and rejections they
/// count (see `rollout_core::shadow`).
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Stores errors a service reported for `rollout` in one transaction; returns how many.
    async fn record_service_errors(
        &self,
        rollout: &str,
        errors: &[ServiceError],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The errors reported for `rollout` with `at` in `[from, to]`, oldest first.
    async fn service_errors(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ServiceError>, StoreError>;
    /// Records learning rows refused at ingest.
    async fn record_rejections(&self, rejections: &[Rejection]) -> Result<(), StoreError>;
    async fn rejections(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Rejection>, StoreError>;
    /// Every learning record with its own time in `[from, to]`: discoveries and theses by
    /// their timestamps, trades by their entry.
    async fn learning_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Kind, DateTime<Utc>)>, StoreError>;
    /// [`LearningStore::learning_pairs`] with each discovery's time.
    async fn dated_pairs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        match_window: std::time::Duration,
    ) -> Result<Vec<DatedPair>, StoreError>;
    /// The weights-history rows of `rollout` computed in `[from, to]`, as runs.
    async fn analysis_runs(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AnalysisRun>, StoreError>;
    /// The latest computation of `rollout` at or before `at`.
    async fn weights_at(
        &self,
        rollout: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<WeightsRecord>, StoreError>;
    /// Guardrail readings with status `breach` in `[from, to]`, per guardrail.
    async fn guardrail_breaches(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, u64>, StoreError>;
    /// The verdict of the last look at stage `stage` taken in `[from, to]`.
    async fn last_verdict(
        &self,
        rollout: &str,
        stage: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Verdict>, StoreError>;
}

/// What an operator runs, never the daemon: backups (a consistent snapshot of rollout's
/// tables while the daemon writes, and loading one into an empty store) and the
/// least-privilege roles (PostgreSQL).
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// `postgres` or `sqlite`.
    fn backend_name(&self) -> &'static str;
    /// The last migration this release knows.
    fn latest_schema(&self) -> i64;
    /// Writes every row of rollout's tables, as of one snapshot, to `out`: one line per row,
    /// `{"table":"NAME","row":{COLUMN:VALUE,...}}`, table after table.
    async fn dump(&self, out: &mut (dyn std::io::Write + Send)) -> Result<Dumped, StoreError>;
    /// Loads rows as [`AdminStore::dump`] writes them, made at schema `schema_version`, in
    /// one transaction: the store is migrated up to that version, must hold no rollout data
    /// (unless `force`, which deletes it), gets the rows (identity counters follow), and is
    /// then migrated to this release's schema. Returns the rows loaded.
    async fn load(
        &self,
        schema_version: i64,
        lines: &mut (dyn Iterator<Item = std::io::Result<String>> + Send),
        force: bool,
    ) -> Result<u64, StoreError>;
    /// Migrates the store, then creates (if missing) the least-privilege roles named with
    /// `prefix` and grants each exactly what it needs (`roles::statements`). PostgreSQL only.
    async fn apply_roles(&self, prefix: &str) -> Result<(), StoreError>;
}

/// What a dump wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumped {
    /// The last migration applied to the source.
    pub schema_version: i64,
    pub flags_version: i64,
    pub tables: Vec<rollout_core::backup::TableRows>,
}

/// Every capability: what `open` returns and what most callers hold (`&dyn Store`).
pub trait Store:
    AdminStore
    + StateStore
    + ObservationStore
    + ArrivalStore
    + GuardrailStore
    + OutboxStore
    + LearningStore
    + SeriesStore
    + PanelStore
    + ReportStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: AdminStore
        + StateStore
        + ObservationStore
        + ArrivalStore
        + GuardrailStore
        + OutboxStore
        + LearningStore
        + SeriesStore
        + PanelStore
        + PanelStore
        + ReportStore
        + Send
        + Sync
{
}
