package io.pgvault.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.PrintWriter;
import java.io.UncheckedIOException;

/** How every {@code --json} prints: indented, one document per run (schemas: docs/json.md). */
final class Json {

    /** Created on first use: most runs print no JSON. */
    private static final class Lazy {
        static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    private Json() {
    }

    static void print(PrintWriter out, Object document) {
        try {
            out.println(Lazy.MAPPER.writeValueAsString(document));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }
}
