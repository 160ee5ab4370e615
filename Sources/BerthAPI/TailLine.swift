import Foundation

/// One line of `berth tail`: a line a container wrote, or an instance starting or stopping
/// to be followed.
public struct TailLine: Sendable, Codable, Equatable {
    /// `log`, `attach` (an instance is followed from now) or `detach` (its output ended).
    public var type: String
    public var time: Date
    public var className: String
    public var object: String
    public var instance: String
    /// `stdout` or `stderr`, for `log`.
    public var stream: String?
    public var line: String?


    public init(
        type: String, time: Date, className: String, object: String, instance: String, stream: String? = nil,
        line: String? = nil
    ) {
        self.type = type
        self.time = time
        self.className = className
        self.object = object
        self.instance = instance
        self.stream = stream
        self.line = line
    }
    enum CodingKeys: String, CodingKey {
        case type, time, object, instance, stream, line
        case className = "class_name"
    }
}
