-- Judging at any scale (issue 11): everything a judgment reads is maintained at ingest, so
-- that its cost does not grow with the stored observations.

-- One metric's observations of one variant per stage entry and minute (`bucket_start`, the
-- observed_at truncated to the minute): count, non-zero count, mean and M2 (Welford/Chan),
-- min, max, and the quantile sketch (see rollout_core::stats::Sketch: 1 % relative accuracy).
-- A guardrail's window reads its buckets: O(buckets), never the rows.
CREATE TABLE metric_buckets (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    metric           TEXT NOT NULL,
    variant          TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    bucket_start     TIMESTAMPTZ NOT NULL,
    n                BIGINT NOT NULL,
    nonzero          BIGINT NOT NULL,
    mean             DOUBLE PRECISION NOT NULL,
    m2               DOUBLE PRECISION NOT NULL,
    sketch           BYTEA NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, variant, bucket_start)
);

-- The rank test's histogram of the unit values per (entry, metric, per_unit kind): units per
-- variant in each bin of the distance from the group's anchor (its first unit value), bins
-- log-spaced with relative width 1e-4 (rollout_core::experiment::RankBins; equal values
-- share a bin, and values near 1e9 are binned by their spread, not their magnitude). A unit
-- whose value changes moves from its old bin to its new one.
CREATE TABLE unit_value_anchors (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    metric           TEXT NOT NULL,
    per_unit         TEXT NOT NULL CHECK (per_unit IN ('mean', 'sum')),
    anchor           DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, per_unit)
);
CREATE TABLE unit_value_bins (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    metric           TEXT NOT NULL,
    per_unit         TEXT NOT NULL CHECK (per_unit IN ('mean', 'sum')),
    bin              BIGINT NOT NULL,
    control          BIGINT NOT NULL,
    treatment        BIGINT NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, per_unit, bin)
);

-- Per rollout: when rows were last ingested (max_silence), and the raw rows compacted away:
-- rows observed before `compacted_before` are summarised only (their aggregates are kept);
-- `compacted_at`: when compaction last ran.
CREATE TABLE observation_marks (
    rollout          TEXT PRIMARY KEY,
    last_ingested_at TIMESTAMPTZ,
    compacted_before TIMESTAMPTZ,
    compacted_at     TIMESTAMPTZ
);
INSERT INTO observation_marks (rollout, last_ingested_at)
    SELECT rollout, MAX(ingested_at) FROM observations GROUP BY rollout;

-- Aggregates the store rebuilds from the stored rows once, in Rust, after migrating (the
-- sketches and bins are computed as ingest computes them). Deleted when done.
CREATE TABLE aggregate_rebuilds (name TEXT PRIMARY KEY);
INSERT INTO aggregate_rebuilds (name) VALUES ('metric_buckets'), ('unit_value_bins');

-- The rank test no longer reads the rows: its index goes (one index less to maintain at
-- ingest).
DROP INDEX observations_metric_value;

-- Ingest looks up a batch's units with `unit = ANY(...)` (an IN list). With the unit last in
-- the primary key, a planner whose statistics lag (a large load in one transaction) filters
-- the whole entry instead of probing the index per unit: quadratic. With the unit first,
-- every plan probes.
ALTER TABLE unit_values DROP CONSTRAINT unit_values_pkey,
    ADD CONSTRAINT unit_values_pkey PRIMARY KEY (unit, rollout, stage, stage_entered_at, metric, variant);
ALTER TABLE unit_exposures DROP CONSTRAINT unit_exposures_pkey,
    ADD CONSTRAINT unit_exposures_pkey PRIMARY KEY (unit, rollout, stage, stage_entered_at);
