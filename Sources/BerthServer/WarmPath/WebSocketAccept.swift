import Crypto
import Foundation

/// `Sec-WebSocket-Accept` (RFC 6455 §4.2.2): what Berth answers a client's key with when it
/// is the WebSocket's server itself (a Worker's `WebSocketPair`).
enum WebSocketAccept {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    static func value(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key.trimmingCharacters(in: .whitespaces) + guid).utf8))).base64EncodedString()
    }
}
