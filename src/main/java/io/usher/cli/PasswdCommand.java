package io.usher.cli;

import io.usher.auth.Md5Password;
import io.usher.auth.ScramVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * {@code usher passwd [--md5] USER}: prints a userlist.txt line for USER with a SCRAM-SHA-256
 * verifier (the default) or an md5 hash of a password. The password is asked for twice on the
 * terminal, or read from the first line of standard input when that is not a terminal; never taken
 * from the command line, where other users could see it in the process list.
 */
@Command(name = "passwd", sortOptions = false,
        description = "Print a userlist.txt line for USER with a SCRAM-SHA-256 verifier (default) or an md5 hash. "
                + "The password is asked for on the terminal, or read from the first line of standard input.")
public final class PasswdCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "USER", description = "The user name (as clients log in with it).")
    String user;

    @Option(names = "--md5", description = "An md5 hash (\"md5\" + md5(password + user)) instead of a SCRAM verifier.")
    boolean md5;

    @Option(names = "--scram", description = "A SCRAM-SHA-256 verifier (the default).")
    boolean scram;

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "4096",
            description = "SCRAM iterations (default 4096, PostgreSQL's and PgBouncer's scram_iterations default).")
    int iterations;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Print this help and exit.")
    boolean help;

    /** Where the password comes from and the line goes; replaced in tests. */
    InputStream in = System.in;
    PrintStream out = System.out;
    PrintStream err = System.err;
    Console console = System.console();

    @Override
    public Integer call() throws IOException {
        if (md5 && scram) {
            err.println("usher passwd: --md5 and --scram exclude each other");
            return 1;
        }
        if (iterations < 1) {
            err.println("usher passwd: --iterations must be at least 1");
            return 1;
        }
        String password = readPassword();
        if (password == null) {
            return 1;
        }
        if (password.isEmpty()) {
            err.println("usher passwd: empty password (PgBouncer and PostgreSQL refuse empty passwords)");
            return 1;
        }
        String secret = md5 ? Md5Password.encrypt(user, password)
                : ScramVerifier.encode(ScramVerifier.generate(password, iterations, new SecureRandom()));
        out.println(quote(user) + " " + quote(secret));
        return 0;
    }

    private String readPassword() throws IOException {
        if (console != null) {
            char[] first = console.readPassword("Password for %s: ", user);
            char[] second = first == null ? null : console.readPassword("Again: ");
            try {
                if (first == null || second == null) {
                    err.println("usher passwd: no password given");
                    return null;
                }
                if (!Arrays.equals(first, second)) {
                    err.println("usher passwd: the passwords do not match");
                    return null;
                }
                return new String(first);
            } finally {
                if (first != null) {
                    Arrays.fill(first, '\0');
                }
                if (second != null) {
                    Arrays.fill(second, '\0');
                }
            }
        }
        String line = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).readLine();
        if (line == null) {
            err.println("usher passwd: no password on standard input");
            return null;
        }
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    /** userlist.txt quoting: in double quotes, a double quote doubled. */
    static String quote(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }
}
