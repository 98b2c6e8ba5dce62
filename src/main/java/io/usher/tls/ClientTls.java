package io.usher.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.usher.config.Settings;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLSession;

/**
 * TLS towards clients (client_tls_*): the sslmode and the context new client connections use. Made
 * at start and again on every RELOAD (the files are read again even when their names did not
 * change); a configuration that does not load keeps the previous one.
 *
 * <p>As PgBouncer: {@code disable} answers SSLRequest with 'N'; {@code allow} and {@code prefer}
 * accept TLS when asked and plain connections too; {@code require} refuses plain TCP connections
 * ("SSL required"); {@code verify-ca} and {@code verify-full} also require a client certificate
 * signed by client_tls_ca_file (the JDK's trusted CAs when it is not set). Below verify-ca no client
 * certificate is asked for. Unix-socket connections never use TLS and are never refused for it.
 */
public final class ClientTls {
    private static final ClientTls DISABLED = new ClientTls(SslMode.DISABLE, null, null);

    private final SslMode mode;
    private final SslContext context;
    private final String[] namedGroups;

    private ClientTls(SslMode mode, SslContext context, String[] namedGroups) {
        this.mode = mode;
        this.context = context;
        this.namedGroups = namedGroups;
    }

    public static ClientTls disabled() {
        return DISABLED;
    }

    /** Reads the client_tls_* settings and the files they name. */
    public static ClientTls build(Settings s) throws TlsConfigException {
        SslMode mode;
        try {
            mode = SslMode.parse(s.getString("client_tls_sslmode"));
        } catch (IllegalArgumentException e) {
            throw new TlsConfigException("client_tls_sslmode: " + e.getMessage());
        }
        if (mode == SslMode.DISABLE) {
            return DISABLED;
        }
        if (TlsContexts.file(s, "client_tls_key_file").isEmpty() || TlsContexts.file(s, "client_tls_cert_file").isEmpty()) {
            throw new TlsConfigException("client_tls_sslmode = " + mode.configName()
                    + " needs client_tls_key_file and client_tls_cert_file");
        }
        PrivateKey key = TlsContexts.key(s, "client_tls_key_file");
        List<X509Certificate> chain = TlsContexts.certs(s, "client_tls_cert_file");
        SslContextBuilder b = SslContextBuilder.forServer(key, chain);
        boolean noDhe = TlsOptions.noDhe("client_tls_dheparams", s.getString("client_tls_dheparams"));
        TlsContexts.common(b, s, "client_tls", noDhe);
        if (mode.atLeast(SslMode.VERIFY_CA)) {
            b.clientAuth(ClientAuth.REQUIRE);
            if (!TlsContexts.file(s, "client_tls_ca_file").isEmpty()) {
                b.trustManager(TlsContexts.certs(s, "client_tls_ca_file"));
            }
        } else {
            b.clientAuth(ClientAuth.NONE);
        }
        String[] groups = TlsContexts.namedGroups(s, "client_tls_ecdhcurve");
        return new ClientTls(mode, TlsContexts.build(b, "client TLS"), groups);
    }

    public SslMode mode() {
        return mode;
    }

    /** Whether SSLRequest is answered 'S'. */
    public boolean enabled() {
        return context != null;
    }

    /** Whether a client on TCP must use TLS. */
    public boolean required() {
        return mode.atLeast(SslMode.REQUIRE);
    }

    /** Whether clients present a verified certificate (auth_type = cert needs this). */
    public boolean verifiesClients() {
        return mode.atLeast(SslMode.VERIFY_CA);
    }

    /** A server-side handler for one accepted connection. */
    public SslHandler newHandler(ByteBufAllocator alloc) {
        return TlsContexts.handler(context, alloc, null, 0, namedGroups);
    }

    public static String describe(SSLSession session) {
        return TlsContexts.describe(session);
    }
}
