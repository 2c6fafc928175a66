//! rollout's own tables, as backups copy them (in this order) and the least-privilege roles
//! are granted them. A test compares each backend's list with the tables its migrations
//! create (`_sqlx_migrations` is the schema's, rebuilt by migrating).

use std::sync::LazyLock;

/// The tables both databases have under one name.
const COMMON: &[&str] = &[
    "rollout_flags",
    "rollout_flags_version",
    "rollout_state",
    "rollout_events",
    "rollout_leader",
    "rollout_config",
    "rollout_holds",
    "rollout_outbox",
    "observations",
    "observation_sums",
    "observation_units",
    "observation_unit_counts",
    "unit_values",
    "unit_moments",
    "unit_exposures",
    "exposure_counts",
    "analysis_memory",
    "analysis_snapshots",
    "analysis_latest",
    "metric_buckets",
    "unit_value_anchors",
    "unit_value_bins",
    "unit_rank_cache",
    "observation_marks",
    "aggregate_rebuilds",
    "guardrail_status",
    "guardrail_readings",
    "rollout_service_errors",
];

/// rollout's tables on PostgreSQL: the learning tables in their own schema.
pub(crate) static PG_TABLES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    [
        COMMON,
        &[
            "learning.discovery_decisions",
            "learning.thesis_decisions",
            "learning.trade_outcomes",
            "learning.weights_history",
            "learning.ingest_rejections",
        ],
    ]
    .concat()
});

/// rollout's tables on SQLite: the learning tables without a schema.
pub(crate) static SQLITE_TABLES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    [
        COMMON,
        &[
            "discovery_decisions",
            "thesis_decisions",
            "trade_outcomes",
            "learning_weights_history",
            "learning_ingest_rejections",
        ],
    ]
    .concat()
});
