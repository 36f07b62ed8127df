/* Test plugins that the host must refuse, one per build. The build defines exactly one
 * CP_BROKEN_<what> macro; each changes one thing in an otherwise valid plugin named "broken"
 * with steps "broken.first" and "broken.second". Written in C against plugin_abi.h alone.
 * CP_BROKEN_LAX_SCHEMA is the exception: it loads, but `carepath plugins check` warns about it. */
#include <carepath/plugin_abi.h>
#include <stddef.h>

#define PLUGIN_NAME "broken"
#define PLUGIN_VERSION "0.1.0"
#define PLUGIN_SIZE sizeof(cp_plugin)
#define ABI_MAJOR CP_ABI_MAJOR
#define ABI_MINOR CP_ABI_MINOR
#define FIRST_NAME "broken.first"
#define SECOND_NAME "broken.second"
#define FIRST_SIZE sizeof(cp_step_type)
#define SCHEMA "{\"type\": \"object\", \"additionalProperties\": false}"
#define READS kReads
#define READ_COUNT 1
#define RUN run
#define STEPS kSteps
#define STEP_COUNT 2

#if defined(CP_BROKEN_WRONG_MAJOR)
#undef ABI_MAJOR
#define ABI_MAJOR 2
#elif defined(CP_BROKEN_NEWER_MINOR)
#undef ABI_MINOR
#define ABI_MINOR 7
#elif defined(CP_BROKEN_SMALL_DESCRIPTOR)
#undef PLUGIN_SIZE
#define PLUGIN_SIZE 8
#elif defined(CP_BROKEN_SMALL_STEP)
#undef FIRST_SIZE
#define FIRST_SIZE offsetof(cp_step_type, run)
#elif defined(CP_BROKEN_BAD_NAME)
#undef PLUGIN_NAME
#define PLUGIN_NAME "Broken-Name"
#elif defined(CP_BROKEN_CORE_NAME)
#undef PLUGIN_NAME
#define PLUGIN_NAME "core"
#undef FIRST_NAME
#define FIRST_NAME "core.first"
#undef SECOND_NAME
#define SECOND_NAME "core.second"
#elif defined(CP_BROKEN_NO_VERSION)
#undef PLUGIN_VERSION
#define PLUGIN_VERSION NULL
#elif defined(CP_BROKEN_NO_TABLE)
#undef STEPS
#define STEPS NULL
#elif defined(CP_BROKEN_NULL_STEP)
#undef STEPS
#define STEPS kStepsWithNull
#elif defined(CP_BROKEN_DUPLICATE_STEPS)
#undef SECOND_NAME
#define SECOND_NAME "broken.first"
#elif defined(CP_BROKEN_UNPREFIXED_STEP)
#undef SECOND_NAME
#define SECOND_NAME "other.second"
#elif defined(CP_BROKEN_CORE_STEP)
#undef SECOND_NAME
#define SECOND_NAME "core.second"
#elif defined(CP_BROKEN_BAD_JSON_SCHEMA)
#undef SCHEMA
#define SCHEMA "{\"type\": \"object\", "
#elif defined(CP_BROKEN_UNSUPPORTED_SCHEMA)
#undef SCHEMA
#define SCHEMA "{\"properties\": {\"email\": {\"type\": \"string\", \"format\": \"email\"}}}"
#elif defined(CP_BROKEN_LAX_SCHEMA)
#undef SCHEMA
#define SCHEMA "{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"string\"}}}"
#elif defined(CP_BROKEN_BAD_READS)
#undef READS
#define READS kBadReads
#elif defined(CP_BROKEN_NO_READS_LIST)
#undef READS
#define READS NULL
#elif defined(CP_BROKEN_NO_RUN)
#undef RUN
#define RUN NULL
#elif defined(CP_BROKEN_NULL_DESCRIPTOR)
/* handled in the entry function */
#elif defined(CP_BROKEN_ENTRY_V2)
/* handled at the end: exports carepath_plugin_entry_v2 instead */
#elif defined(CP_BROKEN_NOT_A_PLUGIN)
/* handled at the end: exports no entry function */
#else
#error "define one CP_BROKEN_<what>"
#endif

static cp_status create(cp_str config, void** step, cp_sink error) {
  (void)config;
  (void)error;
  *step = NULL;
  return CP_STATUS_OK;
}

static cp_status run(void* step, const cp_host_api* host, void* call, cp_str input, cp_sink output,
                     cp_sink error) {
  (void)step;
  (void)host;
  (void)call;
  (void)input;
  (void)output;
  (void)error;
  return CP_STATUS_OK;
}

static void destroy(void* step) {
  (void)step;
}

static const char* const kReads[] = {"age"};
static const char* const kBadReads[] = {"Age; DROP TABLE"};

static const cp_step_type kFirst = {
    FIRST_SIZE, FIRST_NAME, NULL, SCHEMA, READS, READ_COUNT, create, RUN, destroy,
};
static const cp_step_type kSecond = {
    sizeof(cp_step_type), SECOND_NAME, NULL, NULL, NULL, 0, create, run, destroy,
};

static const cp_step_type* const kSteps[] = {&kFirst, &kSecond};
static const cp_step_type* const kStepsWithNull[] = {&kFirst, NULL};

static const cp_plugin kPlugin = {
    PLUGIN_SIZE, ABI_MAJOR, ABI_MINOR, PLUGIN_NAME, PLUGIN_VERSION, STEPS, STEP_COUNT,
};

#if defined(CP_BROKEN_ENTRY_V2)
CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v2(const cp_host_api* host) {
  (void)host;
  return &kPlugin;
}
#elif defined(CP_BROKEN_NOT_A_PLUGIN)
CP_PLUGIN_EXPORT int not_a_plugin_answer(void) {
  return kPlugin.abi_major;
}
#else
CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host) {
  (void)host;
#if defined(CP_BROKEN_NULL_DESCRIPTOR)
  return NULL;
#else
  return &kPlugin;
#endif
}
#endif
