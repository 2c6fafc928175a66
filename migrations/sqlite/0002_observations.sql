-- Same logical shape as migrations/postgres/0002; timestamps are RFC 3339 text.
-- A/B observations: one row per (unit, metric) measurement.
CREATE TABLE observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout     TEXT NOT NULL,
    variant     TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    unit        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       REAL NOT NULL,
    observed_at TEXT NOT NULL,
    event_id    TEXT,
    ingested_at TEXT NOT NULL
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
    n       INTEGER NOT NULL,
    sum     REAL NOT NULL,
    sum_sq  REAL NOT NULL,
    PRIMARY KEY (rollout, metric, variant)
);

-- The variant each unit was first observed in, and the unit count per variant (for SRM).
CREATE TABLE observation_units (
    rollout    TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (rollout, unit)
);
CREATE TABLE observation_unit_counts (
    rollout TEXT NOT NULL,
    variant TEXT NOT NULL,
    units   INTEGER NOT NULL,
    PRIMARY KEY (rollout, variant)
);
