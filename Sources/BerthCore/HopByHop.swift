/// Headers that belong to one connection and are never forwarded by a proxy, for both of
/// Berth's proxies (the warm path and the Worker's). Compared without allocating: this runs
/// for every header of every request.
public enum HopByHop {
    /// `Connection`, `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`,
    /// `Proxy-Connection`, `TE`, `Trailer`, `Upgrade`, in any case. Content-Length and
    /// Transfer-Encoding frame the body: the ``ForwardingPolicy`` decides about them.
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

    /// Header names listed in `Connection` values (beyond `close` and `keep-alive`): they too
    /// are for this connection only. Usually none, and then nothing is allocated.
    @inlinable
    public static func connectionListed<Values: Sequence>(_ values: Values) -> ConnectionTokens where Values.Element == String {
        var tokens = ConnectionTokens()
        for value in values { tokens.add(listedIn: value) }
        return tokens
    }

    /// The tokens of the `Connection` fields among `headers`, found without allocating
    /// anything unless one lists a header name. Inlinable, so that each proxy's own header
    /// type is iterated directly rather than through the generic `Sequence` witness.
    @inlinable
    public static func connectionListed<Headers: Sequence>(
        in headers: Headers
    ) -> ConnectionTokens where Headers.Element == (name: String, value: String) {
        var tokens = ConnectionTokens()
        for (name, value) in headers where equalsIgnoringCase(name, "connection") {
            tokens.add(listedIn: value)
        }
        return tokens
    }

    /// Calls `body` with each comma-separated token of `value`, blanks around it removed,
    /// empty ones skipped.
    @inlinable
    public static func forEachToken(in value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
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
                if low < high { body(UnsafeBufferPointer(rebasing: bytes[low..<high])) }
                start = end + 1
            }
        }
    }

    /// ASCII comparison of `name` with a lowercase `literal`, ignoring case.
    @inlinable
    public static func equalsIgnoringCase(_ name: String, _ literal: StaticString) -> Bool {
        guard name.utf8.count == literal.utf8CodeUnitCount else { return false }
        var name = name
        return name.withUTF8 { equalsIgnoringCase($0, literal) }
    }

    @inlinable
    public static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<bytes.count where lowercased(bytes[index]) != expected[index] {
            return false
        }
        return true
    }

    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
