import Foundation
import StreamingWeights
import Testing

@Suite("Signatures identical to botocore's")
struct SigV4BotocoreTests {
    /// Random S3 requests: keys and queries with spaces, +, =, ~, %, unicode; bodies; session tokens.
    static func requests(count: Int) -> [[String: Any]] {
        var generator = SplitMix(seed: 20_261_129)
        let alphabet = Array("abcXYZ019 +=~%&?!'()*,;:@$éüሴ😀-_./")
        func text(_ length: ClosedRange<Int>) -> String {
            String(
                (0..<Int.random(in: length, using: &generator)).map { _ in
                    alphabet.randomElement(using: &generator) ?? "a"
                })
        }
        return (0..<count).map { index in
            var request: [String: Any] = [
                "method": ["GET", "PUT", "HEAD", "DELETE", "POST"][index % 5],
                "endpoint": "http://127.0.0.1:9000",
                "bucket": "chunks",
                "key": "models/" + text(1...12) + "/" + text(1...12),
                "query": (0..<Int.random(in: 0...3, using: &generator)).map { _ in [text(1...6), text(0...6)] },
                "headers": [["x-amz-meta-note", text(0...10)], ["Range", "bytes=0-\(index)"]],
                "body_hex": (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                    String(format: "%02x", Int.random(in: 0...255, using: &generator))
                }.joined(),
                "access_key": "AKID" + String(index),
                "secret_key": "secret/" + text(8...20),
                "region": ["us-east-1", "eu-west-3"][index % 2],
                "amz_date": "20261129T0\(index % 10)3000Z",
            ]
            if index % 3 == 0 { request["session_token"] = "token+/=" + text(5...30) }
            return request
        }
    }

    @Test("200 random S3 requests sign to the same Authorization header as botocore")
    func randomRequests() throws {
        let requests = Self.requests(count: 200)
        let input = try JSONSerialization.data(withJSONObject: requests)
        let result = try ProcessRunner.run(
            Repository.python, ["-m", "streaming_weights_testing.sigv4_reference"], input: input)
        #expect(result.status == 0, "\(result.standardError)")
        let references = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [[String: Any]])
        #expect(references.count == requests.count)
        for (request, reference) in zip(requests, references) {
            let bytes = stride(from: 0, to: (request["body_hex"] as? String ?? "").count, by: 2).map {
                offset -> UInt8 in
                let hex = Array(request["body_hex"] as? String ?? "")
                return UInt8(String(hex[offset..<offset + 2]), radix: 16) ?? 0
            }
            let stamp = request["amz_date"] as? String ?? ""
            var components = DateComponents()
            components.timeZone = TimeZone(identifier: "UTC")
            components.year = 2026
            components.month = 11
            components.day = 29
            components.hour = Int(stamp.dropFirst(9).prefix(2))
            components.minute = Int(stamp.dropFirst(11).prefix(2))
            let date = try #require(Calendar(identifier: .gregorian).date(from: components))
            let credentials = AWSCredentials(
                accessKeyID: request["access_key"] as? String ?? "",
                secretAccessKey: request["secret_key"] as? String ?? "",
                sessionToken: request["session_token"] as? String)
            let signer = SigV4Signer(credentials: credentials, region: request["region"] as? String ?? "")
            let query = (request["query"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            let headers =
                [("Host", "127.0.0.1:9000")] + (request["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            let signature = signer.sign(
                method: request["method"] as? String ?? "", path: "/chunks/" + (request["key"] as? String ?? ""),
                query: query,
                headers: headers, payloadHash: Digest.sha256(bytes).hexString, date: date)
            #expect(
                signature.authorization == reference["authorization"] as? String, "\(request["key"] ?? "") \(query)")
        }
    }
}

/// A small seeded generator, so the random requests are the same every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
