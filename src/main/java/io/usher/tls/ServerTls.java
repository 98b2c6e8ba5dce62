package io.usher.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.usher.config.Settings;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TLS towards PostgreSQL (server_tls_*), with libpq's sslmode semantics:
 * <ul>
 * <li>{@code disable}: no SSLRequest.</li>
 * <li>{@code allow}: plain first; if the server refuses the login, once more over TLS.</li>
 * <li>{@code prefer}: SSLRequest first; plain if the server answers 'N'. Certificate not checked.</li>
 * <li>{@code require}: TLS or nothing ("server refused SSL"). Certificate not checked.</li>
 * <li>{@code verify-ca}: TLS, and the certificate must chain to server_tls_ca_file (the JDK's
 * trusted CAs when it is not set).</li>
 * <li>{@code verify-full}: verify-ca, and the certificate must name the host connected to (DNS
 * name, or IP address in subjectAltName).</li>
 * </ul>
 * server_tls_key_file and server_tls_cert_file, when set, are the client certificate Usher shows.
 * Unix-socket connections never use TLS (as libpq and PgBouncer).
 */
public final class ServerTls {
    private final SslMode mode;
    private final Map<String, String> settingsUsed;
    /** Built on first use when it cannot fail (see {@link #build}); until then null. */
    private volatile SslContext context;
    /** The settings to build it from while it is null. */
    private final Settings deferred;

    private ServerTls(SslMode mode, SslContext context, Settings deferred, Map<String, String> settingsUsed) {
        this.mode = mode;
        this.context = context;
        this.deferred = deferred;
        this.settingsUsed = settingsUsed;
    }

    /** Reads the server_tls_* settings and the files they name. */
    public static ServerTls build(Settings s) throws TlsConfigException {
        Map<String, String> used = new LinkedHashMap<>();
        for (String k : io.usher.config.SettingDefs.all().keySet()) {
            if (k.startsWith("server_tls")) {
                used.put(k, s.getString(k));
            }
        }
        SslMode mode;
        try {
            mode = SslMode.parse(s.getString("server_tls_sslmode"));
        } catch (IllegalArgumentException e) {
            throw new TlsConfigException("server_tls_sslmode: " + e.getMessage());
        }
        if (mode == SslMode.DISABLE) {
            return new ServerTls(mode, null, null, used);
        }
        if (onlyDefaults(used)) {
            // The JDK's TLS stack takes ~0.3 s to start; with no files and no choices to check nothing can
            // fail, so the context is built when first needed (or by warmUp()) instead of delaying the listener.
            return new ServerTls(mode, null, s, used);
        }
        return new ServerTls(mode, context(s, mode), null, used);
    }

    private static SslContext context(Settings s, SslMode mode) throws TlsConfigException {
        SslContextBuilder b = SslContextBuilder.forClient();
        TlsContexts.common(b, s, "server_tls", false);
        String keyFile = TlsContexts.file(s, "server_tls_key_file");
        String certFile = TlsContexts.file(s, "server_tls_cert_file");
        if (!keyFile.isEmpty() || !certFile.isEmpty()) {
            if (keyFile.isEmpty() || certFile.isEmpty()) {
                throw new TlsConfigException("server_tls_key_file and server_tls_cert_file go together");
            }
            b.keyManager(TlsContexts.key(s, "server_tls_key_file"), TlsContexts.certs(s, "server_tls_cert_file"));
        }
        if (mode.atLeast(SslMode.VERIFY_CA)) {
            if (!TlsContexts.file(s, "server_tls_ca_file").isEmpty()) {
                b.trustManager(TlsContexts.certs(s, "server_tls_ca_file"));
            }
        } else {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        }
        // Netty 4.2 checks host names by default; only verify-full does
        b.endpointIdentificationAlgorithm(mode == SslMode.VERIFY_FULL ? "HTTPS" : null);
        return TlsContexts.build(b, "server TLS");
    }

    private static boolean onlyDefaults(Map<String, String> used) {
        return used.entrySet().stream()
                .allMatch(e -> e.getKey().equals("server_tls_sslmode")
                        || e.getValue().equals(io.usher.config.SettingDefs.all().get(e.getKey()).defaultValue()));
    }

    /** Builds the TLS context now if it is still to be built (called off the event loops after start-up). */
    public void warmUp() {
        if (mode != SslMode.DISABLE) {
            context();
        }
    }

    private SslContext context() {
        SslContext c = context;
        if (c == null) {
            synchronized (this) {
                c = context;
                if (c == null) {
                    try {
                        c = context(deferred, mode);
                    } catch (TlsConfigException e) {
                        throw new IllegalStateException(e.getMessage(), e); // not with default settings
                    }
                    context = c;
                }
            }
        }
        return c;
    }

    public SslMode mode() {
        return mode;
    }

    /** The server_tls_* values this was made from (a change of any of them reconnects the pools). */
    public Map<String, String> settingsUsed() {
        return settingsUsed;
    }

    /** A client-side handler for a connection to {@code host} (SNI, and the name verify-full checks). */
    public SslHandler newHandler(ByteBufAllocator alloc, String host, int port) {
        return TlsContexts.handler(context(), alloc, host, port, null);
    }

    public static String describe(javax.net.ssl.SSLSession session) {
        return TlsContexts.describe(session);
    }
}
