// views.hpp — maintained views (docs/views.md): a heap table kept equal to a join query by
// statement-level triggers that join each input's changes (transition tables) against the other
// inputs through the shared arrangements. The files of src/pg/views/:
//   view_analyze.cpp  parse + allowlist of supported query shapes, what the query reads
//   view_catalog.cpp  parallel_material.view_defs: one row per view
//   view_pending.cpp  per-backend changes waiting for the end of the writing statements
//   view_delta.cpp    the delta query (inclusion-exclusion over changed positions)
//   view_apply.cpp    netting the delta by value and applying it to the view table
//   view_trigger.cpp  the trigger function and the maintenance run
//   view_stats.cpp    per-view counters in shared memory (the views view)
//   view_locks.cpp    concurrent writers: per-key locks before the delta query, 40001 checks
//   view_sql.cpp      create_view, drop_view, refresh_view and helpers
//   view_plan_cache.cpp prepared plans of the delta and apply statements, per backend
//   view_row_changes.cpp rows written without statements (logical replication apply workers)
//   view_left.cpp     views with one LEFT JOIN: its allowlist, the per-key recompute's SQL
//   view_direct.cpp   small deltas of one input by probing the arrangements directly (no SQL)
// Plain PostgreSQL code (may raise errors): called inside guarded()/pg_call.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
}

namespace pm::pg::views {

// A growable array in PostgreSQL memory (the context current at construction, or set with
// cxt). Trivially destructible, allocating with palloc (which reports out of memory as a
// PostgreSQL error, never a C++ exception): code of this folder runs inside pg_call, where an
// ereport longjmps over the frames, so it holds no object with a destructor and throws nothing.
template <class T>
struct PgArray {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
    T *data = nullptr;
    int n = 0;
    int cap = 0;
    MemoryContext cxt = CurrentMemoryContext;
    void push(const T &v) {
        if (n == cap) {
            int ncap = cap == 0 ? 8 : cap * 2;
            T *nd = static_cast<T *>(MemoryContextAlloc(cxt, sizeof(T) * static_cast<size_t>(ncap)));
            if (n > 0) memcpy(static_cast<void *>(nd), data, sizeof(T) * static_cast<size_t>(n));
            data = nd;
            cap = ncap;
        }
        data[n++] = v;
    }
    T &operator[](int i) { return data[i]; }
    const T &operator[](int i) const { return data[i]; }
    T *begin() { return data; }
    T *end() { return data + n; }
    const T *begin() const { return data; }
    const T *end() const { return data + n; }
    int size() const { return n; }
    bool empty() const { return n == 0; }
    bool contains(const T &v) const {
        for (int i = 0; i < n; ++i)
            if (memcmp(&data[i], &v, sizeof(T)) == 0) return true;
        return false;
    }
};

// One input occurrence (range table position) of the query.
struct Input {
    int rtindex;  // 1-based position in the query's range table
    Oid relid;
};

// A join column that a delta plan probes: (relation, column) of an equality between inputs.
struct JoinColumn {
    Oid relid;
    AttrNumber attnum;
};

// What create_view learns from the query (view_analyze.cpp).
struct Analysis {
    Query *query;                      // analyzed, allowlisted
    PgArray<Input> inputs;             // RTE_RELATION entries, in range-table order
    PgArray<Oid> relids;               // distinct input relations, ascending
    PgArray<JoinColumn> join_columns;  // distinct, each side of every equi-join clause
    PgArray<JoinColumn> used_columns;  // every column of an input the query reads, distinct
};

// Raw checks (before any lock: ownership of every named table, no WITH, no sublinks...), then
// locks every input in ShareRowExclusiveLock (OID order), analyzes and applies the allowlist.
Analysis analyze_view_query(const char *sql);
// The analyzed query as SQL text with every name qualified (search_path pg_catalog, pg_temp).
char *deparse_qualified(Query *q);
// The base-table Var under a (possibly join-alias, relabelled) expression of q, or nullptr.
Var *base_var(Query *q, Node *n);
// create_view's refusal: 0A000 "create_view does not support <construct>" with the hint of what
// is supported (each allowlist passes its own).
[[noreturn]] void refuse_construct(const char *construct, const char *hint);
// The join and WHERE conditions of a FROM tree (refuse_outer: refuse an outer join).
void collect_quals(Node *n, List **quals, bool refuse_outer);
// Sets, at the current GUC nest level (GUC_ACTION_SAVE), the settings every view SQL is deparsed,
// parsed and computed under, whoever runs it (docs/views.md, "Security"): search_path =
// pg_catalog, pg_temp, and the settings that immutable output functions or the parsing of
// deparsed literals read (extra_float_digits = 1, bytea_output = hex,
// standard_conforming_strings = on), and those the parsing of deparsed constants reads
// (DateStyle = ISO, MDY, IntervalStyle = postgres, array_nulls = on: a delta SQL deparsed under
// one DateStyle and parsed again under another read '01/02/2020' as another day). Stable
// functions are refused, so TimeZone cannot change a view's rows (timestamptz constants are
// deparsed with their offset).
void pin_view_settings();
// The same for a maintenance run, setting only the settings whose current value differs (each
// set_config_option and the AtEOXact_GUC that undoes it cost more than the comparison): returns
// the GUC nest level it opened, or -1 when every setting already had its pinned value; hand it
// to unpin_view_settings.
int pin_view_settings_where_needed();
void unpin_view_settings(int level);

// ---- catalog (view_catalog.cpp) ----
struct ViewDef {
    int64 viewid = 0;
    Oid viewrel = InvalidOid;
    char *definition = nullptr;  // as given
    char *query_sql = nullptr;   // qualified, from deparse_qualified
    Query *query = nullptr;      // the analyzed query (stringToNode of the stored tree)
    PgArray<Oid> relids;     // distinct inputs
    PgArray<int64> arrangements;  // definition ids it uses
    PgArray<int64> created_arrangements;  // those create_view created
};
int64 next_viewid();
void insert_view_def(const ViewDef &d, const char *query_tree);
void delete_view_def(int64 viewid);
// Loads by view id (false: none). Results palloc'd in CurrentMemoryContext.
bool load_view_def(int64 viewid, ViewDef *out);
// The same through a per-backend cache (maintenance); the result is shared: do not modify it.
bool load_view_def_cached(int64 viewid, ViewDef *out);
bool load_view_def_by_rel(Oid viewrel, ViewDef *out);
// parallel_material.view_restore_defs (dumped with the database): a view's id, its table's name
// when created, and its definition, from which restore_view binds a restored view again.
struct RestoreDef {
    int64 viewid = 0;
    char *schema = nullptr;
    char *name = nullptr;
    char *definition = nullptr;
};
void insert_restore_def(int64 viewid, Oid viewrel, const char *definition);
// The first row (by viewid) matching where ($1 of argtype); false: none.
bool load_restore_def(const char *where, Oid argtype, Datum arg, RestoreDef *out);
// The triggers of viewid fired on input: an ERROR when viewid has no view_defs row (a database
// restored from a dump: its triggers came back, its binding did not), never a silently stale view.
void require_view_bound(int64 viewid, Relation input);
// A view (whose table still exists) other than except_viewid that uses arrangement defid;
// InvalidOid when none.
Oid view_using_arrangement(int64 defid, int64 except_viewid = 0);
// Records arrangement defid as created by view to_viewid (drop_view hands the arrangements it
// created and another view still uses over to that view, which drops them in turn).
void hand_over_arrangement(int64 defid, int64 to_viewid);

// ---- pending changes (view_pending.cpp) ----
struct Stash {
    Oid relid;
    bool deleted;  // OLD rows (deleted) or NEW rows (inserted)
    Tuplestorestate *rows;
    int64 nrows;
};
// BEFORE STATEMENT: one more open statement on an input of the view.
void note_statement_start(int64 viewid);
// AFTER STATEMENT: copies the transition tables (may be nullptr), marks a TRUNCATE, closes one
// statement. Returns true when no statement on the view's inputs is open any more: the caller
// then takes the changes with take_pending and applies them.
bool note_statement_end(int64 viewid, Oid relid, TupleDesc desc, Tuplestorestate *oldrows,
                        Tuplestorestate *newrows, bool truncated);
struct Pending {
    PgArray<Stash> stashes;
    bool truncated = false;
};
Pending take_pending(int64 viewid);
// True while a statement on the view's inputs is open (its statement triggers will see its rows).
bool statement_open(int64 viewid);
void release_pending(Pending &p);  // frees the tuplestores
void register_xact_callbacks();

// ---- delta query (view_delta.cpp) ----
// parallel_material.debug_view_explain (view_trigger.cpp): plans shown as NOTICEs.
bool debug_explain();
// Name of the ephemeral relation holding the inserted (deleted) rows of relid.
char *delta_enr_name(Oid relid, bool deleted);
// Changed rows of one input: the ephemeral relation delta_enr_name(relid, deleted).
struct DeltaInput {
    Oid relid;
    bool deleted;
    int64 nrows;
};
// The SQL of the view's change: the query's target list plus an int4 column __pm_sign, one
// UNION ALL term per inclusion-exclusion term over the changed positions; nullptr when there
// would be more than kMaxDeltaTerms terms (the caller recomputes instead).
constexpr int kMaxDeltaTerms = 256;
// viewrel: the view table (a LEFT JOIN view's delta reads it, view_left.cpp).
char *delta_query_sql(Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel);
// The inclusion-exclusion terms alone, over the changed positions other than skip_rtindex
// (0: none skipped); "" when no position changed, nullptr past kMaxDeltaTerms.
char *delta_terms_sql(Query *q, const PgArray<DeltaInput> &deltas, Bitmapset *skip);
// delta_query_sql(delta_source_query(q), deltas, viewrel) through a per-backend cache of the
// deparsed text (do not modify the result); q is the view's query.
// key: delta_cache_key(viewid, deltas) when the caller has it (nullptr: computed here).
char *delta_query_sql_cached(int64 viewid, Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel,
                             const char *key = nullptr);
// Also the delta query's key in the plan cache (view_plan_cache.cpp; starts with "d").
char *delta_cache_key(int64 viewid, const PgArray<DeltaInput> &deltas);

// ---- prepared plans of maintenance statements (view_plan_cache.cpp) ----
// Deltas with at most this many rows per part run through cached prepared plans.
constexpr int64 kSmallDelta = 100;
// The kept plan of sql under key (prepared now if new); nullptr when the cache is off or cannot
// be used now (stale while a cached plan runs): then run the text.
SPIPlanPtr cached_plan(const char *key, const char *sql);
// The kept plan under key if there is one and the cache is usable as it is (nullptr: build the
// text and call cached_plan), so that a hit need not build the statement's text.
SPIPlanPtr find_cached_plan(const char *key);
int execute_cached(SPIPlanPtr plan);  // SPI_execute_plan, read-write, no row limit
// A cached SELECT, at most tcount rows, under snapshot (InvalidSnapshot: a fresh one at READ
// COMMITTED, as SPI_execute_plan read-write takes).
int execute_cached_select(SPIPlanPtr plan, Snapshot snapshot, uint64 tcount);
void define_plan_cache_gucs();

// ---- apply (view_apply.cpp) ----
// Nets the rows of a delta result (SPI_tuptable: view columns + sign) by binary image and applies
// the net change to the view table (deletes exactly the copies gone, inserts the new ones).
// Returns the number of view rows changed.
int64 apply_delta(Relation viewrel, SPITupleTable *tuptable, uint64 ntuples);
// Registers a tuplestore with SPI as an ephemeral named relation (view_apply.cpp).
EphemeralNamedRelation register_tuplestore(const char *name, TupleDesc desc, Tuplestorestate *ts,
                                           double ntuples);
// The binary image of columns [0, n) of a row (null flags, bytes; varlena detoasted) into key.
void image_key(TupleDesc desc, int n, const Datum *values, const bool *nulls, StringInfo key);
// One distinct row of a netted delta: its image, its first row in the delta, its net count.
struct NetDelta {
    const char *key;
    int len;
    uint64 row;
    int64 net;
};
// The delta (first n columns a row, column n + 1 its sign) netted per distinct row by binary
// image, rows whose net count is 0 left out, in image order (view_apply.cpp).
PgArray<NetDelta> net_delta(SPITupleTable *tuptable, uint64 ntuples, int n);
// Full recompute: deletes every row and inserts the query's result; returns the rows inserted.
int64 recompute(Oid viewrel, const char *query_sql);
char *view_columns_sql(Relation viewrel, const char *prefix);

// ---- LEFT JOIN views (view_left.cpp) ----
// The one LEFT JOIN of a view's query: the nullable side b (a range-table position) and the ON
// clause's key equality between b's column and a column of the preserved side that the view
// outputs (key_col).
struct LeftJoin {
    int b_rtindex = 0;  // 0: the query has no outer join
    Oid b_relid = InvalidOid;
    AttrNumber b_attnum = 0;  // b's key column
    Oid opno = InvalidOid;    // the key equality; b's column is its left operand when b_left
    bool b_left = false;
    Oid ltype = InvalidOid, rtype = InvalidOid;  // its declared operand types
    Oid collation = InvalidOid;
    const char *key_col = nullptr;  // quoted output column copying the preserved key
    Index p_varno = 0;              // the preserved side's key column (a base Var)
    AttrNumber p_attno = 0;
    Oid p_type = InvalidOid;
    int32 p_typmod = -1;
    Oid p_coll = InvalidOid;
    bool distinct_ok = false;  // the equality is the default btree family's of b's key type
    const char *keys_enr = nullptr;  // the ephemeral relation of its changed keys (pm_lkeys[<k>])
};
constexpr int kMaxOuterJoins = 4;
// A view's outer joins, in join-tree order (n = 0: none).
struct LeftJoins {
    int n = 0;
    LeftJoin j[kMaxOuterJoins];
    bool nullable(int rtindex) const {
        for (int k = 0; k < n; ++k)
            if (j[k].b_rtindex == rtindex) return true;
        return false;
    }
};
// The outer joins of q when every one has the supported shape (out filled; returns out->n).
// check: refuse (0A000) every other outer join shape (create_view); otherwise 0 for them.
int left_joins(Query *q, LeftJoins *out, bool check);
// The delta SQL of a LEFT JOIN view (same columns as delta_query_sql's): the other inputs'
// delta terms for the rows whose keys the nullable sides' changes did not touch, minus the
// view's rows of the touched keys, plus the query's rows of those keys. nullptr: too many
// terms (recompute).
char *left_delta_sql(Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel, const LeftJoins &ljs);
// The delta SQL of an aggregate or DISTINCT view over LEFT JOINs (same columns as
// delta_query_sql's for its delta source query, every sign +1): rows naming every group the
// changes can alter, through the preserved side's rows (the groups are then recomputed).
char *left_agg_delta_sql(Query *q, const PgArray<DeltaInput> &deltas, const LeftJoins &ljs);
// Whether q's join tree has an outer join.
bool has_outer_join(Query *q);
// Registers the ephemeral relations pm_lkeys[<k>](y): the keys of each nullable side's changed
// rows (distinct when distinct_ok), which left_delta_sql's statement reads; nothing for a side
// without changed rows.
void register_left_keys(const LeftJoins &ljs, const PgArray<DeltaInput> &deltas);

// ---- aggregate and DISTINCT views (view_aggregate.cpp) ----
// True for a query with GROUP BY, aggregates or DISTINCT (one view-table row per group).
bool is_aggregate_query(Query *q);
// The allowlist for such a query (called by analyze_view_query): refuses with 0A000 and a hint.
void check_aggregate_query(Query *q);
// True for aggregates without GROUP BY: a view of exactly one row, which every maintenance run
// updates (lock_one_row_view serialises them).
bool is_one_row_view(Query *q);
// The SQL that creates and fills the view table: the query itself for a join view; for an
// aggregate view the query plus its hidden columns (__pm_count, __pm_key_<i>, __pm_nn_<j>,
// __pm_sum_<j>).
char *view_fill_sql(Query *q);
// The query whose delta the maintenance computes: q itself, or for an aggregate view the join
// before grouping (group keys and aggregate arguments as columns __pm_k<i>, __pm_a<j>).
Query *delta_source_query(Query *q);
// Applies a delta of delta_source_query(q) (rows + __pm_sign) to an aggregate view's table:
// nets it, groups it, upserts per group key, deletes groups whose count reaches 0, recomputes
// groups whose min/max (or numeric sum) lost a value. Returns the view rows changed.
int64 apply_aggregate_delta(Relation viewrel, Query *q, SPITupleTable *tuptable, uint64 ntuples);
// After create_view filled an aggregate view: an index on its group key columns (when every key
// type has a default btree operator class).
void create_group_index(Oid viewrel, Query *q);

// ---- maintenance (view_trigger.cpp) ----
// True while a maintenance run executes the delta query of a view with relid among its inputs
// at a point where no write of relid is still waiting for its arrangement deltas (every
// statement on the view's inputs has ended): ArrangementJoin may then trust the arrangement
// although the running AFTER STATEMENT event of relid is still queued.
bool maintenance_trusts(Oid relid);
void reset_trust();  // (sub)transaction abort
// Sets maintenance_trusts for relids (the maintenance run's own read-only queries of the inputs,
// after every statement on them has ended); reset_trust() after the query.
void trust_inputs(const PgArray<Oid> &relids);
void define_view_gucs();  // from _PG_init, before the prefix is reserved
// Installs maintenance for viewid on each input (as the trigger function's owner): BEFORE and
// AFTER ... FOR EACH STATEMENT triggers for INSERT, UPDATE, DELETE (with transition tables) and
// TRUNCATE, ENABLE ALWAYS, each dropped automatically with the view table.
void create_view_triggers(int64 viewid, Oid viewrel, const PgArray<Oid> &relids);

// Maintains viewid for the changes p (released here), as the trigger does when the last open
// statement ends; firing_relid: the input whose trigger fired (checked), or InvalidOid.
void maintain_changes(int64 viewid, Oid firing_relid, Pending &p);

// ---- writes without statements: logical replication apply (view_row_changes.cpp) ----
// Creates pm_view_<viewid>_rr on relid (named relname): AFTER INSERT OR UPDATE OR DELETE
// FOR EACH ROW, ENABLE REPLICA, dropped with the view table. Call as the trigger function's owner.
void create_row_trigger(int64 viewid, Oid viewrel, Oid relid, const char *relname);
// Maintains viewid now for the rows its row trigger collected (none: returns at once).
void flush_row_changes(int64 viewid);

// ---- concurrent writers (view_locks.cpp) ----
// Takes the transaction-level locks on (view, pair of inputs, join key hash) for every changed
// row of p, in sorted order (docs/views.md, "Concurrency"); call after the deltas are
// registered (keys derived through a middle input read them) and before the delta query.
void lock_delta_keys(int64 viewid, Query *q, const Pending &p);
// A one-row view (aggregates without GROUP BY): every run updates its one row, so runs are
// serialised on one transaction-level lock of the view (taken before the key locks and the
// delta query's snapshot): a run then sees the row as the previous one committed it.
void lock_one_row_view(int64 viewid);
// An aggregate view's run, once it knows the groups it changes (hashes of their keys), before it
// looks them up: ExclusiveLock per group (and RowExclusiveLock on the whole view), or, for more
// than 64 groups, unhashable keys (whole) or a transaction that took many, ExclusiveLock on the
// whole view. Two runs on one group through unrelated join keys (no key lock between them) then
// apply in turn, the later one to the group as the earlier one committed it.
void lock_groups(Oid viewrel, uint32 *hashes, int n, bool whole);
// Under REPEATABLE READ / SERIALIZABLE, after lock_groups: 40001 when the rows of the changed
// groups (pm_gdelta, matched by match) differ between the transaction snapshot and the latest
// one: another transaction changed or created one of them after this snapshot was taken.
void check_groups_unchanged(const char *vname, const char *match);
// parallel_material.debug_view_locks (the locks and the REPEATABLE READ checks are on).
bool locks_enabled();
// SPI_execute of the delta query; under REPEATABLE READ / SERIALIZABLE also under the latest
// snapshot, raising 40001 when the two differ. Leaves SPI_tuptable / SPI_processed as SPI does.
int run_delta_query(const char *sql, SPIPlanPtr cached);
// Raises 40001 unless the two delta results (view columns + sign) are equal once netted
// (run_delta_query's REPEATABLE READ check, also used by direct_delta).
void check_same_delta(SPITupleTable *latest, uint64 nlatest, SPITupleTable *mine, uint64 nmine);
// parallel_material.<name>()'s OID, or a clear error (view_trigger.cpp).
Oid extension_function_oid(const char *name);
// One statement through SPI in its own connection (view_trigger.cpp).
void run_view_sql(const char *sql);
void define_view_lock_gucs();  // from define_view_gucs

// ---- direct probes (view_direct.cpp) ----
// The delta of a statement that changed one input at one position (at most kSmallDelta rows of
// one part), computed by probing the other inputs' arrangements directly, under the same trust,
// visibility and REPEATABLE READ checks as the SQL delta query (docs/views.md, "Direct
// probes"). false: not taken, nothing done (the caller runs the SQL delta query). true: *out
// holds the rows (the delta query's columns and __pm_sign), *nout their number. Call with the
// inputs locked, the key locks held and maintenance_trusts set, inside SPI.
bool direct_delta(int64 viewid, const ViewDef &vd, const Pending &p,
                  const PgArray<DeltaInput> &deltas, SPITupleTable **out, uint64 *nout);
void define_direct_gucs();  // parallel_material.view_direct_probe

// ---- stats (view_stats.cpp) ----
size_t stats_shmem_size();
void stats_shmem_init();
void stats_note(int64 viewid, uint64 rows_changed, int64 elapsed_us);
void stats_forget(int64 viewid);

}  // namespace pm::pg::views
