// share_planner.hpp — settings of cross-session sharing, the planning pass that records on every
// ParallelMaterial node whether its child may be shared (and its fingerprint), and the EXPLAIN
// VERBOSE line that shows it.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "commands/explain.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
}

namespace pm::pg {

struct ShareSettings {
    bool share_across_sessions = false;  // parallel_material.share_across_sessions
    int share_max_kb = 64 * 1024;        // parallel_material.share_max_bytes (kB)
    int shared_memory_kb = 64 * 1024;    // parallel_material.shared_memory (kB, postmaster)
    double share_min_cost = 1000.0;      // parallel_material.share_min_cost (planner cost units)
};
extern ShareSettings share_settings;

void define_share_gucs();
// Records the verdict (and fingerprint) on every ParallelMaterial node of a finished plan; run
// by the ParallelMaterial planning pass when share_across_sessions is on.
void annotate_shared_nodes(PlannedStmt *stmt);
// Records the verdict on one node now (the sharing-site pass asks before it keeps a node above a
// plan root); true when the node's child may be shared.
bool annotate_share_site(CustomScan *cs, PlannedStmt *stmt);
// True while share_verdicts() plans its query: the sharing-site pass then keeps the nodes it would
// drop (a root that cannot be shared), so that their verdict can be read.
bool share_keep_unshared_sites();
// True when a plan is too cheap to be shared (its total_cost below share_min_cost): decided
// before any analysis or fingerprint, so such a candidate costs nothing.
bool share_below_min_cost(const Plan *plan);
extern const char *const kBelowMinCost;  // that verdict
// What the planning pass recorded on a ParallelMaterial node.
struct ShareAnnotation {
    const char *verdict = nullptr;          // "eligible" or the reason
    bool eligible = false;
    const char *fingerprint_hex = nullptr;  // 32 hex digits, "" when not eligible
    List *relids = NIL;                     // OidList: relations the child scans
    List *exec_summary = NIL;  // eligible nodes: the child's EXECUTE checks (share_exec_privileges.hpp)
};
// False when the node carries no annotation (sharing off at planning).
bool share_annotation(CustomScan *cs, ShareAnnotation *out);
// Tests: plans one SQL statement with the current settings and returns its annotated
// ParallelMaterial nodes (CustomScan *) in plan order.
List *plan_and_find_shared_nodes(const char *query);

// EXPLAIN VERBOSE: "Cross-Session Sharing: eligible" or "...: no (reason)" for a ParallelMaterial
// node ("Sharing" alone is the within-query sharing of parallel participants).
void explain_share_verdict(CustomScanState *node, ExplainState *es);

}  // namespace pm::pg
