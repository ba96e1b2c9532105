import StreamingWeights
import Testing

@Suite("Shapes and tensors")
struct TensorTests {
    @Test("A shape counts its elements; a scalar has one")
    func elementCount() {
        #expect(Shape([2, 3, 4]).elementCount == 24)
        #expect(Shape([]).elementCount == 1)
        #expect(Shape([0, 3]).elementCount == 0)
        #expect(Shape([30522, 128]).description == "[30522, 128]")
    }

    @Test("A negative dimension or an overflowing element count is an error")
    func invalidShapes() {
        #expect(throws: TensorError.negativeDimension([2, -1])) { _ = try Shape(validating: [2, -1]) }
        #expect(throws: TensorError.elementCountOverflow([1 << 40, 1 << 40])) {
            _ = try Shape(validating: [1 << 40, 1 << 40])
        }
    }

    @Test("A tensor's bytes must match its dtype and shape")
    func byteCountChecked() {
        #expect(throws: TensorError.byteCountMismatch(dtype: .float32, shape: [2, 3], expected: 24, actual: 20)) {
            _ = try Tensor(dtype: .float32, shape: [2, 3], bytes: [UInt8](repeating: 0, count: 20))
        }
    }

    @Test("Integer elements are read little-endian")
    func integerValues() throws {
        let bytes: [UInt8] = [
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]
        #expect(try Tensor(dtype: .int64, shape: [2], bytes: bytes).integerValues() == [1, -2])
        #expect(try Tensor(dtype: .int16, shape: [8], bytes: bytes).integerValues() == [1, 0, 0, 0, -2, -1, -1, -1])
        #expect(try Tensor(dtype: .uint8, shape: [2], bytes: [7, 255]).integerValues() == [7, 255])
    }

    @Test("Storage that keeps a slice of a received message reads the slice's bytes, at any alignment")
    func keptSlice() throws {
        let values: [Float] = [1.5, -2, 3.25]
        var message: [UInt8] = [0xAA, 0xBB, 0xCC]
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { message += $0 } }
        let storage = ByteStorage(keeping: message[3...])
        #expect(storage.count == 12)
        let tensor = try Tensor(dtype: .float32, shape: [3], storage: storage, byteRange: 0..<12)
        #expect(try tensor.floatValues() == values)
        #expect(storage.withUnsafeBytes(in: 4..<8) { Array($0) } == Array(message[7..<11]))
    }

    @Test("Tensors are equal when dtype, shape and bytes are")
    func equality() throws {
        let a = Tensor(float32: [1, 2, 3, 4], shape: [2, 2])
        #expect(a == Tensor(float32: [1, 2, 3, 4], shape: [2, 2]))
        #expect(a != Tensor(float32: [1, 2, 3, 4], shape: [4]))
        #expect(a != Tensor(float32: [1, 2, 3, 5], shape: [2, 2]))
    }
}
