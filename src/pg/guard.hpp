// guard.hpp — the two guards at the C++/PostgreSQL boundary.
//
//  * pg_call(f): runs a PostgreSQL call from C++; an ereport(ERROR) inside it is caught with
//    PG_TRY, copied (SQLSTATE, message, detail, location kept) and rethrown as PgException, so
//    the C++ frames above unwind normally and run their destructors.
//  * guarded(f): wraps every entry point PostgreSQL calls (SQL functions, CustomScan and hook
//    callbacks). Any C++ exception is caught there, the catch block is left, and only then the
//    error is raised with ReThrowError / ereport: no longjmp ever leaves a catch handler, and no
//    C++ exception ever reaches PostgreSQL.
// The model is pg_duckdb's PostgresFunctionGuard and its C entry shims.
#pragma once

#include "parallel_material/core/error.hpp"
#include "pg/pg.hpp"

namespace pm::pg {

// A PostgreSQL error carried through C++ frames. Owns an ErrorData copied into the memory
// context that was current when pg_call started.
class PgException : public std::exception {
public:
    explicit PgException(ErrorData *edata) noexcept : edata_(edata) {}
    const char *what() const noexcept override;
    int sqlerrcode() const noexcept { return edata_ ? edata_->sqlerrcode : 0; }
    ErrorData *release() noexcept {
        ErrorData *e = edata_;
        edata_ = nullptr;
        return e;
    }

private:
    ErrorData *edata_;
};

namespace detail {
[[noreturn]] void throw_pg_exception(ErrorData *edata);
[[noreturn]] void raise_from_cpp(ErrorData *edata, int sqlerrcode, const char *message);
void copy_message(char *dst, size_t size, const char *src) noexcept;
int sqlstate_for(core::Error::Code code) noexcept;
constexpr size_t kMessageSize = 1024;
}  // namespace detail

// Run f, which calls into PostgreSQL, turning an ereport(ERROR) into PgException.
// f itself must not own objects with non-trivial destructors: a longjmp out of f skips them.
// Its result must be a scalar (Datum, pointer, integer) or void.
template <class F>
auto pg_call(F &&f) -> decltype(f()) {
    using R = decltype(f());
    static_assert(std::is_void_v<R> || std::is_scalar_v<R>, "pg_call returns scalars only");
    MemoryContext volatile caller_cxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    if constexpr (std::is_void_v<R>) {
        PG_TRY();
        { f(); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_cxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata != nullptr) detail::throw_pg_exception(edata);
    } else {
        volatile R result{};
        PG_TRY();
        { result = f(); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_cxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata != nullptr) detail::throw_pg_exception(edata);
        return result;
    }
}

// Run the body of an entry point; any C++ exception becomes a PostgreSQL ERROR after the catch
// block has been left.
template <class F>
auto guarded(F &&f) -> decltype(f()) {
    ErrorData *edata = nullptr;
    int code = ERRCODE_INTERNAL_ERROR;
    char message[detail::kMessageSize];
    message[0] = '\0';
    try {
        return f();
    } catch (PgException &e) {
        edata = e.release();
    } catch (const core::Error &e) {
        code = detail::sqlstate_for(e.code());
        detail::copy_message(message, sizeof(message), e.what());
    } catch (const std::bad_alloc &) {
        code = ERRCODE_OUT_OF_MEMORY;
        detail::copy_message(message, sizeof(message), "out of memory in C++ code");
    } catch (const std::exception &e) {
        detail::copy_message(message, sizeof(message), e.what());
    } catch (...) {
        detail::copy_message(message, sizeof(message), "unknown C++ exception");
    }
    detail::raise_from_cpp(edata, code, message);
}

}  // namespace pm::pg
