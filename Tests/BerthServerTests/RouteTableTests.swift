import Berth
import BerthAPI
import BerthConfig
@testable import BerthControlPlane
@testable import BerthServer
import HTTPTypes
import NIOHTTP1
import Testing

@Suite("Zero-code route matching")
struct RouteTableTests {
    let table = RouteTable(routes: [
        RouteConfig(prefix: "/container", binding: "A", object: .path),
        RouteConfig(prefix: "/rest/", binding: "A", object: .rest),
        RouteConfig(prefix: "/h", binding: "B", object: .header("X-Tenant")),
        RouteConfig(prefix: "/c", binding: "B", object: .cookie("session")),
        RouteConfig(prefix: "/q", binding: "B", object: .query("user")),
        RouteConfig(prefix: "/lb", binding: "A", object: .random(3)),
        RouteConfig(prefix: "/singleton", binding: "A", object: .singleton),
        RouteConfig(prefix: "/fixed", binding: "A", object: .name("error-test")),
    ])

    func resolve(_ path: String, _ headers: HTTPFields = [:]) -> (String, String)? {
        table.resolve(Request(path: path, headers: headers)).map { ($0.binding, $0.name) }
    }

    @Test("each selector picks the object name it promises")
    func selectors() throws {
        #expect(resolve("/container/1?x=y")! == ("A", "/container/1"))
        #expect(resolve("/rest//alice/files")! == ("A", "alice/files"))
        #expect(resolve("/h/x", [HTTPField.Name("X-Tenant")!: "acme"])! == ("B", "acme"))
        #expect(resolve("/c", [.cookie: "theme=dark; session=s-42"])! == ("B", "s-42"))
        #expect(resolve("/q?user=bob%20smith&x=1")! == ("B", "bob smith"))
        #expect(resolve("/singleton")! == ("A", "cf-singleton-container"))
        #expect(resolve("/fixed/anything")! == ("A", "error-test"))
        #expect(resolve("/nowhere") == nil)
    }

    @Test("random picks among n names, and reaches them all")
    func random() {
        var seen: Set<String> = []
        for _ in 0..<200 { seen.insert(resolve("/lb")!.1) }
        #expect(seen == ["instance-0", "instance-1", "instance-2"])
    }

    @Test("the first matching prefix wins, in declaration order")
    func order() {
        let table = RouteTable(routes: [
            RouteConfig(prefix: "/a", binding: "FIRST", object: .singleton),
            RouteConfig(prefix: "/a/b", binding: "SECOND", object: .singleton),
        ])
        #expect(table.resolve(Request(path: "/a/b/c"))?.binding == "FIRST")
    }

    /// Found by the route table's fuzz target (fuzz/corpus/routes/header.txt and host-header.txt):
    /// the warm path took the first X-Tenant field, the Worker all of them joined; and a
    /// route on Host named the object by the Host field on the warm path but found no Host
    /// field in the Worker's request, whose first Host is its authority.
    @Test("a header route picks one object on the warm path and through the Worker", arguments: [
        ("/h", [("Host", "a.test"), ("X-Tenant", "acme"), ("x-tenant", "other")], "acme, other"),
        ("/h", [("Host", "a.test"), ("X-TENANT", "acme")], "acme"),
        ("/host", [("Host", "a.test")], "a.test"),
        ("/host", [("Host", "a.test"), ("host", "b.test")], "a.test, b.test"),
        ("/h", [("Host", "a.test")], ""),
        // fuzz/regressions/routes/trailing-space: NIO keeps the space the head ends with.
        ("/h", [("Host", "a.test"), ("X-Tenant", "acme ")], "acme"),
    ])
    func headerOnBothPaths(path: String, fields: [(String, String)], name: String) throws {
        let table = RouteTable(routes: [
            RouteConfig(prefix: "/host", binding: "B", object: .header("Host")),
            RouteConfig(prefix: "/h", binding: "B", object: .header("X-Tenant")),
        ])
        // The warm path reads NIO's head as the parser gave it.
        let warm = try #require(table.resolve(target: path, fields: HTTPHeaders(fields)))
        // The Worker's request is the HTTPRequest Hummingbird makes of it: the first Host
        // field becomes the authority.
        let firstHost = fields.firstIndex { $0.0.lowercased() == "host" }
        var rest = HTTPFields()
        for (index, (field, value)) in fields.enumerated() where index != firstHost {
            rest.append(HTTPField(name: try #require(HTTPField.Name(field)), value: value))
        }
        let authority = firstHost.map { fields[$0].1 }
        let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: authority, path: path, headerFields: rest))
        let worker = try #require(table.resolve(request))
        #expect(warm.binding == "B" && warm.name == name)
        #expect(worker.binding == "B" && worker.name == name)
    }
}
