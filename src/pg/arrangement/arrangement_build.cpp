// arrangement_build.cpp — the initial (and lazy re-) build of an arrangement, concurrent with
// writers (as CREATE INDEX CONCURRENTLY, within one statement): no lock beyond the caller's own.
// The build publishes an empty index in the directory; from then on the maintenance triggers of
// every writer apply their writes to it (deletes of versions not stored yet go to a side index as
// delete records). One SnapshotAny scan of the heap then stores every tuple some snapshot may
// still see (HeapTupleSatisfiesVacuum != DEAD) with its header's MVCC fields: xmin
// (FrozenTransactionId when frozen), the updating xmax (lockers ignored, multixacts resolved,
// aborted ones dropped), and the command ids when this transaction wrote the tuple (combo command
// ids resolved here, in the only backend that can resolve them). Tuples whose writers may also
// reach the index through their triggers are merged at the end, under a lock the triggers share,
// without duplicates; then the delete records are applied and the entry turns Ready.
// With parallel workers (arrangement_build_parallel.cpp) the leader and each worker scan block
// ranges of the heap under the same rules and insert their shares themselves (build_participant);
// their deferred versions reach the leader's merge through the side index.
// docs/arrangements.md, "Build", "Concurrent builds" and "Parallel build", argues why the result
// is exact.
#include <algorithm>
#include <optional>
#include <vector>

#include "pg/arrangement/arrangement.hpp"
#include "pg/arrangement/arrangement_build_parallel.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/parallel.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "catalog/pg_statistic.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/procarray.h"
#include "utils/rel.h"
}

namespace pm::pg::arr {

namespace {

struct BuildState {
    Relation rel;
    const Shape *shape;
    TableScanDesc scan;
    TransactionId oldest_xmin;
    // Concurrent writers: s0 was taken just before the index was published (an xid it does not
    // see as running finished before, and its triggers found no index); valid_xid is the xid
    // counter at the publication (a transaction given an xid from then on reaches the index
    // through its triggers for every row it writes).
    Snapshot s0;
    TransactionId valid_xid;
    bool uncertain;  // the current version: its inserter's trigger may reach the index too
    bool paused;     // parallel_material.debug_build_pause done
    Datum *values;
    bool *isnull;
    bool whole_row;  // the arrangement holds every column of the relation, in order
    StringInfoData key;
    // the current version
    MinimalTuple tuple;
    core::Tid tid;
    TransactionId xmin, xmax;
    CommandId cmin, cmax;
    uint64_t hash;
    // progress
    BlockNumber reported_block;
    uint64_t versions;
    // A parallel build's participant (null: a serial build): the shared state, the parallel
    // scan, and how many of this participant's versions were added to share->versions.
    BuildShare *share;
    ParallelTableScanDesc pscan;
    uint64_t published;
};

// parallel_material.debug_build_pause (superuser, hidden): a test aid. When not 0, a build
// waits, once its scan has passed the heap's first block (or at its end), for the advisory lock
// of that key in share mode (pg_advisory_lock_shared), so a test can hold a build in the middle
// of its scan while other sessions write.
int g_debug_build_pause = 0;

void debug_pause() {
    if (g_debug_build_pause == 0) return;
    LOCKTAG tag;
    int64 key = g_debug_build_pause;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(key >> 32),
                         static_cast<uint32>(key), 1);
    (void)LockAcquire(&tag, ShareLock, false, false);
    LockRelease(&tag, ShareLock, false);
}

void build_begin(BuildState *st) {
    if (st->pscan != nullptr) {
        // A share of the heap (blocks handed out by the parallel scan), with the leader's
        // SnapshotAny and horizon: every participant keeps and drops the same tuples.
        st->scan = table_beginscan_parallel(st->rel, st->pscan);
        st->oldest_xmin = st->share->oldest_xmin;
    } else {
        st->scan = table_beginscan_strat(st->rel, SnapshotAny, 0, nullptr, true, false);
        st->oldest_xmin = GetOldestNonRemovableTransactionId(st->rel);
    }
    st->values = static_cast<Datum *>(palloc(sizeof(Datum) * st->shape->reldesc->natts));
    st->isnull = static_cast<bool *>(palloc(sizeof(bool) * st->shape->reldesc->natts));
    initStringInfo(&st->key);
    const Def &d = st->shape->def;
    st->whole_row = d.ncols == st->shape->reldesc->natts;
    for (int i = 0; st->whole_row && i < d.ncols; ++i) st->whole_row = d.cols[i] == i + 1;
    double reltuples = st->rel->rd_rel->reltuples;
    if (!IsParallelWorker())  // the leader reports for all participants
        progress_scan_start(st->shape->def.defid,
                        reinterpret_cast<HeapScanDesc>(st->scan)->rs_nblocks,
                        reltuples > 0 ? static_cast<int64>(reltuples) : 0);
    st->reported_block = 0;
}

// Reports blocks scanned (the scan goes from block 0 up: no synchronized scan) and versions
// stored so far, once per heap block. In a parallel build every participant adds its versions to
// the shared count once per block, and the leader reports the blocks handed out so far.
void build_progress(BuildState *st, bool done) {
    auto *hs = reinterpret_cast<HeapScanDesc>(st->scan);
    BlockNumber blocks = done ? hs->rs_nblocks : hs->rs_cblock;
    if (!done && (blocks == InvalidBlockNumber || blocks == st->reported_block)) return;
    st->reported_block = blocks;
    if (st->share == nullptr) {
        progress_scan(blocks, static_cast<int64>(st->versions));
        return;
    }
    pg_atomic_fetch_add_u64(&st->share->versions, st->versions - st->published);
    st->published = st->versions;
    if (IsParallelWorker()) return;
    auto *pb = reinterpret_cast<ParallelBlockTableScanDesc>(st->pscan);
    uint64 handed = pg_atomic_read_u64(&pb->phs_nallocated);
    if (handed > hs->rs_nblocks) handed = hs->rs_nblocks;
    progress_scan(static_cast<int64>(handed),
                  static_cast<int64>(pg_atomic_read_u64(&st->share->versions)));
}

// Fills the next version to store; false at the end of the heap.
bool build_next(BuildState *st) {
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        HeapTuple tup = heap_getnext(st->scan, ForwardScanDirection);
        build_progress(st, tup == nullptr);
        if (!st->paused && (tup == nullptr || ItemPointerGetBlockNumber(&tup->t_self) > 0)) {
            st->paused = true;
            debug_pause();
        }
        if (tup == nullptr) return false;
        Buffer buf = reinterpret_cast<HeapScanDesc>(st->scan)->rs_cbuf;
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        HTSV_Result r = HeapTupleSatisfiesVacuum(tup, st->oldest_xmin, buf);
        if (r == HEAPTUPLE_DEAD) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            continue;
        }
        HeapTupleHeader h = tup->t_data;
        st->xmin = HeapTupleHeaderGetXmin(h);  // FrozenTransactionId when frozen
        bool own = TransactionIdIsCurrentTransactionId(st->xmin);
        st->cmin = own ? HeapTupleHeaderGetCmin(h) : 0;
        // Written by a transaction running when s0 was taken (or later): its trigger may have
        // stored this version, or may store it later; merged at the end without duplicates.
        st->uncertain = !own && TransactionIdIsNormal(st->xmin) && XidInMVCCSnapshot(st->xmin, st->s0);
        if (st->uncertain && TransactionIdFollowsOrEquals(st->xmin, st->valid_xid)) {
            // Its writer had no xid at the publication: its trigger stores it (and only it knows
            // the command id).
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            continue;
        }
        st->xmax = InvalidTransactionId;
        st->cmax = 0;
        uint16 mask = h->t_infomask;
        if (!(mask & HEAP_XMAX_INVALID) && !HEAP_XMAX_IS_LOCKED_ONLY(mask)) {
            TransactionId x = HeapTupleHeaderGetUpdateXid(h);
            if (TransactionIdIsCurrentTransactionId(x)) {
                st->xmax = x;
                st->cmax = HeapTupleHeaderGetCmax(h);
            } else if (!TransactionIdIsValid(x)) {
                // nothing
            } else if (!XidInMVCCSnapshot(x, st->s0)) {
                if (TransactionIdDidCommit(x)) st->xmax = x;  // finished before s0
            } else if (TransactionIdFollowsOrEquals(x, st->valid_xid)) {
                // Its trigger stamps the version (or leaves a delete record), command id included.
            } else if (TransactionIdIsInProgress(x) || TransactionIdDidCommit(x)) {
                // Its trigger may have fired before the publication: stamped here, without the
                // command id (re-stamped with it if the trigger fires later).
                st->xmax = x;
            }
        }
        // A tuple every snapshot sees as inserted and not deleted (what VACUUM would call
        // all-visible: committed before the oldest snapshot's xmin, live) is stored as frozen:
        // the heap's own rules give it the same visibility, and core keeps it without xmin and
        // cmin (the compact form, docs/arrangements.md "Layout").
        if (r == HEAPTUPLE_LIVE && st->xmax == InvalidTransactionId &&
            TransactionIdIsNormal(st->xmin) && TransactionIdPrecedes(st->xmin, st->oldest_xmin)) {
            st->xmin = FrozenTransactionId;
            st->cmin = 0;
        }
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        st->tid = core::Tid{ItemPointerGetBlockNumber(&tup->t_self),
                            ItemPointerGetOffsetNumber(&tup->t_self)};
        TupleDesc rd = st->shape->reldesc;
        resetStringInfo(&st->key);
        if (st->whole_row && !HeapTupleHasExternal(tup) &&
            HeapTupleHeaderGetNatts(tup->t_data) == rd->natts) {
            // Every column, none missing nor external: the projection is the heap tuple's own
            // bytes (the layout heap_form_minimal_tuple would give), so only the key columns
            // are read, and the hint bits are dropped from the copy.
            for (int k = 0; k < st->shape->def.nkeys; ++k) {
                int a = st->shape->def.keys[k] - 1;
                st->values[a] = heap_getattr(tup, a + 1, rd, &st->isnull[a]);
            }
            encode_key_from_values(st->shape, st->values, st->isnull, &st->key);
            st->tuple = pm_minimal_tuple_from_heap_tuple(tup);
            st->tuple->t_infomask &= (HEAP_HASNULL | HEAP_HASVARWIDTH);
            st->tuple->t_infomask2 &= HEAP_NATTS_MASK;
        } else {
            heap_deform_tuple(tup, rd, st->values, st->isnull);
            encode_key_from_values(st->shape, st->values, st->isnull, &st->key);
            st->tuple = project(st->shape, st->values, st->isnull);
        }
        st->hash = hash_key(&st->key);
        return true;
    }
}

// A chunk of versions waiting to be inserted in bucket order (plain C++: the caller's pg_call
// frames convert PostgreSQL errors, and these vectors are freed on every path).
class Stager {
  public:
    Stager(core::ArrangementIndex &index, size_t limit) : index_(index), limit_(limit) {
        // No regrowth (and copy) of the arena while it fills, up to 256 MB reserved.
        arena_.reserve(std::min(limit_, size_t{256} << 20) + 8192);
    }
    void add(uint64_t hash, const char *key, uint32_t key_len, const void *tuple,
             uint32_t tuple_len, uint16_t flags, core::Tid tid, TransactionId xmin,
             CommandId cmin, TransactionId xmax, CommandId cmax) {
        if (!staged_.empty() &&
            (arena_.size() + key_len + tuple_len > limit_ || staged_.size() >= UINT32_MAX))
            flush();
        staged_.push_back(Staged{core::ArrangementIndex::bucket_order(hash), hash, arena_.size(),
                                 key_len, tuple_len, flags, tid, xmin, cmin, xmax, cmax});
        arena_.insert(arena_.end(), key, key + key_len);
        const char *tp = static_cast<const char *>(tuple);
        arena_.insert(arena_.end(), tp, tp + tuple_len);
    }
    void flush() {
        // The versions in bucket order, ties in heap order: a stable radix sort of (bucket,
        // position) pairs, 12 bits of the bucket per pass (the bucket is the top log2(nbuckets)
        // bits of bucket_order()).
        const size_t n = staged_.size();
        const int bits = __builtin_ctzll(index_.nbuckets());
        std::vector<std::pair<uint32_t, uint32_t>> ord(n), tmp(n);
        for (size_t i = 0; i < n; ++i)
            ord[i] = {bits == 0 ? 0u : static_cast<uint32_t>(staged_[i].order >> (64 - bits)),
                      static_cast<uint32_t>(i)};
        std::vector<size_t> count;
        for (int shift = 0; shift < bits; shift += 12) {
            const int w = std::min(12, bits - shift);
            const uint32_t mask = (1u << w) - 1;
            count.assign(size_t{mask} + 2, 0);
            for (const auto &o : ord) ++count[((o.first >> shift) & mask) + 1];
            for (size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
            for (const auto &o : ord) tmp[count[(o.first >> shift) & mask]++] = o;
            ord.swap(tmp);
        }
        // One bulk insert: the blocks are handed out in address order, so the layout follows
        // the buckets even when they come from the free lists of a dropped index.
        std::vector<core::BulkVersion> bulk;
        bulk.reserve(n);
        for (const auto &o : ord) {
            const Staged &s = staged_[o.second];
            const char *p = arena_.data() + s.off;
            bulk.push_back(core::BulkVersion{s.hash, p, s.key_len, p + s.key_len, s.tuple_len,
                                             s.tid, s.xmin, s.cmin, s.xmax,
                                             s.xmax != InvalidTransactionId ? s.cmax : 0,
                                             s.flags});
        }
        index_.insert_bulk(bulk.data(), bulk.size());
        staged_.clear();
        arena_.clear();
    }

  private:
    struct Staged {
        uint64_t order, hash;
        size_t off;
        uint32_t key_len, tuple_len;
        uint16_t flags;  // arrangement_stored_tuple.hpp
        core::Tid tid;
        TransactionId xmin;
        CommandId cmin;
        TransactionId xmax;
        CommandId cmax;
    };
    core::ArrangementIndex &index_;
    size_t limit_;
    std::vector<Staged> staged_;
    std::vector<char> arena_;
};

// Distinct keys ANALYZE estimated for one column (pg_statistic.stadistinct: > 0 a count, < 0 a
// fraction of the rows), or -1 when the column has no statistics.
double column_distinct(Oid relid, AttrNumber att, double rows) {
    HeapTuple tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid), Int16GetDatum(att),
                                    BoolGetDatum(false));
    if (!HeapTupleIsValid(tup)) return -1;
    double d = reinterpret_cast<Form_pg_statistic>(GETSTRUCT(tup))->stadistinct;
    ReleaseSysCache(tup);
    if (d < 0) return -d * rows;
    return d > 0 ? d : -1;
}

// How many chains the bucket array is sized for: twice the estimated number of distinct keys,
// not the rows (lineitem holds about 4 rows per l_orderkey), so that a bucket holds at most one
// key's versions as a rule (rounded up to a power of two: 0.25 to 0.5 keys per bucket; at one
// key per bucket a repeated Q3 ran 1.8% more instructions, chains of two keys). The estimate
// is the product of the key columns' pg_statistic n_distinct, at most the rows; without
// statistics for every key column, the rows. ANALYZE underestimates the distinct values of
// clustered columns (a sample of whole blocks holds neighbours with one key), so the estimate is
// never taken below a sixteenth of the rows: a probe then walks at most about 16 versions of
// other keys on average, and every version the underestimate allows shares its bucket's area
// (the build stores a bucket's versions side by side, see "Build" in docs/arrangements.md).
uint64_t expected_keys(Relation rel, const Def &def) {
    double rows = rel->rd_rel->reltuples;
    if (rows < 0) rows = 0;  // never vacuumed or analyzed (PostgreSQL 14+: -1)
    double keys = 1;
    for (int i = 0; i < def.nkeys; ++i) {
        double d = column_distinct(RelationGetRelid(rel), def.keys[i], rows);
        if (d < 0) {
            keys = rows;
            break;
        }
        keys *= d;
        if (keys >= rows) break;
    }
    keys = std::min(keys, rows);
    keys = std::max(keys, rows / 16);
    double chains = std::min(2 * keys, rows);  // no more buckets than rows, as before
    if (chains < 1024) chains = 1024;
    if (chains > double(uint64_t{1} << 26)) chains = double(uint64_t{1} << 26);
    return static_cast<uint64_t>(chains);
}

int build_reported(Relation rel, const Def &def);

}  // namespace

int build(Relation rel, const Def &def) {
    bool progress = progress_begin(RelationGetRelid(rel), def.defid, kProgressWaiting);
    try {
        int slot = build_reported(rel, def);
        progress_end(progress);
        return slot;
    } catch (...) {
        progress_end(progress);
        throw;
    }
}

namespace {

// Versions whose writers' triggers may also reach the index (see BuildState::uncertain): kept in
// backend memory until the merge (plain C++, freed on every path).
class Deferred {
  public:
    void add(uint64_t hash, const char *key, uint32_t key_len, const void *tuple,
             uint32_t tuple_len, uint16_t flags, core::Tid tid, TransactionId xmin,
             TransactionId xmax, CommandId cmax) {
        items_.push_back(
            Item{hash, arena_.size(), key_len, tuple_len, flags, tid, xmin, xmax, cmax});
        arena_.insert(arena_.end(), key, key + key_len);
        const char *tp = static_cast<const char *>(tuple);
        arena_.insert(arena_.end(), tp, tp + tuple_len);
    }
    // Stores the ones the index does not hold yet (a trigger stored the others, with their
    // command ids). The caller holds the build-merge lock exclusively: no trigger writes now.
    void merge(core::ArrangementIndex &index) {
        std::vector<core::BulkVersion> bulk;
        for (const Item &it : items_) {
            const char *p = arena_.data() + it.off;
            bool present = false;
            index.probe(
                it.hash, p, it.key_len,
                [&](const core::VersionView &v) {
                    if (v.tid == it.tid && v.xmin == it.xmin) present = true;
                    return false;
                },
                [](const core::VersionView &) {});
            if (present) continue;
            bulk.push_back(core::BulkVersion{it.hash, p, it.key_len, p + it.key_len, it.tuple_len,
                                             it.tid, it.xmin, 0, it.xmax,
                                             it.xmax != InvalidTransactionId ? it.cmax : 0,
                                             it.flags});
        }
        if (!bulk.empty()) index.insert_bulk(bulk.data(), bulk.size());
    }
    // A parallel participant's deferred versions, left in the build's side index (flagged
    // kSideDeferred, with their xmax) for the leader's merge: one insert_bulk.
    void store_in(core::ArrangementIndex &side) const {
        std::vector<core::BulkVersion> bulk;
        bulk.reserve(items_.size());
        for (const Item &it : items_) {
            const char *p = arena_.data() + it.off;
            bulk.push_back(core::BulkVersion{it.hash, p, it.key_len, p + it.key_len, it.tuple_len,
                                             it.tid, it.xmin, 0, it.xmax,
                                             it.xmax != InvalidTransactionId ? it.cmax : 0,
                                             static_cast<uint16_t>(it.flags | kSideDeferred)});
        }
        if (!bulk.empty()) side.insert_bulk(bulk.data(), bulk.size());
    }
    // The deferred versions every participant of a parallel build left in the side index.
    void load_from(core::ArrangementIndex &side) {
        side.scan_all(
            [&](const core::VersionView &v) {
                if (v.flags & kSideDeferred)
                    add(hash_key_bytes(v.key, static_cast<int>(v.key_len)), v.key, v.key_len,
                        v.tuple, v.tuple_len, static_cast<uint16_t>(v.flags & ~kSideDeferred),
                        v.tid, v.xmin, v.xmax, v.cmax);
                return false;
            },
            [](const core::VersionView &) {});
    }
    bool empty() const { return items_.empty(); }

  private:
    struct Item {
        uint64_t hash;
        size_t off;
        uint32_t key_len, tuple_len;
        uint16_t flags;
        core::Tid tid;
        TransactionId xmin, xmax;
        CommandId cmax;
    };
    std::vector<Item> items_;
    std::vector<char> arena_;
};

// The delete records the triggers left in the side index (deletes of versions the build had not
// stored yet), applied to the index: (xmin, cmin) of a record are the deleter's xid and command,
// its tuple bytes the deleted row's raw xmin.
void apply_delete_records(core::ArrangementIndex &index, core::ArrangementIndex &side) {
    struct Record {
        core::Tid tid;
        uint64_t hash;
        TransactionId xid;
        CommandId cid;
        TransactionId row_xmin;
    };
    std::vector<Record> records;
    side.scan_all(
        [&](const core::VersionView &v) {
            if (v.flags & kSideDeferred) return false;  // a parallel build's deferred version
            TransactionId row_xmin = InvalidTransactionId;
            if (v.tuple_len == sizeof(row_xmin)) memcpy(&row_xmin, v.tuple, sizeof(row_xmin));
            // v.hash holds only the low 32 bits of the hash (all a version keeps): the whole
            // hash, which picks the bucket, comes from the key bytes again.
            records.push_back(Record{v.tid, hash_key_bytes(v.key, static_cast<int>(v.key_len)),
                                     v.xmin, v.cmin, row_xmin});
            return false;
        },
        [](const core::VersionView &) {});
    for (const Record &r : records) {
        // The current version of the TID, or the one the scan stamped with this deleter (without
        // its command id). Among the records of one TID at most one deleter did not abort (row
        // locks), and only it keeps its stamp, whatever the order.
        // The version must be the deleted row's (its xmin, or frozen by the scan): VACUUM may have
        // given a dead row's TID to a newer row meanwhile.
        index.mark_deleted(r.tid, r.hash, r.xid, r.cid, [&](const core::VersionView &v) {
            if (v.xmin != r.row_xmin && v.xmin != FrozenTransactionId) return false;
            return v.xmax == r.xid || pg_call([&] { return version_current(v); });
        });
    }
}

// Holds a build-merge lock exclusively (released on every exit path).
class MergeLock {
  public:
    explicit MergeLock(int slot) : lock_(build_merge_lock(slot)) {
        LWLockAcquire(lock_, LW_EXCLUSIVE);
        merge_section(true);
    }
    ~MergeLock() {
        merge_section(false);
        LWLockRelease(lock_);
    }
    MergeLock(const MergeLock &) = delete;
    MergeLock &operator=(const MergeLock &) = delete;

  private:
    LWLock *lock_;
};

[[noreturn]] void raise_out_of_memory(Relation rel) {
    pg_call([&] {
        if (refused_by_quota()) {
            const char *owner = GetUserNameFromId(rel->rd_rel->relowner, true);
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                            errmsg("arrangement on \"%s\" does not fit in "
                                   "parallel_material.arrangement_memory_per_role",
                                   RelationGetRelationName(rel)),
                            errdetail("The arrangements of tables owned by role \"%s\" may "
                                      "hold at most %llu kB of shared memory.",
                                      owner ? owner : "?",
                                      static_cast<unsigned long long>(role_memory_quota() / 1024)),
                            errhint("Drop some of them, arrange fewer columns, or raise "
                                    "parallel_material.arrangement_memory_per_role.")));
        }
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("arrangement on \"%s\" does not fit in "
                               "parallel_material.arrangement_memory",
                               RelationGetRelationName(rel)),
                        errhint("Raise parallel_material.arrangement_memory (needs a "
                                "restart) or arrange fewer columns.")));
    });
    throw core::Error(core::Error::Code::OutOfMemory, "unreachable");
}

// Stores the versions of st's scan (the whole heap, or a parallel participant's share): those
// only the scan can store staged into `stager` (inserted in bucket order), those a writer's
// trigger may store too into `deferred`; lowers *oldest to every normal xid stored.
void scan_into(BuildState *st, Stager &stager, Deferred &deferred, TransactionId *oldest) {
    while (pg_call([&] { return build_next(st); })) {
        if (TransactionIdIsNormal(st->xmin) && TransactionIdPrecedes(st->xmin, *oldest))
            *oldest = st->xmin;
        if (TransactionIdIsNormal(st->xmax) && TransactionIdPrecedes(st->xmax, *oldest))
            *oldest = st->xmax;
        const MinimalTuple t = st->tuple;
        const char *tb;
        uint32_t tl;
        const uint16_t tf = pack_stored(t, &st->shape->cut, st->key.data,
                                        static_cast<uint32_t>(st->key.len), &tb, &tl);
        if (st->uncertain)
            deferred.add(st->hash, st->key.data, static_cast<uint32_t>(st->key.len), tb, tl, tf,
                         st->tid, st->xmin, st->xmax, st->cmax);
        else
            stager.add(st->hash, st->key.data, static_cast<uint32_t>(st->key.len), tb, tl, tf,
                       st->tid, st->xmin, st->cmin, st->xmax, st->cmax);
        ++st->versions;
        pg_call([&] { pfree(t); });
    }
    stager.flush();
}

// The leader's parallel build (ParallelBuild started): its own share of the scan, then the
// workers' end. Returns the oldest normal xid any participant stored (InvalidTransactionId: none).
TransactionId scan_parallel(Relation rel, ParallelBuild &workers, Snapshot s0) {
    build_participant(rel, workers.share(), workers.pscan(), s0);
    workers.finish();  // a worker's error is raised here
    BuildShare *share = workers.share();
    pg_call([&] {
        progress_scan(RelationGetNumberOfBlocks(rel),
                      static_cast<int64>(pg_atomic_read_u64(&share->versions)));
        // The plan (deterministic), then how many started (free worker slots decide).
        ereport(DEBUG1, (errmsg_internal("arrangement on \"%s\" built in parallel: %d workers planned",
                                         RelationGetRelationName(rel), workers.planned())));
        ereport(DEBUG2, (errmsg_internal("arrangement on \"%s\": %d parallel workers launched",
                                         RelationGetRelationName(rel), workers.launched())));
    });
    return share->oldest;
}

// The xid bound before the stored xids lower it. Every xid a later delta stores belongs to a
// transaction running now or later, so it follows both the scan's horizon and the table's
// relfrozenxid (a vacuum's relfrozenxid precedes every xid running during it); the stored xids
// are checked one by one (unfrozen ones follow relfrozenxid too).
TransactionId xid_bound_start(Relation rel, TransactionId oldest_xmin) {
    TransactionId oldest = oldest_xmin;
    TransactionId frozen = rel->rd_rel->relfrozenxid;
    if (TransactionIdIsNormal(frozen) && TransactionIdPrecedes(oldest, frozen)) oldest = frozen;
    return oldest;
}

int build_reported(Relation rel, const Def &def) {
    int slot;
    for (;;) {
        slot = pg_call([&] { return begin_build(def, pm_rel_filenumber(rel), rel->rd_rel->relowner); });
        if (slot >= 0) break;
        pg_call([] {  // another backend is building it: wait
            CHECK_FOR_INTERRUPTS();
            pg_usleep(10000L);
        });
        EntryInfo e = lookup(def.defid);
        if (e.slot >= 0 && e.state == State::Ready) return e.slot;
    }
    // From here on every failure drops the entry (abort_build): a build is never readable before
    // finish_build, and its indexes are freed once no trigger pins them. A parallel build's
    // workers are stopped first (they pin the entry too: its indexes outlive them anyway).
    std::optional<ParallelBuild> workers;
    try {
        auto *st = static_cast<BuildState *>(pg_call([] { return palloc0(sizeof(BuildState)); }));
        st->rel = rel;
        st->shape = pg_call([&] { return make_shape(rel, def); });
        core::ArrangementIndex::Options opt;
        opt.expected_rows = pg_call([&] { return expected_keys(rel, def); });
        opt.reader_slots = static_cast<uint32_t>(MaxBackends + 16);
        opt.account = entry_account(slot);  // the table owner's memory quota
        opt.frozen_xmin = FrozenTransactionId;  // frozen versions are stored compact
        core::ArrangementIndex index = create_index(opt);
        core::ArrangementIndex::Options side_opt = opt;
        side_opt.expected_rows = 1024;
        std::optional<core::ArrangementIndex> side;
        try {
            side.emplace(create_index(side_opt));
        } catch (...) {
            index.destroy();
            throw;
        }
        const int nworkers = pg_call([&] { return plan_build_workers(rel); });
        // s0 first, then the publication: a writer s0 sees as finished fired its triggers before
        // the index existed (the scan finds its rows), any other may reach the index too.
        st->s0 = pg_call([] { return RegisterSnapshot(GetLatestSnapshot()); });
        st->valid_xid = publish_build(slot, index.index_offset(), side->index_offset());
        TransactionId oldest;
        Deferred deferred;
        if (nworkers > 0) {
            // The parallel build (docs/arrangements.md, "Parallel build"): every participant
            // scans block ranges with the same SnapshotAny, horizon, s0 and valid_xid, stages and
            // sorts its share, and bulk-inserts it into the index; its deferred versions go to
            // the side index, merged below as the serial build's.
            BuildShare share{};
            share.relid = RelationGetRelid(rel);
            share.slot = slot;
            share.leader_pid = MyProcPid;
            share.def = def;
            share.index_offset = index.index_offset();
            share.side_offset = side->index_offset();
            share.oldest_xmin = pg_call([&] { return GetOldestNonRemovableTransactionId(rel); });
            share.valid_xid = st->valid_xid;
            share.stage_bytes = uint64_t(maintenance_work_mem) * 1024 / uint64_t(nworkers + 1);
            share.oldest = xid_bound_start(rel, share.oldest_xmin);
            workers.emplace(rel, share, st->s0, nworkers);
            oldest = scan_parallel(rel, *workers, st->s0);
            workers.reset();
            pg_call([&] { UnregisterSnapshot(st->s0); });
        } else {
            pg_call([&] { build_begin(st); });
            oldest = xid_bound_start(rel, st->oldest_xmin);
            // Versions are staged in chunks of maintenance_work_mem, sorted by bucket and
            // inserted chain by chain: the versions of one key then sit side by side in the
            // region instead of in heap order (a probe touches one area, not one per version).
            Stager stager(index, size_t(maintenance_work_mem) * 1024);
            scan_into(st, stager, deferred, &oldest);
            pg_call([&] {
                table_endscan(st->scan);
                UnregisterSnapshot(st->s0);
            });
        }
        {
            // The merge: no trigger writes into the build meanwhile (they share this lock).
            MergeLock merge(slot);
            if (nworkers > 0) deferred.load_from(*side);
            deferred.merge(index);
            apply_delete_records(index, *side);
            if (!index.is_valid())  // a trigger ran out of memory writing into the build
                throw core::Error(core::Error::Code::OutOfMemory, "a concurrent write did not fit");
            finish_build(slot, index.index_offset(), oldest);
        }
    } catch (const core::Error &e) {
        workers.reset();
        abort_build(slot);
        if (e.code() == core::Error::Code::OutOfMemory) raise_out_of_memory(rel);
        throw;
    } catch (...) {
        workers.reset();
        abort_build(slot);
        throw;
    }
    return slot;
}

}  // namespace

void share_note_oldest(BuildShare *share, TransactionId xid) {
    if (!TransactionIdIsNormal(xid)) return;
    SpinLockAcquire(&share->mutex);
    if (!TransactionIdIsValid(share->oldest) || TransactionIdPrecedes(xid, share->oldest))
        share->oldest = xid;
    SpinLockRelease(&share->mutex);
}

void build_participant(Relation rel, BuildShare *share, ParallelTableScanDesc pscan, Snapshot s0) {
    try {
        auto *st = static_cast<BuildState *>(pg_call([] { return palloc0(sizeof(BuildState)); }));
        st->rel = rel;
        st->shape = pg_call([&] { return make_shape(rel, share->def); });
        st->s0 = s0;
        st->valid_xid = share->valid_xid;
        st->share = share;
        st->pscan = pscan;
        core::ArrangementIndex index = index_at(share->index_offset);
        core::ArrangementIndex side = index_at(share->side_offset);
        pg_call([&] { build_begin(st); });
        SpinLockAcquire(&share->mutex);
        TransactionId oldest = share->oldest;  // lowered by this share's xids, then noted
        SpinLockRelease(&share->mutex);
        Deferred deferred;
        {
            Stager stager(index, std::max<size_t>(share->stage_bytes, size_t{1} << 20));
            scan_into(st, stager, deferred, &oldest);
        }
        deferred.store_in(side);
        pg_call([&] { table_endscan(st->scan); });
        share_note_oldest(share, oldest);
    } catch (const core::Error &e) {
        // A worker raises the leader's message (its error reaches the leader as it is).
        if (e.code() == core::Error::Code::OutOfMemory && IsParallelWorker())
            raise_out_of_memory(rel);
        throw;
    }
}

namespace {

// Whether the current user may rebuild an arrangement of the table: its owner, a superuser, or a
// role with UPDATE, DELETE or TRUNCATE on it (what LOCK TABLE ... IN SHARE MODE requires, which
// the rebuild took before it was concurrent). A rebuild takes no lock now, so it makes nobody
// wait; the allowlist is kept so that a SELECT-only role does not spend the owner's memory quota
// on a rebuild: it reads the heap instead (the join's fallback).
bool may_rebuild_table(Oid relid) {
    return pg_class_aclmask(relid, GetUserId(), ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
                            ACLMASK_ANY) != 0;
}

// may_rebuild_table, asked once and only when needed (a ready, usable entry needs no ACL check).
class MayRebuild {
  public:
    explicit MayRebuild(Oid relid) : relid_(relid) {}
    bool operator()() {
        if (known_ < 0) known_ = pg_call([&] { return may_rebuild_table(relid_); }) ? 1 : 0;
        return known_ == 1;
    }

  private:
    Oid relid_;
    int known_ = -1;
};

// A concurrent build stores the rows of transactions that were writing when it published its
// index without their command ids (only their own backend can read those): such a transaction,
// if it may have written the table (it holds RowExclusiveLock until it ends), must not read
// through the arrangement. Its xid precedes the entry's valid_xid; the builder's own transaction
// read its command ids itself.
bool wrote_before_build(Relation rel, const EntryInfo &e) {
    if (!TransactionIdIsValid(e.valid_xid)) return false;
    return pg_call([&] {
        TransactionId top = GetTopTransactionIdIfAny();
        return TransactionIdIsValid(top) && TransactionIdPrecedes(top, e.valid_xid) &&
               !TransactionIdEquals(top, e.build_xid) &&
               CheckRelationLockedByMe(rel, RowExclusiveLock, true);
    });
}

const char *g_refusal = nullptr;  // why pin_for_reader returned no entry

// The Ready entry of def pinned, if it is usable as it is (built on the table's current heap,
// no xid older than the heap keeps); slot -1 otherwise (an unusable one is marked invalid). For a
// role that may not rebuild it (!may_rebuild), an entry that only holds xids older than the
// table's relfrozenxid is still usable: the commit log still answers for them, and the rebuild
// that would drop them early is left to a role that may rebuild it. *mine (when not null) is
// set when the entry is ready but this transaction may not read it (wrote_before_build).
EntryInfo pin_usable(Relation rel, const Def &def, MayRebuild &may_rebuild, bool *mine = nullptr) {
    EntryInfo e = pin_ready(def.defid);
    if (e.slot < 0) return e;
    const char *too_old = xids_too_old(e.oldest_xid, rel->rd_rel->relfrozenxid);
    if (e.relfilenode == pm_rel_filenumber(rel) &&
        (too_old == nullptr || (!xids_past_clog(e.oldest_xid) && !may_rebuild()))) {
        if (!wrote_before_build(rel, e)) return e;
        unpin(e.slot);
        if (mine != nullptr) *mine = true;
        return EntryInfo{};
    }
    unpin(e.slot);
    // The heap was rewritten (VACUUM FULL, CLUSTER, ALTER TABLE): TIDs changed. Or it holds xids
    // the heap has frozen: rebuilt before they could be misread.
    set_invalid(e.slot, too_old != nullptr ? too_old : "the table was rewritten", DEBUG1);
    return EntryInfo{};
}

[[noreturn]] void raise_written_before(Relation rel) {
    pg_call([&] {
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("arrangement on \"%s\" was built while this transaction was writing the "
                        "table", RelationGetRelationName(rel)),
                 errdetail("The build could not read the command ids of this transaction's "
                           "rows, so this transaction does not read through it."),
                 errhint("Retry in a new transaction.")));
    });
    throw core::Error(core::Error::Code::Internal, "unreachable");
}

}  // namespace

void define_build_gucs() {
    DefineCustomIntVariable("parallel_material.debug_build_pause",
                            "Test setting: a build waits, once its heap scan has passed the first "
                            "block, for the advisory lock of this key (0: never).",
                            nullptr, &g_debug_build_pause, 0, 0, INT_MAX, PGC_SUSET,
                            GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

const char *reader_refusal() {
    return g_refusal != nullptr ? g_refusal
                                : "the arrangement is not ready and this role may not rebuild it";
}

EntryInfo pin_for_reader(Relation rel, const Def &def) {
    MayRebuild may(RelationGetRelid(rel));
    bool mine = false;
    g_refusal = nullptr;
    EntryInfo e = pin_usable(rel, def, may, &mine);
    if (e.slot >= 0) return e;
    if (mine) {
        g_refusal = "the arrangement was built while this transaction was writing the table";
        return e;
    }
    if (pg_call([] { return RecoveryInProgress(); })) {
        g_refusal = "a standby does not build arrangements";
        return e;
    }
    if (!may()) return e;
    return pin_or_build(rel, def);
}

EntryInfo pin_or_build(Relation rel, const Def &def) {
    MayRebuild may(def.relid);
    for (int attempt = 0; attempt < 3; ++attempt) {
        bool mine = false;
        EntryInfo e = pin_usable(rel, def, may, &mine);
        if (e.slot >= 0) return e;
        if (mine) raise_written_before(rel);
        bool allowed = may();
        pg_call([&] {
            if (!allowed)
                ereport(ERROR,
                        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                         errmsg("arrangement on \"%s\" is not ready and role \"%s\" may not "
                                "rebuild it",
                                RelationGetRelationName(rel),
                                GetUserNameFromId(GetUserId(), false)),
                         errdetail("Only its owner and roles that may update, delete or truncate "
                                   "it rebuild it (into the owner's share of memory)."),
                         errhint("Retry once such a role has read through the arrangement, or "
                                 "set parallel_material.enable_arrangement_join to off.")));
        });
        // Replay fires no triggers: an arrangement built on a standby would go stale.
        pg_call([] {
            if (RecoveryInProgress())
                ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                                errmsg("cannot build an arrangement during recovery")));
        });
        // A concurrent build (no lock beyond the caller's: writers go on, and their triggers
        // write into the build); build() waits while another backend builds the same one.
        build(rel, def);
    }
    pg_call([] {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("arrangement could not be made ready")));
    });
    return EntryInfo{};
}

}  // namespace pm::pg::arr
