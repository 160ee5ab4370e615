/// `berth.classes.<Class>.logs`: how much of its output the engine keeps for each container,
/// so that one chatty container cannot fill the disk. The engine writes the output to a file
/// (the `json-file` driver, which `berth tail`, the dashboard and `docker logs` read), starts
/// a new one when it reaches `max_size` and keeps `max_files` of them: at most
/// `max_size × max_files` on disk per container (10 MiB × 3 by default).
public struct ContainerLogs: Sendable, Equatable, Codable {
    /// Bytes a log file reaches before the engine starts the next one.
    public var maxSizeBytes: Int64 = 10 << 20
    /// Log files kept, the current one included.
    public var maxFiles = 3

    public init(maxSizeBytes: Int64 = 10 << 20, maxFiles: Int = 3) {
        self.maxSizeBytes = maxSizeBytes
        self.maxFiles = maxFiles
    }

    /// Sizes `max_size` accepts: 1 KiB to 10 GiB.
    public static let sizeRange: ClosedRange<Int64> = 1024...(10 << 30)

    enum CodingKeys: String, CodingKey {
        case maxSizeBytes = "max_size_bytes", maxFiles = "max_files"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxSizeBytes = try c.decodeIfPresent(Int64.self, forKey: .maxSizeBytes) ?? 10 << 20
        maxFiles = try c.decodeIfPresent(Int.self, forKey: .maxFiles) ?? 3
    }

    /// `10m`, `512k`, `1g`, `64KiB`, `10MB` (units of 1,024) or a number of bytes; nil for
    /// anything else.
    public static func parseSize(_ text: String) -> Int64? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        let digits = rest.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int64(digits) else { return nil }
        rest = rest.dropFirst(digits.count)
        // "kib", "kb" and "k" are one unit; "b" alone is bytes.
        if rest.hasSuffix("ib") {
            guard rest.count == 3 else { return nil }
            rest = rest.dropLast(2)
        } else if rest.hasSuffix("b") {
            rest = rest.dropLast(1)
        }
        let shift: Int64
        switch rest {
        case "": shift = 0
        case "k": shift = 10
        case "m": shift = 20
        case "g": shift = 30
        default: return nil
        }
        guard number <= Int64.max >> shift else { return nil }
        return number << shift
    }
}
