// gucs.cpp — defines every parallel_material.* setting with its default and range.
#include "pg/gucs.hpp"

#include "pg/pg.hpp"

namespace pm::pg {

Settings settings;

namespace {
const struct config_enum_entry spill_io_options[] = {
    {"auto", static_cast<int>(SpillIo::Auto), false},
    {"io_uring", static_cast<int>(SpillIo::IoUring), false},
    {"sync", static_cast<int>(SpillIo::Sync), false},
    {nullptr, 0, false},
};
const struct config_enum_entry default_columns_options[] = {
    {"adaptive", 0, false},
    {"all", 1, false},
    {nullptr, 0, false},
};
}  // namespace

void define_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.enable", "Replaces Material nodes with the shared ParallelMaterial node.",
        nullptr, &settings.enable, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "parallel_material.max_producers",
        "Maximum number of producer workers one materialization may start outside a parallel query.",
        "0 disables producer workers; also bounded by max_parallel_workers.",
        &settings.max_producers, 2, 0, 64, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "parallel_material.partial_aggregation",
        "Lets every participant of a parallel query produce a shared aggregate (partial aggregation).",
        "Off: one participant produces a shared materialization of an aggregate while the others wait.",
        &settings.partial_aggregation, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "parallel_material.memory_limit",
        "In-memory part of one materialization; beyond it pages spill to temporary files.",
        "-1 uses work_mem.", &settings.memory_limit_kb, -1, -1, MAX_KILOBYTES, PGC_USERSET,
        GUC_UNIT_KB, [](int *newval, void **, GucSource) -> bool {
            if (*newval == 0 || (*newval > 0 && *newval < 64)) {
                GUC_check_errdetail("parallel_material.memory_limit must be -1 or at least 64kB.");
                return false;
            }
            return true;
        },
        nullptr, nullptr);
    DefineCustomEnumVariable(
        "parallel_material.arrangement_default_columns",
        "The columns create_arrangement keeps when include is NULL.",
        "adaptive: the key only, widened in place with the columns joins read; all: every column.",
        &settings.arrangement_default_columns, 0, default_columns_options, PGC_USERSET, 0,
        nullptr, nullptr, nullptr);
    DefineCustomEnumVariable(
        "parallel_material.spill_io", "How spilled pages are written and read back.",
        "auto uses io_uring when it can be set up and falls back to pread/pwrite.",
        &settings.spill_io, static_cast<int>(SpillIo::Auto), spill_io_options, PGC_USERSET, 0,
        nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "parallel_material.enable_arrangement_join",
        "Lets the planner join by probing a ready arrangement (Custom Scan ArrangementJoin).",
        nullptr, &settings.enable_arrangement_join, true, PGC_USERSET, 0, nullptr, nullptr,
        nullptr);
    DefineCustomBoolVariable(
        "parallel_material.enable_arrangement_heap_fetch",
        "Lets ArrangementJoin use an arrangement that lacks some columns the query reads, "
        "fetching them from the heap by TID.",
        nullptr, &settings.enable_arrangement_heap_fetch, true, PGC_USERSET, 0, nullptr, nullptr,
        nullptr);
    DefineCustomBoolVariable(
        "parallel_material.enable_arrangement_row_lookup",
        "Lets ArrangementJoin read the columns its arrangement lacks from the table's row "
        "arrangement (create_row_arrangement) by TID instead of from the heap.",
        nullptr, &settings.enable_arrangement_row_lookup, true, PGC_USERSET, 0, nullptr, nullptr,
        nullptr);
    // A postmaster setting can only be defined while preloading (loaded per session it would be
    // a FATAL error); arrangements need preloading anyway.
    if (process_shared_preload_libraries_in_progress) {
        DefineCustomIntVariable(
        "parallel_material.arrangement_memory",
        "Shared memory reserved at server start for all arrangements.",
        "0 disables arrangements; otherwise at least 1MB. Needs shared_preload_libraries.",
        &settings.arrangement_memory_kb, 65536, 0, MAX_KILOBYTES, PGC_POSTMASTER, GUC_UNIT_KB,
        [](int *newval, void **, GucSource) -> bool {
            if (*newval > 0 && *newval < 1024) {
                GUC_check_errdetail("parallel_material.arrangement_memory must be 0 or at least 1MB.");
                return false;
            }
            return true;
        },
        nullptr, nullptr);
        DefineCustomIntVariable(
            "parallel_material.arrangement_reclaim_interval",
            "Pause between two passes of the background worker that reclaims dead arrangement "
            "versions.",
            "0 stops background reclaim (parallel_material.arrangement_reclaim() still works).",
            &settings.arrangement_reclaim_interval_ms, 1000, 0, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
            nullptr, nullptr, nullptr);
        // Shares of the cluster's 64 arrangement slots (docs/arrangements.md, "Storage").
        DefineCustomIntVariable(
            "parallel_material.arrangements_per_role",
            "Arrangements the tables of one role may hold at once, in the whole cluster.",
            "The cluster holds at most 64; counted against the table owner.",
            &settings.arrangements_per_role, 32, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
        DefineCustomIntVariable(
            "parallel_material.arrangements_per_database",
            "Arrangements one database may hold at once.",
            "The cluster holds at most 64.", &settings.arrangements_per_database, 48, 1, 64,
            PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
        DefineCustomIntVariable(
            "parallel_material.arrangement_memory_per_role",
            "Shared memory the arrangements of one role's tables may hold, in the whole cluster.",
            "-1 is half of parallel_material.arrangement_memory; 0 sets no quota.",
            &settings.arrangement_memory_per_role_kb, -1, -1, MAX_KILOBYTES, PGC_SIGHUP,
            GUC_UNIT_KB, nullptr, nullptr, nullptr);
    }
    MarkGUCPrefixReserved("parallel_material");
}

long memory_limit_bytes() {
    long kb = settings.memory_limit_kb > 0 ? settings.memory_limit_kb : work_mem;
    return kb * 1024L;
}

}  // namespace pm::pg
