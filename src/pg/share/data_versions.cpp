// data_versions.cpp — the shared table of per-relation data versions (fixed-size shared hash
// keyed by (database, relation), one LWLock) and the reader's key computation. Writers register
// as in-progress committers before their commit becomes visible and are counted (version bump,
// recent-commit ring) after it; a reader derives, from its snapshot, the version whose commits it
// sees exactly, or skips sharing. docs/shared-results.md gives the proof sketch.
#include "pg/share/data_versions.hpp"

#include "pg/share/write_tracking.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
}

namespace pm::pg {

namespace {

constexpr const char *kTrancheName = "parallel_material_data_versions";

struct RelKey {
    Oid dboid;
    Oid relid;
};

// One relation's versions. Commit number v (1-based) is remembered at ring[(v - 1) % kCommitRing]
// while v > version - kCommitRing. Transaction ids are 64-bit (FullTransactionId values) so that
// wraparound never confuses an old commit with a new one; 0 marks a free committer slot.
struct VersionEntry {
    RelKey key;  // hash key, first
    uint64 version;
    uint64 evicted_max;  // largest fxid pushed out of the ring (0: none)
    uint64 ring[kCommitRing];
    bool ring_unsafe[kCommitRing];  // that commit was not MVCC-safe (TRUNCATE, rewrite)
    uint64 evicted_unsafe_max;      // largest not-MVCC-safe fxid pushed out of the ring (0: none)
    uint64 committers[kCommitterSlots];
    uint32 unknown_committers;  // registered committers that found no free slot
    bool poisoned;              // written by a prepared transaction: never shared until reset
};

struct VersionHeader {
    uint64 generation;  // bumped by reset
    uint64 horizon;     // fxid; snapshots must see every older transaction as finished (0: unset)
    long entries;       // entries in the hash (the global one included)
};

HTAB *g_table = nullptr;
VersionHeader *g_header = nullptr;
LWLock *g_lock = nullptr;

RelKey key_for(Oid relid) {
    // The global entry belongs to no database.
    return RelKey{relid == kGlobalRelid ? InvalidOid : MyDatabaseId, relid};
}

void clear_entry(VersionEntry *e) {
    RelKey key = e->key;
    memset(e, 0, sizeof(*e));
    e->key = key;
}

VersionEntry *find_entry(Oid relid) {
    RelKey key = key_for(relid);
    return static_cast<VersionEntry *>(hash_search(g_table, &key, HASH_FIND, nullptr));
}

// Under the exclusive lock. nullptr when the table is full.
VersionEntry *enter_entry(Oid relid) {
    RelKey key = key_for(relid);
    if (auto *e = static_cast<VersionEntry *>(hash_search(g_table, &key, HASH_FIND, nullptr)))
        return e;
    bool found = false;
    if (g_header->entries >= kMaxTrackedRelations + 1) return nullptr;
    auto *e = static_cast<VersionEntry *>(hash_search(g_table, &key, HASH_ENTER_NULL, &found));
    if (e == nullptr) return nullptr;
    if (!found) {
        clear_entry(e);
        g_header->entries++;
    }
    return e;
}

// A 32-bit xid of a current snapshot, widened to 64 bits (it is at most 2^31 behind next).
uint64 widen(TransactionId xid, FullTransactionId next) {
    uint64 n = U64FromFullTransactionId(next);
    uint64 epoch = n >> 32;
    if (xid > XidFromFullTransactionId(next)) epoch--;
    return (epoch << 32) | xid;
}

struct SnapshotView {
    Snapshot snap;
    uint64 xmin;  // full
    uint64 xmax;  // full
};

// Whether the (committed, or committing) transaction fxid is visible to the snapshot: it ended
// before the snapshot was taken.
bool sees(const SnapshotView &sv, uint64 fxid) {
    if (fxid < sv.xmin) return true;
    if (fxid >= sv.xmax) return false;
    return !XidInMVCCSnapshot(static_cast<TransactionId>(fxid & 0xFFFFFFFFu), sv.snap);
}

// The key version of one entry (copied under the lock) for the snapshot, or a reason.
const char *entry_key(const VersionEntry &e, const SnapshotView &sv, uint64 *out) {
    if (e.poisoned) return "written by a prepared transaction";
    if (e.unknown_committers > 0) return "too many concurrent committers";
    for (uint64 c : e.committers)
        if (c != 0 && sees(sv, c)) return "a visible commit is not counted yet";
    uint64 v = e.version;
    uint64 lo = v > static_cast<uint64>(kCommitRing) ? v - kCommitRing + 1 : 1;
    // Commits that left the ring must all be visible: they are when every one of them is older
    // than the snapshot's xmin.
    if (e.evicted_max != 0 && e.evicted_max >= sv.xmin) return "commit history too short";
    // TRUNCATE and table rewrites are not MVCC-safe: a snapshot that does not see such a commit
    // still reads the new contents in stock PostgreSQL; a shared result of its own key would not.
    if (e.evicted_unsafe_max != 0 && e.evicted_unsafe_max >= sv.xmin)
        return "a TRUNCATE or table rewrite this snapshot does not see";
    for (uint64 k = lo; k <= v; k++)
        if (e.ring_unsafe[(k - 1) % kCommitRing] && !sees(sv, e.ring[(k - 1) % kCommitRing]))
            return "a TRUNCATE or table rewrite this snapshot does not see";
    // n: the last commit before the first one the snapshot does not see; none after it may be
    // visible, or no version describes what the snapshot sees.
    uint64 n = v;
    bool gap = false;
    for (uint64 k = lo; k <= v; k++) {
        bool visible = sees(sv, e.ring[(k - 1) % kCommitRing]);
        if (!gap && !visible) {
            gap = true;
            n = k - 1;
        } else if (gap && visible) {
            return "commits became visible out of order";
        }
    }
    *out = n;
    return nullptr;
}

}  // namespace

Size data_versions_shmem_size() {
    return add_size(MAXALIGN(sizeof(VersionHeader)),
                    hash_estimate_size(kMaxTrackedRelations + 1, sizeof(VersionEntry)));
}

void data_versions_request_locks() { RequestNamedLWLockTranche(kTrancheName, 1); }

// Called from the shmem startup hook with AddinShmemInitLock held.
void data_versions_shmem_init() {
    bool found = false;
    g_header = static_cast<VersionHeader *>(
        ShmemInitStruct("parallel_material data versions", sizeof(VersionHeader), &found));
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(RelKey);
    info.entrysize = sizeof(VersionEntry);
    g_table = ShmemInitHash("parallel_material data version table", kMaxTrackedRelations + 1,
                            kMaxTrackedRelations + 1, &info, HASH_ELEM | HASH_BLOBS);
    g_lock = &GetNamedLWLockTranche(kTrancheName)->lock;
    if (!found) {
        g_header->generation = 1;
        g_header->horizon = 0;  // set by the first reader outside recovery
        g_header->entries = 0;
        RelKey key = key_for(kGlobalRelid);
        bool efound = false;
        auto *e = static_cast<VersionEntry *>(hash_search(g_table, &key, HASH_ENTER, &efound));
        clear_entry(e);
        g_header->entries = 1;
    }
}

bool data_versions_available() { return g_table != nullptr; }

const char *compute_key_versions(const Oid *relids, int n, Snapshot snapshot, VersionKey *key,
                                 uint64 *versions) {
    if (g_table == nullptr) return "parallel_material is not preloaded";
    if (RecoveryInProgress()) return "server is in recovery";
    if (IsolationIsSerializable()) return "serializable isolation";
    if (snapshot == nullptr || snapshot->snapshot_type != SNAPSHOT_MVCC) return "no MVCC snapshot";
    if (own_transaction_wrote(kGlobalRelid)) return "this transaction wrote to the database";
    for (int i = 0; i < n; i++)
        if (own_transaction_wrote(relids[i])) return "this transaction wrote the relation";

    FullTransactionId next = ReadNextFullTransactionId();
    SnapshotView sv{snapshot, widen(snapshot->xmin, next), widen(snapshot->xmax, next)};

    // Copy the entries under the lock: a consistent picture taken after the snapshot.
    VersionEntry global;
    VersionEntry *copies = static_cast<VersionEntry *>(palloc(sizeof(VersionEntry) * (n > 0 ? n : 1)));
    uint64 generation = 0;
    uint64 horizon = 0;
    LWLockAcquire(g_lock, LW_SHARED);
    if (g_header->horizon == 0) {
        LWLockRelease(g_lock);
        LWLockAcquire(g_lock, LW_EXCLUSIVE);
        if (g_header->horizon == 0)
            g_header->horizon = U64FromFullTransactionId(ReadNextFullTransactionId());
    }
    generation = g_header->generation;
    horizon = g_header->horizon;
    VersionEntry *ge = find_entry(kGlobalRelid);
    if (ge != nullptr) global = *ge;
    for (int i = 0; i < n; i++) {
        VersionEntry *e = find_entry(relids[i]);
        if (e != nullptr) {
            copies[i] = *e;
        } else {
            memset(&copies[i], 0, sizeof(VersionEntry));
        }
    }
    LWLockRelease(g_lock);
    if (ge == nullptr) {
        pfree(copies);
        return "global entry missing";
    }

    const char *reason = nullptr;
    if (sv.xmin < horizon) reason = "snapshot older than the tracking horizon";
    uint64 gv = 0;
    if (reason == nullptr) reason = entry_key(global, sv, &gv);
    for (int i = 0; i < n && reason == nullptr; i++) reason = entry_key(copies[i], sv, &versions[i]);
    pfree(copies);
    if (reason != nullptr) return reason;
    key->generation = generation;
    key->global_version = gv;
    return nullptr;
}

bool register_committer(Oid relid, FullTransactionId fxid, bool not_mvcc_safe,
                        CommitterRegistration *reg) {
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    VersionEntry *e = enter_entry(relid);
    if (e == nullptr) {
        LWLockRelease(g_lock);
        return false;
    }
    reg->relid = relid;
    reg->generation = g_header->generation;
    reg->not_mvcc_safe = not_mvcc_safe;
    reg->slot = -1;
    for (int i = 0; i < kCommitterSlots; i++) {
        if (e->committers[i] == 0) {
            e->committers[i] = U64FromFullTransactionId(fxid);
            reg->slot = i;
            break;
        }
    }
    if (reg->slot < 0) e->unknown_committers++;
    LWLockRelease(g_lock);
    return true;
}

namespace {
// Under the exclusive lock: the entry of a registration still valid in this generation.
VersionEntry *registered_entry(const CommitterRegistration &reg) {
    if (reg.generation != g_header->generation) return nullptr;
    return find_entry(reg.relid);
}

void unregister(VersionEntry *e, const CommitterRegistration &reg, uint64 fx) {
    if (reg.slot >= 0) {
        if (e->committers[reg.slot] == fx) e->committers[reg.slot] = 0;
    } else if (e->unknown_committers > 0) {
        e->unknown_committers--;
    }
}
}  // namespace

// Runs after the commit is visible in the proc array: must not fail.
void count_commits(const CommitterRegistration *regs, int n, FullTransactionId fxid) {
    if (g_table == nullptr || n == 0) return;
    uint64 fx = U64FromFullTransactionId(fxid);
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        VersionEntry *e = registered_entry(regs[i]);
        if (e == nullptr) continue;  // reset since: the new horizon is past this transaction
        e->version++;
        uint64 idx = (e->version - 1) % kCommitRing;
        if (e->version > static_cast<uint64>(kCommitRing)) {
            if (e->ring[idx] > e->evicted_max) e->evicted_max = e->ring[idx];
            if (e->ring_unsafe[idx] && e->ring[idx] > e->evicted_unsafe_max)
                e->evicted_unsafe_max = e->ring[idx];
        }
        e->ring[idx] = fx;
        e->ring_unsafe[idx] = regs[i].not_mvcc_safe;
        unregister(e, regs[i], fx);
    }
    LWLockRelease(g_lock);
}

void drop_committers(const CommitterRegistration *regs, int n, FullTransactionId fxid) {
    if (g_table == nullptr || n == 0) return;
    uint64 fx = U64FromFullTransactionId(fxid);
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        VersionEntry *e = registered_entry(regs[i]);
        if (e != nullptr) unregister(e, regs[i], fx);
    }
    LWLockRelease(g_lock);
}

void poison_relation(Oid relid) {
    if (g_table == nullptr) return;
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    VersionEntry *e = enter_entry(relid);
    if (e == nullptr) e = find_entry(kGlobalRelid);
    if (e != nullptr) e->poisoned = true;
    LWLockRelease(g_lock);
}

void reset_data_versions() {
    if (g_table == nullptr) return;
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, g_table);
    while (auto *e = static_cast<VersionEntry *>(hash_seq_search(&status))) {
        if (e->key.relid == kGlobalRelid && e->key.dboid == InvalidOid) {
            clear_entry(e);
            continue;
        }
        RelKey key = e->key;
        hash_search(g_table, &key, HASH_REMOVE, nullptr);
        g_header->entries--;
    }
    g_header->generation++;
    g_header->horizon = U64FromFullTransactionId(ReadNextFullTransactionId());
    LWLockRelease(g_lock);
}

void debug_set_committer(Oid relid, FullTransactionId fxid, bool present) {
    uint64 fx = U64FromFullTransactionId(fxid);
    LWLockAcquire(g_lock, LW_EXCLUSIVE);
    VersionEntry *e = enter_entry(relid);
    bool done = false;
    for (int i = 0; e != nullptr && i < kCommitterSlots && !done; i++) {
        if (present && e->committers[i] == 0) {
            e->committers[i] = fx;
            done = true;
        } else if (!present && e->committers[i] == fx) {
            e->committers[i] = 0;
            done = true;
        }
    }
    LWLockRelease(g_lock);
    if (!done)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("no committer slot to %s", present ? "fill" : "clear")));
}

}  // namespace pm::pg
