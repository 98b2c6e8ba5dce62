package io.usher.config;

import static io.usher.config.TestConfigs.parseError;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every way a pgbouncer.ini can be wrong, with where it is reported and what is said. PgBouncer
 * refuses to start (or to reload) on each of these; so does Usher.
 */
class ErrorCasesTest {

    @ParameterizedTest(name = "[{index}] {3}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            # text (\\n = newline)                                     | line | message starts with                                                    | case
            [pgbouncer]\\nlisten_port                                   | 2    | syntax error in configuration: expected '=' after "listen_port"        | key without '='
            [pgbouncer]\\nlisten_port 6432                              | 2    | syntax error in configuration: expected '=' after "listen_port"        | key and value without '='
            [pgbouncer]\\n= 5                                           | 2    | syntax error in configuration: missing key before '='                  | '=' without key
            [pgbouncer]\\n%foo = 1                                      | 2    | syntax error in configuration: expected a key, a [section] or a comment | stray character
            [pgbouncer]\\nlisten port = 1                               | 2    | syntax error in configuration: expected '=' after "listen"             | space in key
            [pgbouncer\\nlisten_port = 1                                | 1    | syntax error in configuration: missing ']' after section name          | missing ]
            [pgbouncer]\\n[databases]\\n'my db = host=x                 | 3    | syntax error in configuration: unterminated quoted key                 | unterminated quoted key
            [pgbouncer]\\n[databases]\\n'' = host=x                     | 3    | syntax error in configuration: empty quoted key                        | empty quoted key
            [pgbouncer]\\n%includex.ini                                 | 2    | syntax error in configuration: expected a key, a [section] or a comment | %include without blank
            listen_port = 1\\n[pgbouncer]                               | 1    | value without section: listen_port                                     | key before any section
            [pgbouncer]\\n[foo]\\nx = 1                                 | 2    | invalid section "foo"                                                  | unknown section
            [pgbouncer]\\nbogus_key = 1                                 | 2    | unknown parameter: pgbouncer/bogus_key                                 | unknown key
            [pgbouncer]\\nListen_Port = 1                               | 2    | unknown parameter: pgbouncer/Listen_Port                               | key in wrong case
            [pgbouncer]\\npool_idle_timeout = 5                         | 2    | unknown parameter: pgbouncer/pool_idle_timeout                         | key of a later PgBouncer
            [pgbouncer]\\n\\nmax_client_conn = 10x                      | 3    | invalid value "10x" for parameter max_client_conn: expected an integer  | int with junk
            [pgbouncer]\\nmax_client_conn =                             | 2    | invalid value "" for parameter max_client_conn: expected an integer     | empty int
            [pgbouncer]\\nmax_client_conn = 1.5                         | 2    | invalid value "1.5" for parameter max_client_conn: expected an integer  | fractional int
            [pgbouncer]\\nmax_client_conn = 08                          | 2    | invalid value "08" for parameter max_client_conn: expected an integer   | 8 is not octal
            [pgbouncer]\\nmax_client_conn = 99999999999                 | 2    | invalid value "99999999999" for parameter max_client_conn              | int out of range
            [pgbouncer]\\nquery_wait_notify = 2.5                       | 2    | invalid value "2.5" for parameter query_wait_notify: expected an integer | integer seconds
            [pgbouncer]\\nmax_packet_size = -1                          | 2    | invalid value "-1" for parameter max_packet_size                       | negative uint
            [pgbouncer]\\nmax_packet_size = 4294967296                  | 2    | invalid value "4294967296" for parameter max_packet_size               | uint out of range
            [pgbouncer]\\nlog_connections = yes                         | 2    | invalid value "yes" for parameter log_connections: expected an integer  | yes is not a PgBouncer boolean
            [pgbouncer]\\nso_reuseport = on                             | 2    | invalid value "on" for parameter so_reuseport: expected an integer      | on is not a PgBouncer boolean
            [pgbouncer]\\nserver_lifetime = 10s                         | 2    | invalid value "10s" for parameter server_lifetime: expected a non-negative number of seconds | time with unit
            [pgbouncer]\\nserver_lifetime = -1                          | 2    | invalid value "-1" for parameter server_lifetime                       | negative time
            [pgbouncer]\\nserver_lifetime =                             | 2    | invalid value "" for parameter server_lifetime                         | empty time
            [pgbouncer]\\npool_mode = transactional                     | 2    | invalid value "transactional" for parameter pool_mode: expected one of session, transaction, statement | bad pool mode
            [pgbouncer]\\nauth_type = password                          | 2    | invalid value "password" for parameter auth_type                       | bad auth type
            [pgbouncer]\\nclient_tls_sslmode = required                 | 2    | invalid value "required" for parameter client_tls_sslmode              | bad sslmode
            [pgbouncer]\\n[databases]\\npgbouncer = host=x              | 3    | database name "pgbouncer" is reserved                                  | reserved database name
            [pgbouncer]\\n[databases]\\ndb = host=x bogus=1             | 3    | unrecognized connection parameter: bogus                               | unknown connection parameter
            [pgbouncer]\\n[databases]\\ndb = Host=x                     | 3    | unrecognized connection parameter: Host                                | connection parameter in wrong case
            [pgbouncer]\\n[databases]\\ndb = host=                      | 3    | syntax error in connection string: empty value for host                | empty connection value
            [pgbouncer]\\n[databases]\\ndb = connect_query='select 1    | 3    | syntax error in connection string: unterminated quoted value           | unterminated connection quote
            [pgbouncer]\\n[databases]\\ndb = port=abc                   | 3    | invalid port: abc                                                      | bad port
            [pgbouncer]\\n[databases]\\ndb = host=a,b port=5432,5433   | 3    | invalid port: 5432,5433                                                | port list (PgBouncer has one port per entry)
            [pgbouncer]\\n[databases]\\ndb = pool_mode=bogus            | 3    | invalid pool mode: bogus                                               | bad database pool mode
            [pgbouncer]\\n[databases]\\n* = host=x bogus=1              | 3    | unrecognized connection parameter: bogus                               | bad fallback entry
            [pgbouncer]\\n[users]\\nbob = bogus=1                       | 3    | unrecognized user parameter: bogus                                     | unknown user parameter
            [pgbouncer]\\n[users]\\nbob = pool_mode=x                   | 3    | invalid pool mode: x                                                   | bad user pool mode
            [pgbouncer]\\n[peers]\\n1 = port=7000                       | 3    | host was not provided for peer 1                                       | peer without host
            [pgbouncer]\\n[peers]\\nabc = host=x                        | 3    | invalid peer id "abc"                                                  | peer id not a number
            [pgbouncer]\\n[peers]\\n70000 = host=x                      | 3    | invalid peer id "70000"                                                | peer id too big
            [pgbouncer]\\n[peers]\\n1 = host=x user=y                   | 3    | unrecognized connection parameter: user                                | unknown peer parameter
            """)
    void isReportedWithFileLineAndMessage(String text, int line, String message, String what) {
        ConfigException e = parseError(text.replace("\\n", "\n"));
        assertThat(e.file()).isEqualTo(TestConfigs.FILE_NAME);
        assertThat(e.line()).isEqualTo(line);
        assertThat(e.detail()).startsWith(message);
        assertThat(e.getMessage()).isEqualTo(TestConfigs.FILE_NAME + ":" + line + ": " + e.detail());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', textBlock = """
            no [pgbouncer] section   | [databases]\\ndb = host=x
            empty file               | ''
            only comments            | ; nothing\\n# here
            """)
    void aMissingMainSectionIsReportedWithoutLine(String what, String text) {
        ConfigException e = parseError(text.replace("\\n", "\n"));
        assertThat(e.file()).isEqualTo(TestConfigs.FILE_NAME);
        assertThat(e.line()).isZero();
        assertThat(e.detail()).isEqualTo("main section [pgbouncer] missing from config file");
    }
}
