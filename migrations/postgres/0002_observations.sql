-- A/B observations: one row per (unit, metric) measurement.
CREATE TABLE observations (
    id          BIGSERIAL PRIMARY KEY,
    rollout     TEXT NOT NULL,
    variant     TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    unit        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    event_id    TEXT,
    ingested_at TIMESTAMPTZ NOT NULL
);
-- Re-delivered events (same event_id) are ignored; NULL event ids never conflict.
CREATE UNIQUE INDEX observations_event ON observations (rollout, event_id);
-- The rank test orders one metric's values.
CREATE INDEX observations_metric_value ON observations (rollout, metric, value);

-- Sufficient statistics, maintained in the same transaction as the rows they summarise.
CREATE TABLE observation_sums (
    rollout TEXT NOT NULL,
    metric  TEXT NOT NULL,
    variant TEXT NOT NULL,
    n       BIGINT NOT NULL,
    sum     DOUBLE PRECISION NOT NULL,
    sum_sq  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rollout, metric, variant)
);

-- The variant each unit was first observed in, and the unit count per variant (for SRM).
CREATE TABLE observation_units (
    rollout    TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rollout, unit)
);
CREATE TABLE observation_unit_counts (
    rollout TEXT NOT NULL,
    variant TEXT NOT NULL,
    units   BIGINT NOT NULL,
    PRIMARY KEY (rollout, variant)
);
