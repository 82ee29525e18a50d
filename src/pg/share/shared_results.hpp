// shared_results.hpp — the registry of results shared across sessions in the extension's shared
// memory (core::ResultRegistry over a region of parallel_material.shared_memory bytes), and the
// SQL surface over it (view parallel_material.shared_results, reset_shared_results()).
// The executor side (produce/attach/hit in ParallelMaterial) is src/pg/share/material_share.cpp.
#pragma once

#include "parallel_material/core/result_registry.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/condition_variable.h"
}

namespace pm::pg {

constexpr uint32_t kMaxSharedResults = 1024;

// Shared memory call-outs from shmem.cpp (preload only).
Size shared_results_shmem_size();
void shared_results_shmem_init();

// The registry, or nullptr when not preloaded or parallel_material.shared_memory = 0.
// The first call in a process registers an exit callback that fails the entries this process
// was producing, so that no reader waits for a producer that is gone.
core::ResultRegistry *shared_registry();
// The ConditionVariable readers of registry slot `slot` sleep on (the producer broadcasts).
ConditionVariable *shared_result_cv(uint32_t slot);
// 1 while the producer of the entry in `slot` is inside its shared plan (set by the producer
// around each pull of its child), 0 otherwise; nullptr without a registry.
pg_atomic_uint32 *shared_result_pulling(uint32_t slot);
// Whom a new entry made by this session is charged to (issue 12): the current role; a
// superuser is exempt from the per-role bounds; a role's entries hold at most half of the log
// memory (and, in result_spill.cpp, half of share_spill_limit).
core::Owner owner_for_new_entry(const core::ResultRegistry *reg);

}  // namespace pm::pg
