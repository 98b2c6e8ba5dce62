package io.usher.auth;

/**
 * A SCRAM exchange failed: malformed or out-of-order message, unsupported feature, or wrong proof.
 * Messages are safe to log: they never carry secrets nor raw client input.
 */
public final class ScramException extends Exception {

    public ScramException(String msg) {
        super(msg);
    }
}
