package io.usher.auth;

import io.usher.config.AuthType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** PgBouncer's subset of pg_hba.conf: first match wins, no match rejects, unusable lines are skipped. */
class HbaRulesTest {
    @TempDir
    Path dir;

    private HbaRules load(String text) throws Exception {
        Path f = dir.resolve("hba.conf");
        Files.writeString(f, text);
        return HbaRules.load(f);
    }

    private static AuthType method(HbaRules r, String ip, boolean tls, String db, String user) throws Exception {
        return r.evaluate(ip == null ? null : InetAddress.getByName(ip), tls, db, user).method();
    }

    @Test
    void firstMatchingLineDecides() throws Exception {
        Files.writeString(dir.resolve("admins.txt"), "alice, bob\ncarol\n");
        HbaRules r = load("""
                # comment
                local   all        all                    peer
                hostssl appdb      u_cert  0.0.0.0/0      cert
                hostnossl appdb    u_cert  0.0.0.0/0      reject
                host    sameuser   all     10.0.0.0/8     trust
                host    "Odd, Db"  @admins.txt 127.0.0.1 255.255.255.255 password
                host    appdb,otherdb u_md5 127.0.0.1/32  md5
                host    all        all     ::1/128        scram-sha-256
                host    all        all     all            scram-sha-256
                """);
        assertThat(r.size()).isEqualTo(8);
        assertThat(r.evaluate(null, false, "appdb", "x").peer()).isTrue();
        assertThat(method(r, "127.0.0.1", true, "appdb", "u_cert")).isEqualTo(AuthType.CERT);
        assertThat(method(r, "127.0.0.1", false, "appdb", "u_cert")).isNull();
        assertThat(method(r, "10.1.2.3", false, "joe", "joe")).isEqualTo(AuthType.TRUST);
        assertThat(method(r, "10.1.2.3", false, "appdb", "joe")).isEqualTo(AuthType.SCRAM_SHA_256);
        assertThat(method(r, "127.0.0.1", false, "Odd, Db", "carol")).isEqualTo(AuthType.PLAIN);
        assertThat(method(r, "127.0.0.1", false, "Odd, Db", "dave")).isEqualTo(AuthType.SCRAM_SHA_256);
        assertThat(method(r, "127.0.0.1", false, "otherdb", "u_md5")).isEqualTo(AuthType.MD5);
        assertThat(method(r, "::1", false, "otherdb", "u_md5")).isEqualTo(AuthType.SCRAM_SHA_256);
    }

    @Test
    void noMatchRejectsAndUnusableLinesAreSkipped() throws Exception {
        HbaRules r = load("""
                host all +admins 127.0.0.1/32 trust
                host replication all 127.0.0.1/32 trust
                host all all 127.0.0.1/32 ldap
                host all all 127.0.0.1/32 md5 extra=1
                host all all 127.0.0.1/33 trust
                hostgssenc all all 127.0.0.1/32 trust
                host all u_md5 127.0.0.1/32 md5
                """);
        assertThat(r.size()).isEqualTo(1);
        assertThat(method(r, "127.0.0.1", false, "appdb", "u_md5")).isEqualTo(AuthType.MD5);
        assertThat(method(r, "127.0.0.1", false, "appdb", "other")).isNull();
        assertThat(method(r, "127.0.0.2", false, "appdb", "u_md5")).isNull();
        assertThat(method(r, null, false, "appdb", "u_md5")).isNull();
    }
}
