import BerthCore
import Foundation

/// The C compiler `berth init` builds the container's server with: `CC` when it is set (a
/// program and its arguments, as make takes it), else the first of `cc`, `gcc`, `clang` on
/// `PATH`.
struct CCompiler {
    /// The program, found.
    var path: String
    /// The words of `CC` after the program.
    var arguments: [String]
    /// How a person names it in a command: `CC`'s value, or the name found on `PATH`.
    var command: String

    /// The compiler, or nil when there is none.
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> CCompiler? {
        let searchPath = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        if let words = ccWords(environment), let program = words.first {
            return locate(program, in: searchPath).map { CCompiler(path: $0, arguments: Array(words.dropFirst()), command: words.joined(separator: " ")) }
        }
        for name in ["cc", "gcc", "clang"] {
            if let path = locate(name, in: searchPath) { return CCompiler(path: path, arguments: [], command: name) }
        }
        return nil
    }

    /// What to say when there is no compiler: what is missing, what to install, how to build.
    static func missing(environment: [String: String] = ProcessInfo.processInfo.environment, folder: String) -> String {
        let what = ccWords(environment).map { "CC is \"\($0.joined(separator: " "))\", which names no program found on PATH" }
            ?? "no C compiler was found (cc, gcc or clang on PATH)"
        return """
            \(what), so the container's server is not built yet and berth dev cannot build the image. \
            Install one (on Debian or Ubuntu: apt-get install gcc libc6-dev), or set CC=/path/to/a/compiler, \
            then build it: \(Self.byHand(folder: folder))
            """
    }

    /// The command that builds the server by hand: `cd FOLDER && cc -static -O2 -o server container/server.c`.
    static func byHand(folder: String, compiler: String = "cc") -> String {
        (folder == "." ? "" : "cd \(ShellWord.quoted(folder)) && ") + InitTemplates.buildCommand(compiler: compiler)
    }

    /// Builds `container/server.c` into `server` in `folder`, the compiler's output and
    /// errors going straight to this process's, as they come.
    func buildServer(in folder: String) throws(BerthError) {
        let location = { (path: String) in (folder as NSString).appendingPathComponent(path) }
        let arguments = InitTemplates.serverBuildArguments.map { argument in
            [InitTemplates.serverBinary, InitTemplates.serverSourcePath].contains(argument) ? location(argument) : argument
        }
        let status = try ChildProcess.spawn(path, self.arguments + arguments, stdout: .descriptor(1), stderr: .descriptor(2)).wait()
        guard status == 0 else {
            let how = status > 128 ? "was ended by signal \(status - 128)" : "exited with status \(status)"
            throw BerthError(
                .buildFailed,
                """
                the container's server did not build: \(command) \(how) (its output is above). The project is written; \
                fix what the compiler says (a static build needs the C library's static archive: on Debian or Ubuntu, \
                apt-get install libc6-dev), then build it: \(Self.byHand(folder: folder, compiler: command))
                """
            )
        }
    }

    /// The words of `CC`, or nil when it is unset or blank.
    private static func ccWords(_ environment: [String: String]) -> [String]? {
        let words = (environment["CC"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        return words.isEmpty ? nil : words
    }

    /// `name` itself when it holds a `/`, else the first executable file of that name in `searchPath`.
    private static func locate(_ name: String, in searchPath: [String]) -> String? {
        let candidates = name.contains("/") ? [name] : searchPath.filter { !$0.isEmpty }.map { ($0 as NSString).appendingPathComponent(name) }
        return candidates.first { candidate in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && !isDirectory.boolValue
                && FileManager.default.isExecutableFile(atPath: candidate)
        }
    }
}

/// A word for a POSIX shell: as it is when it is plain, else in single quotes.
enum ShellWord {
    static func quoted(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_./:=@%+,".unicodeScalars.contains(scalar))
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
