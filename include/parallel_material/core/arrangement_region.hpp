// arrangement_region.hpp — offset-addressed region allocator and writer locks for arrangements.
//
// Everything an arrangement keeps in shared memory is addressed by a 64-bit offset from the
// region's base address, never by a pointer: PostgreSQL maps DSM segments at a different address
// in every process. Offset 0 is "null" and never a valid allocation.
//
// RegionAllocator and WriterLock are interfaces so that the PostgreSQL adapter can supply its own
// (e.g. a WriterLock over an LWLock tranche). FixedRegionAllocator and SpinWriterLock are plain
// implementations whose whole state lives inside shared memory, so they work across threads and
// fork()ed processes alike; the unit tests use them and the adapter may too (a fixed budget carved
// out of the extension's shared memory or one huge DSA chunk).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "parallel_material/core/error.hpp"

namespace pm::core {

// Allocates blocks inside one contiguous region [base(), base() + capacity).
// Thread- and process-safe (each process uses its own handle over the same region).
class RegionAllocator {
  public:
    virtual ~RegionAllocator() = default;
    // Returns the offset of a block of at least `size` bytes, 16-byte aligned; 0 when the region
    // (the memory budget) is exhausted. Never throws.
    virtual uint64_t allocate(size_t size) = 0;
    // Returns a block; `size` is the size passed to allocate().
    virtual void free(uint64_t offset, size_t size) = 0;
    // This process's mapping of offset 0.
    virtual char *base() const = 0;
    // Bytes currently handed out (rounded sizes); informational.
    virtual uint64_t bytes_in_use() const = 0;
    // The same, charged to `account` (0: nobody): an allocator may refuse a request that would
    // take an account over its quota (returns 0, as when the region is full). ArrangementIndex
    // always calls these, with the account given at create(); the defaults ignore it.
    virtual uint64_t allocate_for(uint32_t account, size_t size) {
        (void)account;
        return allocate(size);
    }
    virtual void free_for(uint32_t account, uint64_t offset, size_t size) {
        (void)account;
        free(offset, size);
    }
};

// A coalescing allocator whose state (a header and a bitmap at offset 0) lives in the region
// itself. A request takes its size rounded up to 16 bytes (at least 16), with no per-block
// header: free() is given the size back. Free blocks keep their size at both ends and sit in bins
// (exact sizes up to 1 KiB, then four per power of two); one bit per 16-byte granule marks the
// first and last granule of each free block, so a freed block merges with free neighbours on both
// sides, and a block ending at the never-used tail goes back to it. So memory freed in blocks of
// one size serves later requests of any size: a region filled with small blocks, then emptied,
// hands out one block of nearly its capacity. The bitmap costs 1/128 of the region. Fresh memory
// comes from a bump pointer. One spin lock in the region serializes allocate/free; arrangements
// allocate once per row version, outside their own locks.
// Debug aids for tests (format's `debug` bits): kScribbleFreed overwrites freed blocks with 0xdb,
// so a reader of reclaimed memory sees garbage; kPoisonFreed also poisons them under
// AddressSanitizer (ignored otherwise), so such a reader is reported. ASan's shadow memory is per
// process: use kPoisonFreed only when a single process uses the region (threads), since a block
// freed and poisoned by one process and reused by another would stay poisoned in the first.
class FixedRegionAllocator final : public RegionAllocator {
  public:
    // Formats [base, base + size) (64-byte aligned, size >= 4096) and returns a handle.
    static constexpr uint32_t kScribbleFreed = 1;
    static constexpr uint32_t kPoisonFreed = 2;
    static FixedRegionAllocator format(char *base, size_t size, uint32_t debug = 0);
    // A handle over a region formatted by another handle/process (mapped at `base` here).
    static FixedRegionAllocator attach(char *base);

    uint64_t allocate(size_t size) override;
    void free(uint64_t offset, size_t size) override;
    char *base() const override { return base_; }
    uint64_t bytes_in_use() const override;
    uint64_t capacity() const;

    // Bytes a request of `size` takes from the region (its block: size rounded up to 16, at
    // least 16); 0 when it is too large.
    static size_t rounded_size(size_t size);

    struct Header;  // in the region at offset 0 (defined in the .cpp)

  private:
    explicit FixedRegionAllocator(char *base) : base_(base) {}
    Header *header() const;
    char *base_;
};

// Serializes writers of one arrangement. A lock may be striped: writers of bucket b take stripe
// b % stripes(). A single lock is stripes() == 1. lock()/unlock() may be called from any
// process; the adapter maps this to an LWLock tranche. Readers never take it.
class WriterLock {
  public:
    virtual ~WriterLock() = default;
    virtual uint32_t stripes() const = 0;
    virtual void lock(uint32_t stripe) = 0;
    virtual void unlock(uint32_t stripe) = 0;
};

// Test-and-test-and-set spin locks over `stripes` 32-bit words in shared memory (one word per
// stripe, placed by the caller: e.g. allocated from the region). Backs off with sched_yield().
class SpinWriterLock final : public WriterLock {
  public:
    // Bytes needed for `stripes` lock words; format() zeroes them (unlocked).
    static size_t bytes(uint32_t stripes) { return sizeof(std::atomic<uint32_t>) * stripes; }
    static void format(void *words, uint32_t stripes);
    SpinWriterLock(void *words, uint32_t stripes);

    uint32_t stripes() const override { return stripes_; }
    void lock(uint32_t stripe) override;
    void unlock(uint32_t stripe) override;

  private:
    std::atomic<uint32_t> *words_;
    uint32_t stripes_;
};

// Spin lock primitives over one shared 32-bit word (used by the allocator and the index).
void spin_lock(std::atomic<uint32_t> &word);
void spin_unlock(std::atomic<uint32_t> &word);

static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free");

}  // namespace pm::core
