package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Unknown users and unusable secrets get an exchange that looks real and always fails. */
class ScramFakeExchangeTest {

    private static final int ITERATIONS = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SERVER_FIRST_SHAPE = "r=%s[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096";

    @Test
    void unknownUserGetsAServerFirstMessageShapedLikeARealOne() throws ScramException {
        ScramClientExchange client = ScramClientExchange.withPassword("pencil");
        String clientFirst = client.clientFirstMessage();
        String nonce = clientFirst.substring(clientFirst.indexOf("r=") + 2);
        String shape = String.format(SERVER_FIRST_SHAPE, Pattern.quote(nonce));

        String fake = new ScramServerExchange(null, "nobody", ITERATIONS, RANDOM).handleClientFirst(clientFirst);
        String real = new ScramServerExchange(ScramVerifier.generate("pencil", ITERATIONS, RANDOM), "alice", ITERATIONS, RANDOM)
                .handleClientFirst(clientFirst);

        assertThat(real).matches(shape);
        assertThat(fake).matches(shape);
    }

    @Test
    void sameUserNameGetsTheSameSaltEveryTime() throws ScramException {
        String first = salt(new ScramServerExchange(null, "nobody", ITERATIONS, RANDOM));
        String second = salt(new ScramServerExchange(null, "nobody", ITERATIONS, RANDOM));
        String md5User = salt(new ScramServerExchange(StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5), "nobody", ITERATIONS, RANDOM));
        String otherUser = salt(new ScramServerExchange(null, "somebody", ITERATIONS, RANDOM));

        assertThat(second).isEqualTo(first);
        assertThat(md5User).isEqualTo(first);
        assertThat(otherUser).isNotEqualTo(first);
    }

    @Test
    void unknownUserAlwaysFails() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(null, "nobody", ITERATIONS, RANDOM);
        ScramClientExchange client = ScramClientExchange.withPassword("pencil");
        String clientFinal = client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));

        assertThatThrownBy(() -> server.handleClientFinal(clientFinal))
                .isInstanceOf(ScramException.class)
                .hasMessage("password authentication failed (invalid SCRAM proof)");
        assertThatThrownBy(server::keys).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void md5SecretFailsEvenWithItsPassword() throws ScramException {
        // SCRAM cannot be checked against an md5 hash (PostgreSQL: "does not have a valid SCRAM secret").
        ScramServerExchange server = new ScramServerExchange(
                StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5), "u_md5", ITERATIONS, RANDOM);
        ScramClientExchange client = ScramClientExchange.withPassword("md5_pw");
        String clientFinal = client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));

        assertThatThrownBy(() -> server.handleClientFinal(clientFinal))
                .isInstanceOf(ScramException.class)
                .hasMessage("password authentication failed (invalid SCRAM proof)");
    }

    @Test
    void emptyPlainPasswordFailsLikeAnUnknownUser() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(new StoredSecret.Plain(""), "nobody", ITERATIONS, RANDOM);
        String unknownUsersSalt = salt(new ScramServerExchange(null, "nobody", ITERATIONS, RANDOM));

        assertThat(salt(server)).isEqualTo(unknownUsersSalt);
    }

    @Test
    void fakeExchangeUsesTheConfiguredIterations() throws ScramException {
        String serverFirst = new ScramServerExchange(null, "nobody", 10000, RANDOM).handleClientFirst("n,,n=,r=abc");

        assertThat(serverFirst).endsWith(",i=10000");
    }

    private static String salt(ScramServerExchange server) throws ScramException {
        String serverFirst = server.handleClientFirst("n,,n=,r=abc");
        return serverFirst.substring(serverFirst.indexOf(",s=") + 3, serverFirst.indexOf(",i="));
    }
}
