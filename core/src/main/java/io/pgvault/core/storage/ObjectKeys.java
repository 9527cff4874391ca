package io.pgvault.core.storage;

/** The one place that says what an object key may look like (see {@link ObjectStore}). */
public final class ObjectKeys {

    public static final int MAX_LENGTH = 900;

    private ObjectKeys() {
    }

    /**
     * @return {@code key}, if it is a valid object key
     * @throws IllegalArgumentException naming the key and the rule it breaks
     */
    public static String check(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("object key is empty: expected a relative path like clusters/main/wal/...");
        }
        if (key.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("object key '" + key.substring(0, 40) + "...' is " + key.length()
                    + " characters; at most " + MAX_LENGTH + " are allowed");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("object key '" + key
                        + "' has an empty, '.' or '..' segment: expected a relative path like clusters/main/wal/...");
            }
            for (int i = 0; i < segment.length(); i++) {
                char c = segment.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '.' || c == '_' || c == '-';
                if (!ok) {
                    throw new IllegalArgumentException("object key '" + key + "' contains '" + c
                            + "': keys use letters, digits, '.', '_', '-' and '/' only");
                }
            }
        }
        return key;
    }

    /** A prefix for {@link ObjectStore#list}: empty, or a key prefix (may end in '/'). */
    public static String checkPrefix(String prefix) {
        if (prefix == null) {
            throw new IllegalArgumentException("list prefix is null: use \"\" to list everything");
        }
        if (prefix.isEmpty()) {
            return prefix;
        }
        String body = prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
        check(body.isEmpty() ? "x" : body);
        return prefix;
    }
}
