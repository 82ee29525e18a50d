// pg.hpp — the single place the adapter includes PostgreSQL's headers from C++.
// PostgreSQL 15's headers have no C++ guards and port.h/c.h redefine printf, snprintf, gettext:
// standard headers come first, then every PostgreSQL header inside extern "C".
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

// We build with -fvisibility=hidden; PostgreSQL 15 defines PGDLLEXPORT as nothing outside
// Windows, so entry points (PG_MODULE_MAGIC, PG_FUNCTION_INFO_V1, _PG_init) would be hidden.
#define PGDLLEXPORT __attribute__((visibility("default")))

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

// PostgreSQL's c.h defines these as macros; they break the C++ standard library headers that
// other translation units may include after this one.
#ifdef gettext
#undef gettext
#endif
#ifdef dgettext
#undef dgettext
#endif
#ifdef ngettext
#undef ngettext
#endif
#ifdef dngettext
#undef dngettext
#endif
