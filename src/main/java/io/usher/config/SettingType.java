package io.usher.config;

/**
 * How the value of a {@code [pgbouncer]} key is written and checked. Mirrors the libusual value
 * types PgBouncer declares its keys with.
 */
public enum SettingType {
    /** Free text (CF_STR); any value, including empty. */
    STRING,
    /** Free text that callers split into a comma/space separated list (CF_STR). */
    LIST,
    /** C {@code strtol(s, &end, 0)} integer: decimal, {@code 0x} hex or {@code 0} octal (CF_INT). */
    INT,
    /** C {@code strtoul} integer, 0..4294967295 (CF_UINT). */
    UINT,
    /** An on/off switch; PgBouncer stores these as integers, so 0 is off and any other integer on (CF_INT). */
    BOOL,
    /** Seconds as a non-negative decimal number, fractions allowed, no units (CF_TIME_USEC). */
    TIME,
    /** One of a fixed set of names, matched case-insensitively (CF_LOOKUP). */
    ENUM
}
