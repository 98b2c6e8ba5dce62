package io.usher.client;

import io.usher.protocol.ProtocolException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code options} startup parameter as libpq sends it ({@code PGOPTIONS}, {@code options=} in a
 * connection string): command-line style settings, {@code -c name=value}, {@code -cname=value} or
 * {@code --name=value}, separated by spaces, a backslash escaping the next character. PgBouncer
 * accepts it when every setting in it is one it tracks (or ignores), so that the setting can be
 * restored on whichever server the client gets.
 */
final class StartupOptions {

    /** name -> value, in order. */
    static Map<String, String> parse(String options) throws ProtocolException {
        Map<String, String> settings = new LinkedHashMap<>();
        java.util.List<String> words = split(options);
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            String setting;
            if (w.equals("-c")) {
                if (i + 1 >= words.size()) {
                    throw new ProtocolException("unsupported options startup parameter: -c without a setting");
                }
                setting = words.get(++i);
            } else if (w.startsWith("-c")) {
                setting = w.substring(2);
            } else if (w.startsWith("--")) {
                setting = w.substring(2);
            } else {
                throw new ProtocolException("unsupported options startup parameter: " + w);
            }
            int eq = setting.indexOf('=');
            if (eq <= 0) {
                throw new ProtocolException("unsupported options startup parameter: " + setting);
            }
            // PostgreSQL accepts dashes for underscores in --name=value
            settings.put(setting.substring(0, eq).replace('-', '_'), setting.substring(eq + 1));
        }
        return settings;
    }

    private static java.util.List<String> split(String s) {
        java.util.List<String> words = new java.util.ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean any = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                w.append(s.charAt(++i));
                any = true;
            } else if (Character.isWhitespace(c)) {
                if (any) {
                    words.add(w.toString());
                    w.setLength(0);
                    any = false;
                }
            } else {
                w.append(c);
                any = true;
            }
        }
        if (any) {
            words.add(w.toString());
        }
        return words;
    }

    private StartupOptions() {}
}
