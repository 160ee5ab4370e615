import BerthCore

/// The files of a Worker written in Swift that `berth init --worker swift` writes besides
/// the routes project's, by path in the project folder; a path among the routes project's
/// files (`wrangler.jsonc`, `README.md`…) replaces that file.
///
/// Not in this build yet: it throws, and `berth init --worker swift` then writes nothing.
func swiftWorkerFiles(app: String) throws(BerthError) -> [(path: String, contents: String)] {
    throw BerthError(
        .notImplemented,
        "Swift Workers are not available in this build of berth yet; run berth init without --worker swift (or with --worker routes) for a project whose Worker is zero-code routes"
    )
}
