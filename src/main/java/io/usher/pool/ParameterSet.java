package io.usher.pool;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tracked session parameters (client_encoding, DateStyle, TimeZone, ...) one client wants,
 * immutable and interned per pool: clients with the same values share one instance, and a server
 * remembers the instance it was last set up for, so the check before each transaction is one
 * reference comparison instead of a parameter-by-parameter one.
 */
public final class ParameterSet {
    private final Map<String, String> values;

    private ParameterSet(Map<String, String> values) {
        this.values = values;
    }

    public Map<String, String> values() {
        return values;
    }

    /** This set with one value changed (interned). */
    public ParameterSet with(String name, String value, Interner interner) {
        if (value.equals(values.get(name))) {
            return this;
        }
        Map<String, String> copy = new LinkedHashMap<>(values);
        copy.put(name, value);
        return interner.intern(copy);
    }

    /** The intern table of one pool; bounded, since application_name can make every set unique. */
    public static final class Interner {
        private static final int MAX_SETS = 10_000;
        private final Map<Map<String, String>, ParameterSet> sets = new ConcurrentHashMap<>();

        public ParameterSet intern(Map<String, String> values) {
            ParameterSet s = sets.get(values);
            if (s != null) {
                return s;
            }
            ParameterSet fresh = new ParameterSet(Collections.unmodifiableMap(new LinkedHashMap<>(values)));
            if (sets.size() >= MAX_SETS) {
                return fresh; // still correct: comparison falls back to the values
            }
            s = sets.putIfAbsent(fresh.values, fresh);
            return s != null ? s : fresh;
        }
    }
}
