-- Backup history: every backup this server (or one before it) started, with its outcome.
-- Written as a backup runs, so running and failed backups survive a restart; stored ones
-- are refilled from their manifests by a catalog rebuild (the repository stays the truth).
CREATE TABLE backups (
    cluster_id         BIGINT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    id                 VARCHAR(40) NOT NULL,
    status             VARCHAR(10) NOT NULL CHECK (status IN ('running', 'stored', 'failed')),
    reason             TEXT,
    started_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at        TIMESTAMP WITH TIME ZONE,
    start_lsn          BIGINT,
    end_lsn            BIGINT,
    timeline           BIGINT,
    wal_segment_size   BIGINT,
    raw_bytes          BIGINT,
    stored_bytes       BIGINT,
    pieces             INTEGER,
    PRIMARY KEY (cluster_id, id)
);
