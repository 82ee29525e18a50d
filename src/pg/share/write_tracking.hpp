// write_tracking.hpp — notices every relation a transaction writes (executor and utility hooks)
// and reports the writes to the shared data versions around commit (transaction callbacks).
#pragma once

#include "pg/pg.hpp"

namespace pm::pg {

// Defines the hidden test setting parallel_material.debug_commit_pause.
void define_write_tracking_gucs();

// Installs ExecutorStart_hook, ProcessUtility_hook and the transaction callback (preload only).
void install_write_tracking();

// For code that writes a table below the executor (simple_heap_insert, table_tuple_insert...):
// records the write like an INSERT would (the relation, its partition ancestors, descendants).
void record_relation_write(Oid relid);

// Whether the current top-level transaction wrote relid (kGlobalRelid: wrote "everything":
// DDL, a catalog, or more relations than are tracked one by one). Subtransactions that rolled
// back still count: once written, the relation bypasses sharing until the transaction ends.
bool own_transaction_wrote(Oid relid);

}  // namespace pm::pg
