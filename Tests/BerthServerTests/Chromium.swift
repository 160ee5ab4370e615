import BerthCore
import Foundation
import Glibc
import Synchronization

/// Headless Chromium driven through the DevTools protocol over `--remote-debugging-pipe`
/// (commands on its fd 3, answers on its fd 4, each a JSON text ended by a NUL byte): a
/// real browser for the dashboard tests, with no WebSocket client and no driver binary.
final class Chromium: @unchecked Sendable {
    static let binaries = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]

    let pid: pid_t
    let commands: FileHandle
    let profile: String
    /// Answers by command id, as received.
    private let answers = Answers()

    final class Answers: Sendable {
        let storage = Mutex<[Int: Data]>([:])
        /// `Network.*` events (after `Network.enable`), as received.
        let network = Mutex<[Data]>([])
    }
    private let nextID = Mutex(0)
    private let reader: Thread
    var session: String = ""

    static var available: Bool { binaries.contains { FileManager.default.isExecutableFile(atPath: $0) } }

    /// `arguments`: more switches, e.g. which certificate keys to trust.
    init(arguments extra: [String] = []) throws {
        guard let binary = Self.binaries.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BerthError(.notFound, "chromium is missing: `make test` installs Debian's chromium")
        }
        profile = NSTemporaryDirectory() + "berth-chromium-\(UUID().uuidString)"
        // Close-on-exec: no other child (another test's) holds an end of them.
        let toBrowser = try ChildProcess.pipeClosedOnExec(for: binary)
        let fromBrowser = try ChildProcess.pipeClosedOnExec(for: binary)
        let arguments = [
            binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe", "--user-data-dir=\(profile)",
            "--window-size=1280,900",
        ] + extra + ["about:blank"]
        // Commands on its fd 3, answers from its fd 4; none of the test process's sockets open
        // in it (a browser holding a copy of a server's end keeps that connection open).
        let child = Result { () throws(BerthError) in try ChildProcess.spawn(binary, Array(arguments.dropFirst()), extra: [toBrowser[0], fromBrowser[1]]) }
        Glibc.close(toBrowser[0])
        Glibc.close(fromBrowser[1])
        pid = try child.get().pid
        commands = FileHandle(fileDescriptor: toBrowser[1], closeOnDealloc: true)
        let input = FileHandle(fileDescriptor: fromBrowser[0], closeOnDealloc: true)
        let answers = self.answers
        reader = Thread {
            var buffer = Data()
            while true {
                let data = input.availableData
                if data.isEmpty { return }
                buffer.append(data)
                while let end = buffer.firstIndex(of: 0) {
                    let message = buffer[buffer.startIndex..<end]
                    buffer.removeSubrange(buffer.startIndex...end)
                    if let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any] {
                        if let id = object["id"] as? Int {
                            answers.storage.withLock { $0[id] = Data(message) }
                        } else if (object["method"] as? String)?.hasPrefix("Network.") == true {
                            answers.network.withLock { $0.append(Data(message)) }
                        }
                    }
                }
            }
        }
        reader.start()
    }

    /// Sends a command (to the page's session unless `browser`) and waits for its answer.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], browser: Bool = false, timeout: Double = 30) async throws -> [String: Any] {
        let id = nextID.withLock { $0 += 1; return $0 }
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if !browser { message["sessionId"] = session }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(0)
        commands.write(data)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let raw = answers.storage.withLock({ $0.removeValue(forKey: id) }),
               let answer = try JSONSerialization.jsonObject(with: raw) as? [String: Any] {
                if let error = answer["error"] as? [String: Any] {
                    throw BerthError(.internal, "chromium refused \(method): \(error["message"] ?? error)")
                }
                return answer["result"] as? [String: Any] ?? [:]
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BerthError(.timeout, "chromium did not answer \(method) within \(Int(timeout)) s")
    }

    /// Opens a page and attaches to it.
    func openPage() async throws {
        let target = try await send("Target.createTarget", ["url": "about:blank"], browser: true)
        let targetID = try require(target["targetId"] as? String)
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true], browser: true)
        session = try require(attached["sessionId"] as? String)
        try await send("Page.enable")
        try await send("Runtime.enable")
    }

    /// The `Network.*` events so far (`Network.enable` starts them), each `(method, params)`.
    var networkEvents: [(method: String, params: [String: Any])] {
        answers.network.withLock { $0 }.compactMap { data in
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let method = object["method"] as? String else { return nil }
            return (method, object["params"] as? [String: Any] ?? [:])
        }
    }

    func navigate(_ url: String) async throws {
        try await send("Page.navigate", ["url": url])
    }

    /// Evaluates JavaScript in the page, returning its value.
    func evaluate(_ expression: String) async throws -> Any? {
        let result = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Waits until `expression` is true in the page.
    func waitFor(_ expression: String, timeout: Double = 30) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? await evaluate("Boolean(\(expression))")) as? Bool == true { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// A PNG of the page at `width` CSS pixels, written to `path`.
    func screenshot(_ path: String, width: Int = 1280, height: Int = 900, mobile: Bool = false) async throws {
        try await send("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile])
        try await Task.sleep(for: .milliseconds(300))
        let shot = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        let data = try require(Data(base64Encoded: shot["data"] as? String ?? ""))
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    func close() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: profile)
    }
}

/// `#require` for non-test code paths of the helper.
private func require<T>(_ value: T?, _ what: String = "a value") throws -> T {
    guard let value else { throw BerthError(.internal, "chromium's answer lacks \(what)") }
    return value
}
