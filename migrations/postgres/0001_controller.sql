-- The flags trading services read: one row per flag.
CREATE TABLE rollout_flags (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    rollout    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX rollout_flags_rollout ON rollout_flags (rollout);

-- The table-wide flag version: grows by one with every committed flag change.
CREATE TABLE rollout_flags_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO rollout_flags_version (id, version) VALUES (1, 0);

CREATE TABLE rollout_state (
    rollout          TEXT PRIMARY KEY,
    stage_index      BIGINT NOT NULL,
    stage_label      TEXT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'paused', 'blocked', 'rolled_back', 'completed')),
    reason           TEXT,
    paused_at        TIMESTAMPTZ,
    paused_ms        BIGINT NOT NULL DEFAULT 0,
    version          BIGINT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE rollout_events (
    id            BIGSERIAL PRIMARY KEY,
    rollout       TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    from_stage    BIGINT,
    to_stage      BIGINT NOT NULL,
    from_status   TEXT,
    to_status     TEXT NOT NULL,
    state_version BIGINT NOT NULL,
    flags_version BIGINT NOT NULL,
    -- The flags this change wrote: key -> new value, or null for a removed key.
    flags         JSONB NOT NULL
);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout, id);

CREATE FUNCTION rollout_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rollout_events is append-only';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER rollout_events_append_only BEFORE UPDATE OR DELETE ON rollout_events
    FOR EACH ROW EXECUTE FUNCTION rollout_events_append_only();

-- The leader's epoch: every daemon write checks it, so a deposed leader cannot write.
CREATE TABLE rollout_leader (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    epoch       BIGINT NOT NULL,
    holder      TEXT,
    acquired_at TIMESTAMPTZ
);
INSERT INTO rollout_leader (id, epoch) VALUES (1, 0);
