// temp_spill.hpp — a core::SpillFile over a PostgreSQL temporary file, opened on first use.
#pragma once

#include <memory>

#include "parallel_material/core/tuple_log.hpp"
#include "pg/pg.hpp"

namespace pm::pg {

// One spill file this process has open: its descriptor (counted with AcquireExternalFD, as
// PostgreSQL counts descriptors it does not open through fd.c) and the core handle over it
// (io_uring or pread/pwrite). Closed with the object.
class OpenedSpillFile {
public:
    OpenedSpillFile() = default;
    ~OpenedSpillFile();
    OpenedSpillFile(const OpenedSpillFile &) = delete;
    OpenedSpillFile &operator=(const OpenedSpillFile &) = delete;
    // Opens path with flags (created 0600 with O_CREAT). Throws core::Error(Io) "<what> "path":
    // <errno text>" when it cannot, holding nothing then.
    core::SpillFile &open(const char *path, int flags, core::SpillMode mode, const char *what);
    bool opened() const { return inner_ != nullptr; }
    core::SpillFile &get() { return *inner_; }
    const char *mode_name() const { return inner_ ? inner_->mode_name() : "none"; }

private:
    int fd_ = -1;
    std::unique_ptr<core::SpillFile> inner_;
};

// A private file lives in the session's temp tablespace directory (pgsql_tmp, cleaned at server
// start after a crash) and is unlinked as soon as it is open, so it disappears with the process.
// A shared file (one log read by every participant of a parallel query) is created by the leader
// with create_shared(); each participant opens its own descriptor on the same path, and the
// leader unlinks it when the query's shared memory goes away.
// Nothing here raises a PostgreSQL error: failures throw core::Error(Io).
class TempSpillFile final : public core::SpillFile {
public:
    // dir: the pgsql_tmp directory to use (resolved at executor start, where catalog access and
    // ereport are allowed). mode: from parallel_material.spill_io.
    TempSpillFile(const char *dir, core::SpillMode mode);
    // Over the existing shared file at path (opened on first use, never unlinked here).
    struct Shared {};
    TempSpillFile(Shared, const char *path, core::SpillMode mode);
    // Creates an empty shared spill file in dir; writes its path to out.
    static void create_shared(const char *dir, char *out, size_t size);
    ~TempSpillFile() override;
    void write(uint64_t offset, const void *data, size_t len) override;
    void read(uint64_t offset, void *buf, size_t len) override;
    void write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                     size_t count) override;
    const char *mode_name() const override;
    bool opened() const { return file_.opened(); }

    // The pgsql_tmp directory of the next temp tablespace (may ereport; call at executor start).
    static void temp_dir(char *out, size_t size);

private:
    core::SpillFile &file();
    char dir_[MAXPGPATH];
    char shared_path_[MAXPGPATH] = "";
    core::SpillMode mode_;
    OpenedSpillFile file_;
};

core::SpillMode spill_mode_setting();

}  // namespace pm::pg
