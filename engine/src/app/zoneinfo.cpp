#include "app/zoneinfo.hpp"

#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace carepath::app {
namespace {

// Real TZif files are a few kilobytes; anything this big is not one.
constexpr std::uintmax_t kMaxFileSize = std::uintmax_t{1} << 20;

// Letters, digits, '_', '-', '+', with '/' only between non-empty parts. No '.', so no ".."
// and no way out of the zoneinfo directory; no leading '/', so no absolute path.
bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/' ||
      name.find("//") != std::string_view::npos) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '+' || c == '/';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Error unknown_zone(std::string_view name) {
  return make_error(Errc::invalid_argument,
                    "unknown time zone '" + std::string(name) +
                        "' (expected an IANA name like Asia/Kolkata or an offset like +05:30)");
}

// The zones that must work without tzdata.
std::optional<TimeZone> builtin_zone(std::string_view name) {
  if (name == "Asia/Kolkata" || name == "Asia/Calcutta") {
    return TimeZone::with_offset(std::string(name), 5 * 3600 + 30 * 60);  // IST since 1945
  }
  if (name == "Etc/UTC") {
    return TimeZone::with_offset(std::string(name), 0);
  }
  return std::nullopt;  // "UTC" itself is a fixed zone, handled before the file is looked for
}

}  // namespace

Result<TimeZone> load_time_zone(std::string_view name, const std::filesystem::path& dir) {
  if (auto fixed = TimeZone::fixed(name)) {
    return *fixed;
  }
  if (!is_valid_name(name)) {
    return unknown_zone(name);
  }
  const std::filesystem::path path = dir / std::filesystem::path(name);
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    if (auto zone = builtin_zone(name)) {
      return *zone;
    }
    return unknown_zone(name);
  }
  if (!std::filesystem::is_regular_file(status)) {  // "Europe" is a directory, not a zone
    return unknown_zone(name);
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxFileSize) {
    return make_error(Errc::invalid_argument, "time zone '" + std::string(name) + "': " +
                                                  path.string() + " is not a zoneinfo file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(Errc::invalid_argument,
                      "time zone '" + std::string(name) + "': cannot open " + path.string());
  }
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  return TimeZone::from_tzif(std::string(name), bytes);
}

}  // namespace carepath::app
