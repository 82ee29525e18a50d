// shmem.cpp — requests and initializes the extension's shared memory at postmaster start.
#include "pg/shmem.hpp"

#include "pg/arrangement/arrangement.hpp"
#include "pg/share/data_versions.hpp"
#include "pg/share/shared_results.hpp"
#include "pg/views/views.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace pm::pg {

namespace {
SharedState *g_state = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void request_shmem() {
    if (prev_shmem_request_hook != nullptr) prev_shmem_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
    RequestAddinShmemSpace(data_versions_shmem_size());
    data_versions_request_locks();
    RequestAddinShmemSpace(shared_results_shmem_size());
    RequestAddinShmemSpace(views::stats_shmem_size());
    arr::request_shmem();
}

void startup_shmem() {
    if (prev_shmem_startup_hook != nullptr) prev_shmem_startup_hook();
    bool found = false;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    auto *state = static_cast<SharedState *>(
        ShmemInitStruct("parallel_material", sizeof(SharedState), &found));
    if (!found) {
        pg_atomic_init_u64(&state->stats.materializations, 0);
        pg_atomic_init_u64(&state->stats.rows_written, 0);
        pg_atomic_init_u64(&state->stats.bytes_written, 0);
        pg_atomic_init_u64(&state->stats.pages_spilled, 0);
        pg_atomic_init_u64(&state->stats.fallbacks, 0);
    }
    data_versions_shmem_init();
    shared_results_shmem_init();
    views::stats_shmem_init();
    LWLockRelease(AddinShmemInitLock);
    g_state = state;
    arr::startup_shmem();
}
}  // namespace

void install_shmem_hooks() {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

SharedState *shared_state() { return g_state; }

SharedState *require_shared_state(const char *feature) {
    if (g_state == nullptr)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("%s requires parallel_material to be loaded via shared_preload_libraries",
                        feature),
                 errhint("Add parallel_material to shared_preload_libraries in postgresql.conf "
                         "and restart the server.")));
    return g_state;
}

}  // namespace pm::pg
