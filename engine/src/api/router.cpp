#include "api/router.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include "api/health.hpp"
#include "api/mapping.hpp"
#include "api/openapi.hpp"
#include "api/problem.hpp"
#include "api/reports.hpp"
#include "core/audit.hpp"
#include "core/consent.hpp"
#include "core/duration.hpp"
#include "core/log.hpp"
#include "security/digest.hpp"
#include "security/tokens.hpp"
#include "workflow/graph.hpp"

namespace carepath::api {
namespace {

constexpr std::size_t kDefaultPageSize = 50;
constexpr std::size_t kMaxPageSize = 500;
constexpr std::size_t kMaxIdempotencyKeySize = 200;
constexpr std::size_t kMaxAccessReasonSize = 500;     // X-Access-Reason
constexpr std::size_t kMaxOverrideReasonSize = 1000;  // consent_override.reason
constexpr std::size_t kMaxEraseReasonSize = 1000;     // POST /v1/cases/{id}/erase

// ---------------------------------------------------------------------------------------------
// Small text helpers

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = to_lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// Decodes %XX escapes (and '+' as a space in query strings); nullopt on a broken escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return std::nullopt;
      }
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A decimal integer of digits only (no sign, no spaces), or nullopt.
std::optional<std::int64_t> parse_digits(std::string_view text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Error malformed(std::string message) {
  return Error{Errc::invalid_argument, std::move(message), {}, std::string(kMalformedRequest)};
}

// ---------------------------------------------------------------------------------------------
// Routes

enum class Route {
  none = 0,
  healthz,
  readyz,
  metrics,
  workflows,
  workflow,
  workflow_graph,
  cases,
  case_item,
  events,
  transitions,
  plugins,
  incidents,
  incident_retry,
  case_tasks,
  task_complete,
  task_fail,
  case_clocks,
  clock_action,
  case_schedule,
  case_graph,
  case_consents,
  case_erase,
  clocks,
  admin_clock,
  admin_reload,
  admin_migrations,
  notifications,
  notification_acknowledge,
  audit,
  report_caseload,
  report_flow,
  report_outcomes,
  report_cwc_quarterly,
  report_aftercare_list,
  openapi,
};

struct RouteMatch {
  Route route = Route::none;
  std::string id{};      // the workflow name, case id, task token or notification id
  std::string sub{};     // the incident id, or the clock name
  std::string action{};  // clock_action: "extend", "pause" or "resume"
};

RouteMatch match_route(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return {};
  }
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (true) {
    const auto end = path.find('/', start);
    auto segment = percent_decode(path.substr(start, end - start), false);
    if (!segment || segment->empty()) {
      return {};  // "//", a trailing '/', or a broken escape: no resource has such a path
    }
    segments.push_back(std::move(*segment));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  const auto n = segments.size();
  if (n == 1 && segments[0] == "healthz") {
    return {Route::healthz, {}};
  }
  if (n == 1 && segments[0] == "readyz") {
    return {Route::readyz, {}};
  }
  if (n == 1 && segments[0] == "metrics") {
    return {Route::metrics, {}};
  }
  if (n < 2 || segments[0] != "v1") {
    return {};
  }
  if (n == 2 && segments[1] == "openapi.json") {
    return {Route::openapi, {}};
  }
  if (segments[1] == "workflows") {
    if (n == 2) {
      return {Route::workflows, {}};
    }
    if (n == 3) {
      return {Route::workflow, segments[2]};
    }
    if (n == 4 && segments[3] == "graph") {
      return {Route::workflow_graph, segments[2]};
    }
    return {};
  }
  if (segments[1] == "cases") {
    if (n == 2) {
      return {Route::cases, {}};
    }
    if (n == 3) {
      return {Route::case_item, segments[2]};
    }
    if (n == 4 && segments[3] == "events") {
      return {Route::events, segments[2]};
    }
    if (n == 4 && segments[3] == "transitions") {
      return {Route::transitions, segments[2]};
    }
    if (n == 4 && segments[3] == "incidents") {
      return {Route::incidents, segments[2]};
    }
    if (n == 6 && segments[3] == "incidents" && segments[5] == "retry") {
      return {Route::incident_retry, segments[2], segments[4]};
    }
    if (n == 4 && segments[3] == "tasks") {
      return {Route::case_tasks, segments[2]};
    }
    if (n == 4 && segments[3] == "clocks") {
      return {Route::case_clocks, segments[2]};
    }
    if (n == 6 && segments[3] == "clocks" &&
        (segments[5] == "extend" || segments[5] == "pause" || segments[5] == "resume")) {
      return {Route::clock_action, segments[2], segments[4], segments[5]};
    }
    if (n == 4 && segments[3] == "schedule") {
      return {Route::case_schedule, segments[2]};
    }
    if (n == 4 && segments[3] == "graph") {
      return {Route::case_graph, segments[2]};
    }
    if (n == 4 && segments[3] == "consents") {
      return {Route::case_consents, segments[2]};
    }
    if (n == 4 && segments[3] == "erase") {
      return {Route::case_erase, segments[2]};
    }
    return {};
  }
  if (segments[1] == "clocks" && n == 2) {
    return {Route::clocks, {}};
  }
  if (segments[1] == "notifications" && n == 2) {
    return {Route::notifications, {}};
  }
  if (segments[1] == "notifications" && n == 4 && segments[3] == "acknowledge") {
    return {Route::notification_acknowledge, segments[2]};
  }
  if (segments[1] == "admin" && n == 3 && segments[2] == "clock") {
    return {Route::admin_clock, {}};
  }
  if (segments[1] == "admin" && n == 4 && segments[2] == "workflows" && segments[3] == "reload") {
    return {Route::admin_reload, {}};
  }
  if (segments[1] == "admin" && n == 3 && segments[2] == "migrations") {
    return {Route::admin_migrations, {}};
  }
  if (segments[1] == "plugins" && n == 2) {
    return {Route::plugins, {}};
  }
  if (segments[1] == "audit" && n == 2) {
    return {Route::audit, {}};
  }
  if (segments[1] == "reports" && n == 3) {
    if (const auto kind = parse_report_kind(segments[2])) {
      switch (*kind) {
        case ReportKind::caseload:
          return {Route::report_caseload, {}};
        case ReportKind::flow:
          return {Route::report_flow, {}};
        case ReportKind::outcomes:
          return {Route::report_outcomes, {}};
        case ReportKind::cwc_quarterly:
          return {Route::report_cwc_quarterly, {}};
        case ReportKind::aftercare_list:
          return {Route::report_aftercare_list, {}};
      }
    }
    return {};
  }
  if (segments[1] == "tasks" && n == 4 && segments[3] == "complete") {
    return {Route::task_complete, segments[2]};
  }
  if (segments[1] == "tasks" && n == 4 && segments[3] == "fail") {
    return {Route::task_fail, segments[2]};
  }
  return {};
}

// The path template of a route, as docs/openapi.yaml writes it: the label of the HTTP metrics
// and the access log, which must never carry an id.
std::string_view template_of(Route route) {
  switch (route) {
    case Route::none:
      return "unmatched";
    case Route::healthz:
      return "/healthz";
    case Route::readyz:
      return "/readyz";
    case Route::metrics:
      return "/metrics";
    case Route::workflows:
      return "/v1/workflows";
    case Route::workflow:
      return "/v1/workflows/{name}";
    case Route::workflow_graph:
      return "/v1/workflows/{name}/graph";
    case Route::cases:
      return "/v1/cases";
    case Route::case_item:
      return "/v1/cases/{id}";
    case Route::events:
      return "/v1/cases/{id}/events";
    case Route::transitions:
      return "/v1/cases/{id}/transitions";
    case Route::plugins:
      return "/v1/plugins";
    case Route::incidents:
      return "/v1/cases/{id}/incidents";
    case Route::incident_retry:
      return "/v1/cases/{id}/incidents/{incident}/retry";
    case Route::case_tasks:
      return "/v1/cases/{id}/tasks";
    case Route::task_complete:
      return "/v1/tasks/{token}/complete";
    case Route::task_fail:
      return "/v1/tasks/{token}/fail";
    case Route::case_clocks:
      return "/v1/cases/{id}/clocks";
    case Route::clock_action:
      return "/v1/cases/{id}/clocks/{clock}/{action}";
    case Route::case_schedule:
      return "/v1/cases/{id}/schedule";
    case Route::case_graph:
      return "/v1/cases/{id}/graph";
    case Route::case_consents:
      return "/v1/cases/{id}/consents";
    case Route::case_erase:
      return "/v1/cases/{id}/erase";
    case Route::clocks:
      return "/v1/clocks";
    case Route::admin_clock:
      return "/v1/admin/clock";
    case Route::admin_reload:
      return "/v1/admin/workflows/reload";
    case Route::admin_migrations:
      return "/v1/admin/migrations";
    case Route::notifications:
      return "/v1/notifications";
    case Route::notification_acknowledge:
      return "/v1/notifications/{id}/acknowledge";
    case Route::audit:
      return "/v1/audit";
    case Route::report_caseload:
      return "/v1/reports/caseload";
    case Route::report_flow:
      return "/v1/reports/flow";
    case Route::report_outcomes:
      return "/v1/reports/outcomes";
    case Route::report_cwc_quarterly:
      return "/v1/reports/cwc-quarterly";
    case Route::report_aftercare_list:
      return "/v1/reports/aftercare-list";
    case Route::openapi:
      return "/v1/openapi.json";
  }
  return "unmatched";
}

// The methods a route answers, as an Allow header value.
std::string_view allowed_methods(Route route) {
  switch (route) {
    case Route::cases:
    case Route::events:
      return "GET, POST";
    case Route::case_item:
      return "GET, PATCH";
    case Route::admin_clock:
      return "GET, POST";
    case Route::admin_reload:
    case Route::admin_migrations:
    case Route::incident_retry:
    case Route::task_complete:
    case Route::task_fail:
    case Route::clock_action:
    case Route::notification_acknowledge:
    case Route::case_erase:
      return "POST";
    default:
      return "GET";
  }
}

bool method_allowed(Route route, std::string_view method) {
  const std::string_view allowed = allowed_methods(route);
  std::size_t start = 0;
  while (start < allowed.size()) {
    const auto end = std::min(allowed.find(", ", start), allowed.size());
    if (allowed.substr(start, end - start) == method) {
      return true;
    }
    start = end + 2;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Query strings

// The query parameters of one request, checked against the names a route knows. Every problem is
// collected so that one 400 lists them all (`invalid_params`, as in RFC 9457's example).
class Query {
 public:
  Query(std::string_view target, std::initializer_list<std::string_view> allowed) {
    const auto mark = target.find('?');
    if (mark == std::string_view::npos) {
      return;
    }
    std::string_view rest = target.substr(mark + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (pair.empty()) {
        continue;
      }
      const auto eq = pair.find('=');
      auto name = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!name || !value) {
        add_problem(name ? *name : std::string("?"), "has a broken percent-encoding");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
        add_problem(*name, "is not a parameter of this resource");
        continue;
      }
      if (!values_.emplace(*name, std::move(*value)).second) {
        add_problem(*name, "is given more than once");
      }
    }
  }

  // A text parameter; nullopt when absent or empty, as a form's blank filter field means "any".
  std::optional<std::string> text(std::string_view name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) {
      return std::nullopt;
    }
    return it->second;
  }

  // An integer in [1, max] (`fallback` when absent).
  std::optional<std::int64_t> integer(std::string_view name, std::int64_t max,
                                      std::optional<std::int64_t> fallback) {
    const auto it = values_.find(name);
    if (it == values_.end()) {
      return fallback;
    }
    const auto value = parse_digits(it->second);
    if (!value || *value < 1 || *value > max) {
      add_problem(std::string(name), "must be an integer from 1 to " + std::to_string(max));
      return fallback;
    }
    return value;
  }

  // "true" or "false" (`fallback` when absent).
  bool boolean(std::string_view name, bool fallback) {
    const auto it = values_.find(name);
    if (it == values_.end()) {
      return fallback;
    }
    if (it->second == "true" || it->second == "false") {
      return it->second == "true";
    }
    add_problem(std::string(name), "must be true or false");
    return fallback;
  }

  // Records a problem with parameter `name` for check() to report.
  void add_problem(std::string name, std::string reason) {
    problems_.emplace_back(
        boost::json::object{{"name", std::move(name)}, {"reason", std::move(reason)}});
  }

  // Errc::invalid_argument listing every problem, or success.
  Result<void> check() const {
    if (problems_.empty()) {
      return {};
    }
    std::string names;
    for (const auto& p : problems_) {
      names += names.empty() ? "" : ", ";
      names += p.as_object().at("name").as_string().c_str();
    }
    return Error{
        Errc::invalid_argument,
        "invalid query parameters: " + names + "; see invalid_params for what each expects",
        {{"invalid_params", problems_}},
        std::string(kInvalidParams)};
  }

 private:
  std::map<std::string, std::string, std::less<>> values_;
  boost::json::array problems_;
};

// ---------------------------------------------------------------------------------------------
// Request bodies and headers

enum class Kind { string = 1, object };

struct Member {
  std::string_view name;
  Kind kind;
  bool required;
};

std::string describe(std::span<const Member> members) {
  std::string out = "a JSON object {";
  bool first = true;
  for (const auto& m : members) {
    out += first ? "" : ", ";
    first = false;
    out += "\"" + std::string(m.name) + "\"" + (m.required ? ": " : "?: ");
    out += m.kind == Kind::string ? "string" : "object";
  }
  return out + "}";
}

constexpr std::size_t kMaxPointerSize = 200;

// A 400 json-limit-exceeded naming the limit, its value and where (a JSON pointer), never the
// offending text.
Error json_limit(std::string_view limit, std::size_t max, std::string pointer, std::string what) {
  if (pointer.size() > kMaxPointerSize) {
    pointer.resize(kMaxPointerSize);
    pointer += "...";
  }
  std::string message =
      "request body exceeds " + std::string(limit) + " (" + std::to_string(max) + "): " + what;
  if (!pointer.empty() || limit != "json_max_depth") {
    message += " at '" + (pointer.empty() ? std::string("/") : pointer) + "'";
  }
  boost::json::object details{{"limit", limit}, {"max", max}};
  if (limit != "json_max_depth") {
    details["pointer"] = pointer;
  }
  return Error{Errc::invalid_argument, std::move(message), std::move(details),
               std::string(kJsonLimitExceeded)};
}

std::size_t utf8_chars(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string pointer_token(std::string_view key) {
  std::string out;
  for (const char c : key) {
    out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  }
  return out;
}

// Members per object, items per array and characters per string (keys included), depth first;
// the depth itself is checked while parsing.
Result<void> check_json_limits(const boost::json::value& value, const RequestLimits& limits,
                               const std::string& pointer) {
  if (const auto* text = value.if_string(); text != nullptr) {
    if (utf8_chars(*text) > limits.json_max_string) {
      return json_limit("json_max_string", limits.json_max_string, pointer, "string too long");
    }
  } else if (const auto* array = value.if_array(); array != nullptr) {
    if (array->size() > limits.json_max_members) {
      return json_limit("json_max_members", limits.json_max_members, pointer,
                        "array has too many items");
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto r = check_json_limits((*array)[i], limits, pointer + "/" + std::to_string(i)); !r) {
        return r;
      }
    }
  } else if (const auto* object = value.if_object(); object != nullptr) {
    if (object->size() > limits.json_max_members) {
      return json_limit("json_max_members", limits.json_max_members, pointer,
                        "object has too many members");
    }
    for (const auto& member : *object) {
      if (utf8_chars(member.key()) > limits.json_max_string) {
        return json_limit("json_max_string", limits.json_max_string, pointer,
                          "member name too long");
      }
      if (auto r = check_json_limits(member.value(), limits,
                                     pointer + "/" + pointer_token(member.key()));
          !r) {
        return r;
      }
    }
  }
  return {};
}

// Parses `body` as a JSON object with exactly the members of `members` that are present.
// An optional member that is null counts as absent and is dropped from the result. Messages say
// what is wrong and what is expected, and name members, never values. `limits` bound the depth
// (while parsing), then counts and string lengths (json-limit-exceeded).
Result<boost::json::object> parse_body(std::string_view body, std::span<const Member> members,
                                       const RequestLimits& limits) {
  const std::string expected = "; expected " + describe(members);
  if (trim(body).empty()) {
    return malformed("request body is empty" + expected);
  }
  boost::json::parse_options options;
  options.max_depth = limits.json_max_depth;
  boost::json::parser parser({}, options);
  boost::system::error_code ec;
  const std::size_t used = parser.write(body.data(), body.size(), ec);
  if (ec == boost::json::error::too_deep) {
    return json_limit("json_max_depth", limits.json_max_depth, {},
                      "arrays and objects nested too deep (at byte " + std::to_string(used) + ")");
  }
  if (ec) {
    return malformed("request body is not valid JSON (" + ec.message() + " at byte " +
                     std::to_string(used) + ")" + expected);
  }
  boost::json::value value = parser.release();
  if (auto within = check_json_limits(value, limits, ""); !within) {
    return within.error();
  }
  if (!value.is_object()) {
    return malformed("request body must be a JSON object" + expected);
  }
  boost::json::object object = std::move(value.get_object());
  for (const auto& member : object) {
    const bool known = std::any_of(members.begin(), members.end(),
                                   [&](const Member& m) { return m.name == member.key(); });
    if (!known) {
      return malformed("unknown member '" + std::string(member.key()) + "' in request body" +
                       expected);
    }
  }
  for (const auto& m : members) {
    const auto* v = object.if_contains(m.name);
    if (v == nullptr || (v->is_null() && !m.required)) {
      if (m.required) {
        return malformed("member '" + std::string(m.name) + "' is required" + expected);
      }
      object.erase(m.name);
      continue;
    }
    const bool right = m.kind == Kind::string ? v->is_string() : v->is_object();
    if (!right) {
      return malformed("member '" + std::string(m.name) + "' must be " +
                       (m.kind == Kind::string ? "a string" : "an object") + expected);
    }
  }
  return object;
}

std::optional<std::string> string_member(const boost::json::object& body, std::string_view name) {
  if (const auto* v = body.if_contains(name)) {
    return std::string(v->get_string());
  }
  return std::nullopt;
}

boost::json::object object_member(const boost::json::object& body, std::string_view name) {
  if (const auto* v = body.if_contains(name)) {
    return v->get_object();
  }
  return {};
}

// application/json or application/*+json, with or without parameters. A request without
// Content-Type, or with curl's default for `-d` (application/x-www-form-urlencoded), is taken as
// JSON: a caseworker typing `curl -d '{...}'` should get an answer about the body, not the header.
// Anything else (a form upload, XML, text) is refused.
Result<void> check_content_type(const HttpRequest& request) {
  const std::string* header = request.header("content-type");
  if (header == nullptr) {
    return {};
  }
  const std::string_view media = trim(std::string_view{*header}.substr(0, header->find(';')));
  if (iequals(media, "application/json") || iequals(media, "application/x-www-form-urlencoded") ||
      (media.size() > 17 && iequals(media.substr(0, 12), "application/") &&
       iequals(media.substr(media.size() - 5), "+json"))) {
    return {};
  }
  return Error{Errc::invalid_argument,
               "Content-Type must be application/json",
               {},
               std::string(kUnsupportedMediaType)};
}

// If-Match: "3", 3 or W/"3" (a version is all an ETag here is); "*" means any version.
Result<std::optional<std::int64_t>> parse_if_match(const HttpRequest& request) {
  const std::string* header = request.header("if-match");
  if (header == nullptr) {
    return std::optional<std::int64_t>{};
  }
  std::string_view text = trim(*header);
  if (text == "*") {
    return std::optional<std::int64_t>{};
  }
  if (text.starts_with("W/")) {
    text.remove_prefix(2);
  }
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  const auto version = parse_digits(text);
  if (!version) {
    return malformed("If-Match must be one case version, as in the ETag: \"3\"");
  }
  return std::optional<std::int64_t>{*version};
}

Result<std::optional<std::string>> parse_idempotency_key(const HttpRequest& request) {
  const std::string* header = request.header("idempotency-key");
  if (header == nullptr) {
    return std::optional<std::string>{};
  }
  if (!is_printable_ascii(*header, kMaxIdempotencyKeySize)) {
    return malformed("Idempotency-Key must be 1 to " + std::to_string(kMaxIdempotencyKeySize) +
                     " printable ASCII characters");
  }
  return std::optional<std::string>{*header};
}

// The digest that ties an Idempotency-Key to one request: the members in a fixed order.
std::string request_hash(const runtime::FireRequest& fire) {
  boost::json::object text;
  text["event"] = fire.event;
  text["data"] = canonical_json(fire.data);  // member order does not matter
  text["comment"] = fire.comment ? boost::json::value(*fire.comment) : boost::json::value(nullptr);
  if (fire.consent_override) {
    text["consent_override"] = boost::json::object{{"reason", *fire.consent_override}};
  }
  return security::sha256_hex(boost::json::serialize(text));
}

// Authorization: Bearer <token>. The scheme is case-insensitive (RFC 9110 11.1). On a failed
// login `failure` says which kind ("missing_header", "malformed_header", "unknown_token") for the
// audit trail; it never holds the token.
Result<Actor> authenticate_request(Store& store, const HttpRequest& request,
                                   std::string_view& failure) {
  const std::string* header = request.header("authorization");
  if (header == nullptr) {
    failure = "missing_header";
    return Error{Errc::unauthenticated,
                 "missing Authorization header; expected 'Authorization: Bearer <token>'",
                 {},
                 "unauthenticated"};
  }
  const std::string_view text = trim(*header);
  const auto space = text.find(' ');
  const std::string_view token =
      space == std::string_view::npos ? std::string_view{} : trim(text.substr(space + 1));
  const bool well_formed =
      space != std::string_view::npos && iequals(text.substr(0, space), "bearer") &&
      !token.empty() &&
      std::none_of(token.begin(), token.end(), [](char c) { return c <= 0x20 || c > 0x7e; });
  if (!well_formed) {
    failure = "malformed_header";
    return Error{Errc::unauthenticated,
                 "malformed Authorization header; expected 'Authorization: Bearer <token>'",
                 {},
                 "unauthenticated"};
  }
  auto actor = security::authenticate(store, token);
  if (!actor && actor.error().code == Errc::unauthenticated) {
    failure = "unknown_token";
    return Error{Errc::unauthenticated, "unknown or revoked token", {}, "unauthenticated"};
  }
  return actor;
}

// The id part of a presented "Bearer cp_<id>_<secret>" token ("cp_<id>"), never the secret;
// empty when the header holds no such token.
std::string presented_token_id(const HttpRequest& request) {
  constexpr std::size_t kMaxIdSize = 40;
  const std::string* header = request.header("authorization");
  if (header == nullptr) {
    return {};
  }
  const std::string_view text = trim(*header);
  const auto space = text.find(' ');
  if (space == std::string_view::npos || !iequals(text.substr(0, space), "bearer")) {
    return {};
  }
  const std::string_view token = trim(text.substr(space + 1));
  const auto second = token.starts_with("cp_") ? token.find('_', 3) : std::string_view::npos;
  if (second == std::string_view::npos || second > kMaxIdSize ||
      !is_printable_ascii(token.substr(0, second), kMaxIdSize)) {
    return {};
  }
  return std::string(token.substr(0, second));
}

// 429 too-many-requests with Retry-After: the caller failed to authenticate too often.
HttpReply too_many_failures(long long retry_after) {
  HttpReply reply = render_problem(
      Error{Errc::unauthenticated,
            "too many failed authentications; retry after " + std::to_string(retry_after) + " s",
            {},
            std::string(kTooManyRequests)});
  reply.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return reply;
}

// A reason a person gives (for an override, an erasure): not blank, no control characters, at
// most `max_chars` UTF-8 characters.
bool is_reason_text(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  bool printable = !trim(text).empty();
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    printable = printable && byte >= 0x20 && byte != 0x7f;
    chars += (byte & 0xC0) != 0x80 ? 1 : 0;
  }
  return printable && chars <= max_chars;
}

// `consent_override` of an events request: {"reason": 1 to kMaxOverrideReasonSize printable
// characters}, the reason audited with the override. Errc::invalid_argument (invalid-params,
// invalid_params naming consent_override.reason) otherwise; the reason itself is never echoed.
Result<std::string> consent_override_reason(const boost::json::object& override_body) {
  auto invalid = [](std::string why) {
    return Error{Errc::invalid_argument,
                 "consent_override needs a reason: " + why,
                 {{"invalid_params", boost::json::array{boost::json::object{
                                         {"name", "consent_override.reason"}, {"reason", why}}}}},
                 std::string(kInvalidParams)};
  };
  const std::string rule = "1 to " + std::to_string(kMaxOverrideReasonSize) +
                           " printable characters saying why the transition cannot wait";
  for (const auto& member : override_body) {
    if (member.key() != "reason") {
      return invalid("unknown member '" + std::string(member.key()) + "'; expected only reason");
    }
  }
  const auto* reason = override_body.if_contains("reason");
  if (reason == nullptr || !reason->is_string()) {
    return invalid("expected " + rule);
  }
  const std::string_view text = reason->get_string();
  if (!is_reason_text(text, kMaxOverrideReasonSize)) {
    return invalid("expected " + rule);
  }
  return std::string(text);
}

// ---------------------------------------------------------------------------------------------
// Handlers

std::string etag(std::int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

class Handlers {
 public:
  Handlers(runtime::Runtime& runtime, const HttpRequest& request, const Actor& actor,
           const std::string& id, const RequestLimits& limits)
      : runtime_(runtime), request_(request), actor_(actor), id_(id), limits_(limits) {}

  HttpReply list_workflows() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    return json_reply(
        200, boost::json::object{{"items", workflow_summaries(runtime_.workflows().all())}});
  }

  HttpReply get_workflow() {
    Query query(request_.target, {"version"});
    const auto version = query.integer("version", std::numeric_limits<int>::max(), std::nullopt);
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    std::vector<int> versions;
    auto workflow = find_workflow(version, versions);
    if (!workflow) {
      return render_problem(workflow.error());
    }
    return json_reply(200, workflow_to_json(**workflow, versions));
  }

  // GET /v1/workflows/{name}/graph?format=mermaid|dot&version=N: the diagram as text.
  HttpReply workflow_graph() {
    Query query(request_.target, {"format", "version"});
    const auto format = query.text("format").value_or("mermaid");
    const auto version = query.integer("version", std::numeric_limits<int>::max(), std::nullopt);
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (auto bad = check_graph_format(format)) {
      return *bad;
    }
    std::vector<int> versions;
    auto workflow = find_workflow(version, versions);
    if (!workflow) {
      return render_problem(workflow.error());
    }
    return graph_reply(format, **workflow, nullptr);
  }

  // GET /v1/cases/{id}/graph?format=mermaid|dot: the case's workflow version, with where the
  // case is and the transitions it took (its whole history) drawn on top. Visible to whoever may
  // GET the case.
  HttpReply case_graph() {
    Query query(request_.target, {"format"});
    const auto format = query.text("format").value_or("mermaid");
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (auto bad = check_graph_format(format)) {
      return *bad;
    }
    auto record = runtime_.get_case(actor_, id_);
    if (!record) {
      return render_problem(record.error());
    }
    auto workflow = runtime_.workflow_of(*record);
    if (!workflow) {
      return render_problem(workflow.error());
    }
    auto entries = runtime_.whole_history(actor_, id_);
    if (!entries) {
      return render_problem(entries.error());
    }
    const auto highlight = workflow::highlight_from_history(**workflow, record->state, *entries);
    return graph_reply(format, **workflow, &highlight);
  }

  HttpReply open_case() {
    static constexpr auto kMembers =
        std::to_array<Member>({{"workflow", Kind::string, true}, {"data", Kind::object, false}});
    auto body = parse_body_checked(kMembers);
    if (!body) {
      return render_problem(body.error());
    }
    auto record = runtime_.open_case(actor_, *string_member(*body, "workflow"),
                                     object_member(*body, "data"), answer_audit());
    if (!record) {
      return render_problem(record.error());
    }
    HttpReply reply = case_reply(201, *record, false, std::nullopt, /*audited=*/true);
    if (reply.status == 201) {
      reply.headers.emplace_back("Location", "/v1/cases/" + record->id);
    }
    return reply;
  }

  HttpReply get_case() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    const std::string* reason = request_.header("x-access-reason");
    if (reason != nullptr && !is_printable_ascii(*reason, kMaxAccessReasonSize)) {
      return render_problem(malformed("X-Access-Reason must be 1 to " +
                                      std::to_string(kMaxAccessReasonSize) +
                                      " printable ASCII characters: why this access is needed"));
    }
    if (reason != nullptr && !actor_.has_role("supervisor")) {
      return render_problem(
          Error{Errc::forbidden,
                "break-glass access (X-Access-Reason) is for the 'supervisor' role",
                {{"required_roles", boost::json::array{"supervisor"}}},
                "forbidden"});
    }
    auto record = runtime_.get_case(actor_, id_);
    if (!record) {
      return render_problem(record.error());
    }
    if (reason != nullptr) {
      return case_reply(200, *record, false, *reason);
    }
    return case_reply(200, *record);
  }

  HttpReply list_cases() {
    Query query(request_.target, {"workflow", "state", "limit", "cursor", "overdue", "match"});
    CaseQuery filter;
    filter.workflow = query.text("workflow");
    filter.state = query.text("state");
    if (const auto match = query.text("match")) {
      const auto colon = match->find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == match->size()) {
        query.add_problem("match", "expected FIELD:VALUE, such as name:Asha Devi");
      } else {
        filter.match = CaseQuery::Match{match->substr(0, colon), match->substr(colon + 1)};
      }
    }
    if (query.boolean("overdue", false)) {
      filter.overdue_at = runtime_.now();
    }
    filter.cursor = query.text("cursor");
    filter.limit = static_cast<std::size_t>(
        *query.integer("limit", kMaxPageSize, static_cast<std::int64_t>(kDefaultPageSize)));
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto page = runtime_.list_cases(actor_, filter);
    if (!page) {
      return render_problem(page.error());
    }
    boost::json::array items;
    std::vector<AuditRecord> reads;
    for (const auto& record : page->items) {
      auto workflow = runtime_.workflow_of(record);
      if (!workflow) {
        return render_problem(workflow.error());
      }
      items.emplace_back(case_to_json(record, **workflow, actor_));
      if (auto read = read_audit(record, **workflow)) {
        read->details["list"] = true;
        reads.push_back(std::move(*read));
      }
    }
    if (auto audited = runtime_.audit(std::move(reads)); !audited) {
      return render_problem(audited.error());
    }
    return json_reply(200, page_json(std::move(items), page->next_cursor));
  }

  HttpReply update_case() {
    static constexpr auto kMembers =
        std::to_array<Member>({{"data", Kind::object, true}, {"comment", Kind::string, false}});
    auto if_match = parse_if_match(request_);
    if (!if_match) {
      return render_problem(if_match.error());
    }
    auto body = parse_body_checked(kMembers);
    if (!body) {
      return render_problem(body.error());
    }
    auto record = runtime_.update_case(actor_, id_, object_member(*body, "data"), *if_match,
                                       string_member(*body, "comment"));
    if (!record) {
      return render_problem(record.error());
    }
    return case_reply(200, *record);
  }

  HttpReply fire() {
    static constexpr auto kMembers =
        std::to_array<Member>({{"event", Kind::string, true},
                               {"data", Kind::object, false},
                               {"comment", Kind::string, false},
                               {"consent_override", Kind::object, false}});
    return fire_with(kMembers, [](const boost::json::object& body) -> Result<runtime::FireRequest> {
      runtime::FireRequest fire;
      fire.event = *string_member(body, "event");
      fire.data = object_member(body, "data");
      fire.comment = string_member(body, "comment");
      if (body.contains("consent_override")) {
        auto reason = consent_override_reason(object_member(body, "consent_override"));
        if (!reason) {
          return reason.error();
        }
        fire.consent_override = std::move(*reason);
      }
      return fire;
    });
  }

  HttpReply history() {
    Query query(request_.target, {"limit", "cursor"});
    const auto cursor = query.text("cursor");
    const auto limit = static_cast<std::size_t>(
        *query.integer("limit", kMaxPageSize, static_cast<std::int64_t>(kDefaultPageSize)));
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto page = runtime_.history(actor_, id_, limit, cursor);
    if (!page) {
      return render_problem(page.error());
    }
    boost::json::array items;
    std::vector<std::string> shown;  // consent texts the page shows (names, for the audit)
    for (const auto& entry : page->items) {
      items.emplace_back(history_entry_to_json(entry));
      for (const auto member : kConsentPayloadSensitive) {
        const std::string name = "consents." + std::string(member);
        if (consent_action(entry.event) && entry.payload.contains(member) &&
            std::find(shown.begin(), shown.end(), name) == shown.end()) {
          shown.push_back(name);
        }
      }
    }
    if (auto audited = audit_consent_read(std::move(shown), "history"); !audited) {
      return render_problem(audited.error());
    }
    return json_reply(200, page_json(std::move(items), page->next_cursor));
  }

  // A case.read audit row for an answer showing the free text of consents (`shown`: names such
  // as "consents.evidence"), before it goes out; nothing when it shows none.
  Result<void> audit_consent_read(std::vector<std::string> shown, std::string_view where) {
    if (shown.empty()) {
      return {};
    }
    AuditRecord read;
    read.actor = actor_.user;
    read.action = std::string(kAuditCaseRead);
    read.case_id = id_;
    std::sort(shown.begin(), shown.end());
    read.fields = std::move(shown);
    read.details = boost::json::object{{"method", request_.method}, {"consents", where}};
    return runtime_.audit({std::move(read)});
  }

  HttpReply incidents() {
    auto incidents = runtime_.incidents(actor_, id_);
    if (!incidents) {
      return render_problem(incidents.error());
    }
    boost::json::array items;
    for (const auto& incident : *incidents) {
      items.emplace_back(incident_to_json(incident));
    }
    return json_reply(200, boost::json::object{{"items", std::move(items)}});
  }

  HttpReply retry_incident(const std::string& incident_id) {
    if (auto retried = runtime_.retry_incident(actor_, id_, incident_id); !retried) {
      return render_problem(retried.error());
    }
    return json_reply(202, boost::json::object{{"incident", incident_id}, {"status", "retrying"}});
  }

  HttpReply case_tasks() {
    auto tasks = runtime_.tasks(actor_, id_);
    if (!tasks) {
      return render_problem(tasks.error());
    }
    boost::json::array items;
    for (const auto& task : *tasks) {
      items.emplace_back(task_to_json(task));
    }
    return json_reply(200, boost::json::object{{"items", std::move(items)}});
  }

  // The task token in the path is the credential; the answer is the case as the caller (who may
  // hold no role at all) is allowed to see it: no data, only where it stands.
  HttpReply close_task(bool complete) {
    static constexpr auto kCompleteMembers =
        std::to_array<Member>({{"data", Kind::object, false}, {"comment", Kind::string, false}});
    static constexpr auto kFailMembers = std::to_array<Member>({{"reason", Kind::string, true}});
    auto body = parse_body_checked(complete ? std::span<const Member>(kCompleteMembers)
                                            : std::span<const Member>(kFailMembers));
    if (!body) {
      return render_problem(body.error());
    }
    auto record = complete ? runtime_.complete_task(actor_, id_, object_member(*body, "data"),
                                                    string_member(*body, "comment"))
                           : runtime_.fail_task(actor_, id_, *string_member(*body, "reason"));
    if (!record) {
      return render_problem(record.error());
    }
    return json_reply(
        200, boost::json::object{
                 {"case_id", record->id}, {"state", record->state}, {"version", record->version}});
  }

  // POST /v1/cases/{id}/erase {"reason": "..."}: crypto-shreds the case (Runtime::erase_case).
  // The reason goes to the audit trail only; it is never echoed.
  HttpReply erase_case() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (!actor_.has_role("admin")) {
      return render_problem(Error{Errc::forbidden,
                                  "erasing a case is for the 'admin' role",
                                  {{"required_roles", boost::json::array{"admin"}}},
                                  "forbidden"});
    }
    static constexpr auto kMembers = std::to_array<Member>({{"reason", Kind::string, true}});
    auto body = parse_body_checked(kMembers);
    if (!body) {
      return render_problem(body.error());
    }
    const std::string reason = *string_member(*body, "reason");
    if (!is_reason_text(reason, kMaxEraseReasonSize)) {
      const std::string why = "expected 1 to " + std::to_string(kMaxEraseReasonSize) +
                              " printable characters saying why the case is erased";
      return render_problem(Error{Errc::invalid_argument,
                                  "invalid request body: reason",
                                  {{"invalid_params", boost::json::array{boost::json::object{
                                                          {"name", "reason"}, {"reason", why}}}}},
                                  std::string(kInvalidParams)});
    }
    auto record = runtime_.erase_case(actor_, id_, reason);
    if (!record) {
      return render_problem(record.error());
    }
    return case_reply(200, *record);
  }

  HttpReply transitions() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    // Two reads, not one snapshot: a change in between only makes the answer as stale as it
    // would be a moment later anyway.
    auto record = runtime_.get_case(actor_, id_);
    if (!record) {
      return render_problem(record.error());
    }
    auto options = runtime_.transitions(actor_, id_);
    if (!options) {
      return render_problem(options.error());
    }
    boost::json::array items;
    for (const auto& option : *options) {
      items.emplace_back(event_option_to_json(option));
    }
    return json_reply(
        200, boost::json::object{
                 {"case_id", record->id}, {"state", record->state}, {"items", std::move(items)}});
  }

  // GET /v1/cases/{id}/consents: the consents recorded on the case, for whoever may GET it. A
  // record's scope, evidence and withdrawal reason may identify the child: showing any of them
  // is audited as a read (names only).
  HttpReply case_consents() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto consents = runtime_.consents(actor_, id_);
    if (!consents) {
      return render_problem(consents.error());
    }
    std::vector<std::string> shown;
    for (const auto& record : consents->items) {
      for (const auto member : kConsentRecordSensitive) {
        const std::string name = "consents." + std::string(member);
        if (record.is_object() && record.get_object().contains(member) &&
            std::find(shown.begin(), shown.end(), name) == shown.end()) {
          shown.push_back(name);
        }
      }
    }
    if (auto audited = audit_consent_read(std::move(shown), "list"); !audited) {
      return render_problem(audited.error());
    }
    return json_reply(200, consents_to_json(consents->case_id, consents->items, consents->statuses,
                                            consents->valid));
  }

  HttpReply case_clocks() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto clocks = runtime_.clocks(actor_, id_);
    if (!clocks) {
      return render_problem(clocks.error());
    }
    boost::json::array items;
    for (const auto& clock : *clocks) {
      items.emplace_back(clock_status_to_json(clock));
    }
    return json_reply(200, boost::json::object{{"case_id", id_},
                                               {"now", format_timestamp(runtime_.now())},
                                               {"items", std::move(items)}});
  }

  // POST /v1/cases/{id}/clocks/{clock}/extend|pause|resume: the clock_* events, addressed by URL.
  HttpReply clock_action(const std::string& clock, const std::string& action) {
    static constexpr auto kMembers = std::to_array<Member>({{"reason", Kind::string, false},
                                                            {"by", Kind::string, false},
                                                            {"comment", Kind::string, false}});
    return fire_with(kMembers, [&](const boost::json::object& body) {
      runtime::FireRequest fire;
      fire.event = action == "extend"  ? "clock_extended"
                   : action == "pause" ? "clock_paused"
                                       : "clock_resumed";
      fire.data = {{"clock", clock}};
      for (const char* name : {"reason", "by"}) {
        if (const auto* value = body.if_contains(name)) {
          fire.data[name] = *value;
        }
      }
      fire.comment = string_member(body, "comment");
      return fire;
    });
  }

  // JSON, or CSV for `Accept: text/csv` (or ?format=csv, for a link in a browser).
  HttpReply schedule() {
    Query query(request_.target, {"format"});
    const auto format = query.text("format");
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (format && *format != "csv" && *format != "json") {
      return render_problem(
          Error{Errc::invalid_argument,
                "format must be csv or json",
                {{"invalid_params", boost::json::array{boost::json::object{
                                        {"name", "format"}, {"reason", "must be csv or json"}}}}},
                std::string(kInvalidParams)});
    }
    auto rows = runtime_.schedule(actor_, id_);
    if (!rows) {
      return render_problem(rows.error());
    }
    const std::string* accept = request_.header("accept");
    const bool csv = format ? *format == "csv"
                            : accept != nullptr && accept->find("text/csv") != std::string::npos;
    if (csv) {
      HttpReply reply;
      reply.content_type = "text/csv; charset=utf-8";
      reply.body = schedule_to_csv(*rows);
      reply.headers.emplace_back("Content-Disposition",
                                 "attachment; filename=\"schedule-" + id_ + ".csv\"");
      return reply;
    }
    boost::json::array items;
    for (const auto& row : *rows) {
      items.emplace_back(schedule_row_to_json(row));
    }
    return json_reply(200, boost::json::object{{"case_id", id_},
                                               {"now", format_timestamp(runtime_.now())},
                                               {"items", std::move(items)}});
  }

  HttpReply list_clocks() {
    Query query(request_.target, {"state", "workflow", "limit", "cursor"});
    ClockQuery filter;
    const auto state = query.text("state");
    filter.workflow = query.text("workflow");
    filter.cursor = query.text("cursor");
    filter.limit = static_cast<std::size_t>(
        *query.integer("limit", kMaxPageSize, static_cast<std::int64_t>(kDefaultPageSize)));
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (!state || (*state != "breached" && *state != "warning")) {
      return render_problem(Error{
          Errc::invalid_argument,
          "state must be breached or warning",
          {{"invalid_params", boost::json::array{boost::json::object{
                                  {"name", "state"}, {"reason", "must be breached or warning"}}}}},
          std::string(kInvalidParams)});
    }
    filter.state = *state;
    auto page = runtime_.list_clocks(actor_, filter);
    if (!page) {
      return render_problem(page.error());
    }
    boost::json::array items;
    for (const auto& item : page->items) {
      boost::json::object out{{"case_id", item.case_id},
                              {"case_code", item.case_code},
                              {"workflow", item.workflow},
                              {"case_state", item.case_state}};
      for (auto& kv : clock_status_to_json(item.clock)) {
        out[kv.key()] = kv.value();
      }
      items.emplace_back(std::move(out));
    }
    return json_reply(200, page_json(std::move(items), page->next_cursor));
  }

  // The caller's inbox: notifications for its roles, newest first.
  HttpReply list_notifications() {
    Query query(request_.target, {"unacknowledged", "limit", "cursor"});
    NotificationQuery filter;
    filter.unacknowledged_only = query.boolean("unacknowledged", false);
    filter.cursor = query.text("cursor");
    filter.limit = static_cast<std::size_t>(
        *query.integer("limit", kMaxPageSize, static_cast<std::int64_t>(kDefaultPageSize)));
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto page = runtime_.notifications(actor_, filter);
    if (!page) {
      return render_problem(page.error());
    }
    boost::json::array items;
    for (const auto& notification : page->items) {
      items.emplace_back(notification_to_json(notification));
    }
    return json_reply(200, page_json(std::move(items), page->next_cursor));
  }

  // POST /v1/notifications/{id}/acknowledge takes no body; one sent is ignored.
  HttpReply acknowledge_notification() {
    Query query(request_.target, {});
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto notification = runtime_.acknowledge(actor_, id_);
    if (!notification) {
      return render_problem(notification.error());
    }
    return json_reply(200, notification_to_json(*notification));
  }

  // GET: the engine's time. POST {"advance": "26h"} or {"set": RFC 3339}: moves a test clock
  // forward (never back: timers already fired cannot un-fire), then lets due timers fire.
  HttpReply admin_clock(const TestClock& test_clock) {
    if (!actor_.has_role("admin")) {
      return render_problem(Error{Errc::forbidden,
                                  "the engine's clock is for the 'admin' role",
                                  {{"required_roles", boost::json::array{"admin"}}},
                                  "forbidden"});
    }
    if (test_clock.clock == nullptr) {
      return render_problem(Error{Errc::not_found,
                                  "the engine runs on real time; start it with --test-clock "
                                  "(CAREPATH_TEST_CLOCK) to move time in tests and training",
                                  {},
                                  "not-found"});
    }
    if (request_.method == "POST") {
      static constexpr auto kMembers =
          std::to_array<Member>({{"advance", Kind::string, false}, {"set", Kind::string, false}});
      auto body = parse_body_checked(kMembers);
      if (!body) {
        return render_problem(body.error());
      }
      const auto advance = string_member(*body, "advance");
      const auto set = string_member(*body, "set");
      const Timestamp now = test_clock.clock->now();
      std::optional<Timestamp> target;
      if (advance && !set) {
        const auto by = parse_duration(*advance);
        if (by) {
          target = add_duration(now, *by, runtime_.zone());
        }
      } else if (set && !advance) {
        target = parse_datetime(*set);
      }
      if (!target || *target < now) {
        return render_problem(Error{
            Errc::unprocessable,
            "expected {\"advance\": DURATION} (such as \"26h\" or \"15d\") or {\"set\": "
            "RFC 3339 instant} not before the clock's present time " +
                format_timestamp(now),
            {{"invalid_fields",
              boost::json::array{boost::json::object{{"field", advance ? "advance" : "set"},
                                                     {"reason",
                                                      "expected a duration, or an instant not "
                                                      "before the clock's present time"}}}}},
            "invalid-fields"});
      }
      test_clock.clock->set(*target);
      if (test_clock.moved) {
        test_clock.moved();
      }
    }
    return json_reply(200, boost::json::object{{"now", format_timestamp(runtime_.now())},
                                               {"test_clock", true},
                                               {"timezone", runtime_.zone().name()}});
  }

  // POST (no body, or {}): reads the workflows directory again; 200 with the report even when
  // files were refused, since the report says which and why.
  HttpReply admin_reload(const ReloadWorkflows& reload) {
    if (!actor_.has_role("admin")) {
      return render_problem(Error{Errc::forbidden,
                                  "reloading workflows is for the 'admin' role",
                                  {{"required_roles", boost::json::array{"admin"}}},
                                  "forbidden"});
    }
    if (!reload) {
      return render_problem(
          Error{Errc::not_found, "this server cannot reload workflows", {}, "not-found"});
    }
    if (!trim(request_.body).empty()) {
      auto body = parse_body_checked({});
      if (!body) {
        return render_problem(body.error());
      }
    }
    auto report = reload();
    if (!report) {
      return render_problem(report.error());
    }
    return json_reply(200, *report);
  }

  // POST with a plan as YAML (application/yaml, text/yaml, application/x-yaml) or JSON; the query
  // parameter dry_run=true only reports. 200 with the report, even when some cases could not
  // move, since the report says which and why.
  HttpReply admin_migrations(const RunMigration& run) {
    if (!actor_.has_role("admin")) {
      return render_problem(Error{Errc::forbidden,
                                  "migrating cases is for the 'admin' role",
                                  {{"required_roles", boost::json::array{"admin"}}},
                                  "forbidden"});
    }
    if (!run) {
      return render_problem(
          Error{Errc::not_found, "this server cannot migrate cases", {}, "not-found"});
    }
    Query query(request_.target, {"dry_run"});
    const bool dry_run = query.boolean("dry_run", false);
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    if (const std::string* header = request_.header("content-type"); header != nullptr) {
      const std::string_view media = trim(std::string_view{*header}.substr(0, header->find(';')));
      const bool yaml = iequals(media, "application/yaml") || iequals(media, "text/yaml") ||
                        iequals(media, "application/x-yaml");
      if (!yaml && !check_content_type(request_)) {
        return render_problem(Error{Errc::invalid_argument,
                                    "Content-Type must be application/yaml (the plan file as it "
                                    "is) or application/json",
                                    {},
                                    std::string(kUnsupportedMediaType)});
      }
    }
    if (trim(request_.body).empty()) {
      return render_problem(malformed(
          "request body is empty; expected a migration plan: migrate: {workflow, from, to}, "
          "and states, fields or set"));
    }
    auto report = run(request_.body, dry_run, actor_);
    if (!report) {
      return render_problem(report.error());
    }
    return json_reply(200, *report);
  }

  // GET /v1/audit: the audit trail in seq order, for the 'auditor' role.
  HttpReply list_audit() {
    if (!actor_.has_role("auditor")) {
      return render_problem(Error{Errc::forbidden,
                                  "the audit trail is for the 'auditor' role",
                                  {{"required_roles", boost::json::array{"auditor"}}},
                                  "forbidden"});
    }
    Query query(request_.target, {"case_id", "actor", "action", "from", "to", "limit", "cursor"});
    AuditQuery filter;
    filter.case_id = query.text("case_id");
    filter.actor = query.text("actor");
    filter.action = query.text("action");
    const auto instant = [&query](const char* name) -> std::optional<Timestamp> {
      const auto text = query.text(name);
      if (!text) {
        return std::nullopt;
      }
      const auto at = parse_datetime(*text);
      if (!at) {
        query.add_problem(name, "must be an RFC 3339 instant, such as 2026-01-31T09:30:00Z");
      }
      return at;
    };
    filter.from = instant("from");
    filter.to = instant("to");
    filter.cursor = query.text("cursor");
    filter.limit = static_cast<std::size_t>(
        *query.integer("limit", kMaxPageSize, static_cast<std::int64_t>(kDefaultPageSize)));
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    auto page = runtime_.audit_page(actor_, filter);
    if (!page) {
      return render_problem(page.error());
    }
    boost::json::array items;
    for (const auto& record : page->items) {
      items.emplace_back(audit_record_to_json(record));
    }
    return json_reply(200, page_json(std::move(items), page->next_cursor));
  }

  // GET /v1/reports/{name}: a report of docs/reports.md as JSON, CSV (?format=csv or Accept:
  // text/csv) or an SVG chart (?format=svg), for the 'supervisor' and 'admin' roles. Every
  // answer is audited (a "report" row) before it goes out.
  HttpReply report(Store& store, ReportKind kind) {
    if (!actor_.has_role("supervisor") && !actor_.has_role("admin")) {
      return render_problem(Error{Errc::forbidden,
                                  "reports are for the 'supervisor' and 'admin' roles",
                                  {{"required_roles", boost::json::array{"supervisor", "admin"}}},
                                  "forbidden"});
    }
    const bool ranged = kind == ReportKind::flow || kind == ReportKind::outcomes;
    Query query = kind == ReportKind::caseload ? Query(request_.target, {"workflow", "format"})
                  : ranged ? Query(request_.target, {"workflow", "from", "to", "format"})
                  : kind == ReportKind::cwc_quarterly
                      ? Query(request_.target, {"workflow", "quarter", "format"})
                      : Query(request_.target, {"workflow", "half", "format"});
    ReportRequest filter;
    filter.kind = kind;
    filter.workflow = query.text("workflow");
    const auto instant = [&](const char* name, bool end_of_day) -> std::optional<Timestamp> {
      const auto text = query.text(name);
      if (!text) {
        return std::nullopt;
      }
      const auto at = parse_report_instant(*text, runtime_.zone(), end_of_day);
      if (!at) {
        query.add_problem(name,
                          "must be a date (2026-01-31) or an RFC 3339 instant "
                          "(2026-01-31T09:30:00Z)");
      }
      return at;
    };
    if (ranged) {
      filter.from = instant("from", false);
      filter.to = instant("to", true);
      if (filter.from && filter.to && *filter.from > *filter.to) {
        query.add_problem("from", "must not be after to");
      }
    }
    filter.period = query.text(kind == ReportKind::cwc_quarterly ? "quarter" : "half");
    if (filter.period) {
      const auto period = kind == ReportKind::cwc_quarterly
                              ? quarter_period(*filter.period, runtime_.zone())
                              : half_year_period(*filter.period, runtime_.zone());
      if (!period) {
        query.add_problem(kind == ReportKind::cwc_quarterly ? "quarter" : "half",
                          kind == ReportKind::cwc_quarterly
                              ? "must be a quarter such as 2026-Q3"
                              : "must be a half year such as 2026-H1");
      }
    }
    const auto format_param = query.text("format");
    if (format_param && *format_param != "json" && *format_param != "csv" &&
        *format_param != "svg") {
      query.add_problem("format", "must be json, csv or svg");
    }
    if (auto checked = query.check(); !checked) {
      return render_problem(checked.error());
    }
    const std::string* accept = request_.header("accept");
    const std::string format = format_param ? *format_param
                               : accept != nullptr && accept->find("text/csv") != std::string::npos
                                   ? "csv"
                                   : "json";
    auto table = build_report(store, filter, runtime_.zone(), runtime_.now());
    if (!table) {
      return render_problem(table.error());
    }
    AuditRecord exported;
    exported.actor = actor_.user;
    exported.action = std::string(kAuditReport);
    exported.details = boost::json::object{{"report", report_kind_name(kind)},
                                           {"format", format},
                                           {"rows", static_cast<std::int64_t>(table->rows.size())}};
    for (const char* name : {"workflow", "from", "to", "period"}) {
      if (const auto* value = table->meta.if_contains(name)) {
        exported.details[name] = *value;
      }
    }
    if (auto audited = runtime_.audit({std::move(exported)}); !audited) {
      return render_problem(audited.error());
    }
    const std::string file = "carepath-" + std::string(report_kind_name(kind));
    if (format == "csv" || format == "svg") {
      HttpReply reply;
      reply.content_type = format == "csv" ? "text/csv; charset=utf-8" : "image/svg+xml";
      reply.body =
          format == "csv" ? report_to_csv(*table) : report_chart_svg(*table, runtime_.zone());
      reply.headers.emplace_back("Content-Disposition",
                                 "attachment; filename=\"" + file + "." + format + "\"");
      return reply;
    }
    HttpReply reply;
    reply.body = report_to_json(*table);
    return reply;
  }

 private:
  // The workflow named by the path, at `version` or its latest; `versions` gets every loaded
  // version of it. Errc::not_found naming what is missing.
  Result<std::shared_ptr<const Workflow>> find_workflow(std::optional<std::int64_t> version,
                                                        std::vector<int>& versions) const {
    for (const auto& w : runtime_.workflows().all()) {
      if (w->name == id_) {
        versions.push_back(w->version);
      }
    }
    auto workflow = version ? runtime_.workflows().find(id_, static_cast<int>(*version))
                            : runtime_.workflows().latest(id_);
    if (!workflow) {
      std::string message = "workflow '" + id_ + "'";
      if (version && !versions.empty()) {
        message += " has no version " + std::to_string(*version);
      } else {
        message += " not found";
      }
      return Error{Errc::not_found, std::move(message), {}, "not-found"};
    }
    return workflow;
  }

  static std::optional<HttpReply> check_graph_format(const std::string& format) {
    if (format == "mermaid" || format == "dot") {
      return std::nullopt;
    }
    return render_problem(
        Error{Errc::invalid_argument,
              "format must be mermaid or dot",
              {{"invalid_params", boost::json::array{boost::json::object{
                                      {"name", "format"}, {"reason", "must be mermaid or dot"}}}}},
              std::string(kInvalidParams)});
  }

  static HttpReply graph_reply(const std::string& format, const Workflow& workflow,
                               const workflow::GraphHighlight* highlight) {
    HttpReply reply;
    if (format == "dot") {
      reply.content_type = "text/vnd.graphviz; charset=utf-8";
      reply.body = workflow::to_dot(workflow, highlight);
    } else {
      reply.content_type = "text/vnd.mermaid; charset=utf-8";
      reply.body = workflow::to_mermaid(workflow, highlight);
    }
    return reply;
  }

  // The shared path of everything that fires an event: If-Match and Idempotency-Key, then the
  // body (`build` turns it into the request, or a problem), the runtime, and the case as the
  // answer.
  template <class Build>
  HttpReply fire_with(std::span<const Member> members, const Build& build) {
    auto if_match = parse_if_match(request_);
    if (!if_match) {
      return render_problem(if_match.error());
    }
    auto key = parse_idempotency_key(request_);
    if (!key) {
      return render_problem(key.error());
    }
    auto body = parse_body_checked(members);
    if (!body) {
      return render_problem(body.error());
    }
    Result<runtime::FireRequest> built = build(*body);
    if (!built) {
      return render_problem(built.error());
    }
    runtime::FireRequest fire = std::move(*built);
    fire.if_match = *if_match;
    fire.idempotency_key = *key;
    if (fire.idempotency_key) {
      fire.request_hash = request_hash(fire);
    }
    fire.answer_audit = answer_audit();
    auto result = runtime_.fire(actor_, id_, fire);
    if (!result) {
      return render_problem(result.error());
    }
    HttpReply reply = case_reply(200, result->record, result->replayed, std::nullopt,
                                 /*audited=*/!result->replayed);
    if (result->replayed && reply.status == 200) {
      reply.headers.emplace_back("Idempotent-Replayed", "true");
    }
    return reply;
  }

  // Content-Type first (415), then the body itself (400).
  Result<boost::json::object> parse_body_checked(std::span<const Member> members) {
    if (auto type = check_content_type(request_); !type) {
      return type.error();
    }
    return parse_body(request_.body, members, limits_);
  }

  // `access_reason`: a supervisor's break-glass read, which shows every field and is audited
  // with the fields it revealed and the reason.
  // `audited`: the read audit row was written with the change that produced `record`.
  HttpReply case_reply(int status, const CaseRecord& record, bool replayed = false,
                       const std::optional<std::string>& access_reason = std::nullopt,
                       bool audited = false) {
    auto workflow = runtime_.workflow_of(record);
    if (!workflow) {
      return render_problem(workflow.error());
    }
    const bool break_glass = access_reason.has_value();
    // Recorded before the answer goes out: a read that cannot be audited is not answered.
    std::vector<AuditRecord> rows;
    if (break_glass) {
      AuditRecord glass;
      glass.actor = actor_.user;
      glass.action = std::string(kAuditBreakGlass);
      glass.case_id = record.id;
      glass.fields = restricted_fields(record, **workflow, actor_);
      glass.reason = *access_reason;
      glass.details = boost::json::object{{"method", request_.method}};
      rows.push_back(std::move(glass));
    }
    if (auto read = audited ? std::nullopt : read_audit(record, **workflow, break_glass)) {
      if (replayed) {
        read->details["replayed"] = true;
      }
      rows.push_back(std::move(*read));
    }
    if (!rows.empty()) {
      if (auto written = runtime_.audit(std::move(rows)); !written) {
        return render_problem(written.error());
      }
    }
    HttpReply reply = json_reply(status, case_to_json(record, **workflow, actor_, break_glass));
    reply.headers.emplace_back("ETag", etag(record.version));
    return reply;
  }

  // The answer's case.read row, for the runtime to write in the change's own commit.
  runtime::AnswerAudit answer_audit() const {
    return [this](const CaseRecord& after) {
      std::vector<AuditRecord> rows;
      if (auto workflow = runtime_.workflow_of(after)) {
        if (auto read = read_audit(after, **workflow)) {
          rows.push_back(std::move(*read));
        }
      }
      return rows;
    };
  }

  // The "case.read" audit row of an answer that shows `record` to the caller, when it shows any
  // sensitive field; names only, never values. The request's path and query are left out: a
  // query may hold a value (?match=name:...).
  std::optional<AuditRecord> read_audit(const CaseRecord& record, const Workflow& workflow,
                                        bool break_glass = false) const {
    auto fields = sensitive_fields_shown(record, workflow, actor_, break_glass);
    if (fields.empty()) {
      return std::nullopt;
    }
    AuditRecord read;
    read.actor = actor_.user;
    read.action = std::string(kAuditCaseRead);
    read.case_id = record.id;
    read.fields = std::move(fields);
    read.details = boost::json::object{{"method", request_.method}};
    return read;
  }

  static boost::json::object page_json(boost::json::array items,
                                       const std::optional<std::string>& next_cursor) {
    return boost::json::object{{"items", std::move(items)},
                               {"next_cursor", next_cursor ? boost::json::value(*next_cursor)
                                                           : boost::json::value(nullptr)}};
  }

  runtime::Runtime& runtime_;
  const HttpRequest& request_;
  const Actor& actor_;
  const std::string& id_;
  const RequestLimits& limits_;
};

}  // namespace

Router::Router(runtime::Runtime& runtime, Store& store, const StepCatalog* steps,
               TestClock test_clock, ReloadWorkflows reload_workflows, RunMigration run_migration,
               RequestLimits limits)
    : runtime_(runtime),
      store_(store),
      steps_(steps),
      test_clock_(std::move(test_clock)),
      reload_workflows_(std::move(reload_workflows)),
      run_migration_(std::move(run_migration)),
      limits_(limits),
      address_failures_(std::make_shared<FailureLimiter>(limits.auth_failures_per_minute)),
      token_failures_(
          std::make_shared<FailureLimiter>(std::max(1, limits.auth_failures_per_minute / 2))) {
}

std::string_view route_template(std::string_view path) {
  const RouteMatch match = match_route(path);
  if (match.route == Route::clock_action) {
    // One of three words (match_route checked), so the template may name it.
    if (match.action == "extend") {
      return "/v1/cases/{id}/clocks/{clock}/extend";
    }
    return match.action == "pause" ? "/v1/cases/{id}/clocks/{clock}/pause"
                                   : "/v1/cases/{id}/clocks/{clock}/resume";
  }
  return template_of(match.route);
}

HttpReply Router::handle(const HttpRequest& request) const {
  const std::string_view path = target_path(request.target);
  const RouteMatch match = match_route(path);

  // Operators' endpoints: no token, no case data (docs/operations.md "Watching it").
  if (match.route == Route::readyz || match.route == Route::metrics) {
    if (request.method != "GET") {
      HttpReply reply =
          render_problem(Error{Errc::invalid_argument,
                               std::string(template_of(match.route)) + " answers GET only",
                               {},
                               std::string(kMethodNotAllowed)});
      reply.headers.emplace_back("Allow", "GET");
      return reply;
    }
    return match.route == Route::readyz ? readiness_reply(store_, runtime_.workflows(), steps_)
                                        : metrics_reply(store_, runtime_.workflows());
  }

  if (match.route == Route::healthz) {
    if (request.method != "GET") {
      HttpReply reply = render_problem(Error{
          Errc::invalid_argument, "/healthz answers GET only", {}, std::string(kMethodNotAllowed)});
      reply.headers.emplace_back("Allow", "GET");
      return reply;
    }
    return json_reply(200, boost::json::object{{"status", "ok"}});
  }

  // Every /v1 path, known or not, asks for a token first, so a caller without one learns
  // nothing about what exists.
  const bool versioned = path == "/v1" || path.starts_with("/v1/");
  // A task is completed by whoever holds its unguessable token (an outside system, a person
  // without an account): the token in the path is the credential, a bearer token is optional.
  const bool task_route = match.route == Route::task_complete || match.route == Route::task_fail;
  std::optional<Actor> actor;
  if (task_route && request.header("authorization") == nullptr) {
    actor = Actor{"task-token", {}};
  } else if (match.route == Route::openapi) {
    actor = Actor{"anonymous", {}};  // an API description holds no case data
  } else if (versioned) {
    // Failed authentications are counted per address and per presented token id. A blocked
    // token id, or a blocked address presenting no token, is answered before the store is asked;
    // a blocked address presenting a token still gets it checked (one indexed lookup), so a valid
    // token keeps working behind a shared address, and a wrong one gets 429 without an audit row.
    const std::string token_key = presented_token_id(request);
    const std::string& address_key = request.remote_address;
    const long long address_wait =
        address_key.empty() ? 0 : address_failures_->retry_after(address_key);
    if (const long long token_wait =
            token_key.empty() ? 0 : token_failures_->retry_after(token_key);
        token_wait > 0 || (address_wait > 0 && token_key.empty())) {
      return too_many_failures(std::max(token_wait, address_wait));
    }
    std::string_view failure;
    auto authenticated = authenticate_request(store_, request, failure);
    if (!authenticated) {
      if (!failure.empty()) {
        if (address_wait > 0) {
          return too_many_failures(address_wait);
        }
        std::string_view limited;
        if (!address_key.empty() && address_failures_->record(address_key)) {
          limited = "address";
        }
        if (!token_key.empty() && token_failures_->record(token_key)) {
          limited = "token";
        }
        AuditRecord login;
        login.actor = "anonymous";
        login.action = std::string(kAuditLoginFailed);
        login.details = boost::json::object{{"failure", failure}};
        if (!limited.empty()) {
          // The last row this window: further failures get 429 and are not audited.
          login.details["rate_limited"] = limited;
        }
        // The caller gets its 401 either way; a trail that cannot be written is the operator's
        // problem, and the log says so.
        if (auto audited = runtime_.audit({std::move(login)}); !audited) {
          log(LogLevel::error, "audit of a failed login failed",
              {{"error", audited.error().message}});
        }
      }
      return render_problem(authenticated.error());
    }
    actor = std::move(*authenticated);
  }
  if (LogContext* context = log_context(); context != nullptr && actor) {
    context->actor = actor->user;
  }
  if (match.route == Route::none) {
    return render_problem(Error{Errc::not_found,
                                "no resource at this path; the API lives under /v1/workflows and "
                                "/v1/cases",
                                {},
                                std::string(kUnknownPath)});
  }
  if (!method_allowed(match.route, request.method)) {
    const std::string allowed(allowed_methods(match.route));
    HttpReply reply = render_problem(Error{Errc::invalid_argument,
                                           "this resource answers " + allowed + " only",
                                           {},
                                           std::string(kMethodNotAllowed)});
    reply.headers.emplace_back("Allow", allowed);
    return reply;
  }

  Handlers handlers(runtime_, request, *actor, match.id, limits_);
  const bool post = request.method == "POST";
  switch (match.route) {
    case Route::workflows:
      return handlers.list_workflows();
    case Route::workflow:
      return handlers.get_workflow();
    case Route::workflow_graph:
      return handlers.workflow_graph();
    case Route::cases:
      return post ? handlers.open_case() : handlers.list_cases();
    case Route::case_item:
      return request.method == "PATCH" ? handlers.update_case() : handlers.get_case();
    case Route::events:
      return post ? handlers.fire() : handlers.history();
    case Route::transitions:
      return handlers.transitions();
    case Route::plugins:
      return json_reply(200, steps_ != nullptr
                                 ? plugins_to_json(*steps_)
                                 : boost::json::object{{"items", boost::json::array{}}});
    case Route::incidents:
      return handlers.incidents();
    case Route::incident_retry:
      return handlers.retry_incident(match.sub);
    case Route::case_tasks:
      return handlers.case_tasks();
    case Route::task_complete:
      return handlers.close_task(true);
    case Route::task_fail:
      return handlers.close_task(false);
    case Route::case_clocks:
      return handlers.case_clocks();
    case Route::clock_action:
      return handlers.clock_action(match.sub, match.action);
    case Route::case_schedule:
      return handlers.schedule();
    case Route::case_graph:
      return handlers.case_graph();
    case Route::case_consents:
      return handlers.case_consents();
    case Route::case_erase:
      return handlers.erase_case();
    case Route::clocks:
      return handlers.list_clocks();
    case Route::admin_clock:
      return handlers.admin_clock(test_clock_);
    case Route::admin_reload:
      return handlers.admin_reload(reload_workflows_);
    case Route::admin_migrations:
      return handlers.admin_migrations(run_migration_);
    case Route::notifications:
      return handlers.list_notifications();
    case Route::notification_acknowledge:
      return handlers.acknowledge_notification();
    case Route::audit:
      return handlers.list_audit();
    case Route::report_caseload:
      return handlers.report(store_, ReportKind::caseload);
    case Route::report_flow:
      return handlers.report(store_, ReportKind::flow);
    case Route::report_outcomes:
      return handlers.report(store_, ReportKind::outcomes);
    case Route::report_cwc_quarterly:
      return handlers.report(store_, ReportKind::cwc_quarterly);
    case Route::report_aftercare_list:
      return handlers.report(store_, ReportKind::aftercare_list);
    case Route::openapi:
      return json_reply(200, openapi_document());
    case Route::healthz:
    case Route::readyz:
    case Route::metrics:
    case Route::none:
      break;
  }
  return render_problem(Error{Errc::internal, "unrouted request"});
}

}  // namespace carepath::api
