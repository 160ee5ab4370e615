import BerthCore
import DockerEngine
import Foundation

/// ``ImageStore`` on a Docker engine: builds through its builder (layer cache), the
/// registry operations through its push and pull.
extension DockerRuntime: ImageStore {
    public func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError) -> String {
        var options = BuildOptions(contextDirectory: request.contextDirectory, dockerfile: request.dockerfile, tags: request.tags)
        options.buildArgs = request.buildArgs
        options.labels = request.labels
        let report: (BuildEvent) -> Void = { event in
            switch event {
            case .step(let number, let total, let instruction): progress(.step(number: number, total: total, instruction: instruction))
            case .cacheHit: progress(.cacheHit)
            case .output(let line): progress(.output(line))
            case .imageID, .failed: break
            }
        }
        do {
            return try await client.buildImage(options, progress: report).imageID
        } catch where error.code == .buildFailed && error.message.contains("unable to find image") {
            // The engine's builder picked a cached layer that an image removal running at
            // the same time deleted; once more, without that layer in the cache.
            return try await client.buildImage(options, progress: report).imageID
        }
    }

    public func pullImage(_ reference: String, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError) {
        try await client.pull(reference) { progress(.output($0.line)) }
    }

    public func inspectImage(_ reference: String) async throws(BerthError) -> ImageInfo {
        let details = try await client.inspectImage(reference)
        let ports = details.config.exposedPorts.compactMap { spec -> Int? in
            let parts = spec.split(separator: "/")
            return parts.count == 2 && parts[1] != "tcp" ? nil : Int(parts[0])
        }.sorted()
        return ImageInfo(id: details.id, exposedPorts: ports)
    }

    public func listImages(labels: [String]) async throws(BerthError) -> [ImageRecord] {
        try await client.listImages(labels: labels).map {
            ImageRecord(id: $0.id, tags: $0.repoTags, created: Date(timeIntervalSince1970: TimeInterval($0.created)), size: $0.size)
        }
    }

    public func tagImage(_ source: String, repository: String, tag: String) async throws(BerthError) {
        try await client.tagImage(source, repository: repository, tag: tag)
    }

    public func removeImage(_ reference: String) async throws(BerthError) -> ImageRemoval {
        let items = try await client.removeImage(reference)
        return ImageRemoval(untagged: items.compactMap(\.untagged), deleted: items.compactMap(\.deleted))
    }

    public func pushImage(
        repository: String, tag: String, credentials: RegistryCredentials, progress: @escaping @Sendable (String) -> Void
    ) async throws(BerthError) {
        let auth = RegistryAuth(username: credentials.username, password: credentials.password, serverAddress: credentials.server)
        try await client.push(repository, tag: tag, auth: auth) { message in
            guard let status = message.status, message.progress == nil else { return }
            if status.hasPrefix("Pushed") || status.hasPrefix("Layer already exists") || status.contains("digest:") {
                progress("\(message.id.map { "\($0): " } ?? "")\(status)")
            }
        }
    }
}

/// ``InstanceOutput`` and ``EngineDriver`` on a Docker engine.
extension DockerRuntime: EngineDriver {
    public func ping() async throws(BerthError) {
        try await client.ping()
    }

    public func logLines(_ containerID: String, follow: Bool, since: Date?) async throws(BerthError) -> AsyncThrowingStream<InstanceLogLine, any Error> {
        var options = LogOptions()
        options.follow = follow
        options.since = since.map { $0.timeIntervalSince1970 }
        let lines = try await client.logLines(containerID, options: options)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await line in lines {
                        if Task.isCancelled { break }
                        continuation.yield(InstanceLogLine(stream: line.stream.rawValue, text: line.text))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func stats(_ containerID: String) async throws(BerthError) -> InstanceStats {
        let stats = try await client.containerStats(containerID)
        return InstanceStats(
            cpuNanoseconds: stats.cpuTotalNanoseconds, systemCPUNanoseconds: stats.systemCPUNanoseconds, onlineCPUs: stats.onlineCPUs,
            memoryBytes: stats.memoryUsageBytes, memoryLimitBytes: stats.memoryLimitBytes
        )
    }
}
