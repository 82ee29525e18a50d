// arrangement_delta_runs_test.cpp — reclaim(dead, freeze) groups versions added one at a time
// (insert: deltas) into runs once they are frozen: bytes per version, probes before and after,
// appending to a run with room, deletes by TID inside such a run, and readers probing without
// pause while a writer inserts single versions, deletes and reclaims (issue 15, item 3).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "parallel_material/core/arrangement_index.hpp"
#include "parallel_material/core/arrangement_region.hpp"
#include "shared_mapping.hpp"

using pm::core::ArrangementIndex;
using pm::core::FixedRegionAllocator;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

namespace {

constexpr uint32_t kFrozen = 2;  // the adapter's FrozenTransactionId
constexpr uint32_t kXmin = 7;    // a committed inserter: stored full until reclaim freezes it

struct Fixture {
    explicit Fixture(size_t region_bytes, uint64_t nbuckets)
        : map(region_bytes),
          alloc(FixedRegionAllocator::format(map.base(), region_bytes,
                                             FixedRegionAllocator::kPoisonFreed |
                                                 FixedRegionAllocator::kScribbleFreed)),
          lock_off(alloc.allocate(SpinWriterLock::bytes(4))),
          lock((SpinWriterLock::format(map.base() + lock_off, 4), map.base() + lock_off), 4),
          index(ArrangementIndex::create(alloc, lock, opts(nbuckets))) {}
    static ArrangementIndex::Options opts(uint64_t nbuckets) {
        ArrangementIndex::Options o;
        o.nbuckets = nbuckets;
        o.reader_slots = 8;
        o.frozen_xmin = kFrozen;
        return o;
    }
    pm_test::Mapping map;
    FixedRegionAllocator alloc;
    uint64_t lock_off;
    SpinWriterLock lock;
    ArrangementIndex index;
};

std::string key_of(uint32_t k) { return "key-" + std::to_string(k); }
std::string tuple_of(uint32_t r) { return "row" + std::to_string(r) + std::string(r % 7, 'x'); }
uint64_t hash_of(uint32_t k) { return 0x1000u + k * 2654435761u; }

void put(ArrangementIndex &ix, uint32_t k, uint32_t row) {
    const std::string key = key_of(k), t = tuple_of(row);
    ix.insert(hash_of(k), key.data(), static_cast<uint32_t>(key.size()), t.data(),
              static_cast<uint32_t>(t.size()), Tid{row, 1}, kXmin, 0, 0x8005);
}

struct Seen {
    uint32_t row;
    uint32_t xmin;
    uint32_t xmax;
    bool operator==(const Seen &o) const { return row == o.row && xmax == o.xmax; }
};

// The versions a probe of key k emits, in order (checking every byte it is given).
std::vector<Seen> probe_key(const ArrangementIndex &ix, uint32_t k) {
    std::vector<Seen> out;
    const std::string key = key_of(k);
    ix.probe(hash_of(k), key.data(), static_cast<uint32_t>(key.size()),
             [](const VersionView &) { return true; },
             [&](const VersionView &v) {
                 EXPECT_EQ(std::string(v.key, v.key_len), key);
                 EXPECT_EQ(std::string(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                 EXPECT_EQ(v.flags, 0x8005);
                 out.push_back(Seen{v.tid.block, v.xmin, v.xmax});
             });
    return out;
}

auto none_dead = [](const VersionView &) { return false; };
auto all_frozen = [](const VersionView &v) { return v.xmin == kXmin; };

size_t rounded(size_t n) { return FixedRegionAllocator::rounded_size(n); }
std::vector<uint32_t> rows_of(const std::vector<Seen> &s) {
    std::vector<uint32_t> r;
    for (const Seen &x : s) r.push_back(x.row);
    return r;
}

}  // namespace

TEST(ArrangementDeltaRuns, SingleInsertsOfOneKeyBecomeOneRun) {
    Fixture f(1 << 20, 4);
    auto &ix = f.index;
    for (uint32_t r = 0; r < 10; ++r) put(ix, 0, r);
    const auto before = probe_key(ix, 0);
    ASSERT_EQ(before.size(), 10u);
    EXPECT_EQ(before.front().row, 9u);  // newest first
    const uint64_t full_bytes = ix.stats().version_bytes;
    uint64_t tuples = 0;
    for (uint32_t r = 0; r < 10; ++r) tuples += tuple_of(r).size();
    const size_t key_len = key_of(0).size();
    auto res = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(res.compacted, 10u);
    EXPECT_EQ(res.grouped, 10u);
    EXPECT_EQ(res.pending, 0u);  // no reader: originals and compact copies are freed at once
    // One run: 16 + 16 per version + the key once + the tuples.
    EXPECT_EQ(ix.stats().version_bytes, rounded(16 + 16 * 10 + key_len + tuples));
    EXPECT_LT(ix.stats().version_bytes, full_bytes / 2);
    EXPECT_EQ(ix.stats().versions, 10u);
    const auto after = probe_key(ix, 0);
    EXPECT_EQ(after, before);  // same versions, same order
    for (const Seen &s : after) EXPECT_EQ(s.xmin, kFrozen);
    // A second pass finds nothing to do (the run is whole).
    auto again = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(again.grouped, 0u);
    EXPECT_EQ(again.unlinked, 0u);
    // Later single inserts are appended to the key's run while it has room: one run of 15.
    for (uint32_t r = 10; r < 15; ++r) put(ix, 0, r);
    for (uint32_t r = 10; r < 15; ++r) tuples += tuple_of(r).size();
    auto more = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(more.grouped, 15u);
    EXPECT_EQ(ix.stats().version_bytes, rounded(16 + 16 * 15 + key_len + tuples));
    const auto appended = probe_key(ix, 0);
    ASSERT_EQ(appended.size(), 15u);
    for (uint32_t i = 0; i < 15; ++i) EXPECT_EQ(appended[i].row, 14 - i);
    ix.destroy();
}

TEST(ArrangementDeltaRuns, FullRunsStayAndInterleavedVersionsGroup) {
    Fixture f(1 << 20, 1);  // one bucket: every key in one chain
    auto &ix = f.index;
    // 70 versions of key 0: one run of 64 (the limit) and one of 6.
    for (uint32_t r = 0; r < 70; ++r) put(ix, 0, r);
    ix.reclaim(none_dead, all_frozen);
    uint64_t tb_new = 0, tb_old = 0;
    for (uint32_t r = 0; r < 6; ++r) tb_old += tuple_of(r).size();
    for (uint32_t r = 6; r < 70; ++r) tb_new += tuple_of(r).size();
    const size_t kl = key_of(0).size();
    EXPECT_EQ(ix.stats().version_bytes,
              rounded(16 + 16 * 64 + kl + tb_new) + rounded(16 + 16 * 6 + kl + tb_old));
    // Keys interleaved one version at a time: nothing adjacent of one key, yet each key's
    // versions are grouped (arrangement_regroup_test.cpp has the details); the full run stays.
    for (uint32_t r = 100; r < 110; ++r) put(ix, 1 + r % 2, r);
    auto res = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(res.compacted, 10u);
    EXPECT_EQ(res.grouped, 10u);
    EXPECT_EQ(res.copied, 0u);
    // Every key still answers with all its versions, newest first.
    auto k0 = probe_key(ix, 0);
    ASSERT_EQ(k0.size(), 70u);
    for (uint32_t i = 0; i < 70; ++i) EXPECT_EQ(k0[i].row, 69 - i);
    auto k1 = probe_key(ix, 1);
    auto k2 = probe_key(ix, 2);
    EXPECT_EQ(rows_of(k1), (std::vector<uint32_t>{108, 106, 104, 102, 100}));
    EXPECT_EQ(rows_of(k2), (std::vector<uint32_t>{109, 107, 105, 103, 101}));
    std::vector<uint32_t> r1{108, 106, 104, 102, 100}, r2{109, 107, 105, 103, 101};
    uint64_t t1 = 0, t2 = 0;
    for (uint32_t r : r1) t1 += tuple_of(r).size();
    for (uint32_t r : r2) t2 += tuple_of(r).size();
    EXPECT_EQ(ix.stats().version_bytes,
              rounded(16 + 16 * 64 + kl + tb_new) + rounded(16 + 16 * 6 + kl + tb_old) +
                  rounded(16 + 16 * 5 + key_of(1).size() + t1) +
                  rounded(16 + 16 * 5 + key_of(2).size() + t2));
    ix.destroy();
}

TEST(ArrangementDeltaRuns, DeletesByTidInsideAGroupedRun) {
    Fixture f(1 << 20, 4);
    auto &ix = f.index;
    for (uint32_t r = 0; r < 8; ++r) put(ix, 3, r);
    ASSERT_EQ(ix.reclaim(none_dead, all_frozen).grouped, 8u);
    // Delete rows 2 and 5 by TID: found inside the run, their xmax words set in place.
    EXPECT_TRUE(ix.mark_deleted(Tid{2, 1}, hash_of(3), 40, 1));
    EXPECT_TRUE(ix.mark_deleted(Tid{5, 1}, hash_of(3), 41, 0));
    EXPECT_FALSE(ix.mark_deleted(Tid{2, 1}, hash_of(3), 42, 0));  // already deleted
    EXPECT_FALSE(ix.mark_deleted(Tid{99, 1}, hash_of(3), 42, 0));
    EXPECT_EQ(ix.stats().delete_marked, 2u);
    auto seen = probe_key(ix, 3);
    ASSERT_EQ(seen.size(), 8u);
    for (const Seen &s : seen)
        EXPECT_EQ(s.xmax, s.row == 2 ? 40u : s.row == 5 ? 41u : 0u) << s.row;
    // Reclaim of the deleted ones copies the survivors (a run of 6), then a later single insert
    // of the key joins that run.
    auto res = ix.reclaim([](const VersionView &v) { return v.xmax != 0; }, all_frozen);
    EXPECT_EQ(res.unlinked, 2u);
    EXPECT_EQ(ix.stats().versions, 6u);
    EXPECT_EQ(ix.stats().delete_marked, 0u);
    put(ix, 3, 8);
    EXPECT_EQ(ix.reclaim(none_dead, all_frozen).grouped, 7u);
    EXPECT_TRUE(ix.mark_deleted(Tid{7, 1}, hash_of(3), 43, 0));
    std::vector<uint32_t> rows;
    for (const Seen &s : probe_key(ix, 3))
        if (s.xmax == 0)
            rows.push_back(s.row);
    EXPECT_EQ(rows, (std::vector<uint32_t>{8, 6, 4, 3, 1, 0}));
    ix.destroy();
}

TEST(ArrangementDeltaRuns, ReaderStandingOnAVersionWhileReclaimGroupsIt) {
    Fixture f(1 << 20, 4);
    auto &ix = f.index;
    for (uint32_t r = 0; r < 6; ++r) put(ix, 0, r);
    std::vector<uint32_t> seen;
    const std::string key = key_of(0);
    {
    auto reader = ix.register_reader();
    ix.probe(reader, hash_of(0), key.data(), static_cast<uint32_t>(key.size()),
             [](const VersionView &) { return true; },
             [&](const VersionView &v) {
                 if (seen.size() == 2) {
                     auto r = ix.reclaim(none_dead, all_frozen);
                     EXPECT_EQ(r.grouped, 6u);
                     EXPECT_EQ(r.freed, 0u);  // every replaced block waits for this reader
                 }
                 // Still readable (ASan poisons freed blocks, the allocator scribbles them).
                 EXPECT_EQ(std::string(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                 seen.push_back(v.tid.block);
             });
    }
    EXPECT_EQ(seen, (std::vector<uint32_t>{5, 4, 3, 2, 1, 0}));  // each version once
    EXPECT_EQ(ix.free_retired().freed, 12u);  // 6 originals, 6 compact copies
    auto after = probe_key(ix, 0);
    ASSERT_EQ(after.size(), 6u);
    EXPECT_EQ(after.front().row, 5u);
    ix.destroy();
}

TEST(ArrangementDeltaRuns, ConcurrentReadersWhileSingleInsertsAreGrouped) {
    // A writer inserts versions one at a time (keys in turn, several per key in a row), deletes
    // every third row, and reclaims (freezing and grouping) now and then; readers probe every key
    // without pause and check each byte, that no version shows twice, and that every row
    // inserted before the probe began and not yet reclaimed is there.
    Fixture f(32 << 20, 8);
    constexpr uint32_t kKeys = 12;
#if defined(__SANITIZE_THREAD__)
    constexpr uint32_t kRounds = 40;
#else
    constexpr uint32_t kRounds = 300;
#endif
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> failures{0}, probes{0};
    std::atomic<uint32_t> published{0};  // rows [0, published) are in
    std::vector<std::string> keys, tuples;
    for (uint32_t k = 0; k < kKeys; ++k) keys.push_back(key_of(k));
    const uint32_t total = kRounds * kKeys * 3;
    for (uint32_t r = 0; r < total; ++r) tuples.push_back(tuple_of(r));
    auto key_of_row = [](uint32_t r) { return (r / 3) % kKeys; };
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t)
        readers.emplace_back([&, t] {
            auto rd = f.index.register_reader();
            uint32_t k = static_cast<uint32_t>(t);
            while (!stop.load(std::memory_order_relaxed)) {
                k = (k + 1) % kKeys;
                const uint32_t w = published.load(std::memory_order_acquire);
                std::vector<uint32_t> rows;
                f.index.probe(rd, hash_of(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                              [](const VersionView &) { return true; },
                              [&](const VersionView &v) {
                                  if (v.tid.block >= total ||
                                      std::string(v.tuple, v.tuple_len) != tuples[v.tid.block] ||
                                      std::string(v.key, v.key_len) != keys[k] ||
                                      key_of_row(v.tid.block) != k)
                                      failures.fetch_add(1);
                                  rows.push_back(v.tid.block);
                              });
                std::sort(rows.begin(), rows.end());
                if (std::adjacent_find(rows.begin(), rows.end()) != rows.end())
                    failures.fetch_add(1);
                // Rows never deleted (r % 3 != 0) of key k below w must all be there.
                size_t want = 0, have = 0;
                for (uint32_t r = 0; r < w; ++r)
                    if (key_of_row(r) == k && r % 3 != 0)
                        ++want;
                for (uint32_t r : rows)
                    if (r < w && r % 3 != 0)
                        ++have;
                if (have != want)
                    failures.fetch_add(1);
                probes.fetch_add(1, std::memory_order_relaxed);
            }
        });
    uint32_t row = 0;
    for (uint32_t g = 0; g < kRounds; ++g) {
        for (uint32_t k = 0; k < kKeys; ++k)
            for (uint32_t j = 0; j < 3; ++j, ++row) {
                f.index.insert(hash_of(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                               tuples[row].data(), static_cast<uint32_t>(tuples[row].size()),
                               Tid{row, 1}, kXmin, 0);
                published.store(row + 1, std::memory_order_release);
                if (row % 3 == 0)
                    f.index.mark_deleted(Tid{row, 1}, hash_of(k), 50, 0);
            }
        if (g % 3 == 2)
            f.index.reclaim([](const VersionView &v) { return v.xmax != 0; }, all_frozen);
    }
    while (probes.load() < 200) std::this_thread::yield();
    stop.store(true);
    for (auto &t : readers) t.join();
    EXPECT_EQ(failures.load(), 0u);
    auto res = f.index.reclaim([](const VersionView &v) { return v.xmax != 0; }, all_frozen);
    (void)res;
    f.index.free_retired();
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, total - total / 3);
    EXPECT_EQ(s.retired_pending, 0u);
    // Grouped (runs of the 2 surviving versions of each round of a key, or more where a key's
    // rounds end up adjacent): fewer bytes than single compact versions, each at least 48 bytes
    // (32 + key + tuple, rounded to 16).
    EXPECT_LT(s.version_bytes, uint64_t{s.versions} * 48u);
    f.index.destroy();
}
