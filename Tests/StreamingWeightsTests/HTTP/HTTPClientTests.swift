import Foundation
import StreamingWeights
import Testing

@Suite("HTTP over libcurl")
struct HTTPClientTests {
    @Test("Only http:// and https:// are spoken: another scheme fails before any connection, a redirect to one too")
    func onlyHTTP() throws {
        let target = try ConnectionRecorder()
        for url in ["ftp://127.0.0.1:\(target.port)/x", "file:///etc/passwd", "gopher://127.0.0.1:\(target.port)/"] {
            let error = #expect(throws: HTTPError.self) { _ = try HTTPClient.data(HTTPRequest(url: url)) }
            #expect(error?.code == 1 && error?.description == "\(url): only http:// and https:// URLs are fetched")
        }
        let redirect = Array(
            "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:\(target.port)/x\r\nContent-Length: 0\r\n\r\n".utf8)
        let redirector = try ConnectionRecorder(response: redirect)
        let error = #expect(throws: HTTPError.self) {
            _ = try HTTPClient.data(HTTPRequest(url: "http://127.0.0.1:\(redirector.port)/start"))
        }
        #expect(error?.code == 1 && error?.isPermanent == true)
        #expect(redirector.connections == ["GET /start HTTP/1.1"])
        #expect(target.connections.isEmpty)
    }
}
