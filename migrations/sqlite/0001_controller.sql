-- Same logical shape as migrations/postgres; timestamps are RFC 3339 text.
CREATE TABLE rollout_flags (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    rollout    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX rollout_flags_rollout ON rollout_flags (rollout);

CREATE TABLE rollout_flags_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO rollout_flags_version (id, version) VALUES (1, 0);

CREATE TABLE rollout_state (
    rollout          TEXT PRIMARY KEY,
    stage_index      INTEGER NOT NULL,
    stage_label      TEXT NOT NULL,
    stage_entered_at TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'paused', 'blocked', 'rolled_back', 'completed')),
    reason           TEXT,
    paused_at        TEXT,
    paused_ms        INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE rollout_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout       TEXT NOT NULL,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    from_stage    INTEGER,
    to_stage      INTEGER NOT NULL,
    from_status   TEXT,
    to_status     TEXT NOT NULL,
    state_version INTEGER NOT NULL,
    flags_version INTEGER NOT NULL,
    flags         TEXT NOT NULL
);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout, id);

CREATE TRIGGER rollout_events_no_update BEFORE UPDATE ON rollout_events
BEGIN
    SELECT RAISE(ABORT, 'rollout_events is append-only');
END;
CREATE TRIGGER rollout_events_no_delete BEFORE DELETE ON rollout_events
BEGIN
    SELECT RAISE(ABORT, 'rollout_events is append-only');
END;

CREATE TABLE rollout_leader (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    epoch       INTEGER NOT NULL,
    holder      TEXT,
    acquired_at TEXT
);
INSERT INTO rollout_leader (id, epoch) VALUES (1, 0);
