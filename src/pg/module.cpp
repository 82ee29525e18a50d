// module.cpp — the library's entry: PG_MODULE_MAGIC and _PG_init (settings, hooks, shared memory).
#include "pg/arrangement/arrangement.hpp"
#include "pg/gucs.hpp"
#include "pg/hooks.hpp"
#include "pg/share/result_spill.hpp"
#include "pg/share/share_allowlist.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/share/share_settings_watch.hpp"
#include "pg/share/share_sites.hpp"
#include "pg/shmem.hpp"
#include "pg/views/views.hpp"
#include "pg/share/write_tracking.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
    // Settings of other files first: define_gucs() reserves the prefix, which drops the
    // placeholders that postgresql.conf values of not-yet-defined settings are kept in.
    pm::pg::define_share_gucs();
    pm::pg::define_share_allowlist_gucs();
    pm::pg::define_result_spill_gucs();
    pm::pg::define_share_site_gucs();
    pm::pg::define_write_tracking_gucs();
    pm::pg::views::define_view_gucs();
    pm::pg::define_gucs();
    if (process_shared_preload_libraries_in_progress) {
        pm::pg::install_shmem_hooks();
        pm::pg::install_write_tracking();  // data versions exist only when preloaded
        if (pm::pg::settings.arrangement_memory_kb > 0) pm::pg::arr::register_reclaim_worker();
    }
    pm::pg::install_executor_hooks();
    pm::pg::install_settings_watch();  // settings that change while a shared node runs
}
