# scripts/mmcplot/schema.py: the CSV schema as the scripts read it.
#
# Owns the column names of the benchmark CSVs as the scripts read them (results/README.md is the
# reference; a test checks that the two agree), and their types. tests/fixtures_bench.py writes
# its synthetic runs with these lists.

# search.csv, fastonly.csv, peers.csv: one row per measured case, in this order.
CASE_COLUMNS = [
    "run_id", "host", "suite", "engine", "peer", "pool_bytes", "simulated", "page_bytes",
    "request_bytes", "constraint", "state", "lowest", "highest", "boundary", "node", "fill_pct",
    "largest_free_bytes", "flags", "calls", "budget_stopped", "successes", "false_negatives", "trades",
    "frames_moved", "frames_dropped", "hugepages_added", "compactions", "grow_ns",
    "p50_ns", "p90_ns", "p99_ns", "p999_ns",
    "reps", "p50_ci_lo_ns", "p50_ci_hi_ns", "p99_ci_lo_ns", "p99_ci_hi_ns", "rep_p50_ns", "rep_p99_ns",
    "max_ns", "mean_ns",
    "fail_p50_ns", "fail_p99_ns", "fail_max_ns", "work_p50", "work_p99", "work_max",
    "violations", "metadata_bytes_per_frame", "metadata_bytes_per_span_frame", "seed",
]

# frag.csv (bench/suite_frag.c): one row per sample of the aging trace (a log scale of
# operations) and probe (2, 8, 64 MiB, with and without FAST_ONLY); meanings in results/README.md.
FRAG_COLUMNS = [
    "run_id", "host", "mode", "pool_bytes", "page_bytes", "t_s", "ops", "engine", "policy", "u9",
    "u11", "u14", "u18", "fi9", "fi11", "fi14", "largest_free_bytes", "probe_bytes",
    "probe_fast_only", "probe_order", "probe_u", "probe_u_decade_change", "probe_calls",
    "probe_successes", "probe_success_rate", "probe_p50_ns", "probe_trades", "probe_frames_moved",
    "probe_frames_dropped", "probe_hugepages_added", "probe_grow_ns", "trades", "frames_moved",
    "frames_dropped", "hugepages", "utilisation", "seed",
]
# |probe_u_decade_change| at the last sample at most this: U(j) has settled (the report says so)
FRAG_SETTLED_CHANGE = 0.05

# scale.csv (bench/suite_scale.c): one row per pool, mix, placement, engine and thread count;
# meanings in results/README.md ("scale.csv").
SCALE_COLUMNS = [
    "run_id", "host", "pool", "pool_bytes", "nodes", "engine", "mix", "placement", "threads",
    "cpus", "duration_s", "pairs", "failed", "pairs_per_s", "pairs_per_s_per_thread", "speedup",
    "alloc_p50_ns", "alloc_p99_ns", "alloc_p999_ns", "free_p50_ns", "free_p99_ns", "reps",
    "rep_pairs_per_s", "seed",
]

# frag_kernel.csv (bench/frag_kernel.c): one row per request on the host the helper fragmented,
# per peer (mmcontig, dpdk, dpdk-legacy); meanings in results/README.md.
FRAG_KERNEL_COLUMNS = [
    "run_id", "host", "peer", "held_bytes", "request_bytes", "fast_only", "success", "latency_ns",
    "hugepages_added", "grow_ns", "raise_hugepages", "raise_ns", "eal_init_ns", "compact_stall",
    "compact_success", "compact_fail", "compact_migrate_scanned", "pagemap_ok", "why", "seed",
]
FRAG_KERNEL_PEERS = ["mmcontig", "dpdk", "dpdk-legacy"]

CASE_SUITES = ("search", "fastonly", "peers")
SUITE_FILES = {"search": "search.csv", "fastonly": "fastonly.csv", "peers": "peers.csv",
               "frag": "frag.csv", "frag_kernel": "frag_kernel.csv", "scale": "scale.csv"}
# The columns each file must have (the case files share CASE_COLUMNS).
SUITE_COLUMNS = {"frag": FRAG_COLUMNS, "frag_kernel": FRAG_KERNEL_COLUMNS, "scale": SCALE_COLUMNS}

# Columns read as text; every other column is a number (int, or float when it has a point),
# empty meaning "not measured" (None).
TEXT_COLUMNS = {"run_id", "host", "suite", "engine", "peer", "constraint", "state", "node",
                "policy", "pool", "mix", "placement", "cpus", "mode", "why"}
# Columns holding one number per repetition, joined by ';' (an empty entry: no success in that
# repetition): read as a list of int or None.
LIST_COLUMNS = {"rep_p50_ns", "rep_p99_ns", "rep_pairs_per_s"}
# The 95 % interval columns of each percentile that has one (results/README.md "Repetitions and
# intervals"); runs written before them have none, and the scripts then draw no error bars.
CI_COLUMNS = {"p50_ns": ("p50_ci_lo_ns", "p50_ci_hi_ns"), "p99_ns": ("p99_ci_lo_ns", "p99_ci_hi_ns")}
REP_COLUMNS = {"p50_ns": "rep_p50_ns", "p99_ns": "rep_p99_ns"}

FLAG_FAST_ONLY = 1  # MM_ALLOCATE_CONTIGUOUS_MEMORY_FAST_ONLY

# The order in which engines and peers are listed everywhere (others follow, sorted).
ENGINE_ORDER = ["linear", "bitmap", "buddy", "tlsf", "tree"]
PEER_ORDER = ["dpdk", "kernel-hugetlb-2M", "kernel-hugetlb-1G"]
CONSTRAINT_ORDER = ["none", "range", "boundary", "range+boundary", "node", "dma32"]
# state column: "aged" is the matrix; the others are the scenarios (results/README.md)
STATE_AGED = "aged"
SCENARIO_STATES = ["needle", "cut", "near-largest"]
STATE_GROW = "grow"  # the small full pool that must grow (results/README.md "Growth")
SLOW_COLUMNS = ["trades", "frames_moved", "frames_dropped", "hugepages_added", "compactions",
                "grow_ns"]

# What each chart needs from its suite: without these columns it is skipped with a note.
NEEDS = {
    "latency_ecdf": ("search", ["engine", "request_bytes", "fill_pct", "constraint", "pool_bytes",
                                "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]),
    "latency_vs_fill": ("search", ["engine", "request_bytes", "fill_pct", "constraint",
                                   "pool_bytes", "calls", "successes", "p50_ns", "p99_ns"]),
    "latency_vs_pool": ("search", ["engine", "request_bytes", "fill_pct", "constraint",
                                   "pool_bytes", "simulated", "p50_ns", "p99_ns"]),
    "fastonly_fn": ("fastonly", ["engine", "flags", "calls", "successes", "false_negatives",
                                 "trades", "fill_pct", "p50_ns", "p99_ns"]),
    "fastonly_vs_ordinary": ("fastonly", ["engine", "flags", "state", "calls", "successes",
                                          "fill_pct", "pool_bytes", "p50_ns", "fail_p50_ns"]),
    "frag_steady": ("frag", ["ops", "engine", "policy", "u9", "u11", "u14", "probe_bytes"]),
    "frag_success_vs_u": ("frag", ["engine", "policy", "probe_bytes", "probe_fast_only", "probe_u",
                                   "probe_success_rate"]),
    "frag_cost": ("frag", ["ops", "engine", "policy", "probe_bytes", "probe_fast_only",
                           "probe_successes", "probe_trades", "probe_frames_moved",
                           "probe_hugepages_added", "probe_p50_ns"]),
    "frag_kernel": ("frag_kernel", ["peer", "request_bytes", "fast_only", "success", "latency_ns",
                                    "raise_ns", "eal_init_ns", "pagemap_ok"]),
    "scale_threads": ("scale", SCALE_COLUMNS),
    "success_heatmap": ("search", ["engine", "request_bytes", "fill_pct", "constraint",
                                   "pool_bytes", "calls", "successes"]),
    "scenarios": ("search", ["engine", "state", "constraint", "request_bytes", "largest_free_bytes",
                             "boundary", "fill_pct", "calls", "successes", "p50_ns", "fail_p50_ns",
                             "work_p50", "work_max"]),
    "peers": ("peers", ["engine", "peer", "request_bytes", "constraint", "calls", "successes",
                        "p50_ns", "p99_ns", "violations"]),
}
