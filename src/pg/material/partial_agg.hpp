// partial_agg.hpp — issue 15: a shared ParallelMaterial whose child is an aggregate produced by
// every participant. The planning pass turns the child Agg (over a plain Seq Scan) into
//   Finalize Agg -> Custom Scan (PartialAggLog) -> Partial Agg -> Seq Scan
// where each participant runs the Partial Agg over the table blocks it claims from one parallel
// scan and appends its partial rows to a second shared log; one participant then runs the
// Finalize Agg, whose input (the PartialAggLog node) reads that log, and fills the node's log.
// Outside a parallel query the PartialAggLog node just passes the Partial Agg's rows through.
#pragma once

#include "parallel_material/core/tuple_log.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
}

namespace pm::pg {

constexpr const char *kPartialReaderName = "PartialAggLog";
extern CustomScanMethods partial_reader_scan_methods;
void register_partial_reader_methods();

// Planning: the Finalize/reader/Partial form of `child` (an Agg, under SubqueryScans without
// quals) when every aggregate is on the allowlist, else nullptr with *why set. next_id gives the
// new nodes their plan_node_id.
Plan *build_partial_agg(Plan *child, int *next_id, const char **why);

// Execution: the parts of an initialized child built by build_partial_agg.
struct PartialAggParts {
    PlanState *reader = nullptr;   // the PartialAggLog node
    PlanState *partial = nullptr;  // the Partial Agg
    ScanState *scan = nullptr;     // its Seq Scan, split across participants
};
bool find_partial_agg_parts(PlanState *child, PartialAggParts *out);
// Points the reader at a log (it returns the log's rows), or back at its child (nullptr).
void partial_reader_attach(PlanState *reader, core::TupleLog *log);

}  // namespace pm::pg
