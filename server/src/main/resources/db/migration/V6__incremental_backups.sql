-- Incremental backups (PostgreSQL 17+): what kind each stored backup is and which backup it
-- builds on, so listings show chains and deletion can refuse to orphan one. Null for rows
-- of backups that never stored anything (running, failed).
ALTER TABLE backups ADD COLUMN backup_type VARCHAR(12);
ALTER TABLE backups ADD COLUMN parent_id VARCHAR(40);

-- A second schedule per cluster for incremental backups, beside backup_schedule (full backups).
ALTER TABLE clusters ADD COLUMN incremental_schedule VARCHAR(100);
