package io.pgvault.core.util;

import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Arguments as words a POSIX shell reads back unchanged: quoted only when they need it. */
public final class ShellWords {

    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_./:=@%+,-]+");

    private ShellWords() {
    }

    /** A word that starts with {@code =} is quoted too: zsh expands {@code =cmd} to the command's path. */
    public static String quote(String word) {
        return SAFE.matcher(word).matches() && !word.startsWith("=") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    public static String join(List<String> words) {
        return words.stream().map(ShellWords::quote).collect(Collectors.joining(" "));
    }
}
