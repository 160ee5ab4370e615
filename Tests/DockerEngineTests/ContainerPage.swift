import AsyncHTTPClient
import BerthCore
import BerthRuntime
import Foundation

/// The page at `endpoint` as Berth reaches a container, without surrounding whitespace;
/// retried while the container starts (bounded by `seconds`).
func containerPage(_ endpoint: Endpoint, within seconds: Double = 30) async throws -> String {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(endpoint)/"), timeout: .seconds(2))
            guard response.status == .ok else { throw BerthError(.internal, "status \(response.status)") }
            return String(buffer: try await response.body.collect(upTo: 1 << 20)).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            if Date() > deadline { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
