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
        .executableTarget(name: "spoolbus", dependencies: ["SpoolBus"]),
        .testTarget(name: "SpoolBusTests", dependencies: ["SpoolBus"]),
        .testTarget(name: "EndToEndTests", dependencies: ["spoolbus"]),
    ],
    swiftLanguageModes: [.v5]
)
