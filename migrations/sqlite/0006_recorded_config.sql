-- Same logical shape as migrations/postgres; timestamps are RFC 3339 text.
-- The configuration the controller last acted on, so that manual actions (rollback above
-- all) still work when rollout.yaml is broken or missing. One row, replaced when it changes.
CREATE TABLE rollout_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    content     TEXT NOT NULL,
    hash        TEXT NOT NULL,
    source      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
