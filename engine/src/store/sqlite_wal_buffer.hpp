// A SQLite VFS that gathers the writes of a commit to the write-ahead log into one system call.
//
// SQLite writes each page of a commit to the log with two writes (the frame's header, then the
// page): a transition of about twenty pages made some forty pwrite calls, each a trip through the
// kernel (expensive on a virtual machine). This VFS passes every call through to the default
// one, except that writes to a log file that continue the previous one are kept in memory and
// written together: before the log is synced (the commit), read, truncated, measured or closed,
// and whenever 124 KiB have gathered.
//
// Nothing is durable before the sync in either case, and other connections read only frames that
// a commit published after its sync, so the log's content as anyone sees it is the same. That
// holds only while every commit syncs the log: the store's writer runs with synchronous=FULL.
// With synchronous=NORMAL a commit would publish frames without a sync, still in this buffer.
#pragma once

namespace carepath::store {

// The VFS's name, to pass to sqlite3_open_v2, registered on first use over the default VFS
// (not made the default). nullptr (the default VFS) when it could not be registered.
const char* wal_buffer_vfs();

}  // namespace carepath::store
