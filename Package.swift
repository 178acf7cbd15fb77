// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "spoolbus",
    products: [
        .library(name: "SpoolBus", targets: ["SpoolBus"]),
        .executable(name: "spoolbus", targets: ["spoolbus"]),
    ],
    targets: [
        // What Glibc's Swift module hides: epoll, signalfd, pidfd, leases, SO_PEERCRED, spawn.
        .target(name: "CSpoolBusLinux"),
        .target(name: "SpoolBus", dependencies: ["CSpoolBusLinux"]),
        // Linked with the Swift runtime inside: the daemon idles in about 7 MB instead of 10
        // (shared Swift libraries count whole in RSS on a system where nothing else uses them).
        .executableTarget(
            name: "spoolbus", dependencies: ["SpoolBus"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .testTarget(name: "SpoolBusTests", dependencies: ["SpoolBus"]),
        // Runs the built `spoolbus` binary; `swift test` builds every product first.
        .testTarget(name: "EndToEndTests"),
    ],
    swiftLanguageModes: [.v5]
)
