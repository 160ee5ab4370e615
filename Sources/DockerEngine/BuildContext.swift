import BerthCore
import Foundation
import NIOCore

/// A build context folder as the tar stream the engine's `/build` takes: the files the
/// `.dockerignore` lets through, read in chunks while the request is sent, never whole.
public struct BuildContext: AsyncSequence, Sendable {
    struct Entry: Sendable {
        enum Source: Sendable {
            case file(String)
            case bytes([UInt8])
            case none
        }
        var archivePath: String
        var kind: TarWriter.Kind
        var size: Int
        var mode: Int
        var mtime: Int
        var linkTarget: String = ""
        var source: Source
    }

    let entries: [Entry]
    /// The Dockerfile's path inside the archive, for the `dockerfile` parameter.
    public let dockerfilePath: String
    /// Paths (relative to the context) that the archive holds, folders included.
    public var paths: [String] { entries.map(\.archivePath) }

    /// Lists the context. `dockerfile` may be absolute or relative to `directory`; a
    /// Dockerfile outside the folder is added to the archive under a generated name.
    public init(directory: String, dockerfile: String = "Dockerfile") throws(BerthError) {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BerthError(.notFound, "the build context \(directory) is not a folder")
        }
        let dockerfileAbsolute = dockerfile.hasPrefix("/")
            ? URL(fileURLWithPath: dockerfile).standardizedFileURL.path
            : URL(fileURLWithPath: (root as NSString).appendingPathComponent(dockerfile)).standardizedFileURL.path
        guard fm.fileExists(atPath: dockerfileAbsolute) else {
            throw BerthError(.notFound, "the Dockerfile \(dockerfileAbsolute) does not exist")
        }

        let ignore = DockerIgnore(contextDirectory: root)
        var entries: [Entry] = []
        var insideDockerfile: String?
        if dockerfileAbsolute.hasPrefix(root + "/") {
            insideDockerfile = String(dockerfileAbsolute.dropFirst(root.count + 1))
        }
        // The Dockerfile and .dockerignore are always sent, as the Docker CLI does.
        let alwaysSent: Set<String> = [insideDockerfile ?? "", ".dockerignore"]

        func walk(_ relative: String) throws(BerthError) {
            let absolute = relative.isEmpty ? root : (root as NSString).appendingPathComponent(relative)
            let names: [String]
            do {
                names = try fm.contentsOfDirectory(atPath: absolute).sorted()
            } catch {
                throw BerthError(.invalidInput, "cannot read the folder \(absolute) of the build context", cause: error)
            }
            for name in names {
                let path = relative.isEmpty ? name : "\(relative)/\(name)"
                let full = (root as NSString).appendingPathComponent(path)
                let attributes: [FileAttributeKey: Any]
                do {
                    attributes = try fm.attributesOfItem(atPath: full)
                } catch {
                    throw BerthError(.invalidInput, "cannot read \(full) in the build context", cause: error)
                }
                let type = attributes[.type] as? FileAttributeType
                let excluded = ignore.excludes(path) && !alwaysSent.contains(path)
                let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o644
                let mtime = Int((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
                switch type {
                case .typeDirectory?:
                    // An excluded folder is skipped unless an exception may bring files back.
                    let holdsDockerfile = insideDockerfile?.hasPrefix(path + "/") ?? false
                    if excluded && !ignore.hasExceptions && !holdsDockerfile { continue }
                    if !excluded {
                        entries.append(Entry(archivePath: path, kind: .directory, size: 0, mode: mode, mtime: mtime, source: .none))
                    }
                    try walk(path)
                case .typeSymbolicLink?:
                    guard !excluded else { continue }
                    let target = (try? fm.destinationOfSymbolicLink(atPath: full)) ?? ""
                    entries.append(Entry(archivePath: path, kind: .symlink, size: 0, mode: mode, mtime: mtime, linkTarget: target, source: .none))
                case .typeRegular?:
                    guard !excluded else { continue }
                    let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
                    entries.append(Entry(archivePath: path, kind: .file, size: size, mode: mode, mtime: mtime, source: .file(full)))
                default:
                    continue  // sockets, devices and pipes are not sent
                }
            }
        }
        try walk("")

        if let insideDockerfile {
            dockerfilePath = insideDockerfile
        } else {
            guard let data = fm.contents(atPath: dockerfileAbsolute) else {
                throw BerthError(.invalidInput, "cannot read the Dockerfile \(dockerfileAbsolute)")
            }
            var hasher = Hasher()
            hasher.combine(dockerfileAbsolute)
            dockerfilePath = ".berth-dockerfile-\(String(UInt(bitPattern: hasher.finalize()), radix: 16))"
            entries.append(Entry(
                archivePath: dockerfilePath, kind: .file, size: data.count, mode: 0o644, mtime: 0, source: .bytes(Array(data))
            ))
        }
        self.entries = entries
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(entries: entries)
    }

    /// Produces header, data chunks and padding for one entry after another.
    public struct Iterator: AsyncIteratorProtocol {
        static let chunkSize = 256 * 1024
        let entries: [Entry]
        var index = 0
        var handle: FileHandle?
        var remaining = 0
        var padding = 0
        var finished = false

        init(entries: [Entry]) { self.entries = entries }

        public mutating func next() async throws -> ByteBuffer? {
            if remaining > 0 { return try readChunk() }
            if padding > 0 {
                var buffer = ByteBuffer()
                buffer.writeRepeatingByte(0, count: padding)
                padding = 0
                return buffer
            }
            try? handle?.close()
            handle = nil
            guard index < entries.count else {
                if finished { return nil }
                finished = true
                return TarWriter.trailer
            }
            let entry = entries[index]
            index += 1
            var buffer = TarWriter.header(
                path: entry.archivePath, kind: entry.kind, size: entry.size, mode: entry.mode, mtime: entry.mtime,
                linkTarget: entry.linkTarget
            )
            switch entry.source {
            case .bytes(let bytes):
                buffer.writeBytes(bytes)
                buffer.writeRepeatingByte(0, count: TarWriter.padding(for: bytes.count))
            case .file(let path):
                guard entry.size > 0 else { break }
                guard let opened = FileHandle(forReadingAtPath: path) else {
                    throw BerthError(.invalidInput, "cannot read \(path) while sending the build context")
                }
                handle = opened
                remaining = entry.size
                padding = TarWriter.padding(for: entry.size)
            case .none:
                break
            }
            return buffer
        }

        mutating func readChunk() throws -> ByteBuffer {
            let wanted = Swift.min(remaining, Self.chunkSize)
            var data = try handle?.read(upToCount: wanted) ?? Data()
            // A file that shrank while being sent is padded so the archive stays valid.
            if data.count < wanted { data.append(Data(count: wanted - data.count)) }
            remaining -= wanted
            return ByteBuffer(bytes: data)
        }
    }
}
