-- Same logical shape as migrations/postgres/0004, as plain tables; JSON and timestamps
-- (RFC 3339, UTC) are text.
CREATE TABLE discovery_decisions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol              TEXT NOT NULL,
    discovery_timestamp TEXT NOT NULL,
    discovery_features  TEXT NOT NULL,
    discovery_score     REAL NOT NULL,
    action_tag          TEXT NOT NULL,
    market_conditions   TEXT,
    universe_size       INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (symbol, discovery_timestamp)
);
CREATE INDEX discovery_decisions_time ON discovery_decisions (discovery_timestamp);

CREATE TABLE thesis_decisions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol           TEXT NOT NULL,
    thesis_timestamp TEXT NOT NULL,
    recommendation   TEXT NOT NULL,
    confidence_score REAL NOT NULL,
    thesis_text      TEXT,
    reasoning        TEXT,
    ai_generated     INTEGER NOT NULL DEFAULT 0,
    market_regime    TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (symbol, thesis_timestamp)
);

CREATE TABLE trade_outcomes (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol                  TEXT NOT NULL,
    entry_timestamp         TEXT NOT NULL,
    exit_timestamp          TEXT,
    entry_price             REAL NOT NULL,
    exit_price              REAL,
    position_size_pct       REAL,
    return_pct              REAL,
    holding_period_days     INTEGER,
    max_favorable_excursion REAL,
    max_adverse_excursion   REAL,
    exit_reason             TEXT,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (symbol, entry_timestamp)
);
CREATE INDEX trade_outcomes_exit ON trade_outcomes (exit_timestamp);

CREATE TABLE learning_weights_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout       TEXT NOT NULL,
    computed_at   TEXT NOT NULL,
    current       TEXT NOT NULL,
    suggested     TEXT NOT NULL,
    final_weights TEXT NOT NULL,
    fallback      INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    confidence    REAL,
    sample_size   INTEGER NOT NULL,
    regime        TEXT,
    inputs        TEXT NOT NULL
);
CREATE INDEX learning_weights_history_rollout ON learning_weights_history (rollout, computed_at, id);

ALTER TABLE rollout_state ADD COLUMN weights TEXT;
