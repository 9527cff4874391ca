-- Streaming replication: whether the server follows a cluster, and the slot it owns there.
ALTER TABLE clusters ADD COLUMN stream BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE clusters ADD COLUMN slot_name VARCHAR(63);
