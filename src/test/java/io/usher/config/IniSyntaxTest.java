package io.usher.config;

import static io.usher.config.TestConfigs.parse;
import static io.usher.config.TestConfigs.parseError;
import static io.usher.config.TestConfigs.settings;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The pgbouncer.ini syntax, as libusual's cfparser reads it (checked against PgBouncer 1.18's binary). */
class IniSyntaxTest {

    @Test
    void commentsBlankLinesAndSurroundingWhitespaceAreIgnored() throws ConfigException {
        Settings s = parse("""
                ; a comment
                # another comment

                [pgbouncer]
                   ; an indented comment
                \t# and a tabbed one
                  listen_port   =   7000\s\s
                max_client_conn\t=\t200\t

                """).settings();
        assertThat(s.getString("listen_port")).isEqualTo("7000");
        assertThat(s.getString("max_client_conn")).isEqualTo("200");
    }

    @Test
    void commentCharactersLaterInALineArePartOfTheValue() throws ConfigException {
        Settings s = settings("logfile = /var/log/pgb.log ; not a comment", "pidfile = /run/p#1.pid");
        assertThat(s.getString("logfile")).isEqualTo("/var/log/pgb.log ; not a comment");
        assertThat(s.getString("pidfile")).isEqualTo("/run/p#1.pid");
    }

    @Test
    void valuesAreNotUnquotedAndMayContainEqualsSigns() throws ConfigException {
        Settings s = settings("server_reset_query = 'DISCARD ALL'", "auth_query = SELECT a FROM t WHERE b=$1");
        assertThat(s.getString("server_reset_query")).isEqualTo("'DISCARD ALL'");
        assertThat(s.getString("auth_query")).isEqualTo("SELECT a FROM t WHERE b=$1");
    }

    @Test
    void emptyValuesAreAllowedForStrings() throws ConfigException {
        Settings s = settings("unix_socket_dir =", "server_check_query =");
        assertThat(s.getString("unix_socket_dir")).isEmpty();
        assertThat(s.getString("server_check_query")).isEmpty();
        assertThat(s.isSet("unix_socket_dir")).isTrue();
    }

    @Test
    void windowsLineEndingsAreAccepted() throws ConfigException {
        Settings s = parse("[pgbouncer]\r\nlisten_port = 7001\r\nlogfile = /x.log\r\n").settings();
        assertThat(s.getInt("listen_port")).isEqualTo(7001);
        assertThat(s.getString("logfile")).isEqualTo("/x.log");
    }

    @Test
    void aLeadingByteOrderMarkIsSkipped() throws ConfigException {
        assertThat(parse("\uFEFF[pgbouncer]\nlisten_port = 7002\n").settings().getInt("listen_port")).isEqualTo(7002);
    }

    @Test
    void textAfterASectionHeaderIsTheNextStatement() throws ConfigException {
        assertThat(parse("[pgbouncer] listen_port = 7003\n").settings().getInt("listen_port")).isEqualTo(7003);
        assertThat(parse("[pgbouncer] ; comment\n").settings().isSet("listen_port")).isFalse();
    }

    @Test
    void sectionsMayComeInAnyOrderAndRepeat() throws ConfigException {
        UsherConfig c = parse("""
                [databases]
                a = host=h1
                [pgbouncer]
                listen_port = 7004
                [users]
                u1 = pool_size=3
                [databases]
                b = host=h2
                """);
        assertThat(c.databases().keySet()).containsExactly("a", "b");
        assertThat(c.users().keySet()).containsExactly("u1");
        assertThat(c.settings().getInt("listen_port")).isEqualTo(7004);
    }

    @Test
    void aRepeatedPgbouncerHeaderResetsEverySettingToItsDefault() throws ConfigException {
        // PgBouncer refills the defaults whenever it reads [pgbouncer]; verified on PgBouncer 1.18.
        Settings s = parse("""
                [pgbouncer]
                max_client_conn = 5
                listen_port = 7005
                [databases]
                [pgbouncer]
                listen_port = 7006
                """).settings();
        assertThat(s.getInt("max_client_conn")).isEqualTo(100);
        assertThat(s.isSet("max_client_conn")).isFalse();
        assertThat(s.getInt("listen_port")).isEqualTo(7006);
    }

    @Test
    void theLastOfARepeatedKeyWins() throws ConfigException {
        assertThat(settings("listen_port = 1", "listen_port = 2").getInt("listen_port")).isEqualTo(2);
    }

    @Test
    void pgbouncerKeysAreCaseSensitive() {
        ConfigException e = parseError(TestConfigs.main("listen_port = 1", "Listen_Port = 7007"));
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.detail()).isEqualTo("unknown parameter: pgbouncer/Listen_Port");
        assertThat(parseError(TestConfigs.main("LISTEN_PORT = 7007")).detail()).contains("LISTEN_PORT");
    }

    @Test
    void sectionNamesAreCaseSensitive() {
        ConfigException e = parseError("[PgBouncer]\nlisten_port = 1\n");
        assertThat(e.line()).isEqualTo(1);
        assertThat(e.detail()).startsWith("invalid section \"PgBouncer\"");
        assertThat(parseError("[pgbouncer]\n[Databases]\n").detail()).startsWith("invalid section \"Databases\"");
    }

    @Test
    void sectionNamesAreNotTrimmed() {
        assertThat(parseError("[ pgbouncer ]\n").detail()).startsWith("invalid section \" pgbouncer \"");
    }

    @Test
    void databaseNamesMayUseDotsDashesAndDigits() throws ConfigException {
        UsherConfig c = parse(TestConfigs.main() + "[databases]\nmy-db.v2 = host=h\n_x9 = host=h\n");
        assertThat(c.databases()).containsKeys("my-db.v2", "_x9");
    }

    @Test
    void keysMayBeSingleQuotedVerbatim() throws ConfigException {
        UsherConfig c = parse(TestConfigs.main() + "[databases]\n'my db' = host=h\n'it\"s' = host=h\n");
        assertThat(c.databases()).containsKeys("my db", "it\"s");
    }

    @Test
    void keysMayBeDoubleQuotedWithDoubledQuotesAsTheDocsDescribe() throws ConfigException {
        UsherConfig c = parse(TestConfigs.main() + "[databases]\n\"Foo Bar\" = host=h\n\"say \"\"hi\"\"\" = host=h\n");
        assertThat(c.databases()).containsKeys("Foo Bar", "say \"hi\"");
        assertThat(c.databases().get("Foo Bar").dbname()).isEqualTo("Foo Bar");
    }

    @Test
    void entriesKeepTheirOrder() throws ConfigException {
        UsherConfig c = parse(TestConfigs.main() + "[databases]\nz = \na = \nm = \n");
        assertThat(c.databases().keySet()).containsExactly("z", "a", "m");
    }
}
