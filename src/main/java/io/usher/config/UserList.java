package io.usher.config;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The contents of {@code auth_file} (userlist.txt): user name to stored secret, exactly as written
 * (a plain password, {@code "md5..."} or {@code "SCRAM-SHA-256$..."}).
 *
 * <p>Format, as PgBouncer's loader reads it: one entry per line, {@code "user" "secret"}, both
 * double-quoted, {@code ""} inside quotes standing for one double quote; the rest of the line after
 * the second field is ignored; blank lines and lines starting with {@code ;} are skipped; a user
 * listed twice gets the later secret. Names are case-sensitive.
 *
 * <p>Where PgBouncer logs "broken auth file" and silently keeps only the users read so far (a line
 * not starting with a quote, e.g. a {@code #} comment; a missing second field), this is a
 * {@link ConfigException} naming the file and line. Also stricter than PgBouncer: only whitespace
 * may stand between the two fields (PgBouncer skips any text there), and a field may not span lines.
 */
public final class UserList {
    /** PgBouncer's MAX_USERNAME and MAX_PASSWORD (buffer sizes, including the terminating NUL). */
    static final int MAX_USERNAME = 128;
    static final int MAX_PASSWORD = 2048;

    private static final UserList EMPTY = new UserList(Map.of(), Map.of());

    private final Map<String, String> entries;
    /** Where each entry came from: "file:line" or "env VAR". */
    private final Map<String, String> origins;

    private UserList(Map<String, String> entries, Map<String, String> origins) {
        this.entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        this.origins = Map.copyOf(origins);
    }

    public static UserList empty() {
        return EMPTY;
    }

    /** Reads and parses an auth file; errors carry the file name and line. */
    public static UserList load(Path file) throws ConfigException {
        return parse(TextFiles.read(file, "auth_file"), file.toString());
    }

    /** Parses auth file contents; {@code fileNameForErrors} is used in error messages. */
    public static UserList parse(String text, String fileNameForErrors) throws ConfigException {
        Reader reader = new Reader(text, fileNameForErrors);
        Map<String, String> entries = reader.entries();
        return new UserList(entries, reader.origins);
    }

    /**
     * This list plus entries for users it does not have yet (users it has keep their secret:
     * {@code extra} is the lower layer). {@code origins} says where each extra entry came from.
     */
    public UserList withDefaults(Map<String, String> extra, Map<String, String> extraOrigins) {
        Map<String, String> merged = new LinkedHashMap<>(entries);
        Map<String, String> mergedOrigins = new LinkedHashMap<>(origins);
        for (Map.Entry<String, String> e : extra.entrySet()) {
            if (!merged.containsKey(e.getKey())) {
                merged.put(e.getKey(), e.getValue());
                mergedOrigins.put(e.getKey(), extraOrigins.getOrDefault(e.getKey(), "?"));
            }
        }
        return new UserList(merged, mergedOrigins);
    }

    /** Where a user's entry came from ("file:line", "env VAR"), if the list has the user. */
    public Optional<String> origin(String user) {
        return Optional.ofNullable(origins.get(user));
    }

    /** The stored secret of a user (case-sensitive name), as written in the file. */
    public Optional<String> secret(String user) {
        return Optional.ofNullable(entries.get(user));
    }

    /** All users in file order, mapped to their secrets. Unmodifiable. */
    public Map<String, String> entries() {
        return entries;
    }

    public int size() {
        return entries.size();
    }

    @Override
    public String toString() {
        // Never print secrets.
        return "UserList" + entries.keySet();
    }

    /** A cursor over the file text that knows its line number. */
    private static final class Reader {
        private final String text;
        private final String file;
        private int pos;
        private int line = 1;
        private final Map<String, String> origins = new LinkedHashMap<>();

        Reader(String text, String file) {
            this.text = text;
            this.file = file;
        }

        Map<String, String> entries() throws ConfigException {
            Map<String, String> entries = new LinkedHashMap<>();
            while (true) {
                skipWhitespaceAndNewlines();
                if (atEnd()) {
                    return entries;
                }
                if (peek() == ';') {
                    skipRestOfLine();
                    continue;
                }
                if (peek() != '"') {
                    throw error("broken auth file: expected a double-quoted user name");
                }
                String user = quotedField("user name", MAX_USERNAME, "username too long in auth file");
                skipBlanks();
                if (atEnd() || peek() == '\n' || peek() == '\r') {
                    throw error("broken auth file: no password for user \"" + user + "\"");
                }
                if (peek() != '"') {
                    throw error("broken auth file: expected a double-quoted password after the user name");
                }
                String secret = quotedField("password", MAX_PASSWORD, "password too long in auth file");
                entries.put(user, secret);
                origins.put(user, file + ":" + line);
                skipRestOfLine();
            }
        }

        /** Reads {@code "..."} with {@code ""} escapes, starting at the opening quote. */
        private String quotedField(String what, int maxLength, String tooLong) throws ConfigException {
            int startLine = line;
            int rawStart = ++pos;
            StringBuilder value = new StringBuilder();
            while (true) {
                if (atEnd() || peek() == '\n') {
                    throw new ConfigException(file, startLine, "broken auth file: unterminated " + what);
                }
                char c = text.charAt(pos);
                if (c == '"') {
                    if (pos + 1 < text.length() && text.charAt(pos + 1) == '"') {
                        value.append('"');
                        pos += 2;
                        continue;
                    }
                    // PgBouncer measures the field as written, escapes included.
                    if (pos - rawStart >= maxLength) {
                        throw new ConfigException(file, startLine, tooLong);
                    }
                    pos++;
                    return value.toString();
                }
                value.append(c);
                pos++;
            }
        }

        private void skipWhitespaceAndNewlines() {
            while (!atEnd() && Character.isWhitespace(peek())) {
                advance();
            }
        }

        private void skipBlanks() {
            while (!atEnd() && (peek() == ' ' || peek() == '\t')) {
                pos++;
            }
        }

        private void skipRestOfLine() {
            while (!atEnd() && peek() != '\n') {
                pos++;
            }
        }

        private void advance() {
            if (text.charAt(pos) == '\n') {
                line++;
            }
            pos++;
        }

        private boolean atEnd() {
            return pos >= text.length();
        }

        private char peek() {
            return text.charAt(pos);
        }

        private ConfigException error(String what) {
            return new ConfigException(file, line, what);
        }
    }
}
