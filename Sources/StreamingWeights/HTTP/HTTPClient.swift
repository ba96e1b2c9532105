import CCurl
import Foundation

/// One HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Follow 3xx responses to their `Location`.
    public var followsRedirects: Bool
    /// Seconds to wait for a connection.
    public var connectTimeout: Int
    /// Seconds without a single byte received before the transfer is abandoned.
    public var stallTimeout: Int
    /// For `https://`: a PEM file of the CAs to trust instead of the system's.
    public var caFile: String?
    /// For `https://`: skip verifying the server's certificate (self-signed test servers only).
    public var insecure = false

    public init(
        method: String = "GET",
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        followsRedirects: Bool = true,
        connectTimeout: Int = 10,
        stallTimeout: Int = 30
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.followsRedirects = followsRedirects
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
    }
}

/// An HTTP response's status and headers (those of the last response when redirects were followed).
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names lower-cased, in order.
    public let headers: [(name: String, value: String)]

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// A transfer that failed below HTTP: no connection, a timeout, a reset, a TLS failure.
public struct HTTPError: Error, Hashable, CustomStringConvertible {
    public let url: String
    /// libcurl's `CURLcode`.
    public let code: Int
    public let message: String

    public var description: String {
        switch code {
        case Int(CURLE_PEER_FAILED_VERIFICATION.rawValue):
            "\(url): \(message) (give the CA that signed the server's certificate with --ca-file, or for a self-signed test server --insecure)"
        case Int(CURLE_SSL_CONNECT_ERROR.rawValue):
            "\(url): \(message) (the TLS handshake failed: if the server speaks plain HTTP, write http://)"
        default:
            "\(url): \(message)"
        }
    }

    /// Whether trying again cannot help: the URL's scheme, its form, or TLS as configured
    /// (a rejected certificate, a server that does not speak TLS).
    public var isPermanent: Bool {
        [CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR]
            .contains { Int($0.rawValue) == code }
    }
}

/// HTTP over libcurl: one easy handle per request, the body streamed to a callback.
///
/// Requests block the calling thread while they run (libcurl's easy interface). Only `http://`
/// and `https://` are spoken, redirects included: libcurl knows FTP, SMTP, FILE and more, and a
/// URL or endpoint with another scheme must fail at once, not be tried.
public enum HTTPClient {
    /// The protocols libcurl may use, for requests and for redirects.
    static let protocols = "http,https"

    /// Performs `request`, handing each piece of the response body to `body` as it arrives.
    ///
    /// - Throws: ``HTTPError`` for a transport failure, or what `body` throws.
    /// - Parameter status: called with each response's status as its headers arrive, before
    ///   its body (so a caller can tell an error document from data).
    public static func perform(
        _ request: HTTPRequest,
        status: ((Int) -> Void)? = nil,
        body: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> HTTPResponse {
        let scheme = request.url.prefix { $0 != ":" }.lowercased()
        guard scheme == "http" || scheme == "https", request.url.dropFirst(scheme.count).hasPrefix("://") else {
            throw HTTPError(
                url: request.url, code: Int(CURLE_UNSUPPORTED_PROTOCOL.rawValue),
                message: "only http:// and https:// URLs are fetched")
        }
        if let failure = ccurl_load_error() {
            throw HTTPError(url: request.url, code: -1, message: String(cString: failure))
        }
        guard let handle = ccurl_easy_init() else {
            throw HTTPError(url: request.url, code: -1, message: "libcurl could not create a handle")
        }
        defer { ccurl_easy_cleanup(handle) }
        let context = TransferContext(body: body, status: status)
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers {
            headerList = ccurl_slist_append(headerList, "\(name): \(value)")
        }
        // An explicit empty Expect avoids curl's 1-second wait for "100 Continue" on uploads.
        headerList = ccurl_slist_append(headerList, "Expect:")
        defer { ccurl_slist_free_all(headerList) }

        ccurl_easy_setopt_string(handle, CURLOPT_URL, request.url)
        ccurl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, protocols)
        ccurl_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, protocols)
        ccurl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        if request.method == "HEAD" { ccurl_easy_setopt_long(handle, CURLOPT_NOBODY, 1) }
        ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, request.followsRedirects ? 1 : 0)
        ccurl_easy_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
        ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, request.connectTimeout)
        ccurl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        ccurl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, request.stallTimeout)
        ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        if let caFile = request.caFile { ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        if request.insecure {
            ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
        ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, unmanaged.toOpaque())
        ccurl_easy_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
            guard let context, let buffer else { return 0 }
            let transfer = Unmanaged<TransferContext>.fromOpaque(context).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
            do {
                try transfer.body?(bytes)
            } catch {
                transfer.failure = error
                return 0
            }
            return size * count
        }
        ccurl_easy_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { buffer, size, count, context in
            guard let context, let buffer else { return 0 }
            let transfer = Unmanaged<TransferContext>.fromOpaque(context).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("HTTP/") {
                transfer.headers.removeAll()
                let fields = line.split(separator: " ")
                if fields.count > 1, let code = Int(fields[1]) { transfer.status?(code) }
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                transfer.headers.append((name, value))
            }
            return size * count
        }
        // A body, even an empty one, is always given as a pointer and a length: a null pointer
        // would make libcurl read the body from standard input.
        var upload = request.body ?? []
        upload.append(0)
        let code: CURLcode = upload.withUnsafeMutableBufferPointer { buffer in
            if request.body != nil {
                ccurl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, buffer.baseAddress)
                ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(buffer.count - 1))
            }
            return ccurl_easy_perform(handle)
        }
        if let failure = context.failure { throw failure }
        guard code == CURLE_OK else {
            throw HTTPError(
                url: request.url, code: Int(code.rawValue), message: String(cString: ccurl_easy_strerror(code)))
        }
        var status = 0
        ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: context.headers)
    }

    /// Performs `request` and returns the whole body.
    public static func data(_ request: HTTPRequest, limit: Int = 64 << 20) throws -> (HTTPResponse, [UInt8]) {
        var bytes: [UInt8] = []
        let response = try perform(
            request,
            body: { piece in
                guard bytes.count + piece.count <= limit else {
                    throw HTTPError(url: request.url, code: -1, message: "the response is larger than \(limit) bytes")
                }
                bytes.append(contentsOf: piece)
            }
        )
        return (response, bytes)
    }
}

/// State shared with libcurl's callbacks for one transfer.
private final class TransferContext {
    let body: ((UnsafeRawBufferPointer) throws -> Void)?
    let status: ((Int) -> Void)?
    var headers: [(name: String, value: String)] = []
    var failure: (any Error)?

    init(body: ((UnsafeRawBufferPointer) throws -> Void)?, status: ((Int) -> Void)?) {
        self.body = body
        self.status = status
    }
}
