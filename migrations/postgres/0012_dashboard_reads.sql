-- The dashboard's reads without computation (issues 13 and 15).

-- The latest A/B analysis each judgment computed, one row per rollout: what
-- GET /v1/rollouts/{name}, the dashboard and /metrics show (no read runs the analysis).
CREATE TABLE analysis_latest (
    rollout     TEXT PRIMARY KEY,
    stage_index BIGINT NOT NULL,
    verdict     TEXT NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    analysis    JSONB NOT NULL
);

-- A rollout's webhook deliveries, newest first (the dashboard's panel).
CREATE INDEX rollout_outbox_rollout ON rollout_outbox (rollout, id);

-- Retention thins the series of ended stages by time.
CREATE INDEX guardrail_readings_time ON guardrail_readings (rollout, evaluated_at);
CREATE INDEX analysis_snapshots_time ON analysis_snapshots (rollout, taken_at);
