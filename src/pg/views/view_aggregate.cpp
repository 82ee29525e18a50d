// view_aggregate.cpp — aggregate and DISTINCT views (docs/views.md, "Aggregate and DISTINCT
// views"): GROUP BY with count(*), count(x), sum, avg, min, max over the inner equi-joins the
// join views support, SELECT DISTINCT (a GROUP BY of every output column), and the same
// aggregates without GROUP BY (a one-row view: one group with no key, whose row stays when its
// count reaches 0, with counts 0 and the other aggregates NULL, as the query over no row
// gives). The view table holds one row per group: the query's columns, then hidden ones —
//   __pm_key_<i>  a GROUP BY expression the query does not output (the group's identity)
//   __pm_count    rows in the group (the group goes when it reaches 0)
//   __pm_nn_<j>   non-NULL arguments of sum/avg number j (sum is NULL when it is 0)
//   __pm_sum_<j>  the sum behind avg number j (avg = sum::numeric / nn::numeric, as PostgreSQL's)
// Maintenance: the delta query is the join before grouping (delta_source_query: group keys and
// aggregate arguments as columns), computed by view_delta.cpp as for a join view; here it is
// netted per row (binary image), grouped per key, and applied: groups whose count reaches 0 are
// deleted, others updated, new ones inserted; a group that lost its min or max (a deleted value
// not beyond the current extreme) or a deleted value of a numeric sum (whose display scale may
// shrink) is recomputed through the query restricted to its key.
#include <algorithm>

#include "pg/views/views.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_aggregate.h"
#include "common/hashfn.h"
#include "catalog/pg_am.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

namespace {

[[noreturn]] void refuse(const char *construct, const char *hint = nullptr) {
    refuse_construct(construct, hint != nullptr
                                    ? hint
                                    : "Supported in aggregate views: count(*), count(x), sum, avg, min, "
                                      "max as whole output columns, with or without a GROUP BY of columns "
                                      "or immutable expressions, or SELECT DISTINCT.");
}

enum AggKind { kCountStar, kCount, kSum, kAvg, kMin, kMax };

struct KeyCol {
    const char *col;  // quoted view column name
    Oid type;
    Oid eqop;
    TargetEntry *tle;  // in the normalized query
    Oid sortop_unused;
};

struct AggCol {
    AggKind kind;
    const char *col;  // quoted view column name
    int arg;          // 1-based argument column __pm_a<arg> of the base query, 0 for count(*)
    Oid argtype;
    Oid sumtype;      // sum/avg: the type of the sum (int8 or numeric)
    bool numeric;     // sum/avg of numeric
    Oid cmpop;        // min: <, max: > (the aggregate's sort operator)
    Oid aggfnoid;
    int hidden;       // j of __pm_nn_<j> / __pm_sum_<j>
    Aggref *aggref;
};

struct Shape {
    Query *q;  // normalized: DISTINCT turned into GROUP BY
    bool scalar = false;  // aggregates without GROUP BY: one row, even over no input row
    bool having = false;  // HAVING: every changed group is recomputed
    bool recompute_all = false;  // HAVING or a LEFT JOIN: every changed group is recomputed
    List *having_aggs = NIL;  // its aggregates (their arguments end the delta's columns)
    PgArray<KeyCol> keys;
    PgArray<AggCol> aggs;
    PgArray<TargetEntry *> args;  // aggregate arguments (base query columns after the keys)
};

const char *op_sql(Oid op) {
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(op));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for operator %u", op);
    Form_pg_operator o = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tup));
    const char *s = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(o->oprnamespace)),
                             NameStr(o->oprname));
    ReleaseSysCache(tup);
    return s;
}

const char *func_sql(Oid fn) {
    return quote_qualified_identifier(get_namespace_name(get_func_namespace(fn)), get_func_name(fn));
}

const char *type_sql(Oid type) { return format_type_be_qualified(type); }

Query *normalize(Query *q) {
    Query *n = static_cast<Query *>(copyObject(q));
    if (n->distinctClause != NIL) {
        n->groupClause = n->distinctClause;
        n->distinctClause = NIL;
    }
    return n;
}

// A supported aggregate's description (col: its quoted view column); refuses any other.
AggCol classify(Aggref *ag, const char *col) {
    if (ag->agglevelsup != 0) refuse("outer aggregates");
    if (ag->aggkind != AGGKIND_NORMAL || ag->aggdirectargs != NIL)
        refuse("ordered-set or hypothetical-set aggregates");
    if (ag->aggdistinct != NIL) refuse("DISTINCT aggregates (count(DISTINCT x))");
    if (ag->aggorder != NIL) refuse("ORDER BY in aggregates");
    if (ag->aggfilter != nullptr) refuse("FILTER in aggregates");
    if (ag->aggvariadic) refuse("VARIADIC aggregates");
    const char *name = get_func_name(ag->aggfnoid);
    bool catalog = get_func_namespace(ag->aggfnoid) == PG_CATALOG_NAMESPACE;
    AggCol a{};
    a.col = col;
    a.aggfnoid = ag->aggfnoid;
    a.aggref = ag;
    if (catalog && strcmp(name, "count") == 0 && ag->aggstar) a.kind = kCountStar;
    else if (catalog && strcmp(name, "count") == 0) a.kind = kCount;
    else if (catalog && strcmp(name, "sum") == 0) a.kind = kSum;
    else if (catalog && strcmp(name, "avg") == 0) a.kind = kAvg;
    else if (catalog && strcmp(name, "min") == 0) a.kind = kMin;
    else if (catalog && strcmp(name, "max") == 0) a.kind = kMax;
    else refuse(psprintf("the aggregate %s", name));
    if (a.kind != kCountStar) {
        if (list_length(ag->args) != 1) refuse(psprintf("the aggregate %s with several arguments", name));
        TargetEntry *arg = linitial_node(TargetEntry, ag->args);
        a.argtype = exprType(reinterpret_cast<Node *>(arg->expr));
    }
    if (a.kind == kSum || a.kind == kAvg) {
        if (a.argtype != INT2OID && a.argtype != INT4OID && a.argtype != INT8OID &&
            a.argtype != NUMERICOID)
            refuse(psprintf("%s of %s", name, format_type_be(a.argtype)),
                   "Supported: sum and avg of smallint, integer, bigint and numeric "
                   "(a floating-point sum depends on the order of its additions).");
        a.sumtype = (a.argtype == INT2OID || a.argtype == INT4OID) ? INT8OID : NUMERICOID;
        a.numeric = a.argtype == NUMERICOID;
    }
    if (a.kind == kMin || a.kind == kMax) {
        HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(ag->aggfnoid));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for aggregate %u", ag->aggfnoid);
        a.cmpop = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(tup))->aggsortop;
        ReleaseSysCache(tup);
        if (!OidIsValid(a.cmpop)) refuse(psprintf("%s of %s", name, format_type_be(a.argtype)));
    }
    return a;
}

// The view's shape; refuses what is not supported (the allowlist).
Shape describe(Query *q) {
    if (q->hasDistinctOn) refuse("DISTINCT ON");
    if (q->distinctClause != NIL && (q->hasAggs || q->groupClause != NIL))
        refuse("DISTINCT together with GROUP BY or aggregates");
    if (q->groupingSets != NIL) refuse("GROUPING SETS, ROLLUP or CUBE");
    Shape s;
    s.q = normalize(q);
    s.scalar = s.q->groupClause == NIL;  // aggregates without GROUP BY: exactly one row
    s.having = s.q->havingQual != nullptr;
    s.recompute_all = s.having || has_outer_join(s.q);
    if (s.having) {
        // Its aggregates: those supported as output columns (the same checks, results unused).
        List *aggs = pull_var_clause(s.q->havingQual, PVC_INCLUDE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
                                                         PVC_RECURSE_PLACEHOLDERS);
        ListCell *hc;
        foreach (hc, aggs)
            if (IsA(lfirst(hc), Aggref)) (void)classify(castNode(Aggref, lfirst(hc)), "HAVING");
        s.having_aggs = aggs;
    }
    ListCell *lc;
    foreach (lc, s.q->targetList) {
        TargetEntry *te = static_cast<TargetEntry *>(lfirst(lc));
        SortGroupClause *sgc = te->ressortgroupref != 0
                                   ? get_sortgroupref_clause_noerr(te->ressortgroupref, s.q->groupClause)
                                   : nullptr;
        if (sgc != nullptr) {
            Oid type = exprType(reinterpret_cast<Node *>(te->expr));
            if (type_is_rowtype(type) || get_typtype(type) == TYPTYPE_COMPOSITE)
                refuse("GROUP BY or DISTINCT of a composite (row) value",
                       "Group by the row's columns.");
            if (!OidIsValid(sgc->eqop)) refuse("GROUP BY of a type without equality");
            KeyCol k{};
            k.col = te->resjunk ? psprintf("__pm_key_%d", s.keys.size() + 1) : quote_identifier(te->resname);
            k.type = type;
            k.eqop = sgc->eqop;
            k.tle = te;
            s.keys.push(k);
            continue;
        }
        if (te->resjunk) refuse("this query (a hidden output column)");
        if (te->expr == nullptr || !IsA(te->expr, Aggref))
            refuse("output columns other than grouping expressions and single aggregates",
                   "Each output column must be a GROUP BY expression or one of count(*), count(x), "
                   "sum(x), avg(x), min(x), max(x); compute expressions over them when reading.");
        AggCol a = classify(castNode(Aggref, te->expr), quote_identifier(te->resname));
        if (a.kind != kCountStar) {
            s.args.push(linitial_node(TargetEntry, a.aggref->args));
            a.arg = s.args.size();
        }
        if (a.kind == kSum || a.kind == kAvg) a.hidden = s.aggs.size() + 1;
        s.aggs.push(a);
    }
    // The arguments of HAVING's aggregates are delta columns too (after the outputs'): a change
    // of one alone (an UPDATE of a column only HAVING reads) must not net away.
    ListCell *hc;
    foreach (hc, s.having_aggs) {
        if (!IsA(lfirst(hc), Aggref)) continue;
        Aggref *ag = castNode(Aggref, lfirst(hc));
        if (!ag->aggstar) s.args.push(linitial_node(TargetEntry, ag->args));
    }
    return s;
}

TargetEntry *tle(Expr *e, int resno, const char *name) {
    return makeTargetEntry(e, static_cast<AttrNumber>(resno), pstrdup(name), false);
}

Aggref *count_star() {
    Aggref *a = makeNode(Aggref);
    a->aggfnoid = F_COUNT_;
    a->aggtype = INT8OID;
    a->aggtranstype = INT8OID;
    a->aggstar = true;
    a->aggkind = AGGKIND_NORMAL;
    a->aggsplit = AGGSPLIT_SIMPLE;
    a->aggno = -1;
    a->aggtransno = -1;
    a->location = -1;
    return a;
}

// The query that fills the table: the normalized query, hidden group keys made columns, and the
// hidden aggregates appended.
Query *ext_query(const Shape &s) {
    Query *e = static_cast<Query *>(copyObject(s.q));
    int resno = 0;
    int keyno = 0;
    ListCell *lc;
    foreach (lc, e->targetList) {
        TargetEntry *te = static_cast<TargetEntry *>(lfirst(lc));
        ++resno;
        if (te->ressortgroupref != 0 && get_sortgroupref_clause_noerr(te->ressortgroupref, e->groupClause) != nullptr) {
            ++keyno;
            if (te->resjunk) {
                te->resjunk = false;
                te->resname = psprintf("__pm_key_%d", keyno);
            }
        }
    }
    e->targetList = lappend(e->targetList, tle(reinterpret_cast<Expr *>(count_star()), ++resno, "__pm_count"));
    for (const AggCol &a : s.aggs) {
        if (a.kind != kSum && a.kind != kAvg) continue;
        Aggref *nn = static_cast<Aggref *>(copyObject(a.aggref));
        nn->aggfnoid = F_COUNT_ANY;
        nn->aggtype = INT8OID;
        nn->aggtranstype = INT8OID;
        nn->aggcollid = InvalidOid;
        e->targetList = lappend(e->targetList, tle(reinterpret_cast<Expr *>(nn), ++resno,
                                                   psprintf("__pm_nn_%d", a.hidden)));
        if (a.kind == kAvg) {
            Aggref *sum = static_cast<Aggref *>(copyObject(a.aggref));
            Oid argtype = a.argtype;
            sum->aggfnoid = LookupFuncName(list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("sum"))),
                                           1, &argtype, false);
            sum->aggtype = a.sumtype;
            e->targetList = lappend(e->targetList, tle(reinterpret_cast<Expr *>(sum), ++resno,
                                                       psprintf("__pm_sum_%d", a.hidden)));
        }
    }
    e->hasAggs = true;
    return e;
}

// The join before grouping: __pm_k<i> (group keys), __pm_a<j> (aggregate arguments).
Query *base_query(const Shape &s) {
    Query *b = static_cast<Query *>(copyObject(s.q));
    List *tl = NIL;
    int resno = 0;
    for (int i = 0; i < s.keys.size(); ++i)
        tl = lappend(tl, tle(static_cast<Expr *>(copyObject(s.keys[i].tle->expr)), ++resno,
                             psprintf("__pm_k%d", i + 1)));
    for (int j = 0; j < s.args.size(); ++j)
        tl = lappend(tl, tle(static_cast<Expr *>(copyObject(s.args[j]->expr)), ++resno,
                             psprintf("__pm_a%d", j + 1)));
    b->targetList = tl;
    b->groupClause = NIL;
    b->distinctClause = NIL;
    b->hasAggs = false;
    b->havingQual = nullptr;
    return b;
}

// ---- apply ----

void spi(const char *sql, int expect) {
    int rc = SPI_execute(sql, false, 0);
    if (rc != expect) elog(ERROR, "aggregate view maintenance failed (%d): %s", rc, sql);
}

// The same through the plan cache (view_plan_cache.cpp) for a small delta: key names the
// statement and everything its text depends on besides the view table's definition (a change
// of which marks the cache stale).
void spi_cached(const char *key, const char *sql, int expect, bool small) {
    SPIPlanPtr plan = small ? cached_plan(key, sql) : nullptr;
    int rc = plan != nullptr ? execute_cached(plan) : SPI_execute(sql, false, 0);
    if (rc != expect) elog(ERROR, "aggregate view maintenance failed (%d): %s", rc, sql);
}

// Copies the current SPI result (columns [0, ncols)) into a tuplestore registered as name.
void register_result(const char *name, int ncols, TupleDesc *desc_out) {
    TupleDesc src = SPI_tuptable->tupdesc;
    TupleDesc desc = CreateTemplateTupleDesc(ncols);
    for (int i = 0; i < ncols; ++i)
        TupleDescCopyEntry(desc, static_cast<AttrNumber>(i + 1), src, static_cast<AttrNumber>(i + 1));
    Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(src->natts + 1)));
    bool *nulls = static_cast<bool *>(palloc(sizeof(bool) * static_cast<size_t>(src->natts + 1)));
    for (uint64 r = 0; r < SPI_processed; ++r) {
        heap_deform_tuple(SPI_tuptable->vals[r], src, values, nulls);
        tuplestore_putvalues(ts, desc, values, nulls);
    }
    (void)register_tuplestore(name, desc, ts, static_cast<double>(SPI_processed));
    if (desc_out != nullptr) *desc_out = desc;
}

// v.<key col> matches x.__pm_k<i> for every key (NULLs match NULLs where nullable[i]).
char *key_match(const Shape &s, const char *x, const bool *nullable) {
    StringInfoData m;
    initStringInfo(&m);
    if (s.keys.empty()) appendStringInfoString(&m, "true");  // a one-row view: its only row
    for (int i = 0; i < s.keys.size(); ++i) {
        if (i > 0) appendStringInfoString(&m, " AND ");
        const char *op = op_sql(s.keys[i].eqop);
        if (nullable[i])
            appendStringInfo(&m, "(v.%s %s %s.__pm_k%d OR (v.%s IS NULL AND %s.__pm_k%d IS NULL))",
                             s.keys[i].col, op, x, i + 1, s.keys[i].col, x, i + 1);
        else
            appendStringInfo(&m, "v.%s %s %s.__pm_k%d", s.keys[i].col, op, x, i + 1);
    }
    return m.data;
}

// The filling query restricted to the groups whose keys are in the ephemeral relation
// pm_regroup (__pm_k1..): a join of the query's inputs with it, so only those groups' rows are
// read (through equality with the key where the keys are not NULL).
char *restricted_fill_sql(const Shape &s, TupleDesc rdesc, const bool *nullable) {
    Query *e = ext_query(s);
    if (s.scalar) return deparse_qualified(e);  // one group: the whole query (one row)
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    List *names = NIL, *types = NIL, *typmods = NIL, *colls = NIL;
    for (int i = 0; i < rdesc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(rdesc, i);
        names = lappend(names, makeString(pstrdup(NameStr(a->attname))));
        types = lappend_oid(types, a->atttypid);
        typmods = lappend_int(typmods, a->atttypmod);
        colls = lappend_oid(colls, a->attcollation);
    }
    rte->rtekind = RTE_CTE;
    rte->ctename = pstrdup("pm_regroup");
    rte->ctelevelsup = 0;
    rte->alias = makeAlias("pm_regroup", NIL);
    rte->eref = makeAlias("pm_regroup", names);
    rte->coltypes = types;
    rte->coltypmods = typmods;
    rte->colcollations = colls;
    rte->inFromCl = true;
    e->rtable = lappend(e->rtable, rte);
    int rtindex = list_length(e->rtable);
    RangeTblRef *ref = makeNode(RangeTblRef);
    ref->rtindex = rtindex;
    e->jointree->fromlist = lappend(e->jointree->fromlist, ref);
    List *quals = NIL;
    for (int i = 0; i < s.keys.size(); ++i) {
        // the key expression of the normalized query (same range table as e)
        Expr *k = static_cast<Expr *>(copyObject(s.keys[i].tle->expr));
        Form_pg_attribute a = TupleDescAttr(rdesc, i);
        Var *v = makeVar(rtindex, static_cast<AttrNumber>(i + 1), a->atttypid, a->atttypmod, a->attcollation, 0);
        Oid coll = exprCollation(reinterpret_cast<Node *>(k));
        OpExpr *eq = reinterpret_cast<OpExpr *>(make_opclause(s.keys[i].eqop, BOOLOID, false, k,
                                                              reinterpret_cast<Expr *>(v), InvalidOid, coll));
        eq->opfuncid = get_opcode(s.keys[i].eqop);
        Expr *q = reinterpret_cast<Expr *>(eq);
        if (nullable[i]) {
            NullTest *n1 = makeNode(NullTest);
            n1->arg = static_cast<Expr *>(copyObject(k));
            n1->nulltesttype = IS_NULL;
            n1->location = -1;
            NullTest *n2 = makeNode(NullTest);
            n2->arg = reinterpret_cast<Expr *>(copyObject(v));
            n2->nulltesttype = IS_NULL;
            n2->location = -1;
            q = makeBoolExpr(OR_EXPR, list_make2(q, makeBoolExpr(AND_EXPR, list_make2(n1, n2), -1)), -1);
        }
        quals = lappend(quals, q);
    }
    Node *extra = reinterpret_cast<Node *>(make_ands_explicit(quals));
    e->jointree->quals = make_and_qual(e->jointree->quals, extra);
    return deparse_qualified(e);
}

// The binary images of a result's rows, sorted (a multiset to compare).
struct Image {
    const char *p;
    int len;
};
int cmp_image(const void *a, const void *b) {
    const Image *x = static_cast<const Image *>(a), *y = static_cast<const Image *>(b);
    int c = memcmp(x->p, y->p, static_cast<size_t>(std::min(x->len, y->len)));
    return c != 0 ? c : (x->len < y->len ? -1 : x->len > y->len ? 1 : 0);
}
PgArray<Image> images(SPITupleTable *tt, uint64 n) {
    PgArray<Image> out;
    TupleDesc desc = tt->tupdesc;
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(desc->natts + 1)));
    bool *nulls = static_cast<bool *>(palloc(sizeof(bool) * static_cast<size_t>(desc->natts + 1)));
    for (uint64 r = 0; r < n; ++r) {
        heap_deform_tuple(tt->vals[r], desc, values, nulls);
        StringInfoData key;
        initStringInfo(&key);
        image_key(desc, desc->natts, values, nulls, &key);
        out.push(Image{key.data, key.len});
    }
    if (out.n > 1) qsort(out.data, static_cast<size_t>(out.n), sizeof(Image), cmp_image);
    return out;
}

// Inserts the groups whose keys are in the registered ephemeral relation pm_regroup (rdesc),
// recomputed through the query restricted to them (with its HAVING: only those that pass it).
// Read-only, of the inputs only, every statement on them ended: the arrangements may be trusted
// as during the delta query (view_trigger.cpp). The insert into the view table runs untrusted
// (its triggers are the user's). Returns the rows inserted.
int64 refill_groups(Relation viewrel, const Shape &s, TupleDesc rdesc, const bool *nullable,
                    const char *vname) {
    char *fill = restricted_fill_sql(s, rdesc, nullable);
    PgArray<Oid> relids;
    ListCell *rc;
    foreach (rc, s.q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(rc));
        if (rte->rtekind == RTE_RELATION && !relids.contains(rte->relid)) relids.push(rte->relid);
    }
    // REPEATABLE READ / SERIALIZABLE: the transaction snapshot may miss rows of these groups
    // that another transaction committed after it (through join keys ours do not meet, so the
    // delta query's check did not see them; a group failing its HAVING has no row that the group
    // check could see change): the groups computed under the latest snapshot must be the same.
    PgArray<Image> latest;
    bool check = IsolationUsesXactSnapshot() && locks_enabled();
    if (check) {
        SPIPlanPtr plan = SPI_prepare(fill, 0, nullptr);
        if (plan == nullptr) elog(ERROR, "SPI_prepare of the group recompute failed (%d)", SPI_result);
        trust_inputs(relids);
        int rc = SPI_execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, false,
                                      false, 0);
        reset_trust();
        if (rc != SPI_OK_SELECT) elog(ERROR, "aggregate view group recompute failed (%d)", rc);
        latest = images(SPI_tuptable, SPI_processed);
        SPI_freeplan(plan);
    }
    trust_inputs(relids);
    int rcode = SPI_execute(fill, false, 0);  // false: a fresh snapshot (sees this statement)
    reset_trust();
    if (rcode != SPI_OK_SELECT) elog(ERROR, "aggregate view group recompute failed (%d)", rcode);
    if (check) {
        PgArray<Image> mine = images(SPI_tuptable, SPI_processed);
        bool same = mine.n == latest.n;
        for (int i = 0; same && i < mine.n; ++i)
            same = mine[i].len == latest[i].len && memcmp(mine[i].p, latest[i].p, static_cast<size_t>(mine[i].len)) == 0;
        if (!same)
            ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                            errmsg("could not serialize access due to a concurrent write of a "
                                   "maintained view's input"),
                            errdetail("Another transaction committed rows of a group this "
                                      "transaction recomputes after its snapshot was taken."),
                            errhint("The transaction might succeed if retried.")));
    }
    register_result("pm_refill", SPI_tuptable->tupdesc->natts, nullptr);
    char *allcols = view_columns_sql(viewrel, nullptr);
    spi(psprintf("INSERT INTO %s (%s) SELECT * FROM pm_refill", vname, allcols), SPI_OK_INSERT);
    SPI_unregister_relation("pm_refill");
    SPI_unregister_relation("pm_regroup");
    return static_cast<int64>(SPI_processed);
}

const char *qualified_name(Relation rel) {
    return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                      RelationGetRelationName(rel));
}

}  // namespace

bool is_aggregate_query(Query *q) {
    return q->hasAggs || q->groupClause != NIL || q->distinctClause != NIL || q->groupingSets != NIL ||
           q->havingQual != nullptr;
}

void check_aggregate_query(Query *q) { (void)describe(q); }

bool is_one_row_view(Query *q) {
    return is_aggregate_query(q) && q->groupClause == NIL && q->distinctClause == NIL;
}

char *view_fill_sql(Query *q) {
    if (!is_aggregate_query(q)) return deparse_qualified(q);
    return deparse_qualified(ext_query(describe(q)));
}

Query *delta_source_query(Query *q) {
    if (!is_aggregate_query(q)) return q;
    return base_query(describe(q));
}

void create_group_index(Oid viewrelid, Query *q) {
    if (!is_aggregate_query(q)) return;
    Shape s = describe(q);
    if (s.keys.empty()) return;  // a one-row view: nothing to look up
    StringInfoData cols;
    initStringInfo(&cols);
    for (int i = 0; i < s.keys.size(); ++i) {
        if (!OidIsValid(GetDefaultOpClass(s.keys[i].type, BTREE_AM_OID))) return;
        appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "", s.keys[i].col);
    }
    Relation rel = relation_open(viewrelid, NoLock);
    const char *name = qualified_name(rel);
    relation_close(rel, NoLock);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    spi(psprintf("CREATE INDEX ON %s (%s)", name, cols.data), SPI_OK_UTILITY);
    SPI_finish();
}

int64 apply_aggregate_delta(Relation viewrel, Query *q, SPITupleTable *tuptable, uint64 ntuples) {
    if (ntuples == 0) return 0;  // most single-row writes: nothing to net, register or run
    Shape s = describe(q);
    int nk = s.keys.size(), na = s.args.size(), n = nk + na;
    TupleDesc ddesc = tuptable->tupdesc;
    if (ddesc->natts != n + 1) elog(ERROR, "aggregate view delta has %d columns, expected %d", ddesc->natts, n + 1);

    // 1. Net the delta per row (binary image of keys and arguments): cross terms of the
    // inclusion-exclusion produce rows that cancel, which must not reach min/max.
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(n + 2)));
    bool *nulls = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(n + 2)));
    PgArray<NetDelta> netted = net_delta(tuptable, ntuples, n);
    TupleDesc ndesc = CreateTemplateTupleDesc(n + 1);
    for (int i = 0; i < n; ++i)
        TupleDescCopyEntry(ndesc, static_cast<AttrNumber>(i + 1), ddesc, static_cast<AttrNumber>(i + 1));
    TupleDescInitEntry(ndesc, static_cast<AttrNumber>(n + 1), "__pm_n", INT8OID, -1, 0);
    Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
    int64 nnet = 0;
    for (int d = 0; d < netted.n; ++d) {
        int64 net = netted[d].net;
        heap_deform_tuple(tuptable->vals[netted[d].row], ddesc, values, nulls);
        values[n] = Int64GetDatum(net);
        nulls[n] = false;
        tuplestore_putvalues(ts, ndesc, values, nulls);
        ++nnet;
    }
    if (nnet == 0) {
        tuplestore_end(ts);
        return 0;
    }
    (void)register_tuplestore("pm_dnet", ndesc, ts, static_cast<double>(nnet));

    // 2. Group the net delta per key: pm_gdelta(__pm_k<i>, __pm_dcnt, per aggregate j:
    // __pm_dnn_j, __pm_dsum_j, __pm_dins_j, __pm_ddel_j).
    StringInfoData g;
    initStringInfo(&g);
    appendStringInfoString(&g, "SELECT ");
    for (int i = 0; i < nk; ++i) appendStringInfo(&g, "d.__pm_k%d, ", i + 1);
    appendStringInfoString(&g, "pg_catalog.sum(d.__pm_n)::pg_catalog.int8 AS __pm_dcnt");
    for (int j = 0; j < s.aggs.size(); ++j) {
        const AggCol &a = s.aggs[j];
        int x = a.arg;
        switch (a.kind) {
        case kCountStar: break;
        case kCount:
        case kSum:
        case kAvg:
            appendStringInfo(&g, ", pg_catalog.sum(CASE WHEN d.__pm_a%d IS NOT NULL THEN d.__pm_n ELSE 0 END)::pg_catalog.int8 AS __pm_dnn_%d",
                             x, j);
            if (a.kind == kCount) break;
            appendStringInfo(&g, ", pg_catalog.sum((d.__pm_a%d)::%s * d.__pm_n) AS __pm_dsum_%d", x,
                             type_sql(a.sumtype), j);
            appendStringInfo(&g, ", pg_catalog.bool_or(d.__pm_n < 0 AND d.__pm_a%d IS NOT NULL) AS __pm_ddel_%d", x, j);
            break;
        case kMin:
        case kMax:
            appendStringInfo(&g, ", %s(d.__pm_a%d) FILTER (WHERE d.__pm_n > 0) AS __pm_dins_%d", func_sql(a.aggfnoid), x, j);
            appendStringInfo(&g, ", %s(d.__pm_a%d) FILTER (WHERE d.__pm_n < 0) AS __pm_ddel_%d", func_sql(a.aggfnoid), x, j);
            break;
        }
    }
    appendStringInfoString(&g, " FROM pm_dnet d");
    if (nk > 0) {
        appendStringInfoString(&g, " GROUP BY ");
        for (int i = 0; i < nk; ++i) appendStringInfo(&g, "%s%d", i > 0 ? ", " : "", i + 1);
    }
    const bool small = nnet <= kSmallDelta;  // pm_gdelta has at most as many rows
    const Oid viewrelid = RelationGetRelid(viewrel);
    spi_cached(psprintf("g%u:grp", viewrelid), g.data, SPI_OK_SELECT, small);
    // Lock the changed groups (by a hash of their keys) before looking them up: two runs on one
    // group through unrelated join keys take no common key lock (a one-row view's runs are
    // serialised before their delta query).
    if (!s.scalar) {
        bool whole = false;
        FmgrInfo *hf = static_cast<FmgrInfo *>(palloc0(sizeof(FmgrInfo) * static_cast<size_t>(nk)));
        Oid *colls = static_cast<Oid *>(palloc0(sizeof(Oid) * static_cast<size_t>(nk)));
        for (int i = 0; i < nk; ++i) {
            RegProcedure lh = InvalidOid, rh = InvalidOid;
            if (!get_op_hash_functions(s.keys[i].eqop, &lh, &rh) || !OidIsValid(lh)) {
                whole = true;
                break;
            }
            fmgr_info(lh, &hf[i]);
            colls[i] = exprCollation(reinterpret_cast<Node *>(s.keys[i].tle->expr));
        }
        int ng = static_cast<int>(SPI_processed);
        uint32 *hashes = static_cast<uint32 *>(palloc(sizeof(uint32) * static_cast<size_t>(ng + 1)));
        for (int r = 0; r < ng && !whole; ++r) {
            uint32 h = 0;
            for (int i = 0; i < nk; ++i) {
                bool isnull;
                Datum v = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i + 1, &isnull);
                uint32 kh = isnull ? 0x5bd1e995u : DatumGetUInt32(FunctionCall1Coll(&hf[i], colls[i], v));
                h = hash_combine(h, kh);
            }
            hashes[r] = h;
        }
        lock_groups(RelationGetRelid(viewrel), hashes, ng, whole);
    }
    bool *nullable = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(nk + 1)));
    for (uint64 r = 0; r < SPI_processed; ++r)
        for (int i = 0; i < nk; ++i) {
            bool isnull;
            (void)SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i + 1, &isnull);
            nullable[i] = nullable[i] || isnull;
        }
    register_result("pm_gdelta", SPI_tuptable->tupdesc->natts, nullptr);
    SPI_unregister_relation("pm_dnet");

    const char *vname = qualified_name(viewrel);
    const char *match = key_match(s, "d", nullable);
    if (!s.scalar) check_groups_unchanged(vname, match);  // REPEATABLE READ, SERIALIZABLE

    // With HAVING, every changed group is recomputed: whether it passes may change either way,
    // and a group that failed it has no row to update (its state is not kept).
    if (s.recompute_all) {
        spi(psprintf("DELETE FROM ONLY %s v USING pm_gdelta d WHERE %s", vname, match), SPI_OK_DELETE);
        int64 changed = static_cast<int64>(SPI_processed);
        StringInfoData k;
        initStringInfo(&k);
        for (int i = 0; i < nk; ++i) appendStringInfo(&k, "%sd.__pm_k%d", i > 0 ? ", " : "", i + 1);
        spi(psprintf("SELECT %s FROM pm_gdelta d", k.data), SPI_OK_SELECT);
        TupleDesc rdesc = nullptr;
        register_result("pm_regroup", nk, &rdesc);
        changed += refill_groups(viewrel, s, rdesc, nullable, vname);
        SPI_unregister_relation("pm_gdelta");
        tuplestore_end(ts);
        return changed;
    }

    // 3. One statement (its parts see the table as it was before it, and touch disjoint rows):
    //   del: groups whose count reaches 0 and groups to recompute (lost their min/max, or a
    //        deleted value of a numeric sum), remembered by the caller in pm_regroup;
    //   upd: the other existing groups, updated from the grouped delta;
    //   ins: new groups.
    // A count below 0 (deleted or inserted) means the table was written behind the
    // maintenance's back: an error.
    // A one-row view keeps its row when its count reaches 0 (the update below sets the empty
    // input's values: counts 0, everything else NULL); it is recomputed only when it keeps rows.
    StringInfoData regroup;
    initStringInfo(&regroup);
    appendStringInfoString(&regroup, s.scalar ? "false" : "v.__pm_count + d.__pm_dcnt <= 0");
    for (int j = 0; j < s.aggs.size(); ++j) {
        const AggCol &a = s.aggs[j];
        if (a.kind == kMin || a.kind == kMax)
            // the deleted extreme is not strictly beyond the current one (min: not min < deleted)
            appendStringInfo(&regroup, " OR (d.__pm_ddel_%d IS NOT NULL AND NOT (v.%s %s d.__pm_ddel_%d))", j,
                             a.col, op_sql(a.cmpop), j);
        else if ((a.kind == kSum || a.kind == kAvg) && a.numeric)
            appendStringInfo(&regroup, " OR d.__pm_ddel_%d", j);
    }
    char *gone = s.scalar ? psprintf("(v.__pm_count + d.__pm_dcnt > 0 AND COALESCE(%s, true))", regroup.data)
                          : psprintf("COALESCE(%s, true)", regroup.data);  // NULL: recompute, to be safe
    StringInfoData ret;
    initStringInfo(&ret);
    for (int i = 0; i < nk; ++i) appendStringInfo(&ret, "v.%s AS __pm_k%d, ", s.keys[i].col, i + 1);

    StringInfoData set;
    initStringInfo(&set);
    appendStringInfoString(&set, "__pm_count = v.__pm_count + d.__pm_dcnt");
    for (int j = 0; j < s.aggs.size(); ++j) {
        const AggCol &a = s.aggs[j];
        char *nn = psprintf("(v.__pm_nn_%d + d.__pm_dnn_%d)", a.hidden, j);
        switch (a.kind) {
        case kCountStar: appendStringInfo(&set, ", %s = v.%s + d.__pm_dcnt", a.col, a.col); break;
        case kCount: appendStringInfo(&set, ", %s = v.%s + d.__pm_dnn_%d", a.col, a.col, j); break;
        case kSum:
            appendStringInfo(&set, ", __pm_nn_%d = %s", a.hidden, nn);
            appendStringInfo(&set, ", %s = CASE WHEN %s > 0 THEN COALESCE(v.%s, 0) + COALESCE(d.__pm_dsum_%d, 0) END",
                             a.col, nn, a.col, j);
            break;
        case kAvg: {
            char *sum = psprintf("(COALESCE(v.__pm_sum_%d, 0) + COALESCE(d.__pm_dsum_%d, 0))", a.hidden, j);
            appendStringInfo(&set, ", __pm_nn_%d = %s", a.hidden, nn);
            appendStringInfo(&set, ", __pm_sum_%d = CASE WHEN %s > 0 THEN %s END", a.hidden, nn, sum);
            appendStringInfo(&set, ", %s = CASE WHEN %s > 0 THEN (%s)::pg_catalog.numeric / (%s)::pg_catalog.numeric END",
                             a.col, nn, sum, nn);
            break;
        }
        case kMin:
        case kMax:
            // (a one-row view whose count reaches 0: NULL, as over no input row)
            appendStringInfo(&set, ", %s = CASE WHEN v.__pm_count + d.__pm_dcnt = 0 THEN NULL "
                             "WHEN d.__pm_dins_%d IS NULL THEN v.%s WHEN v.%s IS NULL THEN d.__pm_dins_%d "
                             "WHEN d.__pm_dins_%d %s v.%s THEN d.__pm_dins_%d ELSE v.%s END",
                             a.col, j, a.col, a.col, j, j, op_sql(a.cmpop), a.col, j, a.col);
            break;
        }
    }

    StringInfoData cols, vals;
    initStringInfo(&cols);
    initStringInfo(&vals);
    for (int i = 0; i < nk; ++i) {
        appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "", s.keys[i].col);
        appendStringInfo(&vals, "%sd.__pm_k%d", i > 0 ? ", " : "", i + 1);
    }
    appendStringInfoString(&cols, ", __pm_count");
    appendStringInfoString(&vals, ", d.__pm_dcnt");
    for (int j = 0; j < s.aggs.size(); ++j) {
        const AggCol &a = s.aggs[j];
        appendStringInfo(&cols, ", %s", a.col);
        switch (a.kind) {
        case kCountStar: appendStringInfoString(&vals, ", d.__pm_dcnt"); break;
        case kCount: appendStringInfo(&vals, ", d.__pm_dnn_%d", j); break;
        case kSum:
            appendStringInfo(&vals, ", CASE WHEN d.__pm_dnn_%d > 0 THEN d.__pm_dsum_%d END", j, j);
            appendStringInfo(&cols, ", __pm_nn_%d", a.hidden);
            appendStringInfo(&vals, ", d.__pm_dnn_%d", j);
            break;
        case kAvg:
            appendStringInfo(&vals, ", CASE WHEN d.__pm_dnn_%d > 0 THEN (d.__pm_dsum_%d)::pg_catalog.numeric / "
                             "(d.__pm_dnn_%d)::pg_catalog.numeric END", j, j, j);
            appendStringInfo(&cols, ", __pm_nn_%d, __pm_sum_%d", a.hidden, a.hidden);
            appendStringInfo(&vals, ", d.__pm_dnn_%d, CASE WHEN d.__pm_dnn_%d > 0 THEN d.__pm_dsum_%d END", j, j, j);
            break;
        case kMin:
        case kMax: appendStringInfo(&vals, ", d.__pm_dins_%d", j); break;
        }
    }
    StringInfoData nulls_k;
    initStringInfo(&nulls_k);
    for (int i = 0; i < nk; ++i) appendStringInfo(&nulls_k, "NULL, ");
    // A one-row view never inserts: its row is there from create_view on (none, or two, is "out
    // of step" below).
    char *ins = s.scalar ? pstrdup("SELECT 0::pg_catalog.int8 AS __pm_count WHERE false")
                         : psprintf("INSERT INTO %s (%s) SELECT %s FROM pm_gdelta d WHERE d.__pm_dcnt <> 0 "
                                    "AND NOT EXISTS (SELECT FROM ONLY %s v WHERE %s) RETURNING __pm_count",
                                    vname, cols.data, vals.data, vname, match);
    // The text depends on which group keys of the delta have NULLs (key_match).
    StringInfoData ukey;
    initStringInfo(&ukey);
    appendStringInfo(&ukey, "g%u:upd:", viewrelid);
    for (int i = 0; i < nk; ++i) appendStringInfoChar(&ukey, nullable[i] ? 'n' : '-');
    spi_cached(ukey.data, psprintf("WITH del AS (DELETE FROM ONLY %s v USING pm_gdelta d WHERE %s AND %s "
                 "RETURNING %s v.__pm_count + d.__pm_dcnt AS __pm_new), "
                 "upd AS (UPDATE ONLY %s v SET %s FROM pm_gdelta d WHERE %s AND NOT %s RETURNING v.__pm_count), "
                 "ins AS (%s) "
                 "SELECT *, 1 AS __pm_kind FROM del UNION ALL SELECT %s __pm_count, 2 FROM upd "
                 "UNION ALL SELECT %s __pm_count, 3 FROM ins",
                 vname, match, gone, ret.data, vname, set.data, match, gone, ins, nulls_k.data,
                 nulls_k.data),
        SPI_OK_SELECT, small);
    int64 changed = static_cast<int64>(SPI_processed);
    if (s.scalar && SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("maintained view \"%s\" is out of step with its query",
                               RelationGetRelationName(viewrel)),
                        errdetail("The view of aggregates without GROUP BY has %llu rows instead of one.",
                                  static_cast<unsigned long long>(SPI_processed)),
                        errhint("Was the table written directly? parallel_material.refresh_view "
                                "recomputes it.")));
    SPITupleTable *tt = SPI_tuptable;
    uint64 nret = SPI_processed;
    TupleDesc rdesc = CreateTemplateTupleDesc(nk);
    for (int i = 0; i < nk; ++i)
        TupleDescCopyEntry(rdesc, static_cast<AttrNumber>(i + 1), tt->tupdesc, static_cast<AttrNumber>(i + 1));
    Tuplestorestate *rts = tuplestore_begin_heap(false, false, work_mem);
    Datum *rv = static_cast<Datum *>(palloc(sizeof(Datum) * static_cast<size_t>(nk + 2)));
    bool *rn = static_cast<bool *>(palloc(sizeof(bool) * static_cast<size_t>(nk + 2)));
    bool *rnullable = static_cast<bool *>(palloc0(sizeof(bool) * static_cast<size_t>(nk + 1)));
    int64 nregroup = 0;
    for (uint64 r = 0; r < nret; ++r) {
        heap_deform_tuple(tt->vals[r], tt->tupdesc, rv, rn);
        if (rn[nk]) continue;
        int64 count = DatumGetInt64(rv[nk]);
        if (count < 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("maintained view \"%s\" is out of step with its query",
                                   RelationGetRelationName(viewrel)),
                            errdetail("A group would have fewer than 0 rows."),
                            errhint("Was the table written directly? parallel_material.refresh_view "
                                    "recomputes it.")));
        // a deleted group with rows left: recomputed below
        if (DatumGetInt32(rv[nk + 1]) != 1 || count == 0) continue;
        for (int i = 0; i < nk; ++i) rnullable[i] = rnullable[i] || rn[i];
        tuplestore_putvalues(rts, rdesc, rv, rn);
        ++nregroup;
    }

    // 4. Recomputed groups: the query restricted to their keys (pm_regroup). Read-only, of the
    // inputs only, every statement on them ended: the arrangements may be trusted as during the
    // delta query (view_trigger.cpp). The insert into the view table runs untrusted (its
    // triggers are the user's).
    if (nregroup > 0) {
        (void)register_tuplestore("pm_regroup", rdesc, rts, static_cast<double>(nregroup));
        changed += refill_groups(viewrel, s, rdesc, rnullable, vname);
    }
    tuplestore_end(rts);
    SPI_unregister_relation("pm_gdelta");
    tuplestore_end(ts);
    return changed;
}

}  // namespace pm::pg::views
