import BerthCore
import BerthTestSupport
import Foundation
import Testing

/// `berth serve` with `berth.tls` on both listeners, against the real engine, with clients
/// from outside: curl (HTTP/2 and HTTP/1.1, SNI), the `berth` CLI (verifying against the
/// test's CA with `--ca`), Python's `ssl` holding a connection open across a certificate
/// renewal, and headless Chromium on the dashboard and the gateway.
@Suite("TLS on the gateway and the admin listener", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct TLSServeTests {
    @Test("https and h2 on both listeners, the warm path over TLS, SNI, --ca, a renewal read without dropping connections, Chromium")
    func servesTLS() async throws {
        let ca = try TestCertificates()
        defer { ca.remove() }
        let berth = #"""
        { "instance_get_timeout": "60s", "stop_grace_period": "2s",
          "tls": { "gateway": [ { "cert": "tls/site.crt", "key": "tls/site.key" }, { "cert": "tls/other.crt", "key": "tls/other.key" } ],
                   "admin": { "cert": "tls/site.crt", "key": "tls/site.key" } } }
        """#
        let project = try ExampleProject(prefix: "tls", berth: berth)
        defer { project.remove() }
        let tlsFolder = project.folder + "/tls"
        try FileManager.default.createDirectory(atPath: tlsFolder, withIntermediateDirectories: true)
        try ca.issue("site", names: ["localhost", "127.0.0.1"], certPath: tlsFolder + "/site.crt", keyPath: tlsFolder + "/site.key")
        try ca.issue("other", names: ["other.test"], certPath: tlsFolder + "/other.crt", keyPath: tlsFolder + "/other.key")
        do {
            try await run(project, ca: ca)
        } catch {
            await ServeTests.cleanUp(app: project.app)
            throw error
        }
        await ServeTests.cleanUp(app: project.app)
    }

    func run(_ project: ExampleProject, ca: TestCertificates) async throws {
        let server = try await ServerProcess.start(folder: project.folder)
        defer { server.stop() }
        #expect(server.output.contains { $0.contains("Ready on https://127.0.0.1:") }, "\(server.output)")
        #expect(server.adminURL.hasPrefix("https://127.0.0.1:"), "\(server.adminURL)")
        let port = server.gatewayPort
        let adminPort = try #require(server.adminURL.split(separator: ":").last.flatMap { Int($0) })
        let selection = ["--project", project.folder]
        let check = try await berth(["config", "check", project.folder])
        #expect(check.output.contains("gateway               https://127.0.0.1:8787 (TLS: ./tls/site.crt, ./tls/other.crt)"), "\(check.output)")
        #expect(check.output.contains("admin                 https://127.0.0.1:8788 (TLS: ./tls/site.crt)"), "\(check.output)")

        // The CLI verifies the admin listener's certificate: refused without the CA, with
        // what to do; accepted with --ca or BERTH_CA.
        let untrusted = try await berth(["containers", "list"] + selection)
        #expect(untrusted.status != 0)
        #expect(untrusted.errors.contains("not trusted") && untrusted.errors.contains("--ca FILE"), "\(untrusted.errors)")
        let deployed = try await berth(["deploy", project.folder, "--containers-rollout", "immediate", "--ca", ca.caPath])
        #expect(deployed.status == 0, "\(deployed.errors)")
        let listed = try await berth(["containers", "list"] + selection, environment: ["BERTH_CA": ca.caPath])
        #expect(listed.status == 0 && listed.output.contains("web"), "\(listed.output) \(listed.errors)")
        let missingCA = try await berth(["containers", "list", "--ca", ca.folder + "/none.pem"] + selection)
        #expect(missingCA.status != 0 && missingCA.errors.contains("none.pem"), "\(missingCA.errors)")

        // HTTP/2 through the Worker's path, HTTP/1.1 through the warm path (the second request
        // on the connection): the container hears https either way.
        let gateway = "https://localhost:\(port)"
        let h2 = try Curl.run(["-sS", "--http2", "--cacert", ca.caPath, "-w", "\n%{http_version} %{http_code}", gateway + "/container/tls/headers"])
        #expect(h2.output.hasSuffix("\n2 200"), "\(h2.output) \(h2.errors)")
        #expect(h2.output.contains("X-Forwarded-Proto: https"), "\(h2.output)")
        let h1 = try Curl.run([
            "-sS", "--http1.1", "--cacert", ca.caPath, "-w", "\n%{http_version} %{http_code} %{num_connects}\n",
            gateway + "/container/tls/headers", gateway + "/container/tls/headers",
        ])
        let answers = h1.output.components(separatedBy: "\n1.1 200")
        #expect(answers.count == 3, "two HTTP/1.1 answers: \(h1.output) \(h1.errors)")
        #expect(answers.prefix(2).allSatisfy { $0.contains("X-Forwarded-Proto: https") }, "\(h1.output)")
        #expect(h1.output.contains("1.1 200 0\n"), "the second request reused the connection: \(h1.output)")
        // WebSockets over TLS (wss://), cold and warm.
        for path in ["/container/tls/ws", "/container/tls/ws"] {
            let echo = try await WebSocketClient.run("echo", "wss://localhost:\(port)\(path)", ["--count", "100", "--size", "64", "--ca", ca.caPath])
            #expect(echo.int("received") == 100 && echo.bool("in_order") == true, "\(echo)")
        }
        let plain = try Curl.run(["-sS", "--max-time", "10", "http://127.0.0.1:\(port)/container/tls"])
        #expect(plain.status != 0, "plain HTTP to a TLS listener gets no answer: \(plain.output)")

        // SNI: other.test gets its own certificate; the admin listener speaks h2 too.
        let other = try Curl.run(["-sS", "-v", "--cacert", ca.caPath, "--resolve", "other.test:\(port):127.0.0.1", "https://other.test:\(port)/container/tls"])
        #expect(other.errors.contains("subject: CN=other.test") && other.output.contains("my instance ID is:"), "\(other.errors)")
        let admin = try Curl.run([
            "-sS", "--http2", "--cacert", ca.caPath, "-H", "Authorization: Bearer \(server.token)", "-w", "\n%{http_version}",
            "https://localhost:\(adminPort)/api/server",
        ])
        #expect(admin.output.contains("\"server_id\"") && admin.output.hasSuffix("\n2"), "\(admin.output) \(admin.errors)")

        // Chromium trusts the site certificate's key: the dashboard logs in over h2, and the
        // gateway serves a page.
        let spki = try ca.spkiHash(project.folder + "/tls/site.crt")
        try await browse(server: server, adminPort: adminPort, spki: spki)

        // A renewal: new files for the same names. A connection open before it keeps working;
        // new connections get the new certificate; the server says so.
        let holder = try KeptConnection(port: port, ca: ca.caPath, path: "/container/tls")
        defer { holder.stop() }
        try await holder.waitForFirstAnswer()
        let tls = project.folder + "/tls"
        try ca.issue("renewed", names: ["127.0.0.1", "localhost"], certPath: tls + "/renewed.crt", keyPath: tls + "/renewed.key")
        // As a renewal tool writes them: each file replaced in one rename, the key first.
        #expect(rename(tls + "/renewed.key", tls + "/site.key") == 0 && rename(tls + "/renewed.crt", tls + "/site.crt") == 0)
        #expect(try await waitFor(30) { server.output.contains { $0.contains("TLS: the gateway's certificates were read again") } }, "\(server.output)")
        #expect(try await waitFor(30) { server.output.contains { $0.contains("TLS: the admin listener's certificates were read again") } }, "\(server.output)")
        let second = try holder.finish()
        #expect(second.hasPrefix("HTTP/1.1 200"), "the connection opened before the renewal still answers: \(second)")
        let renewed = try Curl.run(["-sS", "-v", "--cacert", ca.caPath, gateway + "/container/tls"])
        #expect(renewed.errors.contains("subject: CN=127.0.0.1") && renewed.output.contains("my instance ID is:"), "\(renewed.errors)")
        #expect(try await berth(["containers", "list", "--ca", ca.caPath] + selection).status == 0, "the CLI trusts the renewed admin certificate")
    }

    func browse(server: ServerProcess, adminPort: Int, spki: String) async throws {
        guard Chromium.available else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("chromium is missing; `make test` installs it") }
            return
        }
        let browser = try Chromium(arguments: ["--ignore-certificate-errors-spki-list=\(spki)"])
        defer { browser.close() }
        try await browser.openPage()
        try await browser.send("Network.enable")
        let login = try await Self.tried(browser) {
            try await browser.navigate("https://localhost:\(adminPort)/")
            let overview = "location.pathname === '/' && document.querySelector('[data-class=\"MyContainer\"]')"
            // A retried attempt may find the session an earlier one's login made: the overview.
            guard try await browser.waitFor("(location.pathname === '/login' && document.getElementById('token')) || (\(overview))", timeout: 20) else { return false }
            if try await browser.evaluate("location.pathname") as? String == "/" { return true }
            _ = try await browser.evaluate("document.getElementById('token').value = \(BrowserTests.quoted(server.token)); document.querySelector('form').submit(); true")
            return try await browser.waitFor(overview, timeout: 20)
        }
        #expect(login.done, "the login form over https, then the overview; \(login.account)")
        let protocolName = try await browser.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") as? String
        #expect(protocolName == "h2", "the dashboard is served over HTTP/2: \(protocolName ?? "nil")")
        #expect(try await browser.evaluate("location.protocol") as? String == "https:")
        try await browser.screenshot(BrowserTests.output + "/dashboard-tls.png")

        let page = try await Self.tried(browser) {
            try await browser.navigate("https://localhost:\(server.gatewayPort)/container/browser")
            return try await browser.waitFor("document.body && document.body.innerText.includes('my instance ID is:')", timeout: 20)
        }
        #expect(page.done, "the gateway answers the browser; \(page.account)")
    }

    /// Runs `step` (navigations that end in an awaited condition) up to three times: again only
    /// when it failed and Chromium dropped a load with net::ERR_NETWORK_CHANGED, which Docker
    /// adding a container's network interface (another test's container starting) causes: the
    /// host's doing, not Berth's. Whether it was done, and what the page and the failed loads
    /// were at the end.
    static func tried(_ browser: Chromium, _ step: () async throws -> Bool) async throws -> (done: Bool, account: String) {
        for attempt in 1...3 {
            let seen = browser.networkEvents.count
            let done = try await step()
            let failures = browser.networkEvents.dropFirst(seen).filter { $0.method == "Network.loadingFailed" }.map { "\($0.params["errorText"] ?? "")" }
            if !done && failures.contains("net::ERR_NETWORK_CHANGED") { print("TLSServeTests: Chromium dropped a load (net::ERR_NETWORK_CHANGED), attempt \(attempt)") }
            if done || attempt == 3 || !failures.contains("net::ERR_NETWORK_CHANGED") {
                let page = try await browser.evaluate("location.href + ' ' + (document.body ? document.body.innerText : '')") as? String ?? ""
                return (done, "attempt \(attempt); the page shows \(page.prefix(300)); failed loads: \(failures)")
            }
        }
        return (false, "")
    }

    /// Polls `condition` every 200 ms for at most `seconds`.
    func waitFor(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return condition()
    }
}

/// A TLS connection (Python's `ssl`, verifying against the CA) that asks once, waits for a
/// file to appear, then asks again on the same connection.
final class KeptConnection: Sendable {
    let process: Process
    let folder: String

    init(port: Int, ca: String, path: String) throws {
        folder = NSTemporaryDirectory() + "berth-kept-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = """
        import os, socket, ssl, sys, time
        context = ssl.create_default_context(cafile=sys.argv[2])
        connection = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
        def ask():
            connection.sendall(b"GET \(path) HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\\r\\n\\r\\n")
            length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0])
            while len(body) < length:
                body += connection.recv(65536)
            return head.split(b"\\r\\n")[0].decode()
        first = ask()
        open(sys.argv[3] + "/first", "w").write(first)
        deadline = time.time() + 60
        while not os.path.exists(sys.argv[3] + "/go") and time.time() < deadline:
            time.sleep(0.1)
        open(sys.argv[3] + "/second", "w").write(ask())
        """
        try script.write(toFile: folder + "/kept.py", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [folder + "/kept.py", String(port), ca, folder]
        try process.run()
    }

    func waitForFirstAnswer() async throws {
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: folder + "/first") {
            try await Task.sleep(for: .milliseconds(100))
        }
        let first = (try? String(contentsOfFile: folder + "/first", encoding: .utf8)) ?? "(no answer)"
        guard first.hasPrefix("HTTP/1.1 200") else { throw BerthError(.internal, "the kept connection's first request: \(first)") }
    }

    /// Lets the second request go and returns its status line.
    func finish() throws -> String {
        FileManager.default.createFile(atPath: folder + "/go", contents: nil)
        process.waitUntilExit()
        return (try? String(contentsOfFile: folder + "/second", encoding: .utf8)) ?? "(no second answer; python exited \(process.terminationStatus))"
    }

    func stop() {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
