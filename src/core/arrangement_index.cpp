// arrangement_index.cpp — the arrangement hash index: versioned chains, lock-free probes, reclaim.
//
// Memory-ordering summary (docs/arrangements.md has the argument in full):
//  * insert: the node is written with plain stores, then published by a release store of its
//    offset into the bucket head (under the stripe lock); readers load links with seq_cst loads
//    (plain loads on x86, ldar on arm64), which also acquire.
//  * mark_deleted: one release store of the packed (xmax, cmax) word; readers load it once.
//  * reclaim: unlink stores are seq_cst, then the global epoch is bumped (seq_cst RMW), then the
//    reader slots are read (seq_cst). A reader publishes its epoch with a seq_cst store before its
//    first chain load. So either reclaim sees the reader's slot (and keeps the node), or the
//    reader's chain loads come after the unlinks in the single total order and never reach the
//    node. A slot's exit store (release) orders the reader's last access before the free.
#include "parallel_material/core/arrangement_index.hpp"

#include <sched.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace pm::core {

namespace {

constexpr uint64_t kIndexMagic = 0x706d5f6172726e31ULL;  // "pm_arrn1"
constexpr uint64_t kNoEpoch = 0;
constexpr uint64_t kMixer = 0x9E3779B97F4A7C15ULL;

inline uint64_t pack_xmax(uint32_t xmax, uint32_t cmax) {
    return uint64_t{xmax} | (uint64_t{cmax} << 32);
}
constexpr uint16_t kFormCompact = 0;  // xmin is the index's frozen_xmin, cmin 0: not stored
constexpr uint16_t kFormFull = 1;     // xmin and cmin follow the common header
constexpr uint16_t kFormRun = 2;      // several compact versions of one key (see Node)
constexpr size_t kRunHeader = 16;     // a run's header: next, hash, key_len, form, count | flags
// A run holds at most this many versions and this many bytes (reclaim copies a run under its
// stripe lock; a larger group is split).
constexpr uint32_t kMaxRunVersions = 64;
constexpr size_t kMaxRunBytes = 4096;
constexpr uint32_t kMaxRunTuple = 0xffff;

// One version of a run: its TID and tuple length (the tuple bytes follow the run's key, in entry
// order).
struct RunEntry {
    uint32_t tid_block;
    uint16_t tid_offset;
    uint16_t tuple_len;
};
static_assert(sizeof(RunEntry) == 8, "run entry layout");
constexpr uint32_t kMaxKeyLen = 0xffff;

// Chain links (bucket heads and a version's next) are 32-bit offsets in 16-byte units: versions
// are 16-byte aligned blocks, and a link reaches the first 64 GiB of the region. A version the
// allocator places beyond that is refused like a full region (OutOfMemory).
constexpr unsigned kLinkShift = 4;
constexpr uint64_t kLinkLimit = uint64_t{1} << (32 + kLinkShift);
inline uint64_t off_of(uint32_t link) {
    return uint64_t{link} << kLinkShift;
}
inline uint32_t link_of(uint64_t off) {
    return static_cast<uint32_t>(off >> kLinkShift);
}
// Whether a block at off (of size bytes) can be linked.
inline bool linkable(uint64_t off, uint64_t size) {
    return off != 0 && (off & ((uint64_t{1} << kLinkShift) - 1)) == 0 && off + size <= kLinkLimit;
}
// The hash tag a version keeps: the low 32 bits of its hash (the bucket comes from the high bits
// of hash * kMixer; a probe compares the tag, then the key bytes).
inline uint32_t tag_of(uint64_t hash) {
    return static_cast<uint32_t>(hash);
}

}  // namespace

struct ArrangementIndex::Header {
    uint64_t magic;
    uint64_t nbuckets;
    uint32_t nbuckets_log2;
    uint32_t nslots;
    uint64_t buckets_off;
    uint64_t slots_off;
    std::atomic<uint32_t> valid;
    std::atomic<uint32_t> reclaim_lock;
    std::atomic<uint64_t> epoch;  // starts at 1; 0 in a slot means "not reading"
    uint64_t retired_head;        // under reclaim_lock: RetireRecords of unlinked versions
    std::atomic<uint64_t> versions;
    std::atomic<uint64_t> delete_marked;
    std::atomic<uint64_t> inserts;
    std::atomic<uint64_t> deletes;
    std::atomic<uint64_t> truncates;
    std::atomic<uint64_t> reclaimed;
    std::atomic<uint64_t> retired_pending;
    std::atomic<uint64_t> version_bytes;
    uint32_t account;      // Options::account: every block is allocated and freed for it
    uint32_t frozen_xmin;  // Options::frozen_xmin (0: every version is stored in full)
};

// One version, or a run of versions. Immutable after publication except next (reclaim relinks)
// and the xmax words. The first 16 bytes (next, hash tag, key length, form, and a 32-bit word) are
// common to every form:
//  * a single version (kFormCompact, kFormFull): a 32-byte header (the word is tuple_len), for
//    kFormFull followed by its xmin and cmin (8 bytes); then the tuple bytes (8-byte aligned), then
//    the key bytes right after them (no padding: keys are compared bytewise);
//  * a run (kFormRun): versions of one key, all compact (frozen xmin, cmin 0) with the same flags,
//    stored together by insert_bulk (one key, one header; no per-version rounding). The word holds
//    the entry count (low 16 bits) and the shared flags (high 16 bits); then count atomic xmax
//    words (xmax low, cmax high), count RunEntry (TID, tuple length), the key bytes, and the
//    entries' tuple bytes back to back (unaligned: readers copy them). Entry 0 is the newest.
struct ArrangementIndex::Node {
    std::atomic<uint32_t> next;       // link (off_of) of the next (older) node, 0 = end
    uint32_t hash;                    // tag_of(the key's hash)
    uint16_t key_len;
    uint16_t form;                    // kFormCompact, kFormFull or kFormRun
    uint32_t tuple_len;               // run: count | flags << 16
    // single versions only from here
    std::atomic<uint64_t> xmax_cmax;  // xmax in the low 32 bits, cmax in the high 32 bits
    uint32_t tid_block;
    uint16_t tid_offset;
    uint16_t flags;

    static size_t header_size(bool full) { return sizeof(Node) + (full ? 8 : 0); }
    static size_t size_of(bool full, uint32_t key_len, uint32_t tuple_len) {
        return header_size(full) + tuple_len + key_len;
    }
    bool full() const { return form == kFormFull; }
    bool run() const { return form == kFormRun; }
    const uint32_t *mvcc() const { return reinterpret_cast<const uint32_t *>(this + 1); }
    uint32_t *mvcc() { return reinterpret_cast<uint32_t *>(this + 1); }
    const char *tuple() const { return reinterpret_cast<const char *>(this) + header_size(full()); }
    const char *key() const { return tuple() + tuple_len; }
    // ---- runs
    uint32_t run_count() const { return tuple_len & 0xffff; }
    uint16_t run_flags() const { return static_cast<uint16_t>(tuple_len >> 16); }
    std::atomic<uint64_t> *run_xmax() const {
        return reinterpret_cast<std::atomic<uint64_t> *>(const_cast<char *>(
            reinterpret_cast<const char *>(this) + kRunHeader));
    }
    const RunEntry *run_entries() const {
        return reinterpret_cast<const RunEntry *>(reinterpret_cast<const char *>(this) + kRunHeader +
                                                  8 * run_count());
    }
    const char *run_key() const {
        return reinterpret_cast<const char *>(this) + kRunHeader + 16 * run_count();
    }
    const char *run_tuples() const { return run_key() + key_len; }
    static size_t run_size(uint32_t count, uint32_t key_len, uint64_t tuple_bytes) {
        return kRunHeader + 16 * size_t{count} + key_len + tuple_bytes;
    }
    size_t size() const {
        if (!run())
            return size_of(full(), key_len, tuple_len);
        uint64_t t = 0;
        const RunEntry *e = run_entries();
        for (uint32_t i = 0; i < run_count(); ++i) t += e[i].tuple_len;
        return run_size(run_count(), key_len, t);
    }
    // The key bytes of either form.
    const char *key_bytes() const { return run() ? run_key() : key(); }
    // Versions this node holds.
    uint32_t versions() const { return run() ? run_count() : 1; }
};
static_assert(sizeof(ArrangementIndex::Node) == 32, "node header layout");

// Versions unlinked by one reclaim pass, waiting for their grace period (kept outside the
// versions, so that a version carries no reclaim-only fields): a block of 24 + 8 * count bytes.
// At most kRetireChunk versions per record (4 KiB), so that no pass needs a large block.
struct RetireRecord {
    uint64_t next;     // next record (offset), 0 = end
    uint64_t epoch;    // free once every reader slot is idle or >= this
    uint32_t count;
    uint32_t charged;  // allocated for the index's account (else uncharged: the account was full)
    uint64_t offs[1];  // count offsets of unlinked versions
    static size_t size_of(uint64_t count) { return 24 + 8 * count; }
};
constexpr size_t kRetireChunk = 509;

// One reader slot, padded to a cache line.
struct ArrangementIndex::Slot {
    std::atomic<uint32_t> owner;  // 0 free, 1 claimed
    uint32_t pad0;
    std::atomic<uint64_t> epoch;  // kNoEpoch outside read sections
    char pad1[48];
};
static_assert(sizeof(ArrangementIndex::Slot) == 64, "slot layout");

namespace {

// Builds a VersionView of a node; xmax/cmax come from one atomic load.
inline VersionView view_of(const ArrangementIndex::Node *n, uint32_t frozen_xmin) {
    uint64_t xc = n->xmax_cmax.load(std::memory_order_acquire);
    VersionView v;
    v.hash = n->hash;
    v.tid.block = n->tid_block;
    v.tid.offset = n->tid_offset;
    if (n->full()) {
        v.xmin = n->mvcc()[0];
        v.cmin = n->mvcc()[1];
    } else {
        v.xmin = frozen_xmin;
        v.cmin = 0;
    }
    v.xmax = static_cast<uint32_t>(xc);
    v.cmax = static_cast<uint32_t>(xc >> 32);
    v.flags = n->flags;
    v.key = n->key();
    v.key_len = n->key_len;
    v.tuple = n->tuple();
    v.tuple_len = n->tuple_len;
    return v;
}

// The VersionView of entry i of run n, whose tuple bytes start at tup.
inline VersionView run_view(const ArrangementIndex::Node *n, uint32_t i, const char *tup,
                            uint32_t frozen_xmin) {
    uint64_t xc = n->run_xmax()[i].load(std::memory_order_acquire);
    const RunEntry &e = n->run_entries()[i];
    VersionView v;
    v.hash = n->hash;
    v.tid.block = e.tid_block;
    v.tid.offset = e.tid_offset;
    v.xmin = frozen_xmin;
    v.cmin = 0;
    v.xmax = static_cast<uint32_t>(xc);
    v.cmax = static_cast<uint32_t>(xc >> 32);
    v.flags = n->run_flags();
    v.key = n->run_key();
    v.key_len = n->key_len;
    v.tuple = tup;
    v.tuple_len = e.tuple_len;
    return v;
}

// Calls f(v, word) for every version of node n (a run's entries newest first), word being the
// version's xmax word, until f returns false.
template <class F>
inline void for_each_version(const ArrangementIndex::Node *n, uint32_t frozen_xmin, F &&f) {
    if (!n->run()) {
        f(view_of(n, frozen_xmin), const_cast<std::atomic<uint64_t> &>(n->xmax_cmax));
        return;
    }
    const uint32_t c = n->run_count();
    const char *tup = n->run_tuples();
    const RunEntry *e = n->run_entries();
    std::atomic<uint64_t> *xm = n->run_xmax();
    for (uint32_t i = 0; i < c; ++i) {
        if (!f(run_view(n, i, tup, frozen_xmin), xm[i]))
            return;
        tup += e[i].tuple_len;
    }
}

// Writes a run of count versions at `at` (next 0; not linked yet). entry(i, e, tuple, xc) fills
// entry i's TID and length and gives its tuple bytes and xmax word; entry 0 is the newest.
template <class F>
ArrangementIndex::Node *write_run(char *at, uint32_t tag, const void *key, uint16_t key_len,
                                  uint16_t flags, uint32_t count, F &&entry) {
    auto *n = reinterpret_cast<ArrangementIndex::Node *>(at);
    new (&n->next) std::atomic<uint32_t>(0);
    n->hash = tag;
    n->key_len = key_len;
    n->form = kFormRun;
    n->tuple_len = count | (uint32_t{flags} << 16);
    auto *xm = reinterpret_cast<std::atomic<uint64_t> *>(at + kRunHeader);
    auto *es = reinterpret_cast<RunEntry *>(at + kRunHeader + 8 * size_t{count});
    char *kp = at + kRunHeader + 16 * size_t{count};
    if (key_len != 0)
        std::memcpy(kp, key, key_len);
    char *tp = kp + key_len;
    for (uint32_t i = 0; i < count; ++i) {
        const char *t = nullptr;
        uint64_t xc = 0;
        entry(i, es[i], t, xc);
        new (&xm[i]) std::atomic<uint64_t>(xc);
        if (es[i].tuple_len != 0)
            std::memcpy(tp, t, es[i].tuple_len);
        tp += es[i].tuple_len;
    }
    return n;
}

// Holds one writer-lock stripe for a scope.
class StripeGuard {
  public:
    StripeGuard(WriterLock &l, uint32_t s) : l_(l), s_(s) { l_.lock(s_); }
    ~StripeGuard() { l_.unlock(s_); }
    StripeGuard(const StripeGuard &) = delete;
    StripeGuard &operator=(const StripeGuard &) = delete;

  private:
    WriterLock &l_;
    uint32_t s_;
};

template <class F>
class ScopeExit {
  public:
    explicit ScopeExit(F f) : f_(f) {}
    ~ScopeExit() { f_(); }
    ScopeExit(const ScopeExit &) = delete;
    ScopeExit &operator=(const ScopeExit &) = delete;

  private:
    F f_;
};

class SpinGuard {
  public:
    explicit SpinGuard(std::atomic<uint32_t> &w) : w_(w) { spin_lock(w_); }
    ~SpinGuard() { spin_unlock(w_); }
    SpinGuard(const SpinGuard &) = delete;
    SpinGuard &operator=(const SpinGuard &) = delete;

  private:
    std::atomic<uint32_t> &w_;
};

}  // namespace

ArrangementIndex::ArrangementIndex(RegionAllocator &alloc, WriterLock &lock, uint64_t header_off)
    : alloc_(&alloc),
      lock_(&lock),
      base_(alloc.base()),
      header_off_(header_off),
      hdr_(reinterpret_cast<Header *>(base_ + header_off)),
      buckets_(reinterpret_cast<std::atomic<uint32_t> *>(base_ + hdr_->buckets_off)),
      slots_(reinterpret_cast<Slot *>(base_ + hdr_->slots_off)) {}

ArrangementIndex ArrangementIndex::create(RegionAllocator &alloc, WriterLock &lock,
                                          const Options &opt) {
    uint64_t nb = opt.nbuckets;
    if (nb == 0) {
        nb = 1;
        while (nb < opt.expected_rows && nb < (uint64_t{1} << 40)) nb <<= 1;
    }
    if ((nb & (nb - 1)) != 0 || nb > (uint64_t{1} << 40))
        throw Error(Error::Code::InvalidArgument,
                    "arrangement bucket count must be a power of two");
    if (opt.reader_slots == 0)
        throw Error(Error::Code::InvalidArgument, "arrangement needs at least one reader slot");
    if (lock.stripes() == 0)
        throw Error(Error::Code::InvalidArgument, "arrangement writer lock has no stripes");

    const uint32_t acct = opt.account;
    uint64_t hoff = alloc.allocate_for(acct, sizeof(Header));
    uint64_t boff = alloc.allocate_for(acct, nb * sizeof(std::atomic<uint32_t>));
    uint64_t soff = alloc.allocate_for(acct, uint64_t{opt.reader_slots} * sizeof(Slot));
    if (hoff == 0 || boff == 0 || soff == 0) {
        if (hoff != 0) alloc.free_for(acct, hoff, sizeof(Header));
        if (boff != 0) alloc.free_for(acct, boff, nb * sizeof(std::atomic<uint32_t>));
        if (soff != 0) alloc.free_for(acct, soff, uint64_t{opt.reader_slots} * sizeof(Slot));
        throw Error(Error::Code::OutOfMemory, "arrangement region exhausted creating the index");
    }
    char *base = alloc.base();
    auto *buckets = reinterpret_cast<std::atomic<uint32_t> *>(base + boff);
    for (uint64_t i = 0; i < nb; ++i) new (&buckets[i]) std::atomic<uint32_t>(0);
    auto *slots = reinterpret_cast<Slot *>(base + soff);
    for (uint32_t i = 0; i < opt.reader_slots; ++i) {
        Slot *s = new (&slots[i]) Slot;
        s->owner.store(0, std::memory_order_relaxed);
        s->pad0 = 0;
        s->epoch.store(kNoEpoch, std::memory_order_relaxed);
        std::memset(s->pad1, 0, sizeof s->pad1);
    }
    Header *h = new (base + hoff) Header;
    h->nbuckets = nb;
    h->nbuckets_log2 = static_cast<uint32_t>(__builtin_ctzll(nb));
    h->nslots = opt.reader_slots;
    h->buckets_off = boff;
    h->slots_off = soff;
    h->account = acct;
    h->frozen_xmin = opt.frozen_xmin;
    h->valid.store(1, std::memory_order_relaxed);
    h->reclaim_lock.store(0, std::memory_order_relaxed);
    h->epoch.store(1, std::memory_order_relaxed);
    h->retired_head = 0;
    for (auto *c : {&h->versions, &h->delete_marked, &h->inserts, &h->deletes, &h->truncates,
                    &h->reclaimed, &h->retired_pending, &h->version_bytes})
        c->store(0, std::memory_order_relaxed);
    // Everything above is published to other processes by whatever hands them index_offset()
    // (a lock or a release store in the adapter's catalog).
    h->magic = kIndexMagic;
    return ArrangementIndex(alloc, lock, hoff);
}

ArrangementIndex ArrangementIndex::attach(RegionAllocator &alloc, WriterLock &lock,
                                          uint64_t index_offset) {
    if (index_offset == 0 ||
        reinterpret_cast<Header *>(alloc.base() + index_offset)->magic != kIndexMagic)
        throw Error(Error::Code::InvalidArgument, "no arrangement index at this offset");
    return ArrangementIndex(alloc, lock, index_offset);
}

uint64_t ArrangementIndex::nbuckets() const {
    return hdr_->nbuckets;
}

// Bucket of a hash: Fibonacci hashing of the adapter's hash, so weak hashes still spread.
static inline uint64_t bucket_of(uint64_t hash, uint32_t log2) {
    return log2 == 0 ? 0 : (hash * kMixer) >> (64 - log2);
}

void ArrangementIndex::check_version(const void *key, uint32_t key_len, const void *tuple,
                                     uint32_t tuple_len) {
    if ((key_len != 0 && key == nullptr) || (tuple_len != 0 && tuple == nullptr))
        throw Error(Error::Code::InvalidArgument, "arrangement insert without key or tuple bytes");
    if (key_len > kMaxKeyLen)
        throw Error(Error::Code::InvalidArgument, "arrangement key longer than 65535 bytes");
}

bool ArrangementIndex::stores_full(uint32_t xmin, uint32_t cmin) const {
    return hdr_->frozen_xmin == 0 || xmin != hdr_->frozen_xmin || cmin != 0;
}

// Writes a version (next 0, xmax_cmax left to the caller) at off, compact when its xmin is the
// frozen one, and returns it; it is not linked yet.
ArrangementIndex::Node *ArrangementIndex::write_node(uint64_t off, uint64_t hash, const void *key,
                                                     uint32_t key_len, const void *tuple,
                                                     uint32_t tuple_len, Tid tid, uint32_t xmin,
                                                     uint32_t cmin, uint16_t flags) {
    const bool full = stores_full(xmin, cmin);
    Node *n = new (base_ + off) Node;
    n->next.store(0, std::memory_order_relaxed);
    n->hash = tag_of(hash);
    n->tid_block = tid.block;
    n->tid_offset = tid.offset;
    n->flags = flags;
    n->tuple_len = tuple_len;
    n->key_len = static_cast<uint16_t>(key_len);
    n->form = full ? kFormFull : kFormCompact;
    if (full) {
        n->mvcc()[0] = xmin;
        n->mvcc()[1] = cmin;
    }
    char *tp = base_ + off + Node::header_size(full);
    if (tuple_len != 0)
        std::memcpy(tp, tuple, tuple_len);
    if (key_len != 0)
        std::memcpy(tp + tuple_len, key, key_len);
    return n;
}

// insert_bulk's fallback: one block per version; then, within each size class (blocks of one
// class are interchangeable), the blocks are handed out in ascending address order, following
// the caller's order.
void ArrangementIndex::allocate_each(const std::vector<size_t> &sizes,
                                     std::vector<uint64_t> &offs) {
    const size_t n = sizes.size();
    for (size_t i = 0; i < n; ++i) {
        offs[i] = alloc_->allocate_for(hdr_->account, sizes[i]);
        if (offs[i] != 0 && !linkable(offs[i], sizes[i])) {
            alloc_->free_for(hdr_->account, offs[i], sizes[i]);
            offs[i] = 0;
        }
        if (offs[i] == 0) {
            for (size_t j = 0; j < i; ++j) alloc_->free_for(hdr_->account, offs[j], sizes[j]);
            throw Error(Error::Code::OutOfMemory, "arrangement memory budget exhausted (" +
                                                      std::to_string(sizes[i]) + " bytes)");
        }
    }
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    // By size class, ties in the caller's order (std::sort with the index as tie-break: no
    // temporary buffer, unlike stable_sort).
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        const size_t ra = FixedRegionAllocator::rounded_size(sizes[a]);
        const size_t rb = FixedRegionAllocator::rounded_size(sizes[b]);
        return ra != rb ? ra < rb : a < b;
    });
    for (size_t lo = 0; lo < n;) {
        size_t cls = FixedRegionAllocator::rounded_size(sizes[idx[lo]]);
        size_t hi = lo;
        std::vector<uint64_t> blocks;
        while (hi < n && FixedRegionAllocator::rounded_size(sizes[idx[hi]]) == cls)
            blocks.push_back(offs[idx[hi++]]);
        std::sort(blocks.begin(), blocks.end());
        for (size_t k = lo; k < hi; ++k) offs[idx[k]] = blocks[k - lo];
        lo = hi;
    }
}

bool ArrangementIndex::run_eligible(const BulkVersion &b) const {
    return !stores_full(b.xmin, b.cmin) && b.tuple_len <= kMaxRunTuple;
}

// Splits the batch into units: within each stretch of consecutive versions of one bucket, the
// compact versions (frozen xmin, cmin 0) of one key and flags are grouped into runs (at most
// kMaxRunVersions versions and kMaxRunBytes bytes each; a key is looked for among the stretch's
// kOpen newest groups); every other version stays single. Linear in the batch.
void ArrangementIndex::plan_units(const BulkVersion *v, size_t n, std::vector<uint32_t> &members,
                                  std::vector<BulkUnitRef> &out) const {
    struct Group {
        uint32_t first;  // the batch index of its first member
        uint32_t count;
        uint64_t bytes;  // its members' tuple bytes
        bool eligible;
    };
    std::vector<Group> groups;
    std::vector<uint32_t> gid, start, open;
    const uint32_t log2 = hdr_->nbuckets_log2;
    constexpr size_t kOpen = 8;
    members.resize(n);
    size_t i = 0;
    while (i < n) {
        const uint64_t bk = bucket_of(v[i].hash, log2);
        size_t j = i;
        groups.clear();
        open.clear();
        gid.clear();
        for (; j < n && bucket_of(v[j].hash, log2) == bk; ++j) {
            const BulkVersion &x = v[j];
            uint32_t g = UINT32_MAX;
            if (run_eligible(x)) {
                for (size_t o = open.size(); o-- > 0;) {
                    Group &y = groups[open[o]];
                    const BulkVersion &f = v[y.first];
                    if (f.hash == x.hash && f.key_len == x.key_len && f.flags == x.flags &&
                        (x.key_len == 0 || std::memcmp(f.key, x.key, x.key_len) == 0)) {
                        if (y.count < kMaxRunVersions &&
                            Node::run_size(y.count + 1, x.key_len, y.bytes + x.tuple_len) <=
                                kMaxRunBytes)
                            g = open[o];
                        else
                            open.erase(open.begin() + static_cast<std::ptrdiff_t>(o));
                        break;
                    }
                }
                if (g == UINT32_MAX) {
                    g = static_cast<uint32_t>(groups.size());
                    groups.push_back(Group{static_cast<uint32_t>(j), 0, 0, true});
                    open.push_back(g);
                    if (open.size() > kOpen)
                        open.erase(open.begin());
                }
            } else {
                g = static_cast<uint32_t>(groups.size());
                groups.push_back(Group{static_cast<uint32_t>(j), 0, 0, false});
            }
            ++groups[g].count;
            groups[g].bytes += x.tuple_len;
            gid.push_back(g);
        }
        // Each group's members together, in batch order (a counting sort by group).
        start.assign(groups.size() + 1, 0);
        for (size_t g = 0; g < groups.size(); ++g) start[g + 1] = start[g] + groups[g].count;
        for (size_t g = 0; g < groups.size(); ++g) {
            const Group &gr = groups[g];
            const BulkVersion &x = v[gr.first];
            BulkUnitRef u;
            u.first = static_cast<uint32_t>(i + start[g]);
            u.count = gr.count;
            u.run = gr.eligible && gr.count > 1;
            u.size = u.run ? Node::run_size(gr.count, x.key_len, gr.bytes)
                           : Node::size_of(stores_full(x.xmin, x.cmin), x.key_len, x.tuple_len);
            out.push_back(u);
        }
        for (size_t k = i; k < j; ++k) members[i + start[gid[k - i]]++] = static_cast<uint32_t>(k);
        i = j;
    }
}

void ArrangementIndex::insert_bulk(const BulkVersion *v, size_t n) {
    if (n == 0)
        return;
    for (size_t i = 0; i < n; ++i)
        check_version(v[i].key, v[i].key_len, v[i].tuple, v[i].tuple_len);
    std::vector<uint32_t> members;
    std::vector<BulkUnitRef> units;
    plan_units(v, n, members, units);
    const size_t nu = units.size();
    // Allocate everything first: an exhausted region changes nothing. One block for the whole
    // batch when the region has one that large (no allocator lock per unit, and the units lie
    // exactly in the order given; each is freed on its own later: blocks carry no header), else
    // one block per unit.
    std::vector<uint64_t> offs(nu);
    std::vector<size_t> sizes(nu);
    uint64_t total = 0;
    for (size_t u = 0; u < nu; ++u) {
        sizes[u] = units[u].size;
        total += FixedRegionAllocator::rounded_size(sizes[u]);
    }
    uint64_t whole = nu > 1 ? alloc_->allocate_for(hdr_->account, total) : 0;
    if (whole != 0 && !linkable(whole, total)) {
        alloc_->free_for(hdr_->account, whole, total);
        whole = 0;
    }
    if (whole != 0) {
        for (size_t u = 0; u < nu; ++u) {
            offs[u] = whole;
            whole += FixedRegionAllocator::rounded_size(sizes[u]);
        }
    } else {
        allocate_each(sizes, offs);
    }
    uint64_t deleted = 0, bytes = 0;
    // Consecutive units of one stripe (a batch sorted by bucket_order() has each chain's
    // versions in a row) are linked under one acquisition of its lock.
    const uint32_t stripes = lock_->stripes();
    uint32_t held = UINT32_MAX;
    ScopeExit unlock_held([&] {
        if (held != UINT32_MAX)
            lock_->unlock(held);
    });
    for (size_t u = 0; u < nu; ++u) {
        const BulkUnitRef &un = units[u];
        const BulkVersion &b = v[members[un.first]];
        Node *nd;
        if (un.run) {
            // Entry 0 is the newest: the batch's last member (linked last, so first, before).
            const uint32_t *m = &members[un.first];
            const uint32_t c = un.count;
            nd = write_run(base_ + offs[u], tag_of(b.hash), b.key, static_cast<uint16_t>(b.key_len),
                           b.flags, c,
                           [&](uint32_t i, RunEntry &e, const char *&t, uint64_t &xc) {
                               const BulkVersion &x = v[m[c - 1 - i]];
                               e.tid_block = x.tid.block;
                               e.tid_offset = x.tid.offset;
                               e.tuple_len = static_cast<uint16_t>(x.tuple_len);
                               t = static_cast<const char *>(x.tuple);
                               xc = x.xmax != 0 ? pack_xmax(x.xmax, x.cmax) : 0;
                               if (x.xmax != 0)
                                   ++deleted;
                           });
        } else {
            nd = write_node(offs[u], b.hash, b.key, b.key_len, b.tuple, b.tuple_len, b.tid,
                            b.xmin, b.cmin, b.flags);
            nd->xmax_cmax.store(b.xmax != 0 ? pack_xmax(b.xmax, b.cmax) : 0,
                                std::memory_order_relaxed);
            if (b.xmax != 0)
                ++deleted;
        }
        bytes += FixedRegionAllocator::rounded_size(sizes[u]);
        // Published like insert(): fully written, then a release store of the chain head.
        uint64_t bk = bucket_of(b.hash, hdr_->nbuckets_log2);
        const uint32_t stripe = static_cast<uint32_t>(bk % stripes);
        if (stripe != held) {
            if (held != UINT32_MAX)
                lock_->unlock(held);
            held = UINT32_MAX;
            lock_->lock(stripe);
            held = stripe;
        }
        nd->next.store(buckets_[bk].load(std::memory_order_relaxed), std::memory_order_relaxed);
        buckets_[bk].store(link_of(offs[u]), std::memory_order_release);
    }
    hdr_->versions.fetch_add(n, std::memory_order_relaxed);
    hdr_->inserts.fetch_add(n, std::memory_order_relaxed);
    hdr_->delete_marked.fetch_add(deleted, std::memory_order_relaxed);
    hdr_->deletes.fetch_add(deleted, std::memory_order_relaxed);
    hdr_->version_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

uint64_t ArrangementIndex::bucket_order(uint64_t hash) {
    return hash * kMixer;  // bucket_of() keeps its top bits
}

void ArrangementIndex::insert(uint64_t hash, const void *key, uint32_t key_len, const void *tuple,
                              uint32_t tuple_len, Tid tid, uint32_t xmin, uint32_t cmin,
                              uint16_t flags) {
    check_version(key, key_len, tuple, tuple_len);
    size_t size = Node::size_of(stores_full(xmin, cmin), key_len, tuple_len);
    uint64_t off = alloc_->allocate_for(hdr_->account, size);
    if (off != 0 && !linkable(off, size)) {
        alloc_->free_for(hdr_->account, off, size);
        off = 0;
    }
    if (off == 0)
        throw Error(Error::Code::OutOfMemory,
                    "arrangement memory budget exhausted (" + std::to_string(size) + " bytes)");
    Node *n = write_node(off, hash, key, key_len, tuple, tuple_len, tid, xmin, cmin, flags);
    n->xmax_cmax.store(0, std::memory_order_relaxed);

    uint64_t b = bucket_of(hash, hdr_->nbuckets_log2);
    {
        StripeGuard g(*lock_, static_cast<uint32_t>(b % lock_->stripes()));
        n->next.store(buckets_[b].load(std::memory_order_relaxed), std::memory_order_relaxed);
        buckets_[b].store(link_of(off), std::memory_order_release);
    }
    hdr_->versions.fetch_add(1, std::memory_order_relaxed);
    hdr_->inserts.fetch_add(1, std::memory_order_relaxed);
    hdr_->version_bytes.fetch_add(FixedRegionAllocator::rounded_size(size),
                                  std::memory_order_relaxed);
}

bool ArrangementIndex::mark_deleted(Tid tid, uint64_t hash, uint32_t xmax, uint32_t cmax,
                                    CurrentFn current) {
    uint64_t b = bucket_of(hash, hdr_->nbuckets_log2);
    StripeGuard g(*lock_, static_cast<uint32_t>(b % lock_->stripes()));
    const uint32_t tag = tag_of(hash);
    bool found = false;
    for (uint64_t off = off_of(buckets_[b].load(std::memory_order_acquire)); off != 0 && !found;) {
        Node *n = node(off);
        if (n->hash == tag) {
            for_each_version(n, hdr_->frozen_xmin,
                             [&](const VersionView &v, std::atomic<uint64_t> &word) {
                                 if (v.tid != tid || !current(v))
                                     return true;
                                 word.store(pack_xmax(xmax, cmax), std::memory_order_release);
                                 if (v.xmax == 0)
                                     hdr_->delete_marked.fetch_add(1, std::memory_order_relaxed);
                                 hdr_->deletes.fetch_add(1, std::memory_order_relaxed);
                                 found = true;
                                 return false;
                             });
        }
        off = off_of(n->next.load(std::memory_order_acquire));
    }
    return found;
}

uint64_t ArrangementIndex::truncate_all(uint32_t xmax, uint32_t cmax, CurrentFn current) {
    uint64_t count = 0;
    const uint64_t nb = hdr_->nbuckets;
    const uint32_t stripes = lock_->stripes();
    for (uint64_t b = 0; b < nb; ++b) {
        if (buckets_[b].load(std::memory_order_acquire) == 0)
            continue;  // PostgreSQL's TRUNCATE excludes concurrent writers of the relation
        StripeGuard g(*lock_, static_cast<uint32_t>(b % stripes));
        for (uint64_t off = off_of(buckets_[b].load(std::memory_order_acquire)); off != 0;) {
            Node *n = node(off);
            for_each_version(n, hdr_->frozen_xmin,
                             [&](const VersionView &v, std::atomic<uint64_t> &word) {
                                 if (current(v)) {
                                     word.store(pack_xmax(xmax, cmax), std::memory_order_release);
                                     if (v.xmax == 0)
                                         hdr_->delete_marked.fetch_add(1,
                                                                       std::memory_order_relaxed);
                                     ++count;
                                 }
                                 return true;
                             });
            off = off_of(n->next.load(std::memory_order_acquire));
        }
    }
    hdr_->deletes.fetch_add(count, std::memory_order_relaxed);
    hdr_->truncates.fetch_add(1, std::memory_order_relaxed);
    return count;
}

namespace {
// Room for one more entry, grown geometrically: reserve(size() + 1) reallocates to exactly one
// more each time, which made a pass over n dead versions copy n^2/2 entries (a rolled-back COPY
// of 20,000 rows kept the reclaim worker busy for seconds, stripe locks held meanwhile).
void reserve_one_more(std::vector<uint64_t> &v) {
    if (v.size() == v.capacity())
        v.reserve(std::max<size_t>(64, v.capacity() * 2));
}
}  // namespace

ReclaimResult ArrangementIndex::reclaim(DeadFn dead) {
    return reclaim_impl(dead, nullptr, nullptr);
}

ReclaimResult ArrangementIndex::reclaim(DeadFn dead, FreezeFn freeze) {
    return reclaim_impl(dead, hdr_->frozen_xmin != 0 ? &freeze : nullptr, nullptr);
}

ReclaimResult ArrangementIndex::reclaim(DeadFn dead, FreezeFn freeze, KeptFn kept) {
    return reclaim_impl(dead, hdr_->frozen_xmin != 0 ? &freeze : nullptr, &kept);
}

// A run with dead entries: replaced by a copy of its survivors (or unlinked when none survives).
// Called under the chain's stripe lock with link pointing at n; returns the link to go on from.
std::atomic<uint32_t> *ArrangementIndex::reclaim_run(Node *n, uint64_t off,
                                                     std::atomic<uint32_t> *link, DeadFn dead,
                                                     const KeptFn *kept,
                                                     std::vector<uint64_t> &unlinked,
                                                     uint64_t &unlinked_versions) {
    const uint32_t c = n->run_count();
    const uint32_t next = n->next.load(std::memory_order_acquire);
    uint64_t dead_mask = 0;  // kMaxRunVersions <= 64
    uint32_t ndead = 0, ndead_marked = 0;
    uint64_t live_bytes = 0;
    uint32_t i = 0;
    for_each_version(n, hdr_->frozen_xmin, [&](const VersionView &v, std::atomic<uint64_t> &) {
        if (dead(v)) {
            dead_mask |= uint64_t{1} << i;
            ++ndead;
            if (v.xmax != 0)
                ++ndead_marked;
        } else {
            live_bytes += v.tuple_len;
        }
        ++i;
        return true;
    });
    if (ndead == 0)
        return &n->next;
    reserve_one_more(unlinked);  // may throw before the unlink, not after
    uint64_t coff = 0;
    size_t csize = 0;
    const uint32_t survivors = c - ndead;
    if (survivors != 0) {
        csize = Node::run_size(survivors, n->key_len, live_bytes);
        coff = alloc_->allocate_for(hdr_->account, csize);
        if (coff != 0 && !linkable(coff, csize)) {
            alloc_->free_for(hdr_->account, coff, csize);
            coff = 0;
        }
        if (coff == 0) {
            // No room for the copy: the run stays linked with its dead entries (invisible to
            // every snapshot); the caller's xid floor must still count them.
            if (kept != nullptr) {
                uint32_t k = 0;
                for_each_version(n, hdr_->frozen_xmin,
                                 [&](const VersionView &v, std::atomic<uint64_t> &) {
                                     if (dead_mask & (uint64_t{1} << k))
                                         (*kept)(v);
                                     ++k;
                                     return true;
                                 });
            }
            return &n->next;
        }
        // The survivors' xmax words cannot change meanwhile: writers of this chain wait for the
        // stripe lock we hold.
        uint32_t src[kMaxRunVersions];
        const char *tup[kMaxRunVersions];
        uint32_t k = 0, j = 0;
        const char *t = n->run_tuples();
        for (; k < c; t += n->run_entries()[k].tuple_len, ++k)
            if (!(dead_mask & (uint64_t{1} << k))) {
                src[j] = k;
                tup[j++] = t;
            }
        Node *cp = write_run(base_ + coff, n->hash, n->run_key(), n->key_len, n->run_flags(),
                             survivors, [&](uint32_t e, RunEntry &re, const char *&tp, uint64_t &xc) {
                                 re = n->run_entries()[src[e]];
                                 tp = tup[e];
                                 xc = n->run_xmax()[src[e]].load(std::memory_order_relaxed);
                             });
        cp->next.store(next, std::memory_order_relaxed);
        // Published like an insert: written, then the link (seq_cst, as for a dead version).
        link->store(link_of(coff), std::memory_order_seq_cst);
        hdr_->version_bytes.fetch_add(FixedRegionAllocator::rounded_size(csize),
                                      std::memory_order_relaxed);
    } else {
        // n keeps its own next link: a reader standing on n can still move on.
        link->store(next, std::memory_order_seq_cst);
    }
    unlinked.push_back(off);
    unlinked_versions += ndead;
    hdr_->versions.fetch_sub(ndead, std::memory_order_relaxed);
    hdr_->delete_marked.fetch_sub(ndead_marked, std::memory_order_relaxed);
    return coff != 0 ? &node(coff)->next : link;
}

namespace {
// Whether node n may join a run: a compact single version (tuple short enough) or a run.
inline bool groupable(const ArrangementIndex::Node *n) {
    return n->run() || (!n->full() && n->tuple_len <= kMaxRunTuple);
}
inline uint16_t flags_of(const ArrangementIndex::Node *n) {
    return n->run() ? n->run_flags() : n->flags;
}
inline uint64_t tuple_bytes(const ArrangementIndex::Node *n) {
    if (!n->run())
        return n->tuple_len;
    uint64_t t = 0;
    const RunEntry *e = n->run_entries();
    for (uint32_t i = 0; i < n->run_count(); ++i) t += e[i].tuple_len;
    return t;
}
inline bool same_key(const ArrangementIndex::Node *a, const ArrangementIndex::Node *b) {
    return a->hash == b->hash && a->key_len == b->key_len && flags_of(a) == flags_of(b) &&
           (a->key_len == 0 || std::memcmp(a->key_bytes(), b->key_bytes(), a->key_len) == 0);
}
}  // namespace

// Working memory of the grouping step, kept across the chains of one reclaim pass (backend
// memory: grown before any block of the region is allocated, so nothing throws after).
struct ArrangementIndex::GroupScratch {
    static constexpr uint32_t kNone = UINT32_MAX;
    struct Group {
        uint32_t first;  // chain position of the newest member (where the run goes)
        uint32_t last;   // chain position of the oldest member so far
        uint32_t nodes;  // members (nodes)
        uint32_t count;  // versions
        uint64_t bytes;  // tuple bytes
    };
    struct Slot {  // open group of a hash tag (one at a time), valid when gen matches
        uint32_t tag;
        uint32_t gen;
        uint32_t group;
    };
    std::vector<uint64_t> nodes;        // the chain's nodes, newest first
    std::vector<uint64_t> before;       // rounded bytes of the nodes before each position
    std::vector<uint32_t> member;       // group of each position, or kNone
    std::vector<uint32_t> next_member;  // the group's next (older) member, or kNone
    std::vector<Group> groups;
    std::vector<Slot> table;            // open addressing on the tag, power-of-two size
    uint32_t gen = 0;
    std::vector<uint64_t> unit_offs;    // blocks of one stretch's new nodes
    std::vector<size_t> unit_sizes;
    std::vector<uint32_t> unit_pos;     // the position each new node stands for

    Slot &slot_of(uint32_t tag) {
        const size_t mask = table.size() - 1;
        size_t i = (uint64_t{tag} * kMixer) >> 32 & mask;
        while (table[i].gen == gen && table[i].tag != tag) i = (i + 1) & mask;
        if (table[i].gen != gen) {
            table[i].tag = tag;
            table[i].gen = gen;
            table[i].group = kNone;
        }
        return table[i];
    }
};

// A version joins the open group of its key only while the nodes between it and the group's
// last member hold at most this many bytes: every node in between is copied when the group is
// made, so this bounds what one grouped version can cost.
constexpr uint64_t kMaxGroupGapBytes = 2048;

// The grouping step of reclaim(dead, freeze), after the chain's dead versions are unlinked and
// its frozen ones compacted, under the chain's stripe lock (docs/arrangements.md, "Runs",
// "Grouping by reclaim").
//
// Groups: walking the chain newest first, a compact single version or a run (groupable) joins
// the open group of its key (hash tag, key bytes, flags) while the group has room (kMaxRunVersions,
// kMaxRunBytes) and the nodes since its last member hold at most kMaxGroupGapBytes; any other
// node with that hash tag closes the group (a groupable one opens the next). So a version never
// moves past another node of its hash tag (order among the versions of a key, and among versions
// of one TID, is kept: mark_deleted picks the newest), only toward the chain head past other
// keys' nodes. A group of two or more nodes becomes one run, at its newest member's place,
// holding the members' versions in chain order.
//
// Relinking: the groups' spans (first to last member) are merged into stretches of adjacent
// nodes; each stretch [a, b] is copied whole into new blocks — a group's run where its first
// member stood, an unchanged copy of every other node (a member of no group, a lone one) — the
// last new block's next set to b's next, and then the link to a (bucket head or a's predecessor,
// not in any stretch) is stored with seq_cst, like a compaction. The old nodes keep their next
// links and are retired with the pass's other blocks. The versions reachable from any node,
// linked or retired, are therefore the same before and after the store: a reader that entered
// the stretch before it walks the old nodes out to b's next, one that reaches the link after it
// walks the new ones, and either sees every version once. No room for a stretch's blocks: that
// stretch stays.
void ArrangementIndex::group_chain(std::atomic<uint32_t> *head, std::vector<uint64_t> &unlinked,
                                  ReclaimResult &res, GroupScratch &s) {
    using G = GroupScratch;
    s.nodes.clear();
    size_t groupable_nodes = 0;
    for (uint64_t off = off_of(head->load(std::memory_order_acquire)); off != 0;) {
        const Node *n = node(off);
        s.nodes.push_back(off);
        if (groupable(n))
            ++groupable_nodes;
        off = off_of(n->next.load(std::memory_order_acquire));
    }
    if (groupable_nodes < 2)
        return;
    const uint32_t nn = static_cast<uint32_t>(s.nodes.size());
    if (nn <= 16) {  // a short chain (the usual one): nothing to do unless two share a hash tag
        bool pair = false;
        for (uint32_t i = 0; i < nn && !pair; ++i) {
            const Node *x = node(s.nodes[i]);
            if (!groupable(x))
                continue;
            for (uint32_t j = i + 1; j < nn && !pair; ++j) {
                const Node *y = node(s.nodes[j]);
                pair = groupable(y) && y->hash == x->hash;
            }
        }
        if (!pair)
            return;
    }
    s.before.assign(nn + 1, 0);
    for (uint32_t i = 0; i < nn; ++i)
        s.before[i + 1] =
            s.before[i] + FixedRegionAllocator::rounded_size(node(s.nodes[i])->size());
    s.member.assign(nn, G::kNone);
    s.next_member.assign(nn, G::kNone);
    s.groups.clear();
    size_t tsize = 16;  // every node's tag gets a slot
    while (tsize < 2 * size_t{nn}) tsize <<= 1;
    if (s.table.size() < tsize || ++s.gen == 0) {
        s.table.assign(std::max(tsize, s.table.size()), G::Slot{0, 0, G::kNone});
        s.gen = 1;
    }
    for (uint32_t i = 0; i < nn; ++i) {
        const Node *x = node(s.nodes[i]);
        G::Slot &sl = s.slot_of(x->hash);
        const bool ok = groupable(x);
        if (sl.group != G::kNone) {
            G::Group &g = s.groups[sl.group];
            const Node *f = node(s.nodes[g.first]);
            if (ok && same_key(f, x)) {
                const uint32_t cnt = x->versions();
                const uint64_t tb = tuple_bytes(x);
                if (g.count + cnt <= kMaxRunVersions &&
                    Node::run_size(g.count + cnt, f->key_len, g.bytes + tb) <= kMaxRunBytes &&
                    s.before[i] - s.before[g.last + 1] <= kMaxGroupGapBytes) {
                    s.next_member[g.last] = i;
                    s.member[i] = sl.group;
                    g.last = i;
                    ++g.nodes;
                    g.count += cnt;
                    g.bytes += tb;
                    continue;
                }
            }
            sl.group = G::kNone;  // a node of this hash tag that does not join closes the group
        }
        if (ok) {
            sl.group = static_cast<uint32_t>(s.groups.size());
            s.member[i] = sl.group;
            s.groups.push_back(G::Group{i, i, 1, x->versions(), tuple_bytes(x)});
        }
    }
    // Lone members are no members.
    for (uint32_t i = 0; i < nn; ++i)
        if (s.member[i] != G::kNone && s.groups[s.member[i]].nodes < 2)
            s.member[i] = G::kNone;
    for (uint32_t a = 0; a < nn;) {
        if (s.member[a] == G::kNone) {
            ++a;
            continue;
        }
        // The stretch [a, b]: every span that starts inside it (or right after it) joins it.
        uint32_t b = s.groups[s.member[a]].last;
        for (uint32_t i = a + 1; i < nn && i <= b + 1; ++i)
            if (s.member[i] != G::kNone)
                b = std::max(b, s.groups[s.member[i]].last);
        // Its new blocks: a run at each group's first member, a copy of every non-member.
        s.unit_pos.clear();
        s.unit_sizes.clear();
        for (uint32_t i = a; i <= b; ++i) {
            const uint32_t g = s.member[i];
            if (g == G::kNone) {
                s.unit_pos.push_back(i);
                s.unit_sizes.push_back(node(s.nodes[i])->size());
            } else if (s.groups[g].first == i) {
                s.unit_pos.push_back(i);
                s.unit_sizes.push_back(Node::run_size(s.groups[g].count,
                                                      node(s.nodes[i])->key_len, s.groups[g].bytes));
            }
        }
        const size_t nu = s.unit_pos.size();
        s.unit_offs.assign(nu, 0);
        const size_t olds = b - a + 1;
        if (unlinked.capacity() < unlinked.size() + olds)  // may throw before the relink, not after
            unlinked.reserve(std::max(unlinked.size() + olds, unlinked.capacity() * 2));
        bool room = true;
        for (size_t u = 0; u < nu && room; ++u) {
            uint64_t off = alloc_->allocate_for(hdr_->account, s.unit_sizes[u]);
            if (off != 0 && !linkable(off, s.unit_sizes[u])) {
                alloc_->free_for(hdr_->account, off, s.unit_sizes[u]);
                off = 0;
            }
            s.unit_offs[u] = off;
            room = off != 0;
        }
        if (!room) {
            for (size_t u = 0; u < nu; ++u)
                if (s.unit_offs[u] != 0)
                    alloc_->free_for(hdr_->account, s.unit_offs[u], s.unit_sizes[u]);
            a = b + 1;  // no room: this stretch stays
            continue;
        }
        // Write the new blocks. The old nodes' xmax words cannot change meanwhile: writers of
        // this chain wait for the stripe lock we hold.
        uint64_t bytes = 0;
        for (size_t u = 0; u < nu; ++u) {
            const uint32_t i = s.unit_pos[u];
            const Node *x = node(s.nodes[i]);
            char *at = base_ + s.unit_offs[u];
            const uint32_t g = s.member[i];
            if (g == G::kNone) {
                std::memcpy(at, x, s.unit_sizes[u]);
                res.copied += x->versions();
            } else {
                RunEntry ents[kMaxRunVersions];
                const char *tups[kMaxRunVersions];
                uint64_t words[kMaxRunVersions];
                uint32_t k = 0;
                for (uint32_t m = i; m != G::kNone; m = s.next_member[m])
                    for_each_version(node(s.nodes[m]), hdr_->frozen_xmin,
                                     [&](const VersionView &v, std::atomic<uint64_t> &word) {
                                         ents[k].tid_block = v.tid.block;
                                         ents[k].tid_offset = v.tid.offset;
                                         ents[k].tuple_len = static_cast<uint16_t>(v.tuple_len);
                                         tups[k] = static_cast<const char *>(v.tuple);
                                         words[k++] = word.load(std::memory_order_relaxed);
                                         return true;
                                     });
                write_run(at, x->hash, x->key_bytes(), x->key_len, flags_of(x), s.groups[g].count,
                          [&](uint32_t e, RunEntry &re, const char *&tp, uint64_t &xc) {
                              re = ents[e];
                              tp = tups[e];
                              xc = words[e];
                          });
                res.grouped += s.groups[g].count;
            }
            bytes += FixedRegionAllocator::rounded_size(s.unit_sizes[u]);
        }
        for (size_t u = 0; u < nu; ++u) {
            const uint32_t nxt = u + 1 < nu ? link_of(s.unit_offs[u + 1])
                                            : node(s.nodes[b])->next.load(std::memory_order_relaxed);
            node(s.unit_offs[u])->next.store(nxt, std::memory_order_relaxed);
        }
        std::atomic<uint32_t> *link = a == 0 ? head : &node(s.nodes[a - 1])->next;
        // Published like an insert: written, then the link (seq_cst, as for a dead version).
        link->store(link_of(s.unit_offs[0]), std::memory_order_seq_cst);
        for (uint32_t i = a; i <= b; ++i) unlinked.push_back(s.nodes[i]);
        hdr_->version_bytes.fetch_add(bytes, std::memory_order_relaxed);
        a = b + 1;
    }
}

ReclaimResult ArrangementIndex::reclaim_impl(DeadFn dead, const FreezeFn *freeze,
                                             const KeptFn *kept) {
    SpinGuard rg(hdr_->reclaim_lock);
    ReclaimResult res;
    std::vector<uint64_t> unlinked;
    uint64_t unlinked_versions = 0;
    const uint64_t nb = hdr_->nbuckets;
    const uint32_t stripes = lock_->stripes();
    GroupScratch scratch;
    for (uint64_t b = 0; b < nb; ++b) {
        if (buckets_[b].load(std::memory_order_acquire) == 0)
            continue;  // a version inserted meanwhile is new; the next pass looks at it
        StripeGuard g(*lock_, static_cast<uint32_t>(b % stripes));
        std::atomic<uint32_t> *link = &buckets_[b];
        uint64_t off = off_of(link->load(std::memory_order_acquire));
        while (off != 0) {
            Node *n = node(off);
            const uint32_t next = n->next.load(std::memory_order_acquire);
            if (n->run()) {
                link = reclaim_run(n, off, link, dead, kept, unlinked, unlinked_versions);
                off = off_of(next);
                continue;
            }
            VersionView v = view_of(n, hdr_->frozen_xmin);
            if (dead(v)) {
                reserve_one_more(unlinked);  // may throw before the unlink, not after
                // n keeps its own next link: a reader standing on n can still move on.
                link->store(next, std::memory_order_seq_cst);
                unlinked.push_back(off);
                ++unlinked_versions;
                hdr_->versions.fetch_sub(1, std::memory_order_relaxed);
                if (v.xmax != 0)
                    hdr_->delete_marked.fetch_sub(1, std::memory_order_relaxed);
            } else if (freeze != nullptr && n->full() && (*freeze)(v)) {
                // Compaction: a compact copy takes n's place (xmax_cmax cannot change meanwhile:
                // writers of this chain wait for the stripe lock we hold); n is retired.
                reserve_one_more(unlinked);
                const size_t csize = Node::size_of(false, n->key_len, n->tuple_len);
                uint64_t coff = alloc_->allocate_for(hdr_->account, csize);
                if (coff != 0 && !linkable(coff, csize)) {
                    alloc_->free_for(hdr_->account, coff, csize);
                    coff = 0;
                }
                if (coff == 0) {
                    link = &n->next;
                } else {
                    Node *c = write_node(coff, n->hash, n->key(), n->key_len, n->tuple(),
                                         n->tuple_len, v.tid, hdr_->frozen_xmin, 0, n->flags);
                    c->xmax_cmax.store(n->xmax_cmax.load(std::memory_order_relaxed),
                                       std::memory_order_relaxed);
                    c->next.store(next, std::memory_order_relaxed);
                    // Published like an insert: written, then the link (seq_cst: also orders
                    // n's unlinking before the epoch bump below, as for a dead version).
                    link->store(link_of(coff), std::memory_order_seq_cst);
                    unlinked.push_back(off);
                    ++unlinked_versions;
                    ++res.compacted;
                    hdr_->version_bytes.fetch_add(FixedRegionAllocator::rounded_size(csize),
                                                  std::memory_order_relaxed);
                    link = &c->next;
                }
            } else {
                link = &n->next;
            }
            off = off_of(next);
        }
        if (freeze != nullptr)
            group_chain(&buckets_[b], unlinked, res, scratch);
    }
    res.unlinked = unlinked_versions;
    if (unlinked.empty()) {
        ReclaimResult f = free_retired_locked();
        res.freed = f.freed;
        res.pending = f.pending;
        return res;
    }
    // Readers that publish an epoch >= retire_epoch started after every unlink above.
    const uint64_t retire_epoch = hdr_->epoch.fetch_add(1, std::memory_order_seq_cst) + 1;
    // Older records first: what they free makes room for this pass's records.
    res.freed = free_retired_locked().freed;
    size_t done = 0;
    while (done < unlinked.size()) {
        const size_t cnt = std::min(kRetireChunk, unlinked.size() - done);
        const size_t rsize = RetireRecord::size_of(cnt);
        uint32_t charged = 1;
        uint64_t roff = alloc_->allocate_for(hdr_->account, rsize);
        if (roff == 0) {
            charged = 0;  // a full account must not stop its own memory from coming back
            roff = alloc_->allocate(rsize);
        }
        if (roff == 0)
            break;
        auto *r = new (base_ + roff) RetireRecord;
        r->epoch = retire_epoch;
        r->count = static_cast<uint32_t>(cnt);
        r->charged = charged;
        std::memcpy(r->offs, unlinked.data() + done, cnt * sizeof(uint64_t));
        r->next = hdr_->retired_head;
        hdr_->retired_head = roff;
        uint64_t held = 0;
        for (size_t k = 0; k < cnt; ++k) held += node(r->offs[k])->versions();
        hdr_->retired_pending.fetch_add(held, std::memory_order_relaxed);
        done += cnt;
    }
    if (done < unlinked.size()) {
        // The region has no room even for the list of what was unlinked: wait (a bounded time;
        // read sections are short) for this pass's grace period and free the rest at once. A
        // reclaim called from inside a read section of this index would wait for itself: then
        // the rest is lost to this index (never freed) rather than freed under a reader.
        for (unsigned k = 0; k < 100000 && oldest_reader_epoch() < retire_epoch; ++k)
            sched_yield();
        if (oldest_reader_epoch() >= retire_epoch) {
            uint64_t freed = 0;
            for (size_t k = done; k < unlinked.size(); ++k) freed += free_version(unlinked[k]);
            res.freed += freed;
            hdr_->reclaimed.fetch_add(freed, std::memory_order_relaxed);
        }
    }
    ReclaimResult f = free_retired_locked();
    res.freed += f.freed;
    res.pending = f.pending;
    return res;
}

ReclaimResult ArrangementIndex::free_retired() {
    SpinGuard rg(hdr_->reclaim_lock);
    return free_retired_locked();
}

// The oldest epoch any reader may still be reading under (UINT64_MAX: nobody reads).
uint64_t ArrangementIndex::oldest_reader_epoch() const {
    uint64_t oldest = UINT64_MAX;
    for (uint32_t i = 0; i < hdr_->nslots; ++i) {
        uint64_t e = slots_[i].epoch.load(std::memory_order_seq_cst);
        if (e != kNoEpoch && e < oldest)
            oldest = e;
    }
    return oldest;
}

uint32_t ArrangementIndex::free_version(uint64_t off) {
    const Node *n = node(off);
    const size_t size = n->size();
    const uint32_t versions = n->versions();
    alloc_->free_for(hdr_->account, off, size);
    hdr_->version_bytes.fetch_sub(FixedRegionAllocator::rounded_size(size),
                                  std::memory_order_relaxed);
    return versions;
}

void ArrangementIndex::free_record(uint64_t roff) {
    auto *r = reinterpret_cast<RetireRecord *>(base_ + roff);
    const size_t rsize = RetireRecord::size_of(r->count);
    if (r->charged)
        alloc_->free_for(hdr_->account, roff, rsize);
    else
        alloc_->free(roff, rsize);
}

ReclaimResult ArrangementIndex::free_retired_locked() {
    ReclaimResult res;
    if (hdr_->retired_head == 0)
        return res;
    const uint64_t oldest = oldest_reader_epoch();
    uint64_t *link = &hdr_->retired_head;
    while (*link != 0) {
        uint64_t roff = *link;
        auto *r = reinterpret_cast<RetireRecord *>(base_ + roff);
        if (r->epoch <= oldest) {
            *link = r->next;
            for (uint64_t k = 0; k < r->count; ++k) res.freed += free_version(r->offs[k]);
            free_record(roff);
        } else {
            link = &r->next;
            for (uint64_t k = 0; k < r->count; ++k) res.pending += node(r->offs[k])->versions();
        }
    }
    hdr_->retired_pending.fetch_sub(res.freed, std::memory_order_relaxed);
    hdr_->reclaimed.fetch_add(res.freed, std::memory_order_relaxed);
    return res;
}

// ---- readers ----

ArrangementIndex::Reader::Reader(Reader &&o) noexcept
    : index_(o.index_),
      slots_(o.slots_),
      slot_ptr_(o.slot_ptr_),
      slot_(o.slot_),
      depth_(o.depth_),
      fixed_(o.fixed_) {
    o.index_ = nullptr;
    o.slot_ptr_ = nullptr;
    o.depth_ = 0;
}

ArrangementIndex::Reader &ArrangementIndex::Reader::operator=(Reader &&o) noexcept {
    if (this != &o) {
        release();
        index_ = o.index_;
        slots_ = o.slots_;
        slot_ptr_ = o.slot_ptr_;
        slot_ = o.slot_;
        depth_ = o.depth_;
        fixed_ = o.fixed_;
        o.index_ = nullptr;
        o.slot_ptr_ = nullptr;
        o.depth_ = 0;
    }
    return *this;
}

ArrangementIndex::Reader::~Reader() {
    release();
}

void ArrangementIndex::Reader::release() noexcept {
    if (slot_ptr_ != nullptr) {
        slot_ptr_->epoch.store(kNoEpoch, std::memory_order_release);
        slot_ptr_->owner.store(0, std::memory_order_release);
    }
    slot_ptr_ = nullptr;
    index_ = nullptr;
    depth_ = 0;
}

// A reader from register_reader() claims a slot only for the length of each read section (the
// slot it had last time first): a slot is then busy only while some process is inside a probe,
// so any number of readers (open cursors, nested plans) share the index's slots, and they cannot
// run out while there are at least as many slots as processes (the adapter uses
// MaxBackends + 16). A reader given a fixed slot keeps it claimed for its whole life.
ArrangementIndex::Reader ArrangementIndex::register_reader() const {
    Reader r;
    r.index_ = hdr_;
    r.slots_ = slots_;
    r.slot_ = 0;
    for (uint32_t i = 0; i < hdr_->nslots; ++i)
        if (slots_[i].owner.load(std::memory_order_relaxed) == 0) {
            r.slot_ = i;  // a hint: claimed at the first read section
            break;
        }
    return r;
}

ArrangementIndex::Reader ArrangementIndex::register_reader(uint32_t slot) const {
    uint32_t expected = 0;
    if (slot >= hdr_->nslots ||
        !slots_[slot].owner.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
        throw Error(Error::Code::Internal,
                    "arrangement reader slot " + std::to_string(slot) + " unavailable");
    Reader r;
    r.index_ = hdr_;
    r.slots_ = slots_;
    r.slot_ptr_ = &slots_[slot];
    r.slot_ = slot;
    r.fixed_ = true;
    return r;
}

namespace {
bool try_claim(ArrangementIndex::Slot &s);
}  // namespace

void ArrangementIndex::enter(Reader &r) const {
    if (r.index_ != hdr_ || (r.fixed_ && r.slot_ptr_ == nullptr))
        throw Error(Error::Code::InvalidArgument, "reader belongs to another arrangement handle");
    if (r.depth_ != 0) {
        ++r.depth_;
        return;
    }
    if (!r.fixed_) {
        // Claim a slot for this section: the last one first, then any free one. Every slot is
        // busy only while as many read sections run at once: wait for one to end.
        uint32_t n = hdr_->nslots;
        bool claimed = r.slot_ < n && try_claim(slots_[r.slot_]);
        for (unsigned round = 0; !claimed; ++round) {
            for (uint32_t i = 0; i < n && !claimed; ++i)
                if (try_claim(slots_[i])) {
                    r.slot_ = i;
                    claimed = true;
                }
            if (!claimed) {
                if (round >= 100000)
                    throw Error(Error::Code::Internal, "arrangement has no free reader slot");
                sched_yield();
            }
        }
        r.slot_ptr_ = &slots_[r.slot_];
    }
    r.depth_ = 1;
    uint64_t e = hdr_->epoch.load(std::memory_order_seq_cst);
    slots_[r.slot_].epoch.store(e, std::memory_order_seq_cst);
}

void ArrangementIndex::exit(Reader &r) const {
    if (--r.depth_ != 0)
        return;
    slots_[r.slot_].epoch.store(kNoEpoch, std::memory_order_release);
    if (!r.fixed_) {
        slots_[r.slot_].owner.store(0, std::memory_order_release);
        r.slot_ptr_ = nullptr;
    }
}

namespace {
bool try_claim(ArrangementIndex::Slot &s) {
    uint32_t expected = 0;
    return s.owner.load(std::memory_order_relaxed) == 0 &&
           s.owner.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
}
}  // namespace


uint64_t ArrangementIndex::walk_chain(uint64_t off, bool match_key, uint64_t hash, const void *key,
                                      uint32_t key_len, VisibilityFn visible, EmitFn emit) const {
    uint64_t emitted = 0;
    while (off != 0) {
        const Node *n = node(off);
        if (!match_key || (n->hash == tag_of(hash) && n->key_len == key_len &&
                           (key_len == 0 || std::memcmp(n->key_bytes(), key, key_len) == 0))) {
            if (__builtin_expect(!n->run(), 1)) {
                VersionView v = view_of(n, hdr_->frozen_xmin);
                if (visible(v)) {
                    emit(v);
                    ++emitted;
                }
            } else {
                for_each_version(n, hdr_->frozen_xmin,
                                 [&](const VersionView &v, std::atomic<uint64_t> &) {
                                     if (visible(v)) {
                                         emit(v);
                                         ++emitted;
                                     }
                                     return true;
                                 });
            }
        }
        off = off_of(n->next.load(std::memory_order_seq_cst));
    }
    return emitted;
}

uint64_t ArrangementIndex::probe(Reader &reader, uint64_t hash, const void *key, uint32_t key_len,
                                 VisibilityFn visible, EmitFn emit) const {
    enter(reader);
    ScopeExit leave([&] { exit(reader); });
    uint64_t b = bucket_of(hash, hdr_->nbuckets_log2);
    return walk_chain(off_of(buckets_[b].load(std::memory_order_seq_cst)), true, hash, key,
                      key_len, visible, emit);
}

// Asks the cache for a version's first two lines (its header may straddle them; key and tuple
// bytes of a small row follow in the second).
static inline void prefetch_version(const char *p) {
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
}

uint64_t ArrangementIndex::probe_batch(Reader &reader, const ProbeKey *keys, uint32_t n,
                                       VisibilityFn visible, BatchEmitFn emit) const {
    if (n > kMaxProbeBatch)
        throw Error(Error::Code::InvalidArgument, "arrangement probe batch too large");
    enter(reader);
    ScopeExit leave([&] { exit(reader); });
    const uint32_t log2 = hdr_->nbuckets_log2;
    uint64_t cur[kMaxProbeBatch];      // per probe: its bucket, then the version it stands on
    uint32_t active[kMaxProbeBatch];   // probes whose chain is not finished
    for (uint32_t i = 0; i < n; ++i) {
        cur[i] = bucket_of(keys[i].hash, log2);
        __builtin_prefetch(&buckets_[cur[i]]);
    }
    uint32_t nactive = 0;
    for (uint32_t i = 0; i < n; ++i) {
        uint64_t off = off_of(buckets_[cur[i]].load(std::memory_order_seq_cst));
        if (off == 0)
            continue;
        prefetch_version(base_ + off);
        cur[i] = off;
        active[nactive++] = i;
    }
    uint64_t emitted = 0;
    while (nactive != 0) {
        uint32_t still = 0;
        for (uint32_t j = 0; j < nactive; ++j) {
            const uint32_t i = active[j];
            const Node *nd = node(cur[i]);
            const ProbeKey &k = keys[i];
            if (nd->hash == tag_of(k.hash) && nd->key_len == k.key_len &&
                (k.key_len == 0 || std::memcmp(nd->key_bytes(), k.key, k.key_len) == 0)) {
                if (__builtin_expect(!nd->run(), 1)) {
                    VersionView v = view_of(nd, hdr_->frozen_xmin);
                    if (visible(v)) {
                        emit(i, v);
                        ++emitted;
                    }
                } else {
                    for_each_version(nd, hdr_->frozen_xmin,
                                     [&](const VersionView &v, std::atomic<uint64_t> &) {
                                         if (visible(v)) {
                                             emit(i, v);
                                             ++emitted;
                                         }
                                         return true;
                                     });
                }
            }
            uint64_t next = off_of(nd->next.load(std::memory_order_seq_cst));
            if (next != 0) {
                prefetch_version(base_ + next);
                cur[i] = next;
                active[still++] = i;
            }
        }
        nactive = still;
    }
    return emitted;
}

uint64_t ArrangementIndex::scan_all(Reader &reader, VisibilityFn visible, EmitFn emit) const {
    enter(reader);
    ScopeExit leave([&] { exit(reader); });
    uint64_t emitted = 0;
    for (uint64_t b = 0; b < hdr_->nbuckets; ++b)
        emitted += walk_chain(off_of(buckets_[b].load(std::memory_order_seq_cst)), false, 0,
                              nullptr, 0, visible, emit);
    return emitted;
}

uint64_t ArrangementIndex::probe(uint64_t hash, const void *key, uint32_t key_len,
                                 VisibilityFn visible, EmitFn emit) const {
    Reader r = register_reader();
    return probe(r, hash, key, key_len, visible, emit);
}

uint64_t ArrangementIndex::scan_all(VisibilityFn visible, EmitFn emit) const {
    Reader r = register_reader();
    return scan_all(r, visible, emit);
}

// ---- state ----

ArrangementStats ArrangementIndex::stats() const {
    ArrangementStats s;
    auto ld = [](const std::atomic<uint64_t> &a) { return a.load(std::memory_order_relaxed); };
    s.nbuckets = hdr_->nbuckets;
    s.versions = ld(hdr_->versions);
    s.delete_marked = ld(hdr_->delete_marked);
    s.live = s.versions >= s.delete_marked ? s.versions - s.delete_marked : 0;
    s.inserts = ld(hdr_->inserts);
    s.deletes = ld(hdr_->deletes);
    s.truncates = ld(hdr_->truncates);
    s.reclaimed = ld(hdr_->reclaimed);
    s.retired_pending = ld(hdr_->retired_pending);
    s.version_bytes = ld(hdr_->version_bytes);
    s.region_bytes_in_use = alloc_->bytes_in_use();
    return s;
}

void ArrangementIndex::mark_invalid() {
    hdr_->valid.store(0, std::memory_order_release);
}

uint32_t ArrangementIndex::account() const {
    return hdr_->account;
}

bool ArrangementIndex::is_valid() const {
    return hdr_->valid.load(std::memory_order_acquire) != 0;
}

void ArrangementIndex::destroy() {
    {
        SpinGuard rg(hdr_->reclaim_lock);
        for (uint64_t roff = hdr_->retired_head; roff != 0;) {
            auto *r = reinterpret_cast<RetireRecord *>(base_ + roff);
            uint64_t next = r->next;
            for (uint64_t k = 0; k < r->count; ++k)
                alloc_->free_for(hdr_->account, r->offs[k], node(r->offs[k])->size());
            free_record(roff);
            roff = next;
        }
        hdr_->retired_head = 0;
        for (uint64_t b = 0; b < hdr_->nbuckets; ++b) {
            for (uint64_t off = off_of(buckets_[b].load(std::memory_order_acquire)); off != 0;) {
                Node *n = node(off);
                uint64_t next = off_of(n->next.load(std::memory_order_relaxed));
                alloc_->free_for(hdr_->account, off, n->size());
                off = next;
            }
            buckets_[b].store(0, std::memory_order_relaxed);
        }
    }
    uint64_t nb = hdr_->nbuckets;
    uint32_t ns = hdr_->nslots;
    uint32_t acct = hdr_->account;
    hdr_->magic = 0;
    alloc_->free_for(acct, hdr_->buckets_off, nb * sizeof(std::atomic<uint32_t>));
    alloc_->free_for(acct, hdr_->slots_off, uint64_t{ns} * sizeof(Slot));
    alloc_->free_for(acct, header_off_, sizeof(Header));
    hdr_ = nullptr;
    buckets_ = nullptr;
    slots_ = nullptr;
}

}  // namespace pm::core
