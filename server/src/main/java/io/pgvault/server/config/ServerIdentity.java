package io.pgvault.server.config;

import jakarta.inject.Singleton;

import java.io.IOException;
import java.net.InetAddress;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Who this server process is, among the servers sharing a catalog: recorded with each
 * backup it runs, so the others can tell its backups from abandoned ones. {@code
 * pgvault.server-id} when set (it must then differ between servers that share a catalog:
 * a server starting with an id fails the backups left running under that id at once);
 * otherwise the host name plus a random suffix drawn at each start, so two servers never
 * share one, and a restarted server's leftovers are failed once their heartbeat is stale.
 */
@Singleton
public class ServerIdentity {

    private final String id;
    private final boolean configured;

    public ServerIdentity(ServerConfig config) {
        this.configured = config.getServerId() != null && !config.getServerId().isBlank();
        this.id = configured ? config.getServerId().strip() : hostName() + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }

    public String id() {
        return id;
    }

    /** Whether the id was configured, so it stays the same across restarts. */
    public boolean configured() {
        return configured;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "pgvault";
        }
    }
}
