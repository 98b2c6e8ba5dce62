package io.usher.auth;

import java.util.Base64;

/**
 * Checks the two messages a SCRAM server sends, as libpq's read_server_first_message and
 * read_server_final_message do, before ongres' ScramClient sees them: its own parsers do not always
 * fail with an exception (a server-first-message with two attributes trips an AssertionError).
 */
final class ServerScramMessages {

    /** The parts of a server-first-message the client needs to derive its keys. */
    record First(byte[] salt, int iterations) {
    }

    private ServerScramMessages() {
    }

    static First parseFirst(String message, String clientNonce) throws ScramException {
        requireText(message, "server-first-message");
        ScramAttributeReader reader = new ScramAttributeReader(message);
        String nonce = reader.expect('r');
        // The server must extend our nonce with its own part.
        if (nonce.length() <= clientNonce.length() || !nonce.startsWith(clientNonce)) {
            throw new ScramException("invalid SCRAM response (nonce mismatch)");
        }
        byte[] salt = decodeBase64(reader.expect('s'), "salt");
        if (salt.length == 0) {
            throw new ScramException("malformed SCRAM message (empty salt)");
        }
        int iterations = parseIterations(reader.expect('i'));
        if (!reader.atEnd()) {
            throw new ScramException("malformed SCRAM message (garbage at end of server-first-message)");
        }
        return new First(salt, iterations);
    }

    /** Checks a server-final-message; an "e=" message becomes a ScramException carrying the server's error. */
    static void checkFinal(String message) throws ScramException {
        requireText(message, "server-final-message");
        ScramAttributeReader reader = new ScramAttributeReader(message);
        if (reader.peek() == 'e') {
            throw new ScramException("error received from server in SCRAM exchange: " + printable(reader.expect('e')));
        }
        byte[] signature = decodeBase64(reader.expect('v'), "server signature");
        if (signature.length != ScramCrypto.KEY_LENGTH || !reader.atEnd()) {
            throw new ScramException("malformed SCRAM message (invalid server signature)");
        }
    }

    private static void requireText(String message, String name) throws ScramException {
        if (message == null || message.isEmpty()) {
            throw new ScramException("malformed SCRAM message (empty " + name + ")");
        }
    }

    private static int parseIterations(String value) throws ScramException {
        try {
            int iterations = Integer.parseInt(value);
            if (iterations >= 1) {
                return iterations;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ScramException("malformed SCRAM message (invalid iteration count)");
    }

    private static byte[] decodeBase64(String value, String what) throws ScramException {
        try {
            return Base64.getDecoder().decode(value);
        } catch (IllegalArgumentException e) {
            throw new ScramException("malformed SCRAM message (invalid " + what + ")");
        }
    }

    /** The server's text restricted to printable ASCII and cut short, so that it is safe to log. */
    private static String printable(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints().limit(64).forEach(c -> out.append(c >= 0x20 && c <= 0x7E ? (char) c : '?'));
        return out.toString();
    }
}
