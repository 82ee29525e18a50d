// arrangement_mvcc.cpp — visibility of stored versions: HeapTupleSatisfiesMVCC's rules applied to
// the (xmin, cmin, xmax, cmax) a version carries, plus the "current version of a TID" and "dead to
// every snapshot" tests used by maintenance and reclaim. Plain PostgreSQL code: callers wrap each
// call in pg_call (clog lookups may raise errors).
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"
}

namespace pm::pg::arr {

namespace {

// Per-backend cache of finished transactions' outcomes (a committed or aborted xid stays so),
// direct-mapped; probes ask about the same few xids again and again. Only consulted for xids
// known to be finished, so it never caches an in-progress answer. 0 = unknown.
constexpr uint32_t kXidCache = 4096;
struct XidOutcome {
    TransactionId xid;
    uint8 outcome;  // 1 committed, 2 aborted
};
XidOutcome g_outcomes[kXidCache];
TransactionId g_cache_base = InvalidTransactionId;  // next xid when the cache was last flushed

// Committed? for a finished xid; -1 when the cache does not know (caller asks clog).
int cached_commit(TransactionId xid) {
    const XidOutcome &c = g_outcomes[xid % kXidCache];
    if (c.xid == xid && c.outcome != 0) return c.outcome == 1 ? 1 : 0;
    return -1;
}

bool did_commit(TransactionId xid) {
    if (!TransactionIdIsNormal(xid)) return TransactionIdDidCommit(xid);
    int c = cached_commit(xid);
    if (c >= 0) return c == 1;
    // The commit log answers only for xids after its horizon; the lock keeps a concurrent
    // truncation out while we read (as txid_status does). A stored xid that old means the
    // arrangement should have been rebuilt: fail rather than guess.
    LWLockAcquire(XactTruncationLock, LW_SHARED);
    if (TransactionIdPrecedes(xid, pm_transam_variables()->oldestClogXid)) {
        LWLockRelease(XactTruncationLock);
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("an arrangement holds transaction %u, older than the commit log",
                               xid),
                        errhint("The arrangement is rebuilt on its next use; retry.")));
    }
    bool committed = TransactionIdDidCommit(xid);
    uint8 outcome = committed ? 1 : (TransactionIdDidAbort(xid) ? 2 : 0);
    LWLockRelease(XactTruncationLock);
    if (outcome != 0) g_outcomes[xid % kXidCache] = XidOutcome{xid, outcome};
    return committed;
}

}  // namespace

void xid_cache_maintain() {
    TransactionId next = ReadNextTransactionId();
    if (!TransactionIdIsValid(g_cache_base) || next - g_cache_base > (uint32_t{1} << 30)) {
        memset(g_outcomes, 0, sizeof(g_outcomes));
        g_cache_base = next;
    }
}

int version_visible_fast(const core::VersionView &v, Snapshot snap) {
    // XidInMVCCSnapshot reads pg_subtrans for a suboverflowed snapshot: that can raise errors.
    if (snap->suboverflowed) return -1;
    TransactionId xmin = v.xmin;
    TransactionId xmax = v.xmax;
    if (TransactionIdIsCurrentTransactionId(xmin)) {
        if (v.cmin >= snap->curcid) return 0;
        if (!TransactionIdIsValid(xmax) || !TransactionIdIsCurrentTransactionId(xmax)) return 1;
        return v.cmax >= snap->curcid ? 1 : 0;
    }
    if (XidInMVCCSnapshot(xmin, snap)) return 0;
    int c = TransactionIdIsNormal(xmin) ? cached_commit(xmin) : 1;
    if (c < 0) return -1;
    if (c == 0) return 0;
    if (!TransactionIdIsValid(xmax)) return 1;
    if (TransactionIdIsCurrentTransactionId(xmax)) return v.cmax >= snap->curcid ? 1 : 0;
    if (XidInMVCCSnapshot(xmax, snap)) return 1;
    c = cached_commit(xmax);
    if (c < 0) return -1;
    return c == 1 ? 0 : 1;
}

int version_visible_fast_memo(const core::VersionView &v, Snapshot snap, VisMemo *m) {
    int r = version_visible_fast(v, snap);
    // Remembered only when the answer cannot depend on the command id (another transaction's
    // insert) or on a deleter (none): see VisMemo.
    if (r >= 0 && !TransactionIdIsValid(v.xmax) && TransactionIdIsValid(v.xmin) &&
        !TransactionIdIsCurrentTransactionId(v.xmin))
        *m = VisMemo{v.xmin, r == 1};
    return r;
}

bool version_visible(const core::VersionView &v, Snapshot snap) {
    TransactionId xmin = v.xmin;
    TransactionId xmax = v.xmax;
    if (TransactionIdIsCurrentTransactionId(xmin)) {
        if (v.cmin >= snap->curcid) return false;  // inserted by this or a later command
        if (!TransactionIdIsValid(xmax)) return true;
        // Deleted by a subtransaction that aborted: still there.
        if (!TransactionIdIsCurrentTransactionId(xmax)) return true;
        return v.cmax >= snap->curcid;  // deleted by this or a later command: still visible
    }
    if (XidInMVCCSnapshot(xmin, snap)) return false;
    if (!did_commit(xmin)) return false;  // aborted or crashed
    // The inserter committed before the snapshot.
    if (!TransactionIdIsValid(xmax)) return true;
    if (TransactionIdIsCurrentTransactionId(xmax)) return v.cmax >= snap->curcid;
    if (XidInMVCCSnapshot(xmax, snap)) return true;
    if (!did_commit(xmax)) return true;  // deleter aborted
    return false;
}

bool version_current(const core::VersionView &v) {
    TransactionId xmax = v.xmax;
    if (!TransactionIdIsValid(xmax)) return true;
    if (TransactionIdIsCurrentTransactionId(xmax)) return false;
    // Another deleter of the same row has finished (row locks order deleters): committed means
    // the row is gone, anything else means it aborted (or crashed).
    return !TransactionIdIsInProgress(xmax) && !did_commit(xmax);
}

bool version_freezable(const core::VersionView &v, TransactionId oldest_xmin) {
    TransactionId xmin = v.xmin;
    return TransactionIdIsNormal(xmin) && TransactionIdPrecedes(xmin, oldest_xmin) &&
           did_commit(xmin);
}

bool version_dead(const core::VersionView &v, TransactionId oldest_xmin) {
    TransactionId xmin = v.xmin;
    if (TransactionIdIsNormal(xmin) && TransactionIdPrecedes(xmin, oldest_xmin) &&
        !did_commit(xmin))
        return true;  // inserter aborted (finished before every running transaction)
    TransactionId xmax = v.xmax;
    return TransactionIdIsNormal(xmax) && TransactionIdPrecedes(xmax, oldest_xmin) &&
           did_commit(xmax);
}

}  // namespace pm::pg::arr
