// The one error idiom of the engine: carepath::Result<T>, an expected value or an Error.
#pragma once

#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

namespace carepath {

// What kind of failure; the API maps each to one HTTP status (api/problem.cpp).
enum class Errc {
  invalid_argument = 1,  // 400: malformed request or input
  not_found,             // 404
  conflict,              // 409: no transition, guard false, duplicate, used workflow changed
  unavailable,           // 503
  plugin,                // 500
  storage,               // 500
  internal,              // 500
  unauthenticated,       // 401
  forbidden,             // 403
  precondition_failed,   // 412: If-Match version mismatch
  unprocessable,         // 422: invalid or missing fields, idempotency key reuse
  too_large,             // 413
};

// What failed and why, for people: "workflow 'aftercare': state 'intake': unknown event 'x'".
// `details` holds extension members that help a caller fix the request (`missing_fields`,
// `invalid_fields`, `allowed_events`, `current_version`, ...). Messages and details carry ids and
// field *names*, never field values.
// `type` is a short problem name for machine use ("no-transition", "missing-fields"); empty means
// the generic one for `code`.
struct Error {
  Errc code = Errc::internal;
  std::string message;
  boost::json::object details{};
  std::string type{};
};

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

// Thrown by Result<T>::value() on an error; prefer `if (!r)` over `.value()`.
class ErrorException : public std::exception {
 public:
  explicit ErrorException(Error error) : error_(std::move(error)) {}
  const char* what() const noexcept override { return error_.message.c_str(); }
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

// Short name of an Errc for logs and problem types ("not-found", "conflict", ...).
const char* errc_name(Errc code);

}  // namespace carepath
