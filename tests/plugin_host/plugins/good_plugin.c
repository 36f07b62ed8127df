/* A well-behaved test plugin, written in C against plugin_abi.h alone (no SDK):
 *   good.echo    writes back the input it was given, the idempotency key and what the host
 *                offered, and logs one line; it reads the case fields "age" and "district".
 *   good.decide  answers what its configuration says: {"answer": "ok" | "veto" | "pending" |
 *                "failed" | "retryable"}; the answer "refuse" makes create() refuse.
 * cp_test_good_live_instances() is exported for the tests only: how many instances exist. */
#include <carepath/plugin_abi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int live_instances;

CP_PLUGIN_EXPORT int cp_test_good_live_instances(void) {
  return atomic_load(&live_instances);
}

static void put(cp_sink sink, const char* text) {
  cp_str s = {text, strlen(text)};
  sink.write(sink.host, s);
}

static void put_str(cp_sink sink, cp_str s) {
  sink.write(sink.host, s);
}

/* Whether the borrowed, unterminated `text` contains `part`. */
static int contains(cp_str text, const char* part) {
  size_t n = strlen(part);
  for (size_t i = 0; i + n <= text.size; ++i) {
    if (memcmp(text.data + i, part, n) == 0) {
      return 1;
    }
  }
  return 0;
}

/* ---- good.echo ---------------------------------------------------------------------------- */

static cp_status echo_create(cp_str config, void** step, cp_sink error) {
  (void)config;
  int* instance = malloc(sizeof *instance);
  if (instance == NULL) {
    put(error, "out of memory");
    return CP_STATUS_FAILED;
  }
  atomic_fetch_add(&live_instances, 1);
  *step = instance;
  return CP_STATUS_OK;
}

static cp_status echo_run(void* step, const cp_host_api* host, void* call, cp_str input,
                          cp_sink output, cp_sink error) {
  (void)step;
  (void)error;
  static const char kMessage[] = "echo ran";
  cp_str message = {kMessage, sizeof kMessage - 1};
  host->log(call, CP_LOG_WARNING, message);

  char abi[64];
  snprintf(abi, sizeof abi, "\"%u.%u\",\"host_size\":%u", (unsigned)host->abi_major,
           (unsigned)host->abi_minor, (unsigned)host->struct_size);
  put(output, "{\"input\":");
  put_str(output, input);
  put(output, ",\"idempotency_key\":\"");
  put_str(output, host->idempotency_key(call));
  put(output, "\",\"cancelled\":");
  put(output, host->is_cancelled(call) ? "true" : "false");
  put(output, ",\"host_abi\":");
  put(output, abi);
  put(output, "}");
  return CP_STATUS_OK;
}

static void echo_destroy(void* step) {
  free(step);
  atomic_fetch_sub(&live_instances, 1);
}

static const char* const kEchoReads[] = {"age", "district"};

static const cp_step_type kEcho = {
    sizeof(cp_step_type),
    "good.echo",
    "Writes back what it was given.",
    NULL,
    kEchoReads,
    2,
    echo_create,
    echo_run,
    echo_destroy,
};

/* ---- good.decide -------------------------------------------------------------------------- */

typedef struct decide_step {
  cp_status answer;
} decide_step;

static cp_status decide_create(cp_str config, void** step, cp_sink error) {
  /* The host validated the configuration against the schema below, so one of these is there. */
  cp_status answer = CP_STATUS_INVALID;
  if (contains(config, "\"ok\"")) {
    answer = CP_STATUS_OK;
  } else if (contains(config, "\"veto\"")) {
    answer = CP_STATUS_VETO;
  } else if (contains(config, "\"pending\"")) {
    answer = CP_STATUS_PENDING;
  } else if (contains(config, "\"failed\"")) {
    answer = CP_STATUS_FAILED;
  } else if (contains(config, "\"retryable\"")) {
    answer = CP_STATUS_RETRYABLE;
  } else {
    put(error, "the answer 'refuse' is refused");
    return CP_STATUS_FAILED;
  }
  decide_step* instance = malloc(sizeof *instance);
  if (instance == NULL) {
    put(error, "out of memory");
    return CP_STATUS_FAILED;
  }
  instance->answer = answer;
  atomic_fetch_add(&live_instances, 1);
  *step = instance;
  return CP_STATUS_OK;
}

static cp_status decide_run(void* step, const cp_host_api* host, void* call, cp_str input,
                            cp_sink output, cp_sink error) {
  (void)host;
  (void)call;
  (void)input;
  const decide_step* self = step;
  switch (self->answer) {
    case CP_STATUS_OK:
      put(output, "{\"decided\": true}");
      break;
    case CP_STATUS_PENDING:
      put(output, "{\"task\": \"review by the child welfare committee\"}");
      break;
    case CP_STATUS_VETO:
      put(error, "guardian consent is missing");
      break;
    case CP_STATUS_FAILED:
      put(error, "provider unreachable");
      break;
    case CP_STATUS_RETRYABLE:
      put(error, "provider busy, ");
      put(error, "try again");
      break;
    default:
      break;
  }
  return self->answer;
}

static void decide_destroy(void* step) {
  free(step);
  atomic_fetch_sub(&live_instances, 1);
}

static const cp_step_type kDecide = {
    sizeof(cp_step_type),
    "good.decide",
    "Answers what its configuration says.",
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"answer\"],"
    " \"properties\": {\"answer\": {\"enum\": [\"ok\", \"veto\", \"pending\", \"failed\","
    " \"retryable\", \"refuse\"]}}}",
    NULL,
    0,
    decide_create,
    decide_run,
    decide_destroy,
};

/* ---- the plugin --------------------------------------------------------------------------- */

static const cp_step_type* const kSteps[] = {&kEcho, &kDecide};

static const cp_plugin kPlugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "good", "1.2.3", kSteps, 2,
};

CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host) {
  (void)host;
  return &kPlugin;
}
