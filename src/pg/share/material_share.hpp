// material_share.hpp — cross-session sharing of a serial ParallelMaterial node's result (issue 6).
// At each materialization the node computes its key (plan fingerprint + the data versions its
// snapshot sees) and looks up the shared result registry: a ready entry is a hit and an entry
// being produced is attached to; either way the node copies the rows from the entry's log into
// its own log instead of running its child (attached: as they are appended, waiting on the
// entry's ConditionVariable). A miss makes the node the producer: every row its child returns is
// also appended to the entry, which is published when the child ends. A producer that fails, is
// cancelled or exits fails the entry; a result over the entry's budget is abandoned and the node
// goes on locally. material_exec.cpp calls these at a few points; nothing here runs when the node
// was planned without a sharing verdict (parallel_material.share_across_sessions off).
// Inside a parallel query (a shared-mode node), the leader looks the result up once per run
// (it alone knows what its transaction wrote) and pins the entry; the ShareHandoff in the
// query's dynamic shared memory tells the participant that produces the query's log whether to
// copy the entry into it or to produce the entry as well.
#pragma once

#include <functional>

#include <cstdint>

#include "pg/pg.hpp"

extern "C" {
#include "commands/explain.h"
#include "nodes/execnodes.h"
}

namespace pm::pg {

class NodeShare;

// The leader's decision for one run of a shared-mode node, read by every participant.
struct ShareHandoff {
    uint32 role;       // ShareHandoffRole
    uint32 fell_back;  // set by the participant that found the producing session failed
    uint32 slot;       // the entry (core::ResultRef), pinned by the leader for the run
    uint64 serial;
};
enum ShareHandoffRole : uint32 { kHandoffNone = 0, kHandoffRead = 1, kHandoffProduce = 2 };

enum class ShareNext {
    Record,    // *data, *len: the next row of the shared result
    End,       // the shared result is complete
    // The producer failed (or stopped before the end): run the child instead, passing its rows
    // through share_check_row (the ones this node already has are checked, not used again).
    RunChild,
};

// Issue 15: a producing run initializes its child (ExecInitNode, JIT) when it first runs it, with
// the entry's "pulling" flag set as while it pulls rows, so that readers waiting for it do not
// count that time as the producer's idle time (at 64 clients on 2 cores initializing Q1 with
// JIT took past share_wait_timeout, and every reader took over). Calls init(); PostgreSQL
// errors from init must arrive as C++ exceptions (pg_call).
void share_initializing(NodeShare *ns, const std::function<void()> &init);

// At the start of a materialization of a serial node (child not run yet; child: its plan, which
// a hit or an attach never initializes, issue 15). *slot: the node's
// state, created here on first use (stays nullptr when the node carries no sharing verdict) and
// freed by share_free from the node's cleanup. obstacle: why this run may not be shared (a
// parallel part of the plan, producer workers), or nullptr. Ends the previous run first.
void share_start(NodeShare **slot, CustomScanState *node, Plan *child, const char *obstacle);
// Parallel query, leader, before the workers start a run (InitializeDSM, ReInitializeDSM):
// share_start for the whole query, and what the participants need to follow it.
void share_start_parallel(NodeShare **slot, CustomScanState *node, PlanState *child,
                          ShareHandoff *out);
// The participant that produces a shared-mode node's log (leader or worker): follows the
// leader's decision. In the leader it keeps the state share_start_parallel made.
void share_join(NodeShare **slot, ShareHandoff *h);
// Leader, after the run: a participant fell back to running the child (EXPLAIN says so).
void share_note_fallback(NodeShare *ns);
// True while this run takes part in a shared entry (produces, attached or hit).
bool share_engaged(const NodeShare *ns);
// True while rows come from a shared entry (hit or attach) rather than from the child.
bool share_reading(const NodeShare *ns);
// True while this run is the producer of a shared entry (rows go to share_row).
bool share_producing(const NodeShare *ns);
// Reader: the next row, the end, or RunChild when the producer failed.
// Taking over from a failed producer after rows were read (RunChild): the child's first rows
// must be the rows already read from the entry, byte for byte (same plan, same snapshot).
// share_check_row answers true for such a row (the caller already has it: drop it) and false
// once they are all checked (the caller uses the row); a row that differs is an ERROR.
bool share_verifying(const NodeShare *ns);
bool share_check_row(NodeShare *ns, const void *data, uint32_t len);
// The child ended: an ERROR if rows already read were not all given again.
void share_check_end(NodeShare *ns);
ShareNext share_next(NodeShare *ns, const void **data, uint32_t *len);
// ExecProcNode(child) for the node's run; while this run produces a shared entry, the entry is
// marked as being pulled for the duration of the call (attached readers count the time the
// producer spends outside its plan against parallel_material.share_wait_timeout).
TupleTableSlot *share_pull(NodeShare *ns, PlanState *child);
// Producer: one more row of the child (appended to the entry; over budget the entry is abandoned).
void share_row(NodeShare *ns, const void *data, uint32_t len);
// Producer: the child is exhausted; the entry becomes ready.
void share_child_done(NodeShare *ns);
// End of the run (end of the node, or abort): drops the pin; a producer that has not published
// fails the entry, waking its readers. Never throws; safe to call twice.
void share_stop(NodeShare *ns) noexcept;
// share_stop, then frees the state.
void share_free(NodeShare *ns) noexcept;
// EXPLAIN ANALYZE: "Cross-Session Sharing: produced | attached | hit | skipped (reason)" for the
// last run. False when there is nothing to say (then the caller prints the planning verdict).
bool explain_share_outcome(const NodeShare *ns, ExplainState *es);

}  // namespace pm::pg
