package io.usher.prepared;

import org.junit.jupiter.api.Test;

/**
 * Findings of StatementTrackerFuzzTest (docs/fuzzing.md), kept as named tests. Each replays a program
 * of the fuzz target (its layout is described there and in scripts/fuzz-seeds.py), which checks the
 * client's answers against a PostgreSQL without a pooler.
 */
class StatementTrackerRegressionTest {

    /**
     * After an error in the extended protocol PostgreSQL skips everything up to Sync, a Query too. The
     * tracker stopped skipping at a Query and then waited for a ReadyForQuery that never came: the next
     * answer did not fit and the client was disconnected ("server sent 1 where the pooler expected the
     * answer to message kind 6").
     */
    @Test
    void aQueryInAFailedPipelineIsSkippedUntilSync() {
        new StatementTrackerFuzzTest().statementTracker(new byte[] {
            3,
            0, 1, 2,    // Parse "a" ERR (fails)
            9, 0,       // Query SELECT 1 (skipped by PostgreSQL)
            7,          // Sync
            0, 2, 0,    // Parse "b" SELECT 1
            5, 2,       // Close "b"
            7,          // Sync
            11, 0,      // send everything
        });
    }

    /**
     * When the error arrives before the client has sent its Sync, what the client sends until that Sync
     * is skipped by PostgreSQL too. The tracker queued those messages for answers that never came, and
     * the next ReadyForQuery did not fit ("ReadyForQuery the pooler did not expect"): client
     * disconnected. Found by fuzzing (corpus file found-message-after-error-before-sync).
     */
    @Test
    void messagesAfterAnErrorAndBeforeSyncAreSkipped() {
        new StatementTrackerFuzzTest().statementTracker(new byte[] {
            3,
            1, 0, 3,    // Bind "" to "S_1", never prepared: fails
            11, 0,      // send
            12, 0,      // the error arrives
            3, 1,       // Describe portal "p" (skipped by PostgreSQL)
            0, 1, 0,    // Parse "a" SELECT 1 (skipped: "a" must not exist afterwards)
            7,          // Sync
            1, 0, 1,    // Bind "" to "a": fails
            7,          // Sync
            11, 0,      // send everything
        });
    }

    /**
     * A message header cut across three reads (2 bytes, 1 byte, the rest): the tracker replaced the
     * header bytes it held with a new buffer taken from before the read's reader index, so the first
     * buffer leaked and wrong bytes (or an IndexOutOfBoundsException, at reader index 0) went to the
     * server. Found by fuzzing (corpus file found-header-across-three-reads).
     */
    @Test
    void aHeaderAcrossThreeReadsIsHeldWhole() {
        new StatementTrackerFuzzTest().statementTracker(new byte[] {
            0,
            7,          // Sync
            11, 2,      // send 2 bytes of its header
            0, 1, 0,    // Parse "a" SELECT 1
            11, 1,      // send 1 more byte of the Sync's header
            11, 0,      // send everything
        });
    }

    /**
     * A Parse, Bind, Describe or Close arriving over three or more reads, its header not at the start of
     * the first: on the later reads the tracker still used the header's index in the first read as the
     * end of what to forward, so it forwarded part of the payload it was capturing (a corrupt stream to
     * the server) or sliced past the read (IndexOutOfBoundsException). Found by fuzzing (corpus files
     * found-rewritten-message-across-reads-*).
     */
    @Test
    void aRewrittenMessageAcrossThreeReadsIsForwardedOnce() {
        new StatementTrackerFuzzTest().statementTracker(new byte[] {
            2,
            0, 1, 0,    // Parse "a" SELECT 1
            7,          // Sync
            11, 0,      // send
            12, 7,      // answers
            7,          // Sync
            1, 0, 1,    // Bind "" to "a" (14 bytes)
            7,          // Sync
            11, 12,     // send the Sync, the Bind's header and 2 bytes of its payload
            11, 2,      // 2 more bytes
            11, 0,      // the rest
        });
    }

    /**
     * OPEN (not fixed): a second name for the same query text gets a ParseComplete made by Usher as soon
     * as the first name's Parse has been sent, before the server has answered it. When that Parse fails
     * and a Sync lies between the two, the client is told the second Parse succeeded where PostgreSQL
     * would have answered an error (and later answers shift). Fixing it needs the fake ParseComplete to
     * wait for the outcome of the Parse in flight. Found by fuzzing (src/test/resources/fuzz-open-findings).
     */
    @Test
    @org.junit.jupiter.api.Disabled("open finding, see docs/fuzzing.md")
    void aParseCompleteIsNotFakedForAStatementWhoseParseFails() {
        StatementTrackerFuzzTest target = new StatementTrackerFuzzTest();
        target.allowOpenFindings = true;
        target.statementTracker(new byte[] {
            3,
            0, 1, 2,    // Parse "a" ERR (fails on the server)
            7,          // Sync
            0, 2, 2,    // Parse "b" ERR: must fail too
            7,          // Sync
            11, 0,      // send everything at once (nothing answered yet)
        });
    }
}
