import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP socket over the POSIX calls: blocking, with timeouts, closed when dropped.
public final class POSIXSocket: @unchecked Sendable {
    /// A socket call that failed, with its errno.
    public struct Failure: Error, Hashable, CustomStringConvertible {
        public let operation: String
        public let code: Int32
        public var description: String { "\(operation) failed: \(String(cString: strerror(code)))" }
    }

    let descriptor: Int32
    /// Whether the socket was shut down or made non-blocking, and the timeouts that were set.
    private struct State {
        var shutDown = false
        var nonBlocking = false
        var readTimeout: Double?
        var writeTimeout: Double?
    }
    private let state = Locked(State())

    init(descriptor: Int32) {
        self.descriptor = descriptor
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close()
        Glibc.close(descriptor)
    }

    /// A socket listening on `host` (an IPv4 address) and `port` (0 picks a free one).
    public static func listen(host: String, port: Int, backlog: Int32 = 512) throws -> POSIXSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(operation: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            Glibc.close(fd)
            throw Failure(operation: "parse address \(host)", code: EINVAL)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(operation: "bind \(host):\(port)", code: code)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(operation: "listen", code: code)
        }
        return POSIXSocket(descriptor: fd)
    }

    /// A connection to `host` (a name or an IPv4 address) and `port`.
    public static func connect(host: String, port: Int, timeout: Double = 10) throws -> POSIXSocket {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else { throw Failure(operation: "resolve \(host)", code: EHOSTUNREACH) }
        defer { freeaddrinfo(results) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(operation: "socket", code: errno) }
        let socket = POSIXSocket(descriptor: fd)
        socket.setTimeouts(read: timeout, write: timeout)
        guard Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw Failure(operation: "connect to \(host):\(port)", code: errno)
        }
        return socket
    }

    /// The port this socket is bound to.
    public var port: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits for the next connection; `nil` once the socket is closed.
    public func accept() throws -> POSIXSocket? {
        while true {
            let fd = Glibc.accept(descriptor, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                return POSIXSocket(descriptor: fd)
            }
            switch errno {
            case EINTR, ECONNABORTED, EMFILE, ENFILE: continue
            case EBADF, EINVAL: return nil
            default: throw Failure(operation: "accept", code: errno)
            }
        }
    }

    /// Sets how long a read (or write) may wait before it fails with EAGAIN.
    public func setTimeouts(read: Double?, write: Double?) {
        func apply(_ option: Int32, _ seconds: Double?) {
            var value = timeval(
                tv_sec: Int(seconds ?? 0), tv_usec: Int(((seconds ?? 0) - Double(Int(seconds ?? 0))) * 1e6))
            setsockopt(descriptor, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        apply(SO_RCVTIMEO, read)
        apply(SO_SNDTIMEO, write)
        state.withLock { ($0.readTimeout, $0.writeTimeout) = (read, write) }
    }

    /// The timeouts ``setTimeouts(read:write:)`` set, for streams that wait with `poll`.
    var timeouts: (read: Double?, write: Double?) { state.withLock { ($0.readTimeout, $0.writeTimeout) } }

    /// Reads what is available into `buffer`; 0 means the peer closed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let received = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if received >= 0 { return received }
            if errno == EINTR { continue }
            if errno == EAGAIN && isNonBlocking {
                guard try poll(for: Int16(POLLIN), timeout: timeouts.read) else {
                    throw Failure(operation: "read", code: EAGAIN)
                }
                continue
            }
            throw Failure(operation: "read", code: errno)
        }
    }

    /// The first byte the peer sent, left unread for whoever reads next; `nil` when the peer
    /// closed (or sent nothing within the read timeout).
    func peekFirstByte() -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let received = recv(descriptor, &byte, 1, Int32(MSG_PEEK))
            if received == 1 { return byte }
            if received < 0 && errno == EINTR { continue }
            return nil
        }
    }

    public func waitForInput(timeout: Double) throws -> Bool {
        try poll(for: Int16(POLLIN), timeout: timeout)
    }

    /// Waits up to `timeout` seconds (`nil`: without limit) until `events` can proceed, or the
    /// socket is shut down; false when the time ran out.
    func poll(for events: Int16, timeout: Double?) throws -> Bool {
        let start = DispatchTime.now().uptimeNanoseconds
        while true {
            var waited = Int32(0)
            if let timeout {
                let left = timeout - Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                guard left > 0 else { return false }
                waited = Int32(min(left * 1000, Double(Int32.max)).rounded(.up))
            }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let result = Glibc.poll(&entry, 1, timeout == nil ? -1 : waited)
            if result > 0 { return true }
            if result == 0 { continue }
            if errno == EINTR { continue }
            throw Failure(operation: "poll", code: errno)
        }
    }

    /// Writes `header` then `body` with one system call where it can (`sendmsg`), so a small
    /// header does not go out as a packet of its own, and the body is not copied.
    public func write(_ header: [UInt8], _ body: UnsafeRawBufferPointer) throws {
        var written = 0
        let total = header.count + body.count
        while written < total {
            let result = header.withUnsafeBytes { head -> Int in
                var vectors: [iovec] = []
                if written < head.count, let base = head.baseAddress {
                    vectors.append(
                        iovec(
                            iov_base: UnsafeMutableRawPointer(mutating: base + written), iov_len: head.count - written))
                }
                let bodyOffset = max(0, written - head.count)
                if bodyOffset < body.count, let base = body.baseAddress {
                    vectors.append(
                        iovec(
                            iov_base: UnsafeMutableRawPointer(mutating: base + bodyOffset),
                            iov_len: body.count - bodyOffset))
                }
                var message = msghdr()
                return vectors.withUnsafeMutableBufferPointer { buffer in
                    message.msg_iov = buffer.baseAddress
                    message.msg_iovlen = buffer.count
                    return sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL))
                }
            }
            if result < 0 && errno == EINTR { continue }
            if result < 0 && errno == EAGAIN && isNonBlocking {
                guard try poll(for: Int16(POLLOUT), timeout: timeouts.write) else {
                    throw Failure(operation: "write", code: EAGAIN)
                }
                continue
            }
            guard result > 0 else { throw Failure(operation: "write", code: errno) }
            written += result
        }
    }

    /// Makes reads and writes return EAGAIN instead of blocking; ``read(into:)`` and
    /// ``write(_:_:)`` then wait with `poll` (which TLS needs to read and write from two threads).
    func setNonBlocking() {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        state.withLock { $0.nonBlocking = true }
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { state.withLock { !$0.shutDown } }

    private var isNonBlocking: Bool { state.withLock { $0.nonBlocking } }

    /// Shuts the socket down.
    ///
    /// A thread blocked in accept, read, write or poll returns, and later calls fail. The descriptor itself is closed when the socket is released, so a
    /// thread still using it can never reach a new socket that reused its number.
    public func close() {
        let first = state.withLock { state -> Bool in
            defer { state.shutDown = true }
            return !state.shutDown
        }
        if first { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }
}
