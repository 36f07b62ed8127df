// carepath plugin SDK: write plugin steps as ordinary C++ classes on top of the C ABI.
//
// Header-only and standard library only; it needs no Boost and no JSON library. It turns each
// Step class into a static cp_step_type whose functions catch every exception, so nothing ever
// unwinds through the C boundary (see plugin_abi.h for the boundary itself).
//
// A plugin is one or more Step classes and one CP_PLUGIN line:
//
//   #include <carepath/plugin.hpp>
//
//   namespace legal_aid {
//   constexpr std::string_view kReferSchema = R"({"type": "object", "required": ["provider"]})";
//
//   class ReferStep final : public carepath::sdk::Step {
//    public:
//     explicit ReferStep(std::string_view config_json);  // a throw here refuses the config
//     carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;
//   };
//   }  // namespace legal_aid
//
//   CP_PLUGIN(legal_aid, "0.1.0",
//             carepath::sdk::step_type<legal_aid::ReferStep>(
//                 "legal_aid.refer", legal_aid::kReferSchema, {"age", "cwc_order_no"},
//                 "Refers the case to a legal-aid provider"))
//
// Build it with carepath_add_plugin() from the carepath CMake package; the result exports one
// symbol, carepath_plugin_entry_v1.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <carepath/plugin_abi.h>

namespace carepath::sdk {
inline namespace v1 {

/// Severity of a line written with Call::log(); the values are the ABI's cp_log_level.
enum class LogLevel {
  debug = CP_LOG_DEBUG,
  info = CP_LOG_INFO,
  warning = CP_LOG_WARNING,
  error = CP_LOG_ERROR,
};

/// What one run of a step answered. Make one with the static functions; there is no default.
///
/// Messages (failed, retryable, veto) are for people: caseworkers and administrators read them
/// in the API and in logs. They must never contain case field values (a child's name, age,
/// address, home, order numbers...): name the field instead ("case field 'home' is not set").
///
/// Thread-safety: a plain value; copy and move it freely.
class [[nodiscard]] Outcome {
 public:
  /// The five answers; each value equals the cp_status the host receives.
  enum class Kind {
    ok = CP_STATUS_OK,
    failed = CP_STATUS_FAILED,
    retryable = CP_STATUS_RETRYABLE,
    pending = CP_STATUS_PENDING,
    veto = CP_STATUS_VETO,
  };

  /// The step is done.
  /// @param fields_json A JSON object of case fields to set, as text; "{}" sets nothing. Every
  ///   key must be a field the workflow declares, with a value of the declared type; the host
  ///   parses it. An empty string is sent as "{}".
  static Outcome ok(std::string fields_json = "{}") { return {Kind::ok, std::move(fields_json)}; }

  /// The step failed and trying again will not help (bad data, a refusal from the other side).
  /// The workflow sees a `step_failed` event.
  /// @param message Why, for people; no field values.
  static Outcome failed(std::string message) { return {Kind::failed, std::move(message)}; }

  /// The step failed for a reason that may pass (timeout, connection refused, HTTP 503); the
  /// workflow's retry policy decides whether and when to run it again.
  /// @param message Why, for people; no field values.
  static Outcome retryable(std::string message) { return {Kind::retryable, std::move(message)}; }

  /// The step waits for an outside system or a person; completion arrives later through the API.
  /// @param task_json A JSON object describing the task (for example what the person must do),
  ///   as text.
  static Outcome pending(std::string task_json) { return {Kind::pending, std::move(task_json)}; }

  /// (Synchronous steps only.) The transition must not happen; the caller sees the reason.
  /// @param reason Why, for people; no field values.
  static Outcome veto(std::string reason) { return {Kind::veto, std::move(reason)}; }

  /// Which of the five answers this is.
  Kind kind() const noexcept { return kind_; }

  /// The same answer as the ABI's status code.
  cp_status status() const noexcept { return static_cast<cp_status>(kind_); }

  /// ok: the fields object; pending: the task object; otherwise empty.
  std::string_view output_json() const noexcept {
    if (kind_ == Kind::ok || kind_ == Kind::pending) {
      return text_;
    }
    return {};
  }

  /// failed, retryable, veto: the message; otherwise empty.
  std::string_view message() const noexcept {
    if (kind_ == Kind::ok || kind_ == Kind::pending) {
      return {};
    }
    return text_;
  }

 private:
  Outcome(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}

  Kind kind_;
  std::string text_;
};

/// The host's services for one run of a step: logging, cancellation and the idempotency key.
///
/// The SDK makes one per call to run() and passes it in. Every member is safe whatever the host
/// offers: a service the host lacks (a NULL function, or a member beyond the host table's
/// struct_size, as with an older engine) does nothing and answers "no" or "empty".
///
/// Lifetime: valid only until the run() that received it returns; don't keep it or anything it
/// returned. Thread-safety: use it on the thread that called run().
class Call {
 public:
  /// Wraps a host table and the host's opaque handle for one call. The SDK does this for you;
  /// plugin unit tests can make one directly, and Call(nullptr, nullptr) is a host that offers
  /// nothing at all.
  /// @param host The host's service table, or NULL. Borrowed; it must outlive this object.
  /// @param call The host's opaque handle for this call, passed back to every host function.
  Call(const cp_host_api* host, void* call) noexcept : host_(host), call_(call) {}

  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  Call(Call&&) = delete;
  Call& operator=(Call&&) = delete;
  ~Call() = default;

  /// Writes one log line, attributed by the host to this step and case.
  /// @param level How severe.
  /// @param message The text; borrowed for the duration of the call. Never include case field
  ///   values: log line readers are not entitled to see the child's data.
  void log(LogLevel level, std::string_view message) const noexcept {
    if (offers(offsetof(cp_host_api, log), sizeof(host_->log)) && host_->log != nullptr) {
      host_->log(call_, static_cast<int>(level), cp_str{message.data(), message.size()});
    }
  }

  /// @return true when the engine no longer waits for this call (time limit, shutdown); a long
  ///   step should check it between pieces of work and return Outcome::retryable() early.
  ///   false when the host does not offer cancellation.
  bool is_cancelled() const noexcept {
    return offers(offsetof(cp_host_api, is_cancelled), sizeof(host_->is_cancelled)) &&
           host_->is_cancelled != nullptr && host_->is_cancelled(call_) != 0;
  }

  /// @return A key that is the same for every attempt of this call (retries, restarts) and
  ///   different for every other call; send it to outside systems so they can drop duplicates.
  ///   Empty when the host does not offer one. Borrowed: valid until run() returns; copy it
  ///   into a std::string to keep it.
  std::string_view idempotency_key() const noexcept {
    if (!offers(offsetof(cp_host_api, idempotency_key), sizeof(host_->idempotency_key)) ||
        host_->idempotency_key == nullptr) {
      return {};
    }
    const cp_str key = host_->idempotency_key(call_);
    return key.data == nullptr ? std::string_view() : std::string_view(key.data, key.size);
  }

 private:
  // True when the host table is long enough to hold the member at `offset`.
  bool offers(std::size_t offset, std::size_t size) const noexcept {
    return host_ != nullptr && host_->struct_size >= offset + size;
  }

  const cp_host_api* host_;
  void* call_;
};

/// The base class of every step. Derive from it once per step type, and give the class:
///
///   - a constructor `explicit MyStep(std::string_view config_json)`. It receives the step's
///     `with:` block, already valid against the config schema you declared. Parse and check it
///     here and throw (any std::exception) to refuse it: the workflow then fails to load, with
///     your what() as the reason. The view is borrowed: copy what you need.
///   - run(), below.
///
/// One instance serves every case that reaches the step in one workflow version; it lives until
/// the engine unloads that workflow or stops.
class Step {
 public:
  Step() = default;
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;
  Step(Step&&) = delete;
  Step& operator=(Step&&) = delete;
  virtual ~Step() = default;

  /// Runs the step once for one case.
  ///
  /// Thread-safety: the host may call run() on one instance from several threads at once, so
  /// treat it as if it were const: read what the constructor prepared, and guard anything you
  /// must change with a mutex or an atomic.
  /// Exceptions: anything thrown becomes Outcome::failed() with what() as the message
  /// ("unknown exception" for types not derived from std::exception). Prefer returning
  /// Outcome::failed() yourself, with a message that names no field values.
  /// Blocking: allowed (run() is called on a worker thread, never on the API's threads), but
  /// check call.is_cancelled() during long waits.
  ///
  /// @param call The host's services for this call; valid until run() returns.
  /// @param input_json The call's input as a JSON object, borrowed until run() returns:
  ///   {"case": {"id", "code", "workflow", "workflow_version", "state"},
  ///    "event": name or null, "from": state or null, "to": state,
  ///    "data": {the case fields the step type declared in `reads` that are set}}
  /// @return The answer; see Outcome.
  virtual Outcome run(Call& call, std::string_view input_json) = 0;
};

namespace detail {

// Writes `text` to a host sink; a sink without a function is ignored.
inline void write(cp_sink sink, std::string_view text) noexcept {
  if (sink.write != nullptr && !text.empty()) {
    sink.write(sink.host, cp_str{text.data(), text.size()});
  }
}

inline std::string_view view(cp_str text) noexcept {
  return text.data == nullptr ? std::string_view() : std::string_view(text.data, text.size);
}

// Hands an outcome to the host's sinks and returns its status.
inline cp_status deliver(const Outcome& outcome, cp_sink output, cp_sink error) noexcept {
  switch (outcome.kind()) {
    case Outcome::Kind::ok:
      write(output, outcome.output_json().empty() ? std::string_view("{}") : outcome.output_json());
      break;
    case Outcome::Kind::pending:
      write(output, outcome.output_json());
      break;
    case Outcome::Kind::failed:
    case Outcome::Kind::retryable:
    case Outcome::Kind::veto:
      write(error, outcome.message());
      break;
  }
  return outcome.status();
}

// Reports the exception being handled to `error`. Call only inside a catch block.
inline cp_status fail_with_current_exception(cp_sink error) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    write(error, e.what());
  } catch (...) {
    write(error, "unknown exception");
  }
  return CP_STATUS_FAILED;
}

// The C-callable functions of one step type. Static member functions of a class template have
// C++ language linkage, but on every platform carepath supports they use the C calling
// convention, which is what cp_step_type's function pointers need. None of them lets an
// exception escape: each catches everything and reports CP_STATUS_FAILED.
template <class S>
struct Trampolines {
  static cp_status create(cp_str config_json, void** step, cp_sink error) noexcept {
    if (step == nullptr) {
      write(error, "create() was called without a place for the step instance");
      return CP_STATUS_FAILED;
    }
    *step = nullptr;
    try {
      *step = new S(view(config_json));
      return CP_STATUS_OK;
    } catch (...) {
      return fail_with_current_exception(error);
    }
  }

  static cp_status run(void* step, const cp_host_api* host, void* call, cp_str input_json,
                       cp_sink output, cp_sink error) noexcept {
    if (step == nullptr) {
      write(error, "run() was called without a step instance");
      return CP_STATUS_FAILED;
    }
    try {
      Call context(host, call);
      // Through the base class, so that S may declare run() private.
      Step& base = *static_cast<S*>(step);
      return deliver(base.run(context, view(input_json)), output, error);
    } catch (...) {
      return fail_with_current_exception(error);
    }
  }

  static void destroy(void* step) noexcept {
    try {
      delete static_cast<S*>(step);
    } catch (...) {  // NOLINT(bugprone-empty-catch): there is nowhere to report it
    }
  }
};

// Checks, during constant evaluation, that `text` is NUL-terminated (a string literal is), since
// the ABI hands it on as a C string. Returns NULL for an empty view when `empty_is_null`.
consteval const char* c_string(std::string_view text, bool empty_is_null) {
  if (text.empty() && empty_is_null) {
    return nullptr;
  }
  if (text.data() == nullptr || text.data()[text.size()] != '\0') {
    throw "carepath::sdk: strings in a step type must be string literals (NUL-terminated)";
  }
  return text.data();
}

// The type of the `{}` in step_type<S>(name, schema, {}, description): no fields read.
struct NoReads {};

// One step type as CP_PLUGIN receives it: the cp_step_type minus its `reads` pointer, which can
// only be set once this object sits in static storage.
template <std::size_t N>
struct StepSpec {
  cp_step_type type;
  std::array<const char*, N> reads;
};

template <class S>
consteval void check_step_class() {
  static_assert(std::is_base_of_v<Step, S>, "carepath::sdk::step_type<S>: S must derive from Step");
  static_assert(std::is_constructible_v<S, std::string_view>,
                "carepath::sdk::step_type<S>: S needs a constructor taking std::string_view "
                "(the step's config JSON)");
  static_assert(!std::is_abstract_v<S>, "carepath::sdk::step_type<S>: S must implement run()");
}

template <class S, std::size_t N>
consteval StepSpec<N> make_spec(std::string_view name, std::string_view config_schema,
                                const std::string_view* reads, std::string_view description) {
  check_step_class<S>();
  StepSpec<N> spec{};
  spec.type = cp_step_type{
      .struct_size = sizeof(cp_step_type),
      .name = c_string(name, false),
      .description = c_string(description, true),
      .config_schema = c_string(config_schema, true),
      .reads = nullptr,
      .read_count = N,
      .create = &Trampolines<S>::create,
      .run = &Trampolines<S>::run,
      .destroy = &Trampolines<S>::destroy,
  };
  for (std::size_t i = 0; i < N; ++i) {
    spec.reads[i] = c_string(reads[i], false);
  }
  return spec;
}

constexpr bool is_lower_identifier(std::string_view text) {
  if (text.empty() || text.front() < 'a' || text.front() > 'z') {
    return false;
  }
  for (const char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// "<plugin>.<step>", both parts [a-z][a-z0-9_]*.
constexpr bool is_step_name_of(std::string_view plugin, std::string_view name) {
  return name.size() > plugin.size() + 1 && name.substr(0, plugin.size()) == plugin &&
         name[plugin.size()] == '.' && is_lower_identifier(name.substr(plugin.size() + 1));
}

template <class Specs, std::size_t... I>
constexpr bool step_names_ok(std::string_view plugin, const Specs& specs,
                             std::index_sequence<I...> /*unused*/) {
  const std::array<std::string_view, sizeof...(I)> names{std::get<I>(specs).type.name...};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!is_step_name_of(plugin, names[i])) {
      return false;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (names[i] == names[j]) {
        return false;
      }
    }
  }
  return true;
}

// True when every step type is named "<plugin>.<step>" and no name repeats.
template <class... Specs>
constexpr bool step_names_ok(std::string_view plugin, const std::tuple<Specs...>& specs) {
  return step_names_ok(plugin, specs, std::index_sequence_for<Specs...>());
}

template <class... Specs, std::size_t... I>
constexpr std::array<cp_step_type, sizeof...(Specs)> make_step_types(
    const std::tuple<Specs...>& specs, std::index_sequence<I...> /*unused*/) {
  std::array<cp_step_type, sizeof...(Specs)> types{std::get<I>(specs).type...};
  ((types[I].reads = std::get<I>(specs).reads.empty() ? nullptr : std::get<I>(specs).reads.data()),
   ...);
  return types;
}

// The cp_step_type structs, with `reads` pointing into `specs`.
// Requires: `specs` has static storage duration (CP_PLUGIN declares it `static constexpr`).
template <class... Specs>
constexpr std::array<cp_step_type, sizeof...(Specs)> make_step_types(
    const std::tuple<Specs...>& specs) {
  return make_step_types(specs, std::index_sequence_for<Specs...>());
}

// The table of pointers that cp_plugin::step_types points to.
// Requires: `types` has static storage duration.
template <std::size_t N>
constexpr std::array<const cp_step_type*, N> make_step_table(
    const std::array<cp_step_type, N>& types) {
  std::array<const cp_step_type*, N> table{};
  for (std::size_t i = 0; i < N; ++i) {
    table[i] = &types[i];
  }
  return table;
}

template <std::size_t N>
consteval cp_plugin make_plugin(std::string_view name, std::string_view version,
                                const std::array<const cp_step_type*, N>& table) {
  return cp_plugin{
      .struct_size = sizeof(cp_plugin),
      .abi_major = CP_ABI_MAJOR,
      .abi_minor = CP_ABI_MINOR,
      .name = c_string(name, false),
      .version = c_string(version, false),
      .step_types = table.data(),
      .step_type_count = N,
  };
}

}  // namespace detail

/// Declares one step type for CP_PLUGIN: the class that implements it and how the host sees it.
///
/// Every argument must be a constant expression, and every string a string literal (or a
/// constexpr std::string_view made from one), because the descriptor built from it is
/// constant-initialized static data that lives as long as the library is loaded. A string that
/// is not NUL-terminated is a compile-time error.
///
/// @tparam S The Step subclass; constructible from std::string_view (the config JSON).
/// @param name "<plugin>.<step>", e.g. "legal_aid.refer"; both parts [a-z][a-z0-9_]*. CP_PLUGIN
///   checks the prefix at compile time.
/// @param config_schema JSON Schema (text) of the step's `with:` block; the host validates the
///   block against it when the workflow loads, before S's constructor sees it. Empty means the
///   step takes no configuration at all.
/// @param reads The case fields the step may read, e.g. {"age", "cwc_order_no"}; input_json's
///   "data" holds only these. Declare as few as the step needs.
/// @param description One sentence for people (shown by `carepath plugins` and the API); may be
///   empty.
/// @return An opaque value for CP_PLUGIN's argument list.
template <class S>
consteval detail::StepSpec<0> step_type(std::string_view name, std::string_view config_schema) {
  return detail::make_spec<S, 0>(name, config_schema, nullptr, {});
}

/// As above, with the fields the step reads and an optional description.
template <class S, std::size_t N>
consteval detail::StepSpec<N> step_type(std::string_view name, std::string_view config_schema,
                                        // A reference to an array, so that N is deduced from
                                        // a braced list: {"age", "cwc_order_no"}.
                                        // NOLINTNEXTLINE(modernize-avoid-c-arrays)
                                        const std::string_view (&reads)[N],
                                        std::string_view description = {}) {
  return detail::make_spec<S, N>(name, config_schema, reads, description);
}

/// As above, for a step that reads no case fields: step_type<S>(name, schema, {}, description).
template <class S>
consteval detail::StepSpec<0> step_type(std::string_view name, std::string_view config_schema,
                                        detail::NoReads /*no_reads*/,
                                        std::string_view description) {
  return detail::make_spec<S, 0>(name, config_schema, nullptr, description);
}

}  // namespace v1
}  // namespace carepath::sdk

/// CP_PLUGIN(name, version, step_types...) defines the plugin's entry function.
///
/// Write it once per plugin, in one .cpp file, at namespace scope (not inside a function), with
/// no semicolon after it:
///
///   CP_PLUGIN(legal_aid, "0.1.0",
///             carepath::sdk::step_type<legal_aid::ReferStep>("legal_aid.refer", kReferSchema),
///             carepath::sdk::step_type<legal_aid::CloseStep>("legal_aid.close", kCloseSchema))
///
/// @param name The plugin's name as a bare identifier, not a string: legal_aid, not "legal_aid".
///   It must match [a-z][a-z0-9_]*; the descriptor gets it as a string, and the linked-in form
///   below needs it as part of a function name.
/// @param version The plugin's own version as a string literal, e.g. "0.1.0".
/// @param ... One or more carepath::sdk::step_type<...>(...) values. Each name must start with
///   "<name>." and no name may repeat; both are checked at compile time.
///
/// Normally this defines the one exported symbol
///   extern "C" const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* host);
/// When CP_PLUGIN_STATIC is defined (first-party plugins linked into the engine or a test
/// binary), it instead defines the unexported
///   extern "C" const cp_plugin* <name>_carepath_plugin_entry_v1(const cp_host_api* host);
/// so that several plugins can share one binary; declare it where you call it with
/// CP_PLUGIN_DECLARE_STATIC(name).
///
/// The returned descriptor, its step table and every string in them are constant-initialized
/// static data: nothing is allocated, nothing runs before main() or at exit, and the entry
/// function may be called any number of times from any thread. It ignores `host` (each run()
/// receives the host table) and never returns NULL.
#define CP_PLUGIN(name, version, ...)                                                            \
  CP_PLUGIN_ENTRY_SIGNATURE_(name) {                                                             \
    static_assert(::carepath::sdk::detail::is_lower_identifier(#name),                           \
                  "CP_PLUGIN: the plugin name must be a bare identifier matching "               \
                  "[a-z][a-z0-9_]* (write CP_PLUGIN(legal_aid, ...), not "                       \
                  "CP_PLUGIN(\"legal_aid\", ...))");                                             \
    static constexpr auto kCpSpecs = ::std::tuple{__VA_ARGS__};                                  \
    static_assert(::std::tuple_size_v<decltype(kCpSpecs)> > 0,                                   \
                  "CP_PLUGIN: a plugin needs at least one step type");                           \
    static_assert(::carepath::sdk::detail::step_names_ok(#name, kCpSpecs),                       \
                  "CP_PLUGIN: every step type must be named \"<plugin>.<step>\" "                \
                  "([a-z][a-z0-9_]* after the dot), and no name may repeat");                    \
    static constexpr auto kCpStepTypes = ::carepath::sdk::detail::make_step_types(kCpSpecs);     \
    static constexpr auto kCpStepTable = ::carepath::sdk::detail::make_step_table(kCpStepTypes); \
    static constexpr ::cp_plugin kCpPlugin =                                                     \
        ::carepath::sdk::detail::make_plugin(#name, version, kCpStepTable);                      \
    static_cast<void>(host);                                                                     \
    return &kCpPlugin;                                                                           \
  }

#if defined(CP_PLUGIN_STATIC)
#define CP_PLUGIN_ENTRY_SIGNATURE_(name) \
  extern "C" const ::cp_plugin* name##_carepath_plugin_entry_v1(const ::cp_host_api* host)
#else
#define CP_PLUGIN_ENTRY_SIGNATURE_(name) \
  extern "C" CP_PLUGIN_EXPORT const ::cp_plugin* carepath_plugin_entry_v1(const ::cp_host_api* host)
#endif

/// Declares the entry function of a plugin built with CP_PLUGIN_STATIC, for the code that links
/// it in: CP_PLUGIN_DECLARE_STATIC(legal_aid) declares
///   extern "C" const cp_plugin* legal_aid_carepath_plugin_entry_v1(const cp_host_api* host);
/// Use it at namespace scope.
#define CP_PLUGIN_DECLARE_STATIC(name) \
  extern "C" const ::cp_plugin* name##_carepath_plugin_entry_v1(const ::cp_host_api* host)
