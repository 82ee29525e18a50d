// view_locks.cpp — concurrent writers of a view's inputs (docs/views.md, "Concurrency").
// Two transactions writing rows that can meet in one view row (an order and its lineitem) must
// not each compute their delta against a snapshot lacking the other's rows. Before the delta
// query, a maintenance run takes transaction-level heavyweight locks, in sorted order:
//   * for every pair of input positions (i, j) joined by a hash-joinable equality, and every
//     changed row at position i (or j): a lock on (view, pair, hash of the row's join value) —
//     RowExclusiveLock from the i side, ShareLock from the j side (these conflict with each
//     other, not with themselves: writers of one side of a key never wait for each other), both
//     ShareRowExclusiveLock — plus a RowExclusiveLock on the key's bucket (hash >> 24);
//     more than kMaxKeyLocks distinct keys of one (pair, side) in one run lock their buckets in
//     ShareRowExclusiveLock instead (conflicting with every key of the bucket, big or small);
//   * for a pair (i, j) not joined directly but through middle positions (the ends of a chain
//     customer - orders - lineitem, or a - b - c - d): the writers of i derive keys along the
//     shortest path i, p1, ..., pk-1, j, hop by hop: round d joins their changed rows to the p1..pd
//     rows (a query under a snapshot taken after the previous round's locks) and locks those
//     rows' keys of edge (pd, pd+1) from pd's side; the writers of j take nothing more;
//   * for any other pair: one lock on (view, pair), by side as above.
// The delta query then runs under a snapshot taken after the locks (READ COMMITTED: SPI takes a
// fresh one), so it sees every conflicting writer that committed before. Under REPEATABLE READ
// and SERIALIZABLE the snapshot cannot move: the delta is also computed under the latest
// snapshot and a difference (rows another transaction committed after ours was taken) raises a
// serialization failure (40001).
// A view of aggregates without GROUP BY (one row that every run updates) also takes one lock
// of the whole view, exclusive, before all others (lock_one_row_view); an aggregate view's run
// locks the groups it changes once it knows them (lock_groups, check_groups_unchanged).
// The locks are advisory-type tags (LOCKTAG_ADVISORY) whose fourth field is 0x7601..0x7606:
// user advisory locks use 1 and 2 there, so they never collide; pg_locks shows them with
// locktype advisory, objsubid 30209..30214.
#include <algorithm>

#include "pg/views/views.hpp"
#include "pg/inval.hpp"

extern "C" {
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/itemptr.h"
#include "catalog/pg_operator.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
}

namespace pm::pg::views {

namespace {

constexpr uint16 kTagKey = 0x7601;     // (view, pair, hash)
constexpr uint16 kTagBucket = 0x7602;  // (view, pair, hash >> 24)
constexpr uint16 kTagPair = 0x7603;    // (view, pair): inputs not joined directly
constexpr uint16 kTagView = 0x7604;    // (view): the one row of a view without GROUP BY
constexpr uint16 kTagGroup = 0x7605;   // (view table, group key hash): one group of an aggregate view
constexpr uint16 kTagGroups = 0x7606;  // (view table): every group (see lock_groups)
constexpr int kMaxGroupLocks = 64;     // per run, before the whole view
constexpr int kMaxKeyLocks = 64;       // per (pair, side) and run, before buckets
// Per-key locks a transaction may gather over all its runs before later runs lock buckets only
// (a loop of single-row inserts in one transaction would otherwise fill the shared lock table).
constexpr int kMaxXactKeyLocks = 1024;
// Longest join path (in positions) that the writers of one end derive keys along; pairs
// farther apart share one pair lock. Rows one derivation query may return before the rest of
// its path is locked whole (every bucket of each remaining edge, from the deriving side).
constexpr int kMaxPath = 8;
constexpr uint64 kMaxDerivedRows = 1024;

// Locks the transaction g_xid took (its own id: no callback needed to reset; a run always
// follows a write, so the transaction has one).
TransactionId g_xid = InvalidTransactionId;
int g_xact_locks = 0;
bool g_locks_on = true;  // parallel_material.debug_view_locks (superuser, measurement aid)

struct Edge {
    int i, j;              // positions (index into the inputs), i < j
    AttrNumber ai, aj;     // join columns
    bool hashed;           // false: merge-joinable only (a pair lock)
    Oid opno;              // the equality; its left operand is position i unless swapped
    bool swapped;
    FmgrInfo hi, hj;       // hash functions of the operand types (hash-compatible)
    Oid collation;
};

struct Want {
    uint32 f2, f3;
    uint16 f4;
    LOCKMODE mode;
};

// Lock strength of one side, merged: RowExclusive (i side) and Share (j side) conflict with
// each other only; holding both is ShareRowExclusive (taken at once: no upgrade deadlock).
LOCKMODE merge_mode(LOCKMODE a, LOCKMODE b) { return a == b ? a : ShareRowExclusiveLock; }

int cmp_want(const void *a, const void *b) {
    const Want *x = static_cast<const Want *>(a), *y = static_cast<const Want *>(b);
    if (x->f4 != y->f4) return x->f4 < y->f4 ? -1 : 1;
    if (x->f3 != y->f3) return x->f3 < y->f3 ? -1 : 1;
    if (x->f2 != y->f2) return x->f2 < y->f2 ? -1 : 1;
    return 0;
}

int cmp_u32(const void *a, const void *b) {
    uint32 x = *static_cast<const uint32 *>(a), y = *static_cast<const uint32 *>(b);
    return x < y ? -1 : x > y ? 1 : 0;
}

uint32 view_pair_field(int64 viewid, int pair) {
    return (static_cast<uint32>(viewid) << 12) ^ static_cast<uint32>(pair & 0xFFF);
}

}  // namespace

void define_view_lock_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.debug_view_locks",
        "Takes the per-key locks that keep maintained views exact under concurrent writers.",
        "Superuser measurement aid: off, concurrent writers of rows that meet in a view can "
        "leave it wrong (docs/views.md, \"Concurrency\").",
        &g_locks_on, true, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

void lock_one_row_view(int64 viewid) {
    if (!g_locks_on) return;
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, static_cast<uint32>(viewid), kTagView);
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
}

void lock_groups(Oid viewrel, uint32 *hashes, int n, bool whole) {
    if (!g_locks_on || n == 0) return;
    LOCKTAG tag;
    if (GetTopTransactionIdIfAny() != g_xid) {
        g_xid = GetTopTransactionIdIfAny();
        g_xact_locks = 0;
    }
    whole = whole || n > kMaxGroupLocks || g_xact_locks + n > kMaxXactKeyLocks;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, static_cast<uint32>(viewrel), kTagGroups);
    if (whole) {
        (void)LockAcquire(&tag, ExclusiveLock, false, false);
        return;
    }
    (void)LockAcquire(&tag, RowExclusiveLock, false, false);
    qsort(hashes, static_cast<size_t>(n), sizeof(uint32), cmp_u32);
    for (int k = 0; k < n; ++k) {
        if (k > 0 && hashes[k] == hashes[k - 1]) continue;
        SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, hashes[k], static_cast<uint32>(viewrel), kTagGroup);
        if (LockAcquire(&tag, ExclusiveLock, false, false) == LOCKACQUIRE_OK) ++g_xact_locks;
    }
}

bool locks_enabled() { return g_locks_on; }

void check_groups_unchanged(const char *vname, const char *match) {
    if (!IsolationUsesXactSnapshot() || !g_locks_on) return;
    char *sql = psprintf("SELECT v.ctid FROM ONLY %s v WHERE EXISTS (SELECT FROM pm_gdelta d WHERE %s) "
                         "ORDER BY 1",
                         vname, match);
    SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
    if (plan == nullptr) elog(ERROR, "SPI_prepare of the group check failed (%d)", SPI_result);
    int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, false,
                                  false, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "group check failed (%d)", rc);
    SPITupleTable *latest = SPI_tuptable;
    uint64 nlatest = SPI_processed;
    rc = SPI_execute_plan(plan, nullptr, nullptr, false, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "group check failed (%d)", rc);
    bool same = nlatest == SPI_processed;
    for (uint64 r = 0; same && r < nlatest; ++r) {
        bool n1, n2;
        Datum a = SPI_getbinval(latest->vals[r], latest->tupdesc, 1, &n1);
        Datum b = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &n2);
        same = !n1 && !n2 && ItemPointerCompare(reinterpret_cast<ItemPointer>(DatumGetPointer(a)),
                                                        reinterpret_cast<ItemPointer>(DatumGetPointer(b))) == 0;
    }
    SPI_freetuptable(latest);
    SPI_freetuptable(SPI_tuptable);
    SPI_freeplan(plan);
    if (!same)
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to a concurrent update of a "
                               "maintained view's group"),
                        errdetail("Another transaction changed a group of the view that this "
                                  "transaction changes after its snapshot was taken."),
                        errhint("The transaction might succeed if retried.")));
}

namespace {

// What lock_delta_keys derives from a view's query alone (its positions, the first usable
// equality between each pair, the middle positions), kept per backend: a view id's query never
// changes; a change of any function, operator, type or operator class membership marks the
// cache stale (hash functions are looked up through them).
struct KeyGraph {
    int64 viewid;
    int npos;
    Input *inputs;  // npos
    Edge **edges;   // npos * npos, [i * npos + j] for i < j
    // For a pair i < j not joined directly: the length k >= 2 (in hashed edges) of the shortest
    // path from i to j that its writers of i derive along, 0 where there is none (a pair lock);
    // the positions p0 = i, p1, ..., pk = j at path[(i * npos + j) * kMaxPath + 0..k].
    int *plen;      // npos * npos
    int *path;      // npos * npos * kMaxPath
    LeftJoins *outer;  // the LEFT JOINs' nullable sides
};
constexpr int kCachedGraphs = 32;
KeyGraph g_graphs[kCachedGraphs];
int g_ngraphs = 0;
MemoryContext g_graph_cxt = nullptr;
bool g_graphs_stale = false;
int g_graph_users = 0;  // lock_delta_keys runs using a cached graph (nested: a trigger's write)

void graphs_stale(Datum, int, uint32) { g_graphs_stale = true; }

KeyGraph build_graph(int64 viewid, Query *q, MemoryContext cxt) {
    MemoryContext old = MemoryContextSwitchTo(cxt);
    KeyGraph g{viewid, 0, nullptr, nullptr, nullptr, nullptr, nullptr};
    // Positions (range-table entries of relations), in order.
    PgArray<Input> inputs;
    for (int rti = 1; rti <= list_length(q->rtable); ++rti) {
        RangeTblEntry *rte = rt_fetch(rti, q->rtable);
        if (rte->rtekind == RTE_RELATION) inputs.push(Input{rti, rte->relid});
    }
    int npos = inputs.size();
    g.npos = npos;
    g.inputs = inputs.data;
    // A LEFT JOIN's nullable side b: its writers of one key also meet each other (the first
    // match and the last one add and remove the preserved row's NULL-extended row; a per-key
    // recompute reads and replaces the key's view rows), so b's side of every pair takes a mode
    // that conflicts with itself (docs/views.md, "LEFT JOIN views").
    g.outer = static_cast<LeftJoins *>(palloc(sizeof(LeftJoins)));
    (void)left_joins(q, g.outer, false);
    auto pos_of = [&](Index rtindex) {
        for (int k = 0; k < npos; ++k)
            if (inputs[k].rtindex == static_cast<int>(rtindex)) return k;
        return -1;
    };
    // The first equality between each pair of positions (one is enough: every one must hold).
    Edge **edges = static_cast<Edge **>(palloc0(sizeof(Edge *) * static_cast<size_t>(npos * npos)));
    List *quals = NIL, *conj = NIL;
    collect_quals(reinterpret_cast<Node *>(q->jointree), &quals, false);
    ListCell *lc;
    foreach (lc, quals) conj = list_concat(conj, make_ands_implicit(static_cast<Expr *>(lfirst(lc))));
    foreach (lc, conj) {
        Node *c = static_cast<Node *>(lfirst(lc));
        if (!IsA(c, OpExpr) || list_length(castNode(OpExpr, c)->args) != 2) continue;
        OpExpr *op = castNode(OpExpr, c);
        Var *l = base_var(q, static_cast<Node *>(linitial(op->args)));
        Var *r = base_var(q, static_cast<Node *>(lsecond(op->args)));
        if (l == nullptr || r == nullptr || l->varno == r->varno) continue;
        int li = pos_of(l->varno), ri = pos_of(r->varno);
        if (li < 0 || ri < 0) continue;
        Oid lt = exprType(static_cast<Node *>(linitial(op->args)));
        bool hashed = op_hashjoinable(op->opno, lt);
        if (!hashed && !op_mergejoinable(op->opno, lt)) continue;
        bool swapped = li > ri;  // the edge's i side is the operator's right operand
        if (swapped) {
            std::swap(li, ri);
            std::swap(l, r);
        }
        Edge *&e = edges[li * npos + ri];
        if (e != nullptr && (e->hashed || !hashed)) continue;
        e = static_cast<Edge *>(palloc0(sizeof(Edge)));
        e->i = li;
        e->j = ri;
        e->ai = l->varattno;
        e->aj = r->varattno;
        e->collation = op->inputcollid;
        e->opno = op->opno;
        e->swapped = swapped;
        e->hashed = false;
        if (hashed) {
            RegProcedure lh = InvalidOid, rh = InvalidOid;
            if (get_op_hash_functions(op->opno, &lh, &rh) && OidIsValid(lh) && OidIsValid(rh)) {
                // lh hashes the operator's left operand, rh its right one
                fmgr_info_cxt(swapped ? rh : lh, &e->hi, cxt);
                fmgr_info_cxt(swapped ? lh : rh, &e->hj, cxt);
                e->hashed = true;
            }
        }
    }
    g.edges = edges;

    // A pair without a hashed direct edge, joined by a path of hashed edges: its writers of the
    // lower position i derive keys along the shortest such path (breadth-first from i, lower
    // positions first), hop by hop (phase 2); no path within kMaxPath positions: one pair lock.
    // A LEFT JOIN's nullable side is never a middle position of a longer path (a NULL-extended
    // row has no row there to derive through): it is one of two-hop paths only, as before.
    int *plen = static_cast<int *>(palloc0(sizeof(int) * static_cast<size_t>(npos * npos)));
    int *path = static_cast<int *>(palloc0(sizeof(int) * static_cast<size_t>(npos * npos * kMaxPath)));
    auto hashed_edge = [&](int a, int b) -> Edge * {
        Edge *e = edges[std::min(a, b) * npos + std::max(a, b)];
        return e != nullptr && e->hashed ? e : nullptr;
    };
    int *dist = static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(npos)));
    int *prev = static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(npos)));
    int *fifo = static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(npos)));
    for (int i = 0; i < npos; ++i) {
        for (int k = 0; k < npos; ++k) dist[k] = -1;
        int head = 0, tail = 0;
        dist[i] = 0;
        prev[i] = -1;
        fifo[tail++] = i;
        while (head < tail) {
            int u = fifo[head++];
            if (dist[u] + 1 >= kMaxPath) continue;
            if (u != i && g.outer->nullable(inputs[u].rtindex)) continue;
            for (int v = 0; v < npos; ++v) {
                if (dist[v] >= 0 || hashed_edge(u, v) == nullptr) continue;
                dist[v] = dist[u] + 1;
                prev[v] = u;
                fifo[tail++] = v;
            }
        }
        for (int j = i + 1; j < npos; ++j) {
            if (hashed_edge(i, j) != nullptr) continue;
            if (dist[j] < 2) {
                // no path avoiding the nullable side: two hops through it, as before
                for (int m = 0; m < npos && dist[j] < 2; ++m)
                    if (m != i && m != j && hashed_edge(i, m) != nullptr && hashed_edge(m, j) != nullptr) {
                        dist[j] = 2;
                        prev[j] = m;
                        prev[m] = i;
                    }
                if (dist[j] < 2) continue;
            }
            int k = dist[j];
            plen[i * npos + j] = k;
            for (int v = j, at = k; at >= 0; v = prev[v], --at) path[(i * npos + j) * kMaxPath + at] = v;
        }
    }
    g.plen = plen;
    g.path = path;
    MemoryContextSwitchTo(old);
    return g;
}

// The graph of viewid from the cache (built there on a miss); built in the current memory
// context instead while the cache is stale and a run nested in another one uses it.
KeyGraph key_graph(int64 viewid, Query *q) {
    if (g_graph_cxt == nullptr) {
        g_graph_cxt = AllocSetContextCreate(CacheMemoryContext, "parallel_material view key graphs",
                                            ALLOCSET_SMALL_SIZES);
        pm::pg::on_syscache_inval(PROCOID, graphs_stale);
        pm::pg::on_syscache_inval(OPEROID, graphs_stale);
        pm::pg::on_syscache_inval(TYPEOID, graphs_stale);
        pm::pg::on_syscache_inval(AMOPOPID, graphs_stale);
    }
    if (g_graphs_stale || g_ngraphs == kCachedGraphs) {
        if (g_graph_users > 0) return build_graph(viewid, q, CurrentMemoryContext);
        MemoryContextReset(g_graph_cxt);
        g_ngraphs = 0;
        g_graphs_stale = false;
    }
    for (int k = 0; k < g_ngraphs; ++k)
        if (g_graphs[k].viewid == viewid) return g_graphs[k];
    KeyGraph g = build_graph(viewid, q, g_graph_cxt);
    // Invalidations processed meanwhile (catalog reads) may have marked the cache stale: then
    // this graph serves this run only and goes with the others at the next reset.
    g_graphs[g_ngraphs++] = g;
    return g;
}

pg_noinline void lock_keys_of(int64 viewid, const KeyGraph &g, const Pending &p);

}  // namespace

void lock_delta_keys(int64 viewid, Query *q, const Pending &p) {
    if (!g_locks_on) return;
    KeyGraph g = key_graph(viewid, q);
    if (g.npos < 2) return;
    ++g_graph_users;
    PG_TRY();
    { lock_keys_of(viewid, g, p); }
    PG_FINALLY();
    { --g_graph_users; }
    PG_END_TRY();
}

namespace {

pg_noinline void lock_keys_of(int64 viewid, const KeyGraph &g, const Pending &p) {
    const int npos = g.npos;
    const Input *inputs = g.inputs;
    Edge **edges = g.edges;
    auto hashed_edge = [&](int a, int b) -> Edge * {
        Edge *e = edges[std::min(a, b) * npos + std::max(a, b)];
        return e != nullptr && e->hashed ? e : nullptr;
    };

    // Hash values per (pair, side): side 0 = position i, 1 = position j.
    PgArray<uint32> *hashes =
        static_cast<PgArray<uint32> *>(palloc0(sizeof(PgArray<uint32>) * static_cast<size_t>(npos * npos * 2)));
    for (int k = 0; k < npos * npos * 2; ++k) hashes[k].cxt = CurrentMemoryContext;
    bool *pair_side = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(npos * npos * 2)));
    bool *derive = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(npos * npos)));
    // (pair, side) locked whole: every bucket, ShareRowExclusiveLock (a derivation past its cap)
    // (0 no, 1 to lock, 2 locked)
    char *whole = static_cast<char *>(palloc0(sizeof(char) * static_cast<size_t>(npos * npos * 2)));

    for (const Stash &s : p.stashes) {
        if (s.nrows == 0) continue;
        for (int pi = 0; pi < npos; ++pi) {
            if (inputs[pi].relid != s.relid) continue;
            for (int o = 0; o < npos; ++o) {
                if (o == pi) continue;
                int i = std::min(pi, o), j = std::max(pi, o);
                if (hashed_edge(i, j) != nullptr) continue;
                if (g.plen[i * npos + j] == 0)
                    pair_side[(i * npos + j) * 2 + (pi == i ? 0 : 1)] = true;
                else if (pi == i)
                    derive[i * npos + j] = true;
            }
        }
    }
    for (const Stash &s : p.stashes) {
        if (s.nrows == 0 || s.rows == nullptr) continue;
        bool any = false;
        for (int pi = 0; pi < npos && !any; ++pi)
            if (inputs[pi].relid == s.relid)
                for (int o = 0; o < npos; ++o)
                    if (o != pi && hashed_edge(pi, o) != nullptr) any = true;
        if (!any) continue;
        Relation rel = relation_open(s.relid, NoLock);
        TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
        tuplestore_rescan(s.rows);
        while (tuplestore_gettupleslot(s.rows, true, false, slot)) {
            for (int pi = 0; pi < npos; ++pi) {
                if (inputs[pi].relid != s.relid) continue;
                for (int o = 0; o < npos; ++o) {
                    if (o == pi) continue;
                    int i = std::min(pi, o), j = std::max(pi, o);
                    Edge *e = hashed_edge(i, j);
                    if (e == nullptr) continue;
                    bool isnull = false;
                    Datum v = slot_getattr(slot, pi == i ? e->ai : e->aj, &isnull);
                    if (isnull) continue;  // a NULL key meets no row on this strict equality
                    uint32 h = DatumGetUInt32(FunctionCall1Coll(pi == i ? &e->hi : &e->hj, e->collation, v));
                    hashes[(i * npos + j) * 2 + (pi == i ? 0 : 1)].push(h);
                }
            }
        }
        tuplestore_rescan(s.rows);
        ExecDropSingleTupleTableSlot(slot);
        relation_close(rel, NoLock);
    }

    if (GetTopTransactionIdIfAny() != g_xid) {
        g_xid = GetTopTransactionIdIfAny();
        g_xact_locks = 0;
    }
    // Turns the gathered hashes and pair flags into locks, takes them in sorted order, clears.
    auto acquire = [&]() {
        PgArray<Want> wants;
        auto want = [&](uint32 f2, uint32 f3, uint16 f4, LOCKMODE m) { wants.push(Want{f2, f3, f4, m}); };
        bool buckets_only = g_xact_locks >= kMaxXactKeyLocks;
        for (int i = 0; i < npos; ++i)
            for (int j = i + 1; j < npos; ++j) {
                int pair = i * npos + j;
                uint32 f3 = view_pair_field(viewid, pair);
                for (int side = 0; side < 2; ++side) {
                    LOCKMODE m = side == 0 ? RowExclusiveLock : ShareLock;
                    if (g.outer->nullable(inputs[side == 0 ? i : j].rtindex))
                        m = ShareRowExclusiveLock;
                    if (pair_side[pair * 2 + side]) want(0, f3, kTagPair, m);
                    pair_side[pair * 2 + side] = false;
                    if (whole[pair * 2 + side] == 1) {
                        for (uint32 b = 0; b < 256; ++b) want(b, f3, kTagBucket, ShareRowExclusiveLock);
                        whole[pair * 2 + side] = 2;
                    }
                    PgArray<uint32> &hs = hashes[pair * 2 + side];
                    if (hs.empty()) continue;
                    qsort(hs.data, static_cast<size_t>(hs.n), sizeof(uint32), cmp_u32);
                    hs.n = static_cast<int>(std::unique(hs.begin(), hs.end()) - hs.begin());
                    if (hs.n <= kMaxKeyLocks && !buckets_only) {
                        for (uint32 h : hs) {
                            want(h, f3, kTagKey, m);
                            want(h >> 24, f3, kTagBucket, RowExclusiveLock);
                        }
                    } else {
                        for (uint32 h : hs) want(h >> 24, f3, kTagBucket, ShareRowExclusiveLock);
                    }
                    hs.n = 0;
                }
            }
        if (wants.empty()) return;
        qsort(wants.data, static_cast<size_t>(wants.n), sizeof(Want), cmp_want);
        int n = 0;
        for (int k = 0; k < wants.n; ++k) {
            if (n > 0 && cmp_want(&wants[n - 1], &wants[k]) == 0)
                wants[n - 1].mode = merge_mode(wants[n - 1].mode, wants[k].mode);
            else
                wants[n++] = wants[k];
        }
        for (int k = 0; k < n; ++k) {
            LOCKTAG tag;
            SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, wants[k].f2, wants[k].f3, wants[k].f4);
            if (LockAcquire(&tag, wants[k].mode, false, false) == LOCKACQUIRE_OK) ++g_xact_locks;
        }
    };
    acquire();  // phase 1: the keys of the changed rows' own edges, pair locks

    // Phase 2, round d = 1, 2, ...: for each pair (i, j) that this run's rows at i start, with
    // path i = p0, p1, ..., pk = j (k > d), a query under a snapshot taken after the previous
    // round's locks (the latest one at REPEATABLE READ and SERIALIZABLE too) joins the changed
    // rows along p1..pd and gives the pd rows' keys of edge (pd, pd+1), locked from pd's side.
    // The last round's keys (edge (pk-1, j)) conflict with j's writers of those keys; each
    // earlier round's with the writers of the next middle rows, so a middle row committed after
    // one round's snapshot was written by a transaction that locked after this one or before
    // the next round's snapshot (docs/views.md, "Concurrency", the READ COMMITTED argument).
    int rounds = 0;
    for (int i = 0; i < npos; ++i)
        for (int j = i + 1; j < npos; ++j)
            if (derive[i * npos + j]) rounds = std::max(rounds, g.plen[i * npos + j] - 1);
    for (int d = 1; d <= rounds; ++d) {
        PgArray<char *> done;  // the queries run this round (pairs sharing a path prefix)
        for (int i = 0; i < npos; ++i)
            for (int j = i + 1; j < npos; ++j) {
                int k = g.plen[i * npos + j];
                if (!derive[i * npos + j] || k <= d) continue;
                const int *pth = &g.path[(i * npos + j) * kMaxPath];
                int pd = pth[d], pn = pth[d + 1];
                Edge *last = hashed_edge(pd, pn);
                int side_d = pd == last->i ? 0 : 1;
                int pair_last = std::min(pd, pn) * npos + std::max(pd, pn);
                if (whole[pair_last * 2 + side_d] != 0) continue;
                AttrNumber col_out = side_d == 0 ? last->ai : last->aj;
                FmgrInfo *hf = side_d == 0 ? &last->hi : &last->hj;
                // FROM delta d JOIN ONLY rel(p1) m1 ON ... JOIN ONLY rel(pd) md ON ...
                StringInfoData from;
                initStringInfo(&from);
                for (int h = 1; h <= d; ++h) {
                    int a = pth[h - 1], b = pth[h];
                    Edge *e = hashed_edge(a, b);
                    AttrNumber col_a = a == e->i ? e->ai : e->aj, col_b = b == e->i ? e->ai : e->aj;
                    int left = e->swapped ? e->j : e->i;  // the position of the operator's left operand
                    HeapTuple optup = SearchSysCache1(OPEROID, ObjectIdGetDatum(e->opno));
                    if (!HeapTupleIsValid(optup)) elog(ERROR, "cache lookup failed for operator %u", e->opno);
                    Form_pg_operator opf = reinterpret_cast<Form_pg_operator>(GETSTRUCT(optup));
                    char *opname = psprintf("OPERATOR(%s.%s)",
                                            quote_identifier(get_namespace_name(opf->oprnamespace)),
                                            NameStr(opf->oprname));
                    ReleaseSysCache(optup);
                    Oid relid_b = inputs[b].relid;
                    char *ca = psprintf("%s%d.%s", h == 1 ? "d" : "m", h - 1,
                                        quote_identifier(get_attname(inputs[a].relid, col_a, false)));
                    char *cb = psprintf("m%d.%s", h, quote_identifier(get_attname(relid_b, col_b, false)));
                    char *brel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid_b)),
                                                            get_rel_name(relid_b));
                    appendStringInfo(&from, " JOIN ONLY %s m%d ON %s %s %s", brel, h,
                                     left == a ? ca : cb, opname, left == a ? cb : ca);
                }
                char *outcol = psprintf("m%d.%s", d, quote_identifier(get_attname(inputs[pd].relid, col_out, false)));
                Oid relid_i = inputs[i].relid;
                for (int del = 0; del < 2; ++del) {
                    bool present = false;
                    for (const Stash &s : p.stashes)
                        if (s.relid == relid_i && s.deleted == (del == 1) && s.nrows > 0) present = true;
                    if (!present) continue;
                    char *sql = psprintf("SELECT %s FROM %s d0%s", outcol,
                                         quote_identifier(delta_enr_name(relid_i, del == 1)), from.data);
                    char *tagged = psprintf("%d %d %s", pair_last, side_d, sql);
                    bool seen = false;
                    for (char *q : done) seen = seen || strcmp(q, tagged) == 0;
                    if (seen) continue;
                    done.push(tagged);
                    // Small deltas: a plan prepared once per backend (the text names only the
                    // inputs and the delta's ephemeral relation), as the delta query's.
                    bool small = true;
                    for (const Stash &s : p.stashes)
                        if (s.relid == relid_i && s.nrows > kSmallDelta) small = false;
                    SPIPlanPtr cached = small ? cached_plan(psprintf("lk %s", sql), sql) : nullptr;
                    Snapshot snap = IsolationUsesXactSnapshot() ? GetLatestSnapshot() : InvalidSnapshot;
                    int rc;
                    if (cached != nullptr) {
                        rc = execute_cached_select(cached, snap, kMaxDerivedRows + 1);
                    } else if (snap != InvalidSnapshot) {
                        SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
                        if (plan == nullptr) elog(ERROR, "SPI_prepare failed (%d): %s", SPI_result, sql);
                        rc = SPI_execute_snapshot(plan, nullptr, nullptr, snap, InvalidSnapshot, false, false,
                                                  kMaxDerivedRows + 1);
                    } else {
                        rc = SPI_execute(sql, false, kMaxDerivedRows + 1);
                    }
                    if (rc != SPI_OK_SELECT) elog(ERROR, "view lock derivation failed (%d): %s", rc, sql);
                    if (SPI_processed > kMaxDerivedRows) {
                        // too many rows to derive from: lock the rest of the path whole, from the
                        // deriving side of each edge (conflicts with every writer of those edges)
                        for (int h = d; h < k; ++h) {
                            int a = pth[h], b = pth[h + 1];
                            Edge *e = hashed_edge(a, b);
                            char &w = whole[(std::min(a, b) * npos + std::max(a, b)) * 2 + (a == e->i ? 0 : 1)];
                            if (w == 0) w = 1;
                        }
                        SPI_freetuptable(SPI_tuptable);
                        break;
                    }
                    PgArray<uint32> &hs = hashes[pair_last * 2 + side_d];
                    for (uint64 r = 0; r < SPI_processed; ++r) {
                        bool isnull = false;
                        Datum v = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
                        if (!isnull) hs.push(DatumGetUInt32(FunctionCall1Coll(hf, last->collation, v)));
                    }
                    SPI_freetuptable(SPI_tuptable);
                }
            }
        acquire();
    }
}

}  // namespace

void check_same_delta(SPITupleTable *latest, uint64 nlatest, SPITupleTable *mine, uint64 nmine) {
    int ncols = mine->tupdesc->natts - 1;  // the last column is the sign
    PgArray<NetDelta> a = net_delta(latest, nlatest, ncols), b = net_delta(mine, nmine, ncols);
    bool same = a.n == b.n;
    for (int k = 0; same && k < a.n; ++k)
        same = a[k].net == b[k].net && a[k].len == b[k].len &&
               memcmp(a[k].key, b[k].key, static_cast<size_t>(a[k].len)) == 0;
    if (!same)
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to a concurrent write of a "
                               "maintained view's input"),
                        errdetail("Another transaction committed rows that meet this "
                                  "transaction's changes in the view after its snapshot was taken."),
                        errhint("The transaction might succeed if retried.")));
}

int run_delta_query(const char *sql, SPIPlanPtr cached) {
    if (!IsolationUsesXactSnapshot() || !g_locks_on)
        return cached != nullptr ? execute_cached(cached) : SPI_execute(sql, false, 0);
    // The transaction snapshot cannot see what conflicting writers committed after it: compute
    // the delta under the latest snapshot too (our locks are held, so no conflicting writer can
    // commit any more); any difference means the delta needs rows ours cannot see.
    SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
    if (plan == nullptr) elog(ERROR, "SPI_prepare of the view delta query failed (%d)", SPI_result);
    int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, false,
                                  false, 0);
    if (rc != SPI_OK_SELECT) return rc;
    SPITupleTable *latest = SPI_tuptable;
    uint64 nlatest = SPI_processed;
    rc = SPI_execute_plan(plan, nullptr, nullptr, false, 0);
    if (rc != SPI_OK_SELECT) return rc;
    check_same_delta(latest, nlatest, SPI_tuptable, SPI_processed);
    return rc;
}

}  // namespace pm::pg::views
