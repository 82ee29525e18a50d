// view_delta.cpp — the delta query of a view (docs/views.md, "Maintenance"). With every input
// at its new state N (the statements have run) and each changed input T given as inserted rows
// I_T and deleted rows D_T (its transition tables, Δ_T = I_T - D_T), the change of the join is
//     Q(new) - Q(old) = Σ over non-empty sets S of changed positions of (-1)^(|S|+1) ×
//                       Q with Δ at the positions of S and N elsewhere,
// (inclusion-exclusion of old = N - Δ at every position; a self-join Δ(A⋈A) = ΔA⋈A + A⋈ΔA -
// ΔA⋈ΔA). Each Δ position is expanded into its I and D parts with signs +1 and -1. A term is
// the analyzed query with the range-table entries of S turned into ephemeral named relations
// (the copied transition tables; deparsed as CTE references, see to_delta_rte) and a constant sign column, deparsed to SQL; the terms are
// joined with UNION ALL and run through SPI, so the planner plans each term from its (small)
// delta outwards and probes the other inputs through their arrangements (ArrangementJoin).
#include "pg/views/views.hpp"
#include "pg/inval.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

char *delta_enr_name(Oid relid, bool deleted) {
    char *name = static_cast<char *>(palloc(20));  // "pm_old_" + up to 10 digits (every run)
    memcpy(name, deleted ? "pm_old_" : "pm_new_", 7);
    name[7 + pg_ultoa_n(relid, name + 7)] = '\0';
    return name;
}

namespace {

// Turns range-table entry rte (a relation) into a scan of the ephemeral relation holding its
// inserted or deleted rows; column names and types come from the relation as it is now.
void to_delta_rte(RangeTblEntry *rte, bool deleted, int64 nrows) {
    Relation rel = relation_open(rte->relid, NoLock);  // locked by the writing statement
    TupleDesc desc = RelationGetDescr(rel);
    List *names = NIL, *types = NIL, *typmods = NIL, *colls = NIL;
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        names = lappend(names, makeString(pstrdup(a->attisdropped ? "" : NameStr(a->attname))));
        types = lappend_oid(types, a->attisdropped ? InvalidOid : a->atttypid);
        typmods = lappend_int(typmods, a->attisdropped ? -1 : a->atttypmod);
        colls = lappend_oid(colls, a->attisdropped ? InvalidOid : a->attcollation);
    }
    const char *alias = rte->alias != nullptr ? rte->alias->aliasname : rte->eref->aliasname;
    if (rte->alias == nullptr) rte->alias = makeAlias(alias, NIL);
    rte->eref = makeAlias(rte->eref->aliasname, names);
    // Deparsed as a reference to a CTE of that name, which the query does not define: ruleutils
    // has no case for ephemeral named relations (PostgreSQL 15), and the parser resolves an
    // unqualified name that is not a CTE to the ephemeral relation registered under it.
    (void)nrows;
    rte->ctename = delta_enr_name(rte->relid, deleted);
    rte->ctelevelsup = 0;
    rte->self_reference = false;
    rte->coltypes = types;
    rte->coltypmods = typmods;
    rte->colcollations = colls;
    rte->rtekind = RTE_CTE;
    rte->relid = InvalidOid;
    rte->relkind = 0;
    rte->inh = false;
    relation_close(rel, NoLock);
}

}  // namespace

char *delta_query_sql(Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel) {
    LeftJoins ljs;
    if (left_joins(q, &ljs, false) > 0) return left_delta_sql(q, deltas, viewrel, ljs);
    return delta_terms_sql(q, deltas, nullptr);
}

char *delta_terms_sql(Query *q, const PgArray<DeltaInput> &deltas, Bitmapset *skip) {
    // Changed positions and the parts (inserted, deleted) each has.
    struct Pos {
        int rtindex;
        int64 ins;  // rows, -1 when none
        int64 del;
    };
    PgArray<Pos> pos;
    int rtindex = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        ++rtindex;
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind != RTE_RELATION || bms_is_member(rtindex, skip)) continue;
        Pos p{rtindex, -1, -1};
        for (const auto &d : deltas)
            if (d.relid == rte->relid) (d.deleted ? p.del : p.ins) = d.nrows;
        if (p.ins >= 0 || p.del >= 0) pos.push(p);
    }
    // Each position: 0 = new state, 1 = inserted rows, 2 = deleted rows.
    int *choice = static_cast<int *>(palloc0(sizeof(int) * static_cast<size_t>(pos.size() + 1)));
    StringInfoData sql;
    initStringInfo(&sql);
    int terms = 0;
    for (;;) {
        int i = 0;  // next assignment (odometer), skipping parts that do not exist
        for (; i < pos.size(); ++i) {
            int c = choice[i] + 1;
            while (c <= 2 && ((c == 1 && pos[i].ins < 0) || (c == 2 && pos[i].del < 0))) ++c;
            if (c <= 2) {
                choice[i] = c;
                break;
            }
            choice[i] = 0;
        }
        if (i == pos.size()) break;
        if (++terms > kMaxDeltaTerms) return nullptr;
        Query *t = static_cast<Query *>(copyObject(q));
        int nsel = 0, ndel = 0;
        for (int j = 0; j < pos.size(); ++j) {
            if (choice[j] == 0) continue;
            ++nsel;
            if (choice[j] == 2) ++ndel;
            to_delta_rte(rt_fetch(pos[j].rtindex, t->rtable), choice[j] == 2,
                         choice[j] == 2 ? pos[j].del : pos[j].ins);
        }
        int sign = ((nsel + 1) % 2 == 0 ? 1 : -1) * (ndel % 2 == 0 ? 1 : -1);
        Const *c = makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(sign), false, true);
        t->targetList = lappend(t->targetList,
                                makeTargetEntry(reinterpret_cast<Expr *>(c),
                                                static_cast<AttrNumber>(list_length(t->targetList) + 1),
                                                pstrdup("__pm_sign"), false));
        char *term = deparse_qualified(t);
        int len = static_cast<int>(strlen(term));
        while (len > 0 && (term[len - 1] == ';' || term[len - 1] == ' ' || term[len - 1] == '\n'))
            term[--len] = '\0';
        if (sql.len > 0) appendStringInfoString(&sql, "\nUNION ALL\n");
        appendStringInfo(&sql, "(%s)", term);
    }
    return sql.data;
}

// Deparsed delta queries, per backend, by (view, which inputs have inserted / deleted rows).
// The text names tables, columns, functions, operators and types as they are now: any relcache
// invalidation (a rename, ALTER TABLE) or change of a function, operator, type or schema
// empties the cache.
namespace {
constexpr int kCachedSql = 128;
struct CachedSql {
    char *key;
    char *sql;
};
CachedSql *g_sql = nullptr;
int g_nsql = 0;
MemoryContext g_sql_cxt = nullptr;

void forget_sql() {
    g_nsql = 0;
    if (g_sql_cxt != nullptr) {
        MemoryContextReset(g_sql_cxt);
        g_sql = nullptr;
    }
}

}  // namespace

// The cache key of a delta query: view id, then the (relation, part) pairs present, in a
// fixed order.
char *delta_cache_key(int64 viewid, const PgArray<DeltaInput> &deltas) {
    StringInfoData key;
    initStringInfo(&key);
    // Formatted without appendStringInfo's printf (every maintenance run builds it).
    char num[24];
    appendStringInfoChar(&key, 'd');  // "d": a delta query's plan key too
    appendBinaryStringInfo(&key, num, pg_lltoa(viewid, num));
    int ncols = deltas.size();
    bool *done = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(ncols + 1)));
    for (int k = 0; k < ncols; ++k) {
        int best = -1;
        for (int i = 0; i < ncols; ++i) {
            if (done[i]) continue;
            if (best < 0 || deltas[i].relid < deltas[best].relid ||
                (deltas[i].relid == deltas[best].relid && deltas[i].deleted && !deltas[best].deleted))
                best = i;
        }
        done[best] = true;
        appendStringInfoChar(&key, ':');
        appendBinaryStringInfo(&key, num, pg_ultoa_n(deltas[best].relid, num));
        appendStringInfoChar(&key, deltas[best].deleted ? '-' : '+');
    }
    return key.data;
}

char *delta_query_sql_cached(int64 viewid, Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel,
                             const char *key) {
    if (g_sql_cxt == nullptr) {
        g_sql_cxt = AllocSetContextCreate(CacheMemoryContext, "parallel_material view deltas",
                                          ALLOCSET_DEFAULT_SIZES);
        pm::pg::on_plan_inval(forget_sql);
    }
    if (key == nullptr) key = delta_cache_key(viewid, deltas);
    for (int i = 0; i < g_nsql; ++i)
        if (strcmp(g_sql[i].key, key) == 0) return g_sql[i].sql;
    LeftJoins ljs;
    char *sql = is_aggregate_query(q) && left_joins(q, &ljs, false) > 0
                    ? left_agg_delta_sql(q, deltas, ljs)
                    : delta_query_sql(delta_source_query(q), deltas, viewrel);  // only on a miss (aggregates: a copy)
    if (sql == nullptr) return nullptr;
    if (g_sql == nullptr || g_nsql == kCachedSql) {
        MemoryContextReset(g_sql_cxt);
        g_sql = static_cast<CachedSql *>(MemoryContextAllocZero(g_sql_cxt, sizeof(CachedSql) * kCachedSql));
        g_nsql = 0;
    }
    g_sql[g_nsql].key = MemoryContextStrdup(g_sql_cxt, key);
    g_sql[g_nsql].sql = MemoryContextStrdup(g_sql_cxt, sql);
    return g_sql[g_nsql++].sql;
}

}  // namespace pm::pg::views
