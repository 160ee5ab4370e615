import BerthConfig
import Testing

@Suite("Zero-code routes and class properties under \"berth\"")
struct RoutesConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("classes and routes are read")
    func valid() throws {
        let text = config(container: container, extra: """
            , "berth": {
              "classes": { "MyContainer": { "default_port": 8080, "required_ports": [8080, 9000], "sleep_after": "2m",
                "env_vars": { "MESSAGE": "hi" }, "entrypoint": ["/server", "--fast"], "enable_internet": false, "ping_endpoint": "container/health" } },
              "routes": [
                { "prefix": "/container", "binding": "MY_CONTAINER", "object": "path" },
                { "prefix": "/lb", "binding": "MY_CONTAINER", "object": "random:5" },
                { "prefix": "/t", "binding": "MY_CONTAINER", "object": "header:X-Tenant" },
                { "prefix": "/s", "binding": "MY_CONTAINER" }
              ]
            }
            """)
        let berth = try load(text).get().berth
        let properties = try #require(berth.classes["MyContainer"])
        #expect(properties.defaultPort == 8080)
        #expect(properties.requiredPorts == [8080, 9000])
        #expect(properties.sleepAfter == .seconds(120))
        #expect(properties.envVars == ["MESSAGE": "hi"])
        #expect(properties.entrypoint == ["/server", "--fast"])
        #expect(properties.enableInternet == false)
        #expect(properties.pingEndpoint == "container/health")
        #expect(berth.routes == [
            RouteConfig(prefix: "/container", binding: "MY_CONTAINER", object: .path),
            RouteConfig(prefix: "/lb", binding: "MY_CONTAINER", object: .random(5)),
            RouteConfig(prefix: "/t", binding: "MY_CONTAINER", object: .header("X-Tenant")),
            RouteConfig(prefix: "/s", binding: "MY_CONTAINER", object: .path),
        ])
    }

    @Test("mistakes point at the key", arguments: [
        (#""classes": { "MyContainr": {} }"#, #""MyContainr""#, "berth.classes.MyContainr", "did you mean"),
        (#""classes": { "MyContainer": { "default_port": 0 } }"#, "0 }", "berth.classes.MyContainer.default_port", "between 1 and 65535"),
        (#""classes": { "MyContainer": { "sleep_after": "forever" } }"#, #""forever""#, "berth.classes.MyContainer.sleep_after", "duration"),
        (#""routes": [{ "prefix": "container", "binding": "MY_CONTAINER" }]"#, #""container""#, "berth.routes[0].prefix", "start with /"),
        (#""routes": [{ "prefix": "/c", "binding": "MY_CONTAINR" }]"#, #""MY_CONTAINR""#, "berth.routes[0].binding", "did you mean \"MY_CONTAINER\""),
        (#""routes": [{ "prefix": "/c", "binding": "MY_CONTAINER", "object": "random:0" }]"#, #""random:0""#, "berth.routes[0].object", "object selector"),
    ])
    func mistakes(setting: String, needle: String, path: String, words: String) throws {
        let text = config(container: container, extra: #", "berth": { \#(setting) }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: needle, in: text, path: path, mentions: [words])
    }
}
