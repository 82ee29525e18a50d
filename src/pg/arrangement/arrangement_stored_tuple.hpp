// arrangement_stored_tuple.hpp — how a version's tuple bytes hold the projected MinimalTuple.
//
// A projected MinimalTuple starts with a 16-byte header (t_len, 6 bytes of padding, t_infomask2,
// t_infomask, t_hoff, then the null bitmap or alignment up to the data). When the tuple has no
// NULL and no external value, that header says only two things the version cannot already tell:
// the number of attributes and whether one is variable-width (the length is the version's
// tuple_len). Such a tuple is stored *bare*: its data only, those two facts in the version's
// adapter flags (core stores them, never reads them). Any other tuple is stored whole (flags 0).
// A reader rebuilds the MinimalTuple with unpack_stored() before giving it to PostgreSQL
// (the join's match copy, row_text). Saves 16 bytes per version (docs/arrangements.md,
// "Compact arrangements"). Plain C++ over PostgreSQL's headers: nothing here can raise an error.
#pragma once

#include <cstring>

#include "parallel_material/core/arrangement_index.hpp"
#include "pg/pg.hpp"
#include "access/htup_details.h"

namespace pm::pg::arr {

constexpr uint16_t kStoredBare = 0x8000;      // the tuple bytes are a MinimalTuple's data only
constexpr uint16_t kStoredVarWidth = 0x4000;  // its header had HEAP_HASVARWIDTH
constexpr uint16_t kStoredNattsMask = 0x07ff; // its number of attributes (MaxTupleAttributeNumber 1664 fits)
// Where the data of a MinimalTuple without a null bitmap starts, and its t_hoff.
constexpr uint8_t kBareHoff = MAXALIGN(SizeofHeapTupleHeader);
constexpr uint32_t kBareSkip = kBareHoff - MINIMAL_TUPLE_OFFSET;

// The bytes to store for MinimalTuple t (bytes, len) and the version flags that go with them.
inline uint16_t pack_stored(MinimalTuple t, const char **bytes, uint32_t *len) {
    const int natts = HeapTupleHeaderGetNatts(t);
    if ((t->t_infomask & (HEAP_HASNULL | HEAP_HASEXTERNAL)) == 0 && t->t_hoff == kBareHoff &&
        natts <= kStoredNattsMask && t->t_len >= kBareSkip) {
        *bytes = reinterpret_cast<const char *>(t) + kBareSkip;
        *len = t->t_len - kBareSkip;
        return static_cast<uint16_t>(kStoredBare | natts |
                                     ((t->t_infomask & HEAP_HASVARWIDTH) ? kStoredVarWidth : 0));
    }
    *bytes = reinterpret_cast<const char *>(t);
    *len = t->t_len;
    return 0;
}

// Length of the MinimalTuple a stored version unpacks to.
inline uint32_t stored_tuple_len(uint16_t flags, uint32_t tuple_len) {
    return (flags & kStoredBare) ? tuple_len + kBareSkip : tuple_len;
}

// Writes the MinimalTuple of a stored version at dst (stored_tuple_len() bytes, MAXALIGNed).
inline void unpack_stored(uint16_t flags, const char *tuple, uint32_t tuple_len, char *dst) {
    if (!(flags & kStoredBare)) {
        std::memcpy(dst, tuple, tuple_len);
        return;
    }
    std::memset(dst, 0, kBareSkip);
    auto mt = reinterpret_cast<MinimalTuple>(dst);
    mt->t_len = tuple_len + kBareSkip;
    mt->t_infomask2 = static_cast<uint16>(flags & kStoredNattsMask);
    mt->t_infomask = (flags & kStoredVarWidth) ? HEAP_HASVARWIDTH : 0;
    mt->t_hoff = kBareHoff;
    std::memcpy(dst + kBareSkip, tuple, tuple_len);
}

}  // namespace pm::pg::arr
