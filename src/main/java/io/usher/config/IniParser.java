package io.usher.config;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * The pgbouncer.ini syntax, as libusual's {@code parse_ini_file} reads it, reporting sections and
 * {@code key = value} lines to a {@link Handler}:
 *
 * <ul>
 *   <li>Leading whitespace and blank lines are skipped. A line whose first non-blank character is
 *       {@code ;} or {@code #} is a comment; elsewhere these characters are part of the value.</li>
 *   <li>{@code [name]} starts a section; the name is taken verbatim (not trimmed, case-sensitive).
 *       Text after the {@code ]} on the same line is read as the next statement.</li>
 *   <li>A key is a run of {@code A-Z a-z 0-9 _ . - *}, or any text in single quotes (newer
 *       libusual). Spaces or tabs may surround the {@code =}. The value is the rest of the line
 *       with trailing whitespace removed; it is not unquoted.</li>
 *   <li>{@code %include FILE} (a space or tab after {@code %include}) reads another file in place;
 *       the current section carries into and out of it. A relative FILE is resolved against the
 *       process working directory, not the including file's directory (PgBouncer documents and
 *       does this). Includes nest at most {@value #MAX_INCLUDE_DEPTH} deep.</li>
 * </ul>
 *
 * <p>Extensions over PgBouncer: a key may also be double-quoted with {@code ""} for a quote, which
 * PgBouncer's documentation promises for database names but its parser rejects; a UTF-8 byte order
 * mark at the start of a file is skipped.
 */
final class IniParser {
    static final int MAX_INCLUDE_DEPTH = 10;

    private static final String INCLUDE = "%include";

    /** Receives what the parser reads; may throw to stop loading. */
    interface Handler {
        void section(String name, String file, int line) throws ConfigException;

        void entry(String key, String value, String file, int line) throws ConfigException;
    }

    private final Path includeBase;
    private final Handler handler;

    /**
     * @param includeBase directory that relative {@code %include} paths are resolved against
     *                    (the working directory, for PgBouncer semantics)
     */
    IniParser(Path includeBase, Handler handler) {
        this.includeBase = includeBase;
        this.handler = handler;
    }

    /** Parses the text of the top-level file; {@code fileName} is used in errors. */
    void parse(String text, String fileName) throws ConfigException {
        new FileReader(text, fileName, 0).read();
    }

    private void include(String name, String fromFile, int fromLine, int depth) throws ConfigException {
        Path path;
        try {
            path = includeBase.resolve(name);
        } catch (InvalidPathException e) {
            throw new ConfigException(fromFile, fromLine, "invalid include file name \"" + name + "\"");
        }
        String text;
        try {
            text = TextFiles.read(path, "include file \"" + name + "\"");
        } catch (ConfigException e) {
            // Point at the %include line; the file that could not be read is named in the message.
            throw new ConfigException(fromFile, fromLine, e.detail(), e);
        }
        new FileReader(text, name, depth).read();
    }

    /** Reads one file; a cursor over its text that knows the current line. */
    private final class FileReader {
        private final String text;
        private final String file;
        private final int depth;
        private int pos;
        private int line = 1;

        FileReader(String text, String file, int depth) {
            this.text = text;
            this.file = file;
            this.depth = depth;
            if (text.startsWith("\uFEFF")) {
                pos = 1;
            }
        }

        void read() throws ConfigException {
            while (true) {
                skipWhitespace();
                if (atEnd()) {
                    return;
                }
                if (isIncludeDirective()) {
                    readInclude();
                } else if (peek() == '#' || peek() == ';') {
                    skipToEndOfLine();
                } else if (peek() == '[') {
                    readSection();
                } else {
                    readEntry();
                }
            }
        }

        private boolean isIncludeDirective() {
            int after = pos + INCLUDE.length();
            return text.startsWith(INCLUDE, pos) && after < text.length() && isBlank(text.charAt(after));
        }

        private void readInclude() throws ConfigException {
            int directiveLine = line;
            if (depth >= MAX_INCLUDE_DEPTH) {
                throw new ConfigException(file, directiveLine,
                        "include nesting level too deep (more than " + MAX_INCLUDE_DEPTH + ")");
            }
            pos += INCLUDE.length();
            skipBlanks();
            String name = restOfLineTrimmed();
            include(name, file, directiveLine, depth + 1);
        }

        private void readSection() throws ConfigException {
            int sectionLine = line;
            int start = ++pos;
            while (!atEnd() && peek() != ']' && peek() != '\n') {
                pos++;
            }
            if (atEnd() || peek() != ']') {
                throw syntaxError(sectionLine, "missing ']' after section name");
            }
            String name = text.substring(start, pos);
            pos++;
            handler.section(name, file, sectionLine);
        }

        private void readEntry() throws ConfigException {
            int entryLine = line;
            String key = readKey();
            skipBlanks();
            if (atEnd() || peek() != '=') {
                throw syntaxError(entryLine, key.isEmpty()
                        ? "expected a key, a [section] or a comment"
                        : "expected '=' after \"" + key + "\"");
            }
            pos++;
            if (key.isEmpty()) {
                throw syntaxError(entryLine, "missing key before '='");
            }
            skipBlanks();
            handler.entry(key, restOfLineTrimmed(), file, entryLine);
        }

        private String readKey() throws ConfigException {
            char first = peek();
            if (first == '\'' || first == '"') {
                return readQuotedKey(first);
            }
            int start = pos;
            while (!atEnd() && isKeyChar(peek())) {
                pos++;
            }
            return text.substring(start, pos);
        }

        /** 'key' as verbatim text (libusual), or "key" with "" for a quote (the documented form). */
        private String readQuotedKey(char quote) throws ConfigException {
            int keyLine = line;
            StringBuilder key = new StringBuilder();
            pos++;
            while (true) {
                if (atEnd() || peek() == '\n') {
                    throw syntaxError(keyLine, "unterminated quoted key");
                }
                char c = text.charAt(pos++);
                if (c != quote) {
                    key.append(c);
                } else if (quote == '"' && !atEnd() && peek() == '"') {
                    key.append('"');
                    pos++;
                } else {
                    break;
                }
            }
            if (key.length() == 0) {
                throw syntaxError(keyLine, "empty quoted key");
            }
            return key.toString();
        }

        private String restOfLineTrimmed() {
            int start = pos;
            skipToEndOfLine();
            int end = pos;
            while (end > start && isSpace(text.charAt(end - 1))) {
                end--;
            }
            return text.substring(start, end);
        }

        private void skipWhitespace() {
            while (!atEnd() && isSpace(peek())) {
                if (peek() == '\n') {
                    line++;
                }
                pos++;
            }
        }

        private void skipBlanks() {
            while (!atEnd() && isBlank(peek())) {
                pos++;
            }
        }

        private void skipToEndOfLine() {
            while (!atEnd() && peek() != '\n') {
                pos++;
            }
        }

        private boolean atEnd() {
            return pos >= text.length();
        }

        private char peek() {
            return text.charAt(pos);
        }

        private ConfigException syntaxError(int atLine, String what) {
            return new ConfigException(file, atLine, "syntax error in configuration: " + what);
        }
    }

    /** C isspace() in the C locale. */
    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0x0B;
    }

    /** C isblank(). */
    private static boolean isBlank(char c) {
        return c == ' ' || c == '\t';
    }

    /** libusual's key characters: isalnum() in the C locale, plus {@code _.-*}. */
    private static boolean isKeyChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '_' || c == '.' || c == '-' || c == '*';
    }
}
