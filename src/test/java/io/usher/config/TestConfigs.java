package io.usher.config;

import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Helpers shared by the config tests. */
final class TestConfigs {
    /** The file name parse() errors are reported against. */
    static final Path FILE = Path.of("test.ini");
    static final String FILE_NAME = FILE.toString();

    private TestConfigs() {
    }

    static UsherConfig parse(String text) throws ConfigException {
        return UsherConfig.parse(text, FILE);
    }

    /** A config with a [pgbouncer] section holding the given lines. */
    static String main(String... lines) {
        StringBuilder text = new StringBuilder("[pgbouncer]\n");
        for (String line : lines) {
            text.append(line).append('\n');
        }
        return text.toString();
    }

    /** Settings of a config with a [pgbouncer] section holding the given lines. */
    static Settings settings(String... lines) throws ConfigException {
        return parse(main(lines)).settings();
    }

    /** The error parsing the text must raise. */
    static ConfigException parseError(String text) {
        return assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> parse(text))
                .actual();
    }

    /** A path relative to the working directory, as PgBouncer resolves relative includes and files. */
    static String relativeToWorkingDir(Path file) {
        return Path.of("").toAbsolutePath().relativize(file.toAbsolutePath()).toString();
    }

    static String resource(String name) {
        try (InputStream in = TestConfigs.class.getResourceAsStream("/config/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
