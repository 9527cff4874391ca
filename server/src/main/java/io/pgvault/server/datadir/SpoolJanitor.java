package io.pgvault.server.datadir;

import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.core.spool.SpoolBudget;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;

/**
 * Removes what a crashed or killed server left in its spool ({@code pgvault.data-dir/spool}:
 * WAL and backup pieces on their way to the repository). A file last written before this
 * JVM started is a leftover: none was acknowledged, and PostgreSQL sends its WAL again.
 * (Files of this run, a stream that started already, are left alone.)
 */
@Singleton
public class SpoolJanitor {

    private static final Logger LOG = LoggerFactory.getLogger(SpoolJanitor.class);

    private final Path spool;

    public SpoolJanitor(SpoolBudget budget) {
        this.spool = budget.directory();
    }

    @EventListener
    void onStartup(StartupEvent event) {
        if (!Files.isDirectory(spool)) {
            return;
        }
        Instant started = Instant.ofEpochMilli(ManagementFactory.getRuntimeMXBean().getStartTime());
        long bytes = 0;
        int files = 0;
        try (Stream<Path> listing = Files.list(spool)) {
            for (Path leftover : listing.filter(f -> Files.isRegularFile(f) && before(f, started)).toList()) {
                bytes += Files.size(leftover);
                Files.delete(leftover);
                files++;
            }
        } catch (IOException e) {
            LOG.warn("Could not clear the spool {} of an earlier run's leftovers: {}; they use disk until removed", spool, e.getMessage());
            return;
        }
        if (files > 0) {
            LOG.info("Removed {} file(s), {} bytes, that an earlier run left in the spool {} (none was acknowledged)", files, bytes, spool);
        }
    }

    private static boolean before(Path file, Instant instant) {
        try {
            return Files.getLastModifiedTime(file).toInstant().isBefore(instant);
        } catch (IOException gone) {
            return false;
        }
    }
}
