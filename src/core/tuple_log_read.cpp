// tuple_log_read.cpp — reading the tuple log: seqlock copies out of the ring, the spill file for
// recycled pages, cursors, the blocking read and its sleep handshake.
#include "tuple_log_internal.hpp"

#include <algorithm>
#include <thread>

namespace pm::core {

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
