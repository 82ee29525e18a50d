// result_registry.hpp — the registry of results shared across sessions (issue 6), in one region
// of shared memory addressed by offsets: a fixed table of entries, each naming a result by its
// key (plan fingerprint + data versions) and owning one TupleLog region carved from the same
// memory budget by a FixedRegionAllocator. A log's ring is bounded; its cold prefix spills to a
// file named after the entry (spill_path: a prefix given at format, the slot and the entry's
// incarnation), which every process opens by path and which is unlinked when the entry is freed
// (evicted, reset, failed and released), by whichever process frees it, after the lock is
// released: never while a pin is held, so a pinned reader always finds it.
//
// An entry is Producing (one producer appends to its log while any number of readers attach and
// stream), Ready (sealed; readers hit), or Failed (the producer errored or died; never found
// again, freed when its last reader leaves). Readers and the producer pin an entry (readers
// count); a pinned entry is never evicted or freed. When a new entry needs a slot or log memory
// that is not free, unpinned entries are evicted by a segmented LRU: a new entry is
// probationary; its first reuse (a hit or an attach by a later acquire) makes it protected.
// Eviction takes the least recently used unpinned probationary entry, and a protected one only
// when no probationary entry can go; protected entries hold at most kProtectedShareNum /
// kProtectedShareDen of the log memory (past it, the least recently used protected entry is
// demoted to probationary). So a stream of distinct one-shot results only recycles probationary
// entries, and a result used twice survives it.
//
// Every entry is charged to the role that produced it (Owner): its ring memory and its spill
// bytes count against per-role bounds (unless the owner is exempt) and the spill bytes of all
// entries against a cluster-wide bound (reserve_spill); over a bound, unpinned entries (the
// role's own first) are evicted, and what still does not fit is refused.
//
// One spin lock in the region serializes the table (short sections: no I/O, no waits); lookups
// scan the table linearly. Core code: no PostgreSQL; the adapter supplies pids, role ids and
// clock values.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "parallel_material/core/tuple_log.hpp"

namespace pm::core {

constexpr uint32_t kMaxKeyRelations = 16;
constexpr size_t kSampleBytes = 128;
constexpr size_t kSpillPrefixBytes = 200;  // room for the spill path prefix given at format
// The protected segment's bound: this fraction of the log memory.
constexpr uint64_t kProtectedShareNum = 3;
constexpr uint64_t kProtectedShareDen = 4;

// What a result depends on. Relations sorted by id; equal keys mean equal results.
struct ResultKey {
    uint8_t fingerprint[16] = {};
    uint64_t generation = 0;
    uint64_t global_version = 0;
    uint32_t database = 0;
    uint32_t nrels = 0;
    uint32_t relids[kMaxKeyRelations] = {};
    uint64_t versions[kMaxKeyRelations] = {};
};
bool operator==(const ResultKey &a, const ResultKey &b);

// TooLarge: a producer found the result larger than it may share (mark_too_large); the entry
// keeps its key so that later lookups skip it at once, and gives its log memory back when its
// last pin goes.
enum class EntryState : uint32_t { Free = 0, Producing = 1, Ready = 2, Failed = 3, TooLarge = 4 };

enum class AcquireResult {
    Hit,      // a Ready entry: read its log from the start
    Attach,   // a Producing entry: stream from its log while it is written
    Produce,  // a new entry: the caller is its producer (TupleLog created, not yet registered)
    NoSpace,  // no slot or memory could be freed (everything pinned, or the log is too large)
    TooLarge, // an earlier run found this result too large to share (not pinned: run locally)
    RoleQuota,  // the owner's entries hold their share of the log memory (all pinned)
};

// Who produces a new entry, and what the entry may cost that role. role: an opaque id (the
// adapter's role OID). exempt: the role is not bounded per role (the cluster-wide bounds still
// hold). max_log_bytes: the log memory the role's entries may hold together.
struct Owner {
    uint32_t role = 0;
    bool exempt = true;
    uint64_t max_log_bytes = UINT64_MAX;
};

// reserve_spill's answer.
enum class SpillVerdict { Ok, TotalLimit, RoleLimit };

// A pin on one entry, held by a reader or the producer. Valid until release().
struct ResultRef {
    uint32_t slot = UINT32_MAX;
    uint64_t serial = 0;  // the entry's incarnation, checked on every use
    bool valid() const { return slot != UINT32_MAX; }
};

struct EntryInfo {
    ResultKey key;
    EntryState state = EntryState::Free;
    int32_t producer_pid = 0;
    uint32_t readers = 0;   // pins (readers and producer)
    uint64_t hits = 0;      // acquisitions that found it Ready or Producing
    uint64_t rows = 0;      // published by the producer
    uint64_t bytes = 0;     // log memory reserved (the ring and its header)
    uint64_t spilled_bytes = 0;  // bytes reserved for (written to) the spill file
    bool spill_file = false;     // a spill file may exist (note_spill was called)
    uint32_t role = 0;           // the producing role (Owner::role), charged for bytes and spill
    bool quota_exempt = true;    // Owner::exempt
    int64_t created_at = 0; // caller's clock
    int64_t last_used = 0;
    bool protected_segment = false;  // reused since it was created (segmented LRU)
    char sample[kSampleBytes] = {};
};

class ResultRegistry {
public:
    // Bytes a region needs for max_entries entries and log_budget bytes of logs.
    static size_t region_size(uint32_t max_entries, size_t log_budget);
    // Formats [region, region + size) (64-byte aligned). Throws Error(InvalidArgument).
    // spill_prefix: the path prefix of the entries' spill files ("<prefix>.<slot>.<incarnation>",
    // shorter than kSpillPrefixBytes); empty: entries have no spill file (spill_path is "").
    static void format(void *region, size_t size, uint32_t max_entries,
                       const char *spill_prefix = "");
    // A handle over a formatted region (any process, any mapping address).
    explicit ResultRegistry(void *region);

    // Called (outside the lock) with the path of every freed entry that had a spill file; the
    // default unlinks it. The adapter also accounts the file (log_temp_files, statistics).
    // Must not throw. Process-local: set it on each handle.
    using SpillReleaser = std::function<void(const std::string &path)>;
    void set_spill_releaser(SpillReleaser fn) { releaser_ = std::move(fn); }

    // Finds the entry for key (Hit/Attach: pinned), or creates one whose log has cfg (Produce:
    // pinned, producer_pid = pid). now: the caller's clock, for LRU and age.
    // A new entry is charged to owner: when owner's entries (unless exempt) would hold more than
    // owner.max_log_bytes of log memory, owner's own unpinned entries are evicted first
    // (least recently used); if that is not enough, the answer is RoleQuota.
    AcquireResult acquire(const ResultKey &key, const LogConfig &cfg, int32_t pid, int64_t now,
                          const char *sample, ResultRef *ref, const Owner &owner = Owner());
    // What acquire() does when the key has an entry (Hit or Attach: pinned; TooLarge), without
    // creating one: false when no entry has the key (nothing changed). Lets a caller prepare
    // what only a new entry needs (its owner, its statement sample) after a miss only.
    bool find(const ResultKey &key, int64_t now, ResultRef *ref, AcquireResult *answer);
    // The entry's log region (64-byte aligned) in this process.
    void *log_region(const ResultRef &ref) const;
    // Producer: the log is sealed; the entry becomes Ready.
    void publish(const ResultRef &ref, uint64_t rows);
    // Producer (or anyone noticing the producer is gone): the entry becomes Failed and is never
    // found again. Readers still attached see the log failed only if TupleLog::fail() was called.
    // A TooLarge entry stays as it is.
    void fail(const ResultRef &ref);
    // Producer: the result outgrew what may be shared. The entry becomes TooLarge: acquire()
    // answers TooLarge for its key (until it is evicted or reset; a write makes a new key), and
    // its log memory and spill file go when the last pin is released. Readers still attached
    // see the log failed only if TupleLog::fail() was called.
    void mark_too_large(const ResultRef &ref);
    // The pinned entry's spill file path ("" when the region has no spill prefix). Every process
    // computes the same path; the file exists once the producer has spilled a page.
    std::string spill_path(const ResultRef &ref) const;
    // Producer: about to create the entry's spill file (bytes = 0), or has written `bytes` to it
    // in all. From the first call on, freeing the entry unlinks the file.
    void note_spill(const ResultRef &ref, uint64_t bytes);
    // Producer, before writing `bytes` more to the entry's spill file: charges them to the entry
    // (its spilled_bytes, its owner's total) if the spill bytes of all entries stay within
    // total_limit and, unless the owner is exempt, those of the owner's entries within
    // role_limit. Unpinned entries with spill files are evicted to make room, least recently used
    // first (for the role bound, the owner's own). Marks the entry as having a file (Ok only).
    SpillVerdict reserve_spill(const ResultRef &ref, uint64_t bytes, uint64_t total_limit,
                               uint64_t role_limit);
    // Spill bytes charged to live entries, all roles together.
    uint64_t spill_bytes_in_use() const;
    // The pinned entry's current state (a reader polls it: Failed means its producer is gone).
    EntryState state(const ResultRef &ref) const;
    // The pinned entry's producer (its pid at acquire).
    int32_t producer_pid(const ResultRef &ref) const;
    // Drops a pin; frees a Failed or reset entry when the last pin goes.
    void release(ResultRef *ref);
    // Fails every Producing entry of pid (its process exited). Returns how many.
    uint32_t fail_producer(int32_t pid);
    // Frees every unpinned entry and hides pinned ones (freed at their last release).
    uint32_t reset();
    // Copies of the live entries (not Free); paths, if wanted, of their spill files (same order,
    // "" for an entry without one).
    std::vector<EntryInfo> entries(std::vector<std::string> *spill_paths = nullptr) const;
    uint64_t bytes_in_use() const;
    uint64_t log_budget() const;

private:
    struct Header;
    struct Entry;
    // (slot, incarnation) of freed entries whose spill file must go once the lock is released.
    using Doomed = std::vector<std::pair<uint32_t, uint64_t>>;
    Header *header() const;
    Entry *entry(uint32_t slot) const;
    Entry *checked(const ResultRef &ref) const;
    AcquireResult use_existing(Entry *e, uint32_t slot, int64_t now, ResultRef *ref);
    uint32_t slot_of(const Entry *e) const;
    std::string path_for(uint32_t slot, uint64_t serial) const;
    void drop_log(Entry *e, Doomed *doomed);
    void free_entry(Entry *e, Doomed *doomed);
    // Frees the least recently used unpinned entry, probationary before protected (of `role`
    // only, if role_only; with a spill charge only, if spilled_only). False when none. *freed:
    // its log bytes and spill bytes.
    bool evict_one(Doomed *doomed, bool role_only = false, uint32_t role = 0,
                   bool spilled_only = false, uint64_t *freed_bytes = nullptr,
                   uint64_t *freed_spill = nullptr);
    // Under the lock: e was reused; it joins the protected segment, whose least recently used
    // entries (other than e) are demoted while the segment holds more than its share.
    void promote(Entry *e);
    AcquireResult acquire_locked(const ResultKey &key, const LogConfig &cfg, int32_t pid,
                                 int64_t now, const char *sample, ResultRef *ref,
                                 const Owner &owner, Doomed *doomed);
    void release_spills(const Doomed &doomed) const;
    char *region_;
    SpillReleaser releaser_;
};

}  // namespace pm::core
