package io.usher.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code usher demo}: a throwaway PostgreSQL with Usher in front (see Demo). */
@Command(name = "demo", description = "Start a throwaway PostgreSQL with Usher in front, print URLs to connect to, "
        + "and remove everything on Ctrl-C or SIGTERM.")
final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("usher demo: not implemented yet");
        return 1;
    }
}
