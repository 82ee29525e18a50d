// material_shared.cpp — layout of ParallelMaterial's per-node dynamic shared memory and the
// ConditionVariable wait hooks of its shared log.
#include "pg/material/material_shared.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace pm::pg {

SharedLayout shared_layout(int nslots, Size scan_size, const core::LogConfig &cfg,
                           const core::LogConfig *partial) {
    SharedLayout l;
    Size off = TYPEALIGN(64, offsetof(SharedMaterial, slots) + sizeof(ParticipantCounters) * nslots);
    if (scan_size > 0) {
        l.scan_offset = off;
        off = TYPEALIGN(64, off + scan_size);
    }
    l.log_offset = off;
    off += core::TupleLog::region_size(cfg);
    if (partial != nullptr) {
        off = TYPEALIGN(64, off);
        l.partial_offset = off;
        off += core::TupleLog::region_size(*partial);
    }
    l.total = off + 64;  // shm_toc chunks are only MAXALIGNed: room to align the struct itself
    return l;
}

void init_shared_material(SharedMaterial *sh, const SharedLayout &l, const core::LogConfig &cfg,
                          int nslots, const core::LogConfig *partial) {
    memset(static_cast<void *>(sh), 0, l.log_offset);
    pg_atomic_init_u32(&sh->producer_claimed, 0);
    pg_atomic_init_u32(&sh->materializations, 0);
    pg_atomic_init_u32(&sh->partial_producers, 0);
    pg_atomic_init_u64(&sh->partial_rows, 0);
    ConditionVariableInit(&sh->cv);
    sh->nslots = static_cast<uint32>(nslots);
    sh->scan_offset = l.scan_offset;
    sh->log_offset = l.log_offset;
    sh->partial_offset = l.partial_offset;
    core::TupleLog::create(shared_log_region(sh), cfg);
    if (partial != nullptr) core::TupleLog::create(shared_partial_region(sh), *partial);
}

void CvWaitHooks::check_interrupts() {
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

void CvWaitHooks::prepare_to_sleep() {
    pg_call([&] { ConditionVariablePrepareToSleep(cv_); });
}

void CvWaitHooks::sleep() {
    pg_call([&] { ConditionVariableSleep(cv_, PG_WAIT_EXTENSION); });
}

void CvWaitHooks::cancel_sleep() {
    pg_call([] { ConditionVariableCancelSleep(); });
}

void CvWaitHooks::wake_all() {
    pg_call([&] { ConditionVariableBroadcast(cv_); });
}

// The failing participant's own error reaches the leader as a parallel message, which
// CHECK_FOR_INTERRUPTS raises here (and the leader's abort ends the workers), so this normally
// returns by that error within milliseconds. The bound only matters if no such message ever
// comes; it is long because a generic error raised first (by a worker that only saw the
// failure) would reach the leader before the real one on a loaded machine (seen with 1 s).
void await_producer_error() {
    pg_call([] {
        for (int i = 0; i < 3000; ++i) {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        }
    });
}

}  // namespace pm::pg
