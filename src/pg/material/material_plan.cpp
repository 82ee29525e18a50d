// material_plan.cpp — the planning pass: with parallel_material.enable = on, every Material node
// of a finished plan (main tree and every SubPlan/InitPlan) becomes Custom Scan (ParallelMaterial)
// over the same child, with the same costs, rows, node id and parameters.
#include <vector>

#include "pg/compat.hpp"
#include "pg/gucs.hpp"
#include "pg/guard.hpp"
#include "pg/material/material_node.hpp"
#include "pg/material/partial_agg.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/share/share_sites.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
}

namespace pm::pg {

namespace {

planner_hook_type prev_planner_hook = nullptr;

// Where a plan node sits. in_parallel: it runs in every participant of a parallel query (under
// Gather / Gather Merge, or in a SubPlan referenced from there). ordered_inner: it is a Merge
// Join's inner, whose row order matters.
struct Site {
    bool in_parallel = false;
    bool ordered_inner = false;
};

struct Pass {
    PlannedStmt *stmt;
    Bitmapset *parallel_subplans = nullptr;  // plan_ids (1-based) of SubPlans run in workers
    int next_id = 0;  // a plan_node_id no node of the statement has (nodes the pass adds)
};

int max_node_id(Plan *plan) {
    if (plan == nullptr) return 0;
    int m = plan->plan_node_id;
    for_each_child(plan, [&](Plan **child, bool) { m = Max(m, max_node_id(*child)); });
    return m;
}

Plan *rewrite(Plan *plan, Site site, Pass *pass);

bool collect_subplans_walker(Node *node, Bitmapset **ids) {
    if (node == nullptr) return false;
    if (IsA(node, SubPlan)) *ids = bms_add_member(*ids, castNode(SubPlan, node)->plan_id);
    return expression_tree_walker(
        node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(collect_subplans_walker)),
        ids);
}

}  // namespace

List *plan_own_expressions(Plan *plan) {
    List *exprs = list_make2(plan->targetlist, plan->qual);
    switch (nodeTag(plan)) {
        case T_NestLoop:
            exprs = lappend(exprs, castNode(NestLoop, plan)->join.joinqual);
            break;
        case T_MergeJoin:
            exprs = lappend(exprs, castNode(MergeJoin, plan)->join.joinqual);
            exprs = lappend(exprs, castNode(MergeJoin, plan)->mergeclauses);
            break;
        case T_HashJoin:
            exprs = lappend(exprs, castNode(HashJoin, plan)->join.joinqual);
            exprs = lappend(exprs, castNode(HashJoin, plan)->hashclauses);
            exprs = lappend(exprs, castNode(HashJoin, plan)->hashkeys);
            break;
        case T_Hash:
            exprs = lappend(exprs, castNode(Hash, plan)->hashkeys);
            break;
        case T_IndexScan:
            exprs = lappend(exprs, castNode(IndexScan, plan)->indexqual);
            exprs = lappend(exprs, castNode(IndexScan, plan)->indexorderby);
            break;
        case T_IndexOnlyScan:
            exprs = lappend(exprs, castNode(IndexOnlyScan, plan)->indexqual);
            exprs = lappend(exprs, castNode(IndexOnlyScan, plan)->recheckqual);
            break;
        case T_BitmapIndexScan:
            exprs = lappend(exprs, castNode(BitmapIndexScan, plan)->indexqual);
            break;
        case T_BitmapHeapScan:
            exprs = lappend(exprs, castNode(BitmapHeapScan, plan)->bitmapqualorig);
            break;
        case T_Result:
            exprs = lappend(exprs, castNode(Result, plan)->resconstantqual);
            break;
        case T_FunctionScan:
            exprs = lappend(exprs, castNode(FunctionScan, plan)->functions);
            break;
        case T_ValuesScan:
            exprs = lappend(exprs, castNode(ValuesScan, plan)->values_lists);
            break;
        case T_Limit:
            exprs = lappend(exprs, castNode(Limit, plan)->limitOffset);
            exprs = lappend(exprs, castNode(Limit, plan)->limitCount);
            break;
        case T_CustomScan:
            exprs = lappend(exprs, castNode(CustomScan, plan)->custom_exprs);
            break;
        default:
            break;
    }
    return exprs;
}

namespace {

// Records the SubPlans referenced by the expressions `plan` evaluates itself. A SubPlan that
// is referenced from a place not listed there is simply not shared (Serial mode): never wrong.
void collect_subplans(Plan *plan, Bitmapset **ids) {
    collect_subplans_walker(reinterpret_cast<Node *>(plan_own_expressions(plan)), ids);
}

// True when some node below (and including) plan is parallel-aware: its output in one
// participant is only a part of the whole, so it must not be shared as if it were all of it.
bool has_parallel_aware(Plan *plan) {
    if (plan == nullptr) return false;
    // A shared ParallelMaterial (already placed: the pass works bottom-up) returns all of its
    // child's rows in every participant, and its child is not split: a complete input.
    if (IsA(plan, CustomScan) && castNode(CustomScan, plan)->methods == &material_scan_methods)
        return false;
    if (plan->parallel_aware) return true;
    bool found = false;
    for_each_child(plan, [&](Plan **child, bool) { found = found || has_parallel_aware(*child); });
    return found;
}

// The plan whose output a special varno (OUTER_VAR, INNER_VAR, INDEX_VAR) refers to in `plan`,
// and the target list to resolve it against. False when unknown.
bool referent(Plan *plan, int varno, Plan **child, List **tlist) {
    *child = nullptr;
    *tlist = NIL;
    if (varno == OUTER_VAR) {
        if (IsA(plan, Append))
            *child = static_cast<Plan *>(linitial(castNode(Append, plan)->appendplans));
        else if (IsA(plan, MergeAppend))
            *child = static_cast<Plan *>(linitial(castNode(MergeAppend, plan)->mergeplans));
        else
            *child = outerPlan(plan);
        if (*child == nullptr) return false;
        *tlist = (*child)->targetlist;
        return true;
    }
    if (varno == INNER_VAR) {
        *child = innerPlan(plan);
        if (*child == nullptr) return false;
        *tlist = (*child)->targetlist;
        return true;
    }
    if (varno == INDEX_VAR && IsA(plan, CustomScan)) {
        // Resolved in the CustomScan's own context.
        *child = plan;
        *tlist = castNode(CustomScan, plan)->custom_scan_tlist;
        return *tlist != NIL;
    }
    return false;
}

struct FlattenContext {
    Plan *plan;
    bool failed;
    int depth;
};

Node *flatten_mutator(Node *node, FlattenContext *cxt);

// Rewrites expr (evaluated in `plan`) so that it refers only to range-table Vars, Params and
// constants: OUTER_VAR/INNER_VAR/INDEX_VAR references are replaced by the expressions they point
// at, recursively. EXPLAIN can then deparse it from any node.
Node *flatten(Node *expr, Plan *plan, bool *failed) {
    FlattenContext cxt{plan, false, 0};
    Node *result = flatten_mutator(expr, &cxt);
    if (cxt.failed) *failed = true;
    return result;
}

Node *flatten_mutator(Node *node, FlattenContext *cxt) {
    if (node == nullptr || cxt->failed) return node;
    if (IsA(node, Var)) {
        Var *var = castNode(Var, node);
        if (!IS_SPECIAL_VARNO(var->varno)) return reinterpret_cast<Node *>(copyObject(var));
        Plan *child = nullptr;
        List *tlist = NIL;
        if (cxt->depth > 64 || !referent(cxt->plan, var->varno, &child, &tlist) ||
            var->varattno < 1 || var->varattno > list_length(tlist)) {
            cxt->failed = true;
            return node;
        }
        auto *tle = static_cast<TargetEntry *>(list_nth(tlist, var->varattno - 1));
        FlattenContext inner{child, false, cxt->depth + 1};
        Node *result = flatten_mutator(reinterpret_cast<Node *>(tle->expr), &inner);
        if (inner.failed) cxt->failed = true;
        return result;
    }
    // A WindowFunc lifted out of its WindowAgg cannot be deparsed on 18 (compat.hpp).
    if (IsA(node, WindowFunc)) node = pm_explainable_window_func(castNode(WindowFunc, node));
    return expression_tree_mutator(
        node, reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)(void)>(flatten_mutator)),
        cxt);
}

// Why a Material cannot be replaced, or nullptr when it can.
const char *cannot_replace(Material *mat) {
    Plan *child = outerPlan(&mat->plan);
    if (child == nullptr) return "no child plan";
    if (mat->plan.qual != NIL) return "Material has quals";
    // Material's target list is the child's, column for column (set_dummy_tlist_references).
    if (list_length(mat->plan.targetlist) != list_length(child->targetlist))
        return "target list is not the child's";
    int resno = 1;
    ListCell *lc;
    foreach (lc, mat->plan.targetlist) {
        auto *tle = static_cast<TargetEntry *>(lfirst(lc));
        Var *var = IsA(tle->expr, Var) ? castNode(Var, tle->expr) : nullptr;
        if (var == nullptr || var->varno != OUTER_VAR || var->varattno != resno)
            return "target list is not the child's";
        resno++;
    }
    return nullptr;
}

// The mode a replaced Material runs in (see MaterialMode), and why not shared when Serial.
MaterialMode choose_mode(Material *mat, Site site, SerialReason *why) {
    Plan *child = outerPlan(&mat->plan);
    *why = SerialReason::None;
    if (!site.in_parallel) *why = SerialReason::NotParallel;
    else if (!mat->plan.parallel_safe) *why = SerialReason::NotSafe;
    // A child that reads parameters (set per participant, or per outer row) is materialized by
    // each participant for itself; so is one that already splits its work across participants.
    else if (!bms_is_empty(child->extParam)) *why = SerialReason::Parameters;
    else if (has_parallel_aware(child)) *why = SerialReason::PartialChild;
    if (*why != SerialReason::None) return MaterialMode::Serial;
    if (IsA(child, SeqScan) && !site.ordered_inner) return MaterialMode::SharedScan;
    return MaterialMode::Shared;
}

Plan *make_parallel_material(Material *mat, MaterialMode mode, SerialReason why) {
    Plan *child = outerPlan(&mat->plan);
    bool failed = false;
    List *scan_tlist = NIL;
    ListCell *lc;
    foreach (lc, child->targetlist) {
        auto *tle = static_cast<TargetEntry *>(lfirst(lc));
        Node *expr = flatten(reinterpret_cast<Node *>(tle->expr), child, &failed);
        scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(expr),
                                                         tle->resno, tle->resname, false));
    }
    if (failed) return nullptr;

    CustomScan *cs = makeNode(CustomScan);
    Plan *p = &cs->scan.plan;
    p->startup_cost = mat->plan.startup_cost;
    p->total_cost = mat->plan.total_cost;
    p->plan_rows = mat->plan.plan_rows;
    p->plan_width = mat->plan.plan_width;
    // Parallel-aware (so PostgreSQL gives it dynamic shared memory) exactly when shared.
    p->parallel_aware = mode != MaterialMode::Serial;
    p->parallel_safe = mat->plan.parallel_safe;
    p->async_capable = false;
    p->plan_node_id = mat->plan.plan_node_id;
    p->initPlan = mat->plan.initPlan;
    p->extParam = bms_copy(mat->plan.extParam);
    p->allParam = bms_copy(mat->plan.allParam);
    p->qual = NIL;
    p->lefttree = nullptr;
    p->righttree = nullptr;
    foreach (lc, mat->plan.targetlist) {
        auto *tle = static_cast<TargetEntry *>(lfirst(lc));
        Var *outer = castNode(Var, tle->expr);
        Var *var = makeVar(INDEX_VAR, outer->varattno, outer->vartype, outer->vartypmod,
                           outer->varcollid, 0);
        TargetEntry *ntle = flatCopyTargetEntry(tle);
        ntle->expr = reinterpret_cast<Expr *>(var);
        p->targetlist = lappend(p->targetlist, ntle);
    }
    cs->scan.scanrelid = 0;
    cs->flags = CUSTOMPATH_SUPPORT_BACKWARD_SCAN | CUSTOMPATH_SUPPORT_MARK_RESTORE;
    cs->custom_plans = list_make1(child);
    cs->custom_exprs = NIL;
    cs->custom_private = list_make4(makeInteger(kPayloadVersion),
                                    makeInteger(static_cast<int>(mode)),
                                    makeInteger(static_cast<int>(why)),
                                    makeInteger(static_cast<int>(ShareSite::Material)));
    cs->custom_scan_tlist = scan_tlist;
    cs->custom_relids = nullptr;
    cs->methods = &material_scan_methods;
#ifdef USE_ASSERT_CHECKING
    // The payload must survive the trip to parallel workers (citus' CheckNodeCopyAndSerialization).
    {
        char *str = nodeToString(cs);
        Node *back = static_cast<Node *>(stringToNode(str));
        Assert(equal(cs, back));
    }
#endif
    return &cs->scan.plan;
}

}  // namespace

Node *flatten_plan_expr(Node *expr, Plan *plan, bool *failed) { return flatten(expr, plan, failed); }

Plan *make_share_wrapper(Plan *child, ShareSite site) {
    bool failed = false;
    List *scan_tlist = NIL;
    List *tlist = NIL;
    ListCell *lc;
    foreach (lc, child->targetlist) {
        auto *tle = static_cast<TargetEntry *>(lfirst(lc));
        Node *expr = flatten(reinterpret_cast<Node *>(tle->expr), child, &failed);
        if (failed) return nullptr;
        scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(expr),
                                                         tle->resno, tle->resname, false));
        // The node returns the child's rows as they are: column i is column i (resjunk kept, so
        // a top-level junk filter still drops sort keys).
        Var *var = makeVar(INDEX_VAR, tle->resno, exprType(expr), exprTypmod(expr),
                           exprCollation(expr), 0);
        TargetEntry *ntle = flatCopyTargetEntry(tle);
        ntle->expr = reinterpret_cast<Expr *>(var);
        tlist = lappend(tlist, ntle);
    }
    CustomScan *cs = makeNode(CustomScan);
    Plan *p = &cs->scan.plan;
    p->startup_cost = child->startup_cost;
    p->total_cost = child->total_cost;
    p->plan_rows = child->plan_rows;
    p->plan_width = child->plan_width;
    p->parallel_aware = false;
    p->parallel_safe = child->parallel_safe;
    p->async_capable = false;
    p->initPlan = NIL;  // the child keeps its InitPlans (run only if the child runs)
    p->extParam = bms_copy(child->extParam);
    p->allParam = bms_copy(child->extParam);
    p->qual = NIL;
    p->targetlist = tlist;
    cs->scan.scanrelid = 0;
    cs->flags = 0;  // forward only: a scrollable cursor gets the planner's own Material below
    cs->custom_plans = list_make1(child);
    cs->custom_exprs = NIL;
    cs->custom_private = list_make4(makeInteger(kPayloadVersion),
                                    makeInteger(static_cast<int>(MaterialMode::Serial)),
                                    makeInteger(static_cast<int>(SerialReason::NotParallel)),
                                    makeInteger(static_cast<int>(site)));
    cs->custom_scan_tlist = scan_tlist;
    cs->custom_relids = nullptr;
    cs->methods = &material_scan_methods;
    return p;
}

namespace {

void count_fallback() {
    if (SharedState *state = shared_state()) pg_atomic_fetch_add_u64(&state->stats.fallbacks, 1);
}

Plan *rewrite(Plan *plan, Site site, Pass *pass) {
    if (plan == nullptr) return nullptr;
    check_stack_depth();
    if (site.in_parallel) collect_subplans(plan, &pass->parallel_subplans);
    Site below{site.in_parallel || IsA(plan, Gather) || IsA(plan, GatherMerge), false};
    Site inner{below.in_parallel, IsA(plan, MergeJoin)};
    for_each_child(plan, [&](Plan **child, bool is_inner) {
        *child = rewrite(*child, is_inner ? inner : below, pass);
    });
    if (IsA(plan, Material)) {
        Material *mat = castNode(Material, plan);
        const char *reason = cannot_replace(mat);
        if (reason == nullptr) {
            SerialReason why;
            MaterialMode mode = choose_mode(mat, site, &why);
            // Issue 15: an aggregate every participant helps produce (else one producer). Not
            // with cross-session sharing on: a run shared across sessions has one producer, and
            // the sharing pass does not fingerprint the split form (a hit beats the split).
            if (mode == MaterialMode::Shared && settings.partial_aggregation &&
                !share_settings.share_across_sessions && !site.ordered_inner) {
                const char *refused = nullptr;
                if (Plan *split = build_partial_agg(outerPlan(&mat->plan), &pass->next_id, &refused)) {
                    mat->plan.lefttree = split;
                    mode = MaterialMode::SharedPartialAgg;
                } else if (refused != nullptr) {
                    ereport(DEBUG1, (errmsg_internal(
                                        "parallel_material: node %d keeps one producer: %s",
                                        mat->plan.plan_node_id, refused)));
                }
            }
            if (Plan *replacement = make_parallel_material(mat, mode, why)) return replacement;
            reason = "an output column cannot be resolved for EXPLAIN";
        }
        // PostgreSQL's Materialize node stays; EXPLAIN cannot annotate it, so say why here.
        ereport(DEBUG1, (errmsg_internal("parallel_material: Materialize node %d kept: %s",
                                         mat->plan.plan_node_id, reason)));
        count_fallback();
    }
    return plan;
}

PlannedStmt *planner(Query *parse, const char *query_string, int cursor_options,
                     ParamListInfo bound_params) {
    PlannedStmt *stmt =
        prev_planner_hook != nullptr
            ? prev_planner_hook(parse, query_string, cursor_options, bound_params)
            : standard_planner(parse, query_string, cursor_options, bound_params);
    if (settings.enable) {
        guarded([&] {
            replace_materials(stmt);
            // Cross-session sharing: serial nodes above the whole result, MATERIALIZED CTEs and
            // InitPlans, then the verdict on every ParallelMaterial node.
            if (share_settings.share_across_sessions) {
                wrap_share_sites(stmt, cursor_options);
                annotate_shared_nodes(stmt);
            }
        });
    }
    return stmt;
}

}  // namespace

const char *share_site_text(ShareSite s) {
    switch (s) {
        case ShareSite::Material:
            return "Materialize";
        case ShareSite::WholeResult:
            return "whole result";
        case ShareSite::Cte:
            return "MATERIALIZED CTE";
        case ShareSite::InitPlan:
            return "InitPlan";
    }
    return "unknown";
}

ShareSite share_site_of(const CustomScan *cs) {
    if (list_length(cs->custom_private) < 4) return ShareSite::Material;
    Node *n = static_cast<Node *>(list_nth(cs->custom_private, 3));
    return n != nullptr && IsA(n, Integer) ? static_cast<ShareSite>(intVal(n)) : ShareSite::Material;
}

const char *serial_reason_text(SerialReason r) {
    switch (r) {
        case SerialReason::None:
            return "shared by every participant";
        case SerialReason::NotParallel:
            return "not shared: not in the parallel part of the plan";
        case SerialReason::NotSafe:
            return "not shared: not parallel-safe";
        case SerialReason::Parameters:
            return "not shared: the child reads parameters, materialized per participant";
        case SerialReason::PartialChild:
            return "not shared: the child's rows are already split across participants";
    }
    return "unknown";
}

void replace_materials(PlannedStmt *stmt) {
    Pass pass{stmt};
    pass.next_id = max_node_id(stmt->planTree);
    ListCell *lc;
    foreach (lc, stmt->subplans) pass.next_id = Max(pass.next_id, max_node_id(static_cast<Plan *>(lfirst(lc))));
    pass.next_id++;
    stmt->planTree = rewrite(stmt->planTree, Site{}, &pass);
    // SubPlans: a SubPlan referenced from the parallel part runs in every participant, and so
    // does every SubPlan it references. Lower plan_ids may be referenced by higher ones and the
    // reverse, so repeat until no SubPlan newly turns out to be parallel.
    const int n = list_length(stmt->subplans);
    std::vector<bool> done(n + 1, false);
    for (bool progress = true; progress;) {
        progress = false;
        for (int id = 1; id <= n; ++id) {
            if (done[id] || !bms_is_member(id, pass.parallel_subplans)) continue;
            done[id] = progress = true;
            ListCell *cell = list_nth_cell(stmt->subplans, id - 1);
            lfirst(cell) = rewrite(static_cast<Plan *>(lfirst(cell)), Site{true, false}, &pass);
        }
    }
    for (int id = 1; id <= n; ++id) {
        if (done[id]) continue;
        ListCell *cell = list_nth_cell(stmt->subplans, id - 1);
        lfirst(cell) = rewrite(static_cast<Plan *>(lfirst(cell)), Site{}, &pass);
    }
    unpack_subplan_operands(stmt);
}

void install_material_planner() {
    prev_planner_hook = planner_hook;
    planner_hook = planner;
}

}  // namespace pm::pg
