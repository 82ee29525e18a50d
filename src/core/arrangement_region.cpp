// arrangement_region.cpp — FixedRegionAllocator (size classes in a shared region) and spin locks.
#include "parallel_material/core/cpu_relax.hpp"
#include "parallel_material/core/arrangement_region.hpp"

#include <sched.h>

#include <cstring>
#include <new>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define PM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define PM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define PM_ASAN 1
#else
#define PM_POISON(p, n) ((void)(p), (void)(n))
#define PM_UNPOISON(p, n) ((void)(p), (void)(n))
#define PM_ASAN 0
#endif

namespace pm::core {

namespace {

// Coalescing without a header on allocated blocks. Blocks are multiples of 16 bytes (granules)
// and a request's block size is its size rounded up to 16 (at least 16): free() is given that
// size back, so an allocated block carries nothing but its payload. A free block carries its
// size in its first and last 8 bytes (header and footer) and, from 32 bytes on, the links of its
// bin's doubly linked list after the header; 16-byte free blocks (a split's crumbs) sit in no
// list and wait for a neighbour to be freed. One bit per granule (a bitmap after the allocator
// header) says, at the first and the last granule of every block, whether that block is free: a
// freed block finds a free predecessor by the bit of the granule before it (and its start from
// that block's footer) and a free successor by the bit of the granule after it. Freeing merges
// with both, and a block ending at the never-used tail (the "wilderness") goes back to it; no
// two free blocks are ever adjacent, and memory freed in blocks of one size serves requests of
// any size. Bits inside a block are stale and never read.
constexpr uint64_t kAllocMagic = 0x706d5f7265676e33ULL;  // "pm_regn3"
constexpr uint64_t kGranule = 16;
constexpr unsigned kMaxLog2 = 47;  // blocks below 128 TiB
constexpr uint64_t kMaxBlock = (uint64_t{1} << kMaxLog2) - kGranule;
// Bins for free blocks of 32 bytes and more: exact sizes up to 1 KiB in 16-byte steps, then
// four per power of two.
constexpr unsigned kExactBins = 63;
constexpr unsigned kBins = kExactBins + (kMaxLog2 - 10) * 4;
constexpr unsigned kBinWords = (kBins + 63) / 64;
constexpr unsigned kFirstFitWalk = 32;  // blocks examined in the request's own (range) bin

inline unsigned floor_log2(uint64_t v) {
    return 63u - static_cast<unsigned>(__builtin_clzll(v));
}

// Block size for a request (0: too large).
inline uint64_t block_size(size_t size) {
    if (size > kMaxBlock)
        return 0;
    uint64_t b = (uint64_t{size} + kGranule - 1) & ~(kGranule - 1);
    return b < kGranule ? kGranule : b;
}

inline unsigned bin_of(uint64_t s) {  // s >= 32
    if (s <= 1024)
        return static_cast<unsigned>(s / 16 - 2);
    unsigned k = floor_log2(s);
    return kExactBins + (k - 10) * 4 + static_cast<unsigned>((s >> (k - 2)) & 3);
}

constexpr uint64_t round64(uint64_t v) {
    return (v + 63) & ~uint64_t{63};
}

}  // namespace

void spin_lock(std::atomic<uint32_t> &word) {
    unsigned spins = 0;
    for (;;) {
        if (word.load(std::memory_order_relaxed) == 0 &&
            word.exchange(1, std::memory_order_acquire) == 0)
            return;
        if (++spins < 64)
            cpu_relax();
        else
            sched_yield();
    }
}

void spin_unlock(std::atomic<uint32_t> &word) {
    word.store(0, std::memory_order_release);
}

struct FixedRegionAllocator::Header {
    uint64_t magic;
    uint64_t capacity;
    std::atomic<uint32_t> lock;
    uint32_t debug;  // kScribbleFreed | kPoisonFreed
    uint64_t first;  // offset of the first block (after this header and the bitmap)
    uint64_t bump;   // start of the wilderness (never used, or given back); under lock
    std::atomic<uint64_t> in_use;
    uint64_t bin_map[kBinWords];  // bins holding a free block; under lock
    uint64_t bins[kBins];         // per bin: first free block; under lock
    // followed (64-byte aligned) by the free-boundary bitmap: bit i for the granule at 16 * i
};

namespace {

constexpr uint64_t kHeaderBytes = round64(sizeof(FixedRegionAllocator::Header));

// The allocator's metadata, under the header's lock. Every access to a word inside a block
// unpoisons those 8 bytes first (free blocks are poisoned under kPoisonFreed, their metadata
// words excepted, but merges and splits move those words around).
struct Blocks {
    char *base;
    FixedRegionAllocator::Header *h;

    uint64_t *bits() const { return reinterpret_cast<uint64_t *>(base + kHeaderBytes); }
    bool is_free(uint64_t granule_off) const {
        uint64_t g = granule_off / kGranule;
        return (bits()[g / 64] >> (g % 64)) & 1;
    }
    void mark(uint64_t granule_off, bool free) const {
        uint64_t g = granule_off / kGranule;
        if (free)
            bits()[g / 64] |= uint64_t{1} << (g % 64);
        else
            bits()[g / 64] &= ~(uint64_t{1} << (g % 64));
    }
    uint64_t rd(uint64_t off) const {
        PM_UNPOISON(base + off, 8);
        uint64_t v;
        std::memcpy(&v, base + off, sizeof v);
        return v;
    }
    void wr(uint64_t off, uint64_t v) const {
        PM_UNPOISON(base + off, 8);
        std::memcpy(base + off, &v, sizeof v);
    }
    void link(uint64_t b, uint64_t s) const {
        if (s < 32)
            return;  // a crumb: in no list
        unsigned i = bin_of(s);
        uint64_t next = h->bins[i];
        wr(b + 8, next);
        wr(b + 16, 0);
        if (next != 0)
            wr(next + 16, b);
        h->bins[i] = b;
        h->bin_map[i / 64] |= uint64_t{1} << (i % 64);
    }
    void unlink(uint64_t b, uint64_t s) const {
        if (s < 32)
            return;
        unsigned i = bin_of(s);
        uint64_t next = rd(b + 8), prev = rd(b + 16);
        if (prev != 0)
            wr(prev + 8, next);
        else
            h->bins[i] = next;
        if (next != 0)
            wr(next + 16, prev);
        if (h->bins[i] == 0)
            h->bin_map[i / 64] &= ~(uint64_t{1} << (i % 64));
    }
    // Makes [b, b + s) one free block: header, footer, boundary bits, bin.
    void make_free(uint64_t b, uint64_t s) const {
        wr(b, s);
        wr(b + s - 8, s);
        mark(b, true);
        mark(b + s - kGranule, true);
        link(b, s);
    }
    // Marks [b, b + s) allocated (its boundary bits).
    void make_used(uint64_t b, uint64_t s) const {
        mark(b, false);
        mark(b + s - kGranule, false);
    }
    // A free block of at least `need` bytes, unlinked (its size in *size), or 0.
    uint64_t take(uint64_t need, uint64_t *size) const {
        unsigned from = 0;
        if (need >= 32) {
            unsigned i = bin_of(need);
            if (h->bins[i] != 0) {
                if (i < kExactBins) {  // every block of an exact bin has the requested size
                    uint64_t b = h->bins[i];
                    unlink(b, need);
                    *size = need;
                    return b;
                }
                unsigned walked = 0;
                for (uint64_t b = h->bins[i]; b != 0 && walked < kFirstFitWalk;
                     b = rd(b + 8), ++walked) {
                    uint64_t s = rd(b);
                    if (s >= need) {
                        unlink(b, s);
                        *size = s;
                        return b;
                    }
                }
            }
            from = i + 1;
        }
        // Any block of a higher bin is larger than the request.
        for (unsigned w = from / 64; w < kBinWords; ++w) {
            uint64_t m = h->bin_map[w];
            if (w == from / 64)
                m &= ~uint64_t{0} << (from % 64);
            if (m == 0)
                continue;
            uint64_t b = h->bins[w * 64 + static_cast<unsigned>(__builtin_ctzll(m))];
            uint64_t s = rd(b);
            unlink(b, s);
            *size = s;
            return b;
        }
        return 0;
    }
};

}  // namespace

FixedRegionAllocator::Header *FixedRegionAllocator::header() const {
    return reinterpret_cast<Header *>(base_);
}

FixedRegionAllocator FixedRegionAllocator::format(char *base, size_t size, uint32_t debug) {
    if (base == nullptr || size < 4096)
        throw Error(Error::Code::InvalidArgument, "arrangement region too small");
    if (reinterpret_cast<uintptr_t>(base) % 64 != 0)
        throw Error(Error::Code::InvalidArgument, "arrangement region must be 64-byte aligned");
    if (size > (uint64_t{1} << kMaxLog2))
        throw Error(Error::Code::InvalidArgument, "arrangement region too large");
    uint64_t bitmap_bytes = round64((uint64_t{size} / kGranule + 7) / 8);
    uint64_t first = kHeaderBytes + bitmap_bytes;
    if (first + 64 > size)
        throw Error(Error::Code::InvalidArgument, "arrangement region too small");
    PM_UNPOISON(base, size);
    Header *h = new (base) Header;
    h->magic = kAllocMagic;
    h->capacity = size;
    h->lock.store(0, std::memory_order_relaxed);
    h->debug = debug;
    h->first = first;
    h->bump = first;
    h->in_use.store(0, std::memory_order_relaxed);
    for (unsigned i = 0; i < kBinWords; ++i) h->bin_map[i] = 0;
    for (unsigned i = 0; i < kBins; ++i) h->bins[i] = 0;
    std::memset(base + kHeaderBytes, 0, bitmap_bytes);
    return FixedRegionAllocator(base);
}

FixedRegionAllocator FixedRegionAllocator::attach(char *base) {
    if (base == nullptr || reinterpret_cast<Header *>(base)->magic != kAllocMagic)
        throw Error(Error::Code::InvalidArgument, "not a formatted arrangement region");
    return FixedRegionAllocator(base);
}

size_t FixedRegionAllocator::rounded_size(size_t size) {
    return static_cast<size_t>(block_size(size));
}

uint64_t FixedRegionAllocator::capacity() const {
    return header()->capacity;
}

uint64_t FixedRegionAllocator::bytes_in_use() const {
    return header()->in_use.load(std::memory_order_relaxed);
}

uint64_t FixedRegionAllocator::allocate(size_t size) {
    uint64_t need = block_size(size);
    if (need == 0)
        return 0;
    Header *h = header();
    Blocks bl{base_, h};
    uint64_t s = 0;
    spin_lock(h->lock);
    uint64_t b = bl.take(need, &s);
    if (b != 0) {
        if (s > need)  // split: the rest stays free (its successor is allocated)
            bl.make_free(b + need, s - need);
        bl.make_used(b, need);
    } else if (need <= h->capacity - h->bump) {
        b = h->bump;
        h->bump += need;
        bl.make_used(b, need);
    }
    spin_unlock(h->lock);
    if (b == 0)
        return 0;
    PM_UNPOISON(base_ + b, need);
    h->in_use.fetch_add(need, std::memory_order_relaxed);
    return b;
}

void FixedRegionAllocator::free(uint64_t offset, size_t size) {
    uint64_t need = block_size(size);
    Header *h = header();
    if (offset == 0 || need == 0 || offset < h->first || offset % kGranule != 0)
        return;
    Blocks bl{base_, h};
    const bool poison = PM_ASAN && (h->debug & kPoisonFreed) != 0;
    spin_lock(h->lock);
    if (offset + need > h->bump || bl.is_free(offset)) {  // not an allocated block: ignore
        spin_unlock(h->lock);
        return;
    }
    if ((h->debug & (kScribbleFreed | kPoisonFreed)) != 0)  // test aid: under the lock is fine
        std::memset(base_ + offset, 0xdb, need);
    // A merged neighbour's boundary bits are cleared: bits are set only at the first and last
    // granule of free blocks, never inside a block (free or allocated). So a block may also be
    // freed in pieces (each piece at least a granule, on granule boundaries: insert_bulk
    // allocates a batch's versions as one block and frees each on its own).
    uint64_t start = offset, total = need;
    if (offset > h->first && bl.is_free(offset - kGranule)) {  // merge with the block before
        uint64_t ps = bl.rd(offset - 8);
        start = offset - ps;
        bl.unlink(start, ps);
        bl.make_used(start, ps);
        total += ps;
    }
    uint64_t next = offset + need;
    const bool to_wilderness = next == h->bump;
    if (to_wilderness) {
        h->bump = start;  // back to the wilderness
    } else {
        if (bl.is_free(next)) {  // merge with the block after
            uint64_t ns = bl.rd(next);
            bl.unlink(next, ns);
            bl.make_used(next, ns);
            total += ns;
        }
        bl.make_free(start, total);
    }
    if (poison) {
        if (to_wilderness)
            PM_POISON(base_ + start, total);
        else if (total > 32)
            PM_POISON(base_ + start + 24, total - 32);
    }
    spin_unlock(h->lock);
    h->in_use.fetch_sub(need, std::memory_order_relaxed);
}

void SpinWriterLock::format(void *words, uint32_t stripes) {
    auto *w = static_cast<std::atomic<uint32_t> *>(words);
    for (uint32_t i = 0; i < stripes; ++i) new (&w[i]) std::atomic<uint32_t>(0);
}

SpinWriterLock::SpinWriterLock(void *words, uint32_t stripes)
    : words_(static_cast<std::atomic<uint32_t> *>(words)), stripes_(stripes) {
    if (words == nullptr || stripes == 0)
        throw Error(Error::Code::InvalidArgument, "SpinWriterLock needs at least one word");
}

void SpinWriterLock::lock(uint32_t stripe) {
    spin_lock(words_[stripe % stripes_]);
}

void SpinWriterLock::unlock(uint32_t stripe) {
    spin_unlock(words_[stripe % stripes_]);
}

}  // namespace pm::core
