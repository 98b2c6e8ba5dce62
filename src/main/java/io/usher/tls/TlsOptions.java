package io.usher.tls;

import io.netty.handler.ssl.CipherSuiteConverter;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

/**
 * PgBouncer's (libtls's) spellings of protocol lists, cipher lists, ECDH curves and DH parameters,
 * turned into what the JDK's SSLEngine takes.
 */
final class TlsOptions {
    private static final List<String> ALL_PROTOCOLS = List.of("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3");
    private static final List<String> SECURE_PROTOCOLS = List.of("TLSv1.2", "TLSv1.3");

    private TlsOptions() {}

    /**
     * tls_protocols: a list separated by commas or colons of {@code tlsv1.0} ... {@code tlsv1.3} and
     * the shortcuts {@code all}, {@code secure} (= {@code default}), {@code legacy} (= all) and
     * {@code tlsv1} (= all); a leading {@code !} or {@code -} removes. Returns the JDK's names in order.
     */
    static List<String> protocols(String setting, String value) throws TlsConfigException {
        Set<String> chosen = new LinkedHashSet<>();
        for (String raw : value.split("[,:\\s]+")) {
            String token = raw.trim().toLowerCase(Locale.ROOT);
            if (token.isEmpty()) {
                continue;
            }
            boolean remove = token.startsWith("!") || token.startsWith("-");
            if (remove) {
                token = token.substring(1);
            }
            List<String> names;
            switch (token) {
                case "all":
                case "legacy":
                case "tlsv1":
                    names = ALL_PROTOCOLS;
                    break;
                case "secure":
                case "default":
                    names = SECURE_PROTOCOLS;
                    break;
                case "tlsv1.0":
                    names = List.of("TLSv1");
                    break;
                case "tlsv1.1":
                    names = List.of("TLSv1.1");
                    break;
                case "tlsv1.2":
                    names = List.of("TLSv1.2");
                    break;
                case "tlsv1.3":
                    names = List.of("TLSv1.3");
                    break;
                default:
                    throw new TlsConfigException(setting + ": unknown protocol \"" + raw.trim() + "\"");
            }
            if (remove) {
                chosen.removeAll(names);
            } else {
                chosen.addAll(names);
            }
        }
        if (chosen.isEmpty()) {
            throw new TlsConfigException(setting + ": no protocol left in \"" + value + "\"");
        }
        List<String> ordered = new ArrayList<>();
        for (String p : ALL_PROTOCOLS) {
            if (chosen.contains(p)) {
                ordered.add(p);
            }
        }
        return ordered;
    }

    /**
     * The cipher suites for tls_ciphers (TLS 1.2 and older, OpenSSL syntax) and tls13_ciphers
     * (TLS 1.3 suite names; empty: the JDK's TLS 1.3 suites), or null for the JDK's defaults.
     *
     * <p>The shortcuts {@code default}, {@code secure}, {@code fast}, {@code normal}, {@code compat}
     * and {@code legacy} mean the JDK's defaults; {@code all} and {@code insecure} every suite the JDK
     * supports except anonymous and NULL ones. Otherwise every OpenSSL cipher name in the list is
     * mapped to its JDK name; OpenSSL's group keywords ({@code HIGH}, {@code !aNULL}, {@code +ECDHE},
     * ...) cannot be evaluated and are skipped, and a list with no name at all means the defaults.
     * {@code dheparams = none} leaves out DHE suites.
     */
    static List<String> cipherSuites(String prefix, String ciphers, String tls13Ciphers, boolean noDhe)
            throws TlsConfigException {
        SSLEngine probe;
        try {
            probe = SSLContext.getDefault().createSSLEngine();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new TlsConfigException("the JDK has no TLS implementation", e);
        }
        Set<String> supported = Set.of(probe.getSupportedCipherSuites());
        List<String> defaults = List.of(probe.getEnabledCipherSuites());

        List<String> older = null; // null: the JDK's defaults
        String c = ciphers.trim().toLowerCase(Locale.ROOT);
        switch (c) {
            case "":
            case "default":
            case "secure":
            case "fast":
            case "normal":
            case "compat":
            case "legacy":
                break;
            case "all":
            case "insecure":
                older = new ArrayList<>();
                for (String s : probe.getSupportedCipherSuites()) {
                    if (!s.contains("_anon_") && !s.contains("_NULL_") && !s.startsWith("TLS_EMPTY")) {
                        older.add(s);
                    }
                }
                break;
            default:
                older = new ArrayList<>();
                boolean named = false;
                for (String raw : ciphers.split("[:,\\s]+")) {
                    String token = raw.trim();
                    if (token.isEmpty() || token.startsWith("!") || token.startsWith("-") || token.startsWith("+")
                            || token.startsWith("@") || !token.contains("-") && !token.startsWith("TLS_")) {
                        continue; // a keyword or group (HIGH, aNULL, @STRENGTH): not expressible in the JDK
                    }
                    named = true;
                    String java = token.startsWith("TLS_") || token.startsWith("SSL_") ? token
                            : CipherSuiteConverter.toJava(token, "TLS");
                    if (java != null && supported.contains(java)) {
                        older.add(java);
                    }
                }
                if (!named) {
                    older = null;
                } else if (older.isEmpty()) {
                    throw new TlsConfigException(prefix + "_ciphers: none of \"" + ciphers + "\" is a cipher suite the JDK supports");
                }
        }
        List<String> tls13 = null;
        if (!tls13Ciphers.isBlank()) {
            tls13 = new ArrayList<>();
            for (String raw : tls13Ciphers.split("[:,\\s]+")) {
                String token = raw.trim().toUpperCase(Locale.ROOT);
                if (token.isEmpty()) {
                    continue;
                }
                if (!supported.contains(token)) {
                    throw new TlsConfigException(prefix + "13_ciphers: unknown TLS 1.3 cipher suite \"" + raw.trim() + "\"");
                }
                tls13.add(token);
            }
        }
        if (older == null && tls13 == null && !noDhe) {
            return null;
        }
        List<String> result = new ArrayList<>();
        if (tls13 != null) {
            result.addAll(tls13);
        } else {
            defaults.stream().filter(TlsOptions::isTls13Suite).forEach(result::add);
        }
        for (String s : older != null ? older : defaults) {
            if (!isTls13Suite(s) && !(noDhe && s.contains("_DHE_"))) {
                result.add(s);
            }
        }
        return result;
    }

    private static boolean isTls13Suite(String s) {
        // TLS 1.3 suites name no key exchange: TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, ...
        return s.startsWith("TLS_") && !s.contains("_WITH_");
    }

    /** ecdhcurve: null for the JDK's groups ({@code auto}), else the JDK's name of the curve. */
    static String[] namedGroups(String setting, String value) throws TlsConfigException {
        String v = value.trim().toLowerCase(Locale.ROOT);
        switch (v) {
            case "":
            case "auto":
                return null;
            case "none":
                // ECDH off: only finite-field groups are left
                return new String[] {"ffdhe2048", "ffdhe3072", "ffdhe4096"};
            case "prime256v1":
            case "secp256r1":
            case "p-256":
                return new String[] {"secp256r1"};
            case "secp384r1":
            case "p-384":
                return new String[] {"secp384r1"};
            case "secp521r1":
            case "p-521":
                return new String[] {"secp521r1"};
            case "x25519":
                return new String[] {"x25519"};
            case "x448":
                return new String[] {"x448"};
            default:
                throw new TlsConfigException(setting + ": unknown curve \"" + value + "\"");
        }
    }

    /** dheparams: auto, legacy (the JDK picks the DH group size either way) or none (no DHE suites). */
    static boolean noDhe(String setting, String value) throws TlsConfigException {
        String v = value.trim().toLowerCase(Locale.ROOT);
        switch (v) {
            case "":
            case "auto":
            case "legacy":
                return false;
            case "none":
                return true;
            default:
                throw new TlsConfigException(setting + ": must be none, auto or legacy, not \"" + value + "\"");
        }
    }
}
