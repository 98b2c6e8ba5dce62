package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.StringPreparation;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ScramCryptoTest {

    private static final byte[] SALT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    /** Where ongres' POSTGRESQL_PREPARATION works at all, our key derivation must agree with it. */
    @ParameterizedTest
    @ValueSource(strings = {"pencil", "p\u00e4ssw\u00f6rd", "I\u00adX", "\u2168", "zw\u00a0sp", "a\u200eb", "tab\there"})
    void saltedPasswordAgreesWithOngres(String password) {
        byte[] ours = ScramCrypto.saltedPassword(password, SALT, 4096);
        byte[] ongres = ScramFunctions.saltedPassword(
                ScramCrypto.MECHANISM, StringPreparation.POSTGRESQL_PREPARATION, password.toCharArray(), SALT, 4096);

        assertThat(ours).isEqualTo(ongres);
    }

    @Test
    void differentPasswordsDifferentKeys() {
        assertThat(ScramCrypto.saltedPassword("pencil", SALT, 4096))
                .isNotEqualTo(ScramCrypto.saltedPassword("pencils", SALT, 4096));
    }

    @Test
    void saslPrepFallsBackToTheRawPasswordWhenNothingIsLeft() {
        // ongres' own POSTGRESQL_PREPARATION throws here; PostgreSQL uses the raw password.
        assertThat(ScramCrypto.saslPrep("\u00ad")).containsExactly('\u00ad');
        assertThat(ScramCrypto.saslPrep("I\u00adX")).containsExactly('I', 'X');
    }

    @Test
    void noncesAreEighteenRandomBytesInBase64() {
        SecureRandom random = new SecureRandom();
        String first = ScramCrypto.nonce(random);

        assertThat(first).hasSize(24).matches("[A-Za-z0-9+/]{24}");
        assertThat(ScramCrypto.nonce(random)).isNotEqualTo(first);
    }
}
