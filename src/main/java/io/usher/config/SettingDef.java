package io.usher.config;

import java.util.Objects;

/**
 * Metadata of one {@code [pgbouncer]} key.
 *
 * @param name         the key, exactly as PgBouncer spells it (keys are case-sensitive)
 * @param type         how the value is written
 * @param defaultValue PgBouncer's default as a string; "" where PgBouncer has none ("not set")
 * @param reloadable   false for keys PgBouncer only reads at startup (CF_NO_RELOAD)
 * @param implemented  whether Usher acts on the key; others are accepted so that configs load
 */
public record SettingDef(String name, SettingType type, String defaultValue, boolean reloadable, boolean implemented) {
    public SettingDef {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(defaultValue, "defaultValue");
    }
}
