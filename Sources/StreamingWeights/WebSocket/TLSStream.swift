import COpenSSL
import Foundation

/// TLS over a connected socket, through OpenSSL's libssl.
public final class TLSStream: ByteStream, @unchecked Sendable {
    /// A TLS failure, with OpenSSL's reasons.
    public struct Failure: Error, Hashable, CustomStringConvertible {
        public let operation: String
        public let reason: String
        public var description: String { "TLS \(operation) failed: \(reason)" }

        /// The reasons on OpenSSL's error queue (emptying it).
        static func current(_ operation: String) -> Failure {
            var reasons: [String] = []
            while case let code = ERR_get_error(), code != 0 {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return Failure(
                operation: operation, reason: reasons.isEmpty ? "the connection ended" : reasons.joined(separator: "; ")
            )
        }
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
        /// `insecure` (for self-signed test certificates only).
        public init(caFile: String? = nil, insecure: Bool = false) throws {
            guard let context = SSL_CTX_new(TLS_client_method()) else { throw Failure.current("context") }
            self.context = context
            _ = copenssl_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
            if insecure {
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
    private let ssl: OpaquePointer
    private let lock = NSLock()

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
        self.ssl = ssl
        SSL_set_fd(ssl, socket.descriptor)
    }

    deinit { SSL_free(ssl) }

    /// The server side of a TLS handshake on an accepted socket.
    public static func accept(_ socket: POSIXSocket, context: Context) throws -> TLSStream {
        let stream = try TLSStream(socket: socket, context: context)
        guard SSL_accept(stream.ssl) == 1 else { throw Failure.current("handshake") }
        return stream
    }

    /// The client side, checking that the certificate names `host` (unless the context is insecure).
    public static func connect(_ socket: POSIXSocket, host: String, context: Context) throws -> TLSStream {
        let stream = try TLSStream(socket: socket, context: context)
        _ = copenssl_SSL_set_tlsext_host_name(stream.ssl, host)
        SSL_set1_host(stream.ssl, host)
        guard SSL_connect(stream.ssl) == 1 else { throw Failure.current("handshake with \(host)") }
        return stream
    }

    public func read(upTo count: Int) throws -> [UInt8] {
        var failure: Failure?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let result = SSL_read(ssl, buffer.baseAddress, Int32(count))
            if result > 0 {
                initialized = Int(result)
            } else {
                initialized = 0
                let error = SSL_get_error(ssl, result)
                if error != SSL_ERROR_ZERO_RETURN && error != SSL_ERROR_SYSCALL { failure = Failure.current("read") }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    public func write(_ header: [UInt8], _ body: [UInt8]) throws {
        try lock.withLock {
            for part in [header, body] where !part.isEmpty {
                var written = 0
                while written < part.count {
                    let result = part.withUnsafeBytes { raw -> Int32 in
                        guard let base = raw.baseAddress else { return 0 }
                        return SSL_write(ssl, base + written, Int32(part.count - written))
                    }
                    guard result > 0 else { throw Failure.current("write") }
                    written += Int(result)
                }
            }
        }
    }

    public func setTimeouts(read: Double?, write: Double?) { socket.setTimeouts(read: read, write: write) }

    public func close() {
        SSL_shutdown(ssl)
        socket.close()
    }
}
