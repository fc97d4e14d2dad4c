/* bench/suite_fastonly.c: the `fastonly` suite: the search matrix and scenarios
 * (suite_search.c) with Flags = MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY, each case run right
 * after its search twin on the same partition and state.
 *
 * Per case: the time to decide (p50..max of successes; failures timed apart), the success rate
 * (successes / calls), the false negatives (failed calls for which the exhaustive oracle of
 * shadow.c, run on the benchmark's shadow of the free map at that moment, finds a block that
 * satisfies the request: size, range, boundary; any node, as Ex falls back), and trades
 * (mmc_stats.trades over the case, and the other slow-path counters: FAST_ONLY must leave them
 * 0, though the fill levels hold load that the ordinary path trades), and the decision work
 * (work_p50 / work_p99 / work_max, against the engine's own bound,
 * mmc_engine_fast_only_work()). The same requests without the flag are the
 * search suite's rows with the same engine, pool, fill, size and constraint: both suites run
 * the same churn seed per case, so they see the same sequence of states.
 */
#include "bench.h"

/* The one thing that makes a fastonly case: its Flags. suite_search.c registers each fastonly
 * case right after its search twin. */
const uint32_t suite_fastonly_flags = MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY;
