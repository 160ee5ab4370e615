import Testing
import HummingbirdTesting
@Test func serverPlaceholder() {}
