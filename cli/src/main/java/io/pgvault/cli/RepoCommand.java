package io.pgvault.cli;

import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code pgvault repo init|info}: a repository read or prepared directly, no server involved. */
@Command(name = "repo", footerHeading = "%nExamples:%n",
        footer = {"  pgvault repo init --repo s3://backups/prod",
                "  pgvault repo info --repo s3://backups/prod --json"},
        description = "Create or inspect a repository directly (no server needed).",
        mixinStandardHelpOptions = true,
        subcommands = {RepoCommand.Init.class, RepoCommand.Info.class, RepoCommand.RotateKey.class})
final class RepoCommand {

    @Command(name = "init", description = "Create the repository's format object, or check an existing one.", mixinStandardHelpOptions = true,
            footerHeading = "%nExamples:%n", footer = {
                    "  pgvault repo init --repo s3://backups/prod --encrypt --key-file /etc/pgvault/repo.key",
                    "      (creates /etc/pgvault/repo.key, mode 0600, if it does not exist: keep a copy apart from the bucket)",
                    "  pgvault repo init --repo file:///srv/pgvault --encrypt --key-file /etc/pgvault/passphrase   # a passphrase file"})
    static final class Init implements Callable<Integer> {
        @Mixin
        RepositoryOptions repository;
        @Option(names = "--encrypt", description = "Create an encrypted repository with --key-file (a new random key is written "
                + "there if the file does not exist; an existing file is a key or a passphrase).")
        boolean encrypt;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            if (!encrypt) {
                try (ObjectStore store = repository.open()) {
                    RepositoryFormat.Descriptor d = RepositoryFormat.initialize(store, "pgvault cli");
                    out.printf("repository %s: format version %d, created %s by %s%n", store.describe(), d.formatVersion(), d.createdAt(),
                            d.createdBy());
                    return 0;
                }
            }
            Path keyFile = repository.keyFile();
            if (keyFile == null) {
                throw new UsageException("--encrypt needs --key-file FILE: the key (written there if the file does not exist) "
                        + "or a passphrase");
            }
            if (!Files.exists(keyFile)) {
                RepositoryEncryption.generateKey(keyFile);
                out.printf("wrote a new key to %s (mode 0600): without it nothing in the repository can be read; keep a copy apart from "
                        + "the repository%n", keyFile);
            }
            try (ObjectStore stored = repository.openStored(); ObjectStore store = RepositoryEncryption.initialize(stored, keyFile, "pgvault cli")) {
                RepositoryFormat.Descriptor d = RepositoryFormat.require(store);
                out.printf("repository %s: format version %d, encrypted (%s) with key id %s, created %s by %s%n", store.describe(),
                        d.formatVersion(), d.encryption().cipher(), d.encryption().keyId(), d.createdAt(), d.createdBy());
                return 0;
            }
        }
    }

    @Command(name = "rotate-key", description = "Replace an encrypted repository's key: its data keys are re-wrapped, no data object "
            + "is rewritten; old backups restore with the new key.", mixinStandardHelpOptions = true,
            footerHeading = "%nExamples:%n", footer = {
                    "  pgvault repo rotate-key --repo s3://backups/prod --key-file /etc/pgvault/repo.key --new-key-file /etc/pgvault/repo-2026.key",
                    "  then point the server (pgvault.repository.encryption.key-file) and every restore_command at the new file"})
    static final class RotateKey implements Callable<Integer> {
        @Mixin
        RepositoryOptions repository;
        @Option(names = "--new-key-file", required = true, description = "The new key (written here if the file does not exist) or passphrase.")
        Path newKeyFile;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            Path oldKey = repository.keyFile();
            if (oldKey == null) {
                throw new UsageException("give the current key with --key-file FILE, and the new one with --new-key-file");
            }
            Path newKey = newKeyFile.toAbsolutePath();
            if (!Files.exists(newKey)) {
                RepositoryEncryption.generateKey(newKey);
                out.printf("wrote a new key to %s (mode 0600)%n", newKey);
            }
            try (ObjectStore stored = repository.openStored()) {
                String id = RepositoryEncryption.rotate(stored, oldKey, newKey);
                out.printf("repository %s: now encrypted with key id %s; the old key no longer opens it%n", stored.describe(), id);
                return 0;
            }
        }
    }

    @Command(name = "info", footerHeading = "%nExamples:%n",
            footer = {"  pgvault repo info --repo file:///srv/pgvault",
                    "  pgvault repo info --repo s3://backups/prod --json"},
            description = "Show a repository's format and the clusters it holds.", mixinStandardHelpOptions = true)
    static final class Info implements Callable<Integer> {
        @Mixin
        RepositoryOptions repository;
        @Option(names = "--json", description = "Print JSON: {repository, formatVersion, readsUpTo, createdAt, createdBy, encryption, "
                + "clusters: [{name, objects, storedBytes}]} (docs/json.md).")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (ObjectStore store = repository.open()) {
                RepositoryFormat.Descriptor d = RepositoryFormat.require(store);
                Map<String, long[]> clusters = new TreeMap<>();
                for (ObjectStat o : store.list("clusters/")) {
                    String[] parts = o.key().split("/", 3);
                    long[] totals = clusters.computeIfAbsent(parts[1], k -> new long[2]);
                    totals[0]++;
                    totals[1] += o.size();
                }
                if (json) {
                    Map<String, Object> doc = new java.util.LinkedHashMap<>();
                    doc.put("repository", store.describe());
                    doc.put("formatVersion", d.formatVersion());
                    doc.put("readsUpTo", RepositoryFormat.CURRENT);
                    doc.put("createdAt", d.createdAt());
                    doc.put("createdBy", d.createdBy());
                    doc.put("encryption", d.encrypted() ? Map.of("cipher", d.encryption().cipher(), "keyId", d.encryption().keyId(),
                            "passphrase", d.encryption().kdf() != null,
                            "dataKeys", d.encryption().dataKeys().stream().map(k -> k.id()).toList()) : null);
                    doc.put("clusters", clusters.entrySet().stream()
                            .map(e -> Map.of("name", e.getKey(), "objects", e.getValue()[0], "storedBytes", e.getValue()[1])).toList());
                    Json.print(out, doc);
                    return 0;
                }
                out.printf("repository:     %s%n", store.describe());
                out.printf("format version: %d (this pgvault reads up to %d)%n", d.formatVersion(), RepositoryFormat.CURRENT);
                out.printf("created:        %s by %s%n", d.createdAt(), d.createdBy());
                out.printf("encryption:     %s%n", d.encrypted() ? d.encryption().cipher() + ", key id " + d.encryption().keyId()
                        + (d.encryption().kdf() != null ? " (from a passphrase, Argon2id)" : "") + ", data keys "
                        + d.encryption().dataKeys().stream().map(k -> k.id()).toList() : "none");
                if (clusters.isEmpty()) {
                    out.println("clusters:       none yet");
                }
                clusters.forEach((name, t) -> out.printf("cluster %-20s %8d objects %14d bytes stored%n", name, t[0], t[1]));
                return 0;
            }
        }
    }
}
