// result_registry_test.cpp — GoogleTest for the registry of results shared across sessions:
// produce then hit, keys, attach while producing (threads), LRU eviction, pins, failure, reset,
// producer exit, and fork()ed processes mapping the region at different addresses; entries whose
// logs spill to a file opened by path in every process, and that file's removal on free.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "parallel_material/core/result_registry.hpp"

using namespace pm::core;

namespace {

struct Region {
    explicit Region(size_t size) : size(size) {
        mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        EXPECT_NE(mem, MAP_FAILED);
    }
    ~Region() { munmap(mem, size); }
    void *mem;
    size_t size;
};

LogConfig small_log() {
    LogConfig cfg;
    cfg.page_size = 4096;
    cfg.ring_pages = 4;
    cfg.single_producer = true;
    return cfg;
}

ResultKey key_for(uint8_t tag, uint64_t version = 1) {
    ResultKey k;
    k.fingerprint[0] = tag;
    k.generation = 1;
    k.global_version = 7;
    k.database = 5;
    k.nrels = 1;
    k.relids[0] = 16384;
    k.versions[0] = version;
    return k;
}

// Produces `n` records "i" into a freshly acquired entry and publishes it.
void produce(ResultRegistry &reg, const ResultRef &ref, int n) {
    TupleLog log(reg.log_region(ref), nullptr, nullptr);
    ASSERT_TRUE(log.try_register_producer());
    for (int i = 0; i < n; i++) log.append(&i, sizeof(i));
    log.producer_done();
    reg.publish(ref, static_cast<uint64_t>(n));
}

// Reads every record of the entry's log; returns their values.
std::vector<int> read_all(ResultRegistry &reg, const ResultRef &ref) {
    TupleLog log(reg.log_region(ref), nullptr, nullptr);
    Cursor c;
    RecordView rec;
    std::vector<int> out;
    while (log.read(c, &rec) == ReadStatus::Record) {
        int v;
        memcpy(&v, rec.data, sizeof(v));
        out.push_back(v);
    }
    return out;
}

std::vector<int> iota(int n) {
    std::vector<int> v(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) v[static_cast<size_t>(i)] = i;
    return v;
}

constexpr uint32_t kEntries = 8;

}  // namespace

TEST(ResultRegistry, ProduceThenHit) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef p, h;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 100, 1, "SELECT 1", &p), AcquireResult::Produce);
    produce(reg, p, 500);
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 101, 2, "SELECT 1", &h), AcquireResult::Hit);
    EXPECT_EQ(read_all(reg, h), iota(500));
    reg.release(&p);
    reg.release(&h);
    EXPECT_FALSE(h.valid());
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].state, EntryState::Ready);
    EXPECT_EQ(list[0].rows, 500u);
    EXPECT_EQ(list[0].hits, 1u);
    EXPECT_EQ(list[0].readers, 0u);
    EXPECT_STREQ(list[0].sample, "SELECT 1");
}

// find(): acquire() for an existing entry only; a miss creates nothing and pins nothing.
TEST(ResultRegistry, FindUsesExistingEntriesOnly) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef p, h, a, x;
    AcquireResult answer = AcquireResult::NoSpace;
    EXPECT_FALSE(reg.find(key_for(1), 1, &x, &answer));
    EXPECT_FALSE(x.valid());
    EXPECT_TRUE(reg.entries().empty());
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 100, 2, "SELECT 1", &p), AcquireResult::Produce);
    ASSERT_TRUE(reg.find(key_for(1), 3, &a, &answer));  // being produced: attach, pinned
    EXPECT_EQ(answer, AcquireResult::Attach);
    EXPECT_TRUE(a.valid());
    produce(reg, p, 5);
    reg.release(&p);
    ASSERT_TRUE(reg.find(key_for(1), 4, &h, &answer));
    EXPECT_EQ(answer, AcquireResult::Hit);
    EXPECT_EQ(read_all(reg, h), iota(5));
    EXPECT_FALSE(reg.find(key_for(1, 2), 5, &x, &answer));  // another key: not found
    EXPECT_FALSE(x.valid());
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].hits, 2u);
    EXPECT_EQ(list[0].readers, 2u);
    EXPECT_EQ(list[0].last_used, 4);
    EXPECT_TRUE(list[0].protected_segment);  // reused: promoted as acquire() promotes
    reg.release(&a);
    reg.release(&h);
    ResultRef f;  // a failed entry is never found
    ASSERT_EQ(reg.acquire(key_for(3), small_log(), 101, 6, nullptr, &f), AcquireResult::Produce);
    reg.fail(f);
    EXPECT_FALSE(reg.find(key_for(3), 7, &x, &answer));
    reg.release(&f);
    EXPECT_EQ(reg.reset(), 1u);
    EXPECT_FALSE(reg.find(key_for(1), 8, &x, &answer));  // reset: gone
}

TEST(ResultRegistry, AnyKeyDifferenceIsAnotherEntry) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef a, b, c, d;
    ASSERT_EQ(reg.acquire(key_for(1, 1), small_log(), 1, 1, nullptr, &a), AcquireResult::Produce);
    produce(reg, a, 3);
    ASSERT_EQ(reg.acquire(key_for(1, 2), small_log(), 1, 2, nullptr, &b), AcquireResult::Produce);
    ResultKey other_global = key_for(1, 1);
    other_global.global_version++;
    ASSERT_EQ(reg.acquire(other_global, small_log(), 1, 3, nullptr, &c), AcquireResult::Produce);
    ResultKey other_fp = key_for(2, 1);
    ASSERT_EQ(reg.acquire(other_fp, small_log(), 1, 4, nullptr, &d), AcquireResult::Produce);
    EXPECT_EQ(reg.entries().size(), 4u);
    for (ResultRef *ref : {&a, &b, &c, &d}) reg.release(ref);
}

TEST(ResultRegistry, AttachWhileProducingStreamsEveryRecord) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    LogConfig cfg;
    cfg.page_size = 4096;
    cfg.ring_pages = 64;  // holds the whole result: no spill file
    cfg.single_producer = true;
    ResultRef p, a;
    ASSERT_EQ(reg.acquire(key_for(3), cfg, 1, 1, nullptr, &p), AcquireResult::Produce);
    TupleLog plog(reg.log_region(p), nullptr, nullptr);
    ASSERT_TRUE(plog.try_register_producer());
    ASSERT_EQ(reg.acquire(key_for(3), cfg, 2, 2, nullptr, &a), AcquireResult::Attach);
    std::vector<int> seen;
    std::thread reader([&] { seen = read_all(reg, a); });
    for (int i = 0; i < 5000; i++) {
        plog.append(&i, sizeof(i));
        if (i % 500 == 0) std::this_thread::yield();
    }
    plog.producer_done();
    reg.publish(p, 5000);
    reader.join();
    EXPECT_EQ(seen, iota(5000));
    reg.release(&a);
    reg.release(&p);
}

TEST(ResultRegistry, EvictsLeastRecentlyUsedUnpinnedEntries) {
    // Room for the logs of about three small entries.
    size_t log_bytes = TupleLog::region_size(small_log()) + 64;
    size_t budget = 4 * log_bytes;
    size_t size = ResultRegistry::region_size(kEntries, budget);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    int64_t now = 0;
    for (uint8_t tag = 1; tag <= 3; tag++) {
        ResultRef p;
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 10);
        reg.release(&p);
    }
    // Use entry 1 again: entry 2 is now the least recently used.
    ResultRef h;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, ++now, nullptr, &h), AcquireResult::Hit);
    reg.release(&h);
    // New (pinned) entries until memory runs out: the first eviction takes entry 2 (least
    // recently used), the next entry 3; the pinned entry 1 is never evicted; then NoSpace.
    ResultRef pin;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, ++now, nullptr, &pin), AcquireResult::Hit);
    auto has = [&](uint8_t tag) {
        for (const EntryInfo &e : reg.entries())
            if (e.key == key_for(tag)) return true;
        return false;
    };
    std::vector<ResultRef> fresh;
    bool saw_no_space = false;
    for (uint8_t tag = 10; tag < 30 && !saw_no_space; tag++) {
        ResultRef p;
        size_t before = reg.entries().size();
        AcquireResult res = reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p);
        if (res == AcquireResult::NoSpace) {
            saw_no_space = true;
            EXPECT_FALSE(p.valid());
            EXPECT_EQ(reg.entries().size(), before) << "NoSpace evicts nothing pinned";
            break;
        }
        ASSERT_EQ(res, AcquireResult::Produce);
        produce(reg, p, 1);
        fresh.push_back(p);  // keep pinned
        EXPECT_TRUE(has(3) || !has(2)) << "entry 3 may go only after entry 2";
        EXPECT_TRUE(has(1)) << "a pinned entry is never evicted";
    }
    EXPECT_TRUE(saw_no_space);
    EXPECT_FALSE(has(2));
    EXPECT_FALSE(has(3));
    for (ResultRef &p : fresh) reg.release(&p);
    reg.release(&pin);
}

TEST(ResultRegistry, SlotsAreRecycledLeastRecentlyUsed) {
    size_t size = ResultRegistry::region_size(2, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, 2);
    ResultRegistry reg(r.mem);
    for (uint8_t tag = 1; tag <= 5; tag++) {
        ResultRef p;
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, tag, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
    }
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_TRUE(list[0].key == key_for(4) || list[0].key == key_for(5));
    EXPECT_TRUE(list[1].key == key_for(4) || list[1].key == key_for(5));
}

TEST(ResultRegistry, FailedEntryIsNeverFoundAndFreedAtLastRelease) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef p, a, again;
    ASSERT_EQ(reg.acquire(key_for(4), small_log(), 1, 1, nullptr, &p), AcquireResult::Produce);
    ASSERT_EQ(reg.acquire(key_for(4), small_log(), 2, 2, nullptr, &a), AcquireResult::Attach);
    EXPECT_EQ(reg.state(a), EntryState::Producing);
    {
        TupleLog log(reg.log_region(p), nullptr, nullptr);
        ASSERT_TRUE(log.try_register_producer());
        log.fail();
    }
    reg.fail(p);
    EXPECT_EQ(reg.state(a), EntryState::Failed);  // what an attached reader polls
    reg.release(&p);
    // The attached reader sees the failure, never a partial result served as complete.
    {
        TupleLog log(reg.log_region(a), nullptr, nullptr);
        Cursor c;
        RecordView rec;
        EXPECT_EQ(log.try_read(c, &rec), ReadStatus::Failed);
    }
    // A new session re-executes: a fresh entry, while the failed one waits for its reader.
    ASSERT_EQ(reg.acquire(key_for(4), small_log(), 3, 3, nullptr, &again), AcquireResult::Produce);
    EXPECT_EQ(reg.entries().size(), 2u);
    reg.release(&a);
    EXPECT_EQ(reg.entries().size(), 1u);
    reg.release(&again);
}

// A producer that finds its result too large marks the entry TooLarge: later lookups of the key
// get TooLarge at once (no pin), an attached reader keeps its log until it lets go, then the log
// memory is given back while the key stays; other keys, eviction and reset work as before.
TEST(ResultRegistry, TooLargeEntryKeepsItsKeyAndGivesItsLogBack) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    const uint64_t empty = reg.bytes_in_use();
    ResultRef p, a, x;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 100, 1, "big", &p), AcquireResult::Produce);
    TupleLog plog(reg.log_region(p), nullptr, nullptr);
    ASSERT_TRUE(plog.try_register_producer());
    for (int i = 0; i < 10; i++) plog.append(&i, sizeof(i));
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 101, 2, "big", &a), AcquireResult::Attach);
    TupleLog rlog(reg.log_region(a), nullptr, nullptr);
    Cursor c;
    RecordView rec;
    int n = 0;
    while (rlog.try_read(c, &rec) == ReadStatus::Record) n++;
    EXPECT_EQ(n, 10);
    reg.mark_too_large(p);
    plog.fail();
    reg.fail(p);  // what the adapter's stop does next: no effect on a TooLarge entry
    reg.release(&p);
    EXPECT_EQ(reg.state(a), EntryState::TooLarge);
    EXPECT_GT(reg.bytes_in_use(), empty);  // the attached reader still holds the log
    EXPECT_EQ(rlog.try_read(c, &rec), ReadStatus::Failed);
    c = Cursor();
    EXPECT_EQ(rlog.reread(c, 10 * 16, &rec), ReadStatus::Record);  // it can check what it read
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 102, 3, "big", &x), AcquireResult::TooLarge);
    EXPECT_FALSE(x.valid());
    reg.release(&a);
    EXPECT_EQ(reg.bytes_in_use(), empty);  // log memory back, key kept
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].state, EntryState::TooLarge);
    EXPECT_EQ(list[0].readers, 0u);
    EXPECT_EQ(list[0].bytes, 0u);
    EXPECT_EQ(list[0].hits, 2u);
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 103, 4, "big", &x), AcquireResult::TooLarge);
    // Other data versions are another key: produced as usual.
    ASSERT_EQ(reg.acquire(key_for(1, 2), small_log(), 103, 5, "big", &x), AcquireResult::Produce);
    produce(reg, x, 3);
    reg.release(&x);
    // The TooLarge entry is evicted like any unpinned one when slots run out.
    for (uint8_t t = 2; t < 2 + kEntries; t++) {
        ResultRef e;
        ASSERT_EQ(reg.acquire(key_for(t), small_log(), 104, 10 + t, nullptr, &e), AcquireResult::Produce);
        produce(reg, e, 1);
        reg.release(&e);
    }
    ResultRef again;
    EXPECT_EQ(reg.acquire(key_for(1), small_log(), 105, 100, "big", &again), AcquireResult::Produce);
    reg.release(&again);
    EXPECT_GE(reg.reset(), 1u);
    EXPECT_TRUE(reg.entries().empty());
}

TEST(ResultRegistry, ResetFreesUnpinnedAndHidesPinned) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef p1, p2, again;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, 1, nullptr, &p1), AcquireResult::Produce);
    produce(reg, p1, 2);
    reg.release(&p1);
    ASSERT_EQ(reg.acquire(key_for(2), small_log(), 1, 2, nullptr, &p2), AcquireResult::Produce);
    uint64_t in_use = reg.bytes_in_use();
    EXPECT_EQ(reg.reset(), 2u);
    EXPECT_EQ(reg.entries().size(), 1u);  // the pinned one, hidden
    EXPECT_LT(reg.bytes_in_use(), in_use);
    ASSERT_EQ(reg.acquire(key_for(2), small_log(), 1, 3, nullptr, &again), AcquireResult::Produce);
    reg.release(&p2);
    reg.release(&again);
    EXPECT_EQ(reg.entries().size(), 1u);
    reg.reset();
    EXPECT_EQ(reg.entries().size(), 0u);
    EXPECT_EQ(reg.bytes_in_use(), 0u);
}

TEST(ResultRegistry, ExitedProducerFailsItsEntries) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    ResultRef p, a, q;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 42, 1, nullptr, &p), AcquireResult::Produce);
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 43, 2, nullptr, &a), AcquireResult::Attach);
    ASSERT_EQ(reg.acquire(key_for(2), small_log(), 42, 3, nullptr, &q), AcquireResult::Produce);
    EXPECT_EQ(reg.fail_producer(42), 2u);
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 1u);  // key 2 freed (no reader), key 1 waits for its reader
    EXPECT_EQ(list[0].state, EntryState::Failed);
    reg.release(&a);
    EXPECT_EQ(reg.entries().size(), 0u);
}

TEST(ResultRegistry, ForkedProcessHitsAtAnotherAddress) {
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    int fd = memfd_create("pm_registry_test", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    void *a = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(a, MAP_FAILED);
    ResultRegistry::format(a, size, kEntries);
    ResultRegistry reg(a);
    ResultRef p;
    ASSERT_EQ(reg.acquire(key_for(7), small_log(), 1, 1, nullptr, &p), AcquireResult::Produce);
    produce(reg, p, 300);
    reg.release(&p);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // A second mapping of the same memory, at another address.
        void *b = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (b == MAP_FAILED || b == a) _exit(2);
        ResultRegistry child(b);
        ResultRef h;
        if (child.acquire(key_for(7), small_log(), 2, 2, nullptr, &h) != AcquireResult::Hit) _exit(3);
        if (read_all(child, h) != iota(300)) _exit(4);
        child.release(&h);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    auto list = reg.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].hits, 1u);
    EXPECT_EQ(list[0].readers, 0u);
    munmap(a, size);
    close(fd);
}

namespace {

// A temporary directory for spill files, removed (with what is left in it) at the end.
struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/pm_registry_spill_XXXXXX";
        char *d = mkdtemp(tmpl);
        EXPECT_NE(d, nullptr);
        path = d != nullptr ? d : "/tmp";
    }
    ~TempDir() { (void)system(("rm -rf '" + path + "'").c_str()); }
    std::string prefix() const { return path + "/pgsql_tmp_pmresult"; }
    std::string path;
};

bool exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// Produces n records through a spill file created at the entry's path (as the adapter's
// producer does: note_spill before creating it, then the bytes written). Returns false on error.
bool produce_spilled(ResultRegistry &reg, const ResultRef &ref, int n) {
    std::string path = reg.spill_path(ref);
    if (path.empty()) return false;
    reg.note_spill(ref, 0);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    bool ok = true;
    {
        auto spill = open_spill_file(fd, SpillMode::Auto);
        TupleLog log(reg.log_region(ref), spill.get(), nullptr);
        if (!log.try_register_producer()) ok = false;
        for (int i = 0; ok && i < n; i++) log.append(&i, sizeof(i));
        log.producer_done();
        reg.note_spill(ref, log.stats().pages_spilled * log.config().page_size);
    }
    close(fd);
    reg.publish(ref, static_cast<uint64_t>(n));
    return ok;
}

// Reads every record of a (possibly spilled) entry, opening its spill file by path read-only.
std::vector<int> read_all_spilled(ResultRegistry &reg, const ResultRef &ref) {
    std::vector<int> out;
    int fd = open(reg.spill_path(ref).c_str(), O_RDONLY);
    if (fd < 0) return out;
    {
        auto spill = open_spill_file(fd, SpillMode::Sync);
        TupleLog log(reg.log_region(ref), spill.get(), nullptr);
        Cursor c;
        RecordView rec;
        while (log.read(c, &rec) == ReadStatus::Record) {
            int v;
            memcpy(&v, rec.data, sizeof(v));
            out.push_back(v);
        }
    }
    close(fd);
    return out;
}

}  // namespace

TEST(ResultRegistrySpill, LargerThanRingIsSharedReadBackAndUnlinkedAtLastRelease) {
    TempDir dir;
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries, dir.prefix().c_str());
    ResultRegistry producer(r.mem);
    ResultRegistry reader(r.mem);  // a second handle (another session)
    ResultRef p, h;
    ASSERT_EQ(producer.acquire(key_for(1), small_log(), 1, 1, "big", &p), AcquireResult::Produce);
    const std::string path = producer.spill_path(p);
    EXPECT_EQ(path.rfind(dir.prefix(), 0), 0u);
    EXPECT_FALSE(exists(path)) << "no file before the first spill";
    ASSERT_TRUE(produce_spilled(producer, p, 20000));  // 320 KB of log over a 16 KB ring
    producer.release(&p);
    ASSERT_TRUE(exists(path));
    ASSERT_EQ(reader.acquire(key_for(1), small_log(), 2, 2, "big", &h), AcquireResult::Hit);
    EXPECT_EQ(reader.spill_path(h), path);
    EXPECT_EQ(read_all_spilled(reader, h), iota(20000));
    std::vector<std::string> paths;
    auto list = reader.entries(&paths);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].spill_file);
    EXPECT_GE(list[0].spilled_bytes, 300000u);
    EXPECT_EQ(list[0].bytes, TupleLog::region_size(small_log()));
    ASSERT_EQ(paths.size(), 1u);
    EXPECT_EQ(paths[0], path);
    // Reset while the reader holds its pin: the entry is hidden, the file stays for the reader.
    EXPECT_EQ(producer.reset(), 1u);
    EXPECT_TRUE(exists(path));
    EXPECT_EQ(read_all_spilled(reader, h), iota(20000)) << "a pinned reader still reads it";
    reader.release(&h);  // the last pin: freed, and the file removed by this handle
    EXPECT_FALSE(exists(path));
    EXPECT_EQ(producer.entries().size(), 0u);
}

TEST(ResultRegistrySpill, EvictionAndResetUnlinkWithTheReleaser) {
    TempDir dir;
    // Room for the logs of about two small entries.
    size_t budget = 3 * (TupleLog::region_size(small_log()) + 64) - 64;
    size_t size = ResultRegistry::region_size(kEntries, budget);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries, dir.prefix().c_str());
    ResultRegistry reg(r.mem);
    std::vector<std::string> released;
    reg.set_spill_releaser([&](const std::string &path) {
        released.push_back(path);
        unlink(path.c_str());
    });
    std::vector<std::string> paths;
    int64_t now = 0;
    for (uint8_t tag = 1; tag <= 4; tag++) {
        ResultRef p;
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        paths.push_back(reg.spill_path(p));
        ASSERT_TRUE(produce_spilled(reg, p, 5000));
        reg.release(&p);
    }
    // Entries 1 and 2 were evicted (least recently used) to make room for 3 and 4.
    ASSERT_EQ(released.size(), 2u);
    EXPECT_EQ(released[0], paths[0]);
    EXPECT_EQ(released[1], paths[1]);
    EXPECT_FALSE(exists(paths[0]));
    EXPECT_FALSE(exists(paths[1]));
    EXPECT_TRUE(exists(paths[2]));
    EXPECT_TRUE(exists(paths[3]));
    // An entry without a spill file releases nothing when freed.
    ResultRef small;
    ASSERT_EQ(reg.acquire(key_for(9), small_log(), 1, ++now, nullptr, &small), AcquireResult::Produce);
    produce(reg, small, 10);
    reg.release(&small);
    EXPECT_EQ(released.size(), 3u);  // evicting entry 3 for it
    EXPECT_FALSE(exists(paths[2]));
    EXPECT_EQ(reg.reset(), 2u);
    EXPECT_EQ(released.size(), 4u);  // entry 4; entry 9 had no file
    EXPECT_FALSE(exists(paths[3]));
}

TEST(ResultRegistrySpill, FailedProducerWithAttachedReaderUnlinksAtTheReadersRelease) {
    TempDir dir;
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries, dir.prefix().c_str());
    ResultRegistry reg(r.mem);
    ResultRef p, a;
    ASSERT_EQ(reg.acquire(key_for(5), small_log(), 42, 1, nullptr, &p), AcquireResult::Produce);
    ASSERT_EQ(reg.acquire(key_for(5), small_log(), 43, 2, nullptr, &a), AcquireResult::Attach);
    const std::string path = reg.spill_path(p);
    reg.note_spill(p, 0);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    {
        auto spill = open_spill_file(fd, SpillMode::Sync);
        TupleLog log(reg.log_region(p), spill.get(), nullptr);
        ASSERT_TRUE(log.try_register_producer());
        for (int i = 0; i < 5000; i++) log.append(&i, sizeof(i));
        EXPECT_GT(log.stats().pages_spilled, 0u);
        log.fail();
    }
    close(fd);
    EXPECT_EQ(reg.fail_producer(42), 1u);  // the producer's process exited
    EXPECT_TRUE(exists(path)) << "the attached reader still pins the entry";
    reg.release(&a);
    EXPECT_FALSE(exists(path));
    EXPECT_EQ(reg.entries().size(), 0u);
}

TEST(ResultRegistrySpill, ForkedProcessReadsSpilledPagesByPathAndFreesTheFile) {
    TempDir dir;
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    int fd = memfd_create("pm_registry_spill_test", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    void *a = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(a, MAP_FAILED);
    ResultRegistry::format(a, size, kEntries, dir.prefix().c_str());
    ResultRegistry reg(a);
    ResultRef p;
    ASSERT_EQ(reg.acquire(key_for(7), small_log(), 1, 1, nullptr, &p), AcquireResult::Produce);
    const std::string path = reg.spill_path(p);
    ASSERT_TRUE(produce_spilled(reg, p, 30000));
    reg.release(&p);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        void *b = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (b == MAP_FAILED || b == a) _exit(2);
        ResultRegistry child(b);
        ResultRef h;
        if (child.acquire(key_for(7), small_log(), 2, 2, nullptr, &h) != AcquireResult::Hit) _exit(3);
        if (read_all_spilled(child, h) != iota(30000)) _exit(4);
        child.release(&h);
        if (child.reset() != 1) _exit(5);  // the child frees the entry: it removes the file
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(reg.entries().size(), 0u);
    EXPECT_FALSE(exists(path));
    munmap(a, size);
    close(fd);
}

// Issue 12: an entry is charged to the role that produced it. A role over its share of the log
// memory evicts its own least recently used entries, never another role's; with all of its
// entries pinned it is refused (RoleQuota). An exempt owner is bounded only by the budget.
TEST(ResultRegistry, RoleShareOfLogMemoryEvictsTheRolesOwnEntriesFirst) {
    const size_t log_bytes = TupleLog::region_size(small_log());
    size_t size = ResultRegistry::region_size(kEntries, 8 * (log_bytes + 64));
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    Owner alice{10, false, 2 * log_bytes};
    Owner bob{11, false, 2 * log_bytes};
    int64_t now = 0;
    auto has = [&](uint8_t tag) {
        for (const EntryInfo &e : reg.entries())
            if (e.key == key_for(tag)) return true;
        return false;
    };
    ResultRef p;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, ++now, nullptr, &p, bob),
              AcquireResult::Produce);
    produce(reg, p, 1);
    reg.release(&p);
    for (uint8_t tag = 2; tag <= 4; tag++) {
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p, alice),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
    }
    // Alice's third entry evicted her oldest (2), not Bob's older one (1).
    EXPECT_TRUE(has(1));
    EXPECT_FALSE(has(2));
    EXPECT_TRUE(has(3));
    EXPECT_TRUE(has(4));
    for (const EntryInfo &e : reg.entries()) {
        EXPECT_EQ(e.role, e.key == key_for(1) ? 11u : 10u);
        EXPECT_FALSE(e.quota_exempt);
    }
    // With both of her entries pinned, a new one is refused; Bob's entry stays.
    ResultRef h3, h4;
    ASSERT_EQ(reg.acquire(key_for(3), small_log(), 2, ++now, nullptr, &h3, bob), AcquireResult::Hit);
    ASSERT_EQ(reg.acquire(key_for(4), small_log(), 2, ++now, nullptr, &h4, bob), AcquireResult::Hit);
    EXPECT_EQ(reg.acquire(key_for(5), small_log(), 1, ++now, nullptr, &p, alice),
              AcquireResult::RoleQuota);
    EXPECT_FALSE(p.valid());
    EXPECT_TRUE(has(1));
    // An exempt owner is bounded by the budget only.
    Owner admin{12, true, 0};
    ASSERT_EQ(reg.acquire(key_for(6), small_log(), 1, ++now, nullptr, &p, admin),
              AcquireResult::Produce);
    reg.fail(p);
    reg.release(&p);
    reg.release(&h3);
    reg.release(&h4);
}

// Issue 12: spill bytes are reserved before they are written, against a cluster-wide total and
// a per-role bound; unpinned entries with spill files are evicted to make room (the role's own
// for the role bound, anyone's for the total) and their files removed; what still does not fit
// is refused. Freed entries give their charge back.
TEST(ResultRegistrySpill, SpillIsBoundedInTotalAndPerRole) {
    TempDir dir;
    size_t size = ResultRegistry::region_size(kEntries, 1 << 20);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries, dir.prefix().c_str());
    ResultRegistry reg(r.mem);
    std::vector<std::string> released;
    reg.set_spill_releaser([&](const std::string &path) {
        released.push_back(path);
        unlink(path.c_str());
    });
    const uint64_t total = 300, per_role = 150;
    Owner alice{10, false, UINT64_MAX};
    Owner bob{11, false, UINT64_MAX};
    int64_t now = 0;
    // An entry of `owner` charged `bytes` of spill (a file at its path), published, unpinned.
    auto spilled_entry = [&](uint8_t tag, const Owner &owner, uint64_t bytes, std::string *path) {
        ResultRef p;
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p, owner),
                  AcquireResult::Produce);
        *path = reg.spill_path(p);
        ASSERT_EQ(reg.reserve_spill(p, bytes, total, per_role), SpillVerdict::Ok);
        int fd = open(path->c_str(), O_RDWR | O_CREAT, 0600);
        ASSERT_GE(fd, 0);
        close(fd);
        produce(reg, p, 1);
        reg.release(&p);
    };
    std::string a1, a2, b1, b2;
    spilled_entry(1, alice, 100, &a1);
    spilled_entry(2, bob, 100, &b1);
    EXPECT_EQ(reg.spill_bytes_in_use(), 200u);
    // Alice's second 100 bytes exceed her 150: her own older entry goes (not Bob's older one).
    spilled_entry(3, alice, 100, &a2);
    ASSERT_EQ(released.size(), 1u);
    EXPECT_EQ(released[0], a1);
    EXPECT_FALSE(exists(a1));
    EXPECT_TRUE(exists(b1));
    EXPECT_EQ(reg.spill_bytes_in_use(), 200u);
    spilled_entry(4, bob, 100, &b2);  // the same for Bob: b1 goes
    EXPECT_FALSE(exists(b1));
    EXPECT_EQ(reg.spill_bytes_in_use(), 200u);
    // An exempt producer is bounded by the total only.
    Owner admin{12, true, UINT64_MAX};
    ResultRef q;
    ASSERT_EQ(reg.acquire(key_for(6), small_log(), 1, ++now, nullptr, &q, admin),
              AcquireResult::Produce);
    EXPECT_EQ(reg.reserve_spill(q, 100, total, per_role), SpillVerdict::Ok);
    EXPECT_EQ(reg.spill_bytes_in_use(), 300u);
    // Bob within his share, but over the total: the least recently used unpinned entry with a
    // file goes, whoever produced it (Alice's).
    ResultRef p;
    ASSERT_EQ(reg.acquire(key_for(5), small_log(), 1, ++now, nullptr, &p, bob),
              AcquireResult::Produce);
    EXPECT_EQ(reg.reserve_spill(p, 50, total, per_role), SpillVerdict::Ok);
    EXPECT_FALSE(exists(a2));
    EXPECT_TRUE(exists(b2));
    EXPECT_EQ(reg.spill_bytes_in_use(), 250u);
    // Bob's other entry pinned: over his share with nothing of his own to evict.
    ResultRef hb2;
    ASSERT_EQ(reg.acquire(key_for(4), small_log(), 2, ++now, nullptr, &hb2), AcquireResult::Hit);
    EXPECT_EQ(reg.reserve_spill(p, 1, total, per_role), SpillVerdict::RoleLimit);
    EXPECT_EQ(reg.reserve_spill(q, 50, total, per_role), SpillVerdict::Ok);
    EXPECT_EQ(reg.reserve_spill(q, 1, total, per_role), SpillVerdict::TotalLimit);
    EXPECT_EQ(reg.spill_bytes_in_use(), 300u);
    // Unpinned again, Bob's entry may be evicted for the total.
    reg.release(&hb2);
    EXPECT_EQ(reg.reserve_spill(q, 60, total, per_role), SpillVerdict::Ok);
    EXPECT_FALSE(exists(b2));
    EXPECT_EQ(reg.spill_bytes_in_use(), 260u);
    uint64_t sum = 0;
    for (const EntryInfo &e : reg.entries()) sum += e.spilled_bytes;
    EXPECT_EQ(sum, reg.spill_bytes_in_use());
    reg.fail(p);
    reg.release(&p);
    reg.fail(q);
    reg.release(&q);
    EXPECT_EQ(reg.spill_bytes_in_use(), 0u);
    EXPECT_EQ(reg.reset(), 0u);
}

// Issue 12, segmented LRU: an entry that was reused (a hit) is protected. A stream of distinct
// one-shot misses, however long, only recycles probationary entries: the reused entry survives
// it even though it is the least recently used entry of all. (Plain LRU evicts it at once.)
TEST(ResultRegistry, ReusedEntrySurvivesAFloodOfDistinctMisses) {
    const size_t log_bytes = TupleLog::region_size(small_log()) + 64;
    size_t size = ResultRegistry::region_size(kEntries, 4 * log_bytes);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    int64_t now = 0;
    auto find = [&](uint8_t tag, EntryInfo *out) {
        for (const EntryInfo &e : reg.entries())
            if (e.key == key_for(tag)) {
                if (out != nullptr) *out = e;
                return true;
            }
        return false;
    };
    ResultRef p;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, ++now, nullptr, &p), AcquireResult::Produce);
    produce(reg, p, 10);
    reg.release(&p);
    EntryInfo info;
    ASSERT_TRUE(find(1, &info));
    EXPECT_FALSE(info.protected_segment) << "a new entry is probationary";
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 2, ++now, nullptr, &p), AcquireResult::Hit);
    reg.release(&p);
    ASSERT_TRUE(find(1, &info));
    EXPECT_TRUE(info.protected_segment) << "a hit protects it";
    // 100 distinct misses: each a new entry, unpinned at once (the registry holds ~3).
    for (int i = 0; i < 100; i++) {
        const uint8_t tag = static_cast<uint8_t>(10 + i);
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
        ASSERT_TRUE(find(1, nullptr)) << "the reused entry was evicted by miss " << i;
        ASSERT_TRUE(find(tag, nullptr));
    }
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 2, ++now, nullptr, &p), AcquireResult::Hit);
    reg.release(&p);
    // With every probationary entry pinned, a protected entry is evicted after all.
    std::vector<ResultRef> pins;
    for (const EntryInfo &e : reg.entries()) {
        if (e.key == key_for(1)) continue;
        ResultRef h;
        ASSERT_EQ(reg.acquire(e.key, small_log(), 3, ++now, nullptr, &h), AcquireResult::Hit);
        pins.push_back(h);
    }
    // (Those hits protected them too; the oldest protected entry is entry 1.)
    ASSERT_EQ(reg.acquire(key_for(200), small_log(), 1, ++now, nullptr, &p),
              AcquireResult::Produce);
    EXPECT_FALSE(find(1, nullptr)) << "evictable only because nothing else was";
    reg.fail(p);
    reg.release(&p);
    for (ResultRef &h : pins) reg.release(&h);
}

// Eviction order: every unpinned probationary entry goes (least recently used first) before the
// least recently used protected one; an attach (a reader joining a producer) protects as a hit
// does; the same order holds for a role's own entries under its quota.
TEST(ResultRegistry, ProbationaryEntriesAreEvictedBeforeProtectedOnes) {
    const size_t log_bytes = TupleLog::region_size(small_log()) + 64;
    size_t size = ResultRegistry::region_size(kEntries, 4 * log_bytes);
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    int64_t now = 0;
    auto has = [&](uint8_t tag) {
        for (const EntryInfo &e : reg.entries())
            if (e.key == key_for(tag)) return true;
        return false;
    };
    // Entry 1 is attached to while it is produced (protected), then entries 2 and 3 (new).
    ResultRef p, a;
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 1, ++now, nullptr, &p), AcquireResult::Produce);
    ASSERT_EQ(reg.acquire(key_for(1), small_log(), 2, ++now, nullptr, &a), AcquireResult::Attach);
    produce(reg, p, 3);
    reg.release(&a);
    reg.release(&p);
    for (uint8_t tag = 2; tag <= 3; tag++) {
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
    }
    // Entry 3 hit last: its recency does not matter, it is probationary; 2 is older.
    for (uint8_t tag = 4; tag <= 5; tag++) {
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
    }
    EXPECT_TRUE(has(1)) << "protected (attached), although least recently used";
    EXPECT_FALSE(has(2));
    // A role's own eviction under its quota follows the same order.
    size_t size2 = ResultRegistry::region_size(kEntries, 16 * log_bytes);
    Region r2(size2);
    ResultRegistry::format(r2.mem, size2, kEntries);
    ResultRegistry reg2(r2.mem);
    Owner alice{10, false, 2 * TupleLog::region_size(small_log())};
    ASSERT_EQ(reg2.acquire(key_for(1), small_log(), 1, ++now, nullptr, &p, alice),
              AcquireResult::Produce);
    produce(reg2, p, 1);
    reg2.release(&p);
    ASSERT_EQ(reg2.acquire(key_for(1), small_log(), 1, ++now, nullptr, &p, alice),
              AcquireResult::Hit);
    reg2.release(&p);
    for (uint8_t tag = 2; tag <= 6; tag++) {
        ASSERT_EQ(reg2.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p, alice),
                  AcquireResult::Produce);
        produce(reg2, p, 1);
        reg2.release(&p);
    }
    bool kept = false;
    for (const EntryInfo &e : reg2.entries()) kept = kept || e.key == key_for(1);
    EXPECT_TRUE(kept) << "the role's reused entry survives its own misses";
    EXPECT_EQ(reg2.entries().size(), 2u);
}

// The protected segment holds at most 3/4 of the log memory: when every entry has been reused,
// the least recently used ones are demoted to probationary (and so evicted first).
TEST(ResultRegistry, ProtectedSegmentIsBoundedAndDemotesItsOldest) {
    const size_t log_bytes = TupleLog::region_size(small_log());
    size_t size = ResultRegistry::region_size(kEntries, 8 * (log_bytes + 64));
    Region r(size);
    ResultRegistry::format(r.mem, size, kEntries);
    ResultRegistry reg(r.mem);
    int64_t now = 0;
    ResultRef p;
    uint8_t made = 0;
    // New entries while they fit without evicting (the allocator's overhead decides how many).
    for (uint8_t tag = 1; tag <= kEntries; tag++) {
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                  AcquireResult::Produce);
        produce(reg, p, 1);
        reg.release(&p);
        if (reg.entries().size() < tag) break;
        made = tag;
    }
    ASSERT_GE(made, 5);
    if (made < kEntries) {  // the one that did not fit evicted entry 1: start over from 2
        reg.reset();
        for (uint8_t tag = 1; tag <= made; tag++) {
            ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 1, ++now, nullptr, &p),
                      AcquireResult::Produce);
            produce(reg, p, 1);
            reg.release(&p);
        }
    }
    const size_t before = reg.entries().size();
    ASSERT_EQ(before, made);
    for (uint8_t tag = 1; tag <= made; tag++) {
        ASSERT_EQ(reg.acquire(key_for(tag), small_log(), 2, ++now, nullptr, &p),
                  AcquireResult::Hit);
        reg.release(&p);
    }
    EXPECT_EQ(reg.entries().size(), before) << "hits evict nothing";
    uint64_t held = 0;
    uint8_t first_protected = 0;
    for (uint8_t tag = 1; tag <= made; tag++)
        for (const EntryInfo &e : reg.entries())
            if (e.key == key_for(tag) && e.protected_segment) {
                held += e.bytes;
                if (first_protected == 0) first_protected = tag;
            } else if (e.key == key_for(tag) && first_protected != 0) {
                ADD_FAILURE() << "entry " << int(tag) << " demoted after a less recent one";
            }
    EXPECT_LE(held, reg.log_budget() / 4 * 3);
    EXPECT_GT(first_protected, 1) << "the least recently used reused entry was demoted";
    // The next miss evicts the demoted (least recently used probationary) entry 1.
    ASSERT_EQ(reg.acquire(key_for(100), small_log(), 1, ++now, nullptr, &p),
              AcquireResult::Produce);
    bool has1 = false, has_last = false;
    for (const EntryInfo &e : reg.entries()) {
        has1 = has1 || e.key == key_for(1);
        has_last = has_last || e.key == key_for(made);
    }
    EXPECT_FALSE(has1);
    EXPECT_TRUE(has_last);
    reg.fail(p);
    reg.release(&p);
}
