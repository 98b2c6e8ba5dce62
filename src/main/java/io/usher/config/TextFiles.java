package io.usher.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads config files as UTF-8 text, turning I/O problems into {@link ConfigException}s. */
final class TextFiles {
    private TextFiles() {
    }

    /**
     * @param what what the file is, for the message ("config file", "auth_file", ...)
     * @throws ConfigException naming the file (no line) when it cannot be read or is not UTF-8
     */
    static String read(Path file, String what) throws ConfigException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), 0, "could not open " + what + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new ConfigException(file.toString(), 0, "could not open " + what + ": permission denied", e);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), 0, "could not read " + what + ": " + e.getMessage(), e);
        }
        try {
            // Strict decoding: a wrong byte would otherwise silently change a password or a name.
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ConfigException(file.toString(), 0, what + " is not valid UTF-8", e);
        }
    }
}
