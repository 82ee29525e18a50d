// arrangement_shmem.cpp — the arrangements' shared memory: one region reserved at postmaster start
// (parallel_material.arrangement_memory, formatted as a core FixedRegionAllocator) holding every
// index, a small directory of entries (definition id -> index offset, state, counters) under one
// LWLock, the writer-lock stripes as an LWLock tranche, and the transaction bookkeeping that drops
// an arrangement when its creating (sub)transaction aborts or its dropping transaction commits.
#include <optional>

#include "pg/arrangement/arrangement.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace pm::pg::arr {

void release_dropped_databases();  // below

namespace {

constexpr const char *kTranche = "parallel_material_arrangements";

struct Entry {
    State state;
    Oid dboid;
    Oid relid;
    Oid relfilenode;  // the heap's file when built; a rewrite (VACUUM FULL...) invalidates
    Oid owner;        // the table's owner at build: slots and memory are counted against it
    uint32_t account;  // 1 + index into Directory::accounts (0: none); the index's blocks
    int64 defid;
    Def def;                // copied at build
    uint64_t index_offset;  // 0: none (during a build: set once the index is published)
    // A concurrent build's side index of delete records (tombstones) for versions not stored
    // yet (arrangement_build.cpp); 0 when none. Freed when the build finishes or is dropped.
    uint64_t side_offset;
    // The xid counter when the build published its index: see EntryInfo::valid_xid.
    TransactionId valid_xid;
    int builder_pid;
    TransactionId build_xid;
    pg_atomic_uint32 pins;  // readers inside a probe; incremented under the shared lock
    pg_atomic_uint64 deltas;
    TimestampTz last_reclaim;
    // A lower bound of every normal xid (xmin or xmax) its versions hold: set by the build,
    // raised by reclaim passes. See arrangement_wraparound.cpp.
    pg_atomic_uint32 oldest_xid;
    // Learnt columns (arrangement_learn.cpp): bit a-1 set when a join the planner considered on
    // this arrangement read column a (1..64), which it lacks, under a role that may read it.
    pg_atomic_uint64 wanted;
    // When an automatic widening was last requested for it (arrangement_adapt.cpp; 0: never).
    pg_atomic_uint64 widen_at;
};

// Region bytes charged to one role (the owner of the arranged tables), by every process that
// allocates or frees a block of one of its indexes (AccountedAllocator). `users` counts the
// entries holding it (under the directory lock); free when no user and no byte is left.
struct Account {
    Oid role;
    int32 users;
    pg_atomic_uint64 bytes;
};

struct Directory {
    uint64_t region_size;
    Entry entries[kMaxArrangements];
    Account accounts[kMaxArrangements];
};

Directory *g_dir = nullptr;
char *g_region = nullptr;
std::optional<core::FixedRegionAllocator> g_alloc;
// [0] directory, [1..kStripes] writer stripes, then one build-merge lock per directory slot
LWLockPadded *g_locks = nullptr;
constexpr int kLockCount = 1 + int(kStripes) + kMaxArrangements;

class LwWriterLock final : public core::WriterLock {
  public:
    uint32_t stripes() const override { return kStripes; }
    void lock(uint32_t s) override { LWLockAcquire(&g_locks[1 + s].lock, LW_EXCLUSIVE); }
    void unlock(uint32_t s) override { LWLockRelease(&g_locks[1 + s].lock); }
};
LwWriterLock g_writer_lock;

LWLock *dir_lock() { return &g_locks[0].lock; }

size_t region_bytes();

uint64_t role_quota_bytes() {
    int kb = settings.arrangement_memory_per_role_kb;
    if (kb == 0) return 0;
    if (kb < 0) return region_bytes() / 2;
    return uint64_t(kb) * 1024;
}

bool g_refused_by_quota = false;  // the last refusal of this process: quota (else region full)

bool g_releasing = false;
int g_no_catalog = 0;  // > 0: inside a build-merge lock section (no catalog access)

// A block of the region; when it is full, the entries of dropped databases (which nobody can use
// any more) are freed first, by a backend that can read pg_database, and the request retried.
uint64_t region_allocate(size_t size) {
    uint64_t off = g_alloc->allocate(size);
    if (off != 0 || g_releasing || g_no_catalog > 0 || IsParallelWorker() || !OidIsValid(MyDatabaseId) ||
        !IsTransactionState())
        return off;
    g_releasing = true;
    try {
        pg_call([] { release_dropped_databases(); });
    } catch (...) {
        // Not freed now: the next build tries again.
    }
    g_releasing = false;
    return g_alloc->allocate(size);
}

// The region allocator every index uses: g_alloc, with each block charged to its index's account
// and refused when it would take that role over parallel_material.arrangement_memory_per_role.
// So one role's tables cannot fill the region and make another role's arrangements fail.
class AccountedAllocator final : public core::RegionAllocator {
  public:
    uint64_t allocate(size_t size) override { return region_allocate(size); }
    void free(uint64_t offset, size_t size) override { g_alloc->free(offset, size); }
    char *base() const override { return g_alloc->base(); }
    uint64_t bytes_in_use() const override { return g_alloc->bytes_in_use(); }
    uint64_t allocate_for(uint32_t account, size_t size) override {
        if (account == 0 || account > kMaxArrangements) return allocate(size);
        uint64_t r = core::FixedRegionAllocator::rounded_size(size);
        pg_atomic_uint64 *used = &g_dir->accounts[account - 1].bytes;
        uint64_t quota = role_quota_bytes();
        uint64_t cur = pg_atomic_read_u64(used);
        do {
            if (quota != 0 && cur + r > quota) {
                g_refused_by_quota = true;
                return 0;
            }
        } while (!pg_atomic_compare_exchange_u64(used, &cur, cur + r));
        uint64_t off = region_allocate(size);
        if (off == 0) {
            pg_atomic_fetch_sub_u64(used, r);
            g_refused_by_quota = false;
        }
        return off;
    }
    void free_for(uint32_t account, uint64_t offset, size_t size) override {
        g_alloc->free(offset, size);
        if (account != 0 && account <= kMaxArrangements)
            pg_atomic_fetch_sub_u64(&g_dir->accounts[account - 1].bytes,
                                    core::FixedRegionAllocator::rounded_size(size));
    }
};
AccountedAllocator g_accounted;

// The account of `owner` (an existing one, else a free one), with one more user; 0 when none is
// free (damaged indexes leaked their bytes): then nothing is charged. Directory lock exclusive.
uint32_t take_account_locked(Oid owner) {
    int free_one = -1;
    for (int i = 0; i < kMaxArrangements; ++i) {
        Account &a = g_dir->accounts[i];
        bool idle = a.users == 0 && pg_atomic_read_u64(&a.bytes) == 0;
        if (!idle && a.role == owner) {
            ++a.users;
            return uint32_t(i + 1);
        }
        if (idle && free_one < 0) free_one = i;
    }
    if (free_one < 0) return 0;
    g_dir->accounts[free_one].role = owner;
    g_dir->accounts[free_one].users = 1;
    return uint32_t(free_one + 1);
}

size_t region_bytes() {
    return settings.arrangement_memory_kb > 0 ? size_t(settings.arrangement_memory_kb) * 1024 : 0;
}
size_t total_bytes() { return MAXALIGN(sizeof(Directory)) + 64 + region_bytes(); }

// Frees the index of an entry and the entry (directory lock held exclusively, no pins).
void destroy_locked(Entry &e) {
    if (e.index_offset != 0) {
        try {
            index_at(e.index_offset).destroy();
        } catch (...) {
            // A damaged index: leak its memory rather than fail a commit or abort.
        }
    }
    e.index_offset = 0;
    if (e.side_offset != 0) {
        try {
            index_at(e.side_offset).destroy();
        } catch (...) {
        }
    }
    e.side_offset = 0;
    e.valid_xid = InvalidTransactionId;
    if (e.account != 0) --g_dir->accounts[e.account - 1].users;
    e.account = 0;
    e.state = State::Free;
    e.defid = 0;
    e.relid = InvalidOid;
    e.dboid = InvalidOid;
    e.builder_pid = 0;
}

// Pairs with unpin(): the state store, then (full barrier) the pins load here; the pins
// decrement (a full barrier), then the state load there. One of the two sees the other's write,
// so a dropped entry is destroyed by whoever comes last.
void drop_locked(Entry &e) {
    e.state = State::Dropped;
    pg_memory_barrier();
    if (pg_atomic_read_u32(&e.pins) == 0) destroy_locked(e);
}

// ---- transaction bookkeeping (process-local) ----
struct Pending {
    int64 defid;
    SubTransactionId subid;
    bool created;  // else dropped
};
constexpr int kMaxPending = 128;
Pending g_pending[kMaxPending];
int g_npending = 0;
bool g_callbacks_registered = false;
bool g_exit_registered = false;

void drop_entries_nothrow(int64 defid) {
    if (g_dir == nullptr) return;
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    for (Entry &e : g_dir->entries)
        if (e.state != State::Free && e.dboid == MyDatabaseId && e.defid == defid) drop_locked(e);
    LWLockRelease(dir_lock());
}

void xact_callback(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_PREPARE:
            if (g_npending > 0)
                ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                                errmsg("cannot PREPARE a transaction that created or dropped an "
                                       "arrangement")));
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            for (int i = 0; i < g_npending; ++i)
                if (!g_pending[i].created) drop_entries_nothrow(g_pending[i].defid);
            g_npending = 0;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            for (int i = 0; i < g_npending; ++i)
                if (g_pending[i].created) drop_entries_nothrow(g_pending[i].defid);
            g_npending = 0;
            break;
        default:
            break;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId my, SubTransactionId parent, void *) {
    if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (int i = 0; i < g_npending; ++i)
            if (g_pending[i].subid == my) g_pending[i].subid = parent;
    } else if (event == SUBXACT_EVENT_ABORT_SUB) {
        int j = 0;
        for (int i = 0; i < g_npending; ++i) {
            if (g_pending[i].subid == my) {
                if (g_pending[i].created) drop_entries_nothrow(g_pending[i].defid);
                continue;
            }
            g_pending[j++] = g_pending[i];
        }
        g_npending = j;
    }
}

void remember(int64 defid, bool created) {
    if (!g_callbacks_registered) {
        RegisterXactCallback(xact_callback, nullptr);
        RegisterSubXactCallback(subxact_callback, nullptr);
        g_callbacks_registered = true;
    }
    if (g_npending >= kMaxPending)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("too many arrangements created or dropped in one transaction")));
    g_pending[g_npending++] = Pending{defid, GetCurrentSubTransactionId(), created};
}

// A backend that exits (FATAL) in the middle of a build frees its half-built entry (once the
// maintenance triggers that pinned it meanwhile are done with it).
void release_builds_at_exit(int, Datum) {
    if (g_dir == nullptr) return;
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    for (Entry &e : g_dir->entries)
        if (e.state == State::Building && e.builder_pid == MyProcPid) drop_locked(e);
    LWLockRelease(dir_lock());
}

EntryInfo info_of(int slot, Entry &e) {
    EntryInfo info{slot, e.state, e.index_offset, e.relfilenode, e.build_xid, e.def,
                   pg_atomic_read_u32(&e.oldest_xid)};
    info.side_offset = e.side_offset;
    info.valid_xid = e.valid_xid;
    return info;
}

}  // namespace

void request_shmem() {
    RequestAddinShmemSpace(total_bytes());
    RequestNamedLWLockTranche(kTranche, kLockCount);
}

void startup_shmem() {
    bool found = false;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    g_dir = static_cast<Directory *>(ShmemInitStruct(kTranche, total_bytes(), &found));
    g_locks = GetNamedLWLockTranche(kTranche);
    char *after = reinterpret_cast<char *>(g_dir) + MAXALIGN(sizeof(Directory));
    g_region = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(after) + 63) & ~uintptr_t(63));
    if (!found) {
        memset(g_dir, 0, sizeof(Directory));
        g_dir->region_size = region_bytes();
        for (Entry &e : g_dir->entries) {
            pg_atomic_init_u32(&e.pins, 0);
            pg_atomic_init_u64(&e.deltas, 0);
            pg_atomic_init_u64(&e.wanted, 0);
            pg_atomic_init_u64(&e.widen_at, 0);
        }
        for (Account &a : g_dir->accounts) pg_atomic_init_u64(&a.bytes, 0);
    }
    g_alloc.reset();
    if (region_bytes() > 0) {
        try {
            g_alloc = found ? core::FixedRegionAllocator::attach(g_region)
                            : core::FixedRegionAllocator::format(g_region, region_bytes());
        } catch (...) {
            g_alloc.reset();
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

bool available() { return g_dir != nullptr && g_alloc.has_value(); }

void require_available() {
    require_shared_state("arrangements");
    if (!available())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("arrangements are disabled"),
                        errdetail("parallel_material.arrangement_memory is 0."),
                        errhint("Set parallel_material.arrangement_memory and restart the server.")));
}

core::ArrangementIndex index_at(uint64_t offset) {
    return core::ArrangementIndex::attach(g_accounted, g_writer_lock, offset);
}

core::ArrangementIndex create_index(const core::ArrangementIndex::Options &opt) {
    return core::ArrangementIndex::create(g_accounted, g_writer_lock, opt);
}

uint32_t entry_account(int slot) {
    LWLockAcquire(dir_lock(), LW_SHARED);
    uint32_t a = g_dir->entries[slot].account;
    LWLockRelease(dir_lock());
    return a;
}

bool refused_by_quota() { return g_refused_by_quota; }

uint64_t role_memory_quota() { return role_quota_bytes(); }

bool has_ready_entry(Oid relid) {
    if (!available()) return false;
    bool found = false;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries)
        found = found || (e.state == State::Ready && e.dboid == MyDatabaseId && e.relid == relid);
    LWLockRelease(dir_lock());
    return found;
}

EntryInfo lookup(int64 defid) {
    EntryInfo info;
    if (!available()) return info;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (int i = 0; i < kMaxArrangements; ++i) {
        Entry &e = g_dir->entries[i];
        if (e.state != State::Free && e.state != State::Dropped && e.dboid == MyDatabaseId &&
            e.defid == defid) {
            info = info_of(i, e);
            break;
        }
    }
    LWLockRelease(dir_lock());
    return info;
}

EntryInfo pin_ready(int64 defid) {
    EntryInfo info;
    if (!available()) return info;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (int i = 0; i < kMaxArrangements; ++i) {
        Entry &e = g_dir->entries[i];
        if (e.state == State::Ready && e.dboid == MyDatabaseId && e.defid == defid) {
            pg_atomic_fetch_add_u32(&e.pins, 1);
            info = info_of(i, e);
            break;
        }
    }
    LWLockRelease(dir_lock());
    return info;
}

EntryInfo pin_slot_if_ready(int slot) {
    EntryInfo info;
    if (!available()) return info;
    LWLockAcquire(dir_lock(), LW_SHARED);
    Entry &e = g_dir->entries[slot];
    if (e.state == State::Ready) {
        pg_atomic_fetch_add_u32(&e.pins, 1);
        info = info_of(slot, e);
    }
    LWLockRelease(dir_lock());
    return info;
}

EntryInfo pin_slot_as_worker(int slot, int64 defid, uint64_t index_offset) {
    EntryInfo info;
    if (!available() || slot < 0 || slot >= kMaxArrangements) return info;
    LWLockAcquire(dir_lock(), LW_SHARED);
    Entry &e = g_dir->entries[slot];
    // The leader's pin keeps this entry and its index alive, whatever its state now.
    if (e.state != State::Free && e.state != State::Building && e.dboid == MyDatabaseId &&
        e.defid == defid && e.index_offset == index_offset && pg_atomic_read_u32(&e.pins) > 0) {
        pg_atomic_fetch_add_u32(&e.pins, 1);
        info = info_of(slot, e);
    }
    LWLockRelease(dir_lock());
    return info;
}

bool pin_build_as_worker(int slot, int64 defid, uint64_t index_offset, int builder_pid) {
    if (!available() || slot < 0 || slot >= kMaxArrangements) return false;
    bool pinned = false;
    LWLockAcquire(dir_lock(), LW_SHARED);
    Entry &e = g_dir->entries[slot];
    if (e.state == State::Building && e.dboid == MyDatabaseId && e.defid == defid &&
        e.index_offset == index_offset && e.builder_pid == builder_pid) {
        pg_atomic_fetch_add_u32(&e.pins, 1);
        pinned = true;
    }
    LWLockRelease(dir_lock());
    return pinned;
}

uint64_t entry_deltas(int slot) { return pg_atomic_read_u64(&g_dir->entries[slot].deltas); }

void unpin(int slot) {
    Entry &e = g_dir->entries[slot];
    // The directory lock only when the entry was dropped meanwhile (see drop_locked): maintenance
    // triggers pin and unpin once per row.
    if (pg_atomic_sub_fetch_u32(&e.pins, 1) == 0 &&
        *static_cast<volatile State *>(&e.state) == State::Dropped) {
        LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
        if (e.state == State::Dropped && pg_atomic_read_u32(&e.pins) == 0) destroy_locked(e);
        LWLockRelease(dir_lock());
    }
}

// Entries of databases that no longer exist (DROP DATABASE never tells us) are dropped, so their
// slots and memory come back. Reads pg_database through the syscache, outside the directory lock;
// a dropped database has no backend left that could still use its entries (the reclaim worker's
// transient pins only delay the destruction to its unpin).
void release_dropped_databases() {
    Oid dbs[kMaxArrangements];
    int n = 0;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries) {
        if (e.state == State::Free || e.state == State::Dropped || e.dboid == MyDatabaseId)
            continue;
        bool seen = false;
        for (int i = 0; i < n && !seen; ++i) seen = dbs[i] == e.dboid;
        if (!seen) dbs[n++] = e.dboid;
    }
    LWLockRelease(dir_lock());
    for (int i = 0; i < n; ++i) {
        if (SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[i]))) continue;
        LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
        for (Entry &e : g_dir->entries)
            if (e.state != State::Free && e.state != State::Dropped && e.dboid == dbs[i] &&
                e.state != State::Building)
                drop_locked(e);
        LWLockRelease(dir_lock());
    }
}

int begin_build(const Def &def, Oid relfilenode, Oid owner) {
    if (!g_exit_registered) {
        before_shmem_exit(release_builds_at_exit, 0);
        g_exit_registered = true;
    }
    release_dropped_databases();
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    int free_slot = -1;
    int of_role = 0, of_database = 0;
    for (int i = 0; i < kMaxArrangements; ++i) {
        Entry &e = g_dir->entries[i];
        if (e.state == State::Free) {
            if (free_slot < 0) free_slot = i;
            continue;
        }
        if (e.state == State::Dropped) continue;
        if (e.dboid != MyDatabaseId || e.defid != def.defid) {
            of_role += e.owner == owner;
            of_database += e.dboid == MyDatabaseId;
            continue;
        }
        if (e.state == State::Building && e.builder_pid != MyProcPid) {
            LWLockRelease(dir_lock());
            return -1;
        }
        drop_locked(e);  // Ready or Invalid: replaced by the new build
        if (e.state == State::Free && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0 || of_role >= settings.arrangements_per_role ||
        of_database >= settings.arrangements_per_database) {
        LWLockRelease(dir_lock());
        if (free_slot < 0)
            ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                            errmsg("too many arrangements (at most %d in the cluster)",
                                   kMaxArrangements)));
        if (of_role >= settings.arrangements_per_role) {
            const char *name = GetUserNameFromId(owner, true);
            ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                            errmsg("too many arrangements on tables owned by role \"%s\" (at most "
                                   "%d)", name ? name : "?", settings.arrangements_per_role),
                            errhint("Drop one, or raise parallel_material.arrangements_per_role.")));
        }
        ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                        errmsg("too many arrangements in this database (at most %d)",
                               settings.arrangements_per_database),
                        errhint("Drop one, or raise parallel_material.arrangements_per_database.")));
    }
    Entry &e = g_dir->entries[free_slot];
    e.state = State::Building;
    e.dboid = MyDatabaseId;
    e.relid = def.relid;
    e.relfilenode = relfilenode;
    e.owner = owner;
    e.account = take_account_locked(owner);
    e.defid = def.defid;
    e.def = def;
    e.index_offset = 0;
    e.side_offset = 0;
    e.valid_xid = InvalidTransactionId;
    e.builder_pid = MyProcPid;
    e.build_xid = GetTopTransactionIdIfAny();
    pg_atomic_write_u32(&e.pins, 0);
    pg_atomic_write_u64(&e.deltas, 0);
    pg_atomic_write_u64(&e.wanted, 0);
    pg_atomic_write_u64(&e.widen_at, 0);
    pg_atomic_write_u32(&e.oldest_xid, InvalidTransactionId);
    e.last_reclaim = 0;
    LWLockRelease(dir_lock());
    return free_slot;
}

TransactionId publish_build(int slot, uint64_t index_offset, uint64_t side_offset) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    Entry &e = g_dir->entries[slot];
    e.index_offset = index_offset;
    e.side_offset = side_offset;
    // Read under the exclusive lock: a transaction given an xid from here on writes the heap
    // after this, so its maintenance triggers look the entry up after this section and find the
    // published index.
    e.valid_xid = ReadNextTransactionId();
    TransactionId valid = e.valid_xid;
    LWLockRelease(dir_lock());
    return valid;
}

EntryInfo pin_for_maintenance(int64 defid) {
    EntryInfo info;
    if (!available()) return info;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (int i = 0; i < kMaxArrangements; ++i) {
        Entry &e = g_dir->entries[i];
        if (e.state == State::Free || e.state == State::Dropped || e.dboid != MyDatabaseId ||
            e.defid != defid)
            continue;
        info = info_of(i, e);
        if (e.state == State::Ready || (e.state == State::Building && e.index_offset != 0))
            pg_atomic_fetch_add_u32(&e.pins, 1);
        else
            info.slot = -1 - i;  // found, not pinned: -1 - slot
        break;
    }
    LWLockRelease(dir_lock());
    return info;
}

State entry_state(int slot) {
    LWLockAcquire(dir_lock(), LW_SHARED);
    State s = g_dir->entries[slot].state;
    LWLockRelease(dir_lock());
    return s;
}

LWLock *build_merge_lock(int slot) { return &g_locks[1 + kStripes + slot].lock; }

void merge_section(bool enter) { g_no_catalog += enter ? 1 : -1; }

void finish_build(int slot, uint64_t index_offset, TransactionId oldest_xid) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    Entry &e = g_dir->entries[slot];
    e.index_offset = index_offset;
    pg_atomic_write_u32(&e.oldest_xid, oldest_xid);
    if (e.side_offset != 0) {
        // The caller holds the build-merge lock: no maintenance trigger is inside the side index.
        try {
            index_at(e.side_offset).destroy();
        } catch (...) {
        }
        e.side_offset = 0;
    }
    e.state = State::Ready;
    e.builder_pid = 0;
    LWLockRelease(dir_lock());
}

void abort_build(int slot) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    // Maintenance triggers may hold pins on a published build: its indexes go with the last one.
    drop_locked(g_dir->entries[slot]);
    LWLockRelease(dir_lock());
}

void set_invalid(int slot, const char *why, int elevel) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    Entry &e = g_dir->entries[slot];
    bool was_ready = e.state == State::Ready;
    if (was_ready) e.state = State::Invalid;
    Oid relid = e.relid, dboid = e.dboid;
    LWLockRelease(dir_lock());
    if (!was_ready) return;
    // Plans cached on it (prepared statements, PL/pgSQL) are made again once this transaction
    // commits, so they take the stock plan instead of meeting an arrangement their role may not
    // rebuild (a relcache invalidation of the table; transactional, hence best effort).
    if (dboid == MyDatabaseId && IsTransactionState() && !IsParallelWorker()) {
        try {
            pg_call([&] {
                if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
                    CacheInvalidateRelcacheByRelid(relid);
            });
        } catch (...) {
            // The next planning still checks the state.
        }
    }
    ereport(elevel, (errmsg("parallel_material: arrangement %lld marked invalid: %s",
                             static_cast<long long>(e.defid), why),
                      errhint("It is rebuilt on its next use.")));
}

void set_relfilenode(int slot, Oid relfilenode) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    g_dir->entries[slot].relfilenode = relfilenode;
    LWLockRelease(dir_lock());
}

void count_delta(int slot, uint64_t n) { pg_atomic_fetch_add_u64(&g_dir->entries[slot].deltas, n); }

void note_reclaim(int slot) {
    LWLockAcquire(dir_lock(), LW_EXCLUSIVE);
    g_dir->entries[slot].last_reclaim = GetCurrentTimestamp();
    LWLockRelease(dir_lock());
}

void drop_entries(int64 defid) { drop_entries_nothrow(defid); }

void note_wanted(int64 defid, uint64_t bits) {
    if (bits == 0 || !available()) return;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries)
        if (e.state != State::Free && e.state != State::Dropped && e.dboid == MyDatabaseId &&
            e.defid == defid && (pg_atomic_read_u64(&e.wanted) & bits) != bits)
            pg_atomic_fetch_or_u64(&e.wanted, bits);  // a write only when something is new:
                                                      // every plan of the join passes here
    LWLockRelease(dir_lock());
}

uint64_t entry_wanted(int64 defid) {
    if (!available()) return 0;
    uint64_t bits = 0;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries)
        if (e.state != State::Free && e.state != State::Dropped && e.dboid == MyDatabaseId &&
            e.defid == defid)
            bits |= pg_atomic_read_u64(&e.wanted);
    LWLockRelease(dir_lock());
    return bits;
}

bool claim_widen(int64 defid, uint64_t now, uint64_t interval) {
    if (!available()) return false;
    bool claimed = false;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries) {
        if (e.state == State::Free || e.state == State::Dropped || e.dboid != MyDatabaseId ||
            e.defid != defid)
            continue;
        uint64 last = pg_atomic_read_u64(&e.widen_at);
        if (last != 0 && now < last + interval) break;
        claimed = pg_atomic_compare_exchange_u64(&e.widen_at, &last, now);
        break;
    }
    LWLockRelease(dir_lock());
    return claimed;
}

void raise_oldest_xid(int slot, TransactionId xid) {
    pg_atomic_uint32 *a = &g_dir->entries[slot].oldest_xid;
    uint32 cur = pg_atomic_read_u32(a);
    // Only forward: a bound set by a rebuild in between (same slot, another index) is newer.
    while (TransactionIdIsNormal(cur) && TransactionIdPrecedes(cur, xid))
        if (pg_atomic_compare_exchange_u32(a, &cur, xid)) break;
}

void force_oldest_xid(int slot, TransactionId xid) {
    pg_atomic_write_u32(&g_dir->entries[slot].oldest_xid, xid);
}

int collect_stats(EntryStats *out) {
    int n = 0;
    LWLockAcquire(dir_lock(), LW_SHARED);
    for (Entry &e : g_dir->entries) {
        if (e.state == State::Free || e.state == State::Dropped || e.dboid != MyDatabaseId)
            continue;
        EntryStats &s = out[n++];
        s.defid = e.defid;
        s.state = e.state;
        s.has_index = e.index_offset != 0 && e.state != State::Building;
        if (s.has_index) s.stats = index_at(e.index_offset).stats();
        s.deltas = pg_atomic_read_u64(&e.deltas);
        s.last_reclaim = e.last_reclaim;
        s.relfilenode = e.relfilenode;
        s.oldest_xid = pg_atomic_read_u32(&e.oldest_xid);
        s.wanted = pg_atomic_read_u64(&e.wanted);
    }
    LWLockRelease(dir_lock());
    return n;
}

void remember_created(int64 defid) { remember(defid, true); }
void remember_dropped(int64 defid) { remember(defid, false); }

}  // namespace pm::pg::arr
