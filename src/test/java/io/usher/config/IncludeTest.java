package io.usher.config;

import static io.usher.config.TestConfigs.relativeToWorkingDir;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code %include}, which PgBouncer resolves against the working directory (verified on PgBouncer 1.18). */
class IncludeTest {
    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        return file;
    }

    @Test
    void includesAnAbsolutePath() throws Exception {
        Path inc = write("inc.ini", "max_client_conn = 321\n");
        Path main = write("main.ini", "[pgbouncer]\n%include " + inc + "\nlisten_port = 7100\n");
        Settings s = UsherConfig.load(main).settings();
        assertThat(s.getInt("max_client_conn")).isEqualTo(321);
        assertThat(s.getInt("listen_port")).isEqualTo(7100);
    }

    @Test
    void resolvesARelativePathAgainstTheWorkingDirectory() throws Exception {
        Path inc = write("sub/inc.ini", "max_client_conn = 322\n");
        Path main = write("main.ini", "[pgbouncer]\n%include " + relativeToWorkingDir(inc) + "\n");
        assertThat(UsherConfig.load(main).settings().getInt("max_client_conn")).isEqualTo(322);
    }

    @Test
    void doesNotResolveARelativePathAgainstTheIncludingFilesDirectory() throws Exception {
        write("conf/inc-next-to-main.ini", "max_client_conn = 323\n");
        Path main = write("conf/main.ini", "[pgbouncer]\n\n%include inc-next-to-main.ini\n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(main)).actual();
        assertThat(e.file()).isEqualTo(main.toString());
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.detail()).isEqualTo("could not open include file \"inc-next-to-main.ini\": no such file");
    }

    @Test
    void aMissingIncludeIsReportedAtTheIncludeLine() throws Exception {
        Path main = write("main.ini", "[pgbouncer]\nlisten_port = 1\n  %include\t" + dir.resolve("nope.ini") + "  \n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(main)).actual();
        assertThat(e.file()).isEqualTo(main.toString());
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.detail()).isEqualTo("could not open include file \"" + dir.resolve("nope.ini") + "\": no such file");
    }

    @Test
    void includesNestAndTheSectionCarriesIntoAndOutOfThem() throws Exception {
        Path c = write("c.ini", "dbc = host=hc\n[users]\nbob = pool_size=4\n");
        Path b = write("b.ini", "dbb = host=hb\n%include " + c + "\n");
        Path main = write("main.ini", """
                [pgbouncer]
                listen_port = 7101
                [databases]
                dba = host=ha
                %include B
                carol = pool_mode=session
                """.replace("B", b.toString()));
        UsherConfig config = UsherConfig.load(main);
        assertThat(config.databases().keySet()).containsExactly("dba", "dbb", "dbc");
        // c.ini switched to [users]; that holds after it, back in main.ini
        assertThat(config.users().keySet()).containsExactly("bob", "carol");
    }

    @Test
    void anIncludedPgbouncerHeaderResetsEarlierSettings() throws Exception {
        Path inc = write("inc.ini", "[pgbouncer]\nlisten_port = 7102\n");
        Path main = write("main.ini", "[pgbouncer]\nmax_client_conn = 5\n%include " + inc + "\n");
        Settings s = UsherConfig.load(main).settings();
        assertThat(s.getInt("listen_port")).isEqualTo(7102);
        assertThat(s.getInt("max_client_conn")).isEqualTo(100);
    }

    @Test
    void errorsInAnIncludedFileNameThatFileAsWrittenInTheDirective() throws Exception {
        Path inc = write("inc.ini", "; comment\nlisten_port = many\n");
        Path main = write("main.ini", "[pgbouncer]\n%include " + inc + "\n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(main)).actual();
        assertThat(e.file()).isEqualTo(inc.toString());
        assertThat(e.line()).isEqualTo(2);
        assertThat(e.detail()).startsWith("invalid value \"many\" for parameter listen_port");
    }

    @Test
    void includesMayNestTenDeep() throws Exception {
        Path next = write("f10.ini", "listen_port = 7110\n");
        for (int i = 9; i >= 1; i--) {
            next = write("f" + i + ".ini", "%include " + next + "\n");
        }
        Path main = write("main.ini", "[pgbouncer]\n%include " + next + "\n");
        assertThat(UsherConfig.load(main).settings().getInt("listen_port")).isEqualTo(7110);
    }

    @Test
    void deeperNestingIsAnError() throws Exception {
        Path last = write("f11.ini", "listen_port = 7111\n");
        Path next = last;
        for (int i = 10; i >= 1; i--) {
            next = write("f" + i + ".ini", "%include " + next + "\n");
        }
        Path main = write("main.ini", "[pgbouncer]\n%include " + next + "\n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(main)).actual();
        assertThat(e.file()).isEqualTo(dir.resolve("f10.ini").toString());
        assertThat(e.line()).isEqualTo(1);
        assertThat(e.detail()).startsWith("include nesting level too deep");
    }

    @Test
    void aFileIncludingItselfStopsAtTheDepthLimit() throws Exception {
        Path self = dir.resolve("self.ini");
        write("self.ini", "[pgbouncer]\n%include " + self + "\n");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(self)).actual();
        assertThat(e.detail()).startsWith("include nesting level too deep");
        assertThat(e.line()).isEqualTo(2);
    }

    @Test
    void parseReadsIncludesFromDiskToo() throws Exception {
        Path inc = write("inc.ini", "[databases]\nfromdisk = host=h\n");
        UsherConfig config = UsherConfig.parse("[pgbouncer]\n%include " + inc + "\n", Path.of("virtual.ini"));
        assertThat(config.databases()).containsKey("fromdisk");
        assertThat(config.file()).isEqualTo(Path.of("virtual.ini"));
    }

    @Test
    void loadingAMissingFileIsAnErrorWithoutLine() {
        Path missing = dir.resolve("missing.ini");
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(missing)).actual();
        assertThat(e.file()).isEqualTo(missing.toString());
        assertThat(e.line()).isZero();
        assertThat(e.detail()).isEqualTo("could not open config file: no such file");
    }

    @Test
    void aFileThatIsNotUtf8IsAnError() throws Exception {
        Path main = dir.resolve("latin1.ini");
        Files.write(main, new byte[] {'[', 'p', 'g', 'b', 'o', 'u', 'n', 'c', 'e', 'r', ']', '\n', (byte) 0xE9, '\n'});
        ConfigException e = assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.load(main)).actual();
        assertThat(e.detail()).isEqualTo("config file is not valid UTF-8");
    }
}
