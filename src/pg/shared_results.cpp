// shared_results.cpp — places core::ResultRegistry in the extension's shared memory (size:
// parallel_material.shared_memory, a postmaster setting), fails a process's productions when it
// exits, and implements the view parallel_material.shared_results and reset_shared_results().
// A backend that dies without running its exit callbacks (kill -9) makes the postmaster
// reinitialize shared memory, which empties the registry (and RemovePgTempFiles, run before
// that, removes the entries' spill files: see result_spill.hpp).
#include "pg/shared_results.hpp"

#include "pg/guard.hpp"
#include "pg/result_spill.hpp"
#include "pg/share_planner.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
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
    for (size_t n = 0; n < list.size(); n++) {
        const core::EntryInfo &e = list[n];
        Datum values[12];
        bool nulls[12] = {};
        char hex[33];
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", e.key.fingerprint[i]);
        values[0] = CStringGetTextDatum(hex);
        values[1] = CStringGetTextDatum(e.sample);
        Datum *rels = static_cast<Datum *>(palloc(sizeof(Datum) * (e.key.nrels + 1)));
        for (uint32_t i = 0; i < e.key.nrels; i++) rels[i] = ObjectIdGetDatum(e.key.relids[i]);
        values[2] = PointerGetDatum(
            construct_array(rels, static_cast<int>(e.key.nrels), OIDOID, sizeof(Oid), true,
                            TYPALIGN_INT));
        values[3] = Int64GetDatum(static_cast<int64>(e.bytes));
        values[4] = Int64GetDatum(static_cast<int64>(e.rows));
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
    core::AcquireResult res =
        reg->acquire(key, cfg, MyProcPid, GetCurrentTimestamp(), "debug_add_shared_result", &ref);
    if (res == core::AcquireResult::NoSpace)
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
Size registry_size() {
    return add_size(core::ResultRegistry::region_size(kMaxSharedResults, budget_bytes()), 64);
}
}  // namespace

Size shared_results_shmem_size() {
    if (budget_bytes() == 0) return 0;
    return add_size(registry_size(), MAXALIGN(cv_array_size()));
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
