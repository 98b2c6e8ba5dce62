package io.usher.prepared;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.usher.prepared.FakePostgres.Msg;
import io.usher.protocol.ProtocolException;
import io.usher.stats.StatsRegistry;
import io.usher.testing.FuzzBytes;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The statement tracker between a client and toy PostgreSQL servers ({@link FakePostgres}), with the
 * client's messages cut into reads of any size, answers delivered at any point (pipelining), and the
 * client moved to another server whenever transaction pooling could. Checked:
 * <ul>
 *   <li>the client sees exactly the answers it would get from one PostgreSQL without a pooler (types;
 *       CommandComplete tags and ReadyForQuery status byte-exact), and no ProtocolException happens;</li>
 *   <li>what reaches the servers re-frames into whole messages, and a named Parse or Close of a
 *       statement there always uses a server name (USHER_n);</li>
 *   <li>the tracker is idle once the client's last Sync or Query is answered;</li>
 *   <li>with malformed client messages or garbage from the server: ProtocolException or nothing;</li>
 *   <li>always: every buffer the tracker allocated or was given is released, and no statement is left
 *       in the registry once the client and the servers are gone.</li>
 * </ul>
 *
 * <p>Input: one byte for max_prepared_statements (1-4, or 100 for values &gt;= 128), then operations of
 * a byte each (the op modulo 16) with their arguments; see {@link #step}.
 */
class StatementTrackerFuzzTest {

    private static final String[] NAMES = {"", "a", "b", "S_1", "c"};
    private static final String[] QUERIES = {"SELECT 1", "SELECT 2", "ERR", "DEALLOCATE ALL", "DISCARD ALL", "EMPTY"};
    private static final String[] PORTALS = {"", "p"};
    private static final int MAX_OPS = 300;

    /** A buffer allocator that remembers what it handed out. */
    private static final class RecordingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> allocated = new ArrayList<>();

        RecordingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = Unpooled.buffer(initialCapacity, maxCapacity);
            allocated.add(b);
            return b;
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            return newHeapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }

    /** One server connection: what Usher knows of it, its channel, and the toy backend behind it. */
    private static final class Server {
        final ServerStatements statements;
        final EmbeddedChannel channel = new EmbeddedChannel();
        final FakePostgres pg = new FakePostgres();
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final ArrayDeque<Msg> answers = new ArrayDeque<>();

        Server(StatementRegistry registry) {
            statements = new ServerStatements(registry);
        }
    }

    private final class Run {
        final RecordingAllocator alloc = new RecordingAllocator();
        final StatementRegistry registry = new StatementRegistry();
        final StatementTracker tracker;
        final Server[] servers;
        Server server;
        final EmbeddedChannel client = new EmbeddedChannel();
        final FakePostgres direct = new FakePostgres();
        final List<Msg> expected = new ArrayList<>();
        final ByteArrayOutputStream pending = new ByteArrayOutputStream();
        final List<ByteBuf> chunks = new ArrayList<>();
        boolean modelValid = true;   // false after a malformed client message or server garbage
        boolean clientBroken;        // a malformed client message was sent
        boolean serverBroken;        // garbage from a server was delivered
        boolean unsynced;            // extended-protocol messages since the last Sync
        byte lastType;
        boolean deallocateInFlight;  // a DEALLOCATE ALL or DISCARD ALL sent, its answer maybe not delivered

        Run(int maxPrepared) {
            tracker = new StatementTracker(registry, alloc, new StatsRegistry().forDatabase("fuzz"), 1 << 20, maxPrepared);
            servers = new Server[] {new Server(registry), new Server(registry)};
            server = servers[0];
        }

        void clientMessage(char type, byte[] payload) {
            ByteBuf b = Unpooled.buffer();
            b.writeByte(type).writeInt(4 + payload.length).writeBytes(payload);
            pending.writeBytes(Arrays.copyOfRange(b.array(), 0, b.writerIndex()));
            b.release();
            if (modelValid) {
                direct.handle((byte) type, payload, expected);
            }
            lastType = (byte) type;
            if ("PBDECH".indexOf(type) >= 0) {
                unsynced = true;
            } else if (type == 'S') {
                unsynced = false;
            }
        }

        /** Sends the first {@code n} pending bytes (all if n is 0) through the tracker. */
        void send(int n) throws ProtocolException {
            byte[] all = pending.toByteArray();
            int k = n == 0 ? all.length : Math.min(n, all.length);
            if (k == 0) {
                return;
            }
            pending.reset();
            pending.writeBytes(Arrays.copyOfRange(all, k, all.length));
            ByteBuf chunk = Unpooled.buffer(k + 3);
            chunk.writeZero(3).writeBytes(all, 0, k).readerIndex(3);
            chunks.add(chunk);
            tracker.toServer(chunk, server.statements, server.channel);
            if (tracker.fakesDue()) {
                tracker.emitDueFakes(client); // the server's stream is at a message boundary here
            }
            tracker.clientFlushNeeded();
            receive(server);
        }

        /** What the tracker wrote to a server: re-framed, checked, and answered by its backend. */
        void receive(Server s) {
            s.channel.flush();
            for (Object o; (o = s.channel.readOutbound()) != null; ) {
                ByteBuf b = (ByteBuf) o;
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                b.release();
                s.received.writeBytes(bytes);
            }
            byte[] all = s.received.toByteArray();
            int p = 0;
            while (p + 5 <= all.length) {
                int len = (all[p + 1] & 0xff) << 24 | (all[p + 2] & 0xff) << 16 | (all[p + 3] & 0xff) << 8 | (all[p + 4] & 0xff);
                assertThat(len).as("length of a message sent to the server").isBetween(4, 1 << 20);
                if (p + 1 + len > all.length) {
                    break;
                }
                byte type = all[p];
                byte[] payload = Arrays.copyOfRange(all, p + 5, p + 1 + len);
                assertThat("PBDECSHQd").as("message type sent to the server").contains(String.valueOf((char) type));
                if (!clientBroken) {
                    checkServerNames(type, payload);
                }
                if (modelValid) {
                    List<Msg> out = new ArrayList<>();
                    s.pg.handle(type, payload, out);
                    s.answers.addAll(out);
                }
                p += 1 + len;
            }
            s.received.reset();
            s.received.writeBytes(Arrays.copyOfRange(all, p, all.length));
        }

        void checkServerNames(byte type, byte[] payload) {
            String text = new String(payload, StandardCharsets.ISO_8859_1);
            String name = null;
            if (type == 'P') {
                name = text.substring(0, text.indexOf('\0'));
            } else if (type == 'C' && text.startsWith("S")) {
                name = text.substring(1, text.indexOf('\0'));
            }
            if (name != null && !name.isEmpty()) {
                assertThat(name).as("statement name on the server").startsWith("USHER_");
            }
        }

        /**
         * Delivers up to {@code n} answers of the current server to the tracker, then lets a message that
         * waited for them go on, as ClientConnection does after a read of the server.
         */
        void deliver(int n) throws ProtocolException {
            for (int i = 0; i < n && !server.answers.isEmpty(); i++) {
                deliver(server.answers.poll());
            }
            if (tracker.canResume()) {
                tracker.resume();
                if (tracker.fakesDue()) {
                    tracker.emitDueFakes(client);
                }
                tracker.clientFlushNeeded();
                receive(server);
            }
        }

        void deliver(Msg m) throws ProtocolException {
            if (tracker.fakesDue()) {
                tracker.emitDueFakes(client);
            }
            int action = tracker.onServerHeader(m.type(), m.payload().length);
            if (action == StatementTracker.DROP) {
                if (m.payload().length != 0) {
                    throw new ProtocolException("unexpected payload"); // as ClientConnection
                }
                return;
            }
            client.write(Unpooled.buffer().writeByte(m.type()).writeInt(4 + m.payload().length).writeBytes(m.payload()));
            if (action == StatementTracker.FORWARD_WANT_PAYLOAD) {
                tracker.onCommandComplete(Unpooled.wrappedBuffer(m.payload()));
            }
            tracker.emitDueFakes(client);
        }

        /**
         * A client that names a statement after DEALLOCATE ALL or DISCARD ALL waits for its answer first:
         * Usher learns of them from their CommandComplete only (docs/prepared-statements.md), so a
         * statement the server had before it counts as prepared until then.
         */
        void awaitDeallocate() throws ProtocolException {
            if (!deallocateInFlight) {
                return;
            }
            deallocateInFlight = false;
            send(0);
            for (int rounds = 0; rounds < 4 * MAX_OPS && (!server.answers.isEmpty() || tracker.waiting()); rounds++) {
                deliver(Integer.MAX_VALUE);
            }
        }

        static boolean deallocates(String query) {
            return query != null && (query.equals("DEALLOCATE ALL") || query.equals("DISCARD ALL"));
        }

        /** Transaction pooling: between transactions the client may get the other server. */
        void maybeSwitch() {
            // as ClientConnection.isClean: nothing unsent, nothing unanswered, no extended messages since Sync
            if (tracker.isIdle() && !unsynced && pending.size() == 0 && server.answers.isEmpty()
                    && server.received.size() == 0) {
                server = server == servers[0] ? servers[1] : servers[0];
                // the unnamed statement does not survive a change of server (nor, here, another client's use)
                direct.statements.remove("");
                server.pg.statements.remove("");
            }
        }

        /** The client's messages as the client sees them. */
        List<Msg> clientSaw() {
            client.flush();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (Object o; (o = client.readOutbound()) != null; ) {
                ByteBuf b = (ByteBuf) o;
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                b.release();
                all.writeBytes(bytes);
            }
            byte[] a = all.toByteArray();
            List<Msg> msgs = new ArrayList<>();
            int p = 0;
            while (p < a.length) {
                assertThat(p + 5).as("whole messages to the client").isLessThanOrEqualTo(a.length);
                int len = (a[p + 1] & 0xff) << 24 | (a[p + 2] & 0xff) << 16 | (a[p + 3] & 0xff) << 8 | (a[p + 4] & 0xff);
                msgs.add(new Msg(a[p], Arrays.copyOfRange(a, p + 5, p + 1 + len)));
                p += 1 + len;
            }
            return msgs;
        }

        void close() {
            tracker.close();
            for (Server s : servers) {
                s.statements.clear();
                s.channel.flush();
                for (Object o; (o = s.channel.readOutbound()) != null; ) {
                    ((ByteBuf) o).release();
                }
                s.channel.finishAndReleaseAll();
            }
            client.flush();
            for (Object o; (o = client.readOutbound()) != null; ) {
                ((ByteBuf) o).release();
            }
            client.finishAndReleaseAll();
        }
    }

    @FuzzTest(maxDuration = "3m")
    void statementTracker(byte[] input) {
        FuzzBytes in = new FuzzBytes(input);
        int m = in.u8();
        Run run = new Run(m >= 128 ? 100 : 1 + m % 4);
        try {
            try {
                for (int ops = 0; in.more() && ops < MAX_OPS; ops++) {
                    step(run, in);
                }
                run.send(0);
                // until all is answered (a message waiting for earlier pipelines goes on after their answers)
                for (int rounds = 0; rounds < 4 * MAX_OPS && (!run.server.answers.isEmpty() || run.tracker.waiting()); rounds++) {
                    run.deliver(Integer.MAX_VALUE);
                    run.receive(run.server);
                }
            } catch (ProtocolException e) {
                if (!run.clientBroken && !run.serverBroken) {
                    fail("ProtocolException with a well-behaved client and server", e);
                }
                return;
            }
            if (run.modelValid) {
                List<Msg> saw = run.clientSaw();
                assertThat(describe(saw)).as("what the client saw").isEqualTo(describe(run.expected));
                // (a Query after an unsynced error is skipped and so is not answered: not idle then)
                if (run.lastType == 'S' || (run.lastType == 'Q' && !run.unsynced)) {
                    assertThat(run.tracker.isIdle()).as("idle once the last Sync is answered").isTrue();
                }
            }
        } finally {
            run.close();
            assertThat(run.registry.size()).as("statements left in the registry").isZero();
            for (ByteBuf b : run.alloc.allocated) {
                assertThat(b.refCnt()).as("buffer allocated by the tracker released").isZero();
            }
            for (ByteBuf b : run.chunks) {
                assertThat(b.refCnt()).as("client read released").isZero();
            }
        }
    }

    /** One operation of the program; unknown ones do nothing. */
    private void step(Run run, FuzzBytes in) throws ProtocolException {
        switch (in.below(16)) {
            case 0 -> {
                String name = pick(NAMES, in);
                String query = pick(QUERIES, in);
                namesStatement(run, name);
                run.clientMessage('P', concat(cstring(name), cstring(query), new byte[] {0, 0}));
            }
            case 1 -> {
                String portal = pick(PORTALS, in);
                String name = pick(NAMES, in);
                namesStatement(run, name);
                run.clientMessage('B', concat(cstring(portal), cstring(name), new byte[6]));
            }
            case 2 -> {
                String name = pick(NAMES, in);
                namesStatement(run, name);
                run.clientMessage('D', concat(new byte[] {'S'}, cstring(name)));
            }
            case 3 -> run.clientMessage('D', concat(new byte[] {'P'}, cstring(pick(PORTALS, in))));
            case 4 -> {
                String portal = pick(PORTALS, in);
                run.deallocateInFlight |= Run.deallocates(run.direct.portals.get(portal));
                run.clientMessage('E', concat(cstring(portal), new byte[] {0, 0, 0, (byte) in.below(3)}));
            }
            case 5 -> run.clientMessage('C', concat(new byte[] {'S'}, cstring(pick(NAMES, in))));
            case 6 -> run.clientMessage('C', concat(new byte[] {'P'}, cstring(pick(PORTALS, in))));
            case 7, 8 -> run.clientMessage('S', new byte[0]);
            case 9 -> {
                String query = pick(QUERIES, in);
                run.deallocateInFlight |= Run.deallocates(query);
                run.clientMessage('Q', cstring(query));
            }
            case 10 -> run.clientMessage('H', new byte[0]);
            case 11 -> run.send(in.u8());
            case 12 -> run.deliver(1 + in.below(8));
            case 13 -> run.maybeSwitch();
            case 14 -> {
                // a malformed (or odd) client message: any type the tracker rewrites, any payload
                char type = "PBDCd".charAt(in.below(5));
                byte[] payload = in.take(in.below(12));
                run.clientBroken = true;
                run.modelValid = false;
                run.clientMessage(type, payload);
            }
            default -> {
                // garbage from the server
                byte type = (byte) in.u8();
                byte[] payload = in.take(in.below(4));
                run.serverBroken = true;
                run.modelValid = false;
                run.deliver(new Msg(type, payload));
            }
        }
    }

    /** A Parse, Bind or Describe of a named statement is next. */
    private static void namesStatement(Run run, String name) throws ProtocolException {
        if (!name.isEmpty()) {
            run.awaitDeallocate();
        }
    }

    private static String pick(String[] options, FuzzBytes in) {
        return options[in.below(options.length)];
    }

    private static byte[] cstring(String s) {
        return (s + "\0").getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Types in order, with the tag of CommandComplete and the status of ReadyForQuery. */
    private static List<String> describe(List<Msg> msgs) {
        List<String> out = new ArrayList<>();
        for (Msg m : msgs) {
            char t = (char) m.type();
            out.add(t == 'C' || t == 'Z' ? t + ":" + new String(m.payload(), StandardCharsets.ISO_8859_1) : String.valueOf(t));
        }
        return out;
    }
}
