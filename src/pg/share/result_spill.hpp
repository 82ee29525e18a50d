// result_spill.hpp — the spill files of results shared across sessions (issue 6). An entry's log
// keeps its hot tail in a bounded ring of parallel_material.shared_memory; its cold prefix goes to
// one file per entry, named by the registry: "base/pgsql_tmp/pgsql_tmp_pmresult.<slot>.<n>" (the
// default tablespace's temporary directory, so PostgreSQL's RemovePgTempFiles deletes leftovers
// at startup and after a crash). The producer creates it on its first spilled page; a reader in
// any backend opens it read-only by path when it first needs a spilled page; whichever process
// frees the entry unlinks it (release_result_spill: after the registry's lock, with the
// log_temp_files message and the temporary-file statistics PostgreSQL keeps for its own files).
// Also parallel_material.share_ring_max, the cap on one entry's ring, share_spill_limit (the
// spill bytes of all entries, charged before they are written) and share_wait_timeout.
#pragma once

#include <memory>
#include <string>

#include "parallel_material/core/result_registry.hpp"
#include "parallel_material/core/tuple_log.hpp"
#include "pg/pg.hpp"
#include "pg/material/temp_spill.hpp"  // spill_mode_setting()

namespace pm::pg {

// share_ring_max, share_spill_limit and share_wait_timeout (issue 12).
void define_result_spill_gucs();
// parallel_material.share_spill_limit in bytes: the spill files of all entries together; one
// role's entries (unless superuser) at most half of it.
uint64_t share_spill_limit_bytes();
// parallel_material.share_wait_timeout in ms (-1: no bound).
int share_wait_timeout_ms();
// Largest ring one entry gets: parallel_material.share_ring_max, at most a quarter of
// parallel_material.shared_memory (so that at least four rings always fit).
double share_ring_cap_bytes();

// The registry's spill path prefix, fixed at shared memory initialization (postmaster).
void result_spill_prefix(char *out, size_t size);
// The registry's SpillReleaser: reports the file's size (log_temp_files, pg_stat_database's
// temp_files/temp_bytes) and unlinks it. Never throws, never raises.
void release_result_spill(const std::string &path) noexcept;

// A core::SpillFile over an entry's spill file, process-local, opened on first use. Failures
// throw core::Error; nothing here raises a PostgreSQL error.
class ResultSpillFile final : public core::SpillFile {
public:
    enum class Role { Producer, Reader };
    // ref must stay pinned (and valid) while this object is used.
    ResultSpillFile(core::ResultRegistry *reg, const core::ResultRef &ref, Role role,
                    core::SpillMode mode);
    ~ResultSpillFile() override;
    void write(uint64_t offset, const void *data, size_t len) override;
    void read(uint64_t offset, void *buf, size_t len) override;
    void write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                     size_t count) override;
    const char *mode_name() const override;
    uint64_t bytes_written() const { return written_; }

private:
    core::SpillFile &file();
    void before_write(size_t bytes);
    void after_write(size_t bytes);
    core::ResultRegistry *reg_;
    core::ResultRef ref_;
    Role role_;
    core::SpillMode mode_;
    std::string path_;
    bool path_known_ = false;  // path_ formatted (at the first file())
    uint64_t written_ = 0;
    uint64_t limit_;  // temp_file_limit in bytes (UINT64_MAX: none)
    OpenedSpillFile file_;
};

}  // namespace pm::pg
