// The target is its header (include/CAllocator.h); SwiftPM needs a source file.
