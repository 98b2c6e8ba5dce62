package io.usher.cli;

import io.usher.config.AuthType;
import io.usher.config.DatabaseConfig;
import io.usher.config.SettingDef;
import io.usher.config.SettingDefs;
import io.usher.config.Settings;
import io.usher.config.UserConfig;
import io.usher.config.UsherConfig;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

/**
 * What {@code usher config check} prints: the effective configuration in pgbouncer.ini form, each
 * value followed by where it came from, passwords masked; then notes, warnings and errors.
 */
final class ConfigReport {
    /** What Usher.start accepts (it refuses the others at startup). */
    private static final EnumSet<AuthType> SUPPORTED_AUTH =
            EnumSet.of(AuthType.TRUST, AuthType.ANY, AuthType.PLAIN, AuthType.MD5, AuthType.SCRAM_SHA_256);
    static final String MASK = "********";

    private final UsherConfig config;
    private final List<String> errors = new ArrayList<>();
    private final StringBuilder out = new StringBuilder();

    ConfigReport(UsherConfig config) {
        this.config = config;
        build();
    }

    String text() {
        return out.toString();
    }

    /** Why Usher would not start with this configuration; empty when it would. */
    List<String> errors() {
        return errors;
    }

    private void build() {
        Settings s = config.settings();
        out.append("; configuration from ").append(config.describeSources()).append('\n');
        out.append("[pgbouncer]\n");
        for (Map.Entry<String, SettingDef> e : SettingDefs.all().entrySet()) {
            String key = e.getKey();
            line(key + " = " + s.getString(key), s.origin(key));
        }
        out.append("\n[databases]\n");
        for (DatabaseConfig db : config.databases().values()) {
            StringBuilder connstr = new StringBuilder();
            for (Map.Entry<String, String> pair : db.raw().entrySet()) {
                String value = pair.getKey().equals("password") ? MASK : pair.getValue();
                connstr.append(connstr.length() == 0 ? "" : " ").append(pair.getKey()).append('=').append(quote(value));
            }
            line(db.name() + " = " + connstr, config.databaseOrigin(db.name()));
        }
        if (!config.users().isEmpty()) {
            out.append("\n[users]\n");
            for (UserConfig u : config.users().values()) {
                StringBuilder pairs = new StringBuilder();
                u.raw().forEach((k, v) -> pairs.append(pairs.length() == 0 ? "" : " ").append(k).append('=').append(quote(v)));
                line(u.name() + " = " + pairs, "");
            }
        }
        out.append("\n; auth_file users (").append(config.userList().size()).append(")\n");
        for (Map.Entry<String, String> u : config.userList().entries().entrySet()) {
            line("\"" + u.getKey() + "\" \"" + kind(u.getValue()) + "\"", config.userList().origin(u.getKey()).orElse(""));
        }
        List<String> notes = new ArrayList<>(config.env().notes());
        for (String key : config.notImplementedKeys()) {
            notes.add("warning: " + key + " is set, but not supported by Usher yet; ignored");
        }
        if (!SUPPORTED_AUTH.contains(s.authType())) {
            errors.add("auth_type = " + s.authType().configName() + " is not supported yet");
        }
        if (s.getList("listen_addr").isEmpty() && s.getString("unix_socket_dir").isEmpty()) {
            errors.add("no listen_addr and no unix_socket_dir: nothing to listen on");
        }
        if (!notes.isEmpty()) {
            out.append('\n');
            for (String note : notes) {
                out.append("; ").append(note).append('\n');
            }
        }
        out.append(errors.isEmpty() ? "\n; OK\n" : "\n; NOT OK: " + String.join("; ", errors) + "\n");
    }

    private void line(String text, String origin) {
        out.append(text);
        if (!origin.isEmpty()) {
            out.append(" ".repeat(Math.max(1, 48 - text.length()))).append("; ").append(origin);
        }
        out.append('\n');
    }

    /** A stored secret as its kind, never its value. */
    private static String kind(String secret) {
        if (secret.startsWith("md5") && secret.length() == 35) {
            return "md5" + MASK;
        }
        if (secret.startsWith("SCRAM-SHA-256$")) {
            return "SCRAM-SHA-256$" + MASK;
        }
        return MASK;
    }

    private static String quote(String value) {
        for (int i = 0; i < value.length(); i++) {
            if (Character.isWhitespace(value.charAt(i)) || value.charAt(i) == '\'') {
                return "'" + value.replace("'", "''") + "'";
            }
        }
        return value;
    }
}
