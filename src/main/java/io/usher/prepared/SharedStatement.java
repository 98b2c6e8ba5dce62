package io.usher.prepared;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.usher.protocol.MessageType;

import java.nio.charset.StandardCharsets;

/**
 * One distinct statement (query text and parameter types) that clients prepared under names of
 * their own. Servers know it as {@code USHER_<id>}: ids are never reused, so a name on a server
 * always means the same statement. Shared by every client and server that uses it; the registry
 * counts the references.
 */
public final class SharedStatement {
    final long id;
    /** The Parse payload after the statement name: query, NUL, parameter count and type OIDs. */
    final byte[] body;
    final int hash;
    final byte[] serverName;
    int refs; // guarded by the registry's map

    SharedStatement(long id, byte[] body, int hash) {
        this.id = id;
        this.body = body;
        this.hash = hash;
        this.serverName = ("USHER_" + id).getBytes(StandardCharsets.US_ASCII);
    }

    /** The Parse message that prepares this statement under its server name. */
    ByteBuf parseMessage(ByteBufAllocator alloc) {
        int length = 4 + serverName.length + 1 + body.length;
        ByteBuf b = alloc.buffer(1 + length);
        b.writeByte(MessageType.PARSE).writeInt(length).writeBytes(serverName).writeByte(0).writeBytes(body);
        return b;
    }

    /** The Close message that deallocates it on a server. */
    ByteBuf closeMessage(ByteBufAllocator alloc) {
        int length = 4 + 1 + serverName.length + 1;
        ByteBuf b = alloc.buffer(1 + length);
        b.writeByte(MessageType.CLOSE).writeInt(length).writeByte('S').writeBytes(serverName).writeByte(0);
        return b;
    }
}
