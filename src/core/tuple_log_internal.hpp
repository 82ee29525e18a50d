// tuple_log_internal.hpp — what the tuple log's source files share and nothing else includes:
// the record, mark, slot-state and producer word encodings, the ring copy primitives (seqlock
// copies, TSan-friendly under ThreadSanitizer), the Slot and Header layouts of the region, and
// the inline accessors of the hot paths (kept inline here so that splitting the log by concern
// costs no call on append or read).
#pragma once

#include "parallel_material/core/cpu_relax.hpp"
#include "parallel_material/core/tuple_log.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace pm::core {

namespace log_detail {

static_assert(std::atomic<uint64_t>::is_always_lock_free, "64-bit atomics must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "32-bit atomics must be lock-free");

constexpr uint64_t kMagic = 0x31474f4c4d545050ull;  // "PPTMLOG1"
// Record header word: bits 0..31 len + 1 (0 = not published), bit 32 oversize (payload is an
// 8-byte spill-file offset), bits 33..63 the previous record's footprint / 8 (single producer).
constexpr uint64_t kLenMask = TupleLog::kHeaderLenMask;
constexpr uint64_t kOversize = TupleLog::kHeaderOversize;
constexpr int kPrevShift = TupleLog::kHeaderPrevShift;
// Multi-producer logs only (they carry no backward link): a chunk's padding. The producer that
// closes its chunk before the chunk's end writes this word (length 0) where its next record
// would have gone; a reader that reads it jumps to the next chunk.
constexpr uint64_t kPad = uint64_t{1} << 33;
// Multi-producer logs: chunks of min(page, 16 KiB); a chunk's mark is
// (chunk number + 1) << kMarkTagShift | bytes of the chunk published from its start.
constexpr uint32_t kChunkShiftMax = 14;
constexpr int kMarkTagShift = 24;
constexpr uint64_t kMarkBytesMask = (uint64_t{1} << kMarkTagShift) - 1;
// Slot state word: (page + 1) << 2 | flags; 0 = the slot never held a page.
constexpr uint64_t kClaimed = 1;    // a writer is recycling the slot; readers still read the ring
constexpr uint64_t kRecycling = 2;  // the old page is in the file; readers go there
// Producer word: bit 63 sealed, low bits the active producer count.
constexpr uint64_t kSealed = uint64_t{1} << 63;
constexpr uint32_t kMaxLen = uint32_t{1} << 30;
constexpr uint64_t kMaxRingBytes = uint64_t{1} << 34;
constexpr size_t kSpillBatch = 8;
constexpr uint32_t kPinShards = 4;      // readers of different handles pin different lines
constexpr uint64_t kRecordsBatch = 64;  // appends counted locally before the shared add

inline uint64_t align8(uint64_t x) {
    return (x + 7) & ~uint64_t{7};
}
inline uint64_t enc(uint64_t page, uint64_t flags) {
    return ((page + 1) << 2) | flags;
}
inline bool has_page(uint64_t st) {
    return st >= 4;
}
inline uint64_t page_of(uint64_t st) {
    return (st >> 2) - 1;
}

inline uint64_t mark_word(uint64_t chunk, uint64_t bytes) {
    return ((chunk + 1) << kMarkTagShift) | bytes;
}
inline uint32_t chunk_shift_for(const LogConfig &cfg) {
    return std::min<uint32_t>(static_cast<uint32_t>(__builtin_ctz(cfg.page_size)), kChunkShiftMax);
}
// Bytes of the chunk marks of a multi-producer log (none in a single_producer log).
inline size_t marks_bytes(const LogConfig &cfg) {
    if (cfg.single_producer)
        return 0;
    const uint64_t nmarks = (uint64_t{cfg.page_size} * cfg.ring_pages) >> chunk_shift_for(cfg);
    return static_cast<size_t>((nmarks * 8 + 63) & ~uint64_t{63});
}

inline uint64_t record_footprint(uint64_t word) {
    return (word & kOversize) ? 16 : align8(8 + (word & kLenMask) - 1);
}

inline uint64_t load_word(const char *p) {
    return __atomic_load_n(reinterpret_cast<const uint64_t *>(p), __ATOMIC_ACQUIRE);
}
inline void store_word(char *p, uint64_t v) {
    __atomic_store_n(reinterpret_cast<uint64_t *>(p), v, __ATOMIC_RELEASE);
}

// Ring payload bytes. A reader copies a record out of the ring without any pin and validates
// the slot state afterwards (see "Read" in docs/tuple-log.md): a recycler may overwrite the page
// while a lagging reader copies it, and the reader then discards its copy. Such a copy races
// with the overwrite by design (a seqlock); it is never used. Under ThreadSanitizer these
// copies are done with relaxed atomic accesses (8-byte words where the ring side is aligned),
// so the sanitizer checks the same protocol without reporting the intended race; otherwise
// they are plain memcpy/memset. (GCC's TSan does not support atomic_thread_fence, so there the
// seqlock fences become no-ops and the ring accesses themselves are release stores and acquire
// loads, which give the same ordering access by access.)
#if defined(__SANITIZE_THREAD__)
#define PM_RING_ATOMIC_COPY 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PM_RING_ATOMIC_COPY 1
#endif
#endif

#ifdef PM_RING_ATOMIC_COPY
inline void seq_fence_release() {}
inline void seq_fence_acquire() {}
inline void ring_bytes_op(char *ring, const char *plain, size_t n, bool to_ring) {
    size_t i = 0;
    auto byte = [&](size_t k) {
        if (to_ring)
            __atomic_store_n(ring + k, plain ? plain[k] : char{0}, __ATOMIC_RELEASE);
        else
            const_cast<char *>(plain)[k] = __atomic_load_n(ring + k, __ATOMIC_ACQUIRE);
    };
    for (; i < n && (reinterpret_cast<uintptr_t>(ring + i) & 7) != 0; ++i) byte(i);
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        if (to_ring) {
            if (plain)
                std::memcpy(&w, plain + i, 8);
            __atomic_store_n(reinterpret_cast<uint64_t *>(ring + i), w, __ATOMIC_RELEASE);
        } else {
            w = __atomic_load_n(reinterpret_cast<uint64_t *>(ring + i), __ATOMIC_ACQUIRE);
            std::memcpy(const_cast<char *>(plain) + i, &w, 8);
        }
    }
    for (; i < n; ++i) byte(i);
}
inline void ring_store(char *dst, const void *src, size_t n) {
    ring_bytes_op(dst, static_cast<const char *>(src), n, true);
}
inline void ring_load(void *dst, const char *src, size_t n) {
    ring_bytes_op(const_cast<char *>(src), static_cast<const char *>(dst), n, false);
}
#else
inline void seq_fence_release() {
    std::atomic_thread_fence(std::memory_order_release);
}
inline void seq_fence_acquire() {
    std::atomic_thread_fence(std::memory_order_acquire);
}
// Short records (tuples of a few columns) are copied inline with two overlapping fixed-size
// moves instead of a call to memcpy, whose call and size dispatch cost as much as the copy.
inline void copy_bytes(char *dst, const char *src, size_t n) {
    if (n > 32) {
        std::memcpy(dst, src, n);
    } else if (n >= 16) {
        char a[16], b[16];
        std::memcpy(a, src, 16);
        std::memcpy(b, src + n - 16, 16);
        std::memcpy(dst, a, 16);
        std::memcpy(dst + n - 16, b, 16);
    } else if (n >= 8) {
        uint64_t a, b;
        std::memcpy(&a, src, 8);
        std::memcpy(&b, src + n - 8, 8);
        std::memcpy(dst, &a, 8);
        std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        std::memcpy(&a, src, 4);
        std::memcpy(&b, src + n - 4, 4);
        std::memcpy(dst, &a, 4);
        std::memcpy(dst + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    }
}
inline void ring_store(char *dst, const void *src, size_t n) {
    copy_bytes(dst, static_cast<const char *>(src), n);
}
inline void ring_load(void *dst, const char *src, size_t n) {
    copy_bytes(static_cast<char *>(dst), src, n);
}
#endif


// Asymmetric fences (membarrier(2)). A single-producer writer publishes with a plain release
// store followed by a load of the sleep flag: a StoreLoad pair that, alone, could be reordered
// and lose a wake-up. The rare side, a reader about to sleep, pays instead: after setting the
// flag it runs MEMBARRIER_CMD_GLOBAL_EXPEDITED, which executes a full memory barrier on every
// CPU running a thread of a process registered for it (and a CPU that is not running such a
// thread has passed through a context switch, itself a full barrier). So either the writer's
// flag load sees the flag, or its publication is visible to the reader's re-check. The writer's
// process registers once (per process: fork() children register again); readers need no
// registration. Works across processes sharing the log (DSM), unlike the PRIVATE command.
// Asymmetric fences (membarrier(2)); defined in tuple_log.cpp, see there.
bool register_membarrier();
bool membarrier_all();
void validate(const LogConfig &cfg);

}  // namespace log_detail

using namespace log_detail;

// Per ring slot: a read-mostly state line, the writers' commit counter, readers' pin lines.
struct alignas(64) TupleLog::Slot {
    std::atomic<uint64_t> state;    // enc(page, flags) of the page the slot holds
    std::atomic<uint64_t> spilled;  // page + 1 of the last page of this slot in the spill file
    alignas(64) std::atomic<uint64_t> committed;  // bytes of the current page written
    // Readers (and batch spillers) copying out of the page, sharded by handle.
    struct alignas(64) Pin {
        std::atomic<uint32_t> n;
    } pins[kPinShards];
};

struct alignas(64) TupleLog::Header {
    // Constant after create().
    uint64_t magic;
    LogConfig cfg;
    uint32_t page_shift;
    uint64_t ring_bytes;
    uint64_t inline_max;  // largest in-log footprint; longer records go out of line
    uint64_t slots_off;
    uint64_t marks_off;  // multi-producer logs: one 8-byte mark per ring chunk
    uint64_t pages_off;
    uint32_t chunk_shift;
    // Writers' line: reservation and record count (one line transfer between producers).
    alignas(64) std::atomic<uint64_t> tail;
    std::atomic<uint64_t> records;
    // single_producer logs only, on its own line (readers that caught up poll it): every byte
    // below it is published (publication order is log order there), so readers need no zeroed
    // header to tell, and pages are never zeroed. Its seq_cst store is the writer's side of the
    // sleep handshake in such logs (tail is then written by a plain store).
    alignas(64) std::atomic<uint64_t> published;
    // Read-mostly line: producers/sealed, failed, and the sleep flag (set by a reader about to
    // sleep, cleared by the writer that wakes it; writers only load it while nobody sleeps).
    alignas(64) std::atomic<uint64_t> producers;
    std::atomic<uint32_t> failed;
    std::atomic<uint32_t> sleepers;
    // Set (before its first such publication) by a single-producer writer that publishes with
    // a release store and relies on sleeping readers' membarrier (see register_membarrier).
    std::atomic<uint32_t> light_publish;
    // Rarely written counters.
    alignas(64) std::atomic<uint64_t> overflow_next;
    std::atomic<uint64_t> pages_spilled;
    std::atomic<uint64_t> oversize_records;
    std::atomic<uint64_t> pages_touched;
    std::atomic<uint64_t> sp_prev;  // footprint of the last record (single producer)
    std::atomic<uint32_t> next_shard;
};

// The mark of `chunk`. Consecutive chunks (usually owned by different producers) have their
// marks on different cache lines: ring chunk m is word m / lines of line m % lines.
inline std::atomic<uint64_t> &TupleLog::mark(uint64_t chunk) const {
    const uint64_t m = chunk & chunk_mask_;
    return marks_[((m & line_mask_) << 3) | (m >> line_shift_)];
}

inline TupleLog::Slot &TupleLog::slot(uint64_t page) const {
    return slots_[page & ring_mask_];
}
inline char *TupleLog::page_ptr(uint64_t page) const {
    return pages_ + ((page & ring_mask_) << shift_);
}

}  // namespace pm::core
