// arrangement_row_lookup.cpp — ArrangementJoin's row lookup: the columns a plan reads that its
// arrangement lacks (the ones heap fetch would read, arrangement_heap_fetch.cpp) are read from the
// table's row arrangement (create_row_arrangement: one copy of the columns per heap tuple version,
// keyed by TID) instead of the heap, when one is ready, trusted and holds them all
// (docs/arrangements.md, "Row arrangements").
//
// Which version: the matched version of the key arrangement is a heap tuple version visible to the
// query's snapshot, at TID t with xmin x. Both arrangements mirror every heap tuple version (their
// triggers apply each insert, delete and update of the table; builds copy what the heap holds), and
// decide visibility with the heap's rules on the stored xmin/xmax under the same snapshot. A TID
// names one tuple version until that version is dead to every snapshot (an UPDATE, HOT or not,
// writes the new version at another TID; pruning or VACUUM frees a line pointer only once its tuple
// is dead to all: committed deleter before the oldest xmin, or aborted inserter), so the row
// arrangement's versions at t that are not the matched one are all dead to every snapshot (their
// deleter's xmax or aborted xmin is stored): exactly one version at t is visible, with xmin x where
// both xmins are normal (reclaim freezes compacted versions' xmin). Anything else means an
// arrangement is wrong: the query fails (XX001), never returns another row's columns.
//
// Privileges: the same columns as the heap fetch (the planner's selectedCols rule), the same
// refusals (row-level security keeps the stock plan); only where they are read from differs.
// Plain PostgreSQL code (may raise errors): called inside guarded(). The probe's callbacks never
// longjmp (visibility through pg_call, copies with malloc).
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/compat.hpp"

#include <cstdlib>
#include <new>

extern "C" {
#include "access/transam.h"
#include "executor/tuptable.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace pm::pg::arr {

namespace {

bool covers(const Def &d, const AttrNumber *att, int n) {
    for (int i = 0; i < n; ++i) {
        bool found = false;
        for (int c = 0; c < d.ncols && !found; ++c) found = d.cols[c] == att[i];
        if (!found) return false;
    }
    return true;
}

}  // namespace

bool row_def_among(Relation rel, const Def *defs, int nd, const AttrNumber *att, int n, Def *out,
                   bool ready_only) {
    if (!settings.enable_arrangement_row_lookup || n <= 0) return false;
    Oid relfilenode = pm_rel_filenumber(rel);
    for (int i = 0; i < nd; ++i) {
        const Def &d = defs[i];
        if (!is_row_def(d) || !covers(d, att, n)) continue;
        EntryInfo e = lookup(d.defid);
        if (ready_only && (e.slot < 0 || e.state != State::Ready || e.relfilenode != relfilenode))
            continue;
        if (dropped_column(rel, d) != nullptr || untrusted_maintenance(rel, d) != nullptr) continue;
        *out = d;
        return true;
    }
    return false;
}

bool row_def_for(Relation rel, const AttrNumber *att, int n, Def *out, bool ready_only) {
    if (!settings.enable_arrangement_row_lookup || n <= 0) return false;
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int nd = load_defs(RelationGetRelid(rel), defs);
    const bool found = row_def_among(rel, defs, nd, att, n, out, ready_only);
    pfree(defs);
    return found;
}

namespace {

RowLookup *make_lookup(Relation rel, const Def &d, const EntryInfo &e, const HeapFetch *hf,
                       EState *estate) {
    MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
    auto *rl = static_cast<RowLookup *>(palloc0(sizeof(RowLookup)));
    rl->entry = e;
    rl->pinned = true;
    rl->shape = make_shape(rel, d);
    rl->n = hf->n;
    rl->pos = static_cast<int *>(palloc(sizeof(int) * hf->n));
    for (int i = 0; i < hf->n; ++i) {
        rl->pos[i] = -1;
        for (int c = 0; c < d.ncols; ++c)
            if (d.cols[c] == hf->att[i]) rl->pos[i] = c;
        if (rl->pos[i] < 0) elog(ERROR, "row arrangement lacks a fetched column");
        rl->max_pos = Max(rl->max_pos, rl->pos[i] + 1);
    }
    rl->slot = ExecAllocTableSlot(&estate->es_tupleTable, rl->shape->projdesc, &TTSOpsMinimalTuple);
    MemoryContextSwitchTo(old);
    return rl;
}

}  // namespace

RowLookup *row_lookup_open(Relation rel, const HeapFetch *hf, EState *estate) {
    if (hf == nullptr) return nullptr;
    Def d;
    if (!row_def_for(rel, hf->att, hf->n, &d, false)) return nullptr;
    // Built lazily if it is not ready (after a restart, an invalidation), by a role that may
    // rebuild it, as the join's own arrangement is; otherwise (not ready and this role may not
    // rebuild it, built while this transaction wrote the table...) the heap fetch reads the
    // columns.
    EntryInfo e = pin_for_reader(rel, d);
    if (e.slot < 0) return nullptr;
    return make_lookup(rel, d, e, hf, estate);
}

RowLookup *row_lookup_attach(Relation rel, int slot, int64 defid, uint64_t index_offset,
                             const HeapFetch *hf, EState *estate) {
    if (hf == nullptr) return nullptr;
    EntryInfo e = pin_slot_as_worker(slot, defid, index_offset);
    if (e.slot < 0) elog(ERROR, "ArrangementJoin: the leader's row arrangement is gone");
    RowLookup *rl = nullptr;
    PG_TRY();
    { rl = make_lookup(rel, e.def, e, hf, estate); }
    PG_CATCH();
    {
        unpin(e.slot);
        PG_RE_THROW();
    }
    PG_END_TRY();
    return rl;
}

void row_lookup_close(RowLookup *rl) {
    if (rl == nullptr) return;
    delete rl->reader;  // releases the reader slot
    rl->reader = nullptr;
    std::free(rl->rows);
    std::free(rl->roff);
    std::free(rl->rfound);
    std::free(rl->rxmin);
    rl->rows = nullptr;
    rl->roff = nullptr;
    rl->rfound = nullptr;
    rl->rxmin = nullptr;
    rl->rows_used = rl->rows_cap = 0;
    rl->rcap = 0;
    if (rl->pinned) {
        rl->pinned = false;
        unpin(rl->entry.slot);
    }
}

static_assert(std::is_trivially_destructible_v<core::ArrangementIndex>);

namespace {

template <typename T>
T *grow(T *p, size_t n) {
    void *q = std::realloc(p, sizeof(T) * n);
    if (q == nullptr) throw std::bad_alloc();
    return static_cast<T *>(q);
}

[[noreturn]] void raise_missing(Relation rel, int found, const core::Tid &tid) {
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("row arrangement of \"%s\" holds %d visible versions of the row "
                           "version at (%u,%u)",
                           RelationGetRelationName(rel), found, tid.block, tid.offset),
                    errhint("Drop and re-create the arrangements of the table.")));
    pg_unreachable();
}

}  // namespace

void row_lookup_batch(RowLookup *rl, Relation rel, Snapshot snap, const core::Tid *tids,
                      const TransactionId *xmins, int n) {
    if (n > rl->rcap) {
        int cap = Max(n, rl->rcap * 2);
        rl->roff = grow(rl->roff, cap);
        rl->rfound = grow(rl->rfound, cap);
        rl->rxmin = grow(rl->rxmin, cap);
        rl->rcap = cap;
    }
    rl->rows_used = 0;
    core::ArrangementIndex index = index_at(rl->entry.index_offset);
    if (rl->reader == nullptr)
        rl->reader = new core::ArrangementIndex::Reader(index.register_reader());
    const KeyCut *cut = &rl->shape->cut;
    constexpr int kChunk = static_cast<int>(core::ArrangementIndex::kMaxProbeBatch);
    core::ProbeKey keys[kChunk];
    for (int base = 0; base < n; base += kChunk) {
        int k = Min(kChunk, n - base);
        for (int i = 0; i < k; ++i) {
            keys[i] = core::ProbeKey{hash_tid(tids[base + i].block, tids[base + i].offset),
                                     nullptr, 0};
            rl->rfound[base + i] = 0;
        }
        // visible() does not know which probe a version answers: it decides MVCC only, and
        // emit() keeps the version whose TID is the probe's (other TIDs are hash-tag
        // collisions of the chain).
        index.probe_batch(
            *rl->reader, keys, static_cast<uint32_t>(k),
            [&](const core::VersionView &v) {
                int fast = version_visible_memo(v, snap, &rl->vis);
                return fast >= 0 ? fast == 1 : pg_call([&] { return version_visible(v, snap); });
            },
            [&](uint32_t i, const core::VersionView &v) {
                int m = base + static_cast<int>(i);
                if (!(v.tid == tids[m])) return;
                if (rl->rfound[m]++ != 0) return;
                size_t len = MAXALIGN(stored_tuple_len(v.flags, v.tuple_len, cut));
                if (rl->rows_used + len > rl->rows_cap) {
                    size_t cap = rl->rows_cap == 0 ? 65536 : rl->rows_cap;
                    while (cap < rl->rows_used + len) cap *= 2;
                    rl->rows = grow(rl->rows, cap);
                    rl->rows_cap = cap;
                }
                unpack_stored(v.flags, static_cast<const char *>(v.tuple), v.tuple_len, cut,
                              v.key, rl->rows + rl->rows_used);
                rl->roff[m] = rl->rows_used;
                rl->rows_used += len;
                rl->rxmin[m] = v.xmin;
            });
    }
    for (int m = 0; m < n; ++m)
        if (rl->rfound[m] != 1 ||
            (TransactionIdIsNormal(xmins[m]) && TransactionIdIsNormal(rl->rxmin[m]) &&
             !TransactionIdEquals(xmins[m], rl->rxmin[m])))
            raise_missing(rel, rl->rfound[m], tids[m]);
    rl->lookups += n;
}

void row_lookup_values(RowLookup *rl, int m, Datum *values, bool *isnull) {
    ExecStoreMinimalTuple(reinterpret_cast<MinimalTuple>(rl->rows + rl->roff[m]), rl->slot, false);
    slot_getsomeattrs(rl->slot, rl->max_pos);
    for (int i = 0; i < rl->n; ++i) {
        values[i] = rl->slot->tts_values[rl->pos[i]];
        isnull[i] = rl->slot->tts_isnull[rl->pos[i]];
    }
}

}  // namespace pm::pg::arr
