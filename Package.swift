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
            dependencies: ["Profiles", "Inventory"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reports",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Certification",
            dependencies: ["Inventory", "Profiles", "Reports", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "dpucert",
            dependencies: [
                "Inventory", "Profiles", "Emulator", "Certification", "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Times the report writers for scripts/bench; not shipped.
        .executableTarget(name: "dpucert-bench", dependencies: ["Reports"], swiftSettings: swiftSettings),
        .target(name: "PCITestSupport", dependencies: ["Inventory"], path: "Tests/PCITestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "PCITestSupport"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles"], swiftSettings: swiftSettings),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "Inventory", "Profiles", "PCITestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"], swiftSettings: swiftSettings),
        .testTarget(name: "CertificationTests", dependencies: ["Certification", "Emulator"], swiftSettings: swiftSettings),
    ]
)
