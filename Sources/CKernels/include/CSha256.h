#ifndef STREAMING_WEIGHTS_CSHA256_H
#define STREAMING_WEIGHTS_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4) with the x86 SHA extensions, two messages at once.

   One message cannot go faster than OpenSSL's: every pair of rounds (sha256rnds2) waits for the
   pair before, and OpenSSL's loop already runs at that latency. Two independent messages fill
   the gaps, so a thread hashes two at nearly the price of one (the chunker's files, two by two).
   OpenSSL stays the library's SHA-256 for one message; this is for several, where the CPU has
   the SHA extensions (sw_sha256_supported). */

#ifdef __cplusplus
extern "C" {
#endif

/* A hasher. A plain struct: a copy is an independent hasher from the same point. */
typedef struct sw_sha256 {
    uint32_t state[8];
    /* The bytes hashed so far, `buffered` of them waiting in `buffer`. */
    uint64_t length;
    uint32_t buffered;
    uint8_t buffer[64];
} sw_sha256;

/* Whether this CPU has the SHA extensions (x86-64 with SHA, SSSE3 and SSE4.1), which make the
   functions below fast; without them they give the same digests through plain C, slowly. */
int sw_sha256_supported(void);

/* For tests: 1 runs plain C even where the extensions are; 0 goes back to what the CPU has. */
void sw_sha256_force_portable(int portable);

/* Whether the functions below run on the extensions now: sw_sha256_supported, unless forced off. */
int sw_sha256_extensions_in_use(void);

void sw_sha256_init(sw_sha256 *hasher);

/* Adds `length` bytes to one message. */
void sw_sha256_update(sw_sha256 *hasher, const void *data, size_t length);

/* Adds `length` bytes to each of two messages (`first` then `second`), hashing their whole
   blocks side by side: the same digests as two sw_sha256_update calls, in about the time of one. */
void sw_sha256_update_two(sw_sha256 *first, const void *first_data, sw_sha256 *second, const void *second_data,
                          size_t length);

/* The digest of the message so far; the hasher is left as it was. */
void sw_sha256_finalize(const sw_sha256 *hasher, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif

#endif
