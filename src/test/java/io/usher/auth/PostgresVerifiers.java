package io.usher.auth;

/**
 * Secrets produced by a real PostgreSQL 17 (CREATE ROLE ... PASSWORD with password_encryption set to
 * scram-sha-256 or md5, then SELECT rolpassword FROM pg_authid), with the passwords they were made from.
 */
final class PostgresVerifiers {

    /** Role u_scram, password "pencil". */
    static final String PENCIL =
            "SCRAM-SHA-256$4096:BoQujG9zhyDfhs4iQ8rqgA==$skCX2nJAO4Gddx9c+k/oDHlcki1oXxXFCumGylEE2UA=:AG31zvk9YZPzrAEET4sA7wpZy6w1HcGfJ7RDd3LekiQ=";
    /** Role u_nfkc, password "I" SOFT HYPHEN "X": SASLprep maps the soft hyphen to nothing. */
    static final String SOFT_HYPHEN_INSIDE =
            "SCRAM-SHA-256$4096:Au0IORMKlve73CNEIxTs1w==$bgRcRLZSagd/wgaYOzxzMtntKw7UYCfRah54J1ihh34=:joaIA1OjgMAUv/eGNDahkQHwSNCh3Hj7d6X3ciwnrhY=";
    /** Role u_nbsp, password "zw" NO-BREAK SPACE "sp": SASLprep maps the no-break space to a space. */
    static final String NO_BREAK_SPACE =
            "SCRAM-SHA-256$4096:K4lciU1WkzNsm/yNXBrQqA==$9ni+UU7P+N8c3hZhL2CNuotR9/AibV8d8CYoNcpWgd8=:Y6PGoxjNcdI2VMQWKDcVf8mwpPJIZ2zzY3DicZgAHUE=";
    /** Role u_shy, password a lone SOFT HYPHEN: nothing is left after mapping, so PostgreSQL hashes the raw bytes. */
    static final String SOFT_HYPHEN_ONLY =
            "SCRAM-SHA-256$4096:JUuKZwyRblN9zSggWfcBmw==$OBoUS63nCrn6KmeeGeWlqxLBUzh/zYfdbU3LVOdTGOc=:qTuyIZV12TbmsvpoxoduX5en5tGCx1K90j4uNcGxfxo=";
    /** Role u_lrm, password "a" LEFT-TO-RIGHT MARK "b": prohibited by SASLprep, so PostgreSQL hashes the raw bytes. */
    static final String LEFT_TO_RIGHT_MARK =
            "SCRAM-SHA-256$4096:2LLjH3AwQUdioiDvLAa8+Q==$R49zQ6eA7YzhIbok7J8qZfWVR9eAZ9v6I/bZwS/a5AM=:IW1ZqPJErt5ONFSj+q633xdaIzRweljrF/RJvxbugno=";
    /** Role u_md5, password "md5_pw". */
    static final String MD5_PW_U_MD5 = "md5624cc3d07120fabecb3aee5b49983e8f";

    private PostgresVerifiers() {
    }
}
