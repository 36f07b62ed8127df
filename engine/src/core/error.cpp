#include "core/error.hpp"

namespace carepath {

void throw_exception_from_error(const Error& error, const boost::source_location& /*loc*/) {
  throw ErrorException(error);
}

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid-argument";
    case Errc::not_found:
      return "not-found";
    case Errc::conflict:
      return "conflict";
    case Errc::unavailable:
      return "unavailable";
    case Errc::plugin:
      return "plugin";
    case Errc::storage:
      return "storage";
    case Errc::internal:
      return "internal";
    case Errc::unauthenticated:
      return "unauthenticated";
    case Errc::forbidden:
      return "forbidden";
    case Errc::precondition_failed:
      return "precondition-failed";
    case Errc::unprocessable:
      return "unprocessable";
    case Errc::too_large:
      return "too-large";
  }
  return "internal";
}

}  // namespace carepath
