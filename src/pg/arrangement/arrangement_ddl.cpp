// arrangement_ddl.cpp — ALTER TABLE on arranged tables, from the extension's event triggers.
// Dropping an arranged column drops the arrangements that hold it, as PostgreSQL drops the
// indexes on a dropped column (sql_drop). Changing an arranged column's type or collation
// (ALTER COLUMN ... TYPE, with or without a rewrite) re-checks the key rules for key columns (the
// ALTER fails when a key column no longer qualifies, as it would for a hash index it cannot
// rebuild) and invalidates the arrangement, which its next reader rebuilds with the new types
// (ddl_command_end). Renaming the table or a column, or moving the table to another schema,
// rewrites its rows of arrangement_restore_defs (the names pg_dump carries). See
// docs/arrangements.md, "ALTER TABLE" and "pg_dump and restore".
#include "pg/arrangement/arrangement.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

extern "C" {
PGDLLEXPORT Datum pm_arrangement_column_dropped(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_arrangement_altered(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_arrangement_column_dropped);
PG_FUNCTION_INFO_V1(pm_arrangement_altered);
}

namespace pm::pg::arr {

namespace {

bool holds(const Def &d, AttrNumber a) {
    for (int c = 0; c < d.ncols; ++c)
        if (d.cols[c] == a) return true;
    return false;
}

bool is_key(const Def &d, AttrNumber a) {
    for (int k = 0; k < d.nkeys; ++k)
        if (d.keys[k] == a) return true;
    return false;
}

// "t (k1, k2)", "t (row arrangement, by TID)"; the column attnum, dropped, is named colname.
const char *describe(Relation rel, const Def &d, AttrNumber attnum, const char *colname) {
    StringInfoData s;
    initStringInfo(&s);
    appendStringInfo(&s, "%s (", RelationGetRelationName(rel));
    if (is_row_def(d)) appendStringInfoString(&s, "row arrangement, by TID");
    for (int k = 0; k < d.nkeys; ++k)
        appendStringInfo(&s, "%s%s", k ? ", " : "",
                         d.keys[k] == attnum ? colname
                                             : get_attname(RelationGetRelid(rel), d.keys[k], false));
    appendStringInfoChar(&s, ')');
    return s.data;
}

// Column attnum (named colname) of relid was dropped, the table is still there.
// Called only from the extension's sql_drop event trigger function (not executable by PUBLIC):
// a column that is not dropped is left alone, whoever names it.
void column_dropped(Oid relid, AttrNumber attnum, const char *colname) {
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid))) return;  // DROP TABLE: forget()
    HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (!HeapTupleIsValid(att)) return;
    bool dropped = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att))->attisdropped;
    ReleaseSysCache(att);
    if (!dropped) return;
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(relid, defs);
    Relation rel = nullptr;
    for (int i = 0; i < n; ++i) {
        if (!holds(defs[i], attnum)) continue;
        if (rel == nullptr) rel = relation_open(relid, NoLock);  // ALTER TABLE holds its lock
        const char *what = describe(rel, defs[i], attnum, colname);
        drop_def_and_triggers(relation_sql_name(rel), &defs[i]);
        remember_dropped(defs[i].defid);
        ereport(NOTICE, (errmsg("dropped the arrangement on %s, which held column \"%s\"", what,
                                colname)));
    }
    if (rel != nullptr) relation_close(rel, NoLock);
}

void alter_context(void *arg) {
    errcontext("arrangement on %s: drop it first to give its key a type it cannot arrange",
               static_cast<const char *>(arg));
}

// One ALTER TABLE command: for every column whose type changed (the subcommand's address names
// the column, on the parent or on each inheritance child or partition it recursed to).
void altered(CollectedCommand *cmd) {
    // ALTER TABLE ... RENAME [COLUMN] / SET SCHEMA: the names pg_dump carries follow.
    if (cmd->type == SCT_Simple && cmd->d.simple.address.classId == RelationRelationId &&
        cmd->parsetree != nullptr &&
        (IsA(cmd->parsetree, RenameStmt) || IsA(cmd->parsetree, AlterObjectSchemaStmt))) {
        refresh_restore_defs(cmd->d.simple.address.objectId);
        return;
    }
    if (cmd->type != SCT_AlterTable) return;
    ListCell *lc;
    foreach (lc, cmd->d.alterTable.subcmds) {
        auto *sub = static_cast<CollectedATSubcmd *>(lfirst(lc));
        if (sub->parsetree == nullptr || !IsA(sub->parsetree, AlterTableCmd)) continue;
        auto *atc = reinterpret_cast<AlterTableCmd *>(sub->parsetree);
        if (atc->subtype != AT_AlterColumnType) continue;
        if (sub->address.classId != RelationRelationId || sub->address.objectSubId <= 0) continue;
        Oid relid = sub->address.objectId;
        AttrNumber attnum = static_cast<AttrNumber>(sub->address.objectSubId);
        Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
        int n = load_defs(relid, defs);
        // Every check first: a failing one leaves every arrangement as it was.
        for (int i = 0; i < n; ++i) {
            if (!holds(defs[i], attnum) || !is_key(defs[i], attnum)) continue;
            Relation rel = relation_open(relid, NoLock);
            ErrorContextCallback cb{error_context_stack, alter_context,
                                    const_cast<char *>(describe(rel, defs[i], 0, nullptr))};
            error_context_stack = &cb;
            check_key_type(rel, attnum);  // an ERROR here fails the ALTER
            error_context_stack = cb.previous;
            relation_close(rel, NoLock);
        }
        // Stored versions carry the old type's bytes (a binary-coercible change, or one of
        // collation, does not rewrite the heap): rebuilt by the next reader. Not undone if the
        // ALTER rolls back later (costs a rebuild, never a wrong row).
        for (int i = 0; i < n; ++i) {
            if (!holds(defs[i], attnum)) continue;
            EntryInfo e = lookup(defs[i].defid);
            if (e.slot >= 0) set_invalid(e.slot, "an arranged column's type changed", DEBUG1);
        }
    }
}

}  // namespace

}  // namespace pm::pg::arr

using namespace pm::pg;

Datum pm_arrangement_column_dropped(PG_FUNCTION_ARGS) {
    return guarded([&] {
        Oid relid = PG_GETARG_OID(0);
        auto attnum = static_cast<AttrNumber>(PG_GETARG_INT32(1));
        const char *colname = text_to_cstring(PG_GETARG_TEXT_PP(2));
        pg_call([&] { arr::column_dropped(relid, attnum, colname); });
        return static_cast<Datum>(0);
    });
}

Datum pm_arrangement_altered(PG_FUNCTION_ARGS) {
    return guarded([&] {
        auto *cmd = reinterpret_cast<CollectedCommand *>(PG_GETARG_POINTER(0));
        pg_call([&] { arr::altered(cmd); });
        return static_cast<Datum>(0);
    });
}
