// arrangement_build_parallel.hpp — a parallel build of an arrangement (as CREATE INDEX's parallel
// btree build): the state the leader shares with its workers in the ParallelContext's DSM, the
// worker count, and the leader's handle on its workers. arrangement_build.cpp scans a share of the
// heap (build_participant); arrangement_build_parallel.cpp starts, waits for and stops the workers.
// docs/arrangements.md, "Parallel build".
#pragma once

#include "pg/arrangement/arrangement.hpp"

extern "C" {
#include "access/relscan.h"
#include "port/atomics.h"
#include "storage/spin.h"
}

struct ParallelContext;

namespace pm::pg::arr {

// Flag of a version in a build's side index that is a deferred version (the scan found it,
// its writer's trigger may store it too), not a delete record: a parallel participant leaves
// its deferred versions there for the leader's merge. pack_stored's flags never use this bit.
constexpr uint16_t kSideDeferred = 0x1000;

// What every participant reads (and adds to) in the DSM: only values and region offsets.
struct BuildShare {
    Oid relid;
    int slot;
    int leader_pid;
    Def def;
    uint64_t index_offset;
    uint64_t side_offset;
    TransactionId oldest_xmin;  // the leader's GetOldestNonRemovableTransactionId
    TransactionId valid_xid;    // publish_build's
    uint64_t stage_bytes;       // each participant's staging chunk (maintenance_work_mem share)
    slock_t mutex;
    TransactionId oldest;       // the oldest normal xid stored by any participant (under mutex)
    pg_atomic_uint64 versions;  // versions stored so far, all participants
};

// Lowers share->oldest to xid (a normal xid), under its mutex.
void share_note_oldest(BuildShare *share, TransactionId xid);

// How many workers a build of rel asks for: as CREATE INDEX plans its workers
// (plan_create_index_workers): none when max_parallel_maintenance_workers is 0, in parallel mode
// or for a temporary table; the table's parallel_workers reloption when set; else PostgreSQL's
// heap-size rule (min_parallel_table_scan_size) capped so that every participant keeps 32 MB of
// maintenance_work_mem.
int plan_build_workers(Relation rel);

// The leader's workers: enters parallel mode, sets up the DSM (share, s0, the parallel heap
// scan) and launches them. The leader scans too (pscan()).
class ParallelBuild {
  public:
    ParallelBuild(Relation rel, const BuildShare &share, Snapshot s0, int nworkers);
    ~ParallelBuild();  // stop() if still running (no error raised)
    ParallelBuild(const ParallelBuild &) = delete;
    ParallelBuild &operator=(const ParallelBuild &) = delete;

    BuildShare *share() const { return share_; }
    ParallelTableScanDesc pscan() const { return pscan_; }
    int planned() const { return planned_; }
    int launched() const;
    // Waits for every worker to finish (a worker's error is raised here, as PgException), then
    // leaves parallel mode.
    void finish();
    // Terminates the workers, waits for them to exit, leaves parallel mode (errors swallowed).
    void stop() noexcept;

  private:
    ParallelContext *pcxt_ = nullptr;
    BuildShare *share_ = nullptr;
    ParallelTableScanDesc pscan_ = nullptr;
    bool in_parallel_mode_ = false;
    int planned_ = 0;
    int launched_ = 0;  // after finish()
};

// arrangement_build.cpp: one participant's share of a parallel build's scan (leader or worker):
// stores its versions into the index, its deferred ones into the side index (kSideDeferred),
// and adds to share->oldest and share->versions.
void build_participant(Relation rel, BuildShare *share, ParallelTableScanDesc pscan, Snapshot s0);

}  // namespace pm::pg::arr
