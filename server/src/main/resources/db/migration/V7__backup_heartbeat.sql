-- Several pgvault servers may share one catalog: each running backup names the server
-- taking it and that server's last sign of life, so a server starting (or checking
-- periodically) fails only backups whose server is gone, never one another server is
-- still taking. Null in rows written before (they are judged by started_at).
ALTER TABLE backups ADD COLUMN server_id VARCHAR(255);
ALTER TABLE backups ADD COLUMN heartbeat_at TIMESTAMP WITH TIME ZONE;
