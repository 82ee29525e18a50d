// material_shared.hpp — what one ParallelMaterial node keeps in a parallel query's dynamic shared
// memory: the tuple log every participant reads, who produces it, the parallel table scan that
// cooperative production splits, each participant's counters and the spill file's name; and the
// ConditionVariable-backed wait hooks the log sleeps with.
#pragma once

#include "parallel_material/core/tuple_log.hpp"
#include "pg/share/material_share.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "port/atomics.h"
#include "storage/condition_variable.h"
}

namespace pm::pg {

// One participant's counters (leader = slot 0, worker n = slot n + 1). Workers add theirs when
// they shut the node down; the leader copies them before the segment goes away.
struct alignas(64) ParticipantCounters {
    uint64 rows_produced;
    uint64 rows_read;
    uint64 pages_read_back;
    uint32 runs;  // times this participant ran the node (attached to the log)
    char io_mode[16];
};

struct SharedMaterial {
    pg_atomic_uint32 producer_claimed;  // Shared: 0 until one participant takes production
    pg_atomic_uint32 materializations;  // times the log was produced (rescans included)
    ConditionVariable cv;               // readers that caught up sleep here
    uint32 nslots;
    Size scan_offset;     // ParallelTableScanDesc (SharedScan), bytes from this struct; 0: none
    Size log_offset;      // the tuple log's region, 64-byte aligned, bytes from this struct
    char spill_path[MAXPGPATH];
    // SharedPartialAgg (issue 15): the log of partial rows every participant appends to
    Size partial_offset;  // its region, bytes from this struct; 0: none
    pg_atomic_uint32 partial_producers;  // participants that aggregated a share (all runs)
    pg_atomic_uint64 partial_rows;       // partial rows they appended (all runs)
    char partial_spill_path[MAXPGPATH];
    ShareHandoff share;   // issue 6: the leader's cross-session decision for this run
    ParticipantCounters slots[FLEXIBLE_ARRAY_MEMBER];
};

struct SharedLayout {
    Size scan_offset = 0;
    Size log_offset = 0;
    Size partial_offset = 0;
    Size total = 0;
};

// The shared ring never exceeds this, whatever the memory limit: the dynamic shared memory
// segment is allocated up front for the whole query (posix_fallocate), so a large ring would be
// paid even by a small result. Beyond it the log spills as it does serially.
constexpr long kSharedRingCap = 16L * 1024 * 1024;

// partial: the config of a second log (SharedPartialAgg's partial rows), or null.
SharedLayout shared_layout(int nslots, Size scan_size, const core::LogConfig &cfg,
                           const core::LogConfig *partial = nullptr);

// Initializes the header, counters and tuple log of a SharedMaterial laid out by l (the scan
// descriptor, if any, is the caller's). nslots: participants, leader included.
void init_shared_material(SharedMaterial *sh, const SharedLayout &l, const core::LogConfig &cfg,
                          int nslots, const core::LogConfig *partial = nullptr);

// The SharedMaterial of a DSM chunk: chunks are only MAXALIGNed, the log needs 64 bytes (the
// same offset in every process, whatever the mapping address).
inline SharedMaterial *shared_at(void *chunk) {
    return reinterpret_cast<SharedMaterial *>(TYPEALIGN(64, reinterpret_cast<uintptr_t>(chunk)));
}

inline char *shared_log_region(SharedMaterial *sh) {
    return reinterpret_cast<char *>(sh) + sh->log_offset;
}

inline char *shared_partial_region(SharedMaterial *sh) {
    return sh->partial_offset == 0 ? nullptr : reinterpret_cast<char *>(sh) + sh->partial_offset;
}

// Waits on the node's ConditionVariable; every call may raise (cancel, worker error), which
// pg_call turns into a C++ exception that unwinds the core's wait loop.
class CvWaitHooks final : public core::WaitHooks {
public:
    explicit CvWaitHooks(ConditionVariable *cv) : cv_(cv) {}
    void check_interrupts() override;
    void prepare_to_sleep() override;
    void sleep() override;
    void cancel_sleep() override;
    void wake_all() override;

private:
    ConditionVariable *cv_;
};

// After a producer failed: gives PostgreSQL up to 30 s to deliver the producer's own error (a
// worker's error reaches the leader as an interrupt; it normally comes within milliseconds),
// then returns.
void await_producer_error();

}  // namespace pm::pg
