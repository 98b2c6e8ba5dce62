package io.usher.cli;

import sun.misc.Signal;

import java.util.function.Consumer;

/**
 * POSIX signals as PgBouncer uses them: SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1/SIGUSR2 pause
 * and resume. sun.misc.Signal (module jdk.unsupported) is the JDK's only way to handle signals; the
 * compiler's warning about it is expected.
 */
final class Signals {

    /** Runs {@code action} (once) on SIGTERM or SIGINT, with the signal's name. */
    static void onShutdown(Consumer<String> action) {
        Object once = new Object();
        boolean[] done = {false};
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> {
                synchronized (once) {
                    if (done[0]) {
                        return;
                    }
                    done[0] = true;
                }
                new Thread(() -> action.accept("SIG" + name), "usher-shutdown").start();
            });
        }
    }

    static void onReload(Runnable action) {
        Signal.handle(new Signal("HUP"), sig -> action.run());
    }

    /**
     * PgBouncer's SIGUSR1 (PAUSE) and SIGUSR2 (RESUME). The JVM may reserve a signal for itself
     * (HotSpot on Linux uses SIGUSR2 to suspend threads): then it is reported and left alone.
     * @return the signals that could not be taken
     */
    static java.util.List<String> onPauseResume(Runnable pause, Runnable resume) {
        java.util.List<String> unavailable = new java.util.ArrayList<>();
        take("USR1", pause, unavailable);
        take("USR2", resume, unavailable);
        return unavailable;
    }

    private static void take(String name, Runnable action, java.util.List<String> unavailable) {
        try {
            Signal.handle(new Signal(name), sig -> action.run());
        } catch (IllegalArgumentException e) {
            unavailable.add("SIG" + name);
        }
    }

    private Signals() {}
}
