// Unpredictable identifiers, nonces and secrets from libsodium's CSPRNG.
//
// Two sources. Secrets (token secrets, task tokens, data keys) come straight from libsodium's
// randombytes_buf, one getrandom(2) each, and no copy of them stays behind. Values that must be
// unique and unguessable but are stored or shown in the clear (nonces, ids, case codes) come
// from a per-thread pool that randombytes_buf refills 512 bytes at a time: one system call per
// few dozen values instead of one per value (or, for a code, one per character), which is what
// the import and the transition path paid before. A forked child never serves the bytes its
// parent's pool held (see public_random).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace carepath::security {

// Crockford's base32 alphabet: no I, L, O or U, so codes read aloud or copied by hand are not
// misread.
inline constexpr std::string_view kCrockfordAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// `bytes` random bytes as 2 * `bytes` lowercase hex digits, straight from the CSPRNG: for
// secrets.
std::string random_hex(std::size_t bytes);

// The same from the per-thread pool: for ids, which are unguessable but not secret.
std::string random_id_hex(std::size_t bytes);

// A new case's id: 16 bytes as 32 lowercase hex digits, like random_id_hex(16), but laid out so
// that the cases one process creates one after another get ids that sort one after another:
// 3 bytes drawn once per process, a 3-byte counter, then 10 random bytes (80 bits, so an id is
// still unguessable from its neighbour's). The events table is keyed by case id, so a case's
// rows are written next to the previous new case's instead of at a random place in a table of
// millions of rows: an import of many cases writes a few pages at the end of the tree per
// batch instead of reading and rewriting one random page per case (issue #7: 25,000 to 60,000
// events/s on 100,000 cases). Unlike a timestamp prefix (UUIDv7, ULID) it says nothing about
// when the case was opened; it only orders the cases of one process run.
//
// Thread-safety: may be called from any thread.
std::string new_case_id();

// `chars` characters drawn uniformly from kCrockfordAlphabet (5 bits each; the alphabet has 32
// symbols, so the low five bits of a random byte are uniform), from the per-thread pool.
std::string random_base32(std::size_t chars);

// Fills `out` with `size` bytes from the calling thread's pool (refilled from randombytes_buf
// when it runs out). Every byte is served once: the served bytes are wiped from the pool, and
// after fork() the child discards the pool it inherited, so parent and child never hand out the
// same nonce. Not for secrets: the unserved rest of the pool stays in memory until it is used.
//
// Thread-safety: may be called from any thread (each thread has its own pool).
void public_random(unsigned char* out, std::size_t size);

}  // namespace carepath::security
