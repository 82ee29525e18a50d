// arrangement_stored_tuple.hpp — how a version's tuple bytes hold the projected MinimalTuple.
//
// A projected MinimalTuple starts with a 16-byte header (t_len, 6 bytes of padding, t_infomask2,
// t_infomask, t_hoff, then the null bitmap or alignment up to the data). When the tuple has no
// NULL and no external value, that header says only two things the version cannot already tell:
// the number of attributes and whether one is variable-width (the length is the version's
// tuple_len). Such a tuple is stored *bare*: its data only, those two facts in the version's
// adapter flags (core stores them, never reads them). Any other tuple is stored whole (flags 0).
// A bare tuple also leaves out the data of its leading key columns when the shape allows it
// (Shape::cut: every key column of fixed length; their bytes are in the version's key already),
// flagged kStoredKeyCut. A reader rebuilds the MinimalTuple with unpack_stored() before giving
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
constexpr uint16_t kStoredKeyCut = 0x2000;    // bare, without its first cut->len data bytes
constexpr uint16_t kStoredNattsMask = 0x07ff; // its number of attributes (MaxTupleAttributeNumber 1664 fits)
// Where the data of a MinimalTuple without a null bitmap starts, and its t_hoff.
constexpr uint8_t kBareHoff = MAXALIGN(SizeofHeapTupleHeader);
constexpr uint32_t kBareSkip = kBareHoff - MINIMAL_TUPLE_OFFSET;

// Writes the first cut->len data bytes of a tuple whose key (encoding) is `key`: the leading
// key columns' values at their offsets, zeros between them (alignment).
inline void write_key_prefix(const KeyCut *cut, const char *key, char *data) {
    std::memset(data, 0, cut->len);
    for (int i = 0; i < cut->n; ++i)
        std::memcpy(data + cut->col[i].data_off, key + cut->col[i].key_off, cut->col[i].len);
}

// The bytes to store for MinimalTuple t (bytes, len) and the version flags that go with them.
// cut: the shape's; key: the version's key encoding. The leading key columns are left out only
// when write_key_prefix() gives back exactly the bytes left out.
inline uint16_t pack_stored(MinimalTuple t, const KeyCut *cut, const char *key, uint32_t key_len,
                            const char **bytes, uint32_t *len) {
    const int natts = HeapTupleHeaderGetNatts(t);
    if ((t->t_infomask & (HEAP_HASNULL | HEAP_HASEXTERNAL)) == 0 && t->t_hoff == kBareHoff &&
        natts <= kStoredNattsMask && t->t_len >= kBareSkip) {
        *bytes = reinterpret_cast<const char *>(t) + kBareSkip;
        *len = t->t_len - kBareSkip;
        uint16_t flags = static_cast<uint16_t>(
            kStoredBare | natts | ((t->t_infomask & HEAP_HASVARWIDTH) ? kStoredVarWidth : 0));
        if (cut->n > 0 && key_len == cut->key_len && *len >= cut->len) {
            char prefix[2 * kMaxStoredKey];  // cut->len <= key_len + alignment < this
            write_key_prefix(cut, key, prefix);
            if (std::memcmp(prefix, *bytes, cut->len) == 0) {
                *bytes += cut->len;
                *len -= cut->len;
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
    return tuple_len + kBareSkip + ((flags & kStoredKeyCut) ? cut->len : 0);
}

// Writes the first cut->len data bytes of a cut tuple (not inlined: the rare shapes).
__attribute__((noinline)) inline void put_key_prefix(const KeyCut *cut, const char *key,
                                                     char *data) {
    write_key_prefix(cut, key, data);
}

// Writes the MinimalTuple of a stored version at dst (stored_tuple_len() bytes, MAXALIGNed);
// key: the version's key bytes. Inlined into the join's match copy (once per match): one key
// column of 8 bytes (a bigint key, first) is copied in place, other cuts out of line.
__attribute__((always_inline)) inline void unpack_stored(uint16_t flags, const char *tuple,
                                                         uint32_t tuple_len, const KeyCut *cut,
                                                         const char *key, char *dst) {
    if (!(flags & kStoredBare)) {
        std::memcpy(dst, tuple, tuple_len);
        return;
    }
    char *data = dst + kBareSkip;
    uint32_t pre = 0;
    if (flags & kStoredKeyCut) {
        pre = cut->len;
        if (likely(cut->n == 1 && pre == 8))
            std::memcpy(data, key + cut->col[0].key_off, 8);
        else
            put_key_prefix(cut, key, data);
    }
    std::memset(dst, 0, kBareSkip);
    auto mt = reinterpret_cast<MinimalTuple>(dst);
    mt->t_len = tuple_len + pre + kBareSkip;
    mt->t_infomask2 = static_cast<uint16>(flags & kStoredNattsMask);
    mt->t_infomask = (flags & kStoredVarWidth) ? HEAP_HASVARWIDTH : 0;
    mt->t_hoff = kBareHoff;
    std::memcpy(data + pre, tuple, tuple_len);
}

}  // namespace pm::pg::arr
