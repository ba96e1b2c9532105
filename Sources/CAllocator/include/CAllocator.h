#ifndef STREAMING_WEIGHTS_CALLOCATOR_H
#define STREAMING_WEIGHTS_CALLOCATOR_H

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>

/* glibc's mallopt(M_MMAP_THRESHOLD), which Swift's Glibc module does not import: allocations of
   `bytes` or more get their own mapping, unmapped when freed. Returns 1 on success. */
static inline int callocator_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}
#else
static inline int callocator_set_mmap_threshold(int bytes) {
    (void)bytes;
    return 0;
}
#endif

#endif
