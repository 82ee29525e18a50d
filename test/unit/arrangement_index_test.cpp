// arrangement_index_test.cpp — ArrangementIndex: basics, a toy MVCC model, reclaim, OOM, truncate.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "parallel_material/core/arrangement_index.hpp"
#include "shared_mapping.hpp"
#include "parallel_material/core/arrangement_region.hpp"

using pm::core::ArrangementIndex;
using pm::core::Error;
using pm::core::FixedRegionAllocator;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

namespace {

using pm_test::Mapping;

// A region with an allocator, writer-lock words and one index.
struct Fixture {
    explicit Fixture(size_t region_bytes, ArrangementIndex::Options opt = {}, uint32_t stripes = 4)
        : map(region_bytes),
          alloc(FixedRegionAllocator::format(map.base(), region_bytes,
                                             FixedRegionAllocator::kPoisonFreed)),
          lock_off(alloc.allocate(SpinWriterLock::bytes(stripes))),
          lock((SpinWriterLock::format(map.base() + lock_off, stripes), map.base() + lock_off),
               stripes),
          index(ArrangementIndex::create(alloc, lock, opt)) {}
    Mapping map;
    FixedRegionAllocator alloc;
    uint64_t lock_off;
    SpinWriterLock lock;
    ArrangementIndex index;
};

ArrangementIndex::Options opts(uint64_t nbuckets, uint64_t expected_rows = 1024,
                               uint32_t reader_slots = 64) {
    ArrangementIndex::Options o;
    o.nbuckets = nbuckets;
    o.expected_rows = expected_rows;
    o.reader_slots = reader_slots;
    return o;
}

auto all_visible = [](const VersionView &) { return true; };

std::string str(const char *p, uint32_t n) {
    return std::string(p, n);
}

// Probes `key` under `hash` and returns the tuples emitted, newest first.
std::vector<std::string> probe_all(const ArrangementIndex &ix, uint64_t hash,
                                   const std::string &key) {
    std::vector<std::string> out;
    ix.probe(hash, key.data(), static_cast<uint32_t>(key.size()), all_visible,
             [&](const VersionView &v) { out.push_back(str(v.tuple, v.tuple_len)); });
    return out;
}

void put(ArrangementIndex &ix, uint64_t hash, const std::string &key, const std::string &tuple,
         Tid tid, uint32_t xmin = 3, uint32_t cmin = 0) {
    ix.insert(hash, key.data(), static_cast<uint32_t>(key.size()), tuple.data(),
              static_cast<uint32_t>(tuple.size()), tid, xmin, cmin);
}

}  // namespace

// ---------------------------------------------------------------- region allocator

TEST(ArrangementRegion, SizeClassesReuseAndAccounting) {
    Mapping m(1 << 20);
    auto a = FixedRegionAllocator::format(m.base(), 1 << 20);
    // A block: the request rounded up to 16 bytes (no header).
    EXPECT_EQ(FixedRegionAllocator::rounded_size(1), 16u);
    EXPECT_EQ(FixedRegionAllocator::rounded_size(24), 32u);
    EXPECT_EQ(FixedRegionAllocator::rounded_size(256), 256u);
    EXPECT_EQ(FixedRegionAllocator::rounded_size(257), 272u);
    EXPECT_EQ(FixedRegionAllocator::rounded_size(1000), 1008u);
    uint64_t x = a.allocate(100);
    uint64_t y = a.allocate(100);
    ASSERT_NE(x, 0u);
    ASSERT_NE(y, 0u);
    EXPECT_NE(x, y);
    EXPECT_EQ(x % 16, 0u);
    EXPECT_EQ(a.bytes_in_use(), 224u);
    a.free(x, 100);
    EXPECT_EQ(a.allocate(97), x);  // same size: reused
    a.free(x, 97);
    a.free(y, 100);
    EXPECT_EQ(a.bytes_in_use(), 0u);
    auto b = FixedRegionAllocator::attach(m.base());
    EXPECT_EQ(b.capacity(), uint64_t{1} << 20);
    EXPECT_EQ(a.allocate(size_t{1} << 21), 0u);  // larger than the region: failure, not a throw
    EXPECT_THROW(FixedRegionAllocator::attach(m.base() + 4096), Error);
}

TEST(ArrangementRegion, ExhaustionReturnsZero) {
    Mapping m(64 << 10);
    auto a = FixedRegionAllocator::format(m.base(), 64 << 10);
    std::vector<uint64_t> got;
    for (;;) {
        uint64_t o = a.allocate(1000);
        if (o == 0)
            break;
        got.push_back(o);
    }
    EXPECT_GT(got.size(), 50u);
    for (uint64_t o : got) a.free(o, 1000);
    EXPECT_NE(a.allocate(1000), 0u);
}

// ---------------------------------------------------------------- index basics

TEST(ArrangementIndex, InsertProbeBasics) {
    Fixture f(4 << 20, opts(0, 100, 8));
    EXPECT_EQ(f.index.nbuckets(), 128u);
    for (uint32_t i = 0; i < 100; ++i)
        put(f.index, i * 7919u, "key" + std::to_string(i), "tuple" + std::to_string(i), Tid{i, 1});
    for (uint32_t i = 0; i < 100; ++i) {
        auto got = probe_all(f.index, i * 7919u, "key" + std::to_string(i));
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], "tuple" + std::to_string(i));
    }
    EXPECT_TRUE(probe_all(f.index, 5 * 7919u, "nope").empty());
    EXPECT_TRUE(probe_all(f.index, 12345, "key5").empty());  // right key, wrong hash
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, 100u);
    EXPECT_EQ(s.live, 100u);
    EXPECT_EQ(s.inserts, 100u);
    EXPECT_GE(s.version_bytes, 100u * 48);  // a 40-byte header (full form), key and tuple
    EXPECT_EQ(f.index.scan_all(all_visible, [](const VersionView &) {}), 100u);

    // Views carry everything that was inserted.
    f.index.insert(42, "k", 1, "", 0, Tid{0xfffffff0u, 0xfffe}, 77, 5, 0x8001);
    int seen = 0;
    f.index.probe(42, "k", 1, all_visible, [&](const VersionView &v) {
        ++seen;
        EXPECT_EQ(v.hash, 42u);
        EXPECT_EQ(v.tid, (Tid{0xfffffff0u, 0xfffe}));
        EXPECT_EQ(v.xmin, 77u);
        EXPECT_EQ(v.cmin, 5u);
        EXPECT_EQ(v.xmax, 0u);
        EXPECT_EQ(v.flags, 0x8001);
        EXPECT_EQ(v.tuple_len, 0u);
        EXPECT_EQ(str(v.key, v.key_len), "k");
    });
    EXPECT_EQ(seen, 1);
}

TEST(ArrangementIndex, RejectsBadOptions) {
    Mapping m(1 << 20);
    auto a = FixedRegionAllocator::format(m.base(), 1 << 20);
    uint64_t lo = a.allocate(SpinWriterLock::bytes(1));
    SpinWriterLock::format(m.base() + lo, 1);
    SpinWriterLock l(m.base() + lo, 1);
    EXPECT_THROW(ArrangementIndex::create(a, l, opts(100, 1024, 64)), Error);
    EXPECT_THROW(ArrangementIndex::create(a, l, opts(16, 1024, 0)), Error);
    EXPECT_THROW(ArrangementIndex::attach(a, l, lo), Error);
    auto ix = ArrangementIndex::create(a, l, opts(1, 1024, 64));
    auto again = ArrangementIndex::attach(a, l, ix.index_offset());
    put(ix, 1, "a", "x", Tid{1, 1});
    EXPECT_EQ(probe_all(again, 1, "a").size(), 1u);  // one bucket: everything in one chain
}

TEST(ArrangementIndex, DuplicatesPerKeyNewestFirst) {
    Fixture f(1 << 20, opts(16, 1024, 64));
    for (uint16_t i = 1; i <= 5; ++i) put(f.index, 99, "dup", "v" + std::to_string(i), Tid{7, i});
    put(f.index, 98, "other", "o", Tid{8, 1});
    EXPECT_EQ(probe_all(f.index, 99, "dup"),
              (std::vector<std::string>{"v5", "v4", "v3", "v2", "v1"}));
}

TEST(ArrangementIndex, HashCollisionsCompareKeyBytes) {
    Fixture f(1 << 20, opts(16, 1024, 64));
    // Equal hashes, different keys (including a prefix and an empty key).
    put(f.index, 5, "ab", "t-ab", Tid{1, 1});
    put(f.index, 5, "abc", "t-abc", Tid{1, 2});
    put(f.index, 5, "", "t-empty", Tid{1, 3});
    put(f.index, 5, "abd", "t-abd", Tid{1, 4});
    EXPECT_EQ(probe_all(f.index, 5, "ab"), (std::vector<std::string>{"t-ab"}));
    EXPECT_EQ(probe_all(f.index, 5, "abc"), (std::vector<std::string>{"t-abc"}));
    EXPECT_EQ(probe_all(f.index, 5, ""), (std::vector<std::string>{"t-empty"}));
    EXPECT_EQ(probe_all(f.index, 5, "abd"), (std::vector<std::string>{"t-abd"}));
    EXPECT_TRUE(probe_all(f.index, 5, "a").empty());
    // Same key, different hash (the adapter hashed differently): not a match.
    EXPECT_TRUE(probe_all(f.index, 6, "ab").empty());
}

TEST(ArrangementIndex, ProbeBatchMatchesProbe) {
    // Few buckets: long chains mixing keys, equal hashes for different keys, duplicates.
    Fixture f(4 << 20, opts(8, 1024, 8));
    for (uint32_t i = 0; i < 600; ++i) {
        uint32_t k = i % 37;
        put(f.index, k % 5 == 0 ? 1234 : k * 7919u, "key" + std::to_string(k),
            "t" + std::to_string(i), Tid{i, 1}, /*xmin=*/i % 3 == 0 ? 4 : 3);
    }
    auto odd_xmin_hidden = [](const VersionView &v) { return v.xmin != 4; };
    std::vector<std::string> keys;
    std::vector<pm::core::ProbeKey> batch;
    for (uint32_t k = 0; k < 45; ++k) keys.push_back("key" + std::to_string(k % 41));  // 37..40 absent
    for (uint32_t k = 0; k < keys.size(); ++k) {
        uint32_t kk = k % 41;
        batch.push_back({kk % 5 == 0 ? 1234 : kk * 7919u, keys[k].data(),
                         static_cast<uint32_t>(keys[k].size())});
    }
    std::vector<std::vector<std::string>> got(batch.size());
    ArrangementIndex::Reader r = f.index.register_reader();
    uint64_t n = f.index.probe_batch(r, batch.data(), static_cast<uint32_t>(batch.size()),
                                     odd_xmin_hidden, [&](uint32_t i, const VersionView &v) {
                                         got.at(i).push_back(str(v.tuple, v.tuple_len));
                                     });
    uint64_t total = 0;
    for (uint32_t i = 0; i < batch.size(); ++i) {
        std::vector<std::string> want;
        f.index.probe(r, batch[i].hash, batch[i].key, batch[i].key_len, odd_xmin_hidden,
                      [&](const VersionView &v) { want.push_back(str(v.tuple, v.tuple_len)); });
        EXPECT_EQ(got[i], want) << "probe " << i;  // same versions, same (newest first) order
        EXPECT_EQ(want.empty(), i % 41 >= 37) << "probe " << i;
        total += want.size();
    }
    EXPECT_EQ(n, total);
    uint64_t brute = 0;  // the rows inserted under each probed key, minus the hidden ones
    for (uint32_t k = 0; k < batch.size(); ++k)
        for (uint32_t i = 0; i < 600; ++i) brute += (i % 37 == k % 41 && i % 3 != 0) ? 1 : 0;
    EXPECT_EQ(total, brute);
    EXPECT_EQ(f.index.probe_batch(r, batch.data(), 0, all_visible,
                                  [](uint32_t, const VersionView &) { FAIL(); }),
              0u);
    std::vector<pm::core::ProbeKey> big(ArrangementIndex::kMaxProbeBatch + 1, batch[0]);
    EXPECT_THROW(f.index.probe_batch(r, big.data(), static_cast<uint32_t>(big.size()),
                                     all_visible, [](uint32_t, const VersionView &) {}),
                 Error);
}

TEST(ArrangementIndex, InsertBulkLaysOutInOrderFromFreeLists) {
    Fixture f(8 << 20, opts(1024, 1024, 8));
    // Fill, then free, 600 versions spread over many buckets: the free list hands their blocks
    // back in an order unrelated to their addresses.
    for (uint32_t i = 0; i < 600; ++i)
        put(f.index, (i * 2654435761u) ^ 0x5bd1e995u, "old" + std::to_string(i),
            std::string(40, 'o'), Tid{i, 1});
    f.index.truncate_all(9, 0);
    auto r = f.index.reclaim([](const VersionView &v) { return v.xmax == 9; });
    ASSERT_EQ(r.freed, 600u);
    uint64_t in_use = f.alloc.bytes_in_use();

    // 50 keys x 6 versions, key by key; every third one deleted at insert.
    std::vector<std::string> keys, tuples;
    std::vector<pm::core::BulkVersion> bulk;
    for (uint32_t k = 0; k < 50; ++k) keys.push_back("key" + std::to_string(k));
    for (uint32_t i = 0; i < 300; ++i) tuples.push_back("t" + std::to_string(i) + std::string(36, 'x'));
    for (uint32_t i = 0; i < 300; ++i) {
        const std::string &k = keys[i / 6];
        bulk.push_back(pm::core::BulkVersion{1000u + i / 6, k.data(), static_cast<uint32_t>(k.size()),
                                             tuples[i].data(), static_cast<uint32_t>(tuples[i].size()),
                                             Tid{i, 2}, 3, 1, i % 3 == 0 ? 7u : 0u, 2, 0});
    }
    f.index.insert_bulk(bulk.data(), bulk.size());
    // A full version: 40-byte header, tuple, key (every one here rounds to the same size).
    EXPECT_EQ(f.alloc.bytes_in_use(), in_use + 300 * FixedRegionAllocator::rounded_size(
                                                          40 + tuples[0].size() + keys[0].size()));
    auto s = f.index.stats();
    EXPECT_EQ(s.versions, 300u);
    EXPECT_EQ(s.delete_marked, 100u);
    for (uint32_t k = 0; k < 50; ++k) {
        std::vector<const char *> where;
        std::vector<std::string> got;
        f.index.probe(1000u + k, keys[k].data(), static_cast<uint32_t>(keys[k].size()), all_visible,
                      [&](const VersionView &v) {
                          where.push_back(v.tuple);
                          got.push_back(str(v.tuple, v.tuple_len));
                          EXPECT_EQ(v.xmax, v.tid.block % 3 == 0 ? 7u : 0u);
                          EXPECT_EQ(v.cmax, v.xmax != 0 ? 2u : 0u);
                      });
        ASSERT_EQ(got.size(), 6u);
        for (uint32_t j = 0; j < 6; ++j) EXPECT_EQ(got[j], tuples[k * 6 + 5 - j]);  // newest first
        // Inserted in ascending address order: the chain (newest first) descends.
        for (uint32_t j = 1; j < 6; ++j) EXPECT_LT(where[j], where[j - 1]) << "key " << k;
    }

    // All or nothing when the region cannot hold the batch.
    Fixture small(256 << 10, opts(16, 16, 8));
    std::string big(1000, 'b');
    std::vector<pm::core::BulkVersion> many(400, pm::core::BulkVersion{5, "k", 1, big.data(), 1000,
                                                                       Tid{1, 1}, 3, 0, 0, 0, 0});
    uint64_t before = small.alloc.bytes_in_use();
    EXPECT_THROW(small.index.insert_bulk(many.data(), many.size()), Error);
    EXPECT_EQ(small.alloc.bytes_in_use(), before);
    EXPECT_EQ(small.index.stats().versions, 0u);
    EXPECT_TRUE(probe_all(small.index, 5, "k").empty());
}

TEST(ArrangementIndex, DeleteByTid) {
    Fixture f(1 << 20, opts(16, 1024, 64));
    put(f.index, 1, "k", "a", Tid{1, 1});
    put(f.index, 1, "k", "b", Tid{1, 2});
    put(f.index, 2, "j", "c", Tid{1, 1});  // same TID under another hash: untouched
    EXPECT_TRUE(f.index.mark_deleted(Tid{1, 1}, 1, 50, 3));
    EXPECT_FALSE(f.index.mark_deleted(Tid{1, 1}, 1, 51, 0));  // already deleted
    EXPECT_FALSE(f.index.mark_deleted(Tid{9, 9}, 1, 50, 0));  // unknown TID
    std::map<std::string, std::pair<uint32_t, uint32_t>> seen;
    f.index.scan_all(all_visible, [&](const VersionView &v) {
        seen[str(v.tuple, v.tuple_len)] = {v.xmax, v.cmax};
    });
    EXPECT_EQ(seen["a"], std::make_pair(50u, 3u));
    EXPECT_EQ(seen["b"], std::make_pair(0u, 0u));
    EXPECT_EQ(seen["c"], std::make_pair(0u, 0u));
    auto s = f.index.stats();
    EXPECT_EQ(s.delete_marked, 1u);
    EXPECT_EQ(s.live, 2u);
    EXPECT_EQ(s.deletes, 1u);
}

// ---------------------------------------------------------------- a toy MVCC model

namespace {

enum XState : uint8_t { kInProgress = 0, kCommitted = 1, kAborted = 2 };

// A miniature of PostgreSQL's commit log, snapshots and HeapTupleSatisfiesMVCC (without
// subtransactions): what the adapter's visibility callback does with the real ones.
struct ToyMvcc {
    std::map<uint32_t, XState> clog;
    uint32_t next_xid = 3;
    std::set<uint32_t> running;

    struct Snapshot {
        uint32_t xmin, xmax;
        std::set<uint32_t> xip;
        uint32_t my_xid = 0;
        uint32_t curcid = 0;
    };

    uint32_t begin() {
        uint32_t x = next_xid++;
        clog[x] = kInProgress;
        running.insert(x);
        return x;
    }
    void commit(uint32_t x) {
        clog[x] = kCommitted;
        running.erase(x);
    }
    void abort(uint32_t x) {
        clog[x] = kAborted;
        running.erase(x);
    }
    XState state(uint32_t x) const {
        auto it = clog.find(x);
        return it == clog.end() ? kInProgress : it->second;
    }
    Snapshot snapshot(uint32_t my_xid = 0, uint32_t curcid = 0) const {
        Snapshot s;
        s.xmax = next_xid;
        s.xip = running;
        s.xip.erase(my_xid);
        s.xmin = s.xip.empty() ? s.xmax : *s.xip.begin();
        s.my_xid = my_xid;
        s.curcid = curcid;
        return s;
    }
    bool committed_for(const Snapshot &s, uint32_t x) const {
        if (x >= s.xmax || s.xip.count(x) != 0)
            return false;
        return state(x) == kCommitted;
    }
    bool visible(const Snapshot &s, const VersionView &v) const {
        if (v.xmin == s.my_xid && s.my_xid != 0) {
            if (v.cmin >= s.curcid)
                return false;  // inserted by a later command of our own transaction
        } else if (!committed_for(s, v.xmin)) {
            return false;
        }
        if (v.xmax == 0)
            return true;
        if (v.xmax == s.my_xid && s.my_xid != 0)
            return v.cmax >= s.curcid;     // deleted by a later command of ours: still visible
        return !committed_for(s, v.xmax);  // aborted or in-progress deleter: still visible
    }
    // Dead to every snapshot, present and future, given the oldest snapshot xmin (the horizon).
    bool dead(uint32_t horizon, const VersionView &v) const {
        if (state(v.xmin) == kAborted)
            return true;
        return v.xmax != 0 && state(v.xmax) == kCommitted && v.xmax < horizon;
    }
    // The heap's current version of a TID: never deleted, or deleted by an aborted transaction.
    bool current(const VersionView &v) const { return v.xmax == 0 || state(v.xmax) == kAborted; }
};

std::vector<std::string> probe_snap(const ArrangementIndex &ix, const ToyMvcc &m,
                                    const ToyMvcc::Snapshot &s, uint64_t hash,
                                    const std::string &key) {
    std::vector<std::string> out;
    ix.probe(
        hash, key.data(), static_cast<uint32_t>(key.size()),
        [&](const VersionView &v) { return m.visible(s, v); },
        [&](const VersionView &v) { out.push_back(str(v.tuple, v.tuple_len)); });
    std::sort(out.begin(), out.end());
    return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(ArrangementMvcc, OwnCommandsAbortsDeletesUpdates) {
    Fixture f(1 << 20, opts(64, 1024, 64));
    ToyMvcc m;
    auto &ix = f.index;
    auto cur = [&](const VersionView &v) { return m.current(v); };

    uint32_t t1 = m.begin();
    put(ix, 1, "k", "A", Tid{1, 1}, t1, 0);
    put(ix, 1, "k", "B", Tid{1, 2}, t1, 0);
    m.commit(t1);

    // Own earlier commands: t2 inserts C (cid 0), deletes A (cid 1), inserts D (cid 2).
    uint32_t t2 = m.begin();
    put(ix, 1, "k", "C", Tid{1, 3}, t2, 0);
    ASSERT_TRUE(ix.mark_deleted(Tid{1, 1}, 1, t2, 1, cur));
    put(ix, 1, "k", "D", Tid{1, 4}, t2, 2);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t2, 0), 1, "k"), (V{"A", "B"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t2, 1), 1, "k"), (V{"A", "B", "C"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t2, 2), 1, "k"), (V{"B", "C"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t2, 3), 1, "k"), (V{"B", "C", "D"}));
    auto before_t2 = m.snapshot();
    EXPECT_EQ(probe_snap(ix, m, before_t2, 1, "k"), (V{"A", "B"}));  // t2 in progress
    m.commit(t2);
    EXPECT_EQ(probe_snap(ix, m, before_t2, 1, "k"), (V{"A", "B"}));  // t2 in its xip
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"B", "C", "D"}));

    // Aborted insert: invisible to everyone, never undone in the index.
    uint32_t t3 = m.begin();
    put(ix, 1, "k", "E", Tid{1, 5}, t3, 0);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t3, 1), 1, "k"), (V{"B", "C", "D", "E"}));
    m.abort(t3);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"B", "C", "D"}));

    // Delete by an in-progress transaction, then by an aborted one, then a committed one.
    uint32_t t4 = m.begin();
    ASSERT_TRUE(ix.mark_deleted(Tid{1, 2}, 1, t4, 0, cur));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"B", "C", "D"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t4, 1), 1, "k"), (V{"C", "D"}));
    m.abort(t4);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"B", "C", "D"}));
    uint32_t t5 = m.begin();
    // The default filter refuses B (xmax set); the adapter's filter knows t4 aborted.
    EXPECT_FALSE(ix.mark_deleted(Tid{1, 2}, 1, t5, 0));
    ASSERT_TRUE(ix.mark_deleted(Tid{1, 2}, 1, t5, 0, cur));
    auto before_t5 = m.snapshot();
    m.commit(t5);
    EXPECT_EQ(probe_snap(ix, m, before_t5, 1, "k"), (V{"B", "C", "D"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"C", "D"}));

    // Update = delete old TID + insert new TID, here moving C to another key.
    uint32_t t6 = m.begin();
    ASSERT_TRUE(ix.mark_deleted(Tid{1, 3}, 1, t6, 0, cur));
    put(ix, 2, "q", "C'", Tid{2, 1}, t6, 0);
    auto before_t6 = m.snapshot();
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t6, 1), 1, "k"), (V{"D"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(t6, 1), 2, "q"), (V{"C'"}));
    m.commit(t6);
    EXPECT_EQ(probe_snap(ix, m, before_t6, 1, "k"), (V{"C", "D"}));
    EXPECT_TRUE(probe_snap(ix, m, before_t6, 2, "q").empty());
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"D"}));
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 2, "q"), (V{"C'"}));

    // Reclaim with the old snapshot before_t5 still open: only versions dead to it go (A, E).
    uint32_t horizon = before_t5.xmin;
    auto r = ix.reclaim([&](const VersionView &v) { return m.dead(horizon, v); });
    EXPECT_EQ(r.unlinked, 2u);  // E (aborted insert) and A (deleted by t2 < horizon)
    EXPECT_EQ(r.freed, 2u);     // no reader in a read section
    EXPECT_EQ(probe_snap(ix, m, before_t5, 1, "k"), (V{"B", "C", "D"}));
    horizon = m.snapshot().xmin;
    r = ix.reclaim([&](const VersionView &v) { return m.dead(horizon, v); });
    EXPECT_EQ(r.unlinked, 2u);  // B, C
    auto s = ix.stats();
    EXPECT_EQ(s.versions, 2u);  // D, C'
    EXPECT_EQ(s.delete_marked, 0u);
    EXPECT_EQ(s.reclaimed, 4u);
    EXPECT_EQ(s.retired_pending, 0u);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"D"}));
}

TEST(ArrangementMvcc, TruncateCommittedAndAborted) {
    Fixture f(1 << 20, opts(8, 1024, 64));
    ToyMvcc m;
    auto &ix = f.index;
    auto cur = [&](const VersionView &v) { return m.current(v); };
    uint32_t t1 = m.begin();
    for (uint32_t i = 0; i < 20; ++i)
        put(ix, i % 3, "k" + std::to_string(i % 3), "r" + std::to_string(i), Tid{i, 1}, t1);
    m.commit(t1);
    auto count = [&](const ToyMvcc::Snapshot &s) {
        return ix.scan_all([&](const VersionView &v) { return m.visible(s, v); },
                           [](const VersionView &) {});
    };
    uint32_t t2 = m.begin();
    EXPECT_EQ(ix.truncate_all(t2, 0, cur), 20u);
    m.abort(t2);
    EXPECT_EQ(count(m.snapshot()), 20u);  // rolled-back TRUNCATE: rows are back
    uint32_t t3 = m.begin();
    EXPECT_EQ(ix.truncate_all(t3, 0, cur), 20u);  // replaces t2's aborted xmax
    put(ix, 0, "k0", "new", Tid{100, 1}, t3, 1);  // inserted after TRUNCATE, same transaction
    auto before = m.snapshot();
    EXPECT_EQ(count(m.snapshot(t3, 2)), 1u);
    m.commit(t3);
    EXPECT_EQ(count(before), 20u);
    EXPECT_EQ(count(m.snapshot()), 1u);
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 0, "k0"), (V{"new"}));
    auto s = ix.stats();
    EXPECT_EQ(s.truncates, 2u);
    EXPECT_EQ(s.delete_marked, 20u);
    uint32_t horizon = m.snapshot().xmin;
    EXPECT_EQ(ix.reclaim([&](const VersionView &v) { return m.dead(horizon, v); }).freed, 20u);
    EXPECT_EQ(ix.stats().versions, 1u);
}

// ---------------------------------------------------------------- reclaim and memory

TEST(ArrangementReclaim, GracePeriodWaitsForReaders) {
    Fixture f(1 << 20, opts(4, 1024, 64));
    auto &ix = f.index;
    for (uint16_t i = 1; i <= 10; ++i)
        put(ix, 1, "k", std::string(100, static_cast<char>('a' + i)), Tid{1, i});
    auto reader = ix.register_reader();
    auto other = ix.register_reader();  // claims its slot inside the nested probe below
    int emitted = 0;
    ix.probe(reader, 1, "k", 1, all_visible, [&](const VersionView &v) {
        if (emitted++ == 0) {
            // A reclaim while this reader stands on a version: unlinked, not freed.
            auto r = ix.reclaim(all_visible);
            EXPECT_EQ(r.unlinked, 10u);
            EXPECT_EQ(r.freed, 0u);
            EXPECT_EQ(r.pending, 10u);
            EXPECT_EQ(ix.free_retired().freed, 0u);
            // Another reader entering now no longer sees them.
            EXPECT_EQ(ix.probe(other, 1, "k", 1, all_visible, [](const VersionView &) {}), 0u);
        }
        // The reader can still read the unlinked versions and walk on (ASan checks).
        EXPECT_EQ(v.tuple_len, 100u);
        EXPECT_EQ(std::string(v.tuple, v.tuple_len), std::string(100, v.tuple[0]));
    });
    EXPECT_EQ(emitted, 10);
    auto r = ix.free_retired();
    EXPECT_EQ(r.freed, 10u);
    EXPECT_EQ(r.pending, 0u);
    auto s = ix.stats();
    EXPECT_EQ(s.versions, 0u);
    EXPECT_EQ(s.reclaimed, 10u);
    EXPECT_EQ(s.version_bytes, 0u);
}

TEST(ArrangementReclaim, ReaderSlots) {
    Fixture f(1 << 20, opts(4, 1024, 2));
    // Readers claim a slot only inside a read section: any number of them share two slots
    // (what many open cursors over one arrangement in one backend do).
    put(f.index, 1, "k", "x", Tid{1, 1});
    std::vector<ArrangementIndex::Reader> many;
    for (int i = 0; i < 50; ++i) many.push_back(f.index.register_reader());
    for (auto &r : many)
        EXPECT_EQ(f.index.probe(r, 1, "k", 1, all_visible, [](const VersionView &) {}), 1u);
    // Nested read sections of two readers (a callback probing again) take two slots.
    f.index.probe(many[0], 1, "k", 1, all_visible, [&](const VersionView &) {
        EXPECT_EQ(f.index.probe(many[1], 1, "k", 1, all_visible, [](const VersionView &) {}), 1u);
        EXPECT_NE(many[0].slot(), many[1].slot());
    });
    // A fixed slot stays claimed: nobody else can take it as fixed.
    auto a = f.index.register_reader(0);
    EXPECT_THROW(f.index.register_reader(0), Error);
    for (auto &r : many)  // the others use slot 1
        EXPECT_EQ(f.index.probe(r, 1, "k", 1, all_visible, [](const VersionView &) {}), 1u);
    auto c = f.index.register_reader(1);
    EXPECT_TRUE(c.valid());
    auto moved = std::move(c);
    EXPECT_FALSE(c.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(moved.valid());
    // An exception thrown by a callback leaves the read section.
    EXPECT_THROW(f.index.probe(a, 1, "k", 1, all_visible,
                               [](const VersionView &) { throw std::runtime_error("cancel"); }),
                 std::runtime_error);
    EXPECT_EQ(f.index.reclaim(all_visible).freed, 1u);  // a is not holding the version
}

TEST(ArrangementReclaim, OutOfMemoryThenRecovers) {
    Fixture f(256 << 10, opts(64, 1024, 64));
    auto &ix = f.index;
    std::string tuple(500, 't');
    uint32_t n = 0;
    try {
        for (;; ++n) put(ix, n, "key" + std::to_string(n), tuple, Tid{n, 1});
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::OutOfMemory);
        ix.mark_invalid();
    }
    EXPECT_FALSE(ix.is_valid());
    EXPECT_GT(n, 100u);
    EXPECT_EQ(ix.stats().versions, n);
    EXPECT_EQ(ix.scan_all(all_visible, [](const VersionView &) {}), n);  // consistent
    // Everything dead: reclaim frees it and the memory is reusable.
    EXPECT_EQ(ix.reclaim(all_visible).freed, n);
    for (uint32_t i = 0; i < n; ++i) put(ix, i, "again" + std::to_string(i), tuple, Tid{i, 2});
    EXPECT_EQ(ix.stats().versions, n);
    uint64_t before = f.alloc.bytes_in_use();
    ix.destroy();
    EXPECT_LT(f.alloc.bytes_in_use(), before);
    EXPECT_EQ(f.alloc.bytes_in_use(), FixedRegionAllocator::rounded_size(SpinWriterLock::bytes(4)));
}

// An allocator that charges accounts, with a quota per account (what the adapter does per role).
namespace {
class QuotaAllocator final : public pm::core::RegionAllocator {
  public:
    QuotaAllocator(FixedRegionAllocator &inner, uint64_t quota) : inner_(inner), quota_(quota) {}
    uint64_t allocate(size_t size) override { return inner_.allocate(size); }
    void free(uint64_t off, size_t size) override { inner_.free(off, size); }
    char *base() const override { return inner_.base(); }
    uint64_t bytes_in_use() const override { return inner_.bytes_in_use(); }
    uint64_t allocate_for(uint32_t account, size_t size) override {
        uint64_t r = FixedRegionAllocator::rounded_size(size);
        if (account != 0 && used_[account] + r > quota_)
            return 0;
        uint64_t off = inner_.allocate(size);
        if (off != 0)
            used_[account] += r;
        return off;
    }
    void free_for(uint32_t account, uint64_t off, size_t size) override {
        used_[account] -= FixedRegionAllocator::rounded_size(size);
        inner_.free(off, size);
    }
    uint64_t used(uint32_t account) { return used_[account]; }

  private:
    FixedRegionAllocator &inner_;
    uint64_t quota_;
    std::map<uint32_t, uint64_t> used_;
};
}  // namespace

TEST(ArrangementIndex, EveryBlockIsChargedToTheIndexAccount) {
    Mapping m(4 << 20);
    auto fixed = FixedRegionAllocator::format(m.base(), 4 << 20);
    QuotaAllocator q(fixed, 1 << 20);
    std::vector<char> words(SpinWriterLock::bytes(4));
    SpinWriterLock::format(words.data(), 4);
    SpinWriterLock lock(words.data(), 4);
    ArrangementIndex::Options o;
    o.nbuckets = 1024;
    o.reader_slots = 8;
    o.account = 1;
    auto greedy = ArrangementIndex::create(q, lock, o);
    o.account = 2;
    auto modest = ArrangementIndex::create(q, lock, o);
    EXPECT_EQ(greedy.account(), 1u);
    std::string tuple(1000, 't');
    uint32_t n = 0;
    EXPECT_THROW(
        for (;; ++n) greedy.insert(n, &n, sizeof n, tuple.data(), 1000, Tid{n, 1}, 2, 0), Error);
    EXPECT_LE(q.used(1), uint64_t{1} << 20);
    EXPECT_GT(n, 500u);
    // The other account is not affected by the first one's exhaustion.
    for (uint32_t i = 0; i < 200; ++i) modest.insert(i, &i, sizeof i, tuple.data(), 1000, Tid{i, 1}, 2, 0);
    greedy.destroy();
    EXPECT_EQ(q.used(1), 0u);  // everything freed was charged back
    modest.destroy();
    EXPECT_EQ(q.used(2), 0u);
    EXPECT_EQ(fixed.bytes_in_use(), 0u);
}

// ---------------------------------------------------------------- compact (frozen) versions

namespace {
constexpr uint32_t kFrozen = 2;  // the adapter's FrozenTransactionId
ArrangementIndex::Options frozen_opts(uint64_t nbuckets) {
    ArrangementIndex::Options o = opts(nbuckets);
    o.frozen_xmin = kFrozen;
    return o;
}
}  // namespace

TEST(ArrangementCompact, FrozenVersionsAreSmallerAndReadTheSame) {
    Fixture plain(1 << 20, opts(16));
    Fixture compact(1 << 20, frozen_opts(16));
    const std::string tuple(24, 't');  // 32 + 24 + 5 = 61 -> 64 bytes compact; 40 + 29 -> 80 full
    const std::string tuple2(16, 'u');  // 32 + 16 + 5 = 53 -> 64 compact; 40 + 21 = 61 -> 64 full
    for (Fixture *f : {&plain, &compact}) {
        put(f->index, 1, "kkkkk", tuple, Tid{1, 1}, kFrozen, 0);
        put(f->index, 1, "kkkkk", tuple2, Tid{1, 2}, kFrozen, 0);
        put(f->index, 1, "kkkkk", tuple2, Tid{1, 3}, 7, 3);         // not frozen: full form
        put(f->index, 1, "kkkkk", tuple2, Tid{1, 4}, kFrozen, 5);   // a command id: full form
    }
    EXPECT_EQ(plain.index.stats().version_bytes, 80u + 3u * 64u);
    EXPECT_EQ(compact.index.stats().version_bytes, 4u * 64u);
    // Both report the same fields, bytes and order.
    auto dump = [](const ArrangementIndex &ix) {
        std::vector<std::string> out;
        ix.probe(1, "kkkkk", 5, all_visible, [&](const VersionView &v) {
            out.push_back(std::to_string(v.tid.offset) + ":" + std::to_string(v.xmin) + "/" +
                          std::to_string(v.cmin) + "/" + std::to_string(v.xmax) + ":" +
                          str(v.key, v.key_len) + ":" + str(v.tuple, v.tuple_len));
        });
        return out;
    };
    EXPECT_EQ(dump(plain.index), dump(compact.index));
    EXPECT_EQ(dump(compact.index)[3], "1:2/0/0:kkkkk:" + tuple);
    EXPECT_EQ(dump(compact.index)[1], "3:7/3/0:kkkkk:" + tuple2);
    // The tuple bytes of either form start 8-byte aligned (the adapter reads MinimalTuples in
    // place).
    compact.index.probe(1, "kkkkk", 5, all_visible, [](const VersionView &v) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(v.tuple) % 8, 0u);
    });
    // A key longer than the compact header's 16-bit length is refused, nothing stored.
    std::string huge(70000, 'h');
    EXPECT_THROW(put(compact.index, 2, huge, tuple, Tid{2, 1}), Error);
    EXPECT_EQ(compact.index.stats().versions, 4u);
}

TEST(ArrangementCompact, FrozenVersionsAnswerEverySnapshot) {
    // Every row starts frozen (a build of old rows); then deletes, updates, aborts and a
    // reclaim, checked against snapshots taken along the way.
    for (bool with_frozen : {false, true}) {
        Fixture f(1 << 20, with_frozen ? frozen_opts(8) : opts(8));
        auto &ix = f.index;
        ToyMvcc m;
        m.clog[kFrozen] = kCommitted;
        for (uint16_t i = 1; i <= 4; ++i)
            put(ix, 1, "k", "r" + std::to_string(i), Tid{1, i}, kFrozen, 0);
        auto s0 = m.snapshot();
        EXPECT_EQ(probe_snap(ix, m, s0, 1, "k"), (V{"r1", "r2", "r3", "r4"}));
        // x1 deletes r1 (command 0) and updates r2 into r2' (command 1), then commits.
        uint32_t x1 = m.begin();
        EXPECT_TRUE(ix.mark_deleted(Tid{1, 1}, 1, x1, 0, [&](const VersionView &v) {
            return m.current(v);
        }));
        EXPECT_TRUE(ix.mark_deleted(Tid{1, 2}, 1, x1, 1));
        put(ix, 1, "k", "r2'", Tid{2, 1}, x1, 1);
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(x1, 1), 1, "k"), (V{"r2", "r3", "r4"}));
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(x1, 2), 1, "k"), (V{"r2'", "r3", "r4"}));
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"r1", "r2", "r3", "r4"}));
        auto during = m.snapshot();
        m.commit(x1);
        // x2 deletes r3 and aborts: r3 stays, and a later delete of r3 still finds it.
        uint32_t x2 = m.begin();
        EXPECT_TRUE(ix.mark_deleted(Tid{1, 3}, 1, x2, 0));
        m.abort(x2);
        auto cur = [&](const VersionView &v) { return m.current(v); };
        uint32_t x3 = m.begin();
        EXPECT_TRUE(ix.mark_deleted(Tid{1, 3}, 1, x3, 0, cur));
        EXPECT_FALSE(ix.mark_deleted(Tid{1, 1}, 1, x3, 0, cur));  // r1's delete committed
        auto s3 = m.snapshot();  // x3 running
        m.commit(x3);
        EXPECT_EQ(probe_snap(ix, m, s0, 1, "k"), (V{"r1", "r2", "r3", "r4"}));
        EXPECT_EQ(probe_snap(ix, m, during, 1, "k"), (V{"r1", "r2", "r3", "r4"}));
        EXPECT_EQ(probe_snap(ix, m, s3, 1, "k"), (V{"r2'", "r3", "r4"}));
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"r2'", "r4"}));
        // TRUNCATE by x4, rolled back: nothing changes for later snapshots.
        uint32_t x4 = m.begin();
        EXPECT_EQ(ix.truncate_all(x4, 0, cur), 2u);
        m.abort(x4);
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"r2'", "r4"}));
        // Reclaim at a horizon past x3: the three deleted versions (two of them compact) go.
        auto r = ix.reclaim([&](const VersionView &v) { return m.dead(m.next_xid, v); });
        EXPECT_EQ(r.unlinked, 3u);
        EXPECT_EQ(r.freed, 3u);
        EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), (V{"r2'", "r4"}));
        auto st = ix.stats();
        EXPECT_EQ(st.versions, 2u);
        EXPECT_EQ(st.delete_marked, 2u);  // r2' and r4 carry x4's aborted xmax
        ix.destroy();
        EXPECT_EQ(f.alloc.bytes_in_use(),
                  FixedRegionAllocator::rounded_size(SpinWriterLock::bytes(4)));
    }
}

TEST(ArrangementCompact, BulkInsertMixesForms) {
    Fixture f(1 << 20, frozen_opts(64));
    std::vector<std::string> keys, tuples;
    for (uint32_t i = 0; i < 100; ++i) {
        keys.push_back("key" + std::to_string(i % 10));
        tuples.push_back(std::string(8 + i % 13, static_cast<char>('a' + i % 26)));
    }
    std::vector<pm::core::BulkVersion> bulk;
    for (uint32_t i = 0; i < 100; ++i)
        bulk.push_back(pm::core::BulkVersion{
            1000u + i % 10, keys[i].data(), static_cast<uint32_t>(keys[i].size()),
            tuples[i].data(), static_cast<uint32_t>(tuples[i].size()),
            Tid{i, 1}, i % 3 == 0 ? 5u : kFrozen, 0, i % 7 == 0 ? 9u : 0u, i % 7 == 0 ? 2u : 0u,
            static_cast<uint16_t>(i)});
    f.index.insert_bulk(bulk.data(), bulk.size());
    uint32_t seen = 0;
    f.index.scan_all(all_visible, [&](const VersionView &v) {
        uint32_t i = v.tid.block;
        EXPECT_EQ(str(v.key, v.key_len), keys[i]);
        EXPECT_EQ(str(v.tuple, v.tuple_len), tuples[i]);
        EXPECT_EQ(v.xmin, i % 3 == 0 ? 5u : kFrozen);
        EXPECT_EQ(v.xmax, i % 7 == 0 ? 9u : 0u);
        EXPECT_EQ(v.cmax, i % 7 == 0 ? 2u : 0u);
        EXPECT_EQ(v.flags, i);
        EXPECT_EQ(v.hash, 1000u + i % 10);
        ++seen;
    });
    EXPECT_EQ(seen, 100u);
    EXPECT_EQ(f.index.stats().delete_marked, 15u);
    // The batch came as one block: its versions are still freed one by one (ASan poisons each).
    auto r = f.index.reclaim([](const VersionView &v) { return v.xmax != 0; });
    EXPECT_EQ(r.freed, 15u);
    EXPECT_EQ(f.index.scan_all(all_visible, [](const VersionView &) {}), 85u);
    f.index.destroy();
    EXPECT_EQ(f.alloc.bytes_in_use(), FixedRegionAllocator::rounded_size(SpinWriterLock::bytes(4)));
}

TEST(ArrangementReclaim, ManyVersionsAndAFullAccount) {
    // More unlinked versions than one retire record holds, while a reader stands on one; then
    // an account so full that the retire records cannot be charged to it.
    Mapping m(8 << 20);
    auto fixed = FixedRegionAllocator::format(m.base(), 8 << 20);
    QuotaAllocator q(fixed, 1 << 20);
    std::vector<char> words(SpinWriterLock::bytes(4));
    SpinWriterLock::format(words.data(), 4);
    SpinWriterLock lock(words.data(), 4);
    ArrangementIndex::Options o = frozen_opts(256);
    o.account = 1;
    auto ix = ArrangementIndex::create(q, lock, o);
    std::string tuple(24, 't');
    uint32_t n = 0;
    try {
        for (;; ++n)
            ix.insert(n % 300, &n, sizeof n, tuple.data(), 24, Tid{n, 1}, n % 2 ? kFrozen : 9, 0);
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::OutOfMemory);
    }
    EXPECT_GT(n, 2000u);
    const uint64_t full = q.used(1);
    auto reader = ix.register_reader();
    uint32_t k = 0;
    ix.probe(reader, 0, &k, sizeof k, all_visible, [&](const VersionView &) {
        auto r = ix.reclaim(all_visible);  // nothing is freed under this reader
        EXPECT_EQ(r.unlinked, n);
        EXPECT_EQ(r.freed, 0u);
        EXPECT_EQ(r.pending, n);
        EXPECT_EQ(q.used(1), full);  // the records were not charged: the account was full
    });
    auto r = ix.free_retired();
    EXPECT_EQ(r.freed, n);
    EXPECT_EQ(ix.stats().version_bytes, 0u);
    EXPECT_EQ(ix.stats().retired_pending, 0u);
    ix.destroy();
    EXPECT_EQ(q.used(1), 0u);
    EXPECT_EQ(fixed.bytes_in_use(), 0u);
}

TEST(ArrangementCompact, ReclaimCompactsUnderAReader) {
    Fixture f(1 << 20, frozen_opts(4));
    auto &ix = f.index;
    ToyMvcc m;
    m.clog[kFrozen] = kCommitted;
    uint32_t x1 = m.begin();
    for (uint16_t i = 1; i <= 6; ++i)
        put(ix, 1, "k", std::string(40, static_cast<char>('a' + i)), Tid{1, i}, x1, i);
    m.commit(x1);
    uint32_t x2 = m.begin();  // deletes row 2 (committed), and inserts row 7 (still running)
    EXPECT_TRUE(ix.mark_deleted(Tid{1, 2}, 1, x2, 0));
    m.commit(x2);
    uint32_t x3 = m.begin();
    put(ix, 1, "k", std::string(40, 'z'), Tid{1, 7}, x3, 0);
    auto before = m.snapshot();
    const uint64_t bytes = ix.stats().version_bytes;
    auto reader = ix.register_reader();
    std::vector<std::string> seen;
    ix.probe(reader, 1, "k", 1, [&](const VersionView &v) { return m.visible(before, v); },
             [&](const VersionView &v) {
                 if (seen.empty()) {
                     // Compact every version whose inserter committed before x3 (the horizon)
                     // while this reader stands on the first one it emits.
                     auto r = ix.reclaim([](const VersionView &) { return false; },
                                         [&](const VersionView &w) {
                                             return w.xmin < x3 && m.state(w.xmin) == kCommitted;
                                         });
                     EXPECT_EQ(r.compacted, 6u);
                     EXPECT_EQ(r.unlinked, 6u);
                     // ...and the 6 adjacent compact copies are grouped into one run (issue 15)
                     EXPECT_EQ(r.grouped, 6u);
                     EXPECT_EQ(r.freed, 0u);  // the originals wait for this reader
                     EXPECT_EQ(r.pending, 12u);  // 6 originals, 6 compact copies
                 }
                 EXPECT_EQ(std::string(v.tuple, v.tuple_len),
                           std::string(40, v.tuple[0]));  // still readable (ASan)
                 seen.push_back(str(v.tuple, v.tuple_len));
             });
    std::sort(seen.begin(), seen.end());
    V want;
    for (char c : {'b', 'd', 'e', 'f', 'g'}) want.push_back(std::string(40, c));
    EXPECT_EQ(seen, want);
    EXPECT_EQ(ix.free_retired().freed, 12u);
    // Same answers for every snapshot, now from one run of compact versions (40 + 40 + 1 = 81 ->
    // 96 bytes full each; the run 16 + 6 * 16 + 1 + 6 * 40 = 353 -> 368)...
    EXPECT_EQ(probe_snap(ix, m, before, 1, "k"), want);
    m.commit(x3);
    want.push_back(std::string(40, 'z'));
    std::sort(want.begin(), want.end());
    EXPECT_EQ(probe_snap(ix, m, m.snapshot(), 1, "k"), want);
    EXPECT_EQ(ix.stats().version_bytes, bytes - 6u * 96u + 368u);
    uint32_t compacted_fields = 0;
    ix.scan_all(all_visible, [&](const VersionView &v) {
        if (v.xmin == kFrozen && v.cmin == 0)
            ++compacted_fields;
        if (v.tid.offset == 2) {
            EXPECT_EQ(v.xmax, x2);  // the delete survived compaction
        }
    });
    EXPECT_EQ(compacted_fields, 6u);
    // ...and again with other sizes.
    Fixture g(1 << 20, frozen_opts(4));
    for (uint16_t i = 1; i <= 10; ++i) put(g.index, 1, "k", std::string(24, 'q'), Tid{1, i}, 5, 0);
    EXPECT_EQ(g.index.stats().version_bytes, 10u * 80u);  // 40 + 24 + 1 = 65 -> 80
    auto r = g.index.reclaim([](const VersionView &) { return false; },
                             [](const VersionView &) { return true; });
    EXPECT_EQ(r.compacted, 10u);
    EXPECT_EQ(r.grouped, 10u);
    EXPECT_EQ(r.freed, 20u);  // no reader: the originals and compact copies go at once
    EXPECT_EQ(g.index.stats().version_bytes, 432u);  // 16 + 160 + 1 + 240 = 417 -> 432
    EXPECT_EQ(g.index.stats().versions, 10u);
    // Without a frozen xmin, nothing is compacted.
    Fixture h(1 << 20, opts(4));
    put(h.index, 1, "k", "x", Tid{1, 1}, 5, 0);
    EXPECT_EQ(h.index.reclaim([](const VersionView &) { return false; },
                              [](const VersionView &) { return true; })
                  .compacted,
              0u);
}

// The adapter keeps what a bare stored tuple lost (its MinimalTuple header: number of attributes,
// variable width) in the version's flags: the build's bulk insert, insert() and reclaim's compact
// copy must all carry them, next to a tuple whose bytes are copied exactly.
// Chain links are 32-bit offsets in 16-byte units (32-byte version header): a version the
// allocator places at or beyond 64 GiB from the region's start cannot be linked and is refused
// like a full region, with nothing changed and the block given back.
namespace {
class FarAllocator final : public pm::core::RegionAllocator {
  public:
    explicit FarAllocator(FixedRegionAllocator &inner) : inner_(inner) {}
    uint64_t allocate(size_t size) override {
        if (!far)
            return inner_.allocate(size);
        ++far_given;
        return uint64_t{1} << 36;  // never written: the index must refuse it first
    }
    void free(uint64_t offset, size_t size) override {
        if (offset == uint64_t{1} << 36)
            ++far_freed;
        else
            inner_.free(offset, size);
    }
    char *base() const override { return inner_.base(); }
    uint64_t bytes_in_use() const override { return inner_.bytes_in_use(); }
    bool far = false;
    int far_given = 0, far_freed = 0;

  private:
    FixedRegionAllocator &inner_;
};
}  // namespace

TEST(ArrangementCompact, VersionsBeyondTheLinkRangeAreRefused) {
    Fixture f(1 << 20, frozen_opts(4));
    FarAllocator far(f.alloc);
    ArrangementIndex ix = ArrangementIndex::create(far, f.lock, frozen_opts(4));
    put(ix, 0x1234567800000042ULL, "k", "near", Tid{1, 1}, kFrozen, 0);
    far.far = true;
    EXPECT_THROW(put(ix, 0x42, "k", "far", Tid{1, 2}), Error);
    const std::string k = "k", t = "bulk";
    std::vector<pm::core::BulkVersion> bulk;
    for (uint16_t i = 0; i < 3; ++i)
        bulk.push_back(pm::core::BulkVersion{7, k.data(), 1, t.data(), 4, Tid{2, i}, 3, 0, 0, 0, 0});
    EXPECT_THROW(ix.insert_bulk(bulk.data(), bulk.size()), Error);
    // A compaction that would land there is not made.
    far.far = false;
    put(ix, 0x1234567800000042ULL, "k", "full", Tid{1, 3}, 5, 0);  // full form
    far.far = true;
    auto r = ix.reclaim([](const VersionView &) { return false; },
                        [](const VersionView &) { return true; });
    EXPECT_EQ(r.compacted, 0u);
    EXPECT_EQ(far.far_given, far.far_freed);
    EXPECT_GE(far.far_given, 3);
    far.far = false;
    EXPECT_EQ(ix.stats().versions, 2u);
    // A version keeps the low 32 bits of its hash: the view reports them, and a probe compares
    // them (the bucket comes from the whole hash).
    std::vector<uint64_t> hashes;
    ix.probe(0x1234567800000042ULL, "k", 1, all_visible,
             [&](const VersionView &v) { hashes.push_back(v.hash); });
    EXPECT_EQ(hashes, (std::vector<uint64_t>{0x42, 0x42}));
    EXPECT_TRUE(probe_all(ix, 0x1234567800000043ULL, "k").empty());
    ix.destroy();
}

TEST(ArrangementCompact, FlagsSurviveEveryPath) {
    Fixture g(1 << 20, frozen_opts(4));
    std::vector<std::string> tuples;
    for (uint16_t i = 1; i <= 8; ++i) tuples.push_back(std::string(12 + i, static_cast<char>('a' + i)));
    for (uint16_t i = 1; i <= 4; ++i)  // full form (xmin 5), then compacted by reclaim
        g.index.insert(1, "k", 1, tuples[i - 1].data(), static_cast<uint32_t>(tuples[i - 1].size()),
                       Tid{1, i}, 5, 0, static_cast<uint16_t>(0x8000 | 0x4000 | i));
    std::vector<pm::core::BulkVersion> bulk;
    for (uint16_t i = 5; i <= 8; ++i)  // compact form straight from the build
        bulk.push_back(pm::core::BulkVersion{1, "k", 1, tuples[i - 1].data(),
                                             static_cast<uint32_t>(tuples[i - 1].size()), Tid{1, i},
                                             kFrozen, 0, 0, 0, static_cast<uint16_t>(0x8000 | i)});
    g.index.insert_bulk(bulk.data(), bulk.size());
    auto check = [&] {
        uint32_t seen = 0;
        g.index.scan_all(all_visible, [&](const VersionView &v) {
            const uint16_t i = v.tid.offset;
            EXPECT_EQ(v.flags, i <= 4 ? 0x8000 | 0x4000 | i : 0x8000 | i);
            EXPECT_EQ(str(v.tuple, v.tuple_len), tuples[i - 1]);
            ++seen;
        });
        EXPECT_EQ(seen, 8u);
    };
    check();
    auto r = g.index.reclaim([](const VersionView &) { return false; },
                             [](const VersionView &) { return true; });
    EXPECT_EQ(r.compacted, 4u);
    check();
}
