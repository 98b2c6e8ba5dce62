package io.usher.prepared;

import org.junit.jupiter.api.Test;

/**
 * Findings of StatementTrackerFuzzTest (docs/fuzzing.md), kept as named tests. Each replays a program
 * of the fuzz target (its layout is described there and in scripts/fuzz-seeds.py), which checks the
 * client's answers against a PostgreSQL without a pooler.
 */
class StatementTrackerRegressionTest {

    // Parts of the programs of the newer tests (the target's operations; names and query texts are indexes
    // into its lists NAMES and QUERIES)
    private static final int UNNAMED = 0;
    private static final int A = 1;
    private static final int B = 2;
    private static final int C = 4;
    private static final int SELECT_1 = 0;
    private static final int SELECT_2 = 1;
    private static final int ERR = 2;           // a Parse of it fails
    private static final int DEALLOCATE_ALL = 3;
    private static final byte[] SYNC = {7};
    private static final byte[] SEND = {11, 0};        // send all the client has not sent yet, at once
    private static final byte[] ANSWERS = {12, 7};     // deliver up to 8 answers
    private static final byte[] ONE_ANSWER = {12, 0};
    private static final byte[] SWITCH = {13};         // the client gets the other server
    /** Bind "" to "S_1", which the client never prepared: an error, so PostgreSQL skips up to the Sync. */
    private static final byte[] ERROR = {1, 0, 3};

    private static byte[] parse(int name, int query) {
        return new byte[] {0, (byte) name, (byte) query};
    }

    private static byte[] bind(int name) {
        return new byte[] {1, 0, (byte) name};
    }

    private static byte[] describe(int name) {
        return new byte[] {2, (byte) name};
    }

    private static byte[] close(int name) {
        return new byte[] {5, (byte) name};
    }

    private static byte[] query(int query) {
        return new byte[] {9, (byte) query};
    }

    /** Parse, Sync, sent and answered: the client has the name, the server the statement. */
    private static byte[] prepared(int name, int query) {
        return StatementTrackerFuzzTest.concat(parse(name, query), SYNC, SEND, ANSWERS);
    }

    /** Runs a program with max_prepared_statements 1 to 4. */
    private static void play(int maxPrepared, byte[]... parts) {
        new StatementTrackerFuzzTest().statementTracker(StatementTrackerFuzzTest.concat(
                new byte[] {(byte) (maxPrepared - 1)}, StatementTrackerFuzzTest.concat(parts)));
    }

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
     * A second name for the same query text was answered ParseComplete by Usher as soon as the first
     * name's Parse had been sent, before the server answered it. When that Parse failed and a Sync lay
     * between the two, the client was told the second Parse succeeded where PostgreSQL answers an error
     * (and later answers shifted). Found by fuzzing (corpus file found-fake-parsecomplete-for-failing-statement);
     * now the second Parse waits for the first pipeline's answers, then is a real Parse.
     */
    @Test
    void aParseCompleteIsNotFakedForAStatementWhoseParseFails() {
        new StatementTrackerFuzzTest().statementTracker(new byte[] {
            3,
            0, 1, 2,    // Parse "a" ERR (fails on the server)
            7,          // Sync
            0, 2, 2,    // Parse "b" ERR: must fail too
            7,          // Sync
            11, 0,      // send everything at once (nothing answered yet)
        });
    }

    /**
     * The other form of the finding above: the first name's Parse is skipped (an earlier error in its
     * pipeline), so PostgreSQL runs the second name's Parse and it succeeds; Usher had answered it itself
     * and the Bind that followed failed on the server. Found by fuzzing (corpus file
     * found-fake-parsecomplete-for-skipped-statement).
     */
    @Test
    void aParseOfAStatementWhoseParseIsSkippedIsSentToTheServer() {
        play(4, ERROR, parse(A, SELECT_1), SYNC, parse(B, SELECT_1), bind(B), SYNC, SEND);
    }

    /**
     * A Close of a name skipped after an error, then a Close of the same name in the next pipeline, sent
     * before the answers: the second Close removes the name. Usher saw the name already gone when it sent
     * the second Close; undoing the skipped first one then put the name back, and a later Bind of it
     * succeeded where PostgreSQL says it does not exist. Found by fuzzing, 3 s into the first run after
     * the fix above (corpus file found-close-after-a-skipped-close); now that second Close waits too.
     */
    @Test
    void aCloseAfterASkippedCloseOfTheSameNameRemovesIt() {
        play(4, prepared(A, SELECT_1), ERROR, close(A), SYNC, close(A), SYNC, bind(A), SYNC, SEND);
    }

    /**
     * In a pipeline that fails: a Close of a name, then a Parse of the name with a new text (both skipped),
     * so the name keeps its first statement; a Bind of it in the next pipeline, sent before the answers,
     * succeeds. Usher sent the Bind under the new statement's server name, taking "the Parse that gave the
     * name its statement also prepared it on the server" to mean the name exists only if that Parse ran; but
     * undoing the Close gives the name back its first statement. Found by fuzzing, 5 s into the second run
     * (corpus file found-name-back-to-its-earlier-statement).
     */
    @Test
    void aNameWhoseSkippedCloseAndParseAreUndoneKeepsItsStatement() {
        play(4, prepared(B, SELECT_1), ERROR, close(B), parse(B, SELECT_2), SYNC, bind(B), SYNC, SEND);
    }

    /**
     * A Parse that must evict (max_prepared_statements = 1) after an error has arrived, before the client's
     * Sync: the server skips it, so the eviction is undone as soon as it is queued. Introduced by the fix
     * above and found by fuzzing (an OutOfMemoryError, 100 s into the third run; corpus file
     * found-eviction-undone-while-skipping): the statement put back counted as unused, so it was evicted
     * again, forever, each time with a new Close message.
     */
    @Test
    void anEvictionWhileSkippingToSyncEnds() {
        play(1, prepared(A, SELECT_1), ERROR, SEND, ONE_ANSWER, parse(B, SELECT_2), SYNC, SEND);
    }

    /**
     * In a pipeline that fails: a Close of a name, then a Parse of it with a new text (both skipped, so the
     * name keeps its first statement). In the next pipeline, sent before the answers: a Close of the name
     * (it runs: the name is gone) and a Parse of it, which succeeds. Usher tied that Close to the skipped
     * Parse's registration, so undoing the first pipeline gave the name back its first statement and the
     * Parse got "already exists". Found by fuzzing, 3 s into the fourth run (corpus file
     * found-close-of-a-name-given-back); now such a Close waits for the earlier pipeline's answers.
     */
    @Test
    void aCloseOfANameGivenBackItsStatementClosesThatStatement() {
        play(4, prepared(B, SELECT_1), ERROR, close(B), parse(B, SELECT_2), SYNC,
                close(B), parse(B, SELECT_2), SYNC, SEND);
    }

    /**
     * DEALLOCATE ALL, then (sent before its answer) a Close of a name it removes, skipped after an error:
     * the name stays gone. DEALLOCATE ALL found the name already closed, so undoing the skipped Close put
     * it back, and a later Bind succeeded (Usher prepared the statement again first) where PostgreSQL says
     * it does not exist. Found by fuzzing, 8 s into the fifth run (corpus file
     * found-close-after-deallocate-all-skipped).
     */
    @Test
    void aSkippedCloseAfterDeallocateAllDoesNotBringBackTheName() {
        play(4, prepared(A, SELECT_1), query(DEALLOCATE_ALL), describe(UNNAMED), close(A), SYNC, SEND, ANSWERS,
                bind(A), SYNC, SEND);
    }

    /**
     * In a pipeline that fails (max_prepared_statements = 1): a Parse that evicts statement S, then a Parse
     * of a name for S, which Usher sends to prepare S again. Both are skipped, so the server keeps S and the
     * name does not exist; a Bind of the name in the next pipeline must fail. Usher took "the name's own
     * Parse prepared S" to mean the server has S only if that Parse ran, and sent the Bind, which
     * succeeded. Found by fuzzing, 43 s (187,756 runs) into the sixth run (corpus file
     * found-reprepared-after-eviction-in-failed-pipeline); an unanswered eviction now voids that rule.
     */
    @Test
    void aStatementPreparedAgainAfterItsEvictionInAFailedPipelineIsNotReliedOn() {
        play(1, parse(B, SELECT_2), close(B), SYNC, SEND, ANSWERS,
                describe(A), parse(C, SELECT_1), parse(B, SELECT_2), SYNC, bind(B), SYNC, SEND);
    }

    // The tests below were found by reasoning about the same pattern as the findings above (a message whose
    // effect hangs on an earlier pipeline, sent before that pipeline is answered) while fixing the first one;
    // each failed before its fix.

    /**
     * A name answered ParseComplete by Usher (the server had its statement) in a pipeline that fails:
     * PostgreSQL never creates the name, so a Bind of it in the next pipeline fails; Usher sent it under
     * the statement's server name, which exists, and it succeeded.
     */
    @Test
    void aBindOfANameWhoseSkippedParseUsherAnsweredFails() {
        play(4, prepared(A, SELECT_1), ERROR, parse(B, SELECT_1), SYNC, bind(B), SYNC, SEND);
    }

    /**
     * A name whose Parse fails, parsed again with another text in the next pipeline: PostgreSQL creates
     * it then. Usher took the name for one it had and sent the Parse under the first statement's server
     * name (which then stood for the second text on that server), and forgot the name when the first Parse
     * failed, so a later Bind failed.
     */
    @Test
    void aNameParsedAgainAfterItsParseFailedIsPrepared() {
        play(4, parse(B, ERR), SYNC, parse(B, SELECT_1), SYNC, bind(B), SYNC, SEND, ANSWERS, bind(B), SYNC, SEND);
    }

    /**
     * A Parse and a Close of one name, both skipped after an error: the name must not exist afterwards.
     * The skipped messages were undone oldest first, so the Close's undo put back the name the Parse's
     * undo had just found absent.
     */
    @Test
    void aParseAndACloseSkippedTogetherLeaveNoName() {
        play(4, ERROR, parse(A, SELECT_1), close(A), SYNC, SEND, ANSWERS, bind(A), SYNC, SEND);
    }

    /**
     * A Close of a name skipped after an error: the name still exists. A Bind of it in the next pipeline
     * went to the server under the client's name (unknown there) and failed; a Parse of it succeeded
     * where PostgreSQL says it already exists.
     */
    @Test
    void aCloseSkippedInAnEarlierPipelineLeavesTheName() {
        play(4, prepared(A, SELECT_1), ERROR, close(A), SYNC, bind(A), SYNC, SEND);
        play(4, prepared(A, SELECT_1), ERROR, close(A), SYNC, parse(A, SELECT_2), SYNC, SEND);
    }

    /**
     * An eviction (max_prepared_statements = 1) skipped after an error leaves the statement on the server;
     * preparing it again in the next pipeline failed there ("already exists").
     */
    @Test
    void anEvictionSkippedInAnEarlierPipelineLeavesTheStatement() {
        play(1, prepared(A, SELECT_1), ERROR, parse(B, SELECT_2), SYNC, parse(C, SELECT_1), SYNC, SEND);
    }

    /**
     * After a change of server, a Bind makes Usher prepare the statement there first; when that pipeline
     * fails, the server does not have it, and a Bind in the next pipeline (sent before the answers) went
     * out without the Parse.
     */
    @Test
    void aParseUsherAddedInAFailedPipelineIsSentAgain() {
        play(4, prepared(A, SELECT_1), SWITCH, ERROR, bind(A), SYNC, bind(A), SYNC, SEND);
    }

    /**
     * A name's Parse skipped in one pipeline, a Close of the name skipped in the next: undoing the Close
     * put back the registration whose Parse never ran, and a Bind in a third pipeline succeeded (Usher
     * prepared the statement first) where PostgreSQL says the name does not exist.
     */
    @Test
    void aSkippedCloseDoesNotBringBackANameWhoseParseWasSkipped() {
        play(4, ERROR, parse(B, SELECT_1), SYNC, ERROR, close(B), SYNC, bind(B), SYNC, SEND);
    }
}
