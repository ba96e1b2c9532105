import Foundation
import StreamingWeights
import Testing

@Suite("Signature Version 4")
struct SigV4SignerTests {
    static let example = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    /// 2013-05-24T00:00:00Z, the S3 documentation examples' date.
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)

    @Test("GET /test.txt with a Range header signs as the S3 documentation shows")
    func s3DocumentationGet() {
        let signer = SigV4Signer(credentials: Self.example, region: "us-east-1")
        let signature = signer.sign(
            method: "GET",
            path: "/test.txt",
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash,
            date: Self.exampleDate
        )
        #expect(
            signature.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test("PUT with a body and a storage-class header signs as the S3 documentation shows")
    func s3DocumentationPut() {
        let signer = SigV4Signer(credentials: Self.example, region: "us-east-1")
        let body = Array("Welcome to Amazon S3.".utf8)
        let signature = signer.sign(
            method: "PUT",
            path: "/test$file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: Digest.sha256(body).hexString,
            date: Self.exampleDate
        )
        #expect(
            signature.authorization.hasSuffix(
                "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
    }

    @Test("GET ?lifecycle and a ListObjects query sign as the S3 documentation shows")
    func s3DocumentationQueries() {
        let signer = SigV4Signer(credentials: Self.example, region: "us-east-1")
        let lifecycle = signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(
            lifecycle.authorization.hasSuffix(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
        let list = signer.sign(
            method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")],
            headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(
            list.authorization.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test("A presigned GET URL matches the S3 documentation's")
    func s3DocumentationPresigned() {
        let signer = SigV4Signer(credentials: Self.example, region: "us-east-1")
        let url = signer.presignedURL(
            scheme: "https", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", expires: 86400,
            date: Self.exampleDate)
        #expect(url.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(
            url.hasPrefix(
                "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            ))
    }

    @Test("S3 paths keep . and .. and encode each segment once")
    func s3Paths() {
        let signer = SigV4Signer(credentials: Self.example, region: "us-east-1")
        let signature = signer.sign(
            method: "GET", path: "/bucket/a/./b/../c d+e=f~g", headers: [("Host", "h")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(signature.canonicalRequest.split(separator: "\n")[1] == "/bucket/a/./b/../c%20d%2Be%3Df~g")
    }
}
