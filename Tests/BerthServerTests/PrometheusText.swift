import Foundation

/// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
/// rejects what a Prometheus server would reject, and checks histograms for consistency.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Failure: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        var help: Set<String> = []
        var seenFamilies: [String] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            let at = number + 1
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
                guard parts.count >= 3, parts[0] == "#" else { continue }  // a plain comment
                let name = parts[2]
                guard Self.isMetricName(name) else { throw Failure(line: at, reason: "bad metric name \(name)") }
                switch parts[1] {
                case "HELP":
                    guard help.insert(name).inserted else { throw Failure(line: at, reason: "second HELP for \(name)") }
                case "TYPE":
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw Failure(line: at, reason: "bad TYPE line")
                    }
                    guard types[name] == nil else { throw Failure(line: at, reason: "second TYPE for \(name)") }
                    guard !samples.contains(where: { Self.family($0.name, types) == name }) else {
                        throw Failure(line: at, reason: "TYPE for \(name) after its samples")
                    }
                    types[name] = parts[3]
                default: continue
                }
                continue
            }
            let sample = try Self.parseSample(line, at: at)
            let family = Self.family(sample.name, types)
            if let last = seenFamilies.last, last != family, seenFamilies.contains(family) {
                throw Failure(line: at, reason: "samples of \(family) are not together")
            }
            if seenFamilies.last != family { seenFamilies.append(family) }
            if types[family] == "counter", sample.value < 0 { throw Failure(line: at, reason: "negative counter") }
            samples.append(sample)
        }
        try checkHistograms()
    }

    /// The family a sample belongs to (`x_bucket` → `x` for a histogram `x`).
    static func family(_ name: String, _ types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" }
    }

    static func parseSample(_ line: String, at: Int) throws -> Sample {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { throw Failure(line: at, reason: "bad metric name \(name)") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw Failure(line: at, reason: "label without =") }
                let labelName = String(rest[..<equals])
                guard isLabelName(labelName) else { throw Failure(line: at, reason: "bad label name \(labelName)") }
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw Failure(line: at, reason: "label value not quoted") }
                rest = rest.dropFirst()
                var value = ""
                while true {
                    guard let c = rest.first else { throw Failure(line: at, reason: "unterminated label value") }
                    rest = rest.dropFirst()
                    if c == "\"" { break }
                    if c == "\\" {
                        guard let escaped = rest.first else { throw Failure(line: at, reason: "dangling escape") }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Failure(line: at, reason: "bad escape \\\(escaped)")
                        }
                    } else {
                        value.append(c)
                    }
                }
                guard labels.updateValue(value, forKey: labelName) == nil else { throw Failure(line: at, reason: "label \(labelName) twice") }
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw Failure(line: at, reason: "expected , or }") }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Failure(line: at, reason: "no space before the value") }
        let fields = rest.split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { throw Failure(line: at, reason: "expected a value and an optional timestamp") }
        let text = String(fields[0])
        let value: Double? = switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
        guard let value else { throw Failure(line: at, reason: "bad value \(text)") }
        if fields.count == 2, Int64(fields[1]) == nil { throw Failure(line: at, reason: "bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    /// Buckets cumulative and ending in +Inf equal to _count, for every label set.
    func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.name == family + "_bucket" }
            var series: [[String: String]: [(Double, Double)]] = [:]
            for bucket in buckets {
                guard let le = bucket.labels["le"], let bound = le == "+Inf" ? Double.infinity : Double(le) else {
                    throw Failure(line: 0, reason: "\(family)_bucket without a valid le")
                }
                var key = bucket.labels
                key["le"] = nil
                series[key, default: []].append((bound, bucket.value))
            }
            for (labels, points) in series {
                let sorted = points.sorted { $0.0 < $1.0 }
                guard sorted.last?.0 == .infinity else { throw Failure(line: 0, reason: "\(family) \(labels) has no +Inf bucket") }
                for (a, b) in zip(sorted, sorted.dropFirst()) where b.1 < a.1 {
                    throw Failure(line: 0, reason: "\(family) \(labels) buckets are not cumulative")
                }
                guard let count = samples.first(where: { $0.name == family + "_count" && $0.labels == labels })?.value, count == sorted.last!.1,
                      samples.contains(where: { $0.name == family + "_sum" && $0.labels == labels })
                else { throw Failure(line: 0, reason: "\(family) \(labels): _count and _sum must match the +Inf bucket") }
            }
        }
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }
}
