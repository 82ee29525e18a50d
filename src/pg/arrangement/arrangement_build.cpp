// arrangement_build.cpp — the initial (and lazy re-) build of an arrangement: one SnapshotAny scan
// of the heap under ShareLock (as CREATE INDEX), keeping every tuple some snapshot may still see
// (HeapTupleSatisfiesVacuum != DEAD) with its header's MVCC fields: xmin (FrozenTransactionId when
// frozen), the updating xmax (lockers ignored, multixacts resolved, aborted ones dropped), and the
// command ids when this transaction wrote the tuple (combo command ids resolved here, in the only
// backend that can resolve them).
#include <algorithm>
#include <vector>

#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
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
};

void build_begin(BuildState *st) {
    st->scan = table_beginscan_strat(st->rel, SnapshotAny, 0, nullptr, true, false);
    st->oldest_xmin = GetOldestNonRemovableTransactionId(st->rel);
    st->values = static_cast<Datum *>(palloc(sizeof(Datum) * st->shape->reldesc->natts));
    st->isnull = static_cast<bool *>(palloc(sizeof(bool) * st->shape->reldesc->natts));
    initStringInfo(&st->key);
    const Def &d = st->shape->def;
    st->whole_row = d.ncols == st->shape->reldesc->natts;
    for (int i = 0; st->whole_row && i < d.ncols; ++i) st->whole_row = d.cols[i] == i + 1;
    double reltuples = st->rel->rd_rel->reltuples;
    progress_scan_start(st->shape->def.defid,
                        reinterpret_cast<HeapScanDesc>(st->scan)->rs_nblocks,
                        reltuples > 0 ? static_cast<int64>(reltuples) : 0);
    st->reported_block = 0;
}

// Reports blocks scanned (the scan goes from block 0 up: no synchronized scan) and versions
// stored so far, once per heap block.
void build_progress(BuildState *st, bool done) {
    auto *hs = reinterpret_cast<HeapScanDesc>(st->scan);
    BlockNumber blocks = done ? hs->rs_nblocks : hs->rs_cblock;
    if (!done && (blocks == InvalidBlockNumber || blocks == st->reported_block)) return;
    st->reported_block = blocks;
    progress_scan(blocks, static_cast<int64>(st->versions));
}

// Fills the next version to store; false at the end of the heap.
bool build_next(BuildState *st) {
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        HeapTuple tup = heap_getnext(st->scan, ForwardScanDirection);
        if (tup == nullptr) {
            build_progress(st, true);
            return false;
        }
        build_progress(st, false);
        Buffer buf = reinterpret_cast<HeapScanDesc>(st->scan)->rs_cbuf;
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        HTSV_Result r = HeapTupleSatisfiesVacuum(tup, st->oldest_xmin, buf);
        if (r == HEAPTUPLE_DEAD) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            continue;
        }
        HeapTupleHeader h = tup->t_data;
        st->xmin = HeapTupleHeaderGetXmin(h);  // FrozenTransactionId when frozen
        st->cmin = TransactionIdIsCurrentTransactionId(st->xmin) ? HeapTupleHeaderGetCmin(h) : 0;
        st->xmax = InvalidTransactionId;
        st->cmax = 0;
        uint16 mask = h->t_infomask;
        if (!(mask & HEAP_XMAX_INVALID) && !HEAP_XMAX_IS_LOCKED_ONLY(mask)) {
            TransactionId x = HeapTupleHeaderGetUpdateXid(h);
            if (TransactionIdIsCurrentTransactionId(x)) {
                st->xmax = x;
                st->cmax = HeapTupleHeaderGetCmax(h);
            } else if (TransactionIdIsValid(x) &&
                       (TransactionIdIsInProgress(x) || TransactionIdDidCommit(x))) {
                st->xmax = x;  // a committed deleter (an in-progress one cannot hold our lock)
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
            st->tuple = minimal_tuple_from_heap_tuple(tup);
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
             uint32_t tuple_len, core::Tid tid, TransactionId xmin, CommandId cmin,
             TransactionId xmax, CommandId cmax) {
        if (!staged_.empty() &&
            (arena_.size() + key_len + tuple_len > limit_ || staged_.size() >= UINT32_MAX))
            flush();
        staged_.push_back(Staged{core::ArrangementIndex::bucket_order(hash), hash, arena_.size(),
                                 key_len, tuple_len, tid, xmin, cmin, xmax, cmax});
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
                                             s.xmax != InvalidTransactionId ? s.cmax : 0, 0});
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

uint64_t expected_rows(Relation rel) {
    double n = rel->rd_rel->reltuples;
    if (n < 1024) n = 1024;
    if (n > double(uint64_t{1} << 26)) n = double(uint64_t{1} << 26);
    return static_cast<uint64_t>(n);
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
    uint64_t offset = 0;
    TransactionId oldest = InvalidTransactionId;
    try {
        auto *st = static_cast<BuildState *>(pg_call([] { return palloc0(sizeof(BuildState)); }));
        st->rel = rel;
        st->shape = pg_call([&] { return make_shape(rel, def); });
        core::ArrangementIndex::Options opt;
        opt.expected_rows = expected_rows(rel);
        opt.reader_slots = static_cast<uint32_t>(MaxBackends + 16);
        opt.account = entry_account(slot);  // the table owner's memory quota
        opt.frozen_xmin = FrozenTransactionId;  // frozen versions are stored compact
        core::ArrangementIndex index = create_index(opt);
        offset = index.index_offset();
        try {
            pg_call([&] { build_begin(st); });
            // The xid bound. Every xid a later delta stores belongs to a transaction running now
            // or later, so it follows both the scan's horizon and the table's relfrozenxid (a
            // vacuum's relfrozenxid precedes every xid running during it); the stored xids are
            // checked one by one (unfrozen ones follow relfrozenxid too).
            oldest = st->oldest_xmin;
            TransactionId frozen = rel->rd_rel->relfrozenxid;
            if (TransactionIdIsNormal(frozen) && TransactionIdPrecedes(oldest, frozen))
                oldest = frozen;
            // Versions are staged in chunks of maintenance_work_mem, sorted by bucket and
            // inserted chain by chain: the versions of one key then sit side by side in the
            // region instead of in heap order (a probe touches one area, not one per version).
            Stager stager(index, size_t(maintenance_work_mem) * 1024);
            while (pg_call([&] { return build_next(st); })) {
                if (TransactionIdIsNormal(st->xmin) && TransactionIdPrecedes(st->xmin, oldest))
                    oldest = st->xmin;
                if (TransactionIdIsNormal(st->xmax) && TransactionIdPrecedes(st->xmax, oldest))
                    oldest = st->xmax;
                const MinimalTuple t = st->tuple;
                stager.add(st->hash, st->key.data, static_cast<uint32_t>(st->key.len), t,
                           t->t_len, st->tid, st->xmin, st->cmin, st->xmax, st->cmax);
                ++st->versions;
                pg_call([&] { pfree(t); });
            }
            stager.flush();
            pg_call([&] { table_endscan(st->scan); });
        } catch (...) {
            index.destroy();
            throw;
        }
    } catch (const core::Error &e) {
        abort_build(slot);
        if (e.code() == core::Error::Code::OutOfMemory && refused_by_quota())
            pg_call([&] {
                const char *owner = GetUserNameFromId(rel->rd_rel->relowner, true);
                ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                                errmsg("arrangement on \"%s\" does not fit in "
                                       "parallel_material.arrangement_memory_per_role",
                                       RelationGetRelationName(rel)),
                                errdetail("The arrangements of tables owned by role \"%s\" may "
                                          "hold at most %llu kB of shared memory.",
                                          owner ? owner : "?",
                                          static_cast<unsigned long long>(role_memory_quota() /
                                                                          1024)),
                                errhint("Drop some of them, arrange fewer columns, or raise "
                                        "parallel_material.arrangement_memory_per_role.")));
            });
        if (e.code() == core::Error::Code::OutOfMemory)
            pg_call([&] {
                ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                                errmsg("arrangement on \"%s\" does not fit in "
                                       "parallel_material.arrangement_memory",
                                       RelationGetRelationName(rel)),
                                errhint("Raise parallel_material.arrangement_memory (needs a "
                                        "restart) or arrange fewer columns.")));
            });
        throw;
    } catch (...) {
        abort_build(slot);
        throw;
    }
    finish_build(slot, offset, oldest);
    return slot;
}

}  // namespace

namespace {

// Whether the current user could take ShareLock on the table in its own right: LOCK TABLE ... IN
// SHARE MODE needs UPDATE, DELETE or TRUNCATE (PostgreSQL's LockTableAclCheck; owners and
// superusers have them). Only such a role rebuilds an arrangement, since a rebuild holds ShareLock
// and so blocks the table's writers: a role with SELECT only never makes writers wait.
bool may_block_writers(Oid relid) {
    return pg_class_aclmask(relid, GetUserId(), ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
                            ACLMASK_ANY) != 0;
}

// may_block_writers, asked once and only when needed (a ready, usable entry needs no ACL check).
class MayRebuild {
  public:
    explicit MayRebuild(Oid relid) : relid_(relid) {}
    bool operator()() {
        if (known_ < 0) known_ = pg_call([&] { return may_block_writers(relid_); }) ? 1 : 0;
        return known_ == 1;
    }

  private:
    Oid relid_;
    int known_ = -1;
};

// The Ready entry of def pinned, if it is usable as it is (built on the table's current heap,
// no xid older than the heap keeps); slot -1 otherwise (an unusable one is marked invalid). For a
// role that may not rebuild it (!may_rebuild), an entry that only holds xids older than the
// table's relfrozenxid is still usable: the commit log still answers for them, and the rebuild
// that would drop them early is left to a role that may block writers.
EntryInfo pin_usable(Relation rel, const Def &def, MayRebuild &may_rebuild) {
    EntryInfo e = pin_ready(def.defid);
    if (e.slot < 0) return e;
    const char *too_old = xids_too_old(e.oldest_xid, rel->rd_rel->relfrozenxid);
    if (e.relfilenode == pm_rel_filenumber(rel) &&
        (too_old == nullptr || (!xids_past_clog(e.oldest_xid) && !may_rebuild())))
        return e;
    unpin(e.slot);
    // The heap was rewritten (VACUUM FULL, CLUSTER, ALTER TABLE): TIDs changed. Or it holds xids
    // the heap has frozen: rebuilt before they could be misread.
    set_invalid(e.slot, too_old != nullptr ? too_old : "the table was rewritten", DEBUG1);
    return EntryInfo{};
}

}  // namespace

EntryInfo pin_for_reader(Relation rel, const Def &def) {
    MayRebuild may(RelationGetRelid(rel));
    EntryInfo e = pin_usable(rel, def, may);
    if (e.slot >= 0 || !may()) return e;
    return pin_or_build(rel, def);
}

EntryInfo pin_or_build(Relation rel, const Def &def) {
    MayRebuild may(def.relid);
    for (int attempt = 0; attempt < 3; ++attempt) {
        EntryInfo e = pin_usable(rel, def, may);
        if (e.slot >= 0) return e;
        // A reader that may not block the table's writers never rebuilds (the interim answer to
        // a concurrent build; see docs/arrangements.md, "Restart and crash: lazy rebuild").
        bool allowed = may();
        pg_call([&] {
            if (!allowed)
                ereport(ERROR,
                        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                         errmsg("arrangement on \"%s\" is not ready and role \"%s\" may not "
                                "rebuild it",
                                RelationGetRelationName(rel),
                                GetUserNameFromId(GetUserId(), false)),
                         errdetail("A rebuild holds a SHARE lock that blocks the table's writers; "
                                   "only its owner and roles that may update, delete or truncate "
                                   "it rebuild it."),
                         errhint("Retry once such a role has read through the arrangement, or "
                                 "set parallel_material.enable_arrangement_join to off.")));
        });
        // Build as CREATE INDEX does: ShareLock keeps writers out during the scan. The wait
        // for writers is reported as the build's first phase.
        bool progress = progress_begin(def.relid, def.defid, kProgressWaiting);
        try {
            pg_call([&] { LockRelationOid(def.relid, ShareLock); });
        } catch (...) {
            progress_end(progress);
            throw;
        }
        EntryInfo now = lookup(def.defid);  // built by another backend while we waited?
        if (now.slot >= 0 && now.state == State::Ready && now.relfilenode == pm_rel_filenumber(rel) &&
            xids_too_old(now.oldest_xid, rel->rd_rel->relfrozenxid) == nullptr) {
            progress_end(progress);
            continue;
        }
        try {
            build(rel, def);
        } catch (...) {
            progress_end(progress);
            throw;
        }
        progress_end(progress);
    }
    pg_call([] {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("arrangement could not be made ready")));
    });
    return EntryInfo{};
}

}  // namespace pm::pg::arr
