/* bench_noop.so: the smallest plugin the C ABI allows, for core_bench. One step type,
 * "bench.noop", that takes no settings, reads no field and answers CP_STATUS_OK with no output:
 * what a plugin step call costs the engine, without any work of the plugin's own. */
#include <carepath/plugin_abi.h>

static int instance_tag;

static cp_status noop_create(cp_str config_json, void** step, cp_sink error) {
  (void)config_json;
  (void)error;
  *step = &instance_tag;
  return CP_STATUS_OK;
}

static cp_status noop_run(void* step, const cp_host_api* host, void* call, cp_str input_json,
                          cp_sink output, cp_sink error) {
  (void)step;
  (void)host;
  (void)call;
  (void)input_json;
  (void)output;
  (void)error;
  return CP_STATUS_OK;
}

static void noop_destroy(void* step) {
  (void)step;
}

static const cp_step_type noop_step = {sizeof(cp_step_type),
                                       "bench.noop",
                                       "Does nothing: measures the cost of a plugin step call.",
                                       NULL,
                                       NULL,
                                       0,
                                       noop_create,
                                       noop_run,
                                       noop_destroy};

static const cp_step_type* const step_types[] = {&noop_step};

static const cp_plugin plugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "bench", "0.0.1", step_types, 1};

CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host) {
  (void)host;
  return &plugin;
}
