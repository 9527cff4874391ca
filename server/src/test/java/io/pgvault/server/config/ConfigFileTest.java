package io.pgvault.server.config;

import io.micronaut.context.ApplicationContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigFileTest {

    @TempDir
    Path dir;

    @Test
    void theOptionBeatsTheEnvironmentWhichBeatsTheStandardLocation() throws Exception {
        Path standard = Files.writeString(dir.resolve("standard.yml"), "pgvault: {}\n");
        Path fromEnv = dir.resolve("env.yml");
        Path fromOption = dir.resolve("option.yml");

        ConfigFile.Arguments option = ConfigFile.locate(new String[] {"--config", fromOption.toString(), "-Dx=y"},
                Map.of("PGVAULT_CONFIG", fromEnv.toString()), standard);
        assertThat(option.file()).contains(fromOption);
        assertThat(option.rest()).containsExactly("-Dx=y");
        assertThat(ConfigFile.locate(new String[] {"--config=" + fromOption}, Map.of(), standard).file()).contains(fromOption);
        assertThat(ConfigFile.locate(new String[0], Map.of("PGVAULT_CONFIG", fromEnv.toString()), standard).file()).contains(fromEnv);
        assertThat(ConfigFile.locate(new String[0], Map.of(), standard).file()).contains(standard);
        assertThat(ConfigFile.locate(new String[0], Map.of(), dir.resolve("absent.yml")).file()).isEmpty();
    }

    @Test
    void pgvaultHostBeatsTheFileAndTheCatalogFollowsTheDataDirectory() throws Exception {
        // Under the test's own directory: the context opens (and migrates) the catalog the data directory implies.
        String dataDir = dir.resolve("srv/pgvault").toString();
        Path file = Files.writeString(dir.resolve("pgvault.yml"), "micronaut:\n  server:\n    host: 0.0.0.0\npgvault:\n  data-dir: " + dataDir + "\n");
        try (ApplicationContext ctx = ApplicationContext.builder().propertySources(ConfigFile.load(file),
                ConfigFile.environmentAliases(Map.of("PGVAULT_HOST", "127.0.0.2")).orElseThrow()).start()) {
            assertThat(ctx.getProperty("micronaut.server.host", String.class)).contains("127.0.0.2");
            assertThat(ctx.getProperty("pgvault.catalog.url", String.class).orElseThrow()).startsWith("jdbc:h2:file:" + dataDir + "/catalog;");
            assertThat(ctx.getBean(RepositoryConfig.class).getUrl()).isEqualTo("file:" + dataDir + "/repo");
        }
        assertThat(ConfigFile.environmentAliases(Map.of())).isEmpty();
    }

    @Test
    void aRelativeNameIsMadeAbsolute() {
        ConfigFile.Arguments a = ConfigFile.locate(new String[] {"--config", "etc/pgvault.yml"}, Map.of(), dir.resolve("absent"));
        assertThat(a.file().orElseThrow()).isEqualTo(Path.of("").toAbsolutePath().resolve("etc/pgvault.yml"));
    }

    @Test
    void aMissingValueOrFileIsRefusedNotIgnored() {
        assertThatThrownBy(() -> ConfigFile.locate(new String[] {"--config"}, Map.of(), dir.resolve("absent")))
                .hasMessageContaining("--config needs a file");
        assertThatThrownBy(() -> ConfigFile.load(dir.resolve("missing.yml")))
                .hasMessageContaining("missing.yml does not exist").hasMessageContaining("template");
    }

    @Test
    void brokenYamlIsRefusedWithTheFileName() throws Exception {
        Path broken = Files.writeString(dir.resolve("broken.yml"), "pgvault:\n  repository: [unclosed\n");
        assertThatThrownBy(() -> ConfigFile.load(broken)).hasMessageContaining("broken.yml is not valid YAML");
    }

    @Test
    void theFileOverridesTheBuiltInDefaultsAndExplicitPropertiesOverrideTheFile() throws Exception {
        String dataDir = dir.resolve("var/lib/pgvault-from-file").toString();
        String repository = dir.resolve("srv/pgvault-from-file").toUri().toString();
        Path file = Files.writeString(dir.resolve("pgvault.yml"), """
                pgvault:
                  data-dir: %s
                  repository:
                    url: %s
                    compression: lz4
                """.formatted(dataDir, repository));
        try (ApplicationContext ctx = ApplicationContext.builder().propertySources(ConfigFile.load(file))
                .properties(Map.of("pgvault.repository.compression", "zstd")).start()) {
            assertThat(ctx.getBean(ServerConfig.class).getDataDir()).isEqualTo(dataDir);
            assertThat(ctx.getBean(RepositoryConfig.class).getUrl()).isEqualTo(repository);
            assertThat(ctx.getBean(RepositoryConfig.class).getCompression()).isEqualTo("zstd");
            assertThat(ctx.getProperty(ConfigFile.LOCATION_PROPERTY, String.class)).contains(file.toString());
        }
    }
}
