// arrangement_learn.cpp — learnt columns: the planner records, per arrangement, the columns that
// joins on its key read and it lacks (heap fetches by TID), limited to what the query's role may
// read; _arrangement_wanted() shows them (by name) to roles that may read the table, and
// widen_arrangement (SQL, parallel_material--0.1--0.2.sql) rebuilds with them.
// docs/arrangements.md, "Learnt columns".
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

extern "C" {
PGDLLEXPORT Datum pm_arrangement_wanted(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_arrangement_wanted);
}

namespace pm::pg::arr {

uint64_t learnable_columns(PlannerInfo *root, RangeTblEntry *rte, Bitmapset *attrs, const Def &d,
                           Relation heap, Bitmapset *selected) {
    if (selected == nullptr) return 0;  // the query's privileges on it are not checked
    Oid user = pm_rte_check_as_user(root, rte);
    const bool table_select =
        pg_class_aclcheck(RelationGetRelid(heap), user, ACL_SELECT) == ACLCHECK_OK;
    TupleDesc desc = RelationGetDescr(heap);
    uint64_t bits = 0;
    int i = -1;
    while ((i = bms_next_member(attrs, i)) >= 0) {
        AttrNumber a = static_cast<AttrNumber>(i + FirstLowInvalidHeapAttributeNumber);
        if (a <= 0 || a > 64 || a > desc->natts || TupleDescAttr(desc, a - 1)->attisdropped)
            continue;
        bool arranged = false;
        for (int c = 0; c < d.ncols; ++c) arranged = arranged || d.cols[c] == a;
        if (arranged || !bms_is_member(i, selected)) continue;
        // Only what this role may read: a query that will fail its privilege check at executor
        // start teaches nothing (the owner would otherwise arrange columns on its say-so).
        if (!table_select &&
            pg_attribute_aclcheck(RelationGetRelid(heap), a, user, ACL_SELECT) != ACLCHECK_OK)
            continue;
        bits |= uint64_t(1) << (a - 1);
    }
    return bits;
}

namespace {

// Which columns are learnt, and who may see them: as the counts of the arrangements view
// (which columns other roles' queries read), only roles with SELECT on the table and members
// of pg_read_all_stats; NULL otherwise.
bool may_see(const Def &d, bool read_all_stats) {
    if (read_all_stats) return true;
    bool missing = false;
    AclResult r = pg_class_aclcheck_ext(d.relid, GetUserId(), ACL_SELECT, &missing);
    return !missing && r == ACLCHECK_OK;
}

Datum wanted(FunctionCallInfo fcinfo) {
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
            const Def *d = nullptr;
            for (int j = 0; j < ndefs && d == nullptr; ++j)
                if (defs[j].defid == st[i].defid) d = &defs[j];
            if (d == nullptr) continue;  // dropped, or not of this database any more
            Datum v[2] = {Int64GetDatum(st[i].defid), 0};
            bool nul[2] = {false, true};
            if (may_see(*d, all_stats)) {
                Datum names[64];
                int k = 0;
                for (int a = 1; a <= 64; ++a) {
                    if ((st[i].wanted & (uint64_t(1) << (a - 1))) == 0) continue;
                    HeapTuple t = SearchSysCache2(ATTNUM, ObjectIdGetDatum(d->relid),
                                                  Int16GetDatum(static_cast<int16>(a)));
                    if (!HeapTupleIsValid(t)) continue;
                    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(t));
                    if (!att->attisdropped) names[k++] = CStringGetTextDatum(NameStr(att->attname));
                    ReleaseSysCache(t);
                }
                v[1] = PointerGetDatum(construct_array(names, k, TEXTOID, -1, false, TYPALIGN_INT));
                nul[1] = false;
            }
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nul);
        }
    });
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace pm::pg::arr

Datum pm_arrangement_wanted(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::arr::wanted(fcinfo); });
}
