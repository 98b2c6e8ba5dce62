package io.usher;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The reference docs against the code: troubleshooting's messages still exist, monitoring's metric
 * table and the Grafana dashboard name only metrics Usher registers, and the README links the docs.
 * (docs/configuration.md has its own test, ConfigurationDocTest.)
 */
class DocsTest {
    private static String read(String path) throws Exception {
        return Files.readString(Path.of(path), StandardCharsets.UTF_8);
    }

    private static String allSource() throws Exception {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                sb.append(Files.readString(f, StandardCharsets.UTF_8)).append('\n');
            }
        }
        return sb.toString().replace("\\\"", "\""); // Java's \" as the " it prints
    }

    /** The literal part of a documented message: up to a placeholder ({@code <name>}) or an ellipsis. */
    static String literalPart(String message) {
        String s = message;
        for (String stop : List.of("<", "…")) {
            int i = s.indexOf(stop);
            if (i >= 0) {
                s = s.substring(0, i);
            }
        }
        return s.strip();
    }

    @Test
    void troubleshootingMessagesOccurInTheSource() throws Exception {
        String source = allSource();
        Pattern code = Pattern.compile("`([^`]+)`");
        List<String> checked = new ArrayList<>();
        for (String line : read("docs/troubleshooting.md").split("\n")) {
            if (!line.startsWith("### ")) {
                continue;
            }
            Matcher m = code.matcher(line);
            while (m.find()) {
                String literal = literalPart(m.group(1));
                // "<file>:<line>: unknown parameter: ..." has its literal after the placeholders
                if (literal.isEmpty()) {
                    literal = literalPart(m.group(1).replaceAll("^(<[^>]*>:?)+\\s*", ""));
                }
                if (literal.length() < 4) {
                    continue;
                }
                checked.add(literal);
                assertThat(source.contains(literal))
                        .as("docs/troubleshooting.md's message \"" + literal + "\" occurs in src/main/java").isTrue();
            }
        }
        assertThat(checked).hasSizeGreaterThan(30);
    }

    /** The metric names UsherMetrics registers (counters without the exposition's _total). */
    static Set<String> registeredMetrics() throws Exception {
        String src = read("src/main/java/io/usher/metrics/UsherMetrics.java");
        Matcher m = Pattern.compile("\"((?:pgbouncer|usher)_[a-z_]+)\"").matcher(src);
        Set<String> names = new TreeSet<>();
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    static Set<String> counters() throws Exception {
        String src = read("src/main/java/io/usher/metrics/UsherMetrics.java");
        Matcher m = Pattern.compile("statsCounter\\(\"([a-z_]+)\"").matcher(src);
        Set<String> names = new TreeSet<>();
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void monitoringTableListsExactlyTheRegisteredMetrics() throws Exception {
        Set<String> documented = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^\\| `((?:pgbouncer|usher)_[a-z_]+)` \\|").matcher(read("docs/monitoring.md"));
        while (m.find()) {
            documented.add(m.group(1));
        }
        assertThat(registeredMetrics()).hasSizeGreaterThan(20);
        assertThat(documented).isEqualTo(registeredMetrics());
    }

    @Test
    @SuppressWarnings("unchecked")
    void grafanaDashboardQueriesExistingMetrics() throws Exception {
        Map<String, Object> dash = new Yaml().load(read("deploy/grafana/usher-dashboard.json"));
        Set<String> registered = registeredMetrics();
        Set<String> counters = counters();
        Set<String> used = new LinkedHashSet<>();
        for (Map<String, Object> panel : (List<Map<String, Object>>) dash.get("panels")) {
            for (Map<String, Object> target : (List<Map<String, Object>>) panel.get("targets")) {
                Matcher m = Pattern.compile("\\b((?:pgbouncer|usher)_[a-z_]+)").matcher((String) target.get("expr"));
                while (m.find()) {
                    String name = m.group(1);
                    String base = name.endsWith("_total") ? name.substring(0, name.length() - 6) : name;
                    assertThat(registered).as(panel.get("title") + ": " + name).contains(base);
                    assertThat(name.endsWith("_total")).as(panel.get("title") + ": counters end in _total: " + name)
                            .isEqualTo(counters.contains(base));
                    used.add(base);
                }
            }
        }
        assertThat(used).hasSizeGreaterThan(10);
    }

    @Test
    void readmeLinksTheDocsAndTheLinksResolve() throws Exception {
        String readme = read("README.md");
        assertThat(readme).contains("docs/configuration.md", "docs/troubleshooting.md", "docs/monitoring.md",
                "docs/deployment.md");
        Matcher m = Pattern.compile("\\]\\(((?:docs|deploy|examples)/[^)#]+)").matcher(readme);
        int links = 0;
        while (m.find()) {
            assertThat(Path.of(m.group(1))).as("README link " + m.group(1)).exists();
            links++;
        }
        assertThat(links).isGreaterThan(5);
    }
}
