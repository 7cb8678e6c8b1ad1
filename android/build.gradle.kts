// The gridwork Android library module: an AAR with the Rust core built by cargo-ndk for
// arm64-v8a, armeabi-v7a and x86_64 in jniLibs, and the Kotlin bindings generated from that
// library by uniffi-bindgen at build time (never checked in, so they always match the library).
// Needs the Android SDK + NDK, `cargo install cargo-ndk` and the three Rust Android targets;
// see docs/mobile.md.
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    `maven-publish`
}

// Maven coordinates: org.gridwork:gridwork-android:<version>, the version of the Rust workspace.
group = "org.gridwork"
version = "0.1.0"

val workspace = rootDir.parentFile
val jniDir = layout.buildDirectory.dir("rust/jniLibs")
val bindingsDir = layout.buildDirectory.dir("generated/uniffi/kotlin")
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")

android {
    namespace = "org.gridwork"
    compileSdk = 35
    // Pinned: cargo-ndk and AGP use this NDK, so every machine links the same way.
    ndkVersion = "27.2.12479018"
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += abis }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["main"].jniLibs.srcDir(jniDir)
    // The generated bindings, and beside them the hand-written Flow adapters
    // (src/main/kotlin/org/gridwork/GridworkFlows.kt).
    sourceSets["main"].java.srcDir(bindingsDir)
    sourceSets["main"].kotlin.srcDir("src/main/kotlin")
    publishing {
        singleVariant("release") {
            withSourcesJar()
        }
    }
}

publishing {
    publications {
        register<MavenPublication>("release") {
            artifactId = "gridwork-android"
            afterEvaluate { from(components["release"]) }
        }
    }
}

// What the Rust build reads: the crates the library is made of, the lock file and the profile.
val rustInputs = files(
    fileTree(workspace.resolve("core")) { include("src/**", "migrations/**", "Cargo.toml") },
    fileTree(workspace.resolve("core/domain")) { include("src/**", "Cargo.toml") },
    fileTree(workspace.resolve("bindings")) { include("src/**", "Cargo.toml", "uniffi.toml") },
    workspace.resolve("Cargo.toml"),
    workspace.resolve("Cargo.lock"),
)

kotlin { jvmToolchain(17) }

dependencies {
    // uniffi's Kotlin talks to the library through JNA; the @aar flavour carries its native parts.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
}

// cargo-ndk builds libgridwork_ffi.so for every ABI into build/rust/jniLibs/<abi>/.
// Declared inputs and outputs: Gradle skips it when no Rust source changed (up to date) and can
// cache it.
val cargoNdk by tasks.registering(Exec::class) {
    inputs.files(rustInputs).withPathSensitivity(PathSensitivity.RELATIVE)
    inputs.property("abis", abis)
    outputs.dir(jniDir)
    workingDir = workspace
    val args = mutableListOf("cargo", "ndk")
    abis.forEach { args += listOf("-t", it) }
    // The `mobile` profile (workspace Cargo.toml): LTO, one codegen unit, stripped.
    args += listOf("-o", jniDir.get().asFile.path, "build", "--profile", "mobile", "-p", "gridwork-ffi")
    commandLine(args)
}

// The Kotlin sources come from the built library itself (host build of the generator).
val generateBindings by tasks.registering(Exec::class) {
    dependsOn(cargoNdk)
    inputs.dir(jniDir).withPathSensitivity(PathSensitivity.RELATIVE)
    outputs.dir(bindingsDir)
    workingDir = workspace
    commandLine(
        "cargo", "run", "--release", "-p", "gridwork-ffi", "--bin", "uniffi-bindgen", "--",
        "generate", "--no-format", "--language", "kotlin",
        "--library", jniDir.get().file("arm64-v8a/libgridwork_ffi.so").asFile.path,
        "--out-dir", bindingsDir.get().asFile.path,
    )
}

tasks.named("preBuild") { dependsOn(generateBindings) }
