package io.pgvault.core.pgproto;

import io.pgvault.core.pgproto.BaseBackupSink.Tablespace;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.TestCertificates;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The replication and SQL clients against a real PostgreSQL that serves TLS only
 * ({@code hostssl} lines, no {@code host} line), with certificates made here: libpq's
 * sslmode levels, host-name checks, client certificates, SCRAM channel binding, and the
 * password file. A fake server stands in for a man in the middle where one is needed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsConnectionTest {

    private static final ClientEnvironment NO_ENV = new ClientEnvironment(Map.of(), Path.of("/nonexistent-home"));

    private Path dir;
    private PgCluster pg;
    private Path rootCert;
    private Path otherRoot;
    private TestCertificates.Issued client;
    private TestCertificates.Issued encryptedClient;

    @BeforeAll
    void startTlsOnlyServer() throws IOException {
        dir = Files.createTempDirectory("pgvault-tls-");
        TestCertificates ca = TestCertificates.authority("pgvault test CA");
        rootCert = ca.writeCa(dir.resolve("root.crt"));
        otherRoot = TestCertificates.authority("someone else's CA").writeCa(dir.resolve("other-root.crt"));
        client = ca.client(dir, "rep_cert", "rep_cert");
        encryptedClient = ca.clientWithEncryptedKey(dir, "rep_cert-encrypted", "rep_cert", "key passphrase");
        pg = PgCluster.builder(17).init();
        pg.serveTls(ca.server(dir, "server", List.of("localhost"), List.of("127.0.0.1")), rootCert);
        pg.writeHba("local all all trust",
                "hostssl all postgres 127.0.0.1/32 trust",
                "hostssl replication postgres 127.0.0.1/32 trust",
                "hostssl replication rep_scram 127.0.0.1/32 scram-sha-256",
                "hostssl postgres rep_scram 127.0.0.1/32 scram-sha-256",
                "hostssl replication rep_password 127.0.0.1/32 password",
                "hostssl replication rep_cert 127.0.0.1/32 cert");
        pg.start();
        pg.execute("CREATE ROLE rep_scram LOGIN REPLICATION PASSWORD 'scram-pw'",
                "CREATE ROLE rep_password LOGIN REPLICATION PASSWORD 'plain-pw'",
                "CREATE ROLE rep_cert LOGIN REPLICATION",
                "GRANT pg_read_all_stats TO rep_scram");
    }

    @AfterAll
    void stop() {
        if (pg != null) {
            pg.close();
        }
        Fixtures.deleteTree(dir);
    }

    private String base() {
        return "port=" + pg.port() + " sslrootcert=" + rootCert + " ";
    }

    private ReplicationConnection replication(String conninfo) throws IOException {
        return ReplicationConnection.open(Conninfo.parse(conninfo), "tls-test", NO_ENV);
    }

    @Test
    void verifyFullWithScramBindsTheChannelAndABackupAndTheStreamTravelEncrypted() throws Exception {
        String conninfo = base() + "host=localhost hostaddr=127.0.0.1 sslmode=verify-full user=rep_scram password=scram-pw";
        try (ReplicationConnection rc = replication(conninfo)) {
            assertThat(rc.security()).isEqualTo("TLS, SCRAM-SHA-256-PLUS");
            ReplicationConnection.SystemIdentity id = rc.identifySystem();
            assertThat(pg.queryValue("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                    + "WHERE a.application_name = 'tls-test'")).isEqualTo("t");

            // A whole base backup over it: every byte of every archive arrives.
            AtomicLong bytes = new AtomicLong();
            ReplicationConnection.BaseBackupResult backup = rc.baseBackup(new BaseBackupOptions("tls", true, true), new CountingSink(bytes));
            assertThat(backup.end()).isGreaterThan(backup.start());
            assertThat(bytes.get()).isGreaterThan(10L << 20);

            // And WAL: the stream starts, sends WAL of the current segment, and ends when asked.
            long wanted = 1 << 16;
            pg.execute("CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
            AtomicLong streamed = new AtomicLong();
            Lsn from = WalSegmentSize.DEFAULT.startOf(backup.end().segmentNumber(WalSegmentSize.DEFAULT));
            PhysicalStream.End end = rc.streamPhysical(null, from, id.timeline(), new PhysicalStream.Handler() {
                private Lsn written = from;

                @Override
                public void wal(Lsn start, byte[] data, int offset, int length) {
                    written = start.plus(length);
                    streamed.addAndGet(length);
                }

                @Override
                public void tick() {
                }

                @Override
                public Lsn written() {
                    return written;
                }

                @Override
                public Lsn flushed() {
                    return written;
                }

                @Override
                public boolean stopRequested() {
                    return streamed.get() >= wanted;
                }
            }, 200);
            assertThat(streamed.get()).isGreaterThanOrEqualTo(wanted);
            assertThat(end.nextTimeline()).isEmpty();
        }
    }

    @Test
    void theCertificateMustNameTheHostUnderVerifyFullAndChainToTheRootFromVerifyCa() throws Exception {
        String elsewhere = base() + "host=db.example.com hostaddr=127.0.0.1 user=rep_scram password=scram-pw ";
        assertThatThrownBy(() -> replication(elsewhere + "sslmode=verify-full"))
                .hasMessageContaining("TLS handshake failed").hasMessageContaining("name the host 'db.example.com'");
        try (ReplicationConnection rc = replication(elsewhere + "sslmode=verify-ca")) {
            assertThat(rc.security()).startsWith("TLS");
        }
        String foreignRoot = "port=" + pg.port() + " host=127.0.0.1 user=rep_scram password=scram-pw sslrootcert=" + otherRoot;
        assertThatThrownBy(() -> replication(foreignRoot + " sslmode=verify-ca")).hasMessageContaining("TLS handshake failed");
        // libpq: require with a root certificate file present verifies the chain as verify-ca does.
        assertThatThrownBy(() -> replication(foreignRoot + " sslmode=require")).hasMessageContaining("TLS handshake failed");
        assertThatThrownBy(() -> replication("port=" + pg.port() + " host=127.0.0.1 user=rep_scram password=scram-pw sslmode=verify-ca"))
                .hasMessageContaining("root certificate file /nonexistent-home/.postgresql/root.crt does not exist");
        // Encrypted without a root certificate at all, as libpq's require does.
        try (ReplicationConnection rc = replication("port=" + pg.port() + " host=127.0.0.1 user=rep_scram password=scram-pw sslmode=require")) {
            assertThat(rc.security()).isEqualTo("TLS, SCRAM-SHA-256-PLUS");
        }
    }

    @Test
    void aClientCertificateLogsInWhereTheServerAsksForOne() throws Exception {
        String conninfo = base() + "host=127.0.0.1 sslmode=verify-full user=rep_cert ";
        try (ReplicationConnection rc = replication(conninfo + "sslcert=" + client.certificate() + " sslkey=" + client.key())) {
            assertThat(rc.security()).isEqualTo("TLS, none");
        }
        try (ReplicationConnection rc = replication(conninfo + "sslcert=" + encryptedClient.certificate() + " sslkey=" + encryptedClient.key()
                + " sslpassword='key passphrase'")) {
            assertThat(rc.identifySystem().timeline()).isEqualTo(TimelineId.FIRST);
        }
        assertThatThrownBy(() -> replication(conninfo + "sslcert=" + encryptedClient.certificate() + " sslkey=" + encryptedClient.key()))
                .hasMessageContaining("is encrypted").hasMessageContaining("sslpassword");
        assertThatThrownBy(() -> replication(conninfo)).isInstanceOf(PgServerException.class).hasMessageContaining("certificate");
        Path exposed = Files.copy(client.key(), dir.resolve("exposed.key"));
        Files.setPosixFilePermissions(exposed, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> replication(conninfo + "sslcert=" + client.certificate() + " sslkey=" + exposed))
                .hasMessageContaining("has group or world access").hasMessageContaining("chmod 600");
    }

    @Test
    void aPlainConnectionIsRefusedWhereTlsIsRequired() {
        // The server's side: hostssl only, so a plain connection finds no pg_hba.conf line.
        assertThatThrownBy(() -> replication(base() + "host=127.0.0.1 sslmode=disable user=rep_scram password=scram-pw"))
                .isInstanceOf(PgServerException.class).hasMessageContaining("no encryption");
        // allow: plain first, then TLS when the server refuses the plain connection.
        assertThatCode(base() + "host=127.0.0.1 sslmode=allow user=rep_scram password=scram-pw");
    }

    private void assertThatCode(String conninfo) {
        try (ReplicationConnection rc = replication(conninfo)) {
            assertThat(rc.security()).startsWith("TLS");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aManInTheMiddleThatRefusesTlsAndAsksForThePasswordGetsNothing() throws Exception {
        for (String settings : List.of("sslmode=require", "sslmode=verify-full", "sslmode=prefer require_auth=scram-sha-256",
                "sslmode=prefer channel_binding=require", "sslmode=prefer require_auth=!password,!md5")) {
            try (FakeServer mitm = new FakeServer()) {
                assertThatThrownBy(() -> replication("host=127.0.0.1 port=" + mitm.port() + " user=rep_scram password=secret-pw " + settings))
                        .as(settings).isInstanceOf(IOException.class).hasMessageNotContaining("secret-pw");
                assertThat(mitm.passwordSeen()).as(settings).isEmpty();
            }
        }
        // Over TLS, channel_binding=require refuses a cleartext request too.
        assertThatThrownBy(() -> replication(base() + "host=127.0.0.1 sslmode=verify-full channel_binding=require user=rep_password password=plain-pw"))
                .hasMessageContaining("accepts only SCRAM-SHA-256-PLUS");
        try (ReplicationConnection rc = replication(base() + "host=127.0.0.1 sslmode=verify-full user=rep_password password=plain-pw")) {
            assertThat(rc.security()).isEqualTo("TLS, password");
        }
    }

    @Test
    void thePasswordComesFromThePasswordFileWithLibpqsRules() throws Exception {
        Path passfile = dir.resolve("pgpass");
        Files.writeString(passfile, String.join("\n",
                "# replication connections look up the database 'replication', as pg_basebackup's do",
                "127.0.0.1:" + pg.port() + ":postgres:rep_scram:scram-pw",
                "*:*:replication:rep_scram:scram-pw",
                "*:*:*:*:wrong", ""));
        Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-------"));
        String conninfo = base() + "host=127.0.0.1 sslmode=verify-full user=rep_scram passfile=" + passfile;
        try (ReplicationConnection rc = replication(conninfo)) {
            assertThat(rc.security()).isEqualTo("TLS, SCRAM-SHA-256-PLUS");
        }
        try (SqlConnection sql = SqlConnection.open(Conninfo.parse(conninfo + " dbname=postgres"), "tls-test", NO_ENV)) {
            assertThat(sql.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").get(0).rows().get(0).get(0)).isEqualTo("t");
        }
        // PGPASSFILE, when the conninfo names none.
        ClientEnvironment env = new ClientEnvironment(Map.of("PGPASSFILE", passfile.toString()), Path.of("/nonexistent-home"));
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse(base() + "host=127.0.0.1 sslmode=verify-full user=rep_scram"),
                "tls-test", env)) {
            assertThat(rc.identifySystem().timeline()).isEqualTo(TimelineId.FIRST);
        }
        // A file others can read is not used, as libpq ignores it.
        Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> replication(conninfo)).hasMessageContaining("no password was given")
                .hasMessageContaining("127.0.0.1:" + pg.port() + ":replication:rep_scram:PASSWORD");
    }

    /** Discards a base backup's archives, counting their bytes. */
    private record CountingSink(AtomicLong bytes) implements BaseBackupSink {
        @Override
        public void started(Lsn start, TimelineId timeline) {
        }

        @Override
        public void tablespaces(List<Tablespace> tablespaces) {
        }

        @Override
        public OutputStream archive(String name, Optional<String> tablespaceLocation) {
            return counting();
        }

        @Override
        public OutputStream manifest() {
            return counting();
        }

        private OutputStream counting() {
            return new OutputStream() {
                @Override
                public void write(int b) {
                    bytes.incrementAndGet();
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    bytes.addAndGet(len);
                }
            };
        }
    }

    /**
     * A man in the middle: answers the TLS request with 'N', then asks for a cleartext
     * password, and keeps whatever password message the client sends.
     */
    private static final class FakeServer implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        private final CompletableFuture<Optional<String>> password = CompletableFuture.supplyAsync(this::serve);

        FakeServer() throws IOException {
        }

        int port() {
            return socket.getLocalPort();
        }

        Optional<String> passwordSeen() throws Exception {
            return password.get(10, TimeUnit.SECONDS);
        }

        private Optional<String> serve() {
            try (Socket client = socket.accept()) {
                client.setSoTimeout(3000);
                DataInputStream in = new DataInputStream(client.getInputStream());
                OutputStream out = client.getOutputStream();
                int length = in.readInt();
                int code = in.readInt();
                if (length == 8 && code == 80877103) {
                    out.write('N');
                    out.flush();
                    length = in.readInt();
                    in.readInt();
                }
                in.readNBytes(length - 8);
                out.write(new byte[]{'R', 0, 0, 0, 8, 0, 0, 0, 3});
                out.flush();
                int type = in.read();
                if (type != 'p') {
                    return Optional.empty();
                }
                byte[] body = in.readNBytes(in.readInt() - 4);
                return Optional.of(new String(body, java.nio.charset.StandardCharsets.UTF_8));
            } catch (IOException e) {
                return Optional.empty();
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
