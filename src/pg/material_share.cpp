// material_share.cpp — cross-session sharing of a serial ParallelMaterial node's result: key,
// registry lookup, producing into / reading from a shared entry, failure and budget fallbacks,
// and the EXPLAIN ANALYZE line (see material_share.hpp and docs/shared-results.md, "Executor").
#include "pg/material_share.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "parallel_material/core/result_registry.hpp"
#include "parallel_material/core/tuple_log.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/share_key.hpp"
#include "pg/share_planner.hpp"
#include "pg/shared_results.hpp"

extern "C" {
#include "access/parallel.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace pm::pg {

namespace {

enum class Role { None, Produce, Attach, Hit };

// Waits of a reader (and wakeups by the producer) on the entry slot's ConditionVariable. Sleeps
// are timed: a producer that exits without failing the log is noticed through the registry
// (its exit callback fails the entry), so a reader never waits for a process that is gone.
class EntryHooks final : public core::WaitHooks {
public:
    EntryHooks(ConditionVariable *cv, core::ResultRegistry *reg, const core::ResultRef *ref)
        : cv_(cv), reg_(reg), ref_(ref) {}
    void set_log(core::TupleLog *log) { log_ = log; }
    void check_interrupts() override {
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
    }
    void prepare_to_sleep() override {
        pg_call([&] { ConditionVariablePrepareToSleep(cv_); });
    }
    void sleep() override {
        pg_call([&] { (void)ConditionVariableTimedSleep(cv_, 100, PG_WAIT_EXTENSION); });
        if (log_ != nullptr && reg_->state(*ref_) == core::EntryState::Failed) log_->fail();
    }
    void cancel_sleep() override {
        pg_call([] { ConditionVariableCancelSleep(); });
    }
    void wake_all() override {
        pg_call([&] { ConditionVariableBroadcast(cv_); });
    }

private:
    ConditionVariable *cv_;
    core::ResultRegistry *reg_;
    const core::ResultRef *ref_;
    core::TupleLog *log_ = nullptr;  // readers only: failed when the entry is found failed
};

}  // namespace

class NodeShare {
public:
    Role role = Role::None;
    std::string outcome;  // EXPLAIN ANALYZE, last run
    core::ResultRegistry *reg = nullptr;
    core::ResultRef ref;
    std::unique_ptr<EntryHooks> hooks;
    std::unique_ptr<core::TupleLog> log;
    core::Cursor cursor;
    uint64_t rows = 0;  // appended (producer) or copied (reader) in this run
    bool published = false;
};

namespace {

// Runs that are producing in this process: failed by our exit callback, which runs before the
// registry's own (before_shmem_exit callbacks run in reverse order of registration), so that
// the registry never drops a producer pin that a later abort would drop again.
std::vector<NodeShare *> g_producing;
bool g_exit_registered = false;

void forget_producing(NodeShare *ns) {
    g_producing.erase(std::remove(g_producing.begin(), g_producing.end(), ns), g_producing.end());
}

void fail_producing_at_exit(int, Datum) {
    std::vector<NodeShare *> list;
    list.swap(g_producing);
    for (NodeShare *ns : list) share_stop(ns);
}

// The entry's log: sized from the planner's estimate (4x, at least 1 MB), at most
// share_max_bytes. A result that outgrows it is abandoned by its producer (share_row).
bool entry_config(const Plan *plan, core::LogConfig *cfg) {
    const double max = static_cast<double>(share_settings.share_max_kb) * 1024.0;
    const double est = plan->plan_rows * (static_cast<double>(plan->plan_width) + 48.0);
    const double want = std::min(max, std::max(4.0 * est, 1024.0 * 1024.0));
    const uint32_t page = want >= 16.0 * 1024 * 1024 ? 64 * 1024 : 8192;
    if (want < 2.0 * page) return false;
    uint64_t pages = 2;
    while (static_cast<double>(pages * 2 * page) <= want && pages < (1u << 30)) pages *= 2;
    cfg->page_size = page;
    cfg->ring_pages = static_cast<uint32_t>(pages);
    cfg->single_producer = true;
    return true;
}

void open_log(NodeShare *ns) {
    ConditionVariable *cv = shared_result_cv(ns->ref.slot);
    ns->hooks = std::make_unique<EntryHooks>(cv, ns->reg, &ns->ref);
    ns->log = std::make_unique<core::TupleLog>(ns->reg->log_region(ns->ref), nullptr,
                                               ns->hooks.get());
}

// Decides this run's role; returns why not shared, or nullptr.
const char *decide(NodeShare *ns, CustomScanState *node, PlanState *child, const char *obstacle) {
    if (!settings.enable || !share_settings.share_across_sessions)
        return "share_across_sessions is off";
    if (IsParallelWorker()) return "parallel worker";
    if (obstacle != nullptr) return obstacle;
    auto *cs = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
    EState *estate = node->ss.ps.state;
    core::ResultKey key;
    if (const char *why = pg_call([&] { return share_key_for(cs, estate->es_snapshot, &key); }))
        return why;
    core::ResultRegistry *reg = shared_registry();
    if (reg == nullptr || shared_result_cv(0) == nullptr)
        return "no shared memory for results (parallel_material.shared_memory = 0)";
    if (!g_exit_registered) {
        pg_call([] { before_shmem_exit(fail_producing_at_exit, 0); });
        g_exit_registered = true;
    }
    core::LogConfig cfg;
    if (!entry_config(child->plan, &cfg)) return "parallel_material.share_max_bytes too small";
    const char *sample = estate->es_sourceText != nullptr ? estate->es_sourceText : "";
    ns->reg = reg;
    const core::AcquireResult answer =
        reg->acquire(key, cfg, MyProcPid, GetCurrentTimestamp(), sample, &ns->ref);
    switch (answer) {
        case core::AcquireResult::NoSpace:
            return "no room in parallel_material.shared_memory";
        case core::AcquireResult::Produce:
            ns->role = Role::Produce;
            g_producing.push_back(ns);
            open_log(ns);
            if (!ns->log->try_register_producer())
                throw core::Error(core::Error::Code::Internal, "new shared log refused its producer");
            ns->outcome = "produced";
            return nullptr;
        case core::AcquireResult::Attach:
        case core::AcquireResult::Hit: {
            const bool hit = answer == core::AcquireResult::Hit;
            ns->role = hit ? Role::Hit : Role::Attach;
            open_log(ns);
            ns->hooks->set_log(ns->log.get());
            ns->outcome = hit ? "hit" : "attached";
            return nullptr;
        }
    }
    return "unknown registry answer";
}

void abandon(NodeShare *ns, const char *why) {
    share_stop(ns);
    ns->role = Role::None;
    ns->outcome = std::string("skipped (") + why + ")";
}

}  // namespace

void share_start(NodeShare **slot, CustomScanState *node, PlanState *child, const char *obstacle) {
    NodeShare *ns = *slot;
    if (ns == nullptr) {
        ShareAnnotation a;
        if (!share_annotation(reinterpret_cast<CustomScan *>(node->ss.ps.plan), &a)) return;
        ns = new NodeShare();
        *slot = ns;  // from here on the node's cleanup frees it, whatever happens
    }
    share_stop(ns);
    ns->role = Role::None;
    ns->outcome.clear();
    ns->cursor = core::Cursor();
    ns->rows = 0;
    ns->published = false;
    if (const char *skip = decide(ns, node, child, obstacle)) {
        share_stop(ns);
        ns->role = Role::None;
        ns->outcome = std::string("skipped (") + skip + ")";
    }
}

bool share_reading(const NodeShare *ns) {
    return ns != nullptr && (ns->role == Role::Hit || ns->role == Role::Attach) &&
           ns->log != nullptr;
}

bool share_producing(const NodeShare *ns) {
    return ns != nullptr && ns->role == Role::Produce && ns->log != nullptr;
}

ShareNext share_next(NodeShare *ns, const void **data, uint32_t *len) {
    core::RecordView rec;
    switch (ns->log->read(ns->cursor, &rec)) {
        case core::ReadStatus::Record:
            ns->rows++;
            *data = rec.data;
            *len = rec.len;
            return ShareNext::Record;
        case core::ReadStatus::End:
            share_stop(ns);  // complete: drop the pin now (role and outcome stay for EXPLAIN)
            return ShareNext::End;
        case core::ReadStatus::Failed:
            if (ns->rows == 0) {
                abandon(ns, "the producing session failed; ran the plan itself");
                return ShareNext::RunChild;
            }
            share_stop(ns);
            pg_call([] {
                ereport(ERROR,
                        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                         errmsg("the session producing a shared result failed after this query "
                                "had read part of it"),
                         errhint("Run the query again.")));
            });
            return ShareNext::End;
        case core::ReadStatus::WouldBlock:
            break;
    }
    throw core::Error(core::Error::Code::Internal, "blocking read of a shared result returned early");
}

void share_row(NodeShare *ns, const void *data, uint32_t len) {
    if (ns == nullptr || ns->role != Role::Produce || ns->log == nullptr) return;
    try {
        ns->log->append(data, len);
        ns->rows++;
    } catch (const core::Error &e) {
        abandon(ns, e.code() == core::Error::Code::OutOfMemory
                        ? "result larger than its shared log; ran locally"
                        : "shared log failed; ran locally");
    }
}

void share_child_done(NodeShare *ns) {
    if (ns == nullptr || ns->role != Role::Produce || ns->log == nullptr) return;
    ns->log->producer_done();
    ns->reg->publish(ns->ref, ns->rows);
    ns->published = true;
    share_stop(ns);
}

void share_stop(NodeShare *ns) noexcept {
    if (ns == nullptr) return;
    try {
        if (ns->ref.valid()) {
            if (ns->role == Role::Produce && !ns->published) {
                // Never a partial result served as complete: attached readers see the failure.
                if (ns->log != nullptr) ns->log->fail();
                ns->reg->fail(ns->ref);
            }
            ns->reg->release(&ns->ref);
        }
    } catch (...) {
        // Nothing escapes: this runs from abort and exit callbacks.
    }
    if (ns->role == Role::Produce) forget_producing(ns);
    ns->ref = core::ResultRef();
    ns->log.reset();
    ns->hooks.reset();
}

void share_free(NodeShare *ns) noexcept {
    if (ns == nullptr) return;
    share_stop(ns);
    forget_producing(ns);
    delete ns;
}

bool explain_share_outcome(const NodeShare *ns, ExplainState *es) {
    if (ns == nullptr || !es->analyze || ns->outcome.empty()) return false;
    ExplainPropertyText("Cross-Session Sharing", ns->outcome.c_str(), es);
    return true;
}

}  // namespace pm::pg
