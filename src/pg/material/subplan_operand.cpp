// subplan_operand.cpp — a SubPlan's outer operand unpacked once per outer row (issue 15).
//
// `x < ALL (SELECT ...)` over a ParallelMaterial node compares one outer value with every
// materialized row: ExecScanSubPlan evaluates the test expression once per row, and numeric's
// comparison functions detoast their arguments (PG_GETARG_NUMERIC): a numeric read from a table
// has a 1-byte header, so every call pallocs, copies and frees the same outer value again (a
// third of the SubPlan benchmark's CPU: ~10M comparisons of ~20k outer values). The node already
// stores its own values unpacked (log_tuple.hpp); this pass does the same for the outer operand:
// the SubPlan evaluates `numeric(x, -1)` (a copy of x with a 4-byte header; the typmod -1 makes
// it apply no typmod, so the value is x's, byte for byte) once per outer row, as one of its
// arguments (ExecScanSubPlan sets argument Params before the first comparison, in the same
// expression context as the test expression), and the test expression reads that Param.
//
// An allowlist, else the SubPlan stays as planned:
//  - PostgreSQL 15 only: from 17 on EXPLAIN prints a SubPlan's test expression, which would
//    show the Param (`$3 < (SubPlan 1).col1`) where stock shows the column;
//  - the SubPlan's plan is a ParallelMaterial node (the pass changes only what it materializes);
//    not hashed; ANY or ALL; its test expression one operator call (OpExpr) of a built-in
//    function with the outer operand a plain Var of type numeric and the other argument one of
//    the SubPlan's output Params;
//  - the current user may EXECUTE numeric(numeric, int4) (ExecInitFunc checks it for the new
//    argument; a built-in that every numeric(p,s) assignment calls); the plan then depends on
//    the role and on the function's catalog row, so a cached plan is not reused by another
//    user or after a REVOKE.
// Results are stock's: the function receives the same value (the detoasted copy it would have
// made itself), evaluated in the same context; NULL stays NULL (the function is strict); no new
// error is possible (typmod -1 checks nothing). The one difference: the copy is made once per
// outer row even when the SubPlan returns no row (then stock compares nothing).
#include "pg/compat.hpp"
#include "pg/material/material_node.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
}

namespace pm::pg {

namespace {

struct OperandPass {
    PlannedStmt *stmt;
    bool may_execute;  // the current user may EXECUTE numeric(numeric, int4)
    bool rewrote;      // some SubPlan now calls it
};

bool is_material_plan(Plan *plan) {
    return plan != nullptr && IsA(plan, CustomScan) &&
           castNode(CustomScan, plan)->methods == &material_scan_methods;
}

bool output_param(const SubPlan *sp, Node *n) {
    if (n == nullptr || !IsA(n, Param)) return false;
    const Param *p = castNode(Param, n);
    return p->paramkind == PARAM_EXEC && list_member_int(sp->paramIds, p->paramid);
}

void unpack_operand(SubPlan *sp, OperandPass *pass) {
    if (sp->useHashTable || (sp->subLinkType != ALL_SUBLINK && sp->subLinkType != ANY_SUBLINK))
        return;
    if (sp->plan_id < 1 || sp->plan_id > list_length(pass->stmt->subplans)) return;
    if (!is_material_plan(static_cast<Plan *>(list_nth(pass->stmt->subplans, sp->plan_id - 1))))
        return;
    if (sp->testexpr == nullptr || !IsA(sp->testexpr, OpExpr)) return;
    auto *op = castNode(OpExpr, sp->testexpr);
    if (list_length(op->args) != 2 || op->opfuncid == InvalidOid ||
        op->opfuncid >= FirstGenbkiObjectId)
        return;
    for (int i = 0; i < 2; ++i) {
        ListCell *cell = list_nth_cell(op->args, i);
        Node *other = static_cast<Node *>(list_nth(op->args, 1 - i));
        auto *var = static_cast<Node *>(lfirst(cell));
        if (!IsA(var, Var) || !output_param(sp, other)) continue;
        const Var *v = castNode(Var, var);
        if (v->varlevelsup != 0 || v->vartype != NUMERICOID) continue;
        if (!pass->may_execute) return;
        PlannedStmt *stmt = pass->stmt;
        const int paramid = list_length(stmt->paramExecTypes);
        stmt->paramExecTypes = lappend_oid(stmt->paramExecTypes, NUMERICOID);
        Const *no_typmod = makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(-1),
                                     false, true);
        FuncExpr *copy = makeFuncExpr(F_NUMERIC_NUMERIC_INT4, NUMERICOID,
                                      list_make2(var, no_typmod), InvalidOid, InvalidOid,
                                      COERCE_EXPLICIT_CALL);
        Param *p = makeNode(Param);
        p->paramkind = PARAM_EXEC;
        p->paramid = paramid;
        p->paramtype = NUMERICOID;
        p->paramtypmod = v->vartypmod;
        p->paramcollid = v->varcollid;
        p->location = -1;
        sp->parParam = lappend_int(sp->parParam, paramid);
        sp->args = lappend(sp->args, copy);
        lfirst(cell) = p;
        pass->rewrote = true;
        return;
    }
}

bool operand_walker(Node *node, OperandPass *pass) {
    if (node == nullptr) return false;
    if (IsA(node, SubPlan)) unpack_operand(castNode(SubPlan, node), pass);
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(operand_walker)),
        pass);
}

void walk_plan(Plan *plan, OperandPass *pass) {
    if (plan == nullptr) return;
    operand_walker(reinterpret_cast<Node *>(plan_own_expressions(plan)), pass);
    for_each_child(plan, [&](Plan **child, bool) { walk_plan(*child, pass); });
}

}  // namespace

void unpack_subplan_operands(PlannedStmt *stmt) {
    if (!pm_explain_hides_subplan_testexpr || stmt->subplans == NIL) return;
    OperandPass pass{stmt, false, false};
    pass.may_execute =
        pm_proc_aclcheck(F_NUMERIC_NUMERIC_INT4, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
    walk_plan(stmt->planTree, &pass);
    ListCell *lc;
    foreach (lc, stmt->subplans) walk_plan(static_cast<Plan *>(lfirst(lc)), &pass);
    if (!pass.rewrote) return;
    // The privilege was checked for this user, now: a cached plan is replanned for another user
    // (as plans under row security are) and after a GRANT or REVOKE on the function (PostgreSQL
    // records no dependency on built-in functions: a plan invalidation item does).
    stmt->dependsOnRole = true;
    PlanInvalItem *item = makeNode(PlanInvalItem);
    item->cacheId = PROCOID;
    item->hashValue = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(F_NUMERIC_NUMERIC_INT4));
    stmt->invalItems = lappend(stmt->invalItems, item);
}

}  // namespace pm::pg
