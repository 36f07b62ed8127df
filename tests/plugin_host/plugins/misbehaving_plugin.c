/* A test plugin that loads fine but whose steps answer garbage, to check that the host turns
 * every kind of nonsense into a failed outcome and never crashes or throws. Written in C against
 * plugin_abi.h alone. Each step's name says what its run() does. */
#include <carepath/plugin_abi.h>
#include <string.h>

static void put(cp_sink sink, const char* text) {
  cp_str s = {text, strlen(text)};
  sink.write(sink.host, s);
}

static cp_status create_ok(cp_str config, void** step, cp_sink error) {
  (void)config;
  (void)error;
  *step = NULL; /* stateless: no instance data */
  return CP_STATUS_OK;
}

static cp_status create_invalid(cp_str config, void** step, cp_sink error) {
  (void)config;
  (void)step;
  (void)error;
  return CP_STATUS_INVALID;
}

static void destroy(void* step) {
  (void)step;
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

RUN(status_zero) {
  UNUSED;
  put(output, "{}");
  return (cp_status)0;
}

RUN(status_99) {
  UNUSED;
  put(output, "{}");
  return (cp_status)99;
}

RUN(garbage_output) {
  UNUSED;
  put(output, "{\"referral\": ");
  return CP_STATUS_OK;
}

RUN(array_output) {
  UNUSED;
  put(output, "[1, 2]");
  return CP_STATUS_OK;
}

RUN(pending_scalar) {
  UNUSED;
  put(output, "42");
  return CP_STATUS_PENDING;
}

RUN(invalid_utf8_output) {
  UNUSED;
  put(output, "{\"a\": \"\xff\xfe\"}");
  return CP_STATUS_OK;
}

RUN(empty_output) {
  UNUSED;
  return CP_STATUS_OK;
}

RUN(silent_failure) {
  UNUSED;
  return CP_STATUS_FAILED;
}

RUN(long_error) {
  UNUSED;
  for (int i = 0; i < 100; ++i) {
    put(error, "0123456789012345678901234567890123456789012345678901234567890123456789012345678");
  }
  return CP_STATUS_FAILED;
}

RUN(flood) {
  UNUSED;
  static char chunk[1 << 20];
  memset(chunk, ' ', sizeof chunk);
  cp_str s = {chunk, sizeof chunk};
  put(output, "{\"a\": 1");
  for (int i = 0; i < 17; ++i) {
    output.write(output.host, s);
  }
  put(output, "}");
  return CP_STATUS_OK;
}

/* Calls the host with a NULL call handle and a NULL message; the host must shrug. */
RUN(foreign_call) {
  UNUSED;
  cp_str nothing = {NULL, 5};
  host->log(NULL, CP_LOG_ERROR, nothing);
  host->log(call, CP_LOG_ERROR, nothing);
  host->log(call, 42, (cp_str){"odd level", 9});
  cp_str key = host->idempotency_key(NULL);
  output.write(output.host, nothing);
  put(output, key.size == 0 && !host->is_cancelled(NULL) ? "{\"ok\": true}" : "{\"ok\": false}");
  return CP_STATUS_OK;
}

#define STEP(var, step_name, create_fn, run_fn)              \
  static const cp_step_type var = {sizeof(cp_step_type),     \
                                   "misbehaving." step_name, \
                                   NULL,                     \
                                   NULL,                     \
                                   NULL,                     \
                                   0,                        \
                                   create_fn,                \
                                   run_fn,                   \
                                   destroy}

STEP(kStatusZero, "status_zero", create_ok, status_zero);
STEP(kStatus99, "status_99", create_ok, status_99);
STEP(kGarbage, "garbage_output", create_ok, garbage_output);
STEP(kArray, "array_output", create_ok, array_output);
STEP(kPendingScalar, "pending_scalar", create_ok, pending_scalar);
STEP(kInvalidUtf8, "invalid_utf8_output", create_ok, invalid_utf8_output);
STEP(kEmpty, "empty_output", create_ok, empty_output);
STEP(kSilent, "silent_failure", create_ok, silent_failure);
STEP(kLongError, "long_error", create_ok, long_error);
STEP(kFlood, "flood", create_ok, flood);
STEP(kForeign, "foreign_call", create_ok, foreign_call);
STEP(kBadCreate, "bad_create", create_invalid, empty_output);

static const cp_step_type* const kSteps[] = {
    &kStatusZero, &kStatus99, &kGarbage,   &kArray, &kPendingScalar, &kInvalidUtf8,
    &kEmpty,      &kSilent,   &kLongError, &kFlood, &kForeign,       &kBadCreate,
};

static const cp_plugin kPlugin = {
    sizeof(cp_plugin),
    CP_ABI_MAJOR,
    CP_ABI_MINOR,
    "misbehaving",
    "0.0.1",
    kSteps,
    sizeof kSteps / sizeof kSteps[0],
};

CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host) {
  (void)host;
  return &kPlugin;
}
