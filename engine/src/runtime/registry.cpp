#include "runtime/registry.hpp"

namespace carepath::runtime {

void WorkflowRegistry::add(std::shared_ptr<const Workflow> workflow) {
  std::lock_guard lock(mutex_);
  const std::string name = workflow->name;
  const int version = workflow->version;
  workflows_[name][version] = std::move(workflow);
}

std::shared_ptr<const Workflow> WorkflowRegistry::latest(std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto it = workflows_.find(name);
  if (it == workflows_.end() || it->second.empty()) {
    return nullptr;
  }
  return it->second.rbegin()->second;
}

std::shared_ptr<const Workflow> WorkflowRegistry::find(std::string_view name, int version) const {
  std::lock_guard lock(mutex_);
  const auto it = workflows_.find(name);
  if (it == workflows_.end()) {
    return nullptr;
  }
  const auto v = it->second.find(version);
  return v == it->second.end() ? nullptr : v->second;
}

std::vector<std::shared_ptr<const Workflow>> WorkflowRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const Workflow>> out;
  for (const auto& [name, versions] : workflows_) {
    for (const auto& [version, workflow] : versions) {
      out.push_back(workflow);
    }
  }
  return out;
}

}  // namespace carepath::runtime
