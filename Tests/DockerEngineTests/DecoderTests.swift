@testable import DockerEngine
import Foundation
import BerthCore
import NIOCore
import Testing

@Suite("Engine stream decoders")
struct DecoderTests {
    /// Feeds `bytes` to a decoder in pieces of `chunk` bytes and collects every element.
    func run<D: StreamDecoder>(_ decoder: D, _ bytes: [UInt8], chunk: Int) throws -> [D.Element] {
        var decoder = decoder
        var out: [D.Element] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            decoder.feed(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
            while let element = try decoder.next() { out.append(element) }
        }
        decoder.endOfInput()
        while let element = try decoder.next() { out.append(element) }
        return out
    }

    func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let length = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)] + payload
    }

    @Test("log frames: stdout and stderr told apart, whatever the chunking", arguments: [1, 3, 8, 1000])
    func logFrames(chunk: Int) throws {
        let bytes = frame(1, "hello\n") + frame(2, "oops\n") + frame(1, "") + frame(1, "bye")
        let chunks = try run(LogFrameDecoder(tty: false), bytes, chunk: chunk)
        #expect(chunks.map(\.stream) == [.stdout, .stderr, .stdout, .stdout])
        #expect(chunks.map(\.text) == ["hello\n", "oops\n", "", "bye"])
    }

    @Test("log lines: partial lines are joined per stream, the last line is kept", arguments: [1, 5, 1000])
    func logLines(chunk: Int) throws {
        let bytes = frame(1, "par") + frame(2, "err one\nerr ") + frame(1, "tial\r\nnext") + frame(2, "two\n")
        let lines = try run(LogLineDecoder(frames: LogFrameDecoder(tty: false), timestamps: false), bytes, chunk: chunk)
        #expect(lines == [
            LogLine(stream: .stderr, timestamp: nil, text: "err one"),
            LogLine(stream: .stdout, timestamp: nil, text: "partial"),
            LogLine(stream: .stderr, timestamp: nil, text: "err two"),
            LogLine(stream: .stdout, timestamp: nil, text: "next"),
        ])
    }

    @Test("log lines with timestamps")
    func logTimestamps() throws {
        let bytes = frame(1, "2026-11-29T02:00:00.123456789Z hello world\n")
        let lines = try run(LogLineDecoder(frames: LogFrameDecoder(tty: false), timestamps: true), bytes, chunk: 7)
        #expect(lines == [LogLine(stream: .stdout, timestamp: "2026-11-29T02:00:00.123456789Z", text: "hello world")])
    }

    @Test("a TTY container's output is raw stdout")
    func tty() throws {
        let chunks = try run(LogFrameDecoder(tty: true), Array("raw output\n".utf8), chunk: 4)
        #expect(chunks.allSatisfy { $0.stream == .stdout })
        #expect(chunks.map(\.text).joined() == "raw output\n")
    }

    @Test("a stream cut inside a frame is an error, not a silent loss")
    func truncatedFrame() throws {
        let bytes = Array(frame(1, "hello").dropLast(2))
        #expect(throws: BerthError.self) { try run(LogFrameDecoder(tty: false), bytes, chunk: 100) }
    }

    @Test("JSON lines: split across chunks, blank lines skipped, last line without newline")
    func jsonLines() throws {
        struct Message: Decodable, Equatable { var n: Int }
        let bytes = Array("{\"n\":1}\r\n\n{\"n\":2}\n   \n{\"n\":3}".utf8)
        let messages = try run(JSONLinesDecoder<Message>(), bytes, chunk: 3)
        #expect(messages == [Message(n: 1), Message(n: 2), Message(n: 3)])
    }

    @Test("engine events decode, with the exit code of a die event")
    func events() throws {
        let json = #"{"status":"die","id":"abc","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"137","berth.app":"x","name":"web"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#
        let events = try run(JSONLinesDecoder<EngineEvent>(), Array((json + "\n").utf8), chunk: 16)
        let event = try #require(events.first)
        #expect(event.type == "container")
        #expect(event.action == "die")
        #expect(event.actor.id == "abc")
        #expect(event.exitCode == 137)
        #expect(event.actor.attributes["berth.app"] == "x")
    }

    @Test("build messages become steps, cache hits, output, the image id and failures")
    func buildEvents() throws {
        let messages = [
            #"{"stream":"Step 1/3 : FROM scratch"}"#, #"{"stream":"\n"}"#, #"{"stream":" ---\u003e \n"}"#,
            #"{"stream":"Step 2/3 : COPY busybox /bin/busybox\n"}"#, #"{"stream":" ---\u003e Using cache\n ---\u003e 5d1a\n"}"#,
            #"{"aux":{"ID":"sha256:abc"}}"#, #"{"stream":"Successfully built abc\n"}"#,
            #"{"errorDetail":{"message":"COPY failed: no such file"},"error":"COPY failed: no such file"}"#,
        ]
        let events = try run(BuildEventDecoder(), Array(messages.joined(separator: "\r\n").utf8), chunk: 9)
        #expect(events == [
            .step(number: 1, total: 3, instruction: "FROM scratch"), .output("--->"),
            .step(number: 2, total: 3, instruction: "COPY busybox /bin/busybox"), .cacheHit, .output("---> 5d1a"),
            .imageID("sha256:abc"), .output("Successfully built abc"), .failed("COPY failed: no such file"),
        ])
    }

    @Test("push and pull progress, with the registry's error surfaced")
    func progress() throws {
        let text = #"{"status":"Pushing","progressDetail":{},"progress":"[=>  ] 1MB/3MB","id":"a1"}"# + "\n" + #"{"errorDetail":{"message":"denied"},"error":"denied"}"# + "\n"
        let messages = try run(JSONLinesDecoder<ProgressMessage>(), Array(text.utf8), chunk: 10)
        #expect(messages.map(\.line) == ["a1: Pushing [=>  ] 1MB/3MB", "error: denied"])
    }
}

@Suite("Engine client basics")
struct ClientBasicsTests {
    @Test("DOCKER_HOST forms", arguments: [
        ("unix:///var/run/docker.sock", DockerHost.unix(path: "/var/run/docker.sock")),
        ("tcp://127.0.0.1:2375", .tcp(host: "127.0.0.1", port: 2375)),
        ("tcp://localhost", .tcp(host: "localhost", port: 2375)),
        ("http://[::1]:2376", .tcp(host: "::1", port: 2376)),
    ])
    func hosts(text: String, host: DockerHost) throws {
        #expect(try DockerHost.parse(text) == host)
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": text]) == host)
    }

    @Test("unusable DOCKER_HOST values say why", arguments: ["ssh://host", "unix://relative", "tcp://:80", "tcp://host:99999"])
    func badHosts(text: String) {
        #expect(throws: DockerHostError.self) { try DockerHost.parse(text) }
    }

    @Test("no DOCKER_HOST means the default socket")
    func defaultHost() throws {
        #expect(try DockerHost.fromEnvironment([:]) == .unix(path: "/var/run/docker.sock"))
    }

    @Test("API versions compare numerically")
    func versions() {
        #expect(!(APIVersion("1.41")! < APIVersion("1.9")!))
        #expect(APIVersion("1.9")! < APIVersion("1.41")!)
        #expect(min(APIVersion("1.52")!, DockerClient.maximumAPIVersion) == DockerClient.maximumAPIVersion)
        #expect(APIVersion("x") == nil)
    }

    @Test("image references split into repository and tag", arguments: [
        ("busybox", "busybox", "latest"), ("busybox:1", "busybox", "1"), ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app", "v2"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app", "latest"),
    ])
    func references(reference: String, repository: String, tag: String) {
        let split = DockerClient.splitReference(reference)
        #expect(split.repository == repository)
        #expect(split.tag == tag)
    }

    @Test("engine errors keep the engine's message and map to codes", arguments: [
        (404, BerthError.Code.notFound), (409, .conflict), (400, .invalidInput), (500, .engineError),
    ])
    func apiErrors(status: Int, code: BerthError.Code) throws {
        let error = DockerClient.apiError(status: status, body: #"{"message":"No such container: web"}"#, operation: "inspect container web")
        #expect(error.code == code)
        #expect(error.message == "inspect container web: No such container: web")
        let cause = try #require(error.cause as? DockerAPIError)
        #expect(cause.status == status)
        #expect(cause.message == "No such container: web")
    }

    @Test("registry credentials travel as base64url JSON")
    func registryAuth() throws {
        let header = RegistryAuth(username: "u", password: "p?>", serverAddress: "127.0.0.1:5000").header
        #expect(!header.contains("+") && !header.contains("/"))
        let standard = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let json = String(decoding: try #require(Data(base64Encoded: standard)), as: UTF8.self)
        #expect(json.contains(#""username":"u""#))
        #expect(json.contains(#""serveraddress":"127.0.0.1:5000""#))
    }

    @Test("a container spec publishes ports on loopback only, with ephemeral host ports")
    func specEncoding() throws {
        var spec = ContainerSpec(image: "app")
        spec.publishedPorts = [8080]
        spec.environment = ["B": "2", "A": "1"]
        spec.memoryBytes = 256 << 20
        spec.nanoCPUs = 62_500_000
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(spec), as: UTF8.self)
        #expect(json.contains(#""PortBindings":{"8080\/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}"#))
        #expect(json.contains(#""Env":["A=1","B=2"]"#))
        #expect(json.contains(#""Memory":268435456"#))
        #expect(json.contains(#""NanoCpus":62500000"#))
    }
}
