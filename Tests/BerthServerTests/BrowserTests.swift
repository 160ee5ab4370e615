import BerthAPI
import BerthControlPlane
import BerthCore
import BerthServer
import BerthStorage
import Foundation
import Testing

/// The dashboard in a real browser (Debian's headless Chromium) against a running example:
/// log in, see the class and a live instance appear, open its logs, take screenshots.
@Suite(
    "The dashboard in headless Chromium",
    .enabled(if: Engine.enabled && (Chromium.available || ProcessInfo.processInfo.environment["CI"] != nil), "no engine or no chromium here; `make test` installs both")
)
struct BrowserTests {
    static let output = ExampleServer.repository.appendingPathComponent("test-output/dashboard").path

    @Test("log in, watch an instance appear, read its logs; screenshots of the overview and the instance page")
    func dashboard() async throws {
        try await ServeTests.withProject("browser", message: "browser") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            let browser = try Chromium()
            defer { browser.close() }
            try await browser.openPage()

            // Logging in: the form, then the overview with the class and no live instance.
            try await browser.navigate(server.adminURL + "/")
            #expect(try await browser.waitFor("location.pathname === '/login' && document.getElementById('token')"), "redirected to the login form")
            _ = try await browser.evaluate("document.getElementById('token').value = \(Self.quoted(server.token)); document.querySelector('form').submit(); true")
            #expect(try await browser.waitFor("location.pathname === '/' && document.querySelector('[data-class=\"MyContainer\"]')"), "the overview shows the class")
            #expect(try await browser.evaluate("document.cookie") as? String == "", "the session cookie is HTTP-only")
            #expect(try await browser.waitFor("document.querySelector('[data-class=\"MyContainer\"] .live-count').textContent === '0'"))

            // A request starts an instance; the page shows it without a reload.
            let reply = try await server.get("/container/browser?/log/hello-from-the-container")
            let instance = try #require(instanceID(in: reply.body))
            #expect(try await browser.waitFor("document.querySelector('[data-class=\"MyContainer\"] .live-count').textContent === '1'", timeout: 15))
            #expect(try await browser.waitFor("document.querySelector('[data-class=\"MyContainer\"] .badge').textContent === 'active'"))
            try await browser.screenshot(Self.output + "/overview.png")
            try await browser.screenshot(Self.output + "/overview-phone.png", width: 390, height: 844, mobile: true)

            // Class page → instance page → its logs, with the container's own output.
            _ = try await browser.evaluate("document.querySelector('[data-class=\"MyContainer\"] h3 a').click(); true")
            #expect(try await browser.waitFor("document.querySelector('#instances a[href=\"#/instances/\(instance)\"]')"), "the class page lists the instance")
            #expect(try await browser.waitFor("document.querySelectorAll('.chart svg').length === 6"))
            try await browser.screenshot(Self.output + "/class.png", width: 1280, height: 1400)
            _ = try await browser.evaluate("document.querySelector('#instances a[href=\"#/instances/\(instance)\"]').click(); true")
            #expect(try await browser.waitFor("document.getElementById('logs') && document.getElementById('logs').textContent.includes('hello-from-the-container')", timeout: 20))
            #expect(try await browser.waitFor("document.querySelector('.timeline') && document.querySelector('.timeline').textContent.includes('healthy')"))
            _ = try await server.get("/container/browser?/warn/a-warning-on-stderr")
            #expect(try await browser.waitFor("[...document.querySelectorAll('#logs .stderr')].some(n => n.textContent.includes('a-warning-on-stderr'))", timeout: 20))
            try await browser.screenshot(Self.output + "/instance.png")

            // The object's storage on the instance page: written here as a Worker process
            // writes it (the object's own database), shown read-only on the next refresh.
            #expect(try await browser.waitFor("document.querySelector('.storage') && document.querySelector('.storage').textContent.includes('never wrote')"))
            let detail = try await server.admin("/api/instances/\(instance)", token: server.token)
            let object = try #require((try JSONSerialization.jsonObject(with: Data(detail.body.utf8)) as? [String: Any])?["instance"] as? [String: Any])
            let objectID = try #require(object["object_id"] as? String)
            let storage = ObjectStorageRoot(folder: project.folder + "/.berth/objects").storage(className: "MyContainer", objectHex: objectID)
            try storage.put("owner", Array(#""ada""#.utf8))
            _ = try storage.exec("CREATE TABLE jobs (name TEXT); INSERT INTO jobs VALUES ('build'), ('test')")
            #expect(try await browser.waitFor("document.querySelector('.storage .keys') && document.querySelector('.storage .keys').textContent.includes('owner')", timeout: 10))
            #expect(try await browser.waitFor("document.querySelector('.storage .tables') && document.querySelector('.storage .tables').textContent.includes('jobs')"))
            try await browser.screenshot(Self.output + "/instance-storage.png", width: 1280, height: 1400)
        }
    }

    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text])
        return data.map { String(decoding: $0, as: UTF8.self).dropFirst().dropLast() }.map(String.init) ?? "''"
    }
}
