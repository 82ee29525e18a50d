// tuple_log_append.cpp — appending to the tuple log: the single-producer fast path, multi-producer
// chunks and their marks, publication.
#include "tuple_log_internal.hpp"

#include <algorithm>
#include <thread>

namespace pm::core {

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

}  // namespace pm::core
