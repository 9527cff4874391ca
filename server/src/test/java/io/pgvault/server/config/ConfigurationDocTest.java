package io.pgvault.server.config;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.context.annotation.EachProperty;
import io.micronaut.context.annotation.Property;
import io.micronaut.context.annotation.Requires;
import io.micronaut.context.annotation.Value;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/configuration.md names every setting the server reads. The settings are found in the
 * code, not listed here: the {@code @ConfigurationProperties} / {@code @EachProperty} classes
 * compiled under io.pgvault.server (their setters and fields, kebab-cased, under the prefix
 * built through their enclosing classes), every {@code @Value("${...}")}, {@code @Property} and
 * {@code @Requires(property = ...)} on fields, constructor and method parameters and methods,
 * and the {@code pgvault.*} and {@code micronaut.server.*} keys of application.yml.
 */
class ConfigurationDocTest {

    /** A {@code ${key}} or {@code ${key:default}} placeholder. */
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Za-z0-9_.*\\-\\[\\]]+)(?::[^}]*)?}");

    /** The key families the page documents; others (datasources, flyway, endpoints ...) are wiring. */
    private static final List<String> DOCUMENTED_FAMILIES = List.of("pgvault.", "micronaut.server.");

    private static String doc;
    private static final Set<String> fromPropertyClasses = new TreeSet<>();
    private static final Set<String> fromAnnotations = new TreeSet<>();
    private static final Set<String> fromApplicationYml = new TreeSet<>();

    @BeforeAll
    static void discover() throws Exception {
        doc = Files.readString(projectRoot().resolve("docs/configuration.md"));
        for (Class<?> type : serverClasses()) {
            String prefix = prefix(type);
            if (prefix != null) {
                fromPropertyClasses.addAll(propertiesOf(type, prefix));
            }
            annotatedKeys(type, fromAnnotations);
        }
        try (InputStream in = ConfigurationDocTest.class.getResourceAsStream("/application.yml")) {
            assertThat(in).as("application.yml on the test class path").isNotNull();
            Map<String, Object> yml = new Yaml().load(in);
            flatten("", yml, fromApplicationYml);
        }
        fromApplicationYml.removeIf(key -> DOCUMENTED_FAMILIES.stream().noneMatch(key::startsWith));
    }

    @Test
    void theScanFindsEachKindOfSetting() {
        // Guards the scan itself: were a source to yield nothing, the check below would pass vacuously.
        assertThat(fromPropertyClasses).as("keys of @ConfigurationProperties classes").isNotEmpty();
        assertThat(fromAnnotations).as("keys of @Value / @Property / @Requires").isNotEmpty();
        assertThat(fromApplicationYml).as("pgvault.* keys of application.yml").isNotEmpty();
        assertThat(fromPropertyClasses).as("nested classes get their enclosing prefix").anyMatch(k -> k.startsWith("pgvault.repository.s3."));
        assertThat(fromPropertyClasses).as("@EachProperty gives NAME").anyMatch(k -> k.startsWith("pgvault.clusters.NAME."));
    }

    @Test
    void everySettingOfTheServerIsOnThePage() {
        Set<String> keys = allKeys();
        List<String> missing = keys.stream().filter(key -> !documented(key)).toList();
        assertThat(missing)
                .as("settings the server reads but docs/configuration.md does not name (add a row: key, environment variable, "
                        + "default, what it does); all keys found: " + keys)
                .isEmpty();
    }

    @Test
    void everyPgvaultSettingHasItsEnvironmentVariableOnThePage() {
        List<String> missing = allKeys().stream()
                .filter(key -> key.startsWith("pgvault.") && !key.equals(ConfigFile.LOCATION_PROPERTY))
                .filter(key -> !doc.contains(environmentName(key)))
                .map(key -> key + " (" + environmentName(key) + ")")
                .toList();
        assertThat(missing).as("settings whose environment variable docs/configuration.md does not give").isEmpty();
    }

    @Test
    void environmentNamesFollowMicronautsMapping() {
        assertThat(environmentName("pgvault.repository.s3.path-style")).isEqualTo("PGVAULT_REPOSITORY_S3_PATH_STYLE");
        assertThat(kebab("retainedWalWarningBytes")).isEqualTo("retained-wal-warning-bytes");
        assertThat(keysIn("${pgvault.backup.piece-size:64MB} and ${micronaut.server.host:}"))
                .containsExactly("pgvault.backup.piece-size", "micronaut.server.host");
    }

    private static Set<String> allKeys() {
        Set<String> keys = new TreeSet<>();
        keys.addAll(fromPropertyClasses);
        keys.addAll(fromApplicationYml);
        fromAnnotations.stream().filter(key -> DOCUMENTED_FAMILIES.stream().anyMatch(key::startsWith)).forEach(keys::add);
        return keys;
    }

    /** The key as a whole word of the page: {@code pgvault.repository.url} does not count for {@code pgvault.repository}. */
    private static boolean documented(String key) {
        Matcher m = Pattern.compile("(?<![A-Za-z0-9.\\-])" + Pattern.quote(key) + "(?![A-Za-z0-9\\-]|\\.[A-Za-z])").matcher(doc);
        return m.find();
    }

    static String environmentName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }

    // ---- the scan ----

    private static Path projectRoot() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("docs"))) {
            dir = dir.getParent();
        }
        assertThat(dir).as("a docs/ directory above " + Path.of("").toAbsolutePath()).isNotNull();
        return dir;
    }

    /** Every class compiled from server/src/main/java (target/classes), loaded without initialising it. */
    private static List<Class<?>> serverClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path classes = Path.of(ServerConfig.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertThat(classes).as("the server's compiled classes directory").isDirectory();
        List<String> names;
        try (Stream<Path> files = Files.walk(classes.resolve("io/pgvault/server"))) {
            names = files.map(classes::relativize).map(Path::toString)
                    .filter(name -> name.endsWith(".class") && !name.equals("module-info.class"))
                    .map(name -> name.substring(0, name.length() - ".class".length()).replace('/', '.').replace('\\', '.'))
                    .sorted().toList();
        }
        ClassLoader loader = ConfigurationDocTest.class.getClassLoader();
        List<Class<?>> types = new ArrayList<>();
        for (String name : names) {
            types.add(Class.forName(name, false, loader));
        }
        return types;
    }

    /**
     * The full prefix of a configuration class, or null for any other class. A nested class
     * inside another configuration class continues its prefix (as Micronaut binds it); an
     * {@code @EachProperty} adds the name segment, written NAME as on the page.
     */
    private static String prefix(Class<?> type) {
        String own;
        boolean each = false;
        if (type.isAnnotationPresent(ConfigurationProperties.class)) {
            own = type.getAnnotation(ConfigurationProperties.class).value();
        } else if (type.isAnnotationPresent(EachProperty.class)) {
            own = type.getAnnotation(EachProperty.class).value();
            each = true;
        } else {
            return null;
        }
        Class<?> enclosing = type.getEnclosingClass();
        String outer = enclosing == null ? null : prefix(enclosing);
        String full = outer == null ? own : outer + "." + own;
        return each ? full + ".NAME" : full;
    }

    private static boolean isConfigurationClass(Class<?> type) {
        return type.isAnnotationPresent(ConfigurationProperties.class) || type.isAnnotationPresent(EachProperty.class);
    }

    /** Setters and non-final instance fields, except those holding a nested configuration class (its own keys count). */
    private static Set<String> propertiesOf(Class<?> type, String prefix) {
        Set<String> keys = new TreeSet<>();
        for (Method m : type.getDeclaredMethods()) {
            if (Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()) && m.getName().startsWith("set")
                    && m.getName().length() > 3 && m.getParameterCount() == 1 && !isConfigurationClass(m.getParameterTypes()[0])) {
                String property = m.getName().substring(3);
                keys.add(prefix + "." + kebab(Character.toLowerCase(property.charAt(0)) + property.substring(1)));
            }
        }
        for (Field f : type.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (!Modifier.isStatic(mod) && !Modifier.isFinal(mod) && !f.isSynthetic() && !isConfigurationClass(f.getType())) {
                keys.add(prefix + "." + kebab(f.getName()));
            }
        }
        return keys;
    }

    /** Keys named by @Value, @Property and @Requires(property) on the class, its fields, methods, constructors and parameters. */
    private static void annotatedKeys(Class<?> type, Set<String> into) {
        List<AnnotatedElement> elements = new ArrayList<>();
        elements.add(type);
        elements.addAll(List.of(type.getDeclaredFields()));
        List<Executable> executables = new ArrayList<>(List.of(type.getDeclaredConstructors()));
        executables.addAll(List.of(type.getDeclaredMethods()));
        for (Executable e : executables) {
            elements.add(e);
            for (Parameter p : e.getParameters()) {
                elements.add(p);
            }
        }
        for (AnnotatedElement element : elements) {
            Value value = element.getAnnotation(Value.class);
            if (value != null) {
                into.addAll(keysIn(value.value()));
            }
            Property property = element.getAnnotation(Property.class);
            if (property != null && !property.name().isBlank()) {
                into.add(property.name());
            }
            for (Requires requires : element.getAnnotationsByType(Requires.class)) {
                if (!requires.property().isBlank()) {
                    into.add(requires.property());
                }
            }
        }
    }

    static List<String> keysIn(String expression) {
        List<String> keys = new ArrayList<>();
        Matcher m = PLACEHOLDER.matcher(expression);
        while (m.find()) {
            keys.add(m.group(1));
        }
        return keys;
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Map<String, Object> map, Set<String> into) {
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (e.getValue() instanceof Map<?, ?> nested) {
                flatten(key, (Map<String, Object>) nested, into);
            } else {
                into.add(key);
            }
        }
    }
}
