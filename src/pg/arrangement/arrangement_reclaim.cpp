// arrangement_reclaim.cpp — the background reclaim worker: a background worker registered when
// the library is preloaded (and arrangement_memory > 0) that, every
// parallel_material.arrangement_reclaim_interval milliseconds, unlinks from each ready
// arrangement the versions dead to every snapshot (aborted inserters; deleters committed before
// the cluster-wide oldest xmin) and frees the ones no reader can still stand on. It connects to
// no database: the visibility horizon it uses is the shared one (the most conservative) and
// clog lookups need no database. Errors are logged and the next pass retries.
#include "pg/arrangement/arrangement.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
}

extern "C" {
PGDLLEXPORT void pm_arrangement_reclaim_main(Datum);
}

namespace pm::pg::arr {

void register_reclaim_worker() {
    BackgroundWorker w;
    memset(&w, 0, sizeof(w));
    w.bgw_flags = BGWORKER_SHMEM_ACCESS;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = 10;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "parallel_material");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "pm_arrangement_reclaim_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "parallel_material arrangement reclaim");
    snprintf(w.bgw_type, BGW_MAXLEN, "parallel_material arrangement reclaim");
    RegisterBackgroundWorker(&w);
}

namespace {

uint64_t g_seen_deltas[kMaxArrangements];
// The index each slot's count belongs to: a slot reused by another arrangement (or a rebuild)
// starts again from 0 deltas, so the new one is not taken as changed.
uint64_t g_seen_index[kMaxArrangements];

// One pass over every ready arrangement that changed since the last pass (or still has
// versions waiting for their grace period).
void reclaim_pass() {
    try {
        pg_call([] {
            xid_cache_maintain();
            invalidate_wraparound_risks();
        });
    } catch (const std::exception &ex) {
        elog(WARNING, "parallel_material: arrangement xid check failed: %s", ex.what());
    }
    for (int slot = 0; slot < kMaxArrangements; ++slot) {
        EntryInfo e = pin_slot_if_ready(slot);
        if (e.slot < 0) continue;
        try {
            core::ArrangementIndex index = index_at(e.index_offset);
            core::ArrangementStats st = index.stats();
            uint64_t deltas = entry_deltas(slot);
            if (g_seen_index[slot] != e.index_offset) {
                g_seen_index[slot] = e.index_offset;
                g_seen_deltas[slot] = 0;
            }
            if (deltas != g_seen_deltas[slot] || st.retired_pending > 0) {
                TransactionId oldest =
                    pg_call([] { return GetOldestNonRemovableTransactionId(nullptr); });
                XidFloor floor;
                core::ReclaimResult r = index.reclaim(
                    [&](const core::VersionView &v) {
                        bool dead = pg_call([&] { return version_dead(v, oldest); });
                        if (!dead) floor.see(v);
                        return dead;
                    },
                    [&](const core::VersionView &v) {  // compacted (docs: "Layout")
                        return pg_call([&] { return version_freezable(v, oldest); });
                    },
                    // dead, but kept in a run the region had no room to copy (docs: "Runs")
                    [&](const core::VersionView &v) { floor.see(v); });
                note_reclaim(slot);
                note_reclaim_floor(slot, floor, oldest);
                // Versions still in the grace period, or deleters not yet old enough: retry.
                if (r.pending == 0 && st.delete_marked == r.unlinked - r.compacted)
                    g_seen_deltas[slot] = deltas;
            }
        } catch (const std::exception &ex) {
            elog(WARNING, "parallel_material: reclaim of arrangement %lld failed: %s",
                 static_cast<long long>(e.def.defid), ex.what());
        }
        unpin(slot);
    }
}

}  // namespace

}  // namespace pm::pg::arr

void pm_arrangement_reclaim_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    for (;;) {
        int interval = pm::pg::settings.arrangement_reclaim_interval_ms;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        interval > 0 ? interval : 60000L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (pm::pg::settings.arrangement_reclaim_interval_ms > 0 && pm::pg::arr::available())
            pm::pg::arr::reclaim_pass();
    }
}
