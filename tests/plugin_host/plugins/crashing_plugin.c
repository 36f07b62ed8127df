/* A test plugin whose steps break the process they run in, for the time limit and
 * `isolation: process` tests. Written in C against plugin_abi.h alone. Never run these steps
 * in-process except `crashing.hang`, `crashing.slow` and `crashing.garbage`:
 *   crashing.fine      answers {"fine": true}: the host still works
 *   crashing.slow      sleeps until the host cancels the call (is_cancelled), then answers
 *                      retryable: an abandoned call that ends
 *   crashing.hang      sleeps forever and never looks at is_cancelled
 *   crashing.spin      loops forever on the CPU
 *   crashing.segfault  dereferences a null pointer
 *   crashing.garbage   prints junk on stdout and answers "ok" with output that is not JSON
 *   crashing.corrupt   writes junk on every socket the process has (as a plugin scribbling over
 *                      its host would), then answers "ok"
 *   crashing.big       answers "ok" with a 64 KiB object */
#include <carepath/plugin_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void put(cp_sink sink, const char* text) {
  cp_str s = {text, strlen(text)};
  sink.write(sink.host, s);
}

static cp_status create(cp_str config, void** step, cp_sink error) {
  (void)config;
  (void)error;
  *step = NULL;
  return CP_STATUS_OK;
}

static void destroy(void* step) {
  (void)step;
}

static void nap(void) {
  struct timespec t = {0, 10 * 1000 * 1000};
  nanosleep(&t, NULL);
}

#define RUN(fn)                                                                      \
  static cp_status fn(void* step, const cp_host_api* host, void* call, cp_str input, \
                      cp_sink output, cp_sink error)
#define UNUSED  \
  (void)step;   \
  (void)host;   \
  (void)call;   \
  (void)input;  \
  (void)output; \
  (void)error

RUN(fine) {
  UNUSED;
  put(output, "{\"fine\": true}");
  return CP_STATUS_OK;
}

RUN(slow) {
  UNUSED;
  while (!host->is_cancelled(call)) {
    nap();
  }
  put(error, "cancelled");
  return CP_STATUS_RETRYABLE;
}

RUN(hang) {
  UNUSED;
  for (;;) {
    nap();
  }
}

RUN(spin) {
  UNUSED;
  volatile unsigned long n = 0;
  for (;;) {
    n = n + 1;
  }
}

RUN(segfault) {
  UNUSED;
  volatile int* nothing = NULL;
  *nothing = 42;
  return CP_STATUS_OK;
}

RUN(garbage) {
  UNUSED;
  printf("}}} not a protocol line\n");
  fflush(stdout);
  put(output, "{\"half\": ");
  return CP_STATUS_OK;
}

RUN(corrupt) {
  UNUSED;
  static const char kJunk[] = "\x01\x02 junk, not JSON\n";
  for (int fd = 3; fd < 64; ++fd) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
      (void)!write(fd, kJunk, sizeof kJunk - 1);
    }
  }
  put(output, "{}");
  return CP_STATUS_OK;
}

RUN(big) {
  UNUSED;
  static char text[65536 + 32];
  memset(text, 'x', sizeof text);
  memcpy(text, "{\"big\": \"", 9);
  memcpy(text + sizeof text - 3, "\"}", 3);
  put(output, text);
  return CP_STATUS_OK;
}

#define STEP(var, name, fn)         \
  static const cp_step_type var = { \
      sizeof(cp_step_type), name, "A test step.", NULL, NULL, 0, create, fn, destroy}

STEP(kFine, "crashing.fine", fine);
STEP(kSlow, "crashing.slow", slow);
STEP(kHang, "crashing.hang", hang);
STEP(kSpin, "crashing.spin", spin);
STEP(kSegfault, "crashing.segfault", segfault);
STEP(kGarbage, "crashing.garbage", garbage);
STEP(kCorrupt, "crashing.corrupt", corrupt);
STEP(kBig, "crashing.big", big);

static const cp_step_type* const kSteps[] = {&kFine,     &kSlow,    &kHang,    &kSpin,
                                             &kSegfault, &kGarbage, &kCorrupt, &kBig};

static const cp_plugin kPlugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "crashing", "0.0.1", kSteps, 8,
};

CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host) {
  (void)host;
  return &kPlugin;
}
