/// Headers that belong to one connection and are never forwarded by a proxy, for both of
/// Berth's proxies (the warm path and the Worker's). Compared without allocating: this runs
/// for every header of every request.
public enum HopByHop {
    /// `Connection`, `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`,
    /// `Proxy-Connection`, `TE`, `Trailer`, `Upgrade`, in any case. Content-Length and
    /// Transfer-Encoding frame the body: each proxy decides about them.
    public static func contains(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            switch bytes.count {
            case 2: return equalsIgnoringCase(bytes, "te")
            case 7: return equalsIgnoringCase(bytes, "trailer") || equalsIgnoringCase(bytes, "upgrade")
            case 10: return equalsIgnoringCase(bytes, "connection") || equalsIgnoringCase(bytes, "keep-alive")
            case 16: return equalsIgnoringCase(bytes, "proxy-connection")
            case 18: return equalsIgnoringCase(bytes, "proxy-authenticate")
            case 19: return equalsIgnoringCase(bytes, "proxy-authorization")
            default: return false
            }
        }
    }

    /// Header names listed in `Connection` values (beyond `close` and `keep-alive`),
    /// lowercased: they too are for this connection only. Usually none, and then nothing is
    /// allocated.
    public static func connectionListed<Values: Sequence>(_ values: Values) -> Set<String> where Values.Element == String {
        var tokens = Set<String>()
        for value in values {
            var value = value
            value.withUTF8 { bytes in
                var start = 0
                while start <= bytes.count {
                    var end = start
                    while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
                    var low = start
                    var high = end
                    while low < high && (bytes[low] == 0x20 || bytes[low] == 0x09) { low += 1 }
                    while high > low && (bytes[high - 1] == 0x20 || bytes[high - 1] == 0x09) { high -= 1 }
                    let token = UnsafeBufferPointer(rebasing: bytes[low..<high])
                    if !token.isEmpty && !equalsIgnoringCase(token, "close") && !equalsIgnoringCase(token, "keep-alive") {
                        tokens.insert(String(decoding: token, as: UTF8.self).lowercased())
                    }
                    start = end + 1
                }
            }
        }
        return tokens
    }

    /// Whether `name` is one of `listed` (lowercase), ignoring case.
    public static func isListed(_ name: String, in listed: Set<String>) -> Bool {
        !listed.isEmpty && listed.contains(name.lowercased())
    }

    /// ASCII comparison of `name` with a lowercase `literal`, ignoring case.
    public static func equalsIgnoringCase(_ name: String, _ literal: StaticString) -> Bool {
        var name = name
        return name.withUTF8 { equalsIgnoringCase($0, literal) }
    }

    static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }
}
