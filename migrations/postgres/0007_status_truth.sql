-- Liveness: when the leader last finished an evaluation pass, and how often it ticks
-- (NULL for a one-off `rollout tick`). Written by the leader after each pass, fenced by
-- its epoch.
ALTER TABLE rollout_leader ADD COLUMN last_tick_at TIMESTAMPTZ;
ALTER TABLE rollout_leader ADD COLUMN tick_interval_secs BIGINT;

-- Why a pending rollout (which has no state row) has not started: the safety check that
-- failed on its last tick. Deleted in the transaction that starts the rollout.
CREATE TABLE rollout_holds (
    rollout    TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    since      TIMESTAMPTZ NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL
);
