package io.pgvault.core.backup;

import io.pgvault.core.util.FileModes;
import io.pgvault.core.util.FileTrees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where each tablespace of a backup is restored: its original location, or the place a
 * {@code --tablespace-map OLD=NEW} names. Made and checked before a byte is written. A
 * target that exists and is not empty is refused (pg_basebackup's rule), so a point-in-time
 * copy made on the primary's own host can never write into the live cluster's tablespace;
 * a mapping for a location the backup does not have is refused with the locations it has.
 */
public final class TablespacePlan {

    /** One tablespace: its OID (the name of its archive), where it lived on the source, where it goes now. */
    public record Tablespace(String oid, String location, Path target) {
    }

    private final Map<String, Tablespace> byLocation;
    /** Targets this plan created (removed whole after a failure) and ones that were there empty (emptied). */
    private final List<Path> created = new ArrayList<>();
    private final List<Path> emptied = new ArrayList<>();

    private TablespacePlan(Map<String, Tablespace> byLocation) {
        this.byLocation = byLocation;
    }

    /**
     * @param remap OLD location → NEW target, as the DBA gave them
     * @param dataDirectory the restore's data directory: no target may lie inside it or hold it
     * @throws IllegalArgumentException for a mapping of a location the backup does not have, two tablespaces onto
     *     one target, or a target that overlaps the data directory or another target
     */
    public static TablespacePlan of(BackupManifest backup, Map<String, Path> remap, Path dataDirectory) {
        Map<String, Tablespace> byLocation = new LinkedHashMap<>();
        for (BackupManifest.Piece piece : backup.pieces()) {
            String location = piece.tablespaceLocation();
            if (location != null && !byLocation.containsKey(location)) {
                Path target = remap.containsKey(location) ? remap.get(location).toAbsolutePath().normalize() : Path.of(location);
                byLocation.put(location, new Tablespace(piece.archive().replaceFirst("\\.tar$", ""), location, target));
            }
        }
        for (String old : remap.keySet()) {
            if (!byLocation.containsKey(old)) {
                throw new IllegalArgumentException("--tablespace-map " + old + "=" + remap.get(old) + ": backup " + backup.backupId()
                        + " has no tablespace at " + old + "; its tablespaces are at: "
                        + (byLocation.isEmpty() ? "(none)" : String.join(", ", byLocation.keySet())) + " (nothing was changed)");
            }
        }
        List<Tablespace> all = List.copyOf(byLocation.values());
        Path data = dataDirectory.toAbsolutePath().normalize();
        for (int i = 0; i < all.size(); i++) {
            Tablespace t = all.get(i);
            if (t.target().startsWith(data) || data.startsWith(t.target())) {
                throw new IllegalArgumentException("tablespace " + t.oid() + " would be restored into " + t.target() + ", which overlaps the data "
                        + "directory " + data + ": map it elsewhere with --tablespace-map " + t.location() + "=NEW (nothing was changed)");
            }
            for (int j = i + 1; j < all.size(); j++) {
                Tablespace u = all.get(j);
                if (t.target().startsWith(u.target()) || u.target().startsWith(t.target())) {
                    throw new IllegalArgumentException("tablespaces " + t.oid() + " and " + u.oid() + " would be restored into " + t.target()
                            + " and " + u.target() + ", which overlap: give each its own place with --tablespace-map (nothing was changed)");
                }
            }
        }
        return new TablespacePlan(byLocation);
    }

    public List<Tablespace> tablespaces() {
        return List.copyOf(byLocation.values());
    }

    /** The target of a tablespace the backup has, by its original location. */
    public Optional<Path> targetOf(String location) {
        return Optional.ofNullable(byLocation.get(location)).map(Tablespace::target);
    }

    /** One line per tablespace, for the DBA to see before anything is written. */
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        for (Tablespace t : byLocation.values()) {
            lines.add("tablespace " + t.oid() + ": " + t.location() + " -> " + t.target()
                    + (t.target().equals(Path.of(t.location())) ? " (its original location)" : ""));
        }
        return lines;
    }

    /**
     * Refuses before anything is written when a target exists and is not an empty directory.
     *
     * @throws IllegalArgumentException naming the target and the option that moves it
     */
    public void checkTargets() throws IOException {
        for (Tablespace t : byLocation.values()) {
            if (Files.exists(t.target(), LinkOption.NOFOLLOW_LINKS) && !isEmptyDirectory(t.target())) {
                throw new IllegalArgumentException("tablespace " + t.oid() + " would be restored into " + t.target() + ", which "
                        + (Files.isDirectory(t.target(), LinkOption.NOFOLLOW_LINKS) ? "is not empty" : "is not a directory")
                        + (t.target().equals(Path.of(t.location())) ? " (on the host the backup came from it is the live tablespace)" : "")
                        + ": restore it elsewhere with --tablespace-map " + t.location() + "=NEW (nothing was changed)");
            }
        }
    }

    /** Checks the targets again and creates the missing ones (0700), remembering what it made for {@link #removeWritten()}. */
    void prepare() throws IOException {
        checkTargets();
        for (Tablespace t : byLocation.values()) {
            if (Files.isDirectory(t.target(), LinkOption.NOFOLLOW_LINKS)) {
                emptied.add(t.target());
            } else {
                Path first = t.target();
                while (first.getParent() != null && !Files.exists(first.getParent(), LinkOption.NOFOLLOW_LINKS)) {
                    first = first.getParent();
                }
                Files.createDirectories(t.target());
                created.add(first);
            }
            Files.setPosixFilePermissions(t.target(), FileModes.permissions(0700));
        }
    }

    /** After a failed restore: removes the targets this plan created and empties the ones that were empty before. */
    public void removeWritten() {
        created.forEach(dir -> FileTrees.delete(dir, true));
        emptied.forEach(dir -> FileTrees.delete(dir, false));
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }
}
