import BerthTestSupport
import Foundation
import Testing

/// The dashboard's open WebSockets, in headless Chromium: the page that lists a class's
/// instances counts a socket while it is open, and drops it when it closes.
@Suite(
    "Open WebSockets on the dashboard, in headless Chromium",
    .enabled(if: Engine.enabled && (Chromium.available || ProcessInfo.processInfo.environment["CI"] != nil), "no engine or no chromium here; `make test` installs both")
)
struct WebSocketBrowserTests {
    @Test("a socket held open shows on the class page (class figure and instance row), and goes when it closes")
    func counts() async throws {
        try await ServeTests.withProject("wsdash", message: "wsdash") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            let held = WebSocketClient.start("hold", "ws://127.0.0.1:\(server.gatewayPort)/container/dash/ws", ["--seconds", "20"])
            let browser = try Chromium()
            defer { browser.close() }
            try await browser.openPage()
            try await browser.navigate(server.adminURL + "/")
            #expect(try await browser.waitFor("location.pathname === '/login' && document.getElementById('token')"))
            _ = try await browser.evaluate("document.getElementById('token').value = \(BrowserTests.quoted(server.token)); document.querySelector('form').submit(); true")
            #expect(try await browser.waitFor("location.pathname === '/' && document.querySelector('[data-class=\"MyContainer\"] h3 a')"))
            _ = try await browser.evaluate("document.querySelector('[data-class=\"MyContainer\"] h3 a').click(); true")
            #expect(try await browser.waitFor("document.querySelector('.open-websockets') && document.querySelector('.open-websockets').textContent === '1'", timeout: 20),
                    "the class page counts the open socket")
            #expect(try await browser.waitFor("[...document.querySelectorAll('#instances .websockets')].some(n => n.textContent === '1')", timeout: 20),
                    "the instance's row counts it")
            try await browser.screenshot(BrowserTests.output + "/class-websockets.png", width: 1280, height: 1400)
            _ = try await held.value
            // The page refreshes itself; after the close the figure is 0 again.
            #expect(try await browser.waitFor("document.querySelector('.open-websockets') && document.querySelector('.open-websockets').textContent === '0'", timeout: 30),
                    "the closed socket is no longer counted")
        }
    }
}
