import ArgumentParser
import BerthAPI
import BerthCore
import Foundation

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow the stdout and stderr of running instances, live, until Ctrl-C.",
        discussion: "Each line is prefixed with its instance (and object); instances that start later are followed as they start."
    )

    @Argument(help: "Only this container (its name, class or ID).")
    var container: String?

    @Option(help: "Only the instance with this id (or id prefix).")
    var instance: String?

    @Option(help: "Also show what running instances wrote in this past period (e.g. 10m).")
    var since: String?

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print each line as JSON (type, time, class_name, object, instance, stream, line).")
    var json = false

    func validate() throws {
        if let since, DurationText.parse(since) == nil { throw ValidationError("--since \(since) is not a duration (examples: 30s, 10m, 2h)") }
    }

    func run() async throws {
        var query: [String] = []
        if let container { query.append("container=\(pathComponent(container))") }
        if let instance { query.append("instance=\(pathComponent(instance))") }
        if let since { query.append("since=\(pathComponent(since))") }
        do {
            let admin = try selection.client()
            let response = try await admin.execute(.GET, "/api/logs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), timeout: .hours(24 * 365))
            var pending = Data()
            do {
                for try await chunk in response.body {
                    pending.append(contentsOf: chunk.readableBytesView)
                    while let newline = pending.firstIndex(of: 0x0A) {
                        let line = pending[pending.startIndex..<newline]
                        pending = Data(pending[(newline + 1)...])
                        if json {
                            printLine(String(decoding: line, as: UTF8.self))
                        } else if let entry = try? AdminJSON.decoder.decode(TailLine.self, from: line) {
                            printLine(Self.text(entry))
                        }
                    }
                }
            } catch {
                throw BerthError(.unavailable, "the log stream from \(admin.baseURL) ended: \(AdminClient.reason(error))")
            }
        } catch let error as BerthError {
            throw fail(error)
        }
    }

    /// `[a1b2c3d4 /container/1] line`, stderr marked.
    static func text(_ entry: TailLine) -> String {
        let prefix = "[\(entry.instance.prefix(8)) \(entry.object)]"
        switch entry.type {
        case "attach": return "\(prefix) ── following \(entry.className) instance \(entry.instance)"
        case "detach": return "\(prefix) ── output ended"
        default: return "\(prefix)\(entry.stream == "stderr" ? " stderr:" : "") \(entry.line ?? "")"
        }
    }
}
