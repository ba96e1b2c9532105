// swift-tools-version: 6.0
import PackageDescription

// No target carries unsafe compiler flags, so this package stays usable as a versioned
// dependency. The SIMD kernels need none: each instruction set's kernels are C functions with
// target attributes (CKernels), chosen at run time from the CPU's features.
let package = Package(
    name: "StreamingWeights",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StreamingWeights", targets: ["StreamingWeights"]),
        .executable(name: "chunker", targets: ["chunker"]),
        .executable(name: "weight-server", targets: ["weight-server"]),
        .executable(name: "infer", targets: ["infer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Headers only: libcurl is loaded by the first HTTP request (Sources/CCurl/shim.h), not
        // linked, so a program that makes none does not pay for loading it.
        .systemLibrary(
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The compute kernels, one file per instruction set (docs/ARCHITECTURE.md): C, because
        // a function there can be compiled for AVX-512 or AVX2 whatever flags the build has.
        .target(name: "CKernels"),
        .target(
            name: "StreamingWeights",
            dependencies: [
                "CKernels",
                "CCurl",
                "COpenSSL",
                "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CommandSupport",
            dependencies: [
                "StreamingWeights",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "chunker",
            dependencies: [
                "StreamingWeights",
                "CommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "weight-server",
            dependencies: [
                "StreamingWeights",
                "CommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "infer",
            dependencies: [
                "StreamingWeights",
                "CommandSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "streaming-weights-bench",
            dependencies: [
                "StreamingWeights",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StreamingWeightsTests",
            dependencies: ["StreamingWeights", "CKernels", .product(name: "Logging", package: "swift-log")]
        ),
    ]
)

// libFuzzer harnesses for the parsers (Sources/fuzz-harnesses). scripts/fuzz builds them, with
// sanitizer flags on its command line, into a scratch directory of their own; the target exists
// only then, so an ordinary build, and a package depending on this one, never sees it.
if Context.environment["STREAMING_WEIGHTS_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "fuzz-harnesses", dependencies: ["StreamingWeights"]))
}
