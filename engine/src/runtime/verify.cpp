#include "runtime/verify.hpp"

#include "core/replay.hpp"

namespace carepath::runtime {
namespace {

constexpr std::size_t kPage = 500;  // the store's largest
constexpr int kAttempts = 3;

struct Checked {
  std::vector<std::string> differences;
  std::int64_t events = 0;
  bool unrecorded = false;
};

Result<Checked> check_case(Store& store, const CaseRecord& record) {
  Replay replay;
  std::optional<std::string> cursor;
  do {
    auto page = store.history(record.id, kPage, cursor);
    if (!page) {
      return page.error();
    }
    for (const auto& entry : page->items) {
      replay.feed(entry);
    }
    cursor = page->next_cursor;
  } while (cursor);
  const Projection& rebuilt = replay.projection();
  return Checked{compare(rebuilt, record), rebuilt.entries, !rebuilt.unrecorded.empty()};
}

}  // namespace

Result<VerifyReport> verify_cases(Store& store,
                                  const std::function<void(const CaseMismatch&)>& on_mismatch) {
  VerifyReport report;
  CaseQuery query;
  query.limit = kPage;
  for (;;) {
    auto page = store.list_cases(query);
    if (!page) {
      return page.error();
    }
    for (const CaseRecord& listed : page->items) {
      CaseRecord record = listed;
      auto checked = check_case(store, record);
      // Read again: the row and its history are read in two transactions.
      for (int attempt = 1; checked && !checked->differences.empty() && attempt < kAttempts;
           ++attempt) {
        auto fresh = store.get_case(listed.id);
        if (!fresh) {
          return fresh.error();
        }
        record = std::move(*fresh);
        checked = check_case(store, record);
      }
      if (!checked) {
        return checked.error();
      }
      ++report.cases;
      report.events += checked->events;
      report.unrecorded += checked->unrecorded ? 1 : 0;
      if (!checked->differences.empty()) {
        ++report.mismatched;
        if (on_mismatch) {
          on_mismatch(CaseMismatch{record.id, std::move(checked->differences)});
        }
      }
    }
    if (!page->next_cursor) {
      break;
    }
    query.cursor = page->next_cursor;
  }
  return report;
}

}  // namespace carepath::runtime
