package io.usher.config;

/**
 * A configuration error: where and what.
 *
 * <p>{@link #getMessage()} is {@code "FILE:LINE: what"}, or {@code "FILE: what"} when the error has
 * no line (line &lt;= 0), so it can be logged as is.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;
    private final String detail;

    /**
     * @param file    the file the error is in (as the user named it); may be null when unknown
     * @param line    1-based line number; &lt;= 0 means "no line"
     * @param message what is wrong
     */
    public ConfigException(String file, int line, String message) {
        super(format(file, line, message));
        this.file = file;
        this.line = Math.max(line, 0);
        this.detail = message;
    }

    ConfigException(String file, int line, String message, Throwable cause) {
        this(file, line, message);
        initCause(cause);
    }

    public String file() {
        return file;
    }

    /** 1-based line number, or 0 when the error is not about one line. */
    public int line() {
        return line;
    }

    /** The message without the location prefix. */
    public String detail() {
        return detail;
    }

    private static String format(String file, int line, String message) {
        String where = file == null || file.isEmpty() ? "<config>" : file;
        return line > 0 ? where + ":" + line + ": " + message : where + ": " + message;
    }
}
