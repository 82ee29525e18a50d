// result_registry.cpp — see result_registry.hpp.
#include "parallel_material/core/result_registry.hpp"

#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <new>

#include "parallel_material/core/arrangement_region.hpp"
#include "parallel_material/core/error.hpp"

namespace pm::core {

namespace {
constexpr uint64_t kMagic = 0x706d5f7265677331ULL;  // "pm_regs1"
constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
}  // namespace

bool operator==(const ResultKey &a, const ResultKey &b) {
    if (memcmp(a.fingerprint, b.fingerprint, sizeof(a.fingerprint)) != 0) return false;
    if (a.generation != b.generation || a.global_version != b.global_version ||
        a.database != b.database || a.nrels != b.nrels)
        return false;
    for (uint32_t i = 0; i < a.nrels && i < kMaxKeyRelations; i++)
        if (a.relids[i] != b.relids[i] || a.versions[i] != b.versions[i]) return false;
    return true;
}

struct ResultRegistry::Entry {
    EntryInfo info;
    uint64_t serial;       // bumped whenever the slot is (re)used or freed
    uint64_t alloc_off;    // allocator offset of the log block (0: none)
    uint64_t alloc_size;   // size passed to allocate()
    uint64_t log_off;      // 64-aligned offset of the log region, from the allocator base
    bool hidden;           // Failed or reset: never found again
};

struct ResultRegistry::Header {
    uint64_t magic;
    uint32_t max_entries;
    std::atomic<uint32_t> lock;
    uint64_t entries_off;   // from the region start
    uint64_t alloc_off;     // allocator region, from the region start
    uint64_t alloc_size;
    uint64_t next_serial;   // under lock
    uint64_t spill_total;   // under lock: sum of the live entries' spilled_bytes
    char spill_prefix[kSpillPrefixBytes];  // "" = no spill files
};

size_t ResultRegistry::region_size(uint32_t max_entries, size_t log_budget) {
    return align_up(sizeof(Header)) + align_up(sizeof(Entry) * max_entries) +
           align_up(log_budget < 4096 ? 4096 : log_budget);
}

void ResultRegistry::format(void *region, size_t size, uint32_t max_entries,
                            const char *spill_prefix) {
    if (region == nullptr || reinterpret_cast<uintptr_t>(region) % kAlign != 0 ||
        max_entries == 0 || size < region_size(max_entries, 4096))
        throw Error(Error::Code::InvalidArgument, "bad result registry region");
    if (spill_prefix == nullptr) spill_prefix = "";
    if (strlen(spill_prefix) >= kSpillPrefixBytes)
        throw Error(Error::Code::InvalidArgument, "result registry spill path prefix too long");
    char *base = static_cast<char *>(region);
    auto *h = new (base) Header();
    h->magic = kMagic;
    h->max_entries = max_entries;
    h->lock.store(0);
    h->entries_off = align_up(sizeof(Header));
    h->alloc_off = h->entries_off + align_up(sizeof(Entry) * max_entries);
    h->alloc_size = size - h->alloc_off;
    h->next_serial = 1;
    h->spill_total = 0;
    memset(h->spill_prefix, 0, sizeof(h->spill_prefix));
    memcpy(h->spill_prefix, spill_prefix, strlen(spill_prefix));
    for (uint32_t i = 0; i < max_entries; i++) {
        auto *e = new (base + h->entries_off + sizeof(Entry) * i) Entry();
        e->serial = 0;
        e->alloc_off = 0;
        e->hidden = false;
    }
    FixedRegionAllocator::format(base + h->alloc_off, h->alloc_size);
}

ResultRegistry::ResultRegistry(void *region) : region_(static_cast<char *>(region)) {
    if (header()->magic != kMagic)
        throw Error(Error::Code::InvalidArgument, "result registry region not formatted");
}

ResultRegistry::Header *ResultRegistry::header() const {
    return reinterpret_cast<Header *>(region_);
}

ResultRegistry::Entry *ResultRegistry::entry(uint32_t slot) const {
    return reinterpret_cast<Entry *>(region_ + header()->entries_off + sizeof(Entry) * slot);
}

ResultRegistry::Entry *ResultRegistry::checked(const ResultRef &ref) const {
    if (!ref.valid() || ref.slot >= header()->max_entries)
        throw Error(Error::Code::InvalidArgument, "invalid result reference");
    Entry *e = entry(ref.slot);
    if (e->serial != ref.serial || e->info.state == EntryState::Free)
        throw Error(Error::Code::Internal, "stale result reference");
    return e;
}

uint32_t ResultRegistry::slot_of(const Entry *e) const {
    return static_cast<uint32_t>((reinterpret_cast<const char *>(e) -
                                  (region_ + header()->entries_off)) / sizeof(Entry));
}

std::string ResultRegistry::path_for(uint32_t slot, uint64_t serial) const {
    if (header()->spill_prefix[0] == '\0') return std::string();
    char tail[48];
    snprintf(tail, sizeof(tail), ".%u.%llu", slot, static_cast<unsigned long long>(serial));
    return std::string(header()->spill_prefix) + tail;
}

// Outside the lock: every process may unlink (the entry is gone, so no pin needs the file; a
// process that still has it open keeps reading its pages until it closes it).
void ResultRegistry::release_spills(const Doomed &doomed) const {
    for (const auto &d : doomed) {
        std::string path = path_for(d.first, d.second);
        if (path.empty()) continue;
        if (releaser_) {
            try {
                releaser_(path);
            } catch (...) {
            }
        } else {
            (void)unlink(path.c_str());
        }
    }
}

namespace {
class Locked {
public:
    explicit Locked(std::atomic<uint32_t> &w) : w_(w) { spin_lock(w_); }
    ~Locked() { spin_unlock(w_); }
    Locked(const Locked &) = delete;
    Locked &operator=(const Locked &) = delete;

private:
    std::atomic<uint32_t> &w_;
};
}  // namespace

// Under the lock. The spill file (if any) is queued on doomed, unlinked after the lock.
void ResultRegistry::free_entry(Entry *e, Doomed *doomed) {
    drop_log(e, doomed);
    e->hidden = false;
    e->info = EntryInfo();
    e->serial = header()->next_serial++;
}

// Under the lock: frees the least-recently-used unpinned entry (see the declaration).
bool ResultRegistry::evict_one(Doomed *doomed, bool role_only, uint32_t role, bool spilled_only,
                               uint64_t *freed_bytes, uint64_t *freed_spill) {
    Entry *victim = nullptr;
    for (uint32_t i = 0; i < header()->max_entries; i++) {
        Entry *e = entry(i);
        if (e->info.state == EntryState::Free || e->info.readers != 0) continue;
        if (e->info.state == EntryState::Producing) continue;  // its producer holds a pin
        if (role_only && e->info.role != role) continue;
        if (spilled_only && e->info.spilled_bytes == 0) continue;
        // Segmented LRU: any probationary entry goes before a protected one; within a segment,
        // the least recently used.
        if (victim == nullptr ||
            (!e->info.protected_segment && victim->info.protected_segment) ||
            (e->info.protected_segment == victim->info.protected_segment &&
             e->info.last_used < victim->info.last_used))
            victim = e;
    }
    if (victim == nullptr) return false;
    if (freed_bytes != nullptr) *freed_bytes = victim->info.bytes;
    if (freed_spill != nullptr) *freed_spill = victim->info.spilled_bytes;
    free_entry(victim, doomed);
    return true;
}

void ResultRegistry::promote(Entry *e) {
    if (e->info.protected_segment) return;
    e->info.protected_segment = true;
    const uint64_t cap = header()->alloc_size / kProtectedShareDen * kProtectedShareNum;
    for (;;) {
        uint64_t held = 0;
        Entry *oldest = nullptr;
        for (uint32_t i = 0; i < header()->max_entries; i++) {
            Entry *o = entry(i);
            if (o->info.state == EntryState::Free || !o->info.protected_segment) continue;
            held += o->info.bytes;
            if (o != e && (oldest == nullptr || o->info.last_used < oldest->info.last_used))
                oldest = o;
        }
        if (held <= cap || oldest == nullptr) return;
        oldest->info.protected_segment = false;  // demoted: evictable before any protected entry
    }
}

AcquireResult ResultRegistry::acquire(const ResultKey &key, const LogConfig &cfg, int32_t pid,
                                      int64_t now, const char *sample, ResultRef *ref,
                                      const Owner &owner) {
    Doomed doomed;
    AcquireResult res = AcquireResult::NoSpace;
    try {
        Locked guard(header()->lock);
        res = acquire_locked(key, cfg, pid, now, sample, ref, owner, &doomed);
    } catch (...) {
        release_spills(doomed);
        throw;
    }
    release_spills(doomed);
    return res;
}

// Under the lock: e (slot i) holds the key looked for. A TooLarge entry is not pinned.
AcquireResult ResultRegistry::use_existing(Entry *e, uint32_t i, int64_t now, ResultRef *ref) {
    if (e->info.state == EntryState::TooLarge) {
        e->info.hits++;
        e->info.last_used = now;  // not promoted: it holds no result worth protecting
        return AcquireResult::TooLarge;
    }
    e->info.readers++;
    e->info.hits++;
    e->info.last_used = now;
    promote(e);
    *ref = ResultRef{i, e->serial};
    return e->info.state == EntryState::Ready ? AcquireResult::Hit : AcquireResult::Attach;
}

bool ResultRegistry::find(const ResultKey &key, int64_t now, ResultRef *ref,
                          AcquireResult *answer) {
    *ref = ResultRef();
    Locked guard(header()->lock);
    Header *h = header();
    for (uint32_t i = 0; i < h->max_entries; i++) {
        Entry *e = entry(i);
        if (e->info.state == EntryState::Free || e->hidden || !(e->info.key == key)) continue;
        *answer = use_existing(e, i, now, ref);
        return true;
    }
    return false;
}

// Under the lock.
AcquireResult ResultRegistry::acquire_locked(const ResultKey &key, const LogConfig &cfg,
                                             int32_t pid, int64_t now, const char *sample,
                                             ResultRef *ref, const Owner &owner,
                                             Doomed *doomed) {
    *ref = ResultRef();
    size_t log_size = TupleLog::region_size(cfg);  // validates nothing; create() does
    Header *h = header();
    Entry *free_slot = nullptr;
    uint64_t role_bytes = 0;  // log memory of owner's entries (summed in the same scan)
    for (uint32_t i = 0; i < h->max_entries; i++) {
        Entry *e = entry(i);
        if (e->info.state == EntryState::Free) {
            if (free_slot == nullptr) free_slot = e;
            continue;
        }
        if (e->info.role == owner.role) role_bytes += e->info.bytes;
        if (e->hidden || !(e->info.key == key)) continue;
        return use_existing(e, i, now, ref);
    }
    if (log_size + kAlign > h->alloc_size) return AcquireResult::NoSpace;
    // The owner's share of the log memory: its own least recently used entries make room first.
    if (!owner.exempt) {
        while (role_bytes + log_size > owner.max_log_bytes) {
            uint64_t freed = 0;
            if (!evict_one(doomed, true, owner.role, false, &freed)) return AcquireResult::RoleQuota;
            role_bytes = role_bytes > freed ? role_bytes - freed : 0;
        }
    }
    FixedRegionAllocator alloc = FixedRegionAllocator::attach(region_ + h->alloc_off);
    uint64_t off = 0;
    for (;;) {
        off = alloc.allocate(log_size + kAlign);
        if (off != 0) break;
        if (!evict_one(doomed)) return AcquireResult::NoSpace;
    }
    if (free_slot == nullptr) {
        for (uint32_t i = 0; i < h->max_entries && free_slot == nullptr; i++)
            if (entry(i)->info.state == EntryState::Free) free_slot = entry(i);
        while (free_slot == nullptr && evict_one(doomed)) {
            for (uint32_t i = 0; i < h->max_entries && free_slot == nullptr; i++)
                if (entry(i)->info.state == EntryState::Free) free_slot = entry(i);
        }
        if (free_slot == nullptr) {
            alloc.free(off, log_size + kAlign);
            return AcquireResult::NoSpace;
        }
    }
    Entry *e = free_slot;
    uint32_t slot = slot_of(e);
    e->serial = h->next_serial++;
    e->alloc_off = off;
    e->alloc_size = log_size + kAlign;
    // The allocator's base is 64-byte aligned (format), so aligning the offset aligns the address.
    e->log_off = align_up(off);
    e->hidden = false;
    e->info = EntryInfo();
    e->info.key = key;
    e->info.state = EntryState::Producing;
    e->info.producer_pid = pid;
    e->info.role = owner.role;
    e->info.quota_exempt = owner.exempt;
    e->info.readers = 1;
    e->info.bytes = log_size;
    e->info.created_at = now;
    e->info.last_used = now;
    if (sample != nullptr) {
        strncpy(e->info.sample, sample, kSampleBytes - 1);
        e->info.sample[kSampleBytes - 1] = '\0';
    }
    try {
        TupleLog::create(region_ + h->alloc_off + e->log_off, cfg);
    } catch (...) {
        free_entry(e, doomed);
        throw;
    }
    *ref = ResultRef{slot, e->serial};
    return AcquireResult::Produce;
}

void *ResultRegistry::log_region(const ResultRef &ref) const {
    Locked guard(header()->lock);
    Entry *e = checked(ref);
    return region_ + header()->alloc_off + e->log_off;
}

void ResultRegistry::publish(const ResultRef &ref, uint64_t rows) {
    Locked guard(header()->lock);
    Entry *e = checked(ref);
    if (e->info.state != EntryState::Producing)
        throw Error(Error::Code::Internal, "publish of an entry that is not being produced");
    e->info.state = EntryState::Ready;
    e->info.rows = rows;
}

void ResultRegistry::fail(const ResultRef &ref) {
    Locked guard(header()->lock);
    Entry *e = checked(ref);
    if (e->info.state == EntryState::TooLarge) return;
    e->info.state = EntryState::Failed;
    e->hidden = true;
}

void ResultRegistry::mark_too_large(const ResultRef &ref) {
    Locked guard(header()->lock);
    Entry *e = checked(ref);
    if (e->hidden || e->info.state == EntryState::Failed)
        return;  // failed meanwhile (its producer's exit): stays out of sight
    e->info.state = EntryState::TooLarge;
    e->info.protected_segment = false;  // keeps only its key: evicted as a new entry would be
}

// Under the lock: a TooLarge entry nobody pins gives its log memory and spill file back, and
// keeps its slot (key, state, counters) for lookups.
void ResultRegistry::drop_log(Entry *e, Doomed *doomed) {
    if (e->info.spill_file) doomed->emplace_back(slot_of(e), e->serial);
    if (e->alloc_off != 0) {
        FixedRegionAllocator alloc = FixedRegionAllocator::attach(region_ + header()->alloc_off);
        alloc.free(e->alloc_off, e->alloc_size);
    }
    e->alloc_off = 0;
    e->alloc_size = 0;
    e->log_off = 0;
    e->info.spill_file = false;
    e->info.bytes = 0;
    header()->spill_total -= std::min(header()->spill_total, e->info.spilled_bytes);
    e->info.spilled_bytes = 0;
}

std::string ResultRegistry::spill_path(const ResultRef &ref) const {
    Locked guard(header()->lock);
    checked(ref);
    return path_for(ref.slot, ref.serial);
}

void ResultRegistry::note_spill(const ResultRef &ref, uint64_t bytes) {
    Locked guard(header()->lock);
    Entry *e = checked(ref);
    e->info.spill_file = true;
    if (bytes > e->info.spilled_bytes) {
        header()->spill_total += bytes - e->info.spilled_bytes;
        e->info.spilled_bytes = bytes;
    }
}

SpillVerdict ResultRegistry::reserve_spill(const ResultRef &ref, uint64_t bytes,
                                           uint64_t total_limit, uint64_t role_limit) {
    Doomed doomed;
    SpillVerdict verdict = SpillVerdict::Ok;
    {
        Locked guard(header()->lock);
        Header *h = header();
        Entry *e = checked(ref);
        const uint32_t role = e->info.role;
        // The role's spill is part of the total: below role_limit in total, no need to sum it.
        if (!e->info.quota_exempt && h->spill_total + bytes > role_limit) {
            uint64_t role_spill = 0;
            for (uint32_t i = 0; i < h->max_entries; i++) {
                const Entry *o = entry(i);
                if (o->info.state != EntryState::Free && o->info.role == role)
                    role_spill += o->info.spilled_bytes;
            }
            while (verdict == SpillVerdict::Ok && role_spill + bytes > role_limit) {
                uint64_t freed = 0;
                if (!evict_one(&doomed, true, role, true, nullptr, &freed))
                    verdict = SpillVerdict::RoleLimit;
                else
                    role_spill = role_spill > freed ? role_spill - freed : 0;
            }
        }
        while (verdict == SpillVerdict::Ok && h->spill_total + bytes > total_limit)
            if (!evict_one(&doomed, false, 0, true)) verdict = SpillVerdict::TotalLimit;
        if (verdict == SpillVerdict::Ok) {
            e->info.spill_file = true;
            e->info.spilled_bytes += bytes;
            h->spill_total += bytes;
        }
    }
    release_spills(doomed);
    return verdict;
}

uint64_t ResultRegistry::spill_bytes_in_use() const {
    Locked guard(header()->lock);
    return header()->spill_total;
}

EntryState ResultRegistry::state(const ResultRef &ref) const {
    Locked guard(header()->lock);
    return checked(ref)->info.state;
}

int32_t ResultRegistry::producer_pid(const ResultRef &ref) const {
    Locked guard(header()->lock);
    return checked(ref)->info.producer_pid;
}

void ResultRegistry::release(ResultRef *ref) {
    if (!ref->valid()) return;
    Doomed doomed;
    {
        Locked guard(header()->lock);
        Entry *e = checked(*ref);
        if (e->info.readers > 0) e->info.readers--;
        if (e->info.readers == 0 && e->hidden)
            free_entry(e, &doomed);
        else if (e->info.readers == 0 && e->info.state == EntryState::TooLarge)
            drop_log(e, &doomed);
        *ref = ResultRef();
    }
    release_spills(doomed);
}

uint32_t ResultRegistry::fail_producer(int32_t pid) {
    Doomed doomed;
    uint32_t n = 0;
    {
        Locked guard(header()->lock);
        for (uint32_t i = 0; i < header()->max_entries; i++) {
            Entry *e = entry(i);
            if (e->info.state != EntryState::Producing || e->info.producer_pid != pid) continue;
            e->info.state = EntryState::Failed;
            e->hidden = true;
            if (e->info.readers > 0) e->info.readers--;  // the producer's own pin
            if (e->info.readers == 0) free_entry(e, &doomed);
            n++;
        }
    }
    release_spills(doomed);
    return n;
}

uint32_t ResultRegistry::reset() {
    Doomed doomed;
    uint32_t n = 0;
    {
        Locked guard(header()->lock);
        for (uint32_t i = 0; i < header()->max_entries; i++) {
            Entry *e = entry(i);
            if (e->info.state == EntryState::Free) continue;
            n++;
            if (e->info.readers == 0)
                free_entry(e, &doomed);
            else
                e->hidden = true;
        }
    }
    release_spills(doomed);
    return n;
}

std::vector<EntryInfo> ResultRegistry::entries(std::vector<std::string> *spill_paths) const {
    std::vector<EntryInfo> out;
    std::vector<std::pair<uint32_t, uint64_t>> ids;
    {
        Locked guard(header()->lock);
        for (uint32_t i = 0; i < header()->max_entries; i++) {
            const Entry *e = entry(i);
            if (e->info.state == EntryState::Free) continue;
            out.push_back(e->info);
            ids.emplace_back(i, e->info.spill_file ? e->serial : 0);
        }
    }
    if (spill_paths != nullptr) {
        spill_paths->clear();
        for (const auto &id : ids)
            spill_paths->push_back(id.second != 0 ? path_for(id.first, id.second) : std::string());
    }
    return out;
}

uint64_t ResultRegistry::bytes_in_use() const {
    return FixedRegionAllocator::attach(region_ + header()->alloc_off).bytes_in_use();
}

uint64_t ResultRegistry::log_budget() const { return header()->alloc_size; }

}  // namespace pm::core
