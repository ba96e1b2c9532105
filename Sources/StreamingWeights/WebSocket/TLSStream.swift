import COpenSSL
import Foundation
import Logging

/// TLS over a connected socket, through OpenSSL's libssl.
public final class TLSStream: ByteStream, @unchecked Sendable {
    /// What a client is warned of when it skips verifying certificates (`--insecure`).
    public static let insecureWarning =
        "TLS certificates are not verified (insecure): anyone between here and the server can read and change the traffic"

    /// A TLS failure, with OpenSSL's reasons.
    public struct Failure: Error, Hashable, CustomStringConvertible {
        public let operation: String
        public let reason: String
        public var description: String { "TLS \(operation) failed: \(reason)" }

        /// The reasons on OpenSSL's error queue (emptying it).
        static func current(_ operation: String) -> Failure {
            let (reasons, _) = drainErrors()
            return Failure(
                operation: operation, reason: reasons.isEmpty ? "the connection ended" : reasons.joined(separator: "; ")
            )
        }

        /// OpenSSL's error queue, emptied: each error's text and its reason code.
        static func drainErrors() -> (reasons: [String], codes: [Int32]) {
            var reasons: [String] = []
            var codes: [Int32] = []
            while case let code = ERR_get_error(), code != 0 {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                codes.append(copenssl_error_reason(code))
            }
            return (reasons, codes)
        }
    }

    /// A server whose certificate failed verification.
    ///
    /// Not trusted, expired, or issued for another name: trying again cannot help.
    public struct CertificateRejected: Error, Hashable, CustomStringConvertible {
        public let host: String
        /// OpenSSL's words for the verification error.
        public let reason: String
        /// Whether the certificate is valid but names another host.
        public let wrongHost: Bool

        public var description: String { "the TLS certificate of \(host) was rejected: \(reason)" }
    }

    /// A peer that answered a TLS handshake with something else (a plain HTTP server).
    public struct PeerNotTLS: Error, Hashable, CustomStringConvertible {
        public let host: String
        public var description: String { "\(host) does not speak TLS on this port" }
    }

    /// A server's or a client's TLS settings, loaded once and shared by its connections.
    public final class Context: @unchecked Sendable {
        let context: OpaquePointer

        /// A server context with a PEM certificate chain and its private key.
        public init(certificateFile: String, keyFile: String) throws {
            guard let context = SSL_CTX_new(TLS_server_method()) else { throw Failure.current("context") }
            self.context = context
            _ = copenssl_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
            guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
                throw Failure.current("loading the certificate '\(certificateFile)'")
            }
            guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1,
                SSL_CTX_check_private_key(context) == 1
            else {
                throw Failure.current("loading the private key '\(keyFile)'")
            }
        }

        /// A client context that verifies servers against the system's CAs or `caFile`, unless
        /// `insecure` (for self-signed test certificates only), which `logger` is warned of.
        public init(caFile: String? = nil, insecure: Bool = false, logger: Logger? = nil) throws {
            guard let context = SSL_CTX_new(TLS_client_method()) else { throw Failure.current("context") }
            self.context = context
            _ = copenssl_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
            if insecure {
                logger?.warning("\(TLSStream.insecureWarning)")
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            } else {
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
                let loaded =
                    caFile.map { SSL_CTX_load_verify_locations(context, $0, nil) }
                    ?? SSL_CTX_set_default_verify_paths(context)
                guard loaded == 1 else { throw Failure.current("loading CA certificates '\(caFile ?? "system")'") }
            }
        }

        deinit { SSL_CTX_free(context) }
    }

    private let socket: POSIXSocket
    /// The OpenSSL session, held for each call on it, since a session is not safe from two
    /// threads at once; a thread waiting for the socket waits outside it, so a reader never
    /// blocks a writer.
    private let session: Locked<OpaquePointer>

    /// Ignores SIGPIPE, once, on first TLS use.
    ///
    /// OpenSSL writes to the socket with plain `write`, which raises SIGPIPE when the peer has
    /// gone, and its default action would end the process. Plain sockets use `MSG_NOSIGNAL`.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    private init(socket: POSIXSocket, context: Context) throws {
        Self.ignoreBrokenPipes
        self.socket = socket
        guard let ssl = SSL_new(context.context) else { throw Failure.current("session") }
        session = Locked(ssl)
        SSL_set_fd(ssl, socket.descriptor)
        copenssl_SSL_accept_moving_write_buffer(ssl)
    }

    deinit { session.withLock { SSL_free($0) } }

    /// The server side of a TLS handshake on an accepted socket (bounded by its timeouts).
    ///
    /// A client that speaks plain HTTP to this port (its first byte a letter, as in `GET`) is
    /// answered in plain HTTP, 400 with a sentence saying to use TLS, as nginx does; OpenSSL
    /// would close without a word and leave the client to guess.
    public static func accept(_ socket: POSIXSocket, context: Context) throws -> TLSStream {
        if let first = socket.peekFirstByte(), (0x41...0x5a).contains(first) {
            try? socket.write(
                WebSocketHandshake.errorResponse(
                    status: 400, reason: "this server speaks TLS: connect with wss:// (or https://)"))
            throw PeerNotTLS(host: "the client")
        }
        let stream = try TLSStream(socket: socket, context: context)
        guard stream.session.withLock({ SSL_accept($0) }) == 1 else { throw Failure.current("handshake") }
        socket.setNonBlocking()
        return stream
    }

    /// The client side, checking that the certificate names `host` (unless the context is insecure).
    ///
    /// - Throws: ``CertificateRejected`` when verification fails, ``PeerNotTLS`` when the peer
    ///   answers in something other than TLS, ``Failure`` otherwise.
    public static func connect(_ socket: POSIXSocket, host: String, context: Context) throws -> TLSStream {
        let stream = try TLSStream(socket: socket, context: context)
        let (connected, verification) = stream.session.withLock { ssl in
            _ = copenssl_SSL_set_tlsext_host_name(ssl, host)
            SSL_set1_host(ssl, host)
            let connected = SSL_connect(ssl) == 1
            return (connected, Int32(SSL_get_verify_result(ssl)))
        }
        guard connected else {
            let (reasons, codes) = Failure.drainErrors()
            if verification != X509_V_OK {
                throw CertificateRejected(
                    host: host, reason: String(cString: X509_verify_cert_error_string(Int(verification))),
                    wrongHost: [X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH].contains(verification))
            }
            if codes.contains(SSL_R_WRONG_VERSION_NUMBER) || codes.contains(SSL_R_PACKET_LENGTH_TOO_LONG) {
                throw PeerNotTLS(host: host)
            }
            throw Failure(
                operation: "handshake with \(host)",
                reason: reasons.isEmpty ? "the connection ended" : reasons.joined(separator: "; "))
        }
        socket.setNonBlocking()
        return stream
    }

    /// Runs one OpenSSL call under the lock until it succeeds, waiting outside the lock for
    /// what it asks for; 0 when the peer closed.
    private func perform(_ operation: String, timeout: Double?, _ call: (OpaquePointer) -> Int32) throws -> Int {
        while true {
            let (result, error, reasons) = session.withLock { ssl -> (Int32, Int32, Failure?) in
                ERR_clear_error()
                let result = call(ssl)
                guard result <= 0 else { return (result, SSL_ERROR_NONE, nil) }
                let error = SSL_get_error(ssl, result)
                return (result, error, error == SSL_ERROR_SSL ? Failure.current(operation) : nil)
            }
            switch error {
            case SSL_ERROR_NONE: return Int(result)
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                let events = Int16(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)
                guard try socket.poll(for: events, timeout: timeout) else {
                    throw POSIXSocket.Failure(operation: operation, code: EAGAIN)
                }
            case SSL_ERROR_ZERO_RETURN: return 0
            case SSL_ERROR_SYSCALL:
                // The peer went away without a close_notify; a WebSocket knows from its own close.
                if errno == 0 || errno == ECONNRESET || errno == EPIPE { return 0 }
                throw POSIXSocket.Failure(operation: operation, code: errno)
            default: throw reasons ?? Failure.current(operation)
            }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try perform("read", timeout: socket.timeouts.read) {
            SSL_read($0, buffer.baseAddress, Int32(clamping: buffer.count))
        }
    }

    public func waitForInput(timeout: Double) throws -> Bool {
        if session.withLock({ SSL_pending($0) }) > 0 { return true }
        return try socket.poll(for: Int16(POLLIN), timeout: timeout)
    }

    public func write(_ header: [UInt8], _ body: UnsafeRawBufferPointer) throws {
        try header.withUnsafeBytes { header in
            for part in [header, body] where !part.isEmpty {
                var written = 0
                while written < part.count {
                    let count = try perform("write", timeout: socket.timeouts.write) {
                        SSL_write($0, part.baseAddress.map { $0 + written }, Int32(clamping: part.count - written))
                    }
                    guard count > 0 else { throw POSIXSocket.Failure(operation: "write", code: EPIPE) }
                    written += count
                }
            }
        }
    }

    public func setTimeouts(read: Double?, write: Double?) { socket.setTimeouts(read: read, write: write) }

    public func close() {
        session.withLock { _ = SSL_shutdown($0) }
        socket.close()
    }
}
