package io.pgvault.core.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removing what a failed restore wrote. */
public final class FileTrees {

    private FileTrees() {
    }

    /**
     * Deletes a tree, best effort, without following links: a link is removed, never what it
     * points to (a restore's target may hold links to tablespaces elsewhere).
     *
     * @param itself whether {@code dir} goes too, or only what is in it
     */
    public static void delete(Path dir, boolean itself) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).filter(p -> itself || !p.equals(dir)).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // the caller's failure is what the DBA needs to see; what is left is in a directory it named
        }
    }
}
