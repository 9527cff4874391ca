package io.pgvault.cli.soak;

import java.time.Duration;
import java.util.Random;

/** A fault the injector can switch on and heal again. */
interface Fault {

    /** Switches the fault on; returns what it did, for the log ("one-way delay 400 ms"). */
    String begin(Random random) throws Exception;

    /** Heals it: afterwards the server and its bucket work again. */
    void heal() throws Exception;

    /** How long it stays on before {@link #heal()} is called. */
    Duration holdFor(Random random);

    /** How long after healing its effects may still show (a request the store still holds). */
    Duration aftermath();

    @FunctionalInterface
    interface Begin {
        String begin(Random random) throws Exception;
    }

    @FunctionalInterface
    interface Heal {
        void heal() throws Exception;
    }

    /** A fault held for {@code minSeconds} to {@code maxSeconds}. */
    static Fault of(int minSeconds, int maxSeconds, Duration aftermath, Begin begin, Heal heal) {
        return new Fault() {
            @Override
            public String begin(Random random) throws Exception {
                return begin.begin(random);
            }

            @Override
            public void heal() throws Exception {
                heal.heal();
            }

            @Override
            public Duration holdFor(Random random) {
                return seconds(random, minSeconds, maxSeconds);
            }

            @Override
            public Duration aftermath() {
                return aftermath;
            }
        };
    }

    /** Between {@code min} and {@code max} seconds, drawn from {@code random}. */
    static Duration seconds(Random random, int min, int max) {
        return Duration.ofSeconds(min + random.nextInt(max - min + 1));
    }
}
