// tuple_log_test.cpp — GoogleTest for the shared tuple log: semantics, spill, threads, fork().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <cerrno>
#include <climits>
#include <ctime>

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel_material/core/tuple_log.hpp"

using namespace pm::core;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define PM_SANITIZED 1
#endif
#endif
#ifndef PM_SANITIZED
#define PM_SANITIZED 0
#endif

namespace {

// Scale for loops: sanitizers are 5-20x slower.
constexpr int kScale = PM_SANITIZED ? 1 : 8;

// A 64-byte aligned region filled with garbage (DSM memory is not guaranteed to be zero).
struct Region {
    explicit Region(const LogConfig &cfg, bool shared = false) : cfg_(cfg) {
        size_ = TupleLog::region_size(cfg);
        void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            throw std::runtime_error("mmap failed");
        base_ = p;
        if (!shared)
            std::memset(base_, 0xA5, size_);
        TupleLog::create(base_, cfg);
    }
    ~Region() { munmap(base_, size_); }
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;
    void *get() const { return base_; }
    size_t size() const { return size_; }
    LogConfig cfg_;
    void *base_;
    size_t size_;
};

// An unlinked temporary file.
struct TempFile {
    TempFile() {
        char name[] = "/tmp/pm_tuple_log_XXXXXX";
        fd = mkstemp(name);
        if (fd < 0)
            throw std::runtime_error("mkstemp failed");
        unlink(name);
    }
    ~TempFile() { close(fd); }
    int fd;
};

LogConfig small_cfg(uint32_t page = 4096, uint32_t ring = 4, bool sp = false) {
    LogConfig c;
    c.page_size = page;
    c.ring_pages = ring;
    c.single_producer = sp;
    return c;
}

uint32_t rec_len(uint32_t producer, uint32_t seq, uint32_t max_extra) {
    uint32_t h = producer * 2654435761u ^ (seq * 40503u + 17u);
    h ^= h >> 13;
    return 8 + h % (max_extra + 1);
}

std::vector<char> make_rec(uint32_t producer, uint32_t seq, uint32_t len) {
    std::vector<char> v(len);
    for (uint32_t i = 0; i < len; ++i)
        v[i] = static_cast<char>((producer * 31 + seq * 7 + i) & 0xff);
    if (len >= 8) {
        std::memcpy(v.data(), &producer, 4);
        std::memcpy(v.data() + 4, &seq, 4);
    }
    return v;
}

bool check_rec(const RecordView &r, uint32_t max_extra, uint32_t *producer, uint32_t *seq) {
    if (r.len < 8)
        return false;
    std::memcpy(producer, r.data, 4);
    std::memcpy(seq, static_cast<const char *>(r.data) + 4, 4);
    if (r.len != rec_len(*producer, *seq, max_extra))
        return false;
    std::vector<char> want = make_rec(*producer, *seq, r.len);
    return std::memcmp(want.data(), r.data, r.len) == 0;
}

std::string as_string(const RecordView &r) {
    return std::string(static_cast<const char *>(r.data), r.len);
}

std::string pattern(size_t len, int seed) {
    std::string s(len, '\0');
    for (size_t i = 0; i < len; ++i)
        s[i] = static_cast<char>((i * 131 + seed * 17 + (i >> 8)) & 0xff);
    return s;
}

// Wait hooks for threads: a futex word plus counters and an optional interrupt.
struct TestHooks : WaitHooks {
    explicit TestHooks(std::atomic<uint32_t> *w) : futex(w) {}
    void check_interrupts() override {
        if (interrupt.load())
            throw Error(Error::Code::Cancelled, "canceling statement due to user request");
    }
    void prepare_to_sleep() override { futex.prepare_to_sleep(); }
    void sleep() override {
        sleeps.fetch_add(1);
        futex.sleep();
    }
    void wake_all() override {
        wakes.fetch_add(1);
        futex.wake_all();
    }
    FutexWaitHooks futex;
    std::atomic<bool> interrupt{false};
    std::atomic<int> sleeps{0};
    std::atomic<int> wakes{0};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Single-threaded semantics

TEST(TupleLog, RejectsBadConfig) {
    LogConfig c = small_cfg(3000, 4);
    EXPECT_THROW(TupleLog::region_size(c), Error);
    c = small_cfg(4096, 3);
    EXPECT_THROW(TupleLog::region_size(c), Error);
    c = small_cfg(4096, 1);
    EXPECT_THROW(TupleLog::region_size(c), Error);
    alignas(64) static char buf[4096] = {};
    EXPECT_THROW(TupleLog(buf, nullptr, nullptr), Error);  // never created
}

TEST(TupleLog, EmptyRecordWithNullData) {
    Region r(small_cfg());
    TupleLog log(r.get(), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    EXPECT_EQ(log.append(nullptr, 0), 0u);
    EXPECT_EQ(log.append("x", 1), 8u);
    log.producer_done();
    Cursor c;
    RecordView v;
    ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
    EXPECT_EQ(v.len, 0u);
    ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "x");
    EXPECT_EQ(log.read(c, &v), ReadStatus::End);
}

TEST(TupleLog, EmptyLog) {
    Region r(small_cfg());
    TupleLog log(r.get(), nullptr, nullptr);
    Cursor c;
    RecordView v;
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::WouldBlock);
    EXPECT_FALSE(log.sealed());
    ASSERT_TRUE(log.try_register_producer());
    EXPECT_TRUE(log.producer_done());
    EXPECT_TRUE(log.sealed());
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::End);
    EXPECT_EQ(log.read(c, &v), ReadStatus::End);
    LogStats s = log.stats();
    EXPECT_EQ(s.records, 0u);
    EXPECT_EQ(s.bytes, 0u);
    EXPECT_EQ(s.peak_ring_bytes, 0u);
    EXPECT_EQ(log.config().page_size, 4096u);
}

// 0: multi-producer (zeroed pages, headers tell publication); 1: single_producer (pages never
// zeroed, the published tail tells; the region starts as garbage); 2: single_producer with
// batched publication (the writer's own reads publish first).
class ManySizes : public ::testing::TestWithParam<int> {};

TEST_P(ManySizes, RecordsOfManySizes) {
    const uint32_t P = 4096;
    LogConfig cfg = small_cfg(P, 8, GetParam() != 0);  // ring 32 KiB, half 16 KiB
    if (GetParam() == 2)
        cfg.publish_batch = 3000;
    Region r(cfg);
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    const std::vector<size_t> sizes = {0,     1,     7,         8,         9,     P - 9, P - 8,
                                       P - 1, P,     P + 1,     3 * P + 5, 16376, 16377, 20000,
                                       2,     65536, 3 * P - 3, 0,         1};
    ASSERT_TRUE(log.try_register_producer());
    Cursor c;
    RecordView v;
    std::vector<uint64_t> pos;
    for (size_t i = 0; i < sizes.size(); ++i) {
        std::string s = pattern(sizes[i], static_cast<int>(i));
        pos.push_back(log.append(s.data(), static_cast<uint32_t>(s.size())));
        // Read each record right after it is appended (the log is live).
        ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record) << i;
        EXPECT_EQ(v.pos, pos.back());
        EXPECT_EQ(as_string(v), s) << "size " << sizes[i];
        EXPECT_EQ(log.try_read(c, &v), ReadStatus::WouldBlock);
    }
    EXPECT_TRUE(log.producer_done());
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::End);
    // A second reader from the start sees the same, including spilled pages and oversize records.
    Cursor c2;
    for (size_t i = 0; i < sizes.size(); ++i) {
        ASSERT_EQ(log.read(c2, &v), ReadStatus::Record);
        EXPECT_EQ(v.pos, pos[i]);
        EXPECT_EQ(as_string(v), pattern(sizes[i], static_cast<int>(i))) << "size " << sizes[i];
    }
    EXPECT_EQ(log.read(c2, &v), ReadStatus::End);
    LogStats s = log.stats();
    EXPECT_EQ(s.records, sizes.size());
    EXPECT_EQ(s.oversize_records, 3u);  // 16377, 20000 and 65536 exceed half the ring
    EXPECT_GT(s.pages_spilled, 0u);
    EXPECT_EQ(log.handle_stats().records_appended, sizes.size());
}
INSTANTIATE_TEST_SUITE_P(Modes, ManySizes, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int> &i) {
                             return std::string(i.param == 0   ? "MultiProducer"
                                                : i.param == 1 ? "SingleProducer"
                                                               : "SingleProducerBatched");
                         });

// LogConfig::publish_batch: a single producer's records become visible to other handles once
// they span publish_batch bytes, at a page boundary, or at flush()/producer_done(); never
// before. Its own handle sees them at once. stats() and the backward link stay exact.
TEST(TupleLog, BatchedPublication) {
    LogConfig cfg = small_cfg(64 * 1024, 4, true);
    cfg.publish_batch = 1024;
    Region r(cfg);
    TupleLog w(r.get(), nullptr, nullptr), rd(r.get(), nullptr, nullptr);
    ASSERT_TRUE(w.try_register_producer());
    Cursor c;
    RecordView v;
    const std::string rec(100, 'x');  // footprint 112
    for (int i = 0; i < 3; ++i) w.append(rec.data(), static_cast<uint32_t>(rec.size()));
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::WouldBlock) << "published before the batch";
    EXPECT_EQ(w.stats().bytes, 3u * 112);
    w.flush();
    for (int i = 0; i < 3; ++i) ASSERT_EQ(rd.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::WouldBlock);
    // 9 records of 112 bytes stay below the batch; the 10th reaches it and publishes all ten.
    for (int i = 0; i < 9; ++i) w.append(rec.data(), static_cast<uint32_t>(rec.size()));
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::WouldBlock);
    w.append(rec.data(), static_cast<uint32_t>(rec.size()));
    for (int i = 0; i < 10; ++i) ASSERT_EQ(rd.try_read(c, &v), ReadStatus::Record) << i;
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::WouldBlock);
    // The writer's own handle reads what it appended without an explicit flush...
    const uint64_t last = w.append("tail", 4);
    Cursor own;
    w.seek(own, last);
    ASSERT_EQ(w.try_read(own, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "tail");
    // ...which published it for everybody.
    for (int i = 0; i < 1; ++i) ASSERT_EQ(rd.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "tail");
    // producer_done() publishes the rest; read_prev() from the end follows the backward links.
    w.append("a", 1);
    w.append("bb", 2);
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::WouldBlock);
    EXPECT_TRUE(w.producer_done());
    ASSERT_EQ(rd.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "a");
    ASSERT_EQ(rd.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "bb");
    EXPECT_EQ(rd.try_read(c, &v), ReadStatus::End);
    ASSERT_EQ(rd.read_prev(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "bb");
    ASSERT_EQ(rd.read_prev(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "a");
    ASSERT_EQ(rd.read_prev(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "tail");
    const LogStats st = rd.stats();
    EXPECT_EQ(st.records, 16u);
    EXPECT_EQ(st.bytes, 13u * 112 + 3 * 16);
}

TEST(TupleLog, NoSpillFileMeansOutOfMemory) {
    Region r(small_cfg(4096, 2));
    TupleLog log(r.get(), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    std::string big(5000, 'x');
    try {
        log.append(big.data(), static_cast<uint32_t>(big.size()));
        FAIL() << "oversize without spill must throw";
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::OutOfMemory);
        EXPECT_NE(std::string(e.what()).find("spill"), std::string::npos);
    }
    std::string rec(1000, 'y');
    int appended = 0;
    try {
        for (;; ++appended) log.append(rec.data(), static_cast<uint32_t>(rec.size()));
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::OutOfMemory);
    }
    EXPECT_EQ(appended, 8192 / 1008);
    EXPECT_FALSE(log.failed());  // refused before reserving: the log stays readable
    Cursor c;
    RecordView v;
    for (int i = 0; i < appended; ++i) ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(log.stats().pages_spilled, 0u);
}

TEST(TupleLog, LogThatFitsNeverSpills) {
    Region r(small_cfg(4096, 16));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    std::string rec(100, 'z');
    while (log.stats().bytes + 112 <= 16 * 4096) log.append(rec.data(), 100);
    log.producer_done();
    EXPECT_EQ(log.stats().pages_spilled, 0u);
    EXPECT_EQ(lseek(f.fd, 0, SEEK_END), 0);
    EXPECT_EQ(log.stats().peak_ring_bytes, 16u * 4096);
}

TEST(TupleLog, LargeRingIsTouchedLazily) {
    LogConfig cfg = small_cfg(64 * 1024, 1024);  // 64 MiB ring
    size_t size = TupleLog::region_size(cfg);
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    TupleLog::create(p, cfg);
    TupleLog log(p, nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    log.append("hello", 5);
    log.producer_done();
    EXPECT_EQ(log.stats().peak_ring_bytes, 64u * 1024);
    const size_t pg = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((size + pg - 1) / pg);
    ASSERT_EQ(mincore(p, size, vec.data()), 0);
    size_t resident = 0;
    for (unsigned char b : vec) resident += b & 1;
    EXPECT_LT(resident * pg, size_t{2} * 1024 * 1024) << "ring memory was touched eagerly";
    munmap(p, size);
}

TEST(TupleLog, WraparoundSpillsAndReadsBack) {
    Region r(small_cfg(4096, 4));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    const uint32_t n = 2000;
    for (uint32_t i = 0; i < n; ++i) {
        auto rec = make_rec(0, i, rec_len(0, i, 300));
        log.append(rec.data(), static_cast<uint32_t>(rec.size()));
    }
    log.producer_done();
    EXPECT_GT(log.stats().pages_spilled, 50u);
    TupleLog reader(r.get(), spill.get(), nullptr);
    Cursor c;
    RecordView v;
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(reader.read(c, &v), ReadStatus::Record);
        uint32_t p, s;
        ASSERT_TRUE(check_rec(v, 300, &p, &s));
        ASSERT_EQ(s, i);
    }
    EXPECT_EQ(reader.read(c, &v), ReadStatus::End);
    EXPECT_GT(reader.handle_stats().pages_read_back, 50u);
    EXPECT_EQ(reader.handle_stats().records_read, n);
}

TEST(TupleLog, IdleReaderNeverBlocksWriters) {
    Region r(small_cfg(4096, 2));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    std::string rec(500, 'q');
    log.append(rec.data(), 500);
    Cursor c;
    RecordView v;
    ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
    // The reader holds its RecordView and stops; the writer must still wrap the ring many times.
    for (int i = 0; i < 1000; ++i) log.append(rec.data(), 500);
    EXPECT_EQ(as_string(v), rec);
    log.producer_done();
    int n = 1;
    while (log.read(c, &v) == ReadStatus::Record) ++n;
    EXPECT_EQ(n, 1001);
}

TEST(TupleLog, RescanAndMarkRestoreAfterSpill) {
    Region r(small_cfg(4096, 4));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Auto);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    const uint32_t n = 1500;
    for (uint32_t i = 0; i < n; ++i) {
        auto rec = make_rec(1, i, rec_len(1, i, 200));
        log.append(rec.data(), static_cast<uint32_t>(rec.size()));
    }
    log.producer_done();
    Cursor c;
    RecordView v;
    uint64_t mark = 0;
    uint32_t p, s;
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
        if (i == 123)
            mark = v.pos;
    }
    ASSERT_EQ(log.read(c, &v), ReadStatus::End);
    // Restore to the mark (in a spilled page).
    log.seek(c, mark);
    ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
    ASSERT_TRUE(check_rec(v, 200, &p, &s));
    EXPECT_EQ(s, 123u);
    EXPECT_EQ(v.pos, mark);
    // Rescan.
    log.seek(c, 0);
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
        ASSERT_TRUE(check_rec(v, 200, &p, &s));
        ASSERT_EQ(s, i);
    }
    EXPECT_EQ(log.read(c, &v), ReadStatus::End);
    EXPECT_THROW(log.seek(c, 3), Error);
}

TEST(TupleLog, ReadPrevAcrossSpilledPages) {
    Region r(small_cfg(4096, 4, /*single_producer=*/true));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    const uint32_t n = 1200;
    std::vector<uint64_t> pos;
    for (uint32_t i = 0; i < n; ++i) {
        // Include an oversize record and a few page-straddling ones.
        uint32_t len = i == 600 ? 9000 : (i % 97 == 0 ? 4000 : rec_len(2, i, 150));
        auto rec = make_rec(2, i, len);
        pos.push_back(log.append(rec.data(), static_cast<uint32_t>(rec.size())));
    }
    log.producer_done();
    EXPECT_GT(log.stats().pages_spilled, 0u);
    Cursor c;
    RecordView v;
    EXPECT_EQ(log.read_prev(c, &v), ReadStatus::End);  // at position 0
    while (log.read(c, &v) == ReadStatus::Record) {
    }
    for (uint32_t i = n; i-- > 0;) {
        ASSERT_EQ(log.read_prev(c, &v), ReadStatus::Record) << i;
        ASSERT_EQ(v.pos, pos[i]);
        uint32_t p, s;
        std::memcpy(&p, v.data, 4);
        std::memcpy(&s, static_cast<const char *>(v.data) + 4, 4);
        ASSERT_EQ(s, i);
        auto want = make_rec(2, i, v.len);
        ASSERT_EQ(std::memcmp(want.data(), v.data, v.len), 0);
    }
    EXPECT_EQ(log.read_prev(c, &v), ReadStatus::End);
    // Forward again after backward: read() returns the record read_prev returned last.
    ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
    EXPECT_EQ(v.pos, pos[0]);
    // read_prev from a restored mark (prev length unknown to the cursor).
    log.seek(c, pos[700]);
    ASSERT_EQ(log.read_prev(c, &v), ReadStatus::Record);
    EXPECT_EQ(v.pos, pos[699]);
    ASSERT_EQ(log.read_prev(c, &v), ReadStatus::Record);
    EXPECT_EQ(v.pos, pos[698]);
    // From the end of the log via a cursor position.
    Cursor c2;
    log.seek(c2, log.stats().bytes);
    ASSERT_EQ(log.read_prev(c2, &v), ReadStatus::Record);
    EXPECT_EQ(v.pos, pos[n - 1]);
}

TEST(TupleLog, ReadPrevNeedsSingleProducer) {
    Region r(small_cfg());
    TupleLog log(r.get(), nullptr, nullptr);
    Cursor c;
    RecordView v;
    try {
        log.read_prev(c, &v);
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::InvalidArgument);
    }
}

TEST(TupleLog, SealingWithLateProducers) {
    Region r(small_cfg());
    TupleLog a(r.get(), nullptr, nullptr), b(r.get(), nullptr, nullptr);
    ASSERT_TRUE(a.try_register_producer());
    ASSERT_TRUE(b.try_register_producer());
    a.append("a", 1);
    EXPECT_FALSE(a.producer_done());
    ASSERT_TRUE(a.try_register_producer());  // a late producer joins before the last one left
    EXPECT_FALSE(b.producer_done());
    EXPECT_FALSE(b.sealed());
    Cursor c;
    RecordView v;
    ASSERT_EQ(b.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(b.try_read(c, &v), ReadStatus::WouldBlock);
    a.append("b", 1);
    EXPECT_TRUE(a.producer_done());
    EXPECT_TRUE(b.sealed());
    EXPECT_FALSE(b.try_register_producer());  // too late: sealed
    ASSERT_EQ(b.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "b");
    EXPECT_EQ(b.try_read(c, &v), ReadStatus::End);
    EXPECT_THROW(b.producer_done(), Error);
}

TEST(TupleLog, ResetEmptiesTheLog) {
    Region r(small_cfg(4096, 2));
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    Cursor c;
    RecordView v;
    {
        TupleLog log(r.get(), spill.get(), nullptr);
        ASSERT_TRUE(log.try_register_producer());
        std::string s(300, 'o');
        for (int i = 0; i < 100; ++i) log.append(s.data(), 300);
        log.producer_done();
        ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
        EXPECT_EQ(as_string(v), s);
    }
    TupleLog::reset(r.get());
    TupleLog log(r.get(), spill.get(), nullptr);
    EXPECT_FALSE(log.sealed());
    EXPECT_EQ(log.stats().bytes, 0u);
    ASSERT_TRUE(log.try_register_producer());
    std::string s2(300, 'n');
    for (int i = 0; i < 50; ++i) log.append(s2.data(), 300);
    log.producer_done();
    log.seek(c, 0);
    int n = 0;
    while (log.read(c, &v) == ReadStatus::Record) {
        EXPECT_EQ(as_string(v), s2);
        ++n;
    }
    EXPECT_EQ(n, 50);
}

TEST(SpillFile, SyncReportsIoErrors) {
    char name[] = "/tmp/pm_ro_XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    int ro = open(name, O_RDONLY);
    unlink(name);
    close(fd);
    auto sf = open_spill_file(ro, SpillMode::Sync);
    try {
        sf->write(0, "x", 1);
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::Io);
    }
    char buf[4];
    EXPECT_THROW(sf->read(0, buf, 4), Error);  // past end of file
    // A log whose spill fails is marked failed and the error surfaces as Io.
    Region r(small_cfg(4096, 2));
    TupleLog log(r.get(), sf.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    std::string s(1000, 'e');
    try {
        for (int i = 0; i < 100; ++i) log.append(s.data(), 1000);
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::Io);
    }
    EXPECT_TRUE(log.failed());
    Cursor c;
    RecordView v;
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::Failed);
    close(ro);
}

// ---------------------------------------------------------------------------------------------
// Spill modes

class SpillModeTest : public ::testing::TestWithParam<SpillMode> {};

TEST_P(SpillModeTest, RoundTripThroughTheLog) {
    TempFile f;
    std::unique_ptr<SpillFile> sf;
    try {
        sf = open_spill_file(f.fd, GetParam());
    } catch (const Error &e) {
        if (GetParam() == SpillMode::IoUring)
            GTEST_SKIP() << "io_uring unavailable: " << e.what();
        throw;
    }
    if (GetParam() == SpillMode::Sync) {
        EXPECT_STREQ(sf->mode_name(), "sync");
    }
    if (GetParam() == SpillMode::IoUring) {
        EXPECT_STREQ(sf->mode_name(), "io_uring");
    }
    // Direct: batch of pages and read back.
    std::vector<std::string> pages;
    std::vector<uint64_t> offs;
    std::vector<const void *> datas;
    for (int i = 0; i < 20; ++i) {
        pages.push_back(pattern(4096, i));
        offs.push_back(uint64_t(i) * 4096);
    }
    for (auto &p : pages) datas.push_back(p.data());
    sf->write_batch(offs.data(), datas.data(), 4096, pages.size());
    std::string back(4096, '\0');
    for (int i = 0; i < 20; ++i) {
        sf->read(offs[i], back.data(), 4096);
        ASSERT_EQ(back, pages[i]);
    }
    sf->write(SpillFile::kOverflowBase + 8, "overflow", 8);
    char o[8];
    sf->read(SpillFile::kOverflowBase + 8, o, 8);
    EXPECT_EQ(std::string(o, 8), "overflow");
    EXPECT_THROW(sf->read(SpillFile::kOverflowBase + 4096, o, 8), Error);  // past end of file

    // Through the log, with oversize records.
    Region r(small_cfg(4096, 4));
    TupleLog log(r.get(), sf.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    for (uint32_t i = 0; i < 800; ++i) {
        auto rec = make_rec(3, i, i % 100 == 0 ? 10000 : rec_len(3, i, 400));
        log.append(rec.data(), static_cast<uint32_t>(rec.size()));
    }
    log.producer_done();
    Cursor c;
    RecordView v;
    for (uint32_t i = 0; i < 800; ++i) {
        ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
        uint32_t p, s;
        std::memcpy(&s, static_cast<const char *>(v.data) + 4, 4);
        ASSERT_EQ(s, i);
        auto want = make_rec(3, i, v.len);
        ASSERT_EQ(std::memcmp(want.data(), v.data, v.len), 0);
        (void)p;
    }
    EXPECT_EQ(log.read(c, &v), ReadStatus::End);
    EXPECT_EQ(log.stats().oversize_records, 8u);
}

INSTANTIATE_TEST_SUITE_P(Modes, SpillModeTest,
                         ::testing::Values(SpillMode::Sync, SpillMode::IoUring, SpillMode::Auto),
                         [](const ::testing::TestParamInfo<SpillMode> &i) {
                             return i.param == SpillMode::Sync      ? std::string("Sync")
                                    : i.param == SpillMode::IoUring ? std::string("IoUring")
                                                                    : std::string("Auto");
                         });

// ---------------------------------------------------------------------------------------------
// Threads

namespace {

// Ring copies torn by a recycler and redone from the file, summed over run_mpmc's consumers.
std::atomic<uint64_t> g_discarded{0};

struct MpmcResult {
    bool ok = true;
    uint64_t records = 0;
    uint64_t pages_read_back = 0;
    uint64_t checksum = 0;
    std::string error;
};

// N producer threads, M consumer threads, each with its own handle (and spill handle).
void run_mpmc(int producers, int consumers, uint32_t per_producer, LogConfig cfg,
              uint32_t max_extra, bool with_spill, bool slow_reader = false) {
    Region r(cfg);
    TempFile f;
    std::atomic<uint32_t> word{0};
    {
        TupleLog boot(r.get(), nullptr, nullptr);
        for (int p = 0; p < producers; ++p) ASSERT_TRUE(boot.try_register_producer());
    }
    uint64_t want_sum = 0;
    for (int p = 0; p < producers; ++p)
        for (uint32_t s = 0; s < per_producer; ++s)
            want_sum += rec_len(p, s, max_extra) * 1000003ull + s;
    std::vector<MpmcResult> results(consumers);
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int i = 0; i < consumers; ++i) {
        threads.emplace_back([&, i] {
            auto sf = with_spill ? open_spill_file(f.fd, SpillMode::Auto) : nullptr;
            TestHooks hooks(&word);
            TupleLog log(r.get(), sf.get(), &hooks);
            std::vector<uint32_t> next(producers, 0);
            Cursor c;
            RecordView v;
            MpmcResult &res = results[i];
            if (slow_reader && i == 0) {
                // Start only once the ring has wrapped: this reader must read from the file.
                while (log.stats().pages_spilled == 0 && !log.sealed())
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
            for (;;) {
                ReadStatus st = log.read(c, &v);
                if (st == ReadStatus::End)
                    break;
                if (st != ReadStatus::Record) {
                    res.ok = false;
                    res.error = "status";
                    break;
                }
                uint32_t p, s;
                if (!check_rec(v, max_extra, &p, &s) || p >= uint32_t(producers) || next[p] != s) {
                    res.ok = false;
                    res.error = "bad record at " + std::to_string(v.pos);
                    break;
                }
                ++next[p];
                ++res.records;
                res.checksum += v.len * 1000003ull + s;
                if (slow_reader && i == 0 && res.records % 64 == 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            res.pages_read_back = log.handle_stats().pages_read_back;
            g_discarded.fetch_add(log.handle_stats().ring_copies_discarded);
        });
    }
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            auto sf = with_spill ? open_spill_file(f.fd, SpillMode::Auto) : nullptr;
            TestHooks hooks(&word);
            TupleLog log(r.get(), sf.get(), &hooks);
            try {
                for (uint32_t s = 0; s < per_producer; ++s) {
                    auto rec = make_rec(p, s, rec_len(p, s, max_extra));
                    log.append(rec.data(), static_cast<uint32_t>(rec.size()));
                }
            } catch (const std::exception &e) {
                errors.fetch_add(1);
                log.fail();
            }
            log.producer_done();
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
    if (slow_reader) {
        EXPECT_GT(results[0].pages_read_back, 0u) << "the slow reader never read the file";
    }
    for (int i = 0; i < consumers; ++i) {
        EXPECT_TRUE(results[i].ok) << "consumer " << i << ": " << results[i].error;
        EXPECT_EQ(results[i].records, uint64_t(producers) * per_producer) << "consumer " << i;
        EXPECT_EQ(results[i].checksum, want_sum) << "consumer " << i;
    }
    TupleLog log(r.get(), nullptr, nullptr);
    EXPECT_EQ(log.stats().records, uint64_t(producers) * per_producer);
    if (with_spill) {
        EXPECT_GT(log.stats().pages_spilled, 0u);
    }
}

}  // namespace

// Readers take no pin: a reader lagging at the recycle frontier copies a page while a writer
// recycles it, detects that from the slot state and redoes the copy from the spill file. A
// two-page ring with records up to 3 KiB (most straddle) makes the race frequent; every record
// is checked byte for byte. How often a copy was discarded depends on timing, so it is printed,
// not asserted.
TEST(TupleLogThreads, TwoPageRingReadersRaceTheRecycler) {
    g_discarded = 0;
    run_mpmc(2, 3, 600 * kScale, small_cfg(4096, 2), 3000, true);
    run_mpmc(1, 3, 1200 * kScale, small_cfg(4096, 2, true), 3000, true);
    std::printf("torn ring copies redone from the file: %llu\n",
                static_cast<unsigned long long>(g_discarded.load()));
}

// Batched publication (a batch smaller and larger than a page) with spill, a two-page ring
// racing readers against the recycler, and a reader that falls behind into the file.
TEST(TupleLogThreads, SingleProducerBatchedPublication) {
    LogConfig cfg = small_cfg(4096, 4, true);
    cfg.publish_batch = 1000;
    run_mpmc(1, 3, 600 * kScale, cfg, 3000, true);
    cfg = small_cfg(4096, 2, true);
    cfg.publish_batch = 8192;
    run_mpmc(1, 3, 1200 * kScale, cfg, 3000, true);
    cfg.publish_batch = 512;
    run_mpmc(1, 2, 3000 * kScale, cfg, 200, true, /*slow_reader=*/true);
}

TEST(TupleLogThreads, TwoByTwoInRing) {
    run_mpmc(2, 2, 2000 * kScale, small_cfg(64 * 1024, 64), 200, false);
}

TEST(TupleLogThreads, TwoByTwoWithSpill) {
    run_mpmc(2, 2, 1500 * kScale, small_cfg(4096, 4), 300, true);
}

TEST(TupleLogThreads, FourByThreeWithSpill) {
    run_mpmc(4, 3, 800 * kScale, small_cfg(4096, 8), 500, true);
}

TEST(TupleLogThreads, FourByThreeStraddlingRecords) {
    run_mpmc(4, 3, 300 * kScale, small_cfg(4096, 4), 5000, true);  // up to 1.2 pages each
}

TEST(TupleLogThreads, SlowReaderFallsBehindAndReadsFromFile) {
    run_mpmc(1, 2, 3000 * kScale, small_cfg(4096, 2, true), 200, true, /*slow_reader=*/true);
}

TEST(TupleLogThreads, SingleProducerThreeConsumersWithSpill) {
    run_mpmc(1, 3, 600 * kScale, small_cfg(4096, 4, true), 3000, true);
}

TEST(TupleLogThreads, OneProducerMultiModeSlowReader) {
    run_mpmc(1, 2, 2000 * kScale, small_cfg(4096, 2, false), 200, true, /*slow_reader=*/true);
}

TEST(TupleLogThreads, FailWakesBlockedReaders) {
    Region r(small_cfg());
    std::atomic<uint32_t> word{0};
    TestHooks hooks(&word);
    TupleLog log(r.get(), nullptr, &hooks);
    ASSERT_TRUE(log.try_register_producer());
    std::vector<std::thread> readers;
    std::atomic<int> failed{0};
    for (int i = 0; i < 3; ++i) {
        readers.emplace_back([&] {
            TestHooks h(&word);
            TupleLog l(r.get(), nullptr, &h);
            Cursor c;
            RecordView v;
            if (l.read(c, &v) == ReadStatus::Failed)
                failed.fetch_add(1);
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log.fail();
    log.fail();  // idempotent
    for (auto &t : readers) t.join();
    EXPECT_EQ(failed.load(), 3);
    EXPECT_THROW(log.append("x", 1), Error);
}

TEST(TupleLogThreads, WakesSleepingReaderOnAppendAndSeal) {
    Region r(small_cfg());
    std::atomic<uint32_t> word{0};
    TestHooks wh(&word);
    TupleLog writer(r.get(), nullptr, &wh);
    ASSERT_TRUE(writer.try_register_producer());
    std::atomic<int> got{0};
    TestHooks rh(&word);
    std::thread reader([&] {
        TupleLog l(r.get(), nullptr, &rh);
        Cursor c;
        RecordView v;
        while (l.read(c, &v) == ReadStatus::Record) got.fetch_add(1);
    });
    for (int i = 0; i < 20; ++i) {
        // Append once the reader went to sleep (a fixed pause is not enough on a loaded
        // machine: its spin-and-yield phase can outlast it); give up waiting after 2 s.
        const int slept = rh.sleeps.load();
        for (int t = 0; t < 1000 && rh.sleeps.load() == slept; ++t)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        writer.append("row", 3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    writer.producer_done();
    reader.join();
    EXPECT_EQ(got.load(), 20);
    EXPECT_GT(wh.wakes.load(), 0);
}

TEST(TupleLogThreads, InterruptEscapesBlockingRead) {
    Region r(small_cfg());
    std::atomic<uint32_t> word{0};
    TestHooks wh(&word);
    TupleLog writer(r.get(), nullptr, &wh);
    ASSERT_TRUE(writer.try_register_producer());
    TestHooks rh(&word);
    std::atomic<bool> threw{false};
    std::thread reader([&] {
        TupleLog l(r.get(), nullptr, &rh);
        Cursor c;
        RecordView v;
        try {
            l.read(c, &v);
        } catch (const Error &e) {
            threw = e.code() == Error::Code::Cancelled;
        }
    });
    while (rh.sleeps.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    rh.interrupt = true;
    reader.join();
    EXPECT_TRUE(threw.load());
    // The reader left the sleep protocol: at most one stale wake-up, then none.
    writer.append("x", 1);
    int before = wh.wakes.load();
    writer.append("y", 1);
    EXPECT_EQ(wh.wakes.load(), before);
    // The log still works for a new reader.
    TupleLog l(r.get(), nullptr, nullptr);
    Cursor c;
    RecordView v;
    EXPECT_EQ(l.try_read(c, &v), ReadStatus::Record);
}

// ---------------------------------------------------------------------------------------------
// fork(): several processes over one MAP_SHARED region, futex hooks, one spill file

TEST(TupleLogProcesses, ProducersAndConsumersAcrossFork) {
    const int producers = 3, consumers = 3;
    const uint32_t per_producer = 1500 * kScale;
    const uint32_t max_extra = 300;
    LogConfig cfg = small_cfg(4096, 8);
    // One mapping: a 64-byte line for the futex word, then the log region.
    const size_t log_size = TupleLog::region_size(cfg);
    void *mem =
        mmap(nullptr, 64 + log_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto *word = new (mem) std::atomic<uint32_t>(0);
    void *region = static_cast<char *>(mem) + 64;
    TupleLog::create(region, cfg);
    TempFile f;
    {
        TupleLog boot(region, nullptr, nullptr);
        for (int p = 0; p < producers; ++p) ASSERT_TRUE(boot.try_register_producer());
    }
    uint64_t want_sum = 0;
    for (int p = 0; p < producers; ++p)
        for (uint32_t s = 0; s < per_producer; ++s)
            want_sum += rec_len(p, s, max_extra) * 1000003ull + s;

    std::vector<pid_t> kids;
    for (int i = 0; i < consumers + producers; ++i) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int code = 0;
            try {
                auto sf = open_spill_file(f.fd, SpillMode::Auto);
                FutexWaitHooks hooks(word);
                TupleLog log(region, sf.get(), &hooks);
                if (i < consumers) {
                    std::vector<uint32_t> next(producers, 0);
                    Cursor c;
                    RecordView v;
                    uint64_t n = 0, sum = 0;
                    ReadStatus st;
                    while ((st = log.read(c, &v)) == ReadStatus::Record) {
                        uint32_t p, s;
                        if (!check_rec(v, max_extra, &p, &s) || p >= uint32_t(producers) ||
                            next[p] != s) {
                            code = 2;
                            break;
                        }
                        ++next[p];
                        ++n;
                        sum += v.len * 1000003ull + s;
                    }
                    if (code == 0 && st != ReadStatus::End)
                        code = 3;
                    if (code == 0 && n != uint64_t(producers) * per_producer)
                        code = 4;
                    if (code == 0 && sum != want_sum)
                        code = 5;
                } else {
                    int p = i - consumers;
                    for (uint32_t s = 0; s < per_producer; ++s) {
                        auto rec = make_rec(p, s, rec_len(p, s, max_extra));
                        log.append(rec.data(), static_cast<uint32_t>(rec.size()));
                    }
                    log.producer_done();
                }
            } catch (...) {
                code = 6;
            }
            _exit(code);
        }
        kids.push_back(pid);
    }
    for (size_t i = 0; i < kids.size(); ++i) {
        int status = 0;
        ASSERT_EQ(waitpid(kids[i], &status, 0), kids[i]);
        EXPECT_TRUE(WIFEXITED(status)) << "child " << i;
        EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << i;
    }
    TupleLog log(region, nullptr, nullptr);
    EXPECT_TRUE(log.sealed());
    EXPECT_EQ(log.stats().records, uint64_t(producers) * per_producer);
    EXPECT_GT(log.stats().pages_spilled, 0u);
    munmap(mem, 64 + log_size);
}

// A sealed log that never wrapped is read in place (no copy); reusing its ring for a shorter or
// empty log must not let stale records from the earlier use show through.
TEST(TupleLog, ReusedRingShowsNoStaleRecords) {
    Region r(small_cfg(4096, 4));
    Cursor c;
    RecordView v;
    {
        TupleLog log(r.get(), nullptr, nullptr);
        ASSERT_TRUE(log.try_register_producer());
        for (int i = 0; i < 20; ++i) log.append("stale-row", 9);
        log.producer_done();
    }
    // Empty second use (a correlated rescan whose child returns nothing).
    TupleLog::create(r.get(), small_cfg(4096, 4));
    {
        TupleLog log(r.get(), nullptr, nullptr);
        ASSERT_TRUE(log.try_register_producer());
        log.producer_done();
        Cursor fresh;
        EXPECT_EQ(log.try_read(fresh, &v), ReadStatus::End);
    }
    // Shorter second use: exactly its own records, then End.
    TupleLog::reset(r.get());
    TupleLog log(r.get(), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    log.append("new", 3);
    log.producer_done();
    ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), "new");
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::End);
}

TEST(TupleLog, FrozenLogIsReadInPlace) {
    Region r(small_cfg(4096, 4));
    TupleLog log(r.get(), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    for (int i = 0; i < 10; ++i) log.append(&i, sizeof i);
    Cursor c;
    RecordView v;
    ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
    const void *copied = v.data;  // before the seal: a copy in the cursor
    log.producer_done();
    log.seek(c, 0);
    ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
    EXPECT_NE(v.data, copied);  // after the seal: a pointer into the ring
    for (int i = 1; i < 10; ++i) {
        ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record);
        int got;
        std::memcpy(&got, v.data, sizeof got);
        EXPECT_EQ(got, i);
    }
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::End);
}

// Records of many sizes, most straddling pages, read in place after the seal (inline records
// point into the region, even straddling ones: an unwrapped ring is contiguous), again after
// rescans and a mark/restore; an out-of-line record in the middle takes the general path.
TEST(TupleLog, FrozenLogReadsStraddlingRecordsInPlace) {
    Region r(small_cfg(4096, 16, true));  // one producer: records straddle pages
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    std::vector<std::string> recs;
    for (int i = 0; i < 40; ++i) recs.push_back(pattern(static_cast<size_t>((i * 397) % 1500), i));
    recs[17] = pattern(40000, 17);  // longer than half the ring: stored out of line
    for (const auto &s : recs) log.append(s.data(), static_cast<uint32_t>(s.size()));
    ASSERT_TRUE(log.producer_done());
    EXPECT_EQ(log.stats().pages_spilled, 0u);
    const char *lo = static_cast<const char *>(r.get());
    const char *hi = lo + r.size();
    Cursor c;
    RecordView v;
    uint64_t mark = 0;
    for (int pass = 0; pass < 3; ++pass) {
        log.seek(c, 0);
        for (size_t i = 0; i < recs.size(); ++i) {
            ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record) << "pass " << pass << " rec " << i;
            ASSERT_EQ(as_string(v), recs[i]) << "pass " << pass << " rec " << i;
            const char *d = static_cast<const char *>(v.data);
            if (pass > 0 && i != 17 && !recs[i].empty()) {
                EXPECT_TRUE(d >= lo && d < hi) << "rec " << i << " was copied, not read in place";
            }
            if (i == 30)
                mark = v.pos;
        }
        EXPECT_EQ(log.try_read(c, &v), ReadStatus::End);
        EXPECT_EQ(log.read(c, &v), ReadStatus::End);
    }
    log.seek(c, mark);
    ASSERT_EQ(log.read(c, &v), ReadStatus::Record);
    EXPECT_EQ(as_string(v), recs[30]);
    EXPECT_EQ(log.handle_stats().records_read, 3 * recs.size() + 1);
}

// A cursor that read a frozen log in place must not keep doing so after the log was reset:
// seek() checks again, so a rescan sees the new contents, unpublished parts included.
TEST(TupleLog, FrozenCursorFollowsResetAndRefill) {
    Region r(small_cfg(4096, 4));
    Cursor c;
    RecordView v;
    TupleLog log(r.get(), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    for (int i = 0; i < 50; ++i) log.append(pattern(100, i).data(), 100);
    log.producer_done();
    for (int pass = 0; pass < 2; ++pass) {
        log.seek(c, 0);
        int n = 0;
        while (log.try_read(c, &v) == ReadStatus::Record) ++n;
        EXPECT_EQ(n, 50);
    }
    TupleLog::reset(r.get());
    TupleLog again(r.get(), nullptr, nullptr);
    ASSERT_TRUE(again.try_register_producer());
    for (int i = 0; i < 5; ++i) again.append(pattern(40, 1000 + i).data(), 40);
    again.flush();
    again.seek(c, 0);
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(again.try_read(c, &v), ReadStatus::Record);
        EXPECT_EQ(as_string(v), pattern(40, 1000 + i));
    }
    EXPECT_EQ(again.try_read(c, &v), ReadStatus::WouldBlock);  // not sealed: no stale rows
    again.producer_done();
    EXPECT_EQ(again.try_read(c, &v), ReadStatus::End);
    again.seek(c, 0);
    int n = 0;
    while (again.try_read(c, &v) == ReadStatus::Record) {
        EXPECT_EQ(as_string(v), pattern(40, 1000 + n));
        ++n;
    }
    EXPECT_EQ(n, 5);
}

// Several producers' records (each in its own chunks, closed with padding), sealed, read in
// place by a cursor of a third handle: every record once, each producer's in its order, the
// padding skipped (it is never returned as a record).
TEST(TupleLog, FrozenMultiProducerLogReadInPlace) {
    Region r(small_cfg(4096, 16));
    TupleLog a(r.get(), nullptr, nullptr), b(r.get(), nullptr, nullptr), reader(r.get(), nullptr, nullptr);
    ASSERT_TRUE(a.try_register_producer());
    ASSERT_TRUE(b.try_register_producer());
    for (int i = 0; i < 60; ++i) {
        const std::string rec = std::to_string(i) + ":" + pattern(static_cast<size_t>(i * 7), i);
        (i % 2 ? a : b).append(rec.data(), static_cast<uint32_t>(rec.size()));
    }
    EXPECT_FALSE(a.producer_done());
    EXPECT_TRUE(b.producer_done());
    const char *lo = static_cast<const char *>(r.get());
    const char *hi = lo + r.size();
    Cursor c;
    RecordView v;
    for (int pass = 0; pass < 3; ++pass) {
        reader.seek(c, 0);
        int last[2] = {-1, -1};
        int n = 0;
        while (reader.try_read(c, &v) == ReadStatus::Record) {
            const std::string rec = as_string(v);
            const int i = std::stoi(rec.substr(0, rec.find(':')));
            ASSERT_EQ(rec, std::to_string(i) + ":" + pattern(static_cast<size_t>(i * 7), i));
            EXPECT_GT(i, last[i % 2]);  // each producer's records in its order
            last[i % 2] = i;
            if (pass > 0) {
                EXPECT_TRUE(v.data >= lo && v.data < hi) << "rec " << i << " was copied";
            }
            ++n;
        }
        EXPECT_EQ(n, 60);
        EXPECT_EQ(reader.try_read(c, &v), ReadStatus::End);
    }
}

// ---------------------------------------------------------------------------------------------
// Lost wake-ups: hooks whose sleep has a long timeout and counts it. With several writers and
// readers that sleep often, a missed wake-up shows up as a timeout (the 10 ms safety net of
// FutexWaitHooks would hide it).

namespace {
struct StrictHooks : WaitHooks {
    explicit StrictHooks(std::atomic<uint32_t> *w) : word(w) {}
    void prepare_to_sleep() override { seen = word->load(); }
    void sleep() override {
        const timespec ts{2, 0};
        long r = syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT, seen, &ts,
                         nullptr, 0);
        if (r != 0 && errno == ETIMEDOUT)
            timeouts.fetch_add(1);
    }
    void wake_all() override {
        word->fetch_add(1);
        syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE, INT_MAX, nullptr,
                nullptr, 0);
    }
    std::atomic<uint32_t> *word;
    uint32_t seen = 0;
    static std::atomic<int> timeouts;
};
std::atomic<int> StrictHooks::timeouts{0};
}  // namespace

void run_wakeup_test(int producers, bool single_producer, bool light_publish = true,
                     uint32_t publish_batch = 0) {
    LogConfig cfg = small_cfg(4096, 8, single_producer);
    cfg.light_publish = light_publish;
    cfg.publish_batch = publish_batch;
    Region r(cfg);
    std::atomic<uint32_t> word{0};
    StrictHooks::timeouts = 0;
    const int consumers = 2;
    const int per = PM_SANITIZED ? 150 : 400;
    {
        TupleLog boot(r.get(), nullptr, nullptr);
        for (int p = 0; p < producers; ++p) ASSERT_TRUE(boot.try_register_producer());
    }
    std::atomic<int> total{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c)
        threads.emplace_back([&] {
            StrictHooks h(&word);
            TupleLog l(r.get(), nullptr, &h);
            Cursor cur;
            RecordView v;
            while (l.read(cur, &v) == ReadStatus::Record) total.fetch_add(1);
        });
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            StrictHooks h(&word);
            TupleLog l(r.get(), nullptr, &h);
            for (int i = 0; i < per; ++i) {
                // Pauses long enough for readers to go to sleep between records.
                std::this_thread::sleep_for(std::chrono::microseconds(20 + (i * 37 + p * 11) % 90));
                l.append(&i, sizeof i);
            }
            l.producer_done();
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(total.load(), consumers * producers * per);
    EXPECT_EQ(StrictHooks::timeouts.load(), 0) << "a sleeping reader missed a wake-up";
}

TEST(TupleLogThreads, NoLostWakeupsWithSeveralWritersAndSleepingReaders) {
    run_wakeup_test(3, false);
}

TEST(TupleLogThreads, NoLostWakeupsSingleProducer) {
    run_wakeup_test(1, true);
}

// Batched publication: readers sleep until a batch (every 4 records here) is published.
TEST(TupleLogThreads, NoLostWakeupsSingleProducerBatched) {
    run_wakeup_test(1, true, true, 64);
    run_wakeup_test(1, true, false, 64);
}

// The same with a seq_cst store per record instead of the membarrier handshake.
TEST(TupleLogThreads, NoLostWakeupsSingleProducerLockedPublish) {
    run_wakeup_test(1, true, false);
}

// The membarrier handshake across processes (the adapter's case: DSM, one producer process):
// a single-producer writer in one forked process, two often-sleeping readers in two others.
TEST(TupleLogProcesses, NoLostWakeupsSingleProducerAcrossFork) {
    const int per = PM_SANITIZED ? 150 : 400;
    const int consumers = 2;
    LogConfig cfg = small_cfg(4096, 8, true);
    const size_t log_size = TupleLog::region_size(cfg);
    // Line 0: the futex word; line 1: timeouts and records read; then the log.
    void *mem =
        mmap(nullptr, 128 + log_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto *word = new (mem) std::atomic<uint32_t>(0);
    auto *timeouts = new (static_cast<char *>(mem) + 64) std::atomic<int>(0);
    auto *total = new (static_cast<char *>(mem) + 72) std::atomic<int>(0);
    void *region = static_cast<char *>(mem) + 128;
    TupleLog::create(region, cfg);
    {
        TupleLog boot(region, nullptr, nullptr);
        ASSERT_TRUE(boot.try_register_producer());
    }
    std::vector<pid_t> kids;
    for (int i = 0; i < consumers + 1; ++i) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int code = 0;
            try {
                StrictHooks::timeouts = 0;
                StrictHooks h(word);
                TupleLog l(region, nullptr, &h);
                if (i < consumers) {
                    Cursor cur;
                    RecordView v;
                    while (l.read(cur, &v) == ReadStatus::Record) total->fetch_add(1);
                } else {
                    for (int k = 0; k < per; ++k) {
                        std::this_thread::sleep_for(std::chrono::microseconds(20 + (k * 37) % 90));
                        l.append(&k, sizeof k);
                    }
                    l.producer_done();
                }
                timeouts->fetch_add(StrictHooks::timeouts.load());
            } catch (...) {
                code = 6;
            }
            _exit(code);
        }
        kids.push_back(pid);
    }
    for (pid_t k : kids) {
        int status = 0;
        ASSERT_EQ(waitpid(k, &status, 0), k);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    EXPECT_EQ(total->load(), consumers * per);
    EXPECT_EQ(timeouts->load(), 0) << "a sleeping reader missed a wake-up";
    munmap(mem, 128 + log_size);
}

// A reader that read part of a log before its producer failed reads those records again (to
// check a re-execution against them), spilled pages included; nothing past what it had read.
class Reread : public ::testing::TestWithParam<bool> {};

TEST_P(Reread, RecordsReadBeforeAFailure) {
    Region r(small_cfg(4096, 4, GetParam()));  // ring 16 KiB: most records get spilled
    TempFile f;
    auto spill = open_spill_file(f.fd, SpillMode::Sync);
    TupleLog log(r.get(), spill.get(), nullptr);
    ASSERT_TRUE(log.try_register_producer());
    Cursor c;
    RecordView v;
    std::vector<std::string> seen;
    for (int i = 0; i < 300; ++i) {
        std::string s = pattern(static_cast<size_t>(i * 37 % 900), i);
        log.append(s.data(), static_cast<uint32_t>(s.size()));
        if (i < 200) {
            ASSERT_EQ(log.try_read(c, &v), ReadStatus::Record) << i;
            seen.push_back(as_string(v));
        }
    }
    const uint64_t upto = c.position();
    log.fail();
    EXPECT_EQ(log.try_read(c, &v), ReadStatus::Failed);
    EXPECT_GT(log.stats().pages_spilled, 0u);
    TupleLog other(r.get(), spill.get(), nullptr);  // another handle, as in another process
    Cursor again;
    for (size_t i = 0; i < seen.size(); ++i) {
        ASSERT_EQ(other.reread(again, upto, &v), ReadStatus::Record) << i;
        EXPECT_EQ(as_string(v), seen[i]) << i;
    }
    EXPECT_EQ(again.position(), upto);
    EXPECT_EQ(other.reread(again, upto, &v), ReadStatus::End);
}

INSTANTIATE_TEST_SUITE_P(Modes, Reread, ::testing::Bool());
