// arrangement_keys.cpp — bounds the size of stored keys. A key's encoding (arrangement_def.cpp)
// holds the detoasted value, so a compressible key (a long text PostgreSQL stores compressed in a
// few hundred bytes) would be stored decompressed in every version: a table of 3 MB filled 254 MB
// of shared memory. An encoding longer than kMaxStoredKey bytes is replaced by a marker byte and
// its SHA-256: the same function on the build, maintenance and probe sides keeps equal keys equal,
// and the marker (never a null flag, which every plain encoding starts with) keeps a digest from
// equalling a short key. A false match would need a SHA-256 collision; ArrangementJoin also
// rechecks the key equality among its quals.
#include "pg/arrangement/arrangement.hpp"

extern "C" {
#include "common/cryptohash.h"
#include "common/sha2.h"
}

namespace pm::pg::arr {

void bound_long_key(StringInfo key, int start) {
    int len = key->len - start;
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(key->data + start),
                             static_cast<size_t>(len)) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof digest) < 0) {
        const char *why = pg_cryptohash_error(ctx);
        pg_cryptohash_free(ctx);
        ereport(ERROR, (errmsg("could not hash an arrangement key: %s", why)));
    }
    pg_cryptohash_free(ctx);
    key->len = start;
    key->data[start] = '\0';
    appendStringInfoChar(key, static_cast<char>(kHashedKeyMarker));
    appendBinaryStringInfo(key, reinterpret_cast<const char *>(digest), sizeof digest);
}

}  // namespace pm::pg::arr
