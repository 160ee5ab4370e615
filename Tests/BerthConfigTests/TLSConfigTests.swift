import BerthConfig
import Foundation
import Testing

@Suite("berth.tls")
struct TLSConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#
    let pem = ["tls/a.crt": "x", "tls/a.key": "x", "tls/b.crt": "x", "tls/b.key": "x"]

    @Test("no TLS unless told; one pair or a list, paths resolved in the project folder")
    func values() throws {
        let plain = try load(config(container: container)).get().berth.tls
        #expect(plain.gateway.isEmpty && plain.admin.isEmpty)
        let text = config(container: container, extra: #"""
        , "berth": { "tls": {
            "gateway": [ { "cert": "tls/a.crt", "key": "tls/a.key" }, { "cert": "tls/b.crt", "key": "tls/b.key" } ],
            "admin": { "cert": "tls/a.crt", "key": "tls/a.key" } } }
        """#)
        let tls = try load(text, extraFiles: pem).get().berth.tls
        #expect(tls.gateway.count == 2 && tls.admin.count == 1)
        #expect(tls.gateway[1].cert.hasSuffix("/tls/b.crt") && tls.gateway[1].cert.hasPrefix("/"))
        #expect(tls.admin[0].key.hasSuffix("/tls/a.key"))
        #expect(tls.gateway[1].source.contains("berth.tls.gateway[1]") && tls.gateway[1].source.contains("wrangler.jsonc:"))
    }

    @Test("a missing file, a missing key or a wrong shape names the key and its line")
    func mistakes() throws {
        let missing = config(container: container, extra: #", "berth": { "tls": { "gateway": { "cert": "tls/none.crt", "key": "tls/a.key" } } }"#)
        let error = try onlyError(try load(missing, extraFiles: pem))
        expectDiagnostic(error, at: "\"tls/none.crt\"", in: missing, path: "berth.tls.gateway.cert", mentions: ["none.crt", "does not exist"])

        let noKey = config(container: container, extra: #", "berth": { "tls": { "admin": [ { "cert": "tls/a.crt" } ] } }"#)
        let keyError = try onlyError(try load(noKey, extraFiles: pem))
        expectDiagnostic(keyError, at: "{ \"cert\"", in: noKey, path: "berth.tls.admin[0]", mentions: ["key"])

        let scalar = config(container: container, extra: #", "berth": { "tls": { "gateway": "tls/a.crt" } }"#)
        let shapeError = try onlyError(try load(scalar, extraFiles: pem))
        expectDiagnostic(shapeError, at: "\"tls/a.crt\"", in: scalar, path: "berth.tls.gateway", mentions: ["object"])

        let empty = config(container: container, extra: #", "berth": { "tls": { "gateway": [] } }"#)
        expectDiagnostic(try onlyError(try load(empty)), at: "[]", in: empty, path: "berth.tls.gateway", mentions: ["at least one"])
    }

    @Test("a misspelt listener is named")
    func unknownKeys() throws {
        let text = config(container: container, extra: #", "berth": { "tls": { "gatway": { "cert": "tls/a.crt", "key": "tls/a.key" } } }"#)
        let warning = try #require(try load(text, extraFiles: pem).warnings.first { $0.path == "berth.tls.gatway" })
        #expect(warning.message.contains("gateway"))
    }

    @Test("settings saved before the key existed still load")
    func olderSettings() throws {
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(BerthSettings())) as? [String: Any])
        json["tls"] = nil
        let decoded = try JSONDecoder().decode(BerthSettings.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.tls == TLSSettings())
    }
}
