import BerthCore
import Foundation

/// The name of a new project: its `wrangler.jsonc` `name`, which labels its containers and
/// tags its images.
enum ProjectName {
    /// The folder's name, lowercased, every character but `a`–`z`, `0`–`9` and `-` made a
    /// `-`, without dashes at either end (`My App` → `my-app`); `app` when nothing is left.
    static func derived(fromFolder folder: String) -> String {
        let last = URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
        let mapped = String(last.lowercased().map { isAllowed($0) ? $0 : "-" })
        let trimmed = mapped.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "app" : trimmed
    }

    /// Whether `name` is lowercase letters, digits and dashes, a dash at neither end: a name
    /// Cloudflare takes for a Worker and an engine takes in an image's name.
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy(isAllowed) && !name.hasPrefix("-") && !name.hasSuffix("-")
    }

    private static func isAllowed(_ character: Character) -> Bool {
        character == "-" || ("a"..."z").contains(character) || ("0"..."9").contains(character)
    }
}

/// A new project's files and the folder they go into; written only when none is there yet.
struct ProjectFiles {
    /// The folder as the user gave it (`.` for the current one).
    var folder: String
    /// Each file by its path in the folder; a later one replaces an earlier one of the same path.
    var files: [(path: String, contents: String)]

    init(folder: String, files: [(path: String, contents: String)]) {
        self.folder = folder
        var merged: [(path: String, contents: String)] = []
        for file in files {
            if let index = merged.firstIndex(where: { $0.path == file.path }) { merged[index] = file } else { merged.append(file) }
        }
        self.files = merged
    }

    /// How `path` (in the folder) is shown: relative to where the user is, as they named the folder.
    func shown(_ path: String) -> String {
        folder == "." ? path : (folder.hasSuffix("/") ? folder : folder + "/") + path
    }

    func location(_ path: String) -> String {
        (folder as NSString).appendingPathComponent(path)
    }

    /// The paths (as shown) that stand in the way: a file to be written that exists already
    /// (`others` are paths written later, such as the built server), a folder to be made that
    /// exists as something else, or the folder itself when it is not one.
    func conflicts(others: [String] = []) -> [String] {
        if exists(folder) && !isFolder(folder) { return [folder] }
        var found: [String] = []
        var folders: Set<String> = []
        for path in files.map(\.path) + others {
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty {
                folders.insert(parent)
                parent = (parent as NSString).deletingLastPathComponent
            }
            if exists(location(path)) { found.append(shown(path)) }
        }
        found += folders.sorted().filter { exists(location($0)) && !isFolder(location($0)) }.map(shown)
        return found
    }

    /// Writes every file, each only if it does not exist (checked again as it is created, so
    /// nothing is ever replaced); the paths written, as shown.
    func write() throws(BerthError) -> [String] {
        var written: [String] = []
        for file in files {
            let path = location(file.path)
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(file.contents.utf8).write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
            } catch {
                let done = written.isEmpty ? "" : " (written before it: \(written.joined(separator: ", ")))"
                throw BerthError(.invalidInput, "cannot write \(shown(file.path)): \(error.localizedDescription)\(done)", cause: error)
            }
            written.append(shown(file.path))
        }
        return written
    }

    /// Whether anything is at `path`, a dangling symbolic link included.
    private func exists(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)) != nil
    }

    private func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
