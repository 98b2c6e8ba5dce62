package io.usher.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** OS user names, for hba "peer" (the JDK has no getpwuid; /etc/passwd is read as NSS files would). */
public final class OsUsers {
    private OsUsers() {}

    /** The name of the OS user with this uid, or null. */
    public static String nameOf(int uid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
            String[] f = line.split(":", -1);
            if (f.length > 2 && f[2].equals(Integer.toString(uid))) {
                return f[0];
            }
        }
        return null;
    }
}
