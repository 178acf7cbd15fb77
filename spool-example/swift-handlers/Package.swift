// swift-tools-version:6.0
// Your own spoolbus: the stock command line and daemon, plus Swift handlers of your own.
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which is whatever the clone of spoolbus is
// called; reading it here keeps this example building from any checkout.
let spoolbusFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "my-spoolbus",
    dependencies: [.package(path: spoolbusFolder.path)],
    targets: [
        .executableTarget(
            name: "my-spoolbus",
            dependencies: [.product(name: "SpoolBus", package: spoolbusFolder.lastPathComponent.lowercased())]),
    ]
)
