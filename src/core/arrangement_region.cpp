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


constexpr uint64_t kAllocMagic = 0x706d5f7265676e31ULL;  // "pm_regn1"
constexpr size_t kSmallStep = 16;
constexpr size_t kSmallMax = 256;
constexpr unsigned kSmallClasses = kSmallMax / kSmallStep;  // 16..256
constexpr unsigned kMaxLog2 = 47;                           // blocks up to 128 TiB
constexpr unsigned kClasses = kSmallClasses + (kMaxLog2 - 8) * 4;

inline unsigned floor_log2(uint64_t v) {
    return 63u - static_cast<unsigned>(__builtin_clzll(v));
}

// Class index and class size for a request; returns false when the request is too large.
bool size_class(size_t size, unsigned *cls, size_t *rounded) {
    if (size == 0)
        size = 1;
    if (size <= kSmallMax) {
        unsigned i = static_cast<unsigned>((size + kSmallStep - 1) / kSmallStep);
        *cls = i - 1;
        *rounded = i * kSmallStep;
        return true;
    }
    unsigned k = floor_log2(size - 1);  // 2^k < size <= 2^(k+1), k >= 8
    if (k >= kMaxLog2)
        return false;
    uint64_t pow = uint64_t{1} << k;
    uint64_t step = pow >> 2;
    uint64_t j = (size - pow + step - 1) / step;  // 1..4
    *cls = kSmallClasses + (k - 8) * 4 + static_cast<unsigned>(j - 1);
    *rounded = pow + j * step;
    return true;
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
    uint64_t bump;   // next never-used offset; under lock
    std::atomic<uint64_t> in_use;
    uint64_t free_heads[kClasses];  // per class: offset of the first free block; under lock
};

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
    h->bump = hdr;
    h->in_use.store(0, std::memory_order_relaxed);
    for (unsigned i = 0; i < kClasses; ++i) h->free_heads[i] = 0;
    return FixedRegionAllocator(base);
}

FixedRegionAllocator FixedRegionAllocator::attach(char *base) {
    if (base == nullptr || reinterpret_cast<Header *>(base)->magic != kAllocMagic)
        throw Error(Error::Code::InvalidArgument, "not a formatted arrangement region");
    return FixedRegionAllocator(base);
}

size_t FixedRegionAllocator::rounded_size(size_t size) {
    unsigned cls;
    size_t rounded;
    if (!size_class(size, &cls, &rounded))
        return 0;
    return rounded;
}

uint64_t FixedRegionAllocator::capacity() const {
    return header()->capacity;
}

uint64_t FixedRegionAllocator::bytes_in_use() const {
    return header()->in_use.load(std::memory_order_relaxed);
}

uint64_t FixedRegionAllocator::allocate(size_t size) {
    unsigned cls;
    size_t rounded;
    if (!size_class(size, &cls, &rounded))
        return 0;
    Header *h = header();
    uint64_t off = 0;
    spin_lock(h->lock);
    if (h->free_heads[cls] != 0) {
        off = h->free_heads[cls];
        char *p = base_ + off;
        PM_UNPOISON(p, sizeof(uint64_t));
        uint64_t next;
        std::memcpy(&next, p, sizeof next);
        h->free_heads[cls] = next;
    } else if (rounded <= h->capacity - h->bump) {
        off = h->bump;
        h->bump += rounded;
    }
    spin_unlock(h->lock);
    if (off == 0)
        return 0;
    PM_UNPOISON(base_ + off, rounded);
    h->in_use.fetch_add(rounded, std::memory_order_relaxed);
    return off;
}

void FixedRegionAllocator::free(uint64_t offset, size_t size) {
    if (offset == 0)
        return;
    unsigned cls;
    size_t rounded;
    if (!size_class(size, &cls, &rounded))
        return;
    Header *h = header();
    char *p = base_ + offset;
    const bool poison = PM_ASAN && (h->debug & kPoisonFreed) != 0;
    if ((h->debug & (kScribbleFreed | kPoisonFreed)) != 0)
        std::memset(p, 0xdb, rounded);
    spin_lock(h->lock);
    uint64_t next = h->free_heads[cls];
    std::memcpy(p, &next, sizeof next);
    h->free_heads[cls] = offset;
    if (poison)
        PM_POISON(p, rounded);
    spin_unlock(h->lock);
    h->in_use.fetch_sub(rounded, std::memory_order_relaxed);
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
