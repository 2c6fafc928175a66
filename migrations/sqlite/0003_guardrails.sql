-- Same logical shape as migrations/postgres; timestamps are RFC 3339 text.
-- Guardrail windows read observations by time; silence is measured on arrival.
CREATE INDEX observations_window ON observations (rollout, metric, observed_at);
CREATE INDEX observations_arrival ON observations (rollout, ingested_at);

-- The last reading of each guardrail, and how many breaches in a row it has seen.
CREATE TABLE guardrail_status (
    rollout       TEXT NOT NULL,
    guardrail     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'breach', 'insufficient_data', 'error')),
    consecutive   INTEGER NOT NULL,
    value         REAL,
    control_value REAL,
    n             INTEGER NOT NULL,
    detail        TEXT NOT NULL,
    evaluated_at  TEXT NOT NULL,
    PRIMARY KEY (rollout, guardrail)
);

-- Webhook deliveries, written in the same transaction as the history row they announce.
CREATE TABLE rollout_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL,
    rollout         TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    delivered_at    TEXT
);
CREATE INDEX rollout_outbox_pending ON rollout_outbox (url, id) WHERE delivered_at IS NULL;
