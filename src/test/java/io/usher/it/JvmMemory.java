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

    /**
     * Live instances of a class in this JVM after a full GC (jcmd GC.class_histogram, which collects first), or -1
     * when the JDK has no jcmd.
     */
    static long liveInstances(String className) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        if (!Files.isExecutable(jcmd)) {
            return -1;
        }
        Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(ProcessHandle.current().pid()), "GC.class_histogram")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            return -1;
        }
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            // " 4:   3005   745240  io.usher.client.ClientConnection"
            if (f.length >= 4 && f[3].equals(className)) {
                return Long.parseLong(f[1]);
            }
        }
        return 0;
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
