package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PasswordCheckTest {

    @Test
    void plainSecretMatchesOnlyTheSamePassword() {
        StoredSecret secret = StoredSecret.parse("pencil");

        assertThat(PasswordCheck.matches(secret, "user", "pencil")).isTrue();
        assertThat(PasswordCheck.matches(secret, "user", "Pencil")).isFalse();
        assertThat(PasswordCheck.matches(secret, "user", "pencil ")).isFalse();
    }

    @Test
    void md5SecretMatchesThePasswordOfItsUser() {
        StoredSecret secret = StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5);

        assertThat(PasswordCheck.matches(secret, "u_md5", "md5_pw")).isTrue();
        assertThat(PasswordCheck.matches(secret, "u_md5", "md5_pX")).isFalse();
        assertThat(PasswordCheck.matches(secret, "other", "md5_pw")).isFalse();
    }

    @Test
    void scramSecretMatchesItsPassword() {
        StoredSecret secret = StoredSecret.parse(PostgresVerifiers.PENCIL);

        assertThat(PasswordCheck.matches(secret, "u_scram", "pencil")).isTrue();
        assertThat(PasswordCheck.matches(secret, "u_scram", "pencil2")).isFalse();
    }

    @Test
    void scramSecretWhoseKeysDisagreeMatchesNothing() {
        StoredSecret.Scram real = (StoredSecret.Scram) StoredSecret.parse(PostgresVerifiers.PENCIL);
        byte[] otherStoredKey = real.storedKey();
        otherStoredKey[0] ^= 1;
        byte[] otherServerKey = real.serverKey();
        otherServerKey[0] ^= 1;

        StoredSecret badStoredKey = new StoredSecret.Scram(real.iterations(), real.salt(), otherStoredKey, real.serverKey());
        StoredSecret badServerKey = new StoredSecret.Scram(real.iterations(), real.salt(), real.storedKey(), otherServerKey);

        assertThat(PasswordCheck.matches(badStoredKey, "u_scram", "pencil")).isFalse();
        assertThat(PasswordCheck.matches(badServerKey, "u_scram", "pencil")).isFalse();
    }

    /** Each row: a verifier PostgreSQL made, and a password typed by the client (\\u escapes). */
    @ParameterizedTest(name = "{0} accepts \"{1}\": {2}")
    @CsvSource({
            // SASLprep maps SOFT HYPHEN to nothing and NFKC turns ROMAN NUMERAL NINE into "IX"
            "SOFT_HYPHEN_INSIDE, I\\u00adX, true",
            "SOFT_HYPHEN_INSIDE, IX,        true",
            "SOFT_HYPHEN_INSIDE, \\u2168,   true",
            "SOFT_HYPHEN_INSIDE, I-X,       false",
            // NO-BREAK SPACE becomes a space
            "NO_BREAK_SPACE,     zw\\u00a0sp, true",
            "NO_BREAK_SPACE,     zw sp,       true",
            "NO_BREAK_SPACE,     zwsp,        false",
            // raw-bytes fallbacks
            "SOFT_HYPHEN_ONLY,   \\u00ad,     true",
            "LEFT_TO_RIGHT_MARK, a\\u200eb,   true",
            "LEFT_TO_RIGHT_MARK, ab,          false",
    })
    void scramSecretAppliesSaslPrepAsPostgresDoes(String verifier, String escapedPassword, boolean expected)
            throws Exception {
        String stored = (String) PostgresVerifiers.class.getDeclaredField(verifier).get(null);
        String password = unescape(escapedPassword);

        assertThat(PasswordCheck.matches(StoredSecret.parse(stored), "someone", password)).isEqualTo(expected);
    }

    @Test
    void emptyPasswordsNeverMatch() {
        assertThat(PasswordCheck.matches(new StoredSecret.Plain(""), "user", "")).isFalse();
        assertThat(PasswordCheck.matches(StoredSecret.parse(Md5Password.encrypt("user", "")), "user", "")).isFalse();
        assertThat(PasswordCheck.matches(new StoredSecret.Plain("pencil"), "user", null)).isFalse();
        assertThat(PasswordCheck.matches(null, "user", "pencil")).isFalse();
    }

    private static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            if (s.startsWith("\\u", i)) {
                out.append((char) Integer.parseInt(s.substring(i + 2, i + 6), 16));
                i += 5;
            } else {
                out.append(s.charAt(i));
            }
        }
        return out.toString();
    }
}
