// view_stats.cpp — per-view maintenance counters in shared memory (the views view): statements
// maintained, view rows changed, total maintenance time, last maintenance. A fixed array of
// kSlots entries (database, view id) claimed on first use under a spin lock; counters are atomic,
// so writers of different inputs never wait for each other here. Counters start at 0 at server
// start and when a slot is reused; a view that finds no free slot is not counted (the view shows
// NULL). Not preloaded: nothing is counted.
#include "pg/guard.hpp"
#include "pg/views/views.hpp"

extern "C" {
#include "executor/spi.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
}

extern "C" {
PGDLLEXPORT Datum pm_view_stats(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_view_stats);
}

namespace pm::pg::views {

namespace {

constexpr int kSlots = 256;

struct Slot {
    Oid dbid;
    int64 viewid;
    pg_atomic_uint64 statements;
    pg_atomic_uint64 rows;
    pg_atomic_uint64 total_us;
    pg_atomic_uint64 last;  // TimestampTz
};

struct Shared {
    slock_t lock;
    Slot slots[kSlots];
};

Shared *g_shared = nullptr;

Slot *find_slot(int64 viewid, bool claim) {
    if (g_shared == nullptr) return nullptr;
    for (int i = 0; i < kSlots; ++i) {
        Slot *s = &g_shared->slots[i];
        if (s->dbid == MyDatabaseId && s->viewid == viewid) return s;
    }
    if (!claim) return nullptr;
    Slot *found = nullptr;
    SpinLockAcquire(&g_shared->lock);
    for (int i = 0; i < kSlots && found == nullptr; ++i) {
        Slot *s = &g_shared->slots[i];
        if (s->dbid == MyDatabaseId && s->viewid == viewid) found = s;
    }
    for (int i = 0; i < kSlots && found == nullptr; ++i) {
        Slot *s = &g_shared->slots[i];
        if (s->viewid == 0) {
            pg_atomic_write_u64(&s->statements, 0);
            pg_atomic_write_u64(&s->rows, 0);
            pg_atomic_write_u64(&s->total_us, 0);
            pg_atomic_write_u64(&s->last, 0);
            s->dbid = MyDatabaseId;
            s->viewid = viewid;
            found = s;
        }
    }
    SpinLockRelease(&g_shared->lock);
    return found;
}

}  // namespace

size_t stats_shmem_size() { return MAXALIGN(sizeof(Shared)); }

void stats_shmem_init() {
    bool found = false;
    g_shared = static_cast<Shared *>(ShmemInitStruct("parallel_material views", sizeof(Shared), &found));
    if (!found) {
        SpinLockInit(&g_shared->lock);
        for (int i = 0; i < kSlots; ++i) {
            Slot *s = &g_shared->slots[i];
            s->dbid = InvalidOid;
            s->viewid = 0;
            pg_atomic_init_u64(&s->statements, 0);
            pg_atomic_init_u64(&s->rows, 0);
            pg_atomic_init_u64(&s->total_us, 0);
            pg_atomic_init_u64(&s->last, 0);
        }
    }
}

void stats_note(int64 viewid, uint64 rows_changed, int64 elapsed_us) {
    Slot *s = find_slot(viewid, true);
    if (s == nullptr) return;
    pg_atomic_fetch_add_u64(&s->statements, 1);
    pg_atomic_fetch_add_u64(&s->rows, rows_changed);
    pg_atomic_fetch_add_u64(&s->total_us, static_cast<uint64>(elapsed_us > 0 ? elapsed_us : 0));
    pg_atomic_write_u64(&s->last, static_cast<uint64>(GetCurrentTimestamp()));
}

void stats_forget(int64 viewid) {
    Slot *s = find_slot(viewid, false);
    if (s == nullptr) return;
    SpinLockAcquire(&g_shared->lock);
    if (s->dbid == MyDatabaseId && s->viewid == viewid) {
        s->viewid = 0;
        s->dbid = InvalidOid;
    }
    SpinLockRelease(&g_shared->lock);
}

// _view_stats(): (viewid, statements, rows_changed, total_us, last) of this database's views.
Datum view_stats(FunctionCallInfo fcinfo) {
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (g_shared == nullptr) return static_cast<Datum>(0);
    for (int i = 0; i < kSlots; ++i) {
        Slot *s = &g_shared->slots[i];
        if (s->viewid == 0 || s->dbid != MyDatabaseId) continue;
        Datum v[5];
        bool n[5] = {false, false, false, false, false};
        v[0] = Int64GetDatum(s->viewid);
        v[1] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&s->statements)));
        v[2] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&s->rows)));
        v[3] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&s->total_us)));
        uint64 last = pg_atomic_read_u64(&s->last);
        v[4] = TimestampTzGetDatum(static_cast<TimestampTz>(last));
        n[4] = last == 0;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
    }
    return static_cast<Datum>(0);
}

}  // namespace pm::pg::views

Datum pm_view_stats(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::view_stats(fcinfo); }); });
}
