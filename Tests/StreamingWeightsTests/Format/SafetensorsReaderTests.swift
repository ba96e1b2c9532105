import Foundation
import StreamingWeights
import Testing

/// Raw safetensors bytes with a header written by hand, for feeding the reader bad files.
func safetensorsBytes(header: String, dataCount: Int, declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    let length = declaredLength ?? UInt64(json.count)
    return withUnsafeBytes(of: length.littleEndian) { Array($0) } + json + [UInt8](repeating: 0xab, count: dataCount)
}

@Suite("Reading safetensors files, and refusing bad ones")
struct SafetensorsReaderTests {
    private func reason(of bytes: [UInt8]) -> SafetensorsError.Reason? {
        do {
            _ = try SafetensorsFile(storage: ByteStorage(bytes), source: "bad.safetensors")
            return nil
        } catch let error as SafetensorsError {
            #expect(error.source == "bad.safetensors")
            return error.reason
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("An empty file is rejected")
    func emptyFile() {
        #expect(reason(of: []) == .tooSmall(byteCount: 0))
    }

    @Test("A header length past the end of the file is rejected before anything is allocated")
    func headerLengthPastEnd() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(
            reason(of: safetensorsBytes(header: header, dataCount: 4, declaredLength: 200))
                == .headerLengthExceedsFile(declared: 200, available: 58)
        )
        #expect(
            reason(of: safetensorsBytes(header: "{}", dataCount: 0, declaredLength: 1 << 63))
                == .headerLengthExceedsFile(declared: 1 << 63, available: 2)
        )
        #expect(
            reason(of: safetensorsBytes(header: "", dataCount: 0, declaredLength: UInt64.max))
                == .headerLengthExceedsFile(declared: .max, available: 0))
    }

    @Test("A 1 GB header declared in a 100-byte file is rejected")
    func gigabyteHeaderInTinyFile() {
        let bytes = Array(
            safetensorsBytes(header: String(repeating: " ", count: 92), dataCount: 0, declaredLength: 1 << 30).prefix(
                100))
        #expect(bytes.count == 100)
        #expect(reason(of: bytes) == .headerLengthExceedsFile(declared: 1 << 30, available: 92))
    }

    @Test("A header over the 100 MB limit is rejected even when the file is that large")
    func headerOverLimit() throws {
        // A sparse file: 101 MB long, almost none of it on disk.
        let directory = try TemporaryDirectory()
        let path = directory.file("huge-header.safetensors")
        let declared = UInt64(SafetensorsFile.maximumHeaderLength + 1)
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(safetensorsBytes(header: "{", dataCount: 0, declaredLength: declared)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: declared + 8)
        try handle.close()
        #expect {
            _ = try SafetensorsFile(contentsOfFile: path)
        } throws: { error in
            (error as? SafetensorsError)?.reason
                == .headerTooLarge(declared: declared, limit: SafetensorsFile.maximumHeaderLength)
        }
    }

    @Test(
        "A header that is not a JSON object is rejected",
        arguments: [
            #"{"a": "#, #"[1, 2]"#, "not json", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, " {}",
        ])
    func invalidJSON(header: String) {
        guard case .invalidHeaderJSON = reason(of: safetensorsBytes(header: header, dataCount: 0)) else {
            Issue.record("accepted or misreported: \(header)")
            return
        }
    }

    @Test("Offsets outside the data section are rejected")
    func offsetsOutOfBounds() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(
            reason(of: safetensorsBytes(header: header, dataCount: 8))
                == .offsetsOutOfBounds(tensor: "a", begin: 4, end: 12, dataSize: 8))
        let backwards = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        #expect(
            reason(of: safetensorsBytes(header: backwards, dataCount: 8))
                == .offsetsOutOfBounds(tensor: "a", begin: 8, end: 4, dataSize: 8))
        let negative = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#
        #expect(
            reason(of: safetensorsBytes(header: negative, dataCount: 8))
                == .offsetsOutOfBounds(tensor: "a", begin: -4, end: 0, dataSize: 8))
    }

    @Test("Overlapping tensors are rejected")
    func overlapping() {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(
            reason(of: safetensorsBytes(header: header, dataCount: 12)) == .overlappingTensors(first: "a", second: "b"))
    }

    @Test("Unclaimed bytes between, before or after tensors are rejected")
    func gaps() {
        let between =
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(
            reason(of: safetensorsBytes(header: between, dataCount: 12))
                == .gapBetweenTensors(before: "a", after: "b", gap: 4))
        let before = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(
            reason(of: safetensorsBytes(header: before, dataCount: 8))
                == .gapBetweenTensors(before: nil, after: "a", gap: 4))
        let after = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(reason(of: safetensorsBytes(header: after, dataCount: 9)) == .trailingBytes(count: 5))
    }

    @Test("Offsets that disagree with dtype and shape are rejected")
    func byteCountMismatch() {
        let header = #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}}"#
        #expect(
            reason(of: safetensorsBytes(header: header, dataCount: 24))
                == .byteCountMismatch(tensor: "a", dtype: .float16, shape: [2, 3], expected: 12, actual: 24)
        )
        let overflowing = #"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#
        #expect(
            reason(of: safetensorsBytes(header: overflowing, dataCount: 4))
                == .byteCountMismatch(tensor: "a", dtype: .float32, shape: [1 << 62], expected: .max, actual: 4)
        )
    }

    @Test("An unknown dtype is rejected, naming it")
    func unknownDType() {
        let header = #"{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#
        let reason = reason(of: safetensorsBytes(header: header, dataCount: 1))
        #expect(reason == .unknownDType(tensor: "a", dtype: "F8_E4M3"))
        let message = SafetensorsError(source: "x.safetensors", reason: .unknownDType(tensor: "a", dtype: "F8_E4M3"))
            .description
        #expect(
            message
                == "x.safetensors: tensor 'a' has unknown dtype 'F8_E4M3' (known: BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)"
        )
    }

    @Test("A tensor name written twice is rejected")
    func duplicateName() {
        let header =
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(reason(of: safetensorsBytes(header: header, dataCount: 8)) == .duplicateTensorName("a"))
    }

    @Test(
        "Malformed entries are rejected, naming the entry",
        arguments: [
            (#"{"a":[]}"#, "a"),
            (#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, "a"),
            (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "a"),
            (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "a"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, "a"),
            (#"{"__metadata__":{"k":1}}"#, "__metadata__"),
            (#"{"__metadata__":"text"}"#, "__metadata__"),
        ])
    func malformedEntries(header: String, key: String) {
        guard case .invalidEntry(let named, _) = reason(of: safetensorsBytes(header: header, dataCount: 4)) else {
            Issue.record("accepted or misreported: \(header)")
            return
        }
        #expect(named == key)
    }

    @Test("Opening a missing file or a directory is an error naming the path")
    func fileErrors() {
        #expect {
            _ = try SafetensorsFile(contentsOfFile: "/nonexistent/layer_0.safetensors")
        } throws: { error in
            "\(error)" == "cannot open '/nonexistent/layer_0.safetensors': No such file or directory"
        }
        #expect {
            _ = try SafetensorsFile(contentsOfFile: "/tmp")
        } throws: { error in
            "\(error)".contains("'/tmp'")
        }
    }

    @Test("Files written by Python's safetensors read with every dtype, value and the metadata")
    func readsPythonFiles() throws {
        for memoryMapped in [true, false] {
            let file = try SafetensorsFile(
                contentsOfFile: Repository.path("Fixtures/safetensors/python-all-dtypes.safetensors"),
                memoryMapped: memoryMapped)
            #expect(file.metadata == ["writer": "python safetensors"])
            #expect(
                Set(file.tensorNames) == [
                    "f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "u16", "u32", "u64", "bool", "scalar",
                    "empty",
                ])
            let floats = (0..<6).map { Float($0) * 0.5 - 3 }
            for (name, dtype) in [("f64", DType.float64), ("f32", .float32), ("f16", .float16), ("bf16", .bfloat16)] {
                let tensor = try #require(file[name])
                #expect(tensor.dtype == dtype && tensor.shape == [2, 3])
                #expect(try tensor.floatValues() == floats, "\(name)")
            }
            for (name, dtype) in [("i64", DType.int64), ("i32", .int32), ("i16", .int16), ("i8", .int8)] {
                let tensor = try #require(file[name])
                #expect(tensor.dtype == dtype)
                #expect(try tensor.integerValues() == [-3, -2, -1, 0, 1, 2], "\(name)")
            }
            for (name, dtype) in [("u32", DType.uint32), ("u16", .uint16), ("u8", .uint8)] {
                #expect(try file[name]?.integerValues() == [0, 1, 2, 3, 4, 5], "\(name) \(dtype)")
            }
            #expect(
                file["u64"]?.bytes == (0..<6).flatMap { withUnsafeBytes(of: UInt64($0).littleEndian) { Array($0) } })
            #expect(file["bool"]?.bytes == [0, 1, 0, 1, 0, 1])
            #expect(try file["scalar"]?.floatValues() == [2.5])
            #expect(file["scalar"]?.shape == [])
            #expect(file["empty"]?.shape == [0, 3] && file["empty"]?.byteCount == 0)
            #expect(try file.tensor(named: "f32") == file["f32"])
            #expect(throws: SafetensorsError.self) { _ = try file.tensor(named: "missing") }
        }
    }

    @Test("A Python file without __metadata__ reads with empty metadata")
    func readsPythonFileWithoutMetadata() throws {
        let file = try SafetensorsFile(
            contentsOfFile: Repository.path("Fixtures/safetensors/python-no-metadata.safetensors")
        )
        #expect(file.metadata.isEmpty)
        #expect(file.tensorNames == ["only"])
        #expect(try file.tensor(named: "only").floatValues() == (0..<6).map { Float($0) * 0.5 - 3 })
    }

    @Test("The bert-tiny fixture holds exactly the tensors its config.json implies")
    func bertTinyFixture() throws {
        let configText = try String(contentsOfFile: Repository.path("Fixtures/bert-tiny/config.json"), encoding: .utf8)
        let config = try #require(try JSONParser.parse(configText).objectValue)
        func number(_ key: String) throws -> Int { Int(try #require(config[key]?.integerValue, "\(key)")) }
        let hidden = try number("hidden_size")
        let intermediate = try number("intermediate_size")
        var expected: [String: Shape] = [
            "embeddings.word_embeddings.weight": [try number("vocab_size"), hidden],
            "embeddings.position_embeddings.weight": [try number("max_position_embeddings"), hidden],
            "embeddings.token_type_embeddings.weight": [try number("type_vocab_size"), hidden],
            "embeddings.LayerNorm.weight": [hidden], "embeddings.LayerNorm.bias": [hidden],
            "pooler.dense.weight": [hidden, hidden], "pooler.dense.bias": [hidden],
        ]
        for layer in 0..<(try number("num_hidden_layers")) {
            let prefix = "encoder.layer.\(layer)."
            for projection in [
                "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            ] {
                expected[prefix + projection + ".weight"] = [hidden, hidden]
                expected[prefix + projection + ".bias"] = [hidden]
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                expected[prefix + norm + ".weight"] = [hidden]
                expected[prefix + norm + ".bias"] = [hidden]
            }
            expected[prefix + "intermediate.dense.weight"] = [intermediate, hidden]
            expected[prefix + "intermediate.dense.bias"] = [intermediate]
            expected[prefix + "output.dense.weight"] = [hidden, intermediate]
            expected[prefix + "output.dense.bias"] = [hidden]
        }
        let file = try SafetensorsFile(contentsOfFile: Repository.path("Fixtures/bert-tiny/model.safetensors"))
        #expect(Set(file.tensorNames) == Set(expected.keys))
        for (name, shape) in expected {
            #expect(file[name]?.shape == shape, "\(name)")
            #expect(file[name]?.dtype == .float32, "\(name)")
        }
        #expect(try number("num_attention_heads") == 2 && hidden == 128 && expected.count == 39)
    }
}
