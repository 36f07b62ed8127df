#include "api/rate_limit.hpp"

#include <algorithm>

namespace carepath::api {

long long FailureLimiter::retry_after(std::string_view key, Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  const auto it = windows_.find(key);
  if (it == windows_.end() || it->second.failures < limit_ || now >= it->second.start + kWindow) {
    return 0;
  }
  const auto left =
      std::chrono::ceil<std::chrono::seconds>(it->second.start + kWindow - now).count();
  return std::max<long long>(1, left);
}

bool FailureLimiter::record(std::string_view key, Clock::time_point now) {
  const std::lock_guard lock(mutex_);
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= max_keys_) {
      std::erase_if(windows_,
                    [&](const auto& entry) { return now >= entry.second.start + kWindow; });
    }
    if (windows_.size() >= max_keys_) {
      windows_.erase(std::min_element(
          windows_.begin(), windows_.end(),
          [](const auto& a, const auto& b) { return a.second.start < b.second.start; }));
    }
    it = windows_.emplace(std::string(key), Window{now, 0}).first;
  } else if (now >= it->second.start + kWindow) {
    it->second = Window{now, 0};
  }
  return ++it->second.failures == limit_;
}

}  // namespace carepath::api
