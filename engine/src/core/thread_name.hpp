// Names for the engine's threads, so that `top -H`, `ps -L`, perf and gdb tell them apart:
// cp-io (reads and writes connections), cp-request (runs handlers), cp-writer (commits),
// cp-checkpoint, cp-timers, cp-worker (asynchronous steps), cp-retention, cp-backup,
// cp-plugin-call (in-process plugin calls under a time limit), cp-plugin-err (a plugin host's
// stderr). docs/operations.md lists them.
#pragma once

#include <string>
#include <string_view>

namespace carepath {

// Names the calling thread. Linux keeps 15 bytes; a longer name is cut there.
void name_this_thread(std::string_view name);

// The calling thread's name, "" when it cannot be read.
std::string this_thread_name();

}  // namespace carepath
