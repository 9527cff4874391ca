-- Per-cluster backup schedule (cron) and retention policy.
ALTER TABLE clusters ADD COLUMN backup_schedule VARCHAR(100);
ALTER TABLE clusters ADD COLUMN retain_full INTEGER;
ALTER TABLE clusters ADD COLUMN retain_days INTEGER;
