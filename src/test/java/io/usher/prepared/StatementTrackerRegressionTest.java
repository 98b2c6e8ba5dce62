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
}
