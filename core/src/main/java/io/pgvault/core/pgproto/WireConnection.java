package io.pgvault.core.pgproto;

import com.ongres.scram.client.ScramClient;
import com.ongres.scram.common.util.TlsServerEndpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLSocket;

/**
 * PostgreSQL's frontend/backend protocol 3.0 over one socket: TLS negotiation, start-up,
 * authentication (trust, cleartext, MD5, SCRAM-SHA-256 with or without channel binding)
 * and message framing. Written by hand only
 * because pgjdbc cannot run {@code BASE_BACKUP} (see docs); everything above framing
 * lives in {@link ReplicationConnection}. Not thread-safe.
 */
final class WireConnection implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(WireConnection.class);
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
    /** The server's certificate on a TLS connection (SCRAM channel binding hashes it), else null. */
    private final X509Certificate serverCertificate;
    private String authentication = RequiredAuthentication.NONE;

    private WireConnection(Socket socket, String where, X509Certificate serverCertificate) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
        this.where = where;
        this.serverCertificate = serverCertificate;
    }

    /**
     * Connects as libpq would for this conninfo: TLS per {@code sslmode} (prefer by
     * default), a password from the conninfo or the password file, the checks of
     * {@code require_auth} and {@code channel_binding}; then starts up with
     * {@code startup} parameters and authenticates.
     */
    static WireConnection open(Conninfo conninfo, Map<String, String> startup, ClientEnvironment env) throws IOException {
        Login login;
        try {
            login = new Login(conninfo, startup, env, TlsSettings.of(conninfo, env), RequiredAuthentication.of(conninfo, env));
        } catch (IllegalArgumentException e) {
            throw new IOException("connection string '" + conninfo + "': " + e.getMessage(), e);
        }
        return switch (login.tls().mode()) {
            case DISABLE -> attempt(login, false);
            case ALLOW -> {
                try {
                    yield attempt(login, false);
                } catch (PgServerException e) {
                    // No pg_hba.conf line for a plain connection: allow means try TLS then.
                    if (!"28000".equals(e.sqlState())) {
                        throw e;
                    }
                    yield attempt(login, true);
                }
            }
            case PREFER -> {
                try {
                    yield attempt(login, true);
                } catch (TlsNegotiation.TlsHandshakeException e) {
                    yield attempt(login, false);
                }
            }
            case REQUIRE, VERIFY_CA, VERIFY_FULL -> attempt(login, true);
        };
    }

    /** Everything one connection attempt needs; the password is looked up only if the server asks for one. */
    private record Login(Conninfo conninfo, Map<String, String> startup, ClientEnvironment env, TlsSettings tls, RequiredAuthentication required) {
        String where() {
            return conninfo.user() + "@" + conninfo.host() + ":" + conninfo.port();
        }

        String password(String method) throws IOException {
            String database = startup.getOrDefault("database", conninfo.user());
            Optional<String> password = conninfo.password()
                    .or(() -> PasswordFile.lookup(conninfo, database, env, warning -> LOG.warn("{}", warning)));
            return password.orElseThrow(() -> new IOException(where() + ": the server requires " + method + " authentication but no password "
                    + "was given: add a line " + conninfo.host() + ":" + conninfo.port() + ":" + database + ":" + conninfo.user()
                    + ":PASSWORD to " + PasswordFile.location(conninfo, env) + " (mode 0600) of the OS user pgvault runs as, "
                    + "or name another file with passfile=... in the conninfo or PGPASSFILE"));
        }
    }

    private static WireConnection attempt(Login login, boolean tls) throws IOException {
        Conninfo conninfo = login.conninfo();
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(conninfo.address(), conninfo.port()), conninfo.connectTimeoutSeconds() * 1000);
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
        } catch (IOException e) {
            socket.close();
            throw new IOException("cannot connect to PostgreSQL at " + conninfo.address() + ":" + conninfo.port() + " (" + e.getMessage()
                    + "): is it running and listening there (listen_addresses, port, firewall)?", e);
        }
        // As libpq's connect_timeout: bounds the TLS handshake and authentication too, so a host that
        // accepts the connection and then says nothing (a hung server, a wrong port) cannot hang a backup or a check.
        int establishMillis = conninfo.connectTimeoutSeconds() * 1000;
        try {
            socket.setSoTimeout(establishMillis);
            X509Certificate certificate = null;
            if (tls) {
                Optional<SSLSocket> secured = TlsNegotiation.negotiate(socket, login.tls(), conninfo.host(), conninfo.port(), login.where());
                if (secured.isPresent()) {
                    socket = secured.get();
                    certificate = TlsNegotiation.serverCertificate(secured.get());
                } else if (login.tls().mode().requiresTls()) {
                    throw new IOException(login.where() + ": the server does not accept TLS (ssl = off in its postgresql.conf?), and sslmode="
                            + login.tls().mode().keyword() + " forbids a plain connection: turn ssl on there, or lower sslmode only if "
                            + "the network between them is trusted");
                }
            }
            socket.setSoTimeout(establishMillis);
            WireConnection c = new WireConnection(socket, login.where(), certificate);
            c.startup(login);
            socket.setSoTimeout(0);
            return c;
        } catch (SocketTimeoutException e) {
            socket.close();
            throw new IOException(login.where() + ": connected, but no answer to the " + (tls ? "TLS handshake or " : "")
                    + "start-up within " + conninfo.connectTimeoutSeconds() + " s (connect_timeout): is a PostgreSQL server "
                    + "listening on that port, and is it responsive? (a server busy starting up or in recovery answers at once)", e);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    Map<String, String> parameters() {
        return parameters;
    }

    String where() {
        return where;
    }

    /** Bounds every wait for the server's next bytes (0: wait forever, as streaming does between its own polls). */
    void readTimeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    /** Whether the connection is encrypted. */
    boolean isTls() {
        return serverCertificate != null;
    }

    /** How the server authenticated pgvault: none, password, md5, SCRAM-SHA-256 or SCRAM-SHA-256-PLUS. */
    String authentication() {
        return authentication;
    }

    private void startup(Login login) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        DataOutputStream b = new DataOutputStream(body);
        b.writeInt(PROTOCOL_3_0);
        for (Map.Entry<String, String> e : login.startup().entrySet()) {
            cstring(b, e.getKey());
            cstring(b, e.getValue());
        }
        b.writeByte(0);
        out.writeInt(body.size() + 4);
        body.writeTo(out);
        out.flush();
        authenticate(login);
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

    /**
     * Answers the server's authentication requests. Every request is checked against
     * {@code require_auth} and {@code channel_binding} before a password is looked up,
     * so a server (or a man in the middle) asking for a method the conninfo refuses gets
     * nothing.
     */
    private void authenticate(Login login) throws IOException {
        ChannelBinding binding = login.tls().channelBinding();
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
                    if (scram == null) {
                        login.required().check(RequiredAuthentication.NONE, where);
                    }
                    if (binding == ChannelBinding.REQUIRE && !authentication.endsWith("-PLUS")) {
                        throw new IOException(where + ": channel_binding=require, but the server let pgvault in without channel binding ("
                                + authentication + "): refusing the connection; use scram-sha-256 in pg_hba.conf over TLS");
                    }
                    return;
                }
                case 3 -> {
                    refuseUnbound(binding, RequiredAuthentication.PASSWORD);
                    login.required().check(RequiredAuthentication.PASSWORD, where);
                    authentication = RequiredAuthentication.PASSWORD;
                    sendPassword(login.password("password"));
                }
                case 5 -> {
                    refuseUnbound(binding, RequiredAuthentication.MD5);
                    login.required().check(RequiredAuthentication.MD5, where);
                    authentication = RequiredAuthentication.MD5;
                    byte[] salt = r.bytes(4);
                    String inner = md5Hex((login.password("md5") + login.conninfo().user()).getBytes(StandardCharsets.UTF_8));
                    byte[] outer = concat(inner.getBytes(StandardCharsets.US_ASCII), salt);
                    sendPassword("md5" + md5Hex(outer));
                }
                case 10 -> {
                    List<String> mechanisms = new ArrayList<>();
                    for (String s = r.cstring(); !s.isEmpty(); s = r.cstring()) {
                        mechanisms.add(s);
                    }
                    login.required().check(RequiredAuthentication.SCRAM, where);
                    scram = scram(login, mechanisms, binding);
                    authentication = scram.getScramMechanism().getName();
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
                    if (scram == null) {
                        throw new IOException(where + ": SASL final before SASL start");
                    }
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

    /** channel_binding=require accepts SCRAM only: a password or MD5 exchange cannot prove who is at the other end of the TLS channel. */
    private void refuseUnbound(ChannelBinding binding, String method) throws IOException {
        if (binding == ChannelBinding.REQUIRE) {
            throw new IOException(where + ": the server asks for " + method + " authentication, but channel_binding=require accepts only "
                    + "SCRAM-SHA-256-PLUS: no password was sent; use scram-sha-256 in pg_hba.conf");
        }
    }

    /**
     * A SCRAM client bound to the TLS channel when there is one and the conninfo allows it
     * (tls-server-end-point: the hash of the server's certificate, which a man in the
     * middle cannot present). Told the channel data while the server offers no -PLUS
     * mechanism, the client says so ('y'), which lets a server notice a downgrade.
     */
    private ScramClient scram(Login login, List<String> mechanisms, ChannelBinding binding) throws IOException {
        boolean bindable = serverCertificate != null && binding != ChannelBinding.DISABLE;
        if (binding == ChannelBinding.REQUIRE && (!bindable || !mechanisms.contains("SCRAM-SHA-256-PLUS"))) {
            throw new IOException(where + ": channel_binding=require, but " + (serverCertificate == null ? "the connection is not TLS"
                    : "the server does not offer SCRAM-SHA-256-PLUS") + ": no password was sent");
        }
        List<String> advertised = new ArrayList<>(mechanisms);
        if (!bindable) {
            advertised.removeIf(s -> s.endsWith("-PLUS"));
        }
        ScramClient.FinalBuildStage builder = ScramClient.builder()
                .advertisedMechanisms(advertised)
                .username(login.conninfo().user())
                .password(login.password("SCRAM-SHA-256").toCharArray());
        if (bindable) {
            try {
                builder.channelBinding(TlsServerEndpoint.TLS_SERVER_END_POINT, TlsServerEndpoint.getChannelBindingData(serverCertificate));
            } catch (CertificateEncodingException e) {
                throw new IOException(where + ": cannot hash the server's certificate for channel binding: " + e.getMessage(), e);
            }
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw new IOException(where + ": no SCRAM mechanism in common with the server (it offers " + mechanisms + "): " + e.getMessage(), e);
        }
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
