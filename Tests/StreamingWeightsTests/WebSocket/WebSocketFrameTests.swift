import Foundation
import StreamingWeights
import Testing

@Suite("RFC 6455 frames, messages and handshakes")
struct WebSocketFrameTests {
    @Test("The accept key is RFC 6455's example")
    func acceptKey() {
        #expect(WebSocketHandshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("The framed 'Hello' examples of section 5.7 encode and decode, masked and unmasked, split anywhere")
    func helloExamples() throws {
        let unmasked: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let hello = WebSocketFrame(opcode: .text, payload: Array("Hello".utf8))
        #expect(hello.encoded() == unmasked)
        #expect(hello.encoded(maskingKey: (0x37, 0xfa, 0x21, 0x3d)) == masked)
        for (bytes, expectsMasked) in [(unmasked, false), (masked, true)] {
            for split in 0...bytes.count {
                var decoder = WebSocketFrameDecoder(expectsMasked: expectsMasked)
                let frames = try decoder.decode(bytes[..<split]) + decoder.decode(bytes[split...])
                #expect(frames == [hello], "split at \(split)")
            }
        }
    }

    @Test("16- and 64-bit lengths round-trip, byte by byte")
    func extendedLengths() throws {
        for size in [125, 126, 65535, 65536, 200_000] {
            let frame = WebSocketFrame(opcode: .binary, payload: (0..<size).map { UInt8(truncatingIfNeeded: $0) })
            var decoder = WebSocketFrameDecoder(expectsMasked: true)
            var frames: [WebSocketFrame] = []
            let bytes = frame.encoded(maskingKey: (1, 2, 3, 4))
            for start in stride(from: 0, to: bytes.count, by: 4099) {
                frames += try decoder.decode(bytes[start..<min(start + 4099, bytes.count)])
            }
            #expect(frames == [frame], "\(size)")
        }
    }

    @Test(
        "Protocol violations are refused with the RFC's close code",
        arguments: [
            ([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f] as [UInt8], true, UInt16(1002)),  // unmasked client frame
            ([0x81, 0x85, 0, 0, 0, 0, 0x48, 0x65, 0x6c, 0x6c, 0x6f], false, 1002),  // masked server frame
            ([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], true, 1002),  // 2^63 length
            ([0x09, 0x80, 0, 0, 0, 0], true, 1002),  // fragmented ping
            ([0x89, 0xFE, 0x00, 0x7E], true, 1002),  // ping over 125 bytes
            ([0xC1, 0x80, 0, 0, 0, 0], true, 1002),  // reserved bit
            ([0x83, 0x80, 0, 0, 0, 0], true, 1002),  // reserved opcode
            ([0x82, 0xFE, 0x00, 0x05], true, 1002),  // length not in its shortest form
            ([0x82, 0xFF, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF], true, 1009),  // 2 GB frame, over the limit
        ])
    func violations(bytes: [UInt8], expectsMasked: Bool, code: UInt16) {
        var decoder = WebSocketFrameDecoder(expectsMasked: expectsMasked, maximumFrameSize: 1 << 20)
        #expect {
            _ = try decoder.decode(bytes)
        } throws: { error in
            (error as? WebSocketError)?.closeCode == code
        }
    }

    @Test(
        "Diverted continuation payloads reach the caller byte for byte, the frames around them unchanged, split anywhere"
    )
    func divertedPayloads() throws {
        let frames = [
            WebSocketFrame(fin: false, opcode: .binary, payload: Array("head".utf8)),
            WebSocketFrame(opcode: .ping, payload: [1, 2]),
            WebSocketFrame(fin: false, opcode: .continuation, payload: (0..<1000).map { UInt8($0 % 251) }),
            WebSocketFrame(fin: false, opcode: .continuation),
            WebSocketFrame(fin: true, opcode: .continuation, payload: (0..<70000).map { UInt8($0 % 241) }),
            WebSocketFrame(opcode: .text, payload: Array("next".utf8)),
        ]
        let bytes = frames.flatMap { $0.encoded() }
        // What the caller sees: payloads of continuations of one byte or more are diverted.
        let expected = frames.map { $0.opcode == .continuation ? WebSocketFrame(fin: $0.fin, opcode: $0.opcode) : $0 }
        let divertedBytes = frames[2].payload + frames[4].payload
        for piece in [1, 3, 7, 100, 4096, bytes.count] {
            var decoder = WebSocketFrameDecoder(expectsMasked: false)
            var decoded: [WebSocketFrame] = []
            var diverted: [UInt8] = []
            var start = 0
            while start < bytes.count {
                let input = Array(bytes[start..<min(start + piece, bytes.count)])
                var used = 0
                while used < input.count {
                    if let remaining = decoder.divertedRemaining {
                        // The caller takes at most what is left of the frame, in two steps.
                        let count = min(remaining, input.count - used, max(1, remaining / 2))
                        diverted += input[used..<(used + count)]
                        used += count
                        if let frame = decoder.deliverDiverted(count) { decoded.append(frame) }
                        continue
                    }
                    let (frames, consumed) = try input[used...].withUnsafeBytes {
                        try decoder.decode($0, divertingContinuations: true)
                    }
                    decoded += frames
                    used += consumed
                    #expect(frames.count <= 2, "stops after each data frame")
                }
                start += piece
            }
            #expect(decoded == expected, "pieces of \(piece)")
            #expect(diverted == divertedBytes, "pieces of \(piece)")
        }
    }

    @Test("Frames before a violation in the same bytes are returned first; the violation comes next")
    func framesBeforeViolation() throws {
        var decoder = WebSocketFrameDecoder(expectsMasked: false)
        let frames = try decoder.decode([0x81, 0x02, 0x68, 0x69, 0xC1, 0x00])
        #expect(frames == [WebSocketFrame(opcode: .text, payload: [0x68, 0x69])])
        #expect(decoder.violation == .reservedBitsSet)
        #expect(throws: WebSocketError.reservedBitsSet) { _ = try decoder.decode([0x81, 0x00]) }
    }

    @Test("Fragments reassemble, control frames may interleave, and invalid UTF-8 split across fragments fails fast")
    func fragmentation() throws {
        var assembler = WebSocketMessageAssembler()
        #expect(try assembler.receive(WebSocketFrame(fin: false, opcode: .text, payload: [0x48, 0xC3])) == nil)
        #expect(try assembler.receive(WebSocketFrame(opcode: .ping, payload: [1])) == .ping([1]))
        #expect(try assembler.receive(WebSocketFrame(fin: true, opcode: .continuation, payload: [0xA9])) == .text("Hé"))
        var broken = WebSocketMessageAssembler()
        _ = try broken.receive(WebSocketFrame(fin: false, opcode: .text, payload: [0xCE, 0xBA, 0xE1]))
        // 0xE1 0x28 can never be valid: refused at this fragment, before the message ends.
        #expect(throws: WebSocketError.invalidUTF8) {
            _ = try broken.receive(WebSocketFrame(fin: false, opcode: .continuation, payload: [0x28]))
        }
        var truncated = WebSocketMessageAssembler()
        #expect(throws: WebSocketError.invalidUTF8) {
            _ = try truncated.receive(WebSocketFrame(opcode: .text, payload: [0xE2, 0x82]))
        }
        var orphan = WebSocketMessageAssembler()
        #expect(throws: WebSocketError.self) {
            _ = try orphan.receive(WebSocketFrame(opcode: .continuation, payload: [1]))
        }
        var nested = WebSocketMessageAssembler()
        _ = try nested.receive(WebSocketFrame(fin: false, opcode: .binary, payload: [1]))
        #expect(throws: WebSocketError.self) { _ = try nested.receive(WebSocketFrame(opcode: .text, payload: [2])) }
        var limited = WebSocketMessageAssembler(maximumMessageSize: 4)
        _ = try limited.receive(WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2, 3]))
        #expect {
            _ = try limited.receive(WebSocketFrame(opcode: .continuation, payload: [4, 5]))
        } throws: { ($0 as? WebSocketError)?.closeCode == 1009 }
    }

    @Test(
        "Close frames: codes checked, reasons UTF-8",
        arguments: [
            ([] as [UInt8], true), ([0x03, 0xE8], true), ([0x03, 0xE8] + Array("bye".utf8), true),
            ([0x0F, 0xA0], true),
            ([0x03], false), ([0x03, 0xED], false), ([0x03, 0xEE], false), ([0x00, 0x00], false),
            ([0x13, 0x88], false),
            ([0x03, 0xE8, 0xFF], false),
        ])
    func closeFrames(payload: [UInt8], valid: Bool) {
        var assembler = WebSocketMessageAssembler()
        if valid {
            #expect(throws: Never.self) { _ = try assembler.receive(WebSocketFrame(opcode: .close, payload: payload)) }
        } else {
            #expect(throws: WebSocketError.self) {
                _ = try assembler.receive(WebSocketFrame(opcode: .close, payload: payload))
            }
        }
    }

    @Test("An upgrade request parses, and bad ones are refused with their HTTP status")
    func handshake() throws {
        let request =
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, streaming-weights.v1\r\nSec-WebSocket-Version: 13\r\n\r\nextra"
        let (parsed, length) = try #require(try WebSocketHandshake.parseRequest(Array(request.utf8)))
        #expect(length == request.utf8.count - 5)
        #expect(
            parsed.path == "/chat" && parsed.origin == "http://example.com"
                && parsed.protocols == ["chat", "streaming-weights.v1"])
        let response = String(
            decoding: WebSocketHandshake.acceptResponse(for: parsed, subprotocol: "streaming-weights.v1"), as: UTF8.self
        )
        #expect(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(try WebSocketHandshake.parseRequest(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)) == nil)

        func status(_ text: String) -> Int? {
            do {
                _ = try WebSocketHandshake.parseRequest(Array(text.utf8))
                return nil
            } catch {
                return error.status
            }
        }
        let base = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        #expect(status(base + "Sec-WebSocket-Version: 13\r\n\r\n") == 400)  // no key
        #expect(status(base + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n") == 426)
        #expect(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 1 << 20)) == 431)  // a 1 MB header
        #expect(status(base + String(repeating: "X-A: b\r\n", count: 200) + "\r\n") == 431)
        #expect(status("POST / HTTP/1.1\r\n\r\n") == 400)
    }
}
