package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StoredSecretTest {

    @Test
    void parsesAVerifierMadeByPostgres() {
        StoredSecret secret = StoredSecret.parse(PostgresVerifiers.PENCIL);

        assertThat(secret).isInstanceOf(StoredSecret.Scram.class);
        StoredSecret.Scram scram = (StoredSecret.Scram) secret;
        assertThat(scram.iterations()).isEqualTo(4096);
        assertThat(scram.salt()).isEqualTo(Base64.getDecoder().decode("BoQujG9zhyDfhs4iQ8rqgA=="));
        assertThat(scram.storedKey()).isEqualTo(Base64.getDecoder().decode("skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA="));
        assertThat(scram.serverKey()).isEqualTo(Base64.getDecoder().decode("AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ="));
    }

    @Test
    void derivingWithPostgresSaltAndIterationsGivesPostgresVerifier() {
        StoredSecret.Scram fromPostgres = (StoredSecret.Scram) StoredSecret.parse(PostgresVerifiers.PENCIL);

        StoredSecret.Scram derived = ScramVerifier.derive("pencil", fromPostgres.salt(), fromPostgres.iterations());

        assertThat(derived).isEqualTo(fromPostgres);
        assertThat(ScramVerifier.encode(derived)).isEqualTo(PostgresVerifiers.PENCIL);
    }

    @Test
    void parsesAnMd5HashMadeByPostgres() {
        assertThat(StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5))
                .isEqualTo(new StoredSecret.Md5(PostgresVerifiers.MD5_PW_U_MD5));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "pencil",
            "",
            "md5",
            "md5624cc3d07120fabecb3aee5b49983e8",   // 31 hex digits
            "md5624cc3d07120fabecb3aee5b49983e8ff", // 33 hex digits
            "md5624CC3D07120FABECB3AEE5B49983E8F",  // PostgreSQL writes lowercase hex only
            "md5624cc3d07120fabecb3aee5b49983e8g",
            "SCRAM-SHA-256$4096:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=",
            "SCRAM-SHA-256$0:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$-1:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$99999999999:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$4096:$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$4096:Bo!ujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$4096:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2U==:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
            "SCRAM-SHA-256$4096:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=$x",
            "SCRAM-SHA-1$4096:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=",
    })
    void anythingElseIsAPlainPassword(String s) {
        assertThat(StoredSecret.parse(s)).isEqualTo(new StoredSecret.Plain(s));
    }

    @Test
    void toStringHidesEverySecret() {
        StoredSecret plain = StoredSecret.parse("pencil");
        StoredSecret md5 = StoredSecret.parse(PostgresVerifiers.MD5_PW_U_MD5);
        StoredSecret scram = StoredSecret.parse(PostgresVerifiers.PENCIL);
        StoredSecret.Scram verifier = (StoredSecret.Scram) scram;
        ScramKeys keys = new ScramKeys(verifier.storedKey(), verifier.serverKey());

        assertThat(plain.toString()).isEqualTo("Plain[***]");
        assertThat(md5.toString()).isEqualTo("Md5[***]");
        assertThat(scram.toString()).isEqualTo("Scram[***]");
        assertThat(keys.toString()).isEqualTo("ScramKeys[***]");
        for (String s : new String[] {plain.toString(), md5.toString(), scram.toString(), keys.toString()}) {
            assertThat(s).doesNotContain("pencil", "624cc3d0", "BoQujG9", "skCX2nJ", "AG31zvk9");
        }
    }

    @Test
    void scramVerifierCannotBeAlteredThroughItsArrays() {
        byte[] salt = new byte[] {1, 2, 3};
        byte[] storedKey = new byte[32];
        StoredSecret.Scram scram = new StoredSecret.Scram(4096, salt, storedKey, new byte[32]);

        salt[0] = 9;
        storedKey[0] = 9;
        scram.salt()[1] = 9;
        scram.storedKey()[1] = 9;

        assertThat(scram.salt()).containsExactly(1, 2, 3);
        assertThat(scram.storedKey()).containsOnly(0);
    }

    @Test
    void rejectsImpossibleSecrets() {
        assertThatThrownBy(() -> new StoredSecret.Md5("md5"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StoredSecret.Scram(0, new byte[16], new byte[32], new byte[32]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StoredSecret.Scram(4096, new byte[0], new byte[32], new byte[32]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StoredSecret.Scram(4096, new byte[16], new byte[31], new byte[32]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storedKey");
    }
}
