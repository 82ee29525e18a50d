// split_cost.cpp — one thread: append N records, then read them all; thread CPU time per record
// of each half, for ours (a single-producer log; argv[1] = LogConfig::publish_batch, default 0)
// and, for scale, boost::lockfree::spsc_queue (push 256, pop 256). An ad-hoc diagnostic of the
// log's own per-record code (docs/tuple-log.md, "What changed"); best of 7 runs.
//   make -C benchmarks/micro build/split_cost && MB=160 benchmarks/micro/build/split_cost [batch]
//   MB: log bytes per run in units of 64 KiB (at most 400000 records); MP=1: a multi-producer
//   log (one producer, but the multi-producer append path).
#include <boost/lockfree/spsc_queue.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>
#include <sys/mman.h>
#include "parallel_material/core/tuple_log.hpp"
using namespace pm::core;
static double cpu() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
template <size_t S> struct Rec { char b[S]; };
static std::vector<char> src(1 << 21);
template <size_t S> void run(int batch) {
    const uint64_t n = std::min<uint64_t>(400000, (uint64_t(getenv("MB") ? atoi(getenv("MB")) : 160) << 16) / ((8 + S + 7) & ~7ull));
    LogConfig cfg; cfg.page_size = 65536; cfg.ring_pages = 256; cfg.single_producer = getenv("MP") == nullptr; cfg.publish_batch = batch;
    size_t sz = TupleLog::region_size(cfg);
    void *mem = mmap(nullptr, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double bestr = 1e9, best = 1e9, bestq = 1e9;
    auto q = new boost::lockfree::spsc_queue<Rec<S>>(16384);
    for (int it = 0; it < 7; ++it) {
        TupleLog::create(mem, cfg);
        TupleLog w(mem, nullptr, nullptr), r(mem, nullptr, nullptr);
        w.try_register_producer();
        Cursor c; RecordView v; uint64_t sum = 0;
        double t0 = cpu();
        for (uint64_t j = 0; j < n; ++j) w.append(src.data() + ((j * 64) & ((1 << 20) - 1)), S);
        w.flush();
        double t1 = cpu();
        while (r.try_read(c, &v) == ReadStatus::Record) { uint64_t x; memcpy(&x, v.data, 8); sum += x; }
        double t2 = cpu();
        best = std::min(best, (t1 - t0) / n * 1e9);
        bestr = std::min(bestr, (t2 - t1) / n * 1e9);
        t0 = cpu();
        for (uint64_t i = 0; i < n; i += 256) {
            for (uint64_t j = i; j < i + 256 && j < n; ++j) q->push(*reinterpret_cast<const Rec<S>*>(src.data() + ((j * 64) & ((1 << 20) - 1))));
            Rec<S> rr; while (q->pop(rr)) { uint64_t x; memcpy(&x, rr.b, 8); sum += x; }
        }
        t1 = cpu();
        bestq = std::min(bestq, (t1 - t0) / n * 1e9);
        if (sum == 42) puts("");
    }
    printf("S=%4zu batch=%5d ours append %.2f read %.2f ns/rec  spsc %.2f ns/rec\n", S, batch, best, bestr, bestq);
    munmap(mem, sz);
}
int main(int argc, char **argv) {
    int b = argc > 1 ? atoi(argv[1]) : 0;
    run<16>(b); run<128>(b); run<1024>(b);
}
