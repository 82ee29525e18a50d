// gucs.hpp — the extension's settings (all under the reserved prefix "parallel_material.").
#pragma once

namespace pm::pg {

enum class SpillIo : int { Auto = 0, IoUring = 1, Sync = 2 };

struct Settings {
    bool enable = false;          // parallel_material.enable
    int max_producers = 2;        // parallel_material.max_producers
    bool partial_aggregation = true;  // parallel_material.partial_aggregation (issue 15)
    int memory_limit_kb = -1;     // parallel_material.memory_limit; -1 = use work_mem
    int spill_io = 0;             // parallel_material.spill_io (SpillIo)
    int arrangement_memory_kb = 65536;  // parallel_material.arrangement_memory (postmaster); 0 = off
    bool enable_arrangement_join = true;  // parallel_material.enable_arrangement_join
    // ArrangementJoin may read the columns an arrangement lacks from the heap by TID.
    bool enable_arrangement_heap_fetch = true;  // parallel_material.enable_arrangement_heap_fetch
    bool enable_arrangement_row_lookup = true;  // parallel_material.enable_arrangement_row_lookup
    int arrangement_reclaim_interval_ms = 1000;  // parallel_material.arrangement_reclaim_interval
    // Directory slots one role's tables (one database) may hold (sighup).
    int arrangements_per_role = 32;      // parallel_material.arrangements_per_role
    int arrangements_per_database = 48;  // parallel_material.arrangements_per_database
    // Region bytes the arrangements of one role's tables may hold (sighup); -1: half of
    // arrangement_memory, 0: no quota.
    int arrangement_memory_per_role_kb = -1;  // parallel_material.arrangement_memory_per_role
    // create_arrangement(include => NULL): 0 adaptive (key only, widened with the columns joins
    // read), 1 every column (issue 15 item 3; arrangement_adapt.cpp).
    int arrangement_default_columns = 0;  // parallel_material.arrangement_default_columns
};

extern Settings settings;

void define_gucs();
// The in-memory budget of one materialization in bytes (memory_limit, or work_mem when -1).
long memory_limit_bytes();

}  // namespace pm::pg
