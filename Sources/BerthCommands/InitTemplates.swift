/// The files `berth init` writes, as text carried by the `berth` binary itself.
///
/// The project is the counterpart of Cloudflare's containers template: a `wrangler.jsonc` of
/// the same shape, a `FROM scratch` Dockerfile (no base image needs pulling), and a small
/// static C server in place of the template's Go one; zero-code routes under `"berth"` stand
/// in for the template's Worker.
enum InitTemplates {
    /// The compiler's arguments that build the container's server, run in the project folder.
    static let serverBuildArguments = ["-static", "-O2", "-o", serverBinary, serverSourcePath]
    /// Where the server's source goes, relative to the project folder.
    static let serverSourcePath = "container/server.c"
    /// The static binary the Dockerfile copies into the image.
    static let serverBinary = "server"

    /// `cc -static -O2 -o server container/server.c`, as a person types it.
    static func buildCommand(compiler: String = "cc") -> String {
        ([compiler] + serverBuildArguments).joined(separator: " ")
    }

    /// Every file of a project whose Worker is zero-code routes, by path in the project folder.
    static func routesFiles(app: String) -> [(path: String, contents: String)] {
        [
            ("wrangler.jsonc", wrangler(app: app)),
            ("Dockerfile", dockerfile),
            (serverSourcePath, serverSource),
            ("README.md", readme(app: app)),
            (".gitignore", gitignore),
            (".dockerignore", dockerignore),
        ]
    }

    /// The configuration: Cloudflare's template's keys, and Berth's own under `"berth"`.
    static func wrangler(app: String) -> String {
        #"""
        // The configuration of \#(app), in the shape of Cloudflare's containers template:
        // `berth dev`, `berth serve` and `berth deploy` read it (`berth config check` shows
        // what they make of it). Cloudflare's keys mean what they mean there; what only Berth
        // reads lives under "berth".
        {
          // The Worker's name: Berth labels the containers and tags the images with it.
          "name": "\#(app)",

          // One container class: the image, built from this folder's Dockerfile, and how many
          // instances may run at once (each Durable Object owns at most one).
          "containers": [
            {
              "class_name": "MyContainer",
              "image": "./Dockerfile",
              "max_instances": 10
            }
          ],

          // The binding through which requests reach MyContainer's Durable Objects.
          "durable_objects": {
            "bindings": [
              { "name": "MY_CONTAINER", "class_name": "MyContainer" }
            ]
          },

          // A container class is a Durable Object class backed by SQLite, created by a migration.
          "migrations": [
            { "tag": "v1", "new_sqlite_classes": ["MyContainer"] }
          ],

          // Berth only.
          "berth": {
            // What the template's MyContainer class sets in its code.
            "classes": {
              "MyContainer": {
                // The port requests go to (the Dockerfile EXPOSEs it).
                "default_port": 8080,
                // Stop the container after 2 minutes without a request; the next one starts it again.
                "sleep_after": "2m",
                // The container's environment: container/server.c says MESSAGE back.
                "env_vars": { "MESSAGE": "I was passed in via the container class!" }
              }
            },
            // Zero-code routes, in place of a Worker's fetch: the first prefix that matches the
            // path picks the Durable Object, and so the container, that serves the request.
            "routes": [
              // /container/<id>: a container for each path (the object is named by the path).
              { "prefix": "/container", "binding": "MY_CONTAINER", "object": "path" },
              // /lb: one of three containers, at random.
              { "prefix": "/lb", "binding": "MY_CONTAINER", "object": "random:3" },
              // /singleton: one container for every request.
              { "prefix": "/singleton", "binding": "MY_CONTAINER", "object": "singleton" }
            ]
          }
        }

        """#
    }

    /// The image: the static server alone, so no base image is pulled.
    static let dockerfile = """
        # The container's image: the static server alone (built by `berth init`; to build it
        # again: \(buildCommand())), so there is no base image to pull.
        FROM scratch
        COPY \(serverBinary) /\(serverBinary)
        EXPOSE 8080
        CMD ["/\(serverBinary)"]

        """

    /// What the engine is not sent with the build context: state that changes as Berth runs.
    static let dockerignore = """
        # Not sent to the engine when it builds the image (the Dockerfile copies only the server).
        .berth
        .build
        .git

        """

    static let gitignore = """
        # Berth's state: the server's store, each Durable Object's storage, the admin token.
        .berth/
        # The container's server, built from container/server.c.
        /\(serverBinary)
        .build/

        """

    /// The project's own README: what each file is, how to rebuild the server, how to run it.
    static func readme(app: String) -> String {
        """
        # \(app)

        A Berth project in the shape of Cloudflare's containers template: each request goes to
        a Durable Object, which starts its own container on demand, proxies to it, and stops it
        after `sleep_after` without requests.

        | file | what it is |
        |---|---|
        | `wrangler.jsonc` | the configuration: the container class `MyContainer`, its binding `MY_CONTAINER`, its migration, and under `"berth"` the class's settings (port, `sleep_after`, `env_vars`) and the routes |
        | `Dockerfile` | the image: `FROM scratch` with the static server, port 8080 |
        | `container/server.c` | the container's HTTP server: it answers any path with a greeting naming `MESSAGE` and its instance id |
        | `server` | the server, built from `container/server.c` (not committed) |
        | `.gitignore`, `.dockerignore` | what git leaves out, and what the image build is not sent |
        | `.berth/` | Berth's state for this project, made by `berth dev` and `berth serve` (not committed) |

        ## Run it

        ```sh
        berth dev .                              # builds the image, serves on http://127.0.0.1:8787 until Ctrl-C
        curl http://127.0.0.1:8787/container/1   # starts a container for /container/1, which answers
        curl http://127.0.0.1:8787/lb            # one of three containers, at random
        curl http://127.0.0.1:8787/singleton     # the one shared container
        ```

        `berth dev` stops and removes its containers when it ends. To keep a server running and
        deploy new versions to it:

        ```sh
        berth serve . &     # the gateway on :8787, the admin API on 127.0.0.1:8788
        berth deploy .      # builds the image and rolls it out
        ```

        ## Change the server

        Edit `container/server.c`, build it again, and run `berth dev` again (or press `r` and
        Enter in a running `berth dev`):

        ```sh
        \(buildCommand())
        ```

        It is built static, so the image needs nothing but the binary (a static build needs the
        C library's static archive: on Debian or Ubuntu, `apt-get install gcc libc6-dev`). Any
        other server works the same way: build it for linux/amd64, copy it into the image, and
        `EXPOSE` the port it listens on.

        """
    }
}
