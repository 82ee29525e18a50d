// tuple_log_bench.cpp — Google Benchmark: TupleLog vs boost::lockfree queues vs a memcpy bound.
//
// Every case moves N records of S payload bytes from P producer threads to C consumer threads;
// every consumer sees every record (broadcast). One iteration = one complete transfer (threads
// started, all records produced and consumed, threads joined); the time is measured from the
// moment all threads are released until every consumer has seen every record (manual time).
// Counters: records/s = N / time, bytes/s = N * S * C / time (payload delivered to consumers).
//
//   ours        TupleLog, 16 MiB ring (256 x 64 KiB pages), no spill; consumers use read() with
//               FutexWaitHooks; each producer appends from a source buffer, each consumer gets
//               its copy in its Cursor and touches its first 8 bytes. With one producer
//               the log is created single_producer (as the adapter does for an elected
//               producer). The default LogConfig otherwise (as the adapter uses it): every
//               record is published by its append.
//   ours_batched the same with LogConfig::publish_batch = 4 KiB (one-producer cases only): the
//               producer publishes once per 4 KiB of records (and at the end).
//   ours_spill  the same over a 1 MiB ring (16 x 64 KiB) with a spill file (Auto: io_uring):
//               the log wraps the ring many times; consumers mostly keep up.
//   boost_spsc  boost::lockfree::spsc_queue<Rec<S>> (1->1 only).
//   boost_queue boost::lockfree::queue<Rec<S>> (fixed capacity, bounded_push); it moves
//               fixed-size items, so the item is a struct of exactly S bytes, copied in on push
//               and out on pop (the same two copies per record as ours). For 1->2 (broadcast)
//               each consumer has its own queue and the producer pushes every record to both.
//   memcpy      one thread copying the same payload bytes once per consumer (N * S * C bytes):
//               record by record, from the producers' source buffer into a destination buffer
//               of N * S bytes (as large as the log): a bound with no synchronization at all.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include "parallel_material/core/tuple_log.hpp"

using namespace pm::core;

namespace {

constexpr size_t kSrcBytes = 1 << 20;
constexpr uint64_t kTargetBytes = 12ull << 20;  // log bytes per transfer (fits a 16 MiB ring)
constexpr uint64_t kMaxRecords = 400000;
constexpr uint32_t kBatch = 4096;  // LogConfig::publish_batch of ours_batched

const char *source() {
    static std::vector<char> src = [] {
        std::vector<char> v(kSrcBytes + 4096);
        for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>(i * 131 + 7);
        return v;
    }();
    return src.data();
}

uint64_t records_for(size_t size) {
    uint64_t fp = (8 + size + 7) & ~uint64_t{7};
    return std::min<uint64_t>(kMaxRecords, kTargetBytes / fp);
}

// Record i's bytes start at a different 64-byte offset of the 1 MiB source (no division on the
// hot path: the buffer has 4 KiB of slack past kSrcBytes, more than the largest record).
inline const char *src_at(uint64_t i, size_t) {
    return source() + ((i * 64) & (kSrcBytes - 1));
}

// Thread placement: thread i of a case runs on the (i mod n)-th CPU this process may use, the
// same placement for every implementation (consumers first, then producers). Unpinned threads
// on an oversubscribed machine sometimes time-share one core and sometimes not, which swings
// the results by 10x; pinned, every case pays the same cross-core transfers.
void pin_thread(int i) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return;
    int n = CPU_COUNT(&allowed);
    if (n <= 1)
        return;
    int want = i % n;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (want-- == 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            return;
        }
    }
}

// Start gate: all threads spin until released, so thread creation is not timed.
struct Gate {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    void arrive_and_wait() {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    void release_when(int n) {
        while (ready.load() < n) std::this_thread::yield();
        go.store(true, std::memory_order_release);
    }
};

void set_counters(benchmark::State &state, uint64_t n, size_t size, int consumers) {
    state.counters["records_per_s"] =
        benchmark::Counter(double(n) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["bytes_per_s"] =
        benchmark::Counter(double(n) * double(size) * consumers * double(state.iterations()),
                           benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1024);
}

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// TupleLog

struct LogFixture {
    LogFixture(uint32_t page, uint32_t ring, bool spill, bool single_producer,
               uint32_t publish_batch) {
        cfg.page_size = page;
        cfg.ring_pages = ring;
        cfg.single_producer = single_producer;
        cfg.publish_batch = publish_batch;
        size = TupleLog::region_size(cfg);
        mem = mmap(nullptr, size + 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        word = new (mem) std::atomic<uint32_t>(0);
        region = static_cast<char *>(mem) + 64;
        TupleLog::create(region, cfg);
        if (spill) {
            char name[] = "/tmp/pm_bench_spill_XXXXXX";
            fd = mkstemp(name);
            unlink(name);
        }
    }
    ~LogFixture() {
        munmap(mem, size + 64);
        if (fd >= 0)
            close(fd);
    }
    LogConfig cfg;
    size_t size;
    void *mem;
    void *region;
    std::atomic<uint32_t> *word;
    int fd = -1;
};

void BM_ours(benchmark::State &state, int producers, int consumers, size_t size, bool spill,
             uint32_t publish_batch = 0) {
    const uint64_t n = records_for(size);
    LogFixture fx(64 * 1024, spill ? 16 : 256, spill, producers == 1, publish_batch);
    for (auto _ : state) {
        TupleLog::reset(fx.region);
        if (fx.fd >= 0)
            (void)ftruncate(fx.fd, 0);
        {
            TupleLog boot(fx.region, nullptr, nullptr);
            for (int p = 0; p < producers; ++p) boot.try_register_producer();
        }
        Gate gate;
        std::atomic<int> done{0};
        Clock::time_point end_time[8];
        std::vector<std::thread> threads;
        for (int c = 0; c < consumers; ++c) {
            threads.emplace_back([&, c] {
                pin_thread(c);
                auto sf = fx.fd >= 0 ? open_spill_file(fx.fd, SpillMode::Auto) : nullptr;
                FutexWaitHooks hooks(fx.word);
                TupleLog log(fx.region, sf.get(), &hooks);
                Cursor cur;
                RecordView v;
                uint64_t sum = 0, got = 0;
                gate.arrive_and_wait();
                while (log.read(cur, &v) == ReadStatus::Record) {
                    uint64_t x = 0;
                    std::memcpy(&x, v.data, std::min<size_t>(8, v.len));
                    sum += x;
                    ++got;
                }
                end_time[c] = Clock::now();
                benchmark::DoNotOptimize(sum);
                if (got != n)
                    std::abort();
                done.fetch_add(1);
            });
        }
        for (int p = 0; p < producers; ++p) {
            threads.emplace_back([&, p] {
                pin_thread(consumers + p);
                auto sf = fx.fd >= 0 ? open_spill_file(fx.fd, SpillMode::Auto) : nullptr;
                FutexWaitHooks hooks(fx.word);
                TupleLog log(fx.region, sf.get(), &hooks);
                gate.arrive_and_wait();
                for (uint64_t i = p; i < n; i += producers)
                    log.append(src_at(i, size), static_cast<uint32_t>(size));
                log.producer_done();
            });
        }
        gate.release_when(producers + consumers);
        auto start = Clock::now();
        for (auto &t : threads) t.join();
        auto end = end_time[0];
        for (int c = 1; c < consumers; ++c) end = std::max(end, end_time[c]);
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    }
    TupleLog log(fx.region, nullptr, nullptr);
    state.counters["spilled_pages"] = double(log.stats().pages_spilled);
    set_counters(state, n, size, consumers);
}

// ---------------------------------------------------------------------------------------------
// boost::lockfree

template <size_t S>
struct Rec {
    char b[S];
};

constexpr size_t kQueueCapacity = 16384;

template <size_t S>
void BM_boost_spsc(benchmark::State &state) {
    const uint64_t n = records_for(S);
    auto q = std::make_unique<boost::lockfree::spsc_queue<Rec<S>>>(kQueueCapacity);
    for (auto _ : state) {
        Gate gate;
        Clock::time_point end_time;
        std::thread consumer([&] {
            pin_thread(0);
            Rec<S> r;
            uint64_t sum = 0, got = 0;
            gate.arrive_and_wait();
            while (got < n) {
                if (q->pop(r)) {
                    uint64_t x;
                    std::memcpy(&x, r.b, std::min<size_t>(8, S));
                    sum += x;
                    ++got;
                } else {
                    std::this_thread::yield();
                }
            }
            end_time = Clock::now();
            benchmark::DoNotOptimize(sum);
        });
        std::thread producer([&] {
            pin_thread(1);
            gate.arrive_and_wait();
            for (uint64_t i = 0; i < n; ++i) {
                const Rec<S> &r = *reinterpret_cast<const Rec<S> *>(src_at(i, S));
                while (!q->push(r)) std::this_thread::yield();
            }
        });
        gate.release_when(2);
        auto start = Clock::now();
        producer.join();
        consumer.join();
        state.SetIterationTime(std::chrono::duration<double>(end_time - start).count());
    }
    set_counters(state, n, S, 1);
}

template <size_t S>
void BM_boost_queue(benchmark::State &state, int producers, int consumers) {
    const uint64_t n = records_for(S);
    using Q = boost::lockfree::queue<Rec<S>>;
    // One queue per consumer: broadcast means the producer pushes every record to each.
    std::vector<std::unique_ptr<Q>> qs;
    for (int c = 0; c < consumers; ++c) qs.push_back(std::make_unique<Q>(kQueueCapacity));
    for (auto _ : state) {
        Gate gate;
        Clock::time_point end_time[8];
        std::vector<std::thread> threads;
        for (int c = 0; c < consumers; ++c) {
            threads.emplace_back([&, c] {
                pin_thread(c);
                Rec<S> r;
                uint64_t sum = 0, got = 0;
                gate.arrive_and_wait();
                while (got < n) {
                    if (qs[c]->pop(r)) {
                        uint64_t x;
                        std::memcpy(&x, r.b, std::min<size_t>(8, S));
                        sum += x;
                        ++got;
                    } else {
                        std::this_thread::yield();
                    }
                }
                end_time[c] = Clock::now();
                benchmark::DoNotOptimize(sum);
            });
        }
        for (int p = 0; p < producers; ++p) {
            threads.emplace_back([&, p] {
                pin_thread(consumers + p);
                gate.arrive_and_wait();
                for (uint64_t i = p; i < n; i += producers) {
                    const Rec<S> &r = *reinterpret_cast<const Rec<S> *>(src_at(i, S));
                    for (auto &q : qs)
                        while (!q->bounded_push(r)) std::this_thread::yield();
                }
            });
        }
        gate.release_when(producers + consumers);
        auto start = Clock::now();
        for (auto &t : threads) t.join();
        auto end = end_time[0];
        for (int c = 1; c < consumers; ++c) end = std::max(end, end_time[c]);
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    }
    set_counters(state, n, S, consumers);
}

// ---------------------------------------------------------------------------------------------
// Per-record CPU cost, one thread (a diagnostic, not one of the cases): the thread
// appends 256 records, then reads them back (ours: a second handle with its own cursor; spsc:
// push, then pop), until N records went through; the CPU time of that thread per record. Both
// sides copy each record in and out and touch its first 8 bytes, as in the cases above. No
// cross-core traffic and no scheduling in it, so it moves much less with the load of other
// processes than the two-thread cases, and it shows what the log's own code costs per record.

void BM_cpu_ours(benchmark::State &state, size_t size, uint32_t publish_batch) {
    const uint64_t n = records_for(size);
    LogFixture fx(64 * 1024, 256, false, true, publish_batch);
    for (auto _ : state) {
        TupleLog::reset(fx.region);
        TupleLog w(fx.region, nullptr, nullptr), r(fx.region, nullptr, nullptr);
        w.try_register_producer();
        Cursor cur;
        RecordView v;
        uint64_t sum = 0, got = 0;
        for (uint64_t i = 0; i < n; i += 256) {
            const uint64_t e = std::min<uint64_t>(n, i + 256);
            for (uint64_t j = i; j < e; ++j) w.append(src_at(j, size), static_cast<uint32_t>(size));
            w.flush();
            while (r.try_read(cur, &v) == ReadStatus::Record) {
                uint64_t x = 0;
                std::memcpy(&x, v.data, std::min<size_t>(8, v.len));
                sum += x;
                ++got;
            }
        }
        w.producer_done();
        benchmark::DoNotOptimize(sum);
        if (got != n)
            std::abort();
    }
    state.counters["ns_per_record"] = benchmark::Counter(
        double(n) * double(state.iterations()),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The multi-producer path in one thread: a multi-producer log, two producer handles appending
// alternately (record j through handle j % 2), a third handle reading what it can after every
// 256 records, and all of it at the end. (With producer-owned chunks a reader may lag behind a
// producer's open chunk; every record is read once either way.)
void BM_cpu_ours_mp(benchmark::State &state, size_t size) {
    const uint64_t n = records_for(size);
    LogFixture fx(64 * 1024, 256, false, false, 0);
    for (auto _ : state) {
        TupleLog::reset(fx.region);
        TupleLog w0(fx.region, nullptr, nullptr), w1(fx.region, nullptr, nullptr),
            r(fx.region, nullptr, nullptr);
        w0.try_register_producer();
        w1.try_register_producer();
        Cursor cur;
        RecordView v;
        uint64_t sum = 0, got = 0;
        auto drain = [&] {
            while (r.try_read(cur, &v) == ReadStatus::Record) {
                uint64_t x = 0;
                std::memcpy(&x, v.data, std::min<size_t>(8, v.len));
                sum += x;
                ++got;
            }
        };
        for (uint64_t i = 0; i < n; i += 256) {
            const uint64_t e = std::min<uint64_t>(n, i + 256);
            for (uint64_t j = i; j < e; ++j)
                (j & 1 ? w1 : w0).append(src_at(j, size), static_cast<uint32_t>(size));
            drain();
        }
        w0.producer_done();
        w1.producer_done();
        drain();
        benchmark::DoNotOptimize(sum);
        if (got != n)
            std::abort();
    }
    state.counters["ns_per_record"] = benchmark::Counter(
        double(n) * double(state.iterations()),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <size_t S>
void BM_cpu_spsc(benchmark::State &state) {
    const uint64_t n = records_for(S);
    auto q = std::make_unique<boost::lockfree::spsc_queue<Rec<S>>>(kQueueCapacity);
    for (auto _ : state) {
        uint64_t sum = 0, got = 0;
        for (uint64_t i = 0; i < n; i += 256) {
            const uint64_t e = std::min<uint64_t>(n, i + 256);
            for (uint64_t j = i; j < e; ++j) q->push(*reinterpret_cast<const Rec<S> *>(src_at(j, S)));
            Rec<S> r;
            while (q->pop(r)) {
                uint64_t x;
                std::memcpy(&x, r.b, std::min<size_t>(8, S));
                sum += x;
                ++got;
            }
        }
        benchmark::DoNotOptimize(sum);
        if (got != n)
            std::abort();
    }
    state.counters["ns_per_record"] = benchmark::Counter(
        double(n) * double(state.iterations()),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------------------------
// memcpy bound

void BM_memcpy(benchmark::State &state, int consumers, size_t size) {
    const uint64_t n = records_for(size);
    const size_t total = n * size;
    std::vector<char> dst(total, 1);
    for (auto _ : state) {
        auto start = Clock::now();
        for (int c = 0; c < consumers; ++c) {
            char *d = dst.data();
            for (uint64_t i = 0; i < n; ++i, d += size) std::memcpy(d, src_at(i, size), size);
            benchmark::ClobberMemory();
        }
        state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    }
    set_counters(state, n, size, consumers);
}

template <size_t S>
void register_size() {
    struct Shape {
        int p, c;
        const char *name;
    };
    const Shape shapes[] = {{1, 1, "1to1"}, {2, 1, "2to1"}, {1, 2, "1to2"}};
    const std::string sz = std::to_string(S);
    benchmark::RegisterBenchmark(("cpu_ours/1thread/" + sz).c_str(),
                                 [](benchmark::State &st) { BM_cpu_ours(st, S, 0); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cpu_ours_batched/1thread/" + sz).c_str(),
                                 [](benchmark::State &st) { BM_cpu_ours(st, S, kBatch); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cpu_ours_mp/1thread/" + sz).c_str(),
                                 [](benchmark::State &st) { BM_cpu_ours_mp(st, S); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cpu_spsc/1thread/" + sz).c_str(), BM_cpu_spsc<S>)
        ->Unit(benchmark::kMillisecond);
    for (const Shape &sh : shapes) {
        const std::string tail = "/" + std::string(sh.name) + "/" + sz;
        const int p = sh.p, c = sh.c;
        benchmark::RegisterBenchmark(("ours" + tail).c_str(),
                                     [p, c](benchmark::State &st) { BM_ours(st, p, c, S, false); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        if (p == 1)
            benchmark::RegisterBenchmark(
                ("ours_batched" + tail).c_str(),
                [p, c](benchmark::State &st) { BM_ours(st, p, c, S, false, kBatch); })
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("ours_spill" + tail).c_str(),
                                     [p, c](benchmark::State &st) { BM_ours(st, p, c, S, true); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        if (p == 1 && c == 1)
            benchmark::RegisterBenchmark(("boost_spsc" + tail).c_str(), BM_boost_spsc<S>)
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("boost_queue" + tail).c_str(),
                                     [p, c](benchmark::State &st) { BM_boost_queue<S>(st, p, c); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("memcpy" + tail).c_str(),
                                     [c](benchmark::State &st) { BM_memcpy(st, c, S); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
}

}  // namespace

int main(int argc, char **argv) {
    register_size<16>();
    register_size<128>();
    register_size<1024>();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
