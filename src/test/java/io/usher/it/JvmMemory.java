package io.usher.it;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;

import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * What this JVM (which runs Usher in-process) holds: heap after GC and direct memory, as far as Netty and the
 * JDK count it, and its open file descriptors.
 */
record JvmMemory(long heapAfterGc, long nettyDirect, long allocatorDirect, long pooledAllocatorDirect, long jdkDirect) {
    static final long MB = 1024 * 1024;

    static JvmMemory now() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long allocator = ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p
                ? p.metric().usedDirectMemory() + p.metric().usedHeapMemory() : 0;
        long pooled = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
        long jdk = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                jdk = b.getMemoryUsed();
            }
        }
        return new JvmMemory(heap, Math.max(0, PlatformDependent.usedDirectMemory()), allocator, pooled, jdk);
    }

    /** The largest growth of any of the direct counters, plus the heap's. */
    long growthSince(JvmMemory before) {
        long direct = Math.max(Math.max(nettyDirect - before.nettyDirect, allocatorDirect - before.allocatorDirect),
                Math.max(pooledAllocatorDirect - before.pooledAllocatorDirect, jdkDirect - before.jdkDirect));
        return Math.max(0, heapAfterGc - before.heapAfterGc) + Math.max(0, direct);
    }

    /** Open file descriptors of this process. */
    static int openFds() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        } catch (IOException e) {
            return -1;
        }
    }

    @Override
    public String toString() {
        return String.format("heap %d MB, netty direct %d MB, default allocator %d MB, pooled allocator %d MB, jdk direct %d MB",
                heapAfterGc / MB, nettyDirect / MB, allocatorDirect / MB, pooledAllocatorDirect / MB, jdkDirect / MB);
    }
}
