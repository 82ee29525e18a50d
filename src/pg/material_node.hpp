// material_node.hpp — declarations shared by the ParallelMaterial planner pass and executor.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/extensible.h"
#include "nodes/plannodes.h"
}

namespace pm::pg {

constexpr const char *kMaterialName = "ParallelMaterial";

// custom_private payload (a List of Integer nodes, so it survives nodeToString):
//   [0] payload version, [1] MaterialMode
enum class MaterialMode : int { Serial = 0 };
constexpr int kPayloadVersion = 1;

extern CustomScanMethods material_scan_methods;

// Registers the methods (every backend, so parallel workers can rebuild the plan).
void register_material_methods();
// The planner post-pass: replaces Material nodes in every tree of stmt.
void replace_materials(PlannedStmt *stmt);
// Installs the planner hook.
void install_material_planner();

}  // namespace pm::pg
