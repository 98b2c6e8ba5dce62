package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class Md5PasswordTest {

    private static final byte[] SALT = {0x01, 0x02, 0x03, 0x04};

    @Test
    void encryptsAsPostgresStoresIt() throws Exception {
        String expected = "md5" + HexFormat.of().formatHex(
                MessageDigest.getInstance("MD5").digest("md5_pwu_md5".getBytes(StandardCharsets.UTF_8)));

        assertThat(Md5Password.encrypt("u_md5", "md5_pw"))
                .isEqualTo(expected)
                .isEqualTo(PostgresVerifiers.MD5_PW_U_MD5);
    }

    @Test
    void respondsAsLibpqDoes() {
        // md5("624cc3d07120fabecb3aee5b49983e8f" + bytes 01 02 03 04), computed with python's hashlib
        assertThat(Md5Password.response(PostgresVerifiers.MD5_PW_U_MD5, SALT))
                .isEqualTo("md56db84fcfa501eda972de8b51eaa8ef72");
    }

    @Test
    void verifiesAResponseAgainstAPlainOrMd5Secret() {
        String response = Md5Password.response(Md5Password.encrypt("u_md5", "md5_pw"), SALT);

        assertThat(Md5Password.verify(new StoredSecret.Plain("md5_pw"), "u_md5", SALT, response)).isTrue();
        assertThat(Md5Password.verify(StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5), "u_md5", SALT, response)).isTrue();
    }

    @Test
    void refusesWrongPasswordsUsersSaltsAndUncheckableSecrets() {
        String response = Md5Password.response(Md5Password.encrypt("u_md5", "md5_pw"), SALT);
        String wrongPassword = Md5Password.response(Md5Password.encrypt("u_md5", "md5_pX"), SALT);
        byte[] otherSalt = {0x01, 0x02, 0x03, 0x05};

        assertThat(Md5Password.verify(new StoredSecret.Plain("md5_pw"), "u_md5", SALT, wrongPassword)).isFalse();
        assertThat(Md5Password.verify(StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5), "u_md5", SALT, wrongPassword)).isFalse();
        assertThat(Md5Password.verify(new StoredSecret.Plain("md5_pw"), "someone_else", SALT, response)).isFalse();
        assertThat(Md5Password.verify(new StoredSecret.Plain("md5_pw"), "u_md5", otherSalt, response)).isFalse();
        assertThat(Md5Password.verify(ScramVerifier.derive("md5_pw", new byte[16], 4096), "u_md5", SALT, response)).isFalse();
        assertThat(Md5Password.verify(null, "u_md5", SALT, response)).isFalse();
        assertThat(Md5Password.verify(new StoredSecret.Plain("md5_pw"), "u_md5", SALT, null)).isFalse();
    }

    @Test
    void anEmptyPlainPasswordNeverMatches() {
        String responseForEmpty = Md5Password.response(Md5Password.encrypt("u_md5", ""), SALT);

        assertThat(Md5Password.verify(new StoredSecret.Plain(""), "u_md5", SALT, responseForEmpty)).isFalse();
    }

    @Test
    void refusesMalformedArguments() {
        assertThatThrownBy(() -> Md5Password.response("md5_pw", SALT)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Md5Password.response(PostgresVerifiers.MD5_PW_U_MD5, new byte[3]))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
