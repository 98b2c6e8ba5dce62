package io.usher.bench;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The microbenchmarks measure what they say: each benchmark method, run once outside JMH, does the
 * work (the messages are found, the statement name is rewritten), so a change that breaks a
 * benchmark's input or path fails here rather than producing a fast, meaningless figure.
 */
class BenchmarksWorkTest {

    @Test
    void framingBenchmarksSeeEveryMessage() throws Exception {
        FramingBench b = new FramingBench();
        b.setUp();
        try {
            assertThat(b.clientExtended()).isEqualTo(5); // Parse, Bind, Describe, Execute, Sync
            int oneRead = b.serverExtended();
            assertThat(oneRead >>> 16).isEqualTo(6);
            assertThat(oneRead & 0xff).isEqualTo('I');
            assertThat(oneRead >>> 8 & 0xff).isEqualTo("SELECT 1".length() + 1);
            assertThat(b.serverExtendedSplit()).isEqualTo(oneRead);
            assertThat(b.serverExtended()).as("the scanner is back at a boundary").isEqualTo(oneRead);
            int large = b.serverLargeResult();
            assertThat(large >>> 16).isEqualTo(103); // RowDescription, 100 DataRows, CommandComplete, ReadyForQuery
            assertThat(large & 0xff).isEqualTo('I');
        } finally {
            b.tearDown();
        }
    }

    @Test
    void preparedBenchmarkRewritesTheStatementName() throws Exception {
        PreparedBench b = new PreparedBench();
        b.setUp();
        try {
            int request = b.bindExecuteSync.readableBytes();
            for (int i = 0; i < 3; i++) {
                // Bind names the server's statement (USHER_1, 5 bytes longer than S1); nothing else is added
                assertThat(b.preparedTransaction()).isEqualTo(request + "USHER_1".length() - "S1".length());
            }
            assertThat(b.tracker.isIdle()).isTrue();
            assertThat(b.tracker.size()).isEqualTo(1);
        } finally {
            b.tearDown();
        }
    }
}
