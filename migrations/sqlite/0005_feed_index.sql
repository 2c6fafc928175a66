-- The change feed (GET /v1/flags/stream) reads the history by flags version.
CREATE INDEX rollout_events_flags_version ON rollout_events (flags_version, id);
