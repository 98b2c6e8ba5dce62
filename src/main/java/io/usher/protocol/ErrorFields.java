package io.usher.protocol;

import io.netty.buffer.ByteBuf;

/** The fields of an ErrorResponse or NoticeResponse that the pooler logs or relays. */
public record ErrorFields(String severity, String sqlState, String message) {

    /** Parses the payload (without type and length) of an ErrorResponse/NoticeResponse. */
    public static ErrorFields parse(ByteBuf payload) {
        ByteBuf b = payload.duplicate();
        String severity = "ERROR";
        String code = SqlState.INTERNAL_ERROR;
        String message = "";
        try {
            while (b.isReadable()) {
                byte field = b.readByte();
                if (field == 0) {
                    break;
                }
                String value = Messages.readCString(b);
                switch (field) {
                    case 'V': severity = value; break;
                    case 'S': if (severity.equals("ERROR")) { severity = value; } break;
                    case 'C': code = value; break;
                    case 'M': message = value; break;
                    default: break;
                }
            }
        } catch (ProtocolException e) {
            // a truncated error is still worth reporting with what it had
        }
        return new ErrorFields(severity, code, message);
    }

    public PgError toError() {
        return new PgError(severity, sqlState, message);
    }
}
