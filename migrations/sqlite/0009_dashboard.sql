-- Same logical shape as migrations/postgres/0009; timestamps are RFC 3339 text.
-- The dashboard's time series (issue 13). Numbered 0009: 0008 is the A/B statistics rework.
-- Both tables are kept with their rollout (rollouts are never deleted; a deletion would
-- delete these rows by `rollout`).

-- One row per guardrail evaluation of a tick (guardrail_status keeps only the last one).
CREATE TABLE guardrail_readings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout       TEXT NOT NULL,
    guardrail     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'breach', 'insufficient_data', 'error')),
    consecutive   INTEGER NOT NULL,
    value         REAL,
    control_value REAL,
    n             INTEGER NOT NULL,
    detail        TEXT NOT NULL,
    evaluated_at  TEXT NOT NULL
);
CREATE INDEX guardrail_readings_rollout ON guardrail_readings (rollout, id);

-- One A/B analysis per look: the engine's `Analysis` as JSON, its verdict, and the stage.
CREATE TABLE analysis_snapshots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout     TEXT NOT NULL,
    stage_index INTEGER NOT NULL,
    verdict     TEXT NOT NULL,
    taken_at    TEXT NOT NULL,
    analysis    TEXT NOT NULL
);
CREATE INDEX analysis_snapshots_rollout ON analysis_snapshots (rollout, id);
