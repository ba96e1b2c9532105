/// A read-only view of a ZIP archive's stored (uncompressed) entries, as PyTorch writes them.
///
/// Only what `torch.save` produces is accepted: entries stored without compression (method 0),
/// with ZIP64 sizes and offsets when the archive is large. The central directory is read from
/// the end of the file; every offset is checked against the file's size before it is used.
/// Entry data are views into the archive's bytes, not copies.
struct ZipArchive {
    /// An entry's name and where its data lie in the archive.
    struct Entry {
        let name: String
        let dataRange: Range<Int>
    }

    let storage: ByteStorage
    let source: String
    private(set) var entries: [String: Entry] = [:]

    init(storage: ByteStorage, source: String) throws {
        self.storage = storage
        self.source = source
        let bytes = storage
        func fail(_ problem: String) -> PyTorchCheckpointError { .malformedZip(file: source, problem: problem) }
        /// The little-endian integer of type `T` at `offset`, checked against the archive's size.
        func read<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, at offset: Int) throws -> Int {
            // Offsets come from the archive (up to 2^63 - 1): compared without adding to them.
            guard offset >= 0, offset <= bytes.count - MemoryLayout<T>.size else {
                throw fail("a record at byte \(offset) runs past the end")
            }
            let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
            guard let result = Int(exactly: value) else {
                throw fail("a 64-bit field at byte \(offset) is out of range")
            }
            return result
        }
        func u16(_ offset: Int) throws -> Int { try read(UInt16.self, at: offset) }
        func u32(_ offset: Int) throws -> Int { try read(UInt32.self, at: offset) }
        func u64(_ offset: Int) throws -> Int { try read(UInt64.self, at: offset) }

        // The end of central directory record: 22 bytes plus a comment of up to 65535.
        guard bytes.count >= 22 else { throw fail("it is \(bytes.count) bytes, too small for a ZIP archive") }
        var end = -1
        var candidate = bytes.count - 22
        while candidate >= max(0, bytes.count - 22 - 65535) {
            if try u32(candidate) == 0x0605_4b50 {
                end = candidate
                break
            }
            candidate -= 1
        }
        guard end >= 0 else { throw fail("no end of central directory record: not a ZIP archive") }
        var entryCount = try u16(end + 10)
        var directorySize = try u32(end + 12)
        var directoryOffset = try u32(end + 16)
        if entryCount == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            let locator = end - 20
            guard locator >= 0, try u32(locator) == 0x0706_4b50 else {
                throw fail("ZIP64 fields without a ZIP64 locator")
            }
            let end64 = try u64(locator + 8)
            guard try u32(end64) == 0x0606_4b50 else {
                throw fail("the ZIP64 end record is not where its locator says")
            }
            entryCount = try u64(end64 + 32)
            directorySize = try u64(end64 + 40)
            directoryOffset = try u64(end64 + 48)
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw fail("the central directory lies past the end")
        }

        var offset = directoryOffset
        for _ in 0..<entryCount {
            guard try u32(offset) == 0x0201_4b50 else {
                throw fail("a central directory entry at byte \(offset) is damaged")
            }
            let method = try u16(offset + 10)
            var compressedSize = try u32(offset + 20)
            var size = try u32(offset + 24)
            let nameLength = try u16(offset + 28)
            let extraLength = try u16(offset + 30)
            let commentLength = try u16(offset + 32)
            var localOffset = try u32(offset + 42)
            guard offset + 46 + nameLength <= bytes.count else { throw fail("an entry name runs past the end") }
            let name = bytes.withUnsafeBytes(in: (offset + 46)..<(offset + 46 + nameLength)) {
                String(decoding: $0, as: UTF8.self)
            }
            // ZIP64 extra field: the 64-bit values of the fields that hold 0xffffffff, in order.
            var extra = offset + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = try u16(extra)
                let length = try u16(extra + 2)
                if tag == 0x0001 {
                    var field = extra + 4
                    if size == 0xffff_ffff {
                        size = try u64(field)
                        field += 8
                    }
                    if compressedSize == 0xffff_ffff {
                        compressedSize = try u64(field)
                        field += 8
                    }
                    if localOffset == 0xffff_ffff { localOffset = try u64(field) }
                }
                extra += 4 + length
            }
            guard method == 0, compressedSize == size else {
                throw fail(
                    "entry '\(name)' is compressed (method \(method)); PyTorch checkpoints store entries uncompressed")
            }
            guard try u32(localOffset) == 0x0403_4b50 else {
                throw fail("entry '\(name)' has no local header at byte \(localOffset)")
            }
            let dataStart = localOffset + 30 + (try u16(localOffset + 26)) + (try u16(localOffset + 28))
            guard dataStart <= bytes.count, size <= bytes.count - dataStart else {
                throw fail("entry '\(name)' runs past the end of the archive")
            }
            entries[name] = Entry(name: name, dataRange: dataStart..<(dataStart + size))
            offset += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The entry whose name ends with `/suffix` (PyTorch prefixes every name with an archive
    /// folder whose name varies), or `nil`.
    func entry(endingWith suffix: String) -> Entry? {
        entries.values.first { $0.name.hasSuffix("/" + suffix) && !$0.name.dropLast(suffix.count + 1).contains("/") }
    }
}
