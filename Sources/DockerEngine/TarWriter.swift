import NIOCore

/// Writes tar (POSIX ustar, with PAX headers for long names) headers and padding.
enum TarWriter {
    enum Kind: UInt8 {
        case file = 0x30  // '0'
        case symlink = 0x32  // '2'
        case directory = 0x35  // '5'
        case paxHeader = 0x78  // 'x'
    }

    static let blockSize = 512

    /// The header block(s) for one entry. Owner is root, as the Docker CLI sends it.
    static func header(path: String, kind: Kind, size: Int, mode: Int, mtime: Int, linkTarget: String = "") -> ByteBuffer {
        var buffer = ByteBuffer()
        var name = path
        var link = linkTarget
        var pax: [(String, String)] = []
        if name.utf8.count > 100 || !name.allSatisfy(\.isASCII) { pax.append(("path", name)) }
        if link.utf8.count > 100 || !link.allSatisfy(\.isASCII) { pax.append(("linkpath", link)) }
        if size > 0o77777777777 { pax.append(("size", String(size))) }
        if !pax.isEmpty {
            var records = ""
            for (key, value) in pax { records += paxRecord(key, value) }
            let data = Array(records.utf8)
            buffer.writeBytes(block(name: "PaxHeaders/\(String(path.suffix(80)))", kind: .paxHeader, size: data.count, mode: 0o644, mtime: mtime, link: ""))
            buffer.writeBytes(data)
            buffer.writeRepeatingByte(0, count: padding(for: data.count))
            name = String(decoding: Array(name.utf8.prefix(100)), as: UTF8.self)
            link = String(decoding: Array(link.utf8.prefix(100)), as: UTF8.self)
        }
        buffer.writeBytes(block(name: name, kind: kind, size: size > 0o77777777777 ? 0 : size, mode: mode, mtime: mtime, link: link))
        return buffer
    }

    /// Zero bytes that fill the last block of an entry's data.
    static func padding(for size: Int) -> Int {
        (blockSize - size % blockSize) % blockSize
    }

    /// Two zero blocks end an archive.
    static var trailer: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeRepeatingByte(0, count: blockSize * 2)
        return buffer
    }

    static func paxRecord(_ key: String, _ value: String) -> String {
        // The length prefix counts itself.
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length += 1 }
        return "\(length)\(body)"
    }

    static func block(name: String, kind: Kind, size: Int, mode: Int, mtime: Int, link: String) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: blockSize)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, byte) in text.utf8.prefix(width).enumerated() { header[offset + i] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(padded, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode & 0o7777, at: 100, width: 8)
        octal(0, at: 108, width: 8)  // uid
        octal(0, at: 116, width: 8)  // gid
        octal(size, at: 124, width: 12)
        octal(max(0, mtime), at: 136, width: 12)
        header[156] = kind.rawValue
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        // The checksum is computed with its own field set to spaces.
        for i in 148..<156 { header[i] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        return header
    }
}
