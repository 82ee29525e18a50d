// arrangement.hpp — the PostgreSQL adapter of arrangements (see docs/arrangements.md): the shared
// directory of arrangements and its region (arrangement_shmem.cpp), definitions and the row
// encoding (arrangement_def.cpp), MVCC callbacks (arrangement_mvcc.cpp), the heap build
// (arrangement_build.cpp), maintenance triggers (arrangement_trigger.cpp) and the SQL functions
// (arrangement_sql.cpp).
#pragma once

#include "parallel_material/core/arrangement_index.hpp"
#include "pg/pg.hpp"

extern "C" {
#include "access/htup.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "storage/lwlock.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
}

namespace pm::pg::arr {

constexpr int kMaxArrangements = 64;  // directory slots (cluster-wide)
constexpr int kMaxKeyColumns = 8;
constexpr int kMaxColumns = 64;
constexpr uint32_t kStripes = 32;  // writer-lock stripes (LWLocks), shared by all arrangements

enum class State : uint32_t { Free = 0, Building = 1, Ready = 2, Invalid = 3, Dropped = 4 };

// One definition, as stored in parallel_material.arrangement_defs. nkeys == 0: a row arrangement
// (create_row_arrangement), keyed by the heap tuple's TID instead of columns: one copy of its
// columns per heap tuple version, which key-only arrangements of the table read instead of the
// heap (docs/arrangements.md, "Row arrangements").
struct Def {
    int64 defid;
    Oid relid;
    int nkeys;
    AttrNumber keys[kMaxKeyColumns];
    int ncols;  // arranged columns (key columns included), in attribute-number order
    AttrNumber cols[kMaxColumns];
    // Adaptive (arrangement_adapt.cpp): created without an include list, it grows in place with
    // the columns joins read (learnt columns), by a background worker.
    bool adaptive;
};

// Same defid, relation, key and arranged columns (an in-place widening changes the columns).
bool same_columns(const Def &a, const Def &b);

// What a process may copy out of a directory entry.
struct EntryInfo {
    int slot = -1;
    State state = State::Free;
    uint64_t index_offset = 0;
    Oid relfilenode = InvalidOid;
    TransactionId build_xid = InvalidTransactionId;  // top-level xid that built it, if any
    Def def{};  // the definition it was built from (maintenance needs no catalog access)
    // Lower bound of the normal xids its versions hold (arrangement_wraparound.cpp).
    TransactionId oldest_xid = InvalidTransactionId;
    // Concurrent builds (arrangement_build.cpp): the side index of delete records while building
    // (0 otherwise), and the xid counter when the build published its index. A transaction whose
    // top-level xid precedes valid_xid (other than the builder's) may have written rows whose
    // command ids the build could not read: its own reads fall back to the heap.
    uint64_t side_offset = 0;
    TransactionId valid_xid = InvalidTransactionId;
};

// ---- shared memory (arrangement_shmem.cpp) ----
void request_shmem();
void startup_shmem();
bool available();  // preloaded and arrangement_memory > 0
// Raises the "not preloaded" / "disabled" error when !available().
void require_available();
core::ArrangementIndex index_at(uint64_t offset);
core::ArrangementIndex create_index(const core::ArrangementIndex::Options &opt);
// The memory account of an entry (its table owner's): Options::account of the index built in it.
uint32_t entry_account(int slot);
// Whether this process's last refused allocation hit its role's quota (else: region full).
bool refused_by_quota();
uint64_t role_memory_quota();  // bytes; 0: none (parallel_material.arrangement_memory_per_role)

EntryInfo lookup(int64 defid);
// Whether this database has a Ready entry for relid (no catalog access: the planner's pre-check).
bool has_ready_entry(Oid relid);
// Pins a Ready entry for reading (nullopt-like: slot -1 when not ready). unpin() always.
EntryInfo pin_ready(int64 defid);
void unpin(int slot);
// Pins the entry in a slot if it is Ready, whatever its database (the reclaim worker).
EntryInfo pin_slot_if_ready(int slot);
// A parallel worker pins the entry its leader pinned (slot, definition and index as the leader
// saw them), in whatever state it is now: the leader's snapshot needs no delta applied after the
// leader pinned it (see docs/arrangements.md, "Parallel workers"). slot -1 when it is not there.
EntryInfo pin_slot_as_worker(int slot, int64 defid, uint64_t index_offset);
// A parallel build's worker pins the entry its leader (builder_pid) is building, if it still is
// (arrangement_build_parallel.cpp); false when the build is gone. unpin() always.
bool pin_build_as_worker(int slot, int64 defid, uint64_t index_offset, int builder_pid);
uint64_t entry_deltas(int slot);
// Claims a slot for building defid (an older entry of defid is dropped), counted against the
// table's owner and this database (parallel_material.arrangements_per_role / _per_database);
// first frees the entries of databases that were dropped. Returns the slot, or -1 when another
// process is building it right now (caller waits and retries).
int begin_build(const Def &def, Oid relfilenode, Oid owner);
// -> Ready; oldest_xid: a lower bound of the normal xids the build stored (and of every running
// transaction's xid, which later deltas may store).
void finish_build(int slot, uint64_t index_offset, TransactionId oldest_xid);
// Drops a build that failed; its indexes are freed with the last pin (maintenance triggers may
// hold some while a concurrent build runs).
void abort_build(int slot);
// A concurrent build publishes its (empty) index and side index: from here on the maintenance
// triggers apply every write to them. Returns the entry's valid_xid (the xid counter then).
TransactionId publish_build(int slot, uint64_t index_offset, uint64_t side_offset);
// The maintenance trigger's look-up: the entry pinned when it is Ready or a published build;
// slot -1 - s when it exists in slot s but is neither (not pinned); -1 when there is none.
EntryInfo pin_for_maintenance(int64 defid);
State entry_state(int slot);
// Serializes a concurrent build's final merge (exclusive) with the maintenance triggers that
// write into the build (shared). Taken before the directory lock, never after.
LWLock *build_merge_lock(int slot);
// Entered and left around such a lock: allocations inside do not look up pg_database to free a
// dropped database's arrangements when the region is full (no catalog access under an LWLock).
void merge_section(bool enter);
// Ready -> Invalid (rebuilt on next use), reported at elevel (WARNING for lost deltas).
void set_invalid(int slot, const char *why, int elevel = WARNING);
void set_relfilenode(int slot, Oid relfilenode);
void count_delta(int slot, uint64_t n);
void note_reclaim(int slot);
// Raises the entry's oldest-xid bound (never lowers it).
void raise_oldest_xid(int slot, TransactionId xid);
// Sets it as given (the test function that fakes an old arrangement).
void force_oldest_xid(int slot, TransactionId xid);
// Drops every entry of defid now (the caller holds a lock that keeps writers and readers out,
// or the entry was never visible to anyone else).
void drop_entries(int64 defid);

struct EntryStats {
    int64 defid;
    State state;
    core::ArrangementStats stats;
    bool has_index;
    uint64_t deltas;
    TimestampTz last_reclaim;
    Oid relfilenode;
    TransactionId oldest_xid;
    uint64_t wanted;  // learnt columns: bit a-1 for attnum a (arrangement_learn.cpp)
};
// Adds learnt columns (bit a-1 for attnum a) to the entries of defid (atomic OR; no catalog access).
void note_wanted(int64 defid, uint64_t bits);
uint64_t entry_wanted(int64 defid);  // the learnt mask of this database's entry of defid (0: none)
// Rate limit of automatic widenings: true (and now recorded) when none was requested for defid's
// entry within interval (same unit as now). False without an entry.
bool claim_widen(int64 defid, uint64_t now, uint64_t interval);
// Copies the stats of every entry of this database; returns how many (<= kMaxArrangements).
int collect_stats(EntryStats *out);

// Transaction bookkeeping: an arrangement created in a (sub)transaction that aborts is dropped;
// one dropped in a transaction is destroyed when it commits.
void remember_created(int64 defid);
void remember_dropped(int64 defid);

// ---- background reclaim (arrangement_reclaim.cpp) ----
void register_reclaim_worker();  // from _PG_init while preloading

// ---- definitions and encoding (arrangement_def.cpp) ----
Oid defs_relid();                     // parallel_material.arrangement_defs
int load_defs(Oid relid, Def *out);   // every definition (relid == InvalidOid: all); <= kMax
// Definition defid of relid (false: none), as load_defs finds it, through a per-backend cache
// used while the directory holds an entry built from the cached definition (executor start).
bool find_def(Oid relid, int64 defid, Def *out);
void insert_def(const Def &def);
// The definition of rel on key_columns (NULL: its only one), or an error (arrangement_sql.cpp).
Def *find_def_by_key(Relation rel, ArrayType *key_columns);
// Automatic widening (arrangement_adapt.cpp): the planner found learnt columns for d.
void request_widen(const Def &d);
// The definition's arranged columns become def's (in-place widening), under the caller's lock.
void update_def_columns(const Def &def);
// Adds column a to d's columns (kept sorted, no duplicates); false when it was there already.
// ERROR beyond kMaxColumns.
bool add_sorted_unique(Def *d, AttrNumber a);
void delete_def(int64 defid);
int64 next_defid();

// The leading arranged columns that are key columns, when every key column has a fixed length:
// their bytes are in the key encoding (a null byte and the value's bytes per key column), so a
// bare stored tuple leaves them out (arrangement_stored_tuple.hpp) and a reader copies them
// back from the version's key. n == 0: nothing is left out.
struct KeyCut {
    uint32_t len = 0;      // data bytes left out: the end of the last leading key column
    uint32_t key_len = 0;  // the key encoding's length (fixed)
    int n = 0;             // leading key columns
    struct Col {
        uint32_t data_off, key_off, len;  // in the tuple's data, in the key encoding, attlen
    } col[kMaxKeyColumns];
};
// arrangement_restore.cpp: parallel_material.arrangement_restore_defs, the definitions by names
// that pg_dump carries (docs/arrangements.md, "pg_dump and restore").
void insert_restore_def(const Def &d);  // from insert_def
void delete_restore_def(int64 defid);   // from delete_def
// relid's rows again from its definitions (after ALTER TABLE renamed it, moved it to another
// schema or renamed a column: the dumped names follow).
void refresh_restore_defs(Oid relid);
bool restore_def_exists(int64 defid);   // a dumped id: next_defid skips it
// A dumped definition (no arrangement_defs row) of relid's table by its current schema and name.
bool dumped_def_of(int64 defid, Oid relid);
// Re-creates the dumped definitions of relid (InvalidOid: of every table the caller owns; a named
// table the caller does not own is an error): drops their restored triggers and rows, then
// create_arrangement by column names (an arrangement on that key made meanwhile is kept).
// report (may be null) gets each one: the table, its key names, the dumped and the new defid.
using RestoredFn = void (*)(void *arg, Oid relid, Datum key, int64 dumped, int64 now);
int restore_dumped(Oid relid, RestoredFn report, void *arg);

// The projected shape of one arrangement in this backend.
struct Shape {
    Def def;
    TupleDesc reldesc;   // the relation's
    TupleDesc projdesc;  // the arranged columns, blessed (record_out works on it)
    int keypos[kMaxKeyColumns];  // position of each key column in projdesc
    KeyCut cut;          // what stored tuples leave out (make_shape)
};
Shape *make_shape(Relation rel, const Def &def);  // palloc'd in CurrentMemoryContext

// Key bytes of a heap tuple (false when a key column is NULL: such rows never match an equi
// join but are still stored, with an empty-marker key, so that scans see them).
void encode_key_from_values(const Shape *s, const Datum *values, const bool *isnull,
                            StringInfo key);
// A row arrangement (Def::nkeys == 0) stores its versions with an empty key under the hash of
// their TID (hash_tid): a probe compares the hash tag, then the version's TID in its header,
// never key bytes (which follow the tuple, a cache line further). No other arrangement has an
// empty key (each key column encodes at least a null byte), so version_hash tells them apart.
inline bool is_row_def(const Def &d) { return d.nkeys == 0; }
uint64_t hash_tid(uint32_t block, uint16_t offset);
// The key a version of this heap tuple is stored under (encode_key_from_values; nothing for a
// row arrangement), and the hash it is stored under (of those key bytes, or of the TID).
void encode_stored_key(const Shape *s, const Datum *values, const bool *isnull,
                       const ItemPointerData *tid, StringInfo key);
uint64_t stored_hash(const Shape *s, const StringInfo key, const ItemPointerData *tid);
// The whole hash a stored version was inserted with (a version keeps only its low 32 bits).
uint64_t version_hash(const core::VersionView &v);
// Key bytes of probe values given per key column.
void encode_probe_key(const Shape *s, const Datum *keyvals, const bool *keynulls, StringInfo key);
// Bounds the key encoded at key->data[start..] (arrangement_keys.cpp): one longer than
// kMaxStoredKey bytes becomes kHashedKeyMarker and its SHA-256. Both encoders call it last.
constexpr int kMaxStoredKey = 64;
constexpr unsigned char kHashedKeyMarker = 0xff;
void bound_long_key(StringInfo key, int start);  // the digest, for a key longer than that
inline void bound_key(StringInfo key, int start) {
    if (key->len - start > kMaxStoredKey) bound_long_key(key, start);
}
uint64_t hash_key(const StringInfo key);
uint64_t hash_key_bytes(const char *data, int len);  // the same hash over raw key bytes
// The projected MinimalTuple (externally toasted values fetched) of a deformed heap tuple.
MinimalTuple project(const Shape *s, const Datum *values, const bool *isnull);
// record_out text of a version's stored tuple bytes (flags and key: the version's, see
// arrangement_stored_tuple.hpp).
text *row_text(const Shape *s, const char *tuple, uint32_t len, uint16_t flags, const char *key);

// ---- MVCC (arrangement_mvcc.cpp) ----
// The heap's MVCC rules (HeapTupleSatisfiesMVCC) applied to stored fields.
bool version_visible(const core::VersionView &v, Snapshot snap);
// The same without anything that can raise an error (no clog or subtrans reads): 1 visible,
// 0 not, -1 unknown (then call version_visible through pg_call).
struct VisMemo;
int version_visible_fast_memo(const core::VersionView &v, Snapshot snap, VisMemo *m);
int version_visible_fast(const core::VersionView &v, Snapshot snap);
// version_visible_fast with a memo of the last answer for a version never deleted whose inserter
// is not this transaction: under one snapshot that answer depends on the xmin alone (whether an
// xid is in the snapshot is fixed, a finished xid's outcome never changes), and versions built or
// loaded together share their xmin. A memo belongs to one scan under one snapshot (zeroed: empty).
struct VisMemo {
    TransactionId xmin;  // InvalidTransactionId: nothing remembered
    bool visible;
};
inline int version_visible_memo(const core::VersionView &v, Snapshot snap, VisMemo *m) {
    if (v.xmin == m->xmin && v.xmax == InvalidTransactionId && m->xmin != InvalidTransactionId)
        return m->visible ? 1 : 0;
    return version_visible_fast_memo(v, snap, m);
}
// The heap's current version of its TID: never deleted, or deleted by an aborted transaction.
bool version_current(const core::VersionView &v);
// Dead to every snapshot: aborted inserter, or deleter committed before oldest_xmin.
bool version_dead(const core::VersionView &v, TransactionId oldest_xmin);
// Inserted for every snapshot, present and future: inserter committed before oldest_xmin (what
// VACUUM would freeze). Reclaim then stores the version compact, with a frozen xmin.
bool version_freezable(const core::VersionView &v, TransactionId oldest_xmin);

// ---- xid wraparound (arrangement_wraparound.cpp) ----
// Why an arrangement whose oldest-xid bound is `oldest` must be rebuilt before it is read, or
// nullptr: its bound precedes the table's relfrozenxid (the heap froze or removed tuples whose
// xids we still hold) or the oldest xid the commit log still answers for.
const char *xids_too_old(TransactionId oldest, TransactionId relfrozenxid);
// Only the second reason: the bound precedes the commit log's horizon, so the arrangement can no
// longer be read at all (the first one only asks for an early rebuild: clog still answers).
bool xids_past_clog(TransactionId oldest);
// The reclaim worker: invalidates every ready arrangement whose bound precedes the commit
// log's horizon (no database needed).
void invalidate_wraparound_risks();
// Tracks the oldest normal xid of the versions a reclaim pass keeps.
struct XidFloor {
    TransactionId oldest = InvalidTransactionId;
    void see(const core::VersionView &v);
};
// After a complete reclaim pass that started at horizon `horizon`: every linked version holds
// xids >= min(floor, horizon) (versions added meanwhile belong to transactions running then).
void note_reclaim_floor(int slot, const XidFloor &floor, TransactionId horizon);
// Flushes this process's xid-outcome cache once the xid counter moved on by 2^30 since the
// last flush (a cached 32-bit xid must never be taken for a later one with the same value).
void xid_cache_maintain();

// ---- build (arrangement_build.cpp) ----
// Builds the index of def over rel (the caller holds at least ShareLock on rel), registers it
// Ready in the directory and returns its slot. Waits while another process builds the same one.
int build(Relation rel, const Def &def);
// The Ready entry of def, building it first when it is missing or invalid (takes ShareLock on
// the relation for the build). Returns it pinned. A role that could not take ShareLock itself
// (no UPDATE, DELETE or TRUNCATE on the table: a SELECT-only reader) never rebuilds: it gets an
// error (55000) instead of blocking the table's writers.
EntryInfo pin_or_build(Relation rel, const Def &def);
// For a reader that can fall back to the stock plan: the Ready entry pinned, rebuilt first only
// when the current role may block writers (as pin_or_build); slot -1 when it is not ready and
// this role may not rebuild it (nothing locked, nothing waited for).
EntryInfo pin_for_reader(Relation rel, const Def &def);
// Why the last pin_for_reader of this backend returned no entry (for EXPLAIN's Fallback line).
const char *reader_refusal();
// Defines the hidden test setting parallel_material.debug_build_pause (from _PG_init).
void define_build_gucs();

// ---- SQL-level helpers (arrangement_sql.cpp; plain PostgreSQL code: call through pg_call) ----
// Raises the create_arrangement error when key column a of rel cannot be a key (no hash opclass,
// equality not bitwise under its collation).
void check_key_type(Relation rel, AttrNumber a);
const char *relation_sql_name(Relation rel);  // schema-qualified, quoted
// Drops the definition and its two triggers (the caller remembers the drop for commit).
void drop_def_and_triggers(const char *relname, const Def *d);
// Whether both maintenance triggers of d are on rel exactly as create_arrangement made them
// (type, name, argument, function, no WHEN clause nor column list) and ENABLE ALWAYS.
bool maintenance_triggers_intact(Relation rel, const Def &d, const Trigger **row = nullptr,
                                 const Trigger **trunc = nullptr);

// ---- build progress (arrangement_progress.cpp; none of these raises an error) ----
constexpr int kProgressWaiting = 1;   // waiting for the table lock (writers)
constexpr int kProgressBuilding = 2;  // scanning the heap
// Starts reporting a build of relid (defid 0: not known yet) unless this backend already
// reports a command; returns whether it started one (pass that to progress_end).
bool progress_begin(Oid relid, int64 defid, int phase);
void progress_scan_start(int64 defid, int64 blocks_total, int64 tuples_estimate);
void progress_scan(int64 blocks_done, int64 versions_done);
void progress_end(bool started);

}  // namespace pm::pg::arr
