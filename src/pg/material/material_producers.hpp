// material_producers.hpp — producer workers a serial ParallelMaterial starts for itself
// (parallel_material.max_producers): outside a parallel query, when the child is a plain Seq
// Scan of a table of at least min_parallel_table_scan_size, the node puts its log in a dynamic
// shared memory segment of its own and starts workers through a ParallelContext (as nbtsort.c's
// parallel index build does). Workers and the leader split the scan by blocks over one parallel
// table scan and append straight into the log while the leader reads it.
#pragma once

#include "pg/material/material_shared.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "access/parallel.h"
#include "executor/execdesc.h"
#include "nodes/execnodes.h"
#include "storage/dsm.h"
}

namespace pm::pg {

class ProducerGroup {
public:
    // Whether a node over child (with its Material eflags) may start producers now.
    static bool eligible(PlanState *child, int eflags);
    // Creates the segment and the log (cfg), points the leader's child at the shared scan,
    // launches up to nworkers workers. spill_dir: where the shared spill file goes.
    static ProducerGroup *start(PlanState *child, const core::LogConfig &cfg, int nworkers,
                                const char *spill_dir);

    SharedMaterial *shared() const { return sh_; }
    int launched() const { return launched_; }
    // Waits for the workers, ends the parallel context and parallel mode (idempotent). The log
    // stays readable until release().
    void finish();
    // finish(), then detaches the log's segment (the spill file goes with it).
    void release();
    // Rows the workers produced (complete after finish()).
    uint64 worker_rows() const;
    // Without PostgreSQL errors: unhooks the detach callbacks of segments still attached (they
    // point at this object) and removes the spill file; never ends the context or parallel mode
    // (abort processing does that, and a normal end has called release()).
    ~ProducerGroup();

private:
    ProducerGroup() = default;
    static void on_context_detach(dsm_segment *, Datum arg);
    static void on_log_detach(dsm_segment *, Datum arg);

    dsm_segment *seg_ = nullptr;       // the log's own segment (null once detached)
    ParallelContext *pcxt_ = nullptr;  // null once destroyed (by us or by abort processing)
    dsm_segment *pcxt_seg_ = nullptr;  // the context's segment, while attached
    SharedMaterial *sh_ = nullptr;
    int launched_ = 0;
    bool in_parallel_mode_ = false;
};

}  // namespace pm::pg
