// arrangement_stored_tuple.hpp — how a version's tuple bytes hold the projected MinimalTuple.
//
// A projected MinimalTuple starts with a 16-byte header (t_len, 6 bytes of padding, t_infomask2,
// t_infomask, t_hoff, then the null bitmap or alignment up to the data). When the tuple has no
// NULL and no external value, that header says only two things the version cannot already tell:
// the number of attributes and whether one is variable-width (the length is the version's
// tuple_len). Such a tuple is stored *bare*: its data only, those two facts in the version's
// adapter flags (core stores them, never reads them). Any other tuple is stored whole (flags 0).
// A bare tuple also leaves out the data of its key columns when the shape allows it (Shape::cut:
// every key column of fixed length, and every column before them; their bytes are in the
// version's key already): the data bytes cut->start .. cut->len (key columns, the padding before
// and between them), flagged kStoredKeyCut. A reader rebuilds the MinimalTuple with unpack_stored() before giving
// it to PostgreSQL (the join's match copy, row_text). Saves 16 bytes per version, and the key
// columns' bytes (docs/arrangements.md, "Compact arrangements"). Plain C++ over PostgreSQL's
// headers: nothing here can raise an error.
#pragma once

#include <cstring>

#include "parallel_material/core/arrangement_index.hpp"
#include "pg/pg.hpp"
#include "access/htup_details.h"
#include "pg/arrangement/arrangement.hpp"

namespace pm::pg::arr {

constexpr uint16_t kStoredBare = 0x8000;      // the tuple bytes are a MinimalTuple's data only
constexpr uint16_t kStoredVarWidth = 0x4000;  // its header had HEAP_HASVARWIDTH
constexpr uint16_t kStoredKeyCut = 0x2000;    // bare, without data bytes cut->start .. cut->len
constexpr uint16_t kStoredNattsMask = 0x07ff; // its number of attributes (MaxTupleAttributeNumber 1664 fits)
// Where the data of a MinimalTuple without a null bitmap starts, and its t_hoff.
constexpr uint8_t kBareHoff = MAXALIGN(SizeofHeapTupleHeader);
constexpr uint32_t kBareSkip = kBareHoff - MINIMAL_TUPLE_OFFSET;

// Writes data bytes cut->start .. cut->len of a tuple whose key (encoding) is `key` at `out`:
// the key columns' values at their offsets, zeros before and between them (alignment).
inline void write_key_prefix(const KeyCut *cut, const char *key, char *out) {
    std::memset(out, 0, cut->len - cut->start);
    for (int i = 0; i < cut->n; ++i)
        std::memcpy(out + (cut->col[i].data_off - cut->start), key + cut->col[i].key_off,
                    cut->col[i].len);
}

// Room for a tuple whose cut is not at its start (its two kept pieces are joined there); a
// longer tuple keeps its key columns.
constexpr uint32_t kStoredScratch = 2048;

// The bytes to store for MinimalTuple t (bytes, len) and the version flags that go with them.
// cut: the shape's; key: the version's key encoding; scratch: kStoredScratch bytes, where the
// bytes are put together when the cut does not start the data (then *bytes points there: use
// them before the next call). The key columns are left out only when write_key_prefix() gives
// back exactly the bytes left out.
inline uint16_t pack_stored(MinimalTuple t, const KeyCut *cut, const char *key, uint32_t key_len,
                            const char **bytes, uint32_t *len, char *scratch) {
    const int natts = HeapTupleHeaderGetNatts(t);
    if ((t->t_infomask & (HEAP_HASNULL | HEAP_HASEXTERNAL)) == 0 && t->t_hoff == kBareHoff &&
        natts <= kStoredNattsMask && t->t_len >= kBareSkip) {
        *bytes = reinterpret_cast<const char *>(t) + kBareSkip;
        *len = t->t_len - kBareSkip;
        uint16_t flags = static_cast<uint16_t>(
            kStoredBare | natts | ((t->t_infomask & HEAP_HASVARWIDTH) ? kStoredVarWidth : 0));
        if (cut->n > 0 && key_len == cut->key_len && *len >= cut->len &&
            (cut->start == 0 || *len - (cut->len - cut->start) <= kStoredScratch)) {
            char prefix[2 * kMaxStoredKey];  // cut->len - cut->start <= key_len + alignment < this
            write_key_prefix(cut, key, prefix);
            const uint32_t cut_bytes = cut->len - cut->start;
            if (std::memcmp(prefix, *bytes + cut->start, cut_bytes) == 0) {
                if (cut->start == 0) {
                    *bytes += cut_bytes;
                } else {
                    std::memcpy(scratch, *bytes, cut->start);
                    std::memcpy(scratch + cut->start, *bytes + cut->len, *len - cut->len);
                    *bytes = scratch;
                }
                *len -= cut_bytes;
                flags |= kStoredKeyCut;
            }
        }
        return flags;
    }
    *bytes = reinterpret_cast<const char *>(t);
    *len = t->t_len;
    return 0;
}

// Length of the MinimalTuple a stored version unpacks to.
inline uint32_t stored_tuple_len(uint16_t flags, uint32_t tuple_len, const KeyCut *cut) {
    if (!(flags & kStoredBare)) return tuple_len;
    return tuple_len + kBareSkip + ((flags & kStoredKeyCut) ? cut->len - cut->start : 0);
}

// Writes the data of a cut tuple up to the cut's end: the bytes kept before the cut, then the key
// columns (not inlined: the rarer shapes).
__attribute__((noinline)) inline void put_key_cut(const KeyCut *cut, const char *key,
                                                  const char *tuple, char *data) {
    if (cut->start != 0)
        std::memcpy(data, tuple, cut->start);
    write_key_prefix(cut, key, data + cut->start);
}

// Writes the MinimalTuple of a stored version at dst (stored_tuple_len() bytes, MAXALIGNed);
// key: the version's key bytes. Inlined into the join's match copy (once per match): one key
// column of 8 bytes (a bigint key) first or after one 8-byte column (orders(o_custkey): after
// o_orderkey) is copied in place, other cuts out of line.
__attribute__((always_inline)) inline void unpack_stored(uint16_t flags, const char *tuple,
                                                         uint32_t tuple_len, const KeyCut *cut,
                                                         const char *key, char *dst) {
    if (!(flags & kStoredBare)) {
        std::memcpy(dst, tuple, tuple_len);
        return;
    }
    char *data = dst + kBareSkip;
    uint32_t pre = 0;   // data bytes written back from the key (and padding)
    uint32_t kept = 0;  // stored bytes before them
    if (flags & kStoredKeyCut) {
        pre = cut->len - cut->start;
        kept = cut->start;
        if (likely(cut->n == 1 && cut->col[0].len == 8 && pre == 8)) {  // no padding before it
            if (kept == 8)
                std::memcpy(data, tuple, 8);
            else if (kept != 0)
                std::memcpy(data, tuple, kept);
            std::memcpy(data + kept, key + cut->col[0].key_off, 8);
        } else {
            put_key_cut(cut, key, tuple, data);
        }
    }
    std::memset(dst, 0, kBareSkip);
    auto mt = reinterpret_cast<MinimalTuple>(dst);
    mt->t_len = tuple_len + pre + kBareSkip;
    mt->t_infomask2 = static_cast<uint16>(flags & kStoredNattsMask);
    mt->t_infomask = (flags & kStoredVarWidth) ? HEAP_HASVARWIDTH : 0;
    mt->t_hoff = kBareHoff;
    std::memcpy(data + kept + pre, tuple + kept, tuple_len - kept);
}

}  // namespace pm::pg::arr
