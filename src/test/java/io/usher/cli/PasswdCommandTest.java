package io.usher.cli;

import io.usher.auth.Md5Password;
import io.usher.auth.PasswordCheck;
import io.usher.auth.StoredSecret;
import io.usher.config.UserList;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** usher passwd: the userlist.txt line it prints works for the password read from standard input. */
class PasswdCommandTest {
    private record Result(int exit, String out, String err) {}

    private static Result run(String stdin, String... args) {
        CommandLine cl = new CommandLine(new Main());
        PasswdCommand cmd = cl.getSubcommands().get("passwd").getCommand();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        cmd.in = new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8));
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        cmd.console = null;
        cl.setErr(new java.io.PrintWriter(err, true));
        String[] all = new String[args.length + 1];
        all[0] = "passwd";
        System.arraycopy(args, 0, all, 1, args.length);
        int exit = cl.execute(all);
        return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static StoredSecret secretOf(String line, String user) throws Exception {
        UserList list = UserList.parse(line, "test");
        return StoredSecret.parse(list.secret(user).orElseThrow());
    }

    @Test
    void scramVerifierByDefault() throws Exception {
        Result r = run("s3cret pass\n", "alice");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("\"alice\" \"SCRAM-SHA-256$4096:").doesNotContain("s3cret");
        StoredSecret secret = secretOf(r.out(), "alice");
        assertThat(secret).isInstanceOf(StoredSecret.Scram.class);
        assertThat(PasswordCheck.matches(secret, "alice", "s3cret pass")).isTrue();
        assertThat(PasswordCheck.matches(secret, "alice", "s3cret")).isFalse();
        // a new salt each time
        assertThat(run("s3cret pass\n", "alice").out()).isNotEqualTo(r.out());
    }

    @Test
    void md5Hash() throws Exception {
        Result r = run("pw\r\n", "--md5", "bob");
        assertThat(r.exit()).isZero();
        assertThat(r.out().trim()).isEqualTo("\"bob\" \"" + Md5Password.encrypt("bob", "pw") + "\"");
    }

    @Test
    void quotesInTheUserNameAndIterations() throws Exception {
        Result r = run("pw\n", "--iterations", "1000", "o\"brien");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).startsWith("\"o\"\"brien\" \"SCRAM-SHA-256$1000:");
        assertThat(PasswordCheck.matches(secretOf(r.out(), "o\"brien"), "o\"brien", "pw")).isTrue();
    }

    @Test
    void refusals() {
        assertThat(run("", "carol").err()).contains("no password on standard input");
        assertThat(run("\n", "carol").err()).contains("empty password");
        assertThat(run("pw\n", "--md5", "--scram", "carol").exit()).isNotZero();
        // no way to give the password on the command line
        Result r = run("pw\n", "--password", "pw", "carol");
        assertThat(r.exit()).isNotZero();
    }
}
