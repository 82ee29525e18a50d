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

// Blocks with boundary tags (dlmalloc's scheme). A block starts with an 8-byte header word (its
// size, a multiple of 16, and two flags) and its payload follows, 16-byte aligned; blocks start
// at 8 mod 16. A free block also holds the links of its bin's doubly linked list right after the
// header and its size again in its last 8 bytes (the footer), so that freeing the block after it
// can find its start. Freeing merges a block with free neighbours on both sides, and a block
// ending at the never-used tail (the "wilderness") is given back to it: no two free blocks are
// ever adjacent, and freed memory of any size serves later requests of any size.
constexpr uint64_t kAllocMagic = 0x706d5f7265676e32ULL;  // "pm_regn2"
constexpr uint64_t kInUse = 1;      // this block is allocated
constexpr uint64_t kPrevInUse = 2;  // the block before it is allocated (else: read its footer)
constexpr uint64_t kFlags = 15;
constexpr uint64_t kMinBlock = 32;  // header, two links, footer
constexpr unsigned kMaxLog2 = 47;   // blocks below 128 TiB
constexpr uint64_t kMaxBlock = (uint64_t{1} << kMaxLog2) - 16;
// Bins: exact sizes 32..1024 in 16-byte steps, then four per power of two.
constexpr unsigned kExactBins = 63;
constexpr unsigned kBins = kExactBins + (kMaxLog2 - 10) * 4;
constexpr unsigned kBitmapWords = (kBins + 63) / 64;
constexpr unsigned kFirstFitWalk = 32;  // blocks examined in the request's own (range) bin

inline unsigned floor_log2(uint64_t v) {
    return 63u - static_cast<unsigned>(__builtin_clzll(v));
}

// Block size for a request (0: too large).
inline uint64_t block_size(size_t size) {
    if (size > kMaxBlock - 8)
        return 0;
    uint64_t b = (uint64_t{size} + 8 + 15) & ~uint64_t{15};
    return b < kMinBlock ? kMinBlock : b;
}

inline unsigned bin_of(uint64_t s) {
    if (s <= 1024)
        return static_cast<unsigned>(s / 16 - 2);
    unsigned k = floor_log2(s);
    return kExactBins + (k - 10) * 4 + static_cast<unsigned>((s >> (k - 2)) & 3);
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
    uint64_t bump;   // start of the wilderness (never used, or given back); under lock
    std::atomic<uint64_t> in_use;
    uint64_t bitmap[kBitmapWords];  // bins holding a free block; under lock
    uint64_t bins[kBins];           // per bin: first free block (its header's offset); under lock
};

namespace {

// The allocator's metadata words, under the header's lock. Every access unpoisons its 8 bytes
// first (free blocks are poisoned under kPoisonFreed, their metadata words excepted, but merged
// and split blocks move those words around).
struct Blocks {
    char *base;
    FixedRegionAllocator::Header *h;

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
    uint64_t size(uint64_t b) const { return rd(b) & ~kFlags; }
    void set_free(uint64_t b, uint64_t s) const {  // header and footer of a free block
        wr(b, s | kPrevInUse);  // its predecessor is allocated: free blocks never touch
        wr(b + s - 8, s);
    }
    void link(uint64_t b, uint64_t s) const {
        unsigned i = bin_of(s);
        uint64_t next = h->bins[i];
        wr(b + 8, next);
        wr(b + 16, 0);
        if (next != 0)
            wr(next + 16, b);
        h->bins[i] = b;
        h->bitmap[i / 64] |= uint64_t{1} << (i % 64);
    }
    void unlink(uint64_t b, uint64_t s) const {
        unsigned i = bin_of(s);
        uint64_t next = rd(b + 8), prev = rd(b + 16);
        if (prev != 0)
            wr(prev + 8, next);
        else
            h->bins[i] = next;
        if (next != 0)
            wr(next + 16, prev);
        if (h->bins[i] == 0)
            h->bitmap[i / 64] &= ~(uint64_t{1} << (i % 64));
    }
    // A free block of at least `need` bytes (unlinked), or 0.
    uint64_t take(uint64_t need) const {
        unsigned i = bin_of(need);
        if (h->bins[i] != 0) {
            if (i < kExactBins) {  // every block of an exact bin has the requested size
                uint64_t b = h->bins[i];
                unlink(b, need);
                return b;
            }
            unsigned walked = 0;
            for (uint64_t b = h->bins[i]; b != 0 && walked < kFirstFitWalk;
                 b = rd(b + 8), ++walked) {
                if (size(b) >= need) {
                    unlink(b, size(b));
                    return b;
                }
            }
        }
        // Any block of a higher bin is larger than the request.
        for (unsigned w = (i + 1) / 64; w < kBitmapWords; ++w) {
            uint64_t bits = h->bitmap[w];
            if (w == (i + 1) / 64)
                bits &= ~uint64_t{0} << ((i + 1) % 64);
            if (bits == 0)
                continue;
            unsigned j = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
            uint64_t b = h->bins[j];
            unlink(b, size(b));
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
    constexpr uint64_t hdr = (sizeof(Header) + 63) & ~uint64_t{63};
    if (base == nullptr || size < 4096 || size < hdr + 64)
        throw Error(Error::Code::InvalidArgument, "arrangement region too small");
    if (reinterpret_cast<uintptr_t>(base) % 64 != 0)
        throw Error(Error::Code::InvalidArgument, "arrangement region must be 64-byte aligned");
    PM_UNPOISON(base, size);
    Header *h = new (base) Header;
    h->magic = kAllocMagic;
    h->capacity = size;
    h->lock.store(0, std::memory_order_relaxed);
    h->debug = debug;
    h->bump = hdr + 8;  // payloads 16-byte aligned
    h->in_use.store(0, std::memory_order_relaxed);
    for (unsigned i = 0; i < kBitmapWords; ++i) h->bitmap[i] = 0;
    for (unsigned i = 0; i < kBins; ++i) h->bins[i] = 0;
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
    uint64_t b = 0;
    spin_lock(h->lock);
    b = bl.take(need);
    if (b != 0) {
        uint64_t s = bl.size(b);
        uint64_t prev_flag = bl.rd(b) & kPrevInUse;
        if (s - need >= kMinBlock) {  // split: the rest stays free (its successor is allocated)
            bl.set_free(b + need, s - need);
            bl.link(b + need, s - need);
        } else {
            need = s;
            if (b + s != h->bump)
                bl.wr(b + s, bl.rd(b + s) | kPrevInUse);
        }
        bl.wr(b, need | kInUse | prev_flag);
    } else if (h->bump <= h->capacity && need <= h->capacity - h->bump) {
        b = h->bump;
        h->bump += need;
        bl.wr(b, need | kInUse | kPrevInUse);  // the block before the wilderness is allocated
    }
    spin_unlock(h->lock);
    if (b == 0)
        return 0;
    PM_UNPOISON(base_ + b + 8, need - 8);
    h->in_use.fetch_add(need, std::memory_order_relaxed);
    return b + 8;
}

void FixedRegionAllocator::free(uint64_t offset, size_t size) {
    (void)size;  // the header knows
    if (offset < 8)
        return;
    Header *h = header();
    Blocks bl{base_, h};
    uint64_t b = offset - 8;
    const bool poison = PM_ASAN && (h->debug & kPoisonFreed) != 0;
    spin_lock(h->lock);
    // Read under the lock: the neighbour before may change our kPrevInUse bit meanwhile.
    uint64_t word = bl.rd(b);
    if ((word & kInUse) == 0) {  // not an allocated block (freed twice): leave the lists alone
        spin_unlock(h->lock);
        return;
    }
    uint64_t s = word & ~kFlags;
    if ((h->debug & (kScribbleFreed | kPoisonFreed)) != 0)  // test aid: under the lock is fine
        std::memset(base_ + b + 8, 0xdb, s - 8);
    uint64_t start = b, total = s;
    if ((word & kPrevInUse) == 0) {  // merge with the free block before
        uint64_t ps = bl.rd(b - 8);
        start = b - ps;
        bl.unlink(start, ps);
        total += ps;
    }
    uint64_t next = b + s;
    const bool to_wilderness = next == h->bump;
    if (to_wilderness) {
        h->bump = start;  // back to the wilderness
    } else {
        uint64_t nw = bl.rd(next);
        if ((nw & kInUse) == 0) {  // merge with the free block after
            uint64_t ns = nw & ~kFlags;
            bl.unlink(next, ns);
            total += ns;
        }
        bl.set_free(start, total);
        bl.link(start, total);
        uint64_t after = start + total;
        bl.wr(after, bl.rd(after) & ~kPrevInUse);
    }
    if (poison) {
        if (to_wilderness)
            PM_POISON(base_ + start, total);
        else if (total > 32)
            PM_POISON(base_ + start + 24, total - 32);
    }
    spin_unlock(h->lock);
    h->in_use.fetch_sub(s, std::memory_order_relaxed);
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
