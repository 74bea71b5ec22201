// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "dpucert",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dpucert", targets: ["dpucert"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // libpci (pciutils) as a system library; shims live in CPCIShims.
        .systemLibrary(
            name: "CLibPCI",
            pkgConfig: "libpci",
            providers: [.apt(["libpci-dev"])]
        ),
        .target(name: "CPCIShims", dependencies: ["CLibPCI"]),
        .target(
            name: "Inventory",
            dependencies: ["CLibPCI", "CPCIShims"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Profiles",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Emulator",
            dependencies: ["Profiles", "Inventory", "Probes", "Agent", "Testbed"],
            swiftSettings: swiftSettings
        ),
        // Linux networking calls Swift cannot reach through Glibc (setns, AF_PACKET, pipe2).
        .target(name: "CNetShims"),
        .target(
            name: "Probes",
            dependencies: ["CNetShims"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Agent",
            dependencies: ["Probes", "CNetShims"],
            swiftSettings: swiftSettings
        ),
        // The testbed protocol the suites probe through, and the hardware testbed file.
        .target(
            name: "Testbed",
            dependencies: ["Probes", "Agent", "Profiles"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reports",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Certification",
            dependencies: ["Inventory", "Profiles", "Probes", "Testbed", "Reports", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "dpucert",
            dependencies: [
                "Inventory", "Profiles", "Emulator", "Certification", "Reports", "Agent", "Testbed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Times the report writers for scripts/bench; not shipped.
        .executableTarget(name: "dpucert-bench", dependencies: ["Reports"], swiftSettings: swiftSettings),
        // What a test needs from the machine (namespaces, shared/, external programs) and the trait gating it.
        .target(name: "TestGates", dependencies: ["Probes"], path: "Tests/TestGates", swiftSettings: swiftSettings),
        .target(name: "PCITestSupport", dependencies: ["Inventory", "TestGates"], path: "Tests/PCITestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "PCITestSupport", "TestGates"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles"], swiftSettings: swiftSettings),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "Inventory", "Profiles", "PCITestSupport", "TestGates"], swiftSettings: swiftSettings),
        .target(name: "ReportTestSupport", dependencies: ["TestGates"], path: "Tests/ReportTestSupport", exclude: ["validate_reports.py"], swiftSettings: swiftSettings),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "ReportTestSupport", "TestGates"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "TestGates"], swiftSettings: swiftSettings),
        .testTarget(name: "TestbedTests", dependencies: ["Testbed", "Probes", "Profiles"], swiftSettings: swiftSettings),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Probes"], swiftSettings: swiftSettings),
        .testTarget(name: "LabTests", dependencies: ["Emulator", "Probes", "Agent", "TestGates"], swiftSettings: swiftSettings),
        // Stand-in agent and lab-holding process the lab tests spawn (beside the test bundle).
        .executableTarget(name: "dpucert-lab-fixture", dependencies: ["Agent", "Emulator"], path: "Tests/LabFixture",
                          swiftSettings: swiftSettings),
        .testTarget(name: "CertificationTests", dependencies: ["Certification", "Emulator", "Testbed", "TestGates"], swiftSettings: swiftSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["dpucert", "ReportTestSupport", "TestGates"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    ]
)
