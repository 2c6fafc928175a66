-- Guardrail windows read observations by time; silence is measured on arrival.
CREATE INDEX observations_window ON observations (rollout, metric, observed_at);
CREATE INDEX observations_arrival ON observations (rollout, ingested_at);

-- The last reading of each guardrail, and how many breaches in a row it has seen.
CREATE TABLE guardrail_status (
    rollout       TEXT NOT NULL,
    guardrail     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'breach', 'insufficient_data', 'error')),
    consecutive   BIGINT NOT NULL,
    value         DOUBLE PRECISION,
    control_value DOUBLE PRECISION,
    n             BIGINT NOT NULL,
    detail        TEXT NOT NULL,
    evaluated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rollout, guardrail)
);

-- Webhook deliveries, written in the same transaction as the history row they announce.
CREATE TABLE rollout_outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT NOT NULL,
    rollout         TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX rollout_outbox_pending ON rollout_outbox (url, id) WHERE delivered_at IS NULL;
