import CAllocator

/// How the command-line tools configure the C allocator.
public enum Allocator {
    /// Gives every allocation of 1 MiB or more its own mapping, returned to the system when it
    /// is freed.
    ///
    /// A streaming forward pass allocates a few large buffers per layer (the response, the
    /// weights, their packed form) and frees them a layer later. glibc otherwise serves buffers
    /// under 32 MiB from heaps it rarely trims, so the resident size would grow to the most
    /// ever in use by several threads at once rather than what is live.
    public static func returnLargeBuffersPromptly() {
        _ = callocator_set_mmap_threshold(1 << 20)
    }
}
