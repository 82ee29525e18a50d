// share_sites.hpp — the cross-session sharing sites that are plan roots rather than Material
// nodes: the whole result of a read-only query, the plan of each MATERIALIZED CTE, the plan of
// each InitPlan. The planning pass puts a serial ParallelMaterial node above each (the verdict is
// then recorded on it like on any ParallelMaterial node). See docs/shared-results.md.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/plannodes.h"
}

namespace pm::pg {

struct ShareSiteSettings {
    bool share_whole_results = true;  // parallel_material.share_whole_results
};
extern ShareSiteSettings share_site_settings;
void define_share_site_gucs();

// Wraps the candidate plan roots of a finished plan (run before annotate_shared_nodes).
// cursor_options: the planner's (a plan for a cursor may be scanned in ways a wrapper is not).
void wrap_share_sites(PlannedStmt *stmt, int cursor_options);

}  // namespace pm::pg
