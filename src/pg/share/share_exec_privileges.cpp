// share_exec_privileges.cpp — EXECUTE checks of a plan subtree without initializing it.
// ExecutorStart checks table privileges for the whole range table (ExecCheckRTPerms), but the
// EXECUTE privilege on functions is checked by node initialization: ExecInitFunc (FuncExpr,
// OpExpr, DistinctExpr, NullIfExpr), ExecInitExprRec for ScalarArrayOpExpr, ExecInitAgg for
// aggregates (the caller's EXECUTE on the aggregate, the owner's on its component functions).
// A sharing site that skips ExecInitNode of its child (a hit) runs the same checks here.
// Allowlist: a plan node type is listed with exactly the expression fields PostgreSQL 15's
// ExecInit* initializes for it, and an expression node type only where its initialization
// checks nothing else; anything not listed makes the walk answer "unknown" and the caller
// initializes the subtree as stock does (so its checks are stock's).
#include "pg/share/share_exec_privileges.hpp"

#include "pg/compat.hpp"

#include "pg/material/material_node.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace pm::pg {

namespace {

struct Walk {
    bool unknown = false;
    List *funcs = NIL;  // functions (and operators' functions) checked for the current user
    List *aggs = NIL;   // Aggref nodes
};

bool expr_walker(Node *node, void *arg);

void walk_expr(Node *node, Walk *w) {
    if (node != nullptr && !w->unknown) expr_walker(node, w);
}

bool expr_walker(Node *node, void *arg) {
    auto *w = static_cast<Walk *>(arg);
    if (node == nullptr || w->unknown) return false;
    check_stack_depth();
    switch (nodeTag(node)) {
        case T_Var:
        case T_Const:
        case T_Param:
        case T_CaseTestExpr:
            return false;
        case T_List:
        case T_TargetEntry:
        case T_RelabelType:
        case T_CoerceViaIO:  // type I/O functions: no EXECUTE check in stock
        case T_BoolExpr:
        case T_NullTest:
        case T_BooleanTest:
        case T_CaseExpr:
        case T_CaseWhen:
        case T_CoalesceExpr:
        case T_ArrayExpr:
        case T_RowExpr:
        case T_FieldSelect:
        case T_MinMaxExpr:  // btree comparison from the type cache: no EXECUTE check
        case T_ConvertRowtypeExpr:
            break;
        case T_FuncExpr:
            w->funcs = list_append_unique_oid(w->funcs, castNode(FuncExpr, node)->funcid);
            break;
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr: {
            auto *op = reinterpret_cast<OpExpr *>(node);
            set_opfuncid(op);
            w->funcs = list_append_unique_oid(w->funcs, op->opfuncid);
            break;
        }
        case T_ScalarArrayOpExpr: {
            auto *op = castNode(ScalarArrayOpExpr, node);
            set_sa_opfuncid(op);
            w->funcs = list_append_unique_oid(w->funcs, OidIsValid(op->negfuncid) ? op->negfuncid : op->opfuncid);
            if (OidIsValid(op->hashfuncid)) w->funcs = list_append_unique_oid(w->funcs, op->hashfuncid);
            break;
        }
        case T_Aggref: {
            auto *agg = castNode(Aggref, node);
            w->aggs = lappend(w->aggs, agg);
            // ExecInitAgg initializes the arguments, direct arguments and FILTER; the ORDER BY
            // and DISTINCT clauses name columns of args (sort operators: no EXECUTE check).
            walk_expr(reinterpret_cast<Node *>(agg->aggdirectargs), w);
            walk_expr(reinterpret_cast<Node *>(agg->args), w);
            walk_expr(reinterpret_cast<Node *>(agg->aggfilter), w);
            return false;
        }
        case T_SubPlan: {
            // Its plan was initialized by ExecutorStart (es_subplanstates); ExecInitSubPlan
            // initializes the test expression and the arguments.
            auto *sp = castNode(SubPlan, node);
            walk_expr(sp->testexpr, w);
            walk_expr(reinterpret_cast<Node *>(sp->args), w);
            return false;
        }
        default:
            w->unknown = true;
            return false;
    }
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(expr_walker)), arg);
}

void walk_plan(Plan *plan, Walk *w);

void walk_plans(List *plans, Walk *w) {
    ListCell *lc;
    foreach (lc, plans) walk_plan(static_cast<Plan *>(lfirst(lc)), w);
}

void walk_plan(Plan *plan, Walk *w) {
    if (plan == nullptr || w->unknown) return;
    check_stack_depth();
    switch (nodeTag(plan)) {
        case T_Result:
            walk_expr(castNode(Result, plan)->resconstantqual, w);
            break;
        case T_SeqScan:
        case T_Sort:
        case T_IncrementalSort:
        case T_Material:
        case T_Unique:
        case T_Group:
        case T_Gather:
        case T_GatherMerge:
        case T_ProjectSet:
        case T_BitmapAnd:
        case T_BitmapOr:
            break;
        case T_IndexScan: {
            auto *is = castNode(IndexScan, plan);
            walk_expr(reinterpret_cast<Node *>(is->indexqualorig), w);
            walk_expr(reinterpret_cast<Node *>(is->indexorderbyorig), w);
            break;
        }
        case T_BitmapIndexScan:
            // Its quals are initialized only as runtime keys (the non-constant side, which the
            // heap scan's bitmapqualorig also holds); the operators are not checked by stock.
            break;
        case T_BitmapHeapScan:
            walk_expr(reinterpret_cast<Node *>(castNode(BitmapHeapScan, plan)->bitmapqualorig), w);
            break;
        case T_Agg: {
            auto *agg = castNode(Agg, plan);
            if (agg->chain != NIL || agg->groupingSets != NIL) w->unknown = true;
            break;
        }
        case T_Hash:
            walk_expr(reinterpret_cast<Node *>(castNode(Hash, plan)->hashkeys), w);
            break;
        case T_Limit: {
            auto *l = castNode(Limit, plan);
            walk_expr(l->limitOffset, w);
            walk_expr(l->limitCount, w);
            break;
        }
        case T_NestLoop:
            walk_expr(reinterpret_cast<Node *>(castNode(NestLoop, plan)->join.joinqual), w);
            break;
        case T_HashJoin: {
            auto *hj = castNode(HashJoin, plan);
            walk_expr(reinterpret_cast<Node *>(hj->join.joinqual), w);
            walk_expr(reinterpret_cast<Node *>(hj->hashclauses), w);
            walk_expr(reinterpret_cast<Node *>(hj->hashkeys), w);
            break;
        }
        case T_MergeJoin: {
            auto *mj = castNode(MergeJoin, plan);
            walk_expr(reinterpret_cast<Node *>(mj->join.joinqual), w);
            // Only the two sides of each merge clause are initialized (MJExamineQuals).
            ListCell *lc;
            foreach (lc, mj->mergeclauses) {
                auto *op = static_cast<Node *>(lfirst(lc));
                if (!IsA(op, OpExpr)) {
                    w->unknown = true;
                    break;
                }
                walk_expr(reinterpret_cast<Node *>(castNode(OpExpr, op)->args), w);
            }
            break;
        }
        case T_Append:
            if (pm_has_run_time_pruning(castNode(Append, plan))) w->unknown = true;
            walk_plans(castNode(Append, plan)->appendplans, w);
            break;
        case T_MergeAppend:
            if (pm_has_run_time_pruning(castNode(MergeAppend, plan))) w->unknown = true;
            walk_plans(castNode(MergeAppend, plan)->mergeplans, w);
            break;
        case T_SubqueryScan:
            walk_plan(castNode(SubqueryScan, plan)->subplan, w);
            break;
        case T_CustomScan: {
            auto *cs = castNode(CustomScan, plan);
            if (cs->methods != &material_scan_methods || cs->custom_exprs != NIL) {
                w->unknown = true;
                return;
            }
            walk_plans(cs->custom_plans, w);
            break;
        }
        default:
            w->unknown = true;
            return;
    }
    // Every node: target list (its projection), qual, and the InitPlans attached to it
    // (ExecInitNode initializes them with ExecInitSubPlan).
    walk_expr(reinterpret_cast<Node *>(plan->targetlist), w);
    walk_expr(reinterpret_cast<Node *>(plan->qual), w);
    walk_expr(reinterpret_cast<Node *>(plan->initPlan), w);
    walk_plan(plan->lefttree, w);
    walk_plan(plan->righttree, w);
}

// As the executor checks a function: stock's error and the object access hook.
void check_function(Oid fn, Oid role, ObjectType kind) {
    AclResult r = pm_proc_aclcheck(fn, role, ACL_EXECUTE);
    if (r != ACLCHECK_OK) aclcheck_error(r, kind, get_func_name(fn));
    InvokeFunctionExecuteHook(fn);
}

// ExecInitAgg's checks for one aggregate: the caller's EXECUTE on it, then its owner's on the
// component functions this aggregation step calls.
void check_aggregate(Aggref *aggref) {
    check_function(aggref->aggfnoid, GetUserId(), OBJECT_AGGREGATE);
    HeapTuple aggTuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggref->aggfnoid));
    if (!HeapTupleIsValid(aggTuple))
        elog(ERROR, "cache lookup failed for aggregate %u", aggref->aggfnoid);
    auto *aggform = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(aggTuple));
    const Oid finalfn = DO_AGGSPLIT_SKIPFINAL(aggref->aggsplit) ? InvalidOid : aggform->aggfinalfn;
    Oid serialfn = InvalidOid, deserialfn = InvalidOid;
    if (aggref->aggtranstype == INTERNALOID) {
        if (DO_AGGSPLIT_SERIALIZE(aggref->aggsplit)) serialfn = aggform->aggserialfn;
        if (DO_AGGSPLIT_DESERIALIZE(aggref->aggsplit)) deserialfn = aggform->aggdeserialfn;
    }
    const Oid transfn =
        DO_AGGSPLIT_COMBINE(aggref->aggsplit) ? aggform->aggcombinefn : aggform->aggtransfn;
    ReleaseSysCache(aggTuple);
    HeapTuple procTuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(aggref->aggfnoid));
    if (!HeapTupleIsValid(procTuple))
        elog(ERROR, "cache lookup failed for function %u", aggref->aggfnoid);
    const Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(procTuple))->proowner;
    ReleaseSysCache(procTuple);
    if (OidIsValid(finalfn)) check_function(finalfn, owner, OBJECT_FUNCTION);
    if (OidIsValid(serialfn)) check_function(serialfn, owner, OBJECT_FUNCTION);
    if (OidIsValid(deserialfn)) check_function(deserialfn, owner, OBJECT_FUNCTION);
    if (OidIsValid(transfn)) check_function(transfn, owner, OBJECT_FUNCTION);
}

}  // namespace

bool check_subtree_execute(Plan *plan) {
    Walk w;
    walk_plan(plan, &w);
    if (w.unknown) return false;
    const Oid user = GetUserId();
    ListCell *lc;
    foreach (lc, w.funcs) check_function(lfirst_oid(lc), user, OBJECT_FUNCTION);
    foreach (lc, w.aggs) check_aggregate(static_cast<Aggref *>(lfirst(lc)));
    list_free(w.funcs);
    list_free(w.aggs);
    return true;
}

// The summary: (tag, funcs OidList, aggregates' aggfnoid OidList, their aggsplit IntList, their
// "transition type is internal" IntList). Node lists only: copyObject, nodeToString and
// stringToNode keep them.
constexpr const char *kSummaryTag = "exec_checks";

List *subtree_execute_summary(Plan *plan) {
    Walk w;
    walk_plan(plan, &w);
    if (w.unknown) return NIL;
    List *fnoids = NIL, *splits = NIL, *internal = NIL;
    ListCell *lc;
    foreach (lc, w.aggs) {
        auto *agg = static_cast<Aggref *>(lfirst(lc));
        fnoids = lappend_oid(fnoids, agg->aggfnoid);
        splits = lappend_int(splits, static_cast<int>(agg->aggsplit));
        internal = lappend_int(internal, agg->aggtranstype == INTERNALOID ? 1 : 0);
    }
    list_free(w.aggs);
    // An empty OidList is NIL, which nodeToString prints as "<>" and reads back as NIL: fine.
    return list_make5(makeString(pstrdup(kSummaryTag)), w.funcs, fnoids, splits, internal);
}

bool check_execute_summary(List *summary) {
    if (list_length(summary) != 5 || !IsA(linitial(summary), String) ||
        strcmp(strVal(linitial(summary)), kSummaryTag) != 0)
        return false;
    List *funcs = static_cast<List *>(lsecond(summary));
    List *fnoids = static_cast<List *>(lthird(summary));
    List *splits = static_cast<List *>(lfourth(summary));
    List *internal = static_cast<List *>(list_nth(summary, 4));
    if (list_length(fnoids) != list_length(splits) || list_length(fnoids) != list_length(internal))
        return false;
    const Oid user = GetUserId();
    ListCell *lc;
    foreach (lc, funcs) check_function(lfirst_oid(lc), user, OBJECT_FUNCTION);
    for (int i = 0; i < list_length(fnoids); i++) {
        // check_aggregate reads only these three fields of the Aggref.
        Aggref agg;
        memset(&agg, 0, sizeof(agg));
        agg.aggfnoid = list_nth_oid(fnoids, i);
        agg.aggsplit = static_cast<AggSplit>(list_nth_int(splits, i));
        agg.aggtranstype = list_nth_int(internal, i) != 0 ? INTERNALOID : InvalidOid;
        check_aggregate(&agg);
    }
    return true;
}

}  // namespace pm::pg
