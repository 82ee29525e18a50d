// arrangement_reclaim_growth_test.cpp — one reclaim pass over many dead versions does work
// linear in their number: the list of unlinked versions grows geometrically. Counted as the bytes
// the pass asks operator new for (this binary's operator new counts while `g_counting` is set),
// not as time. Before the fix, each unlink reserved exactly one more entry, so a pass over n dead
// versions copied n^2/2 list entries (a rolled-back COPY of 20,000 lineitem rows kept the
// background worker busy for seconds, holding stripe locks that writers wait on: view_bulk).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "parallel_material/core/arrangement_index.hpp"
#include "parallel_material/core/arrangement_region.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_new_bytes{0};
}  // namespace

void *operator new(size_t size) {
    if (g_counting.load(std::memory_order_relaxed))
        g_new_bytes.fetch_add(size, std::memory_order_relaxed);
    if (void *p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}
// The replacement pair is malloc/free by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void *p) noexcept {
    std::free(p);
}
void operator delete(void *p, size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

using pm::core::ArrangementIndex;
using pm::core::FixedRegionAllocator;
using pm::core::SpinWriterLock;
using pm::core::Tid;
using pm::core::VersionView;

TEST(ArrangementReclaim, OnePassIsLinearInDeadVersions) {
    constexpr size_t kRegion = 16 << 20;
    void *p = mmap(nullptr, kRegion, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    char *base = static_cast<char *>(p);
    {
        FixedRegionAllocator alloc = FixedRegionAllocator::format(base, kRegion);
        const uint32_t stripes = 4;
        uint64_t lock_off = alloc.allocate(SpinWriterLock::bytes(stripes));
        SpinWriterLock::format(base + lock_off, stripes);
        SpinWriterLock lock(base + lock_off, stripes);
        ArrangementIndex::Options o;
        o.nbuckets = 4096;
        o.expected_rows = 1024;
        o.reader_slots = 8;
        ArrangementIndex ix = ArrangementIndex::create(alloc, lock, o);
        constexpr uint32_t n = 20000;  // the quick view_bulk scenario's rolled-back COPY
        for (uint32_t i = 0; i < n; ++i) {
            std::string key = "k" + std::to_string(i % 5000);  // chains of 4 and more
            ix.insert(i * 0x9E3779B97F4A7C15ull, key.data(), static_cast<uint32_t>(key.size()),
                      "t", 1, Tid{i, 1}, 7, 0);
        }
        ASSERT_EQ(ix.stats().versions, n);
        g_new_bytes = 0;
        g_counting = true;
        auto r = ix.reclaim([](const VersionView &v) { return v.xmin == 7; });  // aborted
        g_counting = false;
        EXPECT_EQ(r.unlinked, n);
        EXPECT_EQ(r.freed, n);  // no reader: freed in the same pass
        EXPECT_EQ(ix.stats().versions, 0u);
        // Linear: a geometrically grown list of n 8-byte offsets asks for less than 4 * 8 n
        // bytes in all; one entry more per reallocation asks for 8 n^2 / 2 (1.6 GB here).
        EXPECT_LT(g_new_bytes.load(), uint64_t{32} * n);
        ix.destroy();
    }
    munmap(p, kRegion);
}
