import Hummingbird
import ServiceLifecycle
enum ServerPlaceholder {}
