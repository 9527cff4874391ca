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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code pgvault wal-inspect FILE...}: says what a WAL or history file is and whether it
 * is the file its name claims, with the same checks the server applies on arrival.
 */
@Command(name = "wal-inspect", footerHeading = "%nExamples:%n",
        footer = {"  pgvault wal-inspect pg_wal/000000010000000000000003",
                "  pgvault wal-inspect --json --system-identifier 7315286466453214234 pg_wal/0*"},
        mixinStandardHelpOptions = true,
        description = "Check WAL segments and history files as the server would on arrival; exit 1 if any is not what its name claims.")
final class WalInspectCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "WAL segment, .partial or .history files.")
    List<Path> files;

    @Option(names = "--system-identifier", description = "Expected system identifier (pg_control_system()).")
    String systemIdentifier;

    @Option(names = "--segment-size-mb", description = "Expected wal_segment_size in MB (default: what the header says).")
    Integer segmentSizeMb;

    @Option(names = "--json", description = "Print JSON: one object per file, {file, status: OK|INVALID, kind, ...} (docs/json.md).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int bad = 0;
        List<Map<String, Object>> reports = new ArrayList<>();
        for (Path file : files) {
            Map<String, Object> report;
            try {
                report = inspect(file);
            } catch (IllegalArgumentException e) {
                report = new LinkedHashMap<>();
                report.put("file", file.toString());
                report.put("status", "INVALID");
                report.put("error", e.getMessage());
                bad++;
                if (!json) {
                    err.println(file + ": INVALID: " + e.getMessage());
                }
            }
            if (json) {
                reports.add(report);
            } else if ("OK".equals(report.get("status"))) {
                print(out, report);
            }
        }
        if (json) {
            Json.print(out, reports);
        }
        return bad == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private static void print(PrintWriter out, Map<String, Object> r) {
        switch ((String) r.get("kind")) {
            case "history" -> {
                out.printf("%s: OK timeline history of %s%n", r.get("file"), r.get("timeline"));
                for (Object e : (List<?>) r.get("ancestors")) {
                    Map<?, ?> a = (Map<?, ?>) e;
                    out.printf("  timeline %s ended at %s (%s)%n", a.get("timeline"), a.get("switchPoint"), a.get("reason"));
                }
            }
            case "backup-label" -> out.printf("%s: backup label of segment %s at offset %s%n%s", r.get("file"), r.get("segment"),
                    r.get("offset"), r.get("content"));
            default -> out.printf("%s: OK PostgreSQL %s, timeline %s (header %s), starts at %s, system identifier %s, segment %s MB, "
                            + "block %s bytes%n", r.get("file"), r.get("pgMajor"), r.get("timeline"), r.get("headerTimeline"),
                    r.get("pageAddress"), r.get("systemIdentifier"), r.get("segmentSizeMb"), r.get("blockSize"));
        }
    }

    /** What the file is, as the server would judge it on arrival; throws IllegalArgumentException when it is not what its name claims. */
    private Map<String, Object> inspect(Path file) throws IOException {
        WalFileName name = WalFileName.parse(file.getFileName().toString());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("file", file.toString());
        r.put("status", "OK");
        if (name.isHistory()) {
            TimelineHistory history = TimelineHistory.parse(name.timeline(), Files.readAllBytes(file));
            r.put("kind", "history");
            r.put("timeline", history.timeline().toString());
            r.put("ancestors", history.ancestors().stream().map(e -> Map.of("timeline", e.timeline().toString(),
                    "switchPoint", e.switchPoint().toString(), "reason", e.reason())).toList());
            return r;
        }
        if (name.kind() == WalFileName.Kind.BACKUP) {
            r.put("kind", "backup-label");
            r.put("segment", name.segmentName().toString());
            r.put("offset", name.backupOffset());
            r.put("content", Files.readString(file));
            return r;
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
        r.put("kind", name.kind() == WalFileName.Kind.PARTIAL ? "partial-segment" : "segment");
        r.put("pgMajor", h.major().orElseThrow().number());
        r.put("timeline", name.timeline().value());
        r.put("headerTimeline", h.timeline());
        r.put("pageAddress", h.pageAddress().toString());
        r.put("systemIdentifier", h.systemIdentifierText());
        r.put("segmentSizeMb", h.segmentSize() >> 20);
        r.put("blockSize", h.blockSize());
        return r;
    }
}
