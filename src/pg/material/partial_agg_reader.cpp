// partial_agg_reader.cpp — Custom Scan (PartialAggLog): the input of the Finalize Agg that a
// ParallelMaterial builds for an aggregate produced by every participant (partial_agg.hpp).
// Attached to the shared log of partial rows, it returns that log's rows (waiting while other
// participants still append); detached (serial execution), it passes its child's rows through.
#include "pg/guard.hpp"
#include "pg/material/partial_agg.hpp"
#include "pg/material/material_shared.hpp"

extern "C" {
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/extensible.h"
}

namespace pm::pg {

namespace {

struct ReaderState {
    CustomScanState css;  // must be first
    PlanState *child;
    core::TupleLog *log;  // attached: rows come from here
    core::Cursor cursor;
    TupleTableSlot *out;
};

void begin_reader(CustomScanState *node, EState *estate, int eflags) {
    auto *st = reinterpret_cast<ReaderState *>(node);
    auto *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
    st->child = ExecInitNode(static_cast<Plan *>(linitial(cscan->custom_plans)), estate, eflags);
    node->custom_ps = list_make1(st->child);
    st->out = ExecAllocTableSlot(&estate->es_tupleTable,
                                 node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
                                 &TTSOpsMinimalTuple);
    // Rows come from the log (minimal tuples) or from the child (whatever it returns).
    node->ss.ps.resultopsfixed = false;
    node->ss.ps.resultopsset = true;
    node->ss.ps.resultops = nullptr;
}

TupleTableSlot *exec_reader(CustomScanState *node) {
    auto *st = reinterpret_cast<ReaderState *>(node);
    if (st->log == nullptr) return ExecProcNode(st->child);
    return guarded([&]() -> TupleTableSlot * {
        core::RecordView rec;
        switch (st->log->read(st->cursor, &rec)) {
            case core::ReadStatus::Record:
                return ExecStoreMinimalTuple(
                    static_cast<MinimalTuple>(const_cast<void *>(rec.data)), st->out, false);
            case core::ReadStatus::End:
                return ExecClearTuple(st->out);
            case core::ReadStatus::Failed:
            default:
                // A participant's partial aggregation failed: its error is the query's.
                await_producer_error();
                throw core::Error(core::Error::Code::Internal,
                                  "a participant producing partial aggregates failed");
        }
    });
}

void end_reader(CustomScanState *node) {
    auto *st = reinterpret_cast<ReaderState *>(node);
    ExecEndNode(st->child);
}

void rescan_reader(CustomScanState *node) {
    auto *st = reinterpret_cast<ReaderState *>(node);
    ExecClearTuple(st->out);
    if (st->log != nullptr) {  // the owner decides when the partial rows are produced again
        guarded([&] { st->log->seek(st->cursor, 0); });
        return;
    }
    if (node->ss.ps.chgParam != nullptr) UpdateChangedParamSet(st->child, node->ss.ps.chgParam);
    if (st->child->chgParam == nullptr) ExecReScan(st->child);
}

CustomExecMethods reader_exec_methods = {
    kPartialReaderName, begin_reader, exec_reader, end_reader, rescan_reader,
    nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
};

Node *create_reader_state(CustomScan *) {
    auto *st = static_cast<ReaderState *>(palloc0(sizeof(ReaderState)));
    NodeSetTag(st, T_CustomScanState);
    st->css.methods = &reader_exec_methods;
    st->css.flags = 0;
    new (&st->cursor) core::Cursor();
    return reinterpret_cast<Node *>(st);
}

bool is_reader(PlanState *ps) {
    return ps != nullptr && IsA(ps->plan, CustomScan) &&
           castNode(CustomScan, ps->plan)->methods == &partial_reader_scan_methods;
}

}  // namespace

CustomScanMethods partial_reader_scan_methods = {kPartialReaderName, create_reader_state};

void register_partial_reader_methods() { RegisterCustomScanMethods(&partial_reader_scan_methods); }

bool find_partial_agg_parts(PlanState *child, PartialAggParts *out) {
    PlanState *ps = child;
    while (ps != nullptr && IsA(ps, SubqueryScanState)) ps = castNode(SubqueryScanState, ps)->subplan;
    if (ps == nullptr || !IsA(ps, AggState)) return false;
    PlanState *reader = outerPlanState(ps);
    if (!is_reader(reader)) return false;
    PlanState *partial = reinterpret_cast<ReaderState *>(reader)->child;
    if (partial == nullptr || !IsA(partial, AggState)) return false;
    PlanState *scan = outerPlanState(partial);
    if (scan == nullptr || !IsA(scan, SeqScanState)) return false;
    out->reader = reader;
    out->partial = partial;
    out->scan = reinterpret_cast<ScanState *>(scan);
    return true;
}

void partial_reader_attach(PlanState *reader, core::TupleLog *log) {
    auto *st = reinterpret_cast<ReaderState *>(reader);
    st->log = log;
    st->cursor = core::Cursor();
    ExecClearTuple(st->out);
}

}  // namespace pm::pg
