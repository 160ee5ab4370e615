/// The header names a message's `Connection` fields list (beyond `close` and `keep-alive`),
/// lowercase: they belong to that connection and are not forwarded. Nearly every message
/// lists none; then nothing is allocated and ``contains(_:)`` returns at once, without
/// lowercasing the name it is asked about.
public struct ConnectionTokens: Equatable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    private var tokens: [String] = []

    public init() {}

    /// Tokens given in lowercase (tests).
    public init(arrayLiteral elements: String...) {
        tokens = elements.map { $0.lowercased() }
    }

    /// Whether nothing is listed.
    public var isEmpty: Bool { tokens.isEmpty }

    /// Whether `name` is listed, ignoring ASCII case.
    public func contains(_ name: String) -> Bool {
        guard !tokens.isEmpty else { return false }
        var name = name
        return name.withUTF8 { bytes in
            tokens.contains { token in
                guard token.utf8.count == bytes.count else { return false }
                return zip(token.utf8, bytes).allSatisfy { $0 == HopByHop.lowercased($1) }
            }
        }
    }

    /// Adds the names listed in one `Connection` value: comma-separated tokens, blanks around
    /// them ignored, `close` and `keep-alive` left out.
    @usableFromInline
    mutating func add(listedIn value: String) {
        HopByHop.forEachToken(in: value) { token in
            if !HopByHop.equalsIgnoringCase(token, "close") && !HopByHop.equalsIgnoringCase(token, "keep-alive") {
                let lower = String(decoding: token.lazy.map(HopByHop.lowercased), as: UTF8.self)
                if !tokens.contains(lower) { tokens.append(lower) }
            }
        }
    }

    /// Equal when both list the same names, in any order.
    public static func == (lhs: ConnectionTokens, rhs: ConnectionTokens) -> Bool {
        lhs.tokens.count == rhs.tokens.count && lhs.tokens.allSatisfy(rhs.tokens.contains)
    }

    public var description: String { tokens.description }
}
