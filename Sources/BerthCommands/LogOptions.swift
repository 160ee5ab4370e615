import ArgumentParser
import Foundation
import Logging

/// How Berth writes its own log: `--log-format text|json`, `--log-level`.
struct LogSettings: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object per line, with its metadata as fields.")
    var format: Format = .text

    @Option(name: .customLong("log-level"), help: "trace, debug, info (default), notice, warning, error or critical.")
    var level: Logger.Level = .info

    /// Sets up logging for the process; call once, before any logger is made.
    func bootstrap() {
        Self.bootstrap(format: format, level: level)
    }

    static func bootstrap(format: Format, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A command that sets up logging from its own flags.
protocol ConfiguresLogging {
    func bootstrapLogging()
}

extension ServeCommand: ConfiguresLogging {
    func bootstrapLogging() { listen.log.bootstrap() }
}

extension DevCommand: ConfiguresLogging {
    func bootstrapLogging() { listen.log.bootstrap() }
}

/// One JSON object per line on standard error: `time`, `level`, `label`, `message`, the
/// metadata as fields (request id, class, object, instance…), `source`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged { fields[key] = Self.plain(value) }
        fields["time"] = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["message"] = event.message.description
        fields["source"] = event.source
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }

    static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(plain)
        case .dictionary(let values): values.mapValues(plain)
        }
    }
}
