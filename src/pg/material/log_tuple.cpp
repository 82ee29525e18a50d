// log_tuple.cpp — rows enter a tuple log with their non-string short varlenas unpacked (see
// log_tuple.hpp for why). C-style PostgreSQL code: callers wrap it in pg_call.
#include "pg/material/log_tuple.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
}

namespace pm::pg {

namespace {

void log_tuple_init(LogTupleForm *f, TupleDesc desc) {
    MemoryContext cxt = f->cxt;
    MemoryContext old = MemoryContextSwitchTo(cxt);
    f->natts = desc->natts;
    f->unpack = static_cast<bool *>(palloc0(sizeof(bool) * Max(desc->natts, 1)));
    f->any = false;
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || att->attlen != -1) continue;
        char category = TYPCATEGORY_INVALID;
        bool preferred = false;
        get_type_category_preferred(att->atttypid, &category, &preferred);
        if (category == TYPCATEGORY_STRING || att->atttypid == BYTEAOID) continue;
        f->unpack[i] = true;
        f->any = true;
    }
    f->plain = nullptr;
    f->values = nullptr;
    f->row_cxt = nullptr;
    if (f->any) {
        f->plain = CreateTupleDescCopy(desc);
        for (int i = 0; i < desc->natts; ++i)
            if (f->unpack[i]) pm_tupdesc_set_plain_storage(f->plain, i);
        f->values = static_cast<Datum *>(palloc(sizeof(Datum) * desc->natts));
        f->row_cxt = AllocSetContextCreate(cxt, "parallel_material row", ALLOCSET_SMALL_SIZES);
    }
    f->ready = true;
    MemoryContextSwitchTo(old);
}

}  // namespace

MinimalTuple log_tuple_fetch(LogTupleForm *f, TupleTableSlot *slot, bool *should_free) {
    if (f->cxt == nullptr) elog(ERROR, "parallel_material: row form not prepared");
    if (!f->ready) log_tuple_init(f, slot->tts_tupleDescriptor);
    // Only rows the child computed (a projection, an aggregate, a join's output: a virtual
    // slot) are formed here, as ExecFetchSlotMinimalTuple would form them anyway. A stored row
    // passed up as it is (a heap or minimal tuple slot) is copied whole, as before: unpacking
    // it would deform and re-form every row, which costs more when it is produced than it saves
    // (docs/parallel-material.md, "The form of stored rows").
    if (!f->any || !TTS_IS_VIRTUAL(slot)) return ExecFetchSlotMinimalTuple(slot, should_free);
    slot_getallattrs(slot);
    MemoryContextReset(f->row_cxt);
    MemoryContext old = MemoryContextSwitchTo(f->row_cxt);
    for (int i = 0; i < f->natts; ++i) {
        Datum v = slot->tts_values[i];
        if (f->unpack[i] && !slot->tts_isnull[i]) {
            const char *p = DatumGetPointer(v);
            if (VARATT_IS_SHORT(p) && !VARATT_IS_EXTERNAL(p)) {
                const Size data = VARSIZE_SHORT(p) - VARHDRSZ_SHORT;
                char *full = static_cast<char *>(palloc(VARHDRSZ + data));
                SET_VARSIZE(full, VARHDRSZ + data);
                memcpy(VARDATA(full), VARDATA_SHORT(p), data);
                v = PointerGetDatum(full);
            }
        }
        f->values[i] = v;
    }
    MinimalTuple tuple = pm_heap_form_minimal_tuple(f->plain, f->values, slot->tts_isnull);
    MemoryContextSwitchTo(old);
    *should_free = false;
    return tuple;
}

}  // namespace pm::pg
