import Foundation
import StreamingWeights
import Testing

@Suite("Writing safetensors files")
struct SafetensorsWriterTests {
    /// One tensor per dtype with the values the Python fixture uses: i * 0.5 - 3 for floats,
    /// i - 3 for signed integers, i for unsigned, odd i for bool; plus a scalar and an empty tensor.
    static func allDTypes() throws -> [(String, Tensor, [Double])] {
        let shape: Shape = [2, 3]
        let floats = (0..<6).map { Double($0) * 0.5 - 3 }
        let signed = (0..<6).map { Double($0) - 3 }
        let unsigned = (0..<6).map(Double.init)
        func integers<T: FixedWidthInteger>(_ type: T.Type, _ values: [Double]) -> [UInt8] {
            values.flatMap { withUnsafeBytes(of: T(Int64($0)).littleEndian) { Array($0) } }
        }
        let f32 = Tensor(float32: floats.map(Float.init), shape: shape)
        return [
            (
                "f64",
                try Tensor(
                    dtype: .float64, shape: shape,
                    bytes: floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }), floats
            ),
            ("f32", f32, floats),
            ("f16", try f32.converted(to: .float16), floats),
            ("bf16", try f32.converted(to: .bfloat16), floats),
            ("i64", try Tensor(dtype: .int64, shape: shape, bytes: integers(Int64.self, signed)), signed),
            ("i32", try Tensor(dtype: .int32, shape: shape, bytes: integers(Int32.self, signed)), signed),
            ("i16", try Tensor(dtype: .int16, shape: shape, bytes: integers(Int16.self, signed)), signed),
            ("i8", try Tensor(dtype: .int8, shape: shape, bytes: integers(Int8.self, signed)), signed),
            ("u64", try Tensor(dtype: .uint64, shape: shape, bytes: integers(UInt64.self, unsigned)), unsigned),
            ("u32", try Tensor(dtype: .uint32, shape: shape, bytes: integers(UInt32.self, unsigned)), unsigned),
            ("u16", try Tensor(dtype: .uint16, shape: shape, bytes: integers(UInt16.self, unsigned)), unsigned),
            ("u8", try Tensor(dtype: .uint8, shape: shape, bytes: integers(UInt8.self, unsigned)), unsigned),
            ("bool", try Tensor(dtype: .bool, shape: shape, bytes: [0, 1, 0, 1, 0, 1]), [0, 1, 0, 1, 0, 1]),
            ("scalar", Tensor(float32: [2.5], shape: []), [2.5]),
            ("empty", Tensor(float32: [], shape: [0, 3]), []),
        ]
    }

    @Test("Every dtype survives a round trip, with metadata")
    func roundTrip() throws {
        var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "ünïcödé \"quoted\"\n"])
        let tensors = try Self.allDTypes()
        for (name, tensor, _) in tensors {
            try writer.add(tensor, named: name)
        }
        let bytes = writer.serialized()
        #expect(bytes.count == writer.byteCount)
        let file = try SafetensorsFile(storage: ByteStorage(bytes))
        #expect(file.metadata == writer.metadata)
        #expect(file.tensorNames.count == tensors.count)
        for (name, tensor, _) in tensors {
            #expect(file[name] == tensor, "\(name)")
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        #expect(headerLength % 8 == 0)
    }

    @Test("The bytes are the same as Python's safetensors writes, whatever the order tensors were added in")
    func sameBytesAsPython() throws {
        let python = try Data(
            contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/safetensors/python-all-dtypes.safetensors")))
        for order in [try Self.allDTypes(), try Self.allDTypes().reversed()] {
            var writer = SafetensorsWriter(metadata: ["writer": "python safetensors"])
            for (name, tensor, _) in order {
                try writer.add(tensor, named: name)
            }
            #expect(writer.serialized() == Array(python))
        }
    }

    @Test("Python's safetensors opens a file written here and finds the same tensors and metadata")
    func pythonReadsOurFiles() throws {
        let directory = try TemporaryDirectory()
        let metadata = ["format": "pt", "model": "bert-tiny", "note": "ünïcödé \"quoted\""]
        var writer = SafetensorsWriter(metadata: metadata)
        var spec: [String: Any] = [:]
        for (name, tensor, values) in try Self.allDTypes() {
            try writer.add(tensor, named: name)
            spec[name] =
                ["dtype": tensor.dtype.rawValue, "shape": tensor.shape.dimensions, "values": values] as [String: Any]
        }
        let path = directory.file("written-here.safetensors")
        try writer.write(toFile: path)
        let specPath = directory.file("spec.json")
        try JSONSerialization.data(withJSONObject: ["metadata": metadata, "tensors": spec]).write(
            to: URL(fileURLWithPath: specPath))
        let result = try ProcessRunner.run(
            Repository.python, ["-m", "streaming_weights_testing.check_safetensors", path, specPath])
        #expect(
            result.status == 0,
            "Python's safetensors disagrees (run scripts/bootstrap if .venv is missing): \(result.outputText) \(result.standardError)"
        )
    }

    @Test("A name added twice, or the reserved metadata name, is refused")
    func refusedNames() throws {
        var writer = SafetensorsWriter()
        try writer.add(Tensor(float32: [1], shape: [1]), named: "a")
        #expect(throws: SafetensorsError(source: "<writer>", reason: .duplicateTensorName("a"))) {
            try writer.add(Tensor(float32: [2], shape: [1]), named: "a")
        }
        #expect(throws: SafetensorsError.self) {
            try writer.add(Tensor(float32: [2], shape: [1]), named: "__metadata__")
        }
    }

    @Test("A file is written whole or not at all")
    func atomicFileWrite() throws {
        let directory = try TemporaryDirectory()
        var writer = SafetensorsWriter()
        try writer.add(Tensor(float32: Array(repeating: 1, count: 1000), shape: [1000]), named: "w")
        let path = directory.file("layer_0.safetensors")
        try writer.write(toFile: path)
        #expect(try SafetensorsFile(contentsOfFile: path)["w"]?.floatValues() == Array(repeating: 1, count: 1000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["layer_0.safetensors"])
        #expect {
            try writer.write(toFile: directory.file("missing-directory/layer_1.safetensors"))
        } throws: { error in
            "\(error)".contains("missing-directory/layer_1.safetensors")
                && "\(error)".contains("No such file or directory")
        }
    }
}
