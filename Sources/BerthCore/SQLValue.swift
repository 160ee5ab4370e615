/// A value of a Durable Object's SQL storage: what a column holds and a binding passes.
public enum SQLValue: Sendable, Hashable, Codable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var text: String? { if case .text(let value) = self { value } else { nil } }
    /// A number, integer or real.
    public var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    public var blob: [UInt8]? { if case .blob(let value) = self { value } else { nil } }
    public var isNull: Bool { self == .null }
}

/// A Swift value that binds as a SQL value: `exec("… WHERE id = ?", id)` with `id` an
/// `Int`, a `String`, a `Double`, a `Bool`, bytes, an optional of these, or a ``SQLValue``.
public protocol SQLConvertible: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLConvertible { public var sqlValue: SQLValue { self } }
extension Int: SQLConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLConvertible { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLConvertible { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLConvertible { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Array: SQLConvertible where Element == UInt8 { public var sqlValue: SQLValue { .blob(self) } }
extension Optional: SQLConvertible where Wrapped: SQLConvertible { public var sqlValue: SQLValue { self?.sqlValue ?? .null } }

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// What `storage.sql.exec` returns: the rows (read at once), their columns, and how many
/// rows the statement read and wrote.
public struct SQLCursor: Sendable, Equatable {
    public var columnNames: [String]
    /// Each row's values, in ``columnNames``'s order.
    public var rows: [[SQLValue]]
    public var rowsRead: Int
    public var rowsWritten: Int

    public init(columnNames: [String], rows: [[SQLValue]], rowsRead: Int, rowsWritten: Int) {
        self.columnNames = columnNames
        self.rows = rows
        self.rowsRead = rowsRead
        self.rowsWritten = rowsWritten
    }

    /// The rows as column name → value.
    public func toArray() -> [[String: SQLValue]] {
        rows.map { Dictionary(zip(columnNames, $0)) { first, _ in first } }
    }

    /// The one row there must be: an error for none or more than one, as Cloudflare's `one()`.
    public func one() throws(BerthError) -> [String: SQLValue] {
        guard rows.count == 1 else {
            throw BerthError(.invalidInput, rows.isEmpty ? "Expected exactly one result from SQL query, but got no results." : "Expected exactly one result from SQL query, but got multiple results.")
        }
        return toArray()[0]
    }
}
