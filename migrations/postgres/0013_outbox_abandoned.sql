-- A webhook row whose URL left the rollout's `notify` (or whose rollout left the config)
-- is abandoned rather than retried for ever: when, and why in `last_error`.
ALTER TABLE rollout_outbox ADD COLUMN abandoned_at TIMESTAMPTZ;
