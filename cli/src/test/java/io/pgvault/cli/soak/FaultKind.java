package io.pgvault.cli.soak;

/** What the injector can do to the server and its bucket. */
enum FaultKind {
    SERVER_KILLED("server killed (SIGKILL) and restarted"),
    BUCKET_CUT("bucket connection cut"),
    BUCKET_SLOW("bucket connection slow"),
    STORE_503("store answers 503 (SlowDown)"),
    STORE_500("store answers 500"),
    STORE_LATE("store answers after the client's timeout"),
    SPOOL_FULL("spool disk full");

    private final String description;

    FaultKind(String description) {
        this.description = description;
    }

    String description() {
        return description;
    }
}
