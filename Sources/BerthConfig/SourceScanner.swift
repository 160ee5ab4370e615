/// A cursor over UTF-8 source text that keeps track of line and column.
struct SourceScanner {
    let bytes: [UInt8]
    private(set) var index: Int = 0
    private(set) var position = SourcePosition(line: 1, column: 1)

    init(_ text: String) {
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        self.bytes = bytes
    }

    var isAtEnd: Bool { index >= bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    func peek(_ offset: Int = 0) -> UInt8? {
        let i = index + offset
        return i < bytes.count ? bytes[i] : nil
    }

    func hasPrefix(_ prefix: String) -> Bool {
        var i = index
        for b in prefix.utf8 {
            guard i < bytes.count, bytes[i] == b else { return false }
            i += 1
        }
        return true
    }

    mutating func advance() {
        guard index < bytes.count else { return }
        let b = bytes[index]
        index += 1
        if b == UInt8(ascii: "\n") {
            position.line += 1
            position.column = 1
        } else if b & 0xC0 != 0x80 {
            // Count characters, not the continuation bytes of multi-byte characters.
            position.column += 1
        }
    }

    mutating func advance(by count: Int) {
        for _ in 0..<count { advance() }
    }

    /// A readable name for the character at the cursor, for "found …" in messages.
    var currentDescription: String {
        guard let b = current else { return "end of file" }
        switch b {
        case UInt8(ascii: "\n"): return "end of line"
        case UInt8(ascii: "\t"): return "a tab"
        case 0..<0x20: return "control character U+\(String(b, radix: 16, uppercase: true))"
        default:
            var end = index + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            return "'\(String(decoding: bytes[index..<end], as: UTF8.self))'"
        }
    }

    func error(_ message: String) -> ConfigSyntaxError {
        ConfigSyntaxError(position: position, message: message)
    }

    func error(_ message: String, at position: SourcePosition) -> ConfigSyntaxError {
        ConfigSyntaxError(position: position, message: message)
    }

    /// Appends the UTF-8 of a code point, rejecting surrogates and out-of-range values.
    static func appendScalar(_ value: UInt32, to out: inout [UInt8]) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
        return true
    }
}

extension UInt8 {
    var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isASCIIHexDigit: Bool {
        isASCIIDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
    var hexValue: UInt32? {
        switch self {
        case 0x30...0x39: UInt32(self - 0x30)
        case 0x41...0x46: UInt32(self - 0x41 + 10)
        case 0x61...0x66: UInt32(self - 0x61 + 10)
        default: nil
        }
    }
}
