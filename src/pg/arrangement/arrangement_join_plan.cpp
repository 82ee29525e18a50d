// arrangement_join_plan.cpp — the ArrangementJoin path: a set_join_pathlist_hook that, for an
// inner equi-join whose inner side is a base table with a ready arrangement on exactly the join
// key (compared with the key type's default equality), adds a CustomPath that runs the outer side and probes the arrangement per
// outer row: no inner scan, no hash table. parallel_material.enable_arrangement_join turns it off.
// Also `outer LEFT JOIN arranged` (JOIN_LEFT, the arrangement on the nullable side): then the
// join's own clauses and the inner relation's quals decide what matches (an outer row without a
// match is NULL-extended), and the clauses pushed down to the join (WHERE) filter afterwards.
// Anything else (RIGHT, FULL, SEMI, ANTI, the arrangement on the preserved side) keeps the stock
// paths. Columns the query reads that the arrangement lacks are fetched from the heap by TID
// (parallel_material.enable_arrangement_heap_fetch), costed as an index scan's heap accesses.
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"

extern "C" {
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/spccache.h"
}

namespace pm::pg::arr {

namespace {

set_join_pathlist_hook_type prev_join_hook = nullptr;

bool is_key_var(Node *n, Index relid, AttrNumber attno) {
    if (n != nullptr && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(castNode(RelabelType, n)->arg);
    if (n == nullptr || !IsA(n, Var)) return false;
    Var *v = castNode(Var, n);
    return v->varno == static_cast<int>(relid) && v->varattno == attno && v->varlevelsup == 0;
}

// The outer expression of a join clause "inner.attno = outer_expr" (either way round) using the
// key type's default btree equality under a deterministic collation; nullptr otherwise.
Expr *outer_key_expr(RestrictInfo *ri, Index relid, Relids outer_relids, AttrNumber attno,
                     Oid keytype) {
    if (ri->pseudoconstant || !ri->can_join || !is_opclause(ri->clause)) return nullptr;
    OpExpr *op = reinterpret_cast<OpExpr *>(ri->clause);
    if (list_length(op->args) != 2) return nullptr;
    Node *l = static_cast<Node *>(linitial(op->args));
    Node *r = static_cast<Node *>(lsecond(op->args));
    Node *outer = nullptr;
    if (is_key_var(l, relid, attno) && !bms_is_empty(ri->right_relids) &&
        bms_is_subset(ri->right_relids, outer_relids))
        outer = r;
    else if (is_key_var(r, relid, attno) && !bms_is_empty(ri->left_relids) &&
             bms_is_subset(ri->left_relids, outer_relids))
        outer = l;
    if (outer == nullptr) return nullptr;
    Oid base = getBaseType(keytype);
    if (getBaseType(exprType(outer)) != base) return nullptr;
    Oid opc = GetDefaultOpClass(base, BTREE_AM_OID);
    if (!OidIsValid(opc)) return nullptr;
    Oid eq = get_opfamily_member(get_opclass_family(opc), base, base, BTEqualStrategyNumber);
    if (op->opno != eq) return nullptr;
    if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid))
        return nullptr;
    if (contain_volatile_functions(outer)) return nullptr;
    return reinterpret_cast<Expr *>(outer);
}

bool all_vars(List *exprs) {
    ListCell *lc;
    foreach (lc, exprs)
        if (!IsA(lfirst(lc), Var)) return false;
    return true;
}

// Whether the arrangement can serve a query reading `attrs` of its table: every column it reads
// is arranged, or (heap fetch) is a live user column that the query's own SELECT privilege check
// covers (`selected`, the range table entry's selectedCols: the fetch reads nothing else).
// `fetch` gets the columns to read from the heap by TID, in attribute order (NIL: none).
// No system column (ctid, xmin...) nor whole-row reference either way.
bool servable(Bitmapset *attrs, const Def &d, Relation heap, Bitmapset *selected, List **fetch) {
    *fetch = NIL;
    int i = -1;
    while ((i = bms_next_member(attrs, i)) >= 0) {
        AttrNumber a = static_cast<AttrNumber>(i + FirstLowInvalidHeapAttributeNumber);
        if (a <= 0) return false;  // system column or whole-row reference
        bool found = false;
        for (int c = 0; c < d.ncols; ++c) found = found || d.cols[c] == a;
        if (found) continue;
        if (!settings.enable_arrangement_heap_fetch) return false;
        if (a > RelationGetDescr(heap)->natts || TupleDescAttr(RelationGetDescr(heap), a - 1)->attisdropped)
            return false;
        if (selected == nullptr || !bms_is_member(i, selected)) return false;
        *fetch = lappend_int(*fetch, a);
    }
    return true;
}

const CustomPathMethods *path_methods();

// The union of varnullingrels over the Vars of relation `relid` in `node` (16 on; 15: none).
struct Nulling {
    Index relid;
    Relids *acc;
    bool set;
};
bool nulling_walker(Node *node, Nulling *c) {
    if (node == nullptr) return false;
    if (IsA(node, Var)) {
        Var *v = reinterpret_cast<Var *>(node);
        if (v->varno == static_cast<int>(c->relid) && v->varlevelsup == 0) {
            if (c->set)
                pm_set_var_nullingrels(v, bms_copy(*c->acc));
            else
                *c->acc = bms_union(*c->acc, pm_var_nullingrels(v));
        }
        return false;
    }
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(nulling_walker)), c);
}
void collect_nulling(Node *node, Index relid, Relids *acc) {
    Nulling c{relid, acc, false};
    nulling_walker(node, &c);
}
void set_nulling(Node *node, Index relid, Relids r) {
    Nulling c{relid, &r, true};
    nulling_walker(node, &c);
}

void add_join_path(PlannerInfo *root, RelOptInfo *joinrel, Path *outer, bool partial, const Def &d,
                   List *keys, List *quals, bool left, List *other_quals, Index inner_relid,
                   RelOptInfo *innerrel, List *fetch, bool row_lookup);

// Whether the table's row arrangement (ready, trusted) holds every column of `fetch`: the
// executor then reads them there by TID (arrangement_row_lookup.cpp), a hash probe, not a heap
// access.
bool row_lookup_serves(Relation heap, const Def *defs, int ndefs, List *fetch) {
    if (fetch == NIL) return false;
    AttrNumber att[kMaxColumns];
    int n = 0;
    ListCell *lc;
    foreach (lc, fetch) {
        if (n == kMaxColumns) return false;
        att[n++] = static_cast<AttrNumber>(lfirst_int(lc));
    }
    Def d;
    return row_def_among(heap, defs, ndefs, att, n, &d);
}

void consider(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel, RelOptInfo *innerrel,
              JoinType jointype, JoinPathExtraData *extra) {
    if (!settings.enable_arrangement_join || !available()) return;
    if (jointype != JOIN_INNER && jointype != JOIN_LEFT) return;
    const bool left = jointype == JOIN_LEFT;
    if (innerrel->reloptkind != RELOPT_BASEREL || innerrel->rtekind != RTE_RELATION) return;
    if (!bms_is_empty(innerrel->lateral_relids)) return;
    RangeTblEntry *rte = planner_rt_fetch(innerrel->relid, root);
    if (rte->relkind != RELKIND_RELATION || rte->securityQuals != NIL || rte->tablesample) return;
    // An inheritance parent read with its children (not ONLY): its arrangement holds the
    // parent's own rows only. (The planner clears inh for a table without children.)
    if (rte->inh) return;
    if (!has_ready_entry(rte->relid)) return;  // cheap: no catalog access for other tables
    Path *outer = outerrel->cheapest_total_path;
    if (outer == nullptr || PATH_REQ_OUTER(outer) != nullptr || !all_vars(outer->pathtarget->exprs))
        return;
    if (!all_vars(joinrel->reltarget->exprs)) return;
    List *inner_quals = extract_actual_clauses(innerrel->baserestrictinfo, false);
    List *join_quals = NIL;
    List *other_quals = NIL;  // LEFT only: the clauses pushed down to the join (WHERE)
    List *key_clauses = extra->restrictlist;  // where the key equalities may come from
    if (left) {
        // A pseudoconstant clause would need a gating Result: leave such joins to stock.
        ListCell *lc;
        foreach (lc, extra->restrictlist)
            if (lfirst_node(RestrictInfo, lc)->pseudoconstant) return;
        extract_actual_join_clauses(extra->restrictlist, joinrel->relids, &join_quals, &other_quals);
        // The key must be a clause of the join itself (ON), not one pushed down to it.
        key_clauses = NIL;
        foreach (lc, extra->restrictlist) {
            RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
            if (!RINFO_IS_PUSHED_DOWN(ri, joinrel->relids)) key_clauses = lappend(key_clauses, ri);
        }
    } else {
        join_quals = extract_actual_clauses(extra->restrictlist, false);
    }
    if (contain_volatile_functions(reinterpret_cast<Node *>(inner_quals))) return;
    Bitmapset *attrs = nullptr;
    pull_varattnos(reinterpret_cast<Node *>(innerrel->reltarget->exprs), innerrel->relid, &attrs);
    pull_varattnos(reinterpret_cast<Node *>(inner_quals), innerrel->relid, &attrs);
    pull_varattnos(reinterpret_cast<Node *>(join_quals), innerrel->relid, &attrs);
    pull_varattnos(reinterpret_cast<Node *>(other_quals), innerrel->relid, &attrs);

    Relation heap = table_open(rte->relid, NoLock);  // locked by the planner already
    Bitmapset *selected = pm_rte_selected_cols(root, rte);
    Oid relfilenode = pm_rel_filenumber(heap);
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(rte->relid, defs);
    for (int i = 0; i < n; ++i) {
        const Def &d = defs[i];
        // A row arrangement (keyed by TID) serves no join itself: key arrangements read it.
        if (is_row_def(d)) continue;
        EntryInfo e = lookup(d.defid);
        // Never plan on one that is not ready, nor on one built before a heap rewrite, nor on
        // one whose columns are gone (ALTER TYPE ... DROP ATTRIBUTE on a typed table).
        // Nor on one built with other columns than its definition's (widened in place since:
        // the widening's worker rebuilds it; arrangement_adapt.cpp).
        if (e.slot < 0 || e.state != State::Ready || e.relfilenode != relfilenode ||
            !same_columns(e.def, d))
            continue;
        List *fetch = NIL;
        if (dropped_column(heap, d) != nullptr) continue;
        const bool served = servable(attrs, d, heap, selected, &fetch);
        List *keys = NIL;
        for (int k = 0; k < d.nkeys; ++k) {
            Expr *found = nullptr;
            ListCell *lc;
            foreach (lc, key_clauses) {
                found = outer_key_expr(lfirst_node(RestrictInfo, lc), innerrel->relid,
                                       outerrel->relids, d.keys[k],
                                       get_atttype(rte->relid, d.keys[k]));
                if (found != nullptr) break;
            }
            if (found == nullptr) break;
            keys = lappend(keys, found);
        }
        if (list_length(keys) != d.nkeys) continue;
        // The join matches this arrangement's key: learn the columns it reads and lacks, as far
        // as the query's role may read them (docs/arrangements.md, "Learnt columns").
        const uint64_t learnt = learnable_columns(root, rte, attrs, d, heap, selected);
        note_wanted(d.defid, learnt);
        // An adaptive arrangement widens itself (arrangement_adapt.cpp; rate-limited), unless
        // the table's row arrangement serves the columns it lacks: then it stays key-only and
        // the two share the row bytes (docs/arrangements.md, "Row arrangements").
        const bool row_lookup = served && row_lookup_serves(heap, defs, n, fetch);
        if (learnt != 0 && d.adaptive && !row_lookup) request_widen(d);
        if (!served) continue;
        // Maintenance disabled, dropped or changed since the arrangement was created: it may
        // have missed writes. (Checked again at executor start, for cached plans.)
        if (untrusted_maintenance(heap, d) != nullptr) continue;

        List *quals = list_concat(list_copy(join_quals), inner_quals);
        add_join_path(root, joinrel, outer, false, d, keys, quals, left, other_quals,
                      innerrel->relid, innerrel, fetch, row_lookup);
        // A partial path: the outer side is partial (each participant runs its share of it) and
        // every participant probes the same shared arrangement; Gather sits above. Parallel-aware
        // so that the leader can hand its pin on the entry to the workers through the DSM.
        if (joinrel->consider_parallel && outerrel->partial_pathlist != NIL) {
            Path *partial = static_cast<Path *>(linitial(outerrel->partial_pathlist));
            if (PATH_REQ_OUTER(partial) == nullptr && partial->parallel_safe &&
                all_vars(partial->pathtarget->exprs))
                add_join_path(root, joinrel, partial, true, d, keys, quals, left, other_quals,
                              innerrel->relid, innerrel, fetch, row_lookup);
        }
    }
    table_close(heap, NoLock);
}

// Whether a clause reads one of the columns in `fetch` of relation relid.
bool reads_fetched(Node *clause, Index relid, List *fetch) {
    Bitmapset *a = nullptr;
    pull_varattnos(clause, relid, &a);
    ListCell *lc;
    foreach (lc, fetch)
        if (bms_is_member(lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber, a)) return true;
    return false;
}

void add_join_path(PlannerInfo *root, RelOptInfo *joinrel, Path *outer, bool partial, const Def &d,
                   List *keys, List *quals, bool left, List *other_quals, Index inner_relid,
                   RelOptInfo *innerrel, List *fetch, bool row_lookup) {
    QualCost qc;
    cost_qual_eval(&qc, list_concat(list_copy(quals), other_quals), root);
    double rows = joinrel->rows;
    if (partial) {
        // The outer path's rows are per participant: scale the join's rows the same way.
        double outer_total = outer->parent->rows;
        if (outer_total > 0 && outer->rows < outer_total)
            rows = clamp_row_est(rows * outer->rows / outer_total);
    }
    // A first guess, not calibrated: a probe is a random access into shared memory (cache and
    // TLB misses dominate), each match a visibility check, a deform and the quals.
    double probe = cpu_operator_cost * (20 + 2 * d.nkeys);
    double per_match = 10 * cpu_operator_cost + qc.per_tuple + cpu_tuple_cost;
    // Heap fetch (columns the arrangement lacks): one heap tuple fetched by TID per match that
    // passes the quals over arranged columns, as an index scan's heap access: the rows returned
    // divided by the selectivity of the clauses that read fetched columns (checked after the
    // fetch), the pages they touch by index_pages_fetched (Mackert-Lohman, effective_cache_size)
    // at random_page_cost, and a tuple's CPU (buffer lock, visibility, deform) per fetch.
    double heap_cost = 0;
    if (fetch != NIL) {
        List *after = NIL;
        ListCell *lc;
        foreach (lc, list_concat(list_copy(quals), other_quals))
            if (reads_fetched(static_cast<Node *>(lfirst(lc)), inner_relid, fetch))
                after = lappend(after, lfirst(lc));
        Selectivity sel = after == NIL ? 1.0
                                       : clauselist_selectivity(root, after, 0, JOIN_INNER, nullptr);
        double fetches = rows / Max(sel, 1e-4);
        if (row_lookup) {
            // From the row arrangement: a probe by TID into shared memory and a visibility check
            // and deform per fetch, as a probe and a match of the arrangement itself cost.
            heap_cost = fetches * (cpu_operator_cost * 22 + 10 * cpu_operator_cost);
        } else {
            double pages = index_pages_fetched(fetches, innerrel->pages, 0, root);
            double random_page, seq_page;
            get_tablespace_page_costs(innerrel->reltablespace, &random_page, &seq_page);
            heap_cost = pages * random_page + fetches * (cpu_tuple_cost + 10 * cpu_operator_cost);
        }
    }

    CustomPath *cp = makeNode(CustomPath);
    cp->path.pathtype = T_CustomScan;
    cp->path.parent = joinrel;
    cp->path.pathtarget = joinrel->reltarget;
    cp->path.param_info = nullptr;
    // Only the partial path runs in workers (a worker reads the entry the leader pinned, which
    // it learns through the DSM of a parallel-aware node); the non-partial one stays in the
    // leader (parallel_safe = false), as before.
    cp->path.parallel_aware = partial;
    cp->path.parallel_safe = partial;
    cp->path.parallel_workers = partial ? outer->parallel_workers : 0;
    cp->path.rows = rows;
    cp->path.startup_cost = outer->startup_cost + qc.startup;
    cp->path.total_cost =
        outer->total_cost + qc.startup + outer->rows * probe + rows * per_match + heap_cost;
    cp->path.pathkeys = NIL;
    cp->flags = 0;
    cp->custom_paths = list_make1(outer);
    cp->custom_private =
        list_make4(makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(d.defid), false, true), keys,
                   quals,
                   makeConst(OIDOID, -1, InvalidOid, 4, ObjectIdGetDatum(d.relid), false, true));
    // LEFT: the join type and the clauses pushed down to the join (WHERE), which filter after
    // the NULL-extension; `quals` are then the ones that decide a match.
    cp->custom_private = lappend(cp->custom_private, fetch);  // the heap-fetched columns
    if (left)
        cp->custom_private = lappend(lappend(lappend(cp->custom_private, makeInteger(JOIN_LEFT)), other_quals),
                                     makeInteger(static_cast<int>(inner_relid)));
    cp->methods = path_methods();
    if (partial)
        add_partial_path(joinrel, &cp->path);
    else
        add_path(joinrel, &cp->path);
}

void join_hook(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel, RelOptInfo *innerrel,
               JoinType jointype, JoinPathExtraData *extra) {
    if (prev_join_hook != nullptr) prev_join_hook(root, joinrel, outerrel, innerrel, jointype, extra);
    guarded([&] { consider(root, joinrel, outerrel, innerrel, jointype, extra); });
}

Plan *plan_path(PlannerInfo *, RelOptInfo *rel, CustomPath *best, List *tlist, List *,
                List *custom_plans) {
    return guarded([&]() -> Plan * {
        Const *defid = static_cast<Const *>(linitial(best->custom_private));
        List *keys = static_cast<List *>(lsecond(best->custom_private));
        List *quals = static_cast<List *>(lthird(best->custom_private));
        Const *relid = static_cast<Const *>(lfourth(best->custom_private));
        List *fetch = static_cast<List *>(list_nth(best->custom_private, 4));
        const bool left = list_length(best->custom_private) > 5;
        List *other_quals = left ? static_cast<List *>(list_nth(best->custom_private, 6)) : NIL;
        Plan *outer = static_cast<Plan *>(linitial(custom_plans));
        Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
        int n = load_defs(DatumGetObjectId(relid->constvalue), defs);
        const Def *d = nullptr;
        for (int i = 0; i < n; ++i)
            if (defs[i].defid == DatumGetInt64(defid->constvalue)) d = &defs[i];
        if (d == nullptr) elog(ERROR, "arrangement disappeared while planning");
        Index inner_relid = 0;
        {
            // The inner relation is the one of rel's relids that is not the outer plan's.
            Relids outer_relids = best->custom_paths != NIL
                                      ? static_cast<Path *>(linitial(best->custom_paths))->parent->relids
                                      : nullptr;
            Relids inner = bms_difference(rel->relids, outer_relids);
            int m = -1;
            if (bms_get_singleton_member(inner, &m)) inner_relid = static_cast<Index>(m);
        }
        // From 16 on an outer join's relids also hold the join's own range table index: the
        // LEFT path names its inner relation.
        if (left) inner_relid = static_cast<Index>(intVal(list_nth(best->custom_private, 7)));
        if (inner_relid == 0) elog(ERROR, "ArrangementJoin: cannot identify the inner relation");
        List *scan_tlist = NIL;
        AttrNumber resno = 1;
        ListCell *lc;
        foreach (lc, outer->targetlist) {
            TargetEntry *tle = lfirst_node(TargetEntry, lc);
            scan_tlist = lappend(scan_tlist, makeTargetEntry(static_cast<Expr *>(copyObject(tle->expr)),
                                                             resno++, nullptr, false));
        }
        int n_outer = list_length(scan_tlist);
        Oid reloid = DatumGetObjectId(relid->constvalue);
        for (int c = 0; c < d->ncols; ++c) {
            Oid typid;
            int32 typmod;
            Oid coll;
            get_atttypetypmodcoll(reloid, d->cols[c], &typid, &typmod, &coll);
            Var *v = makeVar(inner_relid, d->cols[c], typid, typmod, coll, 0);
            scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(v), resno++,
                                                             nullptr, false));
        }
        // Then the columns fetched from the heap by TID (the executor reads their attribute
        // numbers from these Vars).
        foreach (lc, fetch) {
            AttrNumber a = static_cast<AttrNumber>(lfirst_int(lc));
            Oid typid;
            int32 typmod;
            Oid coll;
            get_atttypetypmodcoll(reloid, a, &typid, &typmod, &coll);
            Var *v = makeVar(inner_relid, a, typid, typmod, coll, 0);
            scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(v), resno++,
                                                             nullptr, false));
        }
        CustomScan *cs = makeNode(CustomScan);
        cs->scan.plan.targetlist = tlist;
        cs->scan.plan.qual = quals;
        cs->scan.scanrelid = 0;
        cs->flags = best->flags;
        cs->custom_plans = custom_plans;
        cs->custom_exprs = keys;
        // The arranged columns' count: the executor takes the columns themselves from
        // custom_scan_tlist (the definition may have been widened in place since).
        cs->custom_private = list_make4(defid, relid, makeInteger(n_outer), makeInteger(d->ncols));
        if (left) {
            // The clauses deciding a match follow the keys in custom_exprs; the pushed-down ones
            // are the node's qual. From 16 on the inner relation's Vars above the join carry the
            // join in varnullingrels and the ON clauses' do not, while setrefs wants each Var to
            // match its custom_scan_tlist entry exactly: give the arranged columns' entries and
            // every inner Var in the quals the nulling set the target list uses.
            Relids nulling = nullptr;
            collect_nulling(reinterpret_cast<Node *>(tlist), inner_relid, &nulling);
            collect_nulling(reinterpret_cast<Node *>(other_quals), inner_relid, &nulling);
            List *match = static_cast<List *>(copyObject(quals));
            other_quals = static_cast<List *>(copyObject(other_quals));
            set_nulling(reinterpret_cast<Node *>(match), inner_relid, nulling);
            set_nulling(reinterpret_cast<Node *>(other_quals), inner_relid, nulling);
            ListCell *tc;
            for_each_from(tc, scan_tlist, n_outer)
                set_nulling(reinterpret_cast<Node *>(lfirst_node(TargetEntry, tc)->expr), inner_relid,
                            nulling);
            cs->scan.plan.qual = other_quals;
            cs->custom_exprs = list_concat(list_copy(keys), match);
            cs->custom_private = lappend(cs->custom_private, makeInteger(list_length(keys)));
        }
        cs->custom_scan_tlist = scan_tlist;
        cs->methods = &join_scan_methods;
        return &cs->scan.plan;
    });
}

const CustomPathMethods g_path_methods = {kJoinName, plan_path, nullptr};
const CustomPathMethods *path_methods() { return &g_path_methods; }

}  // namespace

bool debug_join_fallback = false;

void install_join_hook() {
    prev_join_hook = set_join_pathlist_hook;
    set_join_pathlist_hook = join_hook;
    DefineCustomBoolVariable("parallel_material.debug_join_fallback",
                             "Test setting: every ArrangementJoin runs its fallback (a heap scan "
                             "and a hash table) instead of reading the arrangement.",
                             nullptr, &debug_join_fallback, false, PGC_SUSET,
                             GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

}  // namespace pm::pg::arr
