package io.usher.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A small shell process that outlives the JVM: if the JVM dies without running its shutdown hooks (SIGKILL, a
 * crash), it stops the postmaster and deletes the cluster directory. It exits by itself once the directory is
 * gone, and {@link #cancel()} ends it after a normal close.
 */
final class OrphanGuard {
    private static final String SCRIPT = """
            jvm=$1; dir=$2; shift 2
            while kill -0 "$jvm" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
            if [ -d "$dir" ]; then "$@"; rm -rf "$dir"; fi
            """;

    private final Process process;

    private OrphanGuard(Process process) {
        this.process = process;
    }

    /** Watches this JVM; {@code stopCommand} is run (from {@code clusterDir}) if the JVM goes away first. */
    static OrphanGuard watch(Path clusterDir, List<String> stopCommand) {
        List<String> command = new ArrayList<>(List.of("sh", "-c", SCRIPT, "usher-pg-guard",
                Long.toString(ProcessHandle.current().pid()), clusterDir.toString()));
        command.addAll(stopCommand);
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(clusterDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        Processes.prepareEnvironment(builder.environment(), Map.of());
        try {
            return new OrphanGuard(builder.start());
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the orphan guard", e);
        }
    }

    void cancel() {
        process.destroy();
    }
}
