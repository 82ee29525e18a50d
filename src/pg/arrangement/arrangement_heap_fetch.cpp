// arrangement_heap_fetch.cpp — ArrangementJoin's heap fetch: the columns a query reads that its
// arrangement does not hold (an arrangement declared with fewer columns, e.g. key only) are read
// from the heap tuple at the matched version's TID, under the query's snapshot, as an index scan
// reads its heap tuples (docs/arrangements.md, "Heap fetch by TID").
//
// Why the fetched tuple is the version the arrangement matched: the arrangement stores, per
// version, the heap tuple's TID and its xmin/xmax, and decides visibility with the heap's own
// rules under the same snapshot. A line pointer names one tuple version (an UPDATE, HOT or not,
// writes the new version at another TID; the old one stays at its TID until it is dead to every
// snapshot), and a version visible to our snapshot cannot be pruned or vacuumed while the
// snapshot is held (it holds back this backend's xmin, the leader's for a parallel worker). So
// the fetch (table_tuple_fetch_row_version: heap_fetch with that snapshot, which also takes the
// SERIALIZABLE predicate lock on the tuple) must find a visible tuple, with the same xmin where
// both xmins are normal (the arrangement's is frozen after reclaim compacted the version). A
// disagreement means the arrangement is wrong: the query fails (XX001) rather than return
// another row's columns.
//
// Privileges: the plan fetches only columns the query itself reads from that table, which the
// planner checked are in the range table entry's selectedCols (arrangement_join_plan.cpp,
// servable), so the executor's own SELECT check (table or column privileges) covers them.
// Plain PostgreSQL code (may raise errors): called inside guarded().
#include "pg/arrangement/arrangement_join.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "executor/tuptable.h"
#include "nodes/primnodes.h"
#include "utils/rel.h"
}

namespace pm::pg::arr {

HeapFetch *heap_fetch_init(Relation rel, List *scan_tlist, int first, EState *estate) {
    int n = list_length(scan_tlist) - first;
    if (n <= 0) return nullptr;
    auto *hf = static_cast<HeapFetch *>(palloc0(sizeof(HeapFetch)));
    hf->n = n;
    hf->att = static_cast<AttrNumber *>(palloc(sizeof(AttrNumber) * n));
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < n; ++i) {
        auto *tle = static_cast<TargetEntry *>(list_nth(scan_tlist, first + i));
        auto *v = reinterpret_cast<Var *>(tle->expr);
        // The plan's fetched columns must still be the table's live columns of the same type
        // (plans are invalidated by ALTER TABLE; checked anyway: never read bytes as another
        // type).
        if (v == nullptr || !IsA(v, Var) || v->varattno <= 0 || v->varattno > desc->natts ||
            TupleDescAttr(desc, v->varattno - 1)->attisdropped ||
            TupleDescAttr(desc, v->varattno - 1)->atttypid != v->vartype)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("ArrangementJoin: a column this plan fetches from \"%s\" changed",
                                   RelationGetRelationName(rel))));
        hf->att[i] = v->varattno;
        hf->max_att = Max(hf->max_att, v->varattno);
    }
    hf->slot = table_slot_create(rel, &estate->es_tupleTable);
    return hf;
}

void heap_fetch_row(HeapFetch *hf, Relation rel, Snapshot snap, const core::Tid &tid,
                    TransactionId xmin, Datum *values, bool *isnull) {
    ItemPointerData ip;
    ItemPointerSet(&ip, tid.block, tid.offset);
    bool found = table_tuple_fetch_row_version(rel, &ip, snap, hf->slot);
    if (found && TransactionIdIsNormal(xmin)) {
        bool should_free;
        HeapTuple t = ExecFetchSlotHeapTuple(hf->slot, false, &should_free);
        TransactionId heap_xmin = HeapTupleHeaderGetRawXmin(t->t_data);
        found = !TransactionIdIsNormal(heap_xmin) || TransactionIdEquals(heap_xmin, xmin);
        if (should_free) heap_freetuple(t);
    }
    if (!found)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("arrangement of \"%s\" names a row version that the heap does not "
                               "hold at (%u,%u)",
                               RelationGetRelationName(rel), tid.block, tid.offset),
                        errhint("Drop and re-create the arrangement.")));
    ++hf->fetches;
    slot_getsomeattrs(hf->slot, hf->max_att);
    for (int i = 0; i < hf->n; ++i) {
        values[i] = hf->slot->tts_values[hf->att[i] - 1];
        isnull[i] = hf->slot->tts_isnull[hf->att[i] - 1];
    }
}

}  // namespace pm::pg::arr
