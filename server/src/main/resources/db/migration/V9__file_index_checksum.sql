-- The SHA-256 of the file index (files.json) a backup of PostgreSQL 14-16 stored, as the server
-- wrote it. An incremental backup by file references copies from its parent's index which piece
-- holds each unchanged range, and a restore then trusts that piece's checksum instead of hashing
-- the range: so the index must be the one this server wrote, which the repository alone cannot
-- vouch for (whoever writes an unencrypted bucket can rewrite it). Null for backups the catalog
-- learnt from the repository (a rebuild, a reconciliation): an index without it is built on with
-- references a restore hashes.
ALTER TABLE backups ADD COLUMN file_index_sha256 VARCHAR(64);
