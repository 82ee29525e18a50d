// module.cpp — the library's entry: PG_MODULE_MAGIC and _PG_init (settings, hooks, shared memory).
#include "pg/arrangement.hpp"
#include "pg/gucs.hpp"
#include "pg/hooks.hpp"
#include "pg/shmem.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
    pm::pg::define_gucs();
    if (process_shared_preload_libraries_in_progress) {
        pm::pg::install_shmem_hooks();
        if (pm::pg::settings.arrangement_memory_kb > 0) pm::pg::arr::register_reclaim_worker();
    }
    pm::pg::install_executor_hooks();
}
