import Testing
@testable import SpoolBus

@Test func versionIsSemantic() {
    #expect(spoolBusVersion.split(separator: ".").count == 3)
}
