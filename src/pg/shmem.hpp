// shmem.hpp — the extension's own shared memory (exists only when preloaded).
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "port/atomics.h"
}

namespace pm::pg {

// Cluster-wide counters, shown by the parallel_material.stats view.
struct SharedStats {
    pg_atomic_uint64 materializations;
    pg_atomic_uint64 rows_written;
    pg_atomic_uint64 bytes_written;
    pg_atomic_uint64 pages_spilled;
    pg_atomic_uint64 fallbacks;
};

struct SharedState {
    SharedStats stats;
};

// Installs the shmem request/startup hooks; call from _PG_init while preloading.
void install_shmem_hooks();
// The shared state, or nullptr when the library was not preloaded.
SharedState *shared_state();
// Raises a clear ERROR naming shared_preload_libraries when not preloaded.
SharedState *require_shared_state(const char *feature);

}  // namespace pm::pg
