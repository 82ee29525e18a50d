// tuple_log.cpp — the shared append-only tuple log: region layout, creation, attach, statistics,
// producers, sealing, failure and wake-ups (append: tuple_log_append.cpp, ring pages:
// tuple_log_ring.cpp, read: tuple_log_read.cpp; shared encodings: tuple_log_internal.hpp).
#include "tuple_log_internal.hpp"

#include <new>
#include <string>
#include <thread>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pm::core {

namespace log_detail {

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

}  // namespace log_detail

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

}  // namespace pm::core
