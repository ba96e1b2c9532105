import CKernels

/// SHA-256 of several messages on one thread, two at a time where the CPU can.
///
/// With the x86 SHA extensions one message's rounds wait on each other, and two interleaved run
/// in about the time of one (CSha256.h), so the chunker's SHA-256 of a whole model takes about
/// half the core time of hashing its files one by one. Elsewhere (or with the extensions forced
/// off, `sw_sha256_force_portable`) each message goes through OpenSSL in turn.
public enum PairedSHA256 {
    /// Whether messages are hashed two at a time here.
    public static var pairs: Bool { sw_sha256_extensions_in_use() != 0 }

    /// The SHA-256 of each message, in the order given.
    ///
    /// Each message is given as its pieces in order (which must stay valid for the call).
    /// Messages are taken in order by two lanes, each starting the next message when its own
    /// ends; `finished(i)` is called as soon as message i's bytes have all been read, so that
    /// its memory can be released.
    public static func digests(
        of messages: [[UnsafeRawBufferPointer]], finished: (Int) -> Void = { _ in }
    ) -> [[UInt8]] {
        var digests = [[UInt8]](repeating: [], count: messages.count)
        guard pairs else {
            for (index, pieces) in messages.enumerated() {
                let digest = StreamingDigest(.sha256)
                for piece in pieces { digest.update(piece) }
                digests[index] = digest.finalize()
                finished(index)
            }
            return digests
        }
        var next = messages.indices.makeIterator()
        func start() -> Lane? { next.next().map { Lane(index: $0, pieces: messages[$0]) } }
        func finish(_ lane: Lane) {
            digests[lane.index] = lane.finalize()
            finished(lane.index)
        }
        var first = start()
        var second = start()
        // Both lanes in step, each call as long as the shorter of their current pieces.
        while let a = first, let b = second {
            let length = min(a.available, b.available)
            if length > 0 {
                withUnsafeMutablePointer(to: &a.hasher) { hashA in
                    withUnsafeMutablePointer(to: &b.hasher) { hashB in
                        sw_sha256_update_two(hashA, a.position, hashB, b.position, length)
                    }
                }
            }
            a.advance(by: length)
            b.advance(by: length)
            if a.isDone {
                finish(a)
                first = start()
            }
            if b.isDone {
                finish(b)
                second = start()
            }
        }
        // One lane left: the rest of its message, and no other message is waiting.
        if let lane = first ?? second {
            while !lane.isDone {
                let length = lane.available
                withUnsafeMutablePointer(to: &lane.hasher) { sw_sha256_update($0, lane.position, length) }
                lane.advance(by: length)
            }
            finish(lane)
        }
        return digests
    }

    /// One message being hashed: its hasher and where it is among its pieces.
    private final class Lane {
        let index: Int
        let pieces: [UnsafeRawBufferPointer]
        var hasher = sw_sha256()
        var piece = 0
        var offset = 0

        init(index: Int, pieces: [UnsafeRawBufferPointer]) {
            self.index = index
            self.pieces = pieces
            sw_sha256_init(&hasher)
            skipEmpty()
        }

        /// Every byte read.
        var isDone: Bool { piece == pieces.count }
        /// The bytes left in the current piece.
        var available: Int { isDone ? 0 : pieces[piece].count - offset }
        var position: UnsafeRawPointer? { isDone ? nil : pieces[piece].baseAddress.map { $0 + offset } }

        func advance(by length: Int) {
            offset += length
            skipEmpty()
        }

        private func skipEmpty() {
            while piece < pieces.count, offset == pieces[piece].count {
                piece += 1
                offset = 0
            }
        }

        func finalize() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            sw_sha256_finalize(&hasher, &digest)
            return digest
        }
    }
}
