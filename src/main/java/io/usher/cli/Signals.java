package io.usher.cli;

import sun.misc.Signal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * POSIX signals as PgBouncer 1.23+ uses them: SIGTERM and SIGINT begin a shutdown (a second one
 * makes it immediate), SIGHUP reloads, SIGUSR1/SIGUSR2 pause and resume. sun.misc.Signal (module
 * jdk.unsupported) is the JDK's only way to handle signals; the compiler's warning about it is
 * expected. The JVM runs each signal's handler on a thread of its own, so two signals sent back to
 * back could act out of order: every action goes through one thread, in arrival order.
 */
final class Signals {
    private final ExecutorService actions = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "usher-signals");
        t.setDaemon(true);
        return t;
    });
    private final List<String> unavailable = new ArrayList<>();
    private final List<String> ignored = new ArrayList<>();

    /**
     * Runs {@code action} on the signals thread each time signal {@code name} (without "SIG")
     * arrives. A signal the JVM keeps for itself is recorded in {@link #unavailable()}.
     */
    void on(String name, Runnable action) {
        try {
            if (Signal.handle(new Signal(name), sig -> actions.execute(action)) == sun.misc.SignalHandler.SIG_IGN
                    && (name.equals("HUP") || name.equals("TERM"))) {
                // HotSpot leaves HUP, INT and TERM ignored when they were at start: HUP under nohup (INT is
                // ignored in every background job of a shell script, so it is not worth a warning)
                ignored.add("SIG" + name);
            }
        } catch (IllegalArgumentException e) {
            unavailable.add("SIG" + name);
        }
    }

    /** Signals ignored when Usher started (SIGHUP under nohup): the JVM keeps them ignored. */
    List<String> ignored() {
        return ignored;
    }

    /** Signals that could not be taken (HotSpot may reserve SIGUSR2, and always SIGQUIT for thread dumps). */
    List<String> unavailable() {
        return unavailable;
    }
}
