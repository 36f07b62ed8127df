#include "app/maintenance.hpp"

#include <filesystem>
#include <system_error>

#include "security/digest.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::app {
namespace {

Result<void> check_integrity(const std::string& path) {
  auto problems = store::integrity_check(path);
  if (!problems) {
    return problems.error();
  }
  if (!problems->empty()) {
    std::string message = "'" + path + "' fails SQLite's integrity check:";
    for (std::size_t i = 0; i < problems->size() && i < 5; ++i) {
      message += "\n  " + (*problems)[i];
    }
    return make_error(Errc::storage, std::move(message));
  }
  return {};
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

// Removes a prepared copy and its side files.
void discard(const std::string& tmp) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    remove_quietly(tmp + suffix);
  }
}

std::string when(const std::optional<Timestamp>& at) {
  return at ? format_timestamp(*at) : std::string("never");
}

}  // namespace

Result<runtime::VerifyReport> verify_database(
    const std::string& path, const std::function<void(const runtime::CaseMismatch&)>& on_mismatch) {
  if (auto sound = check_integrity(path); !sound) {
    return sound.error();
  }
  auto opened = store::SqliteStore::open_read_only(path);
  if (!opened) {
    return opened.error();
  }
  return runtime::verify_cases(**opened, on_mismatch);
}

Result<RestoreReport> restore_database(const std::string& file, const std::string& target,
                                       const RestoreOptions& options) {
  RestoreReport report;
  if (auto sound = check_integrity(file); !sound) {
    return sound.error();
  }
  auto version = store::schema_version(file);
  if (!version) {
    return version.error();
  }
  if (*version > store::SqliteStore::kSchemaVersion) {
    return make_error(Errc::storage, "'" + file + "' has schema version " +
                                         std::to_string(*version) +
                                         ", newer than this carepath supports (" +
                                         std::to_string(store::SqliteStore::kSchemaVersion) +
                                         "); restore it with a newer carepath");
  }
  if (*version == 0) {
    return make_error(Errc::storage, "'" + file + "' is not a carepath database");
  }
  auto backup_latest = store::latest_activity(file);
  if (!backup_latest) {
    return backup_latest.error();
  }
  report.backup_latest = *backup_latest;

  std::error_code ec;
  report.replaced = std::filesystem::exists(target, ec);
  if (report.replaced) {
    if (auto free = store::check_not_in_use(target); !free) {
      return free.error();
    }
    if (!options.force) {
      auto target_latest = store::latest_activity(target);
      if (!target_latest) {
        return make_error(Errc::precondition_failed, "cannot tell whether the database at '" +
                                                         target + "' is newer than the backup (" +
                                                         target_latest.error().message +
                                                         "); use --force to replace it anyway");
      }
      report.target_latest = *target_latest;
      if (*target_latest && (!*backup_latest || **target_latest > **backup_latest)) {
        return make_error(Errc::precondition_failed,
                          "the database at '" + target + "' is newer than the backup (it last " +
                              "changed at " + when(*target_latest) + ", the backup at " +
                              when(*backup_latest) +
                              "); use --force to replace it and lose what happened since");
      }
    }
  }

  const std::string tmp = target + ".tmp";
  discard(tmp);
  if (auto copied = store::copy_database(file, tmp, options.copy); !copied) {
    discard(tmp);
    return copied.error();
  }
  {
    // Opened as the server opens it: an older schema is upgraded here, on the copy.
    auto opened = store::SqliteStore::open(tmp, &security::sha256_hex);
    if (!opened) {
      discard(tmp);
      return opened.error();
    }
    auto verified = runtime::verify_cases(**opened, nullptr);
    if (!verified) {
      discard(tmp);
      return verified.error();
    }
    if (verified->mismatched > 0) {
      discard(tmp);
      return make_error(Errc::storage, "'" + file + "': " + std::to_string(verified->mismatched) +
                                           " cases do not match their history (run `carepath "
                                           "verify --db " +
                                           file + "` to see which)");
    }
    report.verified = *verified;
  }
  remove_quietly(tmp + "-shm");
  if (auto swapped = store::replace_database(tmp, target); !swapped) {
    discard(tmp);
    return swapped.error();
  }
  return report;
}

}  // namespace carepath::app
