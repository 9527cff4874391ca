package io.pgvault.cli;

import io.pgvault.restore.fetch.WalFetchOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Docker demo cannot run here (no engine), so what can drift is checked instead: every
 * {@code pgvault ...} that docker/compose.yml runs (a service's entrypoint and command, exec or
 * shell form, and its healthcheck) parses with the CLI's own picocli command line and names a
 * command that does something; {@code wal-fetch} goes through its own parser. Shell variables
 * ({@code $$PGDATA}, {@code ${X}}) are replaced with a placeholder.
 */
class ComposeFileTest {

    private static final Set<String> SHELLS = Set.of("sh", "/bin/sh", "bash", "/bin/bash");
    private static final Set<String> SEPARATORS = Set.of(";", "&&", "||", "|", "&", "(", ")", "\n");
    /** Words after which the next word is again a command. */
    private static final Set<String> KEYWORDS = Set.of("if", "then", "else", "elif", "do", "while", "until", "exec", "!", "time", "{");
    private static final Pattern VARIABLE = Pattern.compile("\\$(\\{[A-Za-z_][A-Za-z0-9_]*(:?[-=?+][^}]*)?}|[A-Za-z_][A-Za-z0-9_]*)");

    /** One {@code pgvault} invocation: the service it is in, and its arguments after {@code pgvault}. */
    record Invocation(String service, List<String> args) {
        @Override
        public String toString() {
            return service + ": pgvault " + String.join(" ", args);
        }
    }

    private static String composeText;
    private static final List<Invocation> invocations = new ArrayList<>();

    @BeforeAll
    static void readComposeFile() throws IOException {
        composeText = Files.readString(composeFile());
        Map<String, Object> compose = new Yaml().load(composeText);
        Map<String, Object> services = map(compose.get("services"));
        assertThat(services).as("services in docker/compose.yml").isNotEmpty();
        services.forEach((name, definition) -> invocations.addAll(invocationsOf(name, map(definition))));
    }

    @Test
    void everyPgvaultCommandParses() {
        List<String> failures = new ArrayList<>();
        for (Invocation invocation : invocations) {
            problem(invocation.args()).ifPresent(p -> failures.add(invocation + "\n    -> " + p));
        }
        assertThat(failures).as("pgvault invocations in docker/compose.yml that the CLI would refuse").isEmpty();
    }

    @Test
    void theDemoRunsWhatItPromises() {
        // Guards the extraction: were it to find nothing, the test above would pass vacuously.
        assertThat(invocations).as("pgvault invocations found in docker/compose.yml").isNotEmpty();
        assertThat(invocations).anyMatch(i -> startsWith(i, "token", "create"));
        assertThat(invocations).anyMatch(i -> startsWith(i, "cluster", "add"));
        assertThat(invocations).anyMatch(i -> startsWith(i, "backup"));
        assertThat(invocations).anyMatch(i -> startsWith(i, "recover") && i.args().contains("--standby"));
    }

    @Test
    void curlTargetsRegisteredClustersAndTokenFilesAreMadeByTokenCreate() {
        Set<String> registered = new TreeSet<>();
        Set<String> tokenFiles = new TreeSet<>();
        for (Invocation i : invocations) {
            if (startsWith(i, "cluster", "add")) {
                registered.add(i.args().get(2));
            }
            if (startsWith(i, "token", "create")) {
                tokenFiles.add(valueOf(i.args(), "--out"));
            }
        }
        Matcher url = Pattern.compile("/v1/clusters/([a-z0-9_-]+)/wal/%f").matcher(composeText);
        Set<String> pushedTo = new TreeSet<>();
        while (url.find()) {
            pushedTo.add(url.group(1));
        }
        assertThat(pushedTo).as("clusters archive_command pushes to").isNotEmpty();
        assertThat(registered).as("clusters registered by pgvault cluster add").containsAll(pushedTo);

        Set<String> used = new TreeSet<>();
        for (Invocation i : invocations) {
            String file = valueOf(i.args(), "--token-file");
            if (file != null) {
                used.add(file);
            }
        }
        Matcher header = Pattern.compile("-H @(\\S+)").matcher(composeText);
        while (header.find()) {
            used.add(header.group(1));
        }
        assertThat(tokenFiles).as("token files written by pgvault token create --out").containsAll(used);
    }

    @Test
    void theExtractionUnderstandsShellScripts() {
        List<Invocation> found = fromScript("t", "set -e\nif [ ! -f /etc/pgvault/x ]; then\n  pgvault token create a --role admin \\\n"
                + "    --all-clusters --out \"/x/$$HOME/a\" && chmod 755 /etc/pgvault\nfi\nexec /opt/pgvault/bin/pgvault info main --json "
                + "|| echo pgvault 'failed'; /bin/pgvault-server --config ${CONFIG}");
        assertThat(found).extracting(Invocation::args).containsExactly(
                List.of("token", "create", "a", "--role", "admin", "--all-clusters", "--out", "/x/placeholder/a"),
                List.of("info", "main", "--json"));
        assertThat(problem(List.of("cluster", "add", "main", "--no-such-option"))).isPresent();
        assertThat(problem(List.of("token"))).as("a group without its subcommand does nothing").isPresent();
        assertThat(problem(List.of("wal-fetch", "--cluster", "main", "%f", "%p"))).as("wal-fetch needs --repo or --server").isPresent();
        assertThat(problem(List.of("wal-fetch", "--server", "http://s:8432", "--cluster", "main", "%f", "%p"))).isEmpty();
    }

    // ---- what the CLI says about one invocation ----

    private static java.util.Optional<String> problem(List<String> args) {
        if (!args.isEmpty() && args.get(0).equals("wal-fetch")) {
            // PgvaultCommand.main hands wal-fetch to WalFetchMain before picocli sees it.
            List<String> options = new ArrayList<>(args.subList(1, args.size()));
            int tokenFile = options.indexOf("--token-file");
            if (tokenFile >= 0 && tokenFile + 1 < options.size()) {
                // The parser reads the token from the file, which exists only in the container.
                options.subList(tokenFile, tokenFile + 2).clear();
                options.addAll(0, List.of("--token", "placeholder"));
            }
            try {
                WalFetchOptions.parse(options, Map.of());
                return java.util.Optional.empty();
            } catch (RuntimeException e) {
                return java.util.Optional.of(e.getMessage());
            }
        }
        try {
            CommandLine.ParseResult result = PgvaultCommand.commandLine().parseArgs(args.toArray(String[]::new));
            while (result.hasSubcommand()) {
                result = result.subcommand();
            }
            Object command = result.commandSpec().userObject();
            if (!(command instanceof Callable<?>) && !(command instanceof Runnable) || command instanceof PgvaultCommand) {
                return java.util.Optional.of("'" + result.commandSpec().qualifiedName() + "' needs a subcommand");
            }
            return java.util.Optional.empty();
        } catch (CommandLine.ParameterException e) {
            return java.util.Optional.of(e.getMessage());
        }
    }

    // ---- finding the invocations ----

    /** The service's entrypoint + command (as Docker concatenates them) and its healthcheck test. */
    private static List<Invocation> invocationsOf(String service, Map<String, Object> definition) {
        List<Invocation> found = new ArrayList<>();
        List<String> argv = new ArrayList<>();
        Object entrypoint = definition.get("entrypoint");
        Object command = definition.get("command");
        if (entrypoint instanceof String s) {
            argv.addAll(List.of("/bin/sh", "-c", s));
        } else if (entrypoint instanceof List<?> list) {
            list.forEach(a -> argv.add(String.valueOf(a)));
        }
        if (command instanceof String s) {
            argv.addAll(words(s).stream().filter(w -> !SEPARATORS.contains(w)).toList());
        } else if (command instanceof List<?> list) {
            list.forEach(a -> argv.add(String.valueOf(a)));
        }
        found.addAll(fromArgv(service, argv));
        Object healthcheck = definition.get("healthcheck");
        if (healthcheck instanceof Map<?, ?> h) {
            Object test = h.get("test");
            if (test instanceof String s) {
                found.addAll(fromScript(service, s));
            } else if (test instanceof List<?> list && !list.isEmpty()) {
                List<String> t = list.stream().map(String::valueOf).toList();
                if (t.get(0).equals("CMD-SHELL") && t.size() > 1) {
                    found.addAll(fromScript(service, t.get(1)));
                } else if (t.get(0).equals("CMD")) {
                    found.addAll(fromArgv(service, t.subList(1, t.size())));
                }
            }
        }
        return found;
    }

    private static List<Invocation> fromArgv(String service, List<String> argv) {
        if (argv.isEmpty()) {
            return List.of();
        }
        if (SHELLS.contains(argv.get(0)) && argv.size() > 2 && argv.get(1).equals("-c")) {
            return fromScript(service, argv.get(2));
        }
        if (isPgvault(argv.get(0))) {
            return List.of(new Invocation(service, argv.subList(1, argv.size()).stream().map(ComposeFileTest::substitute).toList()));
        }
        return List.of();
    }

    /** Every simple command of a shell script whose command word is pgvault. */
    static List<Invocation> fromScript(String service, String script) {
        List<Invocation> found = new ArrayList<>();
        List<String> words = words(script);
        boolean commandPosition = true;
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            if (SEPARATORS.contains(w) || KEYWORDS.contains(w)) {
                commandPosition = true;
                continue;
            }
            if (commandPosition && isPgvault(w)) {
                List<String> args = new ArrayList<>();
                int j = i + 1;
                while (j < words.size() && !SEPARATORS.contains(words.get(j))) {
                    args.add(substitute(words.get(j)));
                    j++;
                }
                found.add(new Invocation(service, args));
                i = j - 1;
            }
            commandPosition = false;
        }
        return found;
    }

    private static boolean isPgvault(String word) {
        return word.equals("pgvault") || word.endsWith("/bin/pgvault");
    }

    private static String substitute(String word) {
        return VARIABLE.matcher(word).replaceAll("placeholder");
    }

    /**
     * Splits a POSIX shell script into words (quotes removed, backslash-newline joined) and
     * separator tokens ({@code ; && || | & ( )} and newline). Compose's {@code $$} is a {@code $}.
     */
    static List<String> words(String script) {
        String s = script.replace("$$", "$");
        List<String> out = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                if (s.charAt(i + 1) != '\n') {
                    word.append(s.charAt(i + 1));
                    inWord = true;
                }
                i += 2;
            } else if (c == '\'') {
                int end = s.indexOf('\'', i + 1);
                assertThat(end).as("closing ' in: " + script).isPositive();
                word.append(s, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                i++;
                while (i < s.length() && s.charAt(i) != '"') {
                    if (s.charAt(i) == '\\' && i + 1 < s.length() && "\"\\$`".indexOf(s.charAt(i + 1)) >= 0) {
                        i++;
                    }
                    word.append(s.charAt(i));
                    i++;
                }
                assertThat(i).as("closing \" in: " + script).isLessThan(s.length());
                inWord = true;
                i++;
            } else if (c == '#' && !inWord) {
                while (i < s.length() && s.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == ' ' || c == '\t' || c == '\n' || ";&|()".indexOf(c) >= 0) {
                if (inWord) {
                    out.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                if (c == '\n') {
                    out.add("\n");
                } else if (c != ' ' && c != '\t') {
                    String two = i + 1 < s.length() ? s.substring(i, i + 2) : "";
                    if (two.equals("&&") || two.equals("||")) {
                        out.add(two);
                        i++;
                    } else {
                        out.add(String.valueOf(c));
                    }
                }
                i++;
            } else {
                word.append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) {
            out.add(word.toString());
        }
        return out;
    }

    // ---- helpers ----

    private static boolean startsWith(Invocation i, String... words) {
        return i.args().size() >= words.length && i.args().subList(0, words.length).equals(List.of(words));
    }

    private static String valueOf(List<String> args, String option) {
        int at = args.indexOf(option);
        return at >= 0 && at + 1 < args.size() ? args.get(at + 1) : null;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : new LinkedHashMap<>();
    }

    private static Path composeFile() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("docker/compose.yml"))) {
            dir = dir.getParent();
        }
        assertThat(dir).as("docker/compose.yml in or above " + Path.of("").toAbsolutePath()).isNotNull();
        return dir.resolve("docker/compose.yml");
    }
}
