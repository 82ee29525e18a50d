// share_sites.cpp — with parallel_material.share_across_sessions on, puts a serial
// ParallelMaterial node (make_share_wrapper) above the plan roots whose result may be shared
// across sessions as a whole: the plan of every MATERIALIZED CTE (its CteScans then pull from the
// node), of every InitPlan that runs to its end (EXPR, ARRAY, ROWCOMPARE, MULTIEXPR: not EXISTS,
// which stops at the first row), and the whole result of a SELECT
// (parallel_material.share_whole_results). A candidate whose verdict (share_planner.cpp) is that
// it cannot be shared keeps stock's plan: no node is added (share_verdicts() still says why).
// A root that already is a ParallelMaterial node is not wrapped again, nor a root whose estimated
// cost is below parallel_material.share_min_cost (admission by cost: no node, no fingerprint).
#include "pg/share/share_sites.hpp"

#include "pg/material/material_node.hpp"
#include "pg/share/share_planner.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "utils/guc.h"
}

namespace pm::pg {

ShareSiteSettings share_site_settings;

namespace {

bool is_material(const Plan *plan) {
    return IsA(plan, CustomScan) &&
           castNode(CustomScan, const_cast<Plan *>(plan))->methods == &material_scan_methods;
}

struct Collect {
    int max_node_id = 0;
    Bitmapset *ctes = nullptr;       // plan_ids of MATERIALIZED CTE plans
    Bitmapset *initplans = nullptr;  // plan_ids of InitPlans that run to their end
};

void collect(Plan *plan, Collect *c) {
    if (plan == nullptr) return;
    check_stack_depth();
    c->max_node_id = Max(c->max_node_id, plan->plan_node_id);
    ListCell *lc;
    foreach (lc, plan->initPlan) {
        auto *sp = static_cast<SubPlan *>(lfirst(lc));
        switch (sp->subLinkType) {
            case CTE_SUBLINK:
                c->ctes = bms_add_member(c->ctes, sp->plan_id);
                break;
            case EXPR_SUBLINK:
            case ARRAY_SUBLINK:
            case ROWCOMPARE_SUBLINK:
            case MULTIEXPR_SUBLINK:
                if (sp->args == NIL && sp->parParam == NIL)
                    c->initplans = bms_add_member(c->initplans, sp->plan_id);
                break;
            default:
                break;  // EXISTS stops at its first row: a shared entry would never complete
        }
    }
    for_each_child(plan, [&](Plan **child, bool) { collect(*child, c); });
}

// True when the plan may serve WHERE CURRENT OF without row marks: PostgreSQL finds the scan
// through Result, Limit, SubqueryScan and Append (execCurrent.c search_plan_tree), which a node
// above would hide. Such a result is not a whole-result candidate (a plain scan gains little).
bool updatable_scan_shape(Plan *plan) {
    if (plan == nullptr) return false;
    switch (nodeTag(plan)) {
        case T_SeqScan:
        case T_SampleScan:
        case T_IndexScan:
        case T_IndexOnlyScan:
        case T_BitmapHeapScan:
        case T_TidScan:
        case T_TidRangeScan:
        case T_ForeignScan:
        case T_CustomScan:
            return true;
        case T_Result:
        case T_Limit:
        case T_LockRows:
            return updatable_scan_shape(outerPlan(plan));
        case T_SubqueryScan:
            return updatable_scan_shape(castNode(SubqueryScan, plan)->subplan);
        case T_Append: {
            ListCell *lc;
            foreach (lc, castNode(Append, plan)->appendplans)
                if (updatable_scan_shape(static_cast<Plan *>(lfirst(lc)))) return true;
            return false;
        }
        case T_MergeAppend: {
            ListCell *lc;
            foreach (lc, castNode(MergeAppend, plan)->mergeplans)
                if (updatable_scan_shape(static_cast<Plan *>(lfirst(lc)))) return true;
            return false;
        }
        default:
            return false;
    }
}

// A SELECT without a table (a Result without input, maybe under a Gather): nothing worth sharing,
// and PL/pgSQL's simple expressions expect exactly that plan shape.
bool tableless(const Plan *plan) {
    if (IsA(plan, Gather)) plan = outerPlan(plan);
    return plan != nullptr && IsA(plan, Result) && outerPlan(plan) == nullptr;
}

// The node above root, or root itself when the verdict is that root cannot be shared (the plan
// stays stock's: no node, no cost; share_verdicts() alone keeps the node to read its verdict).
// The node keeps the rows it returns in its log, so it scans backward, restores marks and rewinds
// wherever it is asked to; it declares backward scans (and mark/restore) exactly where its child
// does, because PostgreSQL makes a cursor declared without SCROLL or NO SCROLL scrollable when
// ExecSupportsBackwardScan(plan) says so (DECLARE, SPI and PL/pgSQL cursors): the cursor then
// behaves as in stock, and a child that cannot scan backward (a Gather) keeps the cursor
// forward-only as in stock.
Plan *wrap(Plan *root, ShareSite site, int *next_id, PlannedStmt *stmt) {
    if (root == nullptr || is_material(root) || tableless(root)) return root;
    // Too cheap to share: stock's plan, decided before the node is even built (share_verdicts()
    // keeps the node, whose verdict then says why).
    if (share_below_min_cost(root) && !share_keep_unshared_sites()) return root;
    Plan *w = make_share_wrapper(root, site);
    if (w == nullptr) return root;
    auto *cs = reinterpret_cast<CustomScan *>(w);
    if (ExecSupportsBackwardScan(root))
        cs->flags = CUSTOMPATH_SUPPORT_BACKWARD_SCAN | CUSTOMPATH_SUPPORT_MARK_RESTORE;
    w->plan_node_id = (*next_id)++;
    if (!annotate_share_site(cs, stmt) && !share_keep_unshared_sites()) return root;
    return w;
}

}  // namespace

void define_share_site_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.share_whole_results",
        "Shares the whole result of read-only queries across sessions.",
        "With parallel_material.share_across_sessions on; MATERIALIZED CTEs, InitPlans and "
        "Materialize nodes are shared either way.",
        &share_site_settings.share_whole_results, true, PGC_USERSET, 0, nullptr, nullptr,
        nullptr);
}

void wrap_share_sites(PlannedStmt *stmt, int cursor_options) {
    Collect c;
    collect(stmt->planTree, &c);
    ListCell *lc;
    foreach (lc, stmt->subplans) collect(static_cast<Plan *>(lfirst(lc)), &c);
    int next_id = c.max_node_id + 1;
    int id = -1;
    while ((id = bms_next_member(c.ctes, id)) >= 0) {
        if (id < 1 || id > list_length(stmt->subplans)) continue;
        ListCell *cell = list_nth_cell(stmt->subplans, id - 1);
        lfirst(cell) = wrap(static_cast<Plan *>(lfirst(cell)), ShareSite::Cte, &next_id, stmt);
    }
    id = -1;
    while ((id = bms_next_member(c.initplans, id)) >= 0) {
        if (id < 1 || id > list_length(stmt->subplans) || bms_is_member(id, c.ctes)) continue;
        ListCell *cell = list_nth_cell(stmt->subplans, id - 1);
        lfirst(cell) = wrap(static_cast<Plan *>(lfirst(cell)), ShareSite::InitPlan, &next_id, stmt);
    }
    // The whole result: a SELECT (row locks and writing CTEs get a "no (...)" verdict), not a
    // plan a cursor could scroll or point WHERE CURRENT OF at.
    if (share_site_settings.share_whole_results && stmt->commandType == CMD_SELECT &&
        stmt->utilityStmt == nullptr && (cursor_options & CURSOR_OPT_SCROLL) == 0 &&
        !updatable_scan_shape(stmt->planTree))
        stmt->planTree = wrap(stmt->planTree, ShareSite::WholeResult, &next_id, stmt);
}

}  // namespace pm::pg
