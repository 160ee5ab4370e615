import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore

/// What to build.
public struct BuildOptions: Sendable {
    /// The build context folder.
    public var contextDirectory: String
    /// The Dockerfile, absolute or relative to the context.
    public var dockerfile: String = "Dockerfile"
    /// `repository:tag` names for the result.
    public var tags: [String] = []
    /// `ARG` values.
    public var buildArgs: [String: String] = [:]
    /// Labels put on the image.
    public var labels: [String: String] = [:]
    /// Ignore the layer cache.
    public var noCache = false
    /// Always try to pull a newer base image.
    public var pull = false

    public init(contextDirectory: String, dockerfile: String = "Dockerfile", tags: [String] = []) {
        self.contextDirectory = contextDirectory
        self.dockerfile = dockerfile
        self.tags = tags
    }
}

/// Progress of a build, message by message as the engine streams it.
public enum BuildEvent: Sendable, Equatable {
    /// A Dockerfile instruction starts: `Step 2/4 : COPY busybox /bin/busybox`.
    case step(number: Int, total: Int, instruction: String)
    /// The step before reused a cached layer.
    case cacheHit
    /// Any other line of output (a `RUN` command's output, for example).
    case output(String)
    /// The finished image's id.
    case imageID(String)
    /// The build failed; the engine's message.
    case failed(String)
}

/// A finished build.
public struct BuildResult: Sendable {
    public var imageID: String
    /// Dockerfile instructions run.
    public var steps: Int
    /// How many of them reused a cached layer.
    public var cachedSteps: Int
}

extension DockerClient {
    /// Starts a build and returns its progress as it streams. The stream ends with
    /// `.imageID` on success or `.failed` on failure.
    public func build(_ options: BuildOptions) async throws(BerthError) -> EngineStream<BuildEvent> {
        let context = try BuildContext(directory: options.contextDirectory, dockerfile: options.dockerfile)
        var query: [(String, String?)] = options.tags.map { ("t", $0) }
        query += [
            ("dockerfile", context.dockerfilePath),
            ("buildargs", options.buildArgs.isEmpty ? nil : try Self.json(options.buildArgs)),
            ("labels", options.labels.isEmpty ? nil : try Self.json(options.labels)),
            ("rm", "1"), ("forcerm", "1"),
            ("nocache", options.noCache ? "1" : nil), ("pull", options.pull ? "1" : nil),
        ]
        let response = try await send(Request(
            method: .POST, path: "/build", query: query, headers: [("Content-Type", "application/x-tar")],
            body: .stream(context, length: .unknown), timeout: .seconds(600),
            operation: "build \(options.contextDirectory)"
        ))
        return EngineStream(body: response.body) { BuildEventDecoder() }
    }

    /// Builds an image and returns its id once done, reporting each event to `progress`.
    /// A failed build throws `build_failed` with the engine's message and the last output.
    public func buildImage(_ options: BuildOptions, progress: (BuildEvent) -> Void = { _ in }) async throws(BerthError) -> BuildResult {
        var imageID: String?
        var steps = 0
        var cached = 0
        var recent: [String] = []
        do {
            for try await event in try await build(options) {
                progress(event)
                switch event {
                case .step: steps += 1
                case .cacheHit: cached += 1
                case .output(let line):
                    recent.append(line)
                    if recent.count > 10 { recent.removeFirst() }
                case .imageID(let id): imageID = id
                case .failed(let message):
                    let tail = recent.isEmpty ? "" : "\n" + recent.map { "  \($0)" }.joined(separator: "\n")
                    throw BerthError(.buildFailed, "building \(options.contextDirectory) failed: \(message)\(tail)")
                }
            }
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.engineError, "building \(options.contextDirectory): the connection to the engine broke", cause: error)
        }
        guard let imageID else {
            throw BerthError(.buildFailed, "building \(options.contextDirectory) ended without an image id")
        }
        return BuildResult(imageID: imageID, steps: steps, cachedSteps: cached)
    }
}

/// Turns the engine's build messages (`{"stream": …}`, `{"aux": {"ID": …}}`, `{"error": …}`)
/// into ``BuildEvent``s, one output line at a time.
struct BuildEventDecoder: StreamDecoder {
    struct Message: Decodable {
        struct Aux: Decodable { var ID: String? }
        struct ErrorDetail: Decodable { var message: String? }
        var stream: String?
        var status: String?
        var aux: Aux?
        var error: String?
        var errorDetail: ErrorDetail?
    }

    var messages = JSONLinesDecoder<Message>()
    var pending: [BuildEvent] = []
    var partialLine = ""

    mutating func feed(_ chunk: ByteBuffer) { messages.feed(chunk) }
    mutating func endOfInput() { messages.endOfInput() }

    mutating func next() throws(BerthError) -> BuildEvent? {
        while pending.isEmpty, let message = try messages.next() {
            if let error = message.error ?? message.errorDetail?.message {
                pending.append(.failed(error.trimmingWhitespace()))
            }
            if let id = message.aux?.ID { pending.append(.imageID(id)) }
            if let text = message.stream ?? message.status { append(text) }
        }
        return pending.isEmpty ? nil : pending.removeFirst()
    }

    mutating func append(_ text: String) {
        partialLine += text
        while let newline = partialLine.firstIndex(of: "\n") {
            let line = String(partialLine[..<newline])
            partialLine = String(partialLine[partialLine.index(after: newline)...])
            if let event = Self.event(for: line) { pending.append(event) }
        }
    }

    static func event(for rawLine: String) -> BuildEvent? {
        let line = rawLine.trimmingWhitespace()
        guard !line.isEmpty else { return nil }
        if line.hasPrefix("Step "), let colon = line.range(of: " : ") {
            let counts = line[line.index(line.startIndex, offsetBy: 5)..<colon.lowerBound].split(separator: "/")
            if counts.count == 2, let number = Int(counts[0]), let total = Int(counts[1]) {
                return .step(number: number, total: total, instruction: String(line[colon.upperBound...]))
            }
        }
        if line == "---> Using cache" { return .cacheHit }
        return .output(line)
    }
}
