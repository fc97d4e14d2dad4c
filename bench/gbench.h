/* bench/gbench.h: a C API over Google Benchmark 1.7.1 (Debian libbenchmark-dev).
 *
 * Owns nothing but the crossing: bench/gbench_shim.cc, the project's only C++ file, implements
 * it. Modelled on iree's runtime/src/iree/testing/benchmark.h: an opaque state pointer wraps
 * benchmark::State; registration copies a C definition into a lambda for RegisterBenchmark;
 * gbench_keep_running() calls KeepRunningBatch so the C-to-C++ crossing is paid once per batch;
 * errors become SkipWithError. Every entry point is noexcept: no C++ exception ever reaches C
 * (an allocation failure inside Google Benchmark becomes an error return).
 *
 * Use: gbench_initialize(&argc, argv) (consumes --benchmark_* flags), gbench_register() per
 * benchmark, gbench_add_context(), gbench_run(), gbench_shutdown().
 */
#ifndef MMC_BENCH_GBENCH_H
#define MMC_BENCH_GBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define GBENCH_NOEXCEPT noexcept /* the definitions in gbench_shim.cc never throw */
#else
#define GBENCH_NOEXCEPT
#endif

typedef struct gbench_state gbench_state_t; /* one running benchmark (wraps benchmark::State) */

/* The C function of a benchmark; user is gbench_def.user. */
typedef void (*gbench_fn_t)(gbench_state_t *state, void *user);

enum gbench_time_unit { GBENCH_NS = 0, GBENCH_US = 1, GBENCH_MS = 2, GBENCH_S = 3 };

#define GBENCH_MAX_ARGS 8

/* A benchmark to register. Copied by gbench_register(); strings need not outlive the call. */
struct gbench_def {
    const char *name;           /* benchmark name; Google Benchmark appends "/<arg>" per arg */
    gbench_fn_t fn;             /* called once per run (repetition, or per estimation round when
                                   iterations is 0) */
    void *user;                 /* handed to fn unchanged */
    int64_t args[GBENCH_MAX_ARGS]; /* integer arguments, read with gbench_arg() */
    size_t nargs;               /* entries of args used, 0..GBENCH_MAX_ARGS */
    int64_t iterations;         /* > 0: exactly this many iterations per run (no estimation);
                                   0: Google Benchmark estimates from --benchmark_min_time */
    int repetitions;            /* > 0: this many runs; 0: --benchmark_repetitions */
    bool manual_time;           /* the function reports time with gbench_set_iteration_time() */
    enum gbench_time_unit unit; /* unit of the console and JSON times */
};

/* Counter flags, as benchmark::Counter::Flags. */
enum gbench_counter_flags {
    GBENCH_COUNTER_DEFAULT = 0,
    GBENCH_COUNTER_RATE = 1,            /* divided by the run's time */
    GBENCH_COUNTER_AVG_ITERATIONS = 2,  /* divided by the iterations */
};

/* Hand argv to benchmark::Initialize: the --benchmark_* flags and --v are consumed, the rest is
 * left in argv/argc in order. Returns 0, or -1 if Google Benchmark failed (message on stderr).
 * --help is NOT given to Google Benchmark (it would exit): the caller prints its own. */
int gbench_initialize(int *argc, char **argv) GBENCH_NOEXCEPT;

/* Register one benchmark. 0, or -EINVAL (bad definition) / -ENOMEM. */
int gbench_register(const struct gbench_def *def) GBENCH_NOEXCEPT;

/* A key/value pair in the "context" of Google Benchmark's console and JSON output. 0 or
 * -ENOMEM. Call before gbench_run(). */
int gbench_add_context(const char *key, const char *value) GBENCH_NOEXCEPT;

/* Options of a run. */
struct gbench_run_opts {
    /* Called just before Google Benchmark's display reporter prints (a progress bar clears its
     * line here). NULL: none. */
    void (*before_report)(void *user);
    void *user;
    /* Runs that ended with an error message beginning with this prefix are not printed by the
     * display reporter (they still go to --benchmark_out). NULL: print all. */
    const char *hide_error_prefix;
};

/* Run every registered benchmark matching --benchmark_filter with the reporter chosen by
 * --benchmark_format (wrapped as opts says) and --benchmark_out. Returns the number of
 * benchmarks that matched, or -1 on an internal error. */
long gbench_run(const struct gbench_run_opts *opts) GBENCH_NOEXCEPT;

/* Clear the registrations and release Google Benchmark's state. */
void gbench_shutdown(void) GBENCH_NOEXCEPT;

/* The value of --benchmark_filter after gbench_initialize() (copied to buf; "" if none). */
void gbench_filter(char *buf, size_t len) GBENCH_NOEXCEPT;

/* ---- inside a benchmark function ---- */

/* Start or continue the timing loop: true while iterations remain; it hands out `batch`
 * iterations at a time (KeepRunningBatch; the last batch may overshoot, so ask for
 * min(batch, gbench_max_iterations - gbench_iterations) to land exactly). */
bool gbench_keep_running(gbench_state_t *st, int64_t batch) GBENCH_NOEXCEPT;
/* Iterations this run must do (known once gbench_keep_running() was first called; also
 * before, when the definition fixed them). */
int64_t gbench_max_iterations(const gbench_state_t *st) GBENCH_NOEXCEPT;
/* Iterations handed out so far in this run. */
int64_t gbench_iterations(const gbench_state_t *st) GBENCH_NOEXCEPT;
/* The i-th argument of the definition; 0 if i >= nargs. */
int64_t gbench_arg(const gbench_state_t *st, size_t i) GBENCH_NOEXCEPT;
/* Manual time: the time of the iterations handed out by the last gbench_keep_running() call,
 * in seconds (needs manual_time). */
void gbench_set_iteration_time(gbench_state_t *st, double seconds) GBENCH_NOEXCEPT;
/* Set a user counter shown in the console and JSON output. 0 or -ENOMEM. */
int gbench_set_counter(gbench_state_t *st, const char *name, double value, unsigned flags) GBENCH_NOEXCEPT;
/* Set the run's label (a free text column). */
void gbench_set_label(gbench_state_t *st, const char *label) GBENCH_NOEXCEPT;
/* Mark the run failed with a message: the loop ends at the next gbench_keep_running(). */
void gbench_skip_with_error(gbench_state_t *st, const char *message) GBENCH_NOEXCEPT;
bool gbench_error_occurred(const gbench_state_t *st) GBENCH_NOEXCEPT;
/* Automatic timing only: stop / restart the clock around untimed work. */
void gbench_pause_timing(gbench_state_t *st) GBENCH_NOEXCEPT;
void gbench_resume_timing(gbench_state_t *st) GBENCH_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* MMC_BENCH_GBENCH_H */
