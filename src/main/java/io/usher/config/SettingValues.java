package io.usher.config;

import java.math.BigInteger;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * Parses setting values the way libusual's cfparser does, so that every value PgBouncer accepts is
 * accepted here, with the same meaning.
 */
final class SettingValues {
    private static final long UINT_MAX = 0xFFFF_FFFFL;

    /** What strtod accepts in practice for a time: a plain decimal number, optionally with an exponent. */
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

    /** Upper bound for a time, in seconds; well beyond any sane setting and far from overflowing micros. */
    private static final double MAX_SECONDS = 1e12;

    private SettingValues() {
    }

    /**
     * Checks a value for a key and returns an error text, or null when the value is valid.
     * The value is kept as written; this only validates.
     */
    static String validate(SettingDef def, String value) {
        switch (def.type()) {
            case INT:
            case BOOL:
                return parseInt(value).isPresent() ? null : "expected an integer";
            case UINT:
                return parseUInt(value).isPresent() ? null : "expected an integer between 0 and " + UINT_MAX;
            case TIME:
                return parseSeconds(value) != null ? null : "expected a non-negative number of seconds";
            case ENUM:
                return SettingDefs.enumValues(def.name()).contains(value.toLowerCase(Locale.ROOT))
                        ? null
                        : "expected one of " + String.join(", ", SettingDefs.enumValues(def.name()));
            default:
                return null;
        }
    }

    /**
     * A C {@code strtol(s, &end, 0)} that must consume the whole string: optional sign, then
     * {@code 0x} hex, leading-{@code 0} octal or decimal. Values outside int range are rejected
     * (PgBouncer silently truncates them).
     */
    static OptionalLong parseInt(String s) {
        OptionalLong v = parseCLong(s);
        if (v.isPresent() && (v.getAsLong() < Integer.MIN_VALUE || v.getAsLong() > Integer.MAX_VALUE)) {
            return OptionalLong.empty();
        }
        return v;
    }

    /** Like {@link #parseInt} but for unsigned values up to 4294967295; negatives are rejected. */
    static OptionalLong parseUInt(String s) {
        OptionalLong v = parseCLong(s);
        if (v.isPresent() && (v.getAsLong() < 0 || v.getAsLong() > UINT_MAX)) {
            return OptionalLong.empty();
        }
        return v;
    }

    /**
     * A time value in seconds, as libusual's {@code cf_set_time_usec}: a non-negative decimal
     * number, fractions allowed, no unit suffix. Returns null when invalid. The result is
     * truncated to whole microseconds as PgBouncer does.
     */
    static Duration parseSeconds(String s) {
        if (s == null || !DECIMAL.matcher(s).matches()) {
            return null;
        }
        double seconds = Double.parseDouble(s);
        if (seconds < 0 || seconds > MAX_SECONDS) {
            return null;
        }
        long micros = (long) (seconds * 1_000_000d);
        return Duration.of(micros, ChronoUnit.MICROS);
    }

    private static OptionalLong parseCLong(String s) {
        if (s == null) {
            return OptionalLong.empty();
        }
        int i = 0;
        boolean negative = false;
        if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
            negative = s.charAt(i) == '-';
            i++;
        }
        int radix = 10;
        if (s.startsWith("0x", i) || s.startsWith("0X", i)) {
            radix = 16;
            i += 2;
        } else if (s.startsWith("0", i) && i + 1 < s.length()) {
            radix = 8;
            i += 1;
        }
        String digits = s.substring(i);
        if (digits.isEmpty() || !allDigits(digits, radix)) {
            return OptionalLong.empty();
        }
        BigInteger v = new BigInteger(digits, radix);
        if (negative) {
            v = v.negate();
        }
        return v.bitLength() < 64 ? OptionalLong.of(v.longValue()) : OptionalLong.empty();
    }

    private static boolean allDigits(String digits, int radix) {
        for (int i = 0; i < digits.length(); i++) {
            char c = digits.charAt(i);
            if (c >= 128 || Character.digit(c, radix) < 0) {
                return false;
            }
        }
        return true;
    }
}
