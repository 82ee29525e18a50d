// arrangement_regroup_test.cpp — reclaim(dead, freeze) groups the versions of one key into runs
// even when they are not adjacent in their chain (keys inserted interleaved): the stretch of the
// chain they span is copied and relinked with one store (issue 15, item 3). Bytes, probe order,
// what stops a group (another node of the hash tag, the gap limit, a version of the key that is
// not compact), readers standing inside the stretch across one and several passes, and readers
// checking the exact set of visible versions (none twice, none missing) against their snapshot
// while a writer inserts keys interleaved and deletes, and a reclaimer freezes and regroups.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallel_material/core/arrangement_index.hpp"
#include "parallel_material/core/arrangement_region.hpp"
#include "shared_mapping.hpp"

using pm::core::ArrangementIndex;
using pm::core::FixedRegionAllocator;
using pm::core::ProbeKey;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

namespace {

constexpr uint32_t kFrozen = 2;  // the adapter's FrozenTransactionId
constexpr uint32_t kXmin = 7;    // a committed inserter: stored full until reclaim freezes it
constexpr uint32_t kOpen = 9;    // an inserter reclaim does not freeze here

struct Fixture {
    explicit Fixture(size_t region_bytes, uint64_t nbuckets, uint32_t slots = 8)
        : map(region_bytes),
          alloc(FixedRegionAllocator::format(map.base(), region_bytes,
                                             FixedRegionAllocator::kPoisonFreed |
                                                 FixedRegionAllocator::kScribbleFreed)),
          lock_off(alloc.allocate(SpinWriterLock::bytes(4))),
          lock((SpinWriterLock::format(map.base() + lock_off, 4), map.base() + lock_off), 4),
          index(ArrangementIndex::create(alloc, lock, opts(nbuckets, slots))) {}
    static ArrangementIndex::Options opts(uint64_t nbuckets, uint32_t slots) {
        ArrangementIndex::Options o;
        o.nbuckets = nbuckets;
        o.reader_slots = slots;
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

void put(ArrangementIndex &ix, uint32_t k, uint32_t row, uint32_t xmin = kXmin,
         uint64_t hash = 0) {
    const std::string key = key_of(k), t = tuple_of(row);
    ix.insert(hash != 0 ? hash : hash_of(k), key.data(), static_cast<uint32_t>(key.size()),
              t.data(), static_cast<uint32_t>(t.size()), Tid{row, 1}, xmin, 0, 0x8005);
}

struct Seen {
    uint32_t row;
    uint32_t xmin;
    uint32_t xmax;
    bool operator==(const Seen &o) const {
        return row == o.row && xmin == o.xmin && xmax == o.xmax;
    }
};

// The versions a probe of key k emits, in order (checking every byte it is given).
std::vector<Seen> probe_key(const ArrangementIndex &ix, uint32_t k, uint64_t hash = 0) {
    std::vector<Seen> out;
    const std::string key = key_of(k);
    ix.probe(hash != 0 ? hash : hash_of(k), key.data(), static_cast<uint32_t>(key.size()),
             [](const VersionView &) { return true; },
             [&](const VersionView &v) {
                 EXPECT_EQ(std::string(v.key, v.key_len), key);
                 EXPECT_EQ(std::string(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                 EXPECT_EQ(v.flags, 0x8005);
                 out.push_back(Seen{v.tid.block, v.xmin, v.xmax});
             });
    return out;
}

std::vector<uint32_t> rows_of(const std::vector<Seen> &s) {
    std::vector<uint32_t> r;
    for (const Seen &x : s) r.push_back(x.row);
    return r;
}

// Every version scan_all offers, as (row, xmin), sorted.
std::vector<std::pair<uint32_t, uint32_t>> scan(const ArrangementIndex &ix) {
    std::vector<std::pair<uint32_t, uint32_t>> out;
    ix.scan_all([](const VersionView &) { return true; },
                [&](const VersionView &v) { out.emplace_back(v.tid.block, v.xmin); });
    std::sort(out.begin(), out.end());
    return out;
}

auto none_dead = [](const VersionView &) { return false; };
auto all_frozen = [](const VersionView &v) { return v.xmin == kXmin; };

size_t rounded(size_t n) { return FixedRegionAllocator::rounded_size(n); }
size_t run_bytes(uint32_t k, const std::vector<uint32_t> &rows) {
    size_t t = 0;
    for (uint32_t r : rows) t += tuple_of(r).size();
    return rounded(16 + 16 * rows.size() + key_of(k).size() + t);
}

}  // namespace

TEST(ArrangementRegroup, InterleavedSingleInsertsBecomeOneRunPerKey) {
    Fixture f(1 << 20, 1);  // one bucket: every key in one chain
    auto &ix = f.index;
    // 5 keys, 4 rounds, one version of each key per round: no two versions of a key adjacent.
    std::map<uint32_t, std::vector<uint32_t>> rows;  // key -> rows, newest first
    uint32_t row = 0;
    for (uint32_t g = 0; g < 4; ++g)
        for (uint32_t k = 0; k < 5; ++k, ++row) {
            put(ix, k, row);
            rows[k].insert(rows[k].begin(), row);
        }
    std::vector<std::vector<Seen>> before;
    for (uint32_t k = 0; k < 5; ++k) before.push_back(probe_key(ix, k));
    const auto all_before = scan(ix);
    auto res = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(res.compacted, 20u);
    EXPECT_EQ(res.grouped, 20u);
    EXPECT_EQ(res.copied, 0u);  // every node of the stretch is a member
    EXPECT_EQ(res.pending, 0u);
    size_t want = 0;
    for (uint32_t k = 0; k < 5; ++k) want += run_bytes(k, rows[k]);
    EXPECT_EQ(ix.stats().version_bytes, want);  // one run per key
    EXPECT_EQ(ix.stats().versions, 20u);
    for (uint32_t k = 0; k < 5; ++k) {
        auto after = probe_key(ix, k);
        EXPECT_EQ(rows_of(after), rows[k]);  // same versions, newest first
        EXPECT_EQ(rows_of(after), rows_of(before[k]));
        for (const Seen &s : after) EXPECT_EQ(s.xmin, kFrozen);
    }
    auto all_after = scan(ix);
    ASSERT_EQ(all_after.size(), all_before.size());
    for (size_t i = 0; i < all_after.size(); ++i)
        EXPECT_EQ(all_after[i].first, all_before[i].first);
    // Nothing left to do; then a later round, interleaved again, joins each key's run.
    EXPECT_EQ(ix.reclaim(none_dead, all_frozen).grouped, 0u);
    for (uint32_t k = 0; k < 5; ++k, ++row) {
        put(ix, k, row);
        rows[k].insert(rows[k].begin(), row);
    }
    auto more = ix.reclaim(none_dead, all_frozen);
    EXPECT_EQ(more.grouped, 25u);
    want = 0;
    for (uint32_t k = 0; k < 5; ++k) want += run_bytes(k, rows[k]);
    EXPECT_EQ(ix.stats().version_bytes, want);
    for (uint32_t k = 0; k < 5; ++k) EXPECT_EQ(rows_of(probe_key(ix, k)), rows[k]);
    ix.destroy();
}

TEST(ArrangementRegroup, NodesBetweenMembersAreCopiedUnchanged) {
    // Chain (newest first): A3, B2, A2, B1, A1; B's versions are not frozen by this pass.
    Fixture g(1 << 20, 1);
    auto &iy = g.index;
    put(iy, 0, 1);          // A1 (oldest)
    put(iy, 1, 10, kOpen);  // B1: not frozen by this pass (xmin kOpen)
    put(iy, 0, 2);          // A2
    put(iy, 1, 11, kOpen);  // B2
    put(iy, 0, 3);          // A3 (newest)
    auto res = iy.reclaim(none_dead, all_frozen);
    EXPECT_EQ(res.compacted, 3u);
    EXPECT_EQ(res.grouped, 3u);
    EXPECT_EQ(res.copied, 2u);  // B2 and B1: between A3 and A1
    auto a = probe_key(iy, 0);
    EXPECT_EQ(rows_of(a), (std::vector<uint32_t>{3, 2, 1}));
    auto b = probe_key(iy, 1);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], (Seen{11, kOpen, 0}));  // still full, xmin kept
    EXPECT_EQ(b[1], (Seen{10, kOpen, 0}));
    // B's versions can be deleted by TID in their copies.
    EXPECT_TRUE(iy.mark_deleted(Tid{10, 1}, hash_of(1), 30, 0));
    EXPECT_EQ(probe_key(iy, 1)[1].xmax, 30u);
    // Once frozen, B's two versions are grouped too (adjacent now: nothing copied).
    auto res2 = iy.reclaim(none_dead, [](const VersionView &v) { return v.xmin == kOpen; });
    EXPECT_EQ(res2.grouped, 2u);
    EXPECT_EQ(res2.copied, 0u);
    b = probe_key(iy, 1);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], (Seen{11, kFrozen, 0}));
    EXPECT_EQ(b[1], (Seen{10, kFrozen, 30}));
    EXPECT_EQ(iy.stats().version_bytes,
              run_bytes(0, {3, 2, 1}) + run_bytes(1, {11, 10}));
    iy.destroy();
}

TEST(ArrangementRegroup, WhatStopsAGroup) {
    // Another node of the same hash tag between two versions of a key stops the group (no
    // version moves past one of its tag): a version of the key not frozen, or another key
    // whose hash has the same low 32 bits.
    {
        Fixture f(1 << 20, 1);
        auto &ix = f.index;
        put(ix, 0, 1);
        put(ix, 0, 2, kOpen);  // same key, not compact
        put(ix, 0, 3);
        put(ix, 5, 4);         // another key, between nothing: alone
        auto res = ix.reclaim(none_dead, all_frozen);
        EXPECT_EQ(res.grouped, 0u);
        auto a = probe_key(ix, 0);
        EXPECT_EQ(rows_of(a), (std::vector<uint32_t>{3, 2, 1}));  // order kept
        ix.destroy();
    }
    {
        Fixture f(1 << 20, 1);
        auto &ix = f.index;
        const uint64_t h = hash_of(0);
        put(ix, 0, 1);
        put(ix, 7, 2, kXmin, h);  // key 7 with key 0's hash: the same tag
        put(ix, 0, 3);
        put(ix, 7, 4, kXmin, h);
        auto res = ix.reclaim(none_dead, all_frozen);
        EXPECT_EQ(res.compacted, 4u);
        EXPECT_EQ(res.grouped, 0u);
        EXPECT_EQ(rows_of(probe_key(ix, 0)), (std::vector<uint32_t>{3, 1}));
        EXPECT_EQ(rows_of(probe_key(ix, 7, h)), (std::vector<uint32_t>{4, 2}));
        ix.destroy();
    }
    {
        // More than 2 KiB of other nodes between two versions of a key: not grouped (every node
        // between would be copied); the other keys are lone versions.
        Fixture f(1 << 20, 1);
        auto &ix = f.index;
        put(ix, 0, 1);
        for (uint32_t i = 0; i < 50; ++i) put(ix, 100 + i, 100 + i);  // 50 x 48 bytes
        put(ix, 0, 2);
        auto res = ix.reclaim(none_dead, all_frozen);
        EXPECT_EQ(res.grouped, 0u);
        EXPECT_EQ(res.copied, 0u);
        EXPECT_EQ(rows_of(probe_key(ix, 0)), (std::vector<uint32_t>{2, 1}));
        ix.destroy();
    }
}

TEST(ArrangementRegroup, ReaderStandingInsideTheStretchSeesEachVersionOnce) {
    // A probe and a scan stop on a version in the middle of an interleaved chain; reclaim groups
    // the chain under them (one pass, then more inserts and a second pass that moves versions
    // again); each reader walks on through the old nodes and sees every version exactly once.
    Fixture f(1 << 20, 1);
    auto &ix = f.index;
    uint32_t row = 0;
    for (uint32_t g = 0; g < 4; ++g)
        for (uint32_t k = 0; k < 3; ++k, ++row) put(ix, k, row);
    // rows of key k: k, k + 3, k + 6, k + 9
    const std::string key = key_of(1);
    std::vector<uint32_t> seen;
    uint64_t more_row = 100;
    {
        auto reader = ix.register_reader();
        ix.probe(reader, hash_of(1), key.data(), static_cast<uint32_t>(key.size()),
                 [](const VersionView &) { return true; },
                 [&](const VersionView &v) {
                     if (seen.size() == 1) {
                         auto r = ix.reclaim(none_dead, all_frozen);
                         EXPECT_EQ(r.grouped, 12u);
                         EXPECT_EQ(r.freed, 0u);  // this reader holds every replaced block
                         // More versions of every key, interleaved, then a pass that appends them
                         // to the runs (moving them past the other keys' versions).
                         for (uint32_t k = 0; k < 3; ++k) put(ix, k, static_cast<uint32_t>(more_row++));
                         auto r2 = ix.reclaim(none_dead, all_frozen);
                         EXPECT_EQ(r2.grouped, 15u);
                         EXPECT_EQ(r2.freed, 0u);
                     }
                     EXPECT_EQ(std::string(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                     seen.push_back(v.tid.block);
                 });
    }
    EXPECT_EQ(seen, (std::vector<uint32_t>{10, 7, 4, 1}));  // as of the probe's start, once each
    std::vector<std::pair<uint32_t, uint32_t>> scanned;
    {
        auto reader = ix.register_reader();
        ix.scan_all(reader, [](const VersionView &) { return true; },
                    [&](const VersionView &v) {
                        if (scanned.size() == 2) {
                            // A version of another key that this pass does not freeze, then
                            // a new version of every key, frozen by the pass and appended to
                            // the key's run (the other key's version is copied).
                            put(ix, 9, static_cast<uint32_t>(more_row++), kOpen);
                            for (uint32_t k = 0; k < 3; ++k) put(ix, k, static_cast<uint32_t>(more_row++));
                            auto r = ix.reclaim(none_dead, all_frozen);
                            EXPECT_EQ(r.grouped, 18u);
                            EXPECT_EQ(r.copied, 1u);
                            // this reader holds what the pass replaced: 3 compacted originals,
                            // their compact copies, 3 runs of 5 and the copied version
                            EXPECT_EQ(r.pending, 3u + 3u + 15u + 1u);
                        }
                        scanned.emplace_back(v.tid.block, v.xmin);
                    });
    }
    std::sort(scanned.begin(), scanned.end());
    std::vector<uint32_t> got;
    for (auto &p : scanned) got.push_back(p.first);
    std::vector<uint32_t> want;
    for (uint32_t r = 0; r < 12; ++r) want.push_back(r);
    for (uint32_t r = 100; r < 103; ++r) want.push_back(r);
    EXPECT_EQ(got, want);  // the 15 versions present at the scan's start, once each
    ix.free_retired();
    EXPECT_EQ(ix.stats().retired_pending, 0u);
    EXPECT_EQ(ix.stats().versions, 19u);
    for (uint32_t k = 0; k < 3; ++k) EXPECT_EQ(probe_key(ix, k).size(), 6u);
    EXPECT_EQ(probe_key(ix, 9).size(), 1u);
    ix.destroy();
}

TEST(ArrangementRegroup, ReaderStandingNextToCopiedNodes) {
    // Versions inserted compact (frozen xmin) of keys 0 and 1, with versions of key 9 that the
    // pass does not freeze between them: chain 8(k1) 7(k9) 6(k0) 5(k1) 4(k9) 3(k0) 2(k1) 1(k9)
    // 0(k0). Readers stand on a version while reclaim makes one run of key 1 at 8's place and one
    // of key 0 at 6's, copying key 9's versions: the old nodes, next links and all, lead the
    // reader on to the end, and it sees each version once. (Relinking key 9's old nodes in
    // place instead of copying them makes these readers miss versions.)
    auto fill = [](ArrangementIndex &ix) {
        for (uint32_t r = 0; r < 9; ++r) {
            const uint32_t k = r % 3 == 0 ? 0 : r % 3 == 1 ? 9 : 1;
            put(ix, k, r, k == 9 ? kOpen : kFrozen);
        }
    };
    for (uint32_t stop_at = 0; stop_at < 9; ++stop_at) {  // scan_all, stopping at each position
        Fixture f(1 << 20, 1);
        auto &ix = f.index;
        fill(ix);
        std::vector<uint32_t> seen;
        {
            auto reader = ix.register_reader();
            ix.scan_all(reader, [](const VersionView &) { return true; },
                        [&](const VersionView &v) {
                            if (seen.size() == stop_at) {
                                auto r = ix.reclaim(none_dead, all_frozen);
                                EXPECT_EQ(r.grouped, 6u);
                                EXPECT_EQ(r.copied, 3u);
                                EXPECT_EQ(r.pending, 9u);
                                // a second pass, with a new version of key 0 before everything:
                                // moved into key 0's run past key 1's run
                                put(ix, 0, 20, kFrozen);
                                auto r2 = ix.reclaim(none_dead, all_frozen);
                                EXPECT_EQ(r2.grouped, 4u);
                                EXPECT_EQ(r2.copied, 4u);  // key 1's run (3), key 9's version 7
                            }
                            EXPECT_EQ(std::string(v.tuple, v.tuple_len), tuple_of(v.tid.block));
                            seen.push_back(v.tid.block);
                        });
        }
        EXPECT_EQ(seen, (std::vector<uint32_t>{8, 7, 6, 5, 4, 3, 2, 1, 0})) << stop_at;
        EXPECT_EQ(rows_of(probe_key(ix, 0)), (std::vector<uint32_t>{20, 6, 3, 0}));
        EXPECT_EQ(rows_of(probe_key(ix, 1)), (std::vector<uint32_t>{8, 5, 2}));
        EXPECT_EQ(rows_of(probe_key(ix, 9)), (std::vector<uint32_t>{7, 4, 1}));
        ix.free_retired();
        EXPECT_EQ(ix.stats().retired_pending, 0u);
        ix.destroy();
    }
    for (uint32_t k : {0u, 1u}) {  // probes, standing on the key's second version
        Fixture f(1 << 20, 1);
        auto &ix = f.index;
        fill(ix);
        std::vector<uint32_t> seen;
        const std::string key = key_of(k);
        {
            auto reader = ix.register_reader();
            ix.probe(reader, hash_of(k), key.data(), static_cast<uint32_t>(key.size()),
                     [](const VersionView &) { return true; },
                     [&](const VersionView &v) {
                         if (seen.size() == 1) {
                             EXPECT_EQ(ix.reclaim(none_dead, all_frozen).grouped, 6u);
                         }
                         seen.push_back(v.tid.block);
                     });
        }
        EXPECT_EQ(seen, k == 0 ? (std::vector<uint32_t>{6, 3, 0}) : (std::vector<uint32_t>{8, 5, 2}));
        ix.destroy();
    }
}

TEST(ArrangementRegroup, ConcurrentReadersSeeEveryVisibleVersionExactlyOnce) {
    // A writer inserts one version of every key per round (keys interleaved in few chains; two
    // keys share a hash tag), each round one transaction (xid), and deletes older rows; a
    // reclaimer freezes versions every snapshot sees, unlinks dead ones and regroups the chains
    // without pause. Readers take a snapshot (the last committed xid) and check, per key (probe),
    // per batch (probe_batch) and for everything (scan_all), that the versions they see are
    // exactly those the snapshot must see: none twice, none missing, every byte right. One
    // reader now and then stays inside a read section for a while, across reclaim passes.
    Fixture f(64 << 20, 2);
    constexpr uint32_t kKeys = 12;
#if defined(__SANITIZE_THREAD__)
    constexpr uint32_t kRounds = 40;
#else
    constexpr uint32_t kRounds = 300;
#endif
    constexpr uint32_t kXid0 = 10;  // round g is xid kXid0 + g
    const uint32_t total = kRounds * kKeys;
    // The schedule, fixed beforehand: row r belongs to key r % kKeys, inserted by round
    // r / kKeys; rows with r % 5 == 0 are deleted 3 rounds later (if there are).
    auto key_of_row = [](uint32_t r) { return r % kKeys; };
    auto xmin_of = [](uint32_t r) { return kXid0 + r / kKeys; };
    auto xmax_of = [&](uint32_t r) -> uint32_t {
        return r % 5 == 0 && r / kKeys + 3 < kRounds ? kXid0 + r / kKeys + 3 : 0;
    };
    auto hash_k = [](uint32_t k) { return k == 4 ? hash_of(3) : hash_of(k); };
    std::vector<std::string> keys, tuples;
    for (uint32_t k = 0; k < kKeys; ++k) keys.push_back(key_of(k));
    for (uint32_t r = 0; r < total; ++r) tuples.push_back(tuple_of(r));

    std::mutex snap_mu;
    uint32_t committed = kXid0 - 1;  // under snap_mu
    constexpr uint32_t kNoSnap = UINT32_MAX;
    constexpr int kReaders = 3;
    uint32_t snaps[kReaders] = {kNoSnap, kNoSnap, kNoSnap};  // under snap_mu
    auto take = [&](int t) {
        std::lock_guard<std::mutex> g(snap_mu);
        snaps[t] = committed;
        return committed;
    };
    auto drop = [&](int t) {
        std::lock_guard<std::mutex> g(snap_mu);
        snaps[t] = kNoSnap;
    };
    auto horizon = [&] {
        std::lock_guard<std::mutex> g(snap_mu);
        uint32_t h = committed;
        for (uint32_t s : snaps) h = std::min(h, s);
        return h;
    };
    // What a snapshot s sees: xmin frozen or <= s (every xid <= s committed, none aborted), and
    // xmax 0 or > s.
    auto sees = [](uint32_t s, const VersionView &v) {
        return (v.xmin == kFrozen || v.xmin <= s) && (v.xmax == 0 || v.xmax > s);
    };
    auto expected = [&](uint32_t s, uint32_t k) {  // rows of key k (kKeys: all) s must see
        std::vector<uint32_t> out;
        for (uint32_t r = 0; r < total; ++r)
            if ((k == kKeys || key_of_row(r) == k) && xmin_of(r) <= s &&
                (xmax_of(r) == 0 || xmax_of(r) > s))
                out.push_back(r);
        return out;
    };

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> failures{0}, checks{0}, passes{0}, grouped{0}, copied{0};
    auto check_row = [&](const VersionView &v, uint32_t k) {
        return v.tid.block < total && key_of_row(v.tid.block) == k &&
               std::string(v.tuple, v.tuple_len) == tuples[v.tid.block] &&
               std::string(v.key, v.key_len) == keys[k] && v.flags == 0x8005;
    };
    auto compare = [&](std::vector<uint32_t> &got, const std::vector<uint32_t> &want) {
        std::sort(got.begin(), got.end());
        if (got != want)
            failures.fetch_add(1);  // a version seen twice, or one missing
        checks.fetch_add(1, std::memory_order_relaxed);
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kReaders; ++t)
        threads.emplace_back([&, t] {
            auto rd = f.index.register_reader();
            uint32_t k = static_cast<uint32_t>(t), n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                ++n;
                const uint32_t s = take(t);
                const bool linger = t == 0 && n % 8 == 0;  // stay across reclaim passes
                if (n % 3 == 0) {
                    std::vector<std::vector<uint32_t>> got(kKeys);
                    std::vector<ProbeKey> batch;
                    for (uint32_t j = 0; j < kKeys; ++j)
                        batch.push_back(ProbeKey{hash_k(j), keys[j].data(),
                                                 static_cast<uint32_t>(keys[j].size())});
                    f.index.probe_batch(rd, batch.data(), kKeys,
                                        [&](const VersionView &v) { return sees(s, v); },
                                        [&](uint32_t i, const VersionView &v) {
                                            if (!check_row(v, i))
                                                failures.fetch_add(1);
                                            got[i].push_back(v.tid.block);
                                        });
                    for (uint32_t j = 0; j < kKeys; ++j) compare(got[j], expected(s, j));
                } else if (n % 3 == 1) {
                    std::vector<uint32_t> got;
                    bool first = true;
                    f.index.scan_all(rd, [&](const VersionView &v) { return sees(s, v); },
                                     [&](const VersionView &v) {
                                         if (linger && first)
                                             std::this_thread::sleep_for(
                                                 std::chrono::milliseconds(2));
                                         first = false;
                                         if (!check_row(v, key_of_row(v.tid.block)))
                                             failures.fetch_add(1);
                                         got.push_back(v.tid.block);
                                     });
                    compare(got, expected(s, kKeys));
                } else {
                    k = (k + 1) % kKeys;
                    std::vector<uint32_t> got;
                    bool first = true;
                    f.index.probe(rd, hash_k(k), keys[k].data(),
                                  static_cast<uint32_t>(keys[k].size()),
                                  [&](const VersionView &v) { return sees(s, v); },
                                  [&](const VersionView &v) {
                                      if (linger && first)
                                          std::this_thread::sleep_for(std::chrono::milliseconds(2));
                                      first = false;
                                      if (!check_row(v, k))
                                          failures.fetch_add(1);
                                      got.push_back(v.tid.block);
                                  });
                    compare(got, expected(s, k));
                }
                drop(t);
            }
        });
    std::atomic<bool> writer_done{false};
    threads.emplace_back([&] {  // the reclaimer
        while (!writer_done.load(std::memory_order_acquire)) {
            const uint32_t h = horizon();
            auto r = f.index.reclaim(
                [&](const VersionView &v) { return v.xmax != 0 && v.xmax <= h; },
                [&](const VersionView &v) { return v.xmin != kFrozen && v.xmin <= h; });
            grouped.fetch_add(r.grouped, std::memory_order_relaxed);
            copied.fetch_add(r.copied, std::memory_order_relaxed);
            passes.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::yield();
        }
    });
    for (uint32_t g = 0; g < kRounds; ++g) {
        const uint32_t xid = kXid0 + g;
        for (uint32_t k = 0; k < kKeys; ++k) {
            const uint32_t r = g * kKeys + k;
            f.index.insert(hash_k(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                           tuples[r].data(), static_cast<uint32_t>(tuples[r].size()), Tid{r, 1},
                           xid, 0, 0x8005);
        }
        if (g >= 3)
            for (uint32_t r = (g - 3) * kKeys; r < (g - 2) * kKeys; ++r) {
                if (xmax_of(r) == xid) {
                    EXPECT_TRUE(f.index.mark_deleted(Tid{r, 1}, hash_k(key_of_row(r)), xid, 0));
                }
            }
        {
            std::lock_guard<std::mutex> lg(snap_mu);
            committed = xid;
        }
        // Let the reclaimer pass and the readers check at least once per round.
        const uint64_t p0 = passes.load(), c0 = checks.load();
        while (passes.load() < p0 + 1 || checks.load() < c0 + 2) std::this_thread::yield();
    }
    writer_done.store(true, std::memory_order_release);
    threads.back().join();
    threads.pop_back();
    while (checks.load() < 60) std::this_thread::yield();
    stop.store(true);
    for (auto &t : threads) t.join();
    EXPECT_EQ(failures.load(), 0u);
    EXPECT_GT(grouped.load(), 0u);
    EXPECT_GT(copied.load(), 0u);
    std::printf("regroup: %llu checks, %llu passes, %llu grouped, %llu copied\n",
                (unsigned long long)checks.load(), (unsigned long long)passes.load(),
                (unsigned long long)grouped.load(), (unsigned long long)copied.load());
    // A last pass with no reader: everything frozen, dead ones gone, chains regrouped.
    const uint32_t last = kXid0 + kRounds - 1;
    f.index.reclaim([&](const VersionView &v) { return v.xmax != 0 && v.xmax <= last; },
                    [&](const VersionView &v) { return v.xmin != kFrozen && v.xmin <= last; });
    f.index.free_retired();
    const auto all = expected(last, kKeys);
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, all.size());
    EXPECT_EQ(s.retired_pending, 0u);
    EXPECT_EQ(s.delete_marked, 0u);
    for (uint32_t k = 0; k < kKeys; ++k) {
        std::vector<uint32_t> got;
        f.index.probe(hash_k(k), keys[k].data(), static_cast<uint32_t>(keys[k].size()),
                      [&](const VersionView &v) { return sees(last, v); },
                      [&](const VersionView &v) { got.push_back(v.tid.block); });
        // newest first: descending rows
        EXPECT_TRUE(std::is_sorted(got.rbegin(), got.rend())) << k;
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, expected(last, k)) << k;
    }
    // Grouped: keys 3 and 4 (one hash tag, interleaved) stay single compact versions (48 bytes
    // or more each); the other keys' versions share runs, well under that.
    EXPECT_LT(s.version_bytes, uint64_t{s.versions} * 40u);
    f.index.destroy();
}
