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
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // libpci (pciutils) as a system library; shims live in CPCIShims.
        .systemLibrary(
            name: "CLibPCI",
            pkgConfig: "libpci",
            providers: [.apt(["libpci-dev"])]
        ),
        .target(name: "CPCIShims", dependencies: ["CLibPCI"]),
        // libfuse 3 as a system library; the emulated namespace's FUSE server lives in CFUSENamespace.
        .systemLibrary(
            name: "CFUSE3",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        .target(name: "CFUSENamespace", dependencies: ["CFUSE3"]),
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
        // Emulated cards on the PCI bus: config space, sysfs-shaped trees, SR-IOV, PCI faults.
        .target(
            name: "Emulator",
            dependencies: ["Profiles", "Inventory", "CFUSENamespace", "Systems"],
            swiftSettings: swiftSettings
        ),
        // Linux networking calls Swift cannot reach through Glibc (setns, AF_PACKET, pipe2).
        .target(name: "CNetShims"),
        // Sockets, subprocesses, IP address types, namespace entry, kernel parameters.
        .target(
            name: "Systems",
            dependencies: ["CNetShims"],
            swiftSettings: swiftSettings
        ),
        // liburing (io_uring) as a system library; the block-I/O calls Swift cannot make live in CIOURing.
        .systemLibrary(
            name: "CLibURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .target(name: "CIOURing", dependencies: ["CLibURing"]),
        // Probes and measurements: reachability, port scans, neighbour discovery, traffic, block I/O.
        .target(
            name: "Probes",
            dependencies: ["Systems", "CNetShims", "CIOURing", "Fabric", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: swiftSettings
        ),
        // libibverbs and librdmacm (rdma-core) as a system library; the verbs calls Swift cannot make live in CVerbsShims.
        .systemLibrary(
            name: "CVerbs",
            pkgConfig: "libibverbs",
            providers: [.apt(["libibverbs-dev", "librdmacm-dev"])]
        ),
        .target(name: "CVerbsShims", dependencies: ["CVerbs"]),
        // Typed RDMA: devices, PDs, MRs, CQs, RC connections through the CM, work requests and completions.
        .target(
            name: "Fabric",
            dependencies: ["CVerbs", "CVerbsShims", "Systems"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Agent",
            dependencies: ["Systems", "Probes", "CNetShims", "Fabric"],
            swiftSettings: swiftSettings
        ),
        // The testbed protocol the suites probe through, and the hardware testbed file.
        .target(
            name: "Testbed",
            dependencies: ["Systems", "Probes", "Agent", "Profiles"],
            swiftSettings: swiftSettings
        ),
        // The emulated lab: namespaces, veth, nftables and agents standing in for a DPU set-up.
        .target(
            name: "Lab",
            dependencies: ["Systems", "Probes", "Agent", "Testbed", "Profiles"],
            swiftSettings: swiftSettings
        ),
        // The VM testbed: QEMU guests built from a profile, booted on Debian's own kernel, and the jobs run in them.
        .target(
            name: "VirtualMachine",
            dependencies: ["Systems", "Agent", "Profiles"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reports",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Certification",
            dependencies: ["Inventory", "Profiles", "Systems", "Probes", "Testbed", "Reports", "Fabric", "Agent", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "dpucert",
            dependencies: [
                "Inventory", "Profiles", "Emulator", "Lab", "Certification", "Reports", "Systems", "Agent", "Testbed", "VirtualMachine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The report writers' and traffic engines' figures for scripts/bench; not shipped.
        .executableTarget(name: "dpucert-bench", dependencies: ["Reports", "Lab", "Probes", "Systems", "Testbed", "Agent", "Fabric",
                                                          "VirtualMachine"],
                          swiftSettings: swiftSettings),
        // What a test needs from the machine (namespaces, shared/, external programs) and the trait gating it.
        .target(name: "TestGates", dependencies: ["Systems", "VirtualMachine"], path: "Tests/TestGates", swiftSettings: swiftSettings),
        .target(name: "PCITestSupport", dependencies: ["Inventory", "Systems", "TestGates"], path: "Tests/PCITestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "PCITestSupport", "TestGates"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles"], swiftSettings: swiftSettings),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "Inventory", "Profiles", "PCITestSupport", "Systems", "TestGates"], swiftSettings: swiftSettings),
        .target(name: "ReportTestSupport", dependencies: ["TestGates"], path: "Tests/ReportTestSupport", exclude: ["validate_reports.py"], swiftSettings: swiftSettings),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "ReportTestSupport", "TestGates"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "SystemsTests", dependencies: ["Systems", "TestGates"], swiftSettings: swiftSettings),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Systems", "TestGates"], swiftSettings: swiftSettings),
        .testTarget(name: "TestbedTests", dependencies: ["Testbed", "Systems", "Profiles"], swiftSettings: swiftSettings),
        .testTarget(name: "FabricTests", dependencies: ["Fabric"], swiftSettings: swiftSettings),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Systems", "Probes"], swiftSettings: swiftSettings),
        .testTarget(name: "VirtualMachineTests", dependencies: ["VirtualMachine", "Profiles", "Systems", "TestGates"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Systems", "Probes", "Agent", "Testbed", "TestGates"], swiftSettings: swiftSettings),
        // Stand-in agent and lab-holding process the lab tests spawn (beside the test bundle).
        .executableTarget(name: "dpucert-lab-fixture", dependencies: ["Agent", "Lab"], path: "Tests/LabFixture",
                          swiftSettings: swiftSettings),
        .testTarget(name: "CertificationTests", dependencies: ["Certification", "Emulator", "Lab", "Systems", "Testbed", "TestGates"], swiftSettings: swiftSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["dpucert", "ReportTestSupport", "TestGates", "PCITestSupport", "Inventory"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    ]
)
