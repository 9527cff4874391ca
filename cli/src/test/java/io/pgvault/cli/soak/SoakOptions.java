package io.pgvault.cli.soak;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How long the fault soak runs and the seed of its injector: {@code -Dpgvault.soak.duration}
 * ({@code 10m} by default; {@code 90s}, {@code 2h}, {@code 1h30m} or ISO-8601 {@code PT2H})
 * and {@code -Dpgvault.soak.seed} (random unless given; always logged, so a run that found
 * something can be replayed with the same faults in the same order).
 */
record SoakOptions(Duration duration, long seed) {

    private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    static SoakOptions fromSystemProperties() {
        Duration duration = parseDuration(System.getProperty("pgvault.soak.duration", "10m"));
        String seed = System.getProperty("pgvault.soak.seed", "");
        return new SoakOptions(duration, seed.isBlank() ? ThreadLocalRandom.current().nextLong() : Long.parseLong(seed.trim()));
    }

    static Duration parseDuration(String text) {
        String value = text.trim().toLowerCase(Locale.ROOT);
        if (value.startsWith("p")) {
            return Duration.parse(value.toUpperCase(Locale.ROOT));
        }
        Matcher m = PART.matcher(value);
        Duration total = Duration.ZERO;
        int at = 0;
        while (m.lookingAt()) {
            long n = Long.parseLong(m.group(1));
            total = total.plus(switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            });
            at = m.end();
            m.region(at, value.length());
        }
        if (at != value.length() || at == 0) {
            throw new IllegalArgumentException("pgvault.soak.duration=" + text + ": expected e.g. 90s, 10m, 2h, 1h30m or PT2H");
        }
        return total;
    }
}
