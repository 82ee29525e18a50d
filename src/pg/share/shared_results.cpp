// shared_results.cpp — places core::ResultRegistry in the extension's shared memory (size:
// parallel_material.shared_memory, a postmaster setting), fails a process's productions when it
// exits, and implements the view parallel_material.shared_results and reset_shared_results().
// A backend that dies without running its exit callbacks (kill -9) makes the postmaster
// reinitialize shared memory, which empties the registry (and RemovePgTempFiles, run before
// that, removes the entries' spill files: see result_spill.hpp).
// Issue 12: every entry is charged to the role that produced it (owner_for_new_entry); the view
// shows another role's statement text, key and relations only to roles with pg_read_all_stats
// (or the producing role's privileges), and another database's entries not at all.
#include "pg/share/shared_results.hpp"

#include "pg/guard.hpp"
#include "pg/share/result_spill.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/acl.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

extern "C" {
PGDLLEXPORT Datum pm_shared_results(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_reset_shared_results(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_shared_results);
PG_FUNCTION_INFO_V1(pm_reset_shared_results);
PGDLLEXPORT Datum pm_debug_add_shared_result(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_debug_add_shared_result);
}

namespace pm::pg {

namespace {

char *g_region = nullptr;  // 64-byte aligned start of the registry region
ConditionVariable *g_cvs = nullptr;  // one per registry slot: readers of an entry sleep on it
// One per registry slot, on its own cache line: 1 while the entry's producer is inside the
// shared plan (pulling rows), 0 otherwise (issue 12: bounded waits of attached readers).
struct SlotActivity {
    pg_atomic_uint32 pulling;
    char pad[PG_CACHE_LINE_SIZE - sizeof(pg_atomic_uint32)];
};
SlotActivity *g_activity = nullptr;
bool g_exit_registered = false;

size_t budget_bytes() { return static_cast<size_t>(share_settings.shared_memory_kb) * 1024; }

void fail_own_productions(int, Datum) {
    if (g_region == nullptr) return;
    try {
        core::ResultRegistry reg(g_region);
        reg.fail_producer(MyProcPid);
    } catch (...) {
        // Nothing may escape an exit callback; a broken region is reinitialized on restart.
    }
}

const char *state_name(core::EntryState s) {
    switch (s) {
        case core::EntryState::Producing:
            return "producing";
        case core::EntryState::Ready:
            return "ready";
        case core::EntryState::Failed:
            return "failed";
        case core::EntryState::TooLarge:
            return "too large";
        case core::EntryState::Free:
            break;
    }
    return "free";
}

Datum shared_results(FunctionCallInfo fcinfo) {
    require_shared_state("parallel_material.shared_results");
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    core::ResultRegistry *reg = shared_registry();
    if (reg == nullptr) return static_cast<Datum>(0);
    std::vector<std::string> paths;
    std::vector<core::EntryInfo> list = reg->entries(&paths);
    TimestampTz now = GetCurrentTimestamp();
    // As pg_stat_activity: pg_read_all_stats (or the producing role's privileges) sees the
    // statement, its key and its relations; others see that an entry exists and what it costs.
    const bool read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
    for (size_t n = 0; n < list.size(); n++) {
        const core::EntryInfo &e = list[n];
        const bool full = read_all || has_privs_of_role(GetUserId(), static_cast<Oid>(e.role));
        if (!full && e.key.database != MyDatabaseId) continue;
        Datum values[13];
        bool nulls[13] = {};
        if (full) {
            char hex[33];
            for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", e.key.fingerprint[i]);
            values[0] = CStringGetTextDatum(hex);
            values[1] = CStringGetTextDatum(e.sample);
            Datum *rels = static_cast<Datum *>(palloc(sizeof(Datum) * (e.key.nrels + 1)));
            for (uint32_t i = 0; i < e.key.nrels; i++)
                rels[i] = ObjectIdGetDatum(e.key.relids[i]);
            values[2] = PointerGetDatum(construct_array(rels, static_cast<int>(e.key.nrels),
                                                        OIDOID, sizeof(Oid), true, TYPALIGN_INT));
            values[4] = Int64GetDatum(static_cast<int64>(e.rows));
        } else {
            nulls[0] = nulls[2] = nulls[4] = true;
            values[1] = CStringGetTextDatum("<insufficient privilege>");
        }
        values[3] = Int64GetDatum(static_cast<int64>(e.bytes));
        values[5] = Int64GetDatum(static_cast<int64>(e.hits));
        values[6] = Int32GetDatum(static_cast<int32>(e.readers));
        values[7] = CStringGetTextDatum(state_name(e.state));
        values[8] = IntervalPGetDatum(DatumGetIntervalP(
            DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(now),
                                TimestampTzGetDatum(static_cast<TimestampTz>(e.created_at)))));
        values[9] = Int32GetDatum(e.producer_pid);
        values[10] = Int64GetDatum(static_cast<int64>(e.spilled_bytes));
        if (paths[n].empty())
            nulls[11] = true;
        else
            values[11] = CStringGetTextDatum(paths[n].c_str());
        values[12] = ObjectIdGetDatum(static_cast<Oid>(e.role));
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}

// Test support: registers a Ready entry of `rows` int4 records under a key made of `tag`
// (never a real plan's key: generation 0 is never current) and returns its fingerprint; with
// rows < 0 the entry stays Producing, pinned by this process until it exits. The log's ring is
// 64 kB (16 B a record): more than about 4000 rows spill to the entry's file.
Datum debug_add_shared_result(FunctionCallInfo fcinfo) {
    require_shared_state("parallel_material.debug_add_shared_result()");
    int32 tag = PG_GETARG_INT32(0);
    int32 rows = PG_GETARG_INT32(1);
    core::ResultRegistry *reg = shared_registry();
    if (reg == nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("parallel_material.shared_memory is 0")));
    core::ResultKey key;
    memcpy(key.fingerprint, &tag, sizeof(tag));
    key.generation = 0;
    key.database = MyDatabaseId;
    core::LogConfig cfg;
    cfg.page_size = 4096;
    cfg.ring_pages = 16;
    cfg.single_producer = true;
    core::ResultRef ref;
    core::AcquireResult res = reg->acquire(key, cfg, MyProcPid, GetCurrentTimestamp(),
                                           "debug_add_shared_result", &ref,
                                           owner_for_new_entry(reg));
    if (res == core::AcquireResult::NoSpace || res == core::AcquireResult::RoleQuota)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("no space for a shared result")));
    if (res == core::AcquireResult::TooLarge) return CStringGetTextDatum("too large");
    if (res == core::AcquireResult::Produce) {
        ResultSpillFile spill(reg, ref, ResultSpillFile::Role::Producer, spill_mode_setting());
        core::TupleLog log(reg->log_region(ref), &spill, nullptr);
        if (!log.try_register_producer())
            throw core::Error(core::Error::Code::Internal, "new log refused its producer");
        for (int32 i = 0; i < (rows < 0 ? -rows : rows); i++) log.append(&i, sizeof(i));
        // rows < 0: stay the producer, pinned, until this process exits (tests the exit path).
        if (rows < 0) return CStringGetTextDatum("producing");
        log.producer_done();
        reg->publish(ref, static_cast<uint64_t>(rows));
    }
    reg->release(&ref);
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", key.fingerprint[i]);
    return CStringGetTextDatum(hex);
}

}  // namespace

namespace {
Size cv_array_size() { return mul_size(sizeof(ConditionVariable), kMaxSharedResults); }
Size activity_size() { return mul_size(sizeof(SlotActivity), kMaxSharedResults); }
Size registry_size() {
    return add_size(core::ResultRegistry::region_size(kMaxSharedResults, budget_bytes()), 64);
}
}  // namespace

Size shared_results_shmem_size() {
    if (budget_bytes() == 0) return 0;
    return add_size(add_size(registry_size(), MAXALIGN(cv_array_size())),
                    add_size(activity_size(), PG_CACHE_LINE_SIZE));
}

// With AddinShmemInitLock held.
void shared_results_shmem_init() {
    if (budget_bytes() == 0) return;
    Size size = registry_size();
    bool found = false;
    bool cv_found = false;
    auto *cvs = static_cast<ConditionVariable *>(
        ShmemInitStruct("parallel_material shared result wakeups", cv_array_size(), &cv_found));
    if (!cv_found)
        for (uint32 i = 0; i < kMaxSharedResults; i++) ConditionVariableInit(&cvs[i]);
    g_cvs = cvs;
    bool act_found = false;
    char *act_raw = static_cast<char *>(ShmemInitStruct(
        "parallel_material shared result activity", activity_size() + PG_CACHE_LINE_SIZE,
        &act_found));
    auto *act = reinterpret_cast<SlotActivity *>(
        TYPEALIGN(PG_CACHE_LINE_SIZE, reinterpret_cast<uintptr_t>(act_raw)));
    if (!act_found)
        for (uint32 i = 0; i < kMaxSharedResults; i++) pg_atomic_init_u32(&act[i].pulling, 0);
    g_activity = act;
    char *raw = static_cast<char *>(ShmemInitStruct("parallel_material shared results", size, &found));
    char *region = reinterpret_cast<char *>(TYPEALIGN(64, reinterpret_cast<uintptr_t>(raw)));
    if (!found) {
        // Runs in the postmaster: no C++ exception may escape. On failure the registry is
        // simply absent (logged), as with shared_memory = 0.
        try {
            char prefix[MAXPGPATH];
            result_spill_prefix(prefix, sizeof(prefix));
            core::ResultRegistry::format(region, size - 64, kMaxSharedResults, prefix);
        } catch (...) {
            elog(LOG, "parallel_material: could not format the shared result registry");
            return;
        }
    }
    g_region = region;
}

ConditionVariable *shared_result_cv(uint32_t slot) {
    if (g_cvs == nullptr || slot >= kMaxSharedResults) return nullptr;
    return &g_cvs[slot];
}

pg_atomic_uint32 *shared_result_pulling(uint32_t slot) {
    if (g_activity == nullptr || slot >= kMaxSharedResults) return nullptr;
    return &g_activity[slot].pulling;
}

core::Owner owner_for_new_entry(const core::ResultRegistry *reg) {
    core::Owner o;
    o.role = static_cast<uint32_t>(GetUserId());
    o.exempt = superuser();
    o.max_log_bytes = reg->log_budget() / 2;
    return o;
}

core::ResultRegistry *shared_registry() {
    static core::ResultRegistry *handle = nullptr;
    if (g_region == nullptr) return nullptr;
    if (!g_exit_registered) {
        before_shmem_exit(fail_own_productions, 0);
        g_exit_registered = true;
    }
    if (handle == nullptr) {
        handle = new core::ResultRegistry(g_region);
        handle->set_spill_releaser(release_result_spill);
    }
    return handle;
}

}  // namespace pm::pg

Datum pm_shared_results(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::shared_results(fcinfo); });
}

Datum pm_reset_shared_results(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        pm::pg::require_shared_state("parallel_material.reset_shared_results()");
        pm::core::ResultRegistry *reg = pm::pg::shared_registry();
        int64 n = reg == nullptr ? 0 : static_cast<int64>(reg->reset());
        return Int64GetDatum(n);
    });
}

Datum pm_debug_add_shared_result(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::debug_add_shared_result(fcinfo); });
}
