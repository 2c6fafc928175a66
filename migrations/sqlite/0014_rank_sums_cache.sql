-- Same logical shape as migrations/postgres/0014; timestamps are RFC 3339 text.
-- The rank test's sums of a stage entry's metric, as the last judgment computed them from
-- `unit_value_bins`, with the observation count (from `unit_moments`) of the state they
-- were computed for. Every ingest batch that moves a bin adds observations in the same
-- transaction, so an equal count means unchanged bins: a judgment with no new data reads
-- two small rows instead of the whole histogram. A cache: deleting it loses nothing.
CREATE TABLE unit_rank_cache (
    rollout          TEXT NOT NULL,
    stage            INTEGER NOT NULL,
    stage_entered_at TEXT NOT NULL,
    metric           TEXT NOT NULL,
    per_unit         TEXT NOT NULL,
    observations     INTEGER NOT NULL,
    n_a              INTEGER NOT NULL,
    n_b              INTEGER NOT NULL,
    rank_sum_a       REAL NOT NULL,
    tie_term         REAL NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, per_unit)
);
