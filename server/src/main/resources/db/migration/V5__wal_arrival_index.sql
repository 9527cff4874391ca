-- The status and the planner ask for a cluster's newest arrivals and those after a time:
-- without this, each is a sort of all its WAL rows.
CREATE INDEX IF NOT EXISTS wal_files_by_arrival ON wal_files (cluster_id, arrived_at);
