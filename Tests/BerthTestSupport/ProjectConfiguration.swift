/// The wrangler.jsonc of the projects tests make: the example's shape (one container `web` of
/// class `MyContainer`, bound as `MY_CONTAINER`), with `berth` spliced in as the `"berth"` key.
public func exampleConfiguration(app: String, maxInstances: Int, berth: String) -> String {
    """
    {
      "name": "\(app)",
      "containers": [{ "name": "web", "class_name": "MyContainer", "image": "./Dockerfile", "max_instances": \(maxInstances) }],
      "durable_objects": { "bindings": [{ "name": "MY_CONTAINER", "class_name": "MyContainer" }] },
      "migrations": [{ "tag": "v1", "new_sqlite_classes": ["MyContainer"] }],
      "berth": \(berth)
    }
    """
}
