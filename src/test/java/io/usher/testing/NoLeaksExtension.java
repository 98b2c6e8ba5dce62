package io.usher.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test class whose code leaked a Netty buffer. Registered for every class by auto-detection
 * (junit-platform.properties); tests run with -Dio.netty.leakDetection.level=paranoid, and Netty
 * reports a leak when it finds an unreleased buffer that was garbage collected, so this forces a GC
 * and some allocations (detection happens on allocation) before it looks.
 */
public final class NoLeaksExtension implements AfterAllCallback {
    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        for (int round = 0; round < 3; round++) {
            System.gc();
            Thread.sleep(50);
            for (int i = 0; i < 64; i++) {
                ByteBuf b = ByteBufAllocator.DEFAULT.buffer(64);
                b.release();
            }
        }
        List<String> leaks = LeakReports.drain();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty buffer leak(s) in " + context.getDisplayName()
                    + "; first:\n" + leaks.get(0));
        }
    }
}
