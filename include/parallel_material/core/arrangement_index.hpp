// arrangement_index.hpp — the shared, MVCC-versioned, delta-maintained hash index of arrangements.
//
// One ArrangementIndex indexes one relation on its join key. It lives entirely inside a region
// managed by a RegionAllocator and is addressed by offsets, so every process that maps the region
// (at any address) can attach to it. See docs/arrangements.md for the design.
//
// Contents: a fixed, power-of-two array of buckets, each the head of a singly linked chain of
// row *versions*. A version holds 32 bits of the key's hash, the key bytes, the projected tuple
// bytes (opaque to core), the heap TID and MVCC fields (xmin/cmin set at insert, xmax/cmax set by
// a delete, adapter-defined flags). Core never decides visibility: readers pass a callback that
// receives every candidate version (a VersionView) and says whether the caller's snapshot sees it.
// insert_bulk stores the compact versions of one key that arrive together as a *run*: one block
// with one header and key, and per version its TID, tuple length and xmax word; a chain mixes
// runs and single versions (docs/arrangements.md, "Runs").
//
// Concurrency:
//  * readers (probe, scan_all) take no lock: they walk chains with acquire loads inside a read
//    section that publishes the reader's epoch in a per-reader slot of the region;
//  * writers (insert, mark_deleted, truncate_all, reclaim) serialize on the WriterLock stripe of
//    the bucket they change (stripe = bucket % lock.stripes());
//  * a new version is fully written before its offset is published at the chain head (release);
//    xmax/cmax are one 64-bit atomic word, so a reader sees either "not deleted" or the complete
//    (xmax, cmax) pair;
//  * reclaim() unlinks versions the caller says are dead to every snapshot and frees them only
//    after a grace period: once every reader slot is idle or has entered a read section after the
//    unlink (epoch-based reclamation).
//
// Growth: the bucket count is fixed at create() (choose it from the expected row count: about
// one bucket per row, see Options); chains grow beyond that, probes slow down linearly.
//
// Errors: Error(OutOfMemory) when the region cannot hold a new version (the index stays
// consistent; the adapter marks the arrangement invalid), Error(InvalidArgument) for bad options
// or a region that holds no index at the given offset, Error(Internal) when no reader slot is free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "parallel_material/core/arrangement_region.hpp"
#include "parallel_material/core/error.hpp"

namespace pm::core {

// A non-owning reference to a callable (like C++26 std::function_ref); never allocates. The
// referenced callable must outlive the call it is passed to.
template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
  public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
    FunctionRef(F &&f) noexcept  // NOLINT: implicit on purpose
        : obj_(const_cast<void *>(static_cast<const void *>(&f))),
          call_([](void *o, Args... a) -> R {
              return (*static_cast<std::remove_reference_t<F> *>(o))(std::forward<Args>(a)...);
          }) {}
    R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

  private:
    void *obj_;
    R (*call_)(void *, Args...);
};

// A heap tuple identifier (ItemPointerData without the padding).
struct Tid {
    uint32_t block = 0;
    uint16_t offset = 0;
    bool operator==(const Tid &o) const { return block == o.block && offset == o.offset; }
    bool operator!=(const Tid &o) const { return !(*this == o); }
};

// A read-only look at one version, valid only during the callback that receives it (its bytes
// live in shared memory and may be reclaimed once the read section ends).
struct VersionView {
    uint64_t hash;   // the low 32 bits of the hash it was inserted with (all a version keeps)
    Tid tid;
    uint32_t xmin;   // inserting transaction
    uint32_t cmin;   // inserting command
    uint32_t xmax;   // deleting transaction, 0 (InvalidTransactionId) when never deleted
    uint32_t cmax;   // deleting command, meaningful only when xmax != 0
    uint16_t flags;  // adapter-defined, set at insert
    const char *key;
    uint32_t key_len;
    const char *tuple;
    uint32_t tuple_len;
};

using VisibilityFn = FunctionRef<bool(const VersionView &)>;
using EmitFn = FunctionRef<void(const VersionView &)>;
// probe_batch's emit: the index of the probe (in the batch) the version matched, and the version.
using BatchEmitFn = FunctionRef<void(uint32_t, const VersionView &)>;

// One probe of a batch: the key's hash and bytes (which must stay valid during the call).
struct ProbeKey {
    uint64_t hash;
    const void *key;
    uint32_t key_len;
};
// Picks, among the versions carrying a TID, the one a delete applies to: the heap's current
// version (never deleted, or deleted only by a transaction that aborted). Used by mark_deleted
// and truncate_all; the default (current_if_no_xmax) treats any xmax as final.
using CurrentFn = FunctionRef<bool(const VersionView &)>;
// Says whether a version is dead to every snapshot, present and future (aborted xmin, or xmax
// committed before the oldest snapshot's xmin).
// CurrentFn and DeadFn run under a writer-lock stripe: keep them short and do not call this index.
using DeadFn = FunctionRef<bool(const VersionView &)>;
// Says whether a version's xmin is committed for every snapshot, present and future (committed
// before the oldest snapshot's xmin): reclaim then stores it compact, as if inserted with the
// index's frozen_xmin and cmin 0 (see Options::frozen_xmin).
using FreezeFn = FunctionRef<bool(const VersionView &)>;

// Told about a version that `dead` accepted but that stays linked: a run (several versions of
// one key stored together) with dead entries is replaced by a copy of its survivors, and stays
// as it is when the region has no room for the copy. The adapter's xid floor counts such versions.
using KeptFn = FunctionRef<void(const VersionView &)>;

struct CurrentIfNoXmax {
    bool operator()(const VersionView &v) const { return v.xmax == 0; }
};
inline constexpr CurrentIfNoXmax current_if_no_xmax{};

// One version of a bulk insert (insert_bulk): its bytes must stay valid during the call.
struct BulkVersion {
    uint64_t hash;
    const void *key;
    uint32_t key_len;
    const void *tuple;
    uint32_t tuple_len;
    Tid tid;
    uint32_t xmin, cmin;
    uint32_t xmax, cmax;  // xmax 0: not deleted
    uint16_t flags;
};

struct ArrangementStats {
    uint64_t nbuckets;
    uint64_t versions;         // linked versions (live + delete-marked, not yet reclaimed)
    uint64_t delete_marked;    // linked versions whose xmax is set
    uint64_t live;             // versions - delete_marked (xmax not set; includes aborted inserts)
    uint64_t inserts;          // deltas applied: versions inserted
    uint64_t deletes;          // deltas applied: xmax set by mark_deleted / truncate_all
    uint64_t truncates;        // truncate_all calls
    uint64_t reclaimed;        // versions freed by reclaim (a run replaced by a copy of its
                               // survivors counts all its versions, as a compacted original does)
    uint64_t retired_pending;  // unlinked, waiting for readers to leave before being freed
    uint64_t version_bytes;    // bytes held by linked and pending versions (rounded sizes)
    uint64_t region_bytes_in_use;  // the allocator's view of the whole region
};

struct ReclaimResult {
    uint64_t unlinked = 0;  // versions unlinked by this pass (dead ones and compacted originals)
    uint64_t compacted = 0;  // versions replaced by a compact copy (counted in unlinked too)
    // versions moved into a run by reclaim(dead, freeze): compact versions of one key (single
    // versions and runs), adjacent or not in their chain, replaced by one run (not counted in
    // unlinked)
    uint64_t grouped = 0;
    // versions copied unchanged by that grouping: the other nodes of a relinked stretch of the
    // chain (between versions of one key grouped together; not counted in unlinked)
    uint64_t copied = 0;
    // freed and pending count the versions the blocks held (a run replaced by a copy of its
    // survivors: all of its versions)
    uint64_t freed = 0;     // versions freed by this pass (from this or earlier passes)
    uint64_t pending = 0;   // unlinked versions still waiting for a grace period
};

class ArrangementIndex {
  public:
    struct Options {
        // Power of two; 0 derives it from expected_rows (next power of two >= expected_rows).
        uint64_t nbuckets = 0;
        uint64_t expected_rows = 1024;
        // Concurrent read sections allowed (PostgreSQL: MaxBackends + max_worker_processes).
        uint32_t reader_slots = 64;
        // Whom every block of this index is charged to (RegionAllocator::allocate_for).
        uint32_t account = 0;
        // An xmin every snapshot sees as committed (PostgreSQL's FrozenTransactionId), or 0. A
        // version inserted with this xmin and cmin 0 is stored in the compact form, without
        // xmin and cmin (8 bytes less); readers see it with exactly these values.
        uint32_t frozen_xmin = 0;
    };

    // A reader of the index. From register_reader(): it claims one of the region's reader slots
    // only while it is inside a read section (probe, probe_batch, scan_all), so readers never
    // run out of slots as long as no more read sections than slots run at once (one per
    // process: the adapter has a slot per possible process). From register_reader(slot): that
    // slot, claimed for as long as the object lives. One per thread at a time; not thread-safe
    // itself. Movable.
    struct Header;
    struct Node;
    struct Slot;

    class Reader {
      public:
        Reader() = default;
        Reader(Reader &&o) noexcept;
        Reader &operator=(Reader &&o) noexcept;
        Reader(const Reader &) = delete;
        Reader &operator=(const Reader &) = delete;
        ~Reader();
        bool valid() const { return index_ != nullptr; }
        // The fixed slot, or the slot of the current (else the last) read section.
        uint32_t slot() const { return slot_; }

      private:
        friend class ArrangementIndex;
        void release() noexcept;
        const Header *index_ = nullptr;  // which index (handles may be copied; headers are not)
        Slot *slots_ = nullptr;
        Slot *slot_ptr_ = nullptr;  // claimed slot: fixed, or during a read section
        uint32_t slot_ = 0;
        uint32_t depth_ = 0;  // nested read sections
        bool fixed_ = false;
    };

    // Builds an empty index in the region; index_offset() names it for attach().
    static ArrangementIndex create(RegionAllocator &alloc, WriterLock &lock, const Options &opt);
    static ArrangementIndex create(RegionAllocator &alloc, WriterLock &lock) {
        return create(alloc, lock, Options());
    }
    // A handle over an index created by any process sharing the region.
    static ArrangementIndex attach(RegionAllocator &alloc, WriterLock &lock, uint64_t index_offset);

    uint64_t index_offset() const { return header_off_; }
    uint32_t account() const;
    uint64_t nbuckets() const;

    // ---- writers (serialized per stripe by the WriterLock) ----

    // Adds a version (xmax = 0). Throws Error(OutOfMemory) when the region is full; then
    // nothing changed. Aborted inserts are never undone: visibility filters them.
    void insert(uint64_t hash, const void *key, uint32_t key_len, const void *tuple,
                uint32_t tuple_len, Tid tid, uint32_t xmin, uint32_t cmin, uint16_t flags = 0);
    // Inserts n versions, each as insert() then (when xmax != 0) mark_deleted() would (the
    // compact ones of one key in a row, or within one bucket's stretch, as runs), laying
    // them out in the order given as far as the allocator allows: in one block when the region
    // has one large enough for all (each version is still freed on its own), else every block
    // is allocated first, then the blocks of each size class are handed out in ascending
    // address order. So a batch sorted by bucket_order() keeps each chain's versions together
    // even when the blocks come from free lists (a rebuild after a drop). Consecutive versions
    // of one writer-lock stripe are linked under one acquisition of its lock.
    // Throws Error(OutOfMemory) with nothing changed when the region cannot hold them all.
    void insert_bulk(const BulkVersion *v, size_t n);
    // The order of buckets as a function of the hash: a bulk load sorted by it and inserted in
    // that order puts the versions of each chain next to each other in the region (while the
    // region's free lists are empty), so a probe walks adjacent memory instead of one cache
    // and TLB miss per version.
    static uint64_t bucket_order(uint64_t hash);
    // Sets (xmax, cmax) on the newest version under `hash` carrying `tid` that `current` accepts;
    // returns whether one was found.
    bool mark_deleted(Tid tid, uint64_t hash, uint32_t xmax, uint32_t cmax,
                      CurrentFn current = current_if_no_xmax);
    // TRUNCATE: sets (xmax, cmax) on every version `current` accepts; returns how many.
    uint64_t truncate_all(uint32_t xmax, uint32_t cmax, CurrentFn current = current_if_no_xmax);

    // Unlinks every version `dead` accepts and frees unlinked versions whose grace period has
    // passed. Never blocks on readers: versions still possibly in use stay pending for a later
    // pass. One reclaim runs at a time (others wait for it).
    ReclaimResult reclaim(DeadFn dead);
    // The same, and every full version that is not dead and that `freeze` accepts is replaced by
    // a compact copy (frozen xmin, no cmin; 8 bytes less), linked in its place; the original is
    // retired like an unlinked version, so a reader standing on it walks on. A reader sees the
    // original or the copy, which every snapshot sees alike. Needs Options::frozen_xmin; a copy
    // the region has no room for is simply not made.
    // Then compact versions of one key (single versions, and runs with room), adjacent in their
    // chain or not, are grouped into one run: the stretch of the chain they span is copied and
    // linked in its place the same way (ReclaimResult::grouped, copied).
    ReclaimResult reclaim(DeadFn dead, FreezeFn freeze);
    // The same, and kept(v) for every version dead accepted that stays linked (see KeptFn).
    ReclaimResult reclaim(DeadFn dead, FreezeFn freeze, KeptFn kept);
    // Frees pending versions whose grace period has passed (reclaim without unlinking).
    ReclaimResult free_retired();

    // ---- readers (lock-free) ----

    // A reader that claims a free slot at each read section (waiting while every slot is inside
    // one; Error(Internal) only after a long wait), or one that holds the given slot for its
    // whole life (the adapter may use its backend number; the slot must not be in use).
    Reader register_reader() const;
    Reader register_reader(uint32_t slot) const;

    // Calls visible(v) for every version whose hash and key bytes equal the probe's, newest
    // first, and emit(v) for those it accepts. Returns the number emitted. No lock is held while
    // the callbacks run: they may take their time (only reclamation waits) and may even call
    // writers (a reclaim from inside frees nothing this reader may stand on). They may throw (the
    // read section is left); they must not longjmp (the adapter wraps ereport in its guard).
    // Probes see each version as of some moment during the call: a version inserted concurrently
    // may or may not be offered, which is safe because its inserter is still in progress.
    uint64_t probe(Reader &reader, uint64_t hash, const void *key, uint32_t key_len,
                   VisibilityFn visible, EmitFn emit) const;
    // probe() for up to kMaxProbeBatch keys at once, in one read section, with the same
    // callbacks and guarantees; emit(i, v) names the probe i that v matched. The chains are
    // walked interleaved (one version of each unfinished chain per round, the next one
    // prefetched), so the cache and TLB misses of different probes overlap instead of queueing:
    // the order of emits across probes is unspecified; within one probe it is probe()'s order
    // (newest first). Returns the number emitted. Error(InvalidArgument) when n is too large.
    static constexpr uint32_t kMaxProbeBatch = 256;
    uint64_t probe_batch(Reader &reader, const ProbeKey *keys, uint32_t n, VisibilityFn visible,
                         BatchEmitFn emit) const;
    // Same over every version of every bucket.
    uint64_t scan_all(Reader &reader, VisibilityFn visible, EmitFn emit) const;
    // Conveniences that claim a temporary reader slot.
    uint64_t probe(uint64_t hash, const void *key, uint32_t key_len, VisibilityFn visible,
                   EmitFn emit) const;
    uint64_t scan_all(VisibilityFn visible, EmitFn emit) const;

    // ---- state ----
    ArrangementStats stats() const;
    // The adapter's "this arrangement can no longer be trusted" flag (e.g. after OutOfMemory).
    void mark_invalid();
    bool is_valid() const;

    // Frees every version, pending or linked, and the index itself. The caller guarantees that
    // no process reads or writes it any more. The handle is unusable afterwards.
    void destroy();

  private:
    ArrangementIndex(RegionAllocator &alloc, WriterLock &lock, uint64_t header_off);
    void enter(Reader &r) const;
    void exit(Reader &r) const;
    uint64_t walk_chain(uint64_t head_off, bool match_key, uint64_t hash, const void *key,
                        uint32_t key_len, VisibilityFn visible, EmitFn emit) const;
    Node *node(uint64_t off) const { return reinterpret_cast<Node *>(base_ + off); }
    ReclaimResult free_retired_locked();
    ReclaimResult reclaim_impl(DeadFn dead, const FreezeFn *freeze, const KeptFn *kept);
    struct GroupScratch;
    void group_chain(std::atomic<uint32_t> *head, std::vector<uint64_t> &unlinked,
                     ReclaimResult &res, GroupScratch &scratch);
    std::atomic<uint32_t> *reclaim_run(Node *n, uint64_t off, std::atomic<uint32_t> *link,
                                       DeadFn dead, const KeptFn *kept,
                                       std::vector<uint64_t> &unlinked,
                                       uint64_t &unlinked_versions);
    uint64_t oldest_reader_epoch() const;
    uint32_t free_version(uint64_t off);  // returns the versions the block held
    void free_record(uint64_t roff);
    void allocate_each(const std::vector<size_t> &sizes, std::vector<uint64_t> &offs);
    // One block insert_bulk writes: a single version, or a run of compact versions of one key
    // (members[first .. first + count), in batch order).
    struct BulkUnitRef {
        uint32_t first;
        uint32_t count;
        bool run;
        size_t size;
    };
    bool run_eligible(const BulkVersion &b) const;
    void plan_units(const BulkVersion *v, size_t n, std::vector<uint32_t> &members,
                    std::vector<BulkUnitRef> &out) const;
    static void check_version(const void *key, uint32_t key_len, const void *tuple,
                              uint32_t tuple_len);
    bool stores_full(uint32_t xmin, uint32_t cmin) const;
    Node *write_node(uint64_t off, uint64_t hash, const void *key, uint32_t key_len,
                     const void *tuple, uint32_t tuple_len, Tid tid, uint32_t xmin, uint32_t cmin,
                     uint16_t flags);

    RegionAllocator *alloc_;
    WriterLock *lock_;
    char *base_;
    uint64_t header_off_;
    Header *hdr_;
    std::atomic<uint32_t> *buckets_;  // links: offsets in 16-byte units (arrangement_index.cpp)
    Slot *slots_;
};

}  // namespace pm::core
