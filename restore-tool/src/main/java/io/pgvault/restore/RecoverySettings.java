package io.pgvault.restore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Recovery configuration the PostgreSQL 12+ way: a signal file ({@code recovery.signal},
 * or {@code standby.signal} for a standby) and settings appended to
 * {@code postgresql.auto.conf}, where they override the restored cluster's own.
 *
 * <p>Values are written as PostgreSQL's own {@code ALTER SYSTEM} writes them: in single
 * quotes with {@code '} and {@code \} doubled ({@code escape_single_quotes_ascii}), because
 * the configuration file parser ({@code guc-file.l}, {@code DeescapeQuotedString}) reads a
 * backslash as an escape. A value that holds a line break is refused, as {@code ALTER SYSTEM}
 * refuses it: the file is line-based, and a line break would end the setting and let the
 * rest be read as further lines ({@code include_if_exists = ...}).
 */
public final class RecoverySettings {

    /** A plain setting name, as the parser's {@code ID} token reads it (ASCII only, no qualified names). */
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private final Map<String, String> settings = new LinkedHashMap<>();
    private final boolean standby;
    private final String comment;

    /**
     * @param comment written as a comment line above the settings
     * @throws IllegalArgumentException when the comment holds a line break
     */
    public RecoverySettings(boolean standby, String comment) {
        if (breaksLine(comment)) {
            throw new IllegalArgumentException("the comment for postgresql.auto.conf holds a line break, which would end the comment and "
                    + "make the rest a setting: '" + comment.replace("\n", "\\n").replace("\r", "\\r") + "'");
        }
        this.standby = standby;
        this.comment = comment;
    }

    /**
     * Adds a setting; checked here, so a refusal comes before anything is written.
     *
     * @throws IllegalArgumentException naming the setting, when the name is not a plain
     *     identifier or the value holds a line break (LF or CR) or a NUL character
     */
    public RecoverySettings set(String name, String value) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a PostgreSQL setting name: expected letters, digits and underscores, "
                    + "starting with a letter or underscore (e.g. recovery_target_name)");
        }
        if (value == null) {
            throw new IllegalArgumentException(name + " has no value: give one, or leave the setting out");
        }
        if (breaksLine(value)) {
            throw new IllegalArgumentException("the value of " + name + " holds a line break, which postgresql.auto.conf cannot carry "
                    + "(PostgreSQL's ALTER SYSTEM refuses it too): give " + name + " on one line");
        }
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("the value of " + name + " holds a NUL character, which a PostgreSQL configuration file "
                    + "cannot carry: remove it");
        }
        settings.put(name, value);
        return this;
    }

    public Map<String, String> settings() {
        return settings;
    }

    /** {@code name = 'value'} with {@code '} and {@code \} doubled, as ALTER SYSTEM writes it; for a checked name and value. */
    static String line(String name, String value) {
        return name + " = '" + value.replace("\\", "\\\\").replace("'", "''") + "'\n";
    }

    private static boolean breaksLine(String text) {
        return text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0;
    }

    /** Writes the signal file and the settings; removes the other signal file a backup of a standby may carry. */
    public void writeTo(Path dataDirectory) throws IOException {
        Path conf = dataDirectory.resolve("postgresql.auto.conf");
        StringBuilder text = new StringBuilder("\n# ").append(comment).append(" (pgvault recover, ").append(Instant.now()).append(")\n");
        settings.forEach((k, v) -> text.append(line(k, v)));
        // A primary_conninfo may carry a password: a file created here is PostgreSQL's mode for it, 0600, from the start.
        try (FileChannel out = FileChannel.open(conf, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ByteBuffer bytes = StandardCharsets.UTF_8.encode(text.toString());
            while (bytes.hasRemaining()) {
                out.write(bytes);
            }
        }
        Files.deleteIfExists(dataDirectory.resolve(standby ? "recovery.signal" : "standby.signal"));
        Path signal = dataDirectory.resolve(standby ? "standby.signal" : "recovery.signal");
        Files.write(signal, new byte[0]);
        Files.setPosixFilePermissions(signal, PosixFilePermissions.fromString("rw-------"));
    }
}
