package io.usher.cli;

import sun.misc.Signal;

import java.util.function.Consumer;

/** POSIX signals as PgBouncer uses them: SIGTERM/SIGINT stop, SIGHUP reloads. */
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

    private Signals() {}
}
