// material_paths.cpp — partial nested-loop paths whose inner side is one shared materialization
// (set_join_pathlist_hook). PostgreSQL 15 builds a parallel nested loop only over an inner path
// that every participant re-executes for every outer row, so it rarely wins; with ParallelMaterial
// the inner runs once for the whole query and every participant reads the one shared log. The
// path is an ordinary MaterialPath over a parallel-safe inner: costed by PostgreSQL's own
// nested-loop model, which charges each participant the inner's full cost once (the time it
// waits for the shared log) and a cheap rescan per outer row. The planning pass
// (material_plan.cpp) turns that Material, which lies under Gather, into the shared node.
#include "pg/gucs.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"
#include "pg/material/material_node.hpp"

extern "C" {
#include "optimizer/cost.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
}

namespace pm::pg {

namespace {

set_join_pathlist_hook_type prev_join_pathlist_hook = nullptr;

// The cheapest unparameterized parallel-safe path of rel, or nullptr.
Path *cheapest_parallel_safe(RelOptInfo *rel) {
    Path *best = nullptr;
    ListCell *lc;
    foreach (lc, rel->pathlist) {
        auto *path = static_cast<Path *>(lfirst(lc));
        if (!path->parallel_safe || path->param_info != nullptr) continue;
        if (best == nullptr || path->total_cost < best->total_cost) best = path;
    }
    return best;
}

void add_shared_inner_nestloop(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
                               RelOptInfo *innerrel, JoinType jointype,
                               JoinPathExtraData *extra) {
    if (!joinrel->consider_parallel || outerrel->partial_pathlist == NIL) return;
    if (jointype != JOIN_INNER && jointype != JOIN_LEFT && jointype != JOIN_SEMI &&
        jointype != JOIN_ANTI)
        return;
    if (!bms_is_empty(joinrel->lateral_relids)) return;
    Path *outer = static_cast<Path *>(linitial(outerrel->partial_pathlist));
    if (outer->param_info != nullptr) return;
    Path *inner = cheapest_parallel_safe(innerrel);
    if (inner == nullptr) return;
    if (IsA(inner, MaterialPath)) inner = castNode(MaterialPath, inner)->subpath;

    MaterialPath *mat = create_material_path(innerrel, inner);
    pm_material_path_not_disabled(mat);  // enable_material governs stock Materials only
    JoinCostWorkspace workspace;
    initial_cost_nestloop(root, &workspace, jointype, outer, &mat->path, extra);
    List *pathkeys = build_join_pathkeys(root, joinrel, jointype, outer->pathkeys);
    if (!pm_add_partial_path_precheck(joinrel, workspace, pathkeys)) return;
    NestPath *nest = create_nestloop_path(root, joinrel, jointype, &workspace, extra, outer,
                                          &mat->path, extra->restrictlist, pathkeys, nullptr);
    add_partial_path(joinrel, &nest->jpath.path);
}

void join_pathlist(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
                   RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra) {
    if (prev_join_pathlist_hook != nullptr)
        prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);
    if (!settings.enable) return;
    guarded([&] {
        pg_call([&] { add_shared_inner_nestloop(root, joinrel, outerrel, innerrel, jointype, extra); });
    });
}

}  // namespace

void install_material_paths() {
    prev_join_pathlist_hook = set_join_pathlist_hook;
    set_join_pathlist_hook = join_pathlist;
}

}  // namespace pm::pg
