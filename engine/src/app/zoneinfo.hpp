// Time zones by name: fixed offsets, or IANA zones read from the system's zoneinfo files.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/error.hpp"
#include "core/timezone.hpp"

namespace carepath::app {

// The zone `name`: a fixed offset ("+05:30", "UTC", "Z"; see TimeZone::fixed), or an IANA name
// ("Asia/Kolkata", "Europe/Berlin") read as TZif from `dir`/name. Names are checked (letters,
// digits, '_', '-', '+' and '/' separating non-empty parts; at most 255 characters) before any
// file is opened, so no name can reach outside `dir`.
//
// When the file is missing (no tzdata installed), "Asia/Kolkata" and "Asia/Calcutta" still work
// as the fixed +05:30 they have been since 1945, and "UTC" and "Etc/UTC" as UTC; those keep the
// name asked for.
//
// Errc::invalid_argument "unknown time zone 'X' (expected an IANA name like Asia/Kolkata or an
// offset like +05:30)" for a bad or missing name; for a file that exists but cannot be read or
// parsed, an invalid_argument that says so.
//
// Reads the file on every call; callers load a zone once and keep the TimeZone.
Result<TimeZone> load_time_zone(std::string_view name,
                                const std::filesystem::path& dir = "/usr/share/zoneinfo");

}  // namespace carepath::app
