package io.usher.auth;

import java.util.Base64;

/**
 * Parses the two messages a SCRAM client sends, following PostgreSQL's auth-scram.c.
 *
 * <p>ongres' ClientFirstMessage.parseFrom does not fit the server side: it refuses the empty user name
 * libpq sends ("n="), refuses extensions, and rebuilds the message instead of keeping the bytes the
 * client signed. The AuthMessage must be built from the messages exactly as received.
 */
final class ClientScramMessages {

    /** client-first-message: its gs2 header ("n,," or "y,,"), the bare part the client signs, and its nonce. */
    record First(String gs2Header, String bare, String nonce) {
    }

    /** client-final-message: channel binding ("c=") and nonce ("r=") values, the signed part, and the proof. */
    record Final(String channelBinding, String nonce, String withoutProof, byte[] proof) {
    }

    private ClientScramMessages() {
    }

    static First parseFirst(String message) throws ScramException {
        requireText(message);
        switch (charAt(message, 0)) {
            // "n": the client does not support channel binding; "y": it does but thinks we don't, which is
            // right, as we don't advertise SCRAM-SHA-256-PLUS.
            case 'n', 'y' -> { }
            case 'p' -> throw new ScramException("client requires SCRAM channel binding, but it is not supported");
            default -> throw new ScramException("malformed SCRAM message (unexpected channel-binding flag)");
        }
        if (charAt(message, 1) != ',') {
            throw new ScramException("malformed SCRAM message (comma expected after channel-binding flag)");
        }
        if (charAt(message, 2) == 'a') {
            throw new ScramException("client uses authorization identity, but it is not supported");
        }
        if (charAt(message, 2) != ',') {
            throw new ScramException("malformed SCRAM message (unexpected attribute in client-first-message)");
        }
        String gs2Header = message.substring(0, 3);
        String bare = message.substring(3);

        ScramAttributeReader reader = new ScramAttributeReader(bare);
        if (reader.peek() == 'm') {
            throw new ScramException("client requires a mandatory SCRAM extension, but it is not supported");
        }
        reader.expect('n'); // PostgreSQL takes the user name from the startup packet and ignores this one
        String nonce = reader.expect('r');
        if (!isPrintable(nonce)) {
            throw new ScramException("malformed SCRAM message (empty nonce or non-printable characters in it)");
        }
        while (!reader.atEnd()) {
            reader.next(); // optional extensions: none is supported, so they are ignored
        }
        return new First(gs2Header, bare, nonce);
    }

    static Final parseFinal(String message) throws ScramException {
        requireText(message);
        ScramAttributeReader reader = new ScramAttributeReader(message);
        String channelBinding = reader.expect('c');
        String nonce = reader.expect('r');

        // Optional extensions may come before the proof, which must be the last attribute.
        ScramAttributeReader.Attribute attribute;
        int proofStart;
        do {
            if (reader.atEnd()) {
                throw new ScramException("malformed SCRAM message (proof missing in client-final-message)");
            }
            proofStart = reader.position();
            attribute = reader.next();
        } while (attribute.name() != 'p');
        if (!reader.atEnd()) {
            throw new ScramException("malformed SCRAM message (garbage at end of client-final-message)");
        }
        byte[] proof = decodeBase64(attribute.value());
        if (proof.length != ScramCrypto.KEY_LENGTH) {
            throw new ScramException("malformed SCRAM message (malformed proof in client-final-message)");
        }
        // "- 1" drops the comma that separates the proof from what precedes it.
        return new Final(channelBinding, nonce, message.substring(0, proofStart - 1), proof);
    }

    /** PostgreSQL rejects messages whose length disagrees with strlen(), i.e. that contain NUL. */
    private static void requireText(String message) throws ScramException {
        if (message == null || message.isEmpty()) {
            throw new ScramException("malformed SCRAM message (empty message)");
        }
        if (message.indexOf('\0') >= 0) {
            throw new ScramException("malformed SCRAM message (NUL character)");
        }
    }

    private static char charAt(String s, int index) {
        return index < s.length() ? s.charAt(index) : 0;
    }

    /** RFC 5802 {@code printable}: ASCII 0x21-0x7E except the comma; at least one. */
    private static boolean isPrintable(String nonce) {
        return !nonce.isEmpty() && nonce.chars().allMatch(c -> c >= 0x21 && c <= 0x7E && c != ',');
    }

    private static byte[] decodeBase64(String value) throws ScramException {
        try {
            return Base64.getDecoder().decode(value);
        } catch (IllegalArgumentException e) {
            throw new ScramException("malformed SCRAM message (invalid base64 in client-final-message)");
        }
    }
}
