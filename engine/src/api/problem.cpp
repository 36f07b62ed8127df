#include "api/problem.hpp"

#include <array>
#include <string>

#include <boost/json/object.hpp>

#include "core/log.hpp"

namespace carepath::api {
namespace {

struct ErrcRow {
  Errc code;
  int status;
  std::string_view title;  // for errors whose type has no title of its own
};

// The one Errc -> HTTP table.
// clang-format off
constexpr auto kErrcTable = std::to_array<ErrcRow>({
  {Errc::invalid_argument,    400, "invalid request"},
  {Errc::unauthenticated,     401, "authentication required"},
  {Errc::forbidden,           403, "forbidden"},
  {Errc::not_found,           404, "not found"},
  {Errc::conflict,            409, "conflict"},
  {Errc::precondition_failed, 412, "precondition failed"},
  {Errc::too_large,           413, "request body too large"},
  {Errc::unprocessable,       422, "unprocessable request"},
  {Errc::unavailable,         503, "service unavailable"},
  {Errc::plugin,              500, "internal error"},
  {Errc::storage,             500, "internal error"},
  {Errc::internal,            500, "internal error"},
});
// clang-format on

struct TypeRow {
  std::string_view type;
  std::string_view title;
  int status;  // 0: from the Errc table
};

// A fixed short title per problem type, so clients can show it without parsing `detail`.
// clang-format off
constexpr auto kTypeTable = std::to_array<TypeRow>({
  {kMalformedRequest,        "malformed request",                  0},
  {kInvalidParams,           "invalid query parameters",           0},
  {kUnknownPath,             "unknown path",                       0},
  {kMethodNotAllowed,        "method not allowed",                 405},
  {kUnsupportedMediaType,    "unsupported media type",             415},
  {kHeaderTooLarge,          "request header too large",           431},
  {kRequestTimeout,          "request timeout",                    408},
  {kTooManyRequests,         "too many requests",                  429},
  {kJsonLimitExceeded,       "JSON limit exceeded",                0},
  {kTooManyConnections,      "too many connections",               503},
  {kStorageUnavailable,      "storage unavailable",                503},
  {"unauthenticated",        "authentication required",            0},
  {"forbidden",              "not allowed for your roles",         0},
  {"forbidden-fields",       "fields not editable by your roles",  0},
  {"not-found",              "not found",                          0},
  {"unknown-workflow",       "unknown workflow",                   0},
  {"no-transition",          "no transition for this event",       0},
  {"guard-failed",           "transition guard not satisfied",     0},
  {"consent-required",       "consent required",                   0},
  {"consent-not-given",      "consent not in force",               0},
  {"case-final",             "case is in a final state",           0},
  {"case-erased",            "case was erased",                    0},
  {"invalid-fields",         "invalid fields",                     0},
  {"missing-fields",         "missing fields",                     0},
  {"version-mismatch",       "case version mismatch",              0},
  {"idempotency-key-reused", "idempotency key reused",             0},
  {"invalid-migration-plan", "invalid migration plan",             0},
  {"migration-in-progress",  "a migration is running",             0},
  {"workflow-version-not-loaded", "workflow version not loaded",   0},
});
// clang-format on

const ErrcRow& errc_row(Errc code) {
  for (const auto& row : kErrcTable) {
    if (row.code == code) {
      return row;
    }
  }
  return kErrcTable.back();  // Errc::internal
}

const TypeRow* type_row(std::string_view type) {
  for (const auto& row : kTypeTable) {
    if (row.type == type) {
      return &row;
    }
  }
  return nullptr;
}

}  // namespace

int http_status(const Error& error) {
  if (const TypeRow* row = type_row(error.type); row && row->status != 0) {
    return row->status;
  }
  return errc_row(error.code).status;
}

HttpReply render_problem(const Error& error) {
  const int status = http_status(error);
  const std::string_view type =
      error.type.empty() ? std::string_view{errc_name(error.code)} : std::string_view{error.type};
  const TypeRow* row = type_row(type);
  const std::string_view title = row ? row->title : errc_row(error.code).title;

  boost::json::object body;
  body["type"] = "/problems/" + std::string(type);
  body["title"] = title;
  body["status"] = status;
  body["detail"] = error.message;
  if (status < 500) {
    for (const auto& member : error.details) {
      body.emplace(member.key(), member.value());  // never masks one of the four above
    }
  }

  HttpReply reply = json_reply(status, body);
  reply.content_type = "application/problem+json";
  if (status == 401) {
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  if (type == kStorageUnavailable) {
    // The request's change is not acknowledged (after a failed fsync it may still turn up once
    // the file is read again): the caller sends it again, with the same Idempotency-Key, once an
    // operator has freed the disk or made the database writable. Nothing retries it here.
    reply.headers.emplace_back("Retry-After", std::to_string(kStorageRetryAfterSeconds));
    log(LogLevel::error, "storage unavailable: a write was refused or not made durable",
        {{"reason", error.message}});
  }
  return reply;
}

}  // namespace carepath::api
