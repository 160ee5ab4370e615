import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a loopback port (or a container's own address), for what an
/// HTTP client library hides: pipelined requests, HTTP/1.0, a client that goes away halfway
/// through a response.
final class RawHTTP {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(host: String = "127.0.0.1", port: Int, readTimeout seconds: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw RawHTTPError.connect(errno) }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Ends the connection both ways now (the descriptor is closed when this goes away).
    func hangUp() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawHTTPError.io(errno) }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Reads more bytes; false at the end of the stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw RawHTTPError.io(errno) }
        if count == 0 { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }

    /// Reads `count` bytes, or as many as come before the end or a read of `limit` bytes.
    func readSome(_ count: Int) throws -> Int {
        while buffer.count < count { if try !fill() { break } }
        let taken = min(count, buffer.count)
        buffer.removeFirst(taken)
        return taken
    }

    /// Whether bytes (or the end) can be read within `milliseconds`.
    func isReadable(within milliseconds: Int32) -> Bool {
        if !buffer.isEmpty { return true }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    /// Whether the server closed the connection (the next read sees the end).
    func isClosedByServer() throws -> Bool {
        guard buffer.isEmpty else { return false }
        return try !fill()
    }

    struct Response {
        var statusLine: String
        var headers: [(String, String)]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var status: Int { Int(statusLine.split(separator: " ")[1]) ?? 0 }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// Reads one response (Content-Length, chunked, or to the end of the stream).
    func readResponse(head: Bool = false) throws -> Response {
        var end: Int?
        while end == nil {
            end = findHeadEnd()
            if end == nil, try !fill() { throw RawHTTPError.closed }
        }
        let headText = String(decoding: buffer[..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let headers = lines.map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        var response = Response(statusLine: statusLine, headers: headers, body: [])
        if head { return response }
        if let length = response.header("content-length").flatMap(Int.init) {
            while buffer.count < length { if try !fill() { throw RawHTTPError.closed } }
            response.body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let line = try readLine()
                let size = Int(line.split(separator: ";")[0], radix: 16) ?? 0
                while buffer.count < size + 2 { if try !fill() { throw RawHTTPError.closed } }
                response.body += buffer[..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else {
            while try fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[..<index], as: UTF8.self)
                buffer.removeFirst(index + 2)
                return line
            }
            if try !fill() { throw RawHTTPError.closed }
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4) where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

enum RawHTTPError: Error {
    case connect(Int32)
    case io(Int32)
    case closed
}
