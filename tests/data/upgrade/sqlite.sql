-- Made by tests/data/upgrade/make-fixtures with this release's migrations: sqlite3 .dump
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
INSERT INTO _sqlx_migrations VALUES(1,'controller','2026-11-29 20:11:24',1,X'c227cb3f3e756137569bb72701b981d1dff66bdadc696bd385fb41b1cc2bbd9afedfeaa196f00480a2989c78ab01f94a',1803690);
INSERT INTO _sqlx_migrations VALUES(2,'observations','2026-11-29 20:11:24',1,X'6c8c6d30f8942b542fd534fd2e60755b70d6240adef9dc3e2975b152b1233ade25998629336680dd03c49708d1c4b1e1',876717);
INSERT INTO _sqlx_migrations VALUES(3,'guardrails','2026-11-29 20:11:24',1,X'4cffb321f5b0a5d43a2f7f32016405235095935f00110b9cdd78a6ca88c37959a9f6d318041fccb5560268175d0264e6',746989);
INSERT INTO _sqlx_migrations VALUES(4,'learning','2026-11-29 20:11:24',1,X'cebb9ce272ec5d317d3999fd67fc0b9ef3748687c987e6305d89c2d67dc20d438e3c89e32300873b5732acd31e0dbfa2',1310518);
INSERT INTO _sqlx_migrations VALUES(5,'feed index','2026-11-29 20:11:24',1,X'eb0e4a831ebfdbbe91de37a930bebf728f70d5f14fef377b65446c670b514e5d5223783ca8b796b86a13b840fbdc5b12',384762);
CREATE TABLE rollout_flags (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    rollout    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    reason     TEXT NOT NULL
);
INSERT INTO rollout_flags VALUES('LEARNING_AB_TEST_ENABLED','true','learning-intelligence',3,'2026-11-29T20:11:24.774298361+00:00','fixture@upgrade','shadow looked fine');
INSERT INTO rollout_flags VALUES('LEARNING_AB_TEST_PERCENTAGE','50','learning-intelligence',3,'2026-11-29T20:11:24.774298361+00:00','fixture@upgrade','shadow looked fine');
INSERT INTO rollout_flags VALUES('LEARNING_APPLY_PARAMETERS','true','learning-intelligence',3,'2026-11-29T20:11:24.774298361+00:00','fixture@upgrade','shadow looked fine');
INSERT INTO rollout_flags VALUES('LEARNING_ASSIGNMENT_VERSION','1','learning-intelligence',1,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('LEARNING_DATA_COLLECTION','true','learning-intelligence',1,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('LEARNING_MODE','ab_test','learning-intelligence',3,'2026-11-29T20:11:24.774298361+00:00','fixture@upgrade','shadow looked fine');
INSERT INTO rollout_flags VALUES('LEARNING_ROLLOUT_PERCENTAGE','0','learning-intelligence',1,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('LEARNING_SEED','42','learning-intelligence',1,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('LEARNING_STATUS','paused','learning-intelligence',5,'2026-11-29T20:11:25.198162608+00:00','fixture@upgrade','desk review');
INSERT INTO rollout_flags VALUES('LEARNING_WEIGHTS','{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}','learning-intelligence',4,'2026-11-29T20:11:25.136687517+00:00','fixture@upgrade','learned weights');
INSERT INTO rollout_flags VALUES('RISK_AB_TEST_ENABLED','false','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_AB_TEST_PERCENTAGE','0','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_APPLY_PARAMETERS','false','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_ASSIGNMENT_VERSION','1','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_DATA_COLLECTION','false','risk-model',6,'2026-11-29T20:11:25.220526059+00:00','fixture@upgrade','drawdown on the desk');
INSERT INTO rollout_flags VALUES('RISK_MODE','rolled_back','risk-model',6,'2026-11-29T20:11:25.220526059+00:00','fixture@upgrade','drawdown on the desk');
INSERT INTO rollout_flags VALUES('RISK_ROLLOUT_PERCENTAGE','0','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_SEED','7','risk-model',2,'2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','first tick');
INSERT INTO rollout_flags VALUES('RISK_STATUS','rolled_back','risk-model',6,'2026-11-29T20:11:25.220526059+00:00','fixture@upgrade','drawdown on the desk');
CREATE TABLE rollout_flags_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO rollout_flags_version VALUES(1,6);
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
, weights TEXT);
INSERT INTO rollout_state VALUES('learning-intelligence',1,'ab_test:50','2026-11-29T20:11:24.774298361+00:00','paused','desk review','2026-11-29T20:11:25.198162608+00:00',0,4,'2026-11-29T20:11:25.198162608+00:00','{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}');
INSERT INTO rollout_state VALUES('risk-model',0,'shadow','2026-11-29T20:11:24.747433777+00:00','rolled_back','drawdown on the desk',NULL,0,2,'2026-11-29T20:11:25.220526059+00:00',NULL);
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
INSERT INTO rollout_events VALUES(1,'learning-intelligence','2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','start','first tick',NULL,0,NULL,'running',1,1,'{"LEARNING_AB_TEST_ENABLED":"false","LEARNING_AB_TEST_PERCENTAGE":"0","LEARNING_APPLY_PARAMETERS":"false","LEARNING_ASSIGNMENT_VERSION":"1","LEARNING_DATA_COLLECTION":"true","LEARNING_MODE":"shadow","LEARNING_ROLLOUT_PERCENTAGE":"0","LEARNING_SEED":"42","LEARNING_STATUS":"running","LEARNING_WEIGHTS":"{\"catalyst\":0.15,\"options\":0.12,\"sentiment\":0.15,\"squeeze\":0.2,\"technical\":0.13,\"volume_momentum\":0.25}"}');
INSERT INTO rollout_events VALUES(2,'risk-model','2026-11-29T20:11:24.747433777+00:00','tick:fixture@upgrade','start','first tick',NULL,0,NULL,'running',1,2,'{"RISK_AB_TEST_ENABLED":"false","RISK_AB_TEST_PERCENTAGE":"0","RISK_APPLY_PARAMETERS":"false","RISK_ASSIGNMENT_VERSION":"1","RISK_DATA_COLLECTION":"true","RISK_MODE":"shadow","RISK_ROLLOUT_PERCENTAGE":"0","RISK_SEED":"7","RISK_STATUS":"running"}');
INSERT INTO rollout_events VALUES(3,'learning-intelligence','2026-11-29T20:11:24.774298361+00:00','fixture@upgrade','promote','shadow looked fine',0,1,'running','running',2,3,'{"LEARNING_AB_TEST_ENABLED":"true","LEARNING_AB_TEST_PERCENTAGE":"50","LEARNING_APPLY_PARAMETERS":"true","LEARNING_MODE":"ab_test"}');
INSERT INTO rollout_events VALUES(4,'learning-intelligence','2026-11-29T20:11:25.136687517+00:00','fixture@upgrade','publish','learned weights',1,1,'running','running',3,4,'{"LEARNING_WEIGHTS":"{\"catalyst\":0.148038,\"options\":0.140859,\"sentiment\":0.148037,\"squeeze\":0.234765,\"technical\":0.128299,\"volume_momentum\":0.200002}"}');
INSERT INTO rollout_events VALUES(5,'learning-intelligence','2026-11-29T20:11:25.198162608+00:00','fixture@upgrade','pause','desk review',1,1,'running','paused',4,5,'{"LEARNING_STATUS":"paused"}');
INSERT INTO rollout_events VALUES(6,'risk-model','2026-11-29T20:11:25.220526059+00:00','fixture@upgrade','rollback','drawdown on the desk',0,0,'running','rolled_back',2,6,'{"RISK_DATA_COLLECTION":"false","RISK_MODE":"rolled_back","RISK_STATUS":"rolled_back"}');
CREATE TABLE rollout_leader (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    epoch       INTEGER NOT NULL,
    holder      TEXT,
    acquired_at TEXT
);
INSERT INTO rollout_leader VALUES(1,2,'tick:fixture@upgrade','2026-11-29T20:11:25.161785650+00:00');
CREATE TABLE observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout     TEXT NOT NULL,
    variant     TEXT NOT NULL CHECK (variant IN ('control', 'treatment')),
    unit        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       REAL NOT NULL,
    observed_at TEXT NOT NULL,
    event_id    TEXT,
    ingested_at TEXT NOT NULL
);
INSERT INTO observations VALUES(1,'learning-intelligence','control','U01','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U01-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(2,'learning-intelligence','control','U01','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U01-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(3,'learning-intelligence','treatment','U02','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U02-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(4,'learning-intelligence','treatment','U02','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U02-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(5,'learning-intelligence','control','U03','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U03-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(6,'learning-intelligence','control','U03','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U03-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(7,'learning-intelligence','control','U04','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U04-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(8,'learning-intelligence','control','U04','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U04-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(9,'learning-intelligence','treatment','U05','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U05-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(10,'learning-intelligence','treatment','U05','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U05-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(11,'learning-intelligence','treatment','U06','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U06-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(12,'learning-intelligence','treatment','U06','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U06-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(13,'learning-intelligence','treatment','U07','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U07-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(14,'learning-intelligence','treatment','U07','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U07-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(15,'learning-intelligence','control','U08','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U08-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(16,'learning-intelligence','control','U08','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U08-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(17,'learning-intelligence','control','U09','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U09-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(18,'learning-intelligence','control','U09','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U09-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(19,'learning-intelligence','control','U10','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U10-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(20,'learning-intelligence','control','U10','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U10-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(21,'learning-intelligence','treatment','U11','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U11-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(22,'learning-intelligence','treatment','U11','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U11-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(23,'learning-intelligence','control','U12','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U12-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(24,'learning-intelligence','control','U12','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U12-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(25,'learning-intelligence','treatment','U13','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U13-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(26,'learning-intelligence','treatment','U13','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U13-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(27,'learning-intelligence','control','U14','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U14-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(28,'learning-intelligence','control','U14','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U14-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(29,'learning-intelligence','control','U15','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U15-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(30,'learning-intelligence','control','U15','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U15-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(31,'learning-intelligence','control','U16','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U16-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(32,'learning-intelligence','control','U16','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U16-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(33,'learning-intelligence','treatment','U17','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U17-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(34,'learning-intelligence','treatment','U17','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U17-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(35,'learning-intelligence','control','U18','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U18-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(36,'learning-intelligence','control','U18','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U18-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(37,'learning-intelligence','control','U19','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U19-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(38,'learning-intelligence','control','U19','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U19-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(39,'learning-intelligence','treatment','U20','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U20-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(40,'learning-intelligence','treatment','U20','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U20-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(41,'learning-intelligence','control','U21','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U21-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(42,'learning-intelligence','control','U21','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U21-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(43,'learning-intelligence','treatment','U22','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U22-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(44,'learning-intelligence','treatment','U22','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U22-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(45,'learning-intelligence','control','U23','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U23-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(46,'learning-intelligence','control','U23','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U23-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(47,'learning-intelligence','control','U24','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U24-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(48,'learning-intelligence','control','U24','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U24-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(49,'learning-intelligence','control','U25','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U25-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(50,'learning-intelligence','control','U25','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U25-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(51,'learning-intelligence','treatment','U26','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U26-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(52,'learning-intelligence','treatment','U26','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U26-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(53,'learning-intelligence','control','U27','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U27-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(54,'learning-intelligence','control','U27','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U27-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(55,'learning-intelligence','treatment','U28','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U28-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(56,'learning-intelligence','treatment','U28','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U28-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(57,'learning-intelligence','treatment','U29','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U29-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(58,'learning-intelligence','treatment','U29','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U29-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(59,'learning-intelligence','treatment','U30','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U30-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(60,'learning-intelligence','treatment','U30','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U30-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(61,'learning-intelligence','treatment','U31','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U31-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(62,'learning-intelligence','treatment','U31','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U31-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(63,'learning-intelligence','control','U32','return_pct',6.5,'2026-11-29T20:11:25.054600310+00:00','U32-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(64,'learning-intelligence','control','U32','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U32-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(65,'learning-intelligence','control','U33','return_pct',2.5,'2026-11-29T20:11:25.054600310+00:00','U33-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(66,'learning-intelligence','control','U33','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U33-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(67,'learning-intelligence','treatment','U34','return_pct',-2.5,'2026-11-29T20:11:25.054600310+00:00','U34-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(68,'learning-intelligence','treatment','U34','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U34-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(69,'learning-intelligence','treatment','U35','return_pct',5.5,'2026-11-29T20:11:25.054600310+00:00','U35-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(70,'learning-intelligence','treatment','U35','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U35-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(71,'learning-intelligence','control','U36','return_pct',1.5,'2026-11-29T20:11:25.054600310+00:00','U36-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(72,'learning-intelligence','control','U36','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U36-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(73,'learning-intelligence','treatment','U37','return_pct',8.5,'2026-11-29T20:11:25.054600310+00:00','U37-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(74,'learning-intelligence','treatment','U37','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U37-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(75,'learning-intelligence','control','U38','return_pct',4.5,'2026-11-29T20:11:25.054600310+00:00','U38-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(76,'learning-intelligence','control','U38','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U38-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(77,'learning-intelligence','treatment','U39','return_pct',0.5,'2026-11-29T20:11:25.054600310+00:00','U39-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(78,'learning-intelligence','treatment','U39','return_pct',3.5,'2026-11-29T20:11:25.054600310+00:00','U39-1','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(79,'learning-intelligence','treatment','U40','return_pct',7.5,'2026-11-29T20:11:25.054600310+00:00','U40-0','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observations VALUES(80,'learning-intelligence','treatment','U40','return_pct',-1.5,'2026-11-29T20:11:25.054600310+00:00','U40-1','2026-11-29T20:11:25.054600310+00:00');
CREATE TABLE observation_sums (
    rollout TEXT NOT NULL,
    metric  TEXT NOT NULL,
    variant TEXT NOT NULL,
    n       INTEGER NOT NULL,
    sum     REAL NOT NULL,
    sum_sq  REAL NOT NULL,
    PRIMARY KEY (rollout, metric, variant)
);
INSERT INTO observation_sums VALUES('learning-intelligence','return_pct','control',42,136.0,950.50000000000000001);
INSERT INTO observation_sums VALUES('learning-intelligence','return_pct','treatment',38,133.0,907.49999999999999998);
CREATE TABLE observation_units (
    rollout    TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (rollout, unit)
);
INSERT INTO observation_units VALUES('learning-intelligence','U01','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U02','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U03','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U04','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U05','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U06','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U07','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U08','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U09','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U10','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U11','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U12','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U13','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U14','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U15','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U16','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U17','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U18','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U19','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U20','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U21','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U22','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U23','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U24','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U25','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U26','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U27','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U28','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U29','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U30','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U31','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U32','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U33','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U34','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U35','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U36','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U37','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U38','control','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U39','treatment','2026-11-29T20:11:25.054600310+00:00');
INSERT INTO observation_units VALUES('learning-intelligence','U40','treatment','2026-11-29T20:11:25.054600310+00:00');
CREATE TABLE observation_unit_counts (
    rollout TEXT NOT NULL,
    variant TEXT NOT NULL,
    units   INTEGER NOT NULL,
    PRIMARY KEY (rollout, variant)
);
INSERT INTO observation_unit_counts VALUES('learning-intelligence','control',21);
INSERT INTO observation_unit_counts VALUES('learning-intelligence','treatment',19);
CREATE TABLE guardrail_status (
    rollout       TEXT NOT NULL,
    guardrail     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'breach', 'insufficient_data', 'error')),
    consecutive   INTEGER NOT NULL,
    value         REAL,
    control_value REAL,
    n             INTEGER NOT NULL,
    detail        TEXT NOT NULL,
    evaluated_at  TEXT NOT NULL,
    PRIMARY KEY (rollout, guardrail)
);
INSERT INTO guardrail_status VALUES('learning-intelligence','drawdown','ok',0,3.5,3.2380952380952381375,38,'within bounds','2026-11-29T20:11:25.161785650+00:00');
INSERT INTO guardrail_status VALUES('learning-intelligence','trades','ok',0,38.0,42.0,0,'within bounds','2026-11-29T20:11:25.161785650+00:00');
CREATE TABLE rollout_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL,
    rollout         TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    delivered_at    TEXT
);
INSERT INTO rollout_outbox VALUES(1,1,'learning-intelligence','http://127.0.0.1:9/rollout-hook','{"action":"start","actor":"tick:fixture@upgrade","at":"2026-11-29T20:11:24.747433777+00:00","event_id":1,"flags":{"LEARNING_AB_TEST_ENABLED":"false","LEARNING_AB_TEST_PERCENTAGE":"0","LEARNING_APPLY_PARAMETERS":"false","LEARNING_ASSIGNMENT_VERSION":"1","LEARNING_DATA_COLLECTION":"true","LEARNING_MODE":"shadow","LEARNING_ROLLOUT_PERCENTAGE":"0","LEARNING_SEED":"42","LEARNING_STATUS":"running","LEARNING_WEIGHTS":"{\"catalyst\":0.15,\"options\":0.12,\"sentiment\":0.15,\"squeeze\":0.2,\"technical\":0.13,\"volume_momentum\":0.25}"},"flags_version":1,"from_stage":null,"from_status":null,"reason":"first tick","rollout":"learning-intelligence","state_version":1,"to_stage":0,"to_status":"running"}',0,'2026-11-29T20:11:24.747433777+00:00',NULL,NULL);
INSERT INTO rollout_outbox VALUES(2,3,'learning-intelligence','http://127.0.0.1:9/rollout-hook','{"action":"promote","actor":"fixture@upgrade","at":"2026-11-29T20:11:24.774298361+00:00","event_id":3,"flags":{"LEARNING_AB_TEST_ENABLED":"true","LEARNING_AB_TEST_PERCENTAGE":"50","LEARNING_APPLY_PARAMETERS":"true","LEARNING_MODE":"ab_test"},"flags_version":3,"from_stage":0,"from_status":"running","reason":"shadow looked fine","rollout":"learning-intelligence","state_version":2,"to_stage":1,"to_status":"running"}',0,'2026-11-29T20:11:24.774298361+00:00',NULL,NULL);
INSERT INTO rollout_outbox VALUES(3,4,'learning-intelligence','http://127.0.0.1:9/rollout-hook','{"action":"publish","actor":"fixture@upgrade","at":"2026-11-29T20:11:25.136687517+00:00","event_id":4,"flags":{"LEARNING_WEIGHTS":"{\"catalyst\":0.148038,\"options\":0.140859,\"sentiment\":0.148037,\"squeeze\":0.234765,\"technical\":0.128299,\"volume_momentum\":0.200002}"},"flags_version":4,"from_stage":1,"from_status":"running","reason":"learned weights","rollout":"learning-intelligence","state_version":3,"to_stage":1,"to_status":"running"}',0,'2026-11-29T20:11:25.136687517+00:00',NULL,NULL);
INSERT INTO rollout_outbox VALUES(4,5,'learning-intelligence','http://127.0.0.1:9/rollout-hook','{"action":"pause","actor":"fixture@upgrade","at":"2026-11-29T20:11:25.198162608+00:00","event_id":5,"flags":{"LEARNING_STATUS":"paused"},"flags_version":5,"from_stage":1,"from_status":"running","reason":"desk review","rollout":"learning-intelligence","state_version":4,"to_stage":1,"to_status":"paused"}',0,'2026-11-29T20:11:25.198162608+00:00',NULL,NULL);
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
INSERT INTO discovery_decisions VALUES(1,'AMC','2026-10-20T17:11:24+00:00','{"catalyst":0.0,"options":0.3,"sentiment":0.4,"squeeze":0.2,"technical":0.55,"volume_momentum":0.9}',0.5,'trade_ready','{"regime":"high_volatility","vix":20}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(2,'GME','2026-10-22T17:11:24+00:00','{"catalyst":1.0,"options":0.32,"sentiment":0.4,"squeeze":0.26,"technical":0.55,"volume_momentum":0.85}',0.53000000000000002664,'trade_ready','{"regime":"normal","vix":21}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(3,'BB','2026-10-24T17:11:24+00:00','{"catalyst":0.0,"options":0.34,"sentiment":0.4,"squeeze":0.32,"technical":0.55,"volume_momentum":0.8}',0.56000000000000005329,'trade_ready','{"regime":"normal","vix":22}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(4,'NOK','2026-10-26T17:11:24+00:00','{"catalyst":1.0,"options":0.36,"sentiment":0.4,"squeeze":0.38,"technical":0.55,"volume_momentum":0.75}',0.58999999999999996891,'trade_ready','{"regime":"high_volatility","vix":23}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(5,'PLTR','2026-10-28T17:11:24+00:00','{"catalyst":0.0,"options":0.38,"sentiment":0.4,"squeeze":0.44,"technical":0.55,"volume_momentum":0.7}',0.61999999999999999555,'trade_ready','{"regime":"normal","vix":24}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(6,'SOFI','2026-10-30T17:11:24+00:00','{"catalyst":1.0,"options":0.4,"sentiment":0.4,"squeeze":0.5,"technical":0.55,"volume_momentum":0.65}',0.6500000000000000222,'trade_ready','{"regime":"normal","vix":25}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(7,'RIOT','2026-11-01T17:11:24+00:00','{"catalyst":0.0,"options":0.42,"sentiment":0.4,"squeeze":0.56,"technical":0.55,"volume_momentum":0.6}',0.68000000000000004884,'trade_ready','{"regime":"high_volatility","vix":26}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(8,'MARA','2026-11-03T17:11:24+00:00','{"catalyst":1.0,"options":0.44,"sentiment":0.4,"squeeze":0.62,"technical":0.55,"volume_momentum":0.55}',0.70999999999999996447,'trade_ready','{"regime":"normal","vix":27}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(9,'TLRY','2026-11-05T17:11:24+00:00','{"catalyst":0.0,"options":0.46,"sentiment":0.4,"squeeze":0.68,"technical":0.55,"volume_momentum":0.5}',0.73999999999999999111,'trade_ready','{"regime":"normal","vix":28}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(10,'SNDL','2026-11-07T17:11:24+00:00','{"catalyst":1.0,"options":0.48,"sentiment":0.4,"squeeze":0.74,"technical":0.55,"volume_momentum":0.45}',0.77000000000000001776,'trade_ready','{"regime":"high_volatility","vix":29}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(11,'CLOV','2026-11-09T17:11:24+00:00','{"catalyst":0.0,"options":0.5,"sentiment":0.4,"squeeze":0.8,"technical":0.55,"volume_momentum":0.4}',0.8000000000000000444,'trade_ready','{"regime":"normal","vix":30}',5200,'2026-11-29T20:11:25Z');
INSERT INTO discovery_decisions VALUES(12,'WISH','2026-11-11T17:11:24+00:00','{"catalyst":1.0,"options":0.52,"sentiment":0.4,"squeeze":0.86,"technical":0.55,"volume_momentum":0.35}',0.82999999999999996003,'trade_ready','{"regime":"normal","vix":31}',5200,'2026-11-29T20:11:25Z');
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
INSERT INTO thesis_decisions VALUES(1,'AMC','2026-10-20T17:16:24+00:00','buy',0.69999999999999995559,'AMC setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(2,'GME','2026-10-22T17:16:24+00:00','buy',0.69999999999999995559,'GME setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(3,'BB','2026-10-24T17:16:24+00:00','buy',0.69999999999999995559,'BB setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(4,'NOK','2026-10-26T17:16:24+00:00','buy',0.69999999999999995559,'NOK setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(5,'PLTR','2026-10-28T17:16:24+00:00','buy',0.69999999999999995559,'PLTR setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(6,'SOFI','2026-10-30T17:16:24+00:00','buy',0.69999999999999995559,'SOFI setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(7,'RIOT','2026-11-01T17:16:24+00:00','buy',0.69999999999999995559,'RIOT setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(8,'MARA','2026-11-03T17:16:24+00:00','buy',0.69999999999999995559,'MARA setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(9,'TLRY','2026-11-05T17:16:24+00:00','buy',0.69999999999999995559,'TLRY setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(10,'SNDL','2026-11-07T17:16:24+00:00','buy',0.69999999999999995559,'SNDL setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(11,'CLOV','2026-11-09T17:16:24+00:00','buy',0.69999999999999995559,'CLOV setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
INSERT INTO thesis_decisions VALUES(12,'WISH','2026-11-11T17:16:24+00:00','buy',0.69999999999999995559,'WISH setup','{"short_interest":0.3}',1,'normal','2026-11-29T20:11:25Z');
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
INSERT INTO trade_outcomes VALUES(1,'AMC','2026-10-20T19:11:24+00:00','2026-10-21T17:11:24+00:00',10.0,9.5999999999999996447,1.5,-4.0,1,NULL,NULL,'stop','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(2,'GME','2026-10-22T19:11:24+00:00','2026-10-23T17:11:24+00:00',10.0,9.7100000000000008526,1.5,-2.8999999999999999111,1,NULL,NULL,'stop','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(3,'BB','2026-10-24T19:11:24+00:00','2026-10-25T17:11:24+00:00',10.0,9.8200000000000002842,1.5,-1.8000000000000000444,1,NULL,NULL,'stop','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(4,'NOK','2026-10-26T19:11:24+00:00','2026-10-27T17:11:24+00:00',10.0,9.9299999999999997157,1.5,-0.69999999999999995559,1,NULL,NULL,'stop','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(5,'PLTR','2026-10-28T19:11:24+00:00','2026-10-29T17:11:24+00:00',10.0,10.039999999999999147,1.5,0.4000000000000000222,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(6,'SOFI','2026-10-30T19:11:24+00:00','2026-10-31T17:11:24+00:00',10.0,10.150000000000000355,1.5,1.5,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(7,'RIOT','2026-11-01T19:11:24+00:00','2026-11-02T17:11:24+00:00',10.0,10.259999999999999786,1.5,2.6000000000000000888,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(8,'MARA','2026-11-03T19:11:24+00:00','2026-11-04T17:11:24+00:00',10.0,10.369999999999999218,1.5,3.7000000000000001776,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(9,'TLRY','2026-11-05T19:11:24+00:00','2026-11-06T17:11:24+00:00',10.0,10.480000000000000426,1.5,4.7999999999999998223,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(10,'SNDL','2026-11-07T19:11:24+00:00','2026-11-08T17:11:24+00:00',10.0,10.589999999999999858,1.5,5.9000000000000003552,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(11,'CLOV','2026-11-09T19:11:24+00:00','2026-11-10T17:11:24+00:00',10.0,10.699999999999999289,1.5,7.0,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
INSERT INTO trade_outcomes VALUES(12,'WISH','2026-11-11T19:11:24+00:00','2026-11-12T17:11:24+00:00',10.0,10.810000000000000497,1.5,8.0999999999999996447,1,NULL,NULL,'target','2026-11-29T20:11:25Z');
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
INSERT INTO learning_weights_history VALUES(1,'learning-intelligence','2026-11-29T20:11:25.136687517+00:00','{"catalyst":0.15,"options":0.12,"sentiment":0.15,"squeeze":0.2,"technical":0.13,"volume_momentum":0.25}','{"catalyst":0.140187,"options":0.224299,"sentiment":0.140187,"squeeze":0.373832,"technical":0.121495,"volume_momentum":0.0}','{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}',0,'significant at 0.0083 (Spearman, alpha 0.05 / 6 features): options, squeeze, volume_momentum',1.0,12,'normal','{"counts":{"discoveries":12,"outcomes":12,"positive_outcomes":8,"theses":12},"features":{"catalyst":{"n":12,"spearman":0.14484136487558025,"spearman_p":0.6533385771243545,"status":"ok"},"options":{"n":12,"spearman":0.9999999999999999,"spearman_p":1.3283169408470906e-79,"status":"ok"},"sentiment":{"n":12,"spearman":null,"spearman_p":null,"status":"insufficient_data"},"squeeze":{"n":12,"spearman":0.9999999999999999,"spearman_p":1.3283169408470906e-79,"status":"ok"},"technical":{"n":12,"spearman":null,"spearman_p":null,"status":"insufficient_data"},"volume_momentum":{"n":12,"spearman":-0.9999999999999998,"spearman_p":4.250614210710488e-78,"status":"ok"}},"match_window_days":3.0,"pairs":12,"significant":["options","squeeze","volume_momentum"],"window_days":90.0}');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('rollout_events',6);
INSERT INTO sqlite_sequence VALUES('rollout_outbox',4);
INSERT INTO sqlite_sequence VALUES('observations',80);
INSERT INTO sqlite_sequence VALUES('discovery_decisions',12);
INSERT INTO sqlite_sequence VALUES('thesis_decisions',12);
INSERT INTO sqlite_sequence VALUES('trade_outcomes',12);
INSERT INTO sqlite_sequence VALUES('learning_weights_history',1);
CREATE INDEX rollout_flags_rollout ON rollout_flags (rollout);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout, id);
CREATE TRIGGER rollout_events_no_update BEFORE UPDATE ON rollout_events
BEGIN
    SELECT RAISE(ABORT, 'rollout_events is append-only');
END;
CREATE TRIGGER rollout_events_no_delete BEFORE DELETE ON rollout_events
BEGIN
    SELECT RAISE(ABORT, 'rollout_events is append-only');
END;
CREATE UNIQUE INDEX observations_event ON observations (rollout, event_id);
CREATE INDEX observations_metric_value ON observations (rollout, metric, value);
CREATE INDEX observations_window ON observations (rollout, metric, observed_at);
CREATE INDEX observations_arrival ON observations (rollout, ingested_at);
CREATE INDEX rollout_outbox_pending ON rollout_outbox (url, id) WHERE delivered_at IS NULL;
CREATE INDEX discovery_decisions_time ON discovery_decisions (discovery_timestamp);
CREATE INDEX trade_outcomes_exit ON trade_outcomes (exit_timestamp);
CREATE INDEX learning_weights_history_rollout ON learning_weights_history (rollout, computed_at, id);
CREATE INDEX rollout_events_flags_version ON rollout_events (flags_version, id);
COMMIT;
