// material_producers.cpp — producer workers for a serial ParallelMaterial: the leader's side
// (segment, parallel context, launch, teardown) and the workers' entry point, which runs the
// child Seq Scan (quals and projection included) over the shared parallel table scan and appends
// its rows to the log.
#include "pg/material/material_producers.hpp"
#include "pg/compat.hpp"

#include <unistd.h>

#include <memory>

#include "pg/guard.hpp"
#include "pg/material/log_tuple.hpp"
#include "pg/gucs.hpp"
#include "pg/material/temp_spill.hpp"

extern "C" {
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "postmaster/bgworker.h"
#include "storage/shm_toc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace pm::pg {

namespace {

// shm_toc keys in the parallel context's segment.
constexpr uint64 kKeyHeader = UINT64CONST(0x504D000000000001);
constexpr uint64 kKeyPlan = UINT64CONST(0x504D000000000002);
constexpr uint64 kKeyParams = UINT64CONST(0x504D000000000003);

struct ProducerHeader {
    dsm_handle log_segment;  // the segment holding the SharedMaterial and the log
};

ParallelTableScanDesc scan_desc_of(SharedMaterial *sh) {
    return reinterpret_cast<ParallelTableScanDesc>(reinterpret_cast<char *>(sh) + sh->scan_offset);
}

// The worker's whole job, under the guard.
void producer_main(dsm_segment *, shm_toc *toc) {
    auto *hdr = static_cast<ProducerHeader *>(pg_call([&] { return shm_toc_lookup(toc, kKeyHeader, false); }));
    char *plan_str = static_cast<char *>(pg_call([&] { return shm_toc_lookup(toc, kKeyPlan, false); }));
    char *params_space = static_cast<char *>(pg_call([&] { return shm_toc_lookup(toc, kKeyParams, true); }));
    dsm_segment *seg = pg_call([&] { return dsm_attach(hdr->log_segment); });
    if (seg == nullptr)
        throw core::Error(core::Error::Code::Internal, "could not attach to the materialization's segment");
    SharedMaterial *sh = shared_at(dsm_segment_address(seg));
    const int slot = ParallelWorkerNumber + 1;

    TempSpillFile spill(TempSpillFile::Shared{}, sh->spill_path, spill_mode_setting());
    CvWaitHooks hooks(&sh->cv);
    core::TupleLog log(shared_log_region(sh), &spill, &hooks);
    if (!log.try_register_producer()) {  // the others already produced everything
        pg_call([&] { dsm_detach(seg); });
        return;
    }

    EState *estate = nullptr;
    PlanState *ps = nullptr;
    uint64 rows = 0;
    try {
        pg_call([&] {
            auto *pstmt = static_cast<PlannedStmt *>(stringToNode(plan_str));
            estate = CreateExecutorState();
            MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
            estate->es_snapshot = GetActiveSnapshot();
            estate->es_crosscheck_snapshot = InvalidSnapshot;
            estate->es_plannedstmt = pstmt;
            estate->es_top_eflags = 0;
            pm_exec_init_range_table(estate, pstmt);
            if (params_space != nullptr) {
                char *p = params_space;
                estate->es_param_list_info = RestoreParamList(&p);
            }
            ps = ExecInitNode(pstmt->planTree, estate, 0);
            auto *scan = reinterpret_cast<ScanState *>(ps);
            scan->ss_currentScanDesc = table_beginscan_parallel(scan->ss_currentRelation, scan_desc_of(sh));
            MemoryContextSwitchTo(old);
        });
        LogTupleForm form;
        log_tuple_prepare(&form, estate->es_query_cxt);
        for (;;) {
            TupleTableSlot *slot_out = pg_call([&] { return ExecProcNode(ps); });
            if (TupIsNull(slot_out)) break;
            bool should_free = false;
            MinimalTuple tuple = pg_call([&] { return log_tuple_fetch(&form, slot_out, &should_free); });
            log.append(tuple, tuple->t_len);
            ++rows;
            if (should_free) pfree(tuple);
        }
        log.producer_done();
    } catch (const PgException &) {  // this worker's own error (the child's): the query's error
        if (!log.failed()) log.fail();
        throw;
    } catch (...) {
        // The log failed because another participant did (its append refused): that one's error
        // is the query's. Reporting ours too would race it to the leader, which could then raise
        // "append to a failed log" instead of, say, "division by zero" (material_parallel saw it
        // on 18). Stop quietly and clean up below.
        if (!log.failed()) {
            log.fail();
            throw;
        }
    }
    ParticipantCounters &c = sh->slots[slot];
    c.rows_produced += rows;
    c.runs += 1;
    if (spill.opened()) strlcpy(c.io_mode, spill.mode_name(), sizeof(c.io_mode));
    pg_call([&] {
        ExecEndNode(ps);
        ExecResetTupleTable(estate->es_tupleTable, false);  // unpins the slots' descriptors
        ExecCloseRangeTableRelations(estate);
        FreeExecutorState(estate);
        dsm_detach(seg);
    });
}

}  // namespace

bool ProducerGroup::eligible(PlanState *child, int eflags) {
    Plan *plan = child->plan;
    if (settings.max_producers <= 0 || max_parallel_workers <= 0) return false;
    if (!IsA(plan, SeqScan) || plan->parallel_aware || !plan->parallel_safe) return false;
    if (!bms_is_empty(plan->extParam) || plan->initPlan != NIL) return false;
    if (eflags & (EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK)) return false;  // one producer's order
    if (IsInParallelMode() || IsParallelWorker() || !IsUnderPostmaster) return false;
    Relation rel = reinterpret_cast<ScanState *>(child)->ss_currentRelation;
    BlockNumber blocks = pg_call([&] { return RelationGetNumberOfBlocks(rel); });
    return blocks >= static_cast<BlockNumber>(min_parallel_table_scan_size);
}

ProducerGroup *ProducerGroup::start(PlanState *child, const core::LogConfig &cfg, int nworkers,
                                    const char *spill_dir) {
    auto *scan = reinterpret_cast<ScanState *>(child);
    EState *estate = child->state;
    Relation rel = scan->ss_currentRelation;
    const Size scan_size = pg_call([&] { return table_parallelscan_estimate(rel, estate->es_snapshot); });
    const SharedLayout l = shared_layout(nworkers + 1, scan_size, cfg);

    auto group = std::unique_ptr<ProducerGroup>(new ProducerGroup());
    ProducerGroup *g = group.get();
    // The log's own segment: it outlives the parallel context (the leader keeps reading it after
    // the workers are gone) and belongs to the current resource owner, so an abort detaches it.
    g->seg_ = pg_call([&] { return dsm_create(l.total, 0); });
    g->sh_ = shared_at(dsm_segment_address(g->seg_));
    init_shared_material(g->sh_, l, cfg, nworkers + 1);
    {
        // The leader produces too: register it before any worker can finish and seal the log.
        core::TupleLog registrar(shared_log_region(g->sh_), nullptr, nullptr);
        if (!registrar.try_register_producer())
            throw core::Error(core::Error::Code::Internal, "new log refused its producer");
    }
    pg_call([&] { on_dsm_detach(g->seg_, on_log_detach, PointerGetDatum(g)); });
    TempSpillFile::create_shared(spill_dir, g->sh_->spill_path, sizeof(g->sh_->spill_path));
    pg_call([&] {
        table_parallelscan_initialize(rel, scan_desc_of(g->sh_), estate->es_snapshot);
        if (scan->ss_currentScanDesc != nullptr) table_endscan(scan->ss_currentScanDesc);
        scan->ss_currentScanDesc = table_beginscan_parallel(rel, scan_desc_of(g->sh_));
    });

    // What the workers run: the child alone, in a minimal PlannedStmt with the query's range
    // table (the same shape execParallel.c sends to parallel query workers).
    char *plan_str = pg_call([&] {
        PlannedStmt *pstmt = makeNode(PlannedStmt);
        pstmt->commandType = CMD_SELECT;
        pstmt->canSetTag = true;
        pstmt->planTree = static_cast<Plan *>(copyObject(child->plan));
        pstmt->rtable = estate->es_range_table;
        pm_set_worker_plan_fields(pstmt, estate);
        pstmt->paramExecTypes = estate->es_plannedstmt->paramExecTypes;
        pstmt->stmt_location = -1;
        return nodeToString(pstmt);
    });
    ParamListInfo params = estate->es_param_list_info;

    pg_call([&] {
        EnterParallelMode();
        g->in_parallel_mode_ = true;
        ParallelContext *pcxt = CreateParallelContext("parallel_material", "pm_producer_main", nworkers);
        g->pcxt_ = pcxt;
        shm_toc_estimate_chunk(&pcxt->estimator, sizeof(ProducerHeader));
        shm_toc_estimate_chunk(&pcxt->estimator, strlen(plan_str) + 1);
        Size params_len = params != nullptr ? EstimateParamListSpace(params) : 0;
        if (params_len > 0) shm_toc_estimate_chunk(&pcxt->estimator, params_len);
        shm_toc_estimate_keys(&pcxt->estimator, params_len > 0 ? 3 : 2);
        InitializeParallelDSM(pcxt);
        on_dsm_detach(pcxt->seg, on_context_detach, PointerGetDatum(g));
        g->pcxt_seg_ = pcxt->seg;
        auto *hdr = static_cast<ProducerHeader *>(shm_toc_allocate(pcxt->toc, sizeof(ProducerHeader)));
        hdr->log_segment = dsm_segment_handle(g->seg_);
        shm_toc_insert(pcxt->toc, kKeyHeader, hdr);
        char *plan_space = static_cast<char *>(shm_toc_allocate(pcxt->toc, strlen(plan_str) + 1));
        strcpy(plan_space, plan_str);
        shm_toc_insert(pcxt->toc, kKeyPlan, plan_space);
        if (params_len > 0) {
            char *space = static_cast<char *>(shm_toc_allocate(pcxt->toc, params_len));
            char *p = space;
            SerializeParamList(params, &p);
            shm_toc_insert(pcxt->toc, kKeyParams, space);
        }
        LaunchParallelWorkers(pcxt);
        g->launched_ = pcxt->nworkers_launched;
    });
    return group.release();
}

void ProducerGroup::finish() {
    if (pcxt_ != nullptr) {
        ParallelContext *pcxt = pcxt_;
        pg_call([&] {
            WaitForParallelWorkersToFinish(pcxt);
            DestroyParallelContext(pcxt);  // runs on_context_detach: pcxt_ = nullptr
        });
        pcxt_ = nullptr;
    }
    if (in_parallel_mode_) {
        in_parallel_mode_ = false;
        pg_call([] { ExitParallelMode(); });
    }
}

void ProducerGroup::release() {
    finish();
    if (seg_ != nullptr) {
        dsm_segment *seg = seg_;
        pg_call([&] { dsm_detach(seg); });  // runs on_log_detach
        seg_ = nullptr;
        sh_ = nullptr;
    }
}

uint64 ProducerGroup::worker_rows() const {
    uint64 rows = 0;
    if (sh_ == nullptr) return rows;
    for (uint32 i = 1; i < sh_->nslots; ++i) rows += sh_->slots[i].rows_produced;
    return rows;
}

ProducerGroup::~ProducerGroup() {
    if (pcxt_seg_ != nullptr)
        cancel_on_dsm_detach(pcxt_seg_, on_context_detach, PointerGetDatum(this));
    if (seg_ != nullptr) {
        cancel_on_dsm_detach(seg_, on_log_detach, PointerGetDatum(this));
        if (sh_ != nullptr) unlink(sh_->spill_path);
    }
}

void ProducerGroup::on_context_detach(dsm_segment *, Datum arg) {
    auto *g = reinterpret_cast<ProducerGroup *>(DatumGetPointer(arg));
    g->pcxt_ = nullptr;
    g->pcxt_seg_ = nullptr;
    // Abort processing ends parallel mode itself; finish() must not exit it again.
    if (!IsInParallelMode()) g->in_parallel_mode_ = false;
}

void ProducerGroup::on_log_detach(dsm_segment *, Datum arg) {
    auto *g = reinterpret_cast<ProducerGroup *>(DatumGetPointer(arg));
    if (g->sh_ != nullptr) unlink(g->sh_->spill_path);
    g->seg_ = nullptr;
    g->sh_ = nullptr;
}

}  // namespace pm::pg

// The producer workers' entry point, looked up by name in this library by ParallelWorkerMain.
extern "C" PGDLLEXPORT void pm_producer_main(dsm_segment *seg, shm_toc *toc);
extern "C" void pm_producer_main(dsm_segment *seg, shm_toc *toc) {
    pm::pg::guarded([&] { pm::pg::producer_main(seg, toc); });
}
