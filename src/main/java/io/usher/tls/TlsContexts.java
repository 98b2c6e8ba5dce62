package io.usher.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.usher.config.Settings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Method;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/** What the client and server TLS contexts share: reading the settings and adjusting each engine. */
final class TlsContexts {
    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    /** SSLParameters.setNamedGroups exists from Java 20 on. */
    private static final Method SET_NAMED_GROUPS = namedGroupsSetter();

    private TlsContexts() {}

    private static Method namedGroupsSetter() {
        try {
            return SSLParameters.class.getMethod("setNamedGroups", String[].class);
        } catch (NoSuchMethodException e) {
            return null;
        }
    }

    static String file(Settings s, String key) {
        return s.getString(key).trim();
    }

    static PrivateKey key(Settings s, String key) throws TlsConfigException {
        return PemFiles.privateKey(key, Path.of(file(s, key)));
    }

    static List<X509Certificate> certs(Settings s, String key) throws TlsConfigException {
        return PemFiles.certificates(key, Path.of(file(s, key)));
    }

    /** Protocols, cipher suites and the JDK provider, as the settings with this prefix ask. */
    static void common(SslContextBuilder b, Settings s, String prefix, boolean noDhe) throws TlsConfigException {
        b.sslProvider(SslProvider.JDK);
        b.protocols(TlsOptions.protocols(prefix + "_protocols", s.getString(prefix + "_protocols")));
        String tls13Key = prefix.replace("_tls", "_tls13") + "_ciphers";
        List<String> suites = TlsOptions.cipherSuites(prefix, s.getString(prefix + "_ciphers"), s.getString(tls13Key), noDhe);
        if (suites != null) {
            b.ciphers(suites);
        }
    }

    static String[] namedGroups(Settings s, String key) throws TlsConfigException {
        String[] groups = TlsOptions.namedGroups(key, s.getString(key));
        if (groups != null && SET_NAMED_GROUPS == null) {
            log.warn("{} = {}: choosing the curve needs Java 20 or later; the JDK's curves are used "
                    + "(set -Djdk.tls.namedGroups to restrict them)", key, s.getString(key));
            return null;
        }
        return groups;
    }

    static SslContext build(SslContextBuilder b, String what) throws TlsConfigException {
        try {
            return b.build();
        } catch (javax.net.ssl.SSLException | RuntimeException e) {
            throw new TlsConfigException(what + ": " + e.getMessage(), e);
        }
    }

    static SslHandler handler(SslContext ctx, ByteBufAllocator alloc, String host, int port, String[] groups) {
        SslHandler h = host == null ? ctx.newHandler(alloc) : ctx.newHandler(alloc, host, port);
        if (groups != null && SET_NAMED_GROUPS != null) {
            SSLEngine engine = h.engine();
            SSLParameters p = engine.getSSLParameters();
            try {
                SET_NAMED_GROUPS.invoke(p, (Object) groups);
                engine.setSSLParameters(p);
            } catch (ReflectiveOperationException | RuntimeException e) {
                log.debug("named groups not applied: {}", e.toString());
            }
        }
        return h;
    }

    /** What SHOW CLIENTS/SERVERS and the login line say of a TLS session: {@code TLSv1.3/TLS_AES_256_GCM_SHA384}. */
    static String describe(SSLSession session) {
        return session.getProtocol() + "/" + session.getCipherSuite();
    }
}
