/// Label keys Berth puts on every engine object it creates, so that it can find, adopt and
/// clean up its own containers and images after a restart.
public enum BerthLabel {
    public static let app = "berth.app"
    public static let className = "berth.class"
    public static let object = "berth.object"
    public static let deployment = "berth.deployment"
    public static let instance = "berth.instance"
}
