#ifndef STREAMING_WEIGHTS_CPREFETCH_H
#define STREAMING_WEIGHTS_CPREFETCH_H

/* A software prefetch, which Swift has no spelling for: asks the CPU to start loading the cache
   line holding `address` into all cache levels. A hint only; it never faults. */
static inline __attribute__((always_inline)) void cprefetch_read(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
