package io.usher.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion with a deadline, capturing its output. */
final class Processes {

    /**
     * Environment of every child: the JVM's, minus inherited libpq/PostgreSQL variables (a PGHOST or PGDATA on the
     * developer's machine must not redirect the tests), with C messages so tests can match on them, then
     * {@code overrides}.
     */
    static void prepareEnvironment(Map<String, String> env, Map<String, String> overrides) {
        env.keySet().removeIf(name -> name.startsWith("PG"));
        env.put("LC_ALL", "C");
        env.put("LANG", "C");
        env.putAll(overrides);
    }

    static ProcessResult run(List<String> command, Path workDir, Map<String, String> env, Duration timeout) {
        Path stdout = null;
        Path stderr = null;
        try {
            // Output goes to files rather than pipes: no reader threads, and a daemon started by the command
            // (pg_ctl start) cannot keep a pipe open and block us.
            stdout = Files.createTempFile("usher-proc-", ".out");
            stderr = Files.createTempFile("usher-proc-", ".err");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(stdout.toFile())
                    .redirectError(stderr.toFile());
            prepareEnvironment(builder.environment(), env);
            Process process = builder.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new IllegalStateException("timed out after " + timeout + ": " + command
                        + "\nstdout:\n" + read(stdout) + "\nstderr:\n" + read(stderr));
            }
            return new ProcessResult(process.exitValue(), read(stdout), read(stderr));
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + command, e);
        } finally {
            deleteQuietly(stdout);
            deleteQuietly(stderr);
        }
    }

    private static String read(Path file) throws IOException {
        // Lenient decoding: a stray non-UTF-8 byte must not hide the rest of the output.
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    }

    private static void deleteQuietly(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover temp file is harmless
        }
    }

    private Processes() {}
}
