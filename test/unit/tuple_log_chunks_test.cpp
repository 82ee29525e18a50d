// tuple_log_chunks_test.cpp — GoogleTest for multi-producer logs' producer-owned chunks: chunk
// boundaries and padding, records larger than a chunk or straddling pages, marks left by
// earlier laps of the ring, an open chunk holding readers back, many producers (threads and
// fork()ed processes) with mixed sizes checked byte by byte in every reader.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel_material/core/tuple_log.hpp"

using namespace pm::core;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PM_CHUNK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define PM_CHUNK_SANITIZED 1
#endif
#endif
#ifndef PM_CHUNK_SANITIZED
#define PM_CHUNK_SANITIZED 0
#endif

namespace {

constexpr int kChunkScale = PM_CHUNK_SANITIZED ? 1 : 6;

// A 64-byte aligned shared mapping filled with garbage (DSM memory is not zeroed), holding a
// futex word on its first line and the log after it.
struct Mapping {
    explicit Mapping(const LogConfig &cfg) {
        size = 64 + TupleLog::region_size(cfg);
        mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            throw std::runtime_error("mmap failed");
        std::memset(mem, 0xA5, size);
        word = new (mem) std::atomic<uint32_t>(0);
        region = static_cast<char *>(mem) + 64;
        TupleLog::create(region, cfg);
    }
    ~Mapping() { munmap(mem, size); }
    size_t size;
    void *mem;
    void *region;
    std::atomic<uint32_t> *word;
};

struct TmpFile {
    TmpFile() {
        char name[] = "/tmp/pm_chunks_XXXXXX";
        fd = mkstemp(name);
        if (fd < 0)
            throw std::runtime_error("mkstemp failed");
        unlink(name);
    }
    ~TmpFile() { close(fd); }
    int fd;
};

LogConfig mp_cfg(uint32_t page, uint32_t ring) {
    LogConfig c;
    c.page_size = page;
    c.ring_pages = ring;
    return c;
}

// Record `seq` of producer `p`: len bytes, the first 8 are (p, seq), the rest a pattern of both.
std::string make(uint32_t p, uint32_t seq, uint32_t len) {
    std::string s(len, '\0');
    for (uint32_t i = 0; i < len; ++i) s[i] = static_cast<char>((p * 29 + seq * 13 + i * 7) & 0xff);
    if (len >= 8) {
        std::memcpy(&s[0], &p, 4);
        std::memcpy(&s[4], &seq, 4);
    }
    return s;
}

// Mixed sizes: mostly small, some a few chunks long (4 KiB chunks: straddling pages too), a
// few longer than half a 32 KiB ring (stored out of line).
uint32_t mixed_len(uint32_t p, uint32_t seq) {
    uint32_t h = p * 2654435761u ^ (seq * 40503u + 17u);
    h ^= h >> 15;
    if (h % 97 == 0)
        return 17000 + h % 3000;
    if (h % 11 == 0)
        return 3000 + h % 7000;
    return 8 + h % 400;
}

// Checks a record read back against make(): returns its producer and sequence number.
bool check(const RecordView &v, uint32_t *p, uint32_t *seq) {
    if (v.len < 8)
        return false;
    std::memcpy(p, v.data, 4);
    std::memcpy(seq, static_cast<const char *>(v.data) + 4, 4);
    if (v.len != mixed_len(*p, *seq))
        return false;
    const std::string want = make(*p, *seq, v.len);
    return std::memcmp(want.data(), v.data, v.len) == 0;
}

std::string str(const RecordView &v) {
    return std::string(static_cast<const char *>(v.data), v.len);
}

}  // namespace

// 4 KiB pages: the chunk is the page. A record that does not fit in the rest of its chunk
// starts the next chunk (the rest is padding readers skip); one that fills it exactly does not
// leave a pad; positions say so.
TEST(TupleLogChunks, ChunkBoundariesAndPadding) {
    Mapping m(mp_cfg(4096, 8));
    TmpFile f;
    auto sf = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog w(m.region, sf.get(), nullptr), r(m.region, sf.get(), nullptr);
    ASSERT_TRUE(w.try_register_producer());
    struct Want {
        uint32_t len;
        uint64_t pos;
    };
    const std::vector<Want> want = {
        {1016, 0},     {1016, 1024}, {1016, 2048}, {1016, 3072},  // exactly chunk 0: no pad
        {2000, 4096},                                            // chunk 1: 2088 bytes left
        {2100, 8192},                                            // does not fit: pad, chunk 2
        {1976, 10304},                                           // fills chunk 2 exactly
        {0, 12288},                                              // chunk 3
        {4080, 12296},                                           // fills chunk 3 exactly
        {4088, 16384},                                           // exactly one chunk
        {5, 20480},                                              // chunk 5, 4080 bytes left
        {5000, 24576},  // longer than a chunk: pad, chunks 6-7, straddles pages 6 and 7
        {10, 29584},    // after it, in the rest of chunk 7
    };
    Cursor c;
    RecordView v;
    for (size_t i = 0; i < want.size(); ++i) {
        const std::string s = make(0, static_cast<uint32_t>(i), want[i].len);
        EXPECT_EQ(w.append(s.data(), want[i].len), want[i].pos) << i;
        ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record) << i;  // published at once
        EXPECT_EQ(v.pos, want[i].pos);
        EXPECT_EQ(str(v), s);
        EXPECT_EQ(r.try_read(c, &v), ReadStatus::WouldBlock) << i;
    }
    EXPECT_TRUE(w.producer_done());
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::End);
    // A second reader, and a seek back to a record after a pad.
    Cursor c2;
    for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(r.read(c2, &v), ReadStatus::Record);
        EXPECT_EQ(v.pos, want[i].pos);
    }
    EXPECT_EQ(r.read(c2, &v), ReadStatus::End);
    r.seek(c2, want[5].pos);
    ASSERT_EQ(r.read(c2, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), make(0, 5, want[5].len));
    EXPECT_EQ(w.stats().records, want.size());
}

// 64 KiB pages, 16 KiB chunks. A record longer than a chunk takes several chunks and the rest
// of the last one is where the producer's next record goes; a record claimed across a page
// boundary straddles two pages. Two producers alternate (each flushes before the other
// appends, so no chunk stays open while the ring wraps in this single thread).
TEST(TupleLogChunks, RecordsLargerThanAChunkAndStraddlingPages) {
    Mapping m(mp_cfg(64 * 1024, 4));  // 256 KiB ring: records up to 128 KiB stay inline
    TmpFile f;
    auto sf = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog a(m.region, sf.get(), nullptr), b(m.region, sf.get(), nullptr),
        r(m.region, sf.get(), nullptr);
    ASSERT_TRUE(a.try_register_producer());
    ASSERT_TRUE(b.try_register_producer());
    const uint64_t C = 16 * 1024;
    EXPECT_EQ(a.append(make(0, 0, 40000).data(), 40000), 0u);  // chunks 0-2, 40008 bytes
    EXPECT_EQ(a.append(make(0, 1, 100).data(), 100), 40008u);   // the rest of chunk 2
    EXPECT_EQ(a.append(make(0, 2, 30000).data(), 30000), 3 * C);  // chunks 3-4: pages 0 and 1
    a.flush();
    EXPECT_EQ(b.append(make(1, 0, 16376).data(), 16376), 5 * C);  // exactly chunk 5
    EXPECT_EQ(b.append(make(1, 1, 8).data(), 8), 6 * C);
    b.flush();
    std::vector<std::pair<uint32_t, uint32_t>> order = {{0, 40000}, {0, 100}, {0, 30000},
                                                        {1, 16376}, {1, 8}};
    // Wrap the ring several times with both producers, mixed sizes, checking as we go.
    Cursor live;
    RecordView v;
    size_t checked = 0;
    auto drain = [&] {
        ReadStatus st;
        while ((st = r.try_read(live, &v)) == ReadStatus::Record) {
            ASSERT_LT(checked, order.size());
            uint32_t p, s;
            std::memcpy(&p, v.data, 4);
            std::memcpy(&s, static_cast<const char *>(v.data) + 4, 4);
            EXPECT_EQ(p, order[checked].first);
            EXPECT_EQ(v.len, order[checked].second);
            EXPECT_EQ(str(v), make(p, s, v.len)) << "record " << checked;
            ++checked;
        }
        EXPECT_EQ(st, ReadStatus::WouldBlock);
    };
    drain();
    uint32_t seq[2] = {3, 2};
    for (int round = 0; round < 30; ++round) {
        TupleLog &w = (round & 1) ? b : a;
        const uint32_t p = round & 1;
        for (int k = 0; k < 5; ++k) {
            const uint32_t len = (round * 7 + k * 13) % 3 == 0 ? 20000 + round * 100 : 500 + k * 97;
            w.append(make(p, seq[p], len).data(), len);
            order.push_back({p, len});
            ++seq[p];
        }
        w.flush();
        drain();
    }
    EXPECT_EQ(checked, order.size());
    EXPECT_FALSE(a.producer_done());
    EXPECT_TRUE(b.producer_done());
    EXPECT_EQ(r.try_read(live, &v), ReadStatus::End);
    EXPECT_GT(r.stats().pages_spilled, 0u);
    // From the start again: everything is read back from the spill file and the ring.
    Cursor again;
    for (size_t i = 0; i < order.size(); ++i) {
        ASSERT_EQ(r.read(again, &v), ReadStatus::Record) << i;
        EXPECT_EQ(v.len, order[i].second) << i;
        uint32_t p, s;
        std::memcpy(&p, v.data, 4);
        std::memcpy(&s, static_cast<const char *>(v.data) + 4, 4);
        EXPECT_EQ(str(v), make(p, s, v.len)) << i;
    }
    EXPECT_EQ(r.read(again, &v), ReadStatus::End);
}

// A chunk's mark says how far it is published only while its ring slot serves that chunk: a
// reader far behind finds marks of later laps (the chunk is complete and its page is in the
// spill file) or of earlier laps (nothing published yet). Neither may be taken for the other,
// and stale bytes in the ring (the region starts as garbage, pages are never zeroed) are never
// read as records.
TEST(TupleLogChunks, MarksOfOtherLapsAfterWraparound) {
    Mapping m(mp_cfg(4096, 4));  // 16 KiB ring, 4 chunks
    TmpFile f;
    auto sf = open_spill_file(f.fd, SpillMode::Auto);
    TupleLog a(m.region, sf.get(), nullptr), b(m.region, sf.get(), nullptr),
        r(m.region, sf.get(), nullptr);
    ASSERT_TRUE(a.try_register_producer());
    ASSERT_TRUE(b.try_register_producer());
    Cursor early, c;
    RecordView v;
    // Before anything: no mark is this chunk's, and garbage is not a record.
    EXPECT_EQ(r.try_read(early, &v), ReadStatus::WouldBlock);
    std::vector<uint64_t> pos;
    std::vector<std::string> recs;
    uint32_t n = 0;
    for (int burst = 0; burst < 40; ++burst) {
        TupleLog &w = (burst % 3 == 1) ? b : a;
        for (int k = 0; k < 9; ++k, ++n) {
            const uint32_t len = 8 + (n * 37) % 700;
            recs.push_back(make(burst % 3 == 1, n, len));
            pos.push_back(w.append(recs.back().data(), len));
        }
        w.flush();
    }
    EXPECT_GT(r.stats().pages_spilled, 8u);
    // A reader from the start: every mark of the first laps was overwritten by later chunks.
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record) << i;
        EXPECT_EQ(v.pos, pos[i]);
        EXPECT_EQ(str(v), recs[i]) << i;
    }
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::WouldBlock);  // producers still registered
    EXPECT_GT(r.handle_stats().pages_read_back, 0u);
    // Mark/restore into the spilled part, then the tail.
    r.seek(c, pos[5]);
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), recs[5]);
    a.producer_done();
    b.producer_done();
    r.seek(c, pos[n - 1]);
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), recs[n - 1]);
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::End);
    // The same region created again: marks of the earlier use must not vouch for anything.
    TupleLog::reset(m.region);
    TupleLog w2(m.region, sf.get(), nullptr), r2(m.region, sf.get(), nullptr);
    ASSERT_TRUE(w2.try_register_producer());
    Cursor c2;
    EXPECT_EQ(r2.try_read(c2, &v), ReadStatus::WouldBlock);
    w2.append("x", 1);
    ASSERT_EQ(r2.try_read(c2, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), "x");
    EXPECT_EQ(r2.try_read(c2, &v), ReadStatus::WouldBlock);
    w2.producer_done();
    EXPECT_EQ(r2.try_read(c2, &v), ReadStatus::End);
}

// The price of chunks: records are read in log order, so a reader waits at a producer's open
// chunk even when later chunks of other producers are complete. flush() and producer_done()
// close the chunk.
TEST(TupleLogChunks, OpenChunkHoldsReadersUntilFlushed) {
    Mapping m(mp_cfg(4096, 4));
    TupleLog a(m.region, nullptr, nullptr), b(m.region, nullptr, nullptr),
        r(m.region, nullptr, nullptr);
    ASSERT_TRUE(a.try_register_producer());
    ASSERT_TRUE(b.try_register_producer());
    EXPECT_EQ(a.append("a1", 2), 0u);
    EXPECT_EQ(b.append("b1", 2), 4096u);
    EXPECT_EQ(b.append("b2", 2), 4096u + 16);
    Cursor c;
    RecordView v;
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), "a1");
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::WouldBlock);  // a's chunk is open
    a.flush();
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), "b1");
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), "b2");
    EXPECT_EQ(a.append("a2", 2), 8192u);  // a closed its chunk: a new one
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::WouldBlock);  // b's chunk is open
    EXPECT_FALSE(b.producer_done());
    ASSERT_EQ(r.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(str(v), "a2");
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::WouldBlock);
    EXPECT_TRUE(a.producer_done());
    EXPECT_EQ(r.try_read(c, &v), ReadStatus::End);
}

namespace {

// P producers and C consumers (threads, or fork()ed processes when fork_them) over one log,
// mixed sizes; every consumer checks every byte and each producer's order. Returns failures.
int run_mixed(int producers, int consumers, uint32_t per, LogConfig cfg, bool fork_them) {
    Mapping m(cfg);
    TmpFile f;
    {
        TupleLog boot(m.region, nullptr, nullptr);
        for (int p = 0; p < producers; ++p)
            if (!boot.try_register_producer())
                return 100;
    }
    auto body = [&](int i) -> int {
        auto sf = open_spill_file(f.fd, SpillMode::Auto);
        FutexWaitHooks hooks(m.word);
        TupleLog log(m.region, sf.get(), &hooks);
        if (i >= consumers) {
            const uint32_t p = static_cast<uint32_t>(i - consumers);
            try {
                for (uint32_t s = 0; s < per; ++s) {
                    const std::string rec = make(p, s, mixed_len(p, s));
                    log.append(rec.data(), static_cast<uint32_t>(rec.size()));
                }
            } catch (...) {
                log.fail();
                return 1;
            }
            log.producer_done();
            return 0;
        }
        std::vector<uint32_t> next(producers, 0);
        Cursor c;
        RecordView v;
        ReadStatus st;
        while ((st = log.read(c, &v)) == ReadStatus::Record) {
            uint32_t p, s;
            if (!check(v, &p, &s) || p >= uint32_t(producers) || next[p] != s)
                return 2;
            ++next[p];
        }
        if (st != ReadStatus::End)
            return 3;
        for (int p = 0; p < producers; ++p)
            if (next[p] != per)
                return 4;
        return 0;
    };
    int failures = 0;
    if (fork_them) {
        std::vector<pid_t> kids;
        for (int i = 0; i < consumers + producers; ++i) {
            pid_t pid = fork();
            if (pid < 0)
                return 101;
            if (pid == 0) {
                int code = 6;
                try {
                    code = body(i);
                } catch (...) {
                }
                _exit(code);
            }
            kids.push_back(pid);
        }
        for (pid_t k : kids) {
            int status = 0;
            if (waitpid(k, &status, 0) != k || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                ++failures;
        }
    } else {
        std::atomic<int> bad{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < consumers + producers; ++i)
            threads.emplace_back([&, i] {
                int code = 6;
                try {
                    code = body(i);
                } catch (...) {
                }
                if (code != 0)
                    bad.fetch_add(1);
            });
        for (auto &t : threads) t.join();
        failures = bad.load();
    }
    TupleLog log(m.region, nullptr, nullptr);
    if (log.stats().records != uint64_t(producers) * per)
        ++failures;
    return failures;
}

}  // namespace

TEST(TupleLogChunks, ManyProducersMixedSizesThreads) {
    // 4 KiB chunks = pages: multi-chunk records straddle pages; a 32 KiB ring wraps often.
    EXPECT_EQ(run_mixed(4, 3, 300 * kChunkScale, mp_cfg(4096, 8), false), 0);
    // 16 KiB chunks in 64 KiB pages, a 256 KiB ring.
    EXPECT_EQ(run_mixed(3, 2, 400 * kChunkScale, mp_cfg(64 * 1024, 4), false), 0);
}

TEST(TupleLogChunks, ManyProducersMixedSizesAcrossFork) {
    EXPECT_EQ(run_mixed(3, 2, 300 * kChunkScale, mp_cfg(4096, 8), true), 0);
}
