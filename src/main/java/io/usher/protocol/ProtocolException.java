package io.usher.protocol;

/** A peer broke the wire protocol; the connection it came from is closed. */
public final class ProtocolException extends Exception {
    public ProtocolException(String message) {
        super(message, null, false, false);
    }
}
