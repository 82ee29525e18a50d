// partial_agg_plan.cpp — planning side of issue 15's aggregate produced by every participant:
// checks a shared ParallelMaterial's child Agg against an allowlist and rebuilds it as
// Finalize Agg -> PartialAggLog -> Partial Agg -> Seq Scan, the way PostgreSQL's planner splits
// an aggregate for a parallel plan (convert_combining_aggrefs, mark_partial_aggref), done on the
// finished plan. Anything not on the allowlist keeps today's single producer.
#include <vector>

#include "pg/material/material_node.hpp"
#include "pg/material/partial_agg.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace pm::pg {

namespace {

// Whether two equal values of this type (and collation) are always the same value: then which
// of several equal values a min/max or a group's key keeps does not depend on the order the rows
// arrive in. Not so for numeric without a fixed scale (1.0 = 1.00), floats (0 = -0), interval
// ('1 day' = '24 hours'), blank-padded char without a length, nondeterministic collations.
bool equal_means_identical(Oid type, int32 typmod, Oid collation) {
    switch (type) {
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case OIDOID:
        case BOOLOID:
        case CHAROID:
        case DATEOID:
        case TIMEOID:
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case UUIDOID:
        case BYTEAOID:
        case CASHOID:
            return true;
        case NUMERICOID:
            return typmod >= 0;  // numeric(p, s): every value has scale s
        case BPCHAROID:
            if (typmod < 0) return false;
            [[fallthrough]];
        case TEXTOID:
        case VARCHAROID:
        case NAMEOID:
            return OidIsValid(collation) && get_collation_isdeterministic(collation);
        default:
            return false;
    }
}

// Aggregates whose combined result equals the serial one exactly, whatever the split: counts,
// extremes, boolean and bit folds, and sums/averages of exact types. Sums of floating-point
// values are refused (their last bits depend on the order of additions).
bool allowed_aggregate(Aggref *agg, const char **why) {
    if (agg->agglevelsup != 0 || agg->aggorder != NIL || agg->aggdistinct != NIL ||
        agg->aggkind != AGGKIND_NORMAL || agg->aggdirectargs != NIL) {
        *why = "an aggregate with ORDER BY, DISTINCT, or of an ordered-set kind";
        return false;
    }
    if (agg->aggfnoid >= FirstGenbkiObjectId) {
        *why = "an aggregate not built in";
        return false;
    }
    HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg->aggfnoid));
    if (!HeapTupleIsValid(tup)) {
        *why = "an aggregate not found";
        return false;
    }
    auto *form = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(tup));
    const bool combine = OidIsValid(form->aggcombinefn);
    const bool serial = OidIsValid(form->aggserialfn) && OidIsValid(form->aggdeserialfn);
    ReleaseSysCache(tup);
    if (!combine) {
        *why = "an aggregate without a combine function";
        return false;
    }
    if (agg->aggtranstype == INTERNALOID && !serial) {
        *why = "an aggregate with an internal state and no serialization functions";
        return false;
    }
    char *name = get_func_name(agg->aggfnoid);
    static const char *const exact[] = {"count",   "min",    "max",    "bool_and", "bool_or",
                                        "every",   "bit_and", "bit_or", "bit_xor"};
    static const char *const sums[] = {"sum", "avg"};
    for (const char *n : exact) {
        if (name == nullptr || strcmp(name, n) != 0) continue;
        if (strcmp(n, "min") == 0 || strcmp(n, "max") == 0) {
            auto *arg = static_cast<TargetEntry *>(linitial(agg->args));
            Node *e = reinterpret_cast<Node *>(arg->expr);
            if (!equal_means_identical(exprType(e), exprTypmod(e), agg->inputcollid)) {
                *why = "a min or max over a type whose equal values may differ";
                return false;
            }
        }
        return true;
    }
    for (const char *n : sums) {
        if (name == nullptr || strcmp(name, n) != 0) continue;
        const Oid t = agg->aggtranstype;
        if (t == FLOAT4OID || t == FLOAT8OID || t == FLOAT8ARRAYOID || agg->aggtype == FLOAT4OID ||
            agg->aggtype == FLOAT8OID) {
            *why = "a sum or average of floating-point values";
            return false;
        }
        return true;
    }
    *why = "an aggregate not on the allowlist";
    return false;
}

struct Collect {
    List *aggs = NIL;  // distinct Aggrefs, in order of appearance
    std::vector<AttrNumber> group_cols;
    const char *why = nullptr;
};

bool is_group_col(const Collect *c, AttrNumber attno) {
    for (AttrNumber g : c->group_cols)
        if (g == attno) return true;
    return false;
}

// Checks the Agg's own expressions: Aggrefs on the allowlist; outside them only grouping columns.
bool collect_walker(Node *node, Collect *c) {
    if (node == nullptr || c->why != nullptr) return false;
    if (IsA(node, Aggref)) {
        Aggref *agg = castNode(Aggref, node);
        if (!allowed_aggregate(agg, &c->why)) return true;
        if (!list_member(c->aggs, agg)) c->aggs = lappend(c->aggs, agg);
        return false;  // arguments go to the partial aggregate unchanged
    }
    if (IsA(node, GroupingFunc) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan)) {
        c->why = "an expression the split does not handle";
        return true;
    }
    if (IsA(node, Var)) {
        Var *var = castNode(Var, node);
        if (var->varno != OUTER_VAR || !is_group_col(c, var->varattno)) {
            c->why = "a column that is not a grouping column";
            return true;
        }
        return false;
    }
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(collect_walker)), c);
}

struct FinalCxt {
    Collect *c;
    List *partial_tlist;
};

// The Finalize Agg's expressions: grouping columns renumbered to the partial rows' columns, each
// Aggref replaced by its combining form over the partial column (convert_combining_aggrefs).
Node *final_mutator(Node *node, FinalCxt *cxt) {
    if (node == nullptr) return nullptr;
    if (IsA(node, Aggref)) {
        Aggref *orig = castNode(Aggref, node);
        int k = 0;
        ListCell *lc;
        foreach (lc, cxt->c->aggs) {
            if (equal(lfirst(lc), orig)) break;
            k++;
        }
        auto *ptle = static_cast<TargetEntry *>(
            list_nth(cxt->partial_tlist, static_cast<int>(cxt->c->group_cols.size()) + k));
        Aggref *parent = makeNode(Aggref);
        memcpy(parent, orig, sizeof(Aggref));
        parent->args = NIL;
        parent->aggfilter = nullptr;
        parent = static_cast<Aggref *>(copyObject(parent));
        Var *var = makeVarFromTargetEntry(OUTER_VAR, ptle);
        parent->args = list_make1(makeTargetEntry(reinterpret_cast<Expr *>(var), 1, nullptr, false));
        parent->aggsplit = AGGSPLIT_FINAL_DESERIAL;
        return reinterpret_cast<Node *>(parent);
    }
    if (IsA(node, Var)) {
        Var *var = castNode(Var, copyObject(node));
        for (size_t i = 0; i < cxt->c->group_cols.size(); ++i)
            if (cxt->c->group_cols[i] == var->varattno) {
                var->varattno = static_cast<AttrNumber>(i + 1);
                break;
            }
        return reinterpret_cast<Node *>(var);
    }
    return expression_tree_mutator(
        node, reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)(void)>(final_mutator)), cxt);
}

bool volatile_or_subplan(Node *n) { return contain_volatile_functions(n) || contain_subplans(n); }

Agg *copy_agg_shallow(Agg *agg) {
    Plan *saved = agg->plan.lefttree;
    agg->plan.lefttree = nullptr;
    Agg *copy = static_cast<Agg *>(copyObject(agg));
    agg->plan.lefttree = saved;
    return copy;
}

Plan *split_agg(Agg *agg, int *next_id, const char **why) {
    Plan *scan = agg->plan.lefttree;
    if (agg->aggsplit != AGGSPLIT_SIMPLE || agg->groupingSets != NIL || agg->chain != NIL ||
        (agg->aggstrategy != AGG_PLAIN && agg->aggstrategy != AGG_HASHED)) {
        *why = "not a plain or hashed aggregate";
        return nullptr;
    }
    if (scan == nullptr || !IsA(scan, SeqScan) || scan->parallel_aware || scan->initPlan != NIL ||
        agg->plan.initPlan != NIL || !bms_is_empty(agg->aggParams) || !agg->plan.parallel_safe ||
        !scan->parallel_safe || !bms_is_empty(scan->extParam) || !bms_is_empty(agg->plan.extParam)) {
        *why = "not an aggregate over a plain Seq Scan";
        return nullptr;
    }
    if (volatile_or_subplan(reinterpret_cast<Node *>(agg->plan.targetlist)) ||
        volatile_or_subplan(reinterpret_cast<Node *>(agg->plan.qual)) ||
        volatile_or_subplan(reinterpret_cast<Node *>(scan->targetlist)) ||
        volatile_or_subplan(reinterpret_cast<Node *>(scan->qual))) {
        *why = "a volatile expression or a SubPlan";
        return nullptr;
    }
    Collect c;
    for (int i = 0; i < agg->numCols; ++i) {
        c.group_cols.push_back(agg->grpColIdx[i]);
        // Which of a group's equal keys is output depends on which row comes first.
        if (agg->grpColIdx[i] < 1 || agg->grpColIdx[i] > list_length(scan->targetlist)) {
            *why = "a grouping column out of range";
            return nullptr;
        }
        auto *gtle = static_cast<TargetEntry *>(list_nth(scan->targetlist, agg->grpColIdx[i] - 1));
        Node *ge = reinterpret_cast<Node *>(gtle->expr);
        if (!equal_means_identical(exprType(ge), exprTypmod(ge), agg->grpCollations[i])) {
            *why = "a grouping key of a type whose equal values may differ";
            return nullptr;
        }
    }
    collect_walker(reinterpret_cast<Node *>(agg->plan.targetlist), &c);
    collect_walker(reinterpret_cast<Node *>(agg->plan.qual), &c);
    if (c.why == nullptr && c.aggs == NIL) c.why = "no aggregate";
    if (c.why != nullptr) {
        *why = c.why;
        return nullptr;
    }

    // Partial Agg: the grouping columns, then one partial Aggref per distinct aggregate.
    List *ptlist = NIL;
    AttrNumber resno = 1;
    for (AttrNumber g : c.group_cols) {
        if (g < 1 || g > list_length(scan->targetlist)) {
            *why = "a grouping column out of range";
            return nullptr;
        }
        auto *stle = static_cast<TargetEntry *>(list_nth(scan->targetlist, g - 1));
        Var *var = makeVarFromTargetEntry(OUTER_VAR, stle);
        var->varattno = g;
        ptlist = lappend(ptlist, makeTargetEntry(reinterpret_cast<Expr *>(var), resno++, nullptr, false));
    }
    ListCell *lc;
    foreach (lc, c.aggs) {
        Aggref *child = static_cast<Aggref *>(copyObject(lfirst(lc)));
        child->aggsplit = AGGSPLIT_INITIAL_SERIAL;  // mark_partial_aggref
        child->aggtype = child->aggtranstype == INTERNALOID ? BYTEAOID : child->aggtranstype;
        ptlist = lappend(ptlist, makeTargetEntry(reinterpret_cast<Expr *>(child), resno++, nullptr, false));
    }
    Agg *partial = copy_agg_shallow(agg);
    partial->plan.lefttree = scan;
    partial->plan.righttree = nullptr;
    partial->aggsplit = AGGSPLIT_INITIAL_SERIAL;
    partial->plan.targetlist = ptlist;
    partial->plan.qual = NIL;
    partial->plan.plan_node_id = (*next_id)++;

    // The reader: returns the partial rows (from the shared log, or from the Partial Agg).
    bool failed = false;
    List *scan_tlist = NIL, *rtlist = NIL;
    foreach (lc, ptlist) {
        auto *tle = static_cast<TargetEntry *>(lfirst(lc));
        Node *expr = flatten_plan_expr(reinterpret_cast<Node *>(tle->expr), &partial->plan, &failed);
        scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(expr), tle->resno,
                                                         nullptr, false));
        Var *var = makeVar(INDEX_VAR, tle->resno, exprType(expr), exprTypmod(expr),
                           exprCollation(expr), 0);
        rtlist = lappend(rtlist, makeTargetEntry(reinterpret_cast<Expr *>(var), tle->resno, nullptr,
                                                 false));
    }
    if (failed) {
        *why = "an output column cannot be resolved for EXPLAIN";
        return nullptr;
    }
    CustomScan *reader = makeNode(CustomScan);
    Plan *rp = &reader->scan.plan;
    rp->startup_cost = partial->plan.total_cost;
    rp->total_cost = partial->plan.total_cost;
    rp->plan_rows = partial->plan.plan_rows;
    rp->plan_width = partial->plan.plan_width;
    rp->parallel_aware = false;
    rp->parallel_safe = true;
    rp->plan_node_id = (*next_id)++;
    rp->targetlist = rtlist;
    reader->scan.scanrelid = 0;
    reader->flags = 0;
    reader->custom_plans = list_make1(partial);
    reader->custom_scan_tlist = scan_tlist;
    reader->methods = &partial_reader_scan_methods;

    // Finalize Agg over the reader: the original Agg's node id, costs and output.
    Agg *final = copy_agg_shallow(agg);
    FinalCxt fc{&c, ptlist};
    final->plan.targetlist = reinterpret_cast<List *>(
        final_mutator(reinterpret_cast<Node *>(agg->plan.targetlist), &fc));
    final->plan.qual =
        reinterpret_cast<List *>(final_mutator(reinterpret_cast<Node *>(agg->plan.qual), &fc));
    for (int i = 0; i < final->numCols; ++i) final->grpColIdx[i] = static_cast<AttrNumber>(i + 1);
    final->aggsplit = AGGSPLIT_FINAL_DESERIAL;
    final->plan.lefttree = &reader->scan.plan;
    return &final->plan;
}

}  // namespace

Plan *build_partial_agg(Plan *child, int *next_id, const char **why) {
    if (child == nullptr) return nullptr;
    if (IsA(child, SubqueryScan)) {
        SubqueryScan *sq = castNode(SubqueryScan, child);
        if (child->qual != NIL || child->initPlan != NIL ||
            volatile_or_subplan(reinterpret_cast<Node *>(child->targetlist))) {
            *why = "a subquery scan with a filter";
            return nullptr;
        }
        Plan *below = build_partial_agg(sq->subplan, next_id, why);
        if (below == nullptr) return nullptr;
        SubqueryScan *copy = makeNode(SubqueryScan);
        memcpy(copy, sq, sizeof(SubqueryScan));
        copy->subplan = below;
        return &copy->scan.plan;
    }
    if (!IsA(child, Agg)) {
        *why = "the child is not an aggregate";
        return nullptr;
    }
    return split_agg(castNode(Agg, child), next_id, why);
}

}  // namespace pm::pg
