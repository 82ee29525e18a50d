// material_share.cpp — cross-session sharing of a serial ParallelMaterial node's result: key,
// registry lookup, producing into / reading from a shared entry, failure and budget fallbacks,
// and the EXPLAIN ANALYZE line (see material_share.hpp and docs/shared-results.md, "Executor").
#include "pg/share/material_share.hpp"
#include "pg/compat.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parallel_material/core/result_registry.hpp"
#include "parallel_material/core/tuple_log.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/share/result_spill.hpp"
#include "pg/share/share_key.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/share/share_settings_watch.hpp"
#include "pg/share/shared_results.hpp"

extern "C" {
#include "access/parallel.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace pm::pg {

namespace {

enum class Role { None, Produce, Attach, Hit, Verify };

// Thrown by a reader's sleep when it has waited long enough for an idle producer (issue 12,
// share_wait_timeout): share_next catches it and runs the plan itself (take-over).
struct ProducerIdle {
    const char *why;
};

// Waits of a reader (and wakeups by the producer) on the entry slot's ConditionVariable. Sleeps
// are timed: a producer that exits without failing the log is noticed through the registry
// (its exit callback fails the entry), so a reader never waits for a process that is gone.
// Bounded waits (issue 12): a reader sleeps in slices of at most 10 ms; a slice that ends
// without a wake-up (nothing appended, sealed or failed meanwhile) while the producer is not
// inside its shared plan (the entry's `pulling` flag: its portal is suspended, its client is not
// reading, its query works elsewhere) or waits for a lock or its client counts as idle time.
// Once the idle time reaches share_wait_timeout, or at once when the producer is not pulling and
// its session waits for the client's next command, the reader gives up (ProducerIdle).
class EntryHooks final : public core::WaitHooks {
public:
    EntryHooks(ConditionVariable *cv, core::ResultRegistry *reg, const core::ResultRef *ref)
        : cv_(cv), reg_(reg), ref_(ref) {}
    void set_log(core::TupleLog *log) {
        log_ = log;
        pulling_ = shared_result_pulling(ref_->slot);
        producer_pid_ = reg_->producer_pid(*ref_);
        bound_us_ = static_cast<int64_t>(share_wait_timeout_ms()) * 1000;
    }
    void check_interrupts() override {
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
    }
    void prepare_to_sleep() override {
        pg_call([&] { ConditionVariablePrepareToSleep(cv_); });
    }
    void sleep() override {
        const bool bounded = log_ != nullptr && bound_us_ >= 0 && pulling_ != nullptr;
        long slice_ms = 100;
        if (bounded) slice_ms = std::clamp<long>((bound_us_ - idle_us_) / 1000, 1, 10);
        const TimestampTz start = bounded ? GetCurrentTimestamp() : 0;
        const bool timed_out = pg_call(
            [&] { return ConditionVariableTimedSleep(cv_, slice_ms, PG_WAIT_EXTENSION); });
        if (log_ != nullptr) {
            const core::EntryState st = reg_->state(*ref_);
            if (st == core::EntryState::Failed || st == core::EntryState::TooLarge) log_->fail();
        }
        if (!bounded || !timed_out) return;  // woken: the producer appended, sealed or failed
        const bool in_plan = pg_atomic_read_u32(pulling_) != 0;
        const uint32 wait = producer_wait_event();
        const uint32 wait_class = wait & 0xFF000000U;
        if (!in_plan && wait == WAIT_EVENT_CLIENT_READ)
            throw ProducerIdle{"the producing session is idle"};
        if (in_plan && wait_class != PG_WAIT_LOCK && wait_class != PG_WAIT_CLIENT) return;
        idle_us_ += GetCurrentTimestamp() - start;
        if (idle_us_ >= bound_us_)
            throw ProducerIdle{"the producing session was idle for "
                               "parallel_material.share_wait_timeout"};
    }
    void cancel_sleep() override {
        pg_call([] { ConditionVariableCancelSleep(); });
    }
    void wake_all() override {
        pg_call([&] { ConditionVariableBroadcast(cv_); });
    }

private:
    // The producer's current wait event (0: running, or gone).
    uint32 producer_wait_event() const {
        return pg_call([&]() -> uint32 {
            PGPROC *proc = BackendPidGetProc(producer_pid_);
            return proc == nullptr ? 0 : *static_cast<volatile uint32 *>(&proc->wait_event_info);
        });
    }
    ConditionVariable *cv_;
    core::ResultRegistry *reg_;
    const core::ResultRef *ref_;
    core::TupleLog *log_ = nullptr;  // readers only: failed when the entry is found failed
    pg_atomic_uint32 *pulling_ = nullptr;  // readers: the producer's "inside the plan" flag
    int32_t producer_pid_ = 0;
    int64_t bound_us_ = -1;  // share_wait_timeout (readers); -1: no bound
    int64_t idle_us_ = 0;    // idle time waited so far in this run
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
    // Verify, once the child gave a row out of the order read before: the rows read before that
    // have not come again (hash of the row -> its log position).
    std::unique_ptr<std::unordered_multimap<size_t, uint64_t>> unmatched;
    pg_atomic_uint32 *pulling = nullptr;  // producer: the entry's "inside the plan" flag
    // The settings of the key (their digest, and the generation at which it was last checked):
    // a row computed, or read, with other settings is never shared (docs/shared-results.md,
    // "Changes during a run").
    SettingsWatch watch;
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
    ns->pulling = shared_result_pulling(ns->ref.slot);
    g_producing.push_back(ns);
}

// The statement's own text (not the rest of a multi-statement message: issue 12), cut to the
// sample size on a character boundary.
std::string statement_sample(EState *estate) {
    const char *src = estate->es_sourceText;
    if (src == nullptr) return std::string();
    const size_t full = strlen(src);
    size_t loc = 0, len = full;
    if (const PlannedStmt *ps = estate->es_plannedstmt) {
        if (ps->stmt_location >= 0 && static_cast<size_t>(ps->stmt_location) <= full) {
            loc = static_cast<size_t>(ps->stmt_location);
            len = full - loc;
            if (ps->stmt_len > 0 && static_cast<size_t>(ps->stmt_len) < len)
                len = static_cast<size_t>(ps->stmt_len);
        }
    }
    const char *p = src + loc;
    while (len > 0 && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) {
        p++;
        len--;
    }
    const int limit = static_cast<int>(std::min(len, core::kSampleBytes - 1));
    const int cut = pg_call([&] { return pg_mbcliplen(p, limit, limit); });
    return std::string(p, static_cast<size_t>(cut));
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
    ns->unmatched.reset();
}

// The entry's ring: sized from the planner's estimate (4x, at least 64 kB), at most
// share_max_bytes and the ring cap (share_ring_max, at most a quarter of shared_memory). A
// result that outgrows its ring spills its cold prefix to the entry's file; one whose log
// outgrows share_max_bytes is abandoned by its producer (share_row).
// The floor is small so that the registry holds many small results (64 MB: about 1000 rings,
// as many as its slots), not 51 rings of 1 MB.
constexpr double kMinRingBytes = 64.0 * 1024.0;

bool entry_config(const Plan *plan, core::LogConfig *cfg) {
    const double max = static_cast<double>(share_settings.share_max_kb) * 1024.0;
    const double est = plan->plan_rows * (static_cast<double>(plan->plan_width) + 48.0);
    const double want =
        std::min({max, share_ring_cap_bytes(), std::max(4.0 * est, kMinRingBytes)});
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
const char *decide(NodeShare *ns, CustomScanState *node, Plan *child, const char *obstacle) {
    if (!settings.enable || !share_settings.share_across_sessions)
        return "share_across_sessions is off";
    if (IsParallelWorker()) return "parallel worker";
    if (obstacle != nullptr) return obstacle;
    auto *cs = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
    EState *estate = node->ss.ps.state;
    core::ResultKey key;
    if (!settings_watch_start(&ns->watch)) return "settings digest failed";
    if (const char *why = pg_call([&] { return share_key_for(cs, estate->es_snapshot, &key); }))
        return why;
    if (settings_may_differ(&ns->watch)) return "a setting changed while the key was computed";
    core::ResultRegistry *reg = shared_registry();
    if (reg == nullptr || shared_result_cv(0) == nullptr)
        return "no shared memory for results (parallel_material.shared_memory = 0)";
    core::LogConfig cfg;
    if (!entry_config(child, &cfg)) return "parallel_material.share_max_bytes too small";
    ns->reg = reg;
    // An existing entry first (a hit pays neither the statement sample nor the owner look-up,
    // which only a new entry records); after a miss, acquire() looks again under the lock and
    // creates the entry unless another session did meanwhile.
    const int64 now = GetCurrentTimestamp();
    core::AcquireResult answer;
    if (!reg->find(key, now, &ns->ref, &answer)) {
        const std::string sample = statement_sample(estate);
        core::Owner owner;
        pg_call([&] { owner = owner_for_new_entry(reg); });
        answer = reg->acquire(key, cfg, MyProcPid, now, sample.c_str(), &ns->ref, owner);
    }
    switch (answer) {
        case core::AcquireResult::NoSpace:
            return "no room in parallel_material.shared_memory";
        case core::AcquireResult::RoleQuota:
            return "this role's share of parallel_material.shared_memory is in use";
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
            // share_wait_timeout = 0: never wait for another session's producer.
            if (share_wait_timeout_ms() == 0) {
                reg->release(&ns->ref);
                return "parallel_material.share_wait_timeout is 0";
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

void share_start(NodeShare **slot, CustomScanState *node, Plan *child, const char *obstacle) {
    NodeShare *ns = fresh_state(slot, node);
    if (ns == nullptr) return;
    if (const char *skip = decide(ns, node, child, obstacle)) abandon(ns, skip);
}

void share_start_parallel(NodeShare **slot, CustomScanState *node, PlanState *child,
                          ShareHandoff *out) {
    *out = ShareHandoff{};
    share_start(slot, node, child->plan, nullptr);
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
    // A parallel participant runs with the leader's settings, which cannot change during a
    // parallel operation.
    if (!settings_watch_start(&ns->watch))
        throw core::Error(core::Error::Code::Internal, "settings digest failed");
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
                 errmsg("the session producing a shared result failed or went idle after this "
                        "query had read part of it, and running the plan here did not give "
                        "those rows again"),
                 errhint("Run the query again.")));
    });
    throw core::Error(core::Error::Code::Internal, "unreachable");
}

// A reader whose own settings changed since its run started (docs/shared-results.md, "Changes
// during a run"): its later rows would differ from the entry's, and running the plan here
// cannot tell which of its rows are the ones already returned (another order, other rows).
[[noreturn]] void settings_changed_while_reading() {
    pg_call([] {
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("a setting that shared results depend on changed while reading a shared "
                        "result"),
                 errdetail("The rows already returned were computed with the earlier settings; "
                           "the rest cannot be read from the shared result."),
                 errhint("Keep such settings unchanged while a cursor over the query is open, or "
                         "SET parallel_material.share_across_sessions = off before running it.")));
    });
    throw core::Error(core::Error::Code::Internal, "unreachable");
}

void finish_verify(NodeShare *ns) {
    share_stop(ns);  // drops the pin on the entry (a failed one is freed with its last pin)
    ns->role = Role::None;
    ns->unmatched.reset();
}

size_t row_hash(const void *data, uint32_t len) {
    return std::hash<std::string_view>{}(std::string_view(static_cast<const char *>(data), len));
}

// Out-of-order check: a row of the child equal (byte for byte) to a row read before that has
// not come again is that row (dropped); any other row is new.
bool match_unordered(NodeShare *ns, const void *data, uint32_t len) {
    auto range = ns->unmatched->equal_range(row_hash(data, len));
    for (auto it = range.first; it != range.second; ++it) {
        core::RecordView rec;
        ns->log->seek(ns->cursor, it->second);
        if (ns->log->reread(ns->cursor, ns->verify_upto, &rec) != core::ReadStatus::Record)
            continue;
        if (rec.len != len || memcmp(rec.data, data, len) != 0) continue;
        ns->unmatched->erase(it);
        if (ns->unmatched->empty()) finish_verify(ns);
        return true;
    }
    return false;
}
}  // namespace

bool share_check_row(NodeShare *ns, const void *data, uint32_t len) {
    if (!share_verifying(ns)) return false;
    // The rows already read were computed with the key's settings; a row computed with others
    // cannot be matched against them.
    if (settings_may_differ(&ns->watch)) settings_changed_while_reading();
    if (ns->unmatched == nullptr) {
        core::RecordView rec;
        if (ns->log->reread(ns->cursor, ns->verify_upto, &rec) != core::ReadStatus::Record) {
            finish_verify(ns);
            return false;
        }
        if (rec.len == len && memcmp(rec.data, data, len) == 0) {
            if (ns->cursor.position() >= ns->verify_upto) finish_verify(ns);
            return true;
        }
        // Another order (a synchronized scan started elsewhere, ties of a sort, a hash table
        // filled in another order): the rows read before must all come again, in any order;
        // the others are used as they come. The result is a permutation of stock's rows that
        // keeps every ordering the plan guarantees: the rows read before are the first ones of
        // an ordered result, so all rows after them sort after them.
        ns->unmatched = std::make_unique<std::unordered_multimap<size_t, uint64_t>>();
        ns->unmatched->emplace(row_hash(rec.data, rec.len), rec.pos);
        while (ns->log->reread(ns->cursor, ns->verify_upto, &rec) == core::ReadStatus::Record)
            ns->unmatched->emplace(row_hash(rec.data, rec.len), rec.pos);
    }
    return match_unordered(ns, data, len);
}

void share_check_end(NodeShare *ns) {
    if (share_verifying(ns)) copied_rows_differ();
}

bool share_producing(const NodeShare *ns) {
    return ns != nullptr && ns->role == Role::Produce && ns->log != nullptr;
}

namespace {
// Take-over (a failed producer, or one idle past share_wait_timeout): the caller runs the plan
// itself; rows already read are checked against its first rows (never read twice, never a
// partial result served as complete).
ShareNext take_over(NodeShare *ns, const char *why) {
    if (ns->rows == 0) {
        abandon(ns, (std::string(why) + "; ran the plan itself").c_str());
        return ShareNext::RunChild;
    }
    // Keep the pin: the rows read so far stay in the entry's log and are read again to check the
    // child's first rows against them.
    ns->role = Role::Verify;
    ns->verify_upto = ns->cursor.position();
    ns->cursor = core::Cursor();
    ns->outcome = std::string("skipped (") + why +
                  "; ran the plan itself and checked the rows already read)";
    return ShareNext::RunChild;
}
}  // namespace

void share_initializing(NodeShare *ns, const std::function<void()> &init) {
    if (ns == nullptr || ns->role != Role::Produce || ns->pulling == nullptr) return init();
    struct Pulling {
        pg_atomic_uint32 *flag;
        explicit Pulling(pg_atomic_uint32 *f) : flag(f) { pg_atomic_write_u32(flag, 1); }
        ~Pulling() { pg_atomic_write_u32(flag, 0); }
    } pulling(ns->pulling);
    init();
}

TupleTableSlot *share_pull(NodeShare *ns, PlanState *child) {
    if (ns == nullptr || ns->role != Role::Produce || ns->pulling == nullptr)
        return pg_call([&] { return ExecProcNode(child); });
    struct Pulling {
        pg_atomic_uint32 *flag;
        explicit Pulling(pg_atomic_uint32 *f) : flag(f) { pg_atomic_write_u32(flag, 1); }
        ~Pulling() { pg_atomic_write_u32(flag, 0); }
    } pulling(ns->pulling);
    return pg_call([&] { return ExecProcNode(child); });
}

ShareNext share_next(NodeShare *ns, const void **data, uint32_t *len) {
    if (settings_may_differ(&ns->watch)) {
        // Nothing returned from the entry yet: run the plan here, with the current settings.
        *data = nullptr;
        *len = 0;
        if (ns->rows == 0) return take_over(ns, "a setting in the key changed");
        settings_changed_while_reading();
    }
    core::RecordView rec;
    core::ReadStatus status;
    try {
        status = ns->log->read(ns->cursor, &rec);
    } catch (const ProducerIdle &idle) {
        *data = nullptr;
        *len = 0;
        return take_over(ns, idle.why);
    }
    switch (status) {
        case core::ReadStatus::Record:
            ns->rows++;
            *data = rec.data;
            *len = rec.len;
            return ShareNext::Record;
        case core::ReadStatus::End:
            share_stop(ns);  // complete: drop the pin now (role and outcome stay for EXPLAIN)
            return ShareNext::End;
        case core::ReadStatus::Failed:
            *data = nullptr;
            *len = 0;
            return take_over(ns, "the producing session failed");
        case core::ReadStatus::WouldBlock:
            break;
    }
    throw core::Error(core::Error::Code::Internal, "blocking read of a shared result returned early");
}

void share_row(NodeShare *ns, const void *data, uint32_t len) {
    if (ns == nullptr || ns->role != Role::Produce || ns->log == nullptr) return;
    // This row was computed with other settings than the key's (SET between two FETCHes, say):
    // it is right for this session only. The entry fails (attached readers take over: the rows
    // they read were all computed with the key's settings) and this run goes on locally.
    if (settings_may_differ(&ns->watch)) {
        abandon(ns, "a setting in the key changed while producing; ran locally");
        return;
    }
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
    // The last pulls ran with other settings: they may have skipped rows the key's settings
    // return (a setting that changes which rows a scan returns). Not published.
    if (settings_may_differ(&ns->watch)) {
        abandon(ns, "a setting in the key changed while producing; ran locally");
        return;
    }
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
    if (ns->pulling != nullptr) pg_atomic_write_u32(ns->pulling, 0);
    ns->pulling = nullptr;
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
