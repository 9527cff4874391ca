package io.pgvault.server.security;

import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;

/**
 * A server that other hosts can reach and that asks no token lets anyone on the network
 * delete backups and read every base backup: say so loudly at start. (Loopback without a
 * token is the quick start, and only local users reach it.)
 */
@Singleton
public class OpenServerWarning implements ApplicationEventListener<ServerStartupEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(OpenServerWarning.class);
    private static final Set<String> LOOPBACK = Set.of("127.0.0.1", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1");

    private final TokenRegistry tokens;
    private final String host;

    public OpenServerWarning(TokenRegistry tokens, @Value("${micronaut.server.host:}") @Nullable String host) {
        this.tokens = tokens;
        this.host = host == null ? "" : host.strip();
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        if (!tokens.enabled() && !isLoopback(host)) {
            LOG.warn("!!! pgvault listens on {} and requires NO token: anyone who can reach port {} may delete backups, read every base "
                    + "backup and change clusters. Set pgvault.security.tokens-file (pgvault token create) or listen on 127.0.0.1 "
                    + "(micronaut.server.host / PGVAULT_HOST). See docs/security.md.",
                    host.isEmpty() ? "every interface" : host, event.getSource().getPort());
        }
    }

    static boolean isLoopback(String host) {
        return LOOPBACK.contains(host.toLowerCase(java.util.Locale.ROOT)) || host.startsWith("127.");
    }
}
