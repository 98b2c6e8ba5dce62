package io.usher.testing;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The OS account that runs PostgreSQL server commands (initdb, pg_ctl, postgres). PostgreSQL refuses to run as
 * root, so when the JVM is root (CI) the commands run as an unprivileged account through {@code runuser}, and the
 * cluster directory is handed to that account; otherwise they run directly as the JVM's user.
 */
final class ServerAccount {
    /** System property naming the account to use when root (default: postgres if it exists, else nobody). */
    static final String USER_PROPERTY = "usher.pg.user";

    private static final Duration CHOWN_TIMEOUT = Duration.ofSeconds(60);

    /** Empty when commands run as the JVM's own user. */
    private final Optional<String> runAs;

    private ServerAccount(Optional<String> runAs) {
        this.runAs = runAs;
    }

    static ServerAccount detect() {
        if (currentUid() != 0) {
            return new ServerAccount(Optional.empty());
        }
        String configured = System.getProperty(USER_PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return new ServerAccount(Optional.of(configured.trim()));
        }
        return new ServerAccount(Optional.of(userExists("postgres") ? "postgres" : "nobody"));
    }

    static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name")) ? 0 : -1;
        }
    }

    /** The unprivileged account in use, or empty when running as the JVM's user. */
    Optional<String> runAs() {
        return runAs;
    }

    /** The command line that runs {@code command} as this account. */
    List<String> wrap(List<String> command) {
        if (runAs.isEmpty()) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", runAs.get(), "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    /** Gives the account ownership of {@code dir} and everything in it (no-op when not root). */
    void handOver(Path dir) {
        if (runAs.isEmpty()) {
            return;
        }
        // "user:" also sets the group to the account's login group.
        List<String> chown = List.of("chown", "-R", runAs.get() + ":", dir.toString());
        ProcessResult result = Processes.run(chown, dir, Map.of(), CHOWN_TIMEOUT);
        if (result.exitCode() != 0) {
            throw new IllegalStateException("chown failed: " + chown + "\n" + result.stderr());
        }
    }

    /** Runs a PostgreSQL server command as this account, with the cluster directory as working directory. */
    ProcessResult run(List<String> command, Path clusterDir, Duration timeout) {
        return Processes.run(wrap(command), clusterDir, Map.of(), timeout);
    }

    private static boolean userExists(String name) {
        try {
            FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(name);
            return true;
        } catch (UserPrincipalNotFoundException e) {
            return false;
        } catch (IOException e) {
            throw new IllegalStateException("could not look up OS user " + name, e);
        }
    }

    @Override
    public String toString() {
        return runAs.map(user -> "runuser -u " + user).orElse("the JVM's user");
    }
}
