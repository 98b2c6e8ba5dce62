package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mutated messages (fixed seed, so failures reproduce) must end in success or ScramException: no
 * RuntimeException, and no Error either (ongres' parsers throw AssertionError on some inputs).
 */
class ScramFuzzTest {

    private static final int ROUNDS = 3000;
    private static final String ALPHABET = "=,nyprcsivem0aA+/\0\u00e9 ";
    private static final SecureRandom RANDOM = new SecureRandom();

    @Test
    void serverSurvivesMutatedClientMessages() {
        Random random = new Random(7677);
        StoredSecret.Scram verifier = ScramVerifier.derive("pencil", new byte[16], 1);
        List<Throwable> unexpected = new ArrayList<>();
        for (int i = 0; i < ROUNDS; i++) {
            ScramServerExchange server = new ScramServerExchange(verifier, "alice", 1, RANDOM, () -> "SERVER");
            try {
                server.handleClientFirst(mutate("n,,n=,r=abc", random));
                server.handleClientFinal(mutate("c=biws,r=abcSERVER,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", random));
            } catch (ScramException expected) {
                // fine
            } catch (Throwable t) {
                unexpected.add(t);
            }
        }
        assertThat(unexpected).isEmpty();
    }

    @Test
    void clientSurvivesMutatedServerMessages() {
        Random random = new Random(5802);
        List<Throwable> unexpected = new ArrayList<>();
        for (int i = 0; i < ROUNDS; i++) {
            ScramClientExchange client = ScramClientExchange.withPassword("pencil", "*", "abc");
            client.clientFirstMessage();
            try {
                client.handleServerFirst(mutate("r=abcSERVER,s=c2FsdA==,i=1", random));
                client.verifyServerFinal(mutate("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", random));
            } catch (ScramException expected) {
                // fine
            } catch (Throwable t) {
                unexpected.add(t);
            }
        }
        assertThat(unexpected).isEmpty();
    }

    /** Zero to three random edits: insert, delete or replace a character, or cut the message short. */
    private static String mutate(String message, Random random) {
        StringBuilder s = new StringBuilder(message);
        int edits = random.nextInt(4);
        for (int e = 0; e < edits; e++) {
            int at = s.length() == 0 ? 0 : random.nextInt(s.length());
            char c = ALPHABET.charAt(random.nextInt(ALPHABET.length()));
            switch (random.nextInt(4)) {
                case 0 -> s.insert(at, c);
                case 1 -> { if (s.length() > 0) s.deleteCharAt(at); }
                case 2 -> { if (s.length() > 0) s.setCharAt(at, c); }
                default -> s.setLength(at);
            }
        }
        return s.toString();
    }
}
