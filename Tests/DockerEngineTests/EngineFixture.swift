import AsyncHTTPClient
import BerthCore
import DockerEngine
import Foundation
import Testing

/// Whether tests that need a real engine run. Under CI (or `BERTH_REQUIRE_ENGINE`) they always
/// run, so a missing engine fails them instead of skipping them.
enum Engine {
    static var required: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["true", "1", "yes"].contains((env["BERTH_REQUIRE_ENGINE"] ?? env["CI"] ?? "").lowercased())
    }

    static var reachable: Bool {
        if let host = ProcessInfo.processInfo.environment["DOCKER_HOST"], !host.isEmpty { return true }
        return FileManager.default.fileExists(atPath: DockerHost.defaultSocket)
    }

    static var enabled: Bool { required || reachable }
}

/// A throwaway corner of the engine for one test: everything it creates carries the label
/// `berth.test=<run id>` and is removed afterwards, also when the test fails.
final class EngineFixture: @unchecked Sendable {
    let client: DockerClient
    let runID = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    var label: String { "berth.test=\(runID)" }
    var labels: [String: String] { ["berth.test": String(runID)] }
    private var folders: [String] = []
    private var images: [String] = []
    private var networks: [String] = []

    private init() throws {
        client = try DockerClient()
    }

    /// Runs `body` with a fixture and cleans up whatever happened.
    static func with(_ body: (EngineFixture) async throws -> Void) async throws {
        let fixture = try EngineFixture()
        do {
            try await body(fixture)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    private func cleanUp() async {
        for container in (try? await client.listContainers(all: true, labels: [label])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for network in networks { try? await client.removeNetwork(network) }
        // Without pruning: an image's untagged parents are the build cache other tests' builds
        // of the same steps are using right now ("unable to find image sha256:…" otherwise).
        for image in ((try? await client.listImages(labels: [label])) ?? []).map(\.id) + images {
            try? await client.removeImage(image, force: true, prune: false)
        }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        try? await client.shutdown()
    }

    func track(image: String) { images.append(image) }
    func track(network: String) { networks.append(network) }

    /// A unique image name for this run.
    func tag(_ suffix: String = "img") -> String { "berth-test/\(runID)-\(suffix):v1" }

    /// A build context holding Debian's static busybox and the given Dockerfile lines after
    /// `FROM scratch`, a label naming the run, and `COPY busybox /bin/busybox`.
    func busyboxContext(_ dockerfile: [String] = [], files: [String: String] = [:]) throws -> String {
        let folder = NSTemporaryDirectory() + "berth-engine-\(runID)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        folders.append(folder)
        let busybox = try #require(["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.fileExists(atPath: $0) },
                                   "busybox-static is missing: `make test` installs it")
        try FileManager.default.copyItem(atPath: busybox, toPath: folder + "/busybox")
        // The first step is unique to this run, so no two runs share a layer: removing one run's
        // image can never remove a parent layer another run's build is using.
        let lines = ["FROM scratch", "LABEL berth.test.run=\(runID)", "COPY busybox /bin/busybox"] + dockerfile
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        for (name, text) in files {
            let path = (folder as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return folder
    }

    /// Builds the busybox image with an HTTP server on 8080 whose page shows `$MESSAGE`.
    func webImage() async throws -> String {
        let context = try busyboxContext([
            "EXPOSE 8080",
            #"CMD ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /www && echo \"message=$MESSAGE\" > /www/index.html && echo started on stdout && echo warning on stderr >&2 && exec /bin/busybox httpd -f -p 8080 -h /www"]"#,
        ])
        var options = BuildOptions(contextDirectory: context, tags: [tag("web")])
        options.labels = labels
        let result = try await client.buildImage(options)
        track(image: result.imageID)
        return tag("web")
    }

    /// A container spec for `image` labelled for this run.
    func spec(_ image: String, command: [String]? = nil) -> ContainerSpec {
        var spec = ContainerSpec(image: image)
        spec.labels = labels
        spec.command = command
        return spec
    }

    /// GET `http://127.0.0.1:port/path`, retried until the server answers (bounded).
    func get(port: Int, path: String = "/", within seconds: Double = 10) async throws -> (status: UInt, body: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do {
                let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
                let body = try await response.body.collect(upTo: 1 << 20)
                return (response.status.code, String(buffer: body))
            } catch {
                if Date() > deadline { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
