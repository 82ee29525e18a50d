// arrangement_join.hpp — declarations shared by the ArrangementJoin path/plan code
// (arrangement_join_plan.cpp) and its executor (arrangement_join_exec.cpp).
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/extensible.h"
#include "nodes/plannodes.h"
}

namespace pm::pg::arr {

constexpr const char *kJoinName = "ArrangementJoin";

// CustomScan payload, all PostgreSQL nodes (survives nodeToString/stringToNode):
//   custom_private = (Const int8 defid, Const oid relid, Integer n_outer)
//   custom_exprs   = the outer side's key expressions, in key order
//   custom_scan_tlist = the outer child's output columns, then the arranged columns (as Vars of
//                    the inner relation, in arranged order)
//   custom_plans   = (outer plan); scan.plan.qual = join clauses + the inner relation's quals
extern CustomScanMethods join_scan_methods;

void register_join_methods();
void install_join_hook();

}  // namespace pm::pg::arr
