// arrangement_trigger.cpp — maintenance: the AFTER ROW trigger (INSERT, UPDATE, DELETE; fired by
// COPY, MERGE, ON CONFLICT and logical replication apply too, being ENABLE ALWAYS) and the AFTER
// TRUNCATE statement trigger that create_arrangement installs. Row triggers, not transition
// tables: a transition table holds copies without the heap TID, which is what a delete must find
// (docs/arrangements.md, "Maintenance"). The MVCC fields come from the heap tuple's header, read
// under a share lock on its buffer: the (sub)transaction xid that wrote it and its command id.
// The function is not executable by PUBLIC, and checks that the trigger firing it is one that
// create_arrangement made, on the arrangement's own table (docs/arrangements.md, "Maintenance").
#include "pg/arrangement/arrangement.hpp"
#include "pg/inval.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}


extern "C" {
PGDLLEXPORT Datum pm_arrangement_trigger(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_arrangement_trigger);
}

namespace pm::pg::arr {

namespace {

struct RowVersion {
    core::Tid tid;
    TransactionId xid;  // xmin of a new row, updating xmax of an old one
    CommandId cid;
    TransactionId row_xmin;  // an old row's raw xmin (kept when frozen)
    StringInfoData key;
    uint64_t hash;
    MinimalTuple tuple;  // new rows only
};

// Reads a trigger tuple: header fields under the buffer's share lock, then the encoded row.
void read_row(const Shape *s, HeapTuple tup, TupleTableSlot *slot, bool is_new, RowVersion *out) {
    Buffer buf = InvalidBuffer;
    if (slot != nullptr && TTS_IS_BUFFERTUPLE(slot))
        buf = reinterpret_cast<BufferHeapTupleTableSlot *>(slot)->buffer;
    if (BufferIsValid(buf)) LockBuffer(buf, BUFFER_LOCK_SHARE);
    HeapTupleHeader h = tup->t_data;
    if (is_new) {
        // COPY FREEZE writes frozen tuples, visible to every snapshot: store them as the build does.
        out->xid = HeapTupleHeaderXminFrozen(h) ? FrozenTransactionId : HeapTupleHeaderGetRawXmin(h);
        out->cid = HeapTupleHeaderGetCmin(h);
    } else {
        out->xid = HeapTupleHeaderGetUpdateXid(h);
        out->cid = HeapTupleHeaderGetCmax(h);
        out->row_xmin = HeapTupleHeaderGetRawXmin(h);
    }
    if (BufferIsValid(buf)) LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    out->tid = core::Tid{ItemPointerGetBlockNumber(&tup->t_self),
                         ItemPointerGetOffsetNumber(&tup->t_self)};
    int natts = s->reldesc->natts;
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * natts));
    bool *isnull = static_cast<bool *>(palloc(sizeof(bool) * natts));
    heap_deform_tuple(tup, s->reldesc, values, isnull);
    initStringInfo(&out->key);
    encode_key_from_values(s, values, isnull, &out->key);
    out->hash = hash_key(&out->key);
    out->tuple = is_new ? project(s, values, isnull) : nullptr;
}

// The heap's current version of a TID (a lambda object: FunctionRef refers to callables).
const auto current_version = [](const core::VersionView &v) {
    return pg_call([&] { return version_current(v); });
};

// mark_deleted's choice for a delete by `xid`: the current version, or one already stamped
// with that very xid (a concurrent build stores the in-progress deleter it read in the heap
// header, without its command id, which this stamp then sets).
struct CurrentOrStampedBy {
    TransactionId xid;
    bool operator()(const core::VersionView &v) const {
        return v.xmax == xid || pg_call([&] { return version_current(v); });
    }
};

// Whether the index holds the version of this TID inserted by xid (whatever its command id).
bool holds_version(core::ArrangementIndex &index, const RowVersion *nv) {
    bool present = false;
    index.probe(
        nv->hash, nv->key.data, static_cast<uint32_t>(nv->key.len),
        [&](const core::VersionView &v) {
            if (v.tid == nv->tid && v.xmin == nv->xid) present = true;
            return false;
        },
        [](const core::VersionView &) {});
    return present;
}

// Holds a pin on a directory entry (and, for a build, the build-merge lock shared).
class MaintenancePin {
  public:
    explicit MaintenancePin(int slot) : slot_(slot) {}
    ~MaintenancePin() {
        if (merge_ != nullptr) {
            merge_section(false);
            LWLockRelease(merge_);
        }
        unpin(slot_);
    }
    MaintenancePin(const MaintenancePin &) = delete;
    MaintenancePin &operator=(const MaintenancePin &) = delete;
    void lock_merge() {
        merge_ = build_merge_lock(slot_);
        LWLockAcquire(merge_, LW_SHARED);
        merge_section(true);
    }

  private:
    int slot_;
    LWLock *merge_ = nullptr;
};

// The last triggers found to belong to their definition's table while the entry was not built,
// or to name a dumped definition of their table (a restored database before
// restore_arrangements): a definition's table never changes, its defid is never reused for
// another table. Several, so that a table's arrangements firing in turn row by row all hit.
struct Verified {
    Oid tgoid = InvalidOid;
    Oid relid = InvalidOid;
    int64 defid = 0;
};
constexpr int kVerified = 8;
Verified g_verified[kVerified];
int g_next_verified = 0;

[[noreturn]] void not_maintenance(const TriggerData *td, const char *why) {
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("trigger \"%s\" on \"%s\" is not an arrangement's maintenance trigger",
                           td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation)),
                    errdetail("%s", why),
                    errhint("parallel_material._arrangement_trigger() runs only in the triggers "
                            "create_arrangement installs.")));
}

// The definition id of a trigger create_arrangement made: one argument, a decimal defid; AFTER
// INSERT OR UPDATE OR DELETE FOR EACH ROW named pm_arrangement_<defid>, or AFTER TRUNCATE FOR
// EACH STATEMENT named pm_arrangement_<defid>_truncate; no WHEN clause, no column list. Anything
// else (another table, statement-level, BEFORE, a copy under another name) is an ERROR.
int64 checked_defid(const TriggerData *td) {
    const Trigger *t = td->tg_trigger;
    if (t->tgnargs != 1) not_maintenance(td, "It must have exactly one argument, a definition id.");
    // A decimal defid (no sign, no leading zero); checked per row, so without formatting.
    const char *arg = t->tgargs[0];
    size_t len = 0;
    int64 defid = 0;
    while (arg[len] >= '0' && arg[len] <= '9' && len < 18) defid = defid * 10 + (arg[len++] - '0');
    if (len == 0 || arg[len] != '\0' || arg[0] == '0')
        not_maintenance(td, "Its argument is not a definition id.");
    TriggerEvent ev = td->tg_event;
    bool truncate = TRIGGER_FIRED_BY_TRUNCATE(ev);
    // pm_arrangement_<defid>, or pm_arrangement_<defid>_truncate
    constexpr char kPrefix[] = "pm_arrangement_";
    constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
    const char *name = t->tgname;
    bool name_ok = strncmp(name, kPrefix, kPrefixLen) == 0 &&
                   strncmp(name + kPrefixLen, arg, len) == 0 &&
                   strcmp(name + kPrefixLen + len, truncate ? "_truncate" : "") == 0;
    int16 type = truncate ? TRIGGER_TYPE_TRUNCATE
                          : static_cast<int16>(TRIGGER_TYPE_ROW | TRIGGER_TYPE_INSERT |
                                               TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE);
    bool level_ok = truncate ? TRIGGER_FIRED_FOR_STATEMENT(ev) : TRIGGER_FIRED_FOR_ROW(ev);
    if (!TRIGGER_FIRED_AFTER(ev) || !level_ok || t->tgtype != type)
        not_maintenance(td, "It must be AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, or AFTER "
                            "TRUNCATE FOR EACH STATEMENT.");
    if (t->tgqual != nullptr || t->tgnattr != 0)
        not_maintenance(td, "It must have neither a WHEN condition nor a column list.");
    if (!name_ok) not_maintenance(td, "Its name is not the one create_arrangement gave it.");
    return defid;
}

// The arrangement's table is the trigger's table (entry, or definition when not built).
void check_table(const TriggerData *td, int64 defid, const EntryInfo &e) {
    Oid relid = RelationGetRelid(td->tg_relation);
    if (e.slot != -1) {  // in the directory (pinned or not): its definition is at hand
        if (e.def.relid != relid)
            not_maintenance(td, "Its definition id names an arrangement of another table.");
        return;
    }
    const Trigger *t = td->tg_trigger;
    for (const Verified &v : g_verified)
        if (v.tgoid == t->tgoid && v.relid == relid && v.defid == defid) return;
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(relid, defs);
    bool found = false;
    for (int i = 0; i < n && !found; ++i) found = defs[i].defid == defid;
    pfree(defs);
    // Restored from a dump (arrangement_defs is not dumped): a definition of this very table that
    // restore_arrangements has not re-created yet. No arrangement exists: nothing to maintain.
    if (!found && !dumped_def_of(defid, relid))
        not_maintenance(td, "Its definition id names no arrangement of this table.");
    g_verified[g_next_verified] = Verified{t->tgoid, relid, defid};
    g_next_verified = (g_next_verified + 1) % kVerified;
}

// The shapes of the arrangements maintained lately (a projected tuple descriptor, built and
// blessed): made once per definition instead of once per row. Any invalidation of the table's
// relcache entry (ALTER TABLE, a changed column type, a rewrite) marks its shapes stale; a stale
// one is freed the next time a shape is looked up, never while a row is being maintained. A
// definition's columns never change (its defid is never reused), so (defid, relid) names one
// shape for as long as the relation's descriptor is unchanged.
struct CachedShape {
    int64 defid;
    Oid relid;
    bool stale;
    Shape *shape;  // in CacheMemoryContext; nullptr: free
};
constexpr int kShapes = 8;
CachedShape g_shapes[kShapes];
int g_next_shape = 0;
bool g_shape_callback = false;

void forget_shapes(Datum, Oid relid) {
    for (CachedShape &c : g_shapes)
        if (c.shape != nullptr && (!OidIsValid(relid) || c.relid == relid)) c.stale = true;
}

void free_shape(CachedShape &c) {
    if (c.shape == nullptr) return;
    FreeTupleDesc(c.shape->projdesc);
    pfree(c.shape);
    c.shape = nullptr;
}

const Shape *shape_for(Relation rel, const Def &def) {
    Oid relid = RelationGetRelid(rel);
    for (CachedShape &c : g_shapes)
        if (c.shape != nullptr && !c.stale && c.defid == def.defid && c.relid == relid) {
            c.shape->reldesc = RelationGetDescr(rel);  // the relcache may have rebuilt it equal
            return c.shape;
        }
    if (!g_shape_callback) {
        pm::pg::on_relcache_inval(forget_shapes);
        g_shape_callback = true;
    }
    CachedShape *slot = nullptr;
    for (CachedShape &c : g_shapes) {
        if (c.shape != nullptr && c.stale) free_shape(c);
        if (slot == nullptr && c.shape == nullptr) slot = &c;
    }
    if (slot == nullptr) {
        slot = &g_shapes[g_next_shape];
        g_next_shape = (g_next_shape + 1) % kShapes;
        free_shape(*slot);
    }
    MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);
    Shape *s = make_shape(rel, def);
    MemoryContextSwitchTo(old);
    *slot = CachedShape{def.defid, relid, false, s};
    return s;
}

void apply(TriggerData *td, EntryInfo &e, MaintenancePin &pin);

void maintain(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        pg_call([] {
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("parallel_material._arrangement_trigger() must be called as a "
                                   "trigger")));
        });
    auto *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    int64 defid = pg_call([&] { return checked_defid(td); });
    EntryInfo e = pin_for_maintenance(defid);
    if (e.slot >= 0) {
        MaintenancePin pin(e.slot);
        pg_call([&] { check_table(td, defid, e); });
        apply(td, e, pin);
        return;
    }
    pg_call([&] { check_table(td, defid, e); });
    // Not built (after a restart), invalid, or a build that has not published its index yet
    // (its heap scan starts after that, and sees this write): nothing to do.
}

void apply(TriggerData *td, EntryInfo &e, MaintenancePin &pin) {
    Relation rel = td->tg_relation;
    TriggerEvent ev = td->tg_event;
    if (TRIGGER_FIRED_BY_TRUNCATE(ev)) {
        // Never during a build: TRUNCATE's AccessExclusiveLock waits for the builder's lock.
        if (e.state != State::Ready) return;
        core::ArrangementIndex index = index_at(e.index_offset);
        TransactionId xid = pg_call([] { return GetCurrentTransactionId(); });
        // Marked used, so that the next command's snapshot sees the truncation.
        CommandId cid = pg_call([] { return GetCurrentCommandId(true); });
        uint64_t n = index.truncate_all(xid, cid, current_version);
        set_relfilenode(e.slot, pm_rel_filenumber(rel));
        count_delta(e.slot, n);
        return;
    }
    if (e.relfilenode != pm_rel_filenumber(rel)) {
        set_invalid(e.slot, "the table was rewritten", DEBUG1);
        return;
    }
    // An arranged column dropped since the build: stop maintaining (reads then ask to re-create);
    // the user's write must not fail because of the arrangement.
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < e.def.ncols; ++i) {
        AttrNumber a = e.def.cols[i];
        if (a > desc->natts || TupleDescAttr(desc, a - 1)->attisdropped) {
            pg_call([&] { set_invalid(e.slot, "an arranged column was dropped"); });
            return;
        }
    }
    const Shape *s = pg_call([&] { return shape_for(rel, e.def); });
    bool deletes = TRIGGER_FIRED_BY_UPDATE(ev) || TRIGGER_FIRED_BY_DELETE(ev);
    bool inserts = TRIGGER_FIRED_BY_INSERT(ev) || TRIGGER_FIRED_BY_UPDATE(ev);
    RowVersion *old = nullptr, *nv = nullptr;
    if (deletes) {
        old = static_cast<RowVersion *>(pg_call([] { return palloc0(sizeof(RowVersion)); }));
        pg_call([&] { read_row(s, td->tg_trigtuple, td->tg_trigslot, false, old); });
    }
    if (inserts) {
        HeapTuple tup = TRIGGER_FIRED_BY_UPDATE(ev) ? td->tg_newtuple : td->tg_trigtuple;
        TupleTableSlot *slot = TRIGGER_FIRED_BY_UPDATE(ev) ? td->tg_newslot : td->tg_trigslot;
        nv = static_cast<RowVersion *>(pg_call([] { return palloc0(sizeof(RowVersion)); }));
        pg_call([&] { read_row(s, tup, slot, true, nv); });
    }
    // Built by this very transaction: the build's scan may already hold this row. Or this
    // transaction had an xid before a concurrent build published its index: the build may have
    // stored its rows from the heap (without their command ids).
    bool built_here = TransactionIdIsValid(e.build_xid) &&
                      pg_call([&] { return TransactionIdIsCurrentTransactionId(e.build_xid); });
    bool before_build = TransactionIdIsValid(e.valid_xid) && pg_call([&] {
        TransactionId top = GetTopTransactionIdIfAny();
        return TransactionIdIsValid(top) && TransactionIdPrecedes(top, e.valid_xid);
    });

    // A concurrent build (arrangement_build.cpp): writes go into its index under the build-merge
    // lock (shared), so that its final merge (exclusive) sees all or none of each one. The state
    // is read again under the lock: the build may have finished (Ready) or failed meanwhile.
    // Nothing in between reads the catalog or a buffer.
    bool building = e.state == State::Building;
    if (building) {
        pin.lock_merge();
        State now = entry_state(e.slot);
        if (now != State::Building && now != State::Ready) return;
        building = now == State::Building;
    }
    core::ArrangementIndex index = index_at(e.index_offset);
    uint64_t applied = 0;
    // Out of region memory: a ready arrangement goes invalid (the user's write never fails); a
    // build in progress is flagged, and fails at its merge.
    auto out_of_memory = [&] {
        if (building) {
            index.mark_invalid();
            return;
        }
        pg_call([&] {
            set_invalid(e.slot, refused_by_quota()
                                    ? "the table owner's share of parallel_material.arrangement_memory "
                                      "(arrangement_memory_per_role) is exhausted"
                                    : "parallel_material.arrangement_memory is exhausted");
        });
    };

    if (deletes) {
        bool found = index.mark_deleted(old->tid, old->hash, old->xid, old->cid,
                                        CurrentOrStampedBy{old->xid});
        if (!found && building) {
            // The build has not stored that version yet: a delete record in its side index,
            // applied once the scan is stored (its (xmin, cmin) carry the deleter's xid and cid,
            // its tuple bytes the row's raw xmin).
            try {
                index_at(e.side_offset)
                    .insert(old->hash, old->key.data, static_cast<uint32_t>(old->key.len),
                            &old->row_xmin, sizeof(old->row_xmin), old->tid, old->xid, old->cid);
            } catch (const core::Error &err) {
                if (err.code() != core::Error::Code::OutOfMemory) throw;
                out_of_memory();
                return;
            }
        } else if (!found && !built_here) {
            pg_call([&] { set_invalid(e.slot, "a deleted row version was not found"); });
            return;
        }
        applied += found ? 1 : 0;
    }
    if (inserts) {
        // While building, the build's merge (exclusive lock) checks for this version instead.
        bool present = !building && (built_here || before_build) && holds_version(index, nv);
        if (!present) {
            try {
                const char *tb;
                uint32_t tl;
                const uint16_t tf = pack_stored(nv->tuple, &s->cut, nv->key.data,
                                                static_cast<uint32_t>(nv->key.len), &tb, &tl);
                index.insert(nv->hash, nv->key.data, static_cast<uint32_t>(nv->key.len), tb, tl,
                             nv->tid, nv->xid, nv->cid, tf);
                ++applied;
            } catch (const core::Error &err) {
                if (err.code() != core::Error::Code::OutOfMemory) throw;
                out_of_memory();
                return;
            }
        }
    }
    count_delta(e.slot, applied);
}

}  // namespace

}  // namespace pm::pg::arr

Datum pm_arrangement_trigger(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        pm::pg::arr::maintain(fcinfo);
        return PointerGetDatum(nullptr);
    });
}
