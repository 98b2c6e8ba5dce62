package io.usher;

import io.usher.config.UsherConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The deployment files (deploy/kubernetes, the Dockerfile, examples/compose.yaml) against what Usher
 * does: probes on /health and /ready at the port --http-listen / USHER_HTTP_LISTEN uses, the
 * pgbouncer.ini they carry loads, ports and selectors line up. The manifests are rendered with
 * {@code kubectl kustomize} where kubectl is installed, else read as files (said on stdout).
 */
@SuppressWarnings("unchecked")
class DeploymentFilesTest {
    private static final Path K8S = Path.of("deploy", "kubernetes");

    private static Map<String, Object> map(Object o, String what) {
        assertThat(o).as(what).isInstanceOf(Map.class);
        return (Map<String, Object>) o;
    }

    private static List<Object> list(Object o) {
        return o == null ? List.of() : (List<Object>) o;
    }

    private static Object at(Object root, String... path) {
        Object o = root;
        for (String p : path) {
            if (!(o instanceof Map)) {
                return null;
            }
            o = ((Map<String, Object>) o).get(p);
        }
        return o;
    }

    private static boolean kubectl() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, "kubectl"))) {
                return true;
            }
        }
        return false;
    }

    /** The objects of a kustomization: rendered by kubectl if present, else its resource files. */
    static List<Map<String, Object>> render(Path dir) throws Exception {
        Map<String, Object> kustomization = map(new Yaml().load(Files.readString(dir.resolve("kustomization.yaml"))), "kustomization");
        List<String> resources = list(kustomization.get("resources")).stream().map(String::valueOf).toList();
        try (Stream<Path> files = Files.list(dir)) {
            List<String> yamls = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml")).sorted().toList();
            assertThat(resources).as(dir + "/kustomization.yaml lists every manifest beside it").containsExactlyInAnyOrderElementsOf(yamls);
        }
        String text;
        if (kubectl()) {
            Process p = new ProcessBuilder("kubectl", "kustomize", dir.toString()).redirectErrorStream(true).start();
            text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("kubectl kustomize " + dir + ":\n" + text).isZero();
            System.out.println("kubectl kustomize " + dir + ": rendered");
        } else {
            System.out.println("kubectl not installed: " + dir + " read as files, not rendered with kubectl kustomize");
            StringBuilder sb = new StringBuilder();
            for (String r : resources) {
                sb.append(Files.readString(dir.resolve(r))).append("\n---\n");
            }
            text = sb.toString();
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(text)) {
            if (doc != null) {
                out.add(map(doc, "a manifest"));
            }
        }
        return out;
    }

    private static List<Map<String, Object>> ofKind(List<Map<String, Object>> objects, String kind) {
        return objects.stream().filter(o -> kind.equals(o.get("kind"))).toList();
    }

    /** Usher's containers (image named usher), regular and init (native sidecars). */
    private static List<Map<String, Object>> usherContainers(Map<String, Object> deployment) {
        List<Map<String, Object>> out = new ArrayList<>();
        Object spec = at(deployment, "spec", "template", "spec");
        for (String key : List.of("containers", "initContainers")) {
            for (Object c : list(at(spec, key))) {
                Map<String, Object> m = map(c, "container");
                if (String.valueOf(m.get("image")).contains("usher")) {
                    out.add(m);
                }
            }
        }
        return out;
    }

    private static String env(Map<String, Object> container, String name) {
        for (Object e : list(container.get("env"))) {
            Map<String, Object> m = map(e, "env");
            if (name.equals(m.get("name"))) {
                return String.valueOf(m.get("value"));
            }
        }
        return null;
    }

    /** The port of --http-listen (args) or USHER_HTTP_LISTEN (env). */
    private static int httpListenPort(Map<String, Object> container) {
        String listen = env(container, "USHER_HTTP_LISTEN");
        List<Object> args = list(container.get("args"));
        for (int i = 0; i < args.size(); i++) {
            String a = String.valueOf(args.get(i));
            if (a.equals("--http-listen") && i + 1 < args.size()) {
                listen = String.valueOf(args.get(i + 1));
            } else if (a.startsWith("--http-listen=")) {
                listen = a.substring("--http-listen=".length());
            }
        }
        assertThat(listen).as(container.get("name") + ": --http-listen or USHER_HTTP_LISTEN is set").isNotBlank();
        return Integer.parseInt(listen.substring(listen.lastIndexOf(':') + 1));
    }

    private static int containerPort(Map<String, Object> container, Object port) {
        if (port instanceof Integer i) {
            return i;
        }
        for (Object p : list(container.get("ports"))) {
            Map<String, Object> m = map(p, "port");
            if (Objects.equals(port, m.get("name"))) {
                return (Integer) m.get("containerPort");
            }
        }
        throw new AssertionError(container.get("name") + " has no port named " + port);
    }

    private static void checkProbes(Map<String, Object> c) {
        int http = httpListenPort(c);
        Map<String, Object> live = map(at(c, "livenessProbe", "httpGet"), c.get("name") + " livenessProbe.httpGet");
        Map<String, Object> ready = map(at(c, "readinessProbe", "httpGet"), c.get("name") + " readinessProbe.httpGet");
        assertThat(live.get("path")).as("liveness path").isEqualTo("/health");
        assertThat(ready.get("path")).as("readiness path").isEqualTo("/ready");
        assertThat(containerPort(c, live.get("port"))).as("liveness port = the --http-listen port").isEqualTo(http);
        assertThat(containerPort(c, ready.get("port"))).as("readiness port = the --http-listen port").isEqualTo(http);
    }

    @Test
    void sharedPoolerManifests(@TempDir Path tmp) throws Exception {
        List<Map<String, Object>> objects = render(K8S);
        List<Map<String, Object>> deployments = ofKind(objects, "Deployment");
        assertThat(deployments).hasSize(1);
        Map<String, Object> deployment = deployments.get(0);
        List<Map<String, Object>> ushers = usherContainers(deployment);
        assertThat(ushers).hasSize(1);
        Map<String, Object> usher = ushers.get(0);
        checkProbes(usher);

        // the pgbouncer.ini of the ConfigMap, mounted where args point, loads; its userlist is the Secret's
        String ini = String.valueOf(list(usher.get("args")).get(0));
        Map<String, String> mounts = new java.util.HashMap<>();
        for (Object m : list(usher.get("volumeMounts"))) {
            mounts.put(String.valueOf(at(m, "mountPath")), String.valueOf(at(m, "name")));
        }
        Path iniDir = Path.of(ini).getParent();
        String configVolume = mounts.get(iniDir.toString());
        assertThat(configVolume).as("a volume mounted at " + iniDir).isNotNull();
        Map<String, Object> volume = list(at(deployment, "spec", "template", "spec", "volumes")).stream()
                .map(v -> map(v, "volume")).filter(v -> configVolume.equals(v.get("name"))).findFirst().orElseThrow();
        String configMapName = String.valueOf(at(volume, "configMap", "name"));
        Map<String, Object> configMap = ofKind(objects, "ConfigMap").stream()
                .filter(o -> configMapName.equals(at(o, "metadata", "name"))).findFirst().orElseThrow();
        String iniText = String.valueOf(at(configMap, "data", Path.of(ini).getFileName().toString()));

        Matcher authFile = Pattern.compile("(?m)^auth_file = (.+)$").matcher(iniText);
        assertThat(authFile.find()).isTrue();
        Path userlistPath = Path.of(authFile.group(1).trim());
        String secretVolume = mounts.get(userlistPath.getParent().toString());
        assertThat(secretVolume).as("a volume mounted at " + userlistPath.getParent()).isNotNull();
        Map<String, Object> secretVol = list(at(deployment, "spec", "template", "spec", "volumes")).stream()
                .map(v -> map(v, "volume")).filter(v -> secretVolume.equals(v.get("name"))).findFirst().orElseThrow();
        String secretName = String.valueOf(at(secretVol, "secret", "secretName"));
        Map<String, Object> secret = ofKind(objects, "Secret").stream()
                .filter(o -> secretName.equals(at(o, "metadata", "name"))).findFirst().orElseThrow();
        Path userlist = tmp.resolve("userlist.txt");
        Files.writeString(userlist, String.valueOf(at(secret, "stringData", userlistPath.getFileName().toString())));
        UsherConfig config = UsherConfig.parse(iniText.replace(authFile.group(1).trim(), userlist.toString()), tmp.resolve("pgbouncer.ini"));
        assertThat(config.settings().getInt("listen_port")).as("listen_port = the container port named postgres")
                .isEqualTo(containerPort(usher, "postgres"));
        assertThat(config.settings().getList("admin_users")).isNotEmpty();

        // the Service reaches the pods on the postgres port; the PDB covers them
        Map<String, Object> labels = map(at(deployment, "spec", "template", "metadata", "labels"), "pod labels");
        Map<String, Object> service = ofKind(objects, "Service").get(0);
        assertThat(labels).containsAllEntriesOf(map(at(service, "spec", "selector"), "service selector"));
        assertThat(list(at(service, "spec", "ports")).stream().map(p -> at(p, "targetPort")).toList()).contains("postgres");
        Map<String, Object> pdb = ofKind(objects, "PodDisruptionBudget").get(0);
        assertThat(labels).containsAllEntriesOf(map(at(pdb, "spec", "selector", "matchLabels"), "pdb selector"));
        assertThat((Integer) at(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds")).isGreaterThanOrEqualTo(30);
    }

    @Test
    void sidecarManifests() throws Exception {
        List<Map<String, Object>> objects = render(K8S.resolve("sidecar"));
        Map<String, Object> deployment = ofKind(objects, "Deployment").get(0);
        List<Map<String, Object>> ushers = usherContainers(deployment);
        assertThat(ushers).hasSize(1);
        Map<String, Object> usher = ushers.get(0);
        checkProbes(usher);
        // the app's DATABASE_URL points at the sidecar's port on localhost
        Map<String, Object> app = list(at(deployment, "spec", "template", "spec", "containers")).stream()
                .map(c -> map(c, "container")).filter(c -> !usherContainers(deployment).contains(c)).findFirst().orElseThrow();
        assertThat(env(app, "DATABASE_URL")).contains("@127.0.0.1:" + env(usher, "USHER_LISTEN_PORT") + "/");
        assertThat(ofKind(objects, "Secret")).isNotEmpty();
    }

    /** The pgbouncer.ini of the ConfigMap mounted at the directory of {@code iniPath} in {@code workload}. */
    private static String mountedIni(List<Map<String, Object>> objects, Map<String, Object> workload,
            Map<String, Object> container, String iniPath) {
        String dir = Path.of(iniPath).getParent().toString();
        String volumeName = list(container.get("volumeMounts")).stream().filter(m -> dir.equals(at(m, "mountPath")))
                .map(m -> String.valueOf(at(m, "name"))).findFirst().orElseThrow(() -> new AssertionError("nothing mounted at " + dir));
        Map<String, Object> volume = list(at(workload, "spec", "template", "spec", "volumes")).stream()
                .map(v -> map(v, "volume")).filter(v -> volumeName.equals(v.get("name"))).findFirst().orElseThrow();
        String configMapName = String.valueOf(at(volume, "configMap", "name"));
        Map<String, Object> configMap = ofKind(objects, "ConfigMap").stream()
                .filter(o -> configMapName.equals(at(o, "metadata", "name"))).findFirst().orElseThrow();
        return String.valueOf(at(configMap, "data", Path.of(iniPath).getFileName().toString()));
    }

    // a fleet of peers: stable pod names give stable peer ids, the headless Service gives each pod a name
    // for [peers], and the start script turns the ordinal into USHER_PEER_ID
    @Test
    void statefulSetOfPeers(@TempDir Path tmp) throws Exception {
        List<Map<String, Object>> objects = render(K8S.resolve("statefulset"));
        List<Map<String, Object>> sets = ofKind(objects, "StatefulSet");
        assertThat(sets).hasSize(1);
        Map<String, Object> sts = sets.get(0);
        String name = String.valueOf(at(sts, "metadata", "name"));
        int replicas = (Integer) at(sts, "spec", "replicas");
        Map<String, Object> usher = usherContainers(sts).get(0);
        checkProbes(usher);
        Map<String, Object> labels = map(at(sts, "spec", "template", "metadata", "labels"), "pod labels");

        // the headless Service named by serviceName selects the pods, and publishes them while not ready
        String serviceName = String.valueOf(at(sts, "spec", "serviceName"));
        Map<String, Object> headless = ofKind(objects, "Service").stream()
                .filter(o -> serviceName.equals(at(o, "metadata", "name"))).findFirst().orElseThrow();
        assertThat(at(headless, "spec", "clusterIP")).isEqualTo("None");
        assertThat(at(headless, "spec", "publishNotReadyAddresses")).isEqualTo(true);
        assertThat(labels).containsAllEntriesOf(map(at(headless, "spec", "selector"), "headless selector"));
        assertThat(ofKind(objects, "Service")).as("a Service for the apps besides the headless one").hasSize(2);

        // the start script: pod NAME-2 is peer 3; run it with the exec replaced by an echo
        String script = String.valueOf(list(usher.get("args")).get(0));
        assertThat(list(usher.get("command"))).containsExactly("/bin/sh", "-c");
        Matcher exec = Pattern.compile("(?m)^exec (\\S+) (\\S+)$").matcher(script);
        assertThat(exec.find()).as("the script execs usher with the config file: " + script).isTrue();
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", script.replace(exec.group(), "echo \"$USHER_PEER_ID\""));
        pb.environment().put("HOSTNAME", name + "-2");
        Process run = pb.redirectErrorStream(true).start();
        assertThat(new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim()).isEqualTo("3");
        assertThat(run.waitFor(10, TimeUnit.SECONDS)).isTrue();

        // the mounted pgbouncer.ini loads; [peers] names every pod through the headless Service, peer i+1 = pod i
        String iniText = mountedIni(objects, sts, usher, exec.group(2));
        Matcher authFile = Pattern.compile("(?m)^auth_file = (.+)$").matcher(iniText);
        assertThat(authFile.find()).isTrue();
        Path userlist = tmp.resolve("userlist.txt");
        Files.writeString(userlist, "\"app\" \"x\"\n");
        UsherConfig config = UsherConfig.parse(iniText.replace(authFile.group(1).trim(), userlist.toString()), tmp.resolve("pgbouncer.ini"));
        int port = config.settings().getInt("listen_port");
        assertThat(port).isEqualTo(containerPort(usher, "postgres"));
        assertThat(config.settings().getInt("peer_id")).as("peer_id comes from the environment, not the file").isZero();
        assertThat(config.peers().size()).as("a [peers] entry per replica").isGreaterThanOrEqualTo(replicas);
        for (int i = 0; i < replicas; i++) {
            io.usher.config.PeerConfig peer = config.peers().get(i + 1);
            assertThat(peer).as("peer " + (i + 1)).isNotNull();
            assertThat(peer.hosts()).containsExactly(name + "-" + i + "." + serviceName);
            assertThat(peer.port()).isEqualTo(port);
        }
        Map<String, Object> pdb = ofKind(objects, "PodDisruptionBudget").get(0);
        assertThat(labels).containsAllEntriesOf(map(at(pdb, "spec", "selector", "matchLabels"), "pdb selector"));
    }

    @Test
    void dockerfile() throws Exception {
        String df = Files.readString(Path.of("Dockerfile"));
        List<String> lines = df.lines().filter(l -> !l.startsWith("#")).toList();
        String user = lines.stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElseThrow();
        assertThat(user).as("the image runs as a non-root user").doesNotContain("root").isNotEqualTo("USER 0");
        assertThat(lines.stream().filter(l -> l.startsWith("ENTRYPOINT ")).findFirst().orElseThrow())
                .as("exec form, so signals reach Usher").matches("ENTRYPOINT \\[\".*\"\\]");
        String health = df.substring(df.indexOf("HEALTHCHECK"));
        assertThat(health).contains("CMD [").contains("/health");
        Matcher listen = Pattern.compile("ENV USHER_HTTP_LISTEN=\\S+:(\\d+)").matcher(df);
        assertThat(listen.find()).isTrue();
        assertThat(df).containsPattern("EXPOSE .*\\b" + listen.group(1) + "\\b");
        System.out.println("Dockerfile checked as text only; the image is not built here (no Docker daemon; .ci/dist-check builds it where one answers)");
    }

    @Test
    void composeExamples(@TempDir Path tmp) throws Exception {
        Map<String, Object> compose = map(new Yaml().load(Files.readString(Path.of("examples", "compose.yaml"))), "compose");
        Map<String, Object> usher = map(at(compose, "services", "usher"), "usher service");
        assertThat(at(compose, "services", "postgres")).isNotNull();
        // its pgbouncer.ini (mounted from examples/compose/) loads, with its userlist
        String mountedIni = list(usher.get("volumes")).stream().map(String::valueOf)
                .filter(v -> v.contains("pgbouncer.ini")).findFirst().orElseThrow();
        Path ini = Path.of("examples").resolve(mountedIni.substring(0, mountedIni.indexOf(':'))).normalize();
        String text = Files.readString(ini).replace("/etc/usher/userlist.txt",
                Path.of("examples", "compose", "userlist.txt").toAbsolutePath().toString());
        UsherConfig config = UsherConfig.parse(text, tmp.resolve("pgbouncer.ini"));
        int port = config.settings().getInt("listen_port");
        assertThat(list(usher.get("ports")).stream().map(String::valueOf).toList()).anyMatch(p -> p.endsWith(":" + port));
        assertThat(config.databases()).containsKey("appdb");
        // the environment-only example parses too
        assertThat((Object) new Yaml().load(Files.readString(Path.of("examples", "docker-compose.yml")))).isNotNull();
    }
}
