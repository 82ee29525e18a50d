// arrangement_join_exec.cpp — executor of Custom Scan (ArrangementJoin): for each row of the
// outer child, evaluate the key expressions, probe the arrangement under the query's snapshot
// (MVCC visibility per version, as a heap scan would see it) and emit outer + arranged columns
// for each visible match that passes the join and inner quals. Nothing is built per query:
// EXPLAIN ANALYZE shows probes, matches and 0 bytes built. In a parallel plan (the partial path,
// parallel-aware) the leader passes its pin on the entry to the workers through the DSM, and
// each participant probes the same shared arrangement with the leader's snapshot.
// When the arrangement may not answer for this execution (arrangement_join_trust.cpp: decided at
// executor start, since plans are cached), the node runs its fallback instead: it scans the heap
// under the query's snapshot once, keeps the arranged columns of the visible rows in a hash table
// in backend memory, and probes that with the same keys: a hash join, exactly stock's rows.
// A LEFT JOIN (the arrangement on the nullable side) returns each outer row that no visible
// version matched (under the join's clauses: the ON clause and the inner relation's quals) once
// with the arranged columns NULL, as stock's nested loop and hash join do; the node's qual then
// holds the clauses pushed down to the join (WHERE), checked on every row returned, matched or
// NULL-extended (ps.qual after js.joinqual in nodeNestloop.c).
#include "pg/arrangement/arrangement.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/compat.hpp"
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/guard.hpp"

#include <cstdlib>

extern "C" {
#include "access/parallel.h"
#include "access/heapam.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "storage/predicate.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace pm::pg::arr {

namespace {

constexpr int kBatch = 64;  // outer rows per probe_batch
static_assert(kBatch <= static_cast<int>(core::ArrangementIndex::kMaxProbeBatch));

// The parallel-aware node's DSM: the entry the leader pinned (or its decision to run the
// fallback, and the definition the workers then need), and the workers' counters.
struct SharedJoin {
    int slot;
    int64 defid;
    uint64_t index_offset;
    bool fallback;
    Def def;
    pg_atomic_uint64 probes, found, heap_fetches;
    // The row arrangement the leader pinned for the heap-fetched columns (row_slot -1: none).
    int row_slot;
    int64 row_defid;
    uint64_t row_index_offset;
};

// The fallback's hash table: one entry per visible heap row with a non-NULL key, chained per
// bucket (indexes into entries; -1 ends a chain).
struct FallbackEntry {
    uint64_t hash;
    int next;
    int keylen;
    const char *key;
    MinimalTuple tuple;  // the arranged columns, as the arrangement stores them
    core::Tid tid;       // the heap tuple's (heap fetch reads the other columns there)
};

struct JoinState {
    CustomScanState css;  // first: PostgreSQL sees a CustomScanState
    PlanState *outer;
    Relation rel;
    Shape *shape;
    EntryInfo entry;
    bool pinned;
    int n_outer;
    int nkeys;
    List *key_states;  // ExprState per key
    // Each key a plain outer column (the usual equi join): its position among the outer
    // columns, read from the batch's copied values without evaluating key_states.
    bool keys_direct;
    int n_key_exprs;
    int key_col[kMaxKeyColumns];
    TupleTableSlot *inner_slot;  // MinimalTuple slot over the arranged columns
    // The quals that read arranged columns only, renumbered to inner_slot's attributes: checked
    // on the match alone, before its columns are copied next to the outer row's and the other
    // quals (ps.qual, the rest) run. Most matches that fail do so here (Q3: l_shipdate).
    ExprState *inner_qual;
    // LEFT JOIN only: the join clauses that also read outer columns (js.joinqual's role), the
    // clauses deciding a match before their split (custom_exprs after the keys), and whether
    // the current row had a match (or its NULL-extended row was already considered).
    bool left;
    ExprState *join_qual;
    List *match_clauses;
    bool row_matched;
    // Outer rows are probed in batches of up to kBatch (one probe_batch call: the cache misses
    // of their chains overlap). Per batch: the outer rows' values (by-reference ones copied into
    // batch_cxt, since the child's slot changes with every row), each row's key bytes (in
    // keybuf, at key_off; -1 when a key value is NULL: no probe) and which row each probe is.
    int batch_n;        // outer rows in the batch
    int row;            // the row whose matches are being returned
    bool row_loaded;    // its values are in the scan slot
    bool outer_done;    // the child returned its last row
    Datum *outer_vals;  // kBatch x n_outer
    bool *outer_nulls;
    MemoryContext batch_cxt;
    StringInfoData keybuf;
    int key_off[kBatch];
    int key_len[kBatch];
    int probe_row[kBatch];  // probe i of the batch is row probe_row[i]
    // The batch's visible matches, copied out of shared memory during the probe with malloc (no
    // PostgreSQL call, so nothing can longjmp out of the probe's callbacks): bytes, and for each
    // match its offset in them and its row. Then grouped by row: row_start (batch_n + 1 entries)
    // and the matches' indexes in row order (order). Freed with the query's memory.
    char *buf;
    size_t buf_used, buf_cap;
    size_t *offs;
    int *match_row;
    core::Tid *match_tid;          // each match's heap TID and xmin (heap fetch)
    TransactionId *match_xmin;
    int *order;
    int nmatches, offs_cap;
    int row_start[kBatch + 1];
    int next;  // next index into order
    core::ArrangementIndex::Reader *reader;  // one reader slot for the whole scan (C++ heap)
    uint64_t probes, found, emitted;
    VisMemo vis;  // visibility answers under es_snapshot, for this scan (arrangement_mvcc.cpp)
    SharedJoin *shared;     // parallel-aware plans only
    // Why this execution does not read the arrangement (nullptr: it does). Then the fallback:
    // the hash table below, built from a heap scan on the first batch (fb_built).
    const char *fallback;
    bool fb_built;
    MemoryContext fb_cxt;
    FallbackEntry *fb_entries;
    int fb_n;
    int *fb_buckets;
    uint64_t fb_mask;
    uint64_t published_probes, published_found;  // a worker's counts already added to shared
    uint64_t worker_probes, worker_found;  // leader: the workers' counters, read at shutdown
    // The columns read from the heap by TID (nullptr: the arrangement holds every column the
    // plan reads); they follow the arranged ones in the scan slot.
    HeapFetch *hf;
    uint64_t published_fetches, worker_fetches;
    // The row arrangement read instead of the heap for those columns (nullptr: the heap).
    RowLookup *rl;
};

// A worker adds what it counted since its last report to the DSM whenever its outer side is
// exhausted, and at its end; the leader collects them at shutdown (after Gather waited for the
// workers when it ran to completion; a plan stopped early, under a LIMIT, may report less).
void publish_counters(JoinState *js) {
    if (js->shared == nullptr || !IsParallelWorker()) return;
    pg_atomic_fetch_add_u64(&js->shared->probes, js->probes - js->published_probes);
    pg_atomic_fetch_add_u64(&js->shared->found, js->found - js->published_found);
    js->published_probes = js->probes;
    js->published_found = js->found;
    if (js->hf != nullptr) {
        uint64_t n = js->hf->fetches + (js->rl != nullptr ? js->rl->lookups : 0);
        pg_atomic_fetch_add_u64(&js->shared->heap_fetches, n - js->published_fetches);
        js->published_fetches = n;
    }
}

void unpin_state(JoinState *js) {
    row_lookup_close(js->rl);
    if (js->pinned) {
        js->pinned = false;
        unpin(js->entry.slot);
    }
}

// Makes room for one more match of tuple_len bytes (plain C++, throws std::bad_alloc).
__attribute__((noinline)) void grow_matches(JoinState *js, size_t len) {
    if (js->buf_used + len > js->buf_cap) {
        size_t cap = js->buf_cap == 0 ? 65536 : js->buf_cap;
        while (cap < js->buf_used + len) cap *= 2;
        void *p = std::realloc(js->buf, cap);
        if (p == nullptr) throw std::bad_alloc();
        js->buf = static_cast<char *>(p);
        js->buf_cap = cap;
    }
    if (js->nmatches == js->offs_cap) {
        int cap = js->offs_cap == 0 ? 1024 : js->offs_cap * 2;
        void *p = std::realloc(js->offs, sizeof(size_t) * cap);
        if (p == nullptr) throw std::bad_alloc();
        js->offs = static_cast<size_t *>(p);
        p = std::realloc(js->match_row, sizeof(int) * cap);
        if (p == nullptr) throw std::bad_alloc();
        js->match_row = static_cast<int *>(p);
        p = std::realloc(js->order, sizeof(int) * cap);
        if (p == nullptr) throw std::bad_alloc();
        js->order = static_cast<int *>(p);
        p = std::realloc(js->match_tid, sizeof(core::Tid) * cap);
        if (p == nullptr) throw std::bad_alloc();
        js->match_tid = static_cast<core::Tid *>(p);
        p = std::realloc(js->match_xmin, sizeof(TransactionId) * cap);
        if (p == nullptr) throw std::bad_alloc();
        js->match_xmin = static_cast<TransactionId *>(p);
        js->offs_cap = cap;
    }
}

// Copies one visible version (a MinimalTuple's bytes) matched by row `row` of the batch (called
// from the probe: plain C++, throws std::bad_alloc). Once per match: the growth is out of line.
// flags and key: the version's (arrangement_stored_tuple.hpp); flags 0 for a whole MinimalTuple.
// tid and xmin: the heap tuple's, kept for a heap fetch.
__attribute__((always_inline)) inline void keep_bytes(JoinState *js, int row, const void *tuple,
                                                      uint32_t tuple_len, uint16_t flags,
                                                      const char *key, core::Tid tid,
                                                      TransactionId xmin) {
    size_t len = MAXALIGN(stored_tuple_len(flags, tuple_len, &js->shape->cut));
    if (unlikely(js->buf_used + len > js->buf_cap || js->nmatches == js->offs_cap))
        grow_matches(js, len);
    unpack_stored(flags, static_cast<const char *>(tuple), tuple_len, &js->shape->cut, key,
                  js->buf + js->buf_used);
    js->match_row[js->nmatches] = row;
    js->match_tid[js->nmatches] = tid;
    js->match_xmin[js->nmatches] = xmin;
    js->offs[js->nmatches++] = js->buf_used;
    js->buf_used += len;
}

void free_matches(JoinState *js) {
    delete js->reader;  // releases the reader slot
    js->reader = nullptr;
    std::free(js->buf);
    std::free(js->offs);
    std::free(js->match_row);
    std::free(js->order);
    std::free(js->match_tid);
    std::free(js->match_xmin);
    js->match_tid = nullptr;
    js->match_xmin = nullptr;
    js->buf = nullptr;
    js->offs = nullptr;
    js->match_row = js->order = nullptr;
    js->buf_used = js->buf_cap = 0;
    js->nmatches = js->next = js->offs_cap = 0;
}

// Forgets the current batch (its memory is reused by the next one).
void reset_batch(JoinState *js) {
    js->batch_n = js->row = js->nmatches = js->next = 0;
    js->row_loaded = false;
    js->buf_used = 0;
    js->row_start[0] = 0;
}

// Puts row r of the batch (outer columns; the inner ones NULL) into the scan slot.
void load_outer_row(JoinState *js, int r) {
    TupleTableSlot *scan = js->css.ss.ss_ScanTupleSlot;
    ExecClearTuple(scan);
    int natts = scan->tts_tupleDescriptor->natts;
    const Datum *v = js->outer_vals + static_cast<size_t>(r) * js->n_outer;
    const bool *n = js->outer_nulls + static_cast<size_t>(r) * js->n_outer;
    for (int i = 0; i < js->n_outer; ++i) {
        scan->tts_values[i] = v[i];
        scan->tts_isnull[i] = n[i];
    }
    for (int i = js->n_outer; i < natts; ++i) {
        scan->tts_values[i] = static_cast<Datum>(0);
        scan->tts_isnull[i] = true;
    }
    ExecStoreVirtualTuple(scan);
}

// Reads up to kBatch outer rows: copies their values, evaluates and encodes their keys. Sets
// outer_done when the child is exhausted. The previous batch's rows were all returned, and the
// tuple returned last (which may point into batch_cxt or buf) was consumed by our parent.
void fill_batch(JoinState *js) {
    reset_batch(js);
    MemoryContextReset(js->batch_cxt);
    resetStringInfo(&js->keybuf);
    TupleDesc sdesc = js->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
    ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
    while (js->batch_n < kBatch) {
        TupleTableSlot *outer = ExecProcNode(js->outer);
        if (TupIsNull(outer)) {
            js->outer_done = true;
            break;
        }
        slot_getallattrs(outer);
        int r = js->batch_n++;
        Datum *v = js->outer_vals + static_cast<size_t>(r) * js->n_outer;
        bool *n = js->outer_nulls + static_cast<size_t>(r) * js->n_outer;
        MemoryContext old = MemoryContextSwitchTo(js->batch_cxt);
        for (int i = 0; i < js->n_outer; ++i) {
            Form_pg_attribute att = TupleDescAttr(sdesc, i);
            n[i] = outer->tts_isnull[i];
            v[i] = n[i] || att->attbyval ? outer->tts_values[i]
                                         : datumCopy(outer->tts_values[i], false, att->attlen);
        }
        MemoryContextSwitchTo(old);
        Datum vals[kMaxKeyColumns];
        bool nulls[kMaxKeyColumns];
        bool has_key = true;
        if (js->keys_direct) {
            for (int k = 0; k < js->n_key_exprs; ++k) {
                vals[k] = v[js->key_col[k]];
                nulls[k] = n[js->key_col[k]];
                if (nulls[k]) has_key = false;
            }
        } else {
            // The key expressions read the outer columns of the scan slot.
            load_outer_row(js, r);
            ResetExprContext(econtext);
            econtext->ecxt_scantuple = js->css.ss.ss_ScanTupleSlot;
            ListCell *lc;
            int k = 0;
            foreach (lc, js->key_states) {
                vals[k] = ExecEvalExpr(static_cast<ExprState *>(lfirst(lc)), econtext, &nulls[k]);
                if (nulls[k]) has_key = false;
                ++k;
            }
        }
        js->key_off[r] = -1;
        if (has_key) {
            js->key_off[r] = js->keybuf.len;
            encode_probe_key(js->shape, vals, nulls, &js->keybuf);
            js->key_len[r] = js->keybuf.len - js->key_off[r];
        }
    }
}

// Groups the batch's matches by row (a counting sort, stable: each row keeps probe order).
void group_matches(JoinState *js) {
    int start[kBatch + 1] = {0};
    for (int m = 0; m < js->nmatches; ++m) ++start[js->match_row[m] + 1];
    for (int r = 0; r < js->batch_n; ++r) start[r + 1] += start[r];
    memcpy(js->row_start, start, sizeof(int) * (js->batch_n + 1));
    for (int m = 0; m < js->nmatches; ++m) js->order[start[js->match_row[m]]++] = m;
    js->next = 0;
}

// Fills the inner part of the scan slot from match m; true when the quals accept it. The
// columns fetched from the heap are read after the quals over arranged columns passed.
bool load_match(JoinState *js, MinimalTuple mt, int m) {
    // Without a projection the scan slot itself went to our parent, which may have
    // materialized it (a virtual slot then owns copies of its values and would not copy again):
    // store the outer row afresh before filling in this match.
    if (TTS_SHOULDFREE(js->css.ss.ss_ScanTupleSlot)) load_outer_row(js, js->row);
    ExecStoreMinimalTuple(mt, js->inner_slot, false);
    if (js->inner_qual != nullptr) {
        ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
        econtext->ecxt_scantuple = js->inner_slot;
        if (!ExecQual(js->inner_qual, econtext)) return false;
    }
    slot_getallattrs(js->inner_slot);
    TupleTableSlot *scan = js->css.ss.ss_ScanTupleSlot;
    for (int c = 0; c < js->shape->def.ncols; ++c) {
        scan->tts_values[js->n_outer + c] = js->inner_slot->tts_values[c];
        scan->tts_isnull[js->n_outer + c] = js->inner_slot->tts_isnull[c];
    }
    if (js->rl != nullptr && js->fallback == nullptr) {
        // read for the whole batch after its probe (row_lookup_batch)
        int at = js->n_outer + js->shape->def.ncols;
        row_lookup_values(js->rl, m, scan->tts_values + at, scan->tts_isnull + at);
    } else if (js->hf != nullptr) {
        int at = js->n_outer + js->shape->def.ncols;
        heap_fetch_row(js->hf, js->rel, js->css.ss.ps.state->es_snapshot, js->match_tid[m],
                       js->match_xmin[m], scan->tts_values + at, scan->tts_isnull + at);
    }
    ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
    econtext->ecxt_scantuple = scan;
    if (js->left) {
        // A LEFT JOIN's clause failing means "no match", not "filtered".
        if (js->join_qual != nullptr && !ExecQual(js->join_qual, econtext)) return false;
        js->row_matched = true;
    }
    ExprState *qual = js->css.ss.ps.qual;
    return qual == nullptr || ExecQual(qual, econtext);
}

// The fallback's hash table: every row of the table visible to the query's snapshot (a heap
// scan, as stock's plan would make), keyed and projected exactly as the arrangement keys and
// stores them. Rows with a NULL key never match and are left out. Plain PostgreSQL code (called
// inside guarded(), no C++ object alive in these frames).
void build_fallback(JoinState *js) {
    const Shape *shape = js->shape;
    EState *estate = js->css.ss.ps.state;
    MemoryContext old = MemoryContextSwitchTo(js->fb_cxt);
    TupleDesc desc = shape->reldesc;
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * Max(desc->natts, 1)));
    bool *isnull = static_cast<bool *>(palloc(sizeof(bool) * Max(desc->natts, 1)));
    int cap = 1024;
    js->fb_entries = static_cast<FallbackEntry *>(palloc(sizeof(FallbackEntry) * cap));
    js->fb_n = 0;
    StringInfoData key;
    initStringInfo(&key);
    MemoryContext row_cxt = AllocSetContextCreate(js->fb_cxt, "ArrangementJoin fallback row",
                                                  ALLOCSET_SMALL_SIZES);
    TableScanDesc scan = table_beginscan(js->rel, estate->es_snapshot, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        CHECK_FOR_INTERRUPTS();
        MemoryContextReset(row_cxt);
        MemoryContextSwitchTo(row_cxt);  // deforming, detoasting and projecting
        heap_deform_tuple(tup, desc, values, isnull);
        bool null_key = false;
        for (int k = 0; k < shape->def.nkeys; ++k) null_key = null_key || isnull[shape->def.keys[k] - 1];
        if (null_key) {
            MemoryContextSwitchTo(js->fb_cxt);  // the scan's own allocations stay out of row_cxt
            continue;
        }
        resetStringInfo(&key);  // its buffer stays in fb_cxt
        encode_key_from_values(shape, values, isnull, &key);
        MinimalTuple projected = project(shape, values, isnull);
        MemoryContextSwitchTo(js->fb_cxt);
        if (js->fb_n == cap) {
            cap *= 2;
            js->fb_entries = static_cast<FallbackEntry *>(
                repalloc_huge(js->fb_entries, sizeof(FallbackEntry) * static_cast<Size>(cap)));
        }
        FallbackEntry &e = js->fb_entries[js->fb_n++];
        e.hash = hash_key(&key);
        e.keylen = key.len;
        e.key = static_cast<const char *>(memcpy(palloc(Max(key.len, 1)), key.data, key.len));
        e.tuple = static_cast<MinimalTuple>(memcpy(palloc(projected->t_len), projected, projected->t_len));
        e.tid = core::Tid{ItemPointerGetBlockNumber(&tup->t_self), ItemPointerGetOffsetNumber(&tup->t_self)};
        e.next = -1;
    }
    MemoryContextSwitchTo(js->fb_cxt);
    table_endscan(scan);
    MemoryContextDelete(row_cxt);
    uint64_t nbuckets = 1024;
    while (nbuckets < static_cast<uint64_t>(js->fb_n)) nbuckets *= 2;
    js->fb_mask = nbuckets - 1;
    js->fb_buckets = static_cast<int *>(palloc_extended(sizeof(int) * nbuckets, MCXT_ALLOC_HUGE));
    for (uint64_t b = 0; b < nbuckets; ++b) js->fb_buckets[b] = -1;
    for (int i = js->fb_n - 1; i >= 0; --i) {  // chains keep heap order
        int &head = js->fb_buckets[js->fb_entries[i].hash & js->fb_mask];
        js->fb_entries[i].next = head;
        head = i;
    }
    MemoryContextSwitchTo(old);
    js->fb_built = true;
}

// Probe i of the batch against the fallback's hash table; returns the matches kept.
uint64_t probe_fallback(JoinState *js, int i, const core::ProbeKey &k) {
    uint64_t n = 0;
    for (int e = js->fb_buckets[k.hash & js->fb_mask]; e >= 0; e = js->fb_entries[e].next) {
        const FallbackEntry &fe = js->fb_entries[e];
        if (fe.hash != k.hash || fe.keylen != static_cast<int>(k.key_len) ||
            memcmp(fe.key, k.key, k.key_len) != 0)
            continue;
        keep_bytes(js, js->probe_row[i], fe.tuple, fe.tuple->t_len, 0, nullptr, fe.tid,
                   InvalidTransactionId);
        ++n;
    }
    return n;
}

// Called inside guarded(); PostgreSQL calls here are direct (an error longjmps out through
// frames that own nothing: ArrangementIndex is a trivially destructible handle). Only the probe
// runs C++ frames with destructors, and its callbacks never longjmp: the visibility fast path
// makes no call that can fail, the slow path goes through pg_call, and keep_match uses malloc.
static_assert(std::is_trivially_destructible_v<core::ArrangementIndex>);
TupleTableSlot *exec_join(JoinState *js) {
    Snapshot snap = js->css.ss.ps.state->es_snapshot;
    ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
    for (;;) {
        // Return the current batch's matches, row by row in outer order.
        while (js->row < js->batch_n) {
            if (!js->row_loaded) {
                load_outer_row(js, js->row);
                js->row_loaded = true;
                js->row_matched = false;
                js->next = js->row_start[js->row];
            }
            while (js->next < js->row_start[js->row + 1]) {
                ResetExprContext(econtext);
                int m = js->order[js->next++];
                auto mt = reinterpret_cast<MinimalTuple>(js->buf + js->offs[m]);
                if (load_match(js, mt, m)) {
                    ++js->emitted;
                    // No projection when the target list is the scan tuple itself (SELECT *):
                    // PostgreSQL then leaves ps_ProjInfo NULL, and the scan slot is the result,
                    // as in ExecScan.
                    ProjectionInfo *proj = js->css.ss.ps.ps_ProjInfo;
                    return proj != nullptr ? ExecProject(proj) : js->css.ss.ss_ScanTupleSlot;
                }
            }
            if (js->left && !js->row_matched) {
                // No match: the outer row with the arranged columns NULL, if the pushed-down
                // clauses accept it (considered once: row_matched now stands for "done").
                js->row_matched = true;
                ResetExprContext(econtext);
                load_outer_row(js, js->row);
                econtext->ecxt_scantuple = js->css.ss.ss_ScanTupleSlot;
                ExprState *qual = js->css.ss.ps.qual;
                if (qual == nullptr || ExecQual(qual, econtext)) {
                    ++js->emitted;
                    ProjectionInfo *proj = js->css.ss.ps.ps_ProjInfo;
                    return proj != nullptr ? ExecProject(proj) : js->css.ss.ss_ScanTupleSlot;
                }
            }
            ++js->row;
            js->row_loaded = false;
        }
        if (js->outer_done) {
            publish_counters(js);
            return nullptr;
        }
        fill_batch(js);
        // One probe per row whose key has no NULL, all in one probe_batch.
        core::ProbeKey keys[kBatch];
        int nprobes = 0;
        for (int r = 0; r < js->batch_n; ++r) {
            if (js->key_off[r] < 0) continue;
            const char *kp = js->keybuf.data + js->key_off[r];
            keys[nprobes] = core::ProbeKey{hash_key_bytes(kp, js->key_len[r]), kp,
                                           static_cast<uint32_t>(js->key_len[r])};
            js->probe_row[nprobes++] = r;
        }
        if (nprobes != 0 && js->fallback != nullptr) {
            js->probes += nprobes;
            if (!js->fb_built) build_fallback(js);
            for (int i = 0; i < nprobes; ++i)
                js->found += probe_fallback(js, i, keys[i]);
        } else if (nprobes != 0) {
            js->probes += nprobes;
            core::ArrangementIndex index = index_at(js->entry.index_offset);
            if (js->reader == nullptr)
                js->reader = new core::ArrangementIndex::Reader(index.register_reader());
            js->found += index.probe_batch(
                *js->reader, keys, static_cast<uint32_t>(nprobes),
                [&](const core::VersionView &v) {
                    int fast = version_visible_memo(v, snap, &js->vis);
                    return fast >= 0 ? fast == 1
                                     : pg_call([&] { return version_visible(v, snap); });
                },
                [&](uint32_t i, const core::VersionView &v) {
                    keep_bytes(js, js->probe_row[i], v.tuple, v.tuple_len, v.flags, v.key, v.tid,
                               v.xmin);
                });
            // The columns the arrangement lacks, from the row arrangement: every match's row
            // at once, their cache misses overlapping as the probe's do.
            if (js->rl != nullptr && js->nmatches != 0)
                row_lookup_batch(js->rl, js->rel, snap, js->match_tid, js->match_xmin,
                                 js->nmatches);
        }
        group_matches(js);
    }
}

// Whether every Var of a clause is an arranged column (a custom_scan_tlist position after the
// outer columns); moves them down to inner_slot's numbering when `shift`.
struct InnerVars {
    int n_outer;
    bool only_inner;
    bool shift;
    int n_inner;  // arranged columns (the heap-fetched ones after them are not on inner_slot)
};
bool inner_vars_walker(Node *node, InnerVars *c) {
    if (node == nullptr) return false;
    if (IsA(node, Var)) {
        auto *v = reinterpret_cast<Var *>(node);
        if (c->shift) {
            v->varattno = static_cast<AttrNumber>(v->varattno - c->n_outer);
            v->varattnosyn = v->varattno;
        } else if (v->varno != INDEX_VAR || v->varlevelsup != 0 || v->varattno <= c->n_outer ||
                   v->varattno > c->n_outer + c->n_inner) {
            c->only_inner = false;
        }
        return false;
    }
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(inner_vars_walker)), c);
}

// Splits the node's quals: those over arranged columns only (and nothing volatile) are
// compiled against inner_slot; the rest replace ps.qual. The inner slot's kind is not fixed
// for these expressions (scanopsfixed off while compiling): compiled against the node's fixed
// virtual scan slot, the interpreter and JIT alike would skip deforming the match.
// A LEFT JOIN splits the clauses deciding a match the same way (the rest: join_qual) and keeps
// ps.qual whole: it runs on NULL-extended rows too.
void split_quals(JoinState *js, CustomScan *cs) {
    List *inner = NIL, *rest = NIL;
    ListCell *lc;
    foreach (lc, js->left ? js->match_clauses : cs->scan.plan.qual) {
        Node *clause = static_cast<Node *>(lfirst(lc));
        InnerVars c{js->n_outer, true, false, js->shape->def.ncols};
        inner_vars_walker(clause, &c);
        if (c.only_inner && !contain_volatile_functions(clause) && !contain_subplans(clause)) {
            Node *copy = static_cast<Node *>(copyObjectImpl(clause));
            InnerVars shift{js->n_outer, true, true, js->shape->def.ncols};
            inner_vars_walker(copy, &shift);
            inner = lappend(inner, copy);
        } else {
            rest = lappend(rest, clause);
        }
    }
    PlanState *ps = &js->css.ss.ps;
    if (js->left) js->join_qual = ExecInitQual(rest, ps);
    if (inner == NIL) return;
    const TupleTableSlotOps *ops = ps->scanops;
    bool opsset = ps->scanopsset, fixed = ps->scanopsfixed;
    TupleDesc desc = ps->scandesc;
    ps->scanops = nullptr;
    ps->scanopsset = true;
    ps->scanopsfixed = false;
    ps->scandesc = js->shape->projdesc;
    js->inner_qual = ExecInitQual(inner, ps);
    ps->scanops = ops;
    ps->scanopsset = opsset;
    ps->scanopsfixed = fixed;
    ps->scandesc = desc;
    if (!js->left) ps->qual = ExecInitQual(rest, ps);
}

// The arranged columns' shape and slot; under SERIALIZABLE, the relation predicate lock a
// sequential scan takes (in a worker too, as a parallel seq scan does: the lock belongs to the
// leader's serializable transaction, which its workers share).
void set_shape(JoinState *js, EState *estate, const Def &d) {
    MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
    js->shape = make_shape(js->rel, d);
    js->nkeys = d.nkeys;
    js->inner_slot = ExecAllocTableSlot(&estate->es_tupleTable, js->shape->projdesc,
                                        &TTSOpsMinimalTuple);
    js->hf = heap_fetch_init(js->rel, reinterpret_cast<CustomScan *>(js->css.ss.ps.plan)->custom_scan_tlist,
                             js->n_outer + d.ncols, estate);
    split_quals(js, reinterpret_cast<CustomScan *>(js->css.ss.ps.plan));
    MemoryContextSwitchTo(old);
    if (IsolationIsSerializable()) PredicateLockRelation(js->rel, estate->es_snapshot);
}

void begin_join(JoinState *js, EState *estate, int eflags) {
    auto *cs = reinterpret_cast<CustomScan *>(js->css.ss.ps.plan);
    int64 defid = DatumGetInt64(static_cast<Const *>(linitial(cs->custom_private))->constvalue);
    Oid relid = DatumGetObjectId(static_cast<Const *>(lsecond(cs->custom_private))->constvalue);
    js->n_outer = intVal(lthird(cs->custom_private));
    const int plan_ncols = intVal(lfourth(cs->custom_private));
    // LEFT JOIN plans carry the number of keys: custom_exprs = keys, then the match clauses.
    js->left = list_length(cs->custom_private) > 4;
    int nkey_exprs = js->left ? intVal(list_nth(cs->custom_private, 4)) : list_length(cs->custom_exprs);
    js->match_clauses = NIL;
    js->outer = ExecInitNode(static_cast<Plan *>(linitial(cs->custom_plans)), estate, eflags);
    js->css.custom_ps = list_make1(js->outer);
    js->key_states = NIL;
    js->keys_direct = nkey_exprs <= kMaxKeyColumns;
    ListCell *lc;
    int k = 0;
    foreach (lc, cs->custom_exprs) {
        auto *e = static_cast<Expr *>(lfirst(lc));
        if (k >= nkey_exprs) {
            js->match_clauses = lappend(js->match_clauses, e);
            continue;
        }
        js->key_states = lappend(js->key_states, ExecInitExpr(e, &js->css.ss.ps));
        auto *v = reinterpret_cast<Var *>(e);
        if (js->keys_direct && IsA(e, Var) && v->varno == INDEX_VAR && v->varlevelsup == 0 &&
            v->varattno >= 1 && v->varattno <= js->n_outer)
            js->key_col[k] = v->varattno - 1;
        else
            js->keys_direct = false;
        ++k;
    }
    js->n_key_exprs = nkey_exprs;
    xid_cache_maintain();
    initStringInfo(&js->keybuf);
    js->outer_vals = static_cast<Datum *>(palloc(sizeof(Datum) * kBatch * Max(js->n_outer, 1)));
    js->outer_nulls = static_cast<bool *>(palloc(sizeof(bool) * kBatch * Max(js->n_outer, 1)));
    js->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "ArrangementJoin batch",
                                          ALLOCSET_DEFAULT_SIZES);
    js->fb_cxt = AllocSetContextCreate(CurrentMemoryContext, "ArrangementJoin fallback",
                                       ALLOCSET_DEFAULT_SIZES);
    reset_batch(js);
    js->rel = relation_open(relid, AccessShareLock);
    // A worker takes the definition from the entry its leader pinned (initialize_worker): the
    // definitions table is read under the latest snapshot, which a worker may not take.
    if (IsParallelWorker()) return;
    Def d;
    if (!find_def(relid, defid, &d))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the arrangement this plan reads was dropped")));
    // The columns this plan was made for (its scan tuple's layout): an in-place widening since
    // (arrangement_adapt.cpp) changed the definition's; pin_for_reader then reads the entry only
    // if it was built with these, and the fallback runs otherwise.
    d.ncols = plan_ncols;
    for (int c = 0; c < plan_ncols; ++c) {
        auto *te = static_cast<TargetEntry *>(list_nth(cs->custom_scan_tlist, js->n_outer + c));
        d.cols[c] = reinterpret_cast<Var *>(te->expr)->varattno;
    }
    set_shape(js, estate, d);
}

void explain_join(JoinState *js, ExplainState *es) {
    // "Arrangement: od (c_id)": the table and the key probed.
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfo(&buf, "%s (", RelationGetRelationName(js->rel));
    for (int k = 0; k < js->shape->def.nkeys; ++k)
        appendStringInfo(&buf, "%s%s", k ? ", " : "",
                         get_attname(RelationGetRelid(js->rel), js->shape->def.keys[k], false));
    appendStringInfoChar(&buf, ')');
    ExplainPropertyText("Arrangement", buf.data, es);
    if (js->left) ExplainPropertyText("Join Type", "Left", es);
    // Whether the columns the arrangement lacks come from the row arrangement: decided at
    // executor start (js->rl); plain EXPLAIN, which starts nothing, says whether one would serve.
    bool rows = false;
    if (js->hf != nullptr) {
        Def rd;
        rows = js->rl != nullptr ||
               (js->fallback == nullptr && !es->analyze &&
                row_def_for(js->rel, js->hf->att, js->hf->n, &rd));
        // "Heap Columns: b, c": what is read from the heap by TID per match ("Row Columns": from
        // the table's row arrangement by TID).
        StringInfoData cols;
        initStringInfo(&cols);
        for (int i = 0; i < js->hf->n; ++i)
            appendStringInfo(&cols, "%s%s", i ? ", " : "",
                             get_attname(RelationGetRelid(js->rel), js->hf->att[i], false));
        ExplainPropertyText(rows ? "Row Columns" : "Heap Columns", cols.data, es);
    }
    if (js->fallback != nullptr)
        ExplainPropertyText("Fallback", psprintf("heap scan and hash table: %s", js->fallback), es);
    if (!es->analyze) return;
    // Every participant's: the leader's own and the workers' (read at shutdown).
    ExplainPropertyInteger("Probes", nullptr, static_cast<int64>(js->probes + js->worker_probes), es);
    ExplainPropertyInteger("Matches", nullptr, static_cast<int64>(js->found + js->worker_found), es);
    if (js->hf != nullptr)
        ExplainPropertyInteger(rows ? "Row Lookups" : "Heap Fetches", nullptr,
                               static_cast<int64>(js->hf->fetches +
                                                  (js->rl != nullptr ? js->rl->lookups : 0) +
                                                  js->worker_fetches),
                               es);
    if (js->fallback == nullptr) {
        ExplainPropertyInteger("Hash Bytes Built", nullptr, 0, es);
    } else {
        // The rows the leader's fallback hash table holds (each participant builds its own).
        ExplainPropertyInteger("Fallback Rows Hashed", nullptr, js->fb_n, es);
    }
}

// ---- callbacks (thin shims over guarded) ----

void begin_scan(CustomScanState *node, EState *estate, int eflags) {
    guarded([&] {
        auto *js = reinterpret_cast<JoinState *>(node);
        begin_join(js, estate, eflags);
        if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;
        if (IsParallelWorker()) {
            // A worker never builds: it reads the entry its leader pinned (initialize_worker).
            if (!js->css.ss.ps.plan->parallel_aware)
                elog(ERROR, "ArrangementJoin: a parallel-unsafe plan node reached a worker");
            return;
        }
        // The arrangement may not answer for this execution (see arrangement_join_trust.cpp):
        // the fallback reads the heap instead, and nothing is pinned or built.
        js->fallback = debug_join_fallback
                           ? "parallel_material.debug_join_fallback is on"
                           : exec_refusal(js->rel, js->shape->def, estate->es_snapshot);
        if (js->fallback != nullptr) return;
        // Built lazily if it is not ready any more (restart, invalidation) by a role that may
        // block writers; a SELECT-only reader never rebuilds (issue 16): the fallback reads the
        // heap for it instead.
        js->entry = pin_for_reader(js->rel, js->shape->def);
        if (js->entry.slot < 0) {
            js->fallback = reader_refusal();
            return;
        }
        js->pinned = true;
        // The columns the arrangement lacks: from the table's row arrangement when one serves
        // (arrangement_row_lookup.cpp), else from the heap.
        js->rl = row_lookup_open(js->rel, js->hf, estate);
    });
}

TupleTableSlot *exec_scan(CustomScanState *node) {
    return guarded([&] { return exec_join(reinterpret_cast<JoinState *>(node)); });
}

void end_scan(CustomScanState *node) {
    guarded([&] {
        auto *js = reinterpret_cast<JoinState *>(node);
        publish_counters(js);
        unpin_state(js);
        free_matches(js);
        ExecEndNode(js->outer);
        if (js->rel != nullptr) relation_close(js->rel, NoLock);
    });
}

void rescan(CustomScanState *node) {
    guarded([&] {
        auto *js = reinterpret_cast<JoinState *>(node);
        reset_batch(js);
        js->outer_done = false;
        // ExecReScan passes changed parameters to outerPlanState only; ours is in custom_ps.
        if (node->ss.ps.chgParam != nullptr) UpdateChangedParamSet(js->outer, node->ss.ps.chgParam);
        if (js->outer->chgParam == nullptr) ExecReScan(js->outer);
    });
}

void explain_scan(CustomScanState *node, List *, ExplainState *es) {
    guarded([&] { explain_join(reinterpret_cast<JoinState *>(node), es); });
}

// ---- parallel: the leader's pin and the workers' counters, through the DSM ----

Size estimate_dsm(CustomScanState *, ParallelContext *) { return sizeof(SharedJoin); }

void initialize_dsm(CustomScanState *node, ParallelContext *, void *coordinate) {
    auto *js = reinterpret_cast<JoinState *>(node);
    auto *sh = static_cast<SharedJoin *>(coordinate);
    sh->slot = js->entry.slot;  // pinned in begin_scan, before any worker starts
    sh->defid = js->shape->def.defid;
    sh->index_offset = js->entry.index_offset;
    sh->fallback = js->fallback != nullptr;  // then nothing is pinned: each worker scans the heap
    sh->def = js->shape->def;
    pg_atomic_init_u64(&sh->probes, 0);
    pg_atomic_init_u64(&sh->found, 0);
    pg_atomic_init_u64(&sh->heap_fetches, 0);
    sh->row_slot = js->rl != nullptr ? js->rl->entry.slot : -1;
    sh->row_defid = js->rl != nullptr ? js->rl->entry.def.defid : 0;
    sh->row_index_offset = js->rl != nullptr ? js->rl->entry.index_offset : 0;
    js->shared = sh;
}

void reinitialize_dsm(CustomScanState *node, ParallelContext *, void *coordinate) {
    // The pin is the same; the counters were collected (and zeroed) at the last shutdown.
    reinterpret_cast<JoinState *>(node)->shared = static_cast<SharedJoin *>(coordinate);
}

void initialize_worker(CustomScanState *node, shm_toc *, void *coordinate) {
    guarded([&] {
        auto *js = reinterpret_cast<JoinState *>(node);
        auto *sh = static_cast<SharedJoin *>(coordinate);
        js->shared = sh;
        if (sh->fallback) {
            // The leader's decision: each worker builds the fallback's hash table from its own
            // heap scan under the shared snapshot (as each participant of a non-shared hash
            // join does) and probes it with its share of the outer rows.
            js->fallback = "decided by the leader";
            set_shape(js, js->css.ss.ps.state, sh->def);
            return;
        }
        EntryInfo e = pin_slot_as_worker(sh->slot, sh->defid, sh->index_offset);
        if (e.slot < 0) elog(ERROR, "ArrangementJoin: the leader's arrangement is gone");
        js->entry = e;
        js->pinned = true;
        set_shape(js, js->css.ss.ps.state, e.def);
        if (sh->row_slot >= 0)
            js->rl = row_lookup_attach(js->rel, sh->row_slot, sh->row_defid, sh->row_index_offset,
                                       js->hf, js->css.ss.ps.state);
    });
}

void shutdown_scan(CustomScanState *node) {
    // The leader, before the DSM goes away: the workers have published their counters.
    auto *js = reinterpret_cast<JoinState *>(node);
    if (js->shared != nullptr && !IsParallelWorker()) {
        js->worker_probes += pg_atomic_exchange_u64(&js->shared->probes, 0);
        js->worker_found += pg_atomic_exchange_u64(&js->shared->found, 0);
        js->worker_fetches += pg_atomic_exchange_u64(&js->shared->heap_fetches, 0);
        js->shared = nullptr;  // Gather detaches the DSM next
    }
}

CustomExecMethods exec_methods = {
    kJoinName,       begin_scan,       exec_scan,         end_scan,      rescan,
    nullptr,         nullptr,          estimate_dsm,      initialize_dsm, reinitialize_dsm,
    initialize_worker, shutdown_scan,  explain_scan,
};

// An error between begin and end leaves a pin and the match buffer: released when the query's
// memory goes.
void release_pin(void *arg) {
    auto *js = static_cast<JoinState *>(arg);
    unpin_state(js);
    free_matches(js);
}

Node *create_state(CustomScan *) {
    auto *js = static_cast<JoinState *>(palloc0(sizeof(JoinState)));
    NodeSetTag(js, T_CustomScanState);
    js->css.methods = &exec_methods;
    auto *cb = static_cast<MemoryContextCallback *>(palloc0(sizeof(MemoryContextCallback)));
    cb->func = release_pin;
    cb->arg = js;
    MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
    return reinterpret_cast<Node *>(js);
}

}  // namespace

CustomScanMethods join_scan_methods = {kJoinName, create_state};

void register_join_methods() { RegisterCustomScanMethods(&join_scan_methods); }

}  // namespace pm::pg::arr
