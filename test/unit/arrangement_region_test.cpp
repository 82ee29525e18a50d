// arrangement_region_test.cpp — FixedRegionAllocator's coalescing: memory freed in small blocks
// serves large requests, neighbours merge on both sides, the tail goes back to the wilderness,
// and a random mix of sizes from several threads, then from fork()ed processes mapping the region
// at another address, never hands out overlapping blocks and gives everything back.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "parallel_material/core/arrangement_region.hpp"
#include "shared_mapping.hpp"

using pm::core::FixedRegionAllocator;

namespace {

using Region = pm_test::Mapping;

// Random blocks from one handle: each is filled with a tag and checked before it is freed, so two
// owners of overlapping blocks are caught. Returns the number of corrupted blocks.
int churn(FixedRegionAllocator &a, uint32_t seed, int rounds, uint8_t tag) {
    std::mt19937 rng(seed);
    struct Block {
        uint64_t off;
        size_t size;
    };
    std::vector<Block> held;
    int bad = 0;
    auto check_free = [&](size_t i) {
        const Block &b = held[i];
        const unsigned char *p = reinterpret_cast<unsigned char *>(a.base() + b.off);
        for (size_t k = 0; k < b.size; ++k)
            if (p[k] != tag) {
                ++bad;
                break;
            }
        a.free(b.off, b.size);
        held[i] = held.back();
        held.pop_back();
    };
    for (int r = 0; r < rounds; ++r) {
        if (!held.empty() && (rng() % 3 == 0 || held.size() > 200)) {
            check_free(rng() % held.size());
            continue;
        }
        // Mostly small, sometimes large: sizes drift over the run.
        size_t size = rng() % 8 == 0 ? 1000 + rng() % 20000 : 1 + rng() % (64 + r / 50);
        uint64_t off = a.allocate(size);
        if (off == 0)
            continue;
        if (off % 16 != 0)
            ++bad;
        std::memset(a.base() + off, tag, size);
        held.push_back(Block{off, size});
    }
    while (!held.empty()) check_free(held.size() - 1);
    return bad;
}

}  // namespace

// Fails without coalescing: the small blocks' memory sat in their size class for good.
TEST(ArrangementRegionCoalescing, SmallFreesServeLargeAllocations) {
    constexpr size_t kSize = 1 << 20;
    Region m(kSize);
    auto a = FixedRegionAllocator::format(m.base(), kSize);
    for (int pass = 0; pass < 3; ++pass) {
        std::vector<uint64_t> small;
        for (uint64_t o; (o = a.allocate(40 + pass * 24)) != 0;) small.push_back(o);
        ASSERT_GT(small.size(), 5000u);
        // Every other block freed: nothing merges, a large request cannot be served...
        for (size_t i = 0; i < small.size(); i += 2) a.free(small[i], 40 + pass * 24);
        EXPECT_EQ(a.allocate(4096), 0u);
        // ...and small ones of another size can (they fit the freed holes).
        uint64_t other = a.allocate(20);
        EXPECT_NE(other, 0u);
        a.free(other, 20);
        for (size_t i = 1; i < small.size(); i += 2) a.free(small[i], 40 + pass * 24);
        EXPECT_EQ(a.bytes_in_use(), 0u);
        // Everything merged back: one block of nearly the whole region.
        uint64_t big = a.allocate(kSize - kSize / 64);
        ASSERT_NE(big, 0u) << "pass " << pass;
        a.free(big, kSize - kSize / 64);
        // Large blocks, freed, serve small ones again.
        std::vector<uint64_t> large;
        for (uint64_t o; (o = a.allocate(100000)) != 0;) large.push_back(o);
        EXPECT_EQ(large.size(), 10u);
        for (uint64_t o : large) a.free(o, 100000);
    }
    EXPECT_EQ(a.bytes_in_use(), 0u);
}

TEST(ArrangementRegionCoalescing, MergesNeighboursOnBothSides) {
    Region m(1 << 16);
    auto a = FixedRegionAllocator::format(m.base(), 1 << 16);
    uint64_t b[5];
    for (auto &o : b) o = a.allocate(200);  // 208-byte blocks, adjacent
    for (int i = 1; i < 5; ++i) EXPECT_EQ(b[i], b[i - 1] + 208);
    a.free(b[1], 200);
    a.free(b[3], 200);
    a.free(b[2], 200);  // merges with both: one free block of 3 x 208 at b[1]
    EXPECT_EQ(a.allocate(3 * 208 - 8), b[1]);
    a.free(b[1], 3 * 208 - 8);
    // A split leaves a 16-byte crumb; it merges back when its neighbours are freed.
    uint64_t x = a.allocate(3 * 208 - 16);
    EXPECT_EQ(x, b[1]);
    uint64_t y = a.allocate(16);  // crumbs sit in no list: this one comes from the tail
    EXPECT_GT(y, b[4]);
    a.free(x, 3 * 208 - 16);  // merges with the crumb after it
    EXPECT_EQ(a.allocate(3 * 208), b[1]);
    a.free(b[1], 3 * 208);
    a.free(y, 16);
    // The last block goes back to the tail, and so does its free predecessor.
    a.free(b[4], 200);
    uint64_t next = a.allocate(200);
    EXPECT_EQ(next, b[1]);  // the merged b[1..4] went back to the tail; b[0] still held
    a.free(next, 200);
    a.free(b[0], 200);
    EXPECT_EQ(a.allocate(200), b[0]);
    EXPECT_EQ(a.bytes_in_use(), 208u);
}

TEST(ArrangementRegionCoalescing, ScribbleAndPoisonFreedBlocks) {
    Region m(1 << 18);
    auto a = FixedRegionAllocator::format(m.base(), 1 << 18,
                                          FixedRegionAllocator::kScribbleFreed |
                                              FixedRegionAllocator::kPoisonFreed);
    EXPECT_EQ(churn(a, 7, 20000, 0x5a), 0);
    EXPECT_EQ(a.bytes_in_use(), 0u);
    EXPECT_NE(a.allocate((1 << 18) - (1 << 18) / 64), 0u);
}

TEST(ArrangementRegionCoalescing, ThreadsNeverShareABlock) {
    constexpr size_t kSize = 8 << 20;
    Region m(kSize);
    auto a = FixedRegionAllocator::format(m.base(), kSize);
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            auto mine = FixedRegionAllocator::attach(m.base());
            bad += churn(mine, 100 + t, 20000, static_cast<uint8_t>(0x10 + t));
        });
    for (auto &t : ts) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(a.bytes_in_use(), 0u);
    uint64_t big = a.allocate(kSize - kSize / 64);
    EXPECT_NE(big, 0u);
}

TEST(ArrangementRegionCoalescing, ForkedProcessesNeverShareABlock) {
    constexpr size_t kSize = 8 << 20;
    int fd = memfd_create("pm_region_test", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, kSize), 0);
    Region m(kSize, fd);
    auto a = FixedRegionAllocator::format(m.base(), kSize);
    std::vector<pid_t> pids;
    for (int p = 0; p < 3; ++p) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int code;
            {
                Region mine(kSize, fd);  // another address for the same memory
                if (mine.base() == m.base())
                    _exit(3);
                auto h = FixedRegionAllocator::attach(mine.base());
                code = churn(h, 200 + p, 20000, static_cast<uint8_t>(0x20 + p)) == 0 ? 0 : 1;
            }
            _exit(code);
        }
        pids.push_back(pid);
    }
    int bad = churn(a, 300, 20000, 0x30);
    for (pid_t pid : pids) {
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    }
    close(fd);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(a.bytes_in_use(), 0u);
    EXPECT_NE(a.allocate(kSize - kSize / 64), 0u);
}

// A block may be freed in pieces (insert_bulk allocates a batch of versions as one block; each
// version is freed on its own). Fails on the allocator that left a merged neighbour's boundary
// bits set: a later block carved over such a bit, freed piece by piece, merged with garbage.
TEST(ArrangementRegionCoalescing, BlocksFreedInPieces) {
    constexpr size_t kSize = 4 << 20;
    Region r(kSize);
    ASSERT_NE(r.base(), nullptr);
    auto a = FixedRegionAllocator::format(r.base(), kSize, FixedRegionAllocator::kScribbleFreed);
    const uint64_t empty = a.bytes_in_use();
    std::mt19937 rng(7);
    struct Piece {
        uint64_t off;
        size_t size;
        uint8_t tag;
    };
    std::vector<Piece> held;
    int bad = 0;
    uint8_t next_tag = 1;
    auto release = [&](size_t i) {
        const Piece &p = held[i];
        const unsigned char *q = reinterpret_cast<unsigned char *>(a.base() + p.off);
        for (size_t k = 0; k < p.size; ++k)
            if (q[k] != p.tag) {
                ++bad;
                break;
            }
        a.free(p.off, p.size);
        held[i] = held.back();
        held.pop_back();
    };
    for (int round = 0; round < 3000; ++round) {
        if (!held.empty() && (rng() % 2 == 0 || held.size() > 3000)) {
            for (int k = 0; k < 8 && !held.empty(); ++k) release(rng() % held.size());
            continue;
        }
        // A batch: one block cut into pieces of 16 to 400 bytes (granule multiples).
        std::vector<size_t> sizes(1 + rng() % 40);
        size_t total = 0;
        for (size_t &s : sizes) total += (s = 16 * (1 + rng() % 25));
        uint64_t off = a.allocate(total);
        if (off == 0)
            continue;
        for (size_t s : sizes) {
            uint8_t tag = next_tag++;
            if (next_tag == 0)
                next_tag = 1;
            std::memset(a.base() + off, tag, s);
            held.push_back(Piece{off, s, tag});
            off += s;
        }
    }
    while (!held.empty()) release(rng() % held.size());
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(a.bytes_in_use(), empty);
    // Everything came back as one block.
    EXPECT_NE(a.allocate(kSize - kSize / 64), 0u);
}
