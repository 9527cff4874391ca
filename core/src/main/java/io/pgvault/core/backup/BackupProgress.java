package io.pgvault.core.backup;

import io.pgvault.core.pgproto.BaseBackupSink;
import io.pgvault.core.pgproto.BaseBackupSink.Tablespace;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How far a running base backup is: the bytes PostgreSQL has sent and, when it was asked for
 * PROGRESS, the total it estimated up front (the data directory can grow meanwhile, so the
 * done count may pass it). Wraps the sink that stores the backup; read from other threads.
 */
public final class BackupProgress implements BaseBackupSink {

    private final BaseBackupSink target;
    private final AtomicLong done = new AtomicLong();
    private volatile long totalBytes = -1;

    public BackupProgress(BaseBackupSink target) {
        this.target = target;
    }

    public long doneBytes() {
        return done.get();
    }

    /** PostgreSQL's estimate of the whole backup, once it has sent the tablespace list with sizes. */
    public OptionalLong totalBytes() {
        long t = totalBytes;
        return t < 0 ? OptionalLong.empty() : OptionalLong.of(t);
    }

    @Override
    public void started(Lsn start, TimelineId timeline) throws IOException {
        target.started(start, timeline);
    }

    @Override
    public void tablespaces(List<Tablespace> tablespaces) throws IOException {
        if (!tablespaces.isEmpty() && tablespaces.stream().allMatch(t -> t.sizeKb().isPresent())) {
            totalBytes = tablespaces.stream().mapToLong(t -> t.sizeKb().orElseThrow() * 1024).sum();
        }
        target.tablespaces(tablespaces);
    }

    @Override
    public OutputStream archive(String name, Optional<String> tablespaceLocation) throws IOException {
        return counted(target.archive(name, tablespaceLocation));
    }

    @Override
    public OutputStream manifest() throws IOException {
        return target.manifest();
    }

    private OutputStream counted(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                out.write(b);
                done.incrementAndGet();
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                done.addAndGet(len);
            }
        };
    }
}
