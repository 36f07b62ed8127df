/* plugin_abi.h compiled as C11 (-std=c11 -pedantic-errors): the header must stay valid C for
 * plugins written in C or in languages that bind to C. The layout it produces here is compared
 * with the C++ layout in plugin_abi_test.cpp. */
#include <carepath/plugin_abi.h>
#include <stddef.h>

#include "abi_layout_c11.h"

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L
#error "plugin_abi_c11.c must be compiled as C11"
#endif

_Static_assert(offsetof(cp_host_api, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(cp_step_type, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(cp_plugin, struct_size) == 0, "struct_size comes first");
_Static_assert(CP_STATUS_INVALID == 0, "zero is never an answer");

/* A plugin written in C: its functions have exactly the types the ABI declares. */
static cp_status c_create(cp_str config_json, void** step, cp_sink error) {
  (void)config_json;
  (void)error;
  *step = NULL;
  return CP_STATUS_FAILED;
}
static cp_status c_run(void* step, const cp_host_api* host, void* call, cp_str input_json,
                       cp_sink output, cp_sink error) {
  (void)step;
  (void)host;
  (void)call;
  (void)input_json;
  (void)output;
  (void)error;
  return CP_STATUS_FAILED;
}
static void c_destroy(void* step) {
  (void)step;
}

static const cp_step_type c_step = {
    sizeof(cp_step_type), "c.step", NULL, NULL, NULL, 0, c_create, c_run, c_destroy};
static const cp_step_type* const c_steps[] = {&c_step};
static const cp_plugin c_plugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "c", "0.0.0", c_steps, 1};
static const cp_plugin* c_entry(const cp_host_api* host) {
  (void)host;
  return &c_plugin;
}
const cp_plugin_entry_fn cp_test_c11_entry = c_entry;

#define CP_ALIGNOF(type) _Alignof(type)
#define CP_LAYOUT(expression) {#expression, (size_t)(expression)},

const cp_test_layout_entry cp_test_c11_layout[] = {
#include "abi_layout.inc"
};

const size_t cp_test_c11_layout_count = sizeof cp_test_c11_layout / sizeof cp_test_c11_layout[0];

const long cp_test_c11_stdc_version = __STDC_VERSION__;
