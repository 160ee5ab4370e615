import Foundation

/// The patterns of a `.dockerignore` file, matched the way the Docker CLI matches them:
/// Go `filepath.Match` syntax plus `**`, `!` exceptions, the last matching line wins, and a
/// pattern that matches a folder excludes everything in it.
public struct DockerIgnore: Sendable {
    struct Pattern: @unchecked Sendable {  // Regex is an immutable value
        var text: String
        var exclusion: Bool
        var regex: Regex<AnyRegexOutput>?
    }

    let patterns: [Pattern]

    /// Whether some pattern is an exception (`!…`), so an excluded folder may still hold
    /// files that are sent.
    public var hasExceptions: Bool { patterns.contains { $0.exclusion } }

    public init(_ text: String) {
        var patterns: [Pattern] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(rawLine)
            if line.hasPrefix("#") { continue }
            line = line.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            var exclusion = false
            if line.hasPrefix("!") {
                exclusion = true
                line = String(line.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            line = Self.clean(line)
            while line.hasPrefix("/") { line.removeFirst() }
            guard !line.isEmpty, line != "." else { continue }
            patterns.append(Pattern(text: line, exclusion: exclusion, regex: try? Regex(Self.regex(for: line))))
        }
        self.patterns = patterns
    }

    /// Loads `.dockerignore` from a build context folder; no file means nothing is ignored.
    public init(contextDirectory: String) {
        let path = (contextDirectory as NSString).appendingPathComponent(".dockerignore")
        let text = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        self.init(text)
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    public func excludes(_ path: String) -> Bool {
        let parent = (path as NSString).deletingLastPathComponent
        let parentDirs = parent.isEmpty ? [] : parent.split(separator: "/").map(String.init)
        var matched = false
        for pattern in patterns {
            // An exception only matters once something matched; an exclusion only until then.
            if pattern.exclusion != matched { continue }
            var match = Self.matches(pattern.regex, path)
            if !match && !parentDirs.isEmpty {
                for i in parentDirs.indices where Self.matches(pattern.regex, parentDirs[...i].joined(separator: "/")) {
                    match = true
                    break
                }
            }
            if match { matched = !pattern.exclusion }
        }
        return matched
    }

    static func matches(_ regex: Regex<AnyRegexOutput>?, _ path: String) -> Bool {
        guard let regex else { return false }
        return path.wholeMatch(of: regex) != nil
    }

    /// Lexical cleaning as Go's `filepath.Clean` does it.
    static func clean(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
                continue
            }
            if part == "..", absolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// Translates a pattern into an anchored regular expression.
    static func regex(for pattern: String) -> String {
        var out = ""
        var chars = Array(pattern)[...]
        while let ch = chars.popFirst() {
            switch ch {
            case "*":
                if chars.first == "*" {
                    chars.removeFirst()
                    if chars.first == "/" { chars.removeFirst() }
                    out += chars.isEmpty ? ".*" : "(.*/)?"
                } else {
                    out += "[^/]*"
                }
            case "?":
                out += "[^/]"
            case ".", "+", "(", ")", "|", "{", "}", "$", "^":
                out += "\\" + String(ch)
            case "\\":
                if let next = chars.popFirst() { out += "\\" + String(next) } else { out += "\\\\" }
            case "[":
                out += "["
                if chars.first == "!" || chars.first == "^" {
                    chars.removeFirst()
                    out += "^"
                }
            default:
                out += String(ch)
            }
        }
        return out
    }
}
