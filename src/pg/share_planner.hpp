// share_planner.hpp — settings of cross-session sharing, the planning pass that records on every
// ParallelMaterial node whether its child may be shared (and its fingerprint), and the EXPLAIN
// VERBOSE line that shows it.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "commands/explain.h"
#include "nodes/execnodes.h"
}

namespace pm::pg {

struct ShareSettings {
    bool share_across_sessions = false;  // parallel_material.share_across_sessions
    int share_max_kb = 64 * 1024;        // parallel_material.share_max_bytes (kB)
    int shared_memory_kb = 64 * 1024;    // parallel_material.shared_memory (kB, postmaster)
};
extern ShareSettings share_settings;

void define_share_gucs();
// Installs the planner hook; call after install_material_planner() so that it runs after it.
void install_share_planner();
// EXPLAIN VERBOSE: "Cross-Session Sharing: eligible" or "...: no (reason)" for a ParallelMaterial
// node ("Sharing" alone is the within-query sharing of parallel participants).
void explain_share_verdict(CustomScanState *node, ExplainState *es);

}  // namespace pm::pg
