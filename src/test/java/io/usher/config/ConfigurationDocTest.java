package io.usher.config;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/configuration.md's table of [pgbouncer] keys against SettingDefs: the same keys in the same
 * order, with the same defaults, RELOAD flags and implemented flags. When this fails, update the
 * row the message names (or add/remove one).
 */
class ConfigurationDocTest {
    static final Path DOC = Path.of("docs", "configuration.md");

    /** One row of the table, as written. */
    record Row(String name, String defaultValue, boolean reloadable, boolean implemented, String notes) {
    }

    /** The rows of the table under the "## `[pgbouncer]`" heading. */
    static List<Row> rows() throws Exception {
        List<String> lines = Files.readAllLines(DOC, StandardCharsets.UTF_8);
        int start = lines.indexOf("## `[pgbouncer]`");
        assertThat(start).as("the `[pgbouncer]` heading in " + DOC).isNotNegative();
        List<Row> rows = new ArrayList<>();
        for (int i = start + 1; i < lines.size() && !lines.get(i).startsWith("## "); i++) {
            String line = lines.get(i);
            if (!line.startsWith("| `")) {
                continue;
            }
            List<String> cells = cells(line);
            assertThat(cells).as("5 cells in: " + line).hasSize(5);
            rows.add(new Row(unquote(cells.get(0)), defaultValue(cells.get(1)), yesNo(cells.get(2), line),
                    yesNo(cells.get(3), line), cells.get(4)));
        }
        return rows;
    }

    private static List<String> cells(String line) {
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        for (int i = 1; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\\' && i + 1 < line.length() && line.charAt(i + 1) == '|') {
                cell.append('|');
                i++;
            } else if (c == '|') {
                cells.add(cell.toString().trim());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        return cells;
    }

    private static String unquote(String cell) {
        assertThat(cell).as("a `code` cell").startsWith("`").endsWith("`");
        return cell.substring(1, cell.length() - 1);
    }

    private static String defaultValue(String cell) {
        return cell.equals("(not set)") ? "" : unquote(cell);
    }

    private static boolean yesNo(String cell, String line) {
        assertThat(cell).as("yes or no in: " + line).isIn("yes", "no");
        return cell.equals("yes");
    }

    @Test
    void tableMatchesSettingDefs() throws Exception {
        List<Row> rows = rows();
        assertThat(rows.stream().map(Row::name).toList()).as("the keys of " + DOC + ", in SettingDefs' order")
                .containsExactlyElementsOf(SettingDefs.all().keySet());
        for (Row row : rows) {
            SettingDef def = SettingDefs.all().get(row.name());
            assertThat(row.defaultValue()).as("default of " + row.name() + " in " + DOC).isEqualTo(def.defaultValue());
            assertThat(row.reloadable()).as("RELOAD column of " + row.name() + " in " + DOC).isEqualTo(def.reloadable());
            assertThat(row.implemented()).as("Usher column of " + row.name() + " in " + DOC).isEqualTo(def.implemented());
        }
    }

    // a key Usher does not act on says so in its notes (the reader must not have to guess)
    @Test
    void keysWithoutEffectAreExplained() throws Exception {
        for (Row row : rows()) {
            if (!row.implemented()) {
                assertThat(row.notes()).as("notes of " + row.name() + ", which Usher does not act on").isNotBlank();
            }
        }
    }
}
