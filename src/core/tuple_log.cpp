// tuple_log.cpp — the shared append-only tuple log: region layout, append/publish, read, recycle.
#include "parallel_material/core/cpu_relax.hpp"
#include "parallel_material/core/tuple_log.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pm::core {

namespace {

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
bool register_membarrier() {
    static std::atomic<long> registered_pid{0};  // > 0: registered; < 0: unavailable
    const long me = static_cast<long>(getpid());
    const long seen = registered_pid.load(std::memory_order_acquire);
    if (seen == me)
        return true;
    if (seen == -me)
        return false;
    const long q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    const bool ok = q >= 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
                    (q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0 &&
                    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
    registered_pid.store(ok ? me : -me, std::memory_order_release);
    return ok;
}
bool membarrier_all() {
    return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

bool is_pow2(uint64_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

void validate(const LogConfig &cfg) {
    if (!is_pow2(cfg.page_size) || cfg.page_size < 4096 || cfg.page_size > (uint32_t{1} << 30))
        throw Error(Error::Code::InvalidArgument,
                    "tuple log: page_size must be a power of two in [4096, 1 GiB], got " +
                        std::to_string(cfg.page_size));
    if (!is_pow2(cfg.ring_pages) || cfg.ring_pages < 2)
        throw Error(Error::Code::InvalidArgument,
                    "tuple log: ring_pages must be a power of two >= 2, got " +
                        std::to_string(cfg.ring_pages));
    if (uint64_t{cfg.page_size} * cfg.ring_pages > kMaxRingBytes)
        throw Error(Error::Code::InvalidArgument, "tuple log: ring larger than 16 GiB");
}

}  // namespace

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

size_t TupleLog::region_size(const LogConfig &cfg) {
    validate(cfg);
    return sizeof(Header) + size_t{cfg.ring_pages} * sizeof(Slot) + marks_bytes(cfg) +
           size_t{cfg.ring_pages} * cfg.page_size;
}

void TupleLog::create(void *region, const LogConfig &cfg) {
    validate(cfg);
    if (region == nullptr || (reinterpret_cast<uintptr_t>(region) & 63) != 0)
        throw Error(Error::Code::InvalidArgument, "tuple log: region must be 64-byte aligned");
    Header *h = new (region) Header();
    h->cfg = cfg;
    h->page_shift = static_cast<uint32_t>(__builtin_ctz(cfg.page_size));
    h->ring_bytes = uint64_t{cfg.page_size} * cfg.ring_pages;
    h->inline_max = h->ring_bytes / 2;
    h->slots_off = sizeof(Header);
    h->marks_off = sizeof(Header) + size_t{cfg.ring_pages} * sizeof(Slot);
    h->pages_off = h->marks_off + marks_bytes(cfg);
    h->chunk_shift = chunk_shift_for(cfg);
    h->tail.store(0, std::memory_order_relaxed);
    h->records.store(0, std::memory_order_relaxed);
    h->published.store(0, std::memory_order_relaxed);
    h->sleepers.store(0, std::memory_order_relaxed);
    h->light_publish.store(0, std::memory_order_relaxed);
    h->producers.store(0, std::memory_order_relaxed);
    h->failed.store(0, std::memory_order_relaxed);
    h->overflow_next.store(0, std::memory_order_relaxed);
    h->pages_spilled.store(0, std::memory_order_relaxed);
    h->oversize_records.store(0, std::memory_order_relaxed);
    h->pages_touched.store(0, std::memory_order_relaxed);
    h->sp_prev.store(0, std::memory_order_relaxed);
    h->next_shard.store(0, std::memory_order_relaxed);
    char *slots = static_cast<char *>(region) + h->slots_off;
    for (uint32_t i = 0; i < cfg.ring_pages; ++i) {
        Slot *s = new (slots + i * sizeof(Slot)) Slot();
        s->state.store(0, std::memory_order_relaxed);
        s->spilled.store(0, std::memory_order_relaxed);
        s->committed.store(0, std::memory_order_relaxed);
        for (auto &pin : s->pins) pin.n.store(0, std::memory_order_relaxed);
    }
    // Chunk marks start at tag 0 ("chunk -1"): nothing published. They must be cleared on every
    // (re)creation: a mark left by an earlier use of the region would vouch for stale bytes.
    auto *marks = reinterpret_cast<std::atomic<uint64_t> *>(static_cast<char *>(region) + h->marks_off);
    for (size_t i = 0; i < marks_bytes(cfg) / 8; ++i)
        new (&marks[i]) std::atomic<uint64_t>(0);
    h->magic = kMagic;
}

void TupleLog::reset(void *region) {
    Header *h = static_cast<Header *>(region);
    if (h->magic != kMagic)
        throw Error(Error::Code::InvalidArgument, "tuple log: reset of a region without a log");
    LogConfig cfg = h->cfg;
    create(region, cfg);
}

TupleLog::TupleLog(void *region, SpillFile *spill, WaitHooks *hooks)
    : hdr_(static_cast<Header *>(region)),
      base_(static_cast<char *>(region)),
      spill_(spill),
      hooks_(hooks) {
    if (region == nullptr || hdr_->magic != kMagic)
        throw Error(Error::Code::InvalidArgument, "tuple log: region holds no created log");
    slots_ = reinterpret_cast<Slot *>(base_ + hdr_->slots_off);
    pages_ = base_ + hdr_->pages_off;
    shift_ = hdr_->page_shift;
    page_size_ = hdr_->cfg.page_size;
    ring_mask_ = hdr_->cfg.ring_pages - 1;
    ring_bytes_ = hdr_->ring_bytes;
    publish_batch_ = hdr_->cfg.publish_batch;
    shard_ = hdr_->next_shard.fetch_add(1, std::memory_order_relaxed) % kPinShards;
    mp_ = !hdr_->cfg.single_producer;
    if (mp_) {
        cshift_ = hdr_->chunk_shift;
        const uint64_t nmarks = ring_bytes_ >> cshift_;
        chunk_mask_ = nmarks - 1;
        const uint64_t lines = nmarks >= 8 ? nmarks / 8 : 1;
        line_mask_ = lines - 1;
        line_shift_ = static_cast<uint32_t>(__builtin_ctzll(lines));
        marks_ = reinterpret_cast<std::atomic<uint64_t> *>(base_ + hdr_->marks_off);
    }
}

// The mark of `chunk`. Consecutive chunks (usually owned by different producers) have their
// marks on different cache lines: ring chunk m is word m / lines of line m % lines.
std::atomic<uint64_t> &TupleLog::mark(uint64_t chunk) const {
    const uint64_t m = chunk & chunk_mask_;
    return marks_[((m & line_mask_) << 3) | (m >> line_shift_)];
}

TupleLog::Slot &TupleLog::slot(uint64_t page) const {
    return slots_[page & ring_mask_];
}
char *TupleLog::page_ptr(uint64_t page) const {
    return pages_ + ((page & ring_mask_) << shift_);
}

const LogConfig &TupleLog::config() const {
    return hdr_->cfg;
}
bool TupleLog::sealed() const {
    return (hdr_->producers.load(std::memory_order_acquire) & kSealed) != 0;
}
bool TupleLog::failed() const {
    return hdr_->failed.load(std::memory_order_acquire) != 0;
}

LogStats TupleLog::stats() const {
    LogStats s;
    s.records = hdr_->records.load(std::memory_order_relaxed);
    // A single-producer writer stores the tail once per page: take the larger frontier.
    s.bytes = std::max(hdr_->tail.load(std::memory_order_relaxed),
                       hdr_->published.load(std::memory_order_relaxed));
    if (sp_end_ != sp_settled_)
        s.bytes = sp_end_;  // this handle is the writer, mid-page
    s.pages_spilled = hdr_->pages_spilled.load(std::memory_order_relaxed);
    s.oversize_records = hdr_->oversize_records.load(std::memory_order_relaxed);
    s.peak_ring_bytes = hdr_->pages_touched.load(std::memory_order_relaxed) * page_size_;
    return s;
}

// ---------------------------------------------------------------------------------------------
// Producers, sealing, failure, wake-ups

bool TupleLog::try_register_producer() {
    uint64_t w = hdr_->producers.load(std::memory_order_acquire);
    do {
        if (w & kSealed)
            return false;
    } while (!hdr_->producers.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                                    std::memory_order_acquire));
    return true;
}

void TupleLog::flush_records() {
    if (pending_records_ != 0) {
        hdr_->records.fetch_add(pending_records_, std::memory_order_relaxed);
        pending_records_ = 0;
    }
}

bool TupleLog::producer_done() {
    close_chunk();
    publish_sp();
    settle_sp();
    drop_sp();
    flush_records();
    uint64_t w = hdr_->producers.load(std::memory_order_acquire);
    uint64_t nw;
    do {
        if ((w & ~kSealed) == 0)
            throw Error(Error::Code::Internal, "tuple log: producer_done() without a producer");
        nw = w - 1;
        if (nw == 0)
            nw = kSealed;
    } while (!hdr_->producers.compare_exchange_weak(w, nw, std::memory_order_seq_cst,
                                                    std::memory_order_acquire));
    if (nw & kSealed) {
        wake_sleepers();
        return true;
    }
    return false;
}

void TupleLog::fail() {
    drop_sp();
    mp_left_ = 0;  // the open chunk (if any) stays unpublished: readers get Failed
    flush_records();
    hdr_->failed.store(1, std::memory_order_seq_cst);
    wake_sleepers();
}

// Writer half of the sleep handshake (see read()). Called after a record is published (its
// reservation was a seq_cst RMW on tail; in a single_producer log, its publication was a
// seq_cst store of `published`, and "tail" below reads "published"), after sealing and after
// failing (seq_cst RMW/store).
// A reader prepares to sleep, sets `sleepers` (seq_cst exchange), then re-checks tail, sealed
// and failed with seq_cst loads and sleeps only if nothing was reserved at its position. In the
// single total order S of seq_cst operations, if its re-check missed our reservation, then
// its exchange < its re-check < our tail RMW < our load of the flag, so we read 1 (and wake it)
// or a 0 stored by a writer that cleared the flag after the reader prepared, and so woke it.
// The first writer that sees the flag clears it and wakes everyone: a sleep costs one wake-up,
// not one per record appended until the reader runs again.
void TupleLog::wake_sleepers() {
    if (hdr_->sleepers.load(std::memory_order_seq_cst) != 0 &&
        hdr_->sleepers.exchange(0, std::memory_order_seq_cst) != 0 && hooks_ != nullptr)
        hooks_->wake_all();
}

// Decides, once per handle, whether this single-producer writer publishes without a locked
// instruction: when the log allows it and this process could register for membarrier. The
// header flag is set (seq_cst) before the first such publication; a reader about to sleep that
// reads it clear may skip its membarrier: its flag exchange < its load of light_publish < our
// store < our later loads of the sleep flag in the seq_cst order, so we see its flag.
int TupleLog::start_light_publish() {
    if (!hdr_->cfg.light_publish || !register_membarrier())
        return 0;
    if (hdr_->light_publish.load(std::memory_order_relaxed) == 0)
        hdr_->light_publish.store(1, std::memory_order_seq_cst);
    return 1;
}

void TupleLog::writer_wait(int &spins) {
    if (hdr_->failed.load(std::memory_order_acquire))
        throw Error(Error::Code::Internal, "tuple log: the log was marked failed");
    if (spins < 32) {
        ++spins;
        cpu_relax();
        return;
    }
    if (hooks_ != nullptr)
        hooks_->check_interrupts();
    std::this_thread::yield();
}

// ---------------------------------------------------------------------------------------------
// Ring pages: install, spill, recycle

// Makes the slot of `page` hold `page`, ready for writing. The caller has reserved bytes in it.
void TupleLog::ensure_page(uint64_t page) {
    Slot &s = slot(page);
    const uint64_t ready = enc(page, 0);
    int spins = 0;
    for (;;) {
        uint64_t st = s.state.load(std::memory_order_acquire);
        if (st == ready)
            return;
        if ((st & (kClaimed | kRecycling)) == 0) {
            const bool first = (st == 0);
            const uint64_t old = first ? 0 : page_of(st);
            const uint64_t ring_pages = ring_mask_ + 1;
            if ((first && page < ring_pages) || (!first && old + ring_pages == page)) {
                if ((first || s.committed.load(std::memory_order_acquire) == page_size_) &&
                    s.state.compare_exchange_strong(st, st | kClaimed, std::memory_order_acq_rel,
                                                    std::memory_order_relaxed)) {
                    recycle(s, first, old, page);
                    return;
                }
            }
        }
        writer_wait(spins);
    }
}

// We hold the claim on s: spill the old page (if any), wait for pins to drain, zero, publish.
void TupleLog::recycle(Slot &s, bool first_use, uint64_t old_page, uint64_t new_page) {
    if (!first_use) {
        if (spill_ == nullptr)
            throw Error(Error::Code::OutOfMemory,
                        "tuple log: ring full and this handle has no spill file");
        spill_pages(old_page);
        // Readers take no pin: they validate the state after copying (seqlock). Pins are taken
        // only by other writers batching this page into their spill write (spill_pages): Dekker
        // with them (they increment a pin then load state; we store state then load pins, all
        // seq_cst): either they see kRecycling and leave the page alone, or we wait until their
        // write completed (a bounded wait on a writer's I/O, never on a reader).
        s.state.store(enc(old_page, kClaimed | kRecycling), std::memory_order_seq_cst);
        int spins = 0;
        for (auto &pin : s.pins)
            while (pin.n.load(std::memory_order_seq_cst) != 0) writer_wait(spins);
        // Seqlock writer side: every byte written to the page from here on (zeroing below,
        // payloads after the new state is published, whose writers acquire that state) comes
        // after this fence, so a reader whose copy saw any of them sees kRecycling or a later
        // page when it re-loads the state after its acquire fence, and discards the copy.
        seq_fence_release();
    } else {
        hdr_->pages_touched.fetch_add(1, std::memory_order_relaxed);
    }
    // Pages are never zeroed: readers go by `published` (single producer) or by the chunk
    // marks (multi-producer) and never interpret bytes that are not published.
    s.committed.store(0, std::memory_order_relaxed);
    s.state.store(enc(new_page, 0), std::memory_order_release);
}

// Writes `page` (whose slot we claimed) to the spill file, together with the complete pages
// that follow it and are not yet spilled (pinned like readers), in one batch.
void TupleLog::spill_pages(uint64_t page) {
    uint64_t offs[kSpillBatch];
    const void *datas[kSpillBatch];
    uint64_t pages[kSpillBatch];
    Slot *pinned[kSpillBatch];
    size_t n = 0;
    if (slot(page).spilled.load(std::memory_order_acquire) != page + 1) {
        pages[n] = page;
        pinned[n] = nullptr;
        ++n;
    }
    const size_t limit = std::min<size_t>(kSpillBatch, (ring_mask_ + 1) / 2);
    for (uint64_t m = page + 1; n > 0 && n < limit; ++m) {
        Slot &t = slot(m);
        if (t.state.load(std::memory_order_relaxed) != enc(m, 0) ||
            t.committed.load(std::memory_order_relaxed) != page_size_ ||
            t.spilled.load(std::memory_order_relaxed) == m + 1)
            break;
        t.pins[shard_].n.fetch_add(1, std::memory_order_seq_cst);
        if (t.state.load(std::memory_order_seq_cst) != enc(m, 0) ||
            t.committed.load(std::memory_order_acquire) != page_size_) {
            t.pins[shard_].n.fetch_sub(1, std::memory_order_release);
            break;
        }
        pages[n] = m;
        pinned[n] = &t;
        ++n;
    }
    if (n == 0)
        return;
    for (size_t i = 0; i < n; ++i) {
        offs[i] = pages[i] << shift_;
        datas[i] = page_ptr(pages[i]);
    }
    try {
        spill_->write_batch(offs, datas, page_size_, n);
    } catch (...) {
        for (size_t i = 0; i < n; ++i)
            if (pinned[i])
                pinned[i]->pins[shard_].n.fetch_sub(1, std::memory_order_release);
        throw;
    }
    for (size_t i = 0; i < n; ++i) {
        slot(pages[i]).spilled.store(pages[i] + 1, std::memory_order_release);
        if (pinned[i])
            pinned[i]->pins[shard_].n.fetch_sub(1, std::memory_order_release);
    }
    hdr_->pages_spilled.fetch_add(n, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Append

void TupleLog::write_bytes(uint64_t pos, const void *src, size_t len) {
    const char *p = static_cast<const char *>(src);
    while (len > 0) {
        const size_t off = pos & (page_size_ - 1);
        const size_t n = std::min<size_t>(len, page_size_ - off);
        ring_store(page_ptr(pos >> shift_) + off, p, n);
        p += n;
        pos += n;
        len -= n;
    }
}

// The single-producer fast path: the record fits in the rest of the page this handle is
// filling (its "window", opened by append_sp: in such a log only this writer ever changes the
// slot's state, so the page stays ours and ready until we recycle it). Payload, header, local
// bookkeeping; the publication follows once per batch (publish_sp).
// Multi-producer: a record that fits in the rest of this handle's open chunk (whose page stays
// installed: it cannot be recycled before the chunk is closed). Payload, header, one store of
// the chunk's mark; an exactly full chunk is complete (no pad).
inline uint64_t TupleLog::put_in_chunk(const void *payload, size_t plen, uint64_t word,
                                       uint64_t fp) {
    char *hp = mp_ptr_;
    const uint64_t pos = (mp_chunk_ << cshift_) + mp_used_;
    if (plen > 0)
        ring_store(hp + 8, payload, plen);
    store_word(hp, word);
    mp_ptr_ = hp + fp;
    mp_used_ += fp;
    mp_left_ -= fp;
    ++hstats_.records_appended;
    if (++pending_records_ >= kRecordsBatch)
        flush_records();
    publish_mark(mp_chunk_, mp_used_);
    if (mp_left_ == 0)
        commit_chunk(mp_chunk_);
    return pos;
}

uint64_t TupleLog::append(const void *data, uint32_t len) {
    const uint64_t fp = align8(8 + uint64_t{len});
    if (fp <= win_left_ && hdr_->failed.load(std::memory_order_acquire) == 0) {
        const uint64_t pos = sp_end_;
        char *hp = win_ptr_;
        // (The release fence that orders our page writes after the page's installation was
        // issued by the append that opened the window.)
        if (len > 0)
            ring_store(hp + 8, data, len);
        store_word(hp, (uint64_t{len} + 1) | ((sp_prev_fp_ >> 3) << kPrevShift));
        win_ptr_ = hp + fp;
        win_left_ -= fp;
        sp_prev_fp_ = fp;
        sp_end_ = pos + fp;
        sp_pending_ = true;
        ++hstats_.records_appended;
        if (++pending_records_ >= kRecordsBatch)
            flush_records();
        if (sp_end_ - sp_batch_start_ >= publish_batch_)
            publish_sp();
        return pos;
    }
    // Multi-producer fast path: the record fits in the rest of the chunk this handle owns (its
    // page stays installed: it cannot be recycled before the chunk is closed). Payload, header,
    // one store of the chunk's mark.
    if (fp <= mp_left_ && hdr_->failed.load(std::memory_order_acquire) == 0)
        return put_in_chunk(data, len, uint64_t{len} + 1, fp);
    return append_slow(data, len);
}

uint64_t TupleLog::append_slow(const void *data, uint32_t len) {
    if (len > kMaxLen)
        throw Error(Error::Code::InvalidArgument,
                    "tuple log: record of " + std::to_string(len) + " bytes exceeds 1 GiB");
    if (hdr_->failed.load(std::memory_order_acquire))
        throw Error(Error::Code::Internal, "tuple log: append to a failed log");
    uint64_t fp = align8(8 + uint64_t{len});
    const bool oversize = fp > hdr_->inline_max;
    if (oversize)
        fp = 16;
    if (spill_ == nullptr) {
        if (oversize)
            throw Error(Error::Code::OutOfMemory,
                        "tuple log: record of " + std::to_string(len) +
                            " bytes is longer than half the ring (" +
                            std::to_string(ring_bytes_ / 2) +
                            " bytes) and there is no spill file to store it out of line");
        const uint64_t cur =
            sp_end_ != sp_settled_ ? sp_end_ : hdr_->tail.load(std::memory_order_relaxed);
        if (!mp_ && cur + fp > ring_bytes_)
            throw Error(Error::Code::OutOfMemory, "tuple log: ring of " +
                                                      std::to_string(ring_bytes_) +
                                                      " bytes is full and there is no spill file");
    }
    uint64_t overflow_off = 0;
    if (oversize) {
        overflow_off = SpillFile::kOverflowBase +
                       hdr_->overflow_next.fetch_add(align8(len), std::memory_order_relaxed);
        spill_->write(overflow_off, data, len);
        hdr_->oversize_records.fetch_add(1, std::memory_order_relaxed);
    }

    if (hdr_->cfg.single_producer)
        return append_sp(data, len, fp, oversize, overflow_off);

    return append_mp(data, len, fp, oversize, overflow_off);
}

// Multi-producer append (see "Multi-producer chunks" in docs/tuple-log.md). A record that does
// not fit in the rest of this handle's chunk closes it and claims ceil(footprint / chunk)
// fresh chunks with one fetch-add on `tail`; the record starts at the first of them, and the
// rest of the last one becomes the handle's open chunk. Nothing is zeroed: a chunk's mark
// (outside the pages) says how much of it is published.
uint64_t TupleLog::append_mp(const void *data, uint32_t len, uint64_t fp, bool oversize,
                             uint64_t overflow_off) {
    const uint64_t csize = uint64_t{1} << cshift_;
    const uint64_t word = (uint64_t{len} + 1) | (oversize ? kOversize : 0);
    if (fp <= mp_left_)  // an oversize record's 16-byte stub fits the open chunk
        return oversize ? put_in_chunk(&overflow_off, 8, word, fp) : put_in_chunk(data, len, word, fp);
    const uint64_t k = (fp + csize - 1) >> cshift_;
    if (spill_ == nullptr && hdr_->tail.load(std::memory_order_relaxed) + k * csize > ring_bytes_)
        throw Error(Error::Code::OutOfMemory, "tuple log: ring of " +
                                                  std::to_string(ring_bytes_) +
                                                  " bytes is full and there is no spill file");
    close_chunk();
    const uint64_t pos = hdr_->tail.fetch_add(k * csize, std::memory_order_acq_rel);
    const uint64_t q0 = pos >> cshift_;
    if (++pending_records_ >= kRecordsBatch)
        flush_records();
    try {
        if (spill_ == nullptr && pos + k * csize > ring_bytes_)
            throw Error(Error::Code::OutOfMemory, "tuple log: ring of " +
                                                      std::to_string(ring_bytes_) +
                                                      " bytes is full and there is no spill file");
        const uint64_t first = pos >> shift_, last = (pos + k * csize - 1) >> shift_;
        for (uint64_t p = first; p <= last; ++p)
            if (slot(p).state.load(std::memory_order_acquire) != enc(p, 0))
                ensure_page(p);
        // (Free on x86.) Pairs with a lagging reader's acquire fence: if its copy of an old page
        // in this slot saw our bytes, it also sees the recycler's state change (see recycle).
        seq_fence_release();
        if (oversize)
            write_bytes(pos + 8, &overflow_off, 8);
        else if (k == 1 && len > 0)
            ring_store(page_ptr(first) + (pos & (page_size_ - 1)) + 8, data, len);
        else
            write_bytes(pos + 8, data, len);
        store_word(page_ptr(first) + (pos & (page_size_ - 1)), word);
        const uint64_t rest = fp - (k - 1) * csize;  // bytes of the record in its last chunk
        const uint64_t qk = q0 + k - 1;
        if (k > 1) {
            // The last chunk first (the reader moves there after the record), then the first
            // one, which publishes the record; chunks in between are never read at their start.
            publish_mark(qk, rest);
            publish_mark(q0, csize);
            for (uint64_t q = q0; q < qk; ++q) commit_chunk(q);
        } else {
            publish_mark(q0, rest);
        }
        mp_chunk_ = qk;
        mp_used_ = rest;
        mp_left_ = csize - rest;
        mp_ptr_ = page_ptr((qk << cshift_) >> shift_) + (((qk << cshift_) + rest) & (page_size_ - 1));
        if (mp_left_ == 0)  // a record that ends exactly at a chunk end: complete, no pad
            commit_chunk(qk);
    } catch (...) {
        fail();
        throw;
    }
    ++hstats_.records_appended;
    return pos;
}

// Publishes bytes [0, bytes) of `chunk`: a release store of its mark where membarrier(2) is
// available (a reader about to sleep pays the fence, as for a single producer's `published`),
// a seq_cst store otherwise; then the writer's half of the sleep handshake.
void TupleLog::publish_mark(uint64_t chunk, uint64_t bytes) {
    if (light_ < 0)
        light_ = start_light_publish();
    if (light_ > 0) {
        mark(chunk).store(mark_word(chunk, bytes), std::memory_order_release);
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        mark(chunk).store(mark_word(chunk, bytes), std::memory_order_seq_cst);
    }
    wake_sleepers();
}

// Closes this handle's open chunk: a pad word where the next record would have gone (readers
// jump from there to the next chunk), the chunk published whole, and its bytes added to its
// page's commit count (one RMW per chunk). The page can be recycled once all its chunks closed.
void TupleLog::close_chunk() {
    if (mp_left_ == 0)
        return;
    const uint64_t csize = uint64_t{1} << cshift_;
    store_word(mp_ptr_, kPad | 1);
    mp_left_ = 0;
    publish_mark(mp_chunk_, csize);
    commit_chunk(mp_chunk_);
}

// Adds a complete chunk to its page's commit count (after its last publication).
void TupleLog::commit_chunk(uint64_t chunk) {
    slot((chunk << cshift_) >> shift_)
        .committed.fetch_add(uint64_t{1} << cshift_, std::memory_order_release);
}

// Single-producer append. This handle is the only writer, so the reservation, the backward link
// and the page commit counters are handle-local until publication: a record costs the payload
// copy, one header store and, once per batch (LogConfig::publish_batch bytes, or every record
// when it is 0), one publication (publish_sp). Readers go by `published`, never by headers, so
// records appended but not yet published are invisible, exactly like records not yet appended.
uint64_t TupleLog::append_sp(const void *data, uint32_t len, uint64_t fp, bool oversize,
                             uint64_t overflow_off) {
    if (sp_settled_ == sp_end_ && !sp_pending_) {  // nothing local: the shared words are current
        sp_end_ = sp_batch_start_ = sp_settled_ = hdr_->tail.load(std::memory_order_relaxed);
        sp_prev_fp_ = hdr_->sp_prev.load(std::memory_order_relaxed);
    }
    settle_sp();  // once per page: the window closed (or was never open)
    const uint64_t pos = sp_end_;
    const uint64_t end = pos + fp;
    if (++pending_records_ >= kRecordsBatch)
        flush_records();
    try {
        if (spill_ == nullptr && end > ring_bytes_)
            throw Error(Error::Code::OutOfMemory, "tuple log: ring of " +
                                                      std::to_string(ring_bytes_) +
                                                      " bytes is full and there is no spill file");
        const uint64_t first = pos >> shift_, last = (end - 1) >> shift_;
        win_left_ = 0;
        for (uint64_t k = first; k <= last; ++k) {
            if (slot(k).state.load(std::memory_order_acquire) != enc(k, 0)) {
                // Recycling needs the old page's commit count (and spills it): publish first.
                publish_sp();
                ensure_page(k);
            }
        }
        seq_fence_release();  // see the multi-producer path
        char *hp = page_ptr(first) + (pos & (page_size_ - 1));
        if (oversize)
            write_bytes(pos + 8, &overflow_off, 8);
        else if (first == last && len > 0)
            ring_store(hp + 8, data, len);
        else
            write_bytes(pos + 8, data, len);
        const uint64_t word = (uint64_t{len} + 1) | (oversize ? kOversize : 0) |
                              ((sp_prev_fp_ >> 3) << kPrevShift);
        // Ordered before the publication by its release store (no reader looks above it).
        store_word(hp, word);
        sp_prev_fp_ = fp;
        sp_end_ = end;
        sp_pending_ = true;
        ++hstats_.records_appended;
        // Open the window on the rest of the last page (ready, and ours: see append()).
        const uint64_t eoff = end & (page_size_ - 1);
        if (eoff != 0) {
            win_ptr_ = page_ptr(last) + eoff;
            win_left_ = page_size_ - eoff;
        }
        if (end - sp_batch_start_ >= publish_batch_ || first != last)
            publish_sp();
    } catch (...) {
        fail();
        throw;
    }
    return pos;
}

// Publishes this single-producer handle's pending records: `published` (the readers' frontier
// and the writer's side of the sleep handshake), then wakes sleepers. Nothing else is shared per
// record: the page commit counts, the reservation tail and the backward link of the last record
// are stored by settle_sp(), once per page (and when the producer is done).
void TupleLog::publish_sp() {
    if (!sp_pending_)
        return;
    const uint64_t end = sp_end_;
    if (light_ < 0)
        light_ = start_light_publish();
    if (light_ > 0) {
        // No locked instruction: a release store; the compiler must not sink it below the flag
        // load in wake_sleepers(); the CPU may, and a sleeping reader's membarrier covers that
        // (see register_membarrier).
        hdr_->published.store(end, std::memory_order_release);
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        hdr_->published.store(end, std::memory_order_seq_cst);
    }
    sp_pending_ = false;
    sp_batch_start_ = end;
    wake_sleepers();
}

// Stores what a single-producer writer keeps locally while it fills a page: the commit counts
// of the pages appended to since the last call (only this writer reads them, to recycle and
// spill), the reservation tail (stats, the frozen test, a sleeping reader's in-flight hint) and
// the last record's footprint (read_prev() at the end of a sealed log).
void TupleLog::settle_sp() {
    const uint64_t from = sp_settled_, end = sp_end_;
    if (end == from)
        return;
    for (uint64_t k = from >> shift_; k <= (end - 1) >> shift_; ++k) {
        const uint64_t lo = std::max(from, k << shift_);
        const uint64_t hi = std::min(end, (k + 1) << shift_);
        std::atomic<uint64_t> &committed = slot(k).committed;  // the only writer: no RMW
        committed.store(committed.load(std::memory_order_relaxed) + (hi - lo),
                        std::memory_order_release);
    }
    hdr_->sp_prev.store(sp_prev_fp_, std::memory_order_release);
    hdr_->tail.store(end, std::memory_order_release);
    sp_settled_ = end;
}

// Forgets the single-producer writer's local state (after producer_done(), or on failure).
void TupleLog::drop_sp() {
    win_left_ = 0;
    sp_pending_ = false;
    sp_end_ = sp_settled_ = sp_batch_start_ = sp_prev_fp_ = 0;
}

void TupleLog::flush() {
    publish_sp();
    close_chunk();
}

// ---------------------------------------------------------------------------------------------
// Read

// Returns the bytes of `page`: the ring (*ring set to its slot: the caller copies what it needs
// and then calls ring_valid(); no pin is taken) or the cursor's copy read back from the spill
// file (*ring null); nullptr when the page is not in the ring yet.
const char *TupleLog::acquire_page(Cursor &c, uint64_t page, Slot **ring) {
    *ring = nullptr;
    if (c.page_no_ == page)
        return c.page_.data();
    Slot &s = slot(page);
    const uint64_t st = s.state.load(std::memory_order_acquire);
    if (st == enc(page, 0) || st == enc(page, kClaimed)) {
        *ring = &s;
        return page_ptr(page);
    }
    if (!has_page(st) || page_of(st) < page)
        return nullptr;
    return read_spilled(c, page);
}

// Seqlock reader side: true when the bytes just copied out of page's slot are page's own (the
// slot still holds it and is not being recycled). The acquire fence orders the copy before the
// state load; a recycler stores kRecycling, then a release fence, then overwrites the page (see
// recycle()), so a copy that saw any overwritten byte sees the new state here.
bool TupleLog::ring_valid(const Slot &s, uint64_t page) const {
    seq_fence_acquire();
    const uint64_t st = s.state.load(std::memory_order_acquire);
    return st == enc(page, 0) || st == enc(page, kClaimed);
}

// Page `page` was recycled (or is being recycled): it was written to the spill file before the
// recycler stored kRecycling (the state the reader saw, with acquire). Reads it into the cursor.
const char *TupleLog::read_spilled(Cursor &c, uint64_t page) {
    if (spill_ == nullptr)
        throw Error(Error::Code::Internal, "tuple log: page " + std::to_string(page) +
                                               " was spilled but this handle has no spill file");
    if (c.page_.size() < page_size_)
        c.page_.resize(page_size_);
    c.page_no_ = UINT64_MAX;
    spill_->read(page << shift_, c.page_.data(), page_size_);
    c.page_no_ = page;
    ++hstats_.pages_read_back;
    return c.page_.data();
}

// Copies [off, off + len) of `page` (off + len <= page_size) into dst, from the ring (validated
// afterwards; from the file when the page was recycled meanwhile) or the cursor's file copy.
// False when the page is not in the ring yet.
bool TupleLog::copy_page_bytes(Cursor &c, uint64_t page, size_t off, char *dst, size_t len) {
    Slot *ring;
    const char *pg = acquire_page(c, page, &ring);
    if (pg == nullptr)
        return false;
    if (ring != nullptr) {
        ring_load(dst, pg + off, len);
        if (ring_valid(*ring, page))
            return true;
        ++hstats_.ring_copies_discarded;
        pg = read_spilled(c, page);
    }
    std::memcpy(dst, pg + off, len);
    return true;
}

void TupleLog::copy_out(Cursor &c, uint64_t pos, char *dst, size_t len) {
    while (len > 0) {
        const size_t off = pos & (page_size_ - 1);
        const size_t n = std::min<size_t>(len, page_size_ - off);
        if (!copy_page_bytes(c, pos >> shift_, off, dst, n))
            throw Error(Error::Code::Internal, "tuple log: published record spans a missing page");
        dst += n;
        pos += n;
        len -= n;
    }
}

// The header word at pos (validated like any ring copy); false when its page is not in the
// ring yet or the record is not published (word 0, multi-producer logs).
bool TupleLog::header_at(Cursor &c, uint64_t pos, uint64_t *word) {
    const uint64_t page = pos >> shift_;
    const size_t off = pos & (page_size_ - 1);
    Slot *ring;
    const char *pg = acquire_page(c, page, &ring);
    if (pg == nullptr)
        return false;
    uint64_t w;
    if (ring != nullptr) {
        w = load_word(pg + off);
        if (!ring_valid(*ring, page)) {
            ++hstats_.ring_copies_discarded;
            pg = read_spilled(c, page);
            std::memcpy(&w, pg + off, 8);
        }
    } else {
        std::memcpy(&w, pg + off, 8);
    }
    *word = w;
    return w != 0;
}

// Sealed and never wrapped: the ring is immutable from here on.
bool TupleLog::frozen() const {
    return sealed() && hdr_->tail.load(std::memory_order_acquire) <= ring_bytes_;
}

// Remembers in the cursor that the log is frozen: below its final tail the ring holds every
// record at ring + position (never wrapped, so a straddling record is contiguous too) and never
// changes, until a reset; seek() checks again, and a reset log must be sought before reading.
void TupleLog::note_frozen(Cursor &c) const {
    c.frozen_base_ = pages_;
    c.frozen_reject_ = kOversize | (mp_ ? kPad : 0);
    c.frozen_tail_ = hdr_->tail.load(std::memory_order_acquire);
}

// Copies the record at pos into the cursor; false when it is not published yet.
bool TupleLog::read_record(Cursor &c, uint64_t pos, uint64_t *word, RecordView *out) {
    const uint64_t page = pos >> shift_;
    const size_t off = pos & (page_size_ - 1);
    // A sealed log that never wrapped is immutable: no producer writes again and no page can be
    // recycled, so an inline record that does not straddle is returned in place (no pin, no
    // copy). The acquire load of the seal orders every publish before these plain reads. This is
    // the rescan path (a nested loop's inner, a SubPlan read once per outer row).
    if (frozen()) {
        note_frozen(c);  // the next reads take the inline path (try_read, read)
        // The tail is final here; memory past it may hold a previous use of the ring.
        if (pos >= hdr_->tail.load(std::memory_order_acquire))
            return false;
        const char *p = page_ptr(page) + off;
        uint64_t w;
        std::memcpy(&w, p, 8);
        if (w == 0)
            return false;
        const uint32_t len = static_cast<uint32_t>((w & kLenMask) - 1);
        if ((w & kOversize) == 0 && off + 8 + len <= page_size_) {
            out->data = p + 8;
            out->len = len;
            out->pos = pos;
            *word = w;
            return true;
        }
    }
    // Fast path: an inline record inside one page the ring holds. One state load, the header,
    // the payload (its length bounded by the page, so even a torn header cannot send the copy
    // out of the page), one validation. Anything else, or a torn copy, takes the general path.
    if (c.page_no_ != page) {
        Slot &s = slot(page);
        const uint64_t st = s.state.load(std::memory_order_acquire);
        if (st == enc(page, 0) || st == enc(page, kClaimed)) {
            const char *p = page_ptr(page) + off;
            const uint64_t w = load_word(p);
            const uint64_t len = (w & kLenMask) - 1;
            if (w != 0 && (w & kOversize) == 0 && off + 8 + len <= page_size_) {
                if (c.record_.size() < len)
                    c.record_.resize(len);
                if (len > 0)
                    ring_load(c.record_.data(), p + 8, len);
                if (ring_valid(s, page)) {
                    out->data = c.record_.data();
                    out->len = static_cast<uint32_t>(len);
                    out->pos = pos;
                    *word = w;
                    return true;
                }
                ++hstats_.ring_copies_discarded;
            }
        }
    }
    // General path: the header first, validated before its length is trusted; then the
    // payload, validated again (a torn copy is redone from the spill file).
    uint64_t w;
    if (!header_at(c, pos, &w))
        return false;
    const uint32_t len = static_cast<uint32_t>((w & kLenMask) - 1);
    const bool oversize = (w & kOversize) != 0;
    uint64_t overflow_off = 0;
    char *dst;
    size_t dlen;
    if (oversize) {
        dst = reinterpret_cast<char *>(&overflow_off);
        dlen = 8;
    } else {
        if (c.record_.size() < len)
            c.record_.resize(len);
        dst = c.record_.data();
        dlen = len;
    }
    // off <= page_size - 8, so the header never straddles; the payload may.
    const size_t n = std::min<size_t>(dlen, page_size_ - off - 8);
    if (n > 0 && !copy_page_bytes(c, page, off + 8, dst, n))
        throw Error(Error::Code::Internal, "tuple log: published record on a missing page");
    if (n < dlen)
        copy_out(c, pos + 8 + n, dst + n, dlen - n);
    if (oversize) {
        if (spill_ == nullptr)
            throw Error(Error::Code::Internal,
                        "tuple log: oversize record but this handle has no spill file");
        if (c.record_.size() < len)
            c.record_.resize(len);
        if (len > 0)
            spill_->read(overflow_off, c.record_.data(), len);
    }
    out->data = c.record_.data();
    out->len = len;
    out->pos = pos;
    *word = w;
    return true;
}

ReadStatus TupleLog::reread(Cursor &c, uint64_t upto, RecordView *out) {
    uint64_t w;
    for (;;) {
        if (c.pos_ >= upto)
            return ReadStatus::End;
        if (!read_record(c, c.pos_, &w, out))
            throw Error(Error::Code::Internal, "reread of a record that was not published");
        if (!mp_ || (w & kPad) == 0)
            break;
        c.pos_ = ((c.pos_ >> cshift_) + 1) << cshift_;
    }
    const uint64_t fp = record_footprint(w);
    c.prev_len_ = fp;
    c.pos_ += fp;
    ++hstats_.records_read;
    return ReadStatus::Record;
}

// The common read: a published inline record inside one ring page, below the frontier the
// cursor saw last, in a log that is not sealed (a sealed log may be frozen: read_record then
// returns records in place). One state load, the header, the copy, one validation; anything
// else (or a torn copy) returns false and takes the general path.
bool TupleLog::fast_read(Cursor &c, RecordView *out) {
    const uint64_t pos = c.pos_;
    if (pos >= c.seen_tail_ || sp_pending_ || hdr_->failed.load(std::memory_order_acquire) != 0 ||
        (hdr_->producers.load(std::memory_order_acquire) & kSealed) != 0)
        return false;
    const uint64_t page = pos >> shift_;
    const size_t off = pos & (page_size_ - 1);
    if (c.page_no_ == page)
        return false;
    Slot &s = slot(page);
    const uint64_t st = s.state.load(std::memory_order_acquire);
    if (st != enc(page, 0) && st != enc(page, kClaimed))
        return false;
    const char *p = page_ptr(page) + off;
    const uint64_t w = load_word(p);
    const uint64_t len = (w & kLenMask) - 1;
    if (w == 0 || (w & kOversize) != 0 || off + 8 + len > page_size_ || (mp_ && (w & kPad) != 0))
        return false;
    if (c.record_.size() < len)
        c.record_.resize(std::max<size_t>(len, 64));
    char *dst = c.record_.data();
    if (len > 0)
        ring_load(dst, p + 8, len);
    if (!ring_valid(s, page))
        return false;
    out->data = dst;
    out->len = static_cast<uint32_t>(len);
    out->pos = pos;
    const uint64_t fp = align8(8 + len);
    c.prev_len_ = fp;
    c.pos_ = pos + fp;
    ++hstats_.records_read;
    return true;
}

ReadStatus TupleLog::try_read_slow(Cursor &c, RecordView *out) {
    if (fast_read(c, out))
        return ReadStatus::Record;
    return try_read_impl(c, out, nullptr);
}

// When in_flight is not null, *in_flight tells a WouldBlock apart: true when the record at the
// cursor is reserved but not yet published (its writer is mid-append and will publish without
// being asked: spin), false when nothing was reserved there yet (read() may sleep on that).
ReadStatus TupleLog::try_read_impl(Cursor &c, RecordView *out, bool *in_flight) {
    if (sp_pending_)  // this handle's own appends are visible to its own reads
        publish_sp();
    if (in_flight != nullptr)
        *in_flight = false;
    if (hdr_->failed.load(std::memory_order_seq_cst))
        return ReadStatus::Failed;
    for (;;) {
        if (c.pos_ >= c.seen_tail_) {
            if (mp_) {
                // Caught up with the part of its chunk the cursor knew published: load the
                // chunk's mark again (seq_cst: the reader's half of the sleep handshake).
                c.seen_tail_ = mp_frontier(c.pos_);
                if (c.pos_ >= c.seen_tail_) {
                    if ((hdr_->producers.load(std::memory_order_seq_cst) & kSealed) == 0)
                        return ReadStatus::WouldBlock;
                    // Sealed: every producer closed its chunk before the seal.
                    c.seen_tail_ = mp_frontier(c.pos_);
                    if (c.pos_ >= c.seen_tail_)
                        return ReadStatus::End;
                }
            } else {
                // Caught up with the frontier seen last: look again (a load of the writers'
                // line only when the reader is at the end, not per record). The frontier is
                // the published tail (single_producer logs).
                c.seen_tail_ = hdr_->published.load(std::memory_order_seq_cst);
                if (c.pos_ >= c.seen_tail_) {
                    // (Only a reader about to sleep looks at tail: polling it would steal the
                    // writer's line. The handshake is on `published`; tail is just a hint.)
                    if (in_flight != nullptr &&
                        hdr_->tail.load(std::memory_order_relaxed) > c.pos_) {
                        *in_flight = true;  // reserved, being written
                        return ReadStatus::WouldBlock;
                    }
                    if ((hdr_->producers.load(std::memory_order_seq_cst) & kSealed) == 0)
                        return ReadStatus::WouldBlock;
                    // Sealed: every append happened before the seal, so the frontier is final.
                    c.seen_tail_ = hdr_->published.load(std::memory_order_seq_cst);
                    if (c.pos_ >= c.seen_tail_)
                        return ReadStatus::End;
                }
            }
            if (fast_read(c, out))  // the common case once the frontier moved
                return ReadStatus::Record;
        }
        uint64_t w;
        if (!read_record(c, c.pos_, &w, out))
            break;
        if (mp_ && (w & kPad) != 0) {  // the rest of this chunk is padding
            c.pos_ = ((c.pos_ >> cshift_) + 1) << cshift_;
            continue;
        }
        const uint64_t fp = record_footprint(w);
        c.prev_len_ = fp;
        c.pos_ += fp;
        ++hstats_.records_read;
        return ReadStatus::Record;
    }
    if (in_flight != nullptr)
        *in_flight = true;
    return ReadStatus::WouldBlock;
}

// Multi-producer logs: how far the chunk holding pos is published (an absolute position; at
// most the chunk's end). A mark with the chunk's own tag says how many bytes from its start;
// a later tag means the chunk's ring slot was reused, so its page was complete (and spilled)
// before that; an earlier tag means nothing of it is published yet. Seq_cst: a reader's
// re-check before sleeping (see "Waiting" in the docs).
uint64_t TupleLog::mp_frontier(uint64_t pos) const {
    const uint64_t q = pos >> cshift_;
    const uint64_t w = mark(q).load(std::memory_order_seq_cst);
    const uint64_t tag = w >> kMarkTagShift;
    if (tag == q + 1)
        return (q << cshift_) + (w & kMarkBytesMask);
    if (tag > q + 1)
        return (q + 1) << cshift_;
    return q << cshift_;
}

namespace {
// Leaves the sleep protocol on every exit path (return or exception from the hooks). The flag
// is left alone: other readers may sleep on it; a stale flag costs one spurious wake_all().
struct SleepGuard {
    WaitHooks *hooks;
    ~SleepGuard() { hooks->cancel_sleep(); }
};
}  // namespace

// Blocking read: spin briefly, then yield, then sleep with the hooks. The reader prepares to
// sleep FIRST, then sets the sleep flag, then re-checks: a writer that clears the flag after
// that wakes it (prepare came first, so that wake is not lost), and a writer that reserves
// later sees the flag (see wake_sleepers). A record reserved but not yet published is waited
// for by spinning: its writer is mid-append and never waits for readers.
ReadStatus TupleLog::read_slow(Cursor &c, RecordView *out) {
    if (fast_read(c, out))
        return ReadStatus::Record;
    for (int spins = 0;; spins = std::min(spins + 1, 1000)) {
        bool in_flight = false;
        ReadStatus st = try_read_impl(c, out, spins < 128 ? nullptr : &in_flight);
        if (st != ReadStatus::WouldBlock)
            return st;
        if (spins < 128) {
            cpu_relax();
            continue;
        }
        if (hooks_ != nullptr)
            hooks_->check_interrupts();
        if (hooks_ == nullptr || in_flight || spins < 160) {
            std::this_thread::yield();
            continue;
        }
        hooks_->prepare_to_sleep();
        SleepGuard guard{hooks_};
        hdr_->sleepers.exchange(1, std::memory_order_seq_cst);
        // A writer publishing with a plain store (single producer) needs our asymmetric fence
        // before the re-check; if the system refuses it now, poll instead of sleeping.
        bool may_sleep = true;
        if (hdr_->light_publish.load(std::memory_order_seq_cst) != 0 && !membarrier_all())
            may_sleep = false;
        st = try_read_impl(c, out, &in_flight);
        if (st != ReadStatus::WouldBlock)
            return st;
        if (!in_flight && may_sleep)
            hooks_->sleep();
        else if (!may_sleep)
            std::this_thread::yield();
    }
}

ReadStatus TupleLog::read_prev(Cursor &c, RecordView *out) {
    if (!hdr_->cfg.single_producer)
        throw Error(Error::Code::InvalidArgument,
                    "tuple log: read_prev() needs a single_producer log");
    publish_sp();
    if (hdr_->failed.load(std::memory_order_acquire))
        return ReadStatus::Failed;
    if (c.pos_ == 0)
        return ReadStatus::End;
    uint64_t prev = c.prev_len_;
    if (prev == UINT64_MAX) {
        uint64_t w;
        if (c.pos_ < hdr_->published.load(std::memory_order_acquire) && header_at(c, c.pos_, &w)) {
            prev = (w >> kPrevShift) << 3;
        } else if (sealed() && c.pos_ >= hdr_->published.load(std::memory_order_acquire)) {
            prev = hdr_->sp_prev.load(std::memory_order_acquire);
        } else {
            return ReadStatus::WouldBlock;
        }
    }
    if (prev == 0 || prev > c.pos_)
        throw Error(Error::Code::Internal, "tuple log: corrupt backward link");
    const uint64_t ppos = c.pos_ - prev;
    uint64_t w;
    if (!read_record(c, ppos, &w, out))
        throw Error(Error::Code::Internal, "tuple log: previous record not published");
    c.pos_ = ppos;
    c.prev_len_ = (w >> kPrevShift) << 3;
    ++hstats_.records_read;
    return ReadStatus::Record;
}

void TupleLog::seek(Cursor &c, uint64_t pos) {
    if ((pos & 7) != 0)
        throw Error(Error::Code::InvalidArgument,
                    "tuple log: seek to a position that is not a record boundary");
    publish_sp();
    c.pos_ = pos;
    c.prev_len_ = pos == 0 ? 0 : UINT64_MAX;
    // A multi-producer log's frontier is per chunk: below the one seen last is not necessarily
    // published elsewhere in the log, so look again from pos on. (A single producer's
    // `published` covers everything below it.)
    if (mp_)
        c.seen_tail_ = std::min(c.seen_tail_, pos);
    // A rescan of a frozen log keeps reading in place; anything else (a reset since, another
    // handle's cursor) forgets it and finds out again on the next read.
    if (c.frozen_tail_ != 0) {
        if (c.frozen_base_ == pages_ && frozen())
            note_frozen(c);
        else
            c.frozen_tail_ = 0;
    }
    if (pos == 0) {
        c.page_no_ = UINT64_MAX;  // a rescan may follow a reset(): drop the read-back page
        c.seen_tail_ = 0;
    }
}

}  // namespace pm::core
