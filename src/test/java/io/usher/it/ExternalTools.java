package io.usher.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Programs from the system (Debian packages) that some tests drive: found on PATH, run with a deadline. */
final class ExternalTools {

    static Optional<Path> find(String name) {
        return findAll(name).stream().findFirst();
    }

    private static List<Path> findAll(String name) {
        List<Path> found = new java.util.ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                found.add(p);
            }
        }
        return found;
    }

    /**
     * The first python3 on PATH (then /usr/bin/python3, where Debian's packages install) that can
     * import {@code module}: a pyenv or venv python earlier on PATH may lack the Debian module.
     */
    static Optional<Path> pythonWith(String module) {
        List<Path> candidates = findAll("python3");
        candidates.add(Path.of("/usr/bin/python3"));
        for (Path python : candidates) {
            try {
                if (Files.isExecutable(python)
                        && run(List.of(python.toString(), "-c", "import " + module), null, Map.of(), 30).exitCode == 0) {
                    return Optional.of(python);
                }
            } catch (IOException e) {
                // try the next one
            }
        }
        return Optional.empty();
    }

    record Result(int exitCode, String output) {}

    /** Runs a command to its end (at most {@code seconds}), stdin from {@code input} if given, output merged. */
    static Result run(List<String> command, String input, Map<String, String> env, int seconds) throws IOException {
        Path in = Files.createTempFile("usher-tool-", ".in");
        Path out = Files.createTempFile("usher-tool-", ".out");
        try {
            Files.writeString(in, input == null ? "" : input);
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(in.toFile()).redirectOutput(out.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out after " + seconds + " s: " + command);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            Files.deleteIfExists(in);
            Files.deleteIfExists(out);
        }
    }

    private ExternalTools() {}
}
