import BerthAPI
import BerthCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

extension AdminAPITests {
    @Test("secrets through the admin API: the token is needed, POST stores and deploys, GET lists names only, DELETE removes; no answer holds the value")
    func secrets() async throws {
        let value = "s3cr3t-" + Hex.random(bytes: 8)
        try await withAdmin { plane, client in
            for method in [HTTPRequest.Method.get, .post] {
                try await client.execute(uri: "/api/secrets", method: method, body: ByteBuffer(string: #"{"name":"K","value":"v"}"#)) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            try await client.execute(uri: "/api/secrets/K", method: .delete) { response in #expect(response.status == .unauthorized) }
            #expect(try await plane.deployer.secretViews().isEmpty)

            let deployment = try await plane.deploy()
            var answers: [String] = []
            let body = try AdminJSON.encoder.encode(SecretPutRequest(name: "MESSAGE", value: value))
            answers.append(try await client.execute(uri: "/api/secrets", method: .post, headers: Self.authorized, body: ByteBuffer(data: body)) { response in
                #expect(response.status == .created)
                let change = try Self.decode(SecretChange.self, response)
                #expect(change.secret.name == "MESSAGE")
                #expect(change.deployment != nil && change.deployment != deployment.id)
                return String(buffer: response.body)
            })
            let bad = try AdminJSON.encoder.encode(SecretPutRequest(name: "BAD-NAME", value: value))
            answers.append(try await client.execute(uri: "/api/secrets", method: .post, headers: Self.authorized, body: ByteBuffer(data: bad)) { response in
                #expect(response.status == .badRequest)
                let failure = try Self.decode(Failure.self, response)
                #expect(failure.error.message.contains("not a secret name"))
                return String(buffer: response.body)
            })
            _ = try await plane.instance(answering: "a")
            for path in ["/api/secrets", "/api/server", "/api/containers", "/api/containers/web", "/api/containers/web/instances", "/api/deployments", "/api/images"] {
                answers.append(try await client.execute(uri: path, method: .get, headers: Self.authorized) { response in
                    #expect(response.status == .ok, "\(path)")
                    return String(buffer: response.body)
                })
            }
            #expect(answers[2].contains("\"name\":\"MESSAGE\"") && answers[2].contains("updated_at"))
            for answer in answers { #expect(!answer.contains(value), "\(answer)") }

            try await client.execute(uri: "/api/secrets/MESSAGE", method: .delete, headers: Self.authorized) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/secrets/MESSAGE", method: .delete, headers: Self.authorized) { response in
                #expect(response.status == .notFound)
            }
            #expect(try await plane.deployer.secretViews().isEmpty)
        }
    }
}
