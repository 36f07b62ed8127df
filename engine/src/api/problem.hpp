// Every error answer of the API, rendered one way: RFC 9457 application/problem+json.
#pragma once

#include <string_view>

#include "api/http.hpp"
#include "core/error.hpp"

namespace carepath::api {

// Problem types the API layer itself raises (the runtime names its own in Error::type).
inline constexpr std::string_view kMalformedRequest = "malformed-request";
inline constexpr std::string_view kInvalidParams = "invalid-params";
inline constexpr std::string_view kUnknownPath = "unknown-path";
// No Errc fits these three HTTP answers, so their type alone decides the status.
inline constexpr std::string_view kMethodNotAllowed = "method-not-allowed";
inline constexpr std::string_view kUnsupportedMediaType = "unsupported-media-type";
inline constexpr std::string_view kHeaderTooLarge = "request-header-too-large";
inline constexpr std::string_view kRequestTimeout = "request-timeout";     // 408
inline constexpr std::string_view kTooManyRequests = "too-many-requests";  // 429
// A request body within body_limit whose JSON is too deep, too wide or has too long a string.
inline constexpr std::string_view kJsonLimitExceeded = "json-limit-exceeded";    // 400
inline constexpr std::string_view kTooManyConnections = "too-many-connections";  // 503
// A write the storage refused or could not make durable (a full disk, a read-only database, an
// I/O or fsync error): the store's errors carry this type (store/sqlite_internal.hpp).
inline constexpr std::string_view kStorageUnavailable = "storage-unavailable";  // 503

// Retry-After of a 503 storage-unavailable (kStorageUnavailable above): a full disk or
// a read-only database needs an operator, so clients should not hammer the server meanwhile.
inline constexpr int kStorageRetryAfterSeconds = 30;

// The HTTP status of an error: the API-only types above, else the one Errc table.
int http_status(const Error& error);

// {"type": "/problems/<type>", "title", "status", "detail"} plus `error.details` (never for a
// 5xx, whose details could describe internals). A 401 carries `WWW-Authenticate: Bearer`; a 503
// storage-unavailable carries Retry-After and is logged at error level.
HttpReply render_problem(const Error& error);

}  // namespace carepath::api
