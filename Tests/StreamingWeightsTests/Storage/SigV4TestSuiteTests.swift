import Foundation
import StreamingWeights
import Testing

/// The AWS Signature Version 4 test suite (scripts/fetch-sigv4-suite puts it in .build-sigv4).
enum SigV4TestSuite {
    static let directory = Repository.path(".build-sigv4/aws4_testsuite")
    static let credentials = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z.
    static let date = Date(timeIntervalSince1970: 1_440_938_160)

    /// Every case: the path of its files without the extension.
    static var cases: [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var cases: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".req") { cases.append(String(relative.dropLast(4))) }
        }
        return cases.sorted()
    }

    struct Request {
        var method: String
        var path: String
        var query: [(String, String)]
        var headers: [(String, String)]
        var body: [UInt8]
    }

    static func decode(_ text: Substring) -> String {
        String(text).removingPercentEncoding ?? String(text)
    }

    /// Parses a `.req` file: request line, headers (continuation lines start with white space), blank line, body.
    static func request(_ name: String) throws -> Request {
        let text = try String(contentsOfFile: "\(directory)/\(name).req", encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let target = requestLine[1...].dropLast().joined(separator: " ")
        let (rawPath, rawQuery) =
            target.firstIndex(of: "?").map { (target[..<$0], target[target.index(after: $0)...]) } ?? (target[...], "")
        let query: [(String, String)] =
            rawQuery.isEmpty
            ? []
            : rawQuery.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
            }
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        while !lines.isEmpty {
            let line = lines.removeFirst()
            if line.isEmpty {
                body = Array(lines.joined(separator: "\n").utf8)
                break
            }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].1 += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return Request(
            method: String(requestLine[0]), path: decode(rawPath), query: query, headers: headers, body: body)
    }

    static func expected(_ name: String, _ kind: String) throws -> String {
        try String(contentsOfFile: "\(directory)/\(name).\(kind)", encoding: .utf8)
    }
}

@Suite("The AWS Signature Version 4 test suite")
struct SigV4TestSuiteTests {
    @Test("The suite has its 34 cases (run scripts/fetch-sigv4-suite)")
    func suiteIsThere() {
        #expect(SigV4TestSuite.cases.count == 34)
    }

    @Test(
        "Each case gives the suite's canonical request, string to sign and Authorization header",
        arguments: SigV4TestSuite.cases)
    func suiteCase(name: String) throws {
        var request = try SigV4TestSuite.request(name)
        var credentials = SigV4TestSuite.credentials
        // The signer adds the date and the session token itself. In post-sts-header-after the
        // token is sent but not signed, so it is not given to the signer.
        let token = request.headers.first { $0.0.lowercased() == "x-amz-security-token" }?.1
        request.headers.removeAll { ["x-amz-date", "x-amz-security-token"].contains($0.0.lowercased()) }
        if name.hasSuffix("get-vanilla-with-session-token") {
            credentials.sessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        } else if let token, !name.hasSuffix("post-sts-header-after") {
            credentials.sessionToken = token
        }
        let signer = SigV4Signer(
            credentials: credentials, region: "us-east-1", service: "service", pathRule: .normalized)
        let signature = signer.sign(
            method: request.method, path: request.path, query: request.query, headers: request.headers,
            payloadHash: Digest.sha256(request.body).hexString, date: SigV4TestSuite.date, addsContentHash: false)
        #expect(signature.canonicalRequest == (try SigV4TestSuite.expected(name, "creq")))
        #expect(signature.stringToSign == (try SigV4TestSuite.expected(name, "sts")))
        #expect(signature.authorization == (try SigV4TestSuite.expected(name, "authz")))
    }

    @Test("S3's rule keeps . and .. and repeated slashes where the normalize-path cases remove them")
    func s3DiffersOnNormalizePath() throws {
        let affected = SigV4TestSuite.cases.filter { $0.hasPrefix("normalize-path/") }
        #expect(affected.count == 8)
        var differing: [String] = []
        for name in affected {
            let request = try SigV4TestSuite.request(name)
            let s3 = SigV4Signer(
                credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "service", pathRule: .s3)
            let signature = s3.sign(
                method: request.method, path: request.path, headers: request.headers.filter { $0.0 != "X-Amz-Date" },
                payloadHash: SigV4Signer.emptyPayloadHash, date: SigV4TestSuite.date, addsContentHash: false)
            let uri = String(signature.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[1])
            #expect(
                uri
                    == request.path.split(separator: "/", omittingEmptySubsequences: false).map {
                        SigV4Signer.percentEncode(String($0))
                    }.joined(separator: "/"))
            if signature.canonicalRequest != (try SigV4TestSuite.expected(name, "creq")) { differing.append(name) }
        }
        // Only the cases whose paths hold dots or repeated slashes change under S3's rule.
        #expect(
            differing.map { ($0 as NSString).lastPathComponent }.sorted() == [
                "get-relative", "get-relative-relative", "get-slash", "get-slash-dot-slash", "get-slash-pointless-dot",
                "get-slashes",
            ])
    }
}
