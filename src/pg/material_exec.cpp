// material_exec.cpp — executor of Custom Scan (ParallelMaterial): Material's semantics over the
// shared tuple log (core::TupleLog). The child is read lazily, each row is appended to the log
// and read back through this node's cursor; rescans reset the cursor; backward scans and
// mark/restore move it. The log's ring is bounded by parallel_material.memory_limit; older pages
// spill to a temporary file.
#include <new>

#include "parallel_material/core/tuple_log.hpp"
#include "pg/gucs.hpp"
#include "pg/guard.hpp"
#include "pg/material_node.hpp"
#include "pg/share_planner.hpp"
#include "pg/shmem.hpp"
#include "pg/temp_spill.hpp"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
}

namespace pm::pg {

namespace {

// Where the node stands relative to the rows it has returned (cursor-on-a-row semantics).
enum class Position { BeforeFirst, OnRow, AfterLast };

struct Saved {
    Position where = Position::BeforeFirst;
    uint64_t last = 0;  // position of the row last returned (OnRow)
    uint64_t next = 0;  // position after it
};

// Process-local C++ state; deleted by a reset callback of the query's memory context, so it
// is released on normal end, error and cancel alike.
struct LogState {
    void *raw = nullptr;     // palloc'd in the query context
    char *region = nullptr;  // raw, 64-byte aligned
    core::LogConfig cfg;
    std::unique_ptr<TempSpillFile> spill;
    std::unique_ptr<core::TupleLog> log;
    core::Cursor cursor;
};

class InterruptHooks final : public core::WaitHooks {
public:
    void check_interrupts() override {
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
    }
    void sleep() override { check_interrupts(); }
    void wake_all() override {}
};

InterruptHooks g_interrupt_hooks;

struct MaterialState {
    CustomScanState css;  // must be first
    PlanState *child;
    int eflags;            // REWIND | BACKWARD | MARK as Material keeps them
    bool passthrough;      // no flags: stream the child, store nothing (as Material does)
    MemoryContext query_cxt;
    MemoryContextCallback cleanup;
    LogState *ls;
    TupleTableSlot *out;   // MinimalTuple slot the rows are returned in
    bool child_done;
    bool needs_restart;    // the child must run again before the next read
    Saved at;
    Saved mark;
    char spill_dir[MAXPGPATH];
    // EXPLAIN ANALYZE counters (this process)
    uint64_t rows_produced;
    uint64_t rows_read;
    uint64_t materializations;
    uint64_t peak_bytes;
    uint64_t pages_spilled;
    const char *io_mode;
};

void fold_stats(MaterialState *st) {
    core::LogStats s = st->ls->log->stats();
    if (s.peak_ring_bytes > st->peak_bytes) st->peak_bytes = s.peak_ring_bytes;
    st->pages_spilled += s.pages_spilled;
    if (st->ls->spill && st->ls->spill->opened()) st->io_mode = st->ls->spill->mode_name();
}

// Frees the C++ state. free_region: also pfree the ring (false when the query context is being
// reset anyway, from its callback).
void release_log(MaterialState *st, bool free_region) {
    if (st->ls == nullptr) return;
    if (st->out != nullptr) ExecClearTuple(st->out);  // it may point into the ring
    fold_stats(st);
    void *raw = st->ls->raw;
    delete st->ls;
    st->ls = nullptr;
    if (free_region && raw != nullptr) pfree(raw);
}

void cleanup_callback(void *arg) { release_log(static_cast<MaterialState *>(arg), false); }

core::LogConfig config_for(long budget) {
    core::LogConfig cfg;
    uint32_t page = 64 * 1024;
    while (page > 4096 && static_cast<long>(page) * 8 > budget) page >>= 1;
    uint64_t pages = 2;
    while (pages * 2 * page <= static_cast<uint64_t>(budget) && pages < (1u << 30)) pages *= 2;
    cfg.page_size = page;
    cfg.ring_pages = static_cast<uint32_t>(pages);
    cfg.single_producer = true;
    return cfg;
}

// Opens a fresh log: allocates the ring on first use, reuses it (TupleLog::reset) when the child
// runs again after a parameter change. Ring pages are touched only when reached.
void start_log(MaterialState *st) {
    LogState *ls = st->ls;
    if (ls == nullptr) {
        ls = new LogState();
        st->ls = ls;
        ls->cfg = config_for(memory_limit_bytes());
        size_t size = core::TupleLog::region_size(ls->cfg);
        ls->raw = pg_call([&] { return MemoryContextAllocHuge(st->query_cxt, size + 64); });
        ls->region = reinterpret_cast<char *>(TYPEALIGN(64, reinterpret_cast<uintptr_t>(ls->raw)));
        ls->spill = std::make_unique<TempSpillFile>(st->spill_dir, spill_mode_setting());
    } else {
        ExecClearTuple(st->out);
        fold_stats(st);
        ls->log.reset();
    }
    core::TupleLog::create(ls->region, ls->cfg);
    ls->log = std::make_unique<core::TupleLog>(ls->region, ls->spill.get(), &g_interrupt_hooks);
    ls->cursor = core::Cursor();
    if (!ls->log->try_register_producer())
        throw core::Error(core::Error::Code::Internal, "new log refused its producer");
    st->child_done = false;
    st->at = Saved{};
    st->materializations++;
    if (SharedState *shared = shared_state())
        pg_atomic_fetch_add_u64(&shared->stats.materializations, 1);
}

TupleTableSlot *emit(MaterialState *st, const core::RecordView &rec) {
    st->rows_read++;
    auto *tuple = static_cast<MinimalTuple>(const_cast<void *>(rec.data));
    return ExecStoreMinimalTuple(tuple, st->out, false);
}

// Pull one row from the child into the log. False when the child is exhausted.
bool produce_one(MaterialState *st) {
    TupleTableSlot *slot = pg_call([&] { return ExecProcNode(st->child); });
    if (TupIsNull(slot)) {
        st->child_done = true;
        st->ls->log->producer_done();
        return false;
    }
    bool should_free = false;
    MinimalTuple tuple = pg_call([&] { return ExecFetchSlotMinimalTuple(slot, &should_free); });
    st->ls->log->append(tuple, tuple->t_len);
    st->rows_produced++;
    if (should_free) pfree(tuple);
    return true;
}

TupleTableSlot *exec_forward(MaterialState *st) {
    if (st->at.where == Position::AfterLast) return ExecClearTuple(st->out);
    core::TupleLog &log = *st->ls->log;
    uint64_t from = st->at.where == Position::BeforeFirst ? 0 : st->at.next;
    if (st->ls->cursor.position() != from) log.seek(st->ls->cursor, from);
    for (;;) {
        core::RecordView rec;
        switch (log.try_read(st->ls->cursor, &rec)) {
            case core::ReadStatus::Record:
                st->at = Saved{Position::OnRow, rec.pos, st->ls->cursor.position()};
                return emit(st, rec);
            case core::ReadStatus::WouldBlock:
                if (st->child_done)
                    throw core::Error(core::Error::Code::Internal, "log not sealed at child end");
                produce_one(st);
                continue;
            case core::ReadStatus::End:
                st->at = Saved{Position::AfterLast, 0, from};
                return ExecClearTuple(st->out);
            case core::ReadStatus::Failed:
                throw core::Error(core::Error::Code::Internal, "materialization failed");
        }
    }
}

TupleTableSlot *exec_backward(MaterialState *st) {
    if (st->at.where == Position::BeforeFirst) return ExecClearTuple(st->out);
    core::TupleLog &log = *st->ls->log;
    // From AfterLast, step back from the end; from a row, step back from that row.
    uint64_t from = st->at.where == Position::AfterLast ? st->at.next : st->at.last;
    log.seek(st->ls->cursor, from);
    core::RecordView rec;
    switch (log.read_prev(st->ls->cursor, &rec)) {
        case core::ReadStatus::Record:
            st->at = Saved{Position::OnRow, rec.pos, from};
            return emit(st, rec);
        case core::ReadStatus::End:
            st->at = Saved{Position::BeforeFirst, 0, 0};
            return ExecClearTuple(st->out);
        default:
            throw core::Error(core::Error::Code::Internal, "backward read failed");
    }
}

TupleTableSlot *exec_material(MaterialState *st) {
    if (st->passthrough) {
        TupleTableSlot *slot = pg_call([&] { return ExecProcNode(st->child); });
        if (!TupIsNull(slot)) st->rows_produced++;
        return slot;
    }
    if (st->ls == nullptr || st->needs_restart) {
        start_log(st);
        st->needs_restart = false;
    }
    bool forward = ScanDirectionIsForward(st->css.ss.ps.state->es_direction);
    return forward ? exec_forward(st) : exec_backward(st);
}

void rescan_material(MaterialState *st) {
    PlanState *child = st->child;
    if (st->css.ss.ps.chgParam != nullptr) UpdateChangedParamSet(child, st->css.ss.ps.chgParam);
    if (st->passthrough) {
        if (child->chgParam == nullptr) ExecReScan(child);
        return;
    }
    if (st->ls == nullptr) return;  // nothing stored yet; the child starts fresh anyway
    if (child->chgParam != nullptr || (st->eflags & EXEC_FLAG_REWIND) == 0) {
        // The child's output changes: materialize again (same ring, emptied).
        st->needs_restart = true;
        if (child->chgParam == nullptr) ExecReScan(child);
        return;
    }
    st->at = Saved{};
    st->ls->log->seek(st->ls->cursor, 0);
}

// ---- callbacks (thin shims over guarded) ----

Node *create_state(CustomScan *cscan);

void begin_scan(CustomScanState *node, EState *estate, int eflags) {
    guarded([&] {
        auto *st = reinterpret_cast<MaterialState *>(node);
        auto *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
        st->eflags = eflags & (EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK);
        if (eflags & EXEC_FLAG_BACKWARD) st->eflags |= EXEC_FLAG_REWIND;
        st->passthrough = st->eflags == 0;
        int child_flags = eflags & ~(EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK);
        st->child = ExecInitNode(static_cast<Plan *>(linitial(cscan->custom_plans)), estate,
                                 child_flags);
        node->custom_ps = list_make1(st->child);
        st->query_cxt = estate->es_query_cxt;
        st->io_mode = "none";
        if (!st->passthrough) {
            TupleDesc desc = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
            st->out = ExecAllocTableSlot(&estate->es_tupleTable, desc, &TTSOpsMinimalTuple);
            // Parents compile their deforming code for the slot type we return.
            node->ss.ps.resultops = &TTSOpsMinimalTuple;
            node->ss.ps.resultopsfixed = true;
            node->ss.ps.resultopsset = true;
            if (node->ss.ps.ps_ProjInfo != nullptr)
                elog(ERROR, "ParallelMaterial: unexpected projection");
            if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
                TempSpillFile::temp_dir(st->spill_dir, sizeof(st->spill_dir));
        } else {
            node->ss.ps.resultopsfixed = false;
            node->ss.ps.resultopsset = true;
            node->ss.ps.resultops = nullptr;
        }
        st->cleanup.func = cleanup_callback;
        st->cleanup.arg = st;
        MemoryContextRegisterResetCallback(st->query_cxt, &st->cleanup);
    });
}

TupleTableSlot *exec_scan(CustomScanState *node) {
    return guarded([&] { return exec_material(reinterpret_cast<MaterialState *>(node)); });
}

void end_scan(CustomScanState *node) {
    guarded([&] {
        auto *st = reinterpret_cast<MaterialState *>(node);
        release_log(st, true);
        ExecEndNode(st->child);
    });
}

void rescan(CustomScanState *node) {
    guarded([&] { rescan_material(reinterpret_cast<MaterialState *>(node)); });
}

void mark_pos(CustomScanState *node) {
    auto *st = reinterpret_cast<MaterialState *>(node);
    st->mark = st->at;
}

void restr_pos(CustomScanState *node) {
    auto *st = reinterpret_cast<MaterialState *>(node);
    st->at = st->mark;
}

void explain_scan(CustomScanState *node, List *, ExplainState *es) {
    auto *st = reinterpret_cast<MaterialState *>(node);
    ExplainPropertyText("Mode", st->passthrough ? "pass-through" : "serial", es);
    explain_share_verdict(node, es);  // issue 6: "Cross-Session Sharing: ..." (VERBOSE)
    if (!es->analyze) return;
    uint64_t peak = st->peak_bytes;
    uint64_t spilled = st->pages_spilled;
    const char *io = st->io_mode;
    if (st->ls != nullptr) {
        core::LogStats s = st->ls->log->stats();
        if (s.peak_ring_bytes > peak) peak = s.peak_ring_bytes;
        spilled += s.pages_spilled;
        if (st->ls->spill->opened()) io = st->ls->spill->mode_name();
    }
    ExplainPropertyInteger("Rows Produced", nullptr, static_cast<int64>(st->rows_produced), es);
    ExplainPropertyInteger("Rows Read", nullptr, static_cast<int64>(st->rows_read), es);
    ExplainPropertyInteger("Materializations", nullptr, static_cast<int64>(st->materializations),
                           es);
    ExplainPropertyInteger("Peak Memory", "kB", static_cast<int64>((peak + 1023) / 1024), es);
    ExplainPropertyInteger("Pages Spilled", nullptr, static_cast<int64>(spilled), es);
    ExplainPropertyText("Spill I/O", io, es);
}

CustomExecMethods exec_methods = {
    kMaterialName, begin_scan, exec_scan, end_scan, rescan, mark_pos, restr_pos,
    nullptr,       nullptr,    nullptr,   nullptr,  nullptr, explain_scan,
};

Node *create_state(CustomScan *) {
    auto *st = static_cast<MaterialState *>(palloc0(sizeof(MaterialState)));
    NodeSetTag(st, T_CustomScanState);
    st->css.methods = &exec_methods;
    st->css.flags = CUSTOMPATH_SUPPORT_BACKWARD_SCAN | CUSTOMPATH_SUPPORT_MARK_RESTORE;
    return reinterpret_cast<Node *>(st);
}

}  // namespace

CustomScanMethods material_scan_methods = {kMaterialName, create_state};

void register_material_methods() { RegisterCustomScanMethods(&material_scan_methods); }

}  // namespace pm::pg
