package io.usher.auth;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * A cryptographically strong generator per thread, for salts, nonces and cancel keys. One shared
 * {@code new SecureRandom()} (NativePRNG) serialises every caller on one lock and showed in profiles
 * of connection churn, the event loops waking each other on it; a DRBG per thread is seeded once
 * from the system's entropy and is never contended.
 */
public final class ThreadRandom {
    private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(ThreadRandom::create);

    private ThreadRandom() {
    }

    /** This thread's generator. */
    public static SecureRandom current() {
        return RANDOM.get();
    }

    private static SecureRandom create() {
        try {
            return SecureRandom.getInstance("DRBG");
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }
}
