package io.pgvault.server;

import io.micronaut.runtime.Micronaut;

/** Starts the pgvault server (see the README's first command). */
public final class Application {

    private Application() {
    }

    public static void main(String[] args) {
        Micronaut.run(Application.class, args);
    }
}
