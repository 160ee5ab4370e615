import BerthConfig
import Testing

@Suite("Container isolation under \"berth.classes\"")
struct IsolationConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("defaults: a pids limit of 512, no-new-privileges, no capability added back, a writable root")
    func defaults() throws {
        let text = config(container: container, extra: #", "berth": { "classes": { "MyContainer": {} } }"#)
        let isolation = try #require(try load(text).get().berth.classes["MyContainer"]).isolation
        #expect(isolation == ContainerIsolation())
        #expect(isolation.pidsLimit == 512 && isolation.noNewPrivileges && isolation.capAdd.isEmpty && !isolation.readOnlyRoot)
        // A port below 1024 needs NET_BIND_SERVICE, added by itself; one above needs nothing.
        #expect(isolation.capabilities(ports: [8080]) == [])
        #expect(isolation.capabilities(ports: [80, 8080]) == ["NET_BIND_SERVICE"])
    }

    @Test("every key is read; capability names are normalised")
    func overrides() throws {
        let text = config(container: container, extra: """
            , "berth": { "classes": { "MyContainer": {
              "pids_limit": 64, "no_new_privileges": false, "cap_add": ["net_bind_service", "CAP_CHOWN"], "read_only_root": true } } }
            """)
        let isolation = try #require(try load(text).get().berth.classes["MyContainer"]).isolation
        #expect(isolation.pidsLimit == 64)
        #expect(isolation.noNewPrivileges == false)
        #expect(isolation.capAdd == ["NET_BIND_SERVICE", "CHOWN"])
        #expect(isolation.readOnlyRoot)
        #expect(isolation.capabilities(ports: [80]) == ["NET_BIND_SERVICE", "CHOWN"])
    }

    @Test("logs: 10 MiB × 3 by default; sizes in k, m, g (units of 1,024) or bytes")
    func logs() throws {
        #expect(ContainerIsolation().logs == ContainerLogs(maxSizeBytes: 10 << 20, maxFiles: 3))
        let text = config(container: container, extra: #", "berth": { "classes": { "MyContainer": { "logs": { "max_size": "64k", "max_files": 2 } } } }"#)
        let logs = try #require(try load(text).get().berth.classes["MyContainer"]).isolation.logs
        #expect(logs == ContainerLogs(maxSizeBytes: 64 << 10, maxFiles: 2))
        let sizes: [(String, Int64?)] = [
            ("10m", 10 << 20), ("10M", 10 << 20), ("10MiB", 10 << 20), ("10mb", 10 << 20), ("512k", 512 << 10), ("1g", 1 << 30),
            ("4096", 4096), ("4096b", 4096), ("", nil), ("m", nil), ("10x", nil), ("10ib", nil), ("-1m", nil), ("99999999999999g", nil),
        ]
        for (text, bytes) in sizes { #expect(ContainerLogs.parseSize(text) == bytes, "\(text)") }
        let bytes = config(container: container, extra: #", "berth": { "classes": { "MyContainer": { "logs": { "max_size": 2048 } } } }"#)
        #expect(try #require(try load(bytes).get().berth.classes["MyContainer"]).isolation.logs.maxSizeBytes == 2048)
    }

    @Test("mistakes point at the key", arguments: [
        (#""pids_limit": -1"#, "-1", "berth.classes.MyContainer.pids_limit", "between 0 and"),
        (#""pids_limit": "many""#, #""many""#, "berth.classes.MyContainer.pids_limit", "whole number"),
        (#""cap_add": ["NET_BIND_SERVIC"]"#, #""NET_BIND_SERVIC""#, "berth.classes.MyContainer.cap_add[0]", "did you mean \"NET_BIND_SERVICE\""),
        (#""cap_add": "NET_ADMIN""#, #""NET_ADMIN""#, "berth.classes.MyContainer.cap_add", "array"),
        (#""no_new_privileges": "yes""#, #""yes""#, "berth.classes.MyContainer.no_new_privileges", "true or false"),
        (#""read_only_root": 1"#, "1 }", "berth.classes.MyContainer.read_only_root", "true or false"),
        (#""logs": { "max_size": "10 lots" }"#, #""10 lots""#, "berth.classes.MyContainer.logs.max_size", "a size such as"),
        (#""logs": { "max_size": "100" }"#, #""100""#, "berth.classes.MyContainer.logs.max_size", "between 1k and 10g"),
        (#""logs": { "max_files": 0 }"#, "0 }", "berth.classes.MyContainer.logs.max_files", "between 1 and 100"),
        (#""logs": "10m""#, #""10m""#, "berth.classes.MyContainer.logs", "object"),
    ])
    func mistakes(setting: String, needle: String, path: String, words: String) throws {
        let text = config(container: container, extra: #", "berth": { "classes": { "MyContainer": { \#(setting) } } }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: needle, in: text, path: path, mentions: [words])
    }
}
