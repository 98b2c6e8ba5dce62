package io.usher.cli;

import io.usher.config.ConfigException;
import io.usher.config.UsherConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code usher config check [FILE]}: loads the configuration as a start would, and shows it. */
@Command(name = "config", description = "Work with the configuration.", subcommands = ConfigCommand.Check.class)
final class ConfigCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.err.println("usher config: say what to do: usher config check [FILE]");
        return 1;
    }

    @Command(name = "check", sortOptions = false,
            description = {"Validate the configuration (FILE plus the environment, or the environment alone) and print "
                    + "the effective settings, databases and users, each with where its value came from "
                    + "(FILE:LINE, env VAR, default). Passwords are masked.",
                    "Exit status 0 when Usher would start with it, 1 if not."})
    static final class Check implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "pgbouncer.ini (optional)")
        Path file;

        @Option(names = "--database-url", paramLabel = "URL", description = "as for usher --database-url")
        String databaseUrl;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Print this help and exit.")
        boolean help;

        @Override
        public Integer call() {
            UsherConfig config;
            try {
                config = Main.loadConfig(file, databaseUrl);
            } catch (ConfigException e) {
                System.err.println("usher: " + e.getMessage());
                return 1;
            }
            ConfigReport report = new ConfigReport(config);
            System.out.print(report.text());
            for (String problem : report.errors()) {
                System.err.println("usher: " + problem);
            }
            return report.errors().isEmpty() ? 0 : 1;
        }
    }
}
