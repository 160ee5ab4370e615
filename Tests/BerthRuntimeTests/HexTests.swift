import BerthCore
@testable import BerthRuntime
import Crypto
import Foundation
import Testing

@Suite("Hex text")
struct HexTests {
    @Test("bytes become lowercase pairs, as String(format: \"%02x\") writes them")
    func encodes() {
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff, 0x7b]) == "000fa0ff7b")
        let bytes = (0...255).map { UInt8($0) }
        #expect(Hex.encode(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.random(bytes: 16).count == 32)
        #expect(Hex.random(bytes: 16) != Hex.random(bytes: 16))
    }

    @Test("object ids stay what they were: SHA-256 of app, class and name")
    func objectIDsUnchanged() {
        var hasher = SHA256()
        hasher.update(data: Data("berth-object-id\u{0}app\u{0}MyContainer\u{0}".utf8))
        hasher.update(data: Data("/container/1".utf8))
        let expected = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(ObjectID.fromName("/container/1", className: "MyContainer", app: "app").hex == expected)
    }
}
