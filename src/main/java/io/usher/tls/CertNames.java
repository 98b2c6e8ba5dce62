package io.usher.tls;

import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/** Names in certificates. */
public final class CertNames {
    private CertNames() {}

    /** The CommonName of the certificate's subject (the most specific one if there are several), or null. */
    public static String commonName(X509Certificate cert) {
        try {
            LdapName name = new LdapName(cert.getSubjectX500Principal().getName(javax.security.auth.x500.X500Principal.RFC2253));
            String cn = null;
            for (Rdn rdn : name.getRdns()) { // least specific first
                if ("CN".equalsIgnoreCase(rdn.getType())) {
                    cn = String.valueOf(rdn.getValue());
                }
            }
            return cn;
        } catch (InvalidNameException e) {
            return null;
        }
    }
}
