package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.entry;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConnectionStringTest {

    private static Map<String, String> parse(String s) throws ConfigException {
        return ConnectionString.parse(s, "pgb.ini", 7);
    }

    @Test
    void readsPairsInOrder() throws ConfigException {
        assertThat(parse("host=localhost port=5433 dbname=app"))
                .containsExactly(entry("host", "localhost"), entry("port", "5433"), entry("dbname", "app"));
    }

    @Test
    void allowsWhitespaceAroundEqualsAndBetweenPairs() throws ConfigException {
        assertThat(parse("  host = localhost \t port=  5433   "))
                .containsExactly(entry("host", "localhost"), entry("port", "5433"));
    }

    @Test
    void emptyOrBlankGivesNoPairs() throws ConfigException {
        assertThat(parse("")).isEmpty();
        assertThat(parse("   ")).isEmpty();
        assertThat(ConnectionString.parse(null, "f", 1)).isEmpty();
    }

    @Test
    void singleQuotesHoldSpacesAndDoubledQuotes() throws ConfigException {
        assertThat(parse("connect_query='SELECT ''a b'', 1' password='p w=\"x\"' user=u"))
                .containsExactly(entry("connect_query", "SELECT 'a b', 1"), entry("password", "p w=\"x\""),
                        entry("user", "u"));
    }

    @Test
    void aQuotedValueMayBeJustAQuote() throws ConfigException {
        assertThat(parse("password=''''")).containsExactly(entry("password", "'"));
    }

    @Test
    void unquotedValuesMayContainQuotesAndEquals() throws ConfigException {
        assertThat(parse("password=a'b=c")).containsExactly(entry("password", "a'b=c"));
    }

    @Test
    void keysKeepTheirCase() throws ConfigException {
        assertThat(parse("Host=x")).containsOnlyKeys("Host");
    }

    @Test
    void aRepeatedKeyKeepsItsPlaceAndTakesTheLastValue() throws ConfigException {
        assertThat(parse("host=a port=1 host=b"))
                .containsExactly(entry("host", "b"), entry("port", "1"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            host=                        | empty value for host
            host=''                      | empty value for host
            host=a port=                 | empty value for port
            connect_query='select 1      | unterminated quoted value for connect_query
            =x                           | missing parameter name before '='
            host                         | expected '=' after "host"
            host x=1                     | expected '=' after "host"
            a='x'b=1                     | unexpected text after the closing quote of a
            """)
    void malformedStringsAreSyntaxErrorsWithFileAndLine(String text, String what) {
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> parse(text)).actual();
        assertThat(e.file()).isEqualTo("pgb.ini");
        assertThat(e.line()).isEqualTo(7);
        assertThat(e.detail()).isEqualTo("syntax error in connection string: " + what);
    }
}
