package io.pgvault.server.check;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * One line of {@code pgvault check}.
 *
 * @param check what was checked (a stable name scripts may match)
 * @param detail what was found
 * @param fix what to do about it, when it is not OK
 */
@Serdeable
public record CheckResult(String check, CheckStatus status, String detail, @Nullable String fix) {

    static CheckResult ok(String check, String detail) {
        return new CheckResult(check, CheckStatus.OK, detail, null);
    }

    static CheckResult warning(String check, String detail, String fix) {
        return new CheckResult(check, CheckStatus.WARNING, detail, fix);
    }

    static CheckResult critical(String check, String detail, String fix) {
        return new CheckResult(check, CheckStatus.CRITICAL, detail, fix);
    }
}
