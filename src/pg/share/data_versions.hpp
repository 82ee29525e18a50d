// data_versions.hpp — per-relation data versions in the extension's shared memory: which
// committed writes a snapshot sees, as a number that exactly identifies them (or a reason why it
// cannot be given). The design and its proof sketch are in docs/shared-results.md.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "utils/snapshot.h"
}

namespace pm::pg {

// Sizing of the shared table (fixed at postmaster start).
constexpr long kMaxTrackedRelations = 4096;  // relations with a version entry
constexpr int kCommitRing = 64;              // recent commits remembered per relation
constexpr int kCommitterSlots = 8;           // in-progress committers remembered per relation

// The relation id of the "global" entry: a write of every relation (DDL, logical replication
// apply, a writer whose relation found no free entry). It is part of every key.
constexpr Oid kGlobalRelid = InvalidOid;

// Shared memory: space and LWLock tranche requests, and initialization (call-outs from shmem.cpp).
Size data_versions_shmem_size();
void data_versions_request_locks();
void data_versions_shmem_init();
bool data_versions_available();

// What a snapshot sees of a set of relations.
struct VersionKey {
    uint64 generation = 0;      // bumped by reset_data_versions(); part of every key
    uint64 global_version = 0;  // key version of the global entry
};

// Key versions of relids[0..n) for `snapshot`, written to versions[0..n). Returns nullptr and
// fills *key when sharing is possible; otherwise returns the reason it is skipped (a static
// string). Skipped too when the calling transaction wrote one of them (write_tracking.hpp).
const char *compute_key_versions(const Oid *relids, int n, Snapshot snapshot, VersionKey *key,
                                 uint64 *versions);

// Writer side, called from write_tracking.cpp's transaction callbacks.
// Registers fxid as an in-progress committer of each relation (kGlobalRelid allowed). Returns
// false for a relation it could not register (no free entry): the caller then registers the
// global entry instead. slot_out receives where it was registered (-1 = unknown-committer count).
struct CommitterRegistration {
    Oid relid;
    int slot;            // committer slot, -1 = counted in unknown_committers
    uint64 generation;   // generation at registration; nothing is done if it changed since
    bool not_mvcc_safe;  // TRUNCATE or a possible table rewrite (see docs/shared-results.md)
};
// not_mvcc_safe: the write is visible even to snapshots taken before it committed (TRUNCATE,
// table rewrites): a snapshot that does not see its commit must skip, since stock PostgreSQL
// would show it the new contents anyway.
bool register_committer(Oid relid, FullTransactionId fxid, bool not_mvcc_safe,
                        CommitterRegistration *reg);
// After the commit is visible (XACT_EVENT_COMMIT): bump the version, remember (version, fxid),
// drop the registration; atomically, under the table's lock.
void count_commits(const CommitterRegistration *regs, int n, FullTransactionId fxid);
// Abort: drop the registrations.
void drop_committers(const CommitterRegistration *regs, int n, FullTransactionId fxid);
// PREPARE TRANSACTION of a writer: the relation is never shared again until reset.
void poison_relation(Oid relid);

// Clears every entry and starts a new generation whose horizon is the next transaction id:
// only snapshots that see every transaction older than the horizon as finished can share.
void reset_data_versions();

// Test support: registers (present) or removes an in-progress committer by hand.
void debug_set_committer(Oid relid, FullTransactionId fxid, bool present);

}  // namespace pm::pg
