/// Label keys Berth puts on every engine object it creates, so that it can find, adopt and
/// clean up its own containers and images after a restart.
public enum BerthLabel {
    public static let app = "berth.app"
    public static let className = "berth.class"
    public static let object = "berth.object"
    public static let deployment = "berth.deployment"
    public static let instance = "berth.instance"
    /// The name an object's id was derived from (`idFromName`), when there is one.
    public static let objectName = "berth.object-name"
    /// What the instance runs, as ``ClassSpec/fingerprint`` (BerthRuntime) computes it.
    public static let fingerprint = "berth.fingerprint"
    /// The container (`containers[].name`) an image was built for.
    public static let container = "berth.container"
}
