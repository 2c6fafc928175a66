-- Made by tests/data/upgrade/make-fixtures with this release's migrations:
-- pg_dump --no-owner --no-privileges --inserts
--
-- PostgreSQL database dump
--

\restrict fVJDbusBcDC0NEM9vzRWL5JwzrJeNirD6ERm9sFsV0IZIBn91H9F9ytKzdYPgPa

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: learning; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA learning;


--
-- Name: rollout_events_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.rollout_events_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'rollout_events is append-only';
END
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: discovery_decisions; Type: TABLE; Schema: learning; Owner: -
--

CREATE TABLE learning.discovery_decisions (
    id bigint NOT NULL,
    symbol character varying(10) NOT NULL,
    discovery_timestamp timestamp with time zone NOT NULL,
    discovery_features jsonb NOT NULL,
    discovery_score double precision NOT NULL,
    action_tag character varying(20) NOT NULL,
    market_conditions jsonb,
    universe_size integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: discovery_decisions_id_seq; Type: SEQUENCE; Schema: learning; Owner: -
--

CREATE SEQUENCE learning.discovery_decisions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: discovery_decisions_id_seq; Type: SEQUENCE OWNED BY; Schema: learning; Owner: -
--

ALTER SEQUENCE learning.discovery_decisions_id_seq OWNED BY learning.discovery_decisions.id;


--
-- Name: thesis_decisions; Type: TABLE; Schema: learning; Owner: -
--

CREATE TABLE learning.thesis_decisions (
    id bigint NOT NULL,
    symbol character varying(10) NOT NULL,
    thesis_timestamp timestamp with time zone NOT NULL,
    recommendation character varying(20) NOT NULL,
    confidence_score double precision NOT NULL,
    thesis_text text,
    reasoning jsonb,
    ai_generated boolean DEFAULT false NOT NULL,
    market_regime character varying(20),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: thesis_decisions_id_seq; Type: SEQUENCE; Schema: learning; Owner: -
--

CREATE SEQUENCE learning.thesis_decisions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: thesis_decisions_id_seq; Type: SEQUENCE OWNED BY; Schema: learning; Owner: -
--

ALTER SEQUENCE learning.thesis_decisions_id_seq OWNED BY learning.thesis_decisions.id;


--
-- Name: trade_outcomes; Type: TABLE; Schema: learning; Owner: -
--

CREATE TABLE learning.trade_outcomes (
    id bigint NOT NULL,
    symbol character varying(10) NOT NULL,
    entry_timestamp timestamp with time zone NOT NULL,
    exit_timestamp timestamp with time zone,
    entry_price double precision NOT NULL,
    exit_price double precision,
    position_size_pct double precision,
    return_pct double precision,
    holding_period_days integer,
    max_favorable_excursion double precision,
    max_adverse_excursion double precision,
    exit_reason character varying(50),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: trade_outcomes_id_seq; Type: SEQUENCE; Schema: learning; Owner: -
--

CREATE SEQUENCE learning.trade_outcomes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trade_outcomes_id_seq; Type: SEQUENCE OWNED BY; Schema: learning; Owner: -
--

ALTER SEQUENCE learning.trade_outcomes_id_seq OWNED BY learning.trade_outcomes.id;


--
-- Name: weights_history; Type: TABLE; Schema: learning; Owner: -
--

CREATE TABLE learning.weights_history (
    id bigint NOT NULL,
    rollout text NOT NULL,
    computed_at timestamp with time zone NOT NULL,
    current jsonb NOT NULL,
    suggested jsonb NOT NULL,
    final_weights jsonb NOT NULL,
    fallback boolean NOT NULL,
    reason text NOT NULL,
    confidence double precision,
    sample_size bigint NOT NULL,
    regime text,
    inputs jsonb NOT NULL
);


--
-- Name: weights_history_id_seq; Type: SEQUENCE; Schema: learning; Owner: -
--

CREATE SEQUENCE learning.weights_history_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: weights_history_id_seq; Type: SEQUENCE OWNED BY; Schema: learning; Owner: -
--

ALTER SEQUENCE learning.weights_history_id_seq OWNED BY learning.weights_history.id;


--
-- Name: _sqlx_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public._sqlx_migrations (
    version bigint NOT NULL,
    description text NOT NULL,
    installed_on timestamp with time zone DEFAULT now() NOT NULL,
    success boolean NOT NULL,
    checksum bytea NOT NULL,
    execution_time bigint NOT NULL
);


--
-- Name: guardrail_status; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.guardrail_status (
    rollout text NOT NULL,
    guardrail text NOT NULL,
    status text NOT NULL,
    consecutive bigint NOT NULL,
    value double precision,
    control_value double precision,
    n bigint NOT NULL,
    detail text NOT NULL,
    evaluated_at timestamp with time zone NOT NULL,
    CONSTRAINT guardrail_status_status_check CHECK ((status = ANY (ARRAY['ok'::text, 'breach'::text, 'insufficient_data'::text, 'error'::text])))
);


--
-- Name: observation_sums; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.observation_sums (
    rollout text NOT NULL,
    metric text NOT NULL,
    variant text NOT NULL,
    n bigint NOT NULL,
    sum double precision NOT NULL,
    sum_sq double precision NOT NULL
);


--
-- Name: observation_unit_counts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.observation_unit_counts (
    rollout text NOT NULL,
    variant text NOT NULL,
    units bigint NOT NULL
);


--
-- Name: observation_units; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.observation_units (
    rollout text NOT NULL,
    unit text NOT NULL,
    variant text NOT NULL,
    first_seen timestamp with time zone NOT NULL
);


--
-- Name: observations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.observations (
    id bigint NOT NULL,
    rollout text NOT NULL,
    variant text NOT NULL,
    unit text NOT NULL,
    metric text NOT NULL,
    value double precision NOT NULL,
    observed_at timestamp with time zone NOT NULL,
    event_id text,
    ingested_at timestamp with time zone NOT NULL,
    CONSTRAINT observations_variant_check CHECK ((variant = ANY (ARRAY['control'::text, 'treatment'::text])))
);


--
-- Name: observations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.observations_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: observations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.observations_id_seq OWNED BY public.observations.id;


--
-- Name: rollout_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_events (
    id bigint NOT NULL,
    rollout text NOT NULL,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    reason text NOT NULL,
    from_stage bigint,
    to_stage bigint NOT NULL,
    from_status text,
    to_status text NOT NULL,
    state_version bigint NOT NULL,
    flags_version bigint NOT NULL,
    flags jsonb NOT NULL
);


--
-- Name: rollout_events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rollout_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rollout_events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rollout_events_id_seq OWNED BY public.rollout_events.id;


--
-- Name: rollout_flags; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_flags (
    key text NOT NULL,
    value text NOT NULL,
    rollout text NOT NULL,
    version bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    updated_by text NOT NULL,
    reason text NOT NULL
);


--
-- Name: rollout_flags_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_flags_version (
    id integer NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT rollout_flags_version_id_check CHECK ((id = 1))
);


--
-- Name: rollout_leader; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_leader (
    id integer NOT NULL,
    epoch bigint NOT NULL,
    holder text,
    acquired_at timestamp with time zone,
    CONSTRAINT rollout_leader_id_check CHECK ((id = 1))
);


--
-- Name: rollout_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_outbox (
    id bigint NOT NULL,
    event_id bigint NOT NULL,
    rollout text NOT NULL,
    url text NOT NULL,
    payload text NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error text,
    delivered_at timestamp with time zone
);


--
-- Name: rollout_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rollout_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rollout_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rollout_outbox_id_seq OWNED BY public.rollout_outbox.id;


--
-- Name: rollout_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rollout_state (
    rollout text NOT NULL,
    stage_index bigint NOT NULL,
    stage_label text NOT NULL,
    stage_entered_at timestamp with time zone NOT NULL,
    status text NOT NULL,
    reason text,
    paused_at timestamp with time zone,
    paused_ms bigint DEFAULT 0 NOT NULL,
    version bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    weights text,
    CONSTRAINT rollout_state_status_check CHECK ((status = ANY (ARRAY['running'::text, 'paused'::text, 'blocked'::text, 'rolled_back'::text, 'completed'::text])))
);


--
-- Name: discovery_decisions id; Type: DEFAULT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.discovery_decisions ALTER COLUMN id SET DEFAULT nextval('learning.discovery_decisions_id_seq'::regclass);


--
-- Name: thesis_decisions id; Type: DEFAULT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.thesis_decisions ALTER COLUMN id SET DEFAULT nextval('learning.thesis_decisions_id_seq'::regclass);


--
-- Name: trade_outcomes id; Type: DEFAULT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.trade_outcomes ALTER COLUMN id SET DEFAULT nextval('learning.trade_outcomes_id_seq'::regclass);


--
-- Name: weights_history id; Type: DEFAULT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.weights_history ALTER COLUMN id SET DEFAULT nextval('learning.weights_history_id_seq'::regclass);


--
-- Name: observations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.observations ALTER COLUMN id SET DEFAULT nextval('public.observations_id_seq'::regclass);


--
-- Name: rollout_events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_events ALTER COLUMN id SET DEFAULT nextval('public.rollout_events_id_seq'::regclass);


--
-- Name: rollout_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_outbox ALTER COLUMN id SET DEFAULT nextval('public.rollout_outbox_id_seq'::regclass);


--
-- Data for Name: discovery_decisions; Type: TABLE DATA; Schema: learning; Owner: -
--

INSERT INTO learning.discovery_decisions VALUES (1, 'AMC', '2026-10-20 17:11:24+00', '{"options": 0.3, "squeeze": 0.2, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.9}', 0.5, 'trade_ready', '{"vix": 20, "regime": "high_volatility"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (2, 'GME', '2026-10-22 17:11:24+00', '{"options": 0.32, "squeeze": 0.26, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.85}', 0.53, 'trade_ready', '{"vix": 21, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (3, 'BB', '2026-10-24 17:11:24+00', '{"options": 0.34, "squeeze": 0.32, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.8}', 0.56, 'trade_ready', '{"vix": 22, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (4, 'NOK', '2026-10-26 17:11:24+00', '{"options": 0.36, "squeeze": 0.38, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.75}', 0.59, 'trade_ready', '{"vix": 23, "regime": "high_volatility"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (5, 'PLTR', '2026-10-28 17:11:24+00', '{"options": 0.38, "squeeze": 0.44, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.7}', 0.62, 'trade_ready', '{"vix": 24, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (6, 'SOFI', '2026-10-30 17:11:24+00', '{"options": 0.4, "squeeze": 0.5, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.65}', 0.65, 'trade_ready', '{"vix": 25, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (7, 'RIOT', '2026-11-01 17:11:24+00', '{"options": 0.42, "squeeze": 0.56, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.6}', 0.68, 'trade_ready', '{"vix": 26, "regime": "high_volatility"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (8, 'MARA', '2026-11-03 17:11:24+00', '{"options": 0.44, "squeeze": 0.62, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.55}', 0.71, 'trade_ready', '{"vix": 27, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (9, 'TLRY', '2026-11-05 17:11:24+00', '{"options": 0.46, "squeeze": 0.68, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.5}', 0.74, 'trade_ready', '{"vix": 28, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (10, 'SNDL', '2026-11-07 17:11:24+00', '{"options": 0.48, "squeeze": 0.74, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.45}', 0.77, 'trade_ready', '{"vix": 29, "regime": "high_volatility"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (11, 'CLOV', '2026-11-09 17:11:24+00', '{"options": 0.5, "squeeze": 0.8, "catalyst": 0.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.4}', 0.8, 'trade_ready', '{"vix": 30, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');
INSERT INTO learning.discovery_decisions VALUES (12, 'WISH', '2026-11-11 17:11:24+00', '{"options": 0.52, "squeeze": 0.86, "catalyst": 1.0, "sentiment": 0.4, "technical": 0.55, "volume_momentum": 0.35}', 0.83, 'trade_ready', '{"vix": 31, "regime": "normal"}', 5200, '2026-11-29 20:11:26.116114+00');


--
-- Data for Name: thesis_decisions; Type: TABLE DATA; Schema: learning; Owner: -
--

INSERT INTO learning.thesis_decisions VALUES (1, 'AMC', '2026-10-20 17:16:24+00', 'buy', 0.7, 'AMC setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (2, 'GME', '2026-10-22 17:16:24+00', 'buy', 0.7, 'GME setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (3, 'BB', '2026-10-24 17:16:24+00', 'buy', 0.7, 'BB setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (4, 'NOK', '2026-10-26 17:16:24+00', 'buy', 0.7, 'NOK setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (5, 'PLTR', '2026-10-28 17:16:24+00', 'buy', 0.7, 'PLTR setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (6, 'SOFI', '2026-10-30 17:16:24+00', 'buy', 0.7, 'SOFI setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (7, 'RIOT', '2026-11-01 17:16:24+00', 'buy', 0.7, 'RIOT setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (8, 'MARA', '2026-11-03 17:16:24+00', 'buy', 0.7, 'MARA setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (9, 'TLRY', '2026-11-05 17:16:24+00', 'buy', 0.7, 'TLRY setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (10, 'SNDL', '2026-11-07 17:16:24+00', 'buy', 0.7, 'SNDL setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (11, 'CLOV', '2026-11-09 17:16:24+00', 'buy', 0.7, 'CLOV setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');
INSERT INTO learning.thesis_decisions VALUES (12, 'WISH', '2026-11-11 17:16:24+00', 'buy', 0.7, 'WISH setup', '{"short_interest": 0.3}', true, 'normal', '2026-11-29 20:11:26.141942+00');


--
-- Data for Name: trade_outcomes; Type: TABLE DATA; Schema: learning; Owner: -
--

INSERT INTO learning.trade_outcomes VALUES (1, 'AMC', '2026-10-20 19:11:24+00', '2026-10-21 17:11:24+00', 10, 9.6, 1.5, -4, 1, NULL, NULL, 'stop', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (2, 'GME', '2026-10-22 19:11:24+00', '2026-10-23 17:11:24+00', 10, 9.71, 1.5, -2.9, 1, NULL, NULL, 'stop', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (3, 'BB', '2026-10-24 19:11:24+00', '2026-10-25 17:11:24+00', 10, 9.82, 1.5, -1.8, 1, NULL, NULL, 'stop', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (4, 'NOK', '2026-10-26 19:11:24+00', '2026-10-27 17:11:24+00', 10, 9.93, 1.5, -0.7, 1, NULL, NULL, 'stop', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (5, 'PLTR', '2026-10-28 19:11:24+00', '2026-10-29 17:11:24+00', 10, 10.04, 1.5, 0.4, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (6, 'SOFI', '2026-10-30 19:11:24+00', '2026-10-31 17:11:24+00', 10, 10.15, 1.5, 1.5, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (7, 'RIOT', '2026-11-01 19:11:24+00', '2026-11-02 17:11:24+00', 10, 10.26, 1.5, 2.6, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (8, 'MARA', '2026-11-03 19:11:24+00', '2026-11-04 17:11:24+00', 10, 10.37, 1.5, 3.7, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (9, 'TLRY', '2026-11-05 19:11:24+00', '2026-11-06 17:11:24+00', 10, 10.48, 1.5, 4.8, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (10, 'SNDL', '2026-11-07 19:11:24+00', '2026-11-08 17:11:24+00', 10, 10.59, 1.5, 5.9, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (11, 'CLOV', '2026-11-09 19:11:24+00', '2026-11-10 17:11:24+00', 10, 10.7, 1.5, 7, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');
INSERT INTO learning.trade_outcomes VALUES (12, 'WISH', '2026-11-11 19:11:24+00', '2026-11-12 17:11:24+00', 10, 10.81, 1.5, 8.1, 1, NULL, NULL, 'target', '2026-11-29 20:11:26.171066+00');


--
-- Data for Name: weights_history; Type: TABLE DATA; Schema: learning; Owner: -
--

INSERT INTO learning.weights_history VALUES (1, 'learning-intelligence', '2026-11-29 20:11:26.189648+00', '{"options": 0.12, "squeeze": 0.2, "catalyst": 0.15, "sentiment": 0.15, "technical": 0.13, "volume_momentum": 0.25}', '{"options": 0.224299, "squeeze": 0.373832, "catalyst": 0.140187, "sentiment": 0.140187, "technical": 0.121495, "volume_momentum": 0.0}', '{"options": 0.140859, "squeeze": 0.234765, "catalyst": 0.148038, "sentiment": 0.148037, "technical": 0.128299, "volume_momentum": 0.200002}', false, 'significant at 0.0083 (Spearman, alpha 0.05 / 6 features): options, squeeze, volume_momentum', 1, 12, 'normal', '{"pairs": 12, "counts": {"theses": 12, "outcomes": 12, "discoveries": 12, "positive_outcomes": 8}, "features": {"options": {"n": 12, "status": "ok", "spearman": 0.9999999999999999, "spearman_p": 0.00000000000000000000000000000000000000000000000000000000000000000000000000000013283169408470906}, "squeeze": {"n": 12, "status": "ok", "spearman": 0.9999999999999999, "spearman_p": 0.00000000000000000000000000000000000000000000000000000000000000000000000000000013283169408470906}, "catalyst": {"n": 12, "status": "ok", "spearman": 0.14484136487558025, "spearman_p": 0.6533385771243545}, "sentiment": {"n": 12, "status": "insufficient_data", "spearman": null, "spearman_p": null}, "technical": {"n": 12, "status": "insufficient_data", "spearman": null, "spearman_p": null}, "volume_momentum": {"n": 12, "status": "ok", "spearman": -0.9999999999999998, "spearman_p": 0.000000000000000000000000000000000000000000000000000000000000000000000000000004250614210710488}}, "significant": ["options", "squeeze", "volume_momentum"], "window_days": 90.0, "match_window_days": 3.0}');


--
-- Data for Name: _sqlx_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public._sqlx_migrations VALUES (1, 'controller', '2026-11-29 20:11:25.483595+00', true, '\xdf11ba68b33d843fa25d0f2a51c98e471b18cb359897ffbcbf490744bd6a4fbe65fa0b5803c4f424f8d67b883e60e1e9', 48665852);
INSERT INTO public._sqlx_migrations VALUES (2, 'observations', '2026-11-29 20:11:25.536189+00', true, '\xc3ec626a58750322d68e1e87e2d3bcbdc9473da873157955c2b090dd9e7e54ac68f7f0ce6621a422b9e493d7630cc858', 36078503);
INSERT INTO public._sqlx_migrations VALUES (3, 'guardrails', '2026-11-29 20:11:25.576213+00', true, '\x7b2cae2cd73a4c8421827b9b980ba297f9111a4d9b80dc207620c0ab7539fcbe8f6a12b9de30e383aec81266720a18a8', 32065332);
INSERT INTO public._sqlx_migrations VALUES (4, 'learning', '2026-11-29 20:11:25.612011+00', true, '\xace2740487482263cc78d216ec58e00f7a9dd472204cf01ea15fa404638de5bfef7b802c65a37965bd02b37264fd2b76', 56897231);
INSERT INTO public._sqlx_migrations VALUES (5, 'feed index', '2026-11-29 20:11:25.671678+00', true, '\xeb0e4a831ebfdbbe91de37a930bebf728f70d5f14fef377b65446c670b514e5d5223783ca8b796b86a13b840fbdc5b12', 4537775);


--
-- Data for Name: guardrail_status; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.guardrail_status VALUES ('learning-intelligence', 'drawdown', 'ok', 0, 3.5, 3.238095238095238, 38, 'within bounds', '2026-11-29 20:11:26.263171+00');
INSERT INTO public.guardrail_status VALUES ('learning-intelligence', 'trades', 'ok', 0, 38, 42, 0, 'within bounds', '2026-11-29 20:11:26.263171+00');


--
-- Data for Name: observation_sums; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.observation_sums VALUES ('learning-intelligence', 'return_pct', 'control', 42, 136, 950.5);
INSERT INTO public.observation_sums VALUES ('learning-intelligence', 'return_pct', 'treatment', 38, 133, 907.5);


--
-- Data for Name: observation_unit_counts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.observation_unit_counts VALUES ('learning-intelligence', 'control', 21);
INSERT INTO public.observation_unit_counts VALUES ('learning-intelligence', 'treatment', 19);


--
-- Data for Name: observation_units; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U01', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U02', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U03', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U04', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U05', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U06', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U07', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U08', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U09', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U10', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U11', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U12', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U13', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U14', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U15', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U16', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U17', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U18', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U19', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U20', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U21', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U22', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U23', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U24', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U25', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U26', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U27', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U28', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U29', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U30', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U31', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U32', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U33', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U34', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U35', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U36', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U37', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U38', 'control', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U39', 'treatment', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observation_units VALUES ('learning-intelligence', 'U40', 'treatment', '2026-11-29 20:11:26.039414+00');


--
-- Data for Name: observations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.observations VALUES (1, 'learning-intelligence', 'control', 'U01', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U01-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (2, 'learning-intelligence', 'control', 'U01', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U01-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (3, 'learning-intelligence', 'treatment', 'U02', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U02-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (4, 'learning-intelligence', 'treatment', 'U02', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U02-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (5, 'learning-intelligence', 'control', 'U03', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U03-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (6, 'learning-intelligence', 'control', 'U03', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U03-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (7, 'learning-intelligence', 'control', 'U04', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U04-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (8, 'learning-intelligence', 'control', 'U04', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U04-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (9, 'learning-intelligence', 'treatment', 'U05', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U05-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (10, 'learning-intelligence', 'treatment', 'U05', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U05-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (11, 'learning-intelligence', 'treatment', 'U06', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U06-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (12, 'learning-intelligence', 'treatment', 'U06', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U06-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (13, 'learning-intelligence', 'treatment', 'U07', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U07-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (14, 'learning-intelligence', 'treatment', 'U07', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U07-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (15, 'learning-intelligence', 'control', 'U08', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U08-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (16, 'learning-intelligence', 'control', 'U08', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U08-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (17, 'learning-intelligence', 'control', 'U09', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U09-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (18, 'learning-intelligence', 'control', 'U09', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U09-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (19, 'learning-intelligence', 'control', 'U10', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U10-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (20, 'learning-intelligence', 'control', 'U10', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U10-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (21, 'learning-intelligence', 'treatment', 'U11', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U11-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (22, 'learning-intelligence', 'treatment', 'U11', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U11-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (23, 'learning-intelligence', 'control', 'U12', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U12-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (24, 'learning-intelligence', 'control', 'U12', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U12-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (25, 'learning-intelligence', 'treatment', 'U13', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U13-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (26, 'learning-intelligence', 'treatment', 'U13', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U13-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (27, 'learning-intelligence', 'control', 'U14', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U14-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (28, 'learning-intelligence', 'control', 'U14', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U14-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (29, 'learning-intelligence', 'control', 'U15', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U15-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (30, 'learning-intelligence', 'control', 'U15', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U15-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (31, 'learning-intelligence', 'control', 'U16', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U16-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (32, 'learning-intelligence', 'control', 'U16', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U16-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (33, 'learning-intelligence', 'treatment', 'U17', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U17-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (34, 'learning-intelligence', 'treatment', 'U17', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U17-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (35, 'learning-intelligence', 'control', 'U18', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U18-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (36, 'learning-intelligence', 'control', 'U18', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U18-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (37, 'learning-intelligence', 'control', 'U19', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U19-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (38, 'learning-intelligence', 'control', 'U19', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U19-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (39, 'learning-intelligence', 'treatment', 'U20', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U20-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (40, 'learning-intelligence', 'treatment', 'U20', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U20-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (41, 'learning-intelligence', 'control', 'U21', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U21-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (42, 'learning-intelligence', 'control', 'U21', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U21-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (43, 'learning-intelligence', 'treatment', 'U22', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U22-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (44, 'learning-intelligence', 'treatment', 'U22', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U22-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (45, 'learning-intelligence', 'control', 'U23', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U23-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (46, 'learning-intelligence', 'control', 'U23', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U23-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (47, 'learning-intelligence', 'control', 'U24', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U24-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (48, 'learning-intelligence', 'control', 'U24', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U24-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (49, 'learning-intelligence', 'control', 'U25', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U25-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (50, 'learning-intelligence', 'control', 'U25', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U25-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (51, 'learning-intelligence', 'treatment', 'U26', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U26-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (52, 'learning-intelligence', 'treatment', 'U26', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U26-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (53, 'learning-intelligence', 'control', 'U27', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U27-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (54, 'learning-intelligence', 'control', 'U27', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U27-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (55, 'learning-intelligence', 'treatment', 'U28', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U28-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (56, 'learning-intelligence', 'treatment', 'U28', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U28-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (57, 'learning-intelligence', 'treatment', 'U29', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U29-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (58, 'learning-intelligence', 'treatment', 'U29', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U29-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (59, 'learning-intelligence', 'treatment', 'U30', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U30-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (60, 'learning-intelligence', 'treatment', 'U30', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U30-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (61, 'learning-intelligence', 'treatment', 'U31', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U31-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (62, 'learning-intelligence', 'treatment', 'U31', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U31-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (63, 'learning-intelligence', 'control', 'U32', 'return_pct', 6.5, '2026-11-29 20:11:26.039414+00', 'U32-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (64, 'learning-intelligence', 'control', 'U32', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U32-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (65, 'learning-intelligence', 'control', 'U33', 'return_pct', 2.5, '2026-11-29 20:11:26.039414+00', 'U33-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (66, 'learning-intelligence', 'control', 'U33', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U33-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (67, 'learning-intelligence', 'treatment', 'U34', 'return_pct', -2.5, '2026-11-29 20:11:26.039414+00', 'U34-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (68, 'learning-intelligence', 'treatment', 'U34', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U34-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (69, 'learning-intelligence', 'treatment', 'U35', 'return_pct', 5.5, '2026-11-29 20:11:26.039414+00', 'U35-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (70, 'learning-intelligence', 'treatment', 'U35', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U35-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (71, 'learning-intelligence', 'control', 'U36', 'return_pct', 1.5, '2026-11-29 20:11:26.039414+00', 'U36-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (72, 'learning-intelligence', 'control', 'U36', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U36-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (73, 'learning-intelligence', 'treatment', 'U37', 'return_pct', 8.5, '2026-11-29 20:11:26.039414+00', 'U37-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (74, 'learning-intelligence', 'treatment', 'U37', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U37-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (75, 'learning-intelligence', 'control', 'U38', 'return_pct', 4.5, '2026-11-29 20:11:26.039414+00', 'U38-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (76, 'learning-intelligence', 'control', 'U38', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U38-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (77, 'learning-intelligence', 'treatment', 'U39', 'return_pct', 0.5, '2026-11-29 20:11:26.039414+00', 'U39-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (78, 'learning-intelligence', 'treatment', 'U39', 'return_pct', 3.5, '2026-11-29 20:11:26.039414+00', 'U39-1', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (79, 'learning-intelligence', 'treatment', 'U40', 'return_pct', 7.5, '2026-11-29 20:11:26.039414+00', 'U40-0', '2026-11-29 20:11:26.039414+00');
INSERT INTO public.observations VALUES (80, 'learning-intelligence', 'treatment', 'U40', 'return_pct', -1.5, '2026-11-29 20:11:26.039414+00', 'U40-1', '2026-11-29 20:11:26.039414+00');


--
-- Data for Name: rollout_events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_events VALUES (1, 'learning-intelligence', '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'start', 'first tick', NULL, 0, NULL, 'running', 1, 1, '{"LEARNING_MODE": "shadow", "LEARNING_SEED": "42", "LEARNING_STATUS": "running", "LEARNING_WEIGHTS": "{\"catalyst\":0.15,\"options\":0.12,\"sentiment\":0.15,\"squeeze\":0.2,\"technical\":0.13,\"volume_momentum\":0.25}", "LEARNING_AB_TEST_ENABLED": "false", "LEARNING_DATA_COLLECTION": "true", "LEARNING_APPLY_PARAMETERS": "false", "LEARNING_AB_TEST_PERCENTAGE": "0", "LEARNING_ASSIGNMENT_VERSION": "1", "LEARNING_ROLLOUT_PERCENTAGE": "0"}');
INSERT INTO public.rollout_events VALUES (2, 'risk-model', '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'start', 'first tick', NULL, 0, NULL, 'running', 1, 2, '{"RISK_MODE": "shadow", "RISK_SEED": "7", "RISK_STATUS": "running", "RISK_AB_TEST_ENABLED": "false", "RISK_DATA_COLLECTION": "true", "RISK_APPLY_PARAMETERS": "false", "RISK_AB_TEST_PERCENTAGE": "0", "RISK_ASSIGNMENT_VERSION": "1", "RISK_ROLLOUT_PERCENTAGE": "0"}');
INSERT INTO public.rollout_events VALUES (3, 'learning-intelligence', '2026-11-29 20:11:25.723681+00', 'fixture@upgrade', 'promote', 'shadow looked fine', 0, 1, 'running', 'running', 2, 3, '{"LEARNING_MODE": "ab_test", "LEARNING_AB_TEST_ENABLED": "true", "LEARNING_APPLY_PARAMETERS": "true", "LEARNING_AB_TEST_PERCENTAGE": "50"}');
INSERT INTO public.rollout_events VALUES (4, 'learning-intelligence', '2026-11-29 20:11:26.189648+00', 'fixture@upgrade', 'publish', 'learned weights', 1, 1, 'running', 'running', 3, 4, '{"LEARNING_WEIGHTS": "{\"catalyst\":0.148038,\"options\":0.140859,\"sentiment\":0.148037,\"squeeze\":0.234765,\"technical\":0.128299,\"volume_momentum\":0.200002}"}');
INSERT INTO public.rollout_events VALUES (5, 'learning-intelligence', '2026-11-29 20:11:26.309579+00', 'fixture@upgrade', 'pause', 'desk review', 1, 1, 'running', 'paused', 4, 5, '{"LEARNING_STATUS": "paused"}');
INSERT INTO public.rollout_events VALUES (6, 'risk-model', '2026-11-29 20:11:26.349379+00', 'fixture@upgrade', 'rollback', 'drawdown on the desk', 0, 0, 'running', 'rolled_back', 2, 6, '{"RISK_MODE": "rolled_back", "RISK_STATUS": "rolled_back", "RISK_DATA_COLLECTION": "false"}');


--
-- Data for Name: rollout_flags; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_flags VALUES ('LEARNING_ASSIGNMENT_VERSION', '1', 'learning-intelligence', 1, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('LEARNING_DATA_COLLECTION', 'true', 'learning-intelligence', 1, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('LEARNING_ROLLOUT_PERCENTAGE', '0', 'learning-intelligence', 1, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('LEARNING_SEED', '42', 'learning-intelligence', 1, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_AB_TEST_ENABLED', 'false', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_AB_TEST_PERCENTAGE', '0', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_APPLY_PARAMETERS', 'false', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_ASSIGNMENT_VERSION', '1', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_ROLLOUT_PERCENTAGE', '0', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('RISK_SEED', '7', 'risk-model', 2, '2026-11-29 20:11:25.684723+00', 'tick:fixture@upgrade', 'first tick');
INSERT INTO public.rollout_flags VALUES ('LEARNING_AB_TEST_ENABLED', 'true', 'learning-intelligence', 3, '2026-11-29 20:11:25.723681+00', 'fixture@upgrade', 'shadow looked fine');
INSERT INTO public.rollout_flags VALUES ('LEARNING_AB_TEST_PERCENTAGE', '50', 'learning-intelligence', 3, '2026-11-29 20:11:25.723681+00', 'fixture@upgrade', 'shadow looked fine');
INSERT INTO public.rollout_flags VALUES ('LEARNING_APPLY_PARAMETERS', 'true', 'learning-intelligence', 3, '2026-11-29 20:11:25.723681+00', 'fixture@upgrade', 'shadow looked fine');
INSERT INTO public.rollout_flags VALUES ('LEARNING_MODE', 'ab_test', 'learning-intelligence', 3, '2026-11-29 20:11:25.723681+00', 'fixture@upgrade', 'shadow looked fine');
INSERT INTO public.rollout_flags VALUES ('LEARNING_WEIGHTS', '{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}', 'learning-intelligence', 4, '2026-11-29 20:11:26.189648+00', 'fixture@upgrade', 'learned weights');
INSERT INTO public.rollout_flags VALUES ('LEARNING_STATUS', 'paused', 'learning-intelligence', 5, '2026-11-29 20:11:26.309579+00', 'fixture@upgrade', 'desk review');
INSERT INTO public.rollout_flags VALUES ('RISK_DATA_COLLECTION', 'false', 'risk-model', 6, '2026-11-29 20:11:26.349379+00', 'fixture@upgrade', 'drawdown on the desk');
INSERT INTO public.rollout_flags VALUES ('RISK_MODE', 'rolled_back', 'risk-model', 6, '2026-11-29 20:11:26.349379+00', 'fixture@upgrade', 'drawdown on the desk');
INSERT INTO public.rollout_flags VALUES ('RISK_STATUS', 'rolled_back', 'risk-model', 6, '2026-11-29 20:11:26.349379+00', 'fixture@upgrade', 'drawdown on the desk');


--
-- Data for Name: rollout_flags_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_flags_version VALUES (1, 6);


--
-- Data for Name: rollout_leader; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_leader VALUES (1, 2, 'tick:fixture@upgrade', '2026-11-29 20:11:26.263171+00');


--
-- Data for Name: rollout_outbox; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_outbox VALUES (1, 1, 'learning-intelligence', 'http://127.0.0.1:9/rollout-hook', '{"action":"start","actor":"tick:fixture@upgrade","at":"2026-11-29T20:11:25.684723439+00:00","event_id":1,"flags":{"LEARNING_AB_TEST_ENABLED":"false","LEARNING_AB_TEST_PERCENTAGE":"0","LEARNING_APPLY_PARAMETERS":"false","LEARNING_ASSIGNMENT_VERSION":"1","LEARNING_DATA_COLLECTION":"true","LEARNING_MODE":"shadow","LEARNING_ROLLOUT_PERCENTAGE":"0","LEARNING_SEED":"42","LEARNING_STATUS":"running","LEARNING_WEIGHTS":"{\"catalyst\":0.15,\"options\":0.12,\"sentiment\":0.15,\"squeeze\":0.2,\"technical\":0.13,\"volume_momentum\":0.25}"},"flags_version":1,"from_stage":null,"from_status":null,"reason":"first tick","rollout":"learning-intelligence","state_version":1,"to_stage":0,"to_status":"running"}', 0, '2026-11-29 20:11:25.684723+00', NULL, NULL);
INSERT INTO public.rollout_outbox VALUES (2, 3, 'learning-intelligence', 'http://127.0.0.1:9/rollout-hook', '{"action":"promote","actor":"fixture@upgrade","at":"2026-11-29T20:11:25.723681106+00:00","event_id":3,"flags":{"LEARNING_AB_TEST_ENABLED":"true","LEARNING_AB_TEST_PERCENTAGE":"50","LEARNING_APPLY_PARAMETERS":"true","LEARNING_MODE":"ab_test"},"flags_version":3,"from_stage":0,"from_status":"running","reason":"shadow looked fine","rollout":"learning-intelligence","state_version":2,"to_stage":1,"to_status":"running"}', 0, '2026-11-29 20:11:25.723681+00', NULL, NULL);
INSERT INTO public.rollout_outbox VALUES (3, 4, 'learning-intelligence', 'http://127.0.0.1:9/rollout-hook', '{"action":"publish","actor":"fixture@upgrade","at":"2026-11-29T20:11:26.189648074+00:00","event_id":4,"flags":{"LEARNING_WEIGHTS":"{\"catalyst\":0.148038,\"options\":0.140859,\"sentiment\":0.148037,\"squeeze\":0.234765,\"technical\":0.128299,\"volume_momentum\":0.200002}"},"flags_version":4,"from_stage":1,"from_status":"running","reason":"learned weights","rollout":"learning-intelligence","state_version":3,"to_stage":1,"to_status":"running"}', 0, '2026-11-29 20:11:26.189648+00', NULL, NULL);
INSERT INTO public.rollout_outbox VALUES (4, 5, 'learning-intelligence', 'http://127.0.0.1:9/rollout-hook', '{"action":"pause","actor":"fixture@upgrade","at":"2026-11-29T20:11:26.309579315+00:00","event_id":5,"flags":{"LEARNING_STATUS":"paused"},"flags_version":5,"from_stage":1,"from_status":"running","reason":"desk review","rollout":"learning-intelligence","state_version":4,"to_stage":1,"to_status":"paused"}', 0, '2026-11-29 20:11:26.309579+00', NULL, NULL);


--
-- Data for Name: rollout_state; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rollout_state VALUES ('learning-intelligence', 1, 'ab_test:50', '2026-11-29 20:11:25.723681+00', 'paused', 'desk review', '2026-11-29 20:11:26.309579+00', 0, 4, '2026-11-29 20:11:26.309579+00', '{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}');
INSERT INTO public.rollout_state VALUES ('risk-model', 0, 'shadow', '2026-11-29 20:11:25.684723+00', 'rolled_back', 'drawdown on the desk', NULL, 0, 2, '2026-11-29 20:11:26.349379+00', NULL);


--
-- Name: discovery_decisions_id_seq; Type: SEQUENCE SET; Schema: learning; Owner: -
--

SELECT pg_catalog.setval('learning.discovery_decisions_id_seq', 12, true);


--
-- Name: thesis_decisions_id_seq; Type: SEQUENCE SET; Schema: learning; Owner: -
--

SELECT pg_catalog.setval('learning.thesis_decisions_id_seq', 12, true);


--
-- Name: trade_outcomes_id_seq; Type: SEQUENCE SET; Schema: learning; Owner: -
--

SELECT pg_catalog.setval('learning.trade_outcomes_id_seq', 12, true);


--
-- Name: weights_history_id_seq; Type: SEQUENCE SET; Schema: learning; Owner: -
--

SELECT pg_catalog.setval('learning.weights_history_id_seq', 1, true);


--
-- Name: observations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.observations_id_seq', 80, true);


--
-- Name: rollout_events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rollout_events_id_seq', 6, true);


--
-- Name: rollout_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rollout_outbox_id_seq', 4, true);


--
-- Name: discovery_decisions discovery_decisions_pkey; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.discovery_decisions
    ADD CONSTRAINT discovery_decisions_pkey PRIMARY KEY (id);


--
-- Name: discovery_decisions discovery_decisions_symbol_discovery_timestamp_key; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.discovery_decisions
    ADD CONSTRAINT discovery_decisions_symbol_discovery_timestamp_key UNIQUE (symbol, discovery_timestamp);


--
-- Name: thesis_decisions thesis_decisions_pkey; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.thesis_decisions
    ADD CONSTRAINT thesis_decisions_pkey PRIMARY KEY (id);


--
-- Name: thesis_decisions thesis_decisions_symbol_thesis_timestamp_key; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.thesis_decisions
    ADD CONSTRAINT thesis_decisions_symbol_thesis_timestamp_key UNIQUE (symbol, thesis_timestamp);


--
-- Name: trade_outcomes trade_outcomes_pkey; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.trade_outcomes
    ADD CONSTRAINT trade_outcomes_pkey PRIMARY KEY (id);


--
-- Name: trade_outcomes trade_outcomes_symbol_entry_timestamp_key; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.trade_outcomes
    ADD CONSTRAINT trade_outcomes_symbol_entry_timestamp_key UNIQUE (symbol, entry_timestamp);


--
-- Name: weights_history weights_history_pkey; Type: CONSTRAINT; Schema: learning; Owner: -
--

ALTER TABLE ONLY learning.weights_history
    ADD CONSTRAINT weights_history_pkey PRIMARY KEY (id);


--
-- Name: _sqlx_migrations _sqlx_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public._sqlx_migrations
    ADD CONSTRAINT _sqlx_migrations_pkey PRIMARY KEY (version);


--
-- Name: guardrail_status guardrail_status_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardrail_status
    ADD CONSTRAINT guardrail_status_pkey PRIMARY KEY (rollout, guardrail);


--
-- Name: observation_sums observation_sums_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.observation_sums
    ADD CONSTRAINT observation_sums_pkey PRIMARY KEY (rollout, metric, variant);


--
-- Name: observation_unit_counts observation_unit_counts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.observation_unit_counts
    ADD CONSTRAINT observation_unit_counts_pkey PRIMARY KEY (rollout, variant);


--
-- Name: observation_units observation_units_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.observation_units
    ADD CONSTRAINT observation_units_pkey PRIMARY KEY (rollout, unit);


--
-- Name: observations observations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.observations
    ADD CONSTRAINT observations_pkey PRIMARY KEY (id);


--
-- Name: rollout_events rollout_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_events
    ADD CONSTRAINT rollout_events_pkey PRIMARY KEY (id);


--
-- Name: rollout_flags rollout_flags_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_flags
    ADD CONSTRAINT rollout_flags_pkey PRIMARY KEY (key);


--
-- Name: rollout_flags_version rollout_flags_version_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_flags_version
    ADD CONSTRAINT rollout_flags_version_pkey PRIMARY KEY (id);


--
-- Name: rollout_leader rollout_leader_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_leader
    ADD CONSTRAINT rollout_leader_pkey PRIMARY KEY (id);


--
-- Name: rollout_outbox rollout_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_outbox
    ADD CONSTRAINT rollout_outbox_pkey PRIMARY KEY (id);


--
-- Name: rollout_state rollout_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rollout_state
    ADD CONSTRAINT rollout_state_pkey PRIMARY KEY (rollout);


--
-- Name: discovery_decisions_time; Type: INDEX; Schema: learning; Owner: -
--

CREATE INDEX discovery_decisions_time ON learning.discovery_decisions USING btree (discovery_timestamp);


--
-- Name: trade_outcomes_exit; Type: INDEX; Schema: learning; Owner: -
--

CREATE INDEX trade_outcomes_exit ON learning.trade_outcomes USING btree (exit_timestamp);


--
-- Name: weights_history_rollout; Type: INDEX; Schema: learning; Owner: -
--

CREATE INDEX weights_history_rollout ON learning.weights_history USING btree (rollout, computed_at, id);


--
-- Name: observations_arrival; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX observations_arrival ON public.observations USING btree (rollout, ingested_at);


--
-- Name: observations_event; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX observations_event ON public.observations USING btree (rollout, event_id);


--
-- Name: observations_metric_value; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX observations_metric_value ON public.observations USING btree (rollout, metric, value);


--
-- Name: observations_window; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX observations_window ON public.observations USING btree (rollout, metric, observed_at);


--
-- Name: rollout_events_flags_version; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rollout_events_flags_version ON public.rollout_events USING btree (flags_version, id);


--
-- Name: rollout_events_rollout; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rollout_events_rollout ON public.rollout_events USING btree (rollout, id);


--
-- Name: rollout_flags_rollout; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rollout_flags_rollout ON public.rollout_flags USING btree (rollout);


--
-- Name: rollout_outbox_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rollout_outbox_pending ON public.rollout_outbox USING btree (url, id) WHERE (delivered_at IS NULL);


--
-- Name: rollout_events rollout_events_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER rollout_events_append_only BEFORE DELETE OR UPDATE ON public.rollout_events FOR EACH ROW EXECUTE FUNCTION public.rollout_events_append_only();


--
-- PostgreSQL database dump complete
--

\unrestrict fVJDbusBcDC0NEM9vzRWL5JwzrJeNirD6ERm9sFsV0IZIBn91H9F9ytKzdYPgPa

