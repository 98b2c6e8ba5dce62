package io.usher.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The usher command (io.usher.cli.Main) as its own JVM, with an environment of the test's choosing
 * (the inherited one minus DATABASE_URL, DB_* and USHER_* variables, plus {@code env}). Output goes
 * to files in {@code dir}.
 */
final class UsherProcess implements AutoCloseable {
    final Process process;
    private final Path stdout;
    private final Path stderr;

    /** Exit code and output of a finished process. */
    record Run(int exitCode, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    private UsherProcess(Process process, Path stdout, Path stderr) {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    static UsherProcess start(Path dir, Map<String, String> env, String... args) throws IOException {
        return start(dir, env, List.of(), args);
    }

    /** As {@link #start(Path, Map, String...)}, with JVM options ({@code -Xmx1g}, {@code -D...}) before the class. */
    static UsherProcess start(Path dir, Map<String, String> env, List<String> jvmOptions, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.usher.cli.Main"));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "stdout-", ".txt");
        Path err = Files.createTempFile(dir, "stderr-", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("USHER_") && !k.equals("USHER_PG_BIN")
                || k.startsWith("DB_") || k.startsWith("DATABASE_URL"));
        pb.environment().putAll(env);
        return new UsherProcess(pb.start(), out, err);
    }

    static Run run(Path dir, Map<String, String> env, String... args) throws Exception {
        try (UsherProcess p = start(dir, env, args)) {
            return p.finish(Duration.ofSeconds(60));
        }
    }

    String stdoutSoFar() throws IOException {
        return Files.readString(stdout, StandardCharsets.UTF_8);
    }

    String stderrSoFar() throws IOException {
        return Files.readString(stderr, StandardCharsets.UTF_8);
    }

    Run finish(Duration timeout) throws Exception {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("usher did not exit within " + timeout + "\nstdout:\n" + stdoutSoFar()
                    + "\nstderr:\n" + stderrSoFar());
        }
        return new Run(process.exitValue(), stdoutSoFar(), stderrSoFar());
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }
}
