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

    @Test("the SDK's own SHA-256 agrees with swift-crypto's at every block boundary and in pieces")
    func ownSHA256() {
        for length in Array(0...200) + [1000, 4096, 65_537] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            var whole = SHA256Hasher()
            whole.update(bytes)
            var pieces = SHA256Hasher()
            var offset = 0
            while offset < bytes.count {
                let size = min(1 + offset % 97, bytes.count - offset)
                pieces.update(Array(bytes[offset..<offset + size]))
                offset += size
            }
            let expected = Array(SHA256.hash(data: Data(bytes)))
            #expect(whole.finalize() == expected, "length \(length)")
            #expect(pieces.finalize() == expected, "length \(length) in pieces")
        }
    }
}
