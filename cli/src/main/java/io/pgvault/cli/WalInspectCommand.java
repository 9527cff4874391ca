package io.pgvault.cli;

import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalSegmentCheck;
import io.pgvault.core.wal.WalSegmentSize;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pgvault wal-inspect FILE...}: says what a WAL or history file is and whether it
 * is the file its name claims, with the same checks the server applies on arrival.
 */
@Command(name = "wal-inspect", mixinStandardHelpOptions = true,
        description = "Check WAL segments and history files as the server would on arrival; exit 1 if any is not what its name claims.")
final class WalInspectCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "WAL segment, .partial or .history files.")
    List<Path> files;

    @Option(names = "--system-identifier", description = "Expected system identifier (pg_control_system()).")
    String systemIdentifier;

    @Option(names = "--segment-size-mb", description = "Expected wal_segment_size in MB (default: what the header says).")
    Integer segmentSizeMb;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int bad = 0;
        for (Path file : files) {
            try {
                inspect(file, out);
            } catch (IllegalArgumentException e) {
                err.println(file + ": INVALID: " + e.getMessage());
                bad++;
            }
        }
        return bad == 0 ? 0 : 1;
    }

    private void inspect(Path file, PrintWriter out) throws IOException {
        WalFileName name = WalFileName.parse(file.getFileName().toString());
        if (name.isHistory()) {
            TimelineHistory history = TimelineHistory.parse(name.timeline(), Files.readAllBytes(file));
            out.printf("%s: OK timeline history of %s%n", file, history.timeline());
            history.ancestors().forEach(e -> out.printf("  timeline %s ended at %s (%s)%n", e.timeline(), e.switchPoint(), e.reason()));
            return;
        }
        if (name.kind() == WalFileName.Kind.BACKUP) {
            out.printf("%s: backup label of segment %s at offset %d%n%s", file, name.segmentName(), name.backupOffset(), Files.readString(file));
            return;
        }
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(WalPageHeader.LONG_HEADER_BYTES);
        }
        long length = Files.size(file);
        WalSegmentCheck check;
        if (systemIdentifier != null) {
            WalSegmentSize size = segmentSizeMb == null ? WalSegmentSize.DEFAULT : WalSegmentSize.ofMegabytes(segmentSizeMb);
            check = WalSegmentCheck.forCluster(size, Long.parseUnsignedLong(systemIdentifier));
        } else {
            check = WalSegmentCheck.firstOfCluster();
        }
        WalPageHeader h = check.check(name, head, length);
        if (systemIdentifier == null && segmentSizeMb != null && h.segmentSize() != ((long) segmentSizeMb << 20)) {
            throw new InvalidWalException(io.pgvault.core.wal.WalProblem.WRONG_SEGMENT_SIZE,
                    name + " has segment size " + (h.segmentSize() >> 20) + " MB, expected " + segmentSizeMb + " MB");
        }
        out.printf("%s: OK PostgreSQL %d, timeline %d (header %d), starts at %s, system identifier %s, segment %d MB, block %d bytes%n",
                file, h.major().orElseThrow().number(), name.timeline().value(), h.timeline(), h.pageAddress(),
                h.systemIdentifierText(), h.segmentSize() >> 20, h.blockSize());
    }
}
