// share_key.hpp — the registry key of a ParallelMaterial node's result for one snapshot:
// the fingerprint recorded at planning plus the data versions the snapshot sees of every
// relation the child scans (docs/shared-results.md). What the executor wire-up looks up.
#pragma once

#include "parallel_material/core/result_registry.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "nodes/plannodes.h"
#include "utils/snapshot.h"
}

namespace pm::pg {

// Fills *key and returns nullptr, or returns why the node's result cannot be shared with this
// snapshot (the planning verdict, or a data-version skip reason). Must run in the process that
// runs the transaction (the leader of a parallel query): it consults its own writes.
const char *share_key_for(CustomScan *cs, Snapshot snapshot, core::ResultKey *key);

}  // namespace pm::pg
