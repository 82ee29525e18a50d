# Makefile — PGXS build of the parallel_material extension (C++17 over PostgreSQL 15, 17 or 18).
# `make` builds parallel_material.so, `make install` installs it with its control and SQL files.
# PG_CONFIG picks the PostgreSQL major version: make PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config
# (tools/pg-versions sets 17 and 18 up; docs/pg-versions.md). Objects built for another major
# version are removed first (.pg-major records the one they were built for).

PG_CONFIG ?= pg_config
PG_SUPPORTED_MAJORS := 15 17 18

PG_CONFIG_PATH := $(shell command -v $(PG_CONFIG) 2>/dev/null)
ifeq ($(PG_CONFIG_PATH),)
$(error pg_config not found ($(PG_CONFIG)): run tools/deps as root, or set PG_CONFIG=/path/to/pg_config of PostgreSQL $(PG_SUPPORTED_MAJORS))
endif
PG_MAJOR := $(shell $(PG_CONFIG) --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
ifeq ($(filter $(PG_MAJOR),$(PG_SUPPORTED_MAJORS)),)
$(error $(PG_CONFIG) is PostgreSQL $(PG_MAJOR), this extension supports $(PG_SUPPORTED_MAJORS): set PG_CONFIG to one of theirs (docs/pg-versions.md))
endif
ifeq ($(wildcard $(shell $(PG_CONFIG) --includedir-server)/postgres.h),)
$(error PostgreSQL $(PG_MAJOR) server headers are missing: run tools/deps as root (installs postgresql-server-dev-$(PG_MAJOR)))
endif

EXTENSION = parallel_material
MODULE_big = parallel_material
DATA = parallel_material--0.1.sql parallel_material--0.1--0.2.sql
CORE_SRCS := $(sort $(wildcard src/core/*.cpp))
PG_SRCS := $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

PG_CPPFLAGS = -Iinclude -Isrc
PG_CXXFLAGS = -std=gnu++17 -Wall -Wextra -Werror -fvisibility=hidden -fvisibility-inlines-hidden -fexceptions
SHLIB_LINK = -luring -lstdc++

# Debian's PGXS would emit LLVM bitcode for every .cpp with clang, without our C++ flags.
override with_llvm = no
override autodepend = yes

EXTRA_CLEAN = .deps .pg-major

# The regression suite for `make installcheck` (against an installed extension and a running
# server with shared_preload_libraries = parallel_material): what pg_buildext installcheck runs
# for the Debian package (debian/rules, debian/tests/installcheck). test/run runs the same files.
REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=parallel_material

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's headers are not warning-clean C++: include them as system headers so that
# -Wall -Wextra -Werror applies to our code only.
override CPPFLAGS := -Iinclude -Isrc $(patsubst -I%,-isystem %,$(filter-out -Iinclude -Isrc,$(CPPFLAGS)))

# Objects of another major version: clean them before anything is compiled (the .o files live
# next to their sources, one build at a time).
ifneq ($(filter-out clean distclean,$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell cat .pg-major 2>/dev/null),$(PG_MAJOR))
$(shell rm -f $(OBJS) $(MODULE_big).so; echo $(PG_MAJOR) > .pg-major)
endif
endif

.PHONY: unit
unit:
	$(MAKE) -C test/unit
