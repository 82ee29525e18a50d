// arrangement_runs_test.cpp — runs: the compact versions of one key stored together by insert_bulk
// (one header and key, per-version TID, length and xmax word). Probes, batched probes, deletes
// inside a run, reclaim of a run with dead entries (and without room for the copy), truncate,
// scan_all, stats, bytes accounting and destroy; chains mixing runs and single versions.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
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
using pm::core::BulkVersion;
using pm::core::FixedRegionAllocator;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

namespace {

constexpr uint32_t kFrozen = 2;  // the adapter's FrozenTransactionId

using pm_test::Mapping;

ArrangementIndex::Options frozen_opts(uint64_t nbuckets) {
    ArrangementIndex::Options o;
    o.nbuckets = nbuckets;
    o.reader_slots = 8;
    o.frozen_xmin = kFrozen;
    return o;
}

struct Fixture {
    explicit Fixture(size_t region_bytes, ArrangementIndex::Options opt = frozen_opts(64))
        : map(region_bytes),
          alloc(FixedRegionAllocator::format(map.base(), region_bytes,
                                             FixedRegionAllocator::kPoisonFreed |
                                                 FixedRegionAllocator::kScribbleFreed)),
          lock_off(alloc.allocate(SpinWriterLock::bytes(4))),
          lock((SpinWriterLock::format(map.base() + lock_off, 4), map.base() + lock_off), 4),
          base_bytes(alloc.bytes_in_use()),
          index(ArrangementIndex::create(alloc, lock, opt)) {}
    Mapping map;
    FixedRegionAllocator alloc;
    uint64_t lock_off;
    SpinWriterLock lock;
    uint64_t base_bytes;  // the region before the index
    ArrangementIndex index;
};

auto all_visible = [](const VersionView &) { return true; };

std::string str(const char *p, uint32_t n) { return std::string(p, n); }

// Row r of key k: its tuple names both (so a reader can check every byte it is given).
std::string key_of(uint32_t k) { return "key-" + std::to_string(k); }
std::string tuple_of(uint32_t r) {
    return "row" + std::to_string(r) + std::string(r % 23, static_cast<char>('a' + r % 26));
}
uint64_t hash_of(uint32_t k) { return 0x1000u + k * 2654435761u; }

// A batch of `keys` keys x `per` rows, key by key (what the build passes, sorted by bucket),
// row r = k * per + j with TID (r, 1); all compact (frozen xmin, cmin 0), same flags.
struct Batch {
    std::vector<std::string> keys, tuples;
    std::vector<BulkVersion> v;
    Batch(uint32_t keys_n, uint32_t per, uint16_t flags = 0x8005) {
        for (uint32_t k = 0; k < keys_n; ++k) keys.push_back(key_of(k));
        for (uint32_t r = 0; r < keys_n * per; ++r) tuples.push_back(tuple_of(r));
        for (uint32_t r = 0; r < keys_n * per; ++r) {
            const std::string &k = keys[r / per];
            v.push_back(BulkVersion{hash_of(r / per), k.data(), static_cast<uint32_t>(k.size()),
                                    tuples[r].data(), static_cast<uint32_t>(tuples[r].size()),
                                    Tid{r, 1}, kFrozen, 0, 0, 0, flags});
        }
    }
};

std::vector<uint32_t> probe_rows(const ArrangementIndex &ix, uint32_t k,
                                 pm::core::VisibilityFn vis = all_visible) {
    std::vector<uint32_t> out;
    std::string key = key_of(k);
    ix.probe(hash_of(k), key.data(), static_cast<uint32_t>(key.size()), vis,
             [&](const VersionView &v) {
                 EXPECT_EQ(str(v.key, v.key_len), key);
                 EXPECT_EQ(str(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                 EXPECT_EQ(v.xmin, kFrozen);
                 EXPECT_EQ(v.cmin, 0u);
                 out.push_back(v.tid.block);
             });
    return out;
}

size_t run_bytes(uint32_t count, size_t key_len, size_t tuple_bytes) {
    return FixedRegionAllocator::rounded_size(16 + 16 * count + key_len + tuple_bytes);
}

}  // namespace

TEST(ArrangementRuns, BulkBuildStoresOneRunPerKey) {
    Fixture f(4 << 20);
    const uint64_t empty = f.alloc.bytes_in_use();
    Batch b(50, 4);
    f.index.insert_bulk(b.v.data(), b.v.size());
    // Every key's 4 versions in one block: 16-byte header, 4 xmax words, 4 entries, the key once,
    // the tuples back to back, one rounding.
    uint64_t want = 0;
    for (uint32_t k = 0; k < 50; ++k) {
        size_t t = 0;
        for (uint32_t j = 0; j < 4; ++j) t += b.tuples[k * 4 + j].size();
        want += run_bytes(4, b.keys[k].size(), t);
    }
    auto s = f.index.stats();
    EXPECT_EQ(s.version_bytes, want);
    EXPECT_EQ(s.versions, 200u);
    EXPECT_EQ(s.live, 200u);
    EXPECT_EQ(s.inserts, 200u);
    EXPECT_EQ(f.alloc.bytes_in_use() - empty, want);
    // Smaller than single compact versions (32-byte header + tuple + key each, rounded).
    uint64_t single = 0;
    for (uint32_t r = 0; r < 200; ++r)
        single += FixedRegionAllocator::rounded_size(32 + b.tuples[r].size() + b.keys[r / 4].size());
    EXPECT_LT(want, single);
    // Probes: newest (last in the batch) first, every field as inserted.
    for (uint32_t k = 0; k < 50; ++k)
        EXPECT_EQ(probe_rows(f.index, k),
                  (std::vector<uint32_t>{k * 4 + 3, k * 4 + 2, k * 4 + 1, k * 4}));
    std::string key = key_of(7);
    f.index.probe(hash_of(7), key.data(), static_cast<uint32_t>(key.size()), all_visible,
                  [&](const VersionView &v) {
                      EXPECT_EQ(v.flags, 0x8005);
                      EXPECT_EQ(v.hash, hash_of(7) & 0xffffffffu);
                      EXPECT_EQ(v.tid.offset, 1u);
                      EXPECT_EQ(v.xmax, 0u);
                  });
    EXPECT_TRUE(probe_rows(f.index, 51).empty());
    EXPECT_EQ(f.index.scan_all(all_visible, [](const VersionView &) {}), 200u);
    // A visibility callback filters entries one by one.
    EXPECT_EQ(probe_rows(f.index, 3, [](const VersionView &v) { return v.tid.block % 2 == 0; }),
              (std::vector<uint32_t>{14, 12}));
    f.index.destroy();
    EXPECT_EQ(f.alloc.bytes_in_use(), f.base_bytes);
}

TEST(ArrangementRuns, ProbeBatchOverRunsAndSingles) {
    // Few buckets: chains mixing runs of several keys, full versions and later single inserts.
    Fixture f(4 << 20, frozen_opts(4));
    Batch b(30, 5);
    // Every fourth version full (a running inserter): it stays single, the others form runs.
    for (size_t i = 0; i < b.v.size(); i += 4) b.v[i].xmin = 7;
    std::vector<BulkVersion> sorted = b.v;
    std::sort(sorted.begin(), sorted.end(), [](const BulkVersion &x, const BulkVersion &y) {
        uint64_t bx = ArrangementIndex::bucket_order(x.hash) >> 62;
        uint64_t by = ArrangementIndex::bucket_order(y.hash) >> 62;
        return bx != by ? bx < by : x.tid.block < y.tid.block;  // stable by hand
    });
    f.index.insert_bulk(sorted.data(), sorted.size());
    // Deltas: one more single compact and one full version per key.
    std::vector<std::string> extra;
    for (uint32_t k = 0; k < 30; ++k) extra.push_back(tuple_of(1000 + k));
    for (uint32_t k = 0; k < 30; ++k) {
        std::string key = key_of(k);
        f.index.insert(hash_of(k), key.data(), static_cast<uint32_t>(key.size()), extra[k].data(),
                       static_cast<uint32_t>(extra[k].size()), Tid{1000 + k, 1}, kFrozen, 0);
    }
    std::vector<std::string> keys;
    std::vector<pm::core::ProbeKey> batch;
    for (uint32_t k = 0; k < 32; ++k) keys.push_back(key_of(k));  // 30, 31 absent
    for (uint32_t k = 0; k < 32; ++k)
        batch.push_back({hash_of(k), keys[k].data(), static_cast<uint32_t>(keys[k].size())});
    auto hide_odd = [](const VersionView &v) { return v.tid.block % 3 != 1; };
    std::vector<std::vector<uint32_t>> got(batch.size());
    auto r = f.index.register_reader();
    uint64_t n = f.index.probe_batch(r, batch.data(), static_cast<uint32_t>(batch.size()), hide_odd,
                                     [&](uint32_t i, const VersionView &v) {
                                         EXPECT_EQ(str(v.key, v.key_len), keys[i]);
                                         EXPECT_EQ(str(v.tuple, v.tuple_len),
                                                   tuple_of(v.tid.block));
                                         got[i].push_back(v.tid.block);
                                     });
    uint64_t total = 0;
    for (uint32_t k = 0; k < 32; ++k) {
        std::vector<uint32_t> want;
        f.index.probe(r, batch[k].hash, batch[k].key, batch[k].key_len, hide_odd,
                      [&](const VersionView &v) { want.push_back(v.tid.block); });
        EXPECT_EQ(got[k], want) << "key " << k;
        std::vector<uint32_t> brute;
        if (k < 30) {
            for (uint32_t j = 0; j < 5; ++j)
                if ((k * 5 + j) % 3 != 1) brute.push_back(k * 5 + j);
            if ((1000 + k) % 3 != 1) brute.push_back(1000 + k);
        }
        std::sort(want.begin(), want.end());
        EXPECT_EQ(want, brute) << "key " << k;
        total += want.size();
    }
    EXPECT_EQ(n, total);
}

TEST(ArrangementRuns, DeleteInsideARunAndSnapshots) {
    Fixture f(1 << 20);
    Batch b(3, 6);
    f.index.insert_bulk(b.v.data(), b.v.size());
    // Toy snapshots: xid 20 deletes row 8 (key 1, inside its run) and row 6; "old" snapshots
    // do not see 20 as committed, "new" ones do.
    auto old_snap = [](const VersionView &v) { return v.xmax == 0 || v.xmax == 20; };
    auto new_snap = [](const VersionView &v) { return v.xmax == 0 || v.xmax != 20; };
    EXPECT_TRUE(f.index.mark_deleted(Tid{8, 1}, hash_of(1), 20, 4));
    EXPECT_FALSE(f.index.mark_deleted(Tid{8, 1}, hash_of(1), 21, 0));  // already deleted
    EXPECT_FALSE(f.index.mark_deleted(Tid{8, 1}, hash_of(2), 21, 0));  // another key's chain
    EXPECT_FALSE(f.index.mark_deleted(Tid{99, 1}, hash_of(1), 21, 0)); // unknown TID
    EXPECT_TRUE(f.index.mark_deleted(Tid{6, 1}, hash_of(1), 20, 5));    // the run's oldest entry
    EXPECT_EQ(probe_rows(f.index, 1, old_snap), (std::vector<uint32_t>{11, 10, 9, 8, 7, 6}));
    EXPECT_EQ(probe_rows(f.index, 1, new_snap), (std::vector<uint32_t>{11, 10, 9, 7}));
    EXPECT_EQ(probe_rows(f.index, 0, new_snap).size(), 6u);
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> xm;
    f.index.scan_all(all_visible, [&](const VersionView &v) { xm[v.tid.block] = {v.xmax, v.cmax}; });
    EXPECT_EQ(xm.size(), 18u);
    EXPECT_EQ(xm[8], std::make_pair(20u, 4u));
    EXPECT_EQ(xm[6], std::make_pair(20u, 5u));
    EXPECT_EQ(xm[7], std::make_pair(0u, 0u));
    // A delete that aborted: the current-version rule lets a later deleter stamp it again.
    auto current = [](const VersionView &v) { return v.xmax == 0 || v.xmax == 20; };
    EXPECT_TRUE(f.index.mark_deleted(Tid{8, 1}, hash_of(1), 22, 1, current));
    auto s = f.index.stats();
    EXPECT_EQ(s.delete_marked, 2u);
    EXPECT_EQ(s.deletes, 3u);
    EXPECT_EQ(s.live, 16u);
}

TEST(ArrangementRuns, ReclaimCopiesSurvivorsThenFreesTheRun) {
    Fixture f(1 << 20);
    const uint64_t empty = f.alloc.bytes_in_use();
    Batch b(4, 5);
    f.index.insert_bulk(b.v.data(), b.v.size());
    const uint64_t bytes0 = f.index.stats().version_bytes;
    // Key 0: two entries dead; key 1: every entry dead; key 2: an entry deleted but not dead yet.
    for (uint32_t r : {1u, 3u, 5u, 6u, 7u, 8u, 9u}) {
        uint32_t k = r / 5;
        EXPECT_TRUE(f.index.mark_deleted(Tid{r, 1}, hash_of(k), 30, 0));
    }
    EXPECT_TRUE(f.index.mark_deleted(Tid{12, 1}, hash_of(2), 40, 0));
    auto dead = [](const VersionView &v) { return v.xmax == 30; };
    std::vector<uint32_t> kept_rows;
    auto r = f.index.reclaim(dead, [](const VersionView &) { return false; },
                             [&](const VersionView &v) { kept_rows.push_back(v.tid.block); });
    EXPECT_EQ(r.unlinked, 7u);  // versions, not blocks
    EXPECT_EQ(r.compacted, 0u);
    EXPECT_TRUE(kept_rows.empty());
    EXPECT_EQ(r.pending, 0u);
    EXPECT_EQ(r.freed, 10u);  // the two old runs, survivors included (they live on in the copy)
    EXPECT_EQ(probe_rows(f.index, 0), (std::vector<uint32_t>{4, 2, 0}));
    EXPECT_TRUE(probe_rows(f.index, 1).empty());
    EXPECT_EQ(probe_rows(f.index, 2).size(), 5u);
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, 13u);
    EXPECT_EQ(s.delete_marked, 1u);
    EXPECT_EQ(s.reclaimed, 10u);
    EXPECT_EQ(s.retired_pending, 0u);
    EXPECT_EQ(f.alloc.bytes_in_use() - empty, s.version_bytes);
    EXPECT_LT(s.version_bytes, bytes0);
    // The copy still takes deletes, of its survivors and of entries it carried xmax words for.
    EXPECT_TRUE(f.index.mark_deleted(Tid{2, 1}, hash_of(0), 30, 0));
    auto r2 = f.index.reclaim(dead);
    EXPECT_EQ(r2.unlinked, 1u);
    EXPECT_EQ(probe_rows(f.index, 0), (std::vector<uint32_t>{4, 0}));
    // Everything dead: the run goes as a whole; the index is back to its empty size.
    f.index.truncate_all(30, 0);  // stamps all but row 12 (deleted by 40)
    auto r3 = f.index.reclaim([](const VersionView &v) { return v.xmax != 0; });
    EXPECT_EQ(r3.unlinked, 12u);
    EXPECT_EQ(f.index.stats().versions, 0u);
    EXPECT_EQ(f.index.stats().version_bytes, 0u);
    EXPECT_EQ(f.alloc.bytes_in_use(), empty);
    f.index.destroy();
    EXPECT_EQ(f.alloc.bytes_in_use(), f.base_bytes);
}

TEST(ArrangementRuns, ReclaimWithoutRoomKeepsTheRunAndReportsIt) {
    Fixture f(256 << 10);
    Batch b(2, 6);
    f.index.insert_bulk(b.v.data(), b.v.size());
    EXPECT_TRUE(f.index.mark_deleted(Tid{1, 1}, hash_of(0), 30, 0));
    EXPECT_TRUE(f.index.mark_deleted(Tid{3, 1}, hash_of(0), 30, 0));
    // Fill the region: the survivors' copy cannot be allocated.
    std::vector<uint64_t> filler;
    for (uint64_t o; (o = f.alloc.allocate(16)) != 0;) filler.push_back(o);
    std::vector<uint32_t> kept_rows;
    auto dead = [](const VersionView &v) { return v.xmax == 30; };
    auto r = f.index.reclaim(dead, [](const VersionView &) { return false; },
                             [&](const VersionView &v) { kept_rows.push_back(v.tid.block); });
    EXPECT_EQ(r.unlinked, 0u);
    std::sort(kept_rows.begin(), kept_rows.end());
    EXPECT_EQ(kept_rows, (std::vector<uint32_t>{1, 3}));
    EXPECT_EQ(probe_rows(f.index, 0).size(), 6u);  // still linked, dead entries included
    EXPECT_EQ(f.index.stats().delete_marked, 2u);
    // With room again, the next pass copies the survivors.
    for (uint64_t o : filler) f.alloc.free(o, 16);
    kept_rows.clear();
    auto r2 = f.index.reclaim(dead, [](const VersionView &) { return false; },
                              [&](const VersionView &v) { kept_rows.push_back(v.tid.block); });
    EXPECT_EQ(r2.unlinked, 2u);
    EXPECT_TRUE(kept_rows.empty());
    EXPECT_EQ(probe_rows(f.index, 0), (std::vector<uint32_t>{5, 4, 2, 0}));
    EXPECT_EQ(f.index.stats().delete_marked, 0u);
}

TEST(ArrangementRuns, ReadersStandOnARunWhileReclaimReplacesIt) {
    Fixture f(1 << 20);
    Batch b(1, 8);
    f.index.insert_bulk(b.v.data(), b.v.size());
    for (uint32_t r : {0u, 2u, 4u}) EXPECT_TRUE(f.index.mark_deleted(Tid{r, 1}, hash_of(0), 30, 0));
    auto reader = f.index.register_reader();
    std::vector<uint32_t> seen;
    std::string key = key_of(0);
    f.index.probe(reader, hash_of(0), key.data(), static_cast<uint32_t>(key.size()), all_visible,
                  [&](const VersionView &v) {
                      if (seen.empty()) {
                          auto r = f.index.reclaim([](const VersionView &w) { return w.xmax == 30; });
                          EXPECT_EQ(r.unlinked, 3u);
                          EXPECT_EQ(r.freed, 0u);  // the old run waits for this reader
                          EXPECT_EQ(r.pending, 8u);
                      }
                      // Still readable (ASan poisons freed blocks, the allocator scribbles them).
                      EXPECT_EQ(str(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                      seen.push_back(v.tid.block);
                  });
    EXPECT_EQ(seen, (std::vector<uint32_t>{7, 6, 5, 4, 3, 2, 1, 0}));  // the old run, whole
    EXPECT_EQ(f.index.stats().retired_pending, 8u);
    EXPECT_EQ(f.index.free_retired().freed, 8u);
    EXPECT_EQ(f.index.stats().retired_pending, 0u);
    EXPECT_EQ(probe_rows(f.index, 0), (std::vector<uint32_t>{7, 6, 5, 3, 1}));
}

TEST(ArrangementRuns, TruncateScanAndSplitting) {
    Fixture f(4 << 20, frozen_opts(1));  // one chain: every key in one bucket
    // 150 versions of one key: split into runs of at most 64; plus keys interleaved in the batch
    // (one bucket: grouped by key within the stretch), and one flags change.
    std::vector<std::string> keys = {key_of(0), key_of(1), key_of(2)};
    std::vector<std::string> tuples;
    for (uint32_t r = 0; r < 300; ++r) tuples.push_back(tuple_of(r));
    std::vector<BulkVersion> v;
    for (uint32_t r = 0; r < 300; ++r) {
        uint32_t k = r < 150 ? 0 : 1 + r % 2;
        v.push_back(BulkVersion{hash_of(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                                tuples[r].data(), static_cast<uint32_t>(tuples[r].size()),
                                Tid{r, 1}, kFrozen, 0, r == 7 ? 9u : 0u, 0,
                                static_cast<uint16_t>(r == 160 ? 1 : 0)});
    }
    f.index.insert_bulk(v.data(), v.size());
    auto k0 = probe_rows(f.index, 0);
    ASSERT_EQ(k0.size(), 150u);
    for (uint32_t i = 0; i < 150; ++i) EXPECT_EQ(k0[i], 149 - i);
    EXPECT_EQ(probe_rows(f.index, 1).size(), 75u);
    EXPECT_EQ(probe_rows(f.index, 2).size(), 75u);
    std::map<uint32_t, uint16_t> flags;
    EXPECT_EQ(f.index.scan_all(all_visible,
                               [&](const VersionView &w) { flags[w.tid.block] = w.flags; }),
              300u);
    EXPECT_EQ(flags.size(), 300u);
    EXPECT_EQ(flags[160], 1u);
    EXPECT_EQ(flags[162], 0u);
    EXPECT_EQ(f.index.stats().delete_marked, 1u);
    // TRUNCATE stamps every current version, inside runs too.
    EXPECT_EQ(f.index.truncate_all(50, 2), 299u);
    uint32_t stamped = 0;
    f.index.scan_all(all_visible, [&](const VersionView &w) {
        stamped += w.xmax == 50 ? 1 : 0;
        if (w.tid.block == 7) {
            EXPECT_EQ(w.xmax, 9u);
        }
    });
    EXPECT_EQ(stamped, 299u);
    EXPECT_EQ(f.index.stats().delete_marked, 300u);
    f.index.destroy();
    EXPECT_EQ(f.alloc.bytes_in_use(), f.base_bytes);
}

TEST(ArrangementRuns, ConcurrentReadersDuringDeletesAndReclaim) {
    // Readers probe every key without pause while a writer deletes entries inside runs and
    // reclaims (copies of survivors, whole runs unlinked), then bulk-inserts new runs. Each reader
    // checks every byte it is given and that a key never shows a version twice or loses one that
    // is not deleted (the writer deletes only even rows; odd rows must always be there).
    Fixture f(16 << 20, frozen_opts(16));
    constexpr uint32_t kKeys = 24, kPer = 6;
#if defined(__SANITIZE_THREAD__)
    constexpr uint32_t kRounds = 30;
#else
    constexpr uint32_t kRounds = 200;
#endif
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> failures{0}, probes{0};
    std::atomic<uint32_t> generation{0};  // rows of generation g are g * 1000 + k * kPer + j
    auto tuple_for = [](uint32_t row) { return tuple_of(row); };
    std::vector<std::string> keys, tuples;
    for (uint32_t k = 0; k < kKeys; ++k) keys.push_back(key_of(k));
    std::vector<std::vector<std::string>> gen_tuples(2);
    auto insert_generation = [&](uint32_t g) {
        auto &tp = gen_tuples[g % 2];
        tp.clear();
        for (uint32_t i = 0; i < kKeys * kPer; ++i) tp.push_back(tuple_for(g * 1000 + i));
        std::vector<BulkVersion> v;
        for (uint32_t i = 0; i < kKeys * kPer; ++i) {
            uint32_t k = i / kPer;
            v.push_back(BulkVersion{hash_of(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                                    tp[i].data(), static_cast<uint32_t>(tp[i].size()),
                                    Tid{g * 1000 + i, 1}, kFrozen, 0, 0, 0, 0});
        }
        f.index.insert_bulk(v.data(), v.size());
    };
    insert_generation(0);
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t)
        readers.emplace_back([&, t] {
            auto rd = f.index.register_reader();
            uint32_t k = static_cast<uint32_t>(t);
            while (!stop.load(std::memory_order_relaxed)) {
                k = (k + 1) % kKeys;
                std::string key = key_of(k);
                std::vector<uint32_t> rows;
                f.index.probe(rd, hash_of(k), key.data(), static_cast<uint32_t>(key.size()),
                              [](const VersionView &v) { return v.xmax == 0; },
                              [&](const VersionView &v) {
                                  if (str(v.tuple, v.tuple_len) != tuple_for(v.tid.block) ||
                                      str(v.key, v.key_len) != key)
                                      failures.fetch_add(1);
                                  rows.push_back(v.tid.block);
                              });
                std::sort(rows.begin(), rows.end());
                if (std::adjacent_find(rows.begin(), rows.end()) != rows.end())
                    failures.fetch_add(1);
                // The current generation's odd rows are never deleted before the next one is in.
                uint32_t odd = 0;
                for (uint32_t r : rows) odd += (r % 2 == 1 && (r % 1000) / kPer == k) ? 1 : 0;
                if (odd < kPer / 2)
                    failures.fetch_add(1);
                probes.fetch_add(1, std::memory_order_relaxed);
            }
        });
    for (uint32_t g = 1; g <= kRounds; ++g) {
        insert_generation(g % 4);  // rows of generation g % 4 (its old copies were reclaimed)
        const uint32_t old = (g - 1) % 4;
        // Delete the previous generation: even rows first, reclaim (survivor copies), then odd.
        for (uint32_t i = 0; i < kKeys * kPer; i += 2)
            f.index.mark_deleted(Tid{old * 1000 + i, 1}, hash_of(i / kPer), 100 + g, 0);
        f.index.reclaim([&](const VersionView &v) { return v.xmax == 100 + g; });
        for (uint32_t i = 1; i < kKeys * kPer; i += 2)
            f.index.mark_deleted(Tid{old * 1000 + i, 1}, hash_of(i / kPer), 100 + g, 0);
        f.index.reclaim([&](const VersionView &v) { return v.xmax == 100 + g; });
        generation.store(g);
    }
    // Wait until the readers have probed a while, then stop them.
    while (probes.load() < 200) std::this_thread::yield();
    stop.store(true);
    for (auto &t : readers) t.join();
    EXPECT_EQ(failures.load(), 0u);
    f.index.free_retired();
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, kKeys * kPer);
    EXPECT_EQ(s.retired_pending, 0u);
}
