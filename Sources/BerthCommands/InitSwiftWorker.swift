import BerthControlPlane
import BerthCore
import Foundation

/// The files of a Worker written in Swift that `berth init --worker swift` writes besides
/// the routes project's, by path in the project folder: a Swift package (Package.swift and
/// worker/main.swift, the template's routes in Swift) on the Berth SDK installed beside this
/// `berth`, and a wrangler.jsonc without the zero-code routes.
func swiftWorkerFiles(app: String) throws(BerthError) -> [(path: String, contents: String)] {
    let sdk = try BerthSDK.locate()
    return [
        ("Package.swift", InitTemplates.workerPackage(sdk: sdk)),
        ("worker/main.swift", InitTemplates.workerMain),
    ]
}
