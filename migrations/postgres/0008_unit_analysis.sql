-- The unit is the unit of analysis (issue "trustworthy verdicts").
--
-- Every observation is placed, at ingest, in the stage entry in force when it was observed
-- (the stage and when it was entered): a restarted rollout's A/B stage starts from nothing,
-- and rows of other stages never reach an A/B arm. NULL: observed while no stage exposed
-- units (pending, rolled back), or ingested before this migration and not backfilled.
ALTER TABLE observations ADD COLUMN stage BIGINT;
ALTER TABLE observations ADD COLUMN stage_entered_at TIMESTAMPTZ;
CREATE INDEX observations_entry ON observations (rollout, stage, stage_entered_at, metric);

-- When the state a history row wrote entered its stage (exact, so that the history can
-- name stage entries); NULL in rows written before this migration.
ALTER TABLE rollout_events ADD COLUMN stage_entered_at TIMESTAMPTZ;

-- One value per (entry, metric, variant, unit): the count and the running (Welford) mean
-- of the unit's observations. Its value is the mean (per_unit: mean) or n × mean (sum).
CREATE TABLE unit_values (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    metric           TEXT NOT NULL,
    variant          TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    unit             TEXT NOT NULL,
    n                BIGINT NOT NULL,
    mean             DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, variant, unit)
);

-- The moments of the unit values per (entry, metric, variant), for both per_unit kinds:
-- units, the observations behind them, units with a non-zero value, mean and M2 (Chan /
-- Welford), maintained in the transaction that stores the observations.
CREATE TABLE unit_moments (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    metric           TEXT NOT NULL,
    variant          TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    per_unit         TEXT NOT NULL CHECK (per_unit IN ('mean', 'sum')),
    units            BIGINT NOT NULL,
    observations     BIGINT NOT NULL,
    events           BIGINT NOT NULL,
    mean             DOUBLE PRECISION NOT NULL,
    m2               DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, metric, variant, per_unit)
);

-- The variants each unit of an entry was observed in (bit 1 control, bit 2 treatment), and
-- per entry the units per variant and the units seen in both (multiple exposures).
CREATE TABLE unit_exposures (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    unit             TEXT NOT NULL,
    variants         BIGINT NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at, unit)
);
CREATE TABLE exposure_counts (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    control          BIGINT NOT NULL,
    treatment        BIGINT NOT NULL,
    multiple         BIGINT NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at)
);

-- The A/B design's memory across looks (JSON), per stage entry.
CREATE TABLE analysis_memory (
    rollout          TEXT NOT NULL,
    stage            BIGINT NOT NULL,
    stage_entered_at TIMESTAMPTZ NOT NULL,
    memory           TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rollout, stage, stage_entered_at)
);

-- Leadership is a lease in this row (issue "hardening"): the holder renews it; a standby
-- takes over once it has expired, with a new epoch. NULL: free.
ALTER TABLE rollout_leader ADD COLUMN lease_until TIMESTAMPTZ;

-- Backfill: rows ingested before this migration, observed since their rollout entered its
-- current stage, belong to that entry (their variant as stored).
UPDATE observations o SET stage = s.stage_index, stage_entered_at = s.stage_entered_at
FROM rollout_state s
WHERE s.rollout = o.rollout AND o.observed_at >= s.stage_entered_at
  AND s.status NOT IN ('rolled_back');

INSERT INTO unit_values (rollout, stage, stage_entered_at, metric, variant, unit, n, mean)
SELECT rollout, stage, stage_entered_at, metric, variant, unit, COUNT(*), AVG(value)
FROM observations WHERE stage IS NOT NULL
GROUP BY rollout, stage, stage_entered_at, metric, variant, unit;

INSERT INTO unit_moments (rollout, stage, stage_entered_at, metric, variant, per_unit, units,
                          observations, events, mean, m2)
SELECT u.rollout, u.stage, u.stage_entered_at, u.metric, u.variant, k.per_unit, COUNT(*),
       SUM(u.n), SUM(CASE WHEN u.mean <> 0 THEN 1 ELSE 0 END),
       AVG(CASE WHEN k.per_unit = 'mean' THEN u.mean ELSE u.mean * u.n END),
       0
FROM unit_values u CROSS JOIN (SELECT 'mean' AS per_unit UNION ALL SELECT 'sum') k
GROUP BY u.rollout, u.stage, u.stage_entered_at, u.metric, u.variant, k.per_unit;

UPDATE unit_moments m SET m2 = d.m2
FROM (SELECT u.rollout, u.stage, u.stage_entered_at, u.metric, u.variant, g.per_unit,
             SUM(POWER((CASE WHEN g.per_unit = 'mean' THEN u.mean ELSE u.mean * u.n END) - g.mean, 2)) AS m2
      FROM unit_values u JOIN unit_moments g
        ON g.rollout = u.rollout AND g.stage = u.stage AND g.stage_entered_at = u.stage_entered_at
       AND g.metric = u.metric AND g.variant = u.variant
      GROUP BY u.rollout, u.stage, u.stage_entered_at, u.metric, u.variant, g.per_unit) d
WHERE m.rollout = d.rollout AND m.stage = d.stage AND m.stage_entered_at = d.stage_entered_at
  AND m.metric = d.metric AND m.variant = d.variant AND m.per_unit = d.per_unit;

INSERT INTO unit_exposures (rollout, stage, stage_entered_at, unit, variants)
SELECT rollout, stage, stage_entered_at, unit,
       MAX(CASE WHEN variant = 'control' THEN 1 ELSE 0 END) + MAX(CASE WHEN variant = 'treatment' THEN 2 ELSE 0 END)
FROM observations WHERE stage IS NOT NULL
GROUP BY rollout, stage, stage_entered_at, unit;

INSERT INTO exposure_counts (rollout, stage, stage_entered_at, control, treatment, multiple)
SELECT rollout, stage, stage_entered_at,
       SUM(CASE WHEN variants IN (1, 3) THEN 1 ELSE 0 END),
       SUM(CASE WHEN variants IN (2, 3) THEN 1 ELSE 0 END),
       SUM(CASE WHEN variants = 3 THEN 1 ELSE 0 END)
FROM unit_exposures GROUP BY rollout, stage, stage_entered_at;
