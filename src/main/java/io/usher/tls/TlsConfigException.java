package io.usher.tls;

/** A TLS setting or file that cannot be used; the message names the setting or file. */
public final class TlsConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    public TlsConfigException(String message) {
        super(message);
    }

    public TlsConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
