package io.usher.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 that injects network faults between two parties (clients and Usher, or Usher and
 * PostgreSQL). Each accepted connection gets its own connection to the target and two pump threads, one a
 * direction. Faults are switched on and off while connections run; {@link #heal()} lifts them all.
 * <ul>
 * <li>{@link #delay}: every chunk waits this long before it is forwarded (both directions).</li>
 * <li>{@link #stall()}: nothing is forwarded (bytes and FINs are held, the sockets stay open, the sender sees TCP
 * backpressure); on {@link #heal()} everything held is delivered, as a network partition that ends.</li>
 * <li>{@link #drop()}: nothing is forwarded and what comes is thrown away (a dead link). On {@link #heal()} the
 * connections that lost bytes are reset, since a stream with a hole cannot go on; new ones work.</li>
 * <li>{@link #resetAll()}: every open connection is reset (RST, SO_LINGER 0) on both sides at once.</li>
 * <li>{@link #refuseNew(boolean)}: new connections are accepted and reset at once.</li>
 * <li>{@link #halfClose(Side)}: every open connection gets a FIN towards that side only; the other direction
 * goes on.</li>
 * <li>{@link #truncate(Side, int)}: the next bytes towards that side, of every open connection, are cut after
 * {@code n} bytes and the connection is then closed (FIN) on both sides.</li>
 * </ul>
 * Thread per connection and direction: made for tests with tens of connections, bounded by the test.
 */
public final class FaultProxy implements AutoCloseable {
    /** Which party a directed fault goes towards: the one that connected to the proxy, or the target. */
    public enum Side { CLIENT, TARGET }

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Link> links = new CopyOnWriteArrayList<>();
    private final Thread acceptor;
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicLong forwarded = new AtomicLong();
    private final Object gate = new Object();
    private volatile long delayNanos;
    private volatile boolean stalled;
    private volatile boolean dropping;
    private volatile boolean refusing;
    private volatile boolean closed;

    private FaultProxy(ServerSocket listener, InetSocketAddress target) {
        this.listener = listener;
        this.target = target;
        this.acceptor = new Thread(this::acceptLoop, "fault-proxy-accept-" + listener.getLocalPort());
        acceptor.setDaemon(true);
    }

    /** A proxy on a free port of 127.0.0.1 forwarding to 127.0.0.1:{@code targetPort}. */
    public static FaultProxy start(int targetPort) {
        try {
            ServerSocket ss = new ServerSocket(0, 200, InetAddress.getByName("127.0.0.1"));
            FaultProxy p = new FaultProxy(ss, new InetSocketAddress("127.0.0.1", targetPort));
            p.acceptor.start();
            return p;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** Connections accepted so far. */
    public int accepted() {
        return accepted.get();
    }

    /** Connections still open (either direction still running). */
    public int open() {
        return (int) links.stream().filter(l -> !l.done()).count();
    }

    /** Bytes forwarded so far, both directions. */
    public long forwarded() {
        return forwarded.get();
    }

    public void delay(Duration d) {
        delayNanos = d.toNanos();
    }

    public void stall() {
        stalled = true;
    }

    public void drop() {
        dropping = true;
    }

    public void refuseNew(boolean refuse) {
        refusing = refuse;
    }

    /** Lifts every fault: held bytes are delivered, connections that lost bytes are reset. */
    public void heal() {
        delayNanos = 0;
        refusing = false;
        dropping = false;
        for (Link l : links) {
            if (l.lostBytes) {
                l.reset();
            }
        }
        synchronized (gate) {
            stalled = false;
            gate.notifyAll();
        }
    }

    public void resetAll() {
        links.forEach(Link::reset);
    }

    public void halfClose(Side towards) {
        for (Link l : links) {
            l.halfClose(towards);
        }
    }

    public void truncate(Side towards, int afterBytes) {
        for (Link l : links) {
            (towards == Side.TARGET ? l.up : l.down).truncateAfter.set(afterBytes);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            if (refusing) {
                rst(client);
                continue;
            }
            Socket server = new Socket();
            try {
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                server.connect(target, 5000);
            } catch (IOException e) {
                rst(client);
                closeQuietly(server);
                continue;
            }
            Link link = new Link(client, server);
            links.removeIf(Link::done);
            links.add(link);
            link.start();
        }
    }

    /** Waits while stalled. */
    private void passGate() throws InterruptedException {
        synchronized (gate) {
            while (stalled && !closed) {
                gate.wait(100);
            }
        }
    }

    /** One proxied connection: client <-> proxy <-> target. */
    private final class Link {
        final Socket client;
        final Socket server;
        final Pump up;
        final Pump down;
        volatile boolean lostBytes;

        Link(Socket client, Socket server) {
            this.client = client;
            this.server = server;
            this.up = new Pump(client, server, "up");
            this.down = new Pump(server, client, "down");
        }

        void start() {
            up.thread.start();
            down.thread.start();
        }

        boolean done() {
            return !up.thread.isAlive() && !down.thread.isAlive();
        }

        void reset() {
            rst(client);
            rst(server);
        }

        void halfClose(Side towards) {
            Pump p = towards == Side.TARGET ? up : down;
            p.halfClosed = true;
            try {
                p.to.shutdownOutput();
            } catch (IOException ignored) {
                // already closed
            }
        }

        /** Copies one direction; on its end, closes what it should. */
        final class Pump implements Runnable {
            final Socket from;
            final Socket to;
            final Thread thread;
            final AtomicInteger truncateAfter = new AtomicInteger(-1);
            volatile boolean halfClosed;

            Pump(Socket from, Socket to, String name) {
                this.from = from;
                this.to = to;
                this.thread = new Thread(this, "fault-proxy-" + name + "-" + from.getPort());
                thread.setDaemon(true);
            }

            @Override
            public void run() {
                byte[] buf = new byte[16384];
                try {
                    InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream();
                    while (true) {
                        int n = in.read(buf);
                        passGate();
                        if (dropping) {
                            lostBytes = true;
                            if (n < 0) {
                                // the FIN is lost too; heal() resets the connection
                                return;
                            }
                            continue;
                        }
                        if (n < 0) {
                            if (!halfClosed) {
                                to.shutdownOutput();
                            }
                            return;
                        }
                        long d = delayNanos;
                        if (d > 0) {
                            Thread.sleep(d / 1_000_000, (int) (d % 1_000_000));
                        }
                        if (halfClosed) {
                            continue; // the side it goes to was told no more is coming
                        }
                        int cut = truncateAfter.getAndSet(-1);
                        if (cut >= 0) {
                            out.write(buf, 0, Math.min(cut, n));
                            out.flush();
                            closeQuietly(to);
                            closeQuietly(from);
                            return;
                        }
                        out.write(buf, 0, n);
                        out.flush();
                        forwarded.addAndGet(n);
                    }
                } catch (IOException | InterruptedException e) {
                    // a reset or close of either socket: end both
                    closeQuietly(from);
                    closeQuietly(to);
                }
            }
        }
    }

    private static void rst(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (SocketException ignored) {
            // closed already
        }
        closeQuietly(s);
    }

    private static void closeQuietly(java.io.Closeable s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (gate) {
            gate.notifyAll();
        }
        closeQuietly(listener);
        links.forEach(Link::reset);
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
