-- What a shadow stage measures beyond the learning tables (issue 14, part 1): errors that
-- services report about the learning system, and learning rows refused at ingest.

-- One row per reported error (`POST /v1/rollouts/{name}/errors`, `rollout errors`).
CREATE TABLE rollout_service_errors (
    id          BIGSERIAL PRIMARY KEY,
    rollout     TEXT NOT NULL,
    unit        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rollout_service_errors_at ON rollout_service_errors (rollout, at);

-- Learning rows refused at ingest: bad input (one row per problem) or already stored.
CREATE TABLE learning.ingest_rejections (
    id     BIGSERIAL PRIMARY KEY,
    kind   TEXT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    row_count BIGINT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX ingest_rejections_at ON learning.ingest_rejections (at);
