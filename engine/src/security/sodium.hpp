// libsodium must be initialised once before its random functions are used; this does it.
#pragma once

namespace carepath::security {

// Initialises libsodium on the first call and does nothing afterwards. Aborts the process when
// libsodium cannot initialise: without a working random source no token may be issued.
//
// Thread-safety: may be called from any thread.
void ensure_sodium();

}  // namespace carepath::security
