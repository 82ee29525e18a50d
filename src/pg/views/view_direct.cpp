// view_direct.cpp — a small delta of one input computed without SQL (docs/views.md, "Direct
// probes"): the seed's d_lineitem -> orders -> customer, as a loop in this backend. For a view
// whose query (the join before grouping, for an aggregate view) is an inner equi-join of plain
// tables, with immutable filters and outputs made of built-in functions and operators only, a
// statement that changed one input at one position (inserted or deleted rows, at most
// kSmallDelta) has its delta computed by probing the other inputs' arrangements directly, through
// the probe API ArrangementJoin uses, in an order that follows the join's equalities from the
// delta; each filter is evaluated as soon as the inputs it reads are bound, the outputs at the
// end. The filters and outputs are compiled once per backend (ExprStates over one "combined
// row" of every input's columns) and kept until any relcache invalidation or change of a
// function, operator, type or schema, like the plan cache.
// Exactness is ArrangementJoin's: the same trust checks at the start of each run under its
// snapshot (exec_refusal: maintenance triggers intact, no queued writes except under the view's
// maintenance trust, no TRUNCATE newer than the snapshot; pin_for_reader: relfilenode, xid
// horizon, builds that this transaction wrote before), the same MVCC visibility per version,
// the same key encoding, and the plan's other conditions (no row-level security on a probed
// table, SELECT on it for the view's owner). Anything else — a not-ready arrangement, a self-join, a LEFT JOIN, a
// shape or expression outside the allowlist, SERIALIZABLE, debug_join_fallback,
// enable_arrangement_join off, a run nested in another one — returns false having changed
// nothing, and the caller runs the SQL delta query as before. Under REPEATABLE READ the delta is
// computed under the latest snapshot too and compared (40001 when they differ), as
// run_delta_query does. Plain PostgreSQL code except the probe itself, which runs in guarded().
#include "pg/arrangement/arrangement.hpp"
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/inval.hpp"
#include "pg/views/views.hpp"

#include <cstdlib>
#include <new>

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

namespace {

enum Mode { kOff = 0, kOn = 1, kNotice = 2 };
int g_mode = kOn;
const struct config_enum_entry kModes[] = {
    {"off", kOff, false}, {"on", kOn, false}, {"notice", kNotice, false}, {nullptr, 0, false}};

constexpr int kMaxSteps = 15;

// One probe: input rt (relation relid) by its arrangement def, keyed on the combined-row column
// src (0-based); its columns start at off in the combined row.
struct Step {
    int rt;
    Oid relid;
    arr::Def def;
    arr::Shape *shape;
    int src;
    int off;
    ExprState *qual;  // the filters decided once this input is bound (nullptr: none)
};

// What a view needs for a direct delta of one input, compiled once per backend.
struct Compiled {
    int64 viewid;
    Oid delta_relid;
    bool ok;  // false: this view and input never take the direct path (until invalidated)
    const char *why;  // when !ok (notice mode)
    int delta_off;
    TupleTableSlot *delta_slot;  // the input's rows as the transition tables hold them
    ExprState *qual0;            // filters on the changed input alone (or on no input)
    int nsteps;
    Step steps[kMaxSteps];
    TupleTableSlot *row;  // the combined row: every input's columns (virtual)
    int nout;
    ExprState **out;
    TupleDesc result_desc;  // the outputs, then __pm_sign
    ExprContext *econtext;
    char *describe;
    Compiled *next;
};

MemoryContext g_cxt = nullptr;
Compiled *g_compiled = nullptr;
bool g_stale = false;
bool g_running = false;
int64 g_taken = 0;  // runs whose delta came from here (this backend)

void mark_stale() { g_stale = true; }

// ---- compile ----

bool builtin_function(Oid fn) { return OidIsValid(fn) && fn < FirstGenbkiObjectId; }

// The expression allowlist: Vars of plain input columns, constants and built-in functions and
// operators combined by the usual node types; nothing that calls user code, reads a subquery or
// keeps per-query state. rts collects the range-table positions read, used their columns.
struct Allow {
    Query *q;
    bool ok;
    Bitmapset *rts;
    Bitmapset **used;  // per rt (index rt), columns (attno)
};

bool allow_walker(Node *n, Allow *a) {
    if (n == nullptr || !a->ok) return false;
    switch (nodeTag(n)) {
        case T_Var: {
            Var *v = reinterpret_cast<Var *>(n);
            if (v->varlevelsup != 0 || v->varattno < 1 || v->varno < 1 ||
                v->varno > list_length(a->q->rtable) ||
                rt_fetch(v->varno, a->q->rtable)->rtekind != RTE_RELATION) {
                a->ok = false;
                return false;
            }
            a->rts = bms_add_member(a->rts, v->varno);
            a->used[v->varno] = bms_add_member(a->used[v->varno], v->varattno);
            return false;
        }
        case T_Const:
        case T_RelabelType:
        case T_BoolExpr:
        case T_NullTest:
        case T_BooleanTest:
        case T_CoalesceExpr:
        case T_CaseExpr:
        case T_CaseWhen:
        case T_CaseTestExpr:
            break;
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr: {
            OpExpr *o = reinterpret_cast<OpExpr *>(n);
            set_opfuncid(o);
            if (!builtin_function(o->opfuncid) || o->opretset) a->ok = false;
            break;
        }
        case T_ScalarArrayOpExpr: {
            ScalarArrayOpExpr *o = reinterpret_cast<ScalarArrayOpExpr *>(n);
            set_sa_opfuncid(o);
            if (!builtin_function(o->opfuncid) ||
                (OidIsValid(o->hashfuncid) && !builtin_function(o->hashfuncid)) ||
                (OidIsValid(o->negfuncid) && !builtin_function(o->negfuncid)))
                a->ok = false;
            break;
        }
        case T_FuncExpr: {
            FuncExpr *f = reinterpret_cast<FuncExpr *>(n);
            if (!builtin_function(f->funcid) || f->funcretset) a->ok = false;
            break;
        }
        default:
            a->ok = false;
            return false;
    }
    return expression_tree_walker(
        n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(allow_walker)), a);
}

// The quals of an inner-join FROM tree (false: another join type or FROM item).
bool inner_quals(Node *n, List **quals) {
    if (n == nullptr) return true;
    if (IsA(n, RangeTblRef)) return true;
    if (IsA(n, FromExpr)) {
        FromExpr *f = reinterpret_cast<FromExpr *>(n);
        ListCell *lc;
        foreach (lc, f->fromlist)
            if (!inner_quals(static_cast<Node *>(lfirst(lc)), quals)) return false;
        *quals = list_concat(*quals, make_ands_implicit(reinterpret_cast<Expr *>(f->quals)));
        return true;
    }
    if (IsA(n, JoinExpr)) {
        JoinExpr *j = reinterpret_cast<JoinExpr *>(n);
        if (j->jointype != JOIN_INNER) return false;
        if (!inner_quals(j->larg, quals) || !inner_quals(j->rarg, quals)) return false;
        *quals = list_concat(*quals, make_ands_implicit(reinterpret_cast<Expr *>(j->quals)));
        return true;
    }
    return false;
}

Node *strip_relabel(Node *n) {
    while (n != nullptr && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(n)->arg);
    return n;
}

bool covered(const Bitmapset *attrs, const arr::Def &d) {
    int a = -1;
    while ((a = bms_next_member(attrs, a)) >= 0) {
        bool found = false;
        for (int c = 0; c < d.ncols; ++c) found = found || d.cols[c] == a;
        if (!found) return false;
    }
    return true;
}

// Vars of the query -> Vars of the combined row (one scan tuple: varno 1, attno off + attno).
struct Renumber {
    const int *off;
};
bool renumber_walker(Node *n, Renumber *r) {
    if (n == nullptr) return false;
    if (IsA(n, Var)) {
        Var *v = reinterpret_cast<Var *>(n);
        v->varattno = static_cast<AttrNumber>(r->off[v->varno] + v->varattno);
        v->varno = 1;
        v->varattnosyn = v->varattno;
        v->varnosyn = 1;
        return false;
    }
    return expression_tree_walker(
        n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(renumber_walker)), r);
}

Expr *renumbered(Node *n, const int *off) {
    Node *c = static_cast<Node *>(copyObjectImpl(n));
    Renumber r{off};
    renumber_walker(c, &r);
    return reinterpret_cast<Expr *>(c);
}

// The step probing input `to` from a bound input through equality `op`, or false.
bool probe_step(Query *q, OpExpr *op, Node *outer_arg, Var *outer, Var *inner, Bitmapset **used,
                const int *off, Step *st) {
    RangeTblEntry *rte = rt_fetch(inner->varno, q->rtable);
    Relation rel = relation_open(rte->relid, NoLock);  // the maintenance run locked the inputs
    Oid keytype = TupleDescAttr(RelationGetDescr(rel), inner->varattno - 1)->atttypid;
    relation_close(rel, NoLock);
    // ArrangementJoin's conditions (arrangement_join_plan.cpp, outer_key_expr): the key type's
    // default btree equality, a deterministic collation, the probe value of the key's base type.
    Oid base = getBaseType(keytype);
    if (getBaseType(exprType(outer_arg)) != base) return false;
    Oid opc = GetDefaultOpClass(base, BTREE_AM_OID);
    if (!OidIsValid(opc)) return false;
    Oid eq = get_opfamily_member(get_opclass_family(opc), base, base, BTEqualStrategyNumber);
    if (op->opno != eq) return false;
    if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid)) return false;
    arr::Def defs[arr::kMaxArrangements];
    int n = arr::load_defs(rte->relid, defs);
    for (int i = 0; i < n; ++i) {
        const arr::Def &d = defs[i];
        if (d.nkeys != 1 || d.keys[0] != inner->varattno || !covered(used[inner->varno], d))
            continue;
        st->rt = inner->varno;
        st->relid = rte->relid;
        st->def = d;
        st->src = off[outer->varno] + outer->varattno - 1;
        st->off = off[inner->varno];
        st->qual = nullptr;
        return true;
    }
    return false;
}

void compile(Compiled *c, Query *q) {
    c->ok = false;
    c->why = "the query's shape";
    if (q->commandType != CMD_SELECT || q->setOperations != nullptr || q->groupClause != NIL ||
        q->groupingSets != NIL || q->hasAggs || q->distinctClause != NIL ||
        q->havingQual != nullptr || q->hasWindowFuncs || q->hasTargetSRFs || q->sortClause != NIL ||
        q->limitCount != nullptr || q->limitOffset != nullptr || q->hasSubLinks ||
        q->cteList != NIL || q->rowMarks != NIL)
        return;
    int nrt = list_length(q->rtable);
    int delta_rt = 0;
    ListCell *lc;
    int rt = 0;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        ++rt;
        if (rte->rtekind == RTE_JOIN) continue;
        if (rte->rtekind != RTE_RELATION) return;
        if (rte->relid == c->delta_relid) {
            if (delta_rt != 0) {
                c->why = "the changed table is read twice (self-join)";
                return;
            }
            delta_rt = rt;
        }
    }
    if (delta_rt == 0) return;
    List *quals = NIL;
    if (!inner_quals(reinterpret_cast<Node *>(q->jointree), &quals)) {
        c->why = "an outer join";
        return;
    }
    Bitmapset **used = static_cast<Bitmapset **>(palloc0(sizeof(Bitmapset *) * (nrt + 1)));
    Allow a{q, true, nullptr, used};
    List *outs = NIL;
    foreach (lc, q->targetList) {
        TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
        if (tle->resjunk) continue;
        outs = lappend(outs, tle);
        allow_walker(reinterpret_cast<Node *>(tle->expr), &a);
    }
    int nq = list_length(quals);
    Bitmapset **qrts = static_cast<Bitmapset **>(palloc0(sizeof(Bitmapset *) * (nq + 1)));
    int qi = 0;
    foreach (lc, quals) {
        a.rts = nullptr;
        allow_walker(static_cast<Node *>(lfirst(lc)), &a);
        qrts[qi++] = a.rts;
    }
    if (!a.ok) {
        c->why = "an expression other than built-in functions and operators over columns";
        return;
    }
    // The combined row: every input's columns, in range-table order.
    int *off = static_cast<int *>(palloc0(sizeof(int) * (nrt + 1)));
    int natts = 0;
    rt = 0;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        ++rt;
        if (rte->rtekind != RTE_RELATION) continue;
        Relation rel = relation_open(rte->relid, NoLock);
        off[rt] = natts;
        natts += RelationGetDescr(rel)->natts;
        // A virtual generated column (PostgreSQL 18) holds nothing in the heap, the
        // transition tables or the arrangements: its expression is the planner's to expand.
        bool virtual_column = false;
        int a = -1;
        while ((a = bms_next_member(used[rt], a)) >= 0)
            virtual_column = virtual_column || (a <= RelationGetDescr(rel)->natts &&
                                                TupleDescAttr(RelationGetDescr(rel), a - 1)->attgenerated == 'v');
        relation_close(rel, NoLock);
        if (virtual_column) {
            c->why = "a virtual generated column";
            return;
        }
    }
    // The probe order: from the delta along the equalities, each step an input not yet bound
    // with an arrangement on exactly the joined column that holds every column the query reads.
    Bitmapset *bound = bms_make_singleton(delta_rt);
    int ninputs = 0;
    rt = 0;
    foreach (lc, q->rtable) {
        ++rt;
        if (static_cast<RangeTblEntry *>(lfirst(lc))->rtekind == RTE_RELATION) ++ninputs;
    }
    if (ninputs - 1 > kMaxSteps) return;
    int *lv = static_cast<int *>(palloc0(sizeof(int) * (nrt + 1)));
    c->nsteps = 0;
    while (bms_num_members(bound) < ninputs) {
        bool found = false;
        ListCell *qc;
        foreach (qc, quals) {
            Node *qn = static_cast<Node *>(lfirst(qc));
            if (!IsA(qn, OpExpr)) continue;
            OpExpr *op = reinterpret_cast<OpExpr *>(qn);
            if (list_length(op->args) != 2) continue;
            Node *args[2] = {static_cast<Node *>(linitial(op->args)), static_cast<Node *>(lsecond(op->args))};
            for (int side = 0; side < 2 && !found; ++side) {
                Node *o = strip_relabel(args[side]), *i = strip_relabel(args[1 - side]);
                if (o == nullptr || i == nullptr || !IsA(o, Var) || !IsA(i, Var)) continue;
                Var *ov = reinterpret_cast<Var *>(o), *iv = reinterpret_cast<Var *>(i);
                if (!bms_is_member(ov->varno, bound) || bms_is_member(iv->varno, bound)) continue;
                Step st;
                if (!probe_step(q, op, args[side], ov, iv, used, off, &st)) continue;
                lv[iv->varno] = c->nsteps + 1;
                c->steps[c->nsteps++] = st;
                bound = bms_add_member(bound, iv->varno);
                found = true;
            }
            if (found) break;
        }
        if (!found) {
            c->why = "an input not reachable through an arrangement on its join column";
            return;
        }
    }
    // From here on everything is kept (g_cxt): ExprStates point into their expressions (a
    // by-reference constant's value, say), so the renumbered copies are made there too.
    MemoryContext old = MemoryContextSwitchTo(g_cxt);
    // Filters by the level at which every input they read is bound.
    List **byl = static_cast<List **>(palloc0(sizeof(List *) * (c->nsteps + 1)));
    qi = 0;
    foreach (lc, quals) {
        int l = 0, m = -1;
        while ((m = bms_next_member(qrts[qi], m)) >= 0) l = Max(l, lv[m]);
        byl[l] = lappend(byl[l], renumbered(static_cast<Node *>(lfirst(lc)), off));
        ++qi;
    }
    c->qual0 = ExecInitQual(byl[0], nullptr);
    for (int s = 0; s < c->nsteps; ++s) {
        Step &st = c->steps[s];
        st.qual = ExecInitQual(byl[s + 1], nullptr);
        Relation rel = relation_open(st.relid, NoLock);
        st.shape = arr::make_shape(rel, st.def);
        relation_close(rel, NoLock);
    }
    TupleDesc cdesc = CreateTemplateTupleDesc(Max(natts, 1));
    rt = 0;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        ++rt;
        if (rte->rtekind != RTE_RELATION) continue;
        Relation rel = relation_open(rte->relid, NoLock);
        TupleDesc d = RelationGetDescr(rel);
        for (int i = 0; i < d->natts; ++i)
            TupleDescCopyEntry(cdesc, static_cast<AttrNumber>(off[rt] + i + 1), d, static_cast<AttrNumber>(i + 1));
        if (rt == delta_rt)
            c->delta_slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(d), &TTSOpsMinimalTuple);
        relation_close(rel, NoLock);
    }
    c->delta_off = off[delta_rt];
    c->row = MakeSingleTupleTableSlot(cdesc, &TTSOpsVirtual);
    c->nout = list_length(outs);
    c->out = static_cast<ExprState **>(palloc(sizeof(ExprState *) * Max(c->nout, 1)));
    c->result_desc = CreateTemplateTupleDesc(c->nout + 1);
    int o = 0;
    foreach (lc, outs) {
        TargetEntry *tle = static_cast<TargetEntry *>(lfirst(lc));
        Node *e = reinterpret_cast<Node *>(tle->expr);
        c->out[o] = ExecInitExpr(renumbered(e, off), nullptr);
        TupleDescInitEntry(c->result_desc, static_cast<AttrNumber>(o + 1), tle->resname,
                           exprType(e), exprTypmod(e), 0);
        TupleDescInitEntryCollation(c->result_desc, static_cast<AttrNumber>(o + 1), exprCollation(e));
        ++o;
    }
    TupleDescInitEntry(c->result_desc, static_cast<AttrNumber>(c->nout + 1), "__pm_sign", INT4OID, -1, 0);
    c->econtext = CreateStandaloneExprContext();
    StringInfoData desc;
    initStringInfo(&desc);
    appendStringInfoString(&desc, get_rel_name(c->delta_relid));
    for (int s = 0; s < c->nsteps; ++s)
        appendStringInfo(&desc, " -> %s (%s)", get_rel_name(c->steps[s].relid),
                         get_attname(c->steps[s].relid, c->steps[s].def.keys[0], false));
    c->describe = desc.data;
    MemoryContextSwitchTo(old);
    c->ok = true;
    c->why = nullptr;
}

Compiled *lookup(int64 viewid, Oid relid, Query *q) {
    if (g_cxt == nullptr) {
        g_cxt = AllocSetContextCreate(CacheMemoryContext, "parallel_material view direct probes",
                                      ALLOCSET_DEFAULT_SIZES);
        pm::pg::on_plan_inval(mark_stale);
    }
    if (g_stale) {
        // Standalone ExprContexts and slots live in g_cxt: reset drops them all at once.
        MemoryContextReset(g_cxt);
        g_compiled = nullptr;
        g_stale = false;
    }
    for (Compiled *c = g_compiled; c != nullptr; c = c->next)
        if (c->viewid == viewid && c->delta_relid == relid) return c;
    Compiled *c = static_cast<Compiled *>(MemoryContextAllocZero(g_cxt, sizeof(Compiled)));
    c->viewid = viewid;
    c->delta_relid = relid;
    MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "view direct compile",
                                              ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(tmp);
    compile(c, static_cast<Query *>(copyObjectImpl(delta_source_query(q))));  // set_opfuncid writes
    MemoryContextSwitchTo(old);
    MemoryContextDelete(tmp);
    if (g_stale) return nullptr;  // invalidated while compiling: compile again next time
    c->next = g_compiled;
    g_compiled = c;
    return c;
}

// ---- run ----

// One level's matches: MinimalTuples copied out of shared memory with malloc (the probe's
// callbacks make no PostgreSQL call), their offsets in buf.
struct Matches {
    char *buf;
    size_t used, cap;
    size_t *offs;
    int n, ncap;
};

struct RunState {
    bool done;
    int npinned;
    int slots[kMaxSteps];
    uint64_t index_offset[kMaxSteps];
    Matches m[kMaxSteps];
    arr::VisMemo vis[kMaxSteps];
    StringInfoData key;
};

void free_run(RunState *rs) {
    if (rs->done) return;
    rs->done = true;
    for (int i = 0; i < rs->npinned; ++i) arr::unpin(rs->slots[i]);
    rs->npinned = 0;
    for (int s = 0; s < kMaxSteps; ++s) {
        std::free(rs->m[s].buf);
        std::free(rs->m[s].offs);
    }
    g_running = false;
}

void release_run(void *arg) { free_run(static_cast<RunState *>(arg)); }

__attribute__((noinline)) void grow(Matches *m, size_t len) {
    if (m->used + len > m->cap) {
        size_t cap = m->cap == 0 ? 8192 : m->cap;
        while (cap < m->used + len) cap *= 2;
        void *p = std::realloc(m->buf, cap);
        if (p == nullptr) throw std::bad_alloc();
        m->buf = static_cast<char *>(p);
        m->cap = cap;
    }
    if (m->n == m->ncap) {
        int cap = m->ncap == 0 ? 64 : m->ncap * 2;
        void *p = std::realloc(m->offs, sizeof(size_t) * cap);
        if (p == nullptr) throw std::bad_alloc();
        m->offs = static_cast<size_t *>(p);
        m->ncap = cap;
    }
}

struct Run {
    Compiled *c;
    RunState *rs;
    Snapshot snap;
    int32 sign;
    MemoryContext out_cxt;
    PgArray<HeapTuple> *out;
    Datum *ov;
    bool *on;
};

// The matches of step s for the current combined row, then the next level for each.
void descend(Run &r, int s) {
    Compiled *c = r.c;
    ExprContext *ec = c->econtext;
    ec->ecxt_scantuple = c->row;
    ExprState *qual = s == 0 ? c->qual0 : c->steps[s - 1].qual;
    if (qual != nullptr) {
        ResetExprContext(ec);
        if (!ExecQual(qual, ec)) return;
    }
    TupleTableSlot *row = c->row;
    if (s == c->nsteps) {
        ResetExprContext(ec);
        for (int i = 0; i < c->nout; ++i)
            r.ov[i] = ExecEvalExprSwitchContext(c->out[i], ec, &r.on[i]);
        r.ov[c->nout] = Int32GetDatum(r.sign);
        r.on[c->nout] = false;
        MemoryContext old = MemoryContextSwitchTo(r.out_cxt);
        r.out->push(heap_form_tuple(c->result_desc, r.ov, r.on));
        MemoryContextSwitchTo(old);
        return;
    }
    Step &st = c->steps[s];
    if (row->tts_isnull[st.src]) return;  // = is strict: a NULL key meets nothing
    Datum kv = row->tts_values[st.src];
    bool kn = false;
    RunState *rs = r.rs;
    resetStringInfo(&rs->key);
    arr::encode_probe_key(st.shape, &kv, &kn, &rs->key);
    Matches *m = &rs->m[s];
    m->used = 0;
    m->n = 0;
    const arr::KeyCut *cut = &st.shape->cut;
    Snapshot snap = r.snap;
    arr::VisMemo *vis = &rs->vis[s];
    const char *kp = rs->key.data;
    uint32_t klen = static_cast<uint32_t>(rs->key.len);
    uint64_t offset = rs->index_offset[s];
    pm::pg::guarded([&] {
        core::ArrangementIndex index = arr::index_at(offset);
        index.probe(
            arr::hash_key_bytes(kp, static_cast<int>(klen)), kp, klen,
            [&](const core::VersionView &v) {
                int fast = arr::version_visible_memo(v, snap, vis);
                return fast >= 0 ? fast == 1 : pg_call([&] { return arr::version_visible(v, snap); });
            },
            [&](const core::VersionView &v) {
                size_t len = MAXALIGN(arr::stored_tuple_len(v.flags, v.tuple_len, cut));
                if (m->used + len > m->cap || m->n == m->ncap) grow(m, len);
                arr::unpack_stored(v.flags, v.tuple, v.tuple_len, cut, v.key, m->buf + m->used);
                m->offs[m->n++] = m->used;
                m->used += len;
            });
    });
    Datum vals[arr::kMaxColumns];
    bool nulls[arr::kMaxColumns];
    for (int i = 0; i < m->n; ++i) {
        MinimalTuple mt = reinterpret_cast<MinimalTuple>(m->buf + m->offs[i]);
        HeapTupleData ht;
        ht.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
        ht.t_data = reinterpret_cast<HeapTupleHeader>(reinterpret_cast<char *>(mt) - MINIMAL_TUPLE_OFFSET);
        ItemPointerSetInvalid(&ht.t_self);
        ht.t_tableOid = InvalidOid;
        heap_deform_tuple(&ht, st.shape->projdesc, vals, nulls);
        for (int k = 0; k < st.def.ncols; ++k) {
            row->tts_values[st.off + st.def.cols[k] - 1] = vals[k];
            row->tts_isnull[st.off + st.def.cols[k] - 1] = nulls[k];
        }
        descend(r, s + 1);
    }
}

// The trust checks of every probed arrangement under snap (ArrangementJoin's executor start);
// the reason it may not be read, or nullptr.
const char *refusal(Compiled *c, Snapshot snap) {
    for (int s = 0; s < c->nsteps; ++s) {
        Relation rel = relation_open(c->steps[s].relid, NoLock);
        const char *why = arr::exec_refusal(rel, c->steps[s].def, snap);
        // What the SQL delta query's plan would check as well: the planner does not join
        // through an arrangement under row-level security (securityQuals), and its executor
        // checks the run's role (the view table's owner) may read the table (column rights
        // alone: left to it).
        if (why == nullptr && rel->rd_rel->relrowsecurity &&
            check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_NONE)
            why = "row-level security applies to the table";
        if (why == nullptr && pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
            why = "the view's owner lacks SELECT on the table";
        relation_close(rel, NoLock);
        if (why != nullptr) return why;
    }
    return nullptr;
}

// The delta under one snapshot (latest: GetLatestSnapshot, else the statement's as SPI takes it);
// false with *why when an arrangement may not answer under it.
// One part of the change: the rows of a transition table and their sign.
struct Part {
    Tuplestorestate *ts;
    int32 sign;
};

bool run_once(Compiled *c, RunState *rs, const Part *parts, int nparts, bool latest,
              PgArray<HeapTuple> *out, const char **why) {
    PushCopiedSnapshot(latest ? GetLatestSnapshot() : GetTransactionSnapshot());
    CommandCounterIncrement();
    UpdateActiveSnapshotCommandId();
    Snapshot snap = GetActiveSnapshot();
    *why = refusal(c, snap);
    if (*why != nullptr) {
        PopActiveSnapshot();
        return false;
    }
    memset(rs->vis, 0, sizeof(rs->vis));
    Run r{c, rs, snap, 0, CurrentMemoryContext, out, nullptr, nullptr};
    r.ov = static_cast<Datum *>(palloc(sizeof(Datum) * (c->nout + 1)));
    r.on = static_cast<bool *>(palloc(sizeof(bool) * (c->nout + 1)));
    TupleTableSlot *row = c->row;
    int natts = row->tts_tupleDescriptor->natts;
    TupleTableSlot *ds = c->delta_slot;
    int dn = ds->tts_tupleDescriptor->natts;
    for (int pi = 0; pi < nparts; ++pi) {
        Tuplestorestate *ts = parts[pi].ts;
        r.sign = parts[pi].sign;
        tuplestore_rescan(ts);
        while (tuplestore_gettupleslot(ts, true, false, ds)) {
            slot_getallattrs(ds);
            ExecClearTuple(row);
            for (int i = 0; i < natts; ++i) {
                row->tts_values[i] = static_cast<Datum>(0);
                row->tts_isnull[i] = true;
            }
            for (int i = 0; i < dn; ++i) {
                row->tts_values[c->delta_off + i] = ds->tts_values[i];
                row->tts_isnull[c->delta_off + i] = ds->tts_isnull[i];
            }
            ExecStoreVirtualTuple(row);
            descend(r, 0);
        }
        ExecClearTuple(ds);
        tuplestore_rescan(ts);
    }
    ExecClearTuple(row);
    PopActiveSnapshot();
    return true;
}

SPITupleTable *as_tuptable(Compiled *c, const PgArray<HeapTuple> &rows) {
    auto *t = static_cast<SPITupleTable *>(palloc0(sizeof(SPITupleTable)));
    t->tupdesc = c->result_desc;
    t->vals = rows.data;
    return t;
}

void notice_sql(const char *why) {
    if (g_mode == kNotice) ereport(NOTICE, (errmsg("view delta: SQL delta query: %s", why)));
}

}  // namespace

bool direct_delta(int64 viewid, const ViewDef &vd, const Pending &p,
                  const PgArray<DeltaInput> &deltas, SPITupleTable **out, uint64 *nout) {
    if (g_mode == kOff) return false;
    // One input changed (its inserted rows, deleted rows or both: an UPDATE), small. Its one
    // position (compile refuses a self-join) makes the delta the sum of one term per part.
    if (deltas.empty() || deltas.size() > 2) return false;
    for (const DeltaInput &d : deltas)
        if (d.relid != deltas[0].relid || d.nrows > kSmallDelta) return false;
    if (IsolationIsSerializable()) return notice_sql("SERIALIZABLE"), false;
    if (arr::debug_join_fallback || !pm::pg::settings.enable_arrangement_join)
        return notice_sql("arrangement joins are off"), false;
    if (g_running) return notice_sql("a run nested in another one"), false;
    Part parts[2];
    int nparts = 0;
    for (const DeltaInput &d : deltas) {
        Tuplestorestate *ts = nullptr;
        for (const Stash &s : p.stashes)  // register_deltas merged the parts into the first stash
            if (s.relid == d.relid && s.deleted == d.deleted && ts == nullptr) ts = s.rows;
        if (ts == nullptr) return false;
        parts[nparts++] = Part{ts, d.deleted ? -1 : 1};
    }
    const DeltaInput &d = deltas[0];
    Compiled *c = lookup(viewid, d.relid, vd.query);
    if (c == nullptr) return false;
    if (!c->ok) return notice_sql(c->why), false;
    // The arrangements: each ready (a not-ready one is not built here: the SQL delta query's
    // planner plans only on ready ones too), then pinned as ArrangementJoin pins them.
    for (int s = 0; s < c->nsteps; ++s) {
        arr::EntryInfo e = pm::pg::guarded([&] { return arr::lookup(c->steps[s].def.defid); });
        Relation rel = relation_open(c->steps[s].relid, NoLock);
        bool current = e.state == arr::State::Ready && e.relfilenode == pm_rel_filenumber(rel);
        relation_close(rel, NoLock);
        if (!current)  // not built, invalidated, or the heap rewritten since (VACUUM FULL)
            return notice_sql(psprintf("the arrangement on %s is not ready",
                                       get_rel_name(c->steps[s].relid))),
                   false;
    }
    auto *rs = static_cast<RunState *>(palloc0(sizeof(RunState)));
    initStringInfo(&rs->key);
    auto *cb = static_cast<MemoryContextCallback *>(palloc0(sizeof(MemoryContextCallback)));
    cb->func = release_run;
    cb->arg = rs;
    MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
    g_running = true;
    pm::pg::guarded([&] { arr::xid_cache_maintain(); });
    for (int s = 0; s < c->nsteps; ++s) {
        Relation rel = relation_open(c->steps[s].relid, NoLock);
        const arr::Def &def = c->steps[s].def;
        arr::EntryInfo e = pm::pg::guarded([&] { return arr::pin_for_reader(rel, def); });
        relation_close(rel, NoLock);
        if (e.slot < 0) {
            free_run(rs);
            return notice_sql(arr::reader_refusal()), false;
        }
        rs->slots[rs->npinned++] = e.slot;
        rs->index_offset[s] = e.index_offset;
    }
    if (g_stale) {  // the checks above processed an invalidation: compile again next time
        free_run(rs);
        return notice_sql("invalidated"), false;
    }
    PgArray<HeapTuple> rows;
    const char *why = nullptr;
    if (!run_once(c, rs, parts, nparts, false, &rows, &why)) {
        free_run(rs);
        return notice_sql(why), false;
    }
    if (IsolationUsesXactSnapshot() && locks_enabled()) {
        // As run_delta_query: our key locks are held, so no conflicting writer commits any more;
        // a delta that differs under the latest snapshot needs rows ours cannot see.
        PgArray<HeapTuple> latest;
        if (!run_once(c, rs, parts, nparts, true, &latest, &why)) {
            free_run(rs);
            return notice_sql(why), false;
        }
        check_same_delta(as_tuptable(c, latest), static_cast<uint64>(latest.n),
                         as_tuptable(c, rows), static_cast<uint64>(rows.n));
    }
    free_run(rs);
    ++g_taken;
    if (g_mode == kNotice)
        ereport(NOTICE, (errmsg("view delta: direct probe: %s: %d row%s", c->describe, rows.n,
                                rows.n == 1 ? "" : "s")));
    *out = as_tuptable(c, rows);
    *nout = static_cast<uint64>(rows.n);
    return true;
}

void define_direct_gucs() {
    DefineCustomEnumVariable(
        "parallel_material.view_direct_probe",
        "Computes a maintained view's small single-input deltas by probing the arrangements "
        "directly.",
        "off: always run the SQL delta query; notice: also report, as a NOTICE, which way each "
        "maintenance run took (a test aid).",
        &g_mode, kOn, kModes, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

}  // namespace pm::pg::views
