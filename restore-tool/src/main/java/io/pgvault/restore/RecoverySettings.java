package io.pgvault.restore;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Recovery configuration the PostgreSQL 12+ way: a signal file ({@code recovery.signal},
 * or {@code standby.signal} for a standby) and settings appended to
 * {@code postgresql.auto.conf}, where they override the restored cluster's own.
 */
public final class RecoverySettings {

    private final Map<String, String> settings = new LinkedHashMap<>();
    private final boolean standby;
    private final String comment;

    public RecoverySettings(boolean standby, String comment) {
        this.standby = standby;
        this.comment = comment;
    }

    public RecoverySettings set(String name, String value) {
        settings.put(name, value);
        return this;
    }

    public Map<String, String> settings() {
        return settings;
    }

    /** Writes the signal file and the settings; removes the other signal file a backup of a standby may carry. */
    public void writeTo(Path dataDirectory) throws IOException {
        Path conf = dataDirectory.resolve("postgresql.auto.conf");
        StringBuilder text = new StringBuilder("\n# ").append(comment).append(" (pgvault recover, ").append(Instant.now()).append(")\n");
        settings.forEach((k, v) -> text.append(k).append(" = '").append(v.replace("'", "''")).append("'\n"));
        Files.writeString(conf, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        Files.deleteIfExists(dataDirectory.resolve(standby ? "recovery.signal" : "standby.signal"));
        Path signal = dataDirectory.resolve(standby ? "standby.signal" : "recovery.signal");
        Files.write(signal, new byte[0]);
        Files.setPosixFilePermissions(signal, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }
}
