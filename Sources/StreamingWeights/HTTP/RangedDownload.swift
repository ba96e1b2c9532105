import Foundation

/// Reads an object of known size over HTTP into one allocation: in parallel ranges when it is
/// large, each range resumed from the byte it reached when a transfer is cut.
///
/// The caller supplies one GET: `get(range, sink)` asks for `range` and hands the body to
/// `sink`. An ``HTTPError`` it throws is a cut transfer and is resumed (up to `attempts` times
/// per range, with backoff); anything else ends the read.
struct RangedDownload: Sendable {
    /// One GET of a byte range, handing its body (from the range's first byte on) to the sink.
    typealias Get = @Sendable (Range<Int>, (UnsafeRawBufferPointer) throws -> Void) throws -> Void

    /// Ranges of this many bytes go in parallel; an object no larger is one GET.
    var partSize: Int
    /// Ranges in flight at once.
    var concurrency: Int
    /// Tries per range, the first included.
    var attempts: Int
    /// For errors: the object's address.
    var url: String

    /// The object's `size` bytes.
    ///
    /// - Throws: ``HTTPError`` when a range still fails after every attempt or the server sends
    ///   more bytes than asked for; what `get` throws otherwise.
    func read(size: Int, get: @escaping Get) throws -> ByteStorage {
        try readHashed(size: size, get: get, hashing: nil).bytes
    }

    /// The object's `size` bytes and their digest by `algorithm`.
    ///
    /// An object read in one range is hashed as it arrives (the hash overlaps the sender's
    /// work); one read in parallel ranges, afterwards.
    func readHashed(size: Int, get: @escaping Get, algorithm: DigestAlgorithm) throws -> (
        bytes: ByteStorage, digest: ContentDigest
    ) {
        let (bytes, digest) = try readHashed(size: size, get: get, hashing: algorithm)
        return (bytes, ContentDigest(algorithm, (digest ?? []).hexString))
    }

    private func readHashed(size: Int, get: @escaping Get, hashing algorithm: DigestAlgorithm?) throws -> (
        bytes: ByteStorage, digest: [UInt8]?
    ) {
        let digest = algorithm.map(StreamingDigest.init)
        let bytes = try ByteStorage(count: size) { buffer in
            guard let base = buffer.baseAddress else { return }
            if size <= partSize {
                return try fetch(0..<size, into: base, get: get, digest: digest)
            }
            let parts = stride(from: 0, to: size, by: partSize).map { $0..<min($0 + partSize, size) }
            let destination = UnsafeSendable(base)
            // The first error any thread hit; the others stop at their next part.
            let failures = Locked<[any Error]>([])
            let threads = max(1, min(concurrency, parts.count))
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for index in stride(from: worker, to: parts.count, by: threads) {
                    guard failures.withLock({ $0.isEmpty }) else { return }
                    do {
                        try fetch(parts[index], into: destination.value + parts[index].lowerBound, get: get)
                    } catch {
                        failures.withLock { $0.append(error) }
                    }
                }
            }
            if let error = failures.withLock({ $0.first }) { throw error }
            if let digest { StageClock.measure(.hash) { digest.update(UnsafeRawBufferPointer(buffer)) } }
        }
        return (bytes, digest?.finalize())
    }

    /// Reads `range` into `destination`, resuming from the byte reached when a transfer is cut;
    /// the bytes go to `digest` too, in order, as they arrive.
    func fetch(
        _ range: Range<Int>, into destination: UnsafeMutableRawPointer, get: Get, digest: StreamingDigest? = nil
    ) throws {
        guard !range.isEmpty else { return }
        var received = 0
        var cuts = 0
        while received < range.count {
            do {
                try get((range.lowerBound + received)..<range.upperBound) { bytes in
                    guard received + bytes.count <= range.count else {
                        throw HTTPError(
                            url: url, code: -1,
                            message:
                                "the server sent more than the \(range.count) bytes asked for (bytes \(range.lowerBound)..<\(range.upperBound))"
                        )
                    }
                    if let source = bytes.baseAddress {
                        (destination + received).copyMemory(from: source, byteCount: bytes.count)
                    }
                    if let digest { StageClock.measure(.hash) { digest.update(bytes) } }
                    received += bytes.count
                }
            } catch let error as HTTPError where cuts + 1 < attempts && !error.isPermanent {
                cuts += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(1 << min(cuts, 6)))
                continue
            }
            guard received == range.count else {
                throw HTTPError(url: url, code: -1, message: "received \(received) of \(range.count) bytes")
            }
        }
    }
}
