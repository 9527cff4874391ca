package io.pgvault.core.repo;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.storage.ObjectStore;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code clusters/{name}/cluster.json}: a registered cluster as the repository knows it,
 * so the catalog can be rebuilt and a restore can check what it fetches. The connection
 * string is kept without its password (passwords belong in .pgpass or the catalog).
 *
 * @param systemIdentifier unsigned decimal, null until the first segment arrived
 * @param walSegmentSize bytes, null until the first segment arrived
 * @param stream true when the server follows the cluster over streaming replication
 * @param slot the physical replication slot the server streams from (its own), or null
 * @param removedAt when {@code cluster remove} unregistered it (its WAL and backups stay restorable), or null
 * @param backupSchedule cron expression of its full backups
 * @param incrementalSchedule cron expression of its incremental backups
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ClusterDescriptor(String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor,
                                String createdAt, String backupSchedule, Integer retainFull, Integer retainDays, Boolean stream, String slot,
                                String removedAt, String incrementalSchedule) {

    public ClusterDescriptor(String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor, String createdAt) {
        this(name, conninfo, systemIdentifier, walSegmentSize, pgMajor, createdAt, null, null, null, null, null, null, null);
    }

    /** Without an incremental schedule. */
    public ClusterDescriptor(String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor, String createdAt,
                             String backupSchedule, Integer retainFull, Integer retainDays, Boolean stream, String slot, String removedAt) {
        this(name, conninfo, systemIdentifier, walSegmentSize, pgMajor, createdAt, backupSchedule, retainFull, retainDays, stream, slot, removedAt,
                null);
    }

    /** Jackson reads a descriptor through the canonical constructor. */
    @com.fasterxml.jackson.annotation.JsonCreator
    public ClusterDescriptor {
    }

    public boolean streams() {
        return Boolean.TRUE.equals(stream);
    }

    public ClusterDescriptor removed(String at) {
        return new ClusterDescriptor(name, conninfo, systemIdentifier, walSegmentSize, pgMajor, createdAt, backupSchedule, retainFull, retainDays,
                stream, slot, at, incrementalSchedule);
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PASSWORD = Pattern.compile("(?i)\\b(?:ssl)?password\\s*=\\s*('(?:[^'\\\\]|\\\\.)*'|\\S+)");

    /** The connection string without {@code password=...} or {@code sslpassword=...} (a client key's passphrase). */
    public static String withoutPassword(String conninfo) {
        return conninfo == null ? null : PASSWORD.matcher(conninfo).replaceAll("").replaceAll("\\s{2,}", " ").trim();
    }

    public void write(ObjectStore store) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(
                new ClusterDescriptor(name, withoutPassword(conninfo), systemIdentifier, walSegmentSize, pgMajor, createdAt, backupSchedule,
                        retainFull, retainDays, stream, slot, removedAt, incrementalSchedule));
        store.put(RepositoryLayout.clusterDescriptor(name), () -> new ByteArrayInputStream(bytes), bytes.length);
    }

    public static Optional<ClusterDescriptor> read(ObjectStore store, String name) throws IOException {
        String key = RepositoryLayout.clusterDescriptor(name);
        Optional<InputStream> in = store.get(key);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream stream = in.get()) {
            return Optional.of(JSON.readValue(stream, ClusterDescriptor.class));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptObjectException(key + " in " + store.describe() + " is unreadable: " + e.getOriginalMessage(), e);
        }
    }
}
