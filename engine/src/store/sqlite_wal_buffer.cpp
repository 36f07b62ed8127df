#include "store/sqlite_wal_buffer.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <mutex>
#include <new>
#include <string>

#include <sqlite3.h>

namespace carepath::store {
namespace {

constexpr const char* kName = "carepath-wal-buffer";
// The default VFS writes at most 128 KiB - 1 bytes in one call (it masks the length to 17 bits
// and reports the rest as a full disk), so a write gathers at most 124 KiB: 30 frames of 4 KiB.
constexpr std::size_t kMaxGathered = std::size_t{124} * 1024;

// Room for the default VFS's file after our header: the largest of the default VFS at
// registration and 4 KiB, so that a VFS made the default later (a test's fault injection, an
// application's own) fits too.
int base_file_size = 0;
sqlite3_vfs* registered_base = nullptr;  // the default VFS when this one was registered
sqlite3_vfs self_vfs{};

// The VFS everything is passed to: the process's default VFS now, if its files fit, else the one
// that was the default at registration.
sqlite3_vfs* base_vfs() {
  sqlite3_vfs* current = sqlite3_vfs_find(nullptr);
  if (current != nullptr && current != &self_vfs && current->szOsFile <= base_file_size) {
    return current;
  }
  return registered_base;
}

// The writes gathered for one log file: bytes [offset, offset + bytes.size()) of the file.
struct Gathered {
  sqlite3_int64 offset = 0;
  std::string bytes;
};

// What SQLite allocates for an open file of this VFS (szOsFile bytes): this header, then the
// default VFS's own file. `gathered` is null for files other than a log: their calls all pass
// straight through.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  Gathered* gathered;
};

File* as_file(sqlite3_file* file) {
  return reinterpret_cast<File*>(file);
}

sqlite3_file* real_of(sqlite3_file* file) {
  return as_file(file)->real;
}

// Writes what was gathered, as one write; on failure the bytes are dropped (the transaction that
// wrote them fails with the error, and nothing published points at them).
int flush(File* file) {
  Gathered* gathered = file->gathered;
  if (gathered == nullptr || gathered->bytes.empty()) {
    return SQLITE_OK;
  }
  const int rc =
      file->real->pMethods->xWrite(file->real, gathered->bytes.data(),
                                   static_cast<int>(gathered->bytes.size()), gathered->offset);
  gathered->bytes.clear();
  return rc;
}

int file_close(sqlite3_file* file) {
  File* self = as_file(file);
  const int flushed = flush(self);
  const int rc = self->real->pMethods->xClose(self->real);
  delete self->gathered;
  self->gathered = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int file_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xRead(real_of(file), buffer, amount, offset);
}

int file_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  File* self = as_file(file);
  if (self->gathered == nullptr) {
    return self->real->pMethods->xWrite(self->real, buffer, amount, offset);
  }
  Gathered& gathered = *self->gathered;
  const auto size = static_cast<std::size_t>(amount);
  const bool continues =
      !gathered.bytes.empty() &&
      offset == gathered.offset + static_cast<sqlite3_int64>(gathered.bytes.size());
  if (!continues || gathered.bytes.size() + size > kMaxGathered) {
    if (const int rc = flush(self); rc != SQLITE_OK) {
      return rc;
    }
    if (size >= kMaxGathered) {
      return self->real->pMethods->xWrite(self->real, buffer, amount, offset);
    }
    gathered.offset = offset;
  }
  try {
    gathered.bytes.append(static_cast<const char*>(buffer), size);
  } catch (const std::bad_alloc&) {
    return SQLITE_IOERR_NOMEM;
  }
  return SQLITE_OK;
}

int file_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xTruncate(real_of(file), size);
}

int file_sync(sqlite3_file* file, int flags) {
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xSync(real_of(file), flags);
}

int file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xFileSize(real_of(file), size);
}

int file_lock(sqlite3_file* file, int level) {
  return real_of(file)->pMethods->xLock(real_of(file), level);
}

int file_unlock(sqlite3_file* file, int level) {
  return real_of(file)->pMethods->xUnlock(real_of(file), level);
}

int file_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_of(file)->pMethods->xCheckReservedLock(real_of(file), out);
}

int file_control(sqlite3_file* file, int op, void* argument) {
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xFileControl(real_of(file), op, argument);
}

int file_sector_size(sqlite3_file* file) {
  return real_of(file)->pMethods->xSectorSize(real_of(file));
}

int file_device_characteristics(sqlite3_file* file) {
  return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}

// Shared memory belongs to the database file, which gathers nothing; a log file is never
// memory-mapped, but a fetch would still see the gathered writes first.
int file_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_of(file)->pMethods->xShmMap(real_of(file), region, size, extend, out);
}

int file_shm_lock(sqlite3_file* file, int offset, int count, int flags) {
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, count, flags);
}

void file_shm_barrier(sqlite3_file* file) {
  real_of(file)->pMethods->xShmBarrier(real_of(file));
}

int file_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}

int file_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (const int rc = flush(as_file(file)); rc != SQLITE_OK) {
    return rc;
  }
  return real_of(file)->pMethods->xFetch(real_of(file), offset, amount, out);
}

int file_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return real_of(file)->pMethods->xUnfetch(real_of(file), offset, page);
}

// The same methods for each version of sqlite3_io_methods the default VFS's file may have, so
// that SQLite calls only what the file under them implements.
constexpr sqlite3_io_methods methods_of_version(int version) {
  return {
      version,
      file_close,
      file_read,
      file_write,
      file_truncate,
      file_sync,
      file_size,
      file_lock,
      file_unlock,
      file_check_reserved_lock,
      file_control,
      file_sector_size,
      file_device_characteristics,
      version >= 2 ? file_shm_map : nullptr,
      version >= 2 ? file_shm_lock : nullptr,
      version >= 2 ? file_shm_barrier : nullptr,
      version >= 2 ? file_shm_unmap : nullptr,
      version >= 3 ? file_fetch : nullptr,
      version >= 3 ? file_unfetch : nullptr,
  };
}

const std::array<sqlite3_io_methods, 3> kMethods = {methods_of_version(1), methods_of_version(2),
                                                    methods_of_version(3)};

int vfs_open(sqlite3_vfs* /*vfs*/, sqlite3_filename name, sqlite3_file* file, int flags,
             int* out_flags) {
  sqlite3_vfs* base = base_vfs();
  File* self = as_file(file);
  self->base.pMethods = nullptr;
  self->real = reinterpret_cast<sqlite3_file*>(self + 1);
  self->gathered = nullptr;
  const int rc = base->xOpen(base, name, self->real, flags, out_flags);
  if (rc != SQLITE_OK || self->real->pMethods == nullptr) {
    return rc;
  }
  const int version = self->real->pMethods->iVersion;
  if (version < 1 || version > 3) {
    self->real->pMethods->xClose(self->real);
    return SQLITE_CANTOPEN;
  }
  // Other files (the database, temporary files) pass every call through.
  if ((flags & SQLITE_OPEN_WAL) != 0) {
    self->gathered = new (std::nothrow) Gathered();
    if (self->gathered == nullptr) {
      self->real->pMethods->xClose(self->real);
      return SQLITE_NOMEM;
    }
  }
  self->base.pMethods = &kMethods.at(static_cast<std::size_t>(version - 1));
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* /*vfs*/, const char* name, int sync_dir) {
  sqlite3_vfs* base = base_vfs();
  return base->xDelete(base, name, sync_dir);
}

int vfs_access(sqlite3_vfs* /*vfs*/, const char* name, int flags, int* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xAccess(base, name, flags, out);
}

int vfs_full_pathname(sqlite3_vfs* /*vfs*/, const char* name, int size, char* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xFullPathname(base, name, size, out);
}

void* vfs_dl_open(sqlite3_vfs* /*vfs*/, const char* name) {
  sqlite3_vfs* base = base_vfs();
  return base->xDlOpen(base, name);
}

void vfs_dl_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  sqlite3_vfs* base = base_vfs();
  base->xDlError(base, size, out);
}

void (*vfs_dl_sym(sqlite3_vfs* /*vfs*/, void* library, const char* symbol))() {
  sqlite3_vfs* base = base_vfs();
  return base->xDlSym(base, library, symbol);
}

void vfs_dl_close(sqlite3_vfs* /*vfs*/, void* library) {
  sqlite3_vfs* base = base_vfs();
  base->xDlClose(base, library);
}

int vfs_randomness(sqlite3_vfs* /*vfs*/, int size, char* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xRandomness(base, size, out);
}

int vfs_sleep(sqlite3_vfs* /*vfs*/, int microseconds) {
  sqlite3_vfs* base = base_vfs();
  return base->xSleep(base, microseconds);
}

int vfs_current_time(sqlite3_vfs* /*vfs*/, double* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xCurrentTime(base, out);
}

int vfs_get_last_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xGetLastError(base, size, out);
}

int vfs_current_time_int64(sqlite3_vfs* /*vfs*/, sqlite3_int64* out) {
  sqlite3_vfs* base = base_vfs();
  return base->xCurrentTimeInt64(base, out);
}

void fill_vfs(sqlite3_vfs* base) {
  registered_base = base;
  base_file_size = std::max(base->szOsFile, 4096);
  sqlite3_vfs& vfs = self_vfs;
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(File)) + base_file_size;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = kName;
  vfs.xOpen = vfs_open;
  vfs.xDelete = vfs_delete;
  vfs.xAccess = vfs_access;
  vfs.xFullPathname = vfs_full_pathname;
  vfs.xDlOpen = vfs_dl_open;
  vfs.xDlError = vfs_dl_error;
  vfs.xDlSym = vfs_dl_sym;
  vfs.xDlClose = vfs_dl_close;
  vfs.xRandomness = vfs_randomness;
  vfs.xSleep = vfs_sleep;
  vfs.xCurrentTime = vfs_current_time;
  vfs.xGetLastError = vfs_get_last_error;
  vfs.xCurrentTimeInt64 = vfs_current_time_int64;
}

}  // namespace

const char* wal_buffer_vfs() {
  static bool registered = false;
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    if (base == nullptr || base->iVersion < 2 || base->xCurrentTimeInt64 == nullptr) {
      return;
    }
    fill_vfs(base);
    registered = sqlite3_vfs_register(&self_vfs, /*makeDflt=*/0) == SQLITE_OK;
  });
  return registered ? kName : nullptr;
}

}  // namespace carepath::store
