-- Same logical shape as migrations/postgres/0011; timestamps are RFC 3339 text.
-- What a shadow stage measures beyond the learning tables (issue 14, part 1): errors that
-- services report about the learning system, and learning rows refused at ingest.

CREATE TABLE rollout_service_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout     TEXT NOT NULL,
    unit        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    at          TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX rollout_service_errors_at ON rollout_service_errors (rollout, at);

CREATE TABLE learning_ingest_rejections (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    at     TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX learning_ingest_rejections_at ON learning_ingest_rejections (at);
