// view_apply.cpp — applying a delta to the view table (docs/views.md, "Representation"). The
// table holds one heap row per row of the query's result (bag semantics: duplicates are
// duplicate rows), so the table is exactly what the query returns. A delta (rows with signs) is
// first netted per distinct row *by binary image* (numeric 1.0 and 1.00 are different rows of
// the result, although they compare equal), then applied: for a net count -k, k table rows
// whose columns have the same images are deleted (matched with record image equality *=, and
// with `=` on the columns of the view table's key index where it has one, so that the index
// finds the candidates); for +k, k copies are inserted. Copies taken by a concurrent deleter of
// the same duplicates are made up for by a retry under a fresh snapshot. Fewer rows found than
// to delete means the table was changed behind the maintenance's back: an error, never a
// silently wrong view.
#include "pg/views/views.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/rel.h"
}

namespace pm::pg::views {

// Registers ts (rows of desc) with SPI as the ephemeral named relation `name` of ntuples rows, as
// PL/pgSQL registers transition tables; the caller keeps ts and ends it.
EphemeralNamedRelation register_tuplestore(const char *name, TupleDesc desc, Tuplestorestate *ts,
                                           double ntuples) {
    EphemeralNamedRelation enr =
        static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
    enr->md.name = pstrdup(name);
    enr->md.reliddesc = InvalidOid;
    enr->md.tupdesc = desc;
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = ntuples;
    enr->reldata = ts;
    if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER) elog(ERROR, "SPI_register_relation failed");
    return enr;
}


char *view_columns_sql(Relation viewrel, const char *prefix) {
    TupleDesc desc = RelationGetDescr(viewrel);
    StringInfoData s;
    initStringInfo(&s);
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped) continue;
        if (s.len > 0) appendStringInfoString(&s, ", ");
        if (prefix != nullptr) appendStringInfo(&s, "%s.", prefix);
        appendStringInfoString(&s, quote_identifier(NameStr(a->attname)));
    }
    return s.data;
}

// The binary image of columns [0, n) of a row: null flags, then bytes (varlena detoasted).
void image_key(TupleDesc desc, int n, const Datum *values, const bool *nulls, StringInfo key) {
    resetStringInfo(key);
    for (int i = 0; i < n; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (nulls[i]) {
            appendStringInfoChar(key, '\0');
            continue;
        }
        appendStringInfoChar(key, '\1');
        if (a->attbyval) {
            Datum d = values[i];
            appendBinaryStringInfo(key, reinterpret_cast<const char *>(&d), sizeof(Datum));
        } else if (a->attlen > 0) {
            appendBinaryStringInfo(key, DatumGetPointer(values[i]), a->attlen);
        } else if (a->attlen == -1) {
            struct varlena *v = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(
                DatumGetPointer(values[i])));
            uint32 len = VARSIZE_ANY_EXHDR(v);
            appendBinaryStringInfo(key, reinterpret_cast<const char *>(&len), sizeof(len));
            appendBinaryStringInfo(key, VARDATA_ANY(v), static_cast<int>(len));
        } else {
            const char *c = DatumGetCString(values[i]);
            appendBinaryStringInfo(key, c, static_cast<int>(strlen(c) + 1));
        }
    }
}

namespace {

const char *qualified_name(Relation rel) {
    return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                      RelationGetRelationName(rel));
}

// One delta row: its image and sign.
struct Keyed {
    char *key;
    int len;
    uint64 row;
    int32 sign;
};

int compare_keyed(const void *a, const void *b) {
    const Keyed *x = static_cast<const Keyed *>(a), *y = static_cast<const Keyed *>(b);
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    int c = memcmp(x->key, y->key, static_cast<size_t>(x->len));
    if (c != 0) return c;
    return x->row < y->row ? -1 : (x->row > y->row ? 1 : 0);
}

// A btree index of the view table that can find the copies of a row by `=` on its key columns:
// plain columns (no expression, no predicate, valid), each compared with its operator class's
// equality operator. pos: 0-based position among the table's non-dropped columns (the delta's
// column order); sql: the AND of `t.c OPERATOR(ns.=) d.c`.
struct KeyCols {
    int n;
    int pos[INDEX_MAX_KEYS];
    char *sql;
};

Oid operator_namespace(Oid op) {
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(op));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for operator %u", op);
    Oid ns = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tup))->oprnamespace;
    ReleaseSysCache(tup);
    return ns;
}

const KeyCols *key_index(Relation viewrel) {
    TupleDesc desc = RelationGetDescr(viewrel);
    List *indexes = RelationGetIndexList(viewrel);
    ListCell *lc;
    foreach (lc, indexes) {
        Relation ix = index_open(lfirst_oid(lc), AccessShareLock);
        Form_pg_index f = ix->rd_index;
        bool ok = ix->rd_rel->relam == BTREE_AM_OID && f->indisvalid && f->indisready && f->indislive &&
                  RelationGetIndexExpressions(ix) == NIL && RelationGetIndexPredicate(ix) == NIL &&
                  f->indnkeyatts > 0;
        KeyCols *kc = static_cast<KeyCols *>(palloc0(sizeof(KeyCols)));
        StringInfoData s;
        initStringInfo(&s);
        for (int k = 0; ok && k < f->indnkeyatts; ++k) {
            AttrNumber att = f->indkey.values[k];
            if (att <= 0 || att > desc->natts || TupleDescAttr(desc, att - 1)->attisdropped) {
                ok = false;
                break;
            }
            Form_pg_attribute a = TupleDescAttr(desc, att - 1);
            Oid eq = get_opfamily_member(ix->rd_opfamily[k], ix->rd_opcintype[k], ix->rd_opcintype[k],
                                         BTEqualStrategyNumber);
            if (!OidIsValid(eq) || a->atttypid != ix->rd_opcintype[k] ||
                ix->rd_indcollation[k] != a->attcollation) {
                ok = false;
                break;
            }
            int pos = 0;
            for (int i = 0; i < att - 1; ++i)
                if (!TupleDescAttr(desc, i)->attisdropped) ++pos;
            kc->pos[kc->n++] = pos;
            const char *col = quote_identifier(NameStr(a->attname));
            appendStringInfo(&s, " AND t.%s OPERATOR(%s.%s) d.%s", col,
                             quote_identifier(get_namespace_name(operator_namespace(eq))),
                             get_opname(eq), col);
        }
        index_close(ix, AccessShareLock);
        if (ok) {
            kc->sql = s.data;
            list_free(indexes);
            return kc;
        }
    }
    list_free(indexes);
    return nullptr;
}

// The apply DELETE: for each row of pm_net with a negative count n, |n| copies (the first by
// ctid) of the table rows with the same image; returns the pm_net id of each deleted copy.
char *delete_sql(const char *vname, const char *tcols, const char *dcols, const char *keyq) {
    return psprintf(
        "DELETE FROM ONLY %s v USING (SELECT x.tid, x.id FROM (SELECT t.ctid AS tid, d.__pm_id AS id, "
        "pg_catalog.row_number() OVER (PARTITION BY d.__pm_id ORDER BY t.ctid) AS rn, "
        "d.__pm_n AS n FROM pm_net d JOIN ONLY %s t ON ROW(%s)::pg_catalog.record OPERATOR(pg_catalog.*=) ROW(%s)::pg_catalog.record%s "
        "WHERE d.__pm_n OPERATOR(pg_catalog.<) 0) x "
        "WHERE x.rn OPERATOR(pg_catalog.<=) pg_catalog.abs(x.n)) y "
        "WHERE v.ctid OPERATOR(pg_catalog.=) y.tid RETURNING y.id",
        vname, vname, tcols, dcols, keyq != nullptr ? keyq : "");
}

// How the apply DELETE's plan (EXPLAIN, not run) finds the table's rows, as NOTICEs (a test
// aid): "index NAME" for an index scan of any kind, "Seq Scan on ..." for a full scan.
void explain_apply(const char *sql) {
    int rc = SPI_execute(psprintf("EXPLAIN (COSTS OFF) %s", sql), false, 0);
    if (rc < 0) elog(ERROR, "EXPLAIN of the apply delete failed (%d)", rc);
    for (uint64 i = 0; i < SPI_processed; ++i) {
        char *line = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        if (line == nullptr) continue;
        const char *seq = strstr(line, "Seq Scan on ");
        const char *ix = strstr(line, "Index Scan using ");
        const char *ixo = strstr(line, "Index Only Scan using ");
        const char *bix = strstr(line, "Bitmap Index Scan on ");
        if (seq != nullptr) {
            ereport(NOTICE, (errmsg("apply delete: %s", seq)));
            continue;
        }
        const char *name = ix != nullptr    ? ix + strlen("Index Scan using ")
                           : ixo != nullptr ? ixo + strlen("Index Only Scan using ")
                           : bix != nullptr ? bix + strlen("Bitmap Index Scan on ")
                                            : nullptr;
        if (name == nullptr) continue;
        size_t len = strcspn(name, " ");
        ereport(NOTICE, (errmsg("apply delete: index %.*s", static_cast<int>(len), name)));
    }
}

}  // namespace

// The delta netted per distinct row (binary image of its first n columns; column n + 1 is the
// sign): each distinct row with a non-zero net count, its first delta row, in image order.
PgArray<NetDelta> net_delta(SPITupleTable *tuptable, uint64 ntuples, int n) {
    TupleDesc ddesc = tuptable->tupdesc;
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(n + 1)));
    bool *nulls = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(n + 1)));
    Keyed *rows = static_cast<Keyed *>(palloc(sizeof(Keyed) * (ntuples + 1)));
    StringInfoData key;
    initStringInfo(&key);
    for (uint64 r = 0; r < ntuples; ++r) {
        heap_deform_tuple(tuptable->vals[r], ddesc, values, nulls);
        image_key(ddesc, n, values, nulls, &key);
        rows[r].key = static_cast<char *>(palloc(static_cast<size_t>(key.len) + 1));
        memcpy(rows[r].key, key.data, static_cast<size_t>(key.len));
        rows[r].len = key.len;
        rows[r].row = r;
        rows[r].sign = nulls[n] ? 0 : DatumGetInt32(values[n]);
    }
    if (ntuples > 1) qsort(rows, ntuples, sizeof(Keyed), compare_keyed);
    PgArray<NetDelta> out;
    for (uint64 r = 0; r < ntuples;) {
        uint64 first = r;
        int64 net = 0;
        while (r < ntuples && rows[r].len == rows[first].len &&
               memcmp(rows[r].key, rows[first].key, static_cast<size_t>(rows[r].len)) == 0)
            net += rows[r++].sign;
        if (net != 0) out.push(NetDelta{rows[first].key, rows[first].len, rows[first].row, net});
    }
    return out;
}

int64 apply_delta(Relation viewrel, SPITupleTable *tuptable, uint64 ntuples) {
    TupleDesc vdesc = RelationGetDescr(viewrel);
    int n = 0;
    for (int i = 0; i < vdesc->natts; ++i)
        if (!TupleDescAttr(vdesc, i)->attisdropped) ++n;
    TupleDesc ddesc = tuptable->tupdesc;
    if (ddesc->natts != n + 1)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("maintained view \"%s\" no longer has its query's columns",
                               RelationGetRelationName(viewrel)),
                        errhint("Drop it with parallel_material.drop_view and create it again.")));
    if (ntuples == 0) return 0;  // most single-row writes: nothing to net, register or run
    // Net count per distinct row (binary image of its columns).
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(n + 2)));
    bool *nulls = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(n + 2)));
    PgArray<NetDelta> netted = net_delta(tuptable, ntuples, n);
    // The net change as an ephemeral relation pm_net(view columns..., __pm_n, __pm_id).
    TupleDesc ndesc = CreateTemplateTupleDesc(n + 2);
    for (int i = 0; i < n; ++i) TupleDescCopyEntry(ndesc, static_cast<AttrNumber>(i + 1), ddesc, static_cast<AttrNumber>(i + 1));
    TupleDescInitEntry(ndesc, static_cast<AttrNumber>(n + 1), "__pm_n", INT8OID, -1, 0);
    TupleDescInitEntry(ndesc, static_cast<AttrNumber>(n + 2), "__pm_id", INT8OID, -1, 0);
    Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
    int64 to_delete = 0, to_insert = 0, id = 0, nrows = 0;
    const NetDelta *kept = netted.data;  // every netted row is kept (net != 0)
    const uint64 nrows_kept = static_cast<uint64>(netted.n);
    for (int d = 0; d < netted.n; ++d) {
        int64 net = netted[d].net;
        heap_deform_tuple(tuptable->vals[netted[d].row], ddesc, values, nulls);
        values[n] = Int64GetDatum(net);
        nulls[n] = false;
        values[n + 1] = Int64GetDatum(++id);
        nulls[n + 1] = false;
        tuplestore_putvalues(ts, ndesc, values, nulls);
        ++nrows;
        if (net < 0) to_delete -= net;
        else to_insert += net;
    }
    if (nrows == 0) {
        tuplestore_end(ts);
        return 0;
    }
    EphemeralNamedRelation enr = register_tuplestore("pm_net", ndesc, ts, static_cast<double>(nrows));

    // The statements' text only where it is needed: a cached plan of the insert is found by
    // its key alone (the text depends only on the view table, whose changes mark the cache
    // stale).
    const char *vname = nullptr;
    char *dcols = nullptr;
    auto names = [&] {
        if (vname != nullptr) return;
        vname = qualified_name(viewrel);
        dcols = view_columns_sql(viewrel, "d");
    };
    if (to_delete > 0) {
        names();
        const KeyCols *key_cols = key_index(viewrel);
        char *tcols = view_columns_sql(viewrel, "t");
        // Candidates by `=` on an index's columns where the view table has a usable one and no
        // row to delete has a NULL there (`=` never matches NULL), then the image recheck.
        const char *keyq = nullptr;
        if (key_cols != nullptr) {
            bool null_key = false;
            for (uint64 r = 0; r < nrows_kept && !null_key; ++r) {
                if (kept[r].net >= 0) continue;
                HeapTuple tup = tuptable->vals[kept[r].row];
                for (int k = 0; k < key_cols->n && !null_key; ++k)
                    null_key = heap_attisnull(tup, key_cols->pos[k] + 1, ddesc);
            }
            if (!null_key) keyq = key_cols->sql;
        }
        char *del = delete_sql(vname, tcols, dcols, keyq);
        if (debug_explain()) explain_apply(del);
        SPIPlanPtr plan = nrows <= kSmallDelta
                              ? cached_plan(psprintf("a%u:del%s", RelationGetRelid(viewrel), keyq != nullptr ? ":k" : ""), del)
                              : nullptr;
        // Each run deletes up to |n| copies per row and returns the row's id. A concurrent
        // deleter of identical copies (duplicates produced by other input rows) may have taken
        // a copy this run picked: it waited for that transaction's row lock and then skipped the
        // copy, gone. The remainder is retried under a fresh snapshot (READ COMMITTED: each SPI
        // statement takes one), which no longer shows the copies deleted meanwhile; at
        // REPEATABLE READ the delete of a concurrently deleted copy fails 40001 instead. Runs
        // that delete nothing three times in a row: the table lacks the rows (out of step).
        int64 *left = static_cast<int64 *>(palloc(sizeof(int64) * static_cast<size_t>(nrows_kept)));
        for (uint64 r = 0; r < nrows_kept; ++r) left[r] = kept[r].net < 0 ? -kept[r].net : 0;
        int64 remaining = to_delete;
        int idle = 0;
        bool ts_rebuilt = false;
        for (int attempt = 0;; ++attempt) {
            int rc = attempt == 0 && plan != nullptr ? execute_cached(plan) : SPI_execute(del, false, 0);
            if (rc != SPI_OK_DELETE_RETURNING) elog(ERROR, "view maintenance delete failed (%d)", rc);
            uint64 got = SPI_processed;
            for (uint64 i = 0; i < got; ++i) {
                bool isnull = false;
                Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
                int64 idv = isnull ? 0 : DatumGetInt64(d);
                if (idv < 1 || idv > static_cast<int64>(nrows_kept) || left[idv - 1] <= 0)
                    elog(ERROR, "view maintenance delete returned an unexpected row");
                --left[idv - 1];
            }
            remaining -= static_cast<int64>(got);
            if (remaining == 0) break;
            idle = got == 0 ? idle + 1 : 0;
            if (idle >= 3)
                ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                                errmsg("maintained view \"%s\" is out of step with its query",
                                       RelationGetRelationName(viewrel)),
                                errdetail("%lld rows to delete, %lld found.",
                                          static_cast<long long>(to_delete),
                                          static_cast<long long>(to_delete - remaining)),
                                errhint("Was the table written directly? parallel_material.refresh_view "
                                        "recomputes it.")));
            // pm_net again, with the remainder of each row still to delete (no inserts).
            SPI_unregister_relation("pm_net");
            tuplestore_end(ts);
            ts = tuplestore_begin_heap(false, false, work_mem);
            double kept_rows = 0;
            for (uint64 r = 0; r < nrows_kept; ++r) {
                if (left[r] <= 0) continue;
                heap_deform_tuple(tuptable->vals[kept[r].row], ddesc, values, nulls);
                values[n] = Int64GetDatum(-left[r]);
                nulls[n] = false;
                values[n + 1] = Int64GetDatum(static_cast<int64>(r + 1));
                nulls[n + 1] = false;
                tuplestore_putvalues(ts, ndesc, values, nulls);
                ++kept_rows;
            }
            enr->md.enrtuples = kept_rows;
            enr->reldata = ts;
            if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER) elog(ERROR, "SPI_register_relation failed");
            ts_rebuilt = true;
        }
        if (to_insert > 0 && ts_rebuilt) {
            // pm_net again, with the inserts only (the deletes are done).
            SPI_unregister_relation("pm_net");
            tuplestore_end(ts);
            ts = tuplestore_begin_heap(false, false, work_mem);
            double kept_rows = 0;
            for (uint64 r = 0; r < nrows_kept; ++r) {
                if (kept[r].net <= 0) continue;
                heap_deform_tuple(tuptable->vals[kept[r].row], ddesc, values, nulls);
                values[n] = Int64GetDatum(kept[r].net);
                nulls[n] = false;
                values[n + 1] = Int64GetDatum(static_cast<int64>(r + 1));
                nulls[n + 1] = false;
                tuplestore_putvalues(ts, ndesc, values, nulls);
                ++kept_rows;
            }
            enr->md.enrtuples = kept_rows;
            enr->reldata = ts;
            if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER) elog(ERROR, "SPI_register_relation failed");
        }
    }
    if (to_insert > 0) {
        char key[32];
        snprintf(key, sizeof(key), "a%u:ins", RelationGetRelid(viewrel));
        const bool small = nrows <= kSmallDelta;
        SPIPlanPtr plan = small ? find_cached_plan(key) : nullptr;
        char *ins = nullptr;
        if (plan == nullptr) {
            names();
            ins = psprintf(
                "INSERT INTO %s (%s) SELECT %s FROM pm_net d, "
                "pg_catalog.generate_series(1::pg_catalog.int8, d.__pm_n) g "
                "WHERE d.__pm_n OPERATOR(pg_catalog.>) 0",
                vname, view_columns_sql(viewrel, nullptr), dcols);
            plan = small ? cached_plan(key, ins) : nullptr;
        }
        int rc = plan != nullptr ? execute_cached(plan) : SPI_execute(ins, false, 0);
        if (rc != SPI_OK_INSERT || static_cast<int64>(SPI_processed) != to_insert)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("maintained view \"%s\" did not take the rows to insert",
                                   RelationGetRelationName(viewrel)),
                            errdetail("%lld rows to insert, %lld inserted.",
                                      static_cast<long long>(to_insert),
                                      static_cast<long long>(SPI_processed)),
                            errhint("Is there a rule on the view table? Drop it.")));
    }
    SPI_unregister_relation("pm_net");
    tuplestore_end(ts);
    return to_delete + to_insert;
}

int64 recompute(Oid viewrelid, const char *query_sql) {
    Relation viewrel = relation_open(viewrelid, NoLock);
    const char *vname = qualified_name(viewrel);
    char *cols = view_columns_sql(viewrel, nullptr);
    relation_close(viewrel, NoLock);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(psprintf("DELETE FROM ONLY %s", vname), false, 0);
    if (rc != SPI_OK_DELETE) elog(ERROR, "view recompute delete failed (%d)", rc);
    rc = SPI_execute(psprintf("INSERT INTO %s (%s) %s", vname, cols, query_sql), false, 0);
    if (rc != SPI_OK_INSERT) elog(ERROR, "view recompute insert failed (%d)", rc);
    int64 n = static_cast<int64>(SPI_processed);
    SPI_finish();
    return n;
}

}  // namespace pm::pg::views
