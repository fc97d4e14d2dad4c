// bench/gbench_shim.cc: the C API of bench/gbench.h over Google Benchmark 1.7.1; the project's
// only C++ file.
//
// Owns: the wrapper of benchmark::State handed to C (struct gbench_state), the lambda each C
// definition is copied into, and a forwarding display reporter (hooks before printing, hides
// runs that ended with a given error prefix). Every extern "C" function is noexcept and catches
// everything: a C caller never sees an exception.

#include "gbench.h"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct gbench_state {
    benchmark::State *st;  // the running state, valid for the duration of the C call
    const int64_t *args;   // the definition's arguments (owned by the lambda)
    size_t nargs;
};

namespace {

// Passes everything to the reporter chosen by --benchmark_format, calling a C hook before
// each print and dropping the runs the caller wants hidden (cases skipped after Ctrl-C).
class ForwardingReporter : public benchmark::BenchmarkReporter {
  public:
    ForwardingReporter(benchmark::BenchmarkReporter *inner, const gbench_run_opts &o)
        : inner_(inner), opts_(o), hide_(o.hide_error_prefix ? o.hide_error_prefix : "")
    {
    }
    bool ReportContext(const Context &context) override
    {
        Hook();
        return inner_->ReportContext(context);
    }
    void ReportRuns(const std::vector<Run> &reports) override
    {
        std::vector<Run> shown;
        for (const Run &r : reports)
            if (hide_.empty() || !r.error_occurred || r.error_message.compare(0, hide_.size(), hide_) != 0)
                shown.push_back(r);
        if (shown.empty())
            return;
        Hook();
        inner_->ReportRuns(shown);
    }
    void Finalize() override
    {
        Hook();
        inner_->Finalize();
    }

  private:
    void Hook()
    {
        if (opts_.before_report)
            opts_.before_report(opts_.user);
    }
    benchmark::BenchmarkReporter *inner_;
    gbench_run_opts opts_;
    std::string hide_;
};

benchmark::TimeUnit unit_of(gbench_time_unit u)
{
    switch (u) {
    case GBENCH_US:
        return benchmark::kMicrosecond;
    case GBENCH_MS:
        return benchmark::kMillisecond;
    case GBENCH_S:
        return benchmark::kSecond;
    default:
        return benchmark::kNanosecond;
    }
}

} // namespace

extern "C" int gbench_initialize(int *argc, char **argv) noexcept
{
    try {
        benchmark::Initialize(argc, argv);
        return 0;
    } catch (...) {
        std::fputs("gbench: Google Benchmark's Initialize failed\n", stderr);
        return -1;
    }
}

extern "C" int gbench_register(const gbench_def *def) noexcept
{
    if (!def || !def->name || !def->fn || def->nargs > GBENCH_MAX_ARGS || def->iterations < 0 ||
        def->repetitions < 0)
        return -EINVAL;
    try {
        gbench_fn_t fn = def->fn;
        void *user = def->user;
        std::vector<int64_t> args(def->args, def->args + def->nargs);
        benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
            def->name, [fn, user, args](benchmark::State &st) {
                gbench_state s{&st, args.data(), args.size()};
                fn(&s, user);
            });
        if (!b)
            return -ENOMEM;
        if (def->nargs) { // the arguments also name the instance: name/a0/a1...
            b->Args(args);
        }
        if (def->iterations > 0)
            b->Iterations(def->iterations);
        if (def->repetitions > 0)
            b->Repetitions(def->repetitions);
        if (def->manual_time)
            b->UseManualTime();
        b->Unit(unit_of(def->unit));
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

extern "C" int gbench_add_context(const char *key, const char *value) noexcept
{
    try {
        benchmark::AddCustomContext(key ? key : "", value ? value : "");
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

extern "C" long gbench_run(const gbench_run_opts *opts) noexcept
{
    try {
        gbench_run_opts o{};
        if (opts)
            o = *opts;
        ForwardingReporter display(benchmark::CreateDefaultDisplayReporter(), o);
        return static_cast<long>(benchmark::RunSpecifiedBenchmarks(&display));
    } catch (...) {
        std::fputs("gbench: Google Benchmark's run failed\n", stderr);
        return -1;
    }
}

extern "C" void gbench_shutdown(void) noexcept
{
    try {
        benchmark::ClearRegisteredBenchmarks();
        benchmark::Shutdown();
    } catch (...) {
    }
}

extern "C" void gbench_filter(char *buf, size_t len) noexcept
{
    if (!buf || !len)
        return;
    buf[0] = 0;
    try {
        std::string f = benchmark::GetBenchmarkFilter();
        std::snprintf(buf, len, "%s", f.c_str());
    } catch (...) {
    }
}

extern "C" bool gbench_keep_running(gbench_state_t *s, int64_t batch) noexcept
{
    return s->st->KeepRunningBatch(batch > 0 ? batch : 1);
}

extern "C" int64_t gbench_max_iterations(const gbench_state_t *s) noexcept
{
    return static_cast<int64_t>(s->st->max_iterations);
}

extern "C" int64_t gbench_iterations(const gbench_state_t *s) noexcept
{
    return static_cast<int64_t>(s->st->iterations());
}

extern "C" int64_t gbench_arg(const gbench_state_t *s, size_t i) noexcept
{
    return i < s->nargs ? s->args[i] : 0;
}

extern "C" void gbench_set_iteration_time(gbench_state_t *s, double seconds) noexcept
{
    s->st->SetIterationTime(seconds);
}

extern "C" int gbench_set_counter(gbench_state_t *s, const char *name, double value,
                                  unsigned flags) noexcept
{
    try {
        int f = benchmark::Counter::kDefaults;
        if (flags & GBENCH_COUNTER_RATE)
            f |= benchmark::Counter::kIsRate;
        if (flags & GBENCH_COUNTER_AVG_ITERATIONS)
            f |= benchmark::Counter::kAvgIterations;
        s->st->counters[name ? name : ""] =
            benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f));
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

extern "C" void gbench_set_label(gbench_state_t *s, const char *label) noexcept
{
    try {
        s->st->SetLabel(label ? label : "");
    } catch (...) {
    }
}

extern "C" void gbench_skip_with_error(gbench_state_t *s, const char *message) noexcept
{
    s->st->SkipWithError(message ? message : "error");
}

extern "C" bool gbench_error_occurred(const gbench_state_t *s) noexcept
{
    return s->st->error_occurred();
}

extern "C" void gbench_pause_timing(gbench_state_t *s) noexcept
{
    s->st->PauseTiming();
}

extern "C" void gbench_resume_timing(gbench_state_t *s) noexcept
{
    s->st->ResumeTiming();
}
