-- Several servers on one catalog: work that must run once per cluster (streaming, scheduled
-- backups, retention) runs on the server holding the cluster's lease. Times are the catalog
-- database's own clock in epoch milliseconds (no server's clock is compared with another's),
-- written and compared in SQL only.

-- Fencing tokens: each lease taken draws the next one, so two holdings of any lease never
-- share a token (streamed heads are stored under their stream's token). A sequence: drawing
-- from it locks nothing another server could wait on.
CREATE SEQUENCE lease_tokens;

CREATE TABLE cluster_leases (
    cluster_id         BIGINT PRIMARY KEY REFERENCES clusters (id) ON DELETE CASCADE,
    server_id          VARCHAR(255) NOT NULL,
    token              BIGINT NOT NULL,
    acquired_ms        BIGINT NOT NULL,
    expires_ms         BIGINT NOT NULL
);

-- Each server's last sign of life, so each can take its fair share of the leases.
CREATE TABLE lease_servers (
    server_id          VARCHAR(255) PRIMARY KEY,
    seen_ms            BIGINT NOT NULL
);

-- One row per scheduled backup slot (a time a cron expression fires), claimed before the
-- backup starts: a slot is run once, whichever server holds the lease then or takes it over.
CREATE TABLE backup_slots (
    cluster_id         BIGINT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    slot_at            TIMESTAMP WITH TIME ZONE NOT NULL,
    backup_type        VARCHAR(12) NOT NULL,
    server_id          VARCHAR(255) NOT NULL,
    token              BIGINT NOT NULL,
    backup_id          VARCHAR(40),
    PRIMARY KEY (cluster_id, slot_at)
);
