// The compiled workflows the engine knows, by name and version. New cases use the newest version;
// a case stays on the version it was opened with.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"

namespace carepath::runtime {

// Thread-safety: every member function may be called concurrently.
class WorkflowRegistry {
 public:
  void add(std::shared_ptr<const Workflow> workflow);
  // The newest version of `name`, or nullptr.
  std::shared_ptr<const Workflow> latest(std::string_view name) const;
  // That exact version, or nullptr.
  std::shared_ptr<const Workflow> find(std::string_view name, int version) const;
  // Every workflow, ordered by name then version.
  std::vector<std::shared_ptr<const Workflow>> all() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<int, std::shared_ptr<const Workflow>>, std::less<>>
      workflows_;  // GUARDED_BY(mutex_)
};

}  // namespace carepath::runtime
