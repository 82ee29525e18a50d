// share_analysis.cpp — decides whether a plan subtree's result depends only on the contents of
// ordinary tables, on constants and on the settings digest (share_settings.cpp), so that one
// execution may serve every session whose snapshot sees the same data. By allowlist: every plan
// node type, expression node type, function (also those reached through operator families,
// window frame offsets, casts and I/O), type and column the subtree uses must be on the list
// (share_allowlist.cpp); anything else makes it unshareable, and the reason names it. Not
// shareable either: temporary, unlogged, row-level-security, foreign and system tables,
// TABLESAMPLE, transition tables, parameters from outside the subtree (correlated, or generic-plan
// $n), other extensions' custom scans, row locks, system columns, anonymous record values.
#include "pg/share/share_analysis.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

#include "pg/material/material_node.hpp"
#include "pg/share/share_allowlist.hpp"

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

const char *system_column_name(AttrNumber attno) {
    switch (attno) {
        case SelfItemPointerAttributeNumber:
            return "ctid";
        case MinTransactionIdAttributeNumber:
            return "xmin";
        case MinCommandIdAttributeNumber:
            return "cmin";
        case MaxTransactionIdAttributeNumber:
            return "xmax";
        case MaxCommandIdAttributeNumber:
            return "cmax";
        case TableOidAttributeNumber:
            return "tableoid";
        default:
            return "unknown";
    }
}

const char *sql_value_function_name(SQLValueFunctionOp op) {
    switch (op) {
        case SVFOP_CURRENT_DATE:
            return "CURRENT_DATE";
        case SVFOP_CURRENT_TIME:
        case SVFOP_CURRENT_TIME_N:
            return "CURRENT_TIME";
        case SVFOP_CURRENT_TIMESTAMP:
        case SVFOP_CURRENT_TIMESTAMP_N:
            return "CURRENT_TIMESTAMP";
        case SVFOP_LOCALTIME:
        case SVFOP_LOCALTIME_N:
            return "LOCALTIME";
        case SVFOP_LOCALTIMESTAMP:
        case SVFOP_LOCALTIMESTAMP_N:
            return "LOCALTIMESTAMP";
        case SVFOP_CURRENT_ROLE:
            return "CURRENT_ROLE";
        case SVFOP_CURRENT_USER:
            return "CURRENT_USER";
        case SVFOP_USER:
            return "USER";
        case SVFOP_SESSION_USER:
            return "SESSION_USER";
        case SVFOP_CURRENT_CATALOG:
            return "CURRENT_CATALOG";
        case SVFOP_CURRENT_SCHEMA:
            return "CURRENT_SCHEMA";
    }
    return "SQL value function";
}

void check_expr(Walk &w, void *expr);

// The equality operators a hashed SubPlan hashes with: the OpExprs of its testexpr (one, or the
// arguments of an AND).
void check_hashed_subplan(Walk &w, SubPlan *sp) {
    Node *t = sp->testexpr;
    List *ops = (t != nullptr && is_andclause(t)) ? castNode(BoolExpr, t)->args : list_make1(t);
    ListCell *lc;
    foreach (lc, ops) {
        Node *op = static_cast<Node *>(lfirst(lc));
        if (op == nullptr || !IsA(op, OpExpr)) {
            fail(w, "hashed subplan test not understood");
            return;
        }
        if (const char *r = equality_operator_reason(castNode(OpExpr, op)->opno)) {
            fail(w, r);
            return;
        }
    }
}

// The allowlist of expression node types, each with the functions and types it reaches.
// Returns false to go on into the node's children (expression_tree_walker), true to stop.
bool expr_walker(Node *node, ExprScan *cxt) {
    if (node == nullptr) return false;
    Walk &w = *cxt->w;
    if (w.v->reason != nullptr) return true;
    check_stack_depth();
    const char *r = nullptr;
    switch (nodeTag(node)) {
        case T_List:
        case T_TargetEntry:
        case T_Const:
        case T_BoolExpr:
        case T_NamedArgExpr:
        case T_FieldSelect:
        case T_FieldStore:
        case T_RelabelType:
        case T_ArrayCoerceExpr:  // its element expression is walked as a child
        case T_ConvertRowtypeExpr:
        case T_CollateExpr:
        case T_CaseExpr:
        case T_CaseWhen:
        case T_CaseTestExpr:
        case T_ArrayExpr:
        case T_RowExpr:  // an anonymous record inside the subtree; the output is checked by type
        case T_CoalesceExpr:
        case T_NullTest:
        case T_BooleanTest:
        case T_CoerceToDomainValue:
        case T_GroupingFunc:
        case T_AlternativeSubPlan:
            break;
        case T_Var: {
            Var *v = castNode(Var, node);
            if (v->varattno < 0)
                r = psprintf("system column %s", system_column_name(v->varattno));
            else if (v->varattno == 0 && v->vartype == RECORDOID)
                r = "whole-row reference to a subquery";
            else if (v->vartype == RECORDOID || v->vartype == RECORDARRAYOID)
                r = "anonymous record value";
            else
                r = type_reason(v->vartype);
            break;
        }
        case T_Param: {
            Param *p = castNode(Param, node);
            if (p->paramkind == PARAM_EXTERN)
                r = "generic plan parameter";
            else if (p->paramkind != PARAM_EXEC)
                r = "parameter kind not supported for sharing";
            break;
        }
        case T_Aggref:
            r = function_reason(castNode(Aggref, node)->aggfnoid);
            break;
        case T_WindowFunc:
            r = function_reason(castNode(WindowFunc, node)->winfnoid);
            break;
        case T_SortGroupClause: {  // an aggregate's ORDER BY or DISTINCT
            auto *sgc = castNode(SortGroupClause, node);
            r = equality_operator_reason(sgc->eqop);
            if (r == nullptr && OidIsValid(sgc->sortop)) r = sort_operator_reason(sgc->sortop);
            break;
        }
        case T_FuncExpr:
            r = function_reason(castNode(FuncExpr, node)->funcid);
            break;
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr:
            set_opfuncid(reinterpret_cast<OpExpr *>(node));
            r = operator_reason(reinterpret_cast<OpExpr *>(node)->opno);
            break;
        case T_ScalarArrayOpExpr: {
            auto *sa = castNode(ScalarArrayOpExpr, node);
            set_sa_opfuncid(sa);
            r = operator_reason(sa->opno);
            if (r == nullptr && OidIsValid(sa->hashfuncid)) r = function_reason(sa->hashfuncid);
            if (r == nullptr && OidIsValid(sa->negfuncid)) r = function_reason(sa->negfuncid);
            break;
        }
        case T_RowCompareExpr: {
            auto *rc = castNode(RowCompareExpr, node);
            ListCell *op, *fam, *l, *rr;
            forfour(op, rc->opnos, fam, rc->opfamilies, l, rc->largs, rr, rc->rargs) {
                r = operator_reason(lfirst_oid(op));
                if (r == nullptr)
                    r = family_compare_reason(lfirst_oid(fam), exprType(static_cast<Node *>(lfirst(l))),
                                              exprType(static_cast<Node *>(lfirst(rr))));
                if (r != nullptr) break;
            }
            break;
        }
        case T_MinMaxExpr: {
            TypeCacheEntry *tc =
                lookup_type_cache(castNode(MinMaxExpr, node)->minmaxtype, TYPECACHE_CMP_PROC);
            r = OidIsValid(tc->cmp_proc) ? function_reason(tc->cmp_proc)
                                         : "GREATEST/LEAST without a comparison function";
            break;
        }
        case T_SubscriptingRef: {
            RegProcedure handler = get_typsubscript(castNode(SubscriptingRef, node)->refcontainertype,
                                                    nullptr);
            if (!OidIsValid(handler) || handler >= FirstGenbkiObjectId)
                r = "subscripting handler is not built-in";
            break;
        }
        case T_CoerceViaIO: {
            auto *io = castNode(CoerceViaIO, node);
            Oid out, in, ioparam;
            bool varlena;
            getTypeOutputInfo(exprType(reinterpret_cast<Node *>(io->arg)), &out, &varlena);
            r = function_reason(out);
            if (r == nullptr) {
                getTypeInputInfo(io->resulttype, &in, &ioparam);
                r = function_reason(in);
            }
            break;
        }
        case T_CoerceToDomain:
            r = domain_reason(castNode(CoerceToDomain, node)->resulttype);
            break;
        case T_SubPlan: {
            auto *sp = castNode(SubPlan, node);
            w.v->subplans = bms_add_member(w.v->subplans, sp->plan_id);
            if (sp->useHashTable) check_hashed_subplan(w, sp);
            break;
        }
        case T_SQLValueFunction:
            r = psprintf("%s depends on the session",
                         sql_value_function_name(castNode(SQLValueFunction, node)->op));
            break;
        case T_XmlExpr:
            r = "XML expression";
            break;
        case T_CurrentOfExpr:
            r = "WHERE CURRENT OF";
            break;
        case T_NextValueExpr:
            r = "sequence";
            break;
        default:
            r = psprintf("expression node %d not supported for sharing",
                         static_cast<int>(nodeTag(node)));
            break;
    }
    if (r != nullptr) {
        fail(w, r);
        return true;
    }
    if (w.v->reason != nullptr) return true;
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(expr_walker)), cxt);
}

void check_expr(Walk &w, void *expr) {
    if (expr == nullptr || w.v->reason != nullptr) return;
    ExprScan cxt{&w};
    expr_walker(static_cast<Node *>(expr), &cxt);
}

void check_reason(Walk &w, const char *reason) {
    if (reason != nullptr) fail(w, reason);
}

void check_sort_ops(Walk &w, int n, const Oid *ops) {
    for (int i = 0; i < n && w.v->reason == nullptr; i++) check_reason(w, sort_operator_reason(ops[i]));
}

void check_eq_ops(Walk &w, int n, const Oid *ops) {
    for (int i = 0; i < n && w.v->reason == nullptr; i++)
        check_reason(w, equality_operator_reason(ops[i]));
}

void check_eq_op_list(Walk &w, List *ops) {
    ListCell *lc;
    foreach (lc, ops) {
        if (w.v->reason != nullptr) return;
        check_reason(w, equality_operator_reason(lfirst_oid(lc)));
    }
}

void check_index(Walk &w, Oid indexid) {
    if (w.v->reason != nullptr) return;
    List *exprs = NIL;
    if (const char *r = index_reason(indexid, &exprs)) {
        fail(w, r);
        return;
    }
    check_expr(w, exprs);
}

// The output columns of the shared subtree: what another backend reads back.
void check_output(Walk &w, Plan *plan) {
    ListCell *lc;
    foreach (lc, plan->targetlist) {
        if (w.v->reason != nullptr) return;
        auto *tle = lfirst_node(TargetEntry, lc);
        check_reason(w, type_reason(exprType(reinterpret_cast<Node *>(tle->expr))));
    }
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
            check_index(w, s->indexid);
            {
                ListCell *op;
                foreach (op, s->indexorderbyops)
                    if (OidIsValid(lfirst_oid(op))) check_reason(w, sort_operator_reason(lfirst_oid(op)));
            }
            check_expr(w, s->indexqual);
            check_expr(w, s->indexqualorig);
            check_expr(w, s->indexorderby);
            check_expr(w, s->indexorderbyorig);
            break;
        }
        case T_IndexOnlyScan: {
            auto *s = castNode(IndexOnlyScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_index(w, s->indexid);
            check_expr(w, s->indextlist);
            check_expr(w, s->indexqual);
            check_expr(w, s->recheckqual);
            check_expr(w, s->indexorderby);
            break;
        }
        case T_BitmapIndexScan: {
            auto *s = castNode(BitmapIndexScan, plan);
            check_scanrel(w, s->scan.scanrelid);
            check_index(w, s->indexid);
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
        case T_Gather:
            break;
        case T_Sort:
        case T_IncrementalSort: {
            auto *so = reinterpret_cast<Sort *>(plan);  // IncrementalSort starts with a Sort
            check_sort_ops(w, so->numCols, so->sortOperators);
            break;
        }
        case T_GatherMerge: {
            auto *gm = castNode(GatherMerge, plan);
            check_sort_ops(w, gm->numCols, gm->sortOperators);
            break;
        }
        case T_Group: {
            auto *g = castNode(Group, plan);
            check_eq_ops(w, g->numCols, g->grpOperators);
            break;
        }
        case T_Agg: {
            auto *ag = castNode(Agg, plan);
            check_eq_ops(w, ag->numCols, ag->grpOperators);
            // Grouping sets: the other phases, each with its own grouping and sort.
            ListCell *ch;
            foreach (ch, ag->chain) {
                auto *phase = lfirst_node(Agg, ch);
                check_eq_ops(w, phase->numCols, phase->grpOperators);
                if (phase->plan.lefttree != nullptr && IsA(phase->plan.lefttree, Sort)) {
                    auto *so = castNode(Sort, phase->plan.lefttree);
                    check_sort_ops(w, so->numCols, so->sortOperators);
                }
            }
            break;
        }
        case T_Unique: {
            auto *u = castNode(Unique, plan);
            check_eq_ops(w, u->numCols, u->uniqOperators);
            break;
        }
        case T_SetOp: {
            auto *so = castNode(SetOp, plan);
            check_eq_ops(w, so->numCols, pm_setop_operators(so));
            break;
        }
        case T_RecursiveUnion: {
            auto *ru = castNode(RecursiveUnion, plan);
            check_eq_ops(w, ru->numCols, ru->dupOperators);
            break;
        }
        case T_Hash:
            check_expr(w, castNode(Hash, plan)->hashkeys);
            break;
        case T_Memoize: {
            auto *m = castNode(Memoize, plan);
            check_expr(w, m->param_exprs);
            check_eq_ops(w, m->numKeys, m->hashOperators);
            break;
        }
        case T_WindowAgg: {
            auto *wa = castNode(WindowAgg, plan);
            check_expr(w, wa->startOffset);
            check_expr(w, wa->endOffset);
            check_expr(w, wa->runCondition);
            check_eq_ops(w, wa->partNumCols, wa->partOperators);
            check_eq_ops(w, wa->ordNumCols, wa->ordOperators);
            // RANGE frame offsets: the in_range support functions.
            if (OidIsValid(wa->startInRangeFunc)) check_reason(w, function_reason(wa->startInRangeFunc));
            if (OidIsValid(wa->endInRangeFunc)) check_reason(w, function_reason(wa->endInRangeFunc));
            break;
        }
        case T_Limit: {
            auto *l = castNode(Limit, plan);
            check_expr(w, l->limitOffset);
            check_expr(w, l->limitCount);
            check_eq_ops(w, l->uniqNumCols, l->uniqOperators);  // FETCH ... WITH TIES
            break;
        }
        case T_NestLoop:
            check_expr(w, castNode(NestLoop, plan)->join.joinqual);
            break;
        case T_MergeJoin: {
            auto *mj = castNode(MergeJoin, plan);
            check_expr(w, mj->join.joinqual);
            check_expr(w, mj->mergeclauses);
            // The merge compares with its operator families' comparison functions.
            int i = 0;
            ListCell *mc;
            foreach (mc, mj->mergeclauses) {
                if (w.v->reason != nullptr) break;
                auto *op = static_cast<Node *>(lfirst(mc));
                if (!IsA(op, OpExpr) || list_length(castNode(OpExpr, op)->args) != 2) {
                    fail(w, "merge clause not understood");
                    break;
                }
                List *args = castNode(OpExpr, op)->args;
                check_reason(w, family_compare_reason(mj->mergeFamilies[i],
                                                      exprType(static_cast<Node *>(linitial(args))),
                                                      exprType(static_cast<Node *>(lsecond(args)))));
                i++;
            }
            break;
        }
        case T_HashJoin:
            check_expr(w, castNode(HashJoin, plan)->join.joinqual);
            check_expr(w, castNode(HashJoin, plan)->hashclauses);
            check_expr(w, castNode(HashJoin, plan)->hashkeys);
            check_eq_op_list(w, castNode(HashJoin, plan)->hashoperators);
            break;
        case T_Append:
            walk_list(w, castNode(Append, plan)->appendplans, depth + 1);
            break;
        case T_MergeAppend: {
            auto *ma = castNode(MergeAppend, plan);
            check_sort_ops(w, ma->numCols, ma->sortOperators);
            walk_list(w, ma->mergeplans, depth + 1);
            break;
        }
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
    check_output(w, plan);
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
