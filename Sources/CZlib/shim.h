#ifndef STREAMING_WEIGHTS_CZLIB_SHIM_H
#define STREAMING_WEIGHTS_CZLIB_SHIM_H

#include <zlib.h>

/* deflateInit2 and inflateInit2 are macros that pass the library version and the size of
   z_stream; Swift does not import macros with arguments. */

static inline int czlib_deflateInit2(z_streamp stream, int level, int method, int windowBits, int memLevel,
                                     int strategy) {
    return deflateInit2(stream, level, method, windowBits, memLevel, strategy);
}

static inline int czlib_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

#endif
