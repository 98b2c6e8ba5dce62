package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.usher.testing.FuzzBytes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * pgbouncer.ini (with an included file and an auth_file), [databases]-style connection strings and
 * userlist.txt from the fuzzer: each loads or throws ConfigException naming a file and, where the error
 * is about a line, a line that exists; nothing else. Connection strings and user lists also round-trip:
 * what was read, written back in canonical form, reads the same.
 *
 * <p>The config target keeps to its temp directory: every {@code %include} is pointed at the include
 * file written from the input (or at a missing file), every line mentioning auth_file at the auth file
 * written from the input, so that no input reads /dev/zero or a FIFO.
 */
class ConfigFuzzTest {

    private static final Path DIR;
    private static final Path MAIN;
    private static final Path INCLUDE;
    private static final Path USERS;

    static {
        try {
            DIR = Files.createTempDirectory("usher-config-fuzz");
            MAIN = DIR.resolve("main.ini");
            INCLUDE = DIR.resolve("inc.ini");
            USERS = DIR.resolve("users.txt");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Path p : new Path[] {MAIN, INCLUDE, USERS, DIR}) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }));
    }

    private static final Pattern INCLUDE_LINE = Pattern.compile("%include[^\n]*");
    private static final Pattern AUTH_FILE_LINE = Pattern.compile("(?imd)^[^\n]*auth_file[^\n]*$");

    /**
     * Input: the main file, the included file and the auth file, separated by NUL bytes (raw bytes, so
     * not necessarily UTF-8). An include line that mentions "missing" names a file that does not exist.
     */
    @FuzzTest(maxDuration = "2m")
    void iniConfig(byte[] input) throws IOException {
        byte[][] parts = splitAtNul(input, 3);
        byte[] main = confine(parts[0]);
        byte[] include = confine(parts[1]);
        Files.write(MAIN, main);
        Files.write(INCLUDE, include);
        Files.write(USERS, parts[2]);
        UsherConfig config;
        try {
            config = UsherConfig.load(MAIN);
        } catch (ConfigException e) {
            assertThat(e.file()).isNotEmpty();
            assertThat(e.getMessage()).startsWith(e.file() + ":");
            if (e.line() > 0) {
                byte[] file = e.file().equals(MAIN.toString()) ? main
                        : e.file().equals(INCLUDE.toString()) ? include
                        : e.file().equals(USERS.toString()) ? parts[2] : null;
                assertThat(file).as("error in a file nobody wrote: %s", e.getMessage()).isNotNull();
                assertThat(e.line()).as(e.getMessage()).isLessThanOrEqualTo(lines(file));
            }
            return;
        }
        // a config that loads answers every question about it
        assertThat(config.settings()).isNotNull();
        config.databases().forEach((name, db) -> assertThat(config.database(name)).isPresent());
        config.database("some_db_nobody_named");
        assertThat(config.notImplementedKeys()).isNotNull();
        assertThat(config.userList()).isNotNull();
        assertThat(config.toString()).startsWith("UsherConfig[");
    }

    /** Input: the value of a [databases] line (UTF-8). */
    @FuzzTest(maxDuration = "2m")
    void connectionString(byte[] input) throws ConfigException {
        String text = new String(input, StandardCharsets.UTF_8);
        LinkedHashMap<String, String> pairs;
        try {
            pairs = ConnectionString.parse(text, "fuzz.ini", 7);
        } catch (ConfigException e) {
            assertThat(e.file()).isEqualTo("fuzz.ini");
            assertThat(e.line()).isEqualTo(7);
            assertThat(e.detail()).startsWith("syntax error in connection string: ");
            return;
        }
        StringBuilder canonical = new StringBuilder();
        pairs.forEach((k, v) -> {
            assertThat(k).isNotEmpty().doesNotContain("=").doesNotContainPattern("[ \t\r\n\f\u000b]");
            assertThat(v).isNotEmpty();
            canonical.append(k).append("='").append(v.replace("'", "''")).append("' ");
        });
        assertThat(ConnectionString.parse(canonical.toString(), "fuzz.ini", 7)).containsExactlyEntriesOf(pairs);
    }

    /** Input: userlist.txt (UTF-8). */
    @FuzzTest(maxDuration = "2m")
    void userList(byte[] input) throws ConfigException {
        String text = new String(input, StandardCharsets.UTF_8);
        UserList list;
        try {
            list = UserList.parse(text, "users.txt");
        } catch (ConfigException e) {
            assertThat(e.file()).isEqualTo("users.txt");
            assertThat(e.line()).isBetween(1, (int) text.chars().filter(c -> c == '\n').count() + 1);
            return;
        }
        StringBuilder canonical = new StringBuilder();
        for (Map.Entry<String, String> entry : list.entries().entrySet()) {
            assertThat(entry.getKey()).doesNotContain("\n");
            assertThat(entry.getValue()).doesNotContain("\n");
            canonical.append('"').append(entry.getKey().replace("\"", "\"\"")).append("\" \"")
                    .append(entry.getValue().replace("\"", "\"\"")).append("\"\n");
            assertThat(list.secret(entry.getKey())).contains(entry.getValue());
        }
        assertThat(UserList.parse(canonical.toString(), "users.txt").entries())
                .containsExactlyEntriesOf(list.entries());
        assertThat(list.toString()).isEqualTo("UserList" + list.entries().keySet());
    }

    /** Points includes and auth_file at the files of the temp directory (see the class comment). */
    private static byte[] confine(byte[] text) {
        String s = new String(text, StandardCharsets.ISO_8859_1); // byte-preserving
        Matcher m = INCLUDE_LINE.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            Path target = m.group().contains("missing") ? DIR.resolve("missing.ini") : INCLUDE;
            m.appendReplacement(out, Matcher.quoteReplacement("%include " + target));
        }
        m.appendTail(out);
        Matcher a = AUTH_FILE_LINE.matcher(out.toString());
        StringBuilder out2 = new StringBuilder();
        while (a.find()) {
            Path target = a.group().contains("missing") ? DIR.resolve("missing.txt") : USERS;
            a.appendReplacement(out2, Matcher.quoteReplacement("auth_file = " + target));
        }
        a.appendTail(out2);
        return out2.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private static int lines(byte[] file) {
        int n = 1;
        for (byte b : file) {
            if (b == '\n') {
                n++;
            }
        }
        return n;
    }

    private static byte[][] splitAtNul(byte[] input, int parts) {
        byte[][] out = new byte[parts][];
        int start = 0;
        for (int i = 0; i < parts; i++) {
            int end = start;
            while (end < input.length && (input[end] != 0 || i == parts - 1)) {
                end++;
            }
            out[i] = java.util.Arrays.copyOfRange(input, Math.min(start, input.length), Math.min(end, input.length));
            start = end + 1;
        }
        return out;
    }
}
