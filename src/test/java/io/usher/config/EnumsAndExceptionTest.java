package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EnumsAndExceptionTest {

    @ParameterizedTest
    @CsvSource({"session,SESSION", "Transaction,TRANSACTION", "STATEMENT,STATEMENT"})
    void poolModeParsesCaseInsensitively(String text, PoolMode expected) {
        assertThat(PoolMode.parse(text)).isEqualTo(expected);
    }

    @Test
    void poolModeRejectsOtherNames() {
        assertThatIllegalArgumentException().isThrownBy(() -> PoolMode.parse("tx")).withMessageContaining("tx");
        assertThatIllegalArgumentException().isThrownBy(() -> PoolMode.parse(null));
    }

    @Test
    void poolModeConfigNames() {
        assertThat(PoolMode.SESSION.configName()).isEqualTo("session");
        assertThat(PoolMode.TRANSACTION.configName()).isEqualTo("transaction");
        assertThat(PoolMode.STATEMENT.configName()).isEqualTo("statement");
    }

    @ParameterizedTest
    @CsvSource({"cert,CERT", "md5,MD5", "scram-sha-256,SCRAM_SHA_256", "SCRAM-SHA-256,SCRAM_SHA_256",
            "plain,PLAIN", "Trust,TRUST", "any,ANY", "hba,HBA", "pam,PAM", "ldap,LDAP"})
    void authTypeParsesPgBouncerNames(String text, AuthType expected) {
        assertThat(AuthType.parse(text)).isEqualTo(expected);
        assertThat(expected.configName()).isEqualToIgnoringCase(text);
    }

    @Test
    void authTypeRejectsOtherNames() {
        assertThatIllegalArgumentException().isThrownBy(() -> AuthType.parse("scram_sha_256"));
        assertThatIllegalArgumentException().isThrownBy(() -> AuthType.parse("crypt"));
    }

    @Test
    void onlyAnyAndPamSkipTheAuthFile() {
        for (AuthType type : AuthType.values()) {
            assertThat(type.usesAuthFile()).as(type.name()).isEqualTo(type != AuthType.ANY && type != AuthType.PAM);
        }
    }

    @Test
    void exceptionMessageHasFileAndLine() {
        ConfigException e = new ConfigException("/etc/pgbouncer.ini", 12, "bad thing");
        assertThat(e.getMessage()).isEqualTo("/etc/pgbouncer.ini:12: bad thing");
        assertThat(e.file()).isEqualTo("/etc/pgbouncer.ini");
        assertThat(e.line()).isEqualTo(12);
        assertThat(e.detail()).isEqualTo("bad thing");
    }

    @Test
    void exceptionWithoutLineHasOnlyFile() {
        ConfigException e = new ConfigException("users.txt", 0, "could not open");
        assertThat(e.getMessage()).isEqualTo("users.txt: could not open");
        assertThat(e.line()).isZero();
        assertThat(new ConfigException("x.ini", -3, "m").line()).isZero();
    }
}
