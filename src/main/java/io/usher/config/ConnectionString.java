package io.usher.config;

import java.util.LinkedHashMap;

/**
 * The libpq-like {@code key=value key2='quoted value'} strings of the {@code [databases]},
 * {@code [users]} and {@code [peers]} sections, parsed as PgBouncer's loader does:
 *
 * <ul>
 *   <li>pairs are separated by whitespace; whitespace around {@code =} is allowed;</li>
 *   <li>a value is either a run of non-whitespace characters or single-quoted, with {@code ''}
 *       standing for one quote inside the quotes;</li>
 *   <li>empty values ({@code host=} or {@code host=''}) are errors, as in PgBouncer;</li>
 *   <li>keys are returned as written: PgBouncer matches them case-sensitively;</li>
 *   <li>a key given twice keeps its first position and its last value.</li>
 * </ul>
 *
 * <p>Two deliberate differences: PgBouncer separates pairs by spaces only (a tab ends up inside a
 * value), here tabs separate too; and PgBouncer silently drops the character right after a closing
 * quote, here anything but whitespace there is a syntax error.
 */
public final class ConnectionString {
    private final String text;
    private final String file;
    private final int line;
    private int pos;

    private ConnectionString(String text, String file, int line) {
        this.text = text;
        this.file = file;
        this.line = line;
    }

    /**
     * Parses a connection string.
     *
     * @param s    the value part of the ini line
     * @param file file name for errors
     * @param line line number for errors
     * @return the pairs in order of appearance
     * @throws ConfigException "syntax error in connection string: ..." with the given file and line
     */
    public static LinkedHashMap<String, String> parse(String s, String file, int line) throws ConfigException {
        return new ConnectionString(s == null ? "" : s, file, line).pairs();
    }

    private LinkedHashMap<String, String> pairs() throws ConfigException {
        LinkedHashMap<String, String> result = new LinkedHashMap<>();
        skipWhitespace();
        while (pos < text.length()) {
            String key = key();
            skipWhitespace();
            String value = value(key);
            result.put(key, value);
            skipWhitespace();
        }
        return result;
    }

    private String key() throws ConfigException {
        int start = pos;
        while (pos < text.length() && text.charAt(pos) != '=' && !isWhitespace(text.charAt(pos))) {
            pos++;
        }
        String key = text.substring(start, pos);
        skipWhitespace();
        if (key.isEmpty()) {
            throw error("missing parameter name before '='");
        }
        if (pos >= text.length() || text.charAt(pos) != '=') {
            throw error("expected '=' after \"" + key + "\"");
        }
        pos++;
        return key;
    }

    private String value(String key) throws ConfigException {
        String value;
        if (pos < text.length() && text.charAt(pos) == '\'') {
            value = quotedValue(key);
            if (pos < text.length() && !isWhitespace(text.charAt(pos))) {
                throw error("unexpected text after the closing quote of " + key);
            }
        } else {
            int start = pos;
            while (pos < text.length() && !isWhitespace(text.charAt(pos))) {
                pos++;
            }
            value = text.substring(start, pos);
        }
        if (value.isEmpty()) {
            throw error("empty value for " + key);
        }
        return value;
    }

    private String quotedValue(String key) throws ConfigException {
        StringBuilder value = new StringBuilder();
        pos++; // opening quote
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated quoted value for " + key);
            }
            char c = text.charAt(pos);
            if (c == '\'') {
                if (pos + 1 < text.length() && text.charAt(pos + 1) == '\'') {
                    value.append('\'');
                    pos += 2;
                    continue;
                }
                pos++; // closing quote
                return value.toString();
            }
            value.append(c);
            pos++;
        }
    }

    private void skipWhitespace() {
        while (pos < text.length() && isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }

    private static boolean isWhitespace(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0x0B;
    }

    private ConfigException error(String what) {
        return new ConfigException(file, line, "syntax error in connection string: " + what);
    }
}
