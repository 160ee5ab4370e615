import BerthRuntime
import Foundation

/// What the recording container (Tests/Fixtures/recorder/recorder.c) received: every
/// connection's bytes, read straight from the container (not through Berth) with `GET /__log`.
struct RecordedConnection {
    var id: Int
    var closed: Bool
    var bytes: [UInt8]
}

enum RecorderLog {
    static let source = "Tests/Fixtures/recorder/recorder.c"

    /// The container's records, asked on a connection of the test's own to `endpoint`, the
    /// address Berth forwards to.
    static func fetch(_ endpoint: Endpoint) throws -> [RecordedConnection] {
        let connection = try RawHTTP(host: endpoint.host, port: endpoint.port, readTimeout: 10)
        try connection.send("GET /__log HTTP/1.1\r\nHost: log\r\nConnection: close\r\n\r\n")
        return try parse(connection.readResponse().body)
    }

    /// `conn <n> <open|closed> <length>\n<bytes>\n`, repeated.
    static func parse(_ dump: [UInt8]) throws -> [RecordedConnection] {
        var records: [RecordedConnection] = []
        var index = 0
        while index < dump.count {
            guard let newline = dump[index...].firstIndex(of: 10) else { throw RecorderLogError.malformed }
            let fields = String(decoding: dump[index..<newline], as: UTF8.self).split(separator: " ")
            let start = newline + 1
            guard fields.count == 4, fields[0] == "conn", let id = Int(fields[1]), let length = Int(fields[3]), start + length < dump.count
            else { throw RecorderLogError.malformed }
            records.append(RecordedConnection(id: id, closed: fields[2] == "closed", bytes: Array(dump[start..<(start + length)])))
            index = start + length + 1
        }
        return records
    }
}

enum RecorderLogError: Error {
    case malformed
}

/// A request as a container saw it, with what identifies it.
struct SeenRequest: Hashable, CustomStringConvertible {
    var method: String
    var target: String
    var body: [UInt8]

    var description: String {
        "\(method) \(target) (\(body.count) bytes: \(String(decoding: body.prefix(40), as: UTF8.self).debugDescription))"
    }
}

/// Splits one connection's bytes into requests as Berth must frame them, and nothing else:
/// CRLF line endings, token names, `Host: container` once (or `ping`: Berth's readiness
/// probe, which ``requests`` leaves out), and at most one framing header,
/// `Content-Length: <digits>` or `Transfer-Encoding: chunked`, with plain chunks (no
/// extensions, no trailers). What follows the last whole request is `rest`; `error` says
/// where the bytes stop making sense.
struct StrictSplit {
    var requests: [SeenRequest] = []
    var rest: ArraySlice<UInt8> = []
    var error: String?

    init(_ bytes: [UInt8]) {
        var input = bytes[...]
        while !input.isEmpty {
            switch Self.request(&input) {
            case .complete(let request): if let request { requests.append(request) }
            case .incomplete:
                rest = input
                return
            case .malformed(let why):
                error = "\(why), at byte \(input.startIndex) of the connection"
                rest = input
                return
            }
        }
    }

    enum Step {
        /// A whole request; nil for Berth's own readiness probe.
        case complete(SeenRequest?)
        case incomplete
        case malformed(String)
    }

    private static func request(_ input: inout ArraySlice<UInt8>) -> Step {
        var cursor = input
        guard let end = find([13, 10, 13, 10], in: cursor) else { return .incomplete }
        let head = cursor[cursor.startIndex..<end]
        if head.contains(where: { $0 < 0x20 && $0 != 13 && $0 != 10 && $0 != 9 }) { return .malformed("a control character in the head") }
        var lines: [String] = []
        var lineStart = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            if head[index] == 10 { return .malformed("a bare LF in the head") }
            if head[index] == 13 {
                guard index + 1 < head.endIndex, head[index + 1] == 10 else { return .malformed("a bare CR in the head") }
                lines.append(String(decoding: head[lineStart..<index], as: UTF8.self))
                index += 2
                lineStart = index
                continue
            }
            index += 1
        }
        lines.append(String(decoding: head[lineStart..<head.endIndex], as: UTF8.self))
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2] == "HTTP/1.1", !requestLine[0].isEmpty, requestLine[1].hasPrefix("/") else {
            return .malformed("not a request line: \(requestLine.joined(separator: " ").prefix(60).debugDescription)")
        }
        var hosts: [String] = []
        var length: Int?
        var chunked = false
        var framingHeaders = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return .malformed("a header line without a colon: \(line.prefix(60).debugDescription)") }
            let name = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
            guard !name.isEmpty, name.utf8.allSatisfy(isToken) else { return .malformed("a header name that is not a token: \(name.debugDescription)") }
            switch name.lowercased() {
            case "host": hosts.append(value)
            case "content-length":
                framingHeaders += 1
                guard !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let parsed = Int(value) else {
                    return .malformed("Content-Length \(value.debugDescription)")
                }
                length = parsed
            case "transfer-encoding":
                framingHeaders += 1
                guard value == "chunked" else { return .malformed("Transfer-Encoding \(value.debugDescription)") }
                chunked = true
            default: break
            }
        }
        guard hosts == ["container"] || hosts == ["ping"] else { return .malformed("Host \(hosts) where Berth sends container once") }
        guard framingHeaders <= 1 else { return .malformed("\(framingHeaders) framing headers") }
        cursor = cursor[(end + 4)...]
        var body: [UInt8] = []
        if chunked {
            while true {
                guard let lineEnd = find([13, 10], in: cursor) else { return .incomplete }
                let sizeText = cursor[cursor.startIndex..<lineEnd]
                guard !sizeText.isEmpty, sizeText.allSatisfy(isHexDigit),
                      let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16)
                else { return .malformed("chunk size \(String(decoding: sizeText.prefix(20), as: UTF8.self).debugDescription)") }
                cursor = cursor[(lineEnd + 2)...]
                if size == 0 {
                    guard cursor.count >= 2 else { return .incomplete }
                    guard cursor.prefix(2).elementsEqual([13, 10]) else { return .malformed("trailers or bytes after the last chunk") }
                    cursor = cursor.dropFirst(2)
                    break
                }
                guard cursor.count >= size + 2 else { return .incomplete }
                body += cursor.prefix(size)
                cursor = cursor.dropFirst(size)
                guard cursor.prefix(2).elementsEqual([13, 10]) else { return .malformed("a chunk without CRLF after its data") }
                cursor = cursor.dropFirst(2)
            }
        } else if let length {
            guard cursor.count >= length else { return .incomplete }
            body = Array(cursor.prefix(length))
            cursor = cursor.dropFirst(length)
        }
        input = cursor
        if hosts == ["ping"] { return .complete(nil) }
        return .complete(SeenRequest(method: String(requestLine[0]), target: String(requestLine[1]), body: body))
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index <= haystack.endIndex - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    private static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
