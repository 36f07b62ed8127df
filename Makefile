# The README's two commands, and a few helpers.
#   make run    install what is missing, build, start the server (127.0.0.1:8080, var/carepath.db)
#   make test   install what is missing, build, run every test with ctest
#   make fuzz   build the fuzz harnesses with clang in build-fuzz/ and run each FUZZ_SECONDS
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

CAREPATH := $(BUILD_DIR)/engine/src/app/carepath

.PHONY: all deps configure build run test test-asan test-tsan fuzz bench bench-check validate clean format format-check

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The master key encrypts sensitive fields (docs/data-protection.md). A development key is made
# under var/ on the first run; a real installation keeps its key apart from the database.
MASTER_KEY ?= var/master.key
# What config/carepath.service sets: malloc backs large blocks with transparent huge pages
# (docs/operations.md, "Memory and huge pages"). `make run` and `make bench` run with it.
MALLOC_TUNABLES ?= glibc.malloc.hugetlb=1

run: build
	@mkdir -p var
	@if [ ! -f $(MASTER_KEY) ]; then \
	  $(CAREPATH) keys init $(MASTER_KEY) >/dev/null && \
	  echo "make run: created a development master key in $(MASTER_KEY); sensitive fields in var/carepath.db are encrypted under it, so keep the two together here and apart in production"; \
	fi
	GLIBC_TUNABLES=$(MALLOC_TUNABLES) $(CAREPATH) serve --config config/carepath.yaml --master-key $(MASTER_KEY)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The suite again under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/ (.ci/run runs
# it). Left out: the checks that run outside tools (npm, the example's own build, the install),
# which test no engine code of their own. docs/reliability.md says what each build found.
ASAN_EXCLUDE ?= ^(schema\.ajv|openapi\.lint|openapi\.prism|example\.custom_plugin|install\.layout)$$
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCP_SANITIZE=address,undefined \
	  -DCP_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E '$(ASAN_EXCLUDE)'

# The runtime, API and server tests under ThreadSanitizer, in build-tsan/.
test-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCP_SANITIZE=thread \
	  -DCP_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target cp_runtime_tests cp_api_tests \
	  cp_integration_tests carepath legal_aid medical vocational
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --output-on-failure -j $(JOBS) -L '^(runtime|api|integration)$$'

# libFuzzer harnesses (fuzz/, docs/reliability.md): clang, ASan and UBSan in build-fuzz/, each
# harness run for FUZZ_SECONDS over a copy of its corpus; fails when one finds a crash.
# Not part of `make test`, which runs every corpus file once with the normal compiler.
FUZZ_SECONDS ?= 60

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash scripts/fuzz.sh

# Speed and memory targets (bench/README.md); not part of `make test`. The large-database run
# builds a million cases in LARGE_BENCH_DIR (about 4 minutes, 6 GB); keep it and run
# `make bench LARGE_BENCH_FLAGS=--reuse` to measure again without rebuilding.
LARGE_BENCH_DIR ?= $(BUILD_DIR)/bench-large
LARGE_BENCH_FLAGS ?=
bench: export GLIBC_TUNABLES = $(MALLOC_TUNABLES)
bench: build
	$(BUILD_DIR)/bench/core_bench
	$(BUILD_DIR)/bench/timers_bench
	$(BUILD_DIR)/bench/migration_bench
	$(BUILD_DIR)/bench/import_bench
	$(BUILD_DIR)/bench/reports_bench
	$(BUILD_DIR)/bench/http_bench --dir $(BUILD_DIR)/bench-data --csv $(BUILD_DIR)/bench-http.csv
	python3 bench/plot.py $(BUILD_DIR)/bench-http.csv $(BUILD_DIR)/bench-http.svg
	$(BUILD_DIR)/bench/large_bench --dir $(LARGE_BENCH_DIR) $(LARGE_BENCH_FLAGS)

# The core's instruction count under callgrind against bench/callgrind-baseline.txt: fails on a
# rise of more than 10% (deterministic, unlike timings; bench/README.md). Run by .ci/run.
bench-check: build
	@bash bench/callgrind-check.sh

validate: build
	$(CAREPATH) validate workflows/*.yaml --plugins $(BUILD_DIR)/plugins

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

# Fails when a C/C++ file is not formatted as .clang-format says; skipped without clang-format.
format-check:
	@if command -v clang-format >/dev/null 2>&1; then \
	  clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c') && echo "format: ok"; \
	else echo "format: clang-format not installed, check skipped"; fi

clean:
	rm -rf $(BUILD_DIR) build-fuzz
