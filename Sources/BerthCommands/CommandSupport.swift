import ArgumentParser
import BerthCore
import Foundation

/// Exit codes every command uses.
enum ExitStatus {
    static let failure = ExitCode(1)
    /// The container engine or the Berth server cannot be reached.
    static let engineUnavailable = ExitCode(3)
    /// The server refused the admin token.
    static let unauthorized = ExitCode(4)

    static func code(for error: BerthError) -> ExitCode {
        switch error.code {
        case .engineUnavailable, .unavailable: engineUnavailable
        case .unauthorized: unauthorized
        default: failure
        }
    }
}

/// Writes a line to standard output at once (not buffered), for progress people follow.
@Sendable func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes to standard error, for messages that must not mix with a command's output.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Prints a `BerthError` as one clear line and exits with the matching code.
func fail(_ error: BerthError) -> ExitCode {
    printError("error: \(error.description)")
    return ExitStatus.code(for: error)
}

/// Encodes a value as pretty, key-sorted JSON for `--json` output.
func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Left-aligned columns separated by two spaces, the way people read CLI tables.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    func render() -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
