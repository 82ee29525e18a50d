// material_node.hpp — declarations shared by the ParallelMaterial planner pass and executor.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/extensible.h"
#include "nodes/plannodes.h"
}

namespace pm::pg {

// Calls f(Plan **slot, bool inner) for every child plan of plan: lefttree, righttree (inner =
// true) and the plan lists of Append, MergeAppend, BitmapAnd/Or, SubqueryScan and CustomScan.
// f may replace *slot. The one place the extension's plan walks list a node's children.
template <class F>
void for_each_child(Plan *plan, F &&f) {
    auto each = [&](List *plans) {
        ListCell *lc;
        foreach (lc, plans) f(reinterpret_cast<Plan **>(&lfirst(lc)), false);
    };
    f(&plan->lefttree, false);
    f(&plan->righttree, true);
    switch (nodeTag(plan)) {
        case T_Append:
            each(castNode(Append, plan)->appendplans);
            break;
        case T_MergeAppend:
            each(castNode(MergeAppend, plan)->mergeplans);
            break;
        case T_BitmapAnd:
            each(castNode(BitmapAnd, plan)->bitmapplans);
            break;
        case T_BitmapOr:
            each(castNode(BitmapOr, plan)->bitmapplans);
            break;
        case T_SubqueryScan:
            f(&castNode(SubqueryScan, plan)->subplan, false);
            break;
        case T_CustomScan:
            each(castNode(CustomScan, plan)->custom_plans);
            break;
        default:
            break;
    }
}

constexpr const char *kMaterialName = "ParallelMaterial";

// custom_private payload (a List of Integer nodes, so it survives nodeToString):
//   [0] payload version, [1] MaterialMode
// Serial: Material's semantics in each process. The shared modes are planned only for a node
// that runs inside a parallel query (under Gather, or in a SubPlan referenced there): one log in
// the query's dynamic shared memory serves every participant. Shared: the child runs once, in
// the first participant to arrive. SharedScan: the child is a plain Seq Scan that every
// participant runs over one parallel table scan, each appending the blocks it claims.
// SharedPartialAgg (issue 15): the child is an aggregate rebuilt as Finalize Agg over partial
// aggregates (partial_agg.hpp): every participant aggregates the blocks it claims into a second
// shared log of partial rows, then one participant combines them into the node's log.
enum class MaterialMode : int { Serial = 0, Shared = 1, SharedScan = 2, SharedPartialAgg = 3 };
// custom_private [2]: why a node runs Serial (EXPLAIN VERBOSE prints it).
enum class SerialReason : int {
    None = 0,           // shared
    NotParallel = 1,    // not in a part of the plan that parallel workers run
    NotSafe = 2,        // not parallel-safe
    Parameters = 3,     // the child reads parameters, which may differ per participant
    PartialChild = 4,   // the child's output is already split across participants
};
const char *serial_reason_text(SerialReason r);
// custom_private [3]: what the node stands for. A Material replaced by the planning pass, or a
// serial node added by the cross-session sharing pass (share_sites.cpp) above a plan root that
// may be shared: the whole result of the query, a MATERIALIZED CTE's plan, an InitPlan's plan.
enum class ShareSite : int { Material = 0, WholeResult = 1, Cte = 2, InitPlan = 3 };
const char *share_site_text(ShareSite s);
ShareSite share_site_of(const CustomScan *cs);
constexpr int kPayloadVersion = 3;

extern CustomScanMethods material_scan_methods;

// Registers the methods (every backend, so parallel workers can rebuild the plan).
void register_material_methods();
// The planner post-pass: replaces Material nodes in every tree of stmt.
void replace_materials(PlannedStmt *stmt);
// A serial ParallelMaterial node over child, standing for `site` (never a Material): returns the
// same rows as child, column for column. nullptr when an output column cannot be resolved for
// EXPLAIN. The caller gives it a plan_node_id.
Plan *make_share_wrapper(Plan *child, ShareSite site);
// expr (evaluated in plan) with every OUTER_VAR/INNER_VAR/INDEX_VAR reference replaced by the
// expression it points at, so that EXPLAIN can deparse it from any node. *failed when unresolved.
Node *flatten_plan_expr(Node *expr, Plan *plan, bool *failed);
// The expression trees plan evaluates itself (targetlist, qual, and the node type's own:
// join quals, index quals, ...), as one List; SubPlans referenced anywhere else are not seen.
List *plan_own_expressions(Plan *plan);
// Issue 15 (subplan_operand.cpp): the numeric outer operand of an ANY/ALL SubPlan over a
// ParallelMaterial node is unpacked once per outer row instead of once per comparison.
void unpack_subplan_operands(PlannedStmt *stmt);
// Installs the planner hook.
void install_material_planner();
// Installs the join-path hook adding partial nested loops over a shared inner.
void install_material_paths();

}  // namespace pm::pg
