import ArgumentParser
import BerthCore
import DockerEngine
import Foundation

struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Check the container engine Berth uses.",
        subcommands: [EngineInfoCommand.self]
    )
}

struct EngineInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show which engine Berth reaches (DOCKER_HOST, else /var/run/docker.sock) and its versions."
    )

    @Flag(help: "Print a JSON document instead of text.")
    var json = false

    struct Output: Encodable {
        var host: String
        var engineVersion: String
        var apiVersion: String
        var negotiatedAPIVersion: String
        var os: String
        var architecture: String
        var storageDriver: String
        var containers: Int
        var containersRunning: Int
        var images: Int

        enum CodingKeys: String, CodingKey {
            case host, os, architecture, containers, images
            case engineVersion = "engine_version", apiVersion = "api_version"
            case negotiatedAPIVersion = "negotiated_api_version", storageDriver = "storage_driver"
            case containersRunning = "containers_running"
        }
    }

    func run() async throws {
        do {
            let output = try await DockerClient.with { client in
                let version = try await client.version()
                let negotiated = try await client.apiVersion()
                let info = try await client.info()
                return Output(
                    host: client.host.description, engineVersion: version.version, apiVersion: version.apiVersion,
                    negotiatedAPIVersion: negotiated.description, os: version.os, architecture: version.arch,
                    storageDriver: info.storageDriver, containers: info.containers,
                    containersRunning: info.containersRunning, images: info.images
                )
            }
            if json {
                print(try jsonText(output))
            } else {
                print(Table(header: ["FIELD", "VALUE"], rows: [
                    ["host", output.host],
                    ["engine", "\(output.engineVersion) (\(output.os)/\(output.architecture))"],
                    ["api", "\(output.apiVersion) (using \(output.negotiatedAPIVersion))"],
                    ["storage driver", output.storageDriver],
                    ["containers", "\(output.containers) (\(output.containersRunning) running)"],
                    ["images", "\(output.images)"],
                ]).render())
            }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}
