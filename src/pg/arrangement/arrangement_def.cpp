// arrangement_def.cpp — arrangement definitions (the parallel_material.arrangement_defs table,
// read and written directly through heapam, so that only create/drop_arrangement's own checks
// decide who may change it) and the row encoding: canonical key bytes, their hash, the projected
// MinimalTuple and its text form. Plain PostgreSQL code; called through pg_call from C++.
#include "pg/arrangement/arrangement.hpp"
#include "pg/inval.hpp"
#include "pg/arrangement/arrangement_stored_tuple.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace pm::pg::arr {

namespace {
constexpr int kDefCols = 5;  // defid, relid, key_attnums, attnums, created_at

Oid extension_relid(const char *name) {
    Oid nsp = get_namespace_oid("parallel_material", false);
    Oid relid = get_relname_relid(name, nsp);
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("parallel_material.%s is missing", name),
                        errhint("Recreate the extension: DROP EXTENSION parallel_material; "
                                "CREATE EXTENSION parallel_material;")));
    return relid;
}

int int2_array(Datum d, AttrNumber *out, int max) {
    ArrayType *a = DatumGetArrayTypeP(d);
    int n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
    if (n > max || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT2OID)
        elog(ERROR, "malformed parallel_material.arrangement_defs row");
    const int16 *v = reinterpret_cast<const int16 *>(ARR_DATA_PTR(a));
    for (int i = 0; i < n; ++i) out[i] = v[i];
    return n;
}

Datum make_int2_array(const AttrNumber *v, int n) {
    Datum elems[kMaxColumns];
    for (int i = 0; i < n; ++i) elems[i] = Int16GetDatum(v[i]);
    return PointerGetDatum(construct_array(elems, n, INT2OID, 2, true, TYPALIGN_SHORT));
}
}  // namespace

Oid defs_relid() { return extension_relid("arrangement_defs"); }

// An id no dumped definition uses (a dump taken without the sequence's value, or restored into a
// database whose sequence starts again, would otherwise give restored triggers' ids again).
int64 next_defid() {
    Oid seq = extension_relid("arrangement_defid_seq");
    for (int tries = 0;; ++tries) {
        int64 id = nextval_internal(seq, false);
        if (!restore_def_exists(id)) return id;
        if (tries > 100000) elog(ERROR, "no free arrangement definition id");
    }
}

int load_defs(Oid relid, Def *out) {
    // Without the extension in this database (dropped, or never created) there is nothing.
    Oid nsp = get_namespace_oid("parallel_material", true);
    Oid defs = OidIsValid(nsp) ? get_relname_relid("arrangement_defs", nsp) : InvalidOid;
    if (!OidIsValid(defs)) return 0;
    Relation rel = table_open(defs, AccessShareLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    int n = 0;
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Datum values[kDefCols];
        bool nulls[kDefCols];
        heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
        if (nulls[0] || nulls[1] || nulls[2] || nulls[3])
            elog(ERROR, "malformed parallel_material.arrangement_defs row");
        Oid r = DatumGetObjectId(values[1]);
        if (OidIsValid(relid) && r != relid) continue;
        if (n >= kMaxArrangements) break;
        Def &d = out[n++];
        d.defid = DatumGetInt64(values[0]);
        d.relid = r;
        d.nkeys = int2_array(values[2], d.keys, kMaxKeyColumns);
        d.ncols = int2_array(values[3], d.cols, kMaxColumns);
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    return n;
}

namespace {

// find_def's per-backend cache (docs/arrangements.md, "Definitions at executor start").
constexpr int kCachedDefs = kMaxArrangements;
Def g_cached_defs[kCachedDefs];
int g_ncached_defs = 0;
bool g_defs_callback = false;

void forget_cached_defs(Datum, Oid) { g_ncached_defs = 0; }

bool same_def(const Def &a, const Def &b) {
    if (a.defid != b.defid || a.relid != b.relid || a.nkeys != b.nkeys || a.ncols != b.ncols) return false;
    for (int k = 0; k < a.nkeys; ++k)
        if (a.keys[k] != b.keys[k]) return false;
    for (int c = 0; c < a.ncols; ++c)
        if (a.cols[c] != b.cols[c]) return false;
    return true;
}

}  // namespace

bool find_def(Oid relid, int64 defid, Def *out) {
    if (!g_defs_callback) {
        // Any relcache invalidation empties it: DROP EXTENSION (the id sequence starts again),
        // and every create or drop of an arrangement (its triggers) sends one.
        pm::pg::on_relcache_inval(forget_cached_defs);
        g_defs_callback = true;
    }
    for (int i = 0; i < g_ncached_defs; ++i) {
        const Def &c = g_cached_defs[i];
        if (c.defid != defid || c.relid != relid) continue;
        // Used only while this database's directory still has the entry built from that very
        // definition: a dropped arrangement's entry goes when its drop commits, before the drop
        // releases the table's AccessExclusiveLock (no reader or writer meets it), and an id
        // reused after DROP EXTENSION carries another definition.
        EntryInfo e = lookup(defid);
        if (e.slot >= 0 && same_def(e.def, c)) {
            *out = c;
            return true;
        }
        break;
    }
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(relid, defs);
    bool found = false;
    for (int i = 0; i < n && !found; ++i)
        if (defs[i].defid == defid) {
            *out = defs[i];
            found = true;
        }
    pfree(defs);
    if (!found) return false;
    int slot = -1;
    for (int i = 0; i < g_ncached_defs && slot < 0; ++i)
        if (g_cached_defs[i].defid == defid) slot = i;
    if (slot < 0) {
        if (g_ncached_defs == kCachedDefs) g_ncached_defs = 0;
        slot = g_ncached_defs++;
    }
    g_cached_defs[slot] = *out;
    return true;
}

void insert_def(const Def &def) {
    Relation rel = table_open(defs_relid(), RowExclusiveLock);
    Datum values[kDefCols] = {Int64GetDatum(def.defid), ObjectIdGetDatum(def.relid),
                              make_int2_array(def.keys, def.nkeys),
                              make_int2_array(def.cols, def.ncols),
                              TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    bool nulls[kDefCols] = {false, false, false, false, false};
    HeapTuple tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    simple_heap_insert(rel, tup);
    table_close(rel, RowExclusiveLock);
    insert_restore_def(def);
    CommandCounterIncrement();
}

void delete_def(int64 defid) {
    Relation rel = table_open(defs_relid(), RowExclusiveLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        bool isnull;
        Datum d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);
        if (!isnull && DatumGetInt64(d) == defid) simple_heap_delete(rel, &tup->t_self);
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, RowExclusiveLock);
    delete_restore_def(defid);
    CommandCounterIncrement();
}

namespace {
// Shape::cut: the leading arranged columns that are key columns, when every key column has a
// fixed length and the key encoding is stored as is (not as a digest). Their offsets in a
// tuple's data follow from their lengths and alignments alone.
void set_key_cut(Shape *s) {
    KeyCut c;
    uint32_t key_off[kMaxKeyColumns];
    uint32_t klen = 0;
    for (int k = 0; k < s->def.nkeys; ++k) {
        Form_pg_attribute att = TupleDescAttr(s->projdesc, s->keypos[k]);
        if (att->attlen <= 0) return;
        key_off[k] = klen + 1;  // after the null byte
        klen += 1 + static_cast<uint32_t>(att->attlen);
    }
    if (klen > static_cast<uint32_t>(kMaxStoredKey)) return;
    uint32_t off = 0;
    for (int i = 0; i < s->def.ncols; ++i) {
        int k = 0;
        while (k < s->def.nkeys && s->keypos[k] != i) ++k;
        if (k == s->def.nkeys) break;
        Form_pg_attribute att = TupleDescAttr(s->projdesc, i);
        off = static_cast<uint32_t>(att_align_nominal(off, att->attalign));
        c.col[c.n++] = KeyCut::Col{off, key_off[k], static_cast<uint32_t>(att->attlen)};
        off += static_cast<uint32_t>(att->attlen);
    }
    if (c.n == 0) return;
    c.len = off;
    c.key_len = klen;
    s->cut = c;
}
}  // namespace

Shape *make_shape(Relation rel, const Def &def) {
    auto *s = static_cast<Shape *>(palloc0(sizeof(Shape)));
    s->def = def;
    s->reldesc = RelationGetDescr(rel);
    s->projdesc = CreateTemplateTupleDesc(def.ncols);
    for (int i = 0; i < def.ncols; ++i) {
        if (def.cols[i] < 1 || def.cols[i] > s->reldesc->natts ||
            TupleDescAttr(s->reldesc, def.cols[i] - 1)->attisdropped)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("an arranged column of \"%s\" was dropped",
                                   RelationGetRelationName(rel)),
                            errhint("Drop the arrangement and create it again.")));
        TupleDescCopyEntry(s->projdesc, i + 1, s->reldesc, def.cols[i]);
    }
    for (int k = 0; k < def.nkeys; ++k) {
        s->keypos[k] = -1;
        for (int i = 0; i < def.ncols; ++i)
            if (def.cols[i] == def.keys[k]) s->keypos[k] = i;
        if (s->keypos[k] < 0) elog(ERROR, "arrangement key column is not arranged");
    }
    set_key_cut(s);
    s->projdesc = BlessTupleDesc(s->projdesc);
    return s;
}

namespace {
// Appends one key column: a null byte, then the value's bytes (fixed length, or a 4-byte length
// and the detoasted content for varlena / cstring). Equality of key types is bytewise (create
// checks the btree opclass's equalimage support), so equal keys give equal bytes.
void append_key_value(StringInfo key, Form_pg_attribute att, Datum value, bool isnull) {
    appendStringInfoChar(key, isnull ? 1 : 0);
    if (isnull) return;
    if (att->attbyval) {
        char buf[sizeof(Datum)];
        store_att_byval(buf, value, att->attlen);
        appendBinaryStringInfo(key, buf, att->attlen);
    } else if (att->attlen > 0) {
        appendBinaryStringInfo(key, DatumGetPointer(value), att->attlen);
    } else {
        const char *data;
        uint32 len;
        if (att->attlen == -1) {
            struct varlena *v = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(
                DatumGetPointer(value)));
            data = VARDATA_ANY(v);
            len = VARSIZE_ANY_EXHDR(v);
        } else {
            data = DatumGetCString(value);
            len = static_cast<uint32>(strlen(data));
        }
        appendBinaryStringInfo(key, reinterpret_cast<const char *>(&len), sizeof(len));
        appendBinaryStringInfo(key, data, static_cast<int>(len));
    }
}
}  // namespace

void encode_key_from_values(const Shape *s, const Datum *values, const bool *isnull,
                            StringInfo key) {
    int start = key->len;
    for (int k = 0; k < s->def.nkeys; ++k) {
        int a = s->def.keys[k] - 1;
        append_key_value(key, TupleDescAttr(s->reldesc, a), values[a], isnull[a]);
    }
    bound_key(key, start);  // long (e.g. decompressed) keys stored as a digest
}

void encode_probe_key(const Shape *s, const Datum *keyvals, const bool *keynulls, StringInfo key) {
    int start = key->len;
    for (int k = 0; k < s->def.nkeys; ++k)
        append_key_value(key, TupleDescAttr(s->reldesc, s->def.keys[k] - 1), keyvals[k],
                         keynulls[k]);
    bound_key(key, start);  // as the stored key
}

uint64_t hash_key(const StringInfo key) {
    return hash_key_bytes(key->data, key->len);
}

uint64_t hash_key_bytes(const char *data, int len) {
    return hash_bytes_extended(reinterpret_cast<const unsigned char *>(data), len, 0);
}

MinimalTuple project(const Shape *s, const Datum *values, const bool *isnull) {
    Datum pv[kMaxColumns];
    bool pn[kMaxColumns];
    for (int i = 0; i < s->def.ncols; ++i) {
        int a = s->def.cols[i] - 1;
        pv[i] = values[a];
        pn[i] = isnull[a];
        Form_pg_attribute att = TupleDescAttr(s->reldesc, a);
        // Stored values must not point into TOAST tables (TRUNCATE and VACUUM change them).
        if (!pn[i] && att->attlen == -1 &&
            VARATT_IS_EXTERNAL(reinterpret_cast<struct varlena *>(DatumGetPointer(pv[i]))))
            pv[i] = PointerGetDatum(
                detoast_external_attr(reinterpret_cast<struct varlena *>(DatumGetPointer(pv[i]))));
    }
    return pm_heap_form_minimal_tuple(s->projdesc, pv, pn);
}

text *row_text(const Shape *s, const char *tuple, uint32_t len, uint16_t flags, const char *key) {
    auto *mt = static_cast<MinimalTuple>(palloc(stored_tuple_len(flags, len, &s->cut)));
    unpack_stored(flags, tuple, len, &s->cut, key, reinterpret_cast<char *>(mt));
    HeapTuple ht = heap_tuple_from_minimal_tuple(mt);
    Datum rec = heap_copy_tuple_as_datum(ht, s->projdesc);
    char *out = OidOutputFunctionCall(F_RECORD_OUT, rec);
    return cstring_to_text(out);
}

}  // namespace pm::pg::arr
