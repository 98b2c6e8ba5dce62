package io.usher.it;

import io.usher.auth.Md5Password;
import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.usher.it.Sql.one;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The five seeds' PgBouncer configurations and environments (src/test/resources/seeds/, each file says which
 * seed it comes from and what was adapted: hosts, ports, passwords, listen_addr and auth_file paths only),
 * run by Usher as its own process the way {@code bin/usher FILE} or the image's entrypoint (no file, the
 * environment only) runs them, and used by the clients the seeds use where this machine has them: psql,
 * pg_isready, SQLAlchemy on psycopg2 (seeds 000, 002), node-postgres (seeds 003, 004), pgjdbc. Ecto (seed 001)
 * and Prisma (seed 004) are not installed here; their tests say so and skip.
 *
 * <p>PostgreSQL is a private cluster with the seeds' roles and databases; the seeds' userlists hold md5 hashes, so
 * those roles log in with md5 (as the seeds' servers must: with only an md5 hash, neither PgBouncer nor Usher can
 * answer a SCRAM server).
 */
class SeedConfigsTest {
    private static final Path DRIVERS = Path.of("src", "test", "drivers").toAbsolutePath();
    private static PostgresCluster pg;
    /** The superuser's password, stored again as an md5 hash for seed 001. */
    private static String superPw;

    @TempDir
    Path dir;

    @BeforeAll
    static void cluster() throws Exception {
        pg = PostgresCluster.startNew(new PostgresCluster.Extras(List.of(), List.of(
                "host all postgres,user,your_user,hospitality_user,dbuser 127.0.0.1/32 md5"), Map.of()));
        try (Connection c = pg.connectSuper(); Statement s = c.createStatement()) {
            s.execute("SET password_encryption = 'md5'");
            // seed 001's userlist entry is the superuser "postgres" with an md5 hash
            superPw = pg.superuserPassword();
            s.execute("ALTER ROLE postgres PASSWORD '" + superPw.replace("'", "''") + "'");
            s.execute("CREATE ROLE \"user\" LOGIN PASSWORD 'password'"); // seeds 000 and 003 (compose)
            s.execute("CREATE ROLE your_user LOGIN PASSWORD 'seed002_pw'");
            s.execute("CREATE ROLE hospitality_user LOGIN PASSWORD 'your-password-here'");
            s.execute("CREATE ROLE dbuser LOGIN PASSWORD 'yourpassword'");
            s.execute("CREATE DATABASE dbname OWNER \"user\"");
            s.execute("CREATE DATABASE viral_engine");
            s.execute("CREATE DATABASE qbo_mirror OWNER your_user");
            s.execute("CREATE DATABASE hospitality_platform OWNER hospitality_user");
            s.execute("CREATE DATABASE bisman_prod OWNER dbuser");
        }
    }

    @AfterAll
    static void stopCluster() {
        if (pg != null) {
            pg.close();
        }
    }

    // ---- seed 000: Fly.io managed Postgres, SQLAlchemy --------------------------------------------------------

    // The image's environment (no file) on the seed's port 6543, transaction pooling; the app's URL as the seed
    // writes it (postgres://user:password@host:6543/dbname) with its SQLAlchemy pool settings; psql as the seed's
    // troubleshooting section uses it.
    @Test
    void seed000FlyIoEnvironmentWithSqlAlchemy() throws Exception {
        int port = LoopbackPorts.pickFree();
        Map<String, String> env = envFile("000-flyio.env", Map.of(
                "host.internal:5432", "127.0.0.1:" + pg.port(),
                "LISTEN_PORT=6543", "LISTEN_PORT=" + port));
        env.put("LISTEN_ADDR", "127.0.0.1");
        String appUrl = "postgres://user:password@127.0.0.1:" + port + "/dbname";

        assertConfigCheck(env, null, List.of("pool_mode = transaction +; env POOL_MODE",
                "listen_port = " + port + " +; env LISTEN_PORT"));
        try (UsherProcess usher = UsherProcess.start(dir, env)) {
            EnvConfigCliTest.awaitServing(usher, port, "user", "password", "dbname");
            assertThat(psql(Map.of(), appUrl, "SELECT current_user || '@' || current_database()").output())
                    .contains("user@dbname");

            runSqlAlchemy("seed 000", appUrl, "fly", "QueuePool sqlalchemy ok");
            // the seed turns pool_pre_ping off as "incompatible with transaction pooling"; with Usher it works
            runSqlAlchemy("seed 000", appUrl, "fly-preping", "QueuePool sqlalchemy ok");
            // transaction pooling: the app's connections share a pool no larger than the default (20)
            assertThat(pg.backendCount("user", "dbname")).isBetween(1, 20);
        }
    }

    // ---- seed 001: Fly.io standalone PgBouncer for horizontal scaling, Ecto -----------------------------------

    @Test
    void seed001StandalonePgBouncerIni() throws Exception {
        int port = LoopbackPorts.pickFree();
        writeUserlist("001-userlist.txt", "md5<hashed_password>", Md5Password.encrypt("postgres", superPw));
        Path ini = iniFile("001-flyio-horizontal-scaling.ini", Map.of(
                "host=your-postgres-host.com port=5432", "host=127.0.0.1 port=" + pg.port(),
                "listen_port = 5432", "listen_port = " + port));
        try (UsherProcess usher = UsherProcess.start(dir, Map.of(), ini.toString())) {
            EnvConfigCliTest.awaitServing(usher, port, "postgres", superPw, "viral_engine");
            // the seed's connection test: psql postgres://postgres:pass@pgbouncer.internal:5432/viral_engine
            assertThat(psql(Map.of(), "postgres://postgres:" + superPw + "@127.0.0.1:" + port + "/viral_engine",
                    "SELECT current_database()").output()).contains("viral_engine");
            // min_pool_size = 10: the pool is filled to ten servers once it exists, never beyond default_pool_size
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                    .until(() -> pg.backendCount("postgres", "viral_engine") >= 10);
            assertThat(pg.backendCount("postgres", "viral_engine")).isLessThanOrEqualTo(50);

            // the seed's "psql -h pgbouncer.internal -p 5432 -U pgbouncer pgbouncer -c 'SHOW POOLS;'": over TCP,
            // "pgbouncer" is no user of this config (no admin_users), refused as PgBouncer refuses it; on the Unix
            // socket (unix_socket_dir defaults to /tmp) the same OS user gets in, as with PgBouncer
            assertAdminOverTcpRefused(port, "pgbouncer", null);
            Map<String, String> pools = adminRow(port, "SHOW POOLS", "database", "viral_engine");
            assertThat(pools).containsEntry("pool_mode", "transaction").containsEntry("user", "postgres");
            Map<String, String> config = adminConfig(port);
            assertThat(config).containsEntry("max_client_conn", "1000").containsEntry("default_pool_size", "50")
                    .containsEntry("min_pool_size", "10").containsEntry("reserve_pool_size", "10")
                    .containsEntry("max_db_connections", "100").containsEntry("max_user_connections", "100")
                    .containsEntry("auth_type", "md5");
            // log_pooler_errors (default on) logged the refusal; nothing else went wrong
            assertThat(usher.stderrSoFar()).contains("pooler error: not allowed").doesNotContain(" ERROR ");
        }
    }

    @Test
    void seed001Ecto() {
        assumeTrue(ExternalTools.find("mix").isPresent() && ExternalTools.find("elixir").isPresent(),
                "Elixir/Ecto not installed here: seed 001's Ecto repo (pool_size 20) was not run");
    }

    // ---- seed 002: Modal serverless, SQLAlchemy NullPool ------------------------------------------------------

    @Test
    void seed002SelfHostedIniWithServerlessClients() throws Exception {
        int port = LoopbackPorts.pickFree();
        writeUserlist("002-userlist.txt", "md5<hashed_password>", Md5Password.encrypt("your_user", "seed002_pw"));
        Path ini = iniFile("002-modal-serverless.ini", Map.of(
                "host=your-postgres-host port=5432", "host=127.0.0.1 port=" + pg.port(),
                "listen_port = 6432", "listen_port = " + port));
        String appUrl = "postgresql://your_user:seed002_pw@127.0.0.1:" + port + "/qbo_mirror";
        try (UsherProcess usher = UsherProcess.start(dir, Map.of(), ini.toString())) {
            EnvConfigCliTest.awaitServing(usher, port, "your_user", "seed002_pw", "qbo_mirror");
            assertThat(psql(Map.of(), appUrl, "SELECT current_user").output()).contains("your_user");

            // NullPool, as the seed asserts: every use is a new connection (200 logins here)
            runSqlAlchemy("seed 002", appUrl, "nullpool", "NullPool sqlalchemy ok");
            for (int i = 0; i < 30; i++) {
                try (Connection c = EnvConfigCliTest.connect(port, "your_user", "seed002_pw", "qbo_mirror")) {
                    assertThat(one(c, "SELECT 1")).isEqualTo("1");
                }
            }
            // the seed's monitoring query: with the pooler, 5-20 server connections, never above default_pool_size
            assertThat(pg.backendCount("your_user", "qbo_mirror")).isBetween(1, 20);

            // the seed's checklist URL adds sslmode=require; with no client_tls_* in the seed's ini the pooler
            // has no TLS towards clients, so libpq refuses, as it does against PgBouncer with this ini
            ExternalTools.Result tls = psqlRun(Map.of(), appUrl + "?sslmode=require", "SELECT 1");
            assertThat(tls.exitCode()).isNotZero();
            assertThat(tls.output()).contains("server does not support SSL");
            // the seed's "psql -h pgbouncer-host -p 6432 -U your_user pgbouncer -c 'SHOW POOLS;'": your_user is in
            // neither admin_users nor stats_users, so the console says "not allowed", as PgBouncer does
            assertAdminOverTcpRefused(port, "your_user", "seed002_pw");
            Map<String, String> pools = adminRow(port, "SHOW POOLS", "database", "qbo_mirror");
            assertThat(pools).containsEntry("pool_mode", "transaction");
            Map<String, String> config = adminConfig(port);
            assertThat(config).containsEntry("max_client_conn", "1000").containsEntry("default_pool_size", "20")
                    .containsEntry("reserve_pool_size", "5").containsEntry("server_lifetime", "3600")
                    .containsEntry("server_idle_timeout", "600");
        }
    }

    // ---- seed 003: Docker Compose with the edoburu image; the same guide's pgbouncer.ini ----------------------

    // The compose file's environment as the image's entrypoint gets it (no file); clients log in with the URL's
    // user and password, pgjdbc (which sends extra_float_digits), psql and node-postgres
    @Test
    void seed003ComposeEnvironment() throws Exception {
        int port = LoopbackPorts.pickFree();
        Map<String, String> env = envFile("003-docker-compose.env", Map.of(
                "@postgres:5432/", "@127.0.0.1:" + pg.port() + "/"));
        env.put("LISTEN_ADDR", "127.0.0.1");
        env.put("LISTEN_PORT", String.valueOf(port));
        assertConfigCheck(env, null, List.of("pool_mode = transaction +; env POOL_MODE",
                "max_client_conn = 10000 +; env MAX_CLIENT_CONN", "default_pool_size = 100 +; env DEFAULT_POOL_SIZE",
                "min_pool_size = 10 +; env MIN_POOL_SIZE", "reserve_pool_size = 10 +; env RESERVE_POOL_SIZE",
                "reserve_pool_timeout = 5 +; env RESERVE_POOL_TIMEOUT", "max_db_connections = 100 +; env MAX_DB_CONNECTIONS",
                "max_user_connections = 10000 +; env MAX_USER_CONNECTIONS", "auth_type = md5",
                "ignore_startup_parameters = extra_float_digits"));
        try (UsherProcess usher = UsherProcess.start(dir, env)) {
            EnvConfigCliTest.awaitServing(usher, port, "user", "password", "hospitality_platform");
            try (Connection c = EnvConfigCliTest.connect(port, "user", "password", "hospitality_platform")) {
                assertThat(one(c, "SELECT current_user || '@' || current_database()")).isEqualTo("user@hospitality_platform");
            }
            assertThat(psql(Map.of("PGPASSWORD", "password"), "-h", "127.0.0.1", "-p", String.valueOf(port), "-U", "user",
                    "-d", "hospitality_platform", "-c", "SELECT 1;").output()).contains("1");
            runNode("{\"host\":\"127.0.0.1\",\"port\":" + port + ",\"database\":\"hospitality_platform\","
                    + "\"user\":\"user\",\"password\":\"password\"}");
            // MIN_POOL_SIZE=10 fills the pool once it exists
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                    .until(() -> pg.backendCount("user", "hospitality_platform") >= 10);
            assertThat(pg.backendCount("user", "hospitality_platform")).isLessThanOrEqualTo(100);
        }
    }

    @Test
    void seed003PgBouncerIni() throws Exception {
        int port = LoopbackPorts.pickFree();
        // the seed's hash recipe: md5 of password + user name, "md5" in front
        writeUserlist("003-userlist.txt", "md5xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                Md5Password.encrypt("hospitality_user", "your-password-here"));
        Path ini = iniFile("003-docker-compose.ini", Map.of(
                "host=localhost port=5432", "host=localhost port=" + pg.port(),
                "listen_port = 6432", "listen_port = " + port));
        try (UsherProcess usher = UsherProcess.start(dir, Map.of(), ini.toString())) {
            EnvConfigCliTest.awaitServing(usher, port, "hospitality_user", "your-password-here", "hospitality_platform");
            // the seed's verification: psql -h localhost -p 6432 -U hospitality_user -d hospitality_platform -c "SELECT 1;"
            assertThat(psql(Map.of("PGPASSWORD", "your-password-here"), "-h", "localhost", "-p", String.valueOf(port),
                    "-U", "hospitality_user", "-d", "hospitality_platform", "-c", "SELECT 1;").output()).contains("1");
            // ignore_startup_parameters = extra_float_digits: pgjdbc sends extra_float_digits=3 at login, which is
            // accepted and not passed on (the server keeps its default, 1), as PgBouncer does
            try (Connection c = EnvConfigCliTest.connect(port, "hospitality_user", "your-password-here", "hospitality_platform")) {
                assertThat(one(c, "SHOW extra_float_digits")).isEqualTo("1");
            }
            // the Encore service's getDatabaseConfig() with USE_PGBOUNCER=true, PGBOUNCER_HOST/PORT, DB_* values
            runNode("{\"host\":\"127.0.0.1\",\"port\":" + port + ",\"database\":\"hospitality_platform\","
                    + "\"user\":\"hospitality_user\",\"password\":\"your-password-here\"}");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                    .until(() -> pg.backendCount("hospitality_user", "hospitality_platform") >= 10);

            Map<String, String> pools = adminRow(port, "SHOW POOLS", "database", "hospitality_platform");
            assertThat(pools).containsEntry("pool_mode", "transaction");
            Map<String, String> config = adminConfig(port);
            assertThat(config).containsEntry("max_client_conn", "10000").containsEntry("default_pool_size", "100")
                    .containsEntry("min_pool_size", "10").containsEntry("max_db_connections", "100")
                    .containsEntry("max_user_connections", "10000").containsEntry("query_wait_timeout", "120")
                    .containsEntry("client_login_timeout", "60").containsEntry("server_connect_timeout", "15")
                    .containsEntry("ignore_startup_parameters", "extra_float_digits")
                    .containsEntry("tcp_keepidle", "30").containsEntry("stats_period", "60");
            // log_connections = 1
            await().atMost(Duration.ofSeconds(10)).until(() -> usher.stderrSoFar().contains("login attempt"));
            // the seed's "psql -h localhost -p 6432 pgbouncer -c 'SHOW POOLS;'" logs in as the OS user, who is not
            // in this userlist: refused, as by PgBouncer
            assertAdminOverTcpRefused(port, System.getProperty("user.name"), "x");
        }
    }

    // ---- seed 004: Node.js / BISMAN ERP, Prisma and node-postgres ---------------------------------------------

    @Test
    void seed004IniWithNodePostgresAndProbes() throws Exception {
        int port = LoopbackPorts.pickFree();
        String hash = Md5Password.encrypt("dbuser", "yourpassword");
        // the seed's recipe: echo -n "yourpassworddbuser" | md5sum | awk '{print "md5"$1}'
        assertThat(hash).isEqualTo("md5" + md5Hex("yourpassworddbuser"));
        writeUserlist("004-userlist.txt", "md5<generated-hash>", hash);
        Path ini = iniFile("004-bisman-erp.ini", Map.of(
                "host=your-rds-instance.region.rds.amazonaws.com port=5432", "host=127.0.0.1 port=" + pg.port(),
                "user=${PGUSER} password=${PGPASSWORD}", "user=dbuser password=yourpassword",
                "listen_port = 6432", "listen_port = " + port));
        try (UsherProcess usher = UsherProcess.start(dir, Map.of(), ini.toString())) {
            EnvConfigCliTest.awaitServing(usher, port, "dbuser", "yourpassword", "bisman_prod");
            // the compose health check / Kubernetes liveness probe: pg_isready -h localhost -p 6432
            Optional<Path> isready = PostgresCluster.findClientTool("pg_isready");
            if (isready.isPresent()) {
                ExternalTools.Result r = ExternalTools.run(List.of(isready.get().toString(), "-h", "localhost", "-p",
                        String.valueOf(port)), null, Map.of(), 30);
                assertThat(r.exitCode()).as(r.output()).isZero();
                assertThat(r.output()).contains("accepting connections");
            } else {
                System.out.println("seed 004: pg_isready not installed (Debian: postgresql-client): probe not run");
            }
            // the app's DATABASE_URL after the switch, with ?pgbouncer=true (and connection_limit, Prisma's)
            String url = "postgresql://dbuser:yourpassword@127.0.0.1:" + port + "/bisman_prod?pgbouncer=true";
            assertThat(psql(Map.of(), url.replace("?pgbouncer=true", ""), "SELECT current_user").output()).contains("dbuser");
            runNode("{\"connectionString\":\"" + url + "\",\"max\":1,\"connectionTimeoutMillis\":5000}");
            runNode("{\"connectionString\":\"" + url + "&connection_limit=10\",\"max\":1,\"connectionTimeoutMillis\":5000}");
            // min_pool_size = 5, under default_pool_size = 20 and max_db_connections = 90
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                    .until(() -> pg.backendCount("dbuser", "bisman_prod") >= 5);
            assertThat(pg.backendCount("dbuser", "bisman_prod")).isLessThanOrEqualTo(20);

            Map<String, String> pools = adminRow(port, "SHOW POOLS", "database", "bisman_prod");
            assertThat(pools).containsEntry("pool_mode", "transaction").containsEntry("user", "dbuser");
            // as in PgBouncer, the database made from the "*" entry is listed under its name, the "*" entry is not
            assertThat(adminRow(port, "SHOW DATABASES", "name", "bisman_prod")).containsEntry("force_user", "dbuser")
                    .containsEntry("database", "bisman_prod").containsEntry("pool_size", "20");
            assertThat(admin(port, "SHOW DATABASES")).noneMatch(r -> "*".equals(r.get("name")));
            Map<String, String> config = adminConfig(port);
            assertThat(config).containsEntry("max_client_conn", "1000").containsEntry("default_pool_size", "20")
                    .containsEntry("min_pool_size", "5").containsEntry("reserve_pool_size", "5")
                    .containsEntry("max_db_connections", "90").containsEntry("verbose", "1");
            assertThat(usher.stderrSoFar()).doesNotContain("yourpassword");
        }
    }

    @Test
    void seed004Prisma() {
        assumeTrue(ExternalTools.find("prisma").isPresent(),
                "Prisma not installed here: seed 004's Prisma client (pgbouncer=true&connection_limit=10) was not run; "
                        + "node-postgres ran the same URL");
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static String resource(String name) throws IOException {
        try (InputStream in = SeedConfigsTest.class.getResourceAsStream("/seeds/" + name)) {
            assertThat(in).as("resource seeds/" + name).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The seed's text with each {@code from} (which must be there) replaced by its {@code to}. */
    private static String adapt(String text, Map<String, String> replacements) {
        for (Map.Entry<String, String> e : replacements.entrySet()) {
            assertThat(text).as("seed text").contains(e.getKey());
            text = text.replace(e.getKey(), e.getValue());
        }
        return text;
    }

    /**
     * The seed's ini with {@code replacements}, and in all of them: listen_addr 0.0.0.0 becomes 127.0.0.1, the
     * auth_file /etc/pgbouncer/userlist.txt the one {@link #writeUserlist} wrote.
     */
    private Path iniFile(String name, Map<String, String> replacements) throws Exception {
        Path ini = dir.resolve("pgbouncer.ini");
        Map<String, String> all = new LinkedHashMap<>(replacements);
        all.put("listen_addr = 0.0.0.0", "listen_addr = 127.0.0.1");
        all.put("/etc/pgbouncer/userlist.txt", dir.resolve("userlist.txt").toString());
        Files.writeString(ini, adapt(resource(name), all));
        // the file as bin/usher would read it loads without a complaint
        UsherProcess.Run check = UsherProcess.run(dir, Map.of(), "config", "check", ini.toString());
        assertThat(check.exitCode()).as(check.toString()).isZero();
        assertThat(check.stdout()).contains("; OK");
        return ini;
    }

    private void writeUserlist(String name, String placeholder, String secret) throws IOException {
        Files.writeString(dir.resolve("userlist.txt"), adapt(resource(name), Map.of(placeholder, secret)));
    }

    /** A seed's KEY=VALUE lines (comments skipped), adapted. */
    private static Map<String, String> envFile(String name, Map<String, String> replacements) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : adapt(resource(name), replacements).split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int eq = line.indexOf('=');
                env.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return env;
    }

    private void assertConfigCheck(Map<String, String> env, String file, List<String> patterns) throws Exception {
        UsherProcess.Run r = file == null ? UsherProcess.run(dir, env, "config", "check")
                : UsherProcess.run(dir, env, "config", "check", file);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("; OK").doesNotContain("password@");
        for (String p : patterns) {
            assertThat(r.stdout()).containsPattern(p);
        }
    }

    private static Path psqlPath() {
        Optional<Path> psql = PostgresCluster.findClientTool("psql");
        assumeTrue(psql.isPresent(), "psql not installed (Debian: postgresql-client)");
        return psql.get();
    }

    /** psql -X -A -t with {@code args} (a URL then a command, or flags ending in -c); must succeed unless checked. */
    private static ExternalTools.Result psql(Map<String, String> env, String... args) throws IOException {
        ExternalTools.Result r = psqlRun(env, args);
        assertThat(r.exitCode()).as(String.join(" ", args) + "\n" + r.output()).isZero();
        return r;
    }

    private static ExternalTools.Result psqlRun(Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(psqlPath().toString(), "-X", "-A", "-t"));
        if (args.length == 2 && args[0].startsWith("postgres")) {
            cmd.addAll(List.of(args[0], "-c", args[1]));
        } else {
            cmd.addAll(List.of(args));
        }
        Map<String, String> e = new LinkedHashMap<>(env);
        e.put("PGCONNECT_TIMEOUT", "10");
        return ExternalTools.run(cmd, null, e, 60);
    }

    private static void assertAdminOverTcpRefused(int port, String user, String password) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PGCONNECT_TIMEOUT", "10");
        if (password != null) {
            env.put("PGPASSWORD", password);
        }
        ExternalTools.Result r = ExternalTools.run(List.of(psqlPath().toString(), "-X", "-h", "127.0.0.1", "-p",
                String.valueOf(port), "-U", user, "pgbouncer", "-c", "SHOW POOLS;"), null, env, 60);
        assertThat(r.exitCode()).as(r.output()).isNotZero();
        assertThat(r.output()).containsAnyOf("not allowed", "password authentication failed", "no password supplied");
    }

    /** The admin console over the Unix socket in /tmp as "pgbouncer" (the same OS user as Usher): rows as maps. */
    private static List<Map<String, String>> admin(int port, String command) throws IOException {
        ExternalTools.Result r = ExternalTools.run(List.of(psqlPath().toString(), "-X", "-A", "-F", "\t", "-P", "footer=off",
                "-h", "/tmp", "-p", String.valueOf(port), "-U", "pgbouncer", "pgbouncer", "-c", command), null,
                Map.of("PGCONNECT_TIMEOUT", "10"), 60);
        assertThat(r.exitCode()).as(command + ": " + r.output()).isZero();
        String[] lines = r.output().strip().split("\n");
        String[] header = lines[0].split("\t", -1);
        List<Map<String, String>> rows = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] cols = lines[i].split("\t", -1);
            Map<String, String> row = new LinkedHashMap<>();
            for (int j = 0; j < header.length && j < cols.length; j++) {
                row.put(header[j], cols[j]);
            }
            rows.add(row);
        }
        return rows;
    }

    private static Map<String, String> adminRow(int port, String command, String keyColumn, String key) throws IOException {
        List<Map<String, String>> rows = admin(port, command);
        return rows.stream().filter(r -> key.equals(r.get(keyColumn))).findFirst()
                .orElseThrow(() -> new AssertionError(command + " has no " + keyColumn + " " + key + ": " + rows));
    }

    private static Map<String, String> adminConfig(int port) throws IOException {
        Map<String, String> config = new LinkedHashMap<>();
        for (Map<String, String> row : admin(port, "SHOW CONFIG")) {
            config.put(row.get("key"), row.get("value"));
        }
        return config;
    }

    private static void runOk(List<String> command, String expected) throws Exception {
        ExternalTools.Result r = ExternalTools.run(command, null, Map.of(), 180);
        System.out.println(String.join(" ", command.subList(0, 2)) + ":\n" + r.output());
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).contains(expected);
    }

    /** src/test/drivers/seed_sqlalchemy.py in {@code mode}; says so and returns if SQLAlchemy or psycopg2 is missing. */
    private static void runSqlAlchemy(String seed, String url, String mode, String expected) throws Exception {
        Path python = ExternalTools.pythonWith("sqlalchemy").orElse(null);
        if (python == null || ExternalTools.pythonWith("psycopg2").isEmpty()) {
            System.out.println(seed + ": SQLAlchemy or psycopg2 not installed (Debian: python3-sqlalchemy, "
                    + "python3-psycopg2): its SQLAlchemy part skipped, psql and pgjdbc ran");
            return;
        }
        runOk(List.of(python.toString(), DRIVERS.resolve("seed_sqlalchemy.py").toString(), url, mode), expected);
    }

    private static void runNode(String poolConfigJson) throws Exception {
        Path node = ExternalTools.find("node").orElse(null);
        if (node == null || !Files.isDirectory(DRIVERS.resolve("node_modules").resolve("pg"))) {
            System.out.println("node or npm's pg not installed (npm install in src/test/drivers): node-postgres part skipped");
            return;
        }
        runOk(List.of(node.toString(), DRIVERS.resolve("seed_node_pg.js").toString(), poolConfigJson), "node-postgres seed ok");
    }

    private static String md5Hex(String s) throws Exception {
        byte[] d = java.security.MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8));
        return java.util.HexFormat.of().formatHex(d);
    }
}
