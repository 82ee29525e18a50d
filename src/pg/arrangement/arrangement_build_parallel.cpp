// arrangement_build_parallel.cpp — the workers of a parallel arrangement build, set up the way
// CREATE INDEX sets up its parallel btree build (nbtsort.c's _bt_begin_parallel): a
// ParallelContext whose entry point is this library's pm_arrangement_build_worker, a DSM holding
// the shared state (BuildShare: values and region offsets only, never pointers), the build's
// snapshot s0 and a parallel heap scan over SnapshotAny. Workers pin the building entry like the
// maintenance triggers do, so a failed build's indexes outlive every worker still writing.
// docs/arrangements.md, "Parallel build".
#include <algorithm>

#include "pg/arrangement/arrangement_build_parallel.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/shm_toc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace pm::pg::arr {

namespace {

constexpr uint64 kKeyShare = UINT64CONST(0xA11A000000000001);
constexpr uint64 kKeySnapshot = UINT64CONST(0xA11A000000000002);
constexpr uint64 kKeyScan = UINT64CONST(0xA11A000000000003);

int g_worker_pin = -1;  // the slot this worker pinned (unpinned at exit, whatever the exit)
bool g_exit_registered = false;

void unpin_at_exit(int, Datum) {
    if (g_worker_pin >= 0) {
        int slot = g_worker_pin;
        g_worker_pin = -1;
        unpin(slot);
    }
}

void run_worker(shm_toc *toc) {
    auto *share = static_cast<BuildShare *>(pg_call([&] { return shm_toc_lookup(toc, kKeyShare, false); }));
    Snapshot s0 = pg_call([&] {
        return RegisterSnapshot(RestoreSnapshot(static_cast<char *>(shm_toc_lookup(toc, kKeySnapshot, false))));
    });
    auto *pscan = static_cast<ParallelTableScanDesc>(
        pg_call([&] { return shm_toc_lookup(toc, kKeyScan, false); }));
    pg_call([] {
        if (!g_exit_registered) {
            before_shmem_exit(unpin_at_exit, 0);
            g_exit_registered = true;
        }
    });
    // The leader's build, still building: pinned, so that its indexes stay while this worker
    // writes into them even if the leader fails meanwhile (drop_locked frees them at the last
    // unpin). Gone already: the leader failed; nothing to do.
    if (!pin_build_as_worker(share->slot, share->def.defid, share->index_offset, share->leader_pid))
        return;
    g_worker_pin = share->slot;
    Relation rel = pg_call([&] { return table_open(share->relid, AccessShareLock); });
    build_participant(rel, share, pscan, s0);
    pg_call([&] {
        table_close(rel, AccessShareLock);
        UnregisterSnapshot(s0);
    });
    g_worker_pin = -1;
    unpin(share->slot);
}

}  // namespace

int plan_build_workers(Relation rel) {
    if (!IsUnderPostmaster || max_parallel_maintenance_workers == 0 || IsInParallelMode() ||
        IsParallelWorker())
        return 0;
    // Workers cannot read the leader's local buffers (temporary tables).
    if (RelationUsesLocalBuffers(rel)) return 0;
    int reloption = RelationGetParallelWorkers(rel, -1);
    if (reloption != -1) return std::min(reloption, max_parallel_maintenance_workers);
    RelOptInfo *ro = makeNode(RelOptInfo);
    ro->reloptkind = RELOPT_BASEREL;
    ro->rel_parallel_workers = -1;
    int n = compute_parallel_worker(ro, static_cast<double>(RelationGetNumberOfBlocks(rel)), -1,
                                    max_parallel_maintenance_workers);
    pfree(ro);
    while (n > 0 && maintenance_work_mem / (n + 1) < 32768L) --n;
    return n;
}

ParallelBuild::ParallelBuild(Relation rel, const BuildShare &share, Snapshot s0, int nworkers) {
    planned_ = nworkers;
    pg_call([&] {
        EnterParallelMode();
        in_parallel_mode_ = true;
        pcxt_ = CreateParallelContext("parallel_material", "pm_arrangement_build_worker", nworkers);
        Size scan_size = table_parallelscan_estimate(rel, SnapshotAny);
        Size snap_size = EstimateSnapshotSpace(s0);
        shm_toc_estimate_chunk(&pcxt_->estimator, sizeof(BuildShare));
        shm_toc_estimate_chunk(&pcxt_->estimator, snap_size);
        shm_toc_estimate_chunk(&pcxt_->estimator, scan_size);
        shm_toc_estimate_keys(&pcxt_->estimator, 3);
        InitializeParallelDSM(pcxt_);
        if (pcxt_->seg == nullptr) {
            // No DSM: the leader scans alone (the parallel scan then lives in backend memory).
            share_ = static_cast<BuildShare *>(palloc(sizeof(BuildShare)));
            pscan_ = static_cast<ParallelTableScanDesc>(palloc(scan_size));
        } else {
            share_ = static_cast<BuildShare *>(shm_toc_allocate(pcxt_->toc, sizeof(BuildShare)));
            char *snap = static_cast<char *>(shm_toc_allocate(pcxt_->toc, snap_size));
            SerializeSnapshot(s0, snap);
            pscan_ = static_cast<ParallelTableScanDesc>(shm_toc_allocate(pcxt_->toc, scan_size));
            shm_toc_insert(pcxt_->toc, kKeyShare, share_);
            shm_toc_insert(pcxt_->toc, kKeySnapshot, snap);
            shm_toc_insert(pcxt_->toc, kKeyScan, pscan_);
        }
        memcpy(share_, &share, sizeof(BuildShare));
        SpinLockInit(&share_->mutex);
        pg_atomic_init_u64(&share_->versions, 0);
        table_parallelscan_initialize(rel, pscan_, SnapshotAny);
        // From block 0 up, as the serial build (its progress reports blocks in that order).
        pscan_->phs_syncscan = false;
        if (pcxt_->seg != nullptr) LaunchParallelWorkers(pcxt_);
    });
}

ParallelBuild::~ParallelBuild() { stop(); }

int ParallelBuild::launched() const {
    return pcxt_ != nullptr ? pcxt_->nworkers_launched : launched_;
}

void ParallelBuild::finish() {
    pg_call([&] {
        if (pcxt_ != nullptr) {
            WaitForParallelWorkersToFinish(pcxt_);
            // The counts are final: copy the share out of the DSM before it goes.
            BuildShare *copy = static_cast<BuildShare *>(palloc(sizeof(BuildShare)));
            memcpy(copy, share_, sizeof(BuildShare));
            share_ = copy;
            int launched_workers = pcxt_->nworkers_launched;
            DestroyParallelContext(pcxt_);
            pcxt_ = nullptr;
            launched_ = launched_workers;
        }
        if (in_parallel_mode_) {
            ExitParallelMode();
            in_parallel_mode_ = false;
        }
    });
}

void ParallelBuild::stop() noexcept {
    try {
        pg_call([&] {
            if (pcxt_ != nullptr) {
                ParallelContext *p = pcxt_;
                pcxt_ = nullptr;
                DestroyParallelContext(p);  // terminates the workers and waits for them to exit
            }
            if (in_parallel_mode_) {
                in_parallel_mode_ = false;
                ExitParallelMode();
            }
        });
    } catch (...) {
        // The transaction's abort destroys what is left (AtEOXact_Parallel).
    }
}

}  // namespace pm::pg::arr

extern "C" PGDLLEXPORT void pm_arrangement_build_worker(dsm_segment *seg, shm_toc *toc);

extern "C" void pm_arrangement_build_worker(dsm_segment *, shm_toc *toc) {
    pm::pg::guarded([&] { pm::pg::arr::run_worker(toc); });
}
