package io.usher.config;

import static io.usher.config.TestConfigs.relativeToWorkingDir;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UserListTest {
    private static final String MD5 = "md545f2603610af569b6155c45067268c6b";
    private static final String SCRAM = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$"
            + "zZKSvQeHcs1TOZ0zDYrfLbYoNNtIcZqS7PJ8pY6bRWk=:BFq+C6cWn8kYdt/JgNyhpkI0AlUbPVp0rrkeLdTZtDs=";

    @TempDir
    Path dir;

    private static UserList parse(String text) throws ConfigException {
        return UserList.parse(text, "userlist.txt");
    }

    private static ConfigException error(String text) {
        return assertThatExceptionOfType(ConfigException.class).isThrownBy(() -> parse(text)).actual();
    }

    @Test
    void readsPlainMd5AndScramSecretsAsWritten() throws ConfigException {
        UserList list = parse("\"plainuser\" \"secret\"\n\"admin\" \"" + MD5 + "\"\n\"scram\" \"" + SCRAM + "\"\n");
        assertThat(list.secret("plainuser")).contains("secret");
        assertThat(list.secret("admin")).contains(MD5);
        assertThat(list.secret("scram")).contains(SCRAM);
        assertThat(list.size()).isEqualTo(3);
        assertThat(list.entries().keySet()).containsExactly("plainuser", "admin", "scram");
    }

    @Test
    void doubledQuotesStandForOneQuote() throws ConfigException {
        UserList list = parse("\"o\"\"brien\" \"pa\"\"ss\"\"\"\n\"\"\"\" \"x\"\n");
        assertThat(list.secret("o\"brien")).contains("pa\"ss\"");
        assertThat(list.secret("\"")).contains("x");
    }

    @Test
    void theRestOfTheLineIsIgnored() throws ConfigException {
        UserList list = parse("\"u1\" \"p1\" \"\" extra stuff ; and more\n\"u2\" \"p2\"trailing\n");
        assertThat(list.entries()).containsExactly(entry("u1", "p1"), entry("u2", "p2"));
    }

    @Test
    void skipsSemicolonCommentsBlankLinesAndIndentation() throws ConfigException {
        UserList list = parse("; comment\n\n   ; indented comment\n\t  \"u\"\t\"p\"\n\n");
        assertThat(list.entries()).containsExactly(entry("u", "p"));
    }

    @Test
    void acceptsWindowsLineEndings() throws ConfigException {
        assertThat(parse("\"a\" \"1\"\r\n\"b\" \"2\"\r\n").entries()).containsExactly(entry("a", "1"), entry("b", "2"));
    }

    @Test
    void namesAreCaseSensitiveAndTheLaterDuplicateWins() throws ConfigException {
        UserList list = parse("\"Bob\" \"1\"\n\"bob\" \"2\"\n\"Bob\" \"3\"\n");
        assertThat(list.entries()).containsExactly(entry("Bob", "3"), entry("bob", "2"));
        assertThat(list.secret("BOB")).isEmpty();
    }

    @Test
    void anEmptyPasswordIsAllowed() throws ConfigException {
        assertThat(parse("\"nopass\" \"\"\n").secret("nopass")).contains("");
    }

    @Test
    void anEmptyFileHasNoUsers() throws ConfigException {
        assertThat(parse("").size()).isZero();
        assertThat(UserList.empty().entries()).isEmpty();
        assertThat(UserList.empty().secret("x")).isEmpty();
    }

    @ParameterizedTest(name = "[{index}] {2}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            "a" "1"\\n# hash comment\\n"b" "2"   | 2 | broken auth file: expected a double-quoted user name
            bob "x"                             | 1 | broken auth file: expected a double-quoted user name
            "a" "1"\\n\\n"bob"                   | 3 | broken auth file: no password for user "bob"
            "bob"   \\n"x" "y"                   | 1 | broken auth file: no password for user "bob"
            "a" junk "b"                        | 1 | broken auth file: expected a double-quoted password after the user name
            "bob                                | 1 | broken auth file: unterminated user name
            "a" "1"\\n"bob" "x                   | 2 | broken auth file: unterminated password
            "bob\\n" "x"                         | 1 | broken auth file: unterminated user name
            """)
    void malformedLinesAreErrorsWithLine(String text, int line, String message) {
        ConfigException e = error(text.replace("\\n", "\n"));
        assertThat(e.file()).isEqualTo("userlist.txt");
        assertThat(e.line()).isEqualTo(line);
        assertThat(e.detail()).isEqualTo(message);
    }

    @Test
    void userNamesAndPasswordsHavePgBouncersLengthLimits() throws ConfigException {
        String name127 = "u".repeat(127);
        String secret2047 = "p".repeat(2047);
        assertThat(parse("\"" + name127 + "\" \"" + secret2047 + "\"").secret(name127)).contains(secret2047);

        assertThat(error("\"" + "u".repeat(128) + "\" \"x\"").detail()).isEqualTo("username too long in auth file");
        assertThat(error("\"u\" \"" + "p".repeat(2048) + "\"").detail()).isEqualTo("password too long in auth file");
        // the limit counts the field as written, as PgBouncer does: 64 escaped quotes are 128 characters
        assertThat(error("\"" + "\"\"".repeat(64) + "\" \"x\"").detail()).isEqualTo("username too long in auth file");
    }

    @Test
    void loadsAFileAndNamesItInErrors() throws Exception {
        Path good = Files.writeString(dir.resolve("users.txt"), "\"u\" \"p\"\n");
        assertThat(UserList.load(good).secret("u")).contains("p");

        Path bad = Files.writeString(dir.resolve("bad.txt"), "\"u\" \"p\"\nnot quoted\n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UserList.load(bad)).actual();
        assertThat(e.file()).isEqualTo(bad.toString());
        assertThat(e.line()).isEqualTo(2);

        Path missing = dir.resolve("missing.txt");
        ConfigException m = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UserList.load(missing)).actual();
        assertThat(m.file()).isEqualTo(missing.toString());
        assertThat(m.line()).isZero();
        assertThat(m.detail()).isEqualTo("could not open auth_file: no such file");
    }

    @Test
    void neverShowsSecretsAndIsUnmodifiable() throws ConfigException {
        UserList list = parse("\"u\" \"topsecret\"\n");
        assertThat(list.toString()).contains("u").doesNotContain("topsecret");
        assertThatThrownBy(() -> list.entries().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void theConfigLoadsItsAuthFile() throws Exception {
        Path users = Files.writeString(dir.resolve("userlist.txt"), "\"alice\" \"" + MD5 + "\"\n");
        UsherConfig config = TestConfigs.parse(TestConfigs.main("auth_file = " + users));
        assertThat(config.userList().secret("alice")).contains(MD5);
    }

    @Test
    void aRelativeAuthFileIsResolvedAgainstTheWorkingDirectory() throws Exception {
        Path users = Files.writeString(dir.resolve("userlist.txt"), "\"bob\" \"pw\"\n");
        UsherConfig config = TestConfigs.parse(TestConfigs.main("auth_file = " + relativeToWorkingDir(users)));
        assertThat(config.userList().secret("bob")).contains("pw");
    }

    @Test
    void withoutAuthFileTheListIsEmpty() throws ConfigException {
        assertThat(TestConfigs.parse(TestConfigs.main()).userList().size()).isZero();
    }

    @Test
    void authTypesAnyAndPamDoNotReadTheAuthFile() throws ConfigException {
        Path missing = dir.resolve("absent.txt");
        assertThat(TestConfigs.parse(TestConfigs.main("auth_type = any", "auth_file = " + missing)).userList().size())
                .isZero();
        assertThat(TestConfigs.parse(TestConfigs.main("auth_type = pam", "auth_file = " + missing)).userList().size())
                .isZero();
    }

    @Test
    void aMissingOrBrokenAuthFileFailsTheConfig() throws Exception {
        Path missing = dir.resolve("absent.txt");
        ConfigException e = TestConfigs.parseError(TestConfigs.main("auth_type = scram-sha-256", "auth_file = " + missing));
        assertThat(e.file()).isEqualTo(missing.toString());
        assertThat(e.detail()).isEqualTo("could not open auth_file: no such file");

        Path broken = Files.writeString(dir.resolve("broken.txt"), "\n\n\"u\"\n");
        ConfigException b = TestConfigs.parseError(TestConfigs.main("auth_file = " + broken));
        assertThat(b.file()).isEqualTo(broken.toString());
        assertThat(b.line()).isEqualTo(3);
    }
}
