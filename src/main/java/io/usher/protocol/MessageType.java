package io.usher.protocol;

/** Message type bytes of protocol 3.0 that the pooler looks at. */
public final class MessageType {
    // frontend
    public static final byte QUERY = 'Q';
    public static final byte PARSE = 'P';
    public static final byte BIND = 'B';
    public static final byte EXECUTE = 'E';
    public static final byte DESCRIBE = 'D';
    public static final byte CLOSE = 'C';
    public static final byte SYNC = 'S';
    public static final byte FLUSH = 'H';
    public static final byte FUNCTION_CALL = 'F';
    public static final byte TERMINATE = 'X';
    public static final byte PASSWORD = 'p';
    public static final byte COPY_DATA = 'd';
    public static final byte COPY_DONE = 'c';
    public static final byte COPY_FAIL = 'f';

    // backend
    public static final byte AUTHENTICATION = 'R';
    public static final byte PARAMETER_STATUS = 'S';
    public static final byte BACKEND_KEY_DATA = 'K';
    public static final byte READY_FOR_QUERY = 'Z';
    public static final byte COMMAND_COMPLETE = 'C';
    public static final byte ERROR_RESPONSE = 'E';
    public static final byte NOTICE_RESPONSE = 'N';
    public static final byte NOTIFICATION = 'A';
    public static final byte COPY_IN_RESPONSE = 'G';
    public static final byte COPY_OUT_RESPONSE = 'H';
    public static final byte COPY_BOTH_RESPONSE = 'W';

    /** Whether a client may send this type once logged in (protocol 3.0). */
    public static boolean isFrontendType(byte t) {
        switch (t) {
            case 'Q': case 'P': case 'B': case 'E': case 'D': case 'C': case 'S': case 'H':
            case 'F': case 'X': case 'd': case 'c': case 'f':
                return true;
            default:
                return false;
        }
    }

    public static String printable(byte t) {
        return t >= 32 && t < 127 ? String.valueOf((char) t) : String.format("0x%02x", t & 0xff);
    }

    private MessageType() {}
}
