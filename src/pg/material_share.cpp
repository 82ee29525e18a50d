// material_share.cpp — cross-session sharing of a serial ParallelMaterial node's result: key,
// registry lookup, producing into / reading from a shared entry, failure and budget fallbacks,
// and the EXPLAIN ANALYZE line (see material_share.hpp and docs/shared-results.md, "Executor").
#include "pg/material_share.hpp"
#include "pg/compat.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "parallel_material/core/result_registry.hpp"
#include "parallel_material/core/tuple_log.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/result_spill.hpp"
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

enum class Role { None, Produce, Attach, Hit, Verify };

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
        if (log_ != nullptr) {
            const core::EntryState st = reg_->state(*ref_);
            if (st == core::EntryState::Failed || st == core::EntryState::TooLarge) log_->fail();
        }
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
    std::unique_ptr<ResultSpillFile> spill;  // the entry's spill file (opened on first use)
    std::unique_ptr<core::TupleLog> log;
    core::Cursor cursor;
    uint64_t rows = 0;  // appended (producer) or copied (reader) in this run
    uint64_t log_bytes = 0;  // producer: log footprint so far (bounded by share_max_bytes)
    bool published = false;
    bool borrowed = false;  // a parallel worker following its leader: the pin is the leader's
    uint64_t verify_upto = 0;  // Verify: log position up to which rows were read before
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

// This process produces ns's entry from now on: its exit fails the entry if unfinished.
void start_producing(NodeShare *ns) {
    if (!g_exit_registered) {
        pg_call([] { before_shmem_exit(fail_producing_at_exit, 0); });
        g_exit_registered = true;
    }
    ns->role = Role::Produce;
    g_producing.push_back(ns);
}

// Ends the previous run and clears what a run records.
void reset_run(NodeShare *ns, bool borrowed) {
    share_stop(ns);
    ns->role = Role::None;
    ns->outcome.clear();
    ns->cursor = core::Cursor();
    ns->rows = 0;
    ns->log_bytes = 0;
    ns->published = false;
    ns->borrowed = borrowed;
}

// The entry's ring: sized from the planner's estimate (4x, at least 1 MB), at most
// share_max_bytes and the ring cap (share_ring_max, at most a quarter of shared_memory). A
// result that outgrows its ring spills its cold prefix to the entry's file; one whose log
// outgrows share_max_bytes is abandoned by its producer (share_row).
bool entry_config(const Plan *plan, core::LogConfig *cfg) {
    const double max = static_cast<double>(share_settings.share_max_kb) * 1024.0;
    const double est = plan->plan_rows * (static_cast<double>(plan->plan_width) + 48.0);
    const double want =
        std::min({max, share_ring_cap_bytes(), std::max(4.0 * est, 1024.0 * 1024.0)});
    // Large pages from 1 MB up: a reader reads spilled pages back one page per call.
    const uint32_t page = want >= 1024.0 * 1024 ? 64 * 1024 : 8192;
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
    ns->spill = std::make_unique<ResultSpillFile>(
        ns->reg, ns->ref,
        ns->role == Role::Produce ? ResultSpillFile::Role::Producer : ResultSpillFile::Role::Reader,
        spill_mode_setting());
    ns->log = std::make_unique<core::TupleLog>(ns->reg->log_region(ns->ref), ns->spill.get(),
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
    core::LogConfig cfg;
    if (!entry_config(child->plan, &cfg)) return "parallel_material.share_max_bytes too small";
    const char *sample = estate->es_sourceText != nullptr ? estate->es_sourceText : "";
    ns->reg = reg;
    const core::AcquireResult answer =
        reg->acquire(key, cfg, MyProcPid, GetCurrentTimestamp(), sample, &ns->ref);
    switch (answer) {
        case core::AcquireResult::NoSpace:
            return "no room in parallel_material.shared_memory";
        case core::AcquireResult::TooLarge:
            return "an earlier run found the result larger than parallel_material.share_max_bytes";
        case core::AcquireResult::Produce:
            start_producing(ns);
            open_log(ns);
            if (!ns->log->try_register_producer())
                throw core::Error(core::Error::Code::Internal, "new shared log refused its producer");
            ns->outcome = "produced";
            return nullptr;
        case core::AcquireResult::Attach:
            // Never wait for another producer while this process has a production of its own
            // unfinished (a lazily produced node its parent stopped pulling): two sessions, or
            // one session and itself, could otherwise wait for each other forever.
            if (!g_producing.empty()) {
                reg->release(&ns->ref);
                return "this session is itself producing a shared result";
            }
            [[fallthrough]];
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

namespace {

// The node's state for a new run (created on first use; nullptr without a sharing verdict).
NodeShare *fresh_state(NodeShare **slot, CustomScanState *node) {
    NodeShare *ns = *slot;
    if (ns == nullptr) {
        ShareAnnotation a;
        if (!share_annotation(reinterpret_cast<CustomScan *>(node->ss.ps.plan), &a)) return nullptr;
        ns = new NodeShare();
        *slot = ns;  // from here on the node's cleanup frees it, whatever happens
    }
    reset_run(ns, false);
    return ns;
}

}  // namespace

void share_start(NodeShare **slot, CustomScanState *node, PlanState *child, const char *obstacle) {
    NodeShare *ns = fresh_state(slot, node);
    if (ns == nullptr) return;
    if (const char *skip = decide(ns, node, child, obstacle)) abandon(ns, skip);
}

void share_start_parallel(NodeShare **slot, CustomScanState *node, PlanState *child,
                          ShareHandoff *out) {
    *out = ShareHandoff{};
    share_start(slot, node, child, nullptr);
    NodeShare *ns = *slot;
    if (ns == nullptr || !ns->ref.valid()) return;
    out->role = ns->role == Role::Produce ? kHandoffProduce : kHandoffRead;
    out->slot = ns->ref.slot;
    out->serial = ns->ref.serial;
}

void share_join(NodeShare **slot, ShareHandoff *h) {
    if (h->role == kHandoffNone) return;
    NodeShare *ns = *slot;
    if (ns != nullptr && !ns->borrowed && ns->ref.valid() && ns->ref.slot == h->slot &&
        ns->ref.serial == h->serial)
        return;  // the leader produces: it holds the state share_start_parallel made
    if (ns == nullptr) {
        ns = new NodeShare();
        *slot = ns;
    }
    reset_run(ns, true);
    ns->reg = shared_registry();
    if (ns->reg == nullptr) throw core::Error(core::Error::Code::Internal, "no result registry");
    ns->ref.slot = h->slot;
    ns->ref.serial = h->serial;
    // The leader registered the producer when it created the entry; a producing handle here
    // appends (and spills) and finishes for it.
    if (h->role == kHandoffProduce)
        start_producing(ns);
    else
        ns->role = Role::Attach;
    open_log(ns);
    if (ns->role == Role::Attach) ns->hooks->set_log(ns->log.get());
}

void share_note_fallback(NodeShare *ns) {
    if (ns != nullptr) ns->outcome = "skipped (the producing session failed; ran the plan itself)";
}

bool share_engaged(const NodeShare *ns) {
    return ns != nullptr && ns->role != Role::None && ns->log != nullptr;
}

bool share_reading(const NodeShare *ns) {
    return ns != nullptr && (ns->role == Role::Hit || ns->role == Role::Attach) &&
           ns->log != nullptr;
}

bool share_verifying(const NodeShare *ns) { return ns != nullptr && ns->role == Role::Verify; }

namespace {
[[noreturn]] void copied_rows_differ() {
    pg_call([] {
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("the session producing a shared result failed after this query had read "
                        "part of it, and running the plan here gave other rows first"),
                 errhint("Run the query again.")));
    });
    throw core::Error(core::Error::Code::Internal, "unreachable");
}

void finish_verify(NodeShare *ns) {
    share_stop(ns);  // drops the pin on the failed entry (freed with its last pin)
    ns->role = Role::None;
}
}  // namespace

bool share_check_row(NodeShare *ns, const void *data, uint32_t len) {
    if (!share_verifying(ns)) return false;
    core::RecordView rec;
    if (ns->log->reread(ns->cursor, ns->verify_upto, &rec) != core::ReadStatus::Record) {
        finish_verify(ns);
        return false;
    }
    if (rec.len != len || memcmp(rec.data, data, len) != 0) copied_rows_differ();
    if (ns->cursor.position() >= ns->verify_upto) finish_verify(ns);
    return true;
}

void share_check_end(NodeShare *ns) {
    if (share_verifying(ns)) copied_rows_differ();
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
            // Take over: the caller runs the plan itself and checks that its first rows are
            // the ones already copied (never a partial result served as complete).
            *data = nullptr;
            *len = 0;
            if (ns->rows == 0) {
                abandon(ns, "the producing session failed; ran the plan itself");
                return ShareNext::RunChild;
            }
            // Keep the pin: the rows read so far stay in the failed entry's log and are read
            // again to check the child's first rows against them.
            ns->role = Role::Verify;
            ns->verify_upto = ns->cursor.position();
            ns->cursor = core::Cursor();
            ns->outcome = "skipped (the producing session failed; ran the plan itself and "
                          "checked the rows already read)";
            return ShareNext::RunChild;
        case core::ReadStatus::WouldBlock:
            break;
    }
    throw core::Error(core::Error::Code::Internal, "blocking read of a shared result returned early");
}

void share_row(NodeShare *ns, const void *data, uint32_t len) {
    if (ns == nullptr || ns->role != Role::Produce || ns->log == nullptr) return;
    // share_max_bytes bounds the whole log (the ring's tail plus the spilled prefix).
    ns->log_bytes += 8 + ((static_cast<uint64_t>(len) + 7) & ~uint64_t{7});
    if (static_cast<double>(ns->log_bytes) >
        static_cast<double>(share_settings.share_max_kb) * 1024.0) {
        // Later sessions looking for this key (these data versions) skip it at once instead of
        // producing it again up to the bound; attached readers see the log fail and take over.
        try {
            ns->reg->mark_too_large(ns->ref);
        } catch (const core::Error &) {
            // an invalid reference: the abandonment below fails the entry as before
        }
        abandon(ns, "result larger than parallel_material.share_max_bytes; ran locally");
        return;
    }
    try {
        ns->log->append(data, len);
        ns->rows++;
    } catch (const core::Error &e) {
        abandon(ns, (std::string("shared log failed: ") + e.what() + "; ran locally").c_str());
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
            // Unpublished: never a partial result served as complete (attached readers see the
            // failure). In a parallel query another participant may have published it.
            if (ns->role == Role::Produce && !ns->published &&
                (ns->borrowed || ns->reg->state(ns->ref) != core::EntryState::Ready)) {
                if (ns->log != nullptr) ns->log->fail();
                ns->reg->fail(ns->ref);
            }
            if (!ns->borrowed) ns->reg->release(&ns->ref);
        }
    } catch (...) {
        // Nothing escapes: this runs from abort and exit callbacks.
    }
    if (ns->role == Role::Produce) forget_producing(ns);
    ns->ref = core::ResultRef();
    ns->log.reset();
    ns->spill.reset();  // closes this process's descriptor (the file went with the entry)
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
