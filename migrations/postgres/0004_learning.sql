-- The learning module's data, in its own schema (the plan's tables), and the weights history.
CREATE SCHEMA IF NOT EXISTS learning;

CREATE TABLE learning.discovery_decisions (
    id                  BIGSERIAL PRIMARY KEY,
    symbol              VARCHAR(10) NOT NULL,
    discovery_timestamp TIMESTAMPTZ NOT NULL,
    discovery_features  JSONB NOT NULL,
    discovery_score     DOUBLE PRECISION NOT NULL,
    action_tag          VARCHAR(20) NOT NULL,
    market_conditions   JSONB,
    universe_size       INTEGER,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A re-delivered discovery is skipped, not counted twice.
    UNIQUE (symbol, discovery_timestamp)
);
CREATE INDEX discovery_decisions_time ON learning.discovery_decisions (discovery_timestamp);

CREATE TABLE learning.thesis_decisions (
    id               BIGSERIAL PRIMARY KEY,
    symbol           VARCHAR(10) NOT NULL,
    thesis_timestamp TIMESTAMPTZ NOT NULL,
    recommendation   VARCHAR(20) NOT NULL,
    confidence_score DOUBLE PRECISION NOT NULL,
    thesis_text      TEXT,
    reasoning        JSONB,
    ai_generated     BOOLEAN NOT NULL DEFAULT FALSE,
    market_regime    VARCHAR(20),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (symbol, thesis_timestamp)
);

CREATE TABLE learning.trade_outcomes (
    id                      BIGSERIAL PRIMARY KEY,
    symbol                  VARCHAR(10) NOT NULL,
    entry_timestamp         TIMESTAMPTZ NOT NULL,
    exit_timestamp          TIMESTAMPTZ,
    entry_price             DOUBLE PRECISION NOT NULL,
    exit_price              DOUBLE PRECISION,
    position_size_pct       DOUBLE PRECISION,
    return_pct              DOUBLE PRECISION,
    holding_period_days     INTEGER,
    max_favorable_excursion DOUBLE PRECISION,
    max_adverse_excursion   DOUBLE PRECISION,
    exit_reason             VARCHAR(50),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Also the index of the pairing join: a symbol's trades in entry order.
    UNIQUE (symbol, entry_timestamp)
);
CREATE INDEX trade_outcomes_exit ON learning.trade_outcomes (exit_timestamp);

-- Every weights computation, published or not.
CREATE TABLE learning.weights_history (
    id            BIGSERIAL PRIMARY KEY,
    rollout       TEXT NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL,
    current       JSONB NOT NULL,
    suggested     JSONB NOT NULL,
    final_weights JSONB NOT NULL,
    fallback      BOOLEAN NOT NULL,
    reason        TEXT NOT NULL,
    confidence    DOUBLE PRECISION,
    sample_size   BIGINT NOT NULL,
    regime        TEXT,
    inputs        JSONB NOT NULL
);
CREATE INDEX weights_history_rollout ON learning.weights_history (rollout, computed_at, id);

-- The published weights (JSON text) are part of the rollout's state: flags follow state.
ALTER TABLE rollout_state ADD COLUMN weights TEXT;
