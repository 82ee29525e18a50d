// arrangement_concurrency_test.cpp — ArrangementIndex under concurrent writers/readers/reclaim.
//
// Threads, and fork()ed processes mapping one region at different addresses.
//
// A toy "PostgreSQL" lives in a shared World: a commit log, a proc array (running xids and the
// registered snapshot xmins of readers) and the ground truth of every row ever inserted (key, xmin,
// xmax). Writers run transactions that insert and delete rows (in the index and in the ground
// truth), then commit or abort; one of them reclaims with the horizon of the oldest snapshot.
// Readers take snapshots, probe a key lock-free, validate every emitted tuple (checksum, TID, key)
// and compare the set of rows with what the ground truth says the snapshot must see.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "parallel_material/core/arrangement_index.hpp"
#include "shared_mapping.hpp"
#include "parallel_material/core/arrangement_region.hpp"

using pm::core::ArrangementIndex;
using pm::core::FixedRegionAllocator;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr uint32_t kXactsPerWriter = 1000;
#elif defined(__SANITIZE_ADDRESS__)
constexpr uint32_t kXactsPerWriter = 4000;
#else
constexpr uint32_t kXactsPerWriter = 12000;
#endif
constexpr uint32_t kMaxXid = 1 << 16;
constexpr uint32_t kMaxRows = 1 << 17;
constexpr uint32_t kMaxWriters = 4;
constexpr uint32_t kMaxReaders = 8;
constexpr uint32_t kKeys = 40;
constexpr uint32_t kRowsPerKey = kMaxRows / kKeys * 2;
constexpr uint32_t kStripes = 4;
constexpr uint32_t kMinProbes = 50;
constexpr size_t kRegionBytes = 16 << 20;

enum : uint8_t { kInProgress = 0, kCommitted = 1, kAborted = 2 };
// The frozen xmin (PostgreSQL's FrozenTransactionId): committed for every snapshot. The index
// starts with kPreloaded rows carrying it (what a build of old rows stores), in the compact form;
// writers delete them like the others and reclaim frees them under the readers.
constexpr uint32_t kFrozenXid = 2;
constexpr uint32_t kPreloaded = 2000;

struct Row {
    std::atomic<uint32_t> key;
    std::atomic<uint32_t> xmin;
    std::atomic<uint32_t> xmax;  // ground truth: 0 or the (in-progress or committed) deleter
    std::atomic<uint32_t> ready;
};

struct World {
    std::atomic<uint32_t> procarray;  // spin lock over next_xid, running, reader_xmin
    std::atomic<uint32_t> next_xid;
    std::atomic<uint32_t> running[kMaxWriters];
    std::atomic<uint32_t> reader_xmin[kMaxReaders];
    std::atomic<uint32_t> writers_done;
    std::atomic<uint32_t> nrows;
    std::atomic<uint64_t> failures;
    std::atomic<uint64_t> probes;
    std::atomic<uint64_t> rows_checked;
    std::atomic<uint64_t> reclaimed;
    std::atomic<uint64_t> compacted;
    std::atomic<uint64_t> deletes;
    uint64_t index_off;
    uint64_t lock_off;
    std::atomic<uint8_t> clog[kMaxXid];
    Row rows[kMaxRows];
    std::atomic<uint32_t> key_count[kKeys];              // rows appended to key_rows[key]
    std::atomic<uint32_t> key_rows[kKeys][kRowsPerKey];  // row + 1; 0 while being appended
};

struct Snap {
    uint32_t xmin, xmax;
    uint32_t xip[kMaxWriters];
    uint32_t nxip;
};

inline uint64_t key_hash(uint32_t key) {
    return key % 11;
}  // many collisions on purpose
inline std::string key_bytes(uint32_t key) {
    return "key-" + std::to_string(key * 977);
}
inline Tid tid_of(uint32_t row) {
    return Tid{row / 64 + 1, static_cast<uint16_t>(row % 64 + 1)};
}

uint32_t checksum(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
    return h;
}

// Tuple: row u32, key u32, payload_len u32, payload, checksum u32 over everything before it.
std::string make_tuple(uint32_t row, uint32_t key) {
    uint32_t plen = (row * 13) % 61;
    std::string t(12 + plen + 4, '\0');
    std::memcpy(&t[0], &row, 4);
    std::memcpy(&t[4], &key, 4);
    std::memcpy(&t[8], &plen, 4);
    for (uint32_t i = 0; i < plen; ++i) t[12 + i] = static_cast<char>(row + i);
    uint32_t c = checksum(reinterpret_cast<const unsigned char *>(t.data()), 12 + plen);
    std::memcpy(&t[12 + plen], &c, 4);
    return t;
}

struct Rng {
    uint64_t s;
    uint32_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<uint32_t>(s >> 11);
    }
};

void fail(World &w, const std::string &what) {
    if (w.failures.fetch_add(1) < 5)
        std::fprintf(stderr, "arrangement concurrency failure: %s\n", what.c_str());
}

Snap take_snapshot(World &w, uint32_t reader) {
    Snap s{};
    pm::core::spin_lock(w.procarray);
    s.xmax = w.next_xid.load(std::memory_order_relaxed);
    s.xmin = s.xmax;
    for (uint32_t i = 0; i < kMaxWriters; ++i) {
        uint32_t x = w.running[i].load(std::memory_order_relaxed);
        if (x != 0) {
            s.xip[s.nxip++] = x;
            s.xmin = std::min(s.xmin, x);
        }
    }
    w.reader_xmin[reader].store(s.xmin, std::memory_order_relaxed);
    pm::core::spin_unlock(w.procarray);
    return s;
}

uint32_t horizon(World &w) {
    pm::core::spin_lock(w.procarray);
    uint32_t h = w.next_xid.load(std::memory_order_relaxed);
    for (auto &x : w.running)
        if (uint32_t v = x.load(std::memory_order_relaxed))
            h = std::min(h, v);
    for (auto &x : w.reader_xmin)
        if (uint32_t v = x.load(std::memory_order_relaxed))
            h = std::min(h, v);
    pm::core::spin_unlock(w.procarray);
    return h;
}

uint8_t state(const World &w, uint32_t xid) {
    return w.clog[xid].load(std::memory_order_acquire);
}

bool committed_for(const World &w, const Snap &s, uint32_t x) {
    if (x >= s.xmax)
        return false;
    for (uint32_t i = 0; i < s.nxip; ++i)
        if (s.xip[i] == x)
            return false;
    return state(w, x) == kCommitted;
}

bool visible(const World &w, const Snap &s, uint32_t xmin, uint32_t xmax) {
    return committed_for(w, s, xmin) && (xmax == 0 || !committed_for(w, s, xmax));
}

void run_writer(World &w, ArrangementIndex &ix, uint32_t wi, bool reclaimer) {
    Rng rng{0x9e3779b97f4a7c15ULL * (wi + 1)};
    auto current = [&](const VersionView &v) {
        return v.xmax == 0 || state(w, v.xmax) == kAborted;
    };
    for (uint32_t t = 0; t < kXactsPerWriter; ++t) {
        pm::core::spin_lock(w.procarray);
        uint32_t xid = w.next_xid.fetch_add(1, std::memory_order_relaxed);
        w.running[wi].store(xid, std::memory_order_relaxed);
        pm::core::spin_unlock(w.procarray);
        if (xid >= kMaxXid) {
            fail(w, "xid space exhausted");
            break;
        }
        std::vector<uint32_t> deleted;
        uint32_t nops = 1 + rng.next() % 4;
        for (uint32_t cid = 0; cid < nops; ++cid) {
            uint32_t nrows = w.nrows.load(std::memory_order_acquire);
            if (rng.next() % 10 < 6 || nrows < 10) {
                uint32_t r = w.nrows.fetch_add(1, std::memory_order_acq_rel);
                if (r >= kMaxRows) {
                    fail(w, "row space exhausted");
                    break;
                }
                uint32_t key = rng.next() % kKeys;
                w.rows[r].key.store(key, std::memory_order_relaxed);
                w.rows[r].xmin.store(xid, std::memory_order_relaxed);
                w.rows[r].xmax.store(0, std::memory_order_relaxed);
                w.rows[r].ready.store(1, std::memory_order_release);
                uint32_t slot = w.key_count[key].fetch_add(1, std::memory_order_acq_rel);
                if (slot >= kRowsPerKey) {
                    fail(w, "per-key row list full");
                    break;
                }
                w.key_rows[key][slot].store(r + 1, std::memory_order_release);
                std::string k = key_bytes(key), tup = make_tuple(r, key);
                ix.insert(key_hash(key), k.data(), static_cast<uint32_t>(k.size()), tup.data(),
                          static_cast<uint32_t>(tup.size()), tid_of(r), xid, cid);
            } else {
                uint32_t r = rng.next() % nrows;
                Row &row = w.rows[r];
                if (row.ready.load(std::memory_order_acquire) == 0 ||
                    state(w, row.xmin.load(std::memory_order_relaxed)) != kCommitted)
                    continue;
                uint32_t expected = 0;
                if (!row.xmax.compare_exchange_strong(expected, xid))
                    continue;  // another transaction deletes it (PostgreSQL: a row lock)
                uint32_t key = row.key.load(std::memory_order_relaxed);
                if (!ix.mark_deleted(tid_of(r), key_hash(key), xid, cid, current))
                    fail(w, "mark_deleted missed row " + std::to_string(r));
                deleted.push_back(r);
                w.deletes.fetch_add(1, std::memory_order_relaxed);
            }
        }
        bool abort = rng.next() % 5 == 0;
        pm::core::spin_lock(w.procarray);
        w.clog[xid].store(abort ? kAborted : kCommitted, std::memory_order_release);
        w.running[wi].store(0, std::memory_order_relaxed);
        pm::core::spin_unlock(w.procarray);
        if (abort)
            for (uint32_t r : deleted) w.rows[r].xmax.store(0, std::memory_order_release);
        if (reclaimer && t % 8 == 7) {
            uint32_t h = horizon(w);
            // Also compacts versions whose inserter committed before the horizon (what the
            // adapter's reclaim does), while the readers probe.
            auto res = ix.reclaim(
                [&](const VersionView &v) {
                    if (state(w, v.xmin) == kAborted)
                        return true;
                    return v.xmax != 0 && v.xmax < h && state(w, v.xmax) == kCommitted;
                },
                [&](const VersionView &v) { return v.xmin < h && state(w, v.xmin) == kCommitted; });
            w.compacted.fetch_add(res.compacted, std::memory_order_relaxed);
            w.reclaimed.fetch_add(res.freed, std::memory_order_relaxed);
        }
    }
    w.writers_done.fetch_add(1, std::memory_order_acq_rel);
}

void run_reader(World &w, ArrangementIndex &ix, uint32_t ri, uint32_t nwriters) {
    Rng rng{0xc2b2ae3d27d4eb4fULL * (ri + 7)};
    ArrangementIndex::Reader rd = ix.register_reader();
    std::vector<uint32_t> got, want;
    uint64_t calls = 0;
    for (uint32_t n = 0;
         n < kMinProbes || w.writers_done.load(std::memory_order_acquire) < nwriters; ++n) {
        Snap s = take_snapshot(w, ri);
        uint32_t key = rng.next() % kKeys;
        std::string k = key_bytes(key);
        got.clear();
        want.clear();
        auto vis = [&](const VersionView &v) {
            // Stand on a version now and then while the others run: widens the windows in
            // which a premature free would be caught.
            if ((++calls & 31) == 0)
                std::this_thread::yield();
            return visible(w, s, v.xmin, v.xmax);
        };
        // Validates an emitted version of `pkey` (bytes `pk`); its row, or kMaxRows when torn.
        auto check = [&](const VersionView &v, uint32_t pkey, const std::string &pk) -> uint32_t {
            uint32_t row, tkey, plen, sum;
            if (v.tuple_len < 16) {
                fail(w, "short tuple");
                return kMaxRows;
            }
            std::memcpy(&row, v.tuple, 4);
            std::memcpy(&tkey, v.tuple + 4, 4);
            std::memcpy(&plen, v.tuple + 8, 4);
            if (v.tuple_len != 16 + plen || row >= kMaxRows) {
                fail(w, "torn tuple header");
                return kMaxRows;
            }
            std::memcpy(&sum, v.tuple + 12 + plen, 4);
            if (sum != checksum(reinterpret_cast<const unsigned char *>(v.tuple), 12 + plen) ||
                tkey != pkey || v.tid != tid_of(row) ||
                (v.xmin != w.rows[row].xmin.load(std::memory_order_relaxed) &&
                 (v.xmin != kFrozenXid || v.cmin != 0 ||
                  state(w, w.rows[row].xmin.load(std::memory_order_relaxed)) != kCommitted)) ||
                std::string(v.key, v.key_len) != pk) {
                fail(w, "torn or misplaced tuple for row " + std::to_string(row));
                return kMaxRows;
            }
            return row;
        };
        if (ri % 2 == 0) {
            ix.probe(rd, key_hash(key), k.data(), static_cast<uint32_t>(k.size()), vis,
                     [&](const VersionView &v) {
                         uint32_t row = check(v, key, k);
                         if (row != kMaxRows)
                             got.push_back(row);
                     });
        } else {
            // Odd readers probe in batches: the key twice (both must see the same rows) around
            // another key (whose versions must be its own).
            uint32_t key2 = rng.next() % kKeys;
            std::string k2 = key_bytes(key2);
            pm::core::ProbeKey batch[3] = {
                {key_hash(key), k.data(), static_cast<uint32_t>(k.size())},
                {key_hash(key2), k2.data(), static_cast<uint32_t>(k2.size())},
                {key_hash(key), k.data(), static_cast<uint32_t>(k.size())}};
            std::vector<uint32_t> again;
            ix.probe_batch(rd, batch, 3, vis, [&](uint32_t i, const VersionView &v) {
                uint32_t row = i == 1 ? check(v, key2, k2) : check(v, key, k);
                if (row == kMaxRows || i == 1)
                    return;
                (i == 0 ? got : again).push_back(row);
            });
            std::sort(got.begin(), got.end());
            std::sort(again.begin(), again.end());
            if (got != again)
                fail(w, "one batch, same key, different rows");
        }
        // Rows still being appended belong to running transactions: invisible anyway.
        uint32_t nkey = std::min(w.key_count[key].load(std::memory_order_acquire), kRowsPerKey);
        for (uint32_t i = 0; i < nkey; ++i) {
            uint32_t r1 = w.key_rows[key][i].load(std::memory_order_acquire);
            if (r1 == 0)
                continue;
            uint32_t r = r1 - 1;
            Row &row = w.rows[r];
            if (row.key.load(std::memory_order_relaxed) != key) {
                fail(w, "per-key row list corrupt");
                continue;
            }
            if (visible(w, s, row.xmin.load(std::memory_order_relaxed),
                        row.xmax.load(std::memory_order_acquire)))
                want.push_back(r);
        }
        w.reader_xmin[ri].store(0, std::memory_order_relaxed);
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        if (got != want)
            fail(w, "key " + std::to_string(key) + ": index gave " + std::to_string(got.size()) +
                        " rows, ground truth " + std::to_string(want.size()));
        w.probes.fetch_add(1, std::memory_order_relaxed);
        w.rows_checked.fetch_add(got.size(), std::memory_order_relaxed);
    }
}

// After everything stopped: the index agrees with the ground truth for a fresh snapshot, and a
// reclaim at the newest horizon leaves exactly the live rows.
void final_check(World &w, ArrangementIndex &ix) {
    Snap s = take_snapshot(w, 0);
    w.reader_xmin[0].store(0);
    uint32_t nrows = std::min(w.nrows.load(), kMaxRows);
    uint64_t want = 0;
    for (uint32_t r = 0; r < nrows; ++r)
        if (visible(w, s, w.rows[r].xmin.load(), w.rows[r].xmax.load()))
            ++want;
    uint64_t got = ix.scan_all([&](const VersionView &v) { return visible(w, s, v.xmin, v.xmax); },
                               [](const VersionView &) {});
    EXPECT_EQ(got, want);
    uint32_t h = horizon(w);
    ix.reclaim([&](const VersionView &v) {
        return state(w, v.xmin) == kAborted ||
               (v.xmax != 0 && v.xmax < h && state(w, v.xmax) == kCommitted);
    });
    auto st = ix.stats();
    EXPECT_EQ(st.versions, want);
    EXPECT_LE(st.live, want);  // versions whose xmax aborted count as delete-marked
    EXPECT_EQ(st.retired_pending, 0u);
    EXPECT_GT(st.reclaimed, 0u);
    EXPECT_EQ(st.inserts, nrows);
    EXPECT_GT(w.probes.load(), 0u);
    EXPECT_GT(w.rows_checked.load(), 0u);
    EXPECT_GT(w.deletes.load(), 0u);
    EXPECT_GT(w.compacted.load(), 0u);
    EXPECT_EQ(w.failures.load(), 0u);
}

using pm_test::Mapping;

// Formats the region and the world; returns the world (placed in its own shared mapping).
// Freed blocks are scribbled (readers would fail checksums); poisoned under ASan only when one
// process uses the region.
World *setup(Mapping &world_map, Mapping &region_map, bool single_process) {
    World *w = new (world_map.base()) World();
    w->next_xid.store(3);
    w->clog[kFrozenXid].store(kCommitted);
    auto alloc =
        FixedRegionAllocator::format(region_map.base(), kRegionBytes,
                                     FixedRegionAllocator::kScribbleFreed |
                                         (single_process ? FixedRegionAllocator::kPoisonFreed : 0));
    w->lock_off = alloc.allocate(SpinWriterLock::bytes(kStripes));
    SpinWriterLock::format(region_map.base() + w->lock_off, kStripes);
    SpinWriterLock lock(region_map.base() + w->lock_off, kStripes);
    ArrangementIndex::Options o;
    o.nbuckets = 64;
    o.reader_slots = 16;
    o.frozen_xmin = kFrozenXid;
    ArrangementIndex ix = ArrangementIndex::create(alloc, lock, o);
    w->index_off = ix.index_offset();
    // Preloaded as a build does: one insert_bulk sorted by key, so each key's rows form runs
    // (see arrangement_runs_test.cpp) that writers delete from and reclaim copies or frees.
    std::vector<std::string> keys(kPreloaded), tuples(kPreloaded);
    std::vector<pm::core::BulkVersion> bulk;
    for (uint32_t r = 0; r < kPreloaded; ++r) {
        uint32_t key = r % kKeys;
        w->rows[r].key.store(key);
        w->rows[r].xmin.store(kFrozenXid);
        w->rows[r].xmax.store(0);
        w->rows[r].ready.store(1);
        w->key_rows[key][w->key_count[key].fetch_add(1)].store(r + 1);
        keys[r] = key_bytes(key);
        tuples[r] = make_tuple(r, key);
        bulk.push_back(pm::core::BulkVersion{key_hash(key), keys[r].data(),
                                             static_cast<uint32_t>(keys[r].size()),
                                             tuples[r].data(),
                                             static_cast<uint32_t>(tuples[r].size()), tid_of(r),
                                             kFrozenXid, 0, 0, 0, 0});
    }
    // By hash, then key, then TID (std::sort: stable_sort's buffer meets the sized operator
    // delete that arrangement_reclaim_growth_test.cpp replaces).
    std::sort(bulk.begin(), bulk.end(),
              [](const pm::core::BulkVersion &a, const pm::core::BulkVersion &b) {
                  if (a.hash != b.hash) return a.hash < b.hash;
                  int c = std::strcmp(static_cast<const char *>(a.key),
                                      static_cast<const char *>(b.key));
                  if (c != 0) return c < 0;
                  return a.tid.block != b.tid.block ? a.tid.block < b.tid.block
                                                    : a.tid.offset < b.tid.offset;
              });
    ix.insert_bulk(bulk.data(), bulk.size());
    w->nrows.store(kPreloaded);
    return w;
}

// The handles one participant (thread or process) uses over a region mapped at `base`.
struct Handles {
    Handles(char *base, const World &w)
        : alloc(FixedRegionAllocator::attach(base)),
          lock(base + w.lock_off, kStripes),
          index(ArrangementIndex::attach(alloc, lock, w.index_off)) {}
    FixedRegionAllocator alloc;
    SpinWriterLock lock;
    ArrangementIndex index;
};

}  // namespace

TEST(ArrangementConcurrency, ThreadsWritersReadersReclaim) {
    Mapping world_map(sizeof(World));
    Mapping region_map(kRegionBytes);
    World *w = setup(world_map, region_map, true);
    constexpr uint32_t kWriters = 2, kReaders = 2;
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < kWriters; ++i)
        threads.emplace_back([&, i] {
            Handles h(region_map.base(), *w);
            run_writer(*w, h.index, i, i == 0);
        });
    for (uint32_t i = 0; i < kReaders; ++i)
        threads.emplace_back([&, i] {
            Handles h(region_map.base(), *w);
            run_reader(*w, h.index, i + 1, kWriters);
        });
    for (auto &t : threads) t.join();
    Handles h(region_map.base(), *w);
    final_check(*w, h.index);
    std::fprintf(stderr,
                 "threads: %llu probes, %llu rows checked, %llu reclaimed, %llu compacted, %u rows\n",
                 static_cast<unsigned long long>(w->probes.load()),
                 static_cast<unsigned long long>(w->rows_checked.load()),
                 static_cast<unsigned long long>(w->reclaimed.load()),
                 static_cast<unsigned long long>(w->compacted.load()), w->nrows.load());
}

TEST(ArrangementConcurrency, ForkedProcessesMapRegionAtDifferentAddresses) {
    int fd = memfd_create("pm_arrangement_test", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, kRegionBytes), 0);
    Mapping world_map(sizeof(World));
    std::vector<pid_t> pids;
    World *w;
    bool children_ok = true;
    {
        Mapping region_map(kRegionBytes, fd);
        w = setup(world_map, region_map, false);
        constexpr uint32_t kWriters = 2, kReaders = 2;
        for (uint32_t i = 0; i < kWriters + kReaders; ++i) {
            pid_t pid = fork();
            ASSERT_GE(pid, 0);
            if (pid == 0) {
                int code = 0;
                {
                    // A second mapping of the same memory: necessarily another address.
                    Mapping mine(kRegionBytes, fd);
                    if (mine.base() == region_map.base())
                        _exit(3);
                    Handles h(mine.base(), *w);
                    uint64_t before = w->failures.load();
                    if (i < kWriters)
                        run_writer(*w, h.index, i, i == 0);
                    else
                        run_reader(*w, h.index, i - kWriters + 1, kWriters);
                    code = w->failures.load() != before ? 1 : 0;
                }
                _exit(code);
            }
            pids.push_back(pid);
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        for (pid_t pid : pids) {
            int status = 0;
            for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                    break;
                if (std::chrono::steady_clock::now() > deadline) {
                    for (pid_t p : pids) kill(p, SIGKILL);
                    waitpid(pid, &status, 0);
                    ADD_FAILURE() << "child " << pid << " timed out";
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                ADD_FAILURE() << "child " << pid << " status " << status;
                children_ok = false;
            }
        }
    }
    if (!children_ok) {  // a crashed child may have left a lock taken
        close(fd);
        return;
    }
    // The parent maps the region afresh (yet another address) and checks the final state.
    Mapping again(kRegionBytes, fd);
    Handles h(again.base(), *w);
    final_check(*w, h.index);
    std::fprintf(stderr, "processes: %llu probes, %llu rows checked, %llu reclaimed, %u rows\n",
                 static_cast<unsigned long long>(w->probes.load()),
                 static_cast<unsigned long long>(w->rows_checked.load()),
                 static_cast<unsigned long long>(w->reclaimed.load()), w->nrows.load());
    close(fd);
}
