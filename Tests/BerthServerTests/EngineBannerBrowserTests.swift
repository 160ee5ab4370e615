import BerthCore
import Foundation
import Testing

/// The dashboard's engine banner in a real browser (Debian's headless Chromium): `berth serve`
/// talks to the real engine through a relay (``EngineRelay``) that the test cuts and restores,
/// as a person watching the dashboard would see an engine stop answering and come back.
@Suite(
    "The dashboard's engine banner in headless Chromium, through a relay",
    .enabled(if: Engine.enabled && (Chromium.available || ProcessInfo.processInfo.environment["CI"] != nil), "no engine or no chromium here; `make test` installs both")
)
struct EngineBannerBrowserTests {
    static let banner = "document.getElementById('engine')"
    static let shown = "(!\(banner).hidden && getComputedStyle(\(banner)).display !== 'none')"
    static let gone = "(\(banner).hidden && getComputedStyle(\(banner)).display === 'none')"

    @Test("hidden while the engine answers, shown with the error once it stops, hidden again once it is back")
    func banner() async throws {
        let relay = try EngineRelay()
        defer { relay.stop() }
        try await ServeTests.withProject("banner", message: "banner") { project in
            let server = try await ServerProcess.start(folder: project.folder, environment: ["DOCKER_HOST": "unix://\(relay.path)"])
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            let browser = try Chromium()
            defer { browser.close() }
            try await browser.openPage()
            try await browser.send("Network.enable")

            try await browser.navigate(server.adminURL + "/")
            #expect(try await browser.waitFor("location.pathname === '/login' && document.getElementById('token')"), "redirected to the login form")
            _ = try await browser.evaluate("document.getElementById('token').value = \(BrowserTests.quoted(server.token)); document.querySelector('form').submit(); true")
            #expect(try await browser.waitFor("location.pathname === '/' && document.querySelector('[data-class=\"MyContainer\"]')"), "the overview shows the class")

            // The engine answers: two more polls of /api/server have been answered (so the page
            // has applied at least one of them), and the banner stays hidden.
            #expect(try await Self.polls(browser, more: 2), "the dashboard polls GET /api/server")
            #expect(try await browser.evaluate(Self.gone) as? Bool == true, "no banner while the engine answers")

            // Cut off: the monitor notices, the next poll shows the banner with the error.
            relay.cut()
            #expect(try await browser.waitFor(Self.shown, timeout: 30), "the banner shows once the engine stops answering")
            let text = try await browser.evaluate("\(Self.banner).textContent") as? String ?? ""
            #expect(text.contains("The container engine is not answering since"), "\(text)")
            let info = try await server.admin("/api/server", token: server.token)
            let engine = try #require((try JSONSerialization.jsonObject(with: Data(info.body.utf8)) as? [String: Any])?["engine"] as? [String: Any])
            #expect(engine["up"] as? Bool == false, "\(info.body)")
            let error = try #require(engine["error"] as? String, "\(info.body)")
            #expect(!error.isEmpty && text.contains(error), "the banner names the engine's error: \(text) / \(error)")
            try await browser.screenshot(BrowserTests.output + "/engine-down.png")

            // Back: the banner goes away without a reload.
            try relay.start()
            #expect(try await browser.waitFor(Self.gone, timeout: 30), "the banner hides once the engine answers again")
            #expect(try await Self.polls(browser, more: 2))
            #expect(try await browser.evaluate(Self.gone) as? Bool == true, "the banner stays hidden")
        }
    }

    /// Waits (at most 20 s) until the page has received `more` further answers to GET /api/server.
    static func polls(_ browser: Chromium, more: Int) async throws -> Bool {
        func answered() -> Int {
            browser.networkEvents.filter { event in
                guard event.method == "Network.responseReceived", let response = event.params["response"] as? [String: Any] else { return false }
                return (response["url"] as? String)?.hasSuffix("/api/server") == true
            }.count
        }
        let start = answered()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if answered() >= start + more { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
