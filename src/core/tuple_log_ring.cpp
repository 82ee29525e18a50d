// tuple_log_ring.cpp — the tuple log's ring pages: installing a page in its slot, spilling the
// page it replaces, waiting for pins to drain, recycling.
#include "tuple_log_internal.hpp"

#include <thread>

namespace pm::core {

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

}  // namespace pm::core
