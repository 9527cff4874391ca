package io.pgvault.core.pgproto;

import com.ongres.scram.client.ScramClient;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PostgreSQL's frontend/backend protocol 3.0 over one socket: start-up, authentication
 * (trust, cleartext, MD5, SCRAM-SHA-256) and message framing. Written by hand only
 * because pgjdbc cannot run {@code BASE_BACKUP} (see docs); everything above framing
 * lives in {@link ReplicationConnection}. Not thread-safe.
 */
final class WireConnection implements AutoCloseable {

    private static final int PROTOCOL_3_0 = 196608;
    private static final int MAX_MESSAGE = 1 << 30;

    /**
     * One backend message: its type byte and payload. The payload is {@code length} bytes;
     * only a message read into a caller's reusable buffer has a longer array.
     */
    record Message(char type, byte[] payload, int length) {
        Message(char type, byte[] payload) {
            this(type, payload, payload.length);
        }

        Reader reader() {
            return new Reader(length == payload.length ? payload : java.util.Arrays.copyOf(payload, length));
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String where;
    private final Map<String, String> parameters = new LinkedHashMap<>();

    private WireConnection(Socket socket, String where) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
        this.where = where;
    }

    /** Connects, starts up with {@code startup} parameters and authenticates. */
    static WireConnection open(Conninfo conninfo, Map<String, String> startup) throws IOException {
        String where = conninfo.user() + "@" + conninfo.host() + ":" + conninfo.port();
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(conninfo.host(), conninfo.port()), conninfo.connectTimeoutSeconds() * 1000);
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
        } catch (IOException e) {
            socket.close();
            throw new IOException("cannot connect to PostgreSQL at " + conninfo.host() + ":" + conninfo.port() + " (" + e.getMessage()
                    + "): is it running and listening there (listen_addresses, port, firewall)?", e);
        }
        WireConnection c = new WireConnection(socket, where);
        try {
            c.startup(conninfo, startup);
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    Map<String, String> parameters() {
        return parameters;
    }

    String where() {
        return where;
    }

    private void startup(Conninfo conninfo, Map<String, String> startup) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        DataOutputStream b = new DataOutputStream(body);
        b.writeInt(PROTOCOL_3_0);
        for (Map.Entry<String, String> e : startup.entrySet()) {
            cstring(b, e.getKey());
            cstring(b, e.getValue());
        }
        b.writeByte(0);
        out.writeInt(body.size() + 4);
        body.writeTo(out);
        out.flush();
        authenticate(conninfo);
        while (true) {
            Message m = read();
            switch (m.type()) {
                case 'S' -> {
                    Reader r = m.reader();
                    parameters.put(r.cstring(), r.cstring());
                }
                case 'K', 'N' -> {
                    // backend key (we never cancel), notices
                }
                case 'Z' -> {
                    return;
                }
                default -> throw unexpected(m, "start-up");
            }
        }
    }

    private void authenticate(Conninfo conninfo) throws IOException {
        ScramClient scram = null;
        while (true) {
            Message m = read();
            if (m.type() != 'R') {
                throw unexpected(m, "authentication");
            }
            Reader r = m.reader();
            int code = r.int32();
            switch (code) {
                case 0 -> {
                    return;
                }
                case 3 -> sendPassword(requirePassword(conninfo, "password"));
                case 5 -> {
                    byte[] salt = r.bytes(4);
                    String inner = md5Hex((requirePassword(conninfo, "md5") + conninfo.user()).getBytes(StandardCharsets.UTF_8));
                    byte[] outer = concat(inner.getBytes(StandardCharsets.US_ASCII), salt);
                    sendPassword("md5" + md5Hex(outer));
                }
                case 10 -> {
                    List<String> mechanisms = new ArrayList<>();
                    for (String s = r.cstring(); !s.isEmpty(); s = r.cstring()) {
                        mechanisms.add(s);
                    }
                    // Channel binding needs TLS; over plain TCP only SCRAM-SHA-256 applies.
                    mechanisms.removeIf(s -> s.endsWith("-PLUS"));
                    scram = ScramClient.builder()
                            .advertisedMechanisms(mechanisms)
                            .username(conninfo.user())
                            .password(requirePassword(conninfo, "SCRAM-SHA-256").toCharArray())
                            .build();
                    byte[] first = scram.clientFirstMessage().toString().getBytes(StandardCharsets.UTF_8);
                    ByteArrayOutputStream body = new ByteArrayOutputStream();
                    DataOutputStream b = new DataOutputStream(body);
                    cstring(b, scram.getScramMechanism().getName());
                    b.writeInt(first.length);
                    b.write(first);
                    send('p', body.toByteArray());
                }
                case 11 -> {
                    if (scram == null) {
                        throw new IOException(where + ": SASL continue before SASL start");
                    }
                    try {
                        scram.serverFirstMessage(new String(r.rest(), StandardCharsets.UTF_8));
                    } catch (Exception e) {
                        throw new IOException(where + ": bad SCRAM server-first message: " + e.getMessage(), e);
                    }
                    send('p', scram.clientFinalMessage().toString().getBytes(StandardCharsets.UTF_8));
                }
                case 12 -> {
                    try {
                        scram.serverFinalMessage(new String(r.rest(), StandardCharsets.UTF_8));
                    } catch (Exception e) {
                        throw new IOException(where + ": the server's SCRAM signature does not verify (" + e.getMessage()
                                + "): refusing to talk to a server that cannot prove it knows the password", e);
                    }
                }
                default -> throw new IOException(where + ": the server asks for authentication method " + code
                        + ", which pgvault does not support (use scram-sha-256, md5, password or trust in pg_hba.conf)");
            }
        }
    }

    private String requirePassword(Conninfo conninfo, String method) throws IOException {
        return conninfo.password().orElseThrow(() -> new IOException(where + ": the server requires " + method
                + " authentication but no password was given: add password=... to the conninfo or an entry to .pgpass"));
    }

    private void sendPassword(String password) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        cstring(new DataOutputStream(body), password);
        send('p', body.toByteArray());
    }

    void sendQuery(String sql) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        cstring(new DataOutputStream(body), sql);
        send('Q', body.toByteArray());
    }

    void send(char type, byte[] payload) throws IOException {
        out.writeByte(type);
        out.writeInt(payload.length + 4);
        out.write(payload);
        out.flush();
    }

    /** Reads the next message; an ErrorResponse becomes a {@link PgServerException}. */
    Message read() throws IOException {
        Message m = readRaw();
        if (m.type() == 'E') {
            throw new PgServerException(where, errorFields(m));
        }
        return m;
    }

    /**
     * Waits up to {@code millis} for the next message to begin; empty if none did. Only
     * the wait for its first byte can time out, so a slow message is never cut in half.
     */
    java.util.Optional<Message> poll(int millis) throws IOException {
        if (in.available() == 0) {
            int first;
            socket.setSoTimeout(millis);
            try {
                in.mark(1);
                first = in.read();
            } catch (java.net.SocketTimeoutException idle) {
                return java.util.Optional.empty();
            } finally {
                socket.setSoTimeout(0);
            }
            if (first < 0) {
                throw new IOException(where + ": the server closed the connection");
            }
            in.reset();
        }
        Message m = readRaw();
        if (m.type() == 'E') {
            throw new PgServerException(where, errorFields(m));
        }
        return java.util.Optional.of(m);
    }

    /** Reads the next message without turning errors into exceptions. */
    Message readRaw() throws IOException {
        return readRaw(null);
    }

    /**
     * Reads the next message; a CopyData ('d') payload that fits goes into {@code reusable}
     * instead of a new array, valid until the next read. A base backup is tens of thousands
     * of such messages: allocating and zeroing each one cost more than reading it.
     */
    Message readRaw(byte[] reusable) throws IOException {
        try {
            char type = (char) in.readUnsignedByte();
            int length = in.readInt();
            if (length < 4 || length > MAX_MESSAGE) {
                throw new IOException(where + ": protocol error: message '" + type + "' declares length " + length);
            }
            int size = length - 4;
            byte[] payload = type == 'd' && reusable != null && size <= reusable.length ? reusable : new byte[size];
            in.readFully(payload, 0, size);
            return new Message(type, payload, size);
        } catch (EOFException e) {
            throw new IOException(where + ": the server closed the connection", e);
        }
    }

    static Map<Character, String> errorFields(Message m) {
        Map<Character, String> fields = new LinkedHashMap<>();
        Reader r = m.reader();
        while (r.remaining() > 0) {
            char code = (char) r.byte8();
            if (code == 0) {
                break;
            }
            fields.put(code, r.cstring());
        }
        return fields;
    }

    IOException unexpected(Message m, String during) {
        return new IOException(where + ": protocol error: unexpected message '" + m.type() + "' during " + during);
    }

    @Override
    public void close() {
        try {
            if (!socket.isClosed()) {
                send('X', new byte[0]);
            }
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private static void cstring(DataOutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.writeByte(0);
    }

    private static String md5Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** Reads fields out of a message payload (network byte order). */
    static final class Reader {
        private final byte[] data;
        private int pos;

        Reader(byte[] data) {
            this.data = data;
        }

        int remaining() {
            return data.length - pos;
        }

        int byte8() {
            return data[pos++] & 0xFF;
        }

        int int16() {
            int v = ((data[pos] & 0xFF) << 8) | (data[pos + 1] & 0xFF);
            pos += 2;
            return v;
        }

        int int32() {
            int v = ((data[pos] & 0xFF) << 24) | ((data[pos + 1] & 0xFF) << 16) | ((data[pos + 2] & 0xFF) << 8) | (data[pos + 3] & 0xFF);
            pos += 4;
            return v;
        }

        long int64() {
            long hi = int32() & 0xFFFFFFFFL;
            long lo = int32() & 0xFFFFFFFFL;
            return (hi << 32) | lo;
        }

        byte[] bytes(int n) {
            byte[] r = new byte[n];
            System.arraycopy(data, pos, r, 0, n);
            pos += n;
            return r;
        }

        String cstring() {
            int start = pos;
            while (pos < data.length && data[pos] != 0) {
                pos++;
            }
            String s = new String(data, start, pos - start, StandardCharsets.UTF_8);
            pos++;
            return s;
        }

        byte[] rest() {
            return bytes(remaining());
        }

        int position() {
            return pos;
        }
    }
}
