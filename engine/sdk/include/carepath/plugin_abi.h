/* carepath plugin ABI: the stable C boundary between the engine and plugin libraries.
 *
 * A plugin is a shared library that exports exactly one symbol, carepath_plugin_entry_v1, which
 * returns a static descriptor of the plugin and its step types. Only C types cross the boundary:
 * borrowed strings in, host-owned sinks out, status codes instead of exceptions, JSON as text.
 *
 * Versioning:
 *   - CP_ABI_MAJOR is part of the entry symbol's name. A plugin built for another major is simply
 *     not found by this engine, and the engine says so.
 *   - CP_ABI_MINOR grows when a member is appended to a struct. Every struct begins with
 *     struct_size; a reader never reads past it. The host refuses a plugin built against a newer
 *     minor than its own; a plugin treats a NULL host function as "not offered".
 *
 * Compiles as C11 and as C++; uses standard headers only.
 */
#ifndef CP_PLUGIN_ABI_H_
#define CP_PLUGIN_ABI_H_

/* NOLINTBEGIN */

#include <stddef.h>
#include <stdint.h>

#define CP_ABI_MAJOR 1
#define CP_ABI_MINOR 0

#if defined(__GNUC__) || defined(__clang__)
#define CP_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CP_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Borrowed bytes, valid only during the call that received them. Not NUL-terminated.
 * Ownership: the side that passes a cp_str keeps owning the bytes. */
typedef struct cp_str {
  const char* data;
  size_t size;
} cp_str;

/* Host-owned output. The plugin calls write() any number of times during the call that received
 * the sink; the host appends and keeps the bytes. Never call write() after that call returns.
 * Ownership: the host owns `host` and everything written. */
typedef struct cp_sink {
  void* host;
  void (*write)(void* host, cp_str bytes);
} cp_sink;

/* What a step call answered. Zero is never an answer. */
typedef enum cp_status {
  CP_STATUS_INVALID = 0,
  CP_STATUS_OK = 1,        /* done; the output sink holds a JSON object of case fields to set */
  CP_STATUS_FAILED = 2,    /* the step failed; the error sink holds why (for people) */
  CP_STATUS_RETRYABLE = 3, /* transient failure; the workflow's retry policy decides */
  CP_STATUS_PENDING = 4,   /* waiting for an outside system or a person; the output sink holds a
                              JSON object describing the task; completion arrives via the API */
  CP_STATUS_VETO = 5       /* (synchronous steps) the transition must not happen; the error sink
                              holds the reason, shown to the caller */
} cp_status;

/* Log levels for cp_host_api.log. */
typedef enum cp_log_level {
  CP_LOG_DEBUG = 1,
  CP_LOG_INFO = 2,
  CP_LOG_WARNING = 3,
  CP_LOG_ERROR = 4
} cp_log_level;

/* Services the host offers to a step call. Append-only; read a member only when struct_size
 * covers it, and treat a NULL function as "not offered".
 * `call` is the opaque handle the host passed to run(); valid only during that run() call.
 * Ownership: the host owns the table; it lives as long as the plugin is loaded. */
typedef struct cp_host_api {
  uint32_t struct_size;
  uint16_t abi_major; /* the engine's CP_ABI_MAJOR */
  uint16_t abi_minor; /* the engine's CP_ABI_MINOR */
  /* Writes one log line attributed to the step. Never log case field values. */
  void (*log)(void* call, int level, cp_str message);
  /* Non-zero when the engine no longer waits for this call (time limit, shutdown). */
  int (*is_cancelled)(void* call);
  /* A key that is the same for every attempt of this call (retries, restarts) and different for
   * every other call; pass it to outside systems so they can drop duplicates. Borrowed. */
  cp_str (*idempotency_key)(void* call);
} cp_host_api;

/* One step type. Append-only; the host reads at most struct_size bytes.
 * Ownership: the plugin owns the struct and every string in it; they must stay valid as long as
 * the library is loaded (static storage is the normal choice). */
typedef struct cp_step_type {
  uint32_t struct_size;
  const char* name;          /* "<plugin>.<step>", e.g. "legal_aid.refer"; "core." is reserved */
  const char* description;   /* one sentence for people; may be NULL */
  const char* config_schema; /* JSON Schema (text) of the `with:` block; NULL: no settings */
  const char* const* reads;  /* case field names the step may read; the host passes no others */
  size_t read_count;

  /* Checks `config_json` (already valid against config_schema) and makes a step instance.
   * On CP_STATUS_OK stores it in *step; otherwise writes why to `error`. */
  cp_status (*create)(cp_str config_json, void** step, cp_sink error);

  /* Runs the step once. `input_json` is an object:
   *   {"case": {"id", "code", "workflow", "workflow_version", "state"},
   *    "event": name or null, "from": state or null, "to": state,
   *    "data": {only the declared `reads` fields that are set}}
   * On CP_STATUS_OK the plugin may write a JSON object of case fields to set to `output`.
   * Thread-safety: the host may call run() on one instance from several threads at once. */
  cp_status (*run)(void* step, const cp_host_api* host, void* call, cp_str input_json,
                   cp_sink output, cp_sink error);

  /* Frees an instance made by create(). Called before the library could ever be unloaded. */
  void (*destroy)(void* step);
} cp_step_type;

/* The plugin's descriptor, returned by the entry function.
 * Ownership: the plugin's; it must stay valid as long as the library is loaded. */
typedef struct cp_plugin {
  uint32_t struct_size;
  uint16_t abi_major;  /* CP_ABI_MAJOR the plugin was compiled against */
  uint16_t abi_minor;  /* CP_ABI_MINOR the plugin was compiled against */
  const char* name;    /* "legal_aid": [a-z][a-z0-9_]* */
  const char* version; /* the plugin's own version, "0.1.0" */
  /* Pointers, not an array of structs, so that cp_step_type can grow without changing the
   * stride the host would have to guess. */
  const cp_step_type* const* step_types;
  size_t step_type_count;
} cp_plugin;

/* The one exported symbol. Called once, right after loading, on the loading thread.
 * `host` stays valid for the life of the process. Returns NULL to refuse to load. */
typedef const cp_plugin* (*cp_plugin_entry_fn)(const cp_host_api* host);

#define CP_PLUGIN_ENTRY_SYMBOL "carepath_plugin_entry_v1"

#ifdef __cplusplus
} /* extern "C" */
#endif

/* NOLINTEND */

#endif /* CP_PLUGIN_ABI_H_ */
