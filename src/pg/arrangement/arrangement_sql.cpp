// arrangement_sql.cpp — the SQL functions of arrangements: create_arrangement (checks, definition,
// triggers, build), drop_arrangement, the probe/rows test functions that read through the
// arrangement under the caller's snapshot, reclaim, the per-entry state behind the arrangements
// view, and the DROP TABLE hook. Each entry point is a thin extern "C" shim over guarded().
#include "pg/arrangement/arrangement.hpp"
#include "pg/views/views.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"
#include "pg/gucs.hpp"

extern "C" {
#include "access/hash.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/predicate.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "miscadmin.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
}

extern "C" {
PGDLLEXPORT Datum pm_create_arrangement(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_create_row_arrangement(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_drop_arrangement(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_probe(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_rows(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_reclaim(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_state(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_forget(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_age_for_test(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_create_arrangement);
PG_FUNCTION_INFO_V1(pm_create_row_arrangement);
PG_FUNCTION_INFO_V1(pm_drop_arrangement);
PG_FUNCTION_INFO_V1(pm_arrangement_probe);
PG_FUNCTION_INFO_V1(pm_arrangement_rows);
PG_FUNCTION_INFO_V1(pm_arrangement_reclaim);
PG_FUNCTION_INFO_V1(pm_arrangement_state);
PG_FUNCTION_INFO_V1(pm_arrangement_forget);
PG_FUNCTION_INFO_V1(pm_arrangement_age_for_test);
}

namespace pm::pg::arr {

namespace {

// ---- plain PostgreSQL helpers (called through pg_call) ----

// Column names of a text[] argument (NULL elements refused).
int column_names(ArrayType *arr, const char *what, char **out, int max, bool allow_empty = false) {
    Datum *elems;
    bool *nulls;
    int n;
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    if (n == 0 && !allow_empty)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s must name at least one column", what)));
    if (n > max)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("%s names %d columns, at most %d are supported", what, n, max)));
    for (int i = 0; i < n; ++i) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("%s must not contain NULL", what)));
        out[i] = TextDatumGetCString(elems[i]);
    }
    return n;
}

AttrNumber column_attnum(Relation rel, const char *name) {
    AttrNumber a = get_attnum(RelationGetRelid(rel), name);
    if (a == InvalidAttrNumber)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("column \"%s\" of relation \"%s\" does not exist", name,
                               RelationGetRelationName(rel))));
    if (a < 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("system column \"%s\" cannot be arranged", name)));
    return a;
}

}  // namespace

// Key columns: a hash opclass (as the issue asks: hash-joinable) and bytewise equality (the
// btree opclass's equalimage support says so), since the index compares key bytes.
void check_key_type(Relation rel, AttrNumber a) {
    Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), a - 1);
    Oid typid = att->atttypid;
    if (!OidIsValid(GetDefaultOpClass(typid, HASH_AM_OID)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("data type %s has no default operator class for access method "
                               "\"hash\"", format_type_be(typid)),
                        errdetail("Key column \"%s\" must be hashable.", NameStr(att->attname))));
    Oid opc = GetDefaultOpClass(typid, BTREE_AM_OID);
    bool bitwise = false;
    if (OidIsValid(opc)) {
        Oid fam = get_opclass_family(opc);
        Oid in = get_opclass_input_type(opc);
        Oid proc = get_opfamily_proc(fam, in, in, BTEQUALIMAGE_PROC);
        bitwise = OidIsValid(proc) &&
                  DatumGetBool(OidFunctionCall1Coll(proc, att->attcollation, ObjectIdGetDatum(in)));
    }
    if (!bitwise)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("key column \"%s\" has type %s, whose equality is not bitwise",
                               NameStr(att->attname), format_type_be(typid)),
                        errdetail("Arrangements compare key bytes: types such as numeric, float "
                                  "or text with a nondeterministic collation are not supported.")));
}

namespace {

void check_relation(Relation rel) {
    const char *name = RelationGetRelationName(rel);
    if (!pm_class_ownercheck(RelationGetRelid(rel), GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind), name);
    switch (rel->rd_rel->relkind) {
        case RELKIND_RELATION:
            break;
        case RELKIND_PARTITIONED_TABLE:
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                            errmsg("\"%s\" is a partitioned table", name),
                            errhint("Arrange its partitions instead.")));
            break;
        case RELKIND_FOREIGN_TABLE:
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                            errmsg("\"%s\" is a foreign table", name),
                            errdetail("Only ordinary tables can be arranged.")));
            break;
        case RELKIND_VIEW:
        case RELKIND_MATVIEW:
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is a view", name),
                            errdetail("Only ordinary tables can be arranged.")));
            break;
        default:
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                            errmsg("\"%s\" is not a table", name),
                            errdetail("Only ordinary tables can be arranged.")));
    }
    if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot arrange temporary table \"%s\"", name),
                        errdetail("Arrangements live in shared memory; temporary tables are "
                                  "private to their session.")));
    if (IsCatalogRelation(rel) || IsSystemRelation(rel))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot arrange system table \"%s\"", name)));
    if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot arrange \"%s\": only the heap access method is supported",
                               name)));
    if (rel->rd_rel->relrowsecurity)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot arrange \"%s\": row-level security is enabled on it", name),
                        errdetail("Reading through an arrangement would bypass its policies.")));
}

}  // namespace

bool add_sorted_unique(Def *d, AttrNumber a) {
    for (int i = 0; i < d->ncols; ++i)
        if (d->cols[i] == a) return false;
    if (d->ncols >= kMaxColumns)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("at most %d columns can be arranged", kMaxColumns)));
    int i = d->ncols++;
    while (i > 0 && d->cols[i - 1] > a) {
        d->cols[i] = d->cols[i - 1];
        --i;
    }
    d->cols[i] = a;
    return true;
}

const char *relation_sql_name(Relation rel) {
    return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                      RelationGetRelationName(rel));
}

void run_sql(const char *sql) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(sql, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute failed (%d): %s", rc, sql);
    SPI_finish();
}

namespace {

// parallel_material._arrangement_trigger().
Oid trigger_function_oid() {
    Oid nsp = get_namespace_oid("parallel_material", false);
    Oid fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
                             CStringGetDatum("_arrangement_trigger"),
                             PointerGetDatum(buildoidvector(nullptr, 0)), ObjectIdGetDatum(nsp));
    if (!OidIsValid(fn))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                        errmsg("parallel_material._arrangement_trigger() is missing"),
                        errhint("Recreate the extension.")));
    return fn;
}

// The definition named by rel and key columns (NULL key: rel's only arrangement).
Def *find_def(Relation rel, ArrayType *key_columns) {
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(RelationGetRelid(rel), defs);
    const char *name = RelationGetRelationName(rel);
    if (key_columns == nullptr) {
        if (n == 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("table \"%s\" has no arrangement", name)));
        if (n > 1)
            ereport(ERROR, (errcode(ERRCODE_AMBIGUOUS_PARAMETER),
                            errmsg("table \"%s\" has %d arrangements", name, n),
                            errhint("Name the key columns.")));
        return &defs[0];
    }
    char *names[kMaxKeyColumns];
    // key '{}' names the row arrangement (create_row_arrangement), keyed by TID.
    int nk = column_names(key_columns, "key", names, kMaxKeyColumns, true);
    AttrNumber keys[kMaxKeyColumns];
    for (int i = 0; i < nk; ++i) keys[i] = column_attnum(rel, names[i]);
    for (int i = 0; i < n; ++i)
        if (defs[i].nkeys == nk && memcmp(defs[i].keys, keys, sizeof(AttrNumber) * nk) == 0)
            return &defs[i];
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg(nk == 0 ? "table \"%s\" has no row arrangement"
                                   : "table \"%s\" has no arrangement on that key",
                           name)));
    return nullptr;
}

// Reading through an arrangement returns tids and every arranged column: it needs SELECT on the
// table itself, as SELECT ctid does (column privileges are not enough).
void check_read(Relation rel) {
    Oid relid = RelationGetRelid(rel);
    if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
        aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
                       RelationGetRelationName(rel));
    if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot read \"%s\" through an arrangement: row-level security "
                               "applies", RelationGetRelationName(rel))));
}

// Before any lock on relid is requested (PostgreSQL's own commands check in a
// RangeVarGetRelidExtended callback): it exists and the caller owns it (need_owner), or may
// read it. A role without the right then fails at once instead of queueing for a lock, and so
// never blocks the owner's work. Checked again, on the open relation, once the lock is held.
void check_before_lock(Oid relid, bool need_owner) {
    char *name = get_rel_name(relid);
    if (name == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", relid)));
    ObjectType kind = get_relkind_objtype(get_rel_relkind(relid));
    if (need_owner) {
        if (!pm_class_ownercheck(relid, GetUserId())) aclcheck_error(ACLCHECK_NOT_OWNER, kind, name);
    } else if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK) {
        aclcheck_error(ACLCHECK_NO_PRIV, kind, name);
    }
}

}  // namespace

Def *find_def_by_key(Relation rel, ArrayType *key_columns) { return find_def(rel, key_columns); }

// The maintenance triggers are there as create_arrangement made them (AFTER, row-level on
// INSERT OR UPDATE OR DELETE and statement-level on TRUNCATE, no WHEN clause nor column list,
// calling _arrangement_trigger with the definition id) and fire always; otherwise writes may
// have been missed. row/trunc (optional) receive the two triggers found.
bool maintenance_triggers_intact(Relation rel, const Def &d, const Trigger **row_out,
                                 const Trigger **trunc_out) {
    char row_name[NAMEDATALEN], trunc_name[NAMEDATALEN], arg[32];
    snprintf(row_name, sizeof(row_name), "pm_arrangement_%lld", static_cast<long long>(d.defid));
    snprintf(trunc_name, sizeof(trunc_name), "pm_arrangement_%lld_truncate",
             static_cast<long long>(d.defid));
    snprintf(arg, sizeof(arg), "%lld", static_cast<long long>(d.defid));
    Oid fn = trigger_function_oid();
    const auto row_type = static_cast<int16>(TRIGGER_TYPE_ROW | TRIGGER_TYPE_INSERT |
                                             TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE);
    const Trigger *row = nullptr, *trunc = nullptr;
    TriggerDesc *td = rel->trigdesc;
    for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
        const Trigger &t = td->triggers[i];
        if (t.tgenabled != TRIGGER_FIRES_ALWAYS || t.tgnargs != 1 || strcmp(t.tgargs[0], arg) != 0 ||
            t.tgfoid != fn || t.tgqual != nullptr || t.tgnattr != 0)
            continue;
        if (strcmp(t.tgname, row_name) == 0 && t.tgtype == row_type) row = &t;
        if (strcmp(t.tgname, trunc_name) == 0 && t.tgtype == TRIGGER_TYPE_TRUNCATE) trunc = &t;
    }
    if (row_out != nullptr) *row_out = row;
    if (trunc_out != nullptr) *trunc_out = trunc;
    return row != nullptr && trunc != nullptr;
}

namespace {

void check_triggers(Relation rel, const Def *d) {
    if (!maintenance_triggers_intact(rel, *d))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the maintenance triggers of the arrangement of \"%s\" are missing "
                               "or not enabled ALWAYS", RelationGetRelationName(rel)),
                        errhint("Drop the arrangement and create it again.")));
}

Def *create_checked(Relation rel, ArrayType *key, ArrayType *include) {
    check_relation(rel);
    Def *d = static_cast<Def *>(palloc0(sizeof(Def)));
    d->relid = RelationGetRelid(rel);
    char *names[kMaxColumns];
    // key == nullptr: a row arrangement (create_row_arrangement), keyed by TID (nkeys 0).
    d->nkeys = key == nullptr ? 0 : column_names(key, "key", names, kMaxKeyColumns);
    for (int i = 0; i < d->nkeys; ++i) {
        AttrNumber a = column_attnum(rel, names[i]);
        for (int j = 0; j < i; ++j)
            if (d->keys[j] == a)
                ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                                errmsg("key column \"%s\" named twice", names[i])));
        check_key_type(rel, a);
        d->keys[i] = a;
        add_sorted_unique(d, a);
    }
    if (d->nkeys == 0 && include != nullptr &&
        ArrayGetNItems(ARR_NDIM(include), ARR_DIMS(include)) == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("a row arrangement must hold at least one column")));
    // include => NULL: adaptive (the key only, widened with the columns joins read;
    // arrangement_adapt.cpp) unless arrangement_default_columns = all; include => '{*}': every
    // column. A row arrangement (no key) with include => NULL holds every column: it is never
    // adaptive.
    bool all = include == nullptr && (settings.arrangement_default_columns == 1 || d->nkeys == 0);
    if (include == nullptr && !all) {
        d->adaptive = true;
    } else if (include != nullptr && ArrayGetNItems(ARR_NDIM(include), ARR_DIMS(include)) == 1 &&
               !ARR_HASNULL(include)) {
        char *one[1];
        column_names(include, "include", one, 1);
        all = strcmp(one[0], "*") == 0;
    }
    if (all) {
        TupleDesc desc = RelationGetDescr(rel);
        for (int i = 0; i < desc->natts; ++i)
            if (!TupleDescAttr(desc, i)->attisdropped) add_sorted_unique(d, AttrNumber(i + 1));
    } else if (include == nullptr) {
        // adaptive: the key columns only, to begin with
    } else if (ArrayGetNItems(ARR_NDIM(include), ARR_DIMS(include)) == 0) {
        // include => '{}': the key columns only (and the TID every version holds); the join
        // reads the other columns from the heap by TID (docs/arrangements.md, "Heap fetch").
    } else {
        int n = column_names(include, "include", names, kMaxColumns);
        for (int i = 0; i < n; ++i) add_sorted_unique(d, column_attnum(rel, names[i]));
    }
    Def *existing = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(d->relid, existing);
    for (int i = 0; i < n; ++i)
        if (existing[i].nkeys == d->nkeys &&
            memcmp(existing[i].keys, d->keys, sizeof(AttrNumber) * d->nkeys) == 0)
            ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
                            errmsg(d->nkeys == 0 ? "a row arrangement of \"%s\" already exists"
                                                 : "an arrangement of \"%s\" on this key already exists",
                                   RelationGetRelationName(rel))));
    d->defid = next_defid();
    insert_def(*d);
    return d;
}

// The maintenance triggers; rel must be closed (ALTER TABLE refuses a table in use). The caller
// owns the table (checked), but EXECUTE on _arrangement_trigger is not granted to PUBLIC (no
// role may attach it elsewhere): CREATE TRIGGER runs as the function's owner, the superuser who
// created the extension, with no user-controlled text in the commands (OID-derived names).
void create_triggers(const char *relname, const Def *d) {
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(trigger_function_oid()));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for _arrangement_trigger");
    Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup))->proowner;
    ReleaseSysCache(tup);
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    // An error in between aborts the (sub)transaction, which restores the user id.
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    run_sql(psprintf("CREATE TRIGGER pm_arrangement_%lld AFTER INSERT OR UPDATE OR DELETE ON %s "
                     "FOR EACH ROW EXECUTE FUNCTION parallel_material._arrangement_trigger('%lld')",
                     static_cast<long long>(d->defid), relname, static_cast<long long>(d->defid)));
    run_sql(psprintf("CREATE TRIGGER pm_arrangement_%lld_truncate AFTER TRUNCATE ON %s "
                     "FOR EACH STATEMENT EXECUTE FUNCTION parallel_material._arrangement_trigger("
                     "'%lld')",
                     static_cast<long long>(d->defid), relname, static_cast<long long>(d->defid)));
    run_sql(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER pm_arrangement_%lld, "
                     "ENABLE ALWAYS TRIGGER pm_arrangement_%lld_truncate",
                     relname, static_cast<long long>(d->defid), static_cast<long long>(d->defid)));
    SetUserIdAndSecContext(save_user, save_sec);
    CommandCounterIncrement();
}

}  // namespace

// Every trigger of the table calling _arrangement_trigger with this definition id goes, whatever
// its name now (a renamed one would otherwise be left failing every write).
void drop_def_and_triggers(const char *relname, const Def *d) {
    char arg[32];
    snprintf(arg, sizeof(arg), "%lld", static_cast<long long>(d->defid));
    Oid fn = trigger_function_oid();
    List *names = NIL;
    Relation rel = relation_open(d->relid, NoLock);  // the caller holds a lock on it
    TriggerDesc *td = rel->trigdesc;
    for (int i = 0; td != nullptr && i < td->numtriggers; ++i) {
        const Trigger &t = td->triggers[i];
        if (t.tgfoid == fn && t.tgnargs == 1 && strcmp(t.tgargs[0], arg) == 0)
            names = lappend(names, pstrdup(t.tgname));
    }
    relation_close(rel, NoLock);
    ListCell *lc;
    foreach (lc, names)
        run_sql(psprintf("DROP TRIGGER %s ON %s", quote_identifier(static_cast<char *>(lfirst(lc))),
                         relname));
    delete_def(d->defid);
}

namespace {

// Output rows (tid, row text) through the materialized SRF protocol.
struct Emitter {
    ReturnSetInfo *rsinfo;
    const Shape *shape;
};

void emit_row(Emitter *em, const core::VersionView &v) {
    auto *tid = static_cast<ItemPointer>(palloc(sizeof(ItemPointerData)));
    ItemPointerSet(tid, v.tid.block, v.tid.offset);
    Datum values[2] = {PointerGetDatum(tid),
                       PointerGetDatum(row_text(em->shape, v.tuple, v.tuple_len, v.flags, v.key))};
    bool nulls[2] = {false, false};
    tuplestore_putvalues(em->rsinfo->setResult, em->rsinfo->setDesc, values, nulls);
}

// Pins an entry for the duration of a read and unpins it on every exit path.
class Pin {
  public:
    explicit Pin(EntryInfo e) : e_(e) {}
    ~Pin() {
        if (e_.slot >= 0) unpin(e_.slot);
    }
    Pin(const Pin &) = delete;
    Pin &operator=(const Pin &) = delete;
    const EntryInfo &info() const { return e_; }

  private:
    EntryInfo e_;
};

// rows / probe: probe_values == nullptr scans every version.
Datum read_through(FunctionCallInfo fcinfo, ArrayType *probe_values, ArrayType *key_columns) {
    require_available();
    Oid relid = PG_GETARG_OID(0);
    Relation rel = pg_call([&] {
        check_before_lock(relid, false);
        return relation_open(relid, AccessShareLock);
    });
    Def *def = pg_call([&] { return find_def(rel, key_columns); });
    pg_call([&] {
        check_read(rel);
        check_triggers(rel, def);
    });
    Pin pin(pin_or_build(rel, *def));
    auto *em = static_cast<Emitter *>(pg_call([] { return palloc0(sizeof(Emitter)); }));
    pg_call([&] {
        InitMaterializedSRF(fcinfo, 0);
        em->rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        em->shape = make_shape(rel, *def);
    });
    Snapshot snap = pg_call([&] {
        Snapshot s = GetActiveSnapshot();
        if (IsolationIsSerializable()) PredicateLockRelation(rel, s);
        return s;
    });
    core::ArrangementIndex index = index_at(pin.info().index_offset);
    auto visible = [&](const core::VersionView &v) {
        int fast = version_visible_fast(v, snap);
                return fast >= 0 ? fast == 1 : pg_call([&] { return version_visible(v, snap); });
    };
    auto emit = [&](const core::VersionView &v) { pg_call([&] { emit_row(em, v); }); };
    if (probe_values == nullptr) {
        index.scan_all(visible, emit);
    } else {
        StringInfo key = pg_call([&]() -> StringInfo {
            Datum *elems;
            bool *nulls;
            int n;
            deconstruct_array(probe_values, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
            if (n != def->nkeys)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("the arrangement's key has %d columns, %d values given",
                                       def->nkeys, n)));
            Datum keyvals[kMaxKeyColumns];
            bool keynulls[kMaxKeyColumns];
            for (int k = 0; k < n; ++k) {
                if (nulls[k]) return nullptr;  // NULL never equals anything
                Form_pg_attribute att =
                    TupleDescAttr(RelationGetDescr(rel), def->keys[k] - 1);
                Oid in, ioparam;
                getTypeInputInfo(att->atttypid, &in, &ioparam);
                keyvals[k] = OidInputFunctionCall(in, TextDatumGetCString(elems[k]), ioparam,
                                                  att->atttypmod);
                keynulls[k] = false;
            }
            StringInfo s = makeStringInfo();
            encode_probe_key(em->shape, keyvals, keynulls, s);
            return s;
        });
        if (key != nullptr)
            index.probe(hash_key(key), key->data, static_cast<uint32_t>(key->len), visible, emit);
    }
    pg_call([&] { relation_close(rel, NoLock); });
    return static_cast<Datum>(0);
}

ArrayType *opt_array(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : PG_GETARG_ARRAYTYPE_P(n);
}

// create_arrangement(rel, key, include), or create_row_arrangement(rel, include) when !keyed.
Datum create(FunctionCallInfo fcinfo, bool keyed = true) {
    require_available();
    if (PG_ARGISNULL(0) || (keyed && PG_ARGISNULL(1)))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg(keyed ? "rel and key must not be NULL" : "rel must not be NULL")));
    Oid relid = PG_GETARG_OID(0);
    ArrayType *key = keyed ? PG_GETARG_ARRAYTYPE_P(1) : nullptr;
    ArrayType *include = opt_array(fcinfo, keyed ? 2 : 1);
    // ShareRowExclusiveLock, as CREATE TRIGGER: keeps writers out during the build and
    // serializes concurrent creates on one table.
    // Progress (as CREATE INDEX reports): waiting for the lock, then the build's heap scan.
    bool progress = progress_begin(relid, 0, kProgressWaiting);
    Relation rel;
    Def *d;
    try {
        rel = pg_call([&] {
            check_before_lock(relid, true);
            return relation_open(relid, ShareRowExclusiveLock);
        });
        d = pg_call([&] { return create_checked(rel, key, include); });
        rel = pg_call([&] {
            const char *relname = relation_sql_name(rel);
            relation_close(rel, NoLock);
            create_triggers(relname, d);
            return relation_open(relid, NoLock);
        });
        build(rel, *d);
    } catch (...) {
        progress_end(progress);
        throw;
    }
    progress_end(progress);
    pg_call([&] {
        remember_created(d->defid);
        relation_close(rel, NoLock);
    });
    return static_cast<Datum>(0);
}

Datum drop(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("rel must not be NULL")));
    Oid relid = PG_GETARG_OID(0);
    ArrayType *key = opt_array(fcinfo, 1);
    pg_call([&] {
        check_before_lock(relid, true);
        Relation rel = relation_open(relid, AccessExclusiveLock);
        if (!pm_class_ownercheck(relid, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
                           RelationGetRelationName(rel));
        Def *d = find_def(rel, key);
        const char *relname = relation_sql_name(rel);
        Oid view = views::view_using_arrangement(d->defid);
        if (OidIsValid(view))
            ereport(ERROR, (errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
                            errmsg("the arrangement on %s is used by maintained view %s", relname,
                                   get_rel_name(view)),
                            errhint("Drop the view first with parallel_material.drop_view.")));
        relation_close(rel, NoLock);
        drop_def_and_triggers(relname, d);
        remember_dropped(d->defid);
    });
    return static_cast<Datum>(0);
}

Datum reclaim(FunctionCallInfo fcinfo) {
    require_available();
    Oid relid = PG_GETARG_OID(0);
    ArrayType *key = opt_array(fcinfo, 1);
    Relation rel = pg_call([&] {
        if (PG_ARGISNULL(0))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("rel must not be NULL")));
        check_before_lock(relid, false);
        return relation_open(relid, AccessShareLock);
    });
    Def *def = pg_call([&] { return find_def(rel, key); });
    pg_call([&] { check_read(rel); });
    Pin pin(pin_ready(def->defid));
    if (pin.info().slot < 0) return Int64GetDatum(0);
    // The worker's pass, on demand: first the xid check (an arrangement holding xids older than
    // the commit log is invalidated, not walked), then the reclaim, which raises the xid bound.
    pg_call([] {
        xid_cache_maintain();
        invalidate_wraparound_risks();
    });
    if (lookup(def->defid).state != State::Ready) {
        pg_call([&] { relation_close(rel, NoLock); });
        return Int64GetDatum(0);
    }
    TransactionId oldest = pg_call([&] { return GetOldestNonRemovableTransactionId(rel); });
    XidFloor floor;
    core::ReclaimResult r = index_at(pin.info().index_offset).reclaim(
        [&](const core::VersionView &v) {
            bool dead = pg_call([&] { return version_dead(v, oldest); });
            if (!dead) floor.see(v);
            return dead;
        },
        [&](const core::VersionView &v) {  // compacted (docs: "Layout")
            return pg_call([&] { return version_freezable(v, oldest); });
        },
        // dead, but kept in a run the region had no room to copy (docs: "Runs")
        [&](const core::VersionView &v) { floor.see(v); });
    pg_call([&] {
        note_reclaim(pin.info().slot);
        note_reclaim_floor(pin.info().slot, floor, oldest);
        relation_close(rel, NoLock);
    });
    return Int64GetDatum(static_cast<int64>(r.unlinked - r.compacted));  // dead ones
}

const char *state_name(State s) {
    switch (s) {
        case State::Building:
            return "building";
        case State::Ready:
            return "ready";
        default:
            return "invalid";
    }
}

// Whether the caller may see the counts of the arrangement defid (defs: this database's): they
// include other transactions' uncommitted rows, so only to roles that may read the table (its
// owner included) and members of pg_read_all_stats, as pg_stat_activity shows queries.
bool may_see_counts(int64 defid, const Def *defs, int ndefs, bool read_all_stats) {
    if (read_all_stats) return true;
    for (int i = 0; i < ndefs; ++i) {
        if (defs[i].defid != defid) continue;
        bool missing = false;
        AclResult r = pg_class_aclcheck_ext(defs[i].relid, GetUserId(), ACL_SELECT, &missing);
        return !missing && r == ACLCHECK_OK;
    }
    return false;  // dropped, or not a definition of this database any more
}

Datum state(FunctionCallInfo fcinfo) {
    require_available();
    auto *st = static_cast<EntryStats *>(
        pg_call([] { return palloc0(sizeof(EntryStats) * kMaxArrangements); }));
    int n = collect_stats(st);
    pg_call([&] {
        Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
        int ndefs = load_defs(InvalidOid, defs);
        bool all_stats = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
        InitMaterializedSRF(fcinfo, 0);
        auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        for (int i = 0; i < n; ++i) {
            Datum v[9];
            bool nul[9] = {false, false, false, false, false, false, false, false, false};
            v[0] = Int64GetDatum(st[i].defid);
            State shown = st[i].state;
            if (shown == State::Ready) {
                // Built with other columns than its definition's (widened in place since, to be
                // rebuilt: arrangement_adapt.cpp): not read until then, as an invalid one.
                EntryInfo e = lookup(st[i].defid);
                for (int j = 0; j < ndefs; ++j)
                    if (defs[j].defid == st[i].defid && e.slot >= 0 && !same_columns(e.def, defs[j]))
                        shown = State::Invalid;
            }
            v[1] = CStringGetTextDatum(state_name(shown));
            v[2] = Int64GetDatum(st[i].has_index ? int64(st[i].stats.live) : 0);
            v[3] = Int64GetDatum(st[i].has_index ? int64(st[i].stats.delete_marked) : 0);
            v[4] = Int64GetDatum(st[i].has_index ? int64(st[i].stats.version_bytes) : 0);
            v[5] = Int64GetDatum(int64(st[i].deltas));
            v[6] = TimestampTzGetDatum(st[i].last_reclaim);
            nul[6] = st[i].last_reclaim == 0;
            v[7] = ObjectIdGetDatum(st[i].relfilenode);
            v[8] = TransactionIdGetDatum(st[i].oldest_xid);
            nul[8] = !TransactionIdIsValid(st[i].oldest_xid);
            // versions, bytes, deltas and the xid bound follow other roles' writes, committed
            // or not: NULL to a role that may not read the table
            if (!may_see_counts(st[i].defid, defs, ndefs, all_stats))
                nul[2] = nul[3] = nul[4] = nul[5] = nul[8] = true;
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nul);
        }
    });
    return static_cast<Datum>(0);
}

// Test aid: makes an arrangement look as if it held an old xid, so that the wraparound checks
// can be exercised without consuming two billion xids. 'relfrozenxid': just before the table's
// relfrozenxid; 'clog': 1000 xids before the commit log's horizon. Superuser only.
Datum age_for_test(FunctionCallInfo fcinfo) {
    require_available();
    Oid relid = PG_GETARG_OID(0);
    ArrayType *key = opt_array(fcinfo, 1);
    char *what = pg_call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(2)); });
    Relation rel = pg_call([&] {
        if (!superuser())
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("only a superuser may age an arrangement")));
        return relation_open(relid, AccessShareLock);
    });
    Def *def = pg_call([&] { return find_def(rel, key); });
    TransactionId x = pg_call([&] {
        TransactionId t;
        if (strcmp(what, "relfrozenxid") == 0) {
            t = rel->rd_rel->relfrozenxid;
            TransactionIdRetreat(t);
        } else if (strcmp(what, "clog") == 0) {
            LWLockAcquire(XactTruncationLock, LW_SHARED);
            t = pm_transam_variables()->oldestClogXid;
            LWLockRelease(XactTruncationLock);
            for (int i = 0; i < 1000; ++i) TransactionIdRetreat(t);
        } else {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("unknown xid source \"%s\" (relfrozenxid or clog)", what)));
        }
        return t;
    });
    EntryInfo e = lookup(def->defid);
    if (e.slot >= 0) force_oldest_xid(e.slot, x);
    pg_call([&] { relation_close(rel, NoLock); });
    return TransactionIdGetDatum(x);
}

// From the sql_drop event trigger: a dropped table's definitions go (their triggers went with
// the table); the entries are freed when the transaction commits.
Datum forget(FunctionCallInfo fcinfo) {
    Oid relid = PG_GETARG_OID(0);
    pg_call([&] {
        // InvalidOid would select every definition of the database.
        if (!OidIsValid(relid)) return;
        if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) return;  // not dropped
        Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
        int n = load_defs(relid, defs);
        for (int i = 0; i < n; ++i) {
            delete_def(defs[i].defid);
            remember_dropped(defs[i].defid);
        }
    });
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace pm::pg::arr

using namespace pm::pg;

Datum pm_create_arrangement(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::create(fcinfo); });
}
Datum pm_create_row_arrangement(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::create(fcinfo, false); });
}
Datum pm_drop_arrangement(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::drop(fcinfo); });
}
Datum pm_arrangement_probe(PG_FUNCTION_ARGS) {
    return guarded([&] {
        if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
            pg_call([] {
                ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                                errmsg("rel and key values must not be NULL")));
            });
        return arr::read_through(fcinfo, PG_GETARG_ARRAYTYPE_P(1), arr::opt_array(fcinfo, 2));
    });
}
Datum pm_arrangement_rows(PG_FUNCTION_ARGS) {
    return guarded([&] {
        if (PG_ARGISNULL(0))
            pg_call([] {
                ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                                errmsg("rel must not be NULL")));
            });
        return arr::read_through(fcinfo, nullptr, arr::opt_array(fcinfo, 1));
    });
}
Datum pm_arrangement_reclaim(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::reclaim(fcinfo); });
}
Datum pm_arrangement_state(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::state(fcinfo); });
}
Datum pm_arrangement_forget(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::forget(fcinfo); });
}
Datum pm_arrangement_age_for_test(PG_FUNCTION_ARGS) {
    return guarded([&] { return arr::age_for_test(fcinfo); });
}
