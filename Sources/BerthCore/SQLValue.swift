/// A value of a Durable Object's SQL storage: what a column holds and a binding passes.
public enum SQLValue: Sendable, Hashable, Codable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var text: String? { if case .text(let value) = self { value } else { nil } }
}

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
