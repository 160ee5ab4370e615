/// One problem found in a configuration file, located at a file, line and column and named
/// by its key path (for example `containers[0].class_name`).
public struct ConfigDiagnostic: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    /// The file as the user named it (the folder they gave joined with the file name).
    public var file: String
    public var line: Int
    public var column: Int
    /// The key path, empty for problems that belong to no key (syntax errors).
    public var path: String
    public var message: String

    public init(_ severity: Severity, file: String, at position: SourcePosition, path: String, message: String) {
        self.severity = severity
        self.file = file
        self.line = position.line
        self.column = position.column
        self.path = path
        self.message = message
    }

    /// `file:line:column: [warning: ]path: message`, the form compilers use, so editors and
    /// terminals can jump to it.
    public var description: String {
        var text = "\(file):\(line):\(column): "
        if severity == .warning { text += "warning: " }
        if !path.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// Thrown when a file cannot be parsed at all.
public struct ConfigSyntaxError: Error, Sendable {
    public var position: SourcePosition
    public var message: String
}
