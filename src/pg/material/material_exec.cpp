// material_exec.cpp — executor of Custom Scan (ParallelMaterial): Material's semantics over the
// shared tuple log (core::TupleLog). The child is read lazily, each row is appended to the log
// and read back through this node's cursor; rescans reset the cursor; backward scans and
// mark/restore move it. The log's ring is bounded by parallel_material.memory_limit; older pages
// spill to a temporary file.
// Inside a parallel query (a shared MaterialMode), the log lives in the query's dynamic shared
// memory and serves every participant: one participant produces it (Shared) or all of them do,
// each appending the table blocks it claims (SharedScan); every producer finishes producing
// before it returns a row, then all read the whole log, sleeping on a ConditionVariable while it
// fills.
// A node the cross-session sharing pass put above a plan root (whole result, CTE, InitPlan) and
// that is read forward once runs "streaming" (exec_direct): no local log, rows straight from the
// shared entry on a hit or attach, or from the child as it returns them (see material_share.hpp).
#include <new>

#include "parallel_material/core/tuple_log.hpp"
#include "pg/gucs.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"
#include "pg/material/log_tuple.hpp"
#include "pg/material/material_node.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/material/material_producers.hpp"
#include "pg/share/material_share.hpp"
#include "pg/material/material_shared.hpp"
#include "pg/material/partial_agg.hpp"
#include "pg/share/share_exec_privileges.hpp"
#include "pg/shmem.hpp"
#include "pg/material/temp_spill.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "jit/jit.h"
#include "nodes/nodeFuncs.h"
#include "nodes/execnodes.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "utils/snapmgr.h"
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
    void *raw = nullptr;     // palloc'd in the query context (serial; null when shared)
    char *region = nullptr;  // raw, 64-byte aligned; or in dynamic shared memory
    core::LogConfig cfg;
    std::unique_ptr<TempSpillFile> spill;
    std::unique_ptr<core::WaitHooks> hooks;  // shared: the node's ConditionVariable
    std::unique_ptr<ProducerGroup> producers;  // serial node with producer workers
    std::unique_ptr<core::TupleLog> log;
    core::Cursor cursor;
    // SharedPartialAgg: this participant's handle on the log of partial rows
    std::unique_ptr<TempSpillFile> partial_spill;
    std::unique_ptr<core::WaitHooks> partial_hooks;
    std::unique_ptr<core::TupleLog> partial;
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
    PlanState *child;      // null until initialized (lazily where child_may_wait says so)
    Plan *child_plan;
    int child_eflags;
    int eflags;            // REWIND | BACKWARD | MARK as Material keeps them
    bool passthrough;      // no flags: stream the child, store nothing (as Material does)
    ShareSite site;        // a replaced Material, or a node the sharing pass put above a root
    bool direct;           // a site above a root read forward only: stream, no local log
    bool direct_started;   // direct: the run decided its sharing role
    MemoryContext query_cxt;
    MemoryContextCallback cleanup;
    LogState *ls;
    TupleTableSlot *out;   // MinimalTuple slot the rows are returned in
    bool child_done;
    bool needs_restart;    // the child must run again before the next read
    Saved at;
    Saved mark;
    char spill_dir[MAXPGPATH];
    // Shared modes (inside a parallel query)
    MaterialMode mode;         // as planned
    SharedMaterial *shared;    // while this participant uses the shared log
    SharedMaterial *dsm_shared;  // leader: until the segment detaches
    dsm_segment *dsm_seg;      // leader: the segment our detach callback is registered on
    int slot;                  // this participant's counters slot
    bool role_decided;         // produced (or learned it will not) since the last (re)start
    bool child_used;           // the child ran since it was last rescanned
    bool counters_flushed;     // worker: its counters went to its slot
    uint32 nworker_slots;      // leader: workers' counters copied at detach
    ParticipantCounters *workers;
    uint64 shared_materializations;
    // Producer workers of a serial node (max_producers)
    uint64 producer_runs;       // materializations that used producer workers
    uint64 producers_launched;  // workers launched, all runs
    uint64 producer_rows;       // rows the workers produced, all runs
    // EXPLAIN ANALYZE counters (this process)
    uint64_t rows_produced;
    uint64_t rows_read;
    uint64_t materializations;
    uint64_t peak_bytes;
    uint64_t pages_spilled;
    const char *io_mode;
    NodeShare *share;  // issue 6: sharing the result across sessions (serial mode), or null
    LogTupleForm form; // how rows enter the log and shared entries
    // SharedPartialAgg (issue 15)
    PartialAggParts parts;      // Finalize Agg's reader, the Partial Agg, its Seq Scan
    bool partial_used;          // the Partial Agg ran since it was last restarted
    LogTupleForm partial_form;  // how partial rows enter their log
    uint64 partial_producers;   // leader: participants that aggregated a share, all runs
    uint64 partial_rows;        // leader: partial rows they appended, all runs
};

// The Partial Agg starts over at its next fetch: a hashed aggregate would otherwise return the
// groups it already built (ExecReScanAgg keeps a filled hash table when nothing changed), but a
// new run aggregates another share of the table. A "changed parameter" on its Seq Scan makes
// ExecReScanAgg drop the table; the scan is rescanned at its next fetch (ExecProcNode).
void restart_partial(MaterialState *st) {
    PlanState *partial = st->parts.partial;
    PlanState *scan = &st->parts.scan->ps;
    pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(st->query_cxt);
        scan->chgParam = bms_add_member(scan->chgParam, 0);
        MemoryContextSwitchTo(old);
        ExecReScan(partial);
    });
    st->partial_used = false;
}

// Points the Finalize Agg's reader at this participant's handle on the partial rows, or back at
// the Partial Agg (a serial run: then the Partial Agg restarts if it ran for the shared log).
void attach_reader(MaterialState *st, core::TupleLog *log) {
    if (st->parts.reader == nullptr) return;
    partial_reader_attach(st->parts.reader, log);
    if (log == nullptr && st->partial_used) restart_partial(st);
}

void fold_stats(MaterialState *st) {
    // No handle: a release that failed half-way (an error, such as a statement_timeout, while
    // waiting for producer workers) and is now finished by the abort's cleanup callback.
    if (!st->ls->log) return;
    core::LogStats s = st->ls->log->stats();
    if (s.peak_ring_bytes > st->peak_bytes) st->peak_bytes = s.peak_ring_bytes;
    st->pages_spilled += s.pages_spilled;
    if (st->ls->spill && st->ls->spill->opened()) st->io_mode = st->ls->spill->mode_name();
}

// Frees the C++ state. free_region: also pfree the ring (false when the query context is being
// reset anyway, from its callback).
// Ends producer workers (if any) and keeps their counters; PostgreSQL calls: normal paths only.
void finish_producers(MaterialState *st) {
    ProducerGroup *g = st->ls != nullptr ? st->ls->producers.get() : nullptr;
    if (g == nullptr || g->shared() == nullptr) return;
    g->finish();
}

void release_log(MaterialState *st, bool free_region) {
    if (st->ls == nullptr) return;
    if (st->out != nullptr) ExecClearTuple(st->out);  // it may point into the ring
    fold_stats(st);
    if (ProducerGroup *g = st->ls->producers.get()) {
        if (g->shared() != nullptr) st->producer_rows += g->worker_rows();
        // Normal end: wait for the workers and detach the segment. From a reset callback (an
        // abort), PostgreSQL has already ended the parallel context and released the segment.
        if (free_region) {
            // A leader that stops before its child's end (a LIMIT above) still owns a chunk of
            // the log: close it, or a worker that needs that chunk's page (the ring wrapped)
            // would wait for it while we wait for the worker.
            if (st->ls->log) st->ls->log->flush();
            st->ls->log.reset();
            g->release();
        }
    }
    if (st->ls->partial && st->parts.reader != nullptr)
        partial_reader_attach(st->parts.reader, nullptr);
    void *raw = st->ls->raw;
    delete st->ls;
    st->ls = nullptr;
    if (free_region && raw != nullptr) pfree(raw);
}

void detach_callback(dsm_segment *seg, Datum arg);

// The JIT flags for the child of a node in a shared mode (issue 15). The planner decided JIT for
// the whole plan, whose cost may be mostly the parent's (a SubPlan's cost per outer row, a nested
// loop's per outer row); in a shared mode the child runs once for the whole query (one producer,
// or split across participants), yet every participant would compile its expressions. So the
// child keeps only the flags that PostgreSQL's own rule (standard_planner) gives a plan of the
// child's cost: none below jit_above_cost, no optimization or inlining below those thresholds.
// Only ever removes flags; results do not depend on JIT.
int shared_child_jit_flags(const MaterialState *st, int flags) {
    if (st->mode == MaterialMode::Serial || !(flags & PGJIT_PERFORM)) return flags;
    const double cost = st->child_plan->total_cost;
    if (jit_above_cost < 0 || cost <= jit_above_cost) return PGJIT_NONE;
    if (jit_optimize_above_cost < 0 || cost <= jit_optimize_above_cost) flags &= ~PGJIT_OPT3;
    if (jit_inline_above_cost < 0 || cost <= jit_inline_above_cost) flags &= ~PGJIT_INLINE;
    return flags;
}

// Initializes the child (ExecInitNode) unless it already is: at node start, or — a node whose
// hits never run it (issue 15, child_may_wait) — when a run first executes it (produce, skip,
// take-over).
// display: only so that EXPLAIN ANALYZE shows the subtree that did not run, as stock shows a node
// never executed; nothing in it is JIT-compiled (if a later run of a cursor does execute it, it
// runs interpreted: same rows).
void init_child(MaterialState *st, bool display) {
    if (st->child != nullptr) return;
    EState *estate = st->css.ss.ps.state;
    pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
        const int jit_flags = estate->es_jit_flags;
        estate->es_jit_flags = display ? PGJIT_NONE : shared_child_jit_flags(st, jit_flags);
        PlanState *child = ExecInitNode(st->child_plan, estate, st->child_eflags);
        estate->es_jit_flags = jit_flags;
        st->css.custom_ps = list_make1(child);
        st->child = child;
        MemoryContextSwitchTo(old);
    });
}

// EXPLAIN ANALYZE (es_instrument): initializes, for display, every child of a ParallelMaterial
// node at or below ps that no run initialized, so that the plan prints as stock's.
bool init_for_display_walker(PlanState *ps, void *) {
    if (ps == nullptr) return false;
    if (IsA(ps->plan, CustomScan) &&
        castNode(CustomScan, ps->plan)->methods == &material_scan_methods) {
        auto *st = reinterpret_cast<MaterialState *>(ps);
        if (st->child == nullptr) init_child(st, true);
    }
    return planstate_tree_walker(
        ps, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(init_for_display_walker)),
        nullptr);
}

void init_for_display(MaterialState *st) {
    if (st->child == nullptr && st->css.ss.ps.state->es_instrument != 0)
        init_for_display_walker(&st->css.ss.ps, nullptr);
}

void cleanup_callback(void *arg) {
    auto *st = static_cast<MaterialState *>(arg);
    share_free(st->share);  // a producer that has not published fails its entry
    st->share = nullptr;
    release_log(st, false);
    st->shared = nullptr;
    if (st->dsm_seg != nullptr) {
        // The query's memory goes before its parallel segment (an aborted portal): unhook, and
        // remove the spill file now.
        cancel_on_dsm_detach(st->dsm_seg, detach_callback, PointerGetDatum(st));
        if (st->dsm_shared != nullptr) {
            unlink(st->dsm_shared->spill_path);
            if (st->dsm_shared->partial_spill_path[0] != '\0')
                unlink(st->dsm_shared->partial_spill_path);
        }
        st->dsm_seg = nullptr;
        st->dsm_shared = nullptr;
    }
}

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

// A log in dynamic shared memory: capped ring (see kSharedRingCap). Only a log with one
// producer keeps the previous record's length (backward reads, marks).
core::LogConfig shared_log_config(bool single_producer) {
    core::LogConfig cfg = config_for(std::min(memory_limit_bytes(), kSharedRingCap));
    cfg.single_producer = single_producer;
    return cfg;
}

// Opens a fresh log: allocates the ring on first use, reuses it (TupleLog::reset) when the child
// runs again after a parameter change. Ring pages are touched only when reached.
// allow_producers: false when the run is shared across sessions (one producer streams it).
void start_log(MaterialState *st, bool allow_producers) {
    LogState *ls = st->ls;
    if (ls != nullptr && ls->producers) {  // a fresh group per run
        release_log(st, true);
        ls = nullptr;
    }
    const bool producers = allow_producers && ProducerGroup::eligible(st->child, st->eflags);
    if (ls == nullptr && producers) {
        ls = new LogState();
        st->ls = ls;
        ls->cfg = shared_log_config(false);
        ls->producers.reset(ProducerGroup::start(st->child, ls->cfg, settings.max_producers,
                                                 st->spill_dir));
        SharedMaterial *sh = ls->producers->shared();
        ls->region = shared_log_region(sh);
        ls->spill = std::make_unique<TempSpillFile>(TempSpillFile::Shared{}, sh->spill_path,
                                                    spill_mode_setting());
        ls->hooks = std::make_unique<CvWaitHooks>(&sh->cv);
        ls->log = std::make_unique<core::TupleLog>(ls->region, ls->spill.get(), ls->hooks.get());
        st->producer_runs++;
        st->producers_launched += static_cast<uint64>(ls->producers->launched());
        // The leader registered as a producer before the workers started (ProducerGroup::start).
    } else {
        if (ls == nullptr) {
            ls = new LogState();
            st->ls = ls;
            ls->cfg = config_for(memory_limit_bytes());
            size_t size = core::TupleLog::region_size(ls->cfg);
            ls->raw = pg_call([&] { return MemoryContextAllocHuge(st->query_cxt, size + 64); });
            ls->region =
                reinterpret_cast<char *>(TYPEALIGN(64, reinterpret_cast<uintptr_t>(ls->raw)));
            ls->spill = std::make_unique<TempSpillFile>(st->spill_dir, spill_mode_setting());
        } else {
            ExecClearTuple(st->out);
            fold_stats(st);
            ls->log.reset();
        }
        core::TupleLog::create(ls->region, ls->cfg);
        ls->log = std::make_unique<core::TupleLog>(ls->region, ls->spill.get(), &g_interrupt_hooks);
        if (!ls->log->try_register_producer())
            throw core::Error(core::Error::Code::Internal, "new log refused its producer");
    }
    ls->cursor = core::Cursor();
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
[[noreturn]] void producer_failed() {
    await_producer_error();
    throw core::Error(core::Error::Code::Internal,
                      "the participant producing a shared materialization failed");
}

bool produce_one(MaterialState *st) {
    core::TupleLog &log = *st->ls->log;
    // Another producer (a participant or a producer worker) failed: its error is the query's.
    if (log.failed()) producer_failed();
    if (share_reading(st->share)) {  // issue 6: rows another session's run produces or produced
        const void *data = nullptr;
        uint32_t len = 0;
        switch (share_next(st->share, &data, &len)) {
            case ShareNext::Record:
                log.append(data, len);
                return true;
            case ShareNext::End:
                st->child_done = true;
                log.producer_done();
                return false;
            case ShareNext::RunChild:  // run the child from the start (checking what we copied)
                if (st->shared != nullptr) st->shared->share.fell_back = 1;
                break;
        }
    }
    init_child(st, false);  // a take-over: this run executes the child after all
    TupleTableSlot *slot = share_pull(st->share, st->child);
    if (TupIsNull(slot)) {
        share_check_end(st->share);
        st->child_done = true;
        log.producer_done();
        share_child_done(st->share);
        return false;
    }
    bool should_free = false;
    MinimalTuple tuple = pg_call([&] { return log_tuple_fetch(&st->form, slot, &should_free); });
    if (share_check_row(st->share, tuple, tuple->t_len)) {  // the log has it (copied)
        if (should_free) pfree(tuple);
        return true;
    }
    bool failed_elsewhere = false;
    try {
        log.append(tuple, tuple->t_len);
    } catch (const core::Error &) {
        failed_elsewhere = log.failed();
        if (!failed_elsewhere) throw;
    }
    if (failed_elsewhere) producer_failed();
    st->rows_produced++;
    share_row(st->share, tuple, tuple->t_len);
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
        core::ReadStatus status = log.try_read(st->ls->cursor, &rec);
        if (status == core::ReadStatus::WouldBlock) {
            if (st->shared == nullptr && !st->child_done) {
                produce_one(st);  // serial: the leader produces lazily (with its workers, if any)
                continue;
            }
            if (st->shared == nullptr && !st->ls->producers)
                throw core::Error(core::Error::Code::Internal, "log not sealed at child end");
            // Other producers (participants, or our producer workers) are still appending.
            status = log.read(st->ls->cursor, &rec);
        }
        if (status == core::ReadStatus::End && st->ls->producers) finish_producers(st);
        switch (status) {
            case core::ReadStatus::Record:
                st->at = Saved{Position::OnRow, rec.pos, st->ls->cursor.position()};
                return emit(st, rec);
            case core::ReadStatus::End:
                st->at = Saved{Position::AfterLast, 0, from};
                return ExecClearTuple(st->out);
            case core::ReadStatus::Failed:
                if (st->shared != nullptr || st->ls->producers) producer_failed();
                throw core::Error(core::Error::Code::Internal, "materialization failed");
            case core::ReadStatus::WouldBlock:
                throw core::Error(core::Error::Code::Internal, "blocking read returned early");
        }
    }
}

// Shared modes: take part in producing the log if there is still something to produce, and
// finish producing before returning the first row (a participant that returns rows may block
// on its tuple queue to the leader, while the leader may be waiting for this log: Parallel
// Hash's rule).
void produce_shared(MaterialState *st) {
    SharedMaterial *sh = st->shared;
    core::TupleLog &log = *st->ls->log;
    st->role_decided = true;
    const bool first = pg_atomic_exchange_u32(&sh->producer_claimed, 1) == 0;
    // A run shared across sessions (issue 6) has one producer in every mode: it copies the
    // other session's entry into the log, or produces the entry while it produces the log.
    const bool cross_session = sh->share.role != kHandoffNone;
    if ((st->mode != MaterialMode::SharedScan || cross_session) && !first) return;
    if (!log.try_register_producer()) return;  // SharedScan: the others already finished
    if (cross_session) share_join(&st->share, &sh->share);
    if (first) {
        pg_atomic_fetch_add_u32(&sh->materializations, 1);
        if (SharedState *state = shared_state())
            pg_atomic_fetch_add_u64(&state->stats.materializations, 1);
    }
    if (st->child_used) pg_call([&] { ExecReScan(st->child); });
    st->child_used = true;
    st->child_done = false;
    bool failed_elsewhere = false;
    try {
        while (produce_one(st)) {
        }
    } catch (const PgException &) {
        // A PostgreSQL error is the query's error, also when another producer failed first:
        // it is this participant's own, or (the leader, waiting in producer_failed) the failed
        // producer's error that CHECK_FOR_INTERRUPTS received; swallowing it would replace the
        // query's error with producer_failed's.
        if (!log.failed()) log.fail();
        throw;
    } catch (...) {
        // Another producer failed first (its error is the query's): stop without adding ours.
        failed_elsewhere = log.failed();
        if (!failed_elsewhere) {
            log.fail();  // wakes the readers; the query's error comes from this participant
            throw;
        }
    }
    if (failed_elsewhere) producer_failed();
}

// SharedPartialAgg: aggregate the table blocks this participant claims (the Partial Agg over the
// shared parallel scan) into the log of partial rows, unless every producer already finished
// (then every block was aggregated by one of them). A failure fails both logs: the participant
// combining the partial rows and the readers of the final rows all stop.
void produce_partial(MaterialState *st) {
    SharedMaterial *sh = st->shared;
    core::TupleLog &plog = *st->ls->partial;
    if (!plog.try_register_producer()) return;
    pg_atomic_fetch_add_u32(&sh->partial_producers, 1);
    bool failed_elsewhere = false;
    try {
        if (st->partial_used) restart_partial(st);
        st->partial_used = true;
        st->child_used = true;  // the Finalize Agg above restarts before a serial run reads it
        uint64 rows = 0;
        for (;;) {
            if (plog.failed()) producer_failed();
            TupleTableSlot *slot = pg_call([&] { return ExecProcNode(st->parts.partial); });
            if (TupIsNull(slot)) break;
            bool should_free = false;
            MinimalTuple tuple =
                pg_call([&] { return log_tuple_fetch(&st->partial_form, slot, &should_free); });
            plog.append(tuple, tuple->t_len);
            if (should_free) pfree(tuple);
            rows++;
        }
        pg_atomic_fetch_add_u64(&sh->partial_rows, rows);
        plog.flush();
        plog.producer_done();
    } catch (const PgException &) {  // the query's error (see produce_shared())
        if (!plog.failed()) {
            plog.fail();
            st->ls->log->fail();
        }
        throw;
    } catch (...) {
        failed_elsewhere = plog.failed();
        if (!failed_elsewhere) {
            plog.fail();
            st->ls->log->fail();  // wakes the readers of the final rows too
            throw;
        }
    }
    if (failed_elsewhere) producer_failed();
}

// SharedPartialAgg: every participant aggregates its share, then the first to claim production
// of the node's log runs the Finalize Agg over everyone's partial rows. A run shared across
// sessions has one producer, which runs the whole aggregate over the parallel scan alone.
void produce_partial_agg(MaterialState *st) {
    if (st->shared->share.role != kHandoffNone) {
        attach_reader(st, nullptr);
        produce_shared(st);
        return;
    }
    produce_partial(st);
    produce_shared(st);
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

// Why this serial run may not be shared across sessions (issue 6), or nullptr. A node that runs
// per participant in a parallel part of the plan may see only its participant's share of the
// child's rows. (A shared-mode node that runs serially got no parallel segment: it runs its
// whole child in this process.)
const char *share_obstacle(MaterialState *st) {
    auto *cscan = reinterpret_cast<CustomScan *>(st->css.ss.ps.plan);
    const auto why = static_cast<SerialReason>(intVal(lthird(cscan->custom_private)));
    if (why != SerialReason::NotParallel && why != SerialReason::None)
        return "in a parallel part of the plan";
    return nullptr;
}

// A sharing site above a plan root (whole result, CTE, InitPlan) that its parent reads forward
// once: no local log. A hit or an attach returns the rows straight from the shared entry's log
// (the slot points into it; the row stays valid until the next call); a producer returns each row
// as its child returns it, after appending it to the entry; a skip just passes the child's rows.
TupleTableSlot *exec_direct(MaterialState *st) {
    if (st->child_done) return ExecClearTuple(st->out);
    if (!st->direct_started) {
        st->direct_started = true;
        st->materializations++;
        share_start(&st->share, &st->css, st->child_plan, nullptr);
    }
    if (share_reading(st->share)) {
        const void *data = nullptr;
        uint32_t len = 0;
        switch (share_next(st->share, &data, &len)) {
            case ShareNext::Record:
                st->rows_read++;
                return ExecStoreMinimalTuple(static_cast<MinimalTuple>(const_cast<void *>(data)),
                                             st->out, false);
            case ShareNext::End:
                st->child_done = true;
                return ExecClearTuple(st->out);
            case ShareNext::RunChild:
                break;  // run the child from the start (checking the rows already returned)
        }
    }
    // produce, skip or take over: this run executes the child
    share_initializing(st->share, [&] { init_child(st, false); });
    TupleTableSlot *slot;
    for (;;) {
        slot = share_pull(st->share, st->child);
        if (TupIsNull(slot)) {
            share_check_end(st->share);
            st->child_done = true;
            share_child_done(st->share);
            return ExecClearTuple(st->out);
        }
        if (!share_verifying(st->share)) break;
        bool should_free = false;
        MinimalTuple tuple = pg_call([&] { return log_tuple_fetch(&st->form, slot, &should_free); });
        const bool returned_already = share_check_row(st->share, tuple, tuple->t_len);
        if (should_free) pfree(tuple);
        if (!returned_already) break;
    }
    st->rows_produced++;
    if (share_producing(st->share)) {
        bool should_free = false;
        MinimalTuple tuple = pg_call([&] { return log_tuple_fetch(&st->form, slot, &should_free); });
        share_row(st->share, tuple, tuple->t_len);
        if (should_free) pfree(tuple);
    }
    return slot;
}

// End of a streaming whole-result producer whose parent stopped calling before the end (PL/pgSQL
// SELECT INTO and SPI with a row count stop after the first row; a portal closed early). A
// result is published only when complete: one more call of the child says whether it is (a
// single-row result usually is), and if so the entry is published instead of failed. Only the
// whole-result site (the main tree ends before the subplans it may use) and only inside a live
// transaction (ExecutorEnd also runs while portals are dropped at abort).
void finish_direct(MaterialState *st) {
    if (st->site != ShareSite::WholeResult || st->child_done || !share_producing(st->share) ||
        !IsTransactionState())
        return;
    EState *estate = st->css.ss.ps.state;
    pg_call([&] { PushActiveSnapshot(estate->es_snapshot); });
    TupleTableSlot *slot = share_pull(st->share, st->child);
    pg_call([] { PopActiveSnapshot(); });
    if (TupIsNull(slot)) {
        st->child_done = true;
        share_child_done(st->share);
    }
}

TupleTableSlot *exec_material(MaterialState *st) {
    if (st->direct) return exec_direct(st);
    if (st->passthrough) {
        TupleTableSlot *slot = pg_call([&] { return ExecProcNode(st->child); });
        if (!TupIsNull(slot)) st->rows_produced++;
        return slot;
    }
    if (st->shared != nullptr) {
        if (!st->role_decided) {
            if (st->mode == MaterialMode::SharedPartialAgg) produce_partial_agg(st);
            else produce_shared(st);
        }
        if (!ScanDirectionIsForward(st->css.ss.ps.state->es_direction))
            throw core::Error(core::Error::Code::Internal,
                              "backward scan of a shared materialization");
        return exec_forward(st);
    }
    if (st->ls == nullptr || st->needs_restart) {
        if (st->child_used) {  // it ran for a shared log before: start it over
            pg_call([&] { ExecReScan(st->child); });
            st->child_used = false;
        }
        // A Partial Agg that aggregated one participant's share starts over on the whole table.
        if (st->mode == MaterialMode::SharedPartialAgg && st->partial_used) restart_partial(st);
        // Sharing first: a run another session produces or produced starts no producer workers,
        // and a run this node produces for other sessions has one producer (it streams the
        // rows to them as they come).
        share_start(&st->share, &st->css, st->child_plan, share_obstacle(st));
        if (!share_reading(st->share)) init_child(st, false);  // producer workers look at it
        start_log(st, !share_engaged(st->share));
        st->needs_restart = false;
    }
    bool forward = ScanDirectionIsForward(st->css.ss.ps.state->es_direction);
    return forward ? exec_forward(st) : exec_backward(st);
}

void rescan_material(MaterialState *st) {
    PlanState *child = st->child;
    if (st->direct) {
        // The next read starts a new run (a producer that did not finish fails its entry).
        share_stop(st->share);
        ExecClearTuple(st->out);
        st->direct_started = false;
        st->child_done = false;
        if (child == nullptr) return;  // never initialized: it will start fresh if it runs
        if (st->css.ss.ps.chgParam != nullptr) UpdateChangedParamSet(child, st->css.ss.ps.chgParam);
        if (child->chgParam == nullptr) ExecReScan(child);
        return;
    }
    if (st->css.ss.ps.chgParam != nullptr && child != nullptr)
        UpdateChangedParamSet(child, st->css.ss.ps.chgParam);
    if (st->passthrough) {
        if (child->chgParam == nullptr) ExecReScan(child);
        return;
    }
    if (st->shared != nullptr) {
        // The planner shares only children that read no outside parameter.
        if (child->chgParam != nullptr)
            throw core::Error(core::Error::Code::Internal,
                              "parameter change under a shared materialization");
        st->at = Saved{};
        return;
    }
    if (st->ls == nullptr) return;  // nothing stored yet; the child starts fresh anyway
    // A child never initialized (the run read a shared entry): a change of a parameter its
    // plan reads (what UpdateChangedParamSet would pass down) stands for its child's (it would
    // start fresh if it ran). A SubPlan's own argument Params (subplan_operand.cpp) are changed
    // on every call, and the child reads none of them.
    const bool changed = child != nullptr
                             ? child->chgParam != nullptr
                             : bms_overlap(st->css.ss.ps.chgParam, st->child_plan->allParam);
    if (changed || (st->eflags & EXEC_FLAG_REWIND) == 0) {
        // The child's output changes: materialize again (same ring, emptied).
        st->needs_restart = true;
        if (!changed && child != nullptr) ExecReScan(child);
        return;
    }
    st->at = Saved{};
    st->ls->log->seek(st->ls->cursor, 0);
}

// ---- shared modes: the log in the parallel query's dynamic shared memory ----

// The Seq Scan the participants split: the child itself (SharedScan), or the one below the
// Partial Agg (SharedPartialAgg).
ScanState *split_scan(MaterialState *st) {
    if (st->mode == MaterialMode::SharedPartialAgg) return st->parts.scan;
    return reinterpret_cast<ScanState *>(st->child);
}

bool splits_scan(const MaterialState *st) {
    return st->mode == MaterialMode::SharedScan || st->mode == MaterialMode::SharedPartialAgg;
}

Relation child_relation(MaterialState *st) { return split_scan(st)->ss_currentRelation; }

core::LogConfig shared_config(const MaterialState *st) {
    return shared_log_config(st->mode != MaterialMode::SharedScan);
}

// The log of partial rows: every participant appends; usually a few rows per group and
// participant, so a small ring (it spills beyond, as any log).
constexpr long kPartialRingCap = 1L * 1024 * 1024;
core::LogConfig partial_config() {
    core::LogConfig cfg = config_for(std::min(memory_limit_bytes(), kPartialRingCap));
    cfg.single_producer = false;
    return cfg;
}

SharedLayout layout_for(MaterialState *st, int nslots, Size scan_size) {
    const core::LogConfig pcfg = partial_config();
    return shared_layout(nslots, scan_size, shared_config(st),
                         st->mode == MaterialMode::SharedPartialAgg ? &pcfg : nullptr);
}

Size shared_scan_size(MaterialState *st) {
    if (!splits_scan(st)) return 0;
    return pg_call([&] {
        return table_parallelscan_estimate(child_relation(st), st->css.ss.ps.state->es_snapshot);
    });
}

// SharedScan: the child Seq Scan reads the blocks it claims from the shared scan descriptor.
void use_parallel_scan(MaterialState *st, SharedMaterial *sh) {
    ScanState *scan = split_scan(st);
    auto pscan = reinterpret_cast<ParallelTableScanDesc>(reinterpret_cast<char *>(sh) + sh->scan_offset);
    pg_call([&] {
        if (scan->ss_currentScanDesc != nullptr) table_endscan(scan->ss_currentScanDesc);
        scan->ss_currentScanDesc = table_beginscan_parallel(scan->ss_currentRelation, pscan);
    });
    if (st->mode == MaterialMode::SharedScan) st->child_used = false;  // a fresh scan
}

// This participant reads (and may produce) the shared log from now on.
void attach_shared(MaterialState *st, SharedMaterial *sh, int slot) {
    release_log(st, true);
    auto *ls = new LogState();
    st->ls = ls;
    ls->region = shared_log_region(sh);
    ls->cfg = shared_config(st);
    ls->spill = std::make_unique<TempSpillFile>(TempSpillFile::Shared{}, sh->spill_path,
                                                spill_mode_setting());
    ls->hooks = std::make_unique<CvWaitHooks>(&sh->cv);
    ls->log = std::make_unique<core::TupleLog>(ls->region, ls->spill.get(), ls->hooks.get());
    if (st->mode == MaterialMode::SharedPartialAgg && shared_partial_region(sh) != nullptr) {
        ls->partial_spill = std::make_unique<TempSpillFile>(
            TempSpillFile::Shared{}, sh->partial_spill_path, spill_mode_setting());
        ls->partial_hooks = std::make_unique<CvWaitHooks>(&sh->cv);
        ls->partial = std::make_unique<core::TupleLog>(shared_partial_region(sh),
                                                       ls->partial_spill.get(),
                                                       ls->partial_hooks.get());
        attach_reader(st, ls->partial.get());
    }
    st->shared = sh;
    st->slot = slot;
    st->role_decided = false;
    st->child_done = false;
    st->at = Saved{};
    st->mark = Saved{};
}

// Leader: the parallel query's segment is going away (end of the Gather, or abort). Keep the
// workers' counters for EXPLAIN, drop our handle on the log, remove the spill file.
void detach_callback(dsm_segment *, Datum arg) {
    auto *st = reinterpret_cast<MaterialState *>(DatumGetPointer(arg));
    SharedMaterial *sh = st->dsm_shared;
    if (sh != nullptr) {
        for (uint32 i = 1; i < sh->nslots && i < st->nworker_slots + 1; ++i) {
            ParticipantCounters &w = st->workers[i - 1];
            const ParticipantCounters &c = sh->slots[i];
            w.rows_produced += c.rows_produced;
            w.rows_read += c.rows_read;
            w.pages_read_back += c.pages_read_back;
            w.runs += c.runs;
            if (c.io_mode[0] != '\0') memcpy(w.io_mode, c.io_mode, sizeof(w.io_mode));
        }
        st->shared_materializations += pg_atomic_read_u32(&sh->materializations);
        st->partial_producers += pg_atomic_read_u32(&sh->partial_producers);
        st->partial_rows += pg_atomic_read_u64(&sh->partial_rows);
        if (sh->partial_spill_path[0] != '\0') unlink(sh->partial_spill_path);
        if (sh->share.fell_back) share_note_fallback(st->share);
        unlink(sh->spill_path);
    }
    try {
        if (st->shared != nullptr) release_log(st, false);
    } catch (...) {
        // nothing in release_log throws; never let anything escape into PostgreSQL
    }
    st->shared = nullptr;
    st->dsm_shared = nullptr;
    st->dsm_seg = nullptr;
}

Size estimate_dsm_impl(MaterialState *st, ParallelContext *pcxt) {
    return layout_for(st, pcxt->nworkers + 1, shared_scan_size(st)).total;
}

void initialize_dsm_impl(MaterialState *st, ParallelContext *pcxt, void *coordinate) {
    SharedMaterial *sh = shared_at(coordinate);
    const core::LogConfig cfg = shared_config(st);
    const core::LogConfig pcfg = partial_config();
    const bool partial = st->mode == MaterialMode::SharedPartialAgg;
    const SharedLayout l = layout_for(st, pcxt->nworkers + 1, shared_scan_size(st));
    init_shared_material(sh, l, cfg, pcxt->nworkers + 1, partial ? &pcfg : nullptr);
    if (st->nworker_slots < static_cast<uint32>(pcxt->nworkers)) {
        auto *grown = static_cast<ParticipantCounters *>(pg_call([&] {
            return MemoryContextAllocZero(st->query_cxt,
                                          sizeof(ParticipantCounters) * pcxt->nworkers);
        }));
        if (st->nworker_slots > 0)
            memcpy(static_cast<void *>(grown), st->workers,
                   sizeof(ParticipantCounters) * st->nworker_slots);
        st->workers = grown;
        st->nworker_slots = static_cast<uint32>(pcxt->nworkers);
    }
    // Hook the segment's end before the file exists, so that no path leaves it behind.
    pg_call([&] { on_dsm_detach(pcxt->seg, detach_callback, PointerGetDatum(st)); });
    st->dsm_seg = pcxt->seg;
    st->dsm_shared = sh;
    if (st->spill_dir[0] == '\0')
        pg_call([&] { TempSpillFile::temp_dir(st->spill_dir, sizeof(st->spill_dir)); });
    TempSpillFile::create_shared(st->spill_dir, sh->spill_path, sizeof(sh->spill_path));
    if (partial)
        TempSpillFile::create_shared(st->spill_dir, sh->partial_spill_path,
                                     sizeof(sh->partial_spill_path));
    if (splits_scan(st)) {
        auto pscan = reinterpret_cast<ParallelTableScanDesc>(reinterpret_cast<char *>(sh) +
                                                             sh->scan_offset);
        pg_call([&] {
            table_parallelscan_initialize(child_relation(st), pscan,
                                          st->css.ss.ps.state->es_snapshot);
        });
        use_parallel_scan(st, sh);
    }
    attach_shared(st, sh, 0);
    // issue 6: the leader decides, before any worker starts, whether this run is shared.
    share_start_parallel(&st->share, &st->css, st->child, &sh->share);
}

// Gather rescan: the workers are gone; empty the log, let production be claimed again.
void reinitialize_dsm_impl(MaterialState *st, void *coordinate) {
    SharedMaterial *sh = shared_at(coordinate);
    if (st->ls != nullptr) fold_stats(st);
    release_log(st, true);
    core::TupleLog::reset(shared_log_region(sh));
    pg_atomic_write_u32(&sh->producer_claimed, 0);
    if (shared_partial_region(sh) != nullptr) core::TupleLog::reset(shared_partial_region(sh));
    if (splits_scan(st)) {
        auto pscan = reinterpret_cast<ParallelTableScanDesc>(reinterpret_cast<char *>(sh) +
                                                             sh->scan_offset);
        pg_call([&] { table_parallelscan_reinitialize(child_relation(st), pscan); });
        // the leader's scan is rescanned before it produces again (SharedPartialAgg: the
        // Partial Agg restarts, see produce_partial)
        if (st->mode == MaterialMode::SharedScan) st->child_used = true;
    }
    attach_shared(st, sh, 0);
    share_start_parallel(&st->share, &st->css, st->child, &sh->share);
}

void initialize_worker_impl(MaterialState *st, void *coordinate) {
    SharedMaterial *sh = shared_at(coordinate);
    if (splits_scan(st)) use_parallel_scan(st, sh);
    attach_shared(st, sh, ParallelWorkerNumber + 1);
}

// End of this participant's part. Workers publish their counters; everyone closes a parallel
// table scan while its descriptor is still valid (a later serial run starts a private one).
void shutdown_impl(MaterialState *st) {
    if (st->shared == nullptr) return;
    if (IsParallelWorker() && !st->counters_flushed && st->slot > 0 &&
        static_cast<uint32>(st->slot) < st->shared->nslots) {
        ParticipantCounters &c = st->shared->slots[st->slot];
        c.rows_produced += st->rows_produced;
        c.rows_read += st->rows_read;
        c.pages_read_back += st->ls->log->handle_stats().pages_read_back;
        c.runs += 1;
        if (st->ls->spill->opened()) strlcpy(c.io_mode, st->ls->spill->mode_name(), sizeof(c.io_mode));
        st->counters_flushed = true;
    }
    if (splits_scan(st)) {
        ScanState *scan = split_scan(st);
        if (scan->ss_currentScanDesc != nullptr) {
            pg_call([&] { table_endscan(scan->ss_currentScanDesc); });
            scan->ss_currentScanDesc = nullptr;
            if (st->mode == MaterialMode::SharedScan) st->child_used = false;
        }
    }
}

// ---- callbacks (thin shims over guarded) ----

Node *create_state(CustomScan *cscan);

// Issue 15: whether a node (a streaming site, or a serial node with its local log: a Material
// site, a scrollable cursor's site) may leave its child uninitialized until a run executes it,
// so that a hit (or an attach) never builds — nor JIT-compiles — the expressions of a subtree it
// does not run. Only a serial node outside any parallel part of the plan (a parallel-aware node
// below needs its state before the Gather starts; a worker never shares), that may be shared
// (otherwise the child runs anyway), not for EXPLAIN without ANALYZE (it shows the child), and
// only for a child whose initialization share_exec_privileges.cpp mirrors: it then checks the
// EXECUTE privileges that ExecInitNode would have checked, now, as stock does at ExecutorStart.
// Anything else (a CTE scan, whose late initialization would start reading the CTE where another
// scan of it already is; partition pruning at initialization; node types not on the list)
// initializes the child here as before.
bool child_may_wait(MaterialState *st, CustomScan *cscan, int eflags) {
    if (st->passthrough || (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0) return false;
    if (st->mode != MaterialMode::Serial || IsParallelWorker() || share_obstacle(st) != nullptr)
        return false;
    if (!settings.enable || !share_settings.share_across_sessions) return false;
    ShareAnnotation a;
    if (!share_annotation(cscan, &a)) return false;
    // The walk made at planning when the node is eligible (once per plan), else walk now.
    return pg_call([&] {
        return (a.exec_summary != NIL && check_execute_summary(a.exec_summary)) ||
               check_subtree_execute(st->child_plan);
    });
}

TupleTableSlot *exec_proc_node(PlanState *ps);

void begin_scan(CustomScanState *node, EState *estate, int eflags) {
    guarded([&] {
        auto *st = reinterpret_cast<MaterialState *>(node);
        auto *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
        st->eflags = eflags & (EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK);
        if (eflags & EXEC_FLAG_BACKWARD) st->eflags |= EXEC_FLAG_REWIND;
        st->mode = static_cast<MaterialMode>(intVal(lsecond(cscan->custom_private)));
        // Shared: the log is the point even where Material would only pass rows through
        // (parallel workers get no EXEC_FLAG_REWIND for SubPlans: each would rerun the child).
        if (st->mode != MaterialMode::Serial) st->eflags |= EXEC_FLAG_REWIND;
        st->passthrough = st->eflags == 0;
        st->site = share_site_of(cscan);
        st->direct = st->passthrough && st->site != ShareSite::Material;
        if (st->direct) st->passthrough = false;
        st->child_eflags = eflags & ~(EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK);
        st->child_plan = static_cast<Plan *>(linitial(cscan->custom_plans));
        st->query_cxt = estate->es_query_cxt;
        if (!child_may_wait(st, cscan, eflags)) init_child(st, false);
        log_tuple_prepare(&st->form, st->query_cxt);
        log_tuple_prepare(&st->partial_form, st->query_cxt);
        // SharedPartialAgg: find the Partial Agg and its scan (else one producer, as Shared).
        if (st->mode == MaterialMode::SharedPartialAgg &&
            (st->child == nullptr || !find_partial_agg_parts(st->child, &st->parts)))
            st->mode = MaterialMode::Shared;
        st->io_mode = "none";
        if (!st->passthrough && !st->direct) {
            TupleDesc desc = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
            st->out = ExecAllocTableSlot(&estate->es_tupleTable, desc, &TTSOpsMinimalTuple);
            // Parents compile their deforming code for the slot type we return.
            node->ss.ps.resultops = &TTSOpsMinimalTuple;
            node->ss.ps.resultopsfixed = true;
            node->ss.ps.resultopsset = true;
            // ExecInitNode installs it (ExecSetExecProcNode) after this callback returns.
            node->ss.ps.ExecProcNode = exec_proc_node;
            if (node->ss.ps.ps_ProjInfo != nullptr)
                elog(ERROR, "ParallelMaterial: unexpected projection");
            if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
                TempSpillFile::temp_dir(st->spill_dir, sizeof(st->spill_dir));
        } else {
            // Direct: rows come from the shared entry (minimal tuples) or from the child.
            if (st->direct)
                st->out = ExecAllocTableSlot(&estate->es_tupleTable,
                                             node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
                                             &TTSOpsMinimalTuple);
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

// The node's ExecProcNode (in place of ExecCustomScan, which only checks for interrupts and calls
// exec_scan): a forward read of the next inline row of a frozen log — the rescan path, run once
// per row per rescan (a SubPlan's ~10M rows per query in the SubPlan benchmark) — returns it
// here, without the guard, the mode dispatch and the general read. It takes exactly the branch
// exec_material → exec_forward → try_read would take (the same conditions, in the same order)
// and nothing in it can raise or throw; anything else goes through exec_scan.
TupleTableSlot *exec_proc_node(PlanState *ps) {
    CHECK_FOR_INTERRUPTS();
    auto *st = reinterpret_cast<MaterialState *>(ps);
    LogState *ls = st->ls;
    if (ls != nullptr && st->at.where != Position::AfterLast &&
        (st->shared != nullptr ? st->role_decided : !st->needs_restart) &&
        ScanDirectionIsForward(ps->state->es_direction) && ls->log) {
        const uint64_t from = st->at.where == Position::BeforeFirst ? 0 : st->at.next;
        core::RecordView rec;
        if (ls->cursor.position() == from && ls->log->try_read_frozen(ls->cursor, &rec)) {
            st->at = Saved{Position::OnRow, rec.pos, ls->cursor.position()};
            return emit(st, rec);
        }
    }
    return exec_scan(&st->css);
}

void end_scan(CustomScanState *node) {
    guarded([&] {
        auto *st = reinterpret_cast<MaterialState *>(node);
        if (st->direct) finish_direct(st);
        share_stop(st->share);  // the outcome stays for EXPLAIN until the query's memory goes
        release_log(st, true);
        ExecEndNode(st->child);
    });
}

void rescan(CustomScanState *node) {
    guarded([&] { rescan_material(reinterpret_cast<MaterialState *>(node)); });
}

Size estimate_dsm(CustomScanState *node, ParallelContext *pcxt) {
    return guarded([&] { return estimate_dsm_impl(reinterpret_cast<MaterialState *>(node), pcxt); });
}

void initialize_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate) {
    guarded([&] { initialize_dsm_impl(reinterpret_cast<MaterialState *>(node), pcxt, coordinate); });
}

void reinitialize_dsm(CustomScanState *node, ParallelContext *, void *coordinate) {
    guarded([&] { reinitialize_dsm_impl(reinterpret_cast<MaterialState *>(node), coordinate); });
}

void initialize_worker(CustomScanState *node, shm_toc *, void *coordinate) {
    guarded([&] { initialize_worker_impl(reinterpret_cast<MaterialState *>(node), coordinate); });
}

void shutdown_scan(CustomScanState *node) {
    guarded([&] {
        auto *st = reinterpret_cast<MaterialState *>(node);
        init_for_display(st);  // EXPLAIN ANALYZE prints the plan after this
        shutdown_impl(st);
    });
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
    // A child no run initialized (hit, or a node never executed): shown as stock shows it.
    if (st->child == nullptr) guarded([&] { init_for_display_walker(&st->css.ss.ps, nullptr); });
    const char *mode = st->passthrough ? "pass-through" : "serial";
    if (st->direct) mode = "streaming";
    if (st->mode == MaterialMode::Shared) mode = "shared, one producer";
    if (st->mode == MaterialMode::SharedScan) mode = "shared, every participant scans";
    if (st->mode == MaterialMode::SharedPartialAgg) mode = "shared, every participant aggregates";
    if (st->site != ShareSite::Material)
        ExplainPropertyText("Shared Site", share_site_text(st->site), es);
    ExplainPropertyText("Mode", mode, es);
    if (es->verbose) {
        // Whether the node is shared, or why not where it could matter (a parallel query).
        auto *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
        auto why = static_cast<SerialReason>(intVal(lthird(cscan->custom_private)));
        if (why != SerialReason::NotParallel)
            ExplainPropertyText("Sharing", serial_reason_text(why), es);
    }
    // issue 6: "Cross-Session Sharing: ..." — what the last run did (ANALYZE), else the verdict
    if (!explain_share_outcome(st->share, es)) explain_share_verdict(node, es);
    if (!es->analyze) return;
    if (st->direct) {  // no local log: rows from the child, rows from the shared entry
        ExplainPropertyInteger("Rows Produced", nullptr, static_cast<int64>(st->rows_produced), es);
        ExplainPropertyInteger("Rows Read", nullptr, static_cast<int64>(st->rows_read), es);
        return;
    }
    uint64_t peak = st->peak_bytes;
    uint64_t spilled = st->pages_spilled;
    const char *io = st->io_mode;
    if (st->ls != nullptr) {
        core::LogStats s = st->ls->log->stats();
        if (s.peak_ring_bytes > peak) peak = s.peak_ring_bytes;
        spilled += s.pages_spilled;
        if (st->ls->spill->opened()) io = st->ls->spill->mode_name();
    }
    // Producer workers' rows: finished runs, plus the run still attached.
    uint64_t worker_rows = st->producer_rows;
    if (st->ls != nullptr && st->ls->producers && st->ls->producers->shared() != nullptr)
        worker_rows += st->ls->producers->worker_rows();
    uint64_t produced = st->rows_produced + worker_rows, read = st->rows_read;
    for (uint32 i = 0; i < st->nworker_slots; ++i) {
        produced += st->workers[i].rows_produced;
        read += st->workers[i].rows_read;
    }
    ExplainPropertyInteger("Rows Produced", nullptr, static_cast<int64>(produced), es);
    ExplainPropertyInteger("Rows Read", nullptr, static_cast<int64>(read), es);
    ExplainPropertyInteger("Materializations", nullptr,
                           static_cast<int64>(st->materializations + st->shared_materializations),
                           es);
    ExplainPropertyInteger("Peak Memory", "kB", static_cast<int64>((peak + 1023) / 1024), es);
    ExplainPropertyInteger("Pages Spilled", nullptr, static_cast<int64>(spilled), es);
    ExplainPropertyText("Spill I/O", io, es);
    if (st->mode == MaterialMode::SharedPartialAgg && st->nworker_slots > 0) {
        // Participants that aggregated a share of the table, and the partial rows combined.
        ExplainPropertyInteger("Partial Producers", nullptr,
                               static_cast<int64>(st->partial_producers), es);
        ExplainPropertyInteger("Partial Rows", nullptr, static_cast<int64>(st->partial_rows), es);
    }
    if (st->producer_runs > 0) {
        ExplainPropertyInteger("Producer Workers Launched", nullptr,
                               static_cast<int64>(st->producers_launched), es);
        ExplainPropertyInteger("Rows Produced by Workers", nullptr,
                               static_cast<int64>(worker_rows), es);
    }
    if (st->nworker_slots == 0) return;
    // Per participant: what each produced into and read from the one shared log.
    ExplainPropertyText("Leader",
                        psprintf("Rows Produced: %llu  Rows Read: %llu",
                                 static_cast<unsigned long long>(st->rows_produced),
                                 static_cast<unsigned long long>(st->rows_read)),
                        es);
    for (uint32 i = 0; i < st->nworker_slots; ++i) {
        const ParticipantCounters &w = st->workers[i];
        if (w.runs == 0) continue;
        ExplainPropertyText(psprintf("Worker %u", i),
                            psprintf("Rows Produced: %llu  Rows Read: %llu  Pages Read Back: %llu%s%s",
                                     static_cast<unsigned long long>(w.rows_produced),
                                     static_cast<unsigned long long>(w.rows_read),
                                     static_cast<unsigned long long>(w.pages_read_back),
                                     w.io_mode[0] != '\0' ? "  Spill I/O: " : "", w.io_mode),
                            es);
    }
}

CustomExecMethods exec_methods = {
    kMaterialName,  begin_scan,     exec_scan,        end_scan,          rescan,
    mark_pos,       restr_pos,      estimate_dsm,     initialize_dsm,    reinitialize_dsm,
    initialize_worker, shutdown_scan, explain_scan,
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

void register_material_methods() {
    RegisterCustomScanMethods(&material_scan_methods);
    register_partial_reader_methods();
}

}  // namespace pm::pg
