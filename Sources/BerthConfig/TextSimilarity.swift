import Foundation

/// Spelling help for messages: "did you mean …?"
enum TextSimilarity {
    /// The candidate closest to `word`, when `word` is probably a typo of it.
    static func closest(_ word: String, in candidates: some Collection<String>) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in candidates.sorted() {
            let distance = editDistance(word.lowercased(), candidate.lowercased())
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        guard let best, best.distance > 0, best.distance < word.count, best.distance <= max(2, word.count / 3) else { return nil }
        return best.name
    }

    /// Levenshtein distance between two strings, counted in characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                let substitution = previous[j - 1] + cost
                let insertion = current[j - 1] + 1
                let deletion = previous[j] + 1
                current[j] = min(substitution, min(insertion, deletion))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// JSON text for values kept as strings (non-string `vars`).
enum JSONText {
    static func render(_ node: ConfigNode) -> String {
        switch node.value {
        case .object(let members):
            return "{" + members.map { "\(string($0.key)):\(render($0.value))" }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
        case .string(let s): return string(s)
        case .integer(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        case .null: return "null"
        }
    }

    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
