// tuple_log.hpp — the shared append-only tuple log (see ARCHITECTURE.md, "One idea").
//
// One log lives in one memory region [base, base + region_size(cfg)): a header, then a
// power-of-two ring of fixed-size pages. Everything inside the region is addressed by offsets,
// never by pointers, so the region may be mapped at different addresses in different processes
// (DSM) and still be shared. Process-local state (spill file handle, wait hooks, cursors) lives
// outside the region, in TupleLog handles and Cursor objects.
//
// Writers reserve space with one atomic fetch-add on the log's byte position (in a multi-producer
// log, per chunk of up to 16 KiB that the producer then fills alone); a record is an 8-byte
// header followed by the payload, 8-byte aligned, and may straddle pages. A record is published
// with a release store after it is written (of the chunk's mark, or of the single producer's
// published tail); readers acquire it. Any number of
// readers, each with its own Cursor, each sees every record in log order ("broadcast", not a work
// queue). Before the ring would overwrite a page, the page is written to the spill file; a reader
// that falls behind reads spilled pages back from it. Pages are initialized lazily: ring memory
// that is never reached is never touched.
//
// Thread/process safety: all TupleLog methods may be called concurrently from any number of
// threads or processes that share the region, each through its own TupleLog handle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "parallel_material/core/error.hpp"

namespace pm::core {

// How a process waits and wakes. The PostgreSQL adapter maps these to a ConditionVariable in
// the same shared memory and CHECK_FOR_INTERRUPTS; core's FutexWaitHooks serves tests.
class WaitHooks {
public:
    virtual ~WaitHooks() = default;
    // Called in every wait loop; may throw (query cancel) to abandon the wait.
    virtual void check_interrupts() {}
    // Sleep protocol for a reader that caught up with the writers:
    // prepare_to_sleep(); <re-check>; sleep() (returns on wake or spuriously); cancel_sleep().
    virtual void prepare_to_sleep() {}
    virtual void sleep() = 0;
    virtual void cancel_sleep() {}
    // Wakes every sleeper; called by writers only when the log says someone sleeps.
    virtual void wake_all() = 0;
};

// Futex-based hooks over a 32-bit word inside shared memory; works across fork()ed processes.
class FutexWaitHooks final : public WaitHooks {
public:
    explicit FutexWaitHooks(std::atomic<uint32_t> *word) : word_(word) {}
    void prepare_to_sleep() override;
    void sleep() override;
    void wake_all() override;

private:
    std::atomic<uint32_t> *word_;
    uint32_t seen_ = 0;
};

enum class SpillMode { Auto, IoUring, Sync };

// A process-local handle over the spill file of one log. Every process sharing the log opens
// its own handle on the same file (same path, its own fd). Offsets: spilled page n lives at
// n * page_size; oversize records live in a separate range above kOverflowBase.
// kOverflowBase is 4 TiB: ext4 refuses offsets at or above 16 TiB (EFBIG), so 2^46 cannot work.
class SpillFile {
public:
    static constexpr uint64_t kOverflowBase = uint64_t{1} << 42;
    virtual ~SpillFile() = default;
    // Write / read exactly len bytes at offset; throw Error(Io) on failure.
    virtual void write(uint64_t offset, const void *data, size_t len) = 0;
    virtual void read(uint64_t offset, void *buf, size_t len) = 0;
    // Several page writes submitted together (io_uring batches them); default: one by one.
    virtual void write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                             size_t count);
    virtual const char *mode_name() const = 0;  // "io_uring" or "sync"
};

// Opens a handle over fd (not owned; the caller closes it). Auto tries io_uring and falls back
// to pread/pwrite when io_uring cannot be set up; IoUring throws Error(Io) when it cannot.
std::unique_ptr<SpillFile> open_spill_file(int fd, SpillMode mode);

struct LogConfig {
    uint32_t page_size = 64 * 1024;  // power of two, >= 4096
    uint32_t ring_pages = 16;        // power of two, >= 2
    // True when exactly one producer will ever append, through one TupleLog handle (the
    // writer's position lives in that handle between pages): records then also carry the
    // previous record's length, which enables read_prev() (backward scans, SCROLL cursors).
    bool single_producer = false;
    // Publish each record with a plain release store (no locked instruction) where
    // membarrier(2) is available; a reader about to sleep then pays an asymmetric fence.
    // False: a seq_cst store per record (tests cover both).
    bool light_publish = true;
    // Single-producer logs: the writer publishes its appended records once they span this many
    // log bytes (and at a page boundary, at flush(), producer_done() and before any read or
    // seek through its own handle) instead of after every record: one publication per batch.
    // Records appended but not yet published are invisible to other handles; 0 publishes
    // every record. Multi-producer logs publish every record regardless.
    uint32_t publish_batch = 0;
};

struct RecordView {
    const void *data = nullptr;  // valid until the next read/seek on the same Cursor
    uint32_t len = 0;
    uint64_t pos = 0;  // the record's position (for mark/restore: seek(cursor, pos))
};

enum class ReadStatus { Record, WouldBlock, End, Failed };

// A reader's private position and buffers. Not shared; one per reader per log.
class Cursor {
public:
    Cursor() = default;
    uint64_t position() const { return pos_; }

private:
    friend class TupleLog;
    uint64_t pos_ = 0;
    uint64_t prev_len_ = 0;        // length of the record before pos_ (single-producer logs)
    std::vector<char> record_;     // copy of the current record
    std::vector<char> page_;       // a spilled page read back
    uint64_t page_no_ = UINT64_MAX;  // which page page_ holds
    uint64_t seen_tail_ = 0;  // published frontier seen earlier: the single producer's
                              // published tail, or how far the current chunk is published
    // A frozen log (sealed, never wrapped) seen by this cursor: its records below frozen_tail_
    // are read in place from frozen_base_ + position by the inline try_read (0: not known).
    // Header words with a bit of frozen_reject_ (out of line; a multi-producer log's chunk
    // padding) take the general path.
    const char *frozen_base_ = nullptr;
    uint64_t frozen_tail_ = 0;
    uint64_t frozen_reject_ = 0;
};

// Counters of one log (shared, whole log) and of one handle (this process).
struct LogStats {
    uint64_t records = 0;         // records appended (all producers)
    uint64_t bytes = 0;           // log bytes reserved, headers and padding included (in a
                                  // multi-producer log: whole chunks claimed)
    uint64_t pages_spilled = 0;   // pages written to the spill file
    uint64_t oversize_records = 0;
    uint64_t peak_ring_bytes = 0; // ring memory touched
};
struct HandleStats {
    uint64_t records_appended = 0;
    uint64_t records_read = 0;
    uint64_t pages_read_back = 0;  // spilled pages this process read from the file
    uint64_t ring_copies_discarded = 0;  // copies torn by a recycler, redone from the file
};

class TupleLog {
public:
    // Bytes the region must have for cfg; the region must be 64-byte aligned.
    static size_t region_size(const LogConfig &cfg);
    // Initializes a log in the region (exactly once, before any handle attaches). Touches only
    // the header. Throws Error(InvalidArgument) for a bad config.
    static void create(void *region, const LogConfig &cfg);
    // Empties the log so it can be written again (re-materialization). Only when no other
    // handle is using it.
    static void reset(void *region);

    // Attach to a created log. spill may be null: appending past the ring then throws
    // Error(OutOfMemory). hooks may be null: waits then spin with std::this_thread::yield().
    TupleLog(void *region, SpillFile *spill, WaitHooks *hooks);

    // ---- writers ----
    // Join as a producer. False if the log is already sealed (every producer finished).
    bool try_register_producer();
    // Append one record (any length up to 1 GiB). Blocks only while the ring is full and a
    // page must be spilled or a reader is mid-copy. Records longer than half the ring are
    // stored out of line in the spill file. Returns the record's position.
    uint64_t append(const void *data, uint32_t len);
    // This producer is done. Returns true when it was the last one: the log is now sealed and
    // readers at the end get ReadStatus::End.
    bool producer_done();
    // Publishes this handle's appended records now (single-producer logs with publish_batch);
    // in a multi-producer log, closes the chunk this producer is filling, so that readers can
    // go past it to later producers' records (they read in log order). A producer that may
    // pause for long between appends calls it. (A multi-producer handle's open chunk also
    // keeps its ring page from being recycled: a thread that drives several producer handles
    // flushes one before another one can wrap the ring onto its page.)
    void flush();
    // Marks the log failed (a producer errored); readers get ReadStatus::Failed. Idempotent.
    void fail();

    // ---- readers ----
    // Non-blocking: the record at the cursor, WouldBlock if not yet published, End after the
    // last record of a sealed log, Failed if a producer failed. Inline for the rescan path: a
    // cursor that found the log frozen reads its inline records in place, without a call.
    ReadStatus try_read(Cursor &c, RecordView *out) {
        if (read_frozen(c, out))
            return ReadStatus::Record;
        return try_read_slow(c, out);
    }
    // Blocking: waits with the hooks while WouldBlock.
    ReadStatus read(Cursor &c, RecordView *out) {
        if (read_frozen(c, out))
            return ReadStatus::Record;
        return read_slow(c, out);
    }
    // Only the in-place read of try_read: true with the record at the cursor when the cursor
    // found the log frozen and the record is inline; false otherwise (nothing moved: take
    // try_read or read). Never blocks or throws: for a caller's hot path (a rescanned reader).
    bool try_read_frozen(Cursor &c, RecordView *out) { return read_frozen(c, out); }
    // Single-producer logs only: the record before the cursor (moving the cursor back);
    // End at position 0.
    ReadStatus read_prev(Cursor &c, RecordView *out);
    // Reads again the record at the cursor if it starts before position upto, a position some
    // cursor of this log reached earlier (so every record before it was published), even after
    // the log failed; End at upto. For a reader checking rows it read before a failure.
    ReadStatus reread(Cursor &c, uint64_t upto, RecordView *out);
    // Rescan is seek(c, 0); mark/restore is RecordView::pos / seek(c, pos).
    void seek(Cursor &c, uint64_t pos);

    bool sealed() const;
    bool failed() const;
    LogStats stats() const;
    const HandleStats &handle_stats() const { return hstats_; }
    const LogConfig &config() const;

    // Record header word: length + 1 in the low 32 bits (0: not published), an out-of-line flag,
    // and in single_producer logs the previous record's footprint above kHeaderPrevShift.
    static constexpr uint64_t kHeaderLenMask = 0xffffffffull;
    static constexpr uint64_t kHeaderOversize = uint64_t{1} << 32;
    static constexpr int kHeaderPrevShift = 33;

private:
    struct Header;
    struct Slot;
    // An inline record of a frozen log at the cursor, returned in place (see Cursor).
    bool read_frozen(Cursor &c, RecordView *out) {
        const uint64_t pos = c.pos_;
        if (pos >= c.frozen_tail_)
            return false;
        const char *p = c.frozen_base_ + pos;
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        if (w == 0 || (w & c.frozen_reject_) != 0)  // (0: a failed writer's reservation)
            return false;
        const uint64_t len = (w & kHeaderLenMask) - 1;
        out->data = p + 8;
        out->len = static_cast<uint32_t>(len);
        out->pos = pos;
        const uint64_t fp = (8 + len + 7) & ~uint64_t{7};
        c.prev_len_ = fp;
        c.pos_ = pos + fp;
        ++hstats_.records_read;
        return true;
    }
    ReadStatus try_read_slow(Cursor &c, RecordView *out);
    ReadStatus read_slow(Cursor &c, RecordView *out);
    void note_frozen(Cursor &c) const;
    Slot &slot(uint64_t page) const;
    char *page_ptr(uint64_t page) const;
    void ensure_page(uint64_t page);
    void recycle(Slot &s, bool first_use, uint64_t old_page, uint64_t new_page);
    void spill_pages(uint64_t page);
    void writer_wait(int &spins);
    void wake_sleepers();
    int start_light_publish();
    void write_bytes(uint64_t pos, const void *src, size_t len);
    const char *acquire_page(Cursor &c, uint64_t page, Slot **ring);
    bool ring_valid(const Slot &s, uint64_t page) const;
    const char *read_spilled(Cursor &c, uint64_t page);
    bool copy_page_bytes(Cursor &c, uint64_t page, size_t off, char *dst, size_t len);
    bool header_at(Cursor &c, uint64_t pos, uint64_t *word);
    bool read_record(Cursor &c, uint64_t pos, uint64_t *word, RecordView *out);
    bool frozen() const;  // sealed and never wrapped: the ring is immutable
    // Multi-producer logs: producer-owned chunks (see "Multi-producer chunks" in the docs).
    std::atomic<uint64_t> &mark(uint64_t chunk) const;
    uint64_t mp_frontier(uint64_t pos) const;
    uint64_t append_mp(const void *data, uint32_t len, uint64_t fp, bool oversize,
                       uint64_t overflow_off);
    void publish_mark(uint64_t chunk, uint64_t bytes);
    uint64_t put_in_chunk(const void *payload, size_t plen, uint64_t word, uint64_t fp);
    void close_chunk();
    void commit_chunk(uint64_t chunk);
    ReadStatus try_read_impl(Cursor &c, RecordView *out, bool *in_flight);
    void flush_records();
    uint64_t append_slow(const void *data, uint32_t len);
    bool fast_read(Cursor &c, RecordView *out);
    uint64_t append_sp(const void *data, uint32_t len, uint64_t fp, bool oversize,
                       uint64_t overflow_off);
    void publish_sp();
    void settle_sp();
    void drop_sp();
    void copy_out(Cursor &c, uint64_t pos, char *dst, size_t len);

    Header *hdr_;
    char *base_;
    SpillFile *spill_;
    WaitHooks *hooks_;
    HandleStats hstats_;
    Slot *slots_ = nullptr;
    char *pages_ = nullptr;
    uint32_t shift_ = 0;      // log2(page_size)
    uint64_t page_size_ = 0;
    uint64_t ring_mask_ = 0;  // ring_pages - 1
    uint64_t ring_bytes_ = 0;
    uint32_t shard_ = 0;            // which of the slots' pin counters this handle uses
    uint64_t pending_records_ = 0;  // appended, not yet added to the shared count
    // Single-producer writer, while records are appended but not yet published (publish_sp):
    bool sp_pending_ = false;
    uint64_t sp_end_ = 0;          // end of the last appended record (the local tail)
    uint64_t sp_batch_start_ = 0;  // `published` as this handle last stored it
    uint64_t sp_prev_fp_ = 0;      // footprint of the last appended record
    uint64_t sp_settled_ = 0;      // sp_end_ as settle_sp() last stored it
    // The rest of the page a single-producer writer is filling (see append()); 0: none.
    char *win_ptr_ = nullptr;
    uint64_t win_left_ = 0;
    uint64_t publish_batch_ = 0;  // LogConfig::publish_batch
    int light_ = -1;  // a writer publishing with a release store: 1 yes, 0 no, -1 unknown
    // Multi-producer logs: the chunk this handle's producer owns and fills (see append_mp).
    bool mp_ = false;            // the log is not single_producer
    uint32_t cshift_ = 0;        // log2(chunk size)
    uint64_t chunk_mask_ = 0;    // chunks in the ring - 1
    uint32_t line_shift_ = 0;    // mark index interleaving (see mark())
    uint64_t line_mask_ = 0;
    std::atomic<uint64_t> *marks_ = nullptr;
    uint64_t mp_chunk_ = 0;      // the open chunk's number
    uint64_t mp_used_ = 0;       // bytes of it written and published
    uint64_t mp_left_ = 0;       // bytes left in it; 0: no open chunk
    char *mp_ptr_ = nullptr;     // where the next record goes
};

}  // namespace pm::core
