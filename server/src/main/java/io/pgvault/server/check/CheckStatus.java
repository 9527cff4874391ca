package io.pgvault.server.check;

/** A check's verdict, in Nagios's order: its ordinal is the exit code {@code pgvault check} gives. */
public enum CheckStatus {
    OK, WARNING, CRITICAL;

    CheckStatus worse(CheckStatus other) {
        return other.ordinal() > ordinal() ? other : this;
    }
}
