import BerthCore

extension DockerClient {
    /// Lists images, optionally only those with every label in `labels` or matching `reference`
    /// (`repo`, `repo:tag`, wildcards allowed).
    public func listImages(labels: [String] = [], reference: String? = nil, all: Bool = false) async throws(BerthError) -> [ImageSummary] {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        if let reference { filters["reference"] = [reference] }
        return try await sendJSON(Request(
            path: "/images/json",
            query: [("all", all ? "1" : "0"), ("filters", filters.isEmpty ? nil : try Self.json(filters))],
            operation: "list images"
        ))
    }

    /// Details of an image by id or `repository:tag`.
    public func inspectImage(_ name: String) async throws(BerthError) -> ImageDetails {
        try await sendJSON(Request(path: "/images/\(name)/json", operation: "inspect image \(name)"))
    }

    /// Gives image `source` the name `repository:tag`.
    public func tagImage(_ source: String, repository: String, tag: String) async throws(BerthError) {
        try await sendDiscardingBody(Request(
            method: .POST, path: "/images/\(source)/tag", query: [("repo", repository), ("tag", tag)],
            operation: "tag image \(source) as \(repository):\(tag)"
        ))
    }

    /// Removes a tag, and the image when no tag is left. `force` also removes an image that
    /// stopped containers use.
    @discardableResult
    public func removeImage(_ name: String, force: Bool = false, prune: Bool = true) async throws(BerthError) -> [ImageDeleteItem] {
        try await sendJSON(Request(
            method: .DELETE, path: "/images/\(name)", query: [("force", force ? "1" : "0"), ("noprune", prune ? "0" : "1")],
            operation: "remove image \(name)"
        ))
    }

    /// Pushes `repository:tag` to its registry, streaming progress. The stream's errors
    /// (a refused upload) arrive as messages; ``push(_:tag:auth:progress:)`` turns them into a throw.
    public func pushStream(_ repository: String, tag: String, auth: RegistryAuth = RegistryAuth()) async throws(BerthError) -> EngineStream<ProgressMessage> {
        let response = try await send(Request(
            method: .POST, path: "/images/\(repository)/push", query: [("tag", tag)],
            headers: [("X-Registry-Auth", auth.header)], timeout: .seconds(300),
            operation: "push \(repository):\(tag)"
        ))
        return EngineStream(body: response.body) { JSONLinesDecoder<ProgressMessage>() }
    }

    /// Pushes `repository:tag` and returns when the registry holds it.
    public func push(
        _ repository: String, tag: String, auth: RegistryAuth = RegistryAuth(),
        progress: (ProgressMessage) -> Void = { _ in }
    ) async throws(BerthError) {
        try await drain(pushStream(repository, tag: tag, auth: auth), operation: "push \(repository):\(tag)", progress: progress)
    }

    /// Pulls `reference` (`repo:tag`), streaming progress.
    public func pullStream(_ reference: String, auth: RegistryAuth = RegistryAuth()) async throws(BerthError) -> EngineStream<ProgressMessage> {
        let (repository, tag) = Self.splitReference(reference)
        let response = try await send(Request(
            method: .POST, path: "/images/create", query: [("fromImage", repository), ("tag", tag)],
            headers: [("X-Registry-Auth", auth.header)], timeout: .seconds(300),
            operation: "pull \(reference)"
        ))
        return EngineStream(body: response.body) { JSONLinesDecoder<ProgressMessage>() }
    }

    /// Pulls `reference` and returns when the image is present.
    public func pull(_ reference: String, auth: RegistryAuth = RegistryAuth(), progress: (ProgressMessage) -> Void = { _ in }) async throws(BerthError) {
        try await drain(pullStream(reference, auth: auth), operation: "pull \(reference)", progress: progress)
    }

    func drain(_ stream: EngineStream<ProgressMessage>, operation: String, progress: (ProgressMessage) -> Void) async throws(BerthError) {
        do {
            for try await message in stream {
                if let error = message.error { throw BerthError(.engineError, "\(operation): \(error)") }
                progress(message)
            }
        } catch let error as BerthError {
            throw error
        } catch {
            throw BerthError(.engineError, "\(operation): the connection to the engine broke", cause: error)
        }
    }

    /// Splits `host:5000/repo:tag` into `host:5000/repo` and `tag` (default `latest`).
    public static func splitReference(_ reference: String) -> (repository: String, tag: String) {
        let withoutDigest = reference.split(separator: "@", maxSplits: 1).first.map(String.init) ?? reference
        let lastSlash = withoutDigest.lastIndex(of: "/")
        if let colon = withoutDigest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            return (String(withoutDigest[..<colon]), String(withoutDigest[withoutDigest.index(after: colon)...]))
        }
        return (withoutDigest, "latest")
    }
}
