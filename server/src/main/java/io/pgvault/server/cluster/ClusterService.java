package io.pgvault.server.cluster;

import io.micronaut.http.HttpStatus;
import io.micronaut.serde.annotation.Serdeable;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.repository.RepositoryInitializer;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

/** Registers clusters, in the repository (the truth) and in the catalog (the index). */
@Singleton
public class ClusterService {

    private static final Pattern SLOT = Pattern.compile("[a-z0-9_]{1,63}");

    /** What {@code cluster add} gives; null fields are unset. */
    public record Registration(String name, String conninfo, String backupSchedule, Integer retainFull, Integer retainDays, boolean stream,
                               String slot, String incrementalSchedule) {
        public Registration(String name, String conninfo, String backupSchedule, Integer retainFull, Integer retainDays, boolean stream,
                            String slot) {
            this(name, conninfo, backupSchedule, retainFull, retainDays, stream, slot, null);
        }

        public static Registration of(String name, String conninfo) {
            return new Registration(name, conninfo, null, null, null, false, null);
        }
    }

    /**
     * What {@code cluster update} changes; null fields stay as they are. An empty schedule
     * clears it, and so does a retention of 0 (no cluster keeps zero backups).
     */
    public record Change(String conninfo, Boolean stream, String slot, String backupSchedule, String incrementalSchedule, Integer retainFull,
                         Integer retainDays) {
        public Change(String conninfo, Boolean stream, String slot) {
            this(conninfo, stream, slot, null, null, null, null);
        }
    }

    private final Catalog catalog;
    private final ObjectStore store;
    private final RepositoryInitializer repository;
    private final Clock clock;
    private final List<ClusterListener> listeners = new CopyOnWriteArrayList<>();

    public ClusterService(Catalog catalog, ObjectStore store, RepositoryInitializer repository, Clock clock) {
        this.catalog = catalog;
        this.store = store;
        this.repository = repository;
        this.clock = clock;
    }

    public ClusterRow add(String name, String conninfo) throws IOException {
        return add(Registration.of(name, conninfo));
    }

    /**
     * Registers a cluster with an optional backup schedule (cron, e.g. {@code 0 2 * * *}),
     * retention policy (keep the newest N full backups and/or a recovery window in days) and
     * streaming (the server follows it from a slot of its own, {@code pgvault_NAME} unless named).
     */
    public synchronized ClusterRow add(Registration r) throws IOException {
        String name = r.name();
        RepositoryLayout.checkCluster(name);
        checkPolicy(r.backupSchedule(), r.retainFull(), r.retainDays());
        checkPolicy(r.incrementalSchedule(), null, null);
        String slot = checkStreaming(name, r.conninfo(), r.stream(), r.slot());
        if (catalog.findCluster(name).isPresent()) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' is already registered; `pgvault cluster show " + name + "` shows it");
        }
        repository.ensureReady();
        Instant now = clock.instant();
        // An existing descriptor (a catalog rebuilt or lost, a cluster removed and added again) keeps the identity it recorded.
        Optional<ClusterDescriptor> known = ClusterDescriptor.read(store, name);
        ClusterDescriptor descriptor = new ClusterDescriptor(name, r.conninfo(), known.map(ClusterDescriptor::systemIdentifier).orElse(null),
                known.map(ClusterDescriptor::walSegmentSize).orElse(null), known.map(ClusterDescriptor::pgMajor).orElse(null),
                known.map(ClusterDescriptor::createdAt).orElse(now.toString()), r.backupSchedule(), r.retainFull(), r.retainDays(),
                r.stream() ? Boolean.TRUE : null, slot, null, r.incrementalSchedule());
        descriptor.write(store);
        if (!catalog.insertCluster(name, r.conninfo(), descriptor.systemIdentifier(), descriptor.walSegmentSize(), descriptor.pgMajor(),
                Instant.parse(descriptor.createdAt()))) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' was registered concurrently");
        }
        long id = require(name).id();
        catalog.updatePolicy(id, r.backupSchedule(), r.incrementalSchedule(), r.retainFull(), r.retainDays());
        catalog.updateConnection(id, r.conninfo(), r.stream(), slot);
        ClusterRow registered = require(name);
        listeners.forEach(l -> l.registered(registered));
        return registered;
    }

    /**
     * Changes the connection string, streaming, the backup schedules or the retention policy;
     * the receiver and the schedules restart with the new settings.
     */
    public synchronized ClusterRow update(String name, Change change) throws IOException {
        ClusterRow before = require(name);
        String conninfo = change.conninfo() != null ? change.conninfo() : before.conninfo();
        boolean stream = change.stream() != null ? change.stream() : before.stream();
        String slot = checkStreaming(name, conninfo, stream, change.slot() != null ? change.slot() : stream ? before.slot() : null);
        String schedule = changed(change.backupSchedule(), before.backupSchedule());
        String incremental = changed(change.incrementalSchedule(), before.incrementalSchedule());
        Integer retainFull = change.retainFull() == null ? before.retainFull() : change.retainFull() == 0 ? null : change.retainFull();
        Integer retainDays = change.retainDays() == null ? before.retainDays() : change.retainDays() == 0 ? null : change.retainDays();
        checkPolicy(schedule, retainFull, retainDays);
        checkPolicy(incremental, null, null);
        repository.ensureReady();
        catalog.updateConnection(before.id(), conninfo, stream, slot);
        catalog.updatePolicy(before.id(), schedule, incremental, retainFull, retainDays);
        ClusterRow after = require(name);
        after.descriptor().write(store);
        listeners.forEach(l -> l.updated(before, after));
        return after;
    }

    /**
     * Unregisters a cluster: its receiver stops and its slot is dropped (so the database
     * server stops keeping WAL for pgvault), its catalog rows go; the repository keeps its
     * WAL and backups, still restorable, and {@code cluster add} brings it back.
     */
    public synchronized Removal remove(String name) throws IOException {
        ClusterRow row = require(name);
        repository.ensureReady();
        List<String> warnings = new ArrayList<>();
        listeners.forEach(l -> warnings.addAll(l.removing(row)));
        row.descriptor().removed(clock.instant().toString()).write(store);
        catalog.deleteCluster(row.id());
        return new Removal(row.redacted(), warnings);
    }

    /** A removed cluster, and what could not be cleaned up on its database server. */
    @Serdeable
    public record Removal(ClusterRow cluster, List<String> warnings) {
    }

    public void addListener(ClusterListener listener) {
        listeners.add(listener);
    }

    /** A schedule as changed: null keeps it, an empty one clears it. */
    private static String changed(String given, String before) {
        return given == null ? before : given.isBlank() ? null : given;
    }

    /** The slot to stream from: the one given, the one it had, or {@code pgvault_NAME}; null when not streaming (pgvault holds none then). */
    private static String checkStreaming(String name, String conninfo, boolean stream, String slot) {
        if (!stream) {
            if (slot != null && !slot.isBlank()) {
                throw new ApiException(HttpStatus.BAD_REQUEST, "--slot " + slot + " names the slot to stream from, but cluster '" + name
                        + "' does not stream: add --stream");
            }
            return null;
        }
        if (conninfo == null || conninfo.isBlank()) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "streaming needs --conninfo: the server connects to the cluster as a replication client "
                    + "(e.g. 'host=db1 user=pgvault', a role with REPLICATION and a pg_hba.conf line for the 'replication' database)");
        }
        String chosen = slot != null && !slot.isBlank() ? slot : "pgvault_" + name.replace('-', '_');
        if (!SLOT.matcher(chosen).matches()) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "slot name '" + chosen
                    + "' is not a replication slot name: expected 1 to 63 lower-case letters, digits or '_'");
        }
        return chosen;
    }

    private static void checkPolicy(String schedule, Integer retainFull, Integer retainDays) {
        if (schedule != null && !schedule.isBlank()) {
            try {
                io.micronaut.scheduling.cron.CronExpression.create(schedule);
            } catch (RuntimeException e) {
                throw new ApiException(HttpStatus.BAD_REQUEST, "backup schedule '" + schedule
                        + "' is not a cron expression: expected e.g. '0 2 * * *' (02:00 every day): " + e.getMessage());
            }
        }
        if (retainFull != null && retainFull < 1) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "retain-full " + retainFull + " would keep no backup: expected 1 or more");
        }
        if (retainDays != null && retainDays < 1) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "retain-days " + retainDays + " is not a recovery window: expected 1 or more days");
        }
    }

    public List<ClusterRow> list() {
        return catalog.listClusters();
    }

    public Optional<ClusterRow> find(String name) {
        return catalog.findCluster(name);
    }

    /** The cluster, or a 404 that says how to register it. */
    public ClusterRow require(String name) {
        return catalog.findCluster(name).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND,
                "cluster '" + name + "' is not registered with this pgvault server; register it first: "
                        + "pgvault cluster add " + name + " --conninfo 'host=... user=...' (or POST /v1/clusters)"));
    }
}
