// arrangement_join.hpp — declarations shared by the ArrangementJoin path/plan code
// (arrangement_join_plan.cpp) and its executor (arrangement_join_exec.cpp).
#pragma once

#include "pg/arrangement/arrangement.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/extensible.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
}

namespace pm::pg::arr {

constexpr const char *kJoinName = "ArrangementJoin";

// CustomScan payload, all PostgreSQL nodes (survives nodeToString/stringToNode):
//   custom_private = (Const int8 defid, Const oid relid, Integer n_outer)
//   custom_exprs   = the outer side's key expressions, in key order
//   custom_scan_tlist = the outer child's output columns, then the arranged columns (as Vars of
//                    the inner relation, in arranged order), then the columns fetched from the
//                    heap by TID (Vars of the inner relation; none when the arrangement holds
//                    every column the query reads)
//   custom_plans   = (outer plan); scan.plan.qual = join clauses + the inner relation's quals
// A LEFT JOIN (the arrangement on the nullable side) appends Integer nkeys to custom_private;
// custom_exprs = the keys, then the clauses deciding a match (ON clauses + the inner relation's
// quals); scan.plan.qual = the clauses pushed down to the join (WHERE), checked after the
// NULL-extension.
extern CustomScanMethods join_scan_methods;

void register_join_methods();
// Also defines the hidden test setting parallel_material.debug_join_fallback (superuser): every
// execution runs the node's fallback, so that the differential tests cover it.
void install_join_hook();
extern bool debug_join_fallback;

// When the join may not read an arrangement (arrangement_join_trust.cpp): a reason, or nullptr.
// An arranged column is dropped (a typed table's type lost an attribute, say).
const char *dropped_column(Relation rel, const Def &d);
// The maintenance triggers are missing, not enabled ALWAYS, or were changed since the
// arrangement was created (writes may have been missed).
const char *untrusted_maintenance(Relation rel, const Def &d);
// At executor start, under the query's snapshot: the above, or this transaction has writes of
// the table whose maintenance is still queued, or the table's catalog row (relfilenode: a
// TRUNCATE) changed after the snapshot was taken. The node then runs its fallback.
const char *exec_refusal(Relation rel, const Def &d, Snapshot snap);

// Heap fetch (arrangement_heap_fetch.cpp): the columns a plan reads from the heap by TID, the
// custom_scan_tlist entries from `first` on (Vars of the inner table); nullptr when there are
// none. heap_fetch_row reads them from the version at tid under snap into values/isnull (one
// per fetched column), after checking that the heap holds that version visible (and with that
// xmin when xmin is normal): otherwise an error, never another row's columns.
struct HeapFetch {
    int n;
    AttrNumber *att;
    AttrNumber max_att;
    TupleTableSlot *slot;  // the table's own slot kind
    uint64_t fetches;
};
HeapFetch *heap_fetch_init(Relation rel, List *scan_tlist, int first, EState *estate);
void heap_fetch_row(HeapFetch *hf, Relation rel, Snapshot snap, const core::Tid &tid,
                    TransactionId xmin, Datum *values, bool *isnull);

// Row lookup (arrangement_row_lookup.cpp): the heap-fetched columns read instead from the table's
// row arrangement (create_row_arrangement, keyed by TID) when one is ready, trusted and holds them
// all. row_def_for: such a definition of rel for these columns (no pin; ready_only: its entry
// ready on the current heap, for the planner's costing and EXPLAIN); row_lookup_open pins it for this execution (nullptr: none, the heap fetch reads them);
// row_lookup_attach: a parallel worker pins the one its leader pinned.
struct RowLookup {
    EntryInfo entry;
    bool pinned;
    Shape *shape;
    int n;
    int *pos;     // each fetched column's position in the row arrangement's columns
    int max_pos;  // attributes to deform
    TupleTableSlot *slot;  // MinimalTuple slot over shape->projdesc
    core::ArrangementIndex::Reader *reader;  // C++ heap; released by row_lookup_close
    VisMemo vis;
    uint64_t lookups;
    // row_lookup_batch's rows (malloc'd): match m's MinimalTuple at rows + roff[m].
    char *rows;
    size_t rows_used, rows_cap;
    size_t *roff;
    int *rfound;
    TransactionId *rxmin;
    int rcap;
};
bool row_def_for(Relation rel, const AttrNumber *att, int n, Def *out, bool ready_only = true);
// The same among definitions the caller loaded already (the planner's, for one table).
bool row_def_among(Relation rel, const Def *defs, int nd, const AttrNumber *att, int n, Def *out,
                   bool ready_only = true);
RowLookup *row_lookup_open(Relation rel, const HeapFetch *hf, EState *estate);
RowLookup *row_lookup_attach(Relation rel, int slot, int64 defid, uint64_t index_offset,
                             const HeapFetch *hf, EState *estate);
// The rows of n matches at once (probe_batch: their cache misses overlap): for each, the one
// version at its TID visible to snap, with its xmin where both are normal; otherwise an error
// (XX001), never another row's columns. Then row_lookup_values(m) reads match m's columns.
void row_lookup_batch(RowLookup *rl, Relation rel, Snapshot snap, const core::Tid *tids,
                      const TransactionId *xmins, int n);
void row_lookup_values(RowLookup *rl, int m, Datum *values, bool *isnull);
void row_lookup_close(RowLookup *rl);  // unpins, frees; idempotent

// Learnt columns (arrangement_learn.cpp): of the columns `attrs` (pull_varattnos offsets) a join
// on d's key reads, those d lacks that the query's role may read (SELECT on the table or on the
// column, and within `selected`, the columns its privilege check covers), as bits a-1 (a <= 64).
uint64_t learnable_columns(PlannerInfo *root, RangeTblEntry *rte, Bitmapset *attrs, const Def &d,
                           Relation heap, Bitmapset *selected);

}  // namespace pm::pg::arr
