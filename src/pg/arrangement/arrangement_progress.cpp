// arrangement_progress.cpp — progress reporting of arrangement builds (create_arrangement and the
// lazy rebuild) through PostgreSQL's command progress facility, as CREATE INDEX reports: the
// command is PROGRESS_COMMAND_CREATE_INDEX, so pg_stat_progress_create_index lists the build
// (its command column NULL: it is not CREATE INDEX), and the extension's view
// parallel_material.arrangement_build_progress picks out exactly these entries by a marker
// parameter. Parameter slots used (see docs/arrangements.md, "Build progress"):
//   9  phase: 1 waiting for writers (lock), 2 building (scanning the heap)
//   11 tuples_total: pg_class.reltuples estimate; 12 tuples_done: versions stored
//   15 blocks_total, 16 blocks_done (heap blocks scanned)
//   17 marker kProgressMarker, 18 definition id (0 until known)
// None of these calls can raise an error; an aborted transaction ends the command itself.
#include "pg/arrangement/arrangement.hpp"

extern "C" {
#include "commands/progress.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
#include "utils/backend_status.h"
}

namespace pm::pg::arr {

namespace {
constexpr int kParamMarker = 17;
constexpr int kParamDefid = 18;
constexpr int64 kProgressMarker = 0x504d41;  // "PMA": an arrangement build

bool reporting() {
    return MyBEEntry != nullptr && MyBEEntry->st_progress_command == PROGRESS_COMMAND_CREATE_INDEX &&
           MyBEEntry->st_progress_param[kParamMarker] == kProgressMarker;
}
}  // namespace

bool progress_begin(Oid relid, int64 defid, int phase) {
    bool started = false;
    if (MyBEEntry != nullptr && MyBEEntry->st_progress_command == PROGRESS_COMMAND_INVALID) {
        pgstat_progress_start_command(PROGRESS_COMMAND_CREATE_INDEX, relid);
        pgstat_progress_update_param(kParamMarker, kProgressMarker);
        started = true;
    }
    // Inside another command's progress report (not ours): report nothing.
    if (!reporting()) return false;
    if (defid != 0) pgstat_progress_update_param(kParamDefid, defid);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_PHASE, phase);
    return started;
}

void progress_scan_start(int64 defid, int64 blocks_total, int64 tuples_estimate) {
    if (!reporting()) return;
    const int index[] = {kParamDefid, PROGRESS_CREATEIDX_PHASE, PROGRESS_SCAN_BLOCKS_TOTAL,
                         PROGRESS_SCAN_BLOCKS_DONE, PROGRESS_CREATEIDX_TUPLES_TOTAL,
                         PROGRESS_CREATEIDX_TUPLES_DONE};
    const int64 val[] = {defid, kProgressBuilding, blocks_total, 0, tuples_estimate, 0};
    pgstat_progress_update_multi_param(6, index, val);
}

void progress_scan(int64 blocks_done, int64 versions_done) {
    if (!reporting()) return;
    const int index[] = {PROGRESS_SCAN_BLOCKS_DONE, PROGRESS_CREATEIDX_TUPLES_DONE};
    const int64 val[] = {blocks_done, versions_done};
    pgstat_progress_update_multi_param(2, index, val);
}

void progress_end(bool started) {
    if (started && reporting()) pgstat_progress_end_command();
}

}  // namespace pm::pg::arr
