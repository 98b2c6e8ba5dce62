package io.usher.prepared;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.usher.protocol.MessageScanner;
import io.usher.protocol.MessageType;
import io.usher.protocol.Messages;
import io.usher.protocol.ProtocolException;
import io.usher.stats.DatabaseStats;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Protocol-level named prepared statements for one client in transaction and statement pooling, as
 * PgBouncer 1.21+ does with max_prepared_statements: the client's names are its own, servers know
 * each distinct statement as {@code USHER_<id>}, and a statement is prepared on whichever server the
 * client gets, only where that server does not have it yet.
 *
 * <p>Client to server ({@link #toServer}): Parse, Bind, Describe and Close of named statements are
 * rewritten; a Parse the server does not need and every Close of a named statement are answered by
 * Usher itself; a Bind or Describe of a statement the server lacks gets a Parse in front. Everything
 * else passes through as the bytes that arrived.
 *
 * <p>Server to client ({@link #onServerHeader}): every message sent to the server that PostgreSQL
 * answers is queued in order, so that the answers Usher makes itself (ParseComplete, CloseComplete)
 * reach the client exactly where PostgreSQL would have put them, and the answers to what Usher added
 * (ParseComplete of an injected Parse, CloseComplete of an eviction) are dropped. After an error,
 * PostgreSQL skips to the next Sync; so does the queue, undoing what the skipped messages would have
 * done (a Parse that never ran does not leave a name behind; a Close that never ran leaves it).
 *
 * <p>What a message does may depend on the outcome of an earlier pipeline, one that ended with a Sync
 * and is not answered yet: a second name for a statement whose Parse is in that pipeline, a Bind of a
 * name whose Parse or Close is there, a statement evicted there. If that pipeline failed, PostgreSQL
 * ran it only up to the error, while the message goes on regardless. Such a message, and what the
 * client sends after it, waits until the server has answered those pipelines ({@link #waiting},
 * {@link #resume}); clients that wait for ReadyForQuery, and pipelines whose messages are settled,
 * never wait.
 *
 * <p>Runs on the client's event loop. Not thread-safe.
 */
public final class StatementTracker {

    // what an entry of the queue stands for
    private static final byte PARSE = 1;
    private static final byte BIND = 2;
    private static final byte DESCRIBE = 3;
    private static final byte EXECUTE = 4;
    private static final byte CLOSE = 5;
    private static final byte SYNC = 6;
    private static final byte QUERY = 7;        // Query and FunctionCall: answered up to ReadyForQuery
    private static final byte FAKE_PARSE = 8;   // ParseComplete made by Usher
    private static final byte FAKE_CLOSE = 9;   // CloseComplete made by Usher
    private static final byte SKIP = 0x40;      // the server's answer is Usher's business: drop it

    /** What {@link #onServerHeader} tells the caller to do with the server's message. */
    public static final int FORWARD = 0;
    public static final int DROP = 1;
    public static final int FORWARD_WANT_PAYLOAD = 2; // a CommandComplete that may be DEALLOCATE ALL

    /** A client name bound to a statement; identity tells whether a later undo still applies. */
    private static final class Registration {
        final String name;
        final SharedStatement statement;
        final long at;  // position in the client's stream
        final ServerStatements on;  // the server its Parse (or Usher's ParseComplete) went to
        final long sentAt;          // and its position there
        /** Its Parse failed or was skipped, or DEALLOCATE ALL removed it: a skipped Close must not bring it back. */
        boolean gone;

        Registration(String name, SharedStatement statement, long at, ServerStatements on, long sentAt) {
            this.name = name;
            this.statement = statement;
            this.at = at;
            this.on = on;
            this.sentAt = sentAt;
        }
    }

    /** A Parse sent to the server: what to undo if it fails or is skipped. */
    private record ParseSent(SharedStatement statement, ServerStatements server, ServerStatements.Entry entry,
                             Registration registration) {}

    private final StatementRegistry registry;
    private final ByteBufAllocator alloc;
    private final DatabaseStats stats;
    private final Map<String, Registration> names = new HashMap<>();
    private final MessageScanner clientScanner;
    private final ClientListener clientListener = new ClientListener();
    private long clientPosition;

    // the queue of answers expected from the server, oldest first; allocated at the first message
    // (an idle client costs nothing here: thousands of them are the usual case)
    private byte[] kinds = NO_KINDS;
    private Object[] refs = NO_REFS;
    private long[] serverAt = NO_POSITIONS;
    private long[] clientAt = NO_POSITIONS;
    private static final byte[] NO_KINDS = {};
    private static final Object[] NO_REFS = {};
    private static final long[] NO_POSITIONS = {};
    private int head;
    private int size;

    // the current send
    private ServerStatements server;
    private Channel serverChannel;
    private ByteBuf chunk;
    private int segmentStart;
    private boolean inRewritten;    // a Parse/Bind/Describe/Close is being captured
    private ByteBuf heldHeader;     // the start of a header at the end of the last chunk, not yet sent
    private boolean clientFlushNeeded;
    /** Fakes at the head of the queue wait for the server's stream to reach a message boundary. */
    private boolean fakesDue;
    /**
     * An error left the server skipping to a Sync the client has not sent yet: what the client sends
     * until then goes to the server, which ignores it, so none of it is queued for an answer.
     */
    private boolean skippingToSync;
    /** max_prepared_statements when the client logged in (a RELOAD applies to clients from then on). */
    private final int maxPreparedStatements;
    /** FAKE_CLOSE entries of a client name in the queue (a Close that may still be skipped). */
    private int namedClosesQueued;
    // a message that waits for earlier pipelines to be answered (null when none), and what came after it
    private ByteBuf waitingPayload;
    private byte waitingType;
    private ByteBuf heldInput;

    public StatementTracker(StatementRegistry registry, ByteBufAllocator alloc, DatabaseStats stats,
                            int maxPacketSize, int maxPreparedStatements) {
        this.registry = registry;
        this.alloc = alloc;
        this.stats = stats;
        this.maxPreparedStatements = maxPreparedStatements;
        this.clientScanner = new MessageScanner(maxPacketSize);
    }

    /** Statements this client has prepared (SHOW CLIENTS prepared_statements). */
    public int size() {
        return names.size();
    }

    /** Nothing half-sent and no answer outstanding: the server may go back to the pool. */
    public boolean isIdle() {
        return size == 0 && !skippingToSync && heldHeader == null && !inRewritten && clientScanner.atBoundary()
                && waitingPayload == null;
    }

    /**
     * A message waits for the answers to earlier pipelines (and what the client sends goes on after it):
     * the caller stops reading the client until {@link #canResume}, then calls {@link #resume}.
     */
    public boolean waiting() {
        return waitingPayload != null;
    }

    /** A waiting message may go on: the server has answered every pipeline sent before it. */
    public boolean canResume() {
        return waitingPayload != null && server.answered >= server.synced;
    }

    /**
     * Sends the waiting message and what the client sent after it, as {@link #toServer} does (another
     * message may wait again). Call only when {@link #canResume}.
     */
    public void resume() throws ProtocolException {
        ByteBuf payload = waitingPayload;
        waitingPayload = null;
        ByteBuf rest = heldInput;
        heldInput = null;
        try {
            if (!handle(waitingType, payload, -1, -1)) {
                throw new IllegalStateException("a message waits although every earlier pipeline is answered");
            }
        } catch (ProtocolException | RuntimeException e) {
            if (rest != null) {
                rest.release();
            }
            throw e;
        } finally {
            payload.release();
        }
        if (rest != null) {
            toServer(rest, server, serverChannel);
        }
    }

    // ---------------------------------------------------------------- client -> server

    /**
     * Sends client bytes to the server, rewritten where statements are involved. Writes without
     * flushing; the caller flushes the server (and {@link #clientFlushNeeded} says whether Usher
     * wrote answers to the client). Consumes {@code buf}.
     */
    public void toServer(ByteBuf buf, ServerStatements server, Channel serverChannel)
            throws ProtocolException {
        if (waitingPayload != null) {
            hold(buf, buf.readerIndex()); // behind the waiting message (the server cannot change meanwhile)
            buf.release();
            return;
        }
        this.server = server;
        this.serverChannel = serverChannel;
        this.chunk = buf;
        this.segmentStart = buf.readerIndex();
        boolean passed = false;
        this.rewrittenStart = buf.readerIndex(); // a message captured since an earlier read goes on from here
        try {
            clientScanner.scan(buf, clientListener);
            int end = buf.writerIndex();
            if (waitingPayload != null) {
                // what came before the waiting message is sent; what came after it waits with it
                hold(buf, segmentStart);
                return;
            }
            if (inRewritten) {
                // the rest of this chunk belongs to a message being captured: nothing more to send yet
                end = Math.max(segmentStart, rewrittenStart);
            } else if (clientScanner.partialHeaderBytes() > 0) {
                // hold back a header cut by the read: it may be the start of a message to rewrite (its
                // start may be held already: a header can straddle more than two reads)
                int here = clientScanner.partialHeaderBytes() - (heldHeader == null ? 0 : heldHeader.readableBytes());
                end = buf.writerIndex() - here;
                if (heldHeader == null) {
                    heldHeader = alloc.buffer(5);
                }
                heldHeader.writeBytes(buf, end, here);
            }
            if (segmentStart == buf.readerIndex() && end == buf.writerIndex()) {
                serverChannel.write(buf); // nothing rewritten: the read goes on whole, as without tracking
                passed = true;
            } else {
                sendSegment(end);
            }
        } finally {
            if (!passed) {
                buf.release();
            }
            this.chunk = null;
        }
    }

    /** Whether the last {@link #toServer} wrote answers to the client that need a flush. */
    public boolean clientFlushNeeded() {
        boolean b = clientFlushNeeded;
        clientFlushNeeded = false;
        return b;
    }

    private int rewrittenStart;

    private void sendSegment(int upTo) {
        if (upTo > segmentStart) {
            serverChannel.write(chunk.retainedSlice(segmentStart, upTo - segmentStart));
        }
        segmentStart = Math.max(segmentStart, upTo);
    }

    /** Keeps client bytes from {@code from} on, behind a waiting message. */
    private void hold(ByteBuf buf, int from) {
        int n = buf.writerIndex() - from;
        if (n > 0) {
            if (heldInput == null) {
                heldInput = alloc.buffer(n);
            }
            heldInput.writeBytes(buf, from, n);
        }
    }

    private void sendHeldHeader() {
        if (heldHeader != null) {
            serverChannel.write(heldHeader);
            heldHeader = null;
        }
    }

    private void dropHeldHeader() {
        if (heldHeader != null) {
            heldHeader.release();
            heldHeader = null;
        }
    }

    private final class ClientListener implements MessageScanner.Listener {
        @Override
        public boolean onHeader(byte type, int payloadLength, int start) {
            switch (type) {
                case MessageType.PARSE:
                case MessageType.BIND:
                case MessageType.DESCRIBE:
                case MessageType.CLOSE: {
                    byte unnamed = start >= 0 ? unnamedKind(type, start, payloadLength) : 0;
                    if (unnamed != 0) {
                        // the unnamed statement or a portal: nothing to rewrite, it stays in the read as it came
                        sendHeldHeader();
                        server.sent++;
                        push(unnamed, null);
                        return false;
                    }
                    if (start >= 0) {
                        sendSegment(start);
                    } else {
                        dropHeldHeader(); // the message will be rebuilt from its payload
                    }
                    inRewritten = true;
                    rewrittenStart = start >= 0 ? start : chunk.readerIndex();
                    return true;
                }
                default:
                    sendHeldHeader();
                    break;
            }
            server.sent++;
            switch (type) {
                case MessageType.EXECUTE:
                    push(EXECUTE, null);
                    break;
                case MessageType.SYNC:
                    push(SYNC, null);
                    break;
                case MessageType.QUERY:
                case MessageType.FUNCTION_CALL:
                    push(QUERY, null);
                    break;
                default:
                    // Flush, CopyData, CopyDone, CopyFail: PostgreSQL answers none of them by itself
                    break;
            }
            return false;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
            inRewritten = false;
            segmentStart = end;
            if (handle(type, payload, start, end)) {
                return true;
            }
            // it waits for earlier pipelines: scanning stops here (the scanner is between messages)
            waitingType = type;
            waitingPayload = alloc.buffer(payload.readableBytes()).writeBytes(payload, payload.readerIndex(),
                    payload.readableBytes());
            return false;
        }
    }

    /**
     * A Parse, Bind, Describe or Close that names a statement. False if it must wait for earlier pipelines
     * to be answered: then nothing was sent or changed.
     */
    private boolean handle(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
        server.sent++;
        boolean done = switch (type) {
            case MessageType.PARSE -> parse(payload, start, end);
            case MessageType.BIND -> bindOrDescribe(MessageType.BIND, payload, start, end);
            case MessageType.DESCRIBE -> bindOrDescribe(MessageType.DESCRIBE, payload, start, end);
            default -> close(payload, start, end);
        };
        if (!done) {
            server.sent--;
        }
        return done;
    }

    /** Whether pipelines sent before the current one are still unanswered (else nothing can be unsettled). */
    private boolean earlierPipelinesInFlight() {
        return server.answered < server.synced;
    }

    /** Whether the registration's Parse is in an earlier pipeline not yet answered. */
    private boolean unsettled(Registration r) {
        return r.on == server && r.sentAt > server.answered && r.sentAt < server.synced;
    }

    /** Whether a Close of this client name, in an earlier pipeline not yet answered, may still be skipped. */
    private boolean closeUnsettled(String name) {
        if (namedClosesQueued == 0) {
            return false;
        }
        for (int j = 0; j < size; j++) {
            int i = (head + j) & (kinds.length - 1);
            if (serverAt[i] >= server.synced) {
                break; // the pipeline being sent: if the Close is skipped, so is what follows it
            }
            if (kinds[i] == FAKE_CLOSE && refs[i] instanceof Registration r && r.name.equals(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * For a Parse, Bind, Describe or Close whose header starts at {@code start} in this read: the queue
     * kind to push when it names no statement of the client's (the unnamed statement, or a portal), so it
     * can pass through without being captured; 0 when it must be looked at whole, or when the bytes
     * needed to tell are not in this read.
     */
    private byte unnamedKind(byte type, int start, int payloadLength) {
        int p = start + 5;
        int end = Math.min(chunk.writerIndex(), p + payloadLength);
        if (p >= end) {
            return 0;
        }
        switch (type) {
            case MessageType.PARSE:
                return chunk.getByte(p) == 0 ? PARSE : 0;
            case MessageType.BIND: {
                int nul = chunk.indexOf(p, end, (byte) 0); // end of the portal name
                return nul >= 0 && nul + 1 < end && chunk.getByte(nul + 1) == 0 ? BIND : 0;
            }
            default: {
                byte what = chunk.getByte(p);
                boolean portalOrUnnamed = what == 'P' || (what == 'S' && p + 1 < end && chunk.getByte(p + 1) == 0);
                if (!portalOrUnnamed) {
                    return 0;
                }
                return type == MessageType.DESCRIBE ? DESCRIBE : CLOSE;
            }
        }
    }

    /** The message as it arrived: a slice when it lies in this chunk, else rebuilt from its payload. */
    private void sendOriginal(byte type, ByteBuf payload, int start, int end) {
        if (start >= 0) {
            serverChannel.write(chunk.retainedSlice(start, end - start));
        } else {
            ByteBuf b = alloc.buffer(5 + payload.readableBytes());
            b.writeByte(type).writeInt(4 + payload.readableBytes()).writeBytes(payload, payload.readerIndex(),
                    payload.readableBytes());
            serverChannel.write(b);
        }
    }

    private boolean parse(ByteBuf payload, int start, int end) throws ProtocolException {
        int base = payload.readerIndex();
        String name = Messages.readCString(payload);
        if (name.isEmpty()) {
            payload.readerIndex(base);
            sendOriginal(MessageType.PARSE, payload, start, end);
            push(PARSE, null);
            return true;
        }
        Registration existing = names.get(name);
        if (existing != null && earlierPipelinesInFlight()
                && (unsettled(existing) || server.unsettled(existing.statement, null))) {
            payload.readerIndex(base);
            return false; // whether the name exists (and the server has its statement) is not known yet
        }
        byte[] body = new byte[payload.readableBytes()];
        payload.readBytes(body);
        if (existing != null) {
            stats.clientParse();
            // PostgreSQL refuses a second statement of the same name: let the server say so, on the
            // server name of the statement the client already has under it
            prepareOnServer(existing.statement);
            writeParse(existing.statement.serverName, body);
            push(PARSE, null);
            return true;
        }
        SharedStatement statement = registry.acquire(body);
        if (earlierPipelinesInFlight() && (closeUnsettled(name) || server.unsettled(statement, null))) {
            // the name may be closed or not, the server may have the statement or not: wait and see
            registry.release(statement);
            payload.readerIndex(base);
            return false;
        }
        stats.clientParse();
        if (server.has(statement)) {
            Registration r = new Registration(name, statement, ++clientPosition, server, server.sent);
            names.put(name, r);
            push(FAKE_PARSE, new ParseSent(null, null, null, r));
        } else {
            makeRoom();
            writeParse(statement.serverName, statement.body);
            Registration r = new Registration(name, statement, ++clientPosition, server, server.sent);
            names.put(name, r);
            ServerStatements.Entry entry = server.add(statement, r);
            stats.serverParse();
            push(PARSE, new ParseSent(statement, server, entry, r));
        }
        return true;
    }

    private void writeParse(byte[] serverName, byte[] body) {
        int length = 4 + serverName.length + 1 + body.length;
        ByteBuf b = alloc.buffer(1 + length);
        b.writeByte(MessageType.PARSE).writeInt(length).writeBytes(serverName).writeByte(0).writeBytes(body);
        serverChannel.write(b);
    }

    /** Bind (portal, statement, ...) and Describe ('S'|'P', name): the statement name is rewritten. */
    private boolean bindOrDescribe(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
        int base = payload.readerIndex();
        String portal = null;
        if (type == MessageType.BIND) {
            portal = Messages.readCString(payload);
        } else if (payload.readableBytes() < 1 || payload.readByte() != 'S') {
            payload.readerIndex(base);
            sendOriginal(type, payload, start, end);
            push(DESCRIBE, null);
            return true;
        }
        int nameAt = payload.readerIndex();
        String name = Messages.readCString(payload);
        Registration r = name.isEmpty() ? null : names.get(name);
        if (earlierPipelinesInFlight() && (r == null ? !name.isEmpty() && closeUnsettled(name)
                : server.unsettled(r.statement, r) || (unsettled(r) && !(server.preparedBy(r.statement, r)
                        && !closeUnsettled(name))))) {
            // whether the client has the name, or the server the statement, is not known yet (a name whose
            // own Parse put its statement on the server is there if and only if that Parse ran, unless a
            // skipped Close of the name gives it back its earlier statement)
            payload.readerIndex(base);
            return false;
        }
        byte[] serverName;
        if (r == null) {
            if (!name.startsWith("USHER_")) {
                // the unnamed statement, or a name the client never prepared: PostgreSQL answers as it would
                payload.readerIndex(base);
                sendOriginal(type, payload, start, end);
                push(type == MessageType.BIND ? BIND : DESCRIBE, null);
                return true;
            }
            // a name of the form Usher gives statements on servers, never prepared by this client: it must not
            // reach another client's statement, so it goes on under a name no server has
            serverName = ("USHER_" + name).getBytes(StandardCharsets.UTF_8);
        } else {
            prepareOnServer(r.statement);
            serverName = r.statement.serverName;
        }
        int headLength = nameAt - base;  // portal name with its NUL, or the 'S'
        int rest = payload.readableBytes();
        int length = 4 + headLength + serverName.length + 1 + rest;
        ByteBuf b = alloc.buffer(1 + length);
        b.writeByte(type).writeInt(length).writeBytes(payload, base, headLength).writeBytes(serverName).writeByte(0)
                .writeBytes(payload, payload.readerIndex(), rest);
        serverChannel.write(b);
        if (type == MessageType.BIND) {
            if (r != null) {
                stats.bind();
            }
            push(BIND, null);
        } else {
            push(DESCRIBE, null);
        }
        assert portal != null || type == MessageType.DESCRIBE;
        return true;
    }

    /** Close of a named statement: forgotten for this client, answered by Usher; the server keeps it. */
    private boolean close(ByteBuf payload, int start, int end) throws ProtocolException {
        int base = payload.readerIndex();
        byte what = payload.readableBytes() > 0 ? payload.readByte() : 0;
        String name = what == 'S' ? Messages.readCString(payload) : "";
        if (what != 'S' || name.isEmpty()) {
            payload.readerIndex(base);
            sendOriginal(MessageType.CLOSE, payload, start, end);
            push(CLOSE, null);
            return true;
        }
        if (earlierPipelinesInFlight() && closeUnsettled(name)) {
            // a Close of the name in an earlier pipeline may be skipped: then the name has the statement it
            // had before (not the one it seems to have now), and this Close must let go of that one
            payload.readerIndex(base);
            return false;
        }
        // PostgreSQL answers CloseComplete whether or not the name exists
        push(FAKE_CLOSE, names.remove(name));
        return true;
    }

    /** Makes sure the server has the statement before a message that uses it. */
    private void prepareOnServer(SharedStatement statement) {
        if (server.has(statement)) {
            return;
        }
        makeRoom();
        serverChannel.write(statement.parseMessage(alloc));
        server.sent++;
        ServerStatements.Entry entry = server.add(statement, null);
        stats.serverParse();
        push((byte) (PARSE | SKIP), new ParseSent(statement, server, entry, null));
    }

    /** Keeps the server at max_prepared_statements: the least recently used statement is closed. */
    private void makeRoom() {
        if (skippingToSync) {
            return; // the server skips what comes now: an eviction would be undone at once
        }
        while (server.size() >= maxPreparedStatements) {
            SharedStatement evicted = server.evictOne(server.sent + 1);
            if (evicted == null) {
                return; // all in use by the pipeline in flight: go over the limit for now
            }
            serverChannel.write(evicted.closeMessage(alloc));
            server.sent++;
            push((byte) (CLOSE | SKIP), evicted);
        }
    }

    // ---------------------------------------------------------------- the queue

    private void push(byte kind, Object ref) {
        if (skippingToSync) {
            if (kind != SYNC) {
                undo(kind, ref); // PostgreSQL skips it: no answer will come
                return;
            }
            skippingToSync = false;
        }
        if (size == kinds.length) {
            grow();
        }
        int i = (head + size) & (kinds.length - 1);
        kinds[i] = kind;
        refs[i] = ref;
        serverAt[i] = server.sent;
        clientAt[i] = clientPosition;
        size++;
        if (kind == SYNC) {
            server.synced = server.sent;
        } else if (kind == FAKE_CLOSE && ref != null) {
            namedClosesQueued++;
        }
        if ((kind == FAKE_PARSE || kind == FAKE_CLOSE) && size == 1) {
            fakesDue = true;
        }
    }

    private void grow() {
        int n = Math.max(16, kinds.length * 2);
        byte[] k = new byte[n];
        Object[] r = new Object[n];
        long[] s = new long[n];
        long[] c = new long[n];
        for (int j = 0; j < size; j++) {
            int from = (head + j) & (kinds.length - 1);
            k[j] = kinds[from];
            r[j] = refs[from];
            s[j] = serverAt[from];
            c[j] = clientAt[from];
        }
        kinds = k;
        refs = r;
        serverAt = s;
        clientAt = c;
        head = 0;
    }

    private byte headKind() {
        return kinds[head];
    }

    /**
     * Whether an answer Usher makes itself is now at the head of the queue. Only then is anything due
     * at the next message boundary: marking every answered message "due" made ClientConnection cut each
     * server read into one write per message (five writes, a writev of five, for every extended-protocol
     * transaction).
     */
    private boolean headIsFake() {
        return size > 0 && (headKind() == FAKE_PARSE || headKind() == FAKE_CLOSE);
    }

    private void pop() {
        if (kinds[head] == FAKE_CLOSE && refs[head] != null) {
            namedClosesQueued--;
        }
        refs[head] = null;
        head = (head + 1) & (kinds.length - 1);
        size--;
    }

    /**
     * Writes the answers Usher makes itself that are now at the head of the queue. Call only where
     * the server's stream is at a message boundary (nothing half-written to the client).
     */
    public void emitDueFakes(Channel client) {
        if (!fakesDue) {
            return;
        }
        fakesDue = false;
        while (size > 0) {
            byte k = headKind();
            if (k == FAKE_PARSE) {
                client.write(alloc.buffer(5).writeByte('1').writeInt(4));
            } else if (k == FAKE_CLOSE) {
                Registration r = (Registration) refs[head];
                if (r != null) {
                    registry.release(r.statement);
                }
                client.write(alloc.buffer(5).writeByte('3').writeInt(4));
            } else {
                break;
            }
            pop();
            clientFlushNeeded = true;
        }
    }

    /** Whether answers of Usher's own wait for a message boundary of the server's stream. */
    public boolean fakesDue() {
        return fakesDue;
    }

    // ---------------------------------------------------------------- server -> client

    /**
     * A message from the server begins. Returns {@link #FORWARD}, {@link #DROP} (an answer to what
     * Usher itself sent) or {@link #FORWARD_WANT_PAYLOAD} (then call {@link #onCommandComplete}).
     * Answers Usher owes the client before this message must be emitted first ({@link #fakesDue}).
     *
     * @throws ProtocolException when the server's answers do not fit what was sent
     */
    public int onServerHeader(byte type, int payloadLength) throws ProtocolException {
        switch (type) {
            case '1': return complete(PARSE, type);
            case '2': return complete(BIND, type);
            case '3': return complete(CLOSE, type);
            case 'n': return complete(DESCRIBE, type);
            case 's': return complete(EXECUTE, type);
            case 'T':
                return size > 0 && base(headKind()) == DESCRIBE ? complete(DESCRIBE, type) : FORWARD;
            case 'I':
                return size > 0 && base(headKind()) == EXECUTE ? complete(EXECUTE, type) : FORWARD;
            case 'C':
                if (payloadLength == 15 || payloadLength == 12) {
                    // maybe DEALLOCATE ALL or DISCARD ALL: look at the tag (an Execute completes there)
                    return FORWARD_WANT_PAYLOAD;
                }
                return size > 0 && base(headKind()) == EXECUTE ? complete(EXECUTE, type) : FORWARD;
            case 'Z':
                if (size > 0 && (headKind() == SYNC || headKind() == QUERY)) {
                    server.answered = serverAt[head];
                    pop();
                    fakesDue = headIsFake();
                    return FORWARD;
                }
                throw new ProtocolException("ReadyForQuery the pooler did not expect");
            case 'E':
                if (size == 0 || headKind() == QUERY || headKind() == SYNC) {
                    return FORWARD;
                }
                failHead();
                return FORWARD;
            default:
                return FORWARD;
        }
    }

    /** The payload of a CommandComplete {@link #onServerHeader} asked for. */
    public void onCommandComplete(ByteBuf payload) throws ProtocolException {
        boolean execute = size > 0 && base(headKind()) == EXECUTE;
        int len = payload.readableBytes();
        if (len == 15 || len == 12) {
            String tag = payload.toString(payload.readerIndex(), len - 1, StandardCharsets.US_ASCII);
            if (tag.equals("DEALLOCATE ALL") || tag.equals("DISCARD ALL")) {
                deallocateAll();
            }
        }
        if (execute) {
            complete(EXECUTE, (byte) 'C');
        }
    }

    /** DEALLOCATE ALL or DISCARD ALL ran: what client and server had prepared before it is gone. */
    private void deallocateAll() {
        long serverPos = serverAt[head];
        long clientPos = clientAt[head];
        server.removeAddedBefore(serverPos);
        names.values().removeIf(r -> {
            if (r.at <= clientPos) {
                r.gone = true;
                registry.release(r.statement);
                return true;
            }
            return false;
        });
        // a Close of such a name sent after it and not answered yet: if it is skipped, the name stays gone
        for (int j = 0; j < size; j++) {
            int i = (head + j) & (kinds.length - 1);
            if (kinds[i] == FAKE_CLOSE && refs[i] instanceof Registration r && r.at <= clientPos) {
                r.gone = true;
            }
        }
    }

    private static byte base(byte kind) {
        return (byte) (kind & ~SKIP);
    }

    private int complete(byte expected, byte type) throws ProtocolException {
        if (size == 0 || base(headKind()) != expected) {
            throw new ProtocolException("server sent " + MessageType.printable(type) + " where the pooler expected "
                    + (size == 0 ? "nothing" : "the answer to message kind " + base(headKind())));
        }
        byte kind = headKind();
        Object ref = refs[head];
        if (base(kind) == CLOSE && ref instanceof SharedStatement evicted) {
            server.closed(evicted);
            registry.release(evicted);
        }
        pop();
        fakesDue = headIsFake();
        return (kind & SKIP) != 0 ? DROP : FORWARD;
    }

    /**
     * An ErrorResponse answers the head; PostgreSQL then skips everything up to the next Sync, a Query
     * too (only Sync ends the skipping: postgres.c, SocketBackend). What they did here is taken back
     * newest first, so each undo finds the state its message found (a Parse then a Close of one name
     * leave it absent; an eviction then a new Parse of that statement leave it prepared).
     */
    private void failHead() {
        int n = 1;
        while (n < size && kinds[(head + n) & (kinds.length - 1)] != SYNC) {
            n++;
        }
        for (int j = n - 1; j >= 0; j--) {
            int i = (head + j) & (kinds.length - 1);
            undo(kinds[i], refs[i]);
        }
        for (int j = 0; j < n; j++) {
            pop();
        }
        skippingToSync = size == 0; // the Sync is still to come: skip what the client sends until then
        fakesDue = headIsFake();
    }

    /** An entry's message failed or was skipped by PostgreSQL: take back what it did here. */
    private void undo(byte entryKind, Object ref) {
        byte kind = base(entryKind);
        switch (kind) {
            case PARSE, FAKE_PARSE -> {
                ParseSent p = (ParseSent) ref;
                if (p == null) {
                    return;
                }
                if (p.statement != null) {
                    p.server.remove(p.statement, p.entry);
                }
                Registration r = p.registration;
                if (r != null) {
                    r.gone = true;
                    if (names.get(r.name) == r) {
                        names.remove(r.name);
                        registry.release(r.statement);
                    }
                }
            }
            case FAKE_CLOSE -> {
                Registration r = (Registration) ref;
                if (r != null) {
                    if (!r.gone && !names.containsKey(r.name)) {
                        names.put(r.name, r); // the Close never ran: the client still has the statement
                    } else {
                        registry.release(r.statement);
                    }
                }
            }
            case CLOSE -> {
                if (ref instanceof SharedStatement evicted) {
                    server.reopen(evicted); // the eviction never ran: the server still has it
                    registry.release(evicted);
                }
            }
            default -> {
            }
        }
    }

    // ---------------------------------------------------------------- end

    /** The client is gone: its names let go of their statements. */
    public void close() {
        for (Registration r : names.values()) {
            registry.release(r.statement);
        }
        names.clear();
        while (size > 0) {
            byte kind = base(headKind());
            Object ref = refs[head];
            if (kind == FAKE_CLOSE && ref instanceof Registration r) {
                registry.release(r.statement);
            } else if (kind == CLOSE && ref instanceof SharedStatement evicted) {
                registry.release(evicted);
            }
            pop();
        }
        dropHeldHeader();
        clientScanner.release();
        if (waitingPayload != null) {
            waitingPayload.release();
            waitingPayload = null;
        }
        if (heldInput != null) {
            heldInput.release();
            heldInput = null;
        }
    }

}
