// result_spill.cpp — creates, opens, accounts and removes the spill files of shared results (see
// result_spill.hpp and docs/shared-results.md, "Storage").
#include "pg/share/result_spill.hpp"
#include "pg/compat.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "pg/guard.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/material/temp_spill.hpp"

extern "C" {
#include "catalog/pg_tablespace_d.h"
#include "commands/tablespace.h"
#include "pgstat.h"
#include "storage/fd.h"
}

namespace pm::pg {

namespace {
int g_share_ring_max_kb = 4 * 1024;  // parallel_material.share_ring_max
int g_share_spill_limit_kb = 1024 * 1024;  // parallel_material.share_spill_limit
int g_share_wait_timeout_ms = 100;  // parallel_material.share_wait_timeout

std::string dir_of(const std::string &path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

void define_result_spill_gucs() {
    // Superuser only (issue 12): a small ring makes every result spill; the spill bytes are
    // bounded per role and in total anyway (share_spill_limit).
    DefineCustomIntVariable(
        "parallel_material.share_ring_max",
        "Largest in-memory ring of one shared result; the rest of the result spills to a "
        "temporary file.",
        "At most a quarter of parallel_material.shared_memory is used.", &g_share_ring_max_kb,
        4 * 1024, 64, MAX_KILOBYTES, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    // One value for the whole cluster (configuration file): every backend enforces it.
    DefineCustomIntVariable(
        "parallel_material.share_spill_limit",
        "Disk space the spill files of all shared results may take together.",
        "A role's entries may take at most half of it (superusers: all of it); 0: shared "
        "results never spill (a result larger than its ring is not shared).",
        &g_share_spill_limit_kb, 1024 * 1024, 0, MAX_KILOBYTES, PGC_SIGHUP, GUC_UNIT_KB, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable(
        "parallel_material.share_wait_timeout",
        "Longest time a session attached to another session's shared result waits for that "
        "producer while it is idle; then it runs the plan itself.",
        "-1: no bound. The producer counts as idle while it is not pulling the shared plan "
        "(its portal is suspended, its client is not reading, its query is busy elsewhere) or "
        "waits for a lock or its client; a producer found idle in a session waiting for its "
        "client's next command is left at once.",
        &g_share_wait_timeout_ms, 100, -1, 60 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr,
        nullptr);
}

uint64_t share_spill_limit_bytes() { return static_cast<uint64_t>(g_share_spill_limit_kb) * 1024; }

int share_wait_timeout_ms() { return g_share_wait_timeout_ms; }

double share_ring_cap_bytes() {
    const double ring = static_cast<double>(g_share_ring_max_kb) * 1024.0;
    const double quarter = static_cast<double>(share_settings.shared_memory_kb) * 1024.0 / 4.0;
    return std::min(ring, quarter);
}

void result_spill_prefix(char *out, size_t size) {
    char dir[MAXPGPATH];
    TempTablespacePath(dir, DEFAULTTABLESPACE_OID);  // "base/pgsql_tmp"
    snprintf(out, size, "%s/%s_pmresult", dir, PG_TEMP_FILE_PREFIX);
}

void release_result_spill(const std::string &path) noexcept {
    struct stat st;
    const bool have_size = stat(path.c_str(), &st) == 0;
    if (unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return;  // never created (the producer failed before its first write)
        const int err = errno;
        try {
            pg_call([&] {
                ereport(LOG, (errmsg("parallel_material: could not remove shared result spill "
                                     "file \"%s\": %s", path.c_str(), strerror(err))));
            });
        } catch (...) {
        }
        return;
    }
    if (!have_size) return;
    // As PostgreSQL does for the temporary files it deletes (fd.c, ReportTemporaryFileUsage).
    try {
        const auto size = static_cast<unsigned long>(st.st_size);
        pg_call([&] {
            if (MyDatabaseId != InvalidOid) pgstat_report_tempfile(size);
            if (log_temp_files >= 0 && size / 1024 >= static_cast<unsigned long>(log_temp_files))
                ereport(LOG, (errmsg("temporary file: path \"%s\", size %lu", path.c_str(),
                                     size)));
        });
    } catch (...) {
    }
}

ResultSpillFile::ResultSpillFile(core::ResultRegistry *reg, const core::ResultRef &ref, Role role,
                                 core::SpillMode mode)
    : reg_(reg), ref_(ref), role_(role), mode_(mode) {
    limit_ = temp_file_limit >= 0 ? static_cast<uint64_t>(temp_file_limit) * 1024 : UINT64_MAX;
}

ResultSpillFile::~ResultSpillFile() = default;

core::SpillFile &ResultSpillFile::file() {
    if (file_.opened()) return file_.get();
    // The path is formatted only when a file is needed: most results never spill, and a hit
    // of one that fits its ring never opens it (formatting it was 2.6% of a prepared hit's
    // CPU). The entry is held (pinned, or produced by this process) while its log is read.
    if (!path_known_) {
        path_ = reg_->spill_path(ref_);
        path_known_ = true;
    }
    if (path_.empty())
        throw core::Error(core::Error::Code::Io, "the shared result registry has no spill files");
    if (role_ == Role::Reader) {
        // The producer created it before spilling the page this reader needs, and the entry is
        // pinned, so it has not been removed.
        return file_.open(path_.c_str(), O_RDONLY, mode_, "could not open spill file");
    }
    // Registered before it exists, so that whoever frees the entry removes it.
    reg_->note_spill(ref_, 0);
    (void)mkdir(dir_of(path_).c_str(), S_IRWXU);  // like MakePGDirectory; EEXIST is fine
    // O_TRUNC: a leftover of an earlier server lifetime (remove_temp_files_after_crash off) may
    // carry the same name.
    return file_.open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, mode_,
                      "could not create spill file");
}

void ResultSpillFile::before_write(size_t bytes) {
    if (role_ != Role::Producer)
        throw core::Error(core::Error::Code::Internal, "a reader wrote a shared spill file");
    if (written_ + bytes > limit_)
        throw core::Error(core::Error::Code::OutOfMemory,
                          "spill file would exceed temp_file_limit");
    // Charged to the entry (and its producing role) before the bytes exist on disk.
    const uint64_t total = share_spill_limit_bytes();
    switch (reg_->reserve_spill(ref_, bytes, total, total / 2)) {
        case core::SpillVerdict::Ok:
            return;
        case core::SpillVerdict::TotalLimit:
            throw core::Error(core::Error::Code::OutOfMemory,
                              "the spill files of shared results would exceed "
                              "parallel_material.share_spill_limit");
        case core::SpillVerdict::RoleLimit:
            throw core::Error(core::Error::Code::OutOfMemory,
                              "this role's spill files of shared results would exceed half of "
                              "parallel_material.share_spill_limit");
    }
}

void ResultSpillFile::after_write(size_t bytes) { written_ += bytes; }

void ResultSpillFile::write(uint64_t offset, const void *data, size_t len) {
    before_write(len);
    file().write(offset, data, len);
    after_write(len);
}

void ResultSpillFile::write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                                  size_t count) {
    before_write(len * count);
    file().write_batch(offsets, datas, len, count);
    after_write(len * count);
}

void ResultSpillFile::read(uint64_t offset, void *buf, size_t len) {
    file().read(offset, buf, len);
}

const char *ResultSpillFile::mode_name() const { return file_.mode_name(); }

}  // namespace pm::pg
