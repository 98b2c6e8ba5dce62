package io.usher.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects what {@link IniParser} reads into settings, databases, users and peers, checking each
 * line as PgBouncer does when it reads it (the first error stops loading).
 *
 * <p>Section names are matched exactly, as in PgBouncer: {@code [PgBouncer]} or an unknown section
 * such as {@code [foo]} is an error, not ignored.
 */
final class ConfigAssembler implements IniParser.Handler {
    private enum Section { PGBOUNCER, DATABASES, USERS, PEERS }

    private final Settings.Builder settings = Settings.builder();
    private final Map<String, DatabaseConfig> databases = new LinkedHashMap<>();
    private final Map<String, String> databaseOrigins = new LinkedHashMap<>();
    private final Map<String, UserConfig> users = new LinkedHashMap<>();
    private final Map<Integer, PeerConfig> peers = new LinkedHashMap<>();
    private Section current;
    private boolean sawMainSection;

    @Override
    public void section(String name, String file, int line) throws ConfigException {
        current = switch (name) {
            case "pgbouncer" -> Section.PGBOUNCER;
            case "databases" -> Section.DATABASES;
            case "users" -> Section.USERS;
            case "peers" -> Section.PEERS;
            default -> throw new ConfigException(file, line, "invalid section \"" + name
                    + "\": sections are [pgbouncer], [databases], [users] and [peers] (case-sensitive)");
        };
        if (current == Section.PGBOUNCER) {
            sawMainSection = true;
            settings.resetToDefaults();
        }
    }

    @Override
    public void entry(String key, String value, String file, int line) throws ConfigException {
        if (current == null) {
            throw new ConfigException(file, line, "value without section: " + key);
        }
        switch (current) {
            case PGBOUNCER -> settings.set(key, value, file, line);
            // A name given twice keeps its first position and takes the later definition, as in PgBouncer.
            case DATABASES -> {
                databases.put(key, DatabaseEntries.parse(key, value, file, line));
                databaseOrigins.put(key, file + ":" + line);
            }
            case USERS -> users.put(key, UserEntries.parse(key, value, file, line));
            case PEERS -> {
                PeerConfig peer = PeerEntries.parse(key, value, file, line);
                peers.put(peer.peerId(), peer);
            }
        }
    }

    boolean sawMainSection() {
        return sawMainSection;
    }

    Settings.Builder settings() {
        return settings;
    }

    Map<String, DatabaseConfig> databases() {
        return databases;
    }

    /** "file:line" of each [databases] entry. */
    Map<String, String> databaseOrigins() {
        return databaseOrigins;
    }

    Map<String, UserConfig> users() {
        return users;
    }

    Map<Integer, PeerConfig> peers() {
        return peers;
    }
}
