package io.pgvault.cli;

import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.core.security.TokenSecret;
import io.pgvault.core.storage.server.BearerToken;
import io.pgvault.core.util.SecretFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code pgvault token create}: makes an API token offline. The secret goes to a file
 * (0600) or, without one, to the terminal, once; the server only ever gets the line with
 * its hash, for {@code pgvault.security.tokens-file}. No server is needed and none keeps
 * the token.
 */
@Command(name = "token", footerHeading = "%nExamples:%n",
        footer = {"  pgvault token create nagios --role read --cluster main --out /etc/pgvault/nagios.token --add-to /etc/pgvault/tokens"},
        description = "Create API tokens for the server's tokens file (pgvault.security.tokens-file).",
        mixinStandardHelpOptions = true, subcommands = {TokenCommand.Create.class})
final class TokenCommand {

    @Command(name = "create", footerHeading = "%nExamples:%n",
            footer = {"  pgvault token create db1-archive --role archive --cluster main --out /etc/pgvault/main.token --add-to /etc/pgvault/tokens",
                    "  pgvault token create ops --role admin --all-clusters --out /root/.pgvault.token"},
            mixinStandardHelpOptions = true,
            description = {"Create a token with a role for some clusters; prints the line (name role clusters sha256:HASH) to add to "
                    + "the server's tokens file, which the server re-reads when it changes.",
                    "Roles: archive (PUT/GET WAL: archive_command, curl restore_command), read (what recover/wal-fetch/info --server "
                            + "read), admin (everything)."})
    static final class Create implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NAME", description = "Names the token in the tokens file and in the server's messages.")
        String name;

        @Option(names = "--role", required = true, paramLabel = "ROLE", description = "archive, read or admin.")
        String role;

        @Option(names = "--cluster", paramLabel = "NAME", description = "A cluster the token may act on (repeat for several).")
        List<String> clusters;

        @Option(names = "--all-clusters", description = "The token may act on every cluster, present and future (*).")
        boolean allClusters;

        @Option(names = "--out", paramLabel = "FILE", description = "Write 'Authorization: Bearer TOKEN' to FILE (created 0600, "
                + "refused if it exists): ready for curl -H @FILE and --token-file FILE. Without it the token is printed once.")
        Path out;

        @Option(names = "--add-to", paramLabel = "TOKENS_FILE", description = "Also append the line to the server's tokens file "
                + "(refused if the name is there already).")
        Path addTo;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            ApiRole parsedRole = ApiRole.parse(role);
            boolean some = clusters != null && !clusters.isEmpty();
            if (some == allClusters) {
                throw new UsageException("give --cluster NAME (repeatable) or --all-clusters: a token's clusters are never implied");
            }
            Set<String> scope = allClusters ? Set.of() : new TreeSet<>(ApiTokenEntry.parseClusters(String.join(",", clusters)));
            String token = TokenSecret.generate();
            ApiTokenEntry entry = new ApiTokenEntry(name, parsedRole, scope, TokenSecret.digest(token));
            if (addTo != null) {
                checkNameIsNew(addTo, name);
            }
            PrintWriter outWriter = spec.commandLine().getOut();
            if (out != null) {
                writeNew(out, BearerToken.fileContent(token));
                outWriter.println("wrote the token to " + out + " (mode 0600): give it to its user (e.g. chown postgres) and use "
                        + "curl -H @" + out + " or --token-file " + out);
            } else {
                outWriter.println("token (shown once, kept nowhere): " + token);
            }
            if (addTo != null) {
                if (!Files.exists(addTo)) {
                    // No secret in it, but the server refuses a tokens file that group or others may write, whatever the umask.
                    Files.createFile(addTo, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
                }
                Files.writeString(addTo, entry.toLine() + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
                outWriter.println("added to " + addTo + " (the server re-reads it within a second):");
            } else {
                outWriter.println("add this line to the server's tokens file (pgvault.security.tokens-file):");
            }
            outWriter.println(entry.toLine());
            return 0;
        }

        private static void writeNew(Path file, String content) throws IOException {
            if (Files.exists(file)) {
                throw new IllegalArgumentException(file + " exists; a token file is never overwritten: remove it or choose another");
            }
            SecretFile.write(file, content);
        }

        private static void checkNameIsNew(Path tokensFile, String name) throws IOException {
            if (!Files.exists(tokensFile)) {
                return;
            }
            for (String line : Files.readAllLines(tokensFile)) {
                String[] fields = line.strip().split("\\s+");
                if (!line.strip().startsWith("#") && fields[0].equals(name)) {
                    throw new IllegalArgumentException(tokensFile + " has a token named '" + name + "' already; choose another name, or remove "
                            + "its line to revoke it first");
                }
            }
        }
    }
}
