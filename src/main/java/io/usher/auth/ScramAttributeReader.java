package io.usher.auth;

/**
 * Reads the comma-separated {@code attr=value} pairs of a SCRAM message from left to right, with the
 * leniency of PostgreSQL's read_attr_value/read_any_attr: a value runs to the next comma or the end.
 */
final class ScramAttributeReader {

    record Attribute(char name, String value) {
    }

    private final String message;
    private int position;

    ScramAttributeReader(String message) {
        this.message = message;
    }

    boolean atEnd() {
        return position >= message.length();
    }

    /** Offset of the next attribute in the message. */
    int position() {
        return position;
    }

    /** Name of the next attribute, or 0 at the end. */
    char peek() {
        return atEnd() ? 0 : message.charAt(position);
    }

    /** Reads the next attribute, which must be {@code name}, and returns its value. */
    String expect(char name) throws ScramException {
        if (peek() != name) {
            throw new ScramException("malformed SCRAM message (attribute \"" + name + "\" expected)");
        }
        return readValue(name);
    }

    /** Reads the next attribute, whatever its name (RFC 5802: {@code attr-val = ALPHA "=" value}). */
    Attribute next() throws ScramException {
        char name = peek();
        if (!isAsciiLetter(name)) {
            throw new ScramException("malformed SCRAM message (attribute expected)");
        }
        return new Attribute(name, readValue(name));
    }

    private String readValue(char name) throws ScramException {
        int equals = position + 1;
        if (equals >= message.length() || message.charAt(equals) != '=') {
            throw new ScramException("malformed SCRAM message (expected \"=\" after attribute \"" + name + "\")");
        }
        int end = message.indexOf(',', equals + 1);
        if (end < 0) {
            end = message.length();
        }
        position = Math.min(end + 1, message.length());
        return message.substring(equals + 1, end);
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    }
}
