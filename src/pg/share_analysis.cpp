// share_analysis.cpp — decides whether a plan subtree's result depends only on the contents of
// ordinary tables and on constants, so that one execution may serve every session whose snapshot
// sees the same data. Not shareable: mutable functions (volatile, or stable: now(),
// current_user, to_char, ...), temporary, unlogged, row-level-security, foreign and system
// tables, TABLESAMPLE, transition tables, parameters from outside the subtree (correlated, or
// generic-plan $n), other extensions' custom scans, row locks, plan nodes not known here.
#include "pg/share_analysis.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/syscache.h"
}

#include "pg/material_node.hpp"

namespace pm::pg {

namespace {

struct Walk {
    PlannedStmt *stmt;
    ShareVerdict *v;
};

void fail(Walk &w, const char *reason) {
    if (w.v->reason == nullptr) w.v->reason = reason;
}

struct ExprScan {
    Walk *w;
};

bool expr_walker(Node *node, ExprScan *cxt) {
    if (node == nullptr) return false;
    if (IsA(node, Param)) {
        Param *p = castNode(Param, node);
        if (p->paramkind == PARAM_EXTERN) fail(*cxt->w, "generic plan parameter");
        return false;
    }
    if (IsA(node, SubPlan)) {
        cxt->w->v->subplans = bms_add_member(cxt->w->v->subplans, castNode(SubPlan, node)->plan_id);
    }
    if (IsA(node, CurrentOfExpr)) fail(*cxt->w, "WHERE CURRENT OF");
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(expr_walker)), cxt);
}

void check_expr(Walk &w, void *expr) {
    if (expr == nullptr || w.v->reason != nullptr) return;
    Node *node = static_cast<Node *>(expr);
    if (contain_mutable_functions(node)) {
        fail(w, "volatile or stable function");
        return;
    }
    ExprScan cxt{&w};
    expr_walker(node, &cxt);
}

const char *relation_reason(Oid relid) {
    if (relid < FirstNormalObjectId) return "system catalog";
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup)) return "relation not found";
    auto *c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    const char *reason = nullptr;
    if (c->relpersistence == RELPERSISTENCE_TEMP)
        reason = "temporary table";
    else if (c->relpersistence == RELPERSISTENCE_UNLOGGED)
        reason = "unlogged table";
    else if (c->relrowsecurity)
        reason = "row-level security";
    else if (c->relkind == RELKIND_FOREIGN_TABLE)
        reason = "foreign table";
    else if (c->relkind != RELKIND_RELATION && c->relkind != RELKIND_MATVIEW)
        reason = "relation kind not shareable";
    ReleaseSysCache(tup);
    return reason;
}

void check_scanrel(Walk &w, Index rti) {
    if (w.v->reason != nullptr) return;
    RangeTblEntry *rte = rt_fetch(rti, w.stmt->rtable);
    if (rte->rtekind != RTE_RELATION) {
        fail(w, "scan of a non-relation range-table entry");
        return;
    }
    if (rte->securityQuals != NIL) {
        fail(w, "security barrier quals");
        return;
    }
    if (rte->tablesample != nullptr) {
        fail(w, "TABLESAMPLE");
        return;
    }
    if (const char *r = relation_reason(rte->relid)) {
        fail(w, r);
        return;
    }
    w.v->rtis = bms_add_member(w.v->rtis, static_cast<int>(rti));
}

void walk_plan(Walk &w, Plan *plan, int depth);

void walk_list(Walk &w, List *plans, int depth) {
    ListCell *lc;
    foreach (lc, plans) walk_plan(w, static_cast<Plan *>(lfirst(lc)), depth);
}

void walk_subplan(Walk &w, int plan_id, int depth) {
    if (plan_id < 1 || plan_id > list_length(w.stmt->subplans)) {
        fail(w, "unknown subplan");
        return;
    }
    walk_plan(w, static_cast<Plan *>(list_nth(w.stmt->subplans, plan_id - 1)), depth);
}

void walk_plan(Walk &w, Plan *plan, int depth) {
    if (plan == nullptr || w.v->reason != nullptr) return;
    check_stack_depth();
    if (depth > 1000) {
        fail(w, "plan too deep");
        return;
    }
    check_expr(w, plan->targetlist);
    check_expr(w, plan->qual);
    ListCell *lc;
    foreach (lc, plan->initPlan) {
        auto *sp = static_cast<SubPlan *>(lfirst(lc));
        w.v->subplans = bms_add_member(w.v->subplans, sp->plan_id);
    }
    switch (nodeTag(plan)) {
        case T_SeqScan:
            check_scanrel(w, castNode(SeqScan, plan)->scan.scanrelid);
            break;
        case T_SampleScan:
            fail(w, "TABLESAMPLE");
            break;
        case T_IndexScan: {
            auto *s = castNode(IndexScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_expr(w, s->indexqual);
            check_expr(w, s->indexqualorig);
            check_expr(w, s->indexorderby);
            check_expr(w, s->indexorderbyorig);
            break;
        }
        case T_IndexOnlyScan: {
            auto *s = castNode(IndexOnlyScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_expr(w, s->indexqual);
            check_expr(w, s->recheckqual);
            check_expr(w, s->indexorderby);
            break;
        }
        case T_BitmapIndexScan: {
            auto *s = castNode(BitmapIndexScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_expr(w, s->indexqual);
            check_expr(w, s->indexqualorig);
            break;
        }
        case T_BitmapHeapScan: {
            auto *s = castNode(BitmapHeapScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_expr(w, s->bitmapqualorig);
            break;
        }
        case T_TidScan:
            check_scanrel(w, castNode(TidScan, plan)->scan.scanrelid);
            check_expr(w, castNode(TidScan, plan)->tidquals);
            break;
        case T_TidRangeScan:
            check_scanrel(w, castNode(TidRangeScan, plan)->scan.scanrelid);
            check_expr(w, castNode(TidRangeScan, plan)->tidrangequals);
            break;
        case T_SubqueryScan:
            walk_plan(w, castNode(SubqueryScan, plan)->subplan, depth + 1);
            break;
        case T_FunctionScan: {
            ListCell *fc;
            foreach (fc, castNode(FunctionScan, plan)->functions)
                check_expr(w, static_cast<RangeTblFunction *>(lfirst(fc))->funcexpr);
            break;
        }
        case T_ValuesScan:
            check_expr(w, castNode(ValuesScan, plan)->values_lists);
            break;
        case T_CteScan:
            w.v->subplans = bms_add_member(w.v->subplans, castNode(CteScan, plan)->ctePlanId);
            break;
        case T_WorkTableScan:
            break;
        case T_NamedTuplestoreScan:
            fail(w, "transition table");
            break;
        case T_ForeignScan:
            fail(w, "foreign table");
            break;
        case T_CustomScan: {
            auto *cs = castNode(CustomScan, plan);
            if (cs->methods != &material_scan_methods) {
                fail(w, "custom scan not supported for sharing");
                break;
            }
            walk_list(w, cs->custom_plans, depth + 1);
            break;
        }
        case T_Result:
            check_expr(w, castNode(Result, plan)->resconstantqual);
            break;
        case T_ProjectSet:
        case T_Material:
        case T_Sort:
        case T_IncrementalSort:
        case T_Group:
        case T_Agg:
        case T_Unique:
        case T_Gather:
        case T_GatherMerge:
        case T_SetOp:
        case T_RecursiveUnion:
            break;
        case T_Hash:
            check_expr(w, castNode(Hash, plan)->hashkeys);
            break;
        case T_Memoize:
            check_expr(w, castNode(Memoize, plan)->param_exprs);
            break;
        case T_WindowAgg: {
            auto *wa = castNode(WindowAgg, plan);
            check_expr(w, wa->startOffset);
            check_expr(w, wa->endOffset);
            check_expr(w, wa->runCondition);
            break;
        }
        case T_Limit:
            check_expr(w, castNode(Limit, plan)->limitOffset);
            check_expr(w, castNode(Limit, plan)->limitCount);
            break;
        case T_NestLoop:
            check_expr(w, castNode(NestLoop, plan)->join.joinqual);
            break;
        case T_MergeJoin:
            check_expr(w, castNode(MergeJoin, plan)->join.joinqual);
            check_expr(w, castNode(MergeJoin, plan)->mergeclauses);
            break;
        case T_HashJoin:
            check_expr(w, castNode(HashJoin, plan)->join.joinqual);
            check_expr(w, castNode(HashJoin, plan)->hashclauses);
            check_expr(w, castNode(HashJoin, plan)->hashkeys);
            break;
        case T_Append:
            walk_list(w, castNode(Append, plan)->appendplans, depth + 1);
            break;
        case T_MergeAppend:
            walk_list(w, castNode(MergeAppend, plan)->mergeplans, depth + 1);
            break;
        case T_BitmapAnd:
            walk_list(w, castNode(BitmapAnd, plan)->bitmapplans, depth + 1);
            break;
        case T_BitmapOr:
            walk_list(w, castNode(BitmapOr, plan)->bitmapplans, depth + 1);
            break;
        default:
            fail(w, "plan node not supported for sharing");
            break;
    }
    walk_plan(w, plan->lefttree, depth + 1);
    walk_plan(w, plan->righttree, depth + 1);
}

}  // namespace

ShareVerdict analyze_share(Plan *plan, PlannedStmt *stmt) {
    ShareVerdict v;
    Walk w{stmt, &v};
    if (stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE)
        fail(w, "statement writes");
    else if (stmt->rowMarks != NIL)
        fail(w, "row locks (FOR UPDATE/SHARE)");
    else if (plan->extParam != nullptr)
        fail(w, "correlated parameters");
    walk_plan(w, plan, 0);
    // Subplans the subtree uses (SubPlan expressions, InitPlans, CTEs), to a fixed point.
    Bitmapset *done = nullptr;
    for (bool more = true; more && v.reason == nullptr;) {
        more = false;
        int id = -1;
        while ((id = bms_next_member(v.subplans, id)) >= 0) {
            if (bms_is_member(id, done)) continue;
            done = bms_add_member(done, id);
            walk_subplan(w, id, 1);
            more = true;
            break;  // the set may have grown: restart the scan
        }
    }
    bms_free(done);
    return v;
}

List *shared_relation_oids(const ShareVerdict &verdict, PlannedStmt *stmt) {
    List *oids = NIL;
    int rti = -1;
    while ((rti = bms_next_member(verdict.rtis, rti)) >= 0)
        oids = list_append_unique_oid(oids, rt_fetch(rti, stmt->rtable)->relid);
    return oids;
}

}  // namespace pm::pg
